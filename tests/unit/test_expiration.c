/* test_expiration.c — leases and the expiration manager, driven by hand
 * (no threads: expiration_tick) with an injected clock.
 *
 * A leasing engine stands in for the database and PKI engines: it is a kv
 * mount whose engine is swapped for one with lease_revoke/lease_renew that
 * record their calls and fail on demand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "engines/engines.h"
#include "audit/device.h"
#include "clock.h"
#include "core/core.h"
#include "core/expiration.h"
#include "core/lease_key.h"
#include "core/mount.h"
#include "core/mount_gate.h"
#include "core/request.h"
#include "core/router.h"
#include "core/token.h"
#include "err.h"
#include "secure.h"

/* --- the leasing engine -------------------------------------------------------- */

static struct {
	int revokes;       /* lease_revoke calls */
	int renews;        /* lease_renew calls */
	bool fail;         /* lease_revoke fails */
	int64_t renew_cap; /* lease_renew lowers the TTL to this (0: as asked) */
	char last_user[64];
} eng;

static int fake_revoke(struct mount *m, const struct lease *l, struct buf *err)
{
	eng.revokes++;
	const char *u = json_string_value(json_object_get(l->internal, "user"));
	snprintf(eng.last_user, sizeof(eng.last_user), "%s", u ? u : "");
	if (eng.fail) {
		buf_append_str(err, "database unreachable");
		return TROVE_ERR_UPSTREAM;
	}
	return 0;
}

static int fake_renew(struct mount *m, const struct lease *l, int64_t *ttl, struct buf *err)
{
	eng.renews++;
	if (eng.renew_cap > 0 && *ttl > eng.renew_cap)
		*ttl = eng.renew_cap;
	return 0;
}

static const struct route *const no_tables[] = {NULL};
static const struct engine leasing_engine = {
    .type = "kv",
    .tables = no_tables,
    .lease_revoke = fake_revoke,
    .lease_renew = fake_renew,
};

/* --- fixture --------------------------------------------------------------------- */

static int64_t now_value;
static int64_t fake_clock(void *arg)
{
	return now_value;
}
static const struct clock fake = {fake_clock, NULL};

struct fx {
	struct storage *phys;
	struct core *core;
	struct expiration *x;
	char *token;   /* a service token (ttl 1000) */
	char *locator; /* its id hash */
	unsigned char key[64]; /* the unseal key */
	size_t key_len;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 600, .max_lease_ttl = 7200, .expiration_manual = true,
				   .engines = &builtin_engines, .audit_devices = &audit_device_types};
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	buf_init(&err, 1024);
	memset(&eng, 0, sizeof(eng));
	now_value = 1800000000;
	f->phys = storage_inmem_new();
	f->core = core_new(f->phys, &cc);
	f->x = core_expiration(f->core);
	token_store_set_clock(core_tokens(f->core), &fake);
	expiration_set_clock(f->x, &fake);
	if (core_initialize(f->core, 1, 1, "root-id", &res, &err) != 0)
		return -1;
	if (core_unseal(f->core, res.keys[0], res.key_len, &st, &err) != 0 || st.sealed)
		return -1;
	memcpy(f->key, res.keys[0], res.key_len);
	f->key_len = res.key_len;
	core_init_result_release(&res);
	struct mount_enable_params p = {.path = "db", .type = "kv"};
	if (mount_enable(core_mounts(f->core), &p, &err) != 0)
		return -1;
	struct mount *m = mount_match(core_mounts(f->core), "db/creds/x");
	m->engine = &leasing_engine;
	mount_release(m);
	struct token_entry *e = token_entry_new();
	strlist_push(&e->policies, "default");
	token_entry_set(&e->path, "auth/token/create");
	e->ttl = 1000;
	if (token_create(core_tokens(f->core), e, NULL, &f->token) != 0)
		return -1;
	f->locator = strdup(e->id_hash);
	token_entry_free(e);
	buf_release(&err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	core_free(f->core);
	storage_free(f->phys);
	secure_free_str(f->token);
	free(f->locator);
	free(f);
	return 0;
}

/* Unseals a sealed core again (the mount table is reloaded: the leasing
 * engine goes back in). */
static void reopen(struct fx *f)
{
	struct seal_status st;
	struct buf err;
	buf_init(&err, 1024);
	(void)core_seal(f->core);
	assert_int_equal(core_unseal(f->core, f->key, f->key_len, &st, &err), 0);
	assert_false(st.sealed);
	struct mount *m = mount_match(core_mounts(f->core), "db/creds/x");
	m->engine = &leasing_engine;
	mount_release(m);
	buf_release(&err);
}

