/* jwk.h — an ACME account key given as a JSON Web Key (RFC 7517/7518,
 * RFC 8037 for Ed25519), and its RFC 7638 thumbprint.
 *
 * Only public keys of the kinds ACME clients use are taken:
 *   RSA  "n", "e"          modulus of 2048 to 8192 bits, odd exponent > 1;
 *   EC   "crv" P-256, P-384 or P-521, "x", "y" of the curve's exact
 *        length, the point on the curve;
 *   OKP  "crv" Ed25519, "x" of 32 bytes.
 * Key bytes are base64url without padding. A JWK holding "d" (or any RSA
 * private member) is refused: an account key is public. Other members
 * ("kid", "use", "alg"...) are ignored. */
#ifndef TROVE_ACME_JWK_H
#define TROVE_ACME_JWK_H

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"

/* Characters of a thumbprint: base64url of a SHA-256, unpadded. */
#define ACME_THUMBPRINT_LEN 43

/* Turns the JWK object into a public key in *out (the caller's, freed with
 * EVP_PKEY_free). Returns 0, or TROVE_ERR_INVALID with the reason in err
 * ("jwk: unsupported kty", "jwk: RSA modulus under 2048 bits"...) and
 * *out NULL. */
int acme_jwk_to_pkey(const json_t *jwk, EVP_PKEY **out, struct buf *err);

/* The RFC 7638 thumbprint of the JWK: SHA-256 over its required members
 * in lexicographic order without whitespace, base64url, into out
 * (ACME_THUMBPRINT_LEN + 1 bytes, NUL-terminated). The JWK must be one
 * acme_jwk_to_pkey accepts. Returns 0 or TROVE_ERR_INVALID (reason in
 * err). */
int acme_jwk_thumbprint(const json_t *jwk, char out[ACME_THUMBPRINT_LEN + 1], struct buf *err);

#endif
