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

/* tidy_acme (acme_tidy) at a chosen time: an order goes once its
 * certificate's notAfter + the certificate buffer has passed, or without
 * a certificate once it expired, with its authorizations and its
 * acme/certs/ entry; an account left with nothing is revoked after the
 * account buffer and deleted (with its thumbprint) a buffer later; an
 * account with a live order stays; old unused EAB keys go. */
#define T0 INT64_C(1800000000) /* 2027-01-15T08:00:00Z */
#define DAY INT64_C(86400)

static void put_rec(struct storage *s, const char *prefix, const char *id, json_t *rec)
{
	assert_non_null(rec);
	assert_int_equal(acme_put(s, prefix, id, rec), 0);
	json_decref(rec);
}

static bool has(struct storage *s, const char *prefix, const char *id)
{
	json_t *rec = NULL;
	int r = acme_get(s, prefix, id, &rec);
	json_decref(rec);
	return r == 0;
}

static const char *acct_status(struct storage *s, const char *id, char out[32])
{
	json_t *rec = NULL;
	assert_int_equal(acme_get(s, ACME_ACCOUNT_PREFIX, id, &rec), 0);
	snprintf(out, 32, "%s", json_string_value(json_object_get(rec, "status")));
	json_decref(rec);
	return out;
}

static void test_tidy(void **state)
{
	struct storage *s = storage_inmem_new();
	struct acme_tidy_counts n = {0};
	char st[32];
	(void)state;
	/* account a: an order with a certificate, an order that expired unfinished */
	put_rec(s, ACME_ACCOUNT_PREFIX, "a", json_pack("{s:s, s:s, s:s, s:s}", "id", "a", "status", "valid",
	                                                "thumbprint", "tpa", "created_on", "2027-01-01T00:00:00Z"));
	put_rec(s, ACME_THUMB_PREFIX, "tpa", json_pack("{s:s}", "id", "a"));
	put_rec(s, ACME_ORDER_PREFIX, "a/o1",
	        json_pack("{s:s, s:I, s:[s], s:s, s:I}", "id", "o1", "expires", (json_int_t)(T0 + DAY), "authorizations",
	                  "z1", "serial", "0a:0b", "cert_expiry", (json_int_t)(T0 + 2 * DAY)));
	put_rec(s, ACME_AUTHZ_PREFIX, "a/z1", json_pack("{s:s}", "id", "z1"));
	put_rec(s, ACME_CERT_PREFIX, "0a-0b", json_pack("{s:s}", "account", "a"));
	put_rec(s, ACME_ORDER_PREFIX, "a/o2", json_pack("{s:s, s:I, s:[s], s:s}", "id", "o2", "expires",
	                                               (json_int_t)(T0 - 1), "authorizations", "z2", "serial", ""));
	put_rec(s, ACME_AUTHZ_PREFIX, "a/z2", json_pack("{s:s}", "id", "z2"));
	/* account b: a certificate that lives long */
	put_rec(s, ACME_ACCOUNT_PREFIX, "b", json_pack("{s:s, s:s, s:s, s:s}", "id", "b", "status", "valid",
	                                                "thumbprint", "tpb", "created_on", "2027-01-01T00:00:00Z"));
	put_rec(s, ACME_ORDER_PREFIX, "b/o3",
	        json_pack("{s:s, s:I, s:[], s:s, s:I}", "id", "o3", "expires", (json_int_t)(T0 + DAY), "authorizations",
	                  "serial", "0c", "cert_expiry", (json_int_t)(T0 + 400 * DAY)));
	/* EAB keys: one old, one new */
	put_rec(s, ACME_EAB_PREFIX, "e-old", json_pack("{s:s}", "created_on", "2026-01-01T00:00:00Z"));
	put_rec(s, ACME_EAB_PREFIX, "e-new", json_pack("{s:s}", "created_on", "2027-01-15T00:00:00Z"));

	/* now: only the unfinished order is due (buffers 1 day, 30 days) */
	assert_int_equal(acme_tidy(s, NULL, T0, DAY, 30 * DAY, &n, NULL, NULL), 0);
	assert_int_equal(n.accounts, 2);
	assert_int_equal(n.orders_deleted, 1);
	assert_int_equal(n.accounts_revoked + n.accounts_deleted, 0);
	assert_false(has(s, ACME_ORDER_PREFIX, "a/o2"));
	assert_false(has(s, ACME_AUTHZ_PREFIX, "a/z2"));
	assert_true(has(s, ACME_ORDER_PREFIX, "a/o1") && has(s, ACME_AUTHZ_PREFIX, "a/z1"));
	assert_false(has(s, ACME_EAB_PREFIX, "e-old"));
	assert_true(has(s, ACME_EAB_PREFIX, "e-new"));

	/* the certificate expired, but not its buffer: kept */
	memset(&n, 0, sizeof(n));
	assert_int_equal(acme_tidy(s, NULL, T0 + 2 * DAY + 10, DAY, 30 * DAY, &n, NULL, NULL), 0);
	assert_int_equal(n.orders_deleted, 0);
	/* past it: the order, its authorization and its serial's entry go;
	 * account a is not yet past the account buffer after the certificate */
	assert_int_equal(acme_tidy(s, NULL, T0 + 3 * DAY + 10, DAY, 30 * DAY, &n, NULL, NULL), 0);
	assert_int_equal(n.orders_deleted, 1);
	assert_false(has(s, ACME_ORDER_PREFIX, "a/o1") || has(s, ACME_AUTHZ_PREFIX, "a/z1") ||
	             has(s, ACME_CERT_PREFIX, "0a-0b"));
	assert_string_equal(acct_status(s, "a", st), "valid");

	/* 30 days after the certificate: a is revoked, b (live order) is not */
	memset(&n, 0, sizeof(n));
	int64_t later = T0 + 33 * DAY;
	assert_int_equal(acme_tidy(s, NULL, later, DAY, 30 * DAY, &n, NULL, NULL), 0);
	assert_int_equal(n.accounts_revoked, 1);
	assert_int_equal(n.accounts_deleted, 0);
	assert_string_equal(acct_status(s, "a", st), "revoked");
	assert_string_equal(acct_status(s, "b", st), "valid");
	/* a second run soon after leaves it; a buffer later it is deleted */
	assert_int_equal(acme_tidy(s, NULL, later + DAY, DAY, 30 * DAY, &n, NULL, NULL), 0);
	assert_int_equal(n.accounts_deleted, 0);
	assert_int_equal(acme_tidy(s, NULL, later + 31 * DAY, DAY, 30 * DAY, &n, NULL, NULL), 0);
	assert_int_equal(n.accounts_deleted, 1);
	assert_false(has(s, ACME_ACCOUNT_PREFIX, "a"));
	assert_false(has(s, ACME_THUMB_PREFIX, "tpa"));
	assert_true(has(s, ACME_ACCOUNT_PREFIX, "b") && has(s, ACME_ORDER_PREFIX, "b/o3"));

	/* cancelled before the first account: nothing counted */
	atomic_bool cancel;
	atomic_init(&cancel, true);
	memset(&n, 0, sizeof(n));
	assert_int_equal(acme_tidy(s, NULL, later + 500 * DAY, DAY, 30 * DAY, &n, NULL, &cancel), 0);
	assert_int_equal(n.accounts, 0);
	assert_true(has(s, ACME_ORDER_PREFIX, "b/o3"));
	storage_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_window),      cmocka_unit_test(test_config_defaults),
	    cmocka_unit_test(test_cluster_path),     cmocka_unit_test(test_records),
	    cmocka_unit_test(test_key_change_inner), cmocka_unit_test(test_tidy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
