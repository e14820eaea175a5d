/* test_barrier.c — the barrier over the inmem backend: lifecycle, the
 * encrypted view, tamper resistance, rotation and encryption counting. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "buf.h"
#include "core/barrier.h"
#include "err.h"
#include "rand.h"
#include "storage/storage.h"

#include "banned.h"

struct fx {
	struct storage *phys;
	struct barrier *b;
	struct storage *bs;
	unsigned char root[BARRIER_KEY_LEN];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->phys = storage_inmem_new();
	f->b = barrier_new(f->phys);
	f->bs = barrier_storage(f->b);
	if (rand_bytes(f->root, sizeof(f->root)) != 0)
		return -1;
	*state = f;
	return 0;
}

/* setup + initialize + unseal */
static int setup_open(void **state)
{
	if (setup(state) != 0)
		return -1;
	struct fx *f = *state;
	if (barrier_initialize(f->b, f->root) != 0 || barrier_unseal(f->b, f->root) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	barrier_free(f->b);
	storage_free(f->phys);
	free(f);
	return 0;
}

static void put_str(struct storage *s, const char *k, const char *v)
{
	assert_int_equal(storage_put(s, k, v, strlen(v)), 0);
}

static void check_str(struct storage *s, const char *k, const char *v)
{
	unsigned char *out = NULL;
	size_t len = 0;
	assert_int_equal(storage_get(s, k, &out, &len), 0);
	assert_int_equal(len, strlen(v));
	assert_memory_equal(out, v, len);
	free(out);
}

static int get_rc(struct storage *s, const char *k)
{
	unsigned char *out = NULL;
	size_t len = 0;
	int r = storage_get(s, k, &out, &len);
	free(out);
	return r;
}

static void raw(struct fx *f, const char *k, unsigned char **out, size_t *len)
{
	assert_int_equal(storage_get(f->phys, k, out, len), 0);
}

static uint32_t raw_term(struct fx *f, const char *k)
{
	unsigned char *rec = NULL;
	size_t len = 0;
	uint32_t term = 0;
	raw(f, k, &rec, &len);
	assert_int_equal(barrier_record_term(rec, len, &term), 0);
	free(rec);
	return term;
}

static int decode_rc(struct fx *f, const char *path, const unsigned char *rec, size_t len)
{
	unsigned char *out = NULL;
	size_t out_len = 0;
	int r = barrier_decode(f->b, path, rec, len, &out, &out_len);
	free(out);
	return r;
}

/* ---- record codec ------------------------------------------------------ */

static void test_record_codec(void **state)
{
	(void)state;
	unsigned char key[BARRIER_KEY_LEN], other[BARRIER_KEY_LEN];
	unsigned char *rec = NULL, *pt = NULL;
	size_t rec_len = 0, pt_len = 0;
	uint32_t term = 0;
	assert_int_equal(rand_bytes(key, sizeof(key)), 0);
	assert_int_equal(rand_bytes(other, sizeof(other)), 0);

	assert_int_equal(barrier_record_encrypt(key, 0x01020304, "p/a", "hello", 5, &rec, &rec_len), 0);
	assert_int_equal(rec_len, 5 + BARRIER_OVERHEAD);
	assert_int_equal(rec[0], BARRIER_VERSION);
	assert_int_equal(rec[1], 1);
	assert_int_equal(rec[4], 4);
	assert_int_equal(barrier_record_term(rec, rec_len, &term), 0);
	assert_int_equal(term, 0x01020304);
	assert_int_equal(barrier_record_decrypt(key, "p/a", rec, rec_len, &pt, &pt_len), 0);
	assert_int_equal(pt_len, 5);
	assert_memory_equal(pt, "hello", 5);
	free(pt);
	pt = NULL;
	assert_int_equal(barrier_record_decrypt(other, "p/a", rec, rec_len, &pt, &pt_len),
	                 TROVE_ERR_INTEGRITY);
	assert_null(pt);
	assert_int_equal(barrier_record_decrypt(key, "p/b", rec, rec_len, &pt, &pt_len), TROVE_ERR_INTEGRITY);
	assert_int_equal(barrier_record_decrypt(key, NULL, rec, rec_len, &pt, &pt_len), TROVE_ERR_INTEGRITY);
	free(rec);

	/* empty plaintext: non-NULL output of length 0 */
	assert_int_equal(barrier_record_encrypt(key, 1, "", NULL, 0, &rec, &rec_len), 0);
	assert_int_equal(rec_len, BARRIER_OVERHEAD);
	assert_int_equal(barrier_record_decrypt(key, NULL, rec, rec_len, &pt, &pt_len), 0);
	assert_non_null(pt);
	assert_int_equal(pt_len, 0);
	free(pt);

	/* two encryptions of the same input differ (fresh nonce) */
	unsigned char *rec2 = NULL;
	size_t rec2_len = 0;
	assert_int_equal(barrier_record_encrypt(key, 1, "", NULL, 0, &rec2, &rec2_len), 0);
	assert_memory_not_equal(rec, rec2, rec_len);
	free(rec2);

	/* header parsing */
	assert_int_equal(barrier_record_term(rec, BARRIER_OVERHEAD - 1, &term), TROVE_ERR_INTEGRITY);
	assert_int_equal(barrier_record_term(NULL, 0, &term), TROVE_ERR_INTEGRITY);
	rec[0] = 2;
	assert_int_equal(barrier_record_term(rec, rec_len, &term), TROVE_ERR_INTEGRITY);
	assert_int_equal(barrier_record_decrypt(key, NULL, rec, rec_len, &pt, &pt_len), TROVE_ERR_INTEGRITY);
	free(rec);
}

/* ---- lifecycle --------------------------------------------------------- */

static void test_lifecycle(void **state)
{
	struct fx *f = *state;
	bool init = true;
	assert_int_equal(barrier_initialized(f->b, &init), 0);
	assert_false(init);
	assert_true(barrier_sealed(f->b));
	assert_int_equal(barrier_unseal(f->b, f->root), TROVE_ERR_UNINITIALIZED);

	assert_int_equal(barrier_initialize(f->b, f->root), 0);
	assert_int_equal(barrier_initialized(f->b, &init), 0);
	assert_true(init);
	assert_true(barrier_sealed(f->b));
	assert_int_equal(barrier_initialize(f->b, f->root), TROVE_ERR_CONFLICT);

	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	assert_false(barrier_sealed(f->b));
	/* unsealing again with the same key is fine, with another is not */
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	unsigned char wrong[BARRIER_KEY_LEN];
	memcpy(wrong, f->root, sizeof(wrong));
	wrong[0] ^= 1;
	assert_int_equal(barrier_unseal(f->b, wrong), TROVE_ERR_INTEGRITY);
	assert_false(barrier_sealed(f->b));
	assert_int_equal(barrier_initialize(f->b, f->root), TROVE_ERR_CONFLICT);

	struct barrier_key_status st;
	assert_int_equal(barrier_key_status(f->b, &st), 0);
	assert_int_equal(st.term, 1);
	assert_true(st.install_time > 1600000000);
	assert_int_equal(st.encryptions, 0);

	put_str(f->bs, "secret/app/db", "hunter2");
	put_str(f->bs, "secret/app/api", "token");
	put_str(f->bs, "secret/other", "x");
	put_str(f->bs, "empty", "");
	check_str(f->bs, "secret/app/db", "hunter2");
	check_str(f->bs, "empty", "");
	assert_int_equal(get_rc(f->bs, "secret/none"), TROVE_ERR_NOT_FOUND);

	struct strlist l;
	strlist_init(&l);
	assert_int_equal(storage_list(f->bs, "secret/", &l), 0);
	assert_int_equal(l.len, 2);
	assert_string_equal(l.items[0], "app/");
	assert_string_equal(l.items[1], "other");
	strlist_release(&l);

	assert_int_equal(storage_delete(f->bs, "secret/other"), 0);
	assert_int_equal(get_rc(f->bs, "secret/other"), TROVE_ERR_NOT_FOUND);

	assert_int_equal(barrier_key_status(f->b, &st), 0);
	assert_int_equal(st.encryptions, 4);

	/* seal, unseal: data still there */
	barrier_seal(f->b);
	barrier_seal(f->b); /* idempotent */
	assert_true(barrier_sealed(f->b));
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	check_str(f->bs, "secret/app/api", "token");
}

static void check_all_sealed(struct fx *f)
{
	unsigned char *out = NULL;
	size_t len = 0;
	struct strlist l;
	struct barrier_key_status st;
	struct storage_op op = {.kind = STORAGE_PUT, .key = "a", .value = "b", .value_len = 1};
	strlist_init(&l);
	assert_int_equal(storage_get(f->bs, "a", &out, &len), TROVE_ERR_SEALED);
	assert_int_equal(storage_get(f->bs, "missing", &out, &len), TROVE_ERR_SEALED);
	assert_int_equal(storage_put(f->bs, "a", "b", 1), TROVE_ERR_SEALED);
	assert_int_equal(storage_delete(f->bs, "a"), TROVE_ERR_SEALED);
	assert_int_equal(storage_list(f->bs, "", &l), TROVE_ERR_SEALED);
	assert_int_equal(storage_txn(f->bs, &op, 1), TROVE_ERR_SEALED);
	assert_int_equal(barrier_key_status(f->b, &st), TROVE_ERR_SEALED);
	assert_int_equal(barrier_rotate(f->b), TROVE_ERR_SEALED);
	assert_int_equal(barrier_decode(f->b, "a",
	                                (const unsigned char *)"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 40,
	                                &out, &len),
	                 TROVE_ERR_SEALED);
	assert_int_equal(l.len, 0);
	strlist_release(&l);
}

static void test_sealed(void **state)
{
	struct fx *f = *state;
	check_all_sealed(f); /* uninitialised */
	assert_int_equal(barrier_initialize(f->b, f->root), 0);
	check_all_sealed(f); /* initialised, sealed */
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	put_str(f->bs, "a", "b");
	barrier_seal(f->b);
	check_all_sealed(f); /* sealed again */
	/* the physical record is still there, only unreadable */
	unsigned char *rec = NULL;
	size_t len = 0;
	raw(f, "a", &rec, &len);
	free(rec);
}

static void test_wrong_root_key(void **state)
{
	struct fx *f = *state;
	unsigned char wrong[BARRIER_KEY_LEN];
	assert_int_equal(barrier_initialize(f->b, f->root), 0);
	memcpy(wrong, f->root, sizeof(wrong));
	wrong[31] ^= 0x80;
	assert_int_equal(barrier_unseal(f->b, wrong), TROVE_ERR_INTEGRITY);
	assert_true(barrier_sealed(f->b));
	check_all_sealed(f);
	memset(wrong, 0, sizeof(wrong));
	assert_int_equal(barrier_unseal(f->b, wrong), TROVE_ERR_INTEGRITY);
	assert_true(barrier_sealed(f->b));
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	assert_false(barrier_sealed(f->b));
}

static void test_tampered_keyring(void **state)
{
	struct fx *f = *state;
	unsigned char *rec = NULL;
	size_t len = 0;
	assert_int_equal(barrier_initialize(f->b, f->root), 0);
	raw(f, BARRIER_KEYRING_PATH, &rec, &len);
	/* the keyring is a term-0 record */
	uint32_t term = 99;
	assert_int_equal(barrier_record_term(rec, len, &term), 0);
	assert_int_equal(term, 0);
	for (size_t i = 0; i < len; i += 7) {
		rec[i] ^= 0x10;
		assert_int_equal(storage_put(f->phys, BARRIER_KEYRING_PATH, rec, len), 0);
		assert_int_equal(barrier_unseal(f->b, f->root), TROVE_ERR_INTEGRITY);
		assert_true(barrier_sealed(f->b));
		rec[i] ^= 0x10;
	}
	assert_int_equal(storage_put(f->phys, BARRIER_KEYRING_PATH, rec, len - 1), 0);
	assert_int_equal(barrier_unseal(f->b, f->root), TROVE_ERR_INTEGRITY);
	assert_int_equal(storage_put(f->phys, BARRIER_KEYRING_PATH, rec, len), 0);
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	free(rec);
}

/* ---- tamper resistance ------------------------------------------------- */

static void test_bit_flips(void **state)
{
	struct fx *f = *state;
	unsigned char *rec = NULL;
	size_t len = 0;
	put_str(f->bs, "secret/a", "attack at dawn");
	raw(f, "secret/a", &rec, &len);
	assert_int_equal(len, 14 + BARRIER_OVERHEAD);
	assert_int_equal(decode_rc(f, "secret/a", rec, len), 0);

	/* every bit of header, nonce, ciphertext and tag */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			rec[i] ^= (unsigned char)(1u << bit);
			assert_int_equal(decode_rc(f, "secret/a", rec, len), TROVE_ERR_INTEGRITY);
			rec[i] ^= (unsigned char)(1u << bit);
		}
	}
	/* and through the storage view, one byte per region */
	const size_t where[] = {0,        1,      4, 5, 16, BARRIER_HEADER_LEN, BARRIER_HEADER_LEN + 13,
	                        len - 16, len - 1};
	for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
		rec[where[w]] ^= 0x01;
		assert_int_equal(storage_put(f->phys, "secret/a", rec, len), 0);
		assert_int_equal(get_rc(f->bs, "secret/a"), TROVE_ERR_INTEGRITY);
		rec[where[w]] ^= 0x01;
	}
	assert_int_equal(storage_put(f->phys, "secret/a", rec, len), 0);
	check_str(f->bs, "secret/a", "attack at dawn");
	free(rec);
}

