/* cert_ocsp.c — OCSP checks of the cert method's logins (an entry with
 * ocsp_enabled), as Vault's cert method makes them.
 *
 * Only the leaf is checked, and only when the verified chain holds its
 * issuer (a pinned non-CA entry has none: nothing to ask). The request is
 * one SHA-1 CertID (as Vault and Go build it), no nonce, POSTed as
 * application/ocsp-request to each of ocsp_servers_override, or else to
 * the leaf's AIA OCSP URLs (http and https only), through outbound_call
 * with a short timeout and a small body cap; a responder that cannot be
 * reached or does not answer 200 is asked again, up to ocsp_max_retries
 * times (at once, and not after a timeout). An answer counts only when
 * cert_ocsp_check_response accepts it (with ocsp_this_update_max_age).
 *
 * The verdict:
 *   - revoked (from any responder asked) refuses the login;
 *   - a response that fails its checks (signature, signer, CertID, times)
 *     refuses it, ocsp_fail_open or not;
 *   - good: from the first responder that answers, or from every one with
 *     ocsp_query_all_servers;
 *   - otherwise (unknown, no responder, unreachable, not "successful"):
 *     refused, unless ocsp_fail_open, which lets it through and logs. */
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "auth/cert_auth.h"

#include "core/outbound.h"
#include "err.h"
#include "log.h"

#include "banned.h"

#define OCSP_TIMEOUT_MS 5000
#define OCSP_MAX_RESPONSE ((size_t)64 << 10)
#define OCSP_SKEW_SECONDS 300
#define OCSP_MAX_SERVERS 16
#define OCSP_MAX_RETRIES 10

/* The trust for a response's signer: the issuer and the entry's
 * ocsp_ca_certificates, each an anchor (a delegated responder's issuer
 * may be an intermediate). */
static X509_STORE *signer_store(X509 *issuer, STACK_OF(X509) * extra)
{
	X509_STORE *st = X509_STORE_new();

	if (!st || X509_STORE_add_cert(st, issuer) != 1)
		goto fail;
	for (int i = 0; i < sk_X509_num(extra); i++)
		if (X509_STORE_add_cert(st, sk_X509_value(extra, i)) != 1)
			goto fail;
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	return st;
fail:
	X509_STORE_free(st);
	return NULL;
}

int cert_ocsp_check_response(const unsigned char *der, size_t len, OCSP_CERTID *id, X509 *issuer,
                             STACK_OF(X509) * extra, int64_t max_age, enum cert_ocsp_status *status,
                             const char **why)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = len <= OCSP_MAX_RESPONSE ? d2i_OCSP_RESPONSE(NULL, &p, (long)len) : NULL;
	OCSP_BASICRESP *bs = NULL;
	STACK_OF(X509) *signers = sk_X509_new_null();
	X509_STORE *st = NULL;
	ASN1_GENERALIZEDTIME *this_upd = NULL, *next_upd = NULL, *rev = NULL;
	int st_code = 0, reason = 0, r = TROVE_ERR_INVALID;

	*status = CERT_OCSP_UNKNOWN;
	*why = "the response is not an OCSP response";
	if (!resp || p != der + len || !signers)
		goto out;
	*why = "the responder did not answer \"successful\"";
	if (OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		r = TROVE_ERR_UPSTREAM;
		goto out;
	}
	*why = "the response holds no basic response";
	if (!(bs = OCSP_response_get1_basic(resp)))
		goto out;
	*why = "out of memory";
	if (!sk_X509_push(signers, issuer) || !(st = signer_store(issuer, extra)))
		goto out;
	/* The signer is the issuer, or a responder certificate with
	 * id-kp-OCSPSigning that the issuer signed (OpenSSL's checks, which
	 * OCSP_NOCHECKS would turn off). */
	*why = "the response is not signed by the issuer or a responder it delegated";
	if (OCSP_basic_verify(bs, signers, st, OCSP_TRUSTOTHER) != 1)
		goto out;
	*why = "the response does not answer for this certificate";
	if (OCSP_resp_find_status(bs, id, &st_code, &reason, &rev, &this_upd, &next_upd) != 1)
		goto out;
	*why = "the response is not current (thisUpdate in the future or nextUpdate past)";
	if (OCSP_check_validity(this_upd, next_upd, OCSP_SKEW_SECONDS, -1) != 1)
		goto out;
	*why = "the response's thisUpdate is older than ocsp_this_update_max_age";
	if (max_age > 0 && OCSP_check_validity(this_upd, NULL, OCSP_SKEW_SECONDS, (long)max_age) != 1)
		goto out;
	*status = st_code == V_OCSP_CERTSTATUS_GOOD      ? CERT_OCSP_GOOD
	          : st_code == V_OCSP_CERTSTATUS_REVOKED ? CERT_OCSP_REVOKED
	                                                 : CERT_OCSP_UNKNOWN;
	*why = *status == CERT_OCSP_UNKNOWN ? "the responder does not know the certificate" : NULL;
	r = 0;
