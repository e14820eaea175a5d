/* test_userpass.c — auth/userpass: the argon2id helpers, the lockout state
 * machine (with an injected clock), and the engine driven through the real
 * router on an in-memory core (create, read, login, lockout, unlock).
 *
 * The timing checks compare medians of a few runs with loose bounds: they
 * catch "the unknown-user path skips argon2" (a 100x difference), not
 * noise. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "engines/engines.h"
#include "audit/device.h"
#include "auth/userpass_hash.h"
#include "buf.h"
#include "clock.h"
#include "core/core.h"
#include "core/lockout.h"
#include "core/mount.h"
#include "core/request.h"
#include "core/router.h"
#include "core/token.h"
#include "err.h"
#include "secure.h"
#include "storage/storage.h"

#include "banned.h"

/* --- argon2id helpers ------------------------------------------------------ */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_hash_format_and_verify(void **state)
{
	(void)state;
	char *a = NULL, *b = NULL;
	char want[64];
	snprintf(want, sizeof(want), "$argon2id$v=19$m=%d,t=%d,p=%d$", USERPASS_ARGON2_M_KIB,
	         USERPASS_ARGON2_T, USERPASS_ARGON2_P);

	assert_int_equal(userpass_hash("hunter2", 7, &a), 0);
	assert_int_equal(userpass_hash("hunter2", 7, &b), 0);
	assert_non_null(a);
	assert_true(strncmp(a, want, strlen(want)) == 0);
	assert_true(strlen(a) <= USERPASS_ENCODED_MAX);
	/* A fresh salt each time: the same password hashes differently. */
	assert_string_not_equal(a, b);
	assert_null(strstr(a, "hunter2"));

	assert_int_equal(userpass_verify(a, "hunter2", 7), 0);
	assert_int_equal(userpass_verify(b, "hunter2", 7), 0);
	assert_int_equal(userpass_verify(a, "hunter3", 7), TROVE_ERR_PERMISSION);
	assert_int_equal(userpass_verify(a, "hunter", 6), TROVE_ERR_PERMISSION);
	assert_int_equal(userpass_verify(a, "", 0), TROVE_ERR_PERMISSION);
	free(a);
	free(b);
}

static void test_hash_refuses(void **state)
{
	(void)state;
	char *h = (char *)"unchanged";
	assert_int_equal(userpass_hash("", 0, &h), TROVE_ERR_INVALID);
	assert_null(h);

	/* Malformed or foreign stored hashes are integrity errors, never a
	 * match. */
	assert_int_equal(userpass_verify(NULL, "x", 1), TROVE_ERR_INTEGRITY);
	assert_int_equal(userpass_verify("", "x", 1), TROVE_ERR_INTEGRITY);
	assert_int_equal(userpass_verify("plaintext", "plaintext", 9), TROVE_ERR_INTEGRITY);
	assert_int_equal(
	    userpass_verify(
	        "$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
	        "password", 8),
	    TROVE_ERR_INTEGRITY);
	assert_int_equal(userpass_verify("$argon2id$v=19$m=19456,t=2,p=1$!!!$???", "x", 1),
	                 TROVE_ERR_INTEGRITY);
	char big[USERPASS_ENCODED_MAX + 20];
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "$argon2id$", 10);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(userpass_verify(big, "x", 1), TROVE_ERR_INTEGRITY);
}

