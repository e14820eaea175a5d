/* test_loader_pages.c — lib/loader_pages: the loader's read-only pages
 * given back, and everything still working after. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "encoding.h"
#include "loader_pages.h"

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

static void test_release_and_use(void **state)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	(void)state;

	long before = rss_file_kib();
	size_t released = loader_pages_release();
	long after = rss_file_kib();
	assert_true(released > 0);
	assert_true(before > 0 && after > 0);
	assert_true(after < before); /* the pages left this process */

	/* libcrypto's code and tables, the loader's symbol lookup (dlsym)
	 * and a second walk of the program headers all still work: the
	 * pages come back from the file when read */
	SHA256((const unsigned char *)"abc", 3, md);
	hex_encode(md, sizeof(md), hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_ptr_equal(dlsym(RTLD_DEFAULT, "SHA256"), (void *)SHA256);
	assert_true(loader_pages_release() > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_release_and_use),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