static void test_truncated(void **state)
{
	struct fx *f = *state;
	unsigned char *rec = NULL;
	size_t len = 0;
	put_str(f->bs, "t", "some value");
	raw(f, "t", &rec, &len);
	for (size_t n = 0; n < len; n++) {
		assert_int_equal(decode_rc(f, "t", rec, n), TROVE_ERR_INTEGRITY);
		assert_int_equal(storage_put(f->phys, "t", rec, n), 0);
		assert_int_equal(get_rc(f->bs, "t"), TROVE_ERR_INTEGRITY);
	}
	/* extended by a byte */
	unsigned char *longer = malloc(len + 1);
	memcpy(longer, rec, len);
	longer[len] = 0;
	assert_int_equal(decode_rc(f, "t", longer, len + 1), TROVE_ERR_INTEGRITY);
	/* the tag cut off, ciphertext kept: still refused */
	assert_int_equal(decode_rc(f, "t", rec, len - BARRIER_TAG_LEN), TROVE_ERR_INTEGRITY);
	free(longer);
	free(rec);
}

static void test_moved_record(void **state)
{
	struct fx *f = *state;
	unsigned char *rec = NULL;
	size_t len = 0;
	put_str(f->bs, "secret/alice", "alice's password");
	raw(f, "secret/alice", &rec, &len);
	assert_int_equal(storage_put(f->phys, "secret/mallory", rec, len), 0);
	assert_int_equal(get_rc(f->bs, "secret/mallory"), TROVE_ERR_INTEGRITY);
	/* also one that overwrites an existing record */
	put_str(f->bs, "secret/bob", "bob's");
	assert_int_equal(storage_put(f->phys, "secret/bob", rec, len), 0);
	assert_int_equal(get_rc(f->bs, "secret/bob"), TROVE_ERR_INTEGRITY);
	check_str(f->bs, "secret/alice", "alice's password");
	free(rec);
}

