/* keychange.c — account key rollover (RFC 8555 7.3.5) and revoke-cert
 * (7.6).
 *
 * key-change: the outer JWS is signed by the account (kid); its payload is
 * an inner JWS signed by the new key (jwk, the same url, no nonce) whose
 * payload names the account and its old key. The new key must not be
 * another account's.
 *
 * revoke-cert: a certificate obtained through ACME from this mount (the
 * bytes stored), revoked by the account that obtained it or by a JWS of
 * the certificate's own key; reason 0 only. The revocation itself is
 * the engine's (pki_revoke_cert), as for the revoke route. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "acme.h"

#include "encoding.h"
#include "engines/kv_util.h"
#include "err.h"
#include "jwk.h"

#include "banned.h"

int acme_h_key_change(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	struct acme_jws inner;
	char old_tp[ACME_THUMBPRINT_LEN + 1], new_tp[ACME_THUMBPRINT_LEN + 1],
	    have_tp[ACME_THUMBPRINT_LEN + 1];
	json_t *ip = NULL, *other = NULL, *idx = NULL;
	struct buf err;
	int r;

	memset(&inner, 0, sizeof(inner));
	buf_init(&err, 256);
	if ((r = acme_begin(&c, req, resp, true, false, false)) != 0)
		goto out;
	if (!c.payload || acme_jws_parse_object(c.payload, ACME_JWS_KEY_CHANGE, &inner, &err) != 0) {
		r = acme_problem(&c, 400, "malformed", "key-change: %s", err.len ? err.data : "no inner JWS");
		goto out;
	}
	if (strcmp(inner.url, c.jws.url) != 0) {
		r = acme_problem(&c, 400, "malformed", "key-change: the inner url differs from the outer");
		goto out;
	}
	if (acme_jws_verify(&inner, NULL, &err) != 0) {
		r = acme_problem(&c, 403, "unauthorized", "key-change: %s", err.data);
		goto out;
	}
	json_error_t jerr;
	ip = json_loadb((const char *)inner.payload, inner.payload_len, JSON_REJECT_DUPLICATES, &jerr);
	const char *acct_url = json_string_value(json_object_get(ip, "account"));
	if (!json_is_object(ip) || !acct_url || strcmp(acct_url, c.jws.kid) != 0) {
		r = acme_problem(&c, 400, "malformed",
		                 "key-change: the inner payload must name this account");
		goto out;
	}
	buf_reset(&err);
	if (acme_jwk_thumbprint(json_object_get(ip, "oldKey"), old_tp, &err) != 0 ||
	    acme_jwk_thumbprint(inner.jwk, new_tp, &err) != 0) {
		r = acme_problem(&c, 400, "badPublicKey", "key-change: %s", err.data);
		goto out;
	}
	snprintf(have_tp, sizeof(have_tp), "%s",
	         json_string_value(json_object_get(c.account, "thumbprint")) ?: "");
	if (strcmp(old_tp, have_tp) != 0) {
		r = acme_problem(&c, 400, "malformed", "key-change: oldKey is not the account's key");
		goto out;
	}
	pthread_mutex_lock(&c.st->mu);
	if ((r = acme_get(req->storage, ACME_THUMB_PREFIX, new_tp, &other)) == 0) {
		char *loc = acme_url(&c, "account/", json_string_value(json_object_get(other, "id")));
		acme_problem(&c, 409, "malformed", "key-change: the new key belongs to an account");
		response_header_add(resp, "Location", loc);
		free(loc);
		r = ACME_ANSWERED;
	} else if (r == TROVE_ERR_NOT_FOUND) {
		char key[STORAGE_MAX_KEY];
		idx = json_pack("{s:s}", "id", c.account_id);
		json_object_set(c.account, "jwk", inner.jwk);
		json_object_set_new(c.account, "thumbprint", json_string(new_tp));
		snprintf(key, sizeof(key), "%s%s", ACME_THUMB_PREFIX, old_tp);
		if ((r = acme_put(req->storage, ACME_THUMB_PREFIX, new_tp, idx)) == 0 &&
		    (r = acme_put(req->storage, ACME_ACCOUNT_PREFIX, c.account_id, c.account)) == 0 &&
		    (r = storage_delete(req->storage, key)) == 0) {
			char *loc = acme_url(&c, "account/", c.account_id);
			r = acme_reply(&c, 200, acme_account_json(&c, c.account), loc);
			free(loc);
		}
	}
	pthread_mutex_unlock(&c.st->mu);
out:
	acme_jws_release(&inner);
	json_decref(ip);
	json_decref(other);
	json_decref(idx);
	buf_release(&err);
	return acme_end(&c, r);
}

/* The revocation itself, by the engine's revocation code (the CRLs
 * rebuilt as for any revoke). Returns 0 once it revoked, else
 * ACME_ANSWERED: alreadyRevoked for a serial revoked before, malformed
 * for an expired certificate, as Vault answers. */
