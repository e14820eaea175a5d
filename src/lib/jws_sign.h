/* jws_sign.h — making compact JWS tokens (RFC 7515) and the JWKs of the
 * keys that sign them: the issuing side of jose.h, for Trove's identity
 * tokens. The algorithms are jose.h's table less PS* (Vault's identity
 * keys offer RS256/384/512, ES256/384/512 and EdDSA). */
#ifndef TROVE_JWS_SIGN_H
#define TROVE_JWS_SIGN_H

#include <stdbool.h>

#include <jansson.h>
#include <openssl/evp.h>

/* Whether alg is one an identity key may have (the list above). */
bool jws_sign_alg_ok(const char *alg);

/* A new private key for alg: RSA 2048 bits for RS*, the curve of ES*,
 * Ed25519 for EdDSA. Returns 0 with *out the caller's (EVP_PKEY_free),
 * TROVE_ERR_INVALID for an alg not in the list, TROVE_ERR_INTERNAL. */
int jws_keygen(const char *alg, EVP_PKEY **out);

/* Signs claims (a JSON object, borrowed) with key under alg, the header
 * {"alg": alg, "kid": kid} (kid may be NULL: left out). *out is a new
 * NUL-terminated compact token, the caller's to free. Returns 0,
 * TROVE_ERR_INVALID when key is not of the kind alg names,
 * TROVE_ERR_INTERNAL. */
int jws_sign_compact(const char *alg, EVP_PKEY *key, const char *kid, const json_t *claims, char **out);

/* The public JWK of key (a private or public key) for a JWKS: {"use":
 * "sig", "kty", "kid", "alg", and n/e, crv/x/y or crv/x}. New reference,
 * or NULL when key is of no kind alg names. */
json_t *jws_public_jwk(EVP_PKEY *key, const char *alg, const char *kid);

#endif