static void test_unknown_term(void **state)
{
	struct fx *f = *state;
	unsigned char key[BARRIER_KEY_LEN];
	unsigned char *rec = NULL;
	size_t len = 0;
	assert_int_equal(rand_bytes(key, sizeof(key)), 0);
	assert_int_equal(barrier_record_encrypt(key, 99, "x", "v", 1, &rec, &len), 0);
	assert_int_equal(storage_put(f->phys, "x", rec, len), 0);
	assert_int_equal(get_rc(f->bs, "x"), TROVE_ERR_INTEGRITY);
	free(rec);

	/* term 0 is the root key's, never a data term */
	assert_int_equal(barrier_record_encrypt(f->root, 0, "y", "v", 1, &rec, &len), 0);
	assert_int_equal(storage_put(f->phys, "y", rec, len), 0);
	assert_int_equal(get_rc(f->bs, "y"), TROVE_ERR_INTEGRITY);
	free(rec);

	/* the keyring itself cannot be read through the barrier */
	assert_int_equal(get_rc(f->bs, BARRIER_KEYRING_PATH), TROVE_ERR_INTEGRITY);

	/* an existing term with the wrong key */
	put_str(f->bs, "z", "v");
	assert_int_equal(barrier_record_encrypt(key, 1, "z", "v", 1, &rec, &len), 0);
	assert_int_equal(storage_put(f->phys, "z", rec, len), 0);
	assert_int_equal(get_rc(f->bs, "z"), TROVE_ERR_INTEGRITY);
	free(rec);
}

