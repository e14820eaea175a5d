/* ocsp_routes.c — the OCSP responder's routes: POST ocsp (a DER body,
 * application/ocsp-request) and GET ocsp/<base64> (RFC 5019), both
 * unauthenticated, answered by the pure core in ocsp.h with the statuses
 * of the mount's certificate store. */
#include <stdlib.h>
#include <string.h>

#include "crl.h"
#include "ocsp.h"
#include "revocation.h"

#include "clock.h"
#include "engines/kv_util.h"
#include "err.h"

#include "banned.h"

/* OCSPResponse {responseStatus unauthorized(6)}: Vault's answer while
 * config/crl ocsp_disable is set. */
static const unsigned char unauthorized[] = {0x30, 0x03, 0x0a, 0x01, 0x06};

struct issuers {
	struct ocsp_issuer *v;
	json_t **recs;
	size_t n;
};

static void issuers_release(struct issuers *is)
{
	for (size_t i = 0; i < is->n; i++) {
		X509_free(is->v[i].cert);
		EVP_PKEY_free(is->v[i].key);
		json_decref(is->recs[i]);
	}
	free(is->v);
	free(is->recs);
}

/* Every issuer of the mount; *def the default's index or -1. */
static int issuers_load(struct storage *s, struct issuers *is, long *def)
{
	struct strlist ids;
	json_t *cfg = NULL;
	int r;

	memset(is, 0, sizeof(*is));
	*def = -1;
	strlist_init(&ids);
	if ((r = pki_issuer_ids(s, &ids)) != 0 || (r = pki_issuers_config_get(s, &cfg)) != 0)
		goto out;
	const char *def_id = json_string_value(json_object_get(cfg, "default")) ?: "";
	is->v = xcalloc(ids.len ? ids.len : 1, sizeof(*is->v));
	is->recs = xcalloc(ids.len ? ids.len : 1, sizeof(*is->recs));
	for (size_t i = 0; i < ids.len; i++) {
		json_t *rec = NULL;
		X509 *cert = NULL;
		EVP_PKEY *key = NULL;
		if ((r = pki_issuer_get(s, ids.items[i], &rec)) != 0 ||
		    (r = pki_issuer_signer(s, rec, &cert, &key)) != 0) {
			json_decref(rec);
			goto out;
		}
		if (strcmp(ids.items[i], def_id) == 0)
			*def = (long)is->n;
		is->v[is->n] = (struct ocsp_issuer){
		    .cert = cert,
		    .key = key,
		    .ocsp_signing = strstr(json_string_value(json_object_get(rec, "usage")) ?: "", "ocsp-signing") != NULL,
		    .signature_algorithm = json_string_value(json_object_get(rec, "revocation_signature_algorithm"))};
		is->recs[is->n++] = rec;
	}
out:
	json_decref(cfg);
	strlist_release(&ids);
	return r;
}

struct lookup {
	struct storage *s;
	const struct issuers *is;
	long def;
};

/* A record's issuer_id is this issuer's, or (for a revocation whose issuer
 * is gone) the issuer is the default, as on the CRLs. */
static bool issued_by(const struct lookup *l, const json_t *rec, size_t issuer)
{
	const char *id = json_string_value(json_object_get(rec, "issuer_id")) ?: "";
	const char *mine = json_string_value(json_object_get(l->is->recs[issuer], "id")) ?: "";
	if (strcmp(id, mine) == 0)
		return true;
	for (size_t i = 0; i < l->is->n; i++)
		if (strcmp(id, json_string_value(json_object_get(l->is->recs[i], "id")) ?: "") == 0)
			return false;
	return (long)issuer == l->def;
}

static int status_of(void *ctx, size_t issuer, const unsigned char *serial, size_t serial_len,
		     enum ocsp_cert_status *status, int64_t *revoked_at)
{
	const struct lookup *l = ctx;
	char hex[CRL_SERIAL_MAX * 3 + 1];
	json_t *rec = NULL;
	struct buf key;
	size_t o = 0;
	int r;