static void test_hash_binary_password(void **state)
{
	(void)state;
	/* The length counts, not the C string: "ab\0cd" is not "ab". */
	char *h = NULL;
	assert_int_equal(userpass_hash("ab\0cd", 5, &h), 0);
	assert_int_equal(userpass_verify(h, "ab\0cd", 5), 0);
	assert_int_equal(userpass_verify(h, "ab", 2), TROVE_ERR_PERMISSION);
	assert_int_equal(userpass_verify(h, "ab\0ce", 5), TROVE_ERR_PERMISSION);
	free(h);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void test_dummy_costs_like_a_wrong_password(void **state)
{
	(void)state;
	enum { N = 7 };
	double real[N], dummy[N];
	char *h = NULL;

	assert_int_equal(userpass_hash_init(), 0);
	assert_int_equal(userpass_hash("right", 5, &h), 0);
	/* Always a refusal, whatever the password. */
	assert_int_equal(userpass_verify_dummy("right", 5), TROVE_ERR_PERMISSION);
	assert_int_equal(userpass_verify_dummy("", 0), TROVE_ERR_PERMISSION);
	for (int i = 0; i < N; i++) {
		double t0 = now_ms();
		assert_int_equal(userpass_verify(h, "wrong", 5), TROVE_ERR_PERMISSION);
		double t1 = now_ms();
		assert_int_equal(userpass_verify_dummy("wrong", 5), TROVE_ERR_PERMISSION);
		double t2 = now_ms();
		real[i] = t1 - t0;
		dummy[i] = t2 - t1;
	}
	qsort(real, N, sizeof(double), cmp_double);
	qsort(dummy, N, sizeof(double), cmp_double);
	double ratio = dummy[N / 2] / real[N / 2];
	print_message("argon2id verify median: real %.1f ms, dummy %.1f ms\n", real[N / 2], dummy[N / 2]);
	assert_true(real[N / 2] > 1.0); /* argon2 really ran */
	if (ratio < 0.6 || ratio > 1.6)
		fail_msg("dummy verification costs %.2fx a real one", ratio);
	free(h);
}

/* --- lockout ---------------------------------------------------------------- */

static int64_t fake_now;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}
static const struct clock fake = {fake_clock, NULL};

/* Two tables, as two auth mounts have. */
static struct lockout_table *lt, *lt2;

static int lockout_setup(void **state)
{
	(void)state;
	fake_now = 1000;
	lockout_set_clock(&fake);
	lt = lockout_table_new();
	lt2 = lockout_table_new();
	return 0;
}

static int lockout_teardown(void **state)
{
	(void)state;
	lockout_table_free(lt);
	lockout_table_free(lt2);
	lockout_set_max_entries(0);
	lockout_set_clock(NULL);
	return 0;
}

static const struct lockout_config cfg5 = {5, 900, 600};

/* n attempts that fail (nothing more to report after begin). */
static void fail_n(struct lockout_table *t, const char *alias, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(lockout_begin(t, alias, &cfg5), 0);
}

static void test_lockout_defaults(void **state)
{
	(void)state;
	struct lockout_config c;
	lockout_config_default(&c);
	assert_int_equal(c.threshold, 5);
	assert_int_equal(c.duration, 15 * 60);
	assert_int_equal(c.counter_reset, 15 * 60);
}

static void test_lockout_threshold(void **state)
{
	(void)state;
	fail_n(lt, "ann", 4);
	assert_false(lockout_is_locked(lt, "ann"));
	fail_n(lt, "ann", 1);
	assert_true(lockout_is_locked(lt, "ann"));
	/* Refused now, however often, and refusals are not counted. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(lockout_begin(lt, "ann", &cfg5), TROVE_ERR_PERMISSION);
	/* Others are untouched: another alias, the same alias on another
	 * mount. */
	assert_int_equal(lockout_begin(lt, "bob", &cfg5), 0);
	assert_int_equal(lockout_begin(lt2, "ann", &cfg5), 0);
	assert_false(lockout_is_locked(lt2, "ann"));
}

static void test_lockout_success_resets(void **state)
{
	(void)state;
	fail_n(lt, "ann", 4);
	assert_int_equal(lockout_begin(lt, "ann", &cfg5), 0); /* the 5th: right */
	lockout_success(lt, "ann");
	assert_false(lockout_is_locked(lt, "ann"));
	assert_int_equal(lockout_size(lt), 0);
	fail_n(lt, "ann", 4); /* a fresh count */
	assert_false(lockout_is_locked(lt, "ann"));
}

static void test_lockout_counter_reset_window(void **state)
{
	(void)state;
	fail_n(lt, "ann", 4);
	fake_now += 600; /* exactly the window: still counting */
	fail_n(lt, "ann", 1);
	assert_true(lockout_is_locked(lt, "ann"));
	lockout_unlock(lt, "ann");

	fail_n(lt, "ann", 4);
	fake_now += 601; /* past the window: the count restarts */
	fail_n(lt, "ann", 4);
	assert_false(lockout_is_locked(lt, "ann"));
	fail_n(lt, "ann", 1);
	assert_true(lockout_is_locked(lt, "ann"));
}

