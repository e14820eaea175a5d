/* test_object_pages.c — lib/object_pages: the loaded objects' read-only
 * pages given back, and everything still working after. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "encoding.h"
#include "object_pages.h"

/* Resident KiB of the file-backed pages of this process. */
static long rss_file_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssFile: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Resident KiB of the mapping that holds addr (smaps' Rss). */
static long rss_of_mapping(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	long kib = -1;
	bool in = false;
	uintptr_t a = (uintptr_t)addr;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "Rss: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

static void sha256_abc(void)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];

	SHA256((const unsigned char *)"abc", 3, md);
	hex_encode(md, sizeof(md), hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_release_and_use(void **state)
{
	(void)state;
	sha256_abc();
	long before = rss_file_kib();
	size_t released = object_pages_release();
	long after = rss_file_kib();
	assert_true(released > 0);
	assert_true(before > 0 && after > 0);
	assert_true(after < before); /* the pages left this process */

	/* libcrypto's code and tables, the loader's symbol lookup (dlsym)
	 * and a second walk of the program headers all still work: the
	 * pages come back from the file when read */
	sha256_abc();
	assert_ptr_equal(dlsym(RTLD_DEFAULT, "SHA256"), (void *)SHA256);
	assert_true(object_pages_release() > 0);
}

static void test_code_leaves_and_comes_back(void **state)
{
	const void *code = (const void *)SHA256;
	(void)state;
	sha256_abc();
	assert_true(rss_of_mapping(code) > 0);
	(void)object_pages_release();
	/* the test's own code runs between release and the read below, but
	 * not libcrypto's SHA-256: almost all of its code left */
	long left = rss_of_mapping(code);
	sha256_abc();
	long back = rss_of_mapping(code);
	assert_true(left >= 0 && back > left);
}

/* What the loader or the program wrote is never given back: a written
 * global (a writable segment) and a relocated table of pointers (RELRO in
 * a position-independent program). */
static int counter = 41;
static const char *const names[] = {"first", "second"};

static void test_written_pages_kept(void **state)
{
	volatile int *c = &counter;
	(void)state;
	*c += 1;
	(void)object_pages_release();
	assert_int_equal(*c, 42);
	assert_string_equal(names[1], "second");
	char *copy = strdup(names[0]); /* a call through the GOT */
	assert_string_equal(copy, "first");
	free(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_release_and_use),
	    cmocka_unit_test(test_code_leaves_and_comes_back),
	    cmocka_unit_test(test_written_pages_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
