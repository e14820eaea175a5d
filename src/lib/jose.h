/* jose.h — JOSE public keys and signatures (RFC 7515, 7517, 7518, 8037),
 * shared by ACME's JWS (engines/pki/acme) and JWT verification (jwt.h).
 *
 * Keys: only public keys are taken from a JWK:
 *   RSA  "n", "e"          modulus of 2048 to 8192 bits, odd exponent > 1;
 *   EC   "crv" P-256, P-384 or P-521, "x", "y" of the curve's exact
 *        length, the point on the curve;
 *   OKP  "crv" Ed25519, "x" of 32 bytes.
 * Key bytes are base64url without padding. A JWK holding "d" (or any RSA
 * private member) is refused. Other members ("kid", "use", "alg"...) are
 * the caller's to read.
 *
 * Signatures: the asymmetric algorithms RS256/384/512 (RSASSA-PKCS1-v1_5),
 * PS256/384/512 (RSASSA-PSS, MGF1 with the same hash, salt as long as the
 * digest), ES256/384/512 (ECDSA on P-256/P-384/P-521, the JOSE r||s form)
 * and EdDSA (Ed25519). "none" and the HMAC algorithms are not signature
 * algorithms here: nothing verifies with them. Which of these a caller
 * accepts is the caller's to decide before calling. */
#ifndef TROVE_JOSE_H
#define TROVE_JOSE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"

/* Turns the JWK object into a public key in *out (the caller's, freed with
 * EVP_PKEY_free). Returns 0, or TROVE_ERR_INVALID with the reason in err
 * (may be NULL: "jwk: unsupported kty", "jwk: RSA modulus under 2048
 * bits"...) and *out NULL. */
int jose_jwk_to_pkey(const json_t *jwk, EVP_PKEY **out, struct buf *err);

/* Whether alg names one of the signature algorithms above. */
bool jose_alg_known(const char *alg);

/* For a signer (jws_sign.h), from the same table: the digest of alg
 * (NULL for EdDSA or an unknown alg), the bytes of each of r and s of an
 * ES* signature (0 for the others), and whether key is of the kind alg
 * names (false for an unknown alg). PS* are table entries too. */
const EVP_MD *jose_alg_md(const char *alg);
size_t jose_alg_coord(const char *alg);
bool jose_alg_key_fits(const char *alg, EVP_PKEY *key);

/* Verifies sig (sig_len bytes) over input with key under alg. The key
 * must be of the kind alg names (RS and PS an RSA key, ES256 P-256, ES384
 * P-384, ES512 P-521, EdDSA Ed25519). Returns 0, or TROVE_ERR_PERMISSION
 * for an unknown alg, a key of the wrong kind or a bad signature, with the
 * reason in err (may be NULL) after "<prefix>: "; TROVE_ERR_NOMEM. */
int jose_verify(const char *alg, EVP_PKEY *key, const void *input, size_t input_len, const unsigned char *sig,
                size_t sig_len, const char *prefix, struct buf *err);

#endif