/* Issues a leased secret at path as the engine would; returns the lease id. */
static char *issue(struct fx *f, const char *path, const char *user, int64_t ttl, int64_t max_ttl, bool with_token)
{
	struct request req;
	struct response resp;
	request_init(&req);
	response_init(&resp);
	req.core = f->core;
	req.path = strdup(path);
	req.mount = mount_match(core_mounts(f->core), path);
	if (with_token)
		assert_int_equal(token_lookup(core_tokens(f->core), f->token, &req.token), 0);
	resp.secret.set = true;
	resp.secret.ttl = ttl;
	resp.secret.max_ttl = max_ttl;
	resp.secret.renewable = true;
	resp.secret.internal = json_pack("{s:s}", "user", user);
	assert_int_equal(expiration_register(f->x, &req, &resp), 0);
	assert_non_null(resp.lease_id);
	assert_null(resp.secret.internal);
	char *id = strdup(resp.lease_id);
	if (ttl > 0 && ttl <= 7200)
		assert_int_equal(resp.lease_duration, max_ttl > 0 && max_ttl < ttl ? max_ttl : ttl);
	response_release(&resp);
	request_release(&req);
	return id;
}

static bool exists(struct fx *f, const char *id)
{
	json_t *d = NULL;
	int r = expiration_lookup(f->x, id, &d);
	json_decref(d);
	return r == 0;
}

static size_t tick(struct fx *f)
{
	size_t n = 0;
	assert_int_equal(expiration_tick(f->x, &n), 0);
	return n;
}

/* DELETE sys/mounts/<path> as the root token, through the router. */
static int disable_mount(struct fx *f, const char *path)
{
	struct request req;
	struct response resp;
	struct route_match m;
	request_init(&req);
	response_init(&resp);
	req.core = f->core;
	req.op = OP_DELETE;
	req.path = strdup(path);
	req.data = json_object();
	req.client_token = strdup("root-id");
	assert_int_equal(router_match(&req, &m), 0);
	int r = router_dispatch(&req, &m, &resp);
	response_release(&resp);
	request_release(&req);
	return r;
}

/* --- tests ------------------------------------------------------------------------- */

static void test_register_lookup_and_expire(void **state)
{
	struct fx *f = *state;
	char *id = issue(f, "db/creds/ro", "u1", 30, 0, true);
	assert_true(strncmp(id, "db/creds/ro/", 12) == 0);
	assert_int_equal(strlen(id), 12 + 24);

	json_t *d = NULL;
	assert_int_equal(expiration_lookup(f->x, id, &d), 0);
	assert_string_equal(json_string_value(json_object_get(d, "id")), id);
	assert_int_equal(json_integer_value(json_object_get(d, "ttl")), 30);
	assert_true(json_is_true(json_object_get(d, "renewable")));
	assert_true(json_is_null(json_object_get(d, "last_renewal")));
	assert_null(json_object_get(d, "internal")); /* the engine's data is never shown */
	json_decref(d);

	now_value += 29;
	assert_int_equal(tick(f), 0); /* not yet due: nothing acted on */
	assert_int_equal(eng.revokes, 0);
	now_value += 1;
	tick(f);
	assert_int_equal(eng.revokes, 1);
	assert_string_equal(eng.last_user, "u1");
	assert_false(exists(f, id));
	/* Every index entry went with it. */
	struct strlist l;
	strlist_init(&l);
	assert_int_equal(storage_list(core_storage(f->core), LEASE_WHEN_PREFIX, &l), 0);
	/* Only the service token's own expiry remains. */
	assert_int_equal(l.len, 1);
	strlist_release(&l);
	strlist_init(&l);
	assert_int_equal(storage_list(core_storage(f->core), LEASE_TOKEN_PREFIX, &l), 0);
	assert_int_equal(l.len, 0);
	strlist_release(&l);
	free(id);
}

static void test_ttl_defaults_and_caps(void **state)
{
	struct fx *f = *state;
	char *a = issue(f, "db/creds/a", "a", 0, 0, false); /* the mount's default: 600 */
	char *b = issue(f, "db/creds/b", "b", 99999, 0, false); /* capped by the mount's max: 7200 */
	char *c = issue(f, "db/creds/c", "c", 100, 40, false); /* the engine's own cap */
	json_t *d = NULL;
	assert_int_equal(expiration_lookup(f->x, a, &d), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "ttl")), 600);
	json_decref(d);
	assert_int_equal(expiration_lookup(f->x, b, &d), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "ttl")), 7200);
	json_decref(d);
	assert_int_equal(expiration_lookup(f->x, c, &d), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "ttl")), 40);
	json_decref(d);
	free(a);
	free(b);
	free(c);
}

