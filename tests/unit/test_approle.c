/* test_approle.c — auth/approle in isolation, against inmem storage.
 *
 * The secret ID model (approle_secret.c): the HMAC under the mount's salt
 * is the only form stored, a tampered entry fails the constant-time
 * check, uses are counted exactly (also under concurrent spending),
 * expiry follows an injected clock, tidy removes expired, orphaned and
 * dangling entries. The helpers: CIDR subsets, metadata forms, time
 * format. And the role and secret-id handlers through the engine's route
 * table with a small harness standing in for the router (login needs a
 * core and is covered by tests/integration/test_approle.py). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/approle.h"
#include "auth/auth.h"
#include "buf.h"
#include "clock.h"
#include "core/request.h"
#include "core/router.h"
#include "err.h"
#include "storage/storage.h"

#include "route_call.h"

#include "banned.h"

static const char DIR_A[] = "0123456789abcdef0123456789abcdef";
static const char DIR_B[] = "fedcba9876543210fedcba9876543210";

/* --- the clock ------------------------------------------------------------ */

static int64_t fake_now;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}
static const struct clock fake = {fake_clock, NULL};

/* --- storage helpers ------------------------------------------------------ */

/* Every key under prefix, recursively. */
static void all_keys(struct storage *s, const char *prefix, struct strlist *out)
{
	struct strlist kids;
	strlist_init(&kids);
	assert_int_equal(storage_list(s, prefix, &kids), 0);
	for (size_t i = 0; i < kids.len; i++) {
		char key[1024];
		snprintf(key, sizeof(key), "%s%s", prefix, kids.items[i]);
		size_t n = strlen(key);
		if (n > 0 && key[n - 1] == '/')
			all_keys(s, key, out);
		else
			strlist_push(out, key);
	}
	strlist_release(&kids);
}

/* Fails if needle occurs in any key or value of s. */
static void assert_nowhere(struct storage *s, const char *needle)
{
	struct strlist keys;
	strlist_init(&keys);
	all_keys(s, "", &keys);
	assert_true(keys.len > 0);
	for (size_t i = 0; i < keys.len; i++) {
		unsigned char *v = NULL;
		size_t len = 0;
		if (strstr(keys.items[i], needle))
			fail_msg("%s found in key %s", needle, keys.items[i]);
		assert_int_equal(storage_get(s, keys.items[i], &v, &len), 0);
		if (memmem(v, len, needle, strlen(needle)))
			fail_msg("%s found in the value of %s", needle, keys.items[i]);
		free(v);
	}
	strlist_release(&keys);
}

static bool exists(struct storage *s, const char *key)
{
	unsigned char *v = NULL;
	size_t len = 0;
	int r = storage_get(s, key, &v, &len);
	free(v);
	assert_true(r == 0 || r == TROVE_ERR_NOT_FOUND);
	return r == 0;
}

static void new_secret(struct storage *s, const unsigned char *salt, const char *dir, const char *secret,
                       int64_t num_uses, int64_t ttl, struct approle_secret *e)
{
	approle_secret_init(e);
	e->num_uses = num_uses;
	e->ttl = ttl;
	assert_int_equal(approle_secret_register(s, NULL, salt, dir, secret, e), 0);
}

/* --- hashing and salt ------------------------------------------------------ */