static void test_lockout_duration(void **state)
{
	(void)state;
	fail_n(lt, "ann", 5);
	fake_now += 899;
	assert_true(lockout_is_locked(lt, "ann"));
	assert_int_equal(lockout_begin(lt, "ann", &cfg5), TROVE_ERR_PERMISSION);
	fake_now += 1; /* 900 s after the last failure */
	assert_false(lockout_is_locked(lt, "ann"));
	/* A lock that ran out leaves a fresh count behind. */
	fail_n(lt, "ann", 4);
	assert_false(lockout_is_locked(lt, "ann"));
	fail_n(lt, "ann", 1);
	assert_true(lockout_is_locked(lt, "ann"));
}

static void test_lockout_unlock(void **state)
{
	(void)state;
	assert_false(lockout_unlock(lt, "nobody")); /* idempotent */
	fail_n(lt, "ann", 5);
	assert_true(lockout_unlock(lt, "ann"));
	assert_false(lockout_is_locked(lt, "ann"));
	assert_false(lockout_unlock(lt, "ann"));
	fail_n(lt, "ann", 4);
	assert_false(lockout_is_locked(lt, "ann"));
}

static void test_lockout_abandon(void **state)
{
	(void)state;
	fail_n(lt, "ann", 4);
	assert_int_equal(lockout_begin(lt, "ann", &cfg5), 0); /* counted in advance ... */
	assert_true(lockout_is_locked(lt, "ann"));
	lockout_abandon(lt, "ann"); /* ... and taken back: not a failure */
	assert_false(lockout_is_locked(lt, "ann"));
	fail_n(lt, "ann", 1);
	assert_true(lockout_is_locked(lt, "ann"));

	/* Abandoning the only attempt leaves nothing behind. */
	assert_int_equal(lockout_begin(lt, "solo", &cfg5), 0);
	lockout_abandon(lt, "solo");
	lockout_unlock(lt, "ann");
	assert_int_equal(lockout_size(lt), 0);
}

static void test_lockout_disabled(void **state)
{
	(void)state;
	const struct lockout_config off = {0, 900, 900};
	for (int i = 0; i < 20; i++)
		assert_int_equal(lockout_begin(lt, "ann", &off), 0);
	assert_false(lockout_is_locked(lt, "ann"));
	assert_int_equal(lockout_size(lt), 0);
}

struct seen {
	int n;
	char names[8][32];
};

static void seen_cb(const char *alias, void *arg)
{
	struct seen *s = arg;
	if (s->n < 8)
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", alias);
	s->n++;
}

