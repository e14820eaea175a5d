/* ocsp.c — the OCSP responder core (ocsp.h).
 *
 * It answers as Vault's responder does, with two deliberate additions the
 * RFC asks for: a nonce in the request is echoed, and the response's
 * CertID is the request's own (Vault rebuilds it from the signing issuer,
 * which for "unknown" answers signed by the default issuer names another
 * CA than the client asked about). What it keeps from Vault:
 *   - only the first CertID of a request is answered, a request signature
 *     is ignored, trailing bytes or an unknown CertID hash are malformed;
 *   - the issuer is the one whose name and key hashes (in the request's
 *     hash) match; none: "unknown" signed by the default issuer, or
 *     unauthorized without one; a match that may not sign: unauthorized;
 *   - the responder ID is by key hash, thisUpdate now, nextUpdate now +
 *     ocsp_expiry unless that is 0, a revocation carries no reason, RSA-PSS
 *     is answered with PKCS#1 v1.5, no certificate unless asked for;
 *   - the error answers are the bare OCSPResponse with only a status, sent
 *     with 400 (malformedRequest), 401 (unauthorized) or 500
 *     (internalError).
 * The bytes are hostile: every length is checked before OpenSSL sees it. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ocsp.h>

#include "crl.h"
#include "encoding.h"
#include "err.h"
#include "form.h"
#include "ocsp.h"

#include "banned.h"

struct ocsp_request {
	OCSP_REQUEST *req;
	OCSP_CERTID *id;  /* the first, borrowed from req */
	const EVP_MD *md; /* the CertID's hash */
	unsigned char name_hash[EVP_MAX_MD_SIZE];
	unsigned char key_hash[EVP_MAX_MD_SIZE];
	size_t hash_len;
	unsigned char serial[CRL_SERIAL_MAX]; /* magnitude, big-endian */
	size_t serial_len;
	bool serial_ok; /* positive and at most CRL_SERIAL_MAX bytes */
};

static int fail(struct buf *why, int code, const char *msg)
{
	if (why)
		(void)buf_append_str(why, msg);
	return code;
}

