/* revoke.c — revoking certificates (revoked/<serial>): pki_revoke_cert
 * and the revoke, revoke-with-key, certs/revoked and issuer/:ref/revoke
 * routes. Each revocation rebuilds the CRLs unless config/crl
 * auto_rebuild leaves that to the periodic job. */
#include <stdlib.h>
#include <string.h>

#include "revocation.h"

#include "clock.h"
#include "engines/kv_util.h"
#include "err.h"
#include "timefmt.h"

#include "banned.h"

int pki_serial_key(struct buf *b, const char *prefix, const char *serial)
{
	char canon[X509_SERIAL_TEXT_MAX];
	buf_init(b, STORAGE_MAX_KEY);
	if (x509_serial_canon(serial, canon) != 0)
		return TROVE_ERR_INVALID;
	buf_append_str(b, prefix);
	for (const char *p = canon; *p; p++)
		buf_append_byte(b, *p == ':' ? '-' : *p);
	return 0;
}

static int serial_get(struct storage *s, const char *prefix, const char *serial, json_t **rec)
{
	struct buf key;
	int r = pki_serial_key(&key, prefix, serial);
	if (r == 0)
		r = kv_get_json(s, key.data, rec);
	buf_release(&key);
	return r;
}

int pki_revoked_get(struct storage *s, const char *serial, json_t **rec)
{
	return serial_get(s, PKI_REVOKED_PREFIX, serial, rec);
}

/* The id of the first of the mount's issuers whose certificate match()
 * accepts, or "". */
static int issuer_match(struct storage *s, bool (*match)(X509 *ic, const void *arg), const void *arg,
			char id[PKI_ID_MAX])
{
	struct strlist ids;
	int r;
	id[0] = '\0';
	strlist_init(&ids);
	if ((r = pki_issuer_ids(s, &ids)) != 0)
		goto out;
	for (size_t i = 0; i < ids.len && !id[0]; i++) {
		json_t *rec = NULL;
		X509 *ic = NULL;
		const char *pem = NULL;
		if (pki_issuer_get(s, ids.items[i], &rec) == 0 &&
		    (pem = json_string_value(json_object_get(rec, "certificate"))) &&
		    x509_cert_from_pem(pem, strlen(pem), &ic) == 0 && match(ic, arg))
			snprintf(id, PKI_ID_MAX, "%s", ids.items[i]);
		X509_free(ic);
		json_decref(rec);
	}
out:
	strlist_release(&ids);
	return r;
}

static bool serial_is(X509 *ic, const void *canon)
{
	char serial[X509_SERIAL_TEXT_MAX];
	return x509_serial_text(X509_get0_serialNumber(ic), serial) == 0 && strcmp(serial, canon) == 0;
}

static bool signed_it(X509 *ic, const void *c)
{
	return x509_issued_by((X509 *)c, ic);
}

/* The id of the mount's issuer whose certificate has this serial, or "". */
static int issuer_with_serial(struct storage *s, const char *canon, char id[PKI_ID_MAX])
{
	return issuer_match(s, serial_is, canon, id);
}

int pki_issuer_of(struct storage *s, X509 *c, char id[PKI_ID_MAX])
{
	return issuer_match(s, signed_it, c, id);
}

static int record_cert(const json_t *rec, X509 **out)
{
	const char *pem = json_string_value(json_object_get(rec, "certificate")) ?: "";
	return x509_cert_from_pem(pem, strlen(pem), out) != 0 ? TROVE_ERR_INTEGRITY : 0;
}

/* Writes revoked/<serial> unless it exists (then *out says so): the
 * certificate is given (a PEM the caller sent and the mount's issuer
 * signed) or from the store. Called under the mount's revoke lock, so the
 * first revocation is the one kept. */
static int record_revocation(struct storage *s, const char *canon, X509 *given, bool from_lease,
			     struct pki_revocation *out, struct buf *why)
{
	json_t *rec = NULL, *stored = NULL;
	X509 *cert = NULL;
	char issuer[PKI_ID_MAX];
	struct buf key;
	int r;