out:
	ERR_clear_error();
	X509_STORE_free(st);
	sk_X509_free(signers);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return r;
}

/* The responders to ask: the override list, else the leaf's AIA OCSP
 * URLs that are http or https. */
static void responders(const json_t *doc, X509 *leaf, struct strlist *out)
{
	const json_t *over = json_object_get(doc, "ocsp_servers_override");
	size_t i;
	json_t *v;

	json_array_foreach(over, i, v)
	{
		if (json_is_string(v) && out->len < OCSP_MAX_SERVERS)
			strlist_push(out, json_string_value(v));
	}
	if (out->len > 0)
		return;
	STACK_OF(OPENSSL_STRING) *aia = X509_get1_ocsp(leaf);
	for (int k = 0; k < sk_OPENSSL_STRING_num(aia) && out->len < OCSP_MAX_SERVERS; k++) {
		const char *u = sk_OPENSSL_STRING_value(aia, k);
		if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0)
			strlist_push(out, u);
	}
	X509_email_free(aia);
}

struct query {
	const unsigned char *der; /* the OCSPRequest */
	size_t len;
	OCSP_CERTID *id;
	X509 *issuer;
	STACK_OF(X509) * extra; /* ocsp_ca_certificates, or NULL */
	int64_t max_age;        /* ocsp_this_update_max_age */
	int64_t retries;        /* ocsp_max_retries */
};

/* Asks one responder once. 0 with *status, TROVE_ERR_UPSTREAM when no
 * usable answer came (TROVE_ERR_TIMEOUT when it did not answer in time),
 * TROVE_ERR_INVALID when one came and failed its checks. */
static int ask_once(const char *url, const struct query *q, enum cert_ocsp_status *status, const char **why)
{
	const char *headers[] = {"Content-Type: application/ocsp-request",
	                         "Accept: application/ocsp-response", NULL};
	struct outbound_request oreq = {
	    .method = "POST",
	    .url = url,
	    .headers = headers,
	    .body = q->der,
	    .body_len = q->len,
	    .connect_timeout_ms = OCSP_TIMEOUT_MS,
	    .timeout_ms = OCSP_TIMEOUT_MS,
	    .max_response = OCSP_MAX_RESPONSE,
	};
	struct outbound_response resp;
	struct buf err;
	int r;

	outbound_response_init(&resp);
	buf_init(&err, BUF_CAP_DEFAULT);
	if ((r = outbound_call(&oreq, &resp, &err)) != 0) {
		*why = r == TROVE_ERR_TIMEOUT ? "the responder did not answer in time"
		                              : "the responder could not be reached";
		r = r == TROVE_ERR_WOULD_BLOCK || r == TROVE_ERR_TIMEOUT ? r : TROVE_ERR_UPSTREAM;
	} else if (resp.status != 200) {
		*why = "the responder did not answer 200";
		r = TROVE_ERR_UPSTREAM;
	} else {
		r = cert_ocsp_check_response((const unsigned char *)resp.body.data, resp.body.len, q->id,
		                             q->issuer, q->extra, q->max_age, status, why);
	}
	buf_release(&err);
	outbound_response_release(&resp);
	return r;
}

