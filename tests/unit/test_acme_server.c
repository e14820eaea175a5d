/* test_acme_server.c — the ACME server's own pieces below its routes: the
 * rate counters, config/acme's defaults over what is stored, records and
 * their expiry, and the key-change inner JWS rules. The endpoints
 * themselves are driven by real clients in
 * tests/integration/test_pki_acme.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme_keys.h"
#include "core/mount.h"
#include "engines/kv_util.h"
#include "engines/pki/acme/acme.h"
#include "err.h"
#include "storage/storage.h"

static void test_rate_window(void **state)
{
	int64_t wait = -1;
	(void)state;
	struct acme_state *st = acme_state_new();
	assert_non_null(st);
	for (int i = 0; i < 5; i++)
		assert_true(acme_rate_allow(st, "order", "acct-1", 5, &wait));
	assert_int_equal(wait, 0);
	assert_false(acme_rate_allow(st, "order", "acct-1", 5, &wait));
	assert_true(wait > 0 && wait <= ACME_RATE_WINDOW_S);
	/* another key, or the same key of another kind, counts apart (unless
	 * they share a slot, which would only be stricter) */
	assert_true(acme_rate_allow(st, "order", "acct-2", 5, &wait));
	assert_true(acme_rate_allow(st, "nonce", "acct-1", 5, &wait));
	acme_state_free(st);
}

static void test_config_defaults(void **state)
{
	struct storage *s = storage_inmem_new();
	json_t *cfg = NULL;
	(void)state;
	assert_int_equal(acme_config_load(s, &cfg), 0);
	assert_false(json_is_true(json_object_get(cfg, "enabled")));
	assert_string_equal(json_string_value(json_object_get(cfg, "eab_policy")), "not-required");
	assert_string_equal(json_string_value(json_object_get(cfg, "default_directory_policy")),
	                    "sign-verbatim");
	assert_string_equal(json_string_value(json_array_get(json_object_get(cfg, "allowed_roles"), 0)), "*");
	json_decref(cfg);

	json_t *stored = json_pack("{s:b, s:s}", "enabled", 1, "eab_policy", "always-required");
	assert_int_equal(kv_put_json(s, ACME_CONFIG, stored), 0);
	json_decref(stored);
	assert_int_equal(acme_config_load(s, &cfg), 0);
	assert_true(json_is_true(json_object_get(cfg, "enabled")));
	assert_string_equal(json_string_value(json_object_get(cfg, "eab_policy")), "always-required");
	assert_string_equal(json_string_value(json_object_get(cfg, "dns_resolver")), ""); /* default kept */
	json_decref(cfg);

	/* a stored value that is not an object is an integrity error */
	assert_int_equal(storage_put(s, ACME_CONFIG, "[1]", 3), 0);
	assert_int_equal(acme_config_load(s, &cfg), TROVE_ERR_INTEGRITY);
	assert_null(cfg);
	storage_free(s);
}

static void test_cluster_path(void **state)
{
	struct storage *s = storage_inmem_new();
	(void)state;
	assert_null(acme_cluster_path(s));
	json_t *c = json_pack("{s:s}", "path", "https://trove.test:8200/v1/pki//");
	assert_int_equal(kv_put_json(s, ACME_CLUSTER_CONFIG, c), 0);
	json_decref(c);
	char *p = acme_cluster_path(s);
	assert_string_equal(p, "https://trove.test:8200/v1/pki");
	free(p);
	storage_free(s);
}

static void test_records(void **state)
{
	struct storage *s = storage_inmem_new();
	char rid[ACME_REC_ID_MAX];
	json_t *rec = json_pack("{s:s, s:I}", "status", "pending", "expires", (json_int_t)1000), *got = NULL;
	(void)state;
	acme_rec_id(rid, "acct", "order-1");
	assert_string_equal(rid, "acct/order-1");
	assert_int_equal(acme_put(s, ACME_ORDER_PREFIX, rid, rec), 0);
	assert_int_equal(acme_get(s, ACME_ORDER_PREFIX, rid, &got), 0);
	assert_true(json_equal(rec, got));
	json_decref(got);
	assert_int_equal(acme_get(s, ACME_ORDER_PREFIX, "other/order-1", &got), TROVE_ERR_NOT_FOUND);
	assert_int_equal(acme_get(s, ACME_ORDER_PREFIX, "", &got), TROVE_ERR_NOT_FOUND);
	assert_false(acme_expired(rec, 999));
	assert_true(acme_expired(rec, 1000));
	json_object_set_new(rec, "expires", json_integer(0)); /* no expiry */
	assert_false(acme_expired(rec, 1 << 30));
	json_decref(rec);
	storage_free(s);
}

/* key-change's inner JWS: a jwk, the url, no nonce, no kid. */
static void test_key_change_inner(void **state)
{
	EVP_PKEY *k = test_acme_key("ES256");
	json_t *jwk = test_acme_jwk(k);
	struct acme_jws jws;
	struct buf err;
	(void)state;
	buf_init(&err, 256);
	struct {
		json_t *hdr;
		int want;
	} cases[] = {
	    {json_pack("{s:s, s:O, s:s}", "alg", "ES256", "jwk", jwk, "url", "https://t/acme/key-change"), 0},
	    {json_pack("{s:s, s:O, s:s, s:s}", "alg", "ES256", "jwk", jwk, "url", "u", "nonce", "n"),
	     TROVE_ERR_INVALID},
	    {json_pack("{s:s, s:s, s:s}", "alg", "ES256", "kid", "k", "url", "u"), TROVE_ERR_INVALID},
	    {json_pack("{s:s, s:O}", "alg", "ES256", "jwk", jwk), TROVE_ERR_INVALID},
	    {json_pack("{s:s, s:O, s:s}", "alg", "HS256", "jwk", jwk, "url", "u"), TROVE_ERR_INVALID},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = test_acme_jws(k, "ES256", cases[i].hdr, "{}");
		json_t *obj = json_loads(body, 0, NULL);
		buf_reset(&err);
		assert_int_equal(acme_jws_parse_object(obj, ACME_JWS_KEY_CHANGE, &jws, &err), cases[i].want);
		if (cases[i].want == 0) {
			assert_non_null(jws.jwk_key);
			assert_null(jws.nonce);
			assert_int_equal(acme_jws_verify(&jws, NULL, &err), 0);
		}
		acme_jws_release(&jws);
		json_decref(obj);
		json_decref(cases[i].hdr);
		free(body);
	}
	buf_release(&err);
	json_decref(jwk);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_window),      cmocka_unit_test(test_config_defaults),
	    cmocka_unit_test(test_cluster_path),     cmocka_unit_test(test_records),
	    cmocka_unit_test(test_key_change_inner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