	buf_init(&key, 1);
	r = pki_revoked_get(s, canon, &rec);
	if (r == 0) {
		out->already = true;
		out->revocation_time = json_integer_value(json_object_get(rec, "revocation_time"));
		goto out;
	}
	if (r != TROVE_ERR_NOT_FOUND)
		goto out;
	r = serial_get(s, PKI_CERT_PREFIX, canon, &stored);
	if (r == TROVE_ERR_NOT_FOUND && !given) {
		if (from_lease) {
			r = 0;
			goto out;
		}
		buf_printf(why, "certificate with serial %s not found", canon);
		r = TROVE_ERR_INVALID;
		goto out;
	}
	if (r != 0 && r != TROVE_ERR_NOT_FOUND)
		goto out;
	if (given)
		cert = X509_dup(given);
	else if ((r = record_cert(stored, &cert)) != 0)
		goto out;
	if (!cert) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	int64_t now = clock_realtime_s();
	if (x509_not_after(cert) < now + 2) {
		out->expired = true;
		r = 0;
		goto out;
	}
	const char *issuer_id = json_string_value(json_object_get(stored, "issuer_id"));
	if (!issuer_id || !issuer_id[0]) {
		if ((r = pki_issuer_of(s, cert, issuer)) != 0)
			goto out;
		issuer_id = issuer;
	}
	char *pem = NULL, utc[TIME_TEXT_MAX];
	if ((r = x509_cert_to_pem(cert, &pem)) != 0)
		goto out;
	time_rfc3339(now, utc);
	rec = json_pack("{s:s, s:s, s:I, s:s}", "certificate", pem, "issuer_id", issuer_id, "revocation_time",
			(json_int_t)now, "revocation_time_utc", utc);
	free(pem);
	buf_release(&key);
	if (!rec || (r = pki_serial_key(&key, PKI_REVOKED_PREFIX, canon)) != 0 ||
	    (r = kv_put_json(s, key.data, rec)) != 0) {
		r = r ? r : TROVE_ERR_NOMEM;
		goto out;
	}
	out->revocation_time = now;
out:
	buf_release(&key);
	X509_free(cert);
	json_decref(stored);
	json_decref(rec);
	return r;
}

/* The revocation of a certificate the caller named, then the CRLs. */
static int revoke_known(struct storage *s, struct mount *m, const char *canon, X509 *given, bool from_lease,
			struct pki_revocation *out, struct buf *why)
{
	struct pki_rev_state *st = pki_rev_state(m);
	char issuer[PKI_ID_MAX];
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = issuer_with_serial(s, canon, issuer)) != 0)
		return r;
	if (issuer[0]) {
		buf_printf(why, "adding issuer (id: %s) to its own CRL is not allowed", issuer);
		return TROVE_ERR_INVALID;
	}
	if (st)
		pthread_mutex_lock(&st->revoke_lock);
	r = record_revocation(s, canon, given, from_lease, out, why);
	if (st)
		pthread_mutex_unlock(&st->revoke_lock);
	if (r != 0 || !out->revocation_time)
		return r;
	struct pki_crl_config cfg;
	if ((r = pki_crl_config_get(s, &cfg)) != 0)
		return r;
	if (!cfg.auto_rebuild)
		return pki_crl_rebuild(s, m, false, why);
	return out->already ? 0 : pki_crl_mark_dirty(s, m);
}

int pki_revoke_cert(struct storage *s, struct mount *m, const char *serial, bool from_lease,
		    struct pki_revocation *out, struct buf *why)
{
	char canon[X509_SERIAL_TEXT_MAX];
	memset(out, 0, sizeof(*out));
	if (x509_serial_canon(serial, canon) != 0) {
		buf_append_str(why, "serial_number: expected hex bytes separated by ':' or '-'");
		return TROVE_ERR_INVALID;
	}
	return revoke_known(s, m, canon, NULL, from_lease, out, why);
}

/* The certificate a revoke request names: serial_number or certificate
 * (exactly one). *given is set for a certificate, checked to come from
 * one of the mount's issuers. */
static int revoke_target(struct request *req, struct response *resp, char canon[X509_SERIAL_TEXT_MAX], X509 **given)
{
	const char *serial = field_string(req, "serial_number"), *pem = field_string(req, "certificate");
	char issuer[PKI_ID_MAX];
	int r;
	*given = NULL;
	if (serial[0] && pem[0])
		return response_error(resp, TROVE_ERR_INVALID,
				      "Must provide either the certificate or the serial to revoke; not both.");
	if (!serial[0] && !pem[0])
		return response_error(resp, TROVE_ERR_INVALID,
				      "The serial number or certificate to revoke must be provided.");
	if (serial[0]) {
		if (x509_serial_canon(serial, canon) != 0)
			return response_error(resp, TROVE_ERR_INVALID,
					      "serial_number: expected hex bytes separated by ':' or '-'");
		return 0;
	}
	if (x509_cert_from_pem(pem, strlen(pem), given) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "certificate: not one PEM certificate");
	if ((r = pki_issuer_of(req->storage, *given, issuer)) != 0 ||
	    (r = x509_serial_text(X509_get0_serialNumber(*given), canon)) != 0)
		return r;
	if (!issuer[0])
		return response_error(resp, TROVE_ERR_INVALID,
				      "certificate: not signed by any issuer of this mount");
	return 0;
}

