/* test_encoding.c — hex and base64 codecs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "encoding.h"
#include "err.h"
#include "rand.h"

static void test_hex_roundtrip(void **state)
{
	unsigned char in[256], out[256];
	char hex[513];
	size_t n, len;

	(void)state;
	for (n = 0; n < 256; n++)
		in[n] = (unsigned char)n;
	hex_encode(in, 0, hex);
	assert_string_equal(hex, "");
	hex_encode(in, 256, hex);
	assert_int_equal(strlen(hex), 512);
	assert_memory_equal(hex, "000102", 6);
	assert_string_equal(hex + 506, "fdfeff");
	assert_int_equal(hex_decode(hex, 512, out, sizeof(out), &len), 0);
	assert_int_equal(len, 256);
	assert_memory_equal(in, out, 256);
	for (n = 0; n < 100; n++) {
		unsigned char r[37];
		size_t rl = n % sizeof(r);
		char rh[75];

		assert_int_equal(rand_bytes(r, rl), 0);
		hex_encode(r, rl, rh);
		assert_int_equal(hex_decode(rh, strlen(rh), out, sizeof(out), &len), 0);
		assert_int_equal(len, rl);
		assert_memory_equal(r, out, rl);
	}
}

static void test_hex_invalid(void **state)
{
	unsigned char out[16];
	size_t len = 99;

	(void)state;
	assert_int_equal(hex_decode("DEADbeef", 8, out, sizeof(out), &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
	assert_int_equal(hex_decode("", 0, out, sizeof(out), &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(hex_decode("abc", 3, out, sizeof(out), &len), TROVE_ERR_INVALID);
	assert_int_equal(hex_decode("zz", 2, out, sizeof(out), &len), TROVE_ERR_INVALID);
	assert_int_equal(hex_decode("0g", 2, out, sizeof(out), &len), TROVE_ERR_INVALID);
	assert_int_equal(hex_decode("0 ", 2, out, sizeof(out), &len), TROVE_ERR_INVALID);
	assert_int_equal(hex_decode("0\0", 2, out, sizeof(out), &len), TROVE_ERR_INVALID);
	/* Reads only len bytes: the trailing junk is never looked at. */
	assert_int_equal(hex_decode("abZZ", 2, out, sizeof(out), &len), 0);
	assert_int_equal(len, 1);
	/* out_cap too small. */
	assert_int_equal(hex_decode("00112233", 8, out, 3, &len), TROVE_ERR_TOO_LARGE);
	assert_int_equal(hex_decode("00112233", 8, out, 4, &len), 0);
	/* Bad input is invalid regardless of room. */
	assert_int_equal(hex_decode("0011223x", 8, out, 1, &len), TROVE_ERR_INVALID);
}

struct vec {
	const char *plain;
	const char *b64;
};

/* RFC 4648 section 10. */
static const struct vec rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_base64_vectors(void **state)
{
	char enc[64];
	unsigned char dec[64];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		size_t pl = strlen(rfc4648[i].plain);
		size_t bl = strlen(rfc4648[i].b64);

		assert_int_equal(base64_encoded_size(pl), bl + 1);
		base64_encode((const unsigned char *)rfc4648[i].plain, pl, enc);
		assert_string_equal(enc, rfc4648[i].b64);
		assert_int_equal(base64_decode(rfc4648[i].b64, bl, dec, sizeof(dec), &len), 0);
		assert_int_equal(len, pl);
		assert_memory_equal(dec, rfc4648[i].plain, pl);
		/* Unpadded form decodes too. */
		while (bl > 0 && rfc4648[i].b64[bl - 1] == '=')
			bl--;
		assert_int_equal(base64_decode(rfc4648[i].b64, bl, dec, sizeof(dec), &len), 0);
		assert_int_equal(len, pl);
		assert_memory_equal(dec, rfc4648[i].plain, pl);
	}
	base64_encode((const unsigned char *)"\xfb\xff\xbf", 3, enc);
	assert_string_equal(enc, "+/+/");
}