static bool seen_has(const struct seen *s, const char *name)
{
	for (int i = 0; i < s->n && i < 8; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

static void test_lockout_listing(void **state)
{
	(void)state;
	struct seen s = {0};
	fail_n(lt, "ann", 5);
	fail_n(lt, "bob", 5);
	fail_n(lt, "cid", 3); /* counting, not locked */
	fail_n(lt2, "dan", 5);
	assert_int_equal(lockout_foreach_locked(lt, seen_cb, &s), 2);
	assert_true(seen_has(&s, "ann") && seen_has(&s, "bob"));
	memset(&s, 0, sizeof(s));
	assert_int_equal(lockout_foreach_locked(lt2, seen_cb, &s), 1);
	assert_true(seen_has(&s, "dan"));
	fake_now += 900; /* every lock ran out */
	memset(&s, 0, sizeof(s));
	assert_int_equal(lockout_foreach_locked(lt, seen_cb, &s), 0);
}

static void test_lockout_long_alias(void **state)
{
	(void)state;
	char a[LOCKOUT_ALIAS_MAX + 10], b[LOCKOUT_ALIAS_MAX + 10];
	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[LOCKOUT_ALIAS_MAX + 3] = 'y';
	/* Tracked by the first LOCKOUT_ALIAS_MAX bytes. */
	fail_n(lt, a, 3);
	fail_n(lt, b, 2);
	assert_true(lockout_is_locked(lt, a));
	assert_int_equal(lockout_size(lt), 1);
}

static void test_lockout_capacity(void **state)
{
	(void)state;
	char name[32];
	lockout_set_max_entries(64);
	fail_n(lt, "target", 5); /* locked */
	fail_n(lt, "victim", 2); /* counting, the oldest unlocked failure */
	fake_now += 1;
	for (int i = 0; i < 62; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		assert_int_equal(lockout_begin(lt, name, &cfg5), 0);
	}
	assert_int_equal(lockout_size(lt), 64);
	/* Full of pairs still counting: a new name is refused, not tracked
	 * at the expense of one that is (the flood cannot reset a count). */
	for (int i = 62; i < 200; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		assert_int_equal(lockout_begin(lt, name, &cfg5), TROVE_ERR_RATE_LIMIT);
	}
	assert_int_equal(lockout_size(lt), 64);
	/* Another mount's table has room of its own. */
	assert_int_equal(lockout_begin(lt2, "u199", &cfg5), 0);
	assert_true(lockout_is_locked(lt, "target"));
	assert_int_equal(lockout_begin(lt, "target", &cfg5), TROVE_ERR_PERMISSION);
	/* The victim kept its two failures: three more lock it. */
	assert_false(lockout_is_locked(lt, "victim"));
	fail_n(lt, "victim", 3);
	assert_true(lockout_is_locked(lt, "victim"));
	/* Spent entries go first: past the counter window, new entries fit
	 * and the locks still running stay. */
	fake_now += 601;
	assert_int_equal(lockout_begin(lt, "late", &cfg5), 0);
	assert_int_equal(lockout_size(lt), 3);
	assert_true(lockout_is_locked(lt, "target"));
	assert_true(lockout_is_locked(lt, "victim"));
}

struct race {
	pthread_barrier_t *go;
	int allowed;
};

static void *racer(void *arg)
{
	struct race *r = arg;
	pthread_barrier_wait(r->go);
	for (int i = 0; i < 10; i++)
		if (lockout_begin(lt, "ann", &cfg5) == 0)
			r->allowed++;
	return NULL;
}

static void test_lockout_concurrent_guesses_bounded(void **state)
{
	(void)state;
	enum { T = 8 };
	pthread_t th[T];
	struct race rs[T];
	pthread_barrier_t go;
	int total = 0;
	pthread_barrier_init(&go, NULL, T);
	for (int i = 0; i < T; i++) {
		rs[i] = (struct race){&go, 0};
		pthread_create(&th[i], NULL, racer, &rs[i]);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		total += rs[i].allowed;
	}
	pthread_barrier_destroy(&go);
	/* 80 concurrent wrong guesses: exactly the threshold got through. */
	assert_int_equal(total, 5);
	assert_true(lockout_is_locked(lt, "ann"));
}

/* --- the engine through the router ----------------------------------------- */

struct efx {
	struct storage *phys;
	struct core *core;
	char *root;
	char accessor[64];
};

static int esetup(void **state)
{
	struct efx *f = calloc(1, sizeof(*f));
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 2764800, .max_lease_ttl = 2764800, .expiration_manual = true,
				   .engines = &builtin_engines, .audit_devices = &audit_device_types};
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	buf_init(&err, 1024);
	lockout_set_clock(NULL);
	f->phys = storage_inmem_new();
	f->core = core_new(f->phys, &cc);
	if (core_initialize(f->core, 1, 1, "root-id", &res, &err) != 0)
		return -1;
	if (core_unseal(f->core, res.keys[0], res.key_len, &st, &err) != 0 || st.sealed)
		return -1;
	f->root = strdup(res.root_token);
	core_init_result_release(&res);
	struct mount_enable_params p = {.path = "userpass", .type = "userpass", .auth = true};
	if (mount_enable(core_mounts(f->core), &p, &err) != 0) {
		fprintf(stderr, "enable: %s\n", err.data);
		return -1;
	}
	struct mount *m = mount_match(core_mounts(f->core), "auth/userpass/");
	if (!m)
		return -1;
	snprintf(f->accessor, sizeof(f->accessor), "%s", m->accessor);
	mount_release(m);
	buf_release(&err);
	*state = f;
	return 0;
}

static int eteardown(void **state)
{
	struct efx *f = *state;
	core_free(f->core);
	storage_free(f->phys);
	free(f->root);
	free(f);
	return 0;
}

/* The userpass mount's lockout table (valid while the mount is). */
static struct lockout_table *up_lockout(struct efx *f)
{
	struct mount *m = mount_match(core_mounts(f->core), "auth/userpass/");
	assert_non_null(m);
	struct lockout_table *t = mount_lockout(m);
	mount_release(m);
	assert_non_null(t);
	return t;
}

/* One request through router_match and router_dispatch, from addr. */
static int call_from(struct efx *f, const char *addr, enum op op, const char *path, const char *token,
                     const char *body, struct response *resp)
{
	struct request req;
	struct route_match m;
	int r;
	request_init(&req);
	response_init(resp);
	req.core = f->core;
	req.op = op;
	req.path = xstrdup(path);
	req.data = body ? json_loads(body, 0, NULL) : json_object();
	assert_non_null(req.data);
	if (token)
		req.client_token = xstrdup(token);
	snprintf(req.remote_addr, sizeof(req.remote_addr), "%s", addr);
	assert_int_equal(router_match(&req, &m), 0);
	r = router_dispatch(&req, &m, resp);
	request_release(&req);
	return r;
}

static int call(struct efx *f, enum op op, const char *path, const char *token, const char *body,
                struct response *resp)
{
	return call_from(f, "127.0.0.1", op, path, token, body, resp);
}

static void expect(int got, const struct response *resp, int want, const char *msg)
{
	char *e = resp->errors ? json_dumps(resp->errors, 0) : NULL;
	if (got != want)
		fail_msg("got %d, want %d (%s)", got, want, e ? e : "no errors");
	if (msg && (!e || !strstr(e, msg)))
		fail_msg("errors %s should say %s", e ? e : "(none)", msg);
	free(e);
}

/* Writes, expecting success. */
static void must(struct efx *f, enum op op, const char *path, const char *body)
{
	struct response resp;
	expect(call(f, op, path, f->root, body, &resp), &resp, 0, NULL);
	response_release(&resp);
}

static void login_expect(struct efx *f, const char *user, const char *pw, int want, const char *msg)
{
	struct response resp;
	char path[128], body[128];
	snprintf(path, sizeof(path), "auth/userpass/login/%s", user);
	snprintf(body, sizeof(body), "{\"password\":\"%s\"}", pw);
	expect(call(f, OP_UPDATE, path, NULL, body, &resp), &resp, want, msg);
	response_release(&resp);
}

static void test_engine_users(void **state)
{
	struct efx *f = *state;
	struct response resp;

	/* A create needs a password; an empty one is refused too. */
	expect(call(f, OP_UPDATE, "auth/userpass/users/ann", f->root, "{\"token_policies\":\"a\"}", &resp),
	       &resp, TROVE_ERR_INVALID, "missing password");
	response_release(&resp);
	expect(call(f, OP_UPDATE, "auth/userpass/users/ann", f->root, "{\"password\":\"\"}", &resp), &resp,
	       TROVE_ERR_INVALID, "missing password");
	response_release(&resp);
	expect(call(f, OP_UPDATE, "auth/userpass/users/-bad", f->root, "{\"password\":\"x\"}", &resp), &resp,
	       TROVE_ERR_INVALID, "invalid username");
	response_release(&resp);

	must(f, OP_UPDATE, "auth/userpass/users/Ann",
	     "{\"password\":\"pw-canary-1\",\"token_policies\":\"Dev, ops\",\"token_ttl\":\"1h\"}");
	/* Names are case-insensitive. */
	expect(call(f, OP_READ, "auth/userpass/users/ANN", f->root, NULL, &resp), &resp, 0, NULL);
	json_t *d = resp.data;
	assert_non_null(d);
	assert_int_equal(json_integer_value(json_object_get(d, "token_ttl")), 3600);
	json_t *pol = json_object_get(d, "token_policies");
	assert_int_equal(json_array_size(pol), 2);
	assert_string_equal(json_string_value(json_array_get(pol, 0)), "dev");
	char *text = json_dumps(d, 0);
	assert_null(strstr(text, "password"));
	assert_null(strstr(text, "argon2"));
	assert_null(strstr(text, "canary"));
	free(text);
	response_release(&resp);

	/* Stored: the encoded hash, never the password. */
	struct mount *m = mount_match(core_mounts(f->core), "auth/userpass/");
	unsigned char *raw = NULL;
	size_t len = 0;
	assert_int_equal(storage_get(m->view, "user/ann", &raw, &len), 0);
	char *rec = xstrndup((const char *)raw, len);
	assert_non_null(strstr(rec, "$argon2id$v=19$m=19456,t=2,p=1$"));
	assert_null(strstr(rec, "canary"));
	free(rec);
	secure_free(raw, len);
	mount_release(m);

	/* An update without a password keeps it. */
	must(f, OP_UPDATE, "auth/userpass/users/ann", "{\"token_ttl\":120}");
	login_expect(f, "ann", "pw-canary-1", 0, NULL);
	must(f, OP_UPDATE, "auth/userpass/users/ann/password", "{\"password\":\"pw-2\"}");
	login_expect(f, "ann", "pw-canary-1", TROVE_ERR_INVALID, "invalid username or password");
	login_expect(f, "ann", "pw-2", 0, NULL);
	expect(call(f, OP_UPDATE, "auth/userpass/users/zed/password", f->root, "{\"password\":\"p\"}", &resp),
	       &resp, TROVE_ERR_INVALID, "username does not exist");
	response_release(&resp);

	/* policies changes only the policies, even when given more. */
	must(f, OP_UPDATE, "auth/userpass/users/ann/policies",
	     "{\"token_policies\":[\"x\"],\"token_ttl\":5}");
	expect(call(f, OP_READ, "auth/userpass/users/ann", f->root, NULL, &resp), &resp, 0, NULL);
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(resp.data, "token_policies"), 0)), "x");
	assert_int_equal(json_integer_value(json_object_get(resp.data, "token_ttl")), 120);
	response_release(&resp);

	must(f, OP_UPDATE, "auth/userpass/users/bob", "{\"password\":\"b\"}");
	expect(call(f, OP_LIST, "auth/userpass/users", f->root, NULL, &resp), &resp, 0, NULL);
	text = json_dumps(resp.data, JSON_COMPACT);
	assert_string_equal(text, "{\"keys\":[\"ann\",\"bob\"]}");
	free(text);
	response_release(&resp);

	must(f, OP_DELETE, "auth/userpass/users/bob", NULL);
	expect(call(f, OP_READ, "auth/userpass/users/bob", f->root, NULL, &resp), &resp, TROVE_ERR_NOT_FOUND,
	       NULL);
	response_release(&resp);
	login_expect(f, "bob", "b", TROVE_ERR_INVALID, "invalid username or password");

	/* Only a token may manage users. */
	expect(call(f, OP_READ, "auth/userpass/users/ann", NULL, NULL, &resp), &resp, TROVE_ERR_PERMISSION,
	       NULL);
	response_release(&resp);
}