/* Whether the private key in the request belongs to the certificate. */
static int key_matches(struct request *req, struct response *resp, const char *canon, X509 *given)
{
	const char *pem = field_string(req, "private_key");
	json_t *stored = NULL;
	X509 *cert = NULL;
	EVP_PKEY *k = NULL;
	int r;

	if (x509_key_from_pem(pem, strlen(pem), &k) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "private_key: not a PEM private key");
	if (given) {
		cert = X509_dup(given);
	} else if ((r = serial_get(req->storage, PKI_CERT_PREFIX, canon, &stored)) != 0 ||
		   (r = record_cert(stored, &cert)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = response_error(resp, TROVE_ERR_INVALID, "certificate with serial %s not found", canon);
		goto out;
	}
	r = cert && EVP_PKEY_eq(X509_get0_pubkey(cert), k) == 1
		? 0
		: response_error(resp, TROVE_ERR_INVALID, "private_key: does not match the certificate's public key");
out:
	EVP_PKEY_free(k);
	X509_free(cert);
	json_decref(stored);
	return r;
}

static int revoke_reply(struct response *resp, int r, const char *canon, const struct pki_revocation *rev,
			struct buf *why)
{
	if (r != 0)
		return why->len ? response_error(resp, r, "%s", why->data) : r;
	if (rev->expired) {
		response_warning(resp, "certificate with serial %s already expired; refusing to add to CRL", canon);
		return 0;
	}
	if (!rev->revocation_time)
		return 0;
	char utc[TIME_TEXT_MAX];
	time_rfc3339(rev->revocation_time, utc);
	response_set_data(resp, json_pack("{s:I, s:s, s:s}", "revocation_time", (json_int_t)rev->revocation_time,
					  "revocation_time_rfc3339", utc, "state", "revoked"));
	return 0;
}

static int revoke(struct request *req, struct response *resp)
{
	char canon[X509_SERIAL_TEXT_MAX];
	X509 *given = NULL;
	struct pki_revocation rev = {0};
	struct buf why;
	bool with_key = strcmp(req->rel, "revoke-with-key") == 0;
	int r;

	buf_init(&why, 1024);
	if ((r = revoke_target(req, resp, canon, &given)) != 0 ||
	    (with_key && (r = key_matches(req, resp, canon, given)) != 0))
		goto out;
	r = revoke_known(req->storage, req->mount, canon, given, false, &rev, &why);
	r = revoke_reply(resp, r, canon, &rev, &why);
out:
	X509_free(given);
	buf_release(&why);
	return r;
}

static int revoked_list(struct request *req, struct response *resp)
{
	return kv_list_reply(req->storage, PKI_REVOKED_PREFIX, resp);
}

/* Whether certs/<serial> holds exactly cert. */
static bool stored_is(struct storage *s, const char *serial, X509 *cert)
{
	json_t *stored = NULL;
	X509 *c = NULL;
	bool same = serial_get(s, PKI_CERT_PREFIX, serial, &stored) == 0 && record_cert(stored, &c) == 0 &&
		    X509_cmp(c, cert) == 0;
	X509_free(c);
	json_decref(stored);
	return same;
}

/* issuer/:ref/revoke: the issuer stops issuing (its usage loses
 * issuing-certificates) and keeps signing CRLs and OCSP answers. As in
 * Vault, a revoked/ entry makes it revoked like any certificate (cert/:serial,
 * OCSP) when its parent is in the mount (it lands on the parent's CRL) or
 * the mount stored it (a root made here: never on its own CRL). */
static int issuer_revoke(struct request *req, struct response *resp)
{
	char id[PKI_ID_MAX], parent[PKI_ID_MAX], serial[X509_SERIAL_TEXT_MAX], utc[TIME_TEXT_MAX];
	json_t *rec = NULL, *entry = NULL;
	X509 *cert = NULL;
	struct buf why, key;
	int r;

	buf_init(&why, 1024);
	buf_init(&key, 1);
	if ((r = pki_issuer_resolve_reply(req->storage, request_param(req, "ref"), id, resp)) != 0 ||
	    (r = pki_issuer_get(req->storage, id, &rec)) != 0 || (r = record_cert(rec, &cert)) != 0)
		goto out;
	if (!json_is_true(json_object_get(rec, "revoked"))) {
		int64_t now = clock_realtime_s();
		time_rfc3339(now, utc);
		struct buf usage;
		buf_init(&usage, 256);
		char *copy = xstrdup(json_string_value(json_object_get(rec, "usage")) ?: ""), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			if (strcmp(t, "issuing-certificates") != 0)
				buf_printf(&usage, "%s%s", usage.len ? "," : "", t);
		free(copy);
		json_object_set_new(rec, "usage", json_string(usage.len ? usage.data : "read-only"));
		buf_release(&usage);
		json_object_set_new(rec, "revoked", json_true());
		json_object_set_new(rec, "revocation_time", json_integer(now));
		json_object_set_new(rec, "revocation_time_utc", json_string(utc));
		if ((r = pki_issuer_put(req->storage, rec)) != 0 || (r = pki_issuer_of(req->storage, cert, parent)) != 0 ||
		    (r = x509_serial_text(X509_get0_serialNumber(cert), serial)) != 0)
			goto out;
		bool has_parent = parent[0] && strcmp(parent, id) != 0;
		if (has_parent || stored_is(req->storage, serial, cert)) {
			entry = json_pack("{s:O, s:s, s:I, s:s}", "certificate", json_object_get(rec, "certificate"),
					  "issuer_id", has_parent ? parent : id, "revocation_time", (json_int_t)now,
					  "revocation_time_utc", utc);
			buf_release(&key);
			if (!entry || (r = pki_serial_key(&key, PKI_REVOKED_PREFIX, serial)) != 0 ||
			    (r = kv_put_json(req->storage, key.data, entry)) != 0) {
				r = r ? r : TROVE_ERR_NOMEM;
				goto out;
			}
		}
		struct pki_crl_config cfg;
		if ((r = pki_crl_config_get(req->storage, &cfg)) != 0)
			goto out;
		if (!cfg.auto_rebuild && (r = pki_crl_rebuild(req->storage, req->mount, false, &why)) != 0) {
			r = why.len ? response_error(resp, r, "%s", why.data) : r;
			goto out;
		}
	}
	response_set_data(resp, json_pack("{s:O, s:O, s:O, s:O, s:b, s:O, s:O}", "issuer_id", json_object_get(rec, "id"),
					  "issuer_name", json_object_get(rec, "name"), "certificate",
					  json_object_get(rec, "certificate"), "usage", json_object_get(rec, "usage"),
					  "revoked", 1, "revocation_time", json_object_get(rec, "revocation_time"),
					  "revocation_time_rfc3339", json_object_get(rec, "revocation_time_utc")));
out:
	X509_free(cert);
	json_decref(entry);
	json_decref(rec);
	buf_release(&key);
	buf_release(&why);
	return r;
}

static const struct field revoke_fields[] = {
    {.name = "serial_number", .type = FIELD_STRING, .canon = FIELD_CANON_TRIM,
     .description = "the serial, hex bytes separated by ':' or '-'"},
    {.name = "certificate", .type = FIELD_STRING, .description = "the certificate, PEM"},
    {0},
};

static const struct field revoke_key_fields[] = {
    {.name = "serial_number", .type = FIELD_STRING, .canon = FIELD_CANON_TRIM,
     .description = "the serial, hex bytes separated by ':' or '-'"},
    {.name = "certificate", .type = FIELD_STRING, .description = "the certificate, PEM"},
    {.name = "private_key", .type = FIELD_STRING, .required = true, .sensitive = true,
     .description = "the certificate's private key, PEM"},
    {0},
};

const struct route pki_revoke_routes[] = {
    {.pattern = "revoke", .ops = {[OP_UPDATE] = revoke}, .fields = revoke_fields,
     .synopsis = "revoke a certificate by serial or PEM"},
    {.pattern = "revoke-with-key", .ops = {[OP_UPDATE] = revoke}, .fields = revoke_key_fields,
     .synopsis = "revoke a certificate, proving possession of its key"},
    {.pattern = "certs/revoked", .ops = {[OP_LIST] = revoked_list}, .synopsis = "the revoked certificates' serials"},
    {.pattern = "issuer/:ref/revoke", .ops = {[OP_UPDATE] = issuer_revoke},
     .synopsis = "revoke an issuer: it may no longer issue"},
    {0},
};
