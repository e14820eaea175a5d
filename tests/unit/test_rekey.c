/* Unit tests for rekey and root-token generation at the core level
 * (core/rekey.c, core/generate_root.c, the seal's key replacement) and the
 * OTP encoding (lib/otp.c), in process against inmem storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/engines.h"
#include "audit/device.h"
#include "core/core.h"
#include "core/generate_root.h"
#include "core/rekey.h"
#include "core/token.h"
#include "err.h"
#include "otp.h"
#include "secure.h"
#include "storage/storage.h"

/* Physical storage whose transactions can be made to fail, standing in
 * for a crash at the commit: nothing of a failed transaction lands. */
struct flaky {
	struct storage s;
	struct storage *inner;
	bool fail_txn;
};

static int f_get(struct storage *s, const char *k, unsigned char **o, size_t *l)
{
	return storage_get(((struct flaky *)s->impl)->inner, k, o, l);
}
static int f_put(struct storage *s, const char *k, const void *v, size_t l)
{
	return storage_put(((struct flaky *)s->impl)->inner, k, v, l);
}
static int f_del(struct storage *s, const char *k)
{
	return storage_delete(((struct flaky *)s->impl)->inner, k);
}
static int f_list(struct storage *s, const char *p, struct strlist *o)
{
	return storage_list(((struct flaky *)s->impl)->inner, p, o);
}
static int f_txn(struct storage *s, const struct storage_op *ops, size_t n)
{
	struct flaky *f = s->impl;
	return f->fail_txn ? TROVE_ERR_IO : storage_txn(f->inner, ops, n);
}
static void f_destroy(struct storage *s)
{
	(void)s;
}
static const struct storage_ops flaky_ops = {"flaky", f_get, f_put, f_del, f_list, f_txn, f_destroy};

struct fixture {
	struct storage *inner;
	struct flaky phys;
	struct core *core;
	struct core_init_result init;
};

static struct core *new_core(struct fixture *f)
{
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 2764800, .max_lease_ttl = 2764800, .expiration_manual = true,
				   .engines = &builtin_engines, .audit_devices = &audit_device_types};
	return core_new(&f->phys.s, &cc);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct buf err;
	f->inner = storage_inmem_new();
	f->phys.inner = f->inner;
	f->phys.s.ops = &flaky_ops;
	f->phys.s.impl = &f->phys;
	f->core = new_core(f);
	buf_init(&err, 256);
	assert_int_equal(core_initialize(f->core, 3, 2, NULL, &f->init, &err), 0);
	buf_release(&err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	core_init_result_release(&f->init);
	core_free(f->core);
	storage_free(f->inner);
	free(f);
	return 0;
}

/* Gives keys[0..n) to unseal; returns whether the core ended unsealed. */
static bool unseal_with(struct core *c, unsigned char *const *keys, size_t n)
{
	struct seal_status st;
	struct buf err;
	buf_init(&err, 256);
	core_unseal_reset(c);
	for (size_t i = 0; i < n; i++)
		if (core_unseal(c, keys[i], CORE_UNSEAL_KEY_LEN + 1, &st, &err) != 0)
			break;
	buf_release(&err);
	return !core_sealed(c);
}

