/* jwt.h — verifying a JSON Web Token (RFC 7519) in compact JWS form
 * against a set of public keys, and checking its registered claims. One
 * verifier for every caller: the jwt/oidc auth method (tokens, ID tokens)
 * and any other method given a JWT and keys (Kubernetes pem_keys).
 *
 * Parsing (jwt_parse) is strict and bounded: three base64url parts
 * without padding (JWT_MAX_LEN bytes in all), a header that is a JSON
 * object of at most JWT_MAX_HEADER bytes, claims that are a JSON object
 * nesting at most 16 deep; duplicate member names are refused; "crit" in
 * the header is refused (no extension is understood). A "b64": false
 * header is not supported either.
 *
 * Verification (jwt_verify):
 *   alg      must be one of expect->algs (none given: RS256 alone), and one
 *            jose.h verifies: "none" and HS256/384/512 are refused whatever
 *            the list says, so a public key can never serve as an HMAC
 *            secret;
 *   key      the header's "kid" picks the keys of the set with that kid
 *            (none with it: TROVE_ERR_NOT_FOUND, so a caller may refetch
 *            its JWKS); without a kid, or for keys without one, each key of
 *            the set is tried in turn;
 *   claims   at least one of exp, nbf, iat (numbers), unless
 *            expect->time_claims_optional; exp, when present,
 *            not past now - clock_skew - exp_leeway; nbf (or iat without
 *            nbf) not after now + clock_skew + nbf_leeway; iat not after
 *            now + clock_skew; iss equal to expect->issuer when set;
 *            sub equal to expect->subject when set; aud (a string or a list
 *            of strings): when expect->audiences is not empty, one of them
 *            must appear in it; when it is empty, a token carrying an aud
 *            is refused unless expect->allow_unbound_aud.
 * Leeways are seconds already resolved by the caller (>= 0). */
#ifndef TROVE_JWT_H
#define TROVE_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"

#define JWT_MAX_LEN ((size_t)64 << 10)   /* the compact token */
#define JWT_MAX_HEADER ((size_t)4 << 10) /* its decoded header */

/* A set of public keys, each with its JWKS "kid" (or NULL). */
struct jwt_key {
	char *kid;
	EVP_PKEY *key;
};

struct jwt_keyset {
	struct jwt_key *keys;
	size_t len;
};

void jwt_keyset_init(struct jwt_keyset *ks);
/* Frees every key and zeroes ks. NULL is fine. */
void jwt_keyset_release(struct jwt_keyset *ks);

/* Adds the keys of a JWKS document (text, len bytes: {"keys": [...]}) to
 * ks. Keys this verifier cannot use (another kty, "use" other than "sig",
 * an RSA modulus under 2048 bits) are skipped; a document with no usable
 * key, or that is not a JWKS, is TROVE_ERR_INVALID with the reason in err
 * (may be NULL). */
int jwt_keyset_add_jwks(struct jwt_keyset *ks, const char *text, size_t len, struct buf *err);

/* Adds the public key in pem (a PUBLIC KEY block, or a certificate whose
 * key is taken) to ks, without a kid. TROVE_ERR_INVALID with the reason in
 * err when pem holds neither, or an RSA key under 2048 bits. */
int jwt_keyset_add_pem(struct jwt_keyset *ks, const char *pem, struct buf *err);

/* A token split and decoded, not verified. */
struct jwt_parsed {
	json_t *header;            /* owned */
	json_t *claims;            /* owned */
	const char *alg;           /* borrowed from header */
	const char *kid;           /* borrowed from header, or NULL */
	size_t signing_len;        /* bytes of the token before the second '.' */
	unsigned char *signature;  /* owned */
	size_t signature_len;
};

/* Parses token (len bytes, any content) into *out (zeroed first; release
 * with jwt_parsed_release whatever the result). Returns 0,
 * TROVE_ERR_TOO_LARGE over JWT_MAX_LEN, or TROVE_ERR_INVALID with the
 * reason in err ("jwt: not three parts", "jwt: header is not a JSON
 * object"...). */
int jwt_parse(const char *token, size_t len, struct jwt_parsed *out, struct buf *err);
void jwt_parsed_release(struct jwt_parsed *p);

struct jwt_expect {
	const char *const *algs;          /* accepted algs, NULL-terminated; NULL: RS256 */
	int64_t now;                      /* unix seconds */
	int64_t clock_skew, exp_leeway, nbf_leeway;
	const char *issuer;               /* NULL or "": iss not checked */
	const char *subject;              /* NULL or "": sub not checked */
	const char *const *audiences;     /* NULL-terminated, or NULL */
	bool allow_unbound_aud;           /* accept an aud when audiences is empty */
	/* Accept a token with none of exp, nbf, iat (each present one is still
	 * checked). Only for issuers known to mint such tokens: Kubernetes'
	 * legacy secret-based service-account tokens carry no time claim. */
	bool time_claims_optional;
};

/* Verifies token against ks and e. On success *claims is a new reference
 * to the claims object (the caller's). Returns 0; TROVE_ERR_INVALID for a
 * malformed token or an alg not accepted; TROVE_ERR_NOT_FOUND when the kid
 * names no key of ks; TROVE_ERR_PERMISSION when no key verifies the
 * signature or a claim fails its check; TROVE_ERR_TOO_LARGE. The reason
 * is in err (may be NULL); it never quotes the token. */
int jwt_verify(const char *token, size_t len, const struct jwt_keyset *ks, const struct jwt_expect *e,
               json_t **claims, struct buf *err);

/* The value at a claim spec in claims: a JSON pointer when spec starts
 * with '/' ("/a/b", "~1" for '/', "~0" for '~'; array indexes in
 * decimal), else the top-level member of that name. Borrowed; NULL when
 * absent or the pointer is malformed. */
const json_t *jwt_claim(const json_t *claims, const char *spec);

#endif