static void test_hash(void **state)
{
	(void)state;
	unsigned char s1[APPROLE_SALT_LEN], s2[APPROLE_SALT_LEN];
	char a[APPROLE_HASH_HEX + 1], b[APPROLE_HASH_HEX + 1];
	memset(s1, 1, sizeof(s1));
	memset(s2, 2, sizeof(s2));

	approle_hash(s1, "d", "secret", a);
	assert_int_equal(strlen(a), APPROLE_HASH_HEX);
	assert_int_equal(strspn(a, "0123456789abcdef"), APPROLE_HASH_HEX);
	approle_hash(s1, "d", "secret", b);
	assert_string_equal(a, b);
	approle_hash(s2, "d", "secret", b); /* another mount's salt */
	assert_string_not_equal(a, b);
	approle_hash(s1, "e", "secret", b); /* another domain (role) */
	assert_string_not_equal(a, b);
	approle_hash(s1, "ab", "c", a); /* the separator keeps domain and value apart */
	approle_hash(s1, "a", "bc", b);
	assert_string_not_equal(a, b);

	/* Inputs longer than the stack buffer. */
	char *big = malloc(3 * APPROLE_INPUT_MAX);
	memset(big, 'x', 3 * APPROLE_INPUT_MAX - 1);
	big[3 * APPROLE_INPUT_MAX - 1] = '\0';
	approle_hash(s1, "d", big, a);
	big[0] = 'y';
	approle_hash(s1, "d", big, b);
	assert_string_not_equal(a, b);
	free(big);
}

static void test_salt(void **state)
{
	(void)state;
	struct storage *s = storage_inmem_new();
	unsigned char a[APPROLE_SALT_LEN], b[APPROLE_SALT_LEN], zero[APPROLE_SALT_LEN] = {0};
	assert_int_equal(approle_salt_load(s, a), 0);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(approle_salt_load(s, b), 0);
	assert_memory_equal(a, b, sizeof(a)); /* made once, then kept */

	struct storage *s2 = storage_inmem_new();
	assert_int_equal(approle_salt_load(s2, b), 0);
	assert_memory_not_equal(a, b, sizeof(a)); /* per mount */

	assert_int_equal(storage_put(s2, APPROLE_SALT_KEY, "short", 5), 0);
	assert_int_equal(approle_salt_load(s2, b), TROVE_ERR_INTEGRITY);
	storage_free(s);
	storage_free(s2);
}

/* --- secret IDs ------------------------------------------------------------ */

static void test_secret_stored_only_as_hmac(void **state)
{
	(void)state;
	struct storage *s = storage_inmem_new();
	unsigned char salt[APPROLE_SALT_LEN];
	struct approle_secret e, got, dup;
	const char *secret = "b2c3f1aa-1111-4222-8333-944455556666";
	char h[APPROLE_HASH_HEX + 1], key[APPROLE_KEY_MAX];

	assert_int_equal(approle_salt_load(s, salt), 0);
	approle_secret_init(&e);
	e.num_uses = 0;
	assert_int_equal(json_object_set_new(e.metadata, "team", json_string("blue")), 0);
	assert_int_equal(approle_secret_register(s, NULL, salt, DIR_A, secret, &e), 0);
	approle_hash(salt, DIR_A, secret, h);
	assert_string_equal(e.hmac, h);
	assert_int_equal(strlen(e.accessor), APPROLE_UUID_LEN);
	assert_nowhere(s, secret);

	/* Found by its HMAC and by its accessor, only under its own role. */
	approle_secret_init(&got);
	assert_int_equal(approle_secret_load(s, DIR_A, h, &got), 0);
	assert_string_equal(got.accessor, e.accessor);
	assert_string_equal(json_string_value(json_object_get(got.metadata, "team")), "blue");
	approle_secret_release(&got);
	approle_secret_init(&got);
	assert_int_equal(approle_secret_by_accessor(s, salt, DIR_A, e.accessor, &got), 0);
	assert_string_equal(got.hmac, h);
	approle_secret_release(&got);
	approle_secret_init(&got);
	assert_int_equal(approle_secret_by_accessor(s, salt, DIR_B, e.accessor, &got), TROVE_ERR_NOT_FOUND);
	assert_int_equal(approle_secret_load(s, DIR_B, h, &got), TROVE_ERR_NOT_FOUND);
	approle_secret_release(&got);

	/* The same secret ID again for the role: refused. */
	approle_secret_init(&dup);
	assert_int_equal(approle_secret_register(s, NULL, salt, DIR_A, secret, &dup), TROVE_ERR_CONFLICT);
	approle_secret_release(&dup);

	/* An entry whose recorded HMAC differs from its key fails the
	 * constant-time comparison. */
	json_t *j = approle_secret_to_store(&e);
	json_object_set_new(j, "hmac",
	                    json_string("0000000000000000000000000000000000000000000000000000000000000000"));
	approle_secret_key(DIR_A, h, key);
	assert_int_equal(approle_put_json(s, key, j), 0);
	json_decref(j);
	approle_secret_init(&got);
	assert_int_equal(approle_secret_load(s, DIR_A, h, &got), TROVE_ERR_INTEGRITY);
	approle_secret_release(&got);

	/* Destroy takes entry and accessor index together. */
	j = approle_secret_to_store(&e);
	assert_int_equal(approle_put_json(s, key, j), 0);
	json_decref(j);
	assert_int_equal(approle_secret_destroy(s, NULL, salt, DIR_A, h), 0);
	assert_false(exists(s, key));
	approle_accessor_key(salt, e.accessor, key);
	assert_false(exists(s, key));
	assert_int_equal(approle_secret_destroy(s, NULL, salt, DIR_A, h), 0); /* again: fine */
	approle_secret_release(&e);
	storage_free(s);
}