static void test_rekey_replaces_the_key(void **state)
{
	struct fixture *f = *state;
	struct rekey *rk = core_rekey(f->core);
	struct rekey_status st;
	struct rekey_result res;
	struct buf err;
	buf_init(&err, 256);

	/* Sealed: refused, and said so. */
	assert_int_equal(rekey_start(rk, 3, 2, false, &err), TROVE_ERR_SEALED);
	assert_non_null(strstr(err.data, "sealed"));
	assert_true(unseal_with(f->core, f->init.keys, 2));

	/* Bad configurations name the field. */
	const int64_t bad[][2] = {{3, 4}, {256, 2}, {0, 0}, {3, 0}, {3, 1}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&err);
		assert_int_equal(rekey_start(rk, bad[i][0], bad[i][1], false, &err), TROVE_ERR_INVALID);
		assert_non_null(strstr(err.data, "secret_"));
	}
	assert_int_equal(rekey_update(rk, f->init.keys[0], 33, "x", &res, &err), TROVE_ERR_INVALID);

	assert_int_equal(rekey_start(rk, 5, 3, false, &err), 0);
	buf_reset(&err);
	assert_int_equal(rekey_start(rk, 5, 3, false, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "already in progress"));
	assert_int_equal(rekey_status(rk, &st, &err), 0);
	assert_true(st.started);
	assert_int_equal(st.required, 2);
	assert_int_equal(st.n, 5);
	assert_int_equal(st.t, 3);
	char nonce[37];
	memcpy(nonce, st.nonce, sizeof(nonce));

	/* Wrong nonce, wrong length, duplicate: refused, not counted. */
	assert_int_equal(rekey_update(rk, f->init.keys[0], 33, "nope", &res, &err), TROVE_ERR_INVALID);
	assert_int_equal(rekey_update(rk, f->init.keys[0], 32, nonce, &res, &err), TROVE_ERR_INVALID);
	assert_int_equal(rekey_update(rk, f->init.keys[0], 33, nonce, &res, &err), 0);
	assert_false(res.complete);
	assert_int_equal(rekey_update(rk, f->init.keys[0], 33, nonce, &res, &err), TROVE_ERR_INVALID);
	assert_int_equal(rekey_status(rk, &st, &err), 0);
	assert_int_equal(st.progress, 1);

	assert_int_equal(rekey_update(rk, f->init.keys[2], 33, nonce, &res, &err), 0);
	assert_true(res.complete);
	assert_false(res.verification_required);
	assert_int_equal(res.nkeys, 5);
	assert_int_equal(res.key_len, 33);
	assert_int_equal(rekey_status(rk, &st, &err), 0);
	assert_false(st.started);

	/* Old shares fail, any 3 new ones unseal, also on a fresh core. */
	core_seal(f->core);
	assert_false(unseal_with(f->core, f->init.keys, 3));
	assert_false(unseal_with(f->core, res.keys, 2));
	assert_true(unseal_with(f->core, res.keys + 2, 3));
	core_free(f->core);
	f->core = new_core(f);
	struct seal_status ss;
	assert_int_equal(core_seal_status(f->core, &ss), 0);
	assert_int_equal(ss.threshold, 3);
	assert_int_equal(ss.shares, 5);
	assert_true(unseal_with(f->core, res.keys, 3));

	rekey_result_release(&res);
	buf_release(&err);
}

static void test_rekey_wrong_set_resets_progress(void **state)
{
	struct fixture *f = *state;
	struct rekey *rk = core_rekey(f->core);
	struct rekey_status st;
	struct rekey_result res;
	struct buf err;
	unsigned char bogus[33];
	buf_init(&err, 256);

	assert_true(unseal_with(f->core, f->init.keys, 2));
	assert_int_equal(rekey_start(rk, 2, 2, false, &err), 0);
	assert_int_equal(rekey_status(rk, &st, &err), 0);
	memcpy(bogus, f->init.keys[1], 33);
	bogus[3] ^= 1;
	assert_int_equal(rekey_update(rk, f->init.keys[0], 33, st.nonce, &res, &err), 0);
	buf_reset(&err);
	assert_int_equal(rekey_update(rk, bogus, 33, st.nonce, &res, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "progress was reset"));
	assert_false(res.complete);
	struct rekey_status st2;
	assert_int_equal(rekey_status(rk, &st2, &err), 0);
	assert_true(st2.started);
	assert_string_equal(st2.nonce, st.nonce);
	assert_int_equal(st2.progress, 0);

	/* A seal drops the rekey. */
	core_seal(f->core);
	assert_true(unseal_with(f->core, f->init.keys + 1, 2));
	assert_int_equal(rekey_status(rk, &st2, &err), 0);
	assert_false(st2.started);
	buf_release(&err);
}

