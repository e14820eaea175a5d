/* test_agent_cache.c — the agent's lease cache: keys tell requests apart,
 * what is kept and what is not (Vault Agent's rules), hits, revocations
 * through the proxy and cache-clear of every type evict what they should
 * (a token with everything under it), renewals are handed out when due and
 * their outcome keeps or evicts, and the entry and body bounds hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent_cache.h"
#include "err.h"

#include "banned.h"

static struct agent_cache_req req(const char *token, const char *method, const char *path, const char *body)
{
	struct agent_cache_req r = { token, NULL, method, path, NULL, body, body ? strlen(body) : 0 };
	return r;
}

/* A leased answer (renewable, ttl seconds). */
static json_t *lease_answer(const char *lease_id, int ttl)
{
	return json_pack("{s:s, s:b, s:i, s:{s:s}}", "lease_id", lease_id, "renewable", 1, "lease_duration", ttl, "data",
	                 "password", "p");
}

/* A token-creating answer. */
static json_t *auth_answer(const char *token, const char *accessor, bool orphan, int ttl)
{
	return json_pack("{s:s, s:{s:s, s:s, s:b, s:b, s:i}}", "lease_id", "", "auth", "client_token", token, "accessor",
	                 accessor, "orphan", orphan, "renewable", 1, "lease_duration", ttl);
}

/* Offers answer j to request r; returns whether it was kept. */
static bool offer(struct agent_cache *c, const struct agent_cache_req *r, json_t *j, const char *auto_token,
                  int64_t now)
{
	char key[AGENT_CACHE_KEY_LEN + 1];
	char *text = json_dumps(j, JSON_COMPACT);
	bool kept;

	agent_cache_key(r, key);
	kept = agent_cache_offer(c, key, r, auto_token, 200, "application/json", text, strlen(text), j, now);
	free(text);
	json_decref(j);
	return kept;
}

static bool hit(struct agent_cache *c, const struct agent_cache_req *r, int64_t now)
{
	char key[AGENT_CACHE_KEY_LEN + 1];
	struct agent_cache_hit h;
	bool found;

	agent_cache_key(r, key);
	found = agent_cache_get(c, key, now, &h);
	if (found) {
		assert_int_equal(h.status, 200);
		assert_string_equal(h.content_type, "application/json");
		assert_true(h.body.len > 0);
	}
	agent_cache_hit_release(&h);
	return found;
}

static void test_keys(void **state)
{
	char a[AGENT_CACHE_KEY_LEN + 1], b[AGENT_CACHE_KEY_LEN + 1];
	struct agent_cache_req r = req("t1", "PUT", "/v1/auth/token/create", "{}");
	struct agent_cache_req s = r;

	(void)state;
	assert_true(agent_cache_key(&r, a));
	assert_true(agent_cache_key(&s, b));
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), AGENT_CACHE_KEY_LEN);
	/* The key is hex SHA-256 over the fields, each after its 8-byte
	 * big-endian length (token, namespace, method, path, query, body). */
	assert_string_equal(a, "612c7b5c6f9517a5af3baba374f68a85e83a9c4278ce1345b5722113b8a6bbe9");
	s.token = "t2";
	agent_cache_key(&s, b);
	assert_string_not_equal(a, b);
	s = r;
	s.method = "POST";
	agent_cache_key(&s, b);
	assert_string_not_equal(a, b);
	s = r;
	s.query = "x=1";
	agent_cache_key(&s, b);
	assert_string_not_equal(a, b);
	s = r;
	s.body = "{ }";
	s.body_len = 3;
	agent_cache_key(&s, b);
	assert_string_not_equal(a, b);
	s = r;
	s.namespace_name = "ns1/";
	agent_cache_key(&s, b);
	assert_string_not_equal(a, b);
	/* Fields are length-prefixed: moving a byte between two is another key. */
	s = req("t1P", "UT", "/v1/auth/token/create", "{}");
	agent_cache_key(&s, b);
	assert_string_not_equal(a, b);
}

