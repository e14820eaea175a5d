/* secure.c — wiping, constant-time comparison and mlock.
 *
 * Wiping uses explicit_bzero, which the compiler may not elide. Equality of
 * fixed-size secrets uses CRYPTO_memcmp. secure_str_eq compares over the
 * longer of the two lengths (padding the shorter with zeros) and folds the
 * length difference into the result, so it never exits early and its time
 * depends only on the lengths. */
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

bool secure_str_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t n = la > lb ? la : lb;
	size_t diff = la ^ lb;
	volatile unsigned char acc = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ca = i < la ? (unsigned char)a[i] : 0;
		unsigned char cb = i < lb ? (unsigned char)b[i] : 0;
		acc |= (unsigned char)(ca ^ cb);
	}
	/* Fold the length difference in without a data-dependent branch. */
	diff |= (size_t)acc;
	return ((diff | (0 - diff)) >> (sizeof(size_t) * 8 - 1)) == 0;
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