static void test_rekey_verification(void **state)
{
	struct fixture *f = *state;
	struct rekey *rk = core_rekey(f->core);
	struct rekey_status st;
	struct rekey_result res;
	struct buf err;
	bool complete = true;
	buf_init(&err, 256);

	assert_true(unseal_with(f->core, f->init.keys, 2));
	assert_int_equal(rekey_verify_restart(rk, &err), TROVE_ERR_INVALID);
	assert_int_equal(rekey_start(rk, 3, 2, true, &err), 0);
	assert_int_equal(rekey_status(rk, &st, &err), 0);
	assert_int_equal(rekey_update(rk, f->init.keys[0], 33, st.nonce, &res, &err), 0);
	assert_int_equal(rekey_update(rk, f->init.keys[1], 33, st.nonce, &res, &err), 0);
	assert_true(res.complete);
	assert_true(res.verification_required);
	assert_int_equal(strlen(res.verification_nonce), 36);

	/* Not in effect yet: the old key still opens the record. */
	core_seal(f->core);
	assert_true(unseal_with(f->core, f->init.keys, 2));
	/* ...but the seal dropped the pending rekey: start over. */
	assert_int_equal(rekey_status(rk, &st, &err), 0);
	assert_false(st.started);
	rekey_result_release(&res);

	assert_int_equal(rekey_start(rk, 3, 2, true, &err), 0);
	assert_int_equal(rekey_status(rk, &st, &err), 0);
	assert_int_equal(rekey_update(rk, f->init.keys[2], 33, st.nonce, &res, &err), 0);
	assert_int_equal(rekey_update(rk, f->init.keys[1], 33, st.nonce, &res, &err), 0);
	assert_true(res.verification_required);
	/* The operation nonce no longer takes shares. */
	struct rekey_result none;
	buf_reset(&err);
	assert_int_equal(rekey_update(rk, f->init.keys[0], 33, st.nonce, &none, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "verification"));
	assert_int_equal(rekey_status(rk, &st, &err), 0);
	assert_true(st.verifying);

	/* An old share does not verify; progress resets. */
	assert_int_equal(rekey_verify_update(rk, res.keys[0], 33, st.verify_nonce, &complete, &err), 0);
	assert_false(complete);
	buf_reset(&err);
	assert_int_equal(rekey_verify_update(rk, f->init.keys[0], 33, st.verify_nonce, &complete, &err),
	                 TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "verification failed"));
	/* Restart: a new nonce. */
	char old_vn[37];
	memcpy(old_vn, st.verify_nonce, sizeof(old_vn));
	assert_int_equal(rekey_verify_restart(rk, &err), 0);
	assert_int_equal(rekey_status(rk, &st, &err), 0);
	assert_string_not_equal(st.verify_nonce, old_vn);
	assert_int_equal(rekey_verify_update(rk, res.keys[1], 33, old_vn, &complete, &err),
	                 TROVE_ERR_INVALID);
	assert_int_equal(rekey_verify_update(rk, res.keys[1], 33, st.verify_nonce, &complete, &err), 0);
	assert_int_equal(rekey_verify_update(rk, res.keys[2], 33, st.verify_nonce, &complete, &err), 0);
	assert_true(complete);

	core_seal(f->core);
	assert_false(unseal_with(f->core, f->init.keys, 2));
	assert_true(unseal_with(f->core, res.keys, 2));
	rekey_result_release(&res);
	buf_release(&err);
}

static void test_rekey_commit_is_atomic(void **state)
{
	struct fixture *f = *state;
	struct rekey *rk = core_rekey(f->core);
	struct rekey_status st;
	struct rekey_result res;
	struct buf err;
	buf_init(&err, 256);

	assert_true(unseal_with(f->core, f->init.keys, 2));
	assert_int_equal(rekey_start(rk, 4, 3, false, &err), 0);
	assert_int_equal(rekey_status(rk, &st, &err), 0);
	assert_int_equal(rekey_update(rk, f->init.keys[0], 33, st.nonce, &res, &err), 0);
	f->phys.fail_txn = true;
	assert_int_equal(rekey_update(rk, f->init.keys[1], 33, st.nonce, &res, &err), TROVE_ERR_IO);
	assert_false(res.complete);
	assert_null(res.keys);
	f->phys.fail_txn = false;

	/* Nothing changed: same config, the old shares unseal a fresh core. */
	core_free(f->core);
	f->core = new_core(f);
	struct seal_status ss;
	assert_int_equal(core_seal_status(f->core, &ss), 0);
	assert_int_equal(ss.shares, 3);
	assert_int_equal(ss.threshold, 2);
	assert_true(unseal_with(f->core, f->init.keys + 1, 2));

	/* And the replacement itself checks the old key. */
	unsigned char k[CORE_UNSEAL_KEY_LEN] = {1};
	assert_int_equal(core_replace_unseal_key(f->core, k, k, 1, 1), TROVE_ERR_INVALID);
	assert_int_equal(core_check_unseal_key(f->core, k), TROVE_ERR_INVALID);
	buf_release(&err);
}