	*status = OCSP_CERT_UNKNOWN;
	if (serial_len == 0 || serial_len > CRL_SERIAL_MAX)
		return 0;
	for (size_t i = 0; i < serial_len; i++)
		o += (size_t)snprintf(hex + o, sizeof(hex) - o, "%s%02x", i ? ":" : "", serial[i]);
	r = pki_revoked_get(l->s, hex, &rec);
	if (r == 0 && issued_by(l, rec, issuer)) {
		*status = OCSP_CERT_REVOKED;
		*revoked_at = json_integer_value(json_object_get(rec, "revocation_time"));
		goto out;
	}
	if (r != 0 && r != TROVE_ERR_NOT_FOUND)
		goto out;
	json_decref(rec);
	rec = NULL;
	if ((r = pki_serial_key(&key, PKI_CERT_PREFIX, hex)) == 0)
		r = kv_get_json(l->s, key.data, &rec);
	buf_release(&key);
	if (r == 0 && issued_by(l, rec, issuer))
		*status = OCSP_CERT_GOOD;
	if (r == TROVE_ERR_NOT_FOUND)
		r = 0;
out:
	json_decref(rec);
	return r;
}

static void reply_bytes(struct response *resp, int status, const unsigned char *der, size_t len)
{
	resp->text = xmalloc(len ? len : 1);
	memcpy(resp->text, der, len);
	resp->text_len = len;
	resp->text_type = OCSP_CONTENT_TYPE;
	resp->status = status;
}

static int ocsp_handle(struct request *req, struct response *resp, const unsigned char *body, size_t len,
		       bool get_form)
{
	struct pki_crl_config cfg;
	struct issuers is = {0};
	struct ocsp_answer ans = {0};
	struct buf why;
	long def = -1;
	int r;

	buf_init(&why, 1024);
	if ((r = pki_crl_config_get(req->storage, &cfg)) != 0)
		goto out;
	if (cfg.ocsp_disable) {
		reply_bytes(resp, 401, unauthorized, sizeof(unauthorized));
		goto out;
	}
	if ((r = issuers_load(req->storage, &is, &def)) != 0)
		goto out;
	struct lookup l = {.s = req->storage, .is = &is, .def = def};
	struct ocsp_params p = {.issuers = is.v,
				.n_issuers = is.n,
				.default_issuer = def,
				.status = status_of,
				.ctx = &l,
				.now = clock_realtime_s(),
				.expiry = cfg.ocsp_expiry};
	r = ocsp_respond(body, len, get_form, &p, &ans, &why);
	if (!ans.der) {
		r = r ? r : TROVE_ERR_INTERNAL;
		goto out;
	}
	reply_bytes(resp, ans.http_status, ans.der, ans.der_len);
	r = 0;
out:
	ocsp_answer_release(&ans);
	issuers_release(&is);
	buf_release(&why);
	return r;
}

static int ocsp_post(struct request *req, struct response *resp)
{
	size_t len = 0;
	const char *body = request_body_bytes(req, &len);
	return ocsp_handle(req, resp, (const unsigned char *)(body ? body : ""), len, false);
}

static int ocsp_get(struct request *req, struct response *resp)
{
	const char *tail = req->rel + strlen("ocsp/");
	return ocsp_handle(req, resp, (const unsigned char *)tail, strlen(tail), true);
}

const struct route pki_ocsp_routes[] = {
    {.pattern = "ocsp", .ops = {[OP_UPDATE] = ocsp_post}, .flags = ROUTE_UNAUTH | ROUTE_RAW_BODY,
     .synopsis = "OCSP request, DER body"},
    {.pattern = "ocsp/*", .ops = {[OP_READ] = ocsp_get}, .flags = ROUTE_UNAUTH | ROUTE_TAIL_DATA,
     .synopsis = "OCSP request, base64 in the path"},
    {0},
};