static void test_renew_capped_by_max_ttl(void **state)
{
	struct fx *f = *state;
	char *id = issue(f, "db/creds/ro", "u1", 60, 100, false);
	struct response resp;

	now_value += 50;
	response_init(&resp);
	assert_int_equal(expiration_renew(f->x, id, 30, &resp), 0);
	assert_int_equal(resp.lease_duration, 30);
	assert_string_equal(resp.lease_id, id);
	assert_null(resp.warnings);
	response_release(&resp);
	assert_int_equal(eng.renews, 1);

	/* 50 s left before issue + max_ttl: asking for 500 gets 50 and a warning. */
	response_init(&resp);
	assert_int_equal(expiration_renew(f->x, id, 500, &resp), 0);
	assert_int_equal(resp.lease_duration, 50);
	assert_non_null(resp.warnings);
	response_release(&resp);

	/* The engine may shorten a renewal. */
	eng.renew_cap = 10;
	response_init(&resp);
	assert_int_equal(expiration_renew(f->x, id, 20, &resp), 0);
	assert_int_equal(resp.lease_duration, 10);
	response_release(&resp);
	json_t *d = NULL;
	assert_int_equal(expiration_lookup(f->x, id, &d), 0);
	assert_true(json_is_string(json_object_get(d, "last_renewal")));
	json_decref(d);

	/* The old expiry no longer revokes it; the new one does. */
	now_value += 9;
	tick(f);
	assert_int_equal(eng.revokes, 0);
	now_value += 1;
	tick(f);
	assert_int_equal(eng.revokes, 1);

	response_init(&resp);
	assert_int_equal(expiration_renew(f->x, id, 20, &resp), TROVE_ERR_INVALID);
	assert_string_equal(json_string_value(json_array_get(resp.errors, 0)), "invalid lease");
	response_release(&resp);
	free(id);
}

static void test_renew_capped_by_mount_tune(void **state)
{
	struct fx *f = *state;
	char *id = issue(f, "db/creds/ro", "u1", 60, 0, false);
	struct response resp;
	struct buf err;
	buf_init(&err, 256);
	json_t *tune = json_pack("{s:s}", "max_lease_ttl", "90s");
	assert_int_equal(mount_tune(core_mounts(f->core), "db", false, tune, &err), 0);
	json_decref(tune);
	reopen(f); /* the tuned table, with the leasing engine back in */
	now_value += 50;
	response_init(&resp);
	assert_int_equal(expiration_renew(f->x, id, 3600, &resp), 0);
	assert_int_equal(resp.lease_duration, 40); /* issue + 90 s, not + 7200 s */
	response_release(&resp);
	buf_release(&err);
	free(id);
}

static void test_token_lease_cannot_renew_here(void **state)
{
	struct fx *f = *state;
	char id[LEASE_ID_MAX + 1];
	struct response resp;
	snprintf(id, sizeof(id), "auth/token/create/%s", f->locator);
	assert_true(exists(f, id));
	response_init(&resp);
	assert_int_equal(expiration_renew(f->x, id, 30, &resp), TROVE_ERR_INVALID);
	assert_non_null(strstr(json_string_value(json_array_get(resp.errors, 0)), "tokens cannot be renewed"));
	response_release(&resp);
}

static void test_token_expiry_revokes_token_and_its_leases(void **state)
{
	struct fx *f = *state;
	char *id = issue(f, "db/creds/ro", "owned", 5000, 0, true);
	char tid[LEASE_ID_MAX + 1];
	snprintf(tid, sizeof(tid), "auth/token/create/%s", f->locator);

	now_value += 1000; /* the token's TTL */
	tick(f);           /* the token is revoked; its lease is made due now */
	int64_t exp;
	assert_int_equal(token_expire_time(core_tokens(f->core), f->locator, &exp), TROVE_ERR_NOT_FOUND);
	assert_false(exists(f, tid));
	tick(f);
	assert_int_equal(eng.revokes, 1);
	assert_string_equal(eng.last_user, "owned");
	assert_false(exists(f, id));
	free(id);
}

static void test_revoking_token_revokes_leases(void **state)
{
	struct fx *f = *state;
	char *a = issue(f, "db/creds/ro", "a", 5000, 0, true);
	char *b = issue(f, "db/creds/rw", "b", 5000, 0, false); /* not the token's */
	assert_int_equal(token_revoke(core_tokens(f->core), f->locator, false), 0);
	tick(f);
	assert_int_equal(eng.revokes, 1);
	assert_false(exists(f, a));
	assert_true(exists(f, b));
	free(a);
	free(b);
}