static void test_generate_root(void **state)
{
	struct fixture *f = *state;
	struct generate_root *g = core_generate_root(f->core);
	struct generate_root_status st;
	char otp[GENERATE_ROOT_OTP_LEN + 1];
	char *enc = NULL, *token = NULL;
	struct buf err;
	buf_init(&err, 256);

	assert_int_equal(generate_root_start(g, NULL, otp, &err), TROVE_ERR_SEALED);
	assert_true(unseal_with(f->core, f->init.keys, 2));
	buf_reset(&err);
	assert_int_equal(generate_root_start(g, "short", otp, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "otp"));
	assert_int_equal(generate_root_update(g, f->init.keys[0], 33, "x", &st, &enc, &err),
	                 TROVE_ERR_INVALID);

	assert_int_equal(generate_root_start(g, NULL, otp, &err), 0);
	assert_int_equal(strlen(otp), GENERATE_ROOT_OTP_LEN);
	assert_int_equal(generate_root_start(g, NULL, otp, &err), TROVE_ERR_INVALID);
	assert_int_equal(generate_root_status(g, &st, &err), 0);
	assert_true(st.started);
	assert_int_equal(st.required, 2);
	char nonce[37];
	memcpy(nonce, st.nonce, sizeof(nonce));

	assert_int_equal(generate_root_update(g, f->init.keys[1], 33, "bad", &st, &enc, &err),
	                 TROVE_ERR_INVALID);
	assert_int_equal(generate_root_update(g, f->init.keys[1], 33, nonce, &st, &enc, &err), 0);
	assert_null(enc);
	assert_int_equal(st.progress, 1);
	assert_int_equal(generate_root_update(g, f->init.keys[1], 33, nonce, &st, &enc, &err),
	                 TROVE_ERR_INVALID);
	assert_int_equal(generate_root_update(g, f->init.keys[2], 33, nonce, &st, &enc, &err), 0);
	assert_non_null(enc);
	assert_null(strchr(enc, '='));

	assert_int_equal(otp_decode(enc, strlen(enc), otp, &token), 0);
	assert_int_equal(strncmp(token, "hvs.", 4), 0);
	struct token_entry *e = NULL;
	assert_int_equal(token_lookup(core_tokens(f->core), token, &e), 0);
	assert_true(token_has_policy(e, "root"));
	assert_int_equal(e->expire_time, 0);
	assert_string_equal(e->parent_hash, "");
	token_entry_free(e);

	assert_int_equal(generate_root_status(g, &st, &err), 0);
	assert_false(st.started);
	secure_free_str(token);
	free(enc);
	buf_release(&err);
}

static void test_otp_codec(void **state)
{
	(void)state;
	char *enc = NULL, *dec = NULL;
	/* base64("hello" XOR "abcde") without padding */
	assert_int_equal(otp_encode("hello", "abcde", &enc), 0);
	assert_string_equal(enc, "CQcPCAo");
	assert_int_equal(otp_decode(enc, strlen(enc), "abcde", &dec), 0);
	assert_string_equal(dec, "hello");
	secure_free_str(dec);
	/* padded input is fine too */
	assert_int_equal(otp_decode("CQcPCAo=", 8, "abcde", &dec), 0);
	secure_free_str(dec);
	free(enc);
	assert_int_equal(otp_encode("hello", "abcd", &enc), TROVE_ERR_INVALID);
	assert_int_equal(otp_encode("", "", &enc), TROVE_ERR_INVALID);
	assert_int_equal(otp_decode("CQcPCAo", 7, "abcd", &dec), TROVE_ERR_INVALID);
	assert_int_equal(otp_decode("CQcPCAo", 7, "abcdef", &dec), TROVE_ERR_INVALID);
	assert_int_equal(otp_decode("!!!!", 4, "abc", &dec), TROVE_ERR_INVALID);
	assert_int_equal(otp_decode("", 0, "", &dec), TROVE_ERR_INVALID);
	/* a result holding NUL is not a token */
	assert_int_equal(otp_encode("abc", "xyz", &enc), 0); /* first byte 'a' ^ 'x' = 0x19 */
	assert_int_equal(otp_decode(enc, strlen(enc), "xyz", &dec), 0);
	assert_string_equal(dec, "abc");
	secure_free_str(dec);
	assert_int_equal(otp_decode(enc, strlen(enc), "\x19yz", &dec), TROVE_ERR_INVALID);
	free(enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rekey_replaces_the_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rekey_wrong_set_resets_progress, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rekey_verification, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rekey_commit_is_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generate_root, setup, teardown),
	    cmocka_unit_test(test_otp_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
