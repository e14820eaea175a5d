/* rand.c — getrandom(2) and the identifiers built on it.
 *
 * rand_bytes loops over short reads and EINTR; any other failure is an error
 * (there is no fallback generator). Base62 uses rejection sampling: a byte is
 * accepted only below 248 = 4 * 62, so every character is equally likely. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "rand.h"
#include "err.h"
#include "secure.h"
#include "banned.h"

int rand_bytes(void *out, size_t n)
{
	unsigned char *p = out;
	ssize_t got;

	while (n > 0) {
		got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return TROVE_ERR_INTERNAL;
		}
		if (got == 0)
			return TROVE_ERR_INTERNAL;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int rand_uuid(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t i, o = 0;
	int r;

	if ((r = rand_bytes(b, sizeof(b))) != 0)
		return r;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	for (i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0x0f];
	}
	out[o] = '\0';
	return 0;
}

int rand_base62(char *dst, size_t n)
{
	static const char alphabet[] = "0123456789"
	                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                               "abcdefghijklmnopqrstuvwxyz";
	unsigned char pool[64];
	size_t o = 0, i;
	int r = TROVE_ERR_INTERNAL;

	while (o < n) {
		if ((r = rand_bytes(pool, sizeof(pool))) != 0)
			goto out;
		for (i = 0; i < sizeof(pool) && o < n; i++)
			if (pool[i] < 248)
				dst[o++] = alphabet[pool[i] % 62];
	}
	r = 0;
out:
	dst[o] = '\0';
	secure_wipe(pool, sizeof(pool));
	return r;
}
