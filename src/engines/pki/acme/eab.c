/* eab.c — External Account Binding checks. */
#include "eab.h"

#include <string.h>

#include "err.h"
#include "hmac.h"
#include "jwk.h"
#include "jws.h"
#include "secure.h"

int acme_eab_kid(const json_t *eab, char **kid, struct buf *err)
{
	struct acme_jws jws;
	int r = acme_jws_parse_object(eab, ACME_JWS_EAB, &jws, err);

	*kid = NULL;
	if (r == 0) {
		*kid = jws.kid;
		jws.kid = NULL;
	}
	acme_jws_release(&jws);
	return r;
}

/* Whether the binding's payload is a JWK of the same key as account_key. */
static int same_key(const struct acme_jws *jws, EVP_PKEY *account_key, struct buf *err)
{
	int r = TROVE_ERR_INVALID;
	json_error_t jerr;
	json_t *jwk = json_loadb((const char *)jws->payload, jws->payload_len, JSON_REJECT_DUPLICATES, &jerr);
	EVP_PKEY *key = NULL;

	if (!jwk || acme_jwk_to_pkey(jwk, &key, NULL) != 0) {
		if (err)
			buf_append_str(err, "eab: payload is not a JWK");
		goto out;
	}
	if (!account_key || EVP_PKEY_eq(key, account_key) != 1) {
		if (err)
			buf_append_str(err, "eab: payload JWK is not the account key");
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(key);
	json_decref(jwk);
	return r;
}

int acme_eab_verify(const json_t *eab, const unsigned char *key, size_t key_len, const char *url,
                    EVP_PKEY *account_key, struct buf *err)
{
	int r;
	struct acme_jws jws;
	unsigned char mac[HMAC_SHA256_LEN];

	if ((r = acme_jws_parse_object(eab, ACME_JWS_EAB, &jws, err)) != 0)
		goto out;
	r = TROVE_ERR_INVALID;
	if (!url || strcmp(jws.url, url) != 0) {
		if (err)
			buf_append_str(err, "eab: url differs from the request's");
		goto out;
	}
	if ((r = same_key(&jws, account_key, err)) != 0)
		goto out;
	r = TROVE_ERR_PERMISSION;
	if (!key || key_len == 0 ||
	    hmac_sha256(key, key_len, jws.signing_input, strlen(jws.signing_input), mac) != 0 ||
	    jws.signature_len != sizeof(mac) || !secure_eq(mac, jws.signature, sizeof(mac))) {
		if (err)
			buf_append_str(err, "eab: MAC does not verify");
		goto out;
	}
	r = 0;
out:
	secure_wipe(mac, sizeof(mac));
	acme_jws_release(&jws);
	return r;
}
