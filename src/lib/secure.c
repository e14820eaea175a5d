/* secure.c — wiping, constant-time comparison and mlock.
 *
 * Wiping uses explicit_bzero, which the compiler may not elide. Equality of
 * fixed-size secrets uses CRYPTO_memcmp. secure_str_eq walks the expected
 * string only: a cursor into the candidate stops on its terminator
 * (without a branch), and the byte after the walk must be that
 * terminator, so neither an early exit nor the candidate's length shapes
 * its time. */
#include <jansson.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "secure.h"
#include "banned.h"

void secure_wipe(void *p, size_t n)
{
	if (p != NULL && n != 0)
		explicit_bzero(p, n);
}

void secure_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	secure_wipe(p, n);
	free(p);
}

void secure_free_str(char *s)
{
	if (s == NULL)
		return;
	secure_free(s, strlen(s));
}

bool secure_eq(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return true;
	return CRYPTO_memcmp(a, b, n) == 0;
}

bool secure_str_eq(const char *expected, const char *given)
{
	size_t n = strlen(expected), j = 0;
	volatile unsigned char acc = 0;
	unsigned ended = 0; /* 1 once given's terminator is reached */

	for (size_t i = 0; i < n; i++) {
		unsigned g = (unsigned char)given[j];
		/* A shorter candidate reads 0 here: expected[i] is never 0. */
		acc |= (unsigned char)((unsigned char)expected[i] ^ g);
		ended |= ((g - 1) >> 8) & 1; /* g == 0 */
		j += 1 - ended;
	}
	acc |= (unsigned char)given[j]; /* a longer candidate */
	return acc == 0;
}

int secure_lock_memory(void)
{
	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
		return -errno;
	return 0;
}

static void *json_alloc(size_t n)
{
	return malloc(n);
}

static void json_wipe_free(void *p)
{
	if (p)
		secure_wipe(p, malloc_usable_size(p));
	free(p);
}

void secure_install_json_allocator(void)
{
	json_set_alloc_funcs(json_alloc, json_wipe_free);
}