static void test_failing_revocation_becomes_irrevocable(void **state)
{
	struct fx *f = *state;
	struct expiration_stats st;
	char *id = issue(f, "db/creds/ro", "stuck", 10, 0, false);
	eng.fail = true;
	now_value += 10;
	/* Retries: 10, 20, 40, 80, 160 s after each failure, then irrevocable. */
	int64_t waits[] = {0, 10, 20, 40, 80, 160};
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		now_value += waits[i];
		if (waits[i] > 1) {
			now_value -= 1;
			tick(f);
			assert_int_equal(eng.revokes, (int)i); /* not before its backoff */
			now_value += 1;
		}
		tick(f);
		assert_int_equal(eng.revokes, (int)i + 1);
	}
	expiration_stats(f->x, &st);
	assert_int_equal(st.irrevocable, 1);
	assert_int_equal(st.revoke_errors, 6);
	assert_true(exists(f, id)); /* kept, not dropped */

	/* Never retried by the timer again. */
	now_value += 100000;
	tick(f);
	assert_int_equal(eng.revokes, 6);

	json_t *out = NULL;
	assert_int_equal(expiration_irrevocable(f->x, false, 0, &out), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "lease_count")), 1);
	json_t *first = json_array_get(json_object_get(out, "leases"), 0);
	assert_string_equal(json_string_value(json_object_get(first, "lease_id")), id);
	assert_string_equal(json_string_value(json_object_get(first, "error")), "database unreachable");
	json_decref(out);
	assert_int_equal(expiration_irrevocable(f->x, true, 0, &out), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "lease_count")), 1);
	json_decref(out);

	/* A sync revoke tries again and reports the failure. */
	struct buf err;
	buf_init(&err, 1024);
	assert_int_not_equal(expiration_revoke(f->x, id, true, &err), 0);
	assert_non_null(strstr(err.data, "database unreachable"));
	buf_reset(&err);
	/* revoke-force drops it. */
	size_t n = 0;
	assert_int_equal(expiration_revoke_prefix(f->x, "db/creds", true, true, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_false(exists(f, id));
	expiration_stats(f->x, &st);
	assert_int_equal(st.irrevocable, 0);
	assert_int_equal(expiration_irrevocable(f->x, true, 0, &out), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "lease_count")), 0);
	json_decref(out);
	buf_release(&err);
	free(id);
}

static void test_mount_gate(void **state)
{
	(void)state;
	struct mount_gate *g = mount_gate_new();
	assert_true(mount_gate_enter(g));
	/* A request inside: closing waits for it, then gives up and opens. */
	assert_int_equal(mount_gate_close(g, 5), TROVE_ERR_TIMEOUT);
	assert_true(mount_gate_enter(g));
	mount_gate_leave(g);
	mount_gate_leave(g);
	/* Empty: closes at once; new requests are refused; one closer. */
	assert_int_equal(mount_gate_close(g, 5), 0);
	assert_false(mount_gate_enter(g));
	assert_int_equal(mount_gate_close(g, 5), TROVE_ERR_CONFLICT);
	mount_gate_open(g);
	assert_true(mount_gate_enter(g));
	mount_gate_leave(g);
	mount_gate_release(g);
}

static void test_disable_with_failing_revocation_keeps_the_mount_open(void **state)
{
	struct fx *f = *state;
	char *id = issue(f, "db/creds/ro", "kept", 100, 0, false);
	eng.fail = true;
	assert_int_equal(disable_mount(f, "sys/mounts/db"), TROVE_ERR_INVALID);
	/* Still mounted, its lease kept, and its gate open again: requests
	 * to it run as before. */
	struct mount *m = mount_match(core_mounts(f->core), "db/creds/ro");
	assert_non_null(m);
	assert_true(exists(f, id));
	assert_true(mount_gate_enter(m->gate));
	mount_gate_leave(m->gate);
	/* Revocation works now: the disable goes through and the (closed)
	 * gate of the old mount object refuses what still holds it. */
	eng.fail = false;
	assert_int_equal(disable_mount(f, "sys/mounts/db"), 0);
	assert_false(exists(f, id));
	assert_false(mount_gate_enter(m->gate));
	mount_release(m);
	assert_null(mount_match(core_mounts(f->core), "db/creds/ro"));
	free(id);
}