static void test_what_is_kept(void **state)
{
	struct agent_cache *c = agent_cache_new(0, 0);
	struct agent_cache_req create = req("root", "PUT", "/v1/auth/token/create", "{}");
	struct agent_cache_req orphan = req("root", "PUT", "/v1/auth/token/create-orphan", "{}");
	struct agent_cache_req lease = req("child", "GET", "/v1/database/creds/r", NULL);
	struct agent_cache_req lease2 = req("other", "GET", "/v1/database/creds/r", NULL);
	struct agent_cache_req lease3 = req("auto", "GET", "/v1/database/creds/r", NULL);
	char key[AGENT_CACHE_KEY_LEN + 1];
	json_t *j;
	char *text;

	(void)state;
	/* A child token of an unmanaged parent is not kept; an orphan is. */
	assert_false(offer(c, &create, auth_answer("child0", "acc0", false, 60), NULL, 0));
	assert_true(offer(c, &orphan, auth_answer("child", "acc1", true, 60), NULL, 0));
	assert_true(hit(c, &orphan, 1));
	assert_false(hit(c, &create, 1));
	/* A lease is kept only under a managed token: a cached one or the
	 * auto-auth token. */
	assert_true(offer(c, &lease, lease_answer("database/creds/r/1", 60), NULL, 0));
	assert_false(offer(c, &lease2, lease_answer("database/creds/r/2", 60), NULL, 0));
	assert_true(offer(c, &lease3, lease_answer("database/creds/r/3", 60), "auto", 0));
	assert_int_equal(agent_cache_count(c), 3);
	/* Not kept: static secrets, non-renewable leases, wrapped answers,
	 * errors, non-JSON answers, bodies over the cap. */
	assert_false(offer(c, &lease, json_pack("{s:s, s:{s:s}}", "lease_id", "", "data", "k", "v"), NULL, 0));
	assert_false(offer(c, &lease, json_pack("{s:s, s:b, s:i}", "lease_id", "l/9", "renewable", 0,
	                                        "lease_duration", 60), NULL, 0));
	assert_false(offer(c, &lease, json_pack("{s:s, s:b, s:i, s:{s:s}}", "lease_id", "l/8", "renewable", 1,
	                                        "lease_duration", 60, "wrap_info", "token", "w"), NULL, 0));
	j = lease_answer("l/7", 60);
	text = json_dumps(j, JSON_COMPACT);
	agent_cache_key(&lease, key);
	assert_false(agent_cache_offer(c, key, &lease, NULL, 400, "application/json", text, strlen(text), j, 0));
	assert_false(agent_cache_offer(c, key, &lease, NULL, 200, "text/plain", text, strlen(text), j, 0));
	assert_false(agent_cache_offer(c, key, &lease, NULL, 200, "application/json", text,
	                               AGENT_CACHE_MAX_BODY + 1, j, 0));
	free(text);
	json_decref(j);
	assert_int_equal(agent_cache_count(c), 3);
	agent_cache_free(c);
}

/* root -> orphan token A (child B of A), leases L1 under A, L2 under B. */
static struct agent_cache *tree(void)
{
	struct agent_cache *c = agent_cache_new(0, 0);
	struct agent_cache_req a = req("root", "PUT", "/v1/auth/token/create-orphan", "{}");
	struct agent_cache_req b = req("A", "PUT", "/v1/auth/token/create", "{}");
	struct agent_cache_req l1 = req("A", "GET", "/v1/db/creds/r", NULL);
	struct agent_cache_req l2 = req("B", "GET", "/v1/db/creds/r", NULL);

	assert_true(offer(c, &a, auth_answer("A", "accA", true, 60), NULL, 0));
	assert_true(offer(c, &b, auth_answer("B", "accB", false, 60), NULL, 0));
	assert_true(offer(c, &l1, lease_answer("db/creds/r/L1", 60), NULL, 0));
	assert_true(offer(c, &l2, lease_answer("db/creds/r/L2", 60), NULL, 0));
	assert_int_equal(agent_cache_count(c), 4);
	return c;
}