/* ---- rotation and counting --------------------------------------------- */

static void test_rotate(void **state)
{
	struct fx *f = *state;
	struct barrier_key_status st;
	put_str(f->bs, "old", "written under term 1");
	assert_int_equal(raw_term(f, "old"), 1);
	assert_int_equal(barrier_rotate(f->b), 0);
	assert_int_equal(barrier_key_status(f->b, &st), 0);
	assert_int_equal(st.term, 2);
	assert_int_equal(st.encryptions, 0);
	put_str(f->bs, "new", "written under term 2");
	assert_int_equal(raw_term(f, "new"), 2);
	check_str(f->bs, "old", "written under term 1");
	check_str(f->bs, "new", "written under term 2");
	/* overwriting an old record re-encrypts it under the active term */
	put_str(f->bs, "old", "rewritten");
	assert_int_equal(raw_term(f, "old"), 2);

	assert_int_equal(barrier_rotate(f->b), 0);
	put_str(f->bs, "newer", "term 3");
	assert_int_equal(raw_term(f, "newer"), 3);

	/* the keyring survives seal/unseal and a fresh barrier */
	barrier_seal(f->b);
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	assert_int_equal(barrier_key_status(f->b, &st), 0);
	assert_int_equal(st.term, 3);
	barrier_free(f->b);
	f->b = barrier_new(f->phys);
	f->bs = barrier_storage(f->b);
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	check_str(f->bs, "new", "written under term 2");
	check_str(f->bs, "old", "rewritten");
	check_str(f->bs, "newer", "term 3");
	put_str(f->bs, "newest", "x");
	assert_int_equal(raw_term(f, "newest"), 3);
}