/* Asks one responder, again up to q->retries times while it cannot be
 * reached or does not answer 200 (never after a timeout, which already
 * took the whole of OCSP_TIMEOUT_MS). */
static int ask(const char *url, const struct query *q, enum cert_ocsp_status *status, const char **why)
{
	int r = ask_once(url, q, status, why);

	for (int64_t n = 0; r == TROVE_ERR_UPSTREAM && n < q->retries && n < OCSP_MAX_RETRIES; n++)
		r = ask_once(url, q, status, why);
	return r == TROVE_ERR_TIMEOUT ? TROVE_ERR_UPSTREAM : r;
}

int cert_ocsp_allows(const json_t *doc, X509 *leaf, X509 *issuer, bool *allowed)
{
	const char *ca_pem = json_string_value(json_object_get(doc, "ocsp_ca_certificates"));
	bool all = json_is_true(json_object_get(doc, "ocsp_query_all_servers"));
	bool fail_open = json_is_true(json_object_get(doc, "ocsp_fail_open"));
	STACK_OF(X509) *extra = ca_pem && *ca_pem ? cert_parse_pem(ca_pem, strlen(ca_pem)) : NULL;
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
	OCSP_REQUEST *oreq = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	int der_len = -1, r = 0;
	struct strlist urls;
	const char *why = "no OCSP responder is known for the certificate";
	bool good = false, failed = false, bad = false, revoked = false;

	*allowed = false;
	strlist_init(&urls);
	if (!id || !oreq || !OCSP_request_add0_id(oreq, OCSP_CERTID_dup(id)) ||
	    (der_len = i2d_OCSP_REQUEST(oreq, &der)) <= 0) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	struct query qry = {
	    .der = der,
	    .len = (size_t)der_len,
	    .id = id,
	    .issuer = issuer,
	    .extra = extra,
	    .max_age = json_integer_value(json_object_get(doc, "ocsp_this_update_max_age")),
	    .retries = json_is_integer(json_object_get(doc, "ocsp_max_retries"))
	                   ? json_integer_value(json_object_get(doc, "ocsp_max_retries"))
	                   : CERT_OCSP_MAX_RETRIES_DEFAULT,
	};
	responders(doc, leaf, &urls);
	for (size_t i = 0; i < urls.len && !revoked && !bad && (all || !good); i++) {
		enum cert_ocsp_status s = CERT_OCSP_UNKNOWN;
		const char *w = NULL;
		int q = ask(urls.items[i], &qry, &s, &w);
		if (q == TROVE_ERR_WOULD_BLOCK) {
			r = q;
			goto out;
		}
		bad = q == TROVE_ERR_INVALID;
		revoked = q == 0 && s == CERT_OCSP_REVOKED;
		if (q == 0 && s == CERT_OCSP_GOOD)
			good = true;
		else {
			failed = true;
			why = w ? w : why;
		}
	}
	if (revoked || bad) {
		log_warn("cert: login refused by OCSP", "reason",
		         revoked ? "the certificate is revoked" : why);
	} else if (good && !(all && failed)) {
		*allowed = true;
	} else if (fail_open) {
		log_warn("cert: OCSP gave no answer, login allowed (ocsp_fail_open)", "reason", why);
		*allowed = true;
	} else {
		log_warn("cert: OCSP gave no answer, login refused", "reason", why);
	}
out:
	strlist_release(&urls);
	OPENSSL_free(der);
	OCSP_REQUEST_free(oreq);
	OCSP_CERTID_free(id);
	sk_X509_pop_free(extra, X509_free);
	ERR_clear_error();
	return r;
}