static void test_num_uses(void **state)
{
	(void)state;
	struct storage *s = storage_inmem_new();
	unsigned char salt[APPROLE_SALT_LEN];
	struct approle_secret e, got;
	char key[APPROLE_KEY_MAX], akey[APPROLE_KEY_MAX];

	assert_int_equal(approle_salt_load(s, salt), 0);
	new_secret(s, salt, DIR_A, "three-uses", 3, 0, &e);
	approle_secret_key(DIR_A, e.hmac, key);
	approle_accessor_key(salt, e.accessor, akey);
	for (int64_t left = 2; left >= 1; left--) {
		assert_int_equal(approle_secret_spend(s, NULL, salt, DIR_A, e.hmac, approle_now_ns()), 0);
		approle_secret_init(&got);
		assert_int_equal(approle_secret_load(s, DIR_A, e.hmac, &got), 0);
		assert_int_equal(got.num_uses, left);
		approle_secret_release(&got);
	}
	/* The last use succeeds and removes the secret ID ... */
	assert_int_equal(approle_secret_spend(s, NULL, salt, DIR_A, e.hmac, approle_now_ns()), 0);
	assert_false(exists(s, key));
	assert_false(exists(s, akey));
	/* ... so the next one fails. */
	assert_int_equal(approle_secret_spend(s, NULL, salt, DIR_A, e.hmac, approle_now_ns()),
	                 TROVE_ERR_PERMISSION);
	approle_secret_release(&e);
	storage_free(s);
}

/* A storage whose reads are slow (inmem underneath): it widens the window
 * between reading an entry and writing it back, where an unlocked
 * read-decrement-write would let two spenders take the same use. */
static int slow_get(struct storage *s, const char *key, unsigned char **out, size_t *out_len)
{
	int r = storage_get(s->impl, key, out, out_len);
	usleep(200);
	return r;
}
static int slow_put(struct storage *s, const char *key, const void *v, size_t len)
{
	return storage_put(s->impl, key, v, len);
}
static int slow_del(struct storage *s, const char *key)
{
	return storage_delete(s->impl, key);
}
static int slow_list(struct storage *s, const char *prefix, struct strlist *out)
{
	return storage_list(s->impl, prefix, out);
}
static int slow_txn(struct storage *s, const struct storage_op *ops, size_t n)
{
	return storage_txn(s->impl, ops, n);
}
static void slow_destroy(struct storage *s)
{
	storage_free(s->impl);
	free(s);
}
static const struct storage_ops slow_ops = {"slow",    slow_get, slow_put,    slow_del,
                                            slow_list, slow_txn, slow_destroy};

