/* cert_store.c — the certificate store (certs/<serial>) and the read
 * paths of CA certificates: ca, ca/pem, ca_chain, cert/ca, cert/ca_chain,
 * cert/:serial(/raw(/pem)), certs LIST. */
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "revocation.h"

#include "engines/kv_util.h"
#include "err.h"

#include "banned.h"

/* certs/<serial in hyphen form> */
static void cert_key(struct buf *b, const char *colon_serial)
{
	buf_init(b, STORAGE_MAX_KEY);
	buf_append_str(b, PKI_CERT_PREFIX);
	for (const char *p = colon_serial; *p; p++)
		buf_append_byte(b, *p == ':' ? '-' : *p);
}

int pki_cert_store(struct storage *s, X509 *cert, const char *issuer_id)
{
	char serial[X509_SERIAL_TEXT_MAX], *pem = NULL;
	json_t *rec = NULL;
	struct buf key;
	int r;

	if ((r = x509_serial_text(X509_get0_serialNumber(cert), serial)) != 0 || (r = x509_cert_to_pem(cert, &pem)) != 0)
		return r;
	rec = json_pack("{s:s, s:s}", "certificate", pem, "issuer_id", issuer_id ? issuer_id : "");
	cert_key(&key, serial);
	r = rec ? kv_put_json(s, key.data, rec) : TROVE_ERR_NOMEM;
	buf_release(&key);
	json_decref(rec);
	free(pem);
	return r;
}

int pki_reply_raw_cert(struct response *resp, const char *pem, bool der)
{
	unsigned char *bytes = NULL;
	size_t n = 0;
	X509 *c = NULL;
	int r = 0;

	if (!der) {
		resp->text = xstrdup(pem);
		resp->text_type = "application/pem-file";
		return 0;
	}
	if (x509_cert_from_pem(pem, strlen(pem), &c) != 0 || x509_cert_to_der(c, &bytes, &n) != 0)
		r = TROVE_ERR_INTEGRITY;
	X509_free(c);
	if (r == 0) {
		resp->text = (char *)bytes;
		resp->text_len = n;
		resp->text_type = "application/pkix-cert";
	}
	return r;
}

/* The default issuer's record, or 400 when there is none. */
static int default_issuer(struct request *req, struct response *resp, json_t **rec)
{
	char id[PKI_ID_MAX];
	int r = pki_issuer_resolve_reply(req->storage, "default", id, resp);
	return r != 0 ? r : pki_issuer_get(req->storage, id, rec);
}

static char *chain_text(const json_t *chain)
{
	struct buf b;
	size_t i;
	json_t *v;
	buf_init(&b, 64 << 10);
	json_array_foreach(chain, i, v) {
		const char *pem = json_string_value(v);
		buf_append_str(&b, pem);
		if (pem[0] && pem[strlen(pem) - 1] != '\n')
			buf_append_byte(&b, '\n');
	}
	buf_append_byte(&b, '\0');
	b.len--;
	return buf_take(&b);
}

/* ca, ca/pem, ca_chain: raw bodies; cert/ca, cert/ca_chain: JSON. */
static int ca_read(struct request *req, struct response *resp)
{
	const char *rel = req->rel;
	json_t *rec = NULL, *chain = NULL;
	int r;

	if ((r = default_issuer(req, resp, &rec)) != 0)
		goto out;
	const char *pem = json_string_value(json_object_get(rec, "certificate"));
	if (strcmp(rel, "ca") == 0 || strcmp(rel, "ca/pem") == 0) {
		r = pki_reply_raw_cert(resp, pem, strcmp(rel, "ca") == 0);
	} else if (strcmp(rel, "cert/ca") == 0) {
		response_set_data(resp, json_pack("{s:s, s:i, s:s}", "certificate", pem, "revocation_time", 0,
						  "revocation_time_rfc3339", ""));
	} else {
		if ((r = pki_issuer_chain(req->storage, rec, &chain)) != 0)
			goto out;
		char *text = chain_text(chain);
		if (strcmp(rel, "ca_chain") == 0) {
			resp->text = text;
			resp->text_type = "application/pem-file";
		} else {
			response_set_data(resp, json_pack("{s:s, s:s, s:i, s:s}", "certificate", text, "ca_chain", text,
							  "revocation_time", 0, "revocation_time_rfc3339", ""));
			free(text);
		}
	}
out:
	json_decref(chain);
	json_decref(rec);
	return r;
}

