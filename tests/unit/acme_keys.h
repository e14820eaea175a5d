/* acme_keys.h — what the ACME unit tests build with OpenSSL to play a
 * client: keys of each JOSE algorithm, their JWKs, and signed JWSs. */
#ifndef TROVE_TEST_ACME_KEYS_H
#define TROVE_TEST_ACME_KEYS_H

#include <jansson.h>
#include <openssl/evp.h>

/* A new key for alg ("RS256", "ES256", "ES384", "ES512", "EdDSA"). */
EVP_PKEY *test_acme_key(const char *alg);
/* The public JWK of key (a new reference). */
json_t *test_acme_jwk(EVP_PKEY *key);
/* base64url of the JOSE signature of input by key under alg (new string). */
char *test_acme_sign(EVP_PKEY *key, const char *alg, const char *input);
/* A flattened JWS body: protected header hdr (a JSON object, not stolen),
 * payload text (may be ""), signed by key under alg. A new string. */
char *test_acme_jws(EVP_PKEY *key, const char *alg, json_t *hdr, const char *payload);
/* base64url of a string (a new string). */
char *test_b64u(const char *s);

#endif