static void test_auto_rotation(void **state)
{
	struct fx *f = *state;
	struct barrier_key_status st;
	barrier_set_rotation_threshold(f->b, 10);
	for (int i = 0; i < 35; i++) {
		char k[32], v[32];
		snprintf(k, sizeof(k), "k/%02d", i);
		snprintf(v, sizeof(v), "v%d", i);
		put_str(f->bs, k, v);
		assert_int_equal(raw_term(f, k), (uint32_t)(1 + i / 10));
		assert_int_equal(barrier_key_status(f->b, &st), 0);
		assert_true(st.encryptions <= 10);
	}
	assert_int_equal(barrier_key_status(f->b, &st), 0);
	assert_int_equal(st.term, 4);
	assert_int_equal(st.encryptions, 5);
	for (int i = 0; i < 35; i++) {
		char k[32], v[32];
		snprintf(k, sizeof(k), "k/%02d", i);
		snprintf(v, sizeof(v), "v%d", i);
		check_str(f->bs, k, v);
	}
	/* a txn's puts count too */
	struct storage_op ops[6];
	for (int i = 0; i < 6; i++)
		ops[i] = (struct storage_op){
		    .kind = STORAGE_PUT, .key = i % 2 ? "tx/a" : "tx/b", .value = "v", .value_len = 1};
	assert_int_equal(storage_txn(f->bs, ops, 6), 0);
	assert_int_equal(barrier_key_status(f->b, &st), 0);
	assert_int_equal(st.term, 5);
	assert_int_equal(st.encryptions, 1);
	check_str(f->bs, "tx/a", "v");
}