static void test_revocations(void **state)
{
	struct agent_cache *c;
	struct agent_cache_req r;
	json_t *body;

	(void)state;
	/* revoke a token: it and everything below it */
	c = tree();
	r = req("root", "PUT", "/v1/auth/token/revoke", NULL);
	body = json_pack("{s:s}", "token", "A");
	assert_true(agent_cache_on_revocation(c, &r, body));
	json_decref(body);
	assert_int_equal(agent_cache_count(c), 0);
	agent_cache_free(c);

	/* revoke-self with B: B and L2 */
	c = tree();
	r = req("B", "PUT", "/v1/auth/token/revoke-self", NULL);
	assert_true(agent_cache_on_revocation(c, &r, NULL));
	assert_int_equal(agent_cache_count(c), 2);
	assert_true(hit(c, &(struct agent_cache_req){ "A", NULL, "GET", "/v1/db/creds/r", NULL, NULL, 0 }, 1));
	agent_cache_free(c);

	/* revoke-accessor */
	c = tree();
	r = req("root", "PUT", "/v1/auth/token/revoke-accessor", NULL);
	body = json_pack("{s:s}", "accessor", "accB");
	assert_true(agent_cache_on_revocation(c, &r, body));
	json_decref(body);
	assert_int_equal(agent_cache_count(c), 2);
	agent_cache_free(c);

	/* revoke-orphan A: A and L1 go, B and L2 stay */
	c = tree();
	r = req("root", "PUT", "/v1/auth/token/revoke-orphan", NULL);
	body = json_pack("{s:s}", "token", "A");
	assert_true(agent_cache_on_revocation(c, &r, body));
	json_decref(body);
	assert_int_equal(agent_cache_count(c), 2);
	assert_true(hit(c, &(struct agent_cache_req){ "B", NULL, "GET", "/v1/db/creds/r", NULL, NULL, 0 }, 1));
	agent_cache_free(c);

	/* lease revocations: by body, by path, by prefix */
	c = tree();
	r = req("root", "PUT", "/v1/sys/leases/revoke", NULL);
	body = json_pack("{s:s}", "lease_id", "db/creds/r/L1");
	assert_true(agent_cache_on_revocation(c, &r, body));
	json_decref(body);
	assert_int_equal(agent_cache_count(c), 3);
	r = req("root", "PUT", "/v1/sys/leases/revoke/db/creds/r/L2", NULL);
	assert_true(agent_cache_on_revocation(c, &r, NULL));
	assert_int_equal(agent_cache_count(c), 2);
	agent_cache_free(c);
	c = tree();
	r = req("root", "PUT", "/v1/sys/leases/revoke-prefix/db/creds", NULL);
	assert_true(agent_cache_on_revocation(c, &r, NULL));
	assert_int_equal(agent_cache_count(c), 2);
	r = req("root", "PUT", "/v1/sys/leases/revoke-force/nothing", NULL);
	assert_true(agent_cache_on_revocation(c, &r, NULL));
	assert_int_equal(agent_cache_count(c), 2);
	/* not a revocation */
	r = req("root", "PUT", "/v1/sys/leases/renew", NULL);
	assert_false(agent_cache_on_revocation(c, &r, NULL));
	r = req("root", "PUT", "/v1/auth/token/revoke-selfish", NULL);
	assert_false(agent_cache_on_revocation(c, &r, NULL));
	assert_int_equal(agent_cache_count(c), 2);
	agent_cache_free(c);
}