static void test_engine_login(void **state)
{
	struct efx *f = *state;
	struct response resp;
	struct token_entry *e = NULL;

	must(f, OP_UPDATE, "auth/userpass/users/carol", "{\"password\":\"c-pw\",\"token_policies\":\"p1\"}");
	expect(call(f, OP_UPDATE, "auth/userpass/login/CAROL", NULL, "{\"password\":\"c-pw\"}", &resp), &resp,
	       0, NULL);
	json_t *auth = resp.auth;
	assert_non_null(auth);
	assert_string_equal(json_string_value(json_object_get(json_object_get(auth, "metadata"), "username")),
	                    "carol");
	char *policies = json_dumps(json_object_get(auth, "policies"), JSON_COMPACT);
	assert_string_equal(policies, "[\"default\",\"p1\"]");
	free(policies);
	const char *tok = json_string_value(json_object_get(auth, "client_token"));
	assert_int_equal(token_lookup(core_tokens(f->core), tok, &e), 0);
	assert_string_equal(e->display_name, "userpass-carol");
	assert_string_equal(e->path, "auth/userpass/login/CAROL");
	token_entry_free(e);
	response_release(&resp);

	login_expect(f, "carol", "", TROVE_ERR_INVALID, "missing password");
	/* Unknown user, wrong password and impossible name: one answer. */
	login_expect(f, "carol", "nope", TROVE_ERR_INVALID, "invalid username or password");
	login_expect(f, "nobody", "nope", TROVE_ERR_INVALID, "invalid username or password");
	login_expect(f, ".weird.", "nope", TROVE_ERR_INVALID, "invalid username or password");
	lockout_unlock(up_lockout(f), "carol");
	lockout_unlock(up_lockout(f), "nobody");

	/* Vault checks token_bound_cidrs at login; not a failed attempt. */
	must(f, OP_UPDATE, "auth/userpass/users/dave",
	     "{\"password\":\"d\",\"token_bound_cidrs\":\"10.0.0.0/8\"}");
	for (int i = 0; i < 6; i++) {
		expect(call_from(f, "192.168.1.1", OP_UPDATE, "auth/userpass/login/dave", NULL,
		                 "{\"password\":\"d\"}", &resp),
		       &resp, TROVE_ERR_PERMISSION, "permission denied");
		response_release(&resp);
	}
	assert_false(lockout_is_locked(up_lockout(f), "dave"));
	expect(call_from(f, "10.1.2.3", OP_UPDATE, "auth/userpass/login/dave", NULL, "{\"password\":\"d\"}",
	                 &resp),
	       &resp, 0, NULL);
	response_release(&resp);
}