static void test_revoke_prefix_and_async_revoke(void **state)
{
	struct fx *f = *state;
	char *a = issue(f, "db/creds/ro", "a", 5000, 0, false);
	char *b = issue(f, "db/creds/ro", "b", 5000, 0, false);
	char *c = issue(f, "db/other/x", "c", 5000, 0, false);
	struct buf err;
	buf_init(&err, 1024);
	size_t n = 0;

	/* "db/cred" is not a path prefix of "db/creds/...". */
	assert_int_equal(expiration_revoke_prefix(f->x, "db/cred", true, false, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(expiration_revoke_prefix(f->x, "db/creds/", true, false, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_false(exists(f, a));
	assert_false(exists(f, b));
	assert_true(exists(f, c));

	/* Without sync the revocation is queued: due now, done at the next tick. */
	assert_int_equal(expiration_revoke(f->x, c, false, &err), 0);
	assert_true(exists(f, c));
	tick(f);
	assert_false(exists(f, c));
	assert_int_equal(eng.revokes, 3);

	assert_int_equal(expiration_revoke(f->x, "db/creds/ro/nope", true, &err), 0); /* idempotent */
	buf_reset(&err);
	assert_int_equal(expiration_revoke_prefix(f->x, "", true, false, &n, &err), TROVE_ERR_INVALID);
	buf_release(&err);
	free(a);
	free(b);
	free(c);
}

static void test_list(void **state)
{
	struct fx *f = *state;
	char *a = issue(f, "db/creds/ro", "a", 5000, 0, false);
	struct strlist l;
	strlist_init(&l);
	assert_int_equal(expiration_list(f->x, "", &l), 0);
	assert_int_equal(l.len, 2);
	assert_string_equal(l.items[0], "auth/");
	assert_string_equal(l.items[1], "db/");
	strlist_release(&l);
	strlist_init(&l);
	assert_int_equal(expiration_list(f->x, "db/creds/ro/", &l), 0);
	assert_int_equal(l.len, 1);
	assert_string_equal(l.items[0], a + strlen("db/creds/ro/"));
	strlist_release(&l);
	strlist_init(&l);
	assert_int_equal(expiration_list(f->x, "db/creds/ro", &l), TROVE_ERR_INVALID);
	strlist_release(&l);
	free(a);
}

static void test_leases_survive_seal_and_expire_after(void **state)
{
	struct fx *f = *state;
	char *id = issue(f, "db/creds/ro", "kept", 100, 0, false);
	char tid[LEASE_ID_MAX + 1];
	snprintf(tid, sizeof(tid), "auth/token/create/%s", f->locator);
	json_t *d = NULL;

	assert_int_equal(core_seal(f->core), 0);
	assert_int_equal(expiration_lookup(f->x, id, &d), TROVE_ERR_SEALED);
	now_value += 5000; /* both fell due while sealed */
	reopen(f);
	assert_true(exists(f, id));
	tick(f);
	assert_int_equal(eng.revokes, 1);
	assert_string_equal(eng.last_user, "kept");
	assert_false(exists(f, id));
	assert_false(exists(f, tid));
	free(id);
}

static void test_tidy_revokes_orphaned_leases(void **state)
{
	struct fx *f = *state;
	char *id = issue(f, "db/creds/ro", "orphan", 5000, 0, true);
	char tid[LEASE_ID_MAX + 1];
	snprintf(tid, sizeof(tid), "auth/token/create/%s", f->locator);
	/* The token disappears without its callbacks (a crash between). */
	char key[256];
	snprintf(key, sizeof(key), "%s%s", TOKEN_ID_PREFIX, f->locator);
	assert_int_equal(storage_delete(core_storage(f->core), key), 0);
	reopen(f); /* as after a restart: nothing cached */
	assert_int_equal(expiration_tidy(f->x), 0);
	for (int i = 0; i < 500 && exists(f, id); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		tick(f);
	}
	assert_false(exists(f, id));
	assert_int_equal(eng.revokes, 1);
	assert_string_equal(eng.last_user, "orphan");
	assert_false(exists(f, tid));
	free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_register_lookup_and_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ttl_defaults_and_caps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew_capped_by_max_ttl, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew_capped_by_mount_tune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_token_lease_cannot_renew_here, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_token_expiry_revokes_token_and_its_leases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoking_token_revokes_leases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failing_revocation_becomes_irrevocable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoke_prefix_and_async_revoke, setup, teardown),
	    cmocka_unit_test(test_mount_gate),
	    cmocka_unit_test_setup_teardown(test_disable_with_failing_revocation_keeps_the_mount_open, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leases_survive_seal_and_expire_after, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tidy_revokes_orphaned_leases, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