static void test_clear(void **state)
{
	struct agent_cache *c;
	const char *why;
	size_t n;

	(void)state;
	c = tree();
	assert_int_equal(agent_cache_clear(c, "bogus", "x", NULL, &n, &why), TROVE_ERR_INVALID);
	assert_non_null(why);
	assert_int_equal(agent_cache_clear(c, NULL, "x", NULL, &n, &why), TROVE_ERR_INVALID);
	assert_int_equal(agent_cache_clear(c, "token", "", NULL, &n, &why), TROVE_ERR_INVALID);
	assert_int_equal(agent_cache_count(c), 4);
	assert_int_equal(agent_cache_clear(c, "lease", "db/creds/r/L2", NULL, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(agent_cache_clear(c, "lease", "db/creds/r", NULL, &n, &why), 0);
	assert_int_equal(n, 0); /* leases match exactly */
	assert_int_equal(agent_cache_clear(c, "token_accessor", "accB", NULL, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(agent_cache_clear(c, "token", "A", NULL, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(agent_cache_count(c), 0);
	agent_cache_free(c);

	c = tree();
	assert_int_equal(agent_cache_clear(c, "request_path", "/v1/db/creds", "ns1/", &n, &why), 0);
	assert_int_equal(n, 0); /* another namespace */
	assert_int_equal(agent_cache_clear(c, "request_path", "/v1/db/creds", NULL, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(agent_cache_clear(c, "all", NULL, NULL, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(agent_cache_count(c), 0);
	agent_cache_free(c);
}

static void test_renewals(void **state)
{
	struct agent_cache *c = agent_cache_new(0, 0.5);
	struct agent_cache_req a = req("root", "PUT", "/v1/auth/token/create-orphan", "{}");
	struct agent_cache_req l1 = req("A", "GET", "/v1/db/creds/r", NULL);
	struct agent_cache_renewal r, r2;

	(void)state;
	assert_true(offer(c, &a, auth_answer("A", "accA", true, 100), NULL, 1000));
	assert_true(offer(c, &l1, lease_answer("db/creds/r/L1", 40), NULL, 1000));
	assert_int_equal(agent_cache_next_due(c), 1020); /* half of 40 s */
	assert_false(agent_cache_take_due(c, 1019, &r));
	assert_true(agent_cache_take_due(c, 1020, &r));
	assert_false(r.is_token);
	assert_string_equal(r.token, "A");
	assert_string_equal(r.lease_id, "db/creds/r/L1");
	assert_int_equal(r.increment, 40);
	assert_false(agent_cache_take_due(c, 1020, &r2)); /* in progress */
	agent_cache_renewed(c, &r, true, 40, 1021);
	agent_cache_renewal_release(&r);
	assert_int_equal(agent_cache_next_due(c), 1041);

	assert_true(agent_cache_take_due(c, 1041, &r)); /* the lease again */
	assert_false(r.is_token);
	agent_cache_renewed(c, &r, true, 40, 1041);
	agent_cache_renewal_release(&r);

	/* the token (due at 1050): renewed with itself */
	assert_true(agent_cache_take_due(c, 1050, &r));
	assert_true(r.is_token);
	assert_string_equal(r.token, "A");
	assert_null(r.lease_id);
	/* a renewal that falls short: kept until it ends, then evicted */
	agent_cache_renewed(c, &r, true, 10, 1050);
	agent_cache_renewal_release(&r);
	assert_int_equal(agent_cache_count(c), 2);
	assert_int_equal(agent_cache_next_due(c), 1060);
	assert_false(agent_cache_take_due(c, 1059, &r));
	/* the token ends at 1060: it goes, with the lease under it */
	assert_false(agent_cache_take_due(c, 1060, &r2));
	assert_int_equal(agent_cache_count(c), 0);
	assert_int_equal(agent_cache_next_due(c), INT64_MAX);

	/* a failed renewal evicts */
	assert_true(offer(c, &a, auth_answer("A", "accA", true, 100), NULL, 0));
	assert_true(agent_cache_take_due(c, 50, &r));
	agent_cache_renewed(c, &r, false, 0, 50);
	agent_cache_renewal_release(&r);
	assert_int_equal(agent_cache_count(c), 0);
	/* an expired entry is not served */
	assert_true(offer(c, &a, auth_answer("A", "accA", true, 100), NULL, 0));
	assert_true(hit(c, &a, 99));
	assert_false(hit(c, &a, 100));
	assert_int_equal(agent_cache_count(c), 0);
	agent_cache_free(c);
}

static void test_bounds(void **state)
{
	struct agent_cache *c = agent_cache_new(3, 0);
	struct agent_cache_req r[5];
	char paths[5][32];

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/v1/auth/token/create-orphan/%d", i);
		r[i] = req("root", "PUT", paths[i], "{}");
	}
	assert_true(offer(c, &r[0], auth_answer("T0", "a0", true, 60), NULL, 0));
	assert_true(offer(c, &r[1], auth_answer("T1", "a1", true, 60), NULL, 0));
	assert_true(offer(c, &r[2], auth_answer("T2", "a2", true, 60), NULL, 0));
	assert_true(hit(c, &r[0], 1)); /* 0 is now the most recent */
	assert_true(offer(c, &r[3], auth_answer("T3", "a3", true, 60), NULL, 0));
	assert_int_equal(agent_cache_count(c), 3);
	assert_false(hit(c, &r[1], 1)); /* the least recently used went */
	assert_true(hit(c, &r[0], 1));
	assert_true(hit(c, &r[2], 1));
	assert_true(hit(c, &r[3], 1));
	/* the same request again replaces its entry */
	assert_true(offer(c, &r[3], auth_answer("T3b", "a3b", true, 60), NULL, 2));
	assert_int_equal(agent_cache_count(c), 3);
	agent_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),        cmocka_unit_test(test_what_is_kept), cmocka_unit_test(test_revocations),
		cmocka_unit_test(test_clear),       cmocka_unit_test(test_renewals),     cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