static void test_engine_lockout(void **state)
{
	struct efx *f = *state;
	struct response resp;
	char path[256];

	must(f, OP_UPDATE, "auth/userpass/users/erin", "{\"password\":\"e-pw\"}");
	for (int i = 0; i < 4; i++)
		login_expect(f, "erin", "bad", TROVE_ERR_INVALID, "invalid username or password");
	login_expect(f, "erin", "e-pw", 0, NULL); /* resets the count */
	for (int i = 0; i < 5; i++)
		login_expect(f, "erin", "bad", TROVE_ERR_INVALID, "invalid username or password");
	login_expect(f, "erin", "e-pw", TROVE_ERR_PERMISSION, "permission denied");
	/* Unknown users lock the same way. */
	for (int i = 0; i < 5; i++)
		login_expect(f, "ghost", "bad", TROVE_ERR_INVALID, "invalid username or password");
	login_expect(f, "ghost", "bad", TROVE_ERR_PERMISSION, "permission denied");

	expect(call(f, OP_READ, "sys/locked-users", f->root, NULL, &resp), &resp, 0, NULL);
	json_t *d = resp.data;
	assert_int_equal(json_integer_value(json_object_get(d, "total")), 2);
	json_t *ns = json_array_get(json_object_get(d, "by_namespace"), 0);
	assert_string_equal(json_string_value(json_object_get(ns, "namespace_id")), "root");
	assert_int_equal(json_integer_value(json_object_get(ns, "counts")), 2);
	json_t *ma = json_array_get(json_object_get(ns, "mount_accessors"), 0);
	assert_string_equal(json_string_value(json_object_get(ma, "mount_accessor")), f->accessor);
	char *ids = json_dumps(json_object_get(ma, "alias_identifiers"), JSON_COMPACT);
	assert_string_equal(ids, "[\"erin\",\"ghost\"]");
	free(ids);
	response_release(&resp);

	/* Filtered by another accessor: the root namespace, nothing in it. */
	expect(call(f, OP_READ, "sys/locked-users", f->root, "{\"mount_accessor\":\"auth_userpass_none\"}",
	            &resp),
	       &resp, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(resp.data, "total")), 0);
	response_release(&resp);

	snprintf(path, sizeof(path), "sys/locked-users/%s/unlock/erin", f->accessor);
	expect(call(f, OP_UPDATE, path, f->root, NULL, &resp), &resp, 0, NULL);
	assert_int_equal(resp.status, 204);
	response_release(&resp);
	login_expect(f, "erin", "e-pw", 0, NULL);
	/* Idempotent. */
	expect(call(f, OP_UPDATE, path, f->root, NULL, &resp), &resp, 0, NULL);
	response_release(&resp);
	/* Unauthenticated callers may not list or unlock. */
	expect(call(f, OP_UPDATE, path, NULL, NULL, &resp), &resp, TROVE_ERR_PERMISSION, NULL);
	response_release(&resp);
	lockout_unlock(up_lockout(f), "ghost");
}

