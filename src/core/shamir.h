/* shamir.h — Shamir secret sharing over GF(2^8).
 *
 * Field arithmetic is constant time: multiplication is carry-less with
 * masks (no log/exp tables indexed by secret bytes), inversion is
 * exponentiation. Each share is the secret's length plus one trailing byte
 * holding its x coordinate (1..255, distinct, random order), the layout
 * Vault uses, so a share is secret_len + 1 bytes. */
#ifndef TROVE_SHAMIR_H
#define TROVE_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#define SHAMIR_MAX_SHARES 255

/* Splits secret (len >= 1) into `shares` shares of len+1 bytes each,
 * any `threshold` of which recover it. 1 <= threshold <= shares <= 255.
 * out[i] must each point to len+1 writable bytes.
 * Returns 0, TROVE_ERR_INVALID for bad parameters, or TROVE_ERR_INTERNAL
 * if the CSPRNG fails. With threshold 1 every share is the secret itself
 * plus its x byte (Vault does the same for 1-of-1). */
int shamir_split(const unsigned char *secret, size_t len, unsigned shares, unsigned threshold,
		 unsigned char **out);

/* Combines n shares of share_len bytes each (share_len >= 2) into out
 * (share_len - 1 bytes). Rejects n < 1, differing lengths and duplicate x
 * coordinates (including x = 0) with TROVE_ERR_INVALID. It cannot know
 * whether the result is right: callers authenticate it (the unseal key
 * decrypts the root key under AES-GCM). */
int shamir_combine(const unsigned char *const *shares, size_t n, size_t share_len, unsigned char *out);

/* GF(2^8) primitives, exposed for tests. */
uint8_t gf256_mul(uint8_t a, uint8_t b);
uint8_t gf256_inv(uint8_t a); /* inv(0) = 0 */

#endif
