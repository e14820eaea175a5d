/* shamir.c — Shamir secret sharing over GF(2^8).
 *
 * Design: the field is GF(2)[x]/(x^8 + x^4 + x^3 + x + 1), the AES field,
 * which is also what Vault uses, so shares keep Vault's layout and algebra.
 * Every byte of the secret is the constant term of its own random
 * polynomial of degree threshold-1; share i holds that polynomial
 * evaluated at x_i, followed by the x_i byte itself.
 *
 * Side channels: the y bytes and the coefficients are secret, so the field
 * arithmetic never indexes a table with them and never branches on them.
 * Multiplication is a fixed eight-round shift-and-add whose conditional
 * steps are masks; inversion is a^254 by a fixed square-and-multiply
 * chain (which also maps 0 to 0). The x coordinates are public (they sit in
 * the clear in every share), so the code may branch on them. */
#include <stdint.h>
#include <string.h>

#include "core/shamir.h"
#include "err.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

uint8_t gf256_mul(uint8_t a, uint8_t b)
{
	uint8_t r = 0;
	for (int i = 0; i < 8; i++) {
		/* mask is 0xff when the low bit of b is set, else 0 */
		uint8_t mask = (uint8_t)(0u - (unsigned)(b & 1u));
		r ^= (uint8_t)(a & mask);
		/* reduce by the field polynomial when the high bit falls off */
		uint8_t carry = (uint8_t)(0u - (unsigned)(a >> 7));
		a = (uint8_t)((unsigned)(a << 1) ^ (carry & 0x1bu));
		b = (uint8_t)(b >> 1);
	}
	return r;
}

uint8_t gf256_inv(uint8_t a)
{
	/* a^254 = a^2 * a^4 * ... * a^128: seven squarings, seven products */
	uint8_t sq = a;
	uint8_t r = 1;
	for (int i = 0; i < 7; i++) {
		sq = gf256_mul(sq, sq);
		r = gf256_mul(r, sq);
	}
	return r;
}

/* Uniform value in [0, bound) by rejection sampling on one random byte.
 * bound is 1..256. Only used for the public x coordinates. */
static int rand_below(unsigned bound, unsigned *out)
{
	int r;
	unsigned limit = 256u - (256u % bound); /* largest multiple of bound */
	for (;;) {
		unsigned char c;
		if ((r = rand_bytes(&c, 1)) != 0)
			return TROVE_ERR_INTERNAL;
		if (c < limit) {
			*out = c % bound;
			return 0;
		}
	}
}

int shamir_split(const unsigned char *secret, size_t len, unsigned shares, unsigned threshold,
                 unsigned char **out)
{
	int r = TROVE_ERR_INVALID;
	unsigned char xs[255];
	unsigned char coef[SHAMIR_MAX_SHARES]; /* coefficients 1..threshold-1 */

	if (secret == NULL || out == NULL || len == 0)
		return TROVE_ERR_INVALID;
	if (threshold < 1 || shares < threshold || shares > SHAMIR_MAX_SHARES)
		return TROVE_ERR_INVALID;
	for (unsigned i = 0; i < shares; i++)
		if (out[i] == NULL)
			return TROVE_ERR_INVALID;

	/* Fisher-Yates over 1..255; the first `shares` entries are the x's. */
	for (unsigned i = 0; i < 255; i++)
		xs[i] = (unsigned char)(i + 1);
	for (unsigned i = 254; i > 0; i--) {
		unsigned j;
		if ((r = rand_below(i + 1, &j)) != 0)
			goto out;
		unsigned char t = xs[i];
		xs[i] = xs[j];
		xs[j] = t;
	}

	for (size_t k = 0; k < len; k++) {
		if (threshold > 1 && (r = rand_bytes(coef, threshold - 1)) != 0) {
			r = TROVE_ERR_INTERNAL;
			goto out;
		}
		for (unsigned i = 0; i < shares; i++) {
			uint8_t x = xs[i];
			/* Horner: (((c_{t-1} x + c_{t-2}) x + ...) x + secret) */
			uint8_t y = 0;
			for (unsigned d = threshold - 1; d >= 1; d--)
				y = (uint8_t)(gf256_mul(y, x) ^ coef[d - 1]);
			y = (uint8_t)(gf256_mul(y, x) ^ secret[k]);
			out[i][k] = y;
		}
	}
	for (unsigned i = 0; i < shares; i++)
		out[i][len] = xs[i];
	r = 0;
out:
	secure_wipe(coef, sizeof(coef));
	return r;
}

int shamir_combine(const unsigned char *const *shares, size_t n, size_t share_len, unsigned char *out)
{
	int r = TROVE_ERR_INVALID;
	uint8_t basis[SHAMIR_MAX_SHARES];
	unsigned char seen[256];
	size_t len;

	if (shares == NULL || out == NULL || n < 1 || n > SHAMIR_MAX_SHARES || share_len < 2)
		return TROVE_ERR_INVALID;
	len = share_len - 1;

	memset(seen, 0, sizeof(seen));
	seen[0] = 1; /* x = 0 would be the secret itself: never a valid share */
	for (size_t i = 0; i < n; i++) {
		if (shares[i] == NULL)
			goto out;
		unsigned char x = shares[i][len];
		if (seen[x])
			goto out;
		seen[x] = 1;
	}

	/* Lagrange basis at 0: L_i(0) = prod_{j != i} x_j / (x_j - x_i),
	 * and subtraction is xor in GF(2^8). x's are distinct and nonzero,
	 * so no denominator is zero. */
	for (size_t i = 0; i < n; i++) {
		uint8_t xi = shares[i][len];
		uint8_t num = 1, den = 1;
		for (size_t j = 0; j < n; j++) {
			if (j == i)
				continue;
			uint8_t xj = shares[j][len];
			num = gf256_mul(num, xj);
			den = gf256_mul(den, (uint8_t)(xj ^ xi));
		}
		basis[i] = gf256_mul(num, gf256_inv(den));
	}

	for (size_t k = 0; k < len; k++) {
		uint8_t acc = 0;
		for (size_t i = 0; i < n; i++)
			acc ^= gf256_mul(shares[i][k], basis[i]);
		out[k] = acc;
	}
	r = 0;
out:
	secure_wipe(basis, sizeof(basis));
	return r;
}