enum { WRITES = 400 };

struct writer {
	struct efx *f;
	int which;
	int lost; /* own writes found undone by the other writer */
};

/* Writer 0 sets token_ttl, writer 1 token_policies, each reading its own
 * field back after every write: an unserialised read-modify-write of the
 * other writer would put an older value back. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char body[64], want[32];
	for (int i = 1; i <= WRITES; i++) {
		struct response resp;
		if (w->which == 0) {
			snprintf(body, sizeof(body), "{\"token_ttl\":%d}", 100 + i);
			call(w->f, OP_UPDATE, "auth/userpass/users/fay", w->f->root, body, &resp);
		} else {
			snprintf(body, sizeof(body), "{\"token_policies\":[\"p%d\"]}", i);
			call(w->f, OP_UPDATE, "auth/userpass/users/fay/policies", w->f->root, body, &resp);
		}
		response_release(&resp);
		call(w->f, OP_READ, "auth/userpass/users/fay", w->f->root, NULL, &resp);
		if (w->which == 0) {
			if (json_integer_value(json_object_get(resp.data, "token_ttl")) != 100 + i)
				w->lost++;
		} else {
			snprintf(want, sizeof(want), "p%d", i);
			const char *got = json_string_value(
			    json_array_get(json_object_get(resp.data, "token_policies"), 0));
			if (!got || strcmp(got, want) != 0)
				w->lost++;
		}
		response_release(&resp);
	}
	return NULL;
}

static void test_engine_updates_serialise(void **state)
{
	struct efx *f = *state;
	struct response resp;
	pthread_t t[2];
	struct writer w[2] = {{f, 0, 0}, {f, 1, 0}};

	must(f, OP_UPDATE, "auth/userpass/users/fay", "{\"password\":\"fay-0\",\"token_ttl\":100}");
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, writer_main, &w[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(w[0].lost, 0);
	assert_int_equal(w[1].lost, 0);
	expect(call(f, OP_READ, "auth/userpass/users/fay", f->root, NULL, &resp), &resp, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(resp.data, "token_ttl")), 100 + WRITES);
	response_release(&resp);
	/* The password survived both writers' rewrites of the record. */
	login_expect(f, "fay", "fay-0", 0, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash_format_and_verify),
	    cmocka_unit_test(test_hash_refuses),
	    cmocka_unit_test(test_hash_binary_password),
	    cmocka_unit_test(test_dummy_costs_like_a_wrong_password),
	    cmocka_unit_test(test_lockout_defaults),
	    cmocka_unit_test_setup_teardown(test_lockout_threshold, lockout_setup, lockout_teardown),
	    cmocka_unit_test_setup_teardown(test_lockout_success_resets, lockout_setup, lockout_teardown),
	    cmocka_unit_test_setup_teardown(test_lockout_counter_reset_window, lockout_setup,
	                                    lockout_teardown),
	    cmocka_unit_test_setup_teardown(test_lockout_duration, lockout_setup, lockout_teardown),
	    cmocka_unit_test_setup_teardown(test_lockout_unlock, lockout_setup, lockout_teardown),
	    cmocka_unit_test_setup_teardown(test_lockout_abandon, lockout_setup, lockout_teardown),
	    cmocka_unit_test_setup_teardown(test_lockout_disabled, lockout_setup, lockout_teardown),
	    cmocka_unit_test_setup_teardown(test_lockout_listing, lockout_setup, lockout_teardown),
	    cmocka_unit_test_setup_teardown(test_lockout_long_alias, lockout_setup, lockout_teardown),
	    cmocka_unit_test_setup_teardown(test_lockout_capacity, lockout_setup, lockout_teardown),
	    cmocka_unit_test_setup_teardown(test_lockout_concurrent_guesses_bounded, lockout_setup,
	                                    lockout_teardown),
	    cmocka_unit_test_setup_teardown(test_engine_users, esetup, eteardown),
	    cmocka_unit_test_setup_teardown(test_engine_login, esetup, eteardown),
	    cmocka_unit_test_setup_teardown(test_engine_lockout, esetup, eteardown),
	    cmocka_unit_test_setup_teardown(test_engine_updates_serialise, esetup, eteardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
