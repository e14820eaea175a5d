/* test_hmac.c — lib/hmac: RFC 4231 vectors, and the keyed context against
 * the one-shot form for keys shorter than, as long as and longer than a
 * SHA-256 block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "encoding.h"
#include "hmac.h"

static void hex_of(const unsigned char mac[HMAC_SHA256_LEN], char out[2 * HMAC_SHA256_LEN + 1])
{
	hex_encode(mac, HMAC_SHA256_LEN, out);
}

static void test_rfc4231(void **state)
{
	unsigned char key[131], mac[HMAC_SHA256_LEN];
	char hex[2 * HMAC_SHA256_LEN + 1];
	static const char big[] = "Test Using Larger Than Block-Size Key - Hash Key First";

	(void)state;
	memset(key, 0x0b, 20); /* test case 1 */
	assert_int_equal(hmac_sha256(key, 20, "Hi There", 8, mac), 0);
	hex_of(mac, hex);
	assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	assert_int_equal(hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac), 0); /* case 2 */
	hex_of(mac, hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, sizeof(key)); /* test case 6: a key longer than a block */
	assert_int_equal(hmac_sha256(key, sizeof(key), big, sizeof(big) - 1, mac), 0);
	hex_of(mac, hex);
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_ctx_matches_one_shot(void **state)
{
	static const size_t key_lens[] = {0, 1, 32, 63, 64, 65, 131};
	static const char *const msgs[] = {"", "a", "hunter2", "a somewhat longer message, more than one block "
	                                                     "of SHA-256 input so that the inner hash runs twice"};
	unsigned char key[131];

	(void)state;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i * 7 + 1);
	for (size_t k = 0; k < sizeof(key_lens) / sizeof(key_lens[0]); k++) {
		struct hmac_sha256_ctx h;
		hmac_sha256_ctx_init(&h, key_lens[k] ? key : NULL, key_lens[k]);
		for (int round = 0; round < 2; round++) /* the keyed state is reused */
			for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
				unsigned char a[HMAC_SHA256_LEN], b[HMAC_SHA256_LEN];
				size_t n = strlen(msgs[m]);
				assert_true(hmac_sha256_ctx_mac(&h, msgs[m], n, a));
				assert_int_equal(hmac_sha256(key, key_lens[k], msgs[m], n, b), 0);
				assert_memory_equal(a, b, HMAC_SHA256_LEN);
			}
		hmac_sha256_ctx_release(&h);
		hmac_sha256_ctx_release(&h); /* twice is harmless */
	}
}

static void test_different_keys_differ(void **state)
{
	unsigned char a[HMAC_SHA256_LEN], b[HMAC_SHA256_LEN];

	(void)state;
	assert_int_equal(hmac_sha256("k1", 2, "x", 1, a), 0);
	assert_int_equal(hmac_sha256("k2", 2, "x", 1, b), 0);
	assert_memory_not_equal(a, b, HMAC_SHA256_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4231),
	    cmocka_unit_test(test_ctx_matches_one_shot),
	    cmocka_unit_test(test_different_keys_differ),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