static void test_reservation_persists(void **state)
{
	struct fx *f = *state;
	struct barrier_key_status before, after;
	for (int i = 0; i < 100; i++)
		put_str(f->bs, "count/me", "again");
	assert_int_equal(barrier_key_status(f->b, &before), 0);
	assert_int_equal(before.encryptions, 100);

	/* a "crash": the barrier goes away without a clean shutdown path */
	barrier_free(f->b);
	f->b = barrier_new(f->phys);
	f->bs = barrier_storage(f->b);
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	assert_int_equal(barrier_key_status(f->b, &after), 0);
	assert_int_equal(after.term, before.term);
	assert_true(after.encryptions >= before.encryptions);
	put_str(f->bs, "count/me", "once more");
	struct barrier_key_status later;
	assert_int_equal(barrier_key_status(f->b, &later), 0);
	assert_true(later.encryptions > after.encryptions);

	/* the reservation is ahead of a small threshold: the first write
	 * after the restart rotates rather than reuse counted-out room */
	barrier_free(f->b);
	f->b = barrier_new(f->phys);
	f->bs = barrier_storage(f->b);
	barrier_set_rotation_threshold(f->b, 10);
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	put_str(f->bs, "count/me", "rotated");
	assert_int_equal(barrier_key_status(f->b, &after), 0);
	assert_int_equal(after.term, before.term + 1);
	assert_int_equal(raw_term(f, "count/me"), before.term + 1);
	check_str(f->bs, "count/me", "rotated");
}

/* ---- the keyring is off limits, plaintext never leaks ------------------ */

