/* test_hmac.c — lib/hmac: RFC 4231 vectors, and the keyed context against
 * the one-shot form for keys shorter than, as long as and longer than a
 * SHA-256 block; the incremental SHA-256 against FIPS 180 vectors and the
 * one-shot sha256() whatever the split of its input. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "encoding.h"
#include "hmac.h"

static void hex_of(const unsigned char mac[HMAC_SHA256_LEN], char out[2 * HMAC_SHA256_LEN + 1])
{
	hex_encode(mac, HMAC_SHA256_LEN, out);
}

static void test_sha256_stream_vectors(void **state)
{
	static const char *const want[] = {
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", /* "" */
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", /* "abc" */
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", /* a million "a" */
	};
	unsigned char d[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	char block[1000];
	struct sha256_stream s;

	(void)state;
	sha256_stream_init(&s);
	sha256_stream_update(&s, NULL, 0);
	assert_true(sha256_stream_final(&s, d));
	hex_of(d, hex);
	assert_string_equal(hex, want[0]);
	sha256_stream_init(&s);
	sha256_stream_update(&s, "a", 1);
	sha256_stream_update(&s, "bc", 2);
	assert_true(sha256_stream_final(&s, d));
	hex_of(d, hex);
	assert_string_equal(hex, want[1]);
	memset(block, 'a', sizeof(block));
	sha256_stream_init(&s);
	for (int i = 0; i < 1000; i++)
		sha256_stream_update(&s, block, sizeof(block));
	assert_true(sha256_stream_final(&s, d));
	hex_of(d, hex);
	assert_string_equal(hex, want[2]);
}

/* Every split of a message around the 64-byte block gives sha256()'s digest. */
static void test_sha256_stream_splits(void **state)
{
	unsigned char msg[200], a[SHA256_LEN], b[SHA256_LEN];
	struct sha256_stream s;

	(void)state;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7 + 3);
	for (size_t n = 0; n <= sizeof(msg); n += 13) {
		assert_int_equal(sha256(msg, n, b), 0);
		for (size_t cut = 0; cut <= n; cut++) {
			sha256_stream_init(&s);
			sha256_stream_update(&s, msg, cut);
			sha256_stream_update(&s, msg + cut, n - cut);
			assert_true(sha256_stream_final(&s, a));
			assert_memory_equal(a, b, SHA256_LEN);
		}
	}
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
	static const char *const msgs[] = {"", "a", "hunter2",
	                                   ("a somewhat longer message, more than one block "
	                                    "of SHA-256 input so that the inner hash runs twice")};
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

/* A keyed context shared by several threads (a token store's salt): every
 * MAC equals the one-shot form, and an unkeyed context gives none. */
struct shared_arg {
	const struct hmac_sha256_ctx *h;
	const unsigned char *key;
	size_t key_len;
	int bad;
};

static void *shared_worker(void *p)
{
	struct shared_arg *a = p;
	for (int i = 0; i < 2000; i++) {
		char msg[32];
		unsigned char got[HMAC_SHA256_LEN], want[HMAC_SHA256_LEN];
		int n = snprintf(msg, sizeof(msg), "token-%d", i);
		if (!hmac_sha256_ctx_mac_shared(a->h, msg, (size_t)n, got) ||
		    hmac_sha256(a->key, a->key_len, msg, (size_t)n, want) != 0 || memcmp(got, want, sizeof(got)) != 0)
			a->bad++;
	}
	return NULL;
}

static void test_shared_ctx(void **state)
{
	(void)state;
	unsigned char key[32];
	unsigned char mac[HMAC_SHA256_LEN];
	struct hmac_sha256_ctx h;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i * 7 + 1);
	hmac_sha256_ctx_init(&h, key, sizeof(key));
	assert_false(hmac_sha256_ctx_mac_shared(&h, "x", 1, mac)); /* not keyed yet */
	assert_true(hmac_sha256_ctx_key(&h));
	assert_true(hmac_sha256_ctx_key(&h)); /* again: a no-op */
	pthread_t t[4];
	struct shared_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct shared_arg){.h = &h, .key = key, .key_len = sizeof(key)};
		assert_int_equal(pthread_create(&t[i], NULL, shared_worker, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].bad, 0);
	}
	hmac_sha256_ctx_release(&h);
	assert_false(hmac_sha256_ctx_mac_shared(&h, "x", 1, mac)); /* wiped */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sha256_stream_vectors),
	    cmocka_unit_test(test_sha256_stream_splits),
	    cmocka_unit_test(test_rfc4231),
	    cmocka_unit_test(test_ctx_matches_one_shot),
	    cmocka_unit_test(test_different_keys_differ),
	    cmocka_unit_test(test_shared_ctx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