static int cert_read(struct request *req, struct response *resp)
{
	const char *given = request_param(req, "serial");
	char serial[X509_SERIAL_TEXT_MAX];
	const char *form = strstr(req->rel, "/raw");
	json_t *rec = NULL, *revoked = NULL;
	struct buf key;
	int r;

	if (strcmp(given, "ca") == 0 || strcmp(given, "ca_chain") == 0)
		return ca_read(req, resp);
	if (x509_serial_canon(given, serial) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "serial: expected hex bytes separated by ':' or '-'");
	cert_key(&key, serial);
	r = kv_get_json(req->storage, key.data, &rec);
	buf_release(&key);
	int rr = pki_revoked_get(req->storage, serial, &revoked);
	if (r == TROVE_ERR_NOT_FOUND && rr == 0) { /* revoked, never stored (no_store) */
		rec = json_incref(revoked);
		r = 0;
	}
	if (r != 0)
		goto out;
	const char *pem = json_string_value(json_object_get(rec, "certificate")) ?: "";
	if (!form) {
		char *p = xstrdup(pem);
		pki_pem_trim(p);
		response_set_data(resp, json_pack("{s:s, s:I, s:s, s:O}", "certificate", p, "revocation_time",
						  json_integer_value(json_object_get(revoked, "revocation_time")),
						  "revocation_time_rfc3339",
						  json_string_value(json_object_get(revoked, "revocation_time_utc")) ?: "",
						  "issuer_id", json_object_get(rec, "issuer_id")));
		free(p);
	} else {
		r = pki_reply_raw_cert(resp, pem, strcmp(form, "/raw/pem") != 0);
	}
out:
	json_decref(revoked);
	json_decref(rec);
	return r;
}

static int certs_list(struct request *req, struct response *resp)
{
	return kv_list_reply(req->storage, PKI_CERT_PREFIX, resp);
}

const struct route pki_cert_routes[] = {
    {.pattern = "ca", .ops = {[OP_READ] = ca_read}, .flags = ROUTE_UNAUTH,
     .synopsis = "the default issuer's certificate, DER"},
    {.pattern = "ca/pem", .ops = {[OP_READ] = ca_read}, .flags = ROUTE_UNAUTH,
     .synopsis = "the default issuer's certificate, PEM"},
    {.pattern = "ca_chain", .ops = {[OP_READ] = ca_read}, .flags = ROUTE_UNAUTH,
     .synopsis = "the default issuer's chain, PEM"},
    {.pattern = "cert/ca_chain", .ops = {[OP_READ] = ca_read}, .flags = ROUTE_UNAUTH,
     .synopsis = "the default issuer's chain"},
    {.pattern = "cert/ca", .ops = {[OP_READ] = ca_read}, .flags = ROUTE_UNAUTH,
     .synopsis = "the default issuer's certificate"},
    {.pattern = "cert/:serial", .ops = {[OP_READ] = cert_read}, .flags = ROUTE_UNAUTH,
     .synopsis = "a stored certificate by serial"},
    {.pattern = "cert/:serial/raw", .ops = {[OP_READ] = cert_read}, .flags = ROUTE_UNAUTH,
     .synopsis = "a stored certificate, DER"},
    {.pattern = "cert/:serial/raw/pem", .ops = {[OP_READ] = cert_read}, .flags = ROUTE_UNAUTH,
     .synopsis = "a stored certificate, PEM"},
    {.pattern = "certs", .ops = {[OP_LIST] = certs_list}, .synopsis = "the stored certificates' serials"},
    {0},
};
