/* jws.h — the flattened JWS of an ACME request (RFC 8555 section 6.2) and
 * of an External Account Binding (section 7.3.4).
 *
 * acme_jws_parse takes the raw request body: one JSON object with exactly
 * "protected", "payload" and "signature" (no "header", no "signatures":
 * one signature, no unprotected header). The protected header must carry
 * "alg" (RS256, ES256, ES384, ES512 or EdDSA: "none" and the HMAC
 * algorithms are refused for requests), "nonce", "url", and exactly one
 * of "jwk" (new-account, revoke-cert by certificate key) or "kid" (every
 * other request); "crit" is refused (no extension is understood).
 * Base64url is unpadded and strict. Parsing does not check the
 * signature: acme_jws_verify does, with the key the caller picks (the
 * "jwk" for new-account, the account's stored key for a "kid"). Checking
 * the url against the request and redeeming the nonce is the caller's. */
#ifndef TROVE_ACME_JWS_H
#define TROVE_ACME_JWS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"

#define ACME_JWS_MAX_BODY ((size_t)256 << 10) /* request body bytes */
#define ACME_JWS_MAX_HEADER ((size_t)8 << 10) /* decoded protected header */

enum acme_jws_kind {
	ACME_JWS_REQUEST, /* an ACME request: asymmetric alg, nonce, url, jwk xor kid */
	ACME_JWS_EAB,     /* an EAB: HS256, kid, url, no nonce, no jwk */
	ACME_JWS_KEY_CHANGE, /* key-change's inner JWS (RFC 8555 7.3.5): asymmetric
	                      * alg, jwk (the new key), url, no nonce, no kid */
};

struct acme_jws {
	char alg[8];       /* "RS256", "ES256", "ES384", "ES512", "EdDSA", "HS256" */
	json_t *jwk;       /* the header's JWK (a reference), or NULL */
	EVP_PKEY *jwk_key; /* that JWK as a key, or NULL */
	char *kid;         /* or NULL */
	char *nonce;       /* NULL for an EAB */
	char *url;
	unsigned char *payload; /* decoded, NUL-terminated; "" for POST-as-GET */
	size_t payload_len;
	bool post_as_get;    /* the payload was "" */
	char *signing_input; /* protected "." payload, as received */
	unsigned char *signature;
	size_t signature_len;
};

/* Parses body (len bytes, any content) into *out (zeroed first; release
 * with acme_jws_release whatever the result). Returns 0, TROVE_ERR_TOO_LARGE
 * over ACME_JWS_MAX_BODY, or TROVE_ERR_INVALID with the reason in err
 * ("jws: alg none is not accepted", "jws: both jwk and kid"...). */
int acme_jws_parse(const char *body, size_t len, struct acme_jws *out, struct buf *err);

/* The same over a JSON object already parsed (an EAB inside a
 * new-account payload), with the rules of kind. */
int acme_jws_parse_object(const json_t *obj, enum acme_jws_kind kind, struct acme_jws *out, struct buf *err);

/* Verifies an asymmetric signature of jws with key (NULL: jws->jwk_key).
 * The key must be of the kind alg names (RS256 an RSA key, ES256 P-256,
 * ES384 P-384, ES512 P-521, EdDSA Ed25519); ES* signatures are the JOSE
 * r||s form. Returns 0, or TROVE_ERR_PERMISSION for a bad signature or a
 * key of the wrong kind (reason in err). */
int acme_jws_verify(const struct acme_jws *jws, EVP_PKEY *key, struct buf *err);

/* Frees what *jws holds and zeroes it. NULL is fine. */
void acme_jws_release(struct acme_jws *jws);

#endif