static int revoke_serial(struct acme_ctx *c, const char *serial)
{
	struct pki_revocation rev;
	struct buf why;
	int r;

	buf_init(&why, 256);
	r = pki_revoke_cert(c->req->storage, c->req->mount, serial, false, &rev, &why);
	if (r == TROVE_ERR_INVALID)
		r = acme_problem(c, 400, "malformed", "unable to revoke certificate: %s", why.data);
	else if (r != 0)
		r = acme_problem(c, 500, "serverInternal", "unable to revoke certificate");
	else if (rev.already)
		r = acme_problem(c, 400, "alreadyRevoked", "the certificate was revoked before");
	else if (rev.expired || !rev.revocation_time)
		r = acme_problem(c, 400, "malformed", "refusing to revoke an expired certificate");
	buf_release(&why);
	return r;
}

/* Whether the request may revoke cert (stored as rec's account): signed
 * by the account that obtained it, or by the certificate's own key. */
static bool revoke_allowed(struct acme_ctx *c, X509 *cert, const json_t *who)
{
	if (c->account)
		return strcmp(json_string_value(json_object_get(who, "account")) ?: "", c->account_id) == 0;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	return pub && c->jws.jwk_key && EVP_PKEY_eq(pub, c->jws.jwk_key) == 1;
}

int acme_h_revoke(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	unsigned char *der = NULL;
	size_t der_len = 0;
	X509 *cert = NULL;
	json_t *who = NULL, *stored = NULL;
	char serial[X509_SERIAL_TEXT_MAX];
	int r;

	if ((r = acme_begin(&c, req, resp, true, false, true)) != 0)
		goto out;
	const char *b64 = c.payload ? json_string_value(json_object_get(c.payload, "certificate")) : NULL;
	const json_t *reason = c.payload ? json_object_get(c.payload, "reason") : NULL;
	if (!b64 || base64url_decode(b64, strlen(b64), &der, &der_len) != 0) {
		r = acme_problem(&c, 400, "malformed", "certificate: missing or not base64url");
		goto out;
	}
	if (reason && (!json_is_integer(reason) || json_integer_value(reason) != 0)) {
		r = acme_problem(&c, 400, "badRevocationReason", "only reason 0 (unspecified) is supported");
		goto out;
	}
	const unsigned char *p = der;
	if (!(cert = d2i_X509(NULL, &p, (long)der_len)) || p != der + der_len ||
	    x509_serial_text(X509_get0_serialNumber(cert), serial) != 0) {
		ERR_clear_error();
		r = acme_problem(&c, 400, "malformed", "certificate: not one DER certificate");
		goto out;
	}
	for (char *q = serial; *q; q++)
		if (*q == ':')
			*q = '-';
	/* ours: obtained through ACME from this mount, and the very bytes stored */
	char key[STORAGE_MAX_KEY];
	snprintf(key, sizeof(key), "%s%s", PKI_CERT_PREFIX, serial);
	X509 *mine = NULL;
	bool ours = false;
	if ((r = acme_get(req->storage, ACME_CERT_PREFIX, serial, &who)) == 0 &&
	    (r = kv_get_json(req->storage, key, &stored)) == 0) {
		const char *pem = json_string_value(json_object_get(stored, "certificate")) ?: "";
		ours = x509_cert_from_pem(pem, strlen(pem), &mine) == 0 && X509_cmp(mine, cert) == 0;
		X509_free(mine);
	}
	if (r != 0 && r != TROVE_ERR_NOT_FOUND)
		goto out;
	if (!ours) {
		r = acme_problem(&c, 403, "unauthorized", "the certificate was not issued through ACME here");
		goto out;
	}
	if (!revoke_allowed(&c, cert, who)) {
		r = acme_problem(&c, 403, "unauthorized",
		                 "neither the account that obtained the certificate nor its key");
		goto out;
	}
	if ((r = revoke_serial(&c, serial)) == 0)
		r = acme_reply(&c, 200, NULL, NULL);
out:
	free(der);
	X509_free(cert);
	json_decref(who);
	json_decref(stored);
	return acme_end(&c, r);
}