static const EVP_MD *certid_md(const ASN1_OBJECT *oid)
{
	switch (OBJ_obj2nid(oid)) {
	case NID_sha1:
		return EVP_sha1();
	case NID_sha256:
		return EVP_sha256();
	case NID_sha384:
		return EVP_sha384();
	case NID_sha512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* Copies the CertID's fields out, checking each length. */
static int take_certid(struct ocsp_request *r, struct buf *why)
{
	ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
	ASN1_OBJECT *md_oid = NULL;
	ASN1_INTEGER *serial = NULL;
	size_t n;

	if (OCSP_id_get0_info(&name_hash, &md_oid, &key_hash, &serial, r->id) != 1 || !name_hash ||
	    !key_hash || !md_oid || !serial)
		return fail(why, TROVE_ERR_INVALID, "request: incomplete CertID");
	if ((r->md = certid_md(md_oid)) == NULL)
		return fail(why, TROVE_ERR_INVALID, "request: unsupported CertID hash algorithm");
	n = (size_t)EVP_MD_get_size(r->md);
	if ((size_t)ASN1_STRING_length(name_hash) != n || (size_t)ASN1_STRING_length(key_hash) != n)
		return fail(why, TROVE_ERR_INVALID, "request: CertID hash of the wrong length");
	memcpy(r->name_hash, ASN1_STRING_get0_data(name_hash), n);
	memcpy(r->key_hash, ASN1_STRING_get0_data(key_hash), n);
	r->hash_len = n;
	/* A negative or oversized serial is no certificate of ours: answered
	 * "unknown" without asking the caller. */
	n = (size_t)ASN1_STRING_length(serial);
	r->serial_ok = ASN1_STRING_type(serial) == V_ASN1_INTEGER && n > 0 && n <= sizeof(r->serial);
	if (r->serial_ok) {
		memcpy(r->serial, ASN1_STRING_get0_data(serial), n);
		r->serial_len = n;
	}
	return 0;
}

int ocsp_request_from_der(const unsigned char *der, size_t len, struct ocsp_request **out, struct buf *why)
{
	const unsigned char *p = der;
	struct ocsp_request *r = NULL;
	int rc = TROVE_ERR_INVALID;

	*out = NULL;
	if (len == 0)
		return fail(why, TROVE_ERR_INVALID, "request: empty");
	if (len > OCSP_REQUEST_MAX)
		return fail(why, TROVE_ERR_INVALID, "request: too large");
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return TROVE_ERR_NOMEM;
	if ((r->req = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL || p != der + len) {
		(void)fail(why, rc, "request: not a DER OCSPRequest");
		goto out;
	}
	if (OCSP_request_onereq_count(r->req) < 1) {
		(void)fail(why, rc, "request: no certificate asked about");
		goto out;
	}
	r->id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(r->req, 0));
	if ((rc = take_certid(r, why)) != 0)
		goto out;
	*out = r;
	r = NULL;
	rc = 0;
out:
	ocsp_request_free(r);
	return rc;
}

int ocsp_request_from_get_path(const char *tail, size_t len, struct ocsp_request **out, struct buf *why)
{
	unsigned char *der = NULL;
	char *text = NULL;
	size_t n = 0, der_len = 0;
	int r = TROVE_ERR_INVALID;

	*out = NULL;
	if (len == 0)
		return fail(why, r, "request: empty");
	if (len > OCSP_REQUEST_MAX)
		return fail(why, r, "request: too large");
	if ((text = form_decode(tail, len, false)) == NULL) {
		(void)fail(why, r, "request: bad percent-encoding");
		goto out;
	}
	/* Go's decoder skips line breaks and wants the padding. */
	for (size_t i = 0; text[i]; i++)
		if (text[i] != '\r' && text[i] != '\n')
			text[n++] = text[i];
	if (n == 0 || n % 4 != 0) {
		(void)fail(why, r, "request: base64 of the wrong length (padding required)");
		goto out;
	}
	der = malloc(n / 4 * 3);
	if (der == NULL) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	if (base64_decode(text, n, der, n / 4 * 3, &der_len) != 0) {
		(void)fail(why, r, "request: not standard base64");
		goto out;
	}
	r = ocsp_request_from_der(der, der_len, out, why);
out:
	free(der);
	free(text);
	return r;
}

void ocsp_request_free(struct ocsp_request *req)
{
	if (req == NULL)
		return;
	OCSP_REQUEST_free(req->req);
	free(req);
}

const unsigned char *ocsp_request_serial(const struct ocsp_request *req, size_t *len)
{
	*len = req->serial_ok ? req->serial_len : 0;
	return req->serial_ok ? req->serial : NULL;
}

bool ocsp_request_has_nonce(const struct ocsp_request *req)
{
	return OCSP_REQUEST_get_ext_by_NID(req->req, NID_id_pkix_OCSP_Nonce, -1) >= 0;
}

/* The bare OCSPResponse of an error status: SEQUENCE { ENUMERATED s }. */
static int error_answer(struct ocsp_answer *out, int ocsp_status, int http_status)
{
	static const unsigned char tmpl[] = {0x30, 0x03, 0x0a, 0x01, 0x00};

	out->http_status = http_status;
	out->der_len = 0;
	if ((out->der = OPENSSL_malloc(sizeof(tmpl))) == NULL)
		return TROVE_ERR_NOMEM;
	memcpy(out->der, tmpl, sizeof(tmpl));
	out->der[4] = (unsigned char)ocsp_status;
	out->der_len = sizeof(tmpl);
	return 0;
}

static bool issuer_matches(const struct ocsp_request *req, X509 *cert)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (cert == NULL)
		return false;
	if (X509_NAME_digest(X509_get_subject_name(cert), req->md, h, &n) != 1 || n != req->hash_len ||
	    CRYPTO_memcmp(h, req->name_hash, n) != 0)
		return false;
	if (X509_pubkey_digest(cert, req->md, h, &n) != 1 || n != req->hash_len ||
	    CRYPTO_memcmp(h, req->key_hash, n) != 0)
		return false;
	return true;
}

static bool can_sign(const struct ocsp_issuer *is)
{
	return is->key != NULL && is->ocsp_signing;
}

/* Which issuer signs: *signer, and whether it is the one asked about. */
static int pick_issuer(const struct ocsp_request *req, const struct ocsp_params *p, size_t *signer,
                       bool *matched, struct buf *why)
{
	bool matched_unusable = false;

	for (size_t i = 0; i < p->n_issuers; i++) {
		if (!issuer_matches(req, p->issuers[i].cert))
			continue;
		if (can_sign(&p->issuers[i])) {
			*signer = i;
			*matched = true;
			return 0;
		}
		matched_unusable = true; /* a rotated twin may still sign */
	}
	if (matched_unusable)
		return fail(why, TROVE_ERR_PERMISSION, "issuer: matched but may not sign OCSP responses");
	*matched = false;
	if (p->default_issuer >= 0 && (size_t)p->default_issuer < p->n_issuers &&
	    can_sign(&p->issuers[p->default_issuer])) {
		*signer = (size_t)p->default_issuer;
		return 0;
	}
	return fail(why, TROVE_ERR_PERMISSION,
	            "issuer: no issuer of this mount matches and no default can sign");
}

static int add_status(OCSP_BASICRESP *bs, const struct ocsp_request *req, enum ocsp_cert_status status,
                      int64_t revoked_at, const struct ocsp_params *p)
{
	ASN1_TIME *this_upd = ASN1_TIME_new(), *next_upd = NULL, *rev = NULL;
	OCSP_CERTID *cid = OCSP_CERTID_dup(req->id);
	int v = status == OCSP_CERT_GOOD      ? V_OCSP_CERTSTATUS_GOOD
	        : status == OCSP_CERT_REVOKED ? V_OCSP_CERTSTATUS_REVOKED
	                                      : V_OCSP_CERTSTATUS_UNKNOWN;
	int r = TROVE_ERR_INTERNAL;

	if (this_upd == NULL || cid == NULL || ASN1_TIME_set(this_upd, (time_t)p->now) == NULL)
		goto out;
	if (p->expiry > 0 && ((next_upd = ASN1_TIME_new()) == NULL ||
	                      ASN1_TIME_set(next_upd, (time_t)(p->now + p->expiry)) == NULL))
		goto out;
	if (v == V_OCSP_CERTSTATUS_REVOKED &&
	    ((rev = ASN1_TIME_new()) == NULL || ASN1_TIME_set(rev, (time_t)revoked_at) == NULL))
		goto out;
	if (OCSP_basic_add1_status(bs, cid, v, OCSP_REVOKED_STATUS_NOSTATUS, rev, this_upd, next_upd) == NULL)
		goto out;
	r = 0;
out:
	OCSP_CERTID_free(cid);
	ASN1_TIME_free(this_upd);
	ASN1_TIME_free(next_upd);
	ASN1_TIME_free(rev);
	return r;
}

/* The serial's status from the caller; "unknown" when the request is not
 * about one of the signer's own certificates. */
static int lookup_status(const struct ocsp_request *req, const struct ocsp_params *p, size_t signer,
                         bool matched, enum ocsp_cert_status *status, int64_t *revoked_at, struct buf *why)
{
	int r;

	*status = OCSP_CERT_UNKNOWN;
	*revoked_at = 0;
	if (!matched || !req->serial_ok || p->status == NULL)
		return 0;
	if ((r = p->status(p->ctx, signer, req->serial, req->serial_len, status, revoked_at)) != 0)
		return fail(why, r == TROVE_ERR_NOMEM ? r : TROVE_ERR_INTERNAL, "status lookup failed");
	if (*status != OCSP_CERT_GOOD && *status != OCSP_CERT_REVOKED && *status != OCSP_CERT_UNKNOWN)
		return fail(why, TROVE_ERR_INTERNAL, "status lookup gave no status");
	if (*status == OCSP_CERT_REVOKED && *revoked_at < 0)
		return fail(why, TROVE_ERR_INTERNAL, "status lookup gave a bad revocation time");
	return 0;
}

static int sign_response(const struct ocsp_request *req, const struct ocsp_params *p, size_t signer,
                         enum ocsp_cert_status status, int64_t revoked_at, struct ocsp_answer *out,
                         struct buf *why)
{
	const struct ocsp_issuer *is = &p->issuers[signer];
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *der = NULL;
	unsigned long flags = OCSP_RESPID_KEY | (p->include_cert ? 0 : OCSP_NOCERTS);
	int len, r = TROVE_ERR_INTERNAL;

	if (p->now < 0 || p->expiry < 0 || p->expiry > INT64_MAX - p->now) {
		(void)fail(why, r, "ocsp_expiry: out of range");
		goto out;
	}
	if ((bs = OCSP_BASICRESP_new()) == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if ((r = add_status(bs, req, status, revoked_at, p)) != 0)
		goto out;
	r = TROVE_ERR_INTERNAL;
	if (ocsp_request_has_nonce(req) && OCSP_copy_nonce(bs, req->req) != 1)
		goto out;
	if (crl_sign_init(ctx, is->key, is->signature_algorithm, false, why) != 0)
		goto out;
	if (OCSP_basic_sign_ctx(bs, is->cert, ctx, NULL, flags) != 1) {
		(void)fail(why, r, "signing failed");
		goto out;
	}
	if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs)) == NULL ||
	    (len = i2d_OCSP_RESPONSE(resp, &der)) <= 0)
		goto out;
	out->http_status = 200;
	out->der = der;
	out->der_len = (size_t)len;
	r = 0;