static void test_keyring_protected(void **state)
{
	struct fx *f = *state;
	unsigned char *before = NULL, *after = NULL;
	size_t blen = 0, alen = 0;
	raw(f, BARRIER_KEYRING_PATH, &before, &blen);
	assert_int_equal(storage_put(f->bs, BARRIER_KEYRING_PATH, "x", 1), TROVE_ERR_PERMISSION);
	assert_int_equal(storage_delete(f->bs, BARRIER_KEYRING_PATH), TROVE_ERR_PERMISSION);
	struct storage_op ops[] = {
	    {.kind = STORAGE_PUT, .key = "innocent", .value = "v", .value_len = 1},
	    {.kind = STORAGE_PUT, .key = BARRIER_KEYRING_PATH, .value = "x", .value_len = 1},
	};
	assert_int_equal(storage_txn(f->bs, ops, 2), TROVE_ERR_PERMISSION);
	assert_int_equal(get_rc(f->bs, "innocent"), TROVE_ERR_NOT_FOUND);
	ops[1].kind = STORAGE_DELETE;
	assert_int_equal(storage_txn(f->bs, ops, 2), TROVE_ERR_PERMISSION);
	raw(f, BARRIER_KEYRING_PATH, &after, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(before, after, blen);
	free(before);
	free(after);
	barrier_seal(f->b);
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
}

static void test_no_plaintext_in_physical(void **state)
{
	struct fx *f = *state;
	const char *secret = "PLAINTEXT-CANARY-0123456789";
	put_str(f->bs, "secret/canary", secret);
	struct storage_op op = {
	    .kind = STORAGE_PUT, .key = "secret/canary2", .value = secret, .value_len = strlen(secret)};
	assert_int_equal(storage_txn(f->bs, &op, 1), 0);
	assert_int_equal(barrier_rotate(f->b), 0);

	/* walk every physical key */
	const char *keys[] = {"secret/canary", "secret/canary2", BARRIER_KEYRING_PATH};
	for (size_t i = 0; i < 3; i++) {
		unsigned char *rec = NULL;
		size_t len = 0;
		raw(f, keys[i], &rec, &len);
		assert_null(memmem(rec, len, secret, strlen(secret)));
		assert_null(memmem(rec, len, "CANARY", 6));
		assert_null(memmem(rec, len, f->root, sizeof(f->root)));
		/* the keyring record is not JSON in the clear */
		assert_null(memmem(rec, len, "term", 4));
		free(rec);
	}
	struct strlist l;
	strlist_init(&l);
	assert_int_equal(storage_list(f->phys, "", &l), 0);
	assert_int_equal(l.len, 2); /* core/, secret/ */
	strlist_release(&l);
	check_str(f->bs, "secret/canary2", secret);
}

/* ---- concurrency ------------------------------------------------------- */

struct worker {
	struct fx *f;
	int id;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 150; i++) {
		char k[64], v[64];
		snprintf(k, sizeof(k), "w%d/k%d", w->id, i % 20);
		snprintf(v, sizeof(v), "value %d %d", w->id, i);
		if (storage_put(w->f->bs, k, v, strlen(v)) != 0)
			w->failures++;
		unsigned char *out = NULL;
		size_t len = 0;
		if (storage_get(w->f->bs, k, &out, &len) != 0 || len != strlen(v) || memcmp(out, v, len) != 0)
			w->failures++;
		free(out);
		if (w->id == 0 && i % 50 == 0 && barrier_rotate(w->f->b) != 0)
			w->failures++;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct fx *f = *state;
	enum { NT = 4 };
	barrier_set_rotation_threshold(f->b, 37);
	pthread_t th[NT];
	struct worker w[NT];
	for (int i = 0; i < NT; i++) {
		w[i] = (struct worker){.f = f, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	struct barrier_key_status st;
	assert_int_equal(barrier_key_status(f->b, &st), 0);
	/* 600 encryptions at 37 per term, plus 3 manual rotations */
	assert_true(st.term >= 600 / 37);
	assert_true(st.encryptions <= 37);
	/* everything is readable after a restart */
	barrier_free(f->b);
	f->b = barrier_new(f->phys);
	f->bs = barrier_storage(f->b);
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	check_str(f->bs, "w3/k9", "value 3 149");
}

/* The keyring counts its writes; an older keyring record put back in
 * storage opens with a smaller epoch, and the hook hears every write. */
static void epoch_seen(void *arg, uint64_t epoch)
{
	*(uint64_t *)arg = epoch;
}

static void test_keyring_epoch(void **state)
{
	struct fx *f = *state;
	uint64_t heard = 0;
	unsigned char *old = NULL;
	size_t old_len = 0;

	assert_int_equal(barrier_epoch(f->b), 1);
	assert_int_equal(storage_get(f->phys, BARRIER_KEYRING_PATH, &old, &old_len), 0);
	barrier_set_epoch_hook(f->b, epoch_seen, &heard);
	assert_int_equal(barrier_rotate(f->b), 0);
	assert_int_equal(barrier_epoch(f->b), 2);
	assert_int_equal(heard, 2);
	assert_int_equal(barrier_rotate(f->b), 0);
	assert_int_equal(heard, 3);
	assert_int_equal(barrier_touch(f->b), 0); /* same keys, next epoch */
	assert_int_equal(heard, 4);
	barrier_set_epoch_hook(f->b, NULL, NULL);

	barrier_seal(f->b);
	assert_int_equal(barrier_epoch(f->b), 0);
	assert_int_equal(barrier_touch(f->b), TROVE_ERR_SEALED);
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	assert_int_equal(barrier_epoch(f->b), 4);

	/* roll the keyring back: it still opens, and says how old it is */
	barrier_seal(f->b);
	assert_int_equal(storage_put(f->phys, BARRIER_KEYRING_PATH, old, old_len), 0);
	assert_int_equal(barrier_unseal(f->b, f->root), 0);
	assert_int_equal(barrier_epoch(f->b), 1);
	free(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_codec),
	    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sealed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_root_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tampered_keyring, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bit_flips, setup_open, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated, setup_open, teardown),
	    cmocka_unit_test_setup_teardown(test_moved_record, setup_open, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_term, setup_open, teardown),
	    cmocka_unit_test_setup_teardown(test_rotate, setup_open, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_rotation, setup_open, teardown),
	    cmocka_unit_test_setup_teardown(test_reservation_persists, setup_open, teardown),
	    cmocka_unit_test_setup_teardown(test_keyring_protected, setup_open, teardown),
	    cmocka_unit_test_setup_teardown(test_no_plaintext_in_physical, setup_open, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup_open, teardown),
	    cmocka_unit_test_setup_teardown(test_keyring_epoch, setup_open, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
