/* fuzz_acme_jws.c — an ACME request body as a client sends it, through
 * the flattened JWS parser, the JWK reader, the signature check and the
 * thumbprint; the payload, read as JSON, through the JWK reader and the
 * External Account Binding parser and the key-change inner JWS parser. A
 * parsed request must carry a url, a nonce and exactly one of jwk and
 * kid; a parsed inner JWS a url and a jwk, and no nonce or kid. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "engines/pki/acme/eab.h"
#include "engines/pki/acme/jwk.h"
#include "engines/pki/acme/jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acme_jws jws;
	json_t *payload;
	EVP_PKEY *key = NULL;
	char tp[ACME_THUMBPRINT_LEN + 1], *kid = NULL;

	if (acme_jws_parse((const char *)data, size, &jws, NULL) == 0) {
		if (!jws.url || !jws.nonce || !jws.signing_input || (jws.jwk == NULL) == (jws.kid == NULL))
			abort();
		if (jws.jwk && (!jws.jwk_key || acme_jwk_thumbprint(jws.jwk, tp, NULL) != 0))
			abort();
		acme_jws_verify(&jws, NULL, NULL);
		payload = json_loadb((const char *)jws.payload, jws.payload_len, 0, NULL);
		if (payload) {
			if (acme_jwk_to_pkey(payload, &key, NULL) == 0 &&
			    acme_jwk_thumbprint(payload, tp, NULL) != 0)
				abort();
			EVP_PKEY_free(key);
			if (acme_eab_kid(json_object_get(payload, "externalAccountBinding"), &kid, NULL) ==
			        0 &&
			    !kid)
				abort();
			free(kid);
			struct acme_jws inner;
			if (acme_jws_parse_object(payload, ACME_JWS_KEY_CHANGE, &inner, NULL) == 0) {
				if (!inner.url || !inner.jwk_key || inner.nonce || inner.kid)
					abort();
				acme_jws_verify(&inner, NULL, NULL);
			}
			acme_jws_release(&inner);
			json_decref(payload);
		}
	}
	acme_jws_release(&jws);
	/* the body itself as a JWK */
	payload = json_loadb((const char *)data, size, 0, NULL);
	if (payload) {
		key = NULL;
		if (acme_jwk_to_pkey(payload, &key, NULL) == 0 && !key)
			abort();
		EVP_PKEY_free(key);
		json_decref(payload);
	}
	return 0;
}