static void test_base64_roundtrip(void **state)
{
	unsigned char in[300], out[300];
	char enc[401];
	size_t n, len;

	(void)state;
	for (n = 0; n < sizeof(in); n++) {
		assert_int_equal(rand_bytes(in, n), 0);
		assert_true(base64_encoded_size(n) <= sizeof(enc));
		base64_encode(in, n, enc);
		assert_int_equal(strlen(enc) + 1, base64_encoded_size(n));
		assert_int_equal(base64_decode(enc, strlen(enc), out, n, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(in, out, n);
	}
}

static void test_base64_invalid(void **state)
{
	static const char *const bad[] = {
	    "Z",     "Zg=",    "Zg===",   "=Zg=",         "Z===",     "====",    "Zm9v=", "Zm9vY",
	    "Zm 9v", "Zm9v\n", "Zm-_",    "Zm9v!",        "Zg=a",     "Z=g=",    "Zm8==", "Zm=8",
	    "=",     "==",     "Zm9vYg=", "Zm9vYg==Zg==", "\0\0\0\0", "Zm\x80v",
	};
	unsigned char out[64];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t l = strlen(bad[i]);

		if (i == sizeof(bad) / sizeof(bad[0]) - 2)
			l = 4;
		if (base64_decode(bad[i], l, out, sizeof(out), &len) != TROVE_ERR_INVALID)
			fail_msg("accepted invalid base64 #%zu \"%s\"", i, bad[i]);
	}
	/* out_cap too small. */
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 5, &len), TROVE_ERR_TOO_LARGE);
	assert_int_equal(base64_decode("Zm9vYmE=", 8, out, 4, &len), TROVE_ERR_TOO_LARGE);
	assert_int_equal(base64_decode("Zm9vYmE=", 8, out, 5, &len), 0);
	assert_int_equal(len, 5);
	assert_int_equal(base64_decode("", 0, out, 0, &len), 0);
	assert_int_equal(len, 0);
	/* Never reads past len. */
	assert_int_equal(base64_decode("Zm9v!!!!", 4, out, sizeof(out), &len), 0);
	assert_int_equal(len, 3);
}

static void test_base64url(void **state)
{
	static const unsigned char bytes[] = {0xfb, 0xff, 0xfe, 0x00, 0x3e, 0x3f};
	unsigned char *out = NULL;
	size_t len = 0;
	char *s;

	(void)state;
	s = base64url_encode(bytes, sizeof(bytes)); /* "+//+AD4/" in the standard alphabet */
	assert_string_equal(s, "-__-AD4_");
	assert_int_equal(base64url_decode(s, strlen(s), &out, &len), 0);
	assert_int_equal(len, sizeof(bytes));
	assert_memory_equal(out, bytes, sizeof(bytes));
	free(out);
	free(s);
	s = base64url_encode((const unsigned char *)"ab", 2); /* unpadded */
	assert_string_equal(s, "YWI");
	assert_int_equal(base64url_decode(s, strlen(s), &out, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(out, "ab", 2);
	free(out);
	free(s);
	assert_int_equal(base64url_decode("", 0, &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);
	assert_int_equal(base64url_decode("YWI=", 4, &out, &len), TROVE_ERR_INVALID); /* padding */
	assert_int_equal(base64url_decode("+//+", 4, &out, &len), TROVE_ERR_INVALID); /* standard alphabet */
	assert_int_equal(base64url_decode("YWJjZ", 5, &out, &len), TROVE_ERR_INVALID); /* 4k+1 */
	assert_int_equal(base64url_decode("YW*j", 4, &out, &len), TROVE_ERR_INVALID);
	assert_null(out);
	assert_int_equal(base64url_decode("YWJjYWJj", 3, &out, &len), 0); /* only n chars read */
	assert_int_equal(len, 2);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hex_roundtrip),  cmocka_unit_test(test_hex_invalid),
	    cmocka_unit_test(test_base64_vectors), cmocka_unit_test(test_base64_roundtrip),
	    cmocka_unit_test(test_base64_invalid), cmocka_unit_test(test_base64url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