static struct storage *slow_storage_new(void)
{
	struct storage *s = calloc(1, sizeof(*s));
	s->ops = &slow_ops;
	s->impl = storage_inmem_new();
	return s;
}

struct spender {
	struct storage *s;
	const unsigned char *salt;
	const char *hmac;
	int won;
};

static void *spend_loop(void *arg)
{
	struct spender *sp = arg;
	for (int i = 0; i < 25; i++)
		if (approle_secret_spend(sp->s, NULL, sp->salt, DIR_A, sp->hmac, approle_now_ns()) == 0)
			sp->won++;
	return NULL;
}

static void test_num_uses_concurrent(void **state)
{
	(void)state;
	enum { THREADS = 8, USES = 37 };
	struct storage *s = slow_storage_new();
	unsigned char salt[APPROLE_SALT_LEN];
	struct approle_secret e;
	pthread_t t[THREADS];
	struct spender sp[THREADS];
	int total = 0;

	assert_int_equal(approle_salt_load(s, salt), 0);
	new_secret(s, salt, DIR_A, "contended", USES, 0, &e);
	for (int i = 0; i < THREADS; i++) {
		sp[i] = (struct spender){s, salt, e.hmac, 0};
		assert_int_equal(pthread_create(&t[i], NULL, spend_loop, &sp[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		total += sp[i].won;
	}
	assert_int_equal(total, USES); /* 200 tries, exactly USES spent */
	approle_secret_release(&e);
	storage_free(s);
}

static void test_expiry_and_tidy(void **state)
{
	(void)state;
	struct storage *s = storage_inmem_new();
	unsigned char salt[APPROLE_SALT_LEN];
	struct approle_secret shortlived, forever, orphan, got;
	struct approle_tidy_stats st;
	char key[APPROLE_KEY_MAX];

	fake_now = 1700000000LL * 1000000000LL;
	approle_set_clock(&fake);
	assert_int_equal(approle_now_ns(), fake_now);
	assert_int_equal(approle_salt_load(s, salt), 0);

	/* A live role owning DIR_A; DIR_B belongs to no role. */
	struct approle_role role;
	approle_role_init(&role);
	snprintf(role.name, sizeof(role.name), "live");
	snprintf(role.dir, sizeof(role.dir), "%s", DIR_A);
	role.role_id = strdup("rid");
	json_t *rj = approle_role_to_store(&role);
	assert_int_equal(approle_put_json(s, APPROLE_ROLE_PREFIX "live", rj), 0);
	json_decref(rj);
	approle_role_release(&role);

	new_secret(s, salt, DIR_A, "short", 5, 10, &shortlived);
	new_secret(s, salt, DIR_A, "forever", 0, 0, &forever);
	new_secret(s, salt, DIR_B, "orphan", 0, 0, &orphan);
	assert_int_equal(shortlived.expiration_ns, fake_now + 10LL * 1000000000LL);
	assert_int_equal(forever.expiration_ns, 0);

	fake_now += 9LL * 1000000000LL;
	assert_false(approle_secret_expired(&shortlived, approle_now_ns()));
	assert_int_equal(approle_secret_spend(s, NULL, salt, DIR_A, shortlived.hmac, approle_now_ns()), 0);
	fake_now += 1LL * 1000000000LL;
	assert_true(approle_secret_expired(&shortlived, approle_now_ns()));
	assert_false(approle_secret_expired(&forever, approle_now_ns()));
	/* Expired: refused, though still stored until tidy. */
	assert_int_equal(approle_secret_spend(s, NULL, salt, DIR_A, shortlived.hmac, approle_now_ns()),
	                 TROVE_ERR_PERMISSION);
	approle_secret_init(&got);
	assert_int_equal(approle_secret_load(s, DIR_A, shortlived.hmac, &got), 0);
	assert_int_equal(got.num_uses, 4);
	approle_secret_release(&got);

	/* A dangling accessor index. */
	json_t *dangling = json_pack("{s:s, s:s}", "dir", DIR_A, "secret_id_hmac",
	                             "1111111111111111111111111111111111111111111111111111111111111111");
	assert_int_equal(approle_put_json(s, APPROLE_ACCESSOR_PREFIX "dangling", dangling), 0);
	json_decref(dangling);

	assert_int_equal(approle_tidy(s, NULL, salt, approle_now_ns(), &st), 0);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.orphaned, 1);
	assert_int_equal(st.accessors, 1);
	approle_secret_key(DIR_A, shortlived.hmac, key);
	assert_false(exists(s, key));
	approle_secret_key(DIR_B, orphan.hmac, key);
	assert_false(exists(s, key));
	approle_accessor_key(salt, orphan.accessor, key);
	assert_false(exists(s, key));
	assert_false(exists(s, APPROLE_ACCESSOR_PREFIX "dangling"));
	approle_secret_key(DIR_A, forever.hmac, key);
	assert_true(exists(s, key));
	approle_accessor_key(salt, forever.accessor, key);
	assert_true(exists(s, key));

	/* Nothing left to do the second time. */
	assert_int_equal(approle_tidy(s, NULL, salt, approle_now_ns(), &st), 0);
	assert_int_equal(st.expired + st.orphaned + st.accessors, 0);

	approle_set_clock(NULL);
	approle_secret_release(&shortlived);
	approle_secret_release(&forever);
	approle_secret_release(&orphan);
	storage_free(s);
}

/* --- helpers ----------------------------------------------------------------- */

static void list_of(struct strlist *l, const char *a, const char *b)
{
	strlist_init(l);
	if (a)
		strlist_push(l, a);
	if (b)
		strlist_push(l, b);
}

static void test_cidrs(void **state)
{
	(void)state;
	struct strlist in, out;
	const char *bad = NULL;

	list_of(&in, "10.0.0.0/8", "::1");
	assert_true(approle_cidrs_valid(&in, &bad));
	strlist_release(&in);
	list_of(&in, "10.0.0.0/8", "10.0.0.0/33");
	assert_false(approle_cidrs_valid(&in, &bad));
	assert_string_equal(bad, "10.0.0.0/33");
	strlist_release(&in);
	list_of(&in, "300.0.0.1", NULL);
	assert_false(approle_cidrs_valid(&in, &bad));
	strlist_release(&in);

	struct {
		const char *inner, *outer;
		bool want;
	} cases[] = {
	    {"10.1.0.0/16", "10.0.0.0/8", true},
	    {"10.0.0.0/8", "10.1.0.0/16", false},
	    {"10.1.2.3", "10.0.0.0/8", true},
	    {"11.0.0.1", "10.0.0.0/8", false},
	    {"10.0.0.0/8", "10.0.0.0/8", true},
	    {"127.0.0.1/32", "127.0.0.1", true},
	    {"2001:db8::/48", "2001:db8::/32", true},
	    {"2001:db9::/48", "2001:db8::/32", false},
	    {"10.0.0.0/8", "::/0", false},
	    {"192.168.1.0/25", "192.168.1.0/24", true},
	    {"192.168.1.128/25", "192.168.1.0/25", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		list_of(&in, cases[i].inner, NULL);
		list_of(&out, cases[i].outer, NULL);
		if (approle_cidr_subset(&in, &out) != cases[i].want)
			fail_msg("%s in %s: want %d", cases[i].inner, cases[i].outer, cases[i].want);
		strlist_release(&in);
		strlist_release(&out);
	}
	/* Every inner block must fit; an empty outer list holds anything. */
	list_of(&in, "10.1.0.0/16", "11.0.0.0/8");
	list_of(&out, "10.0.0.0/8", NULL);
	assert_false(approle_cidr_subset(&in, &out));
	strlist_release(&out);
	list_of(&out, "10.0.0.0/8", "11.0.0.0/8");
	assert_true(approle_cidr_subset(&in, &out));
	strlist_release(&out);
	list_of(&out, NULL, NULL);
	assert_true(approle_cidr_subset(&in, &out));
	strlist_release(&out);
	strlist_release(&in);
}

static void md_ok(json_t *in, const char *want)
{
	json_t *out = NULL, *w = json_loads(want, 0, NULL);
	const char *why = NULL;
	assert_int_equal(approle_metadata_parse(in, &out, &why), 0);
	if (!json_equal(out, w)) {
		char *g = json_dumps(out, JSON_SORT_KEYS);
		fail_msg("metadata: got %s, want %s", g, want);
	}
	json_decref(out);
	json_decref(w);
	json_decref(in);
}

static void md_bad(json_t *in)
{
	json_t *out = NULL;
	const char *why = NULL;
	assert_int_equal(approle_metadata_parse(in, &out, &why), TROVE_ERR_INVALID);
	assert_null(out);
	assert_non_null(why);
	json_decref(in);
}

static void test_metadata(void **state)
{
	(void)state;
	md_ok(json_string("{\"team\": \"blue\"}"), "{\"team\": \"blue\"}"); /* hvac's form */
	md_ok(json_pack("{s:s}", "a", "b"), "{\"a\": \"b\"}");
	md_ok(json_string(" k = v ,x=y"), "{\"k\": \"v\", \"x\": \"y\"}");
	md_ok(json_string("  "), "{}");
	md_ok(json_null(), "{}");
	md_ok(NULL, "{}");
	md_bad(json_string("{\"n\": 1}"));
	md_bad(json_string("{not json"));
	md_bad(json_string("novalue"));
	md_bad(json_string("=v"));
	md_bad(json_integer(3));
	md_bad(json_pack("{s:b}", "flag", 1));
}

static void time_is(int64_t ns, const char *want)
{
	json_t *j = approle_time_json(ns);
	assert_string_equal(json_string_value(j), want);
	json_decref(j);
}

static void test_time_format(void **state)
{
	(void)state;
	time_is(0, "0001-01-01T00:00:00Z");
	time_is(1676052447LL * 1000000000LL + 89757383LL, "2023-02-10T18:07:27.089757383Z");
	time_is(1676052447LL * 1000000000LL + 500000000LL, "2023-02-10T18:07:27.5Z");
	time_is(1676052447LL * 1000000000LL, "2023-02-10T18:07:27Z");
}

/* --- handlers through the route table ------------------------------------------ */

/* Matches rel against a route pattern and binds ":name" segments. */
static bool bind(const char *pat, const char *rel, struct request *req)
{
	size_t len = strlen(rel);
	int n0 = req->nparams;
	if (len > 0 && rel[len - 1] == '/')
		len--;
	for (;;) {
		const char *pe = strchr(pat, '/');
		size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
		const char *se = memchr(rel, '/', len);
		size_t sl = se ? (size_t)(se - rel) : len;
		if (pat[0] == ':') {
			if (sl == 0)
				goto no;
			req->param_names[req->nparams] = strndup(pat + 1, pl - 1);
			req->params[req->nparams++] = strndup(rel, sl);
		} else if (pl != sl || memcmp(pat, rel, pl) != 0) {
			goto no;
		}
		if (!pe && !se)
			return true;
		if (!pe || !se)
			goto no;
		len -= sl + 1;
		rel = se + 1;
		pat = pe + 1;
	}
no:
	while (req->nparams > n0) {
		req->nparams--;
		free((char *)req->params[req->nparams]);
		free((char *)req->param_names[req->nparams]);
	}
	return false;
}

/* Runs op on rel with a JSON body (or NULL), as the router would. */
static int run(struct storage *s, enum op op, const char *rel, const char *body, struct response *resp)
{
	struct request req;
	const struct route *route = NULL;
	int r = 0;

	response_init(resp);
	request_init(&req);
	req.op = op;
	req.path = strdup(rel);
	req.rel = req.path;
	req.storage = s;
	snprintf(req.remote_addr, sizeof(req.remote_addr), "127.0.0.1");
	req.data = body ? json_loads(body, 0, NULL) : json_object();
	assert_non_null(req.data);
	for (const struct route *const *t = approle_engine.tables; *t && !route; t++)
		for (const struct route *rt = *t; rt->pattern && !route; rt++)
			if (bind(rt->pattern, rel, &req))
				route = rt;
	assert_non_null(route);
	req.route = route;
	r = route_call(&req, resp);
	request_release(&req);
	return r;
}

static json_t *ok(int r, struct response *resp)
{
	if (r != 0) {
		char *e = resp->errors ? json_dumps(resp->errors, 0) : NULL;
		fail_msg("handler failed %d: %s", r, e ? e : "(no message)");
	}
	return resp->data;
}

static void expect_error(int r, struct response *resp, int want, const char *needle)
{
	assert_int_equal(r, want);
	if (needle) {
		assert_non_null(resp->errors);
		char *e = json_dumps(resp->errors, 0);
		if (!strstr(e, needle))
			fail_msg("error %s should mention %s", e, needle);
		free(e);
	}
}

static char *data_str(struct response *resp, const char *k)
{
	return strdup(json_string_value(json_object_get(resp->data, k)));
}

static void test_handlers(void **state)
{
	(void)state;
	struct storage *s = storage_inmem_new();
	struct response resp;
	int r;

	r = run(s, OP_UPDATE, "role/Web",
	        "{\"token_policies\":\"a,b\",\"secret_id_num_uses\":2,\"secret_id_ttl\":\"1h\"}", &resp);
	ok(r, &resp);
	response_release(&resp);

	r = run(s, OP_READ, "role/web", NULL, &resp);
	json_t *d = ok(r, &resp);
	assert_true(json_is_true(json_object_get(d, "bind_secret_id")));
	assert_int_equal(json_integer_value(json_object_get(d, "secret_id_num_uses")), 2);
	assert_int_equal(json_integer_value(json_object_get(d, "secret_id_ttl")), 3600);
	assert_int_equal(json_array_size(json_object_get(d, "token_policies")), 2);
	assert_null(json_object_get(d, "role_id"));
	response_release(&resp);

	r = run(s, OP_LIST, "role/", NULL, &resp);
	d = ok(r, &resp);
	assert_string_equal(json_string_value(json_array_get(json_object_get(d, "keys"), 0)), "web");
	response_release(&resp);

	r = run(s, OP_READ, "role/web/role-id", NULL, &resp);
	ok(r, &resp);
	char *role_id = data_str(&resp, "role_id");
	assert_int_equal(strlen(role_id), APPROLE_UUID_LEN);
	response_release(&resp);

	/* Role IDs are unique across roles. */
	ok(run(s, OP_UPDATE, "role/api", "{\"token_policies\":\"c\"}", &resp), &resp);
	response_release(&resp);
	char body[256];
	snprintf(body, sizeof(body), "{\"role_id\":\"%s\"}", role_id);
	r = run(s, OP_UPDATE, "role/api/role-id", body, &resp);
	expect_error(r, &resp, TROVE_ERR_INVALID, "role_id already in use");
	response_release(&resp);

	/* A secret ID: generated, looked up, listed, and private to its role. */
	r = run(s, OP_UPDATE, "role/web/secret-id", "{\"metadata\":\"{\\\"k\\\":\\\"v\\\"}\",\"num_uses\":1}",
	        &resp);
	ok(r, &resp);
	char *sid = data_str(&resp, "secret_id"), *acc = data_str(&resp, "secret_id_accessor");
	assert_int_equal(json_integer_value(json_object_get(resp.data, "secret_id_ttl")), 3600);
	assert_int_equal(json_integer_value(json_object_get(resp.data, "secret_id_num_uses")), 1);
	response_release(&resp);
	assert_nowhere(s, sid);

	snprintf(body, sizeof(body), "{\"secret_id\":\"%s\"}", sid);
	r = run(s, OP_UPDATE, "role/web/secret-id/lookup", body, &resp);
	d = ok(r, &resp);
	assert_string_equal(json_string_value(json_object_get(d, "secret_id_accessor")), acc);
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "metadata"), "k")), "v");
	response_release(&resp);

	r = run(s, OP_LIST, "role/web/secret-id/", NULL, &resp);
	d = ok(r, &resp);
	assert_string_equal(json_string_value(json_array_get(json_object_get(d, "keys"), 0)), acc);
	response_release(&resp);

	snprintf(body, sizeof(body), "{\"secret_id_accessor\":\"%s\"}", acc);
	r = run(s, OP_UPDATE, "role/api/secret-id-accessor/destroy", body, &resp);
	expect_error(r, &resp, TROVE_ERR_NOT_FOUND, "failed to find accessor entry");
	response_release(&resp);
	r = run(s, OP_UPDATE, "role/web/secret-id-accessor/lookup", body, &resp);
	ok(r, &resp);
	response_release(&resp);

	r = run(s, OP_UPDATE, "role/web/secret-id", "{\"num_uses\":3}", &resp);
	expect_error(r, &resp, TROVE_ERR_INVALID, "num_uses cannot be higher");
	response_release(&resp);
	r = run(s, OP_UPDATE, "role/web/secret-id", "{\"ttl\":\"2h\"}", &resp);
	expect_error(r, &resp, TROVE_ERR_INVALID, "ttl cannot be longer");
	response_release(&resp);

	/* Per-field endpoints. */
	ok(run(s, OP_UPDATE, "role/web/secret-id-num-uses", "{\"secret_id_num_uses\":7}", &resp), &resp);
	response_release(&resp);
	r = run(s, OP_READ, "role/web/secret-id-num-uses", NULL, &resp);
	assert_int_equal(json_integer_value(json_object_get(ok(r, &resp), "secret_id_num_uses")), 7);
	response_release(&resp);

	/* Deleting the role takes its secret IDs (entry and accessor). */
	ok(run(s, OP_DELETE, "role/web", NULL, &resp), &resp);
	response_release(&resp);
	struct strlist keys;
	strlist_init(&keys);
	all_keys(s, "", &keys);
	for (size_t i = 0; i < keys.len; i++)
		if (strncmp(keys.items[i], APPROLE_SECRET_PREFIX, strlen(APPROLE_SECRET_PREFIX)) == 0 ||
		    strncmp(keys.items[i], APPROLE_ACCESSOR_PREFIX, strlen(APPROLE_ACCESSOR_PREFIX)) == 0)
			fail_msg("left behind: %s", keys.items[i]);
	strlist_release(&keys);
	r = run(s, OP_READ, "role/web", NULL, &resp);
	assert_int_equal(r, TROVE_ERR_NOT_FOUND);
	response_release(&resp);

	/* The freed role ID can be taken now. */
	snprintf(body, sizeof(body), "{\"role_id\":\"%s\"}", role_id);
	ok(run(s, OP_UPDATE, "role/api/role-id", body, &resp), &resp);
	response_release(&resp);

	free(role_id);
	free(sid);
	free(acc);
	storage_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash),
	    cmocka_unit_test(test_salt),
	    cmocka_unit_test(test_secret_stored_only_as_hmac),
	    cmocka_unit_test(test_num_uses),
	    cmocka_unit_test(test_num_uses_concurrent),
	    cmocka_unit_test(test_expiry_and_tidy),
	    cmocka_unit_test(test_cidrs),
	    cmocka_unit_test(test_metadata),
	    cmocka_unit_test(test_time_format),
	    cmocka_unit_test(test_handlers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
