/* lease.c — certificates issued with generate_lease: revoking the lease
 * revokes the certificate (engine.lease_revoke), and the one function
 * that marks a stored certificate revoked (pki_revoke_cert, pki.h). */
#include <stdlib.h>
#include <string.h>

#include "pki.h"

#include "clock.h"
#include "core/expiration.h"
#include "core/mount.h"
#include "engines/kv_util.h"
#include "err.h"
#include "timefmt.h"

#include "banned.h"

/* prefix + the serial in hyphen form */
static void serial_key(struct buf *b, const char *prefix, const char *colon)
{
	buf_init(b, STORAGE_MAX_KEY);
	buf_append_str(b, prefix);
	for (const char *p = colon; *p; p++)
		buf_append_byte(b, *p == ':' ? '-' : *p);
}

int pki_revoke_cert(struct storage *view, const char *serial, int64_t when, struct buf *err)
{
	char canon[X509_SERIAL_TEXT_MAX], utc[TIME_TEXT_MAX], *der = NULL;
	json_t *stored = NULL, *rec = NULL, *old = NULL;
	X509 *c = NULL;
	struct buf ckey, rkey;
	int r;

	if ((r = x509_serial_canon(serial, canon)) != 0) {
		buf_printf(err, "serial_number: not a serial: %s", serial);
		return r;
	}
	serial_key(&ckey, PKI_CERT_PREFIX, canon);
	serial_key(&rkey, "revoked/", canon);
	if ((r = kv_get_json(view, rkey.data, &old)) != TROVE_ERR_NOT_FOUND)
		goto out; /* revoked already (0), or an I/O error */
	if ((r = kv_get_json(view, ckey.data, &stored)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			buf_printf(err, "certificate with serial %s not found", canon);
		goto out;
	}
	const char *pem = json_string_value(json_object_get(stored, "certificate")) ?: "";
	if ((r = x509_cert_from_pem(pem, strlen(pem), &c)) != 0 || (r = x509_cert_to_der_b64(c, &der)) != 0) {
		buf_printf(err, "stored certificate %s does not parse", canon);
		goto out;
	}
	time_rfc3339(when, utc);
	rec = json_pack("{s:s, s:s, s:I, s:s, s:s}", "certificate_bytes", der, "serial_number", canon,
			"revocation_time", (json_int_t)when, "revocation_time_utc", utc, "issuer_id",
			json_string_value(json_object_get(stored, "issuer_id")) ?: "");
	r = rec ? kv_put_json(view, rkey.data, rec) : TROVE_ERR_NOMEM;
out:
	free(der);
	X509_free(c);
	json_decref(old);
	json_decref(rec);
	json_decref(stored);
	buf_release(&ckey);
	buf_release(&rkey);
	return r;
}

int pki_lease_revoke(struct mount *m, const struct lease *l, struct buf *err)
{
	const char *serial = json_string_value(json_object_get(l->internal, "serial_number"));
	if (!serial) {
		buf_printf(err, "lease holds no certificate serial");
		return TROVE_ERR_INTEGRITY;
	}
	int r = pki_revoke_cert(m->view, serial, clock_realtime_s(), err);
	/* a certificate tidied away or never kept has nothing left to revoke */
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}