out:
	OCSP_RESPONSE_free(resp);
	EVP_MD_CTX_free(ctx);
	OCSP_BASICRESP_free(bs);
	return r;
}

int ocsp_answer(const struct ocsp_request *req, const struct ocsp_params *p, struct ocsp_answer *out,
                struct buf *why)
{
	enum ocsp_cert_status status;
	int64_t revoked_at;
	size_t signer = 0;
	bool matched = false;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = pick_issuer(req, p, &signer, &matched, why)) != 0)
		goto out;
	if ((r = lookup_status(req, p, signer, matched, &status, &revoked_at, why)) != 0)
		goto out;
	r = sign_response(req, p, signer, status, revoked_at, out, why);
out:
	if (r == TROVE_ERR_PERMISSION && error_answer(out, OCSP_RESPONSE_STATUS_UNAUTHORIZED, 401) != 0)
		return TROVE_ERR_NOMEM;
	if (r != 0 && r != TROVE_ERR_PERMISSION && r != TROVE_ERR_NOMEM &&
	    error_answer(out, OCSP_RESPONSE_STATUS_INTERNALERROR, 500) != 0)
		return TROVE_ERR_NOMEM;
	return r == 0 || r == TROVE_ERR_PERMISSION || r == TROVE_ERR_NOMEM ? r : TROVE_ERR_INTERNAL;
}

int ocsp_respond(const unsigned char *body, size_t len, bool get_form, const struct ocsp_params *p,
                 struct ocsp_answer *out, struct buf *why)
{
	struct ocsp_request *req = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	r = get_form ? ocsp_request_from_get_path((const char *)body, len, &req, why)
	             : ocsp_request_from_der(body, len, &req, why);
	if (r == TROVE_ERR_NOMEM)
		return r;
	if (r != 0)
		return error_answer(out, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, 400) != 0 ? TROVE_ERR_NOMEM
		                                                                          : TROVE_ERR_INVALID;
	r = ocsp_answer(req, p, out, why);
	ocsp_request_free(req);
	return r;
}

void ocsp_answer_release(struct ocsp_answer *out)
{
	OPENSSL_free(out->der);
	out->der = NULL;
	out->der_len = 0;
}
