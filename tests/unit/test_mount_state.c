/* test_mount_state.c — per-mount engine state (mount.h, "Per-mount
 * state"): each mount has its own caches, locks and counters, made when
 * it is mounted and freed when it is gone.
 *
 * A real core (initialised, unsealed, in memory) runs requests through
 * the router. To see a cache, a test changes a record in storage
 * underneath the engine: a mount whose cache holds the record still
 * answers from it, until core_storage_changed (invalidate.h) announces the
 * key, after which the next request sees storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/device.h"
#include "engines/engines.h"
#include "buf.h"
#include "auth/approle.h"
#include "core/core.h"
#include "core/invalidate.h"
#include "core/lockout.h"
#include "core/mount.h"
#include "core/request.h"
#include "core/router.h"
#include "core/token.h"
#include "err.h"
#include "secure.h"
#include "storage/storage.h"

#include "banned.h"

struct fx {
	struct storage *phys;
	struct core *core;
	unsigned char key[64]; /* the unseal key */
	size_t key_len;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 600, .max_lease_ttl = 7200,
	                         .expiration_manual = true, .engines = &builtin_engines, .audit_devices = &audit_device_types};
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	buf_init(&err, 1024);
	f->phys = storage_inmem_new();
	f->core = core_new(f->phys, &cc);
	assert_int_equal(core_initialize(f->core, 1, 1, "root-id", &res, &err), 0);
	assert_int_equal(core_unseal(f->core, res.keys[0], res.key_len, &st, &err), 0);
	memcpy(f->key, res.keys[0], res.key_len);
	f->key_len = res.key_len;
	core_init_result_release(&res);
	buf_release(&err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	core_free(f->core);
	storage_free(f->phys);
	free(f);
	return 0;
}

/* Runs op on path with a JSON body (text or NULL) as token, through the
 * router; returns the HTTP status, and the response data in *data when
 * data is not NULL (caller decrefs). */
static int call_as(struct fx *f, const char *token, enum op op, const char *path, const char *body, json_t **data)
{
	struct request req;
	struct response resp;
	struct route_match m;
	request_init(&req);
	response_init(&resp);
	req.core = f->core;
	req.op = op;
	req.path = strdup(path);
	req.data = body ? json_loads(body, 0, NULL) : json_object();
	assert_non_null(req.data);
	req.client_token = strdup(token);
	assert_int_equal(router_match(&req, &m), 0);
	int r = router_dispatch(&req, &m, &resp);
	int status = r ? err_http_status(r) : resp.status ? resp.status : resp.data || resp.auth ? 200 : 204;
	if (data)
		*data = resp.data ? json_incref(resp.data) : NULL;
	response_release(&resp);
	request_release(&req);
	return status;
}

static int call(struct fx *f, enum op op, const char *path, const char *body)
{
	return call_as(f, "root-id", op, path, body, NULL);
}

/* The storage view of the mount at path (borrowed: valid while mounted). */
static struct storage *view_of(struct fx *f, const char *path)
{
	struct mount *m = mount_match(core_mounts(f->core), path);
	assert_non_null(m);
	struct storage *v = m->view;
	mount_release(m);
	return v;
}

static void enable_kv2(struct fx *f, const char *path)
{
	char body[256];
	snprintf(body, sizeof(body), "{\"type\":\"kv\",\"options\":{\"version\":\"2\"}}");
	char p[128];
	snprintf(p, sizeof(p), "sys/mounts/%s", path);
	assert_int_equal(call(f, OP_UPDATE, p, body), 204);
}

/* --- kv v2: one metadata cache per mount ------------------------------------------ */

static void test_kv2_caches_are_per_mount(void **state)
{
	struct fx *f = *state;
	enable_kv2(f, "kva");
	enable_kv2(f, "kvb");
	assert_int_equal(call(f, OP_UPDATE, "kva/data/x", "{\"data\":{\"a\":\"1\"}}"), 200);
	assert_int_equal(call(f, OP_UPDATE, "kvb/data/x", "{\"data\":{\"b\":\"1\"}}"), 200);
	assert_int_equal(call(f, OP_READ, "kva/data/x", NULL), 200);
	assert_int_equal(call(f, OP_READ, "kvb/data/x", NULL), 200);
	/* Both records go from storage; each mount still has it cached. */
	assert_int_equal(storage_delete(view_of(f, "kva/"), "metadata/x"), 0);
	assert_int_equal(storage_delete(view_of(f, "kvb/"), "metadata/x"), 0);
	assert_int_equal(call(f, OP_READ, "kvb/data/x", NULL), 200);
	/* Disabling kva frees kva's cache and leaves kvb's alone. */
	assert_int_equal(call(f, OP_DELETE, "sys/mounts/kva", NULL), 204);
	assert_int_equal(call(f, OP_READ, "kvb/data/x", NULL), 200);
	/* A tune replaces kvb's mount object; the cache goes with it. */
	assert_int_equal(call(f, OP_UPDATE, "sys/mounts/kvb/tune", "{\"description\":\"tuned\"}"), 204);
	assert_int_equal(call(f, OP_READ, "kvb/data/x", NULL), 200);
	/* A mount enabled again at kva's path starts empty. */
	enable_kv2(f, "kva");
	assert_int_equal(call(f, OP_READ, "kva/data/x", NULL), 404);
}

/* A seal frees every mount's state; the unsealed core reloads it empty:
 * kvb's record, deleted from storage above, is gone. */
static void test_kv2_state_freed_on_seal(void **state)
{
	struct fx *f = *state;
	enable_kv2(f, "kvb");
	assert_int_equal(call(f, OP_UPDATE, "kvb/data/x", "{\"data\":{\"b\":\"1\"}}"), 200);
	assert_int_equal(call(f, OP_READ, "kvb/data/x", NULL), 200);
	assert_int_equal(storage_delete(view_of(f, "kvb/"), "metadata/x"), 0);
	assert_int_equal(call(f, OP_READ, "kvb/data/x", NULL), 200);
	assert_int_equal(core_seal(f->core), 0);
	struct seal_status st;
	struct buf err;
	buf_init(&err, 256);
	assert_int_equal(core_unseal(f->core, f->key, f->key_len, &st, &err), 0);
	assert_false(st.sealed);
	buf_release(&err);
	assert_int_equal(call(f, OP_READ, "kvb/data/x", NULL), 404);
}

/* --- userpass: one lockout table per auth mount ------------------------------------ */

static void test_lockout_is_per_mount(void **state)
{
	struct fx *f = *state;
	assert_int_equal(call(f, OP_UPDATE, "sys/auth/upa", "{\"type\":\"userpass\"}"), 204);
	assert_int_equal(call(f, OP_UPDATE, "sys/auth/upb", "{\"type\":\"userpass\"}"), 204);
	assert_int_equal(call(f, OP_UPDATE, "auth/upa/users/ann", "{\"password\":\"pw-a\"}"), 204);
	assert_int_equal(call(f, OP_UPDATE, "auth/upb/users/ann", "{\"password\":\"pw-b\"}"), 204);
	for (int i = 0; i < 5; i++)
		assert_int_equal(call(f, OP_UPDATE, "auth/upa/login/ann", "{\"password\":\"wrong\"}"), 400);
	/* Locked on upa, even with the right password; upb's ann is not. */
	assert_int_equal(call(f, OP_UPDATE, "auth/upa/login/ann", "{\"password\":\"pw-a\"}"), 403);
	assert_int_equal(call(f, OP_UPDATE, "auth/upb/login/ann", "{\"password\":\"pw-b\"}"), 200);
	struct mount *a = mount_match(core_mounts(f->core), "auth/upa/");
	struct mount *b = mount_match(core_mounts(f->core), "auth/upb/");
	assert_non_null(mount_lockout(a));
	assert_true(mount_lockout(a) != mount_lockout(b));
	assert_int_equal(lockout_size(mount_lockout(a)), 1);
	assert_int_equal(lockout_size(mount_lockout(b)), 0);
	mount_release(a);
	mount_release(b);
	/* Tune and remount replace the mount object; the lock stays. */
	assert_int_equal(call(f, OP_UPDATE, "sys/auth/upa/tune", "{\"description\":\"tuned\"}"), 204);
	assert_int_equal(call(f, OP_UPDATE, "auth/upa/login/ann", "{\"password\":\"pw-a\"}"), 403);
	assert_int_equal(call(f, OP_UPDATE, "sys/remount", "{\"from\":\"auth/upa\",\"to\":\"auth/upc\"}"), 200);
	assert_int_equal(call(f, OP_UPDATE, "auth/upc/login/ann", "{\"password\":\"pw-a\"}"), 403);
	/* A secret mount has no table. */
	struct mount *sys = mount_match(core_mounts(f->core), "sys/");
	assert_null(mount_lockout(sys));
	mount_release(sys);
	/* Disabled, its table goes with it (ASan sees it freed). */
	assert_int_equal(call(f, OP_DELETE, "sys/auth/upc", NULL), 204);
	assert_int_equal(call(f, OP_UPDATE, "sys/auth/upa", "{\"type\":\"userpass\"}"), 204);
	assert_int_equal(call(f, OP_UPDATE, "auth/upa/users/ann", "{\"password\":\"pw-a\"}"), 204);
	assert_int_equal(call(f, OP_UPDATE, "auth/upa/login/ann", "{\"password\":\"pw-a\"}"), 200);
}

/* --- approle: a tidy runs once at a time per mount ---------------------------------- */

static void test_approle_tidy_is_per_mount(void **state)
{
	struct fx *f = *state;
	struct request ra, rb;
	assert_int_equal(call(f, OP_UPDATE, "sys/auth/ara", "{\"type\":\"approle\"}"), 204);
	assert_int_equal(call(f, OP_UPDATE, "sys/auth/arb", "{\"type\":\"approle\"}"), 204);
	request_init(&ra);
	request_init(&rb);
	ra.mount = mount_match(core_mounts(f->core), "auth/ara/");
	rb.mount = mount_match(core_mounts(f->core), "auth/arb/");
	assert_true(approle_tidy_claim(&ra));
	assert_false(approle_tidy_claim(&ra)); /* one at a time on ara... */
	assert_true(approle_tidy_claim(&rb));  /* ...which does not hold up arb */
	/* While ara's tidy runs, arb's API answers a tidy of its own. */
	approle_tidy_release(&rb);
	assert_int_equal(call(f, OP_UPDATE, "auth/arb/tidy/secret-id", NULL), 202);
	assert_int_not_equal(call(f, OP_UPDATE, "auth/ara/tidy/secret-id", NULL), 202); /* "already in progress" */
	approle_tidy_release(&ra);
	assert_true(approle_tidy_claim(&ra));
	approle_tidy_release(&ra);
	request_release(&ra);
	request_release(&rb);
}

/* --- caches that know when they are stale (invalidate.h) ---------------------------- */

/* A service token with the default policy, policy (or NULL) and an
 * entity (or "");
 * returns its id (secure_free_str) and its id hash in hash. */
static char *make_token(struct fx *f, const char *policy, const char *entity_id, char hash[128])
{
	struct token_entry *e = token_entry_new();
	char *id = NULL;
	strlist_push(&e->policies, "default");
	if (policy)
		strlist_push(&e->policies, policy);
	token_entry_set(&e->path, "auth/token/create");
	token_entry_set(&e->entity_id, entity_id);
	e->ttl = 1000;
	assert_int_equal(token_create(core_tokens(f->core), e, NULL, &id), 0);
	snprintf(hash, 128, "%s", e->id_hash);
	token_entry_free(e);
	return id;
}

/* Announces "<table>/<uuid>/<rel>" as changed. */
static void changed(struct fx *f, const char *table, const char *uuid, const char *rel)
{
	char key[512];
	snprintf(key, sizeof(key), "%s/%s/%s", table, uuid, rel);
	core_storage_changed(f->core, key);
}

static void test_token_revoked_underneath(void **state)
{
	struct fx *f = *state;
	char hash[128], key[256];
	char *tok = make_token(f, NULL, "", hash);
	assert_int_equal(call_as(f, tok, OP_READ, "auth/token/lookup-self", NULL, NULL), 200);
	snprintf(key, sizeof(key), TOKEN_ID_PREFIX "%s", hash);
	assert_int_equal(storage_delete(core_storage(f->core), key), 0);
	/* The token store still has the entry cached... */
	assert_int_equal(call_as(f, tok, OP_READ, "auth/token/lookup-self", NULL, NULL), 200);
	/* ...until the change is announced; a key it does not hold changes
	 * nothing. */
	core_storage_changed(f->core, TOKEN_ID_PREFIX "nothing");
	core_storage_changed(f->core, "sys/unrelated");
	assert_int_equal(call_as(f, tok, OP_READ, "auth/token/lookup-self", NULL, NULL), 200);
	core_storage_changed(f->core, key);
	assert_int_equal(call_as(f, tok, OP_READ, "auth/token/lookup-self", NULL, NULL), 403);
	secure_free_str(tok);
}

static void test_policy_changed_underneath(void **state)
{
	struct fx *f = *state;
	char hash[128];
	static const char deny[] = "path \"kvb/data/*\" { capabilities = [\"deny\"] }";
	enable_kv2(f, "kvb");
	assert_int_equal(call(f, OP_UPDATE, "kvb/data/x", "{\"data\":{\"b\":\"1\"}}"), 200);
	assert_int_equal(call(f, OP_UPDATE, "sys/policies/acl/reader",
	                      "{\"policy\":\"path \\\"kvb/data/*\\\" { capabilities = [\\\"read\\\"] }\"}"),
	                 204);
	char *tok = make_token(f, "reader", "", hash);
	assert_int_equal(call_as(f, tok, OP_READ, "kvb/data/x", NULL, NULL), 200);
	assert_int_equal(storage_put(core_storage(f->core), "sys/policy/reader", deny, sizeof(deny) - 1), 0);
	assert_int_equal(call_as(f, tok, OP_READ, "kvb/data/x", NULL, NULL), 200); /* the compiled ACL */
	core_storage_changed(f->core, "sys/policy/reader");
	assert_int_equal(call_as(f, tok, OP_READ, "kvb/data/x", NULL, NULL), 403);
	/* The policy goes from storage: reading it says so. */
	assert_int_equal(storage_delete(core_storage(f->core), "sys/policy/reader"), 0);
	core_storage_changed(f->core, "sys/policy/reader");
	assert_int_equal(call(f, OP_READ, "sys/policies/acl/reader", NULL), 404);
	secure_free_str(tok);
}

static void test_kv2_metadata_changed_underneath(void **state)
{
	struct fx *f = *state;
	enable_kv2(f, "kva");
	enable_kv2(f, "kvb");
	struct mount *a = mount_match(core_mounts(f->core), "kva/"), *b = mount_match(core_mounts(f->core), "kvb/");
	assert_int_equal(call(f, OP_UPDATE, "kva/data/x", "{\"data\":{\"a\":\"1\"}}"), 200);
	assert_int_equal(call(f, OP_UPDATE, "kvb/data/x", "{\"data\":{\"b\":\"1\"}}"), 200);
	assert_int_equal(call(f, OP_READ, "kva/data/x", NULL), 200);
	assert_int_equal(call(f, OP_READ, "kvb/data/x", NULL), 200);
	assert_int_equal(storage_delete(a->view, "metadata/x"), 0);
	assert_int_equal(storage_delete(b->view, "metadata/x"), 0);
	/* Announced for kva only: kvb's cache still answers. */
	changed(f, "logical", a->uuid, "metadata/x");
	assert_int_equal(call(f, OP_READ, "kva/data/x", NULL), 404);
	assert_int_equal(call(f, OP_READ, "kvb/data/x", NULL), 200);
	/* The same uuid in the auth table names no mount. */
	changed(f, "auth", b->uuid, "metadata/x");
	assert_int_equal(call(f, OP_READ, "kvb/data/x", NULL), 200);
	changed(f, "logical", b->uuid, "metadata/x");
	assert_int_equal(call(f, OP_READ, "kvb/data/x", NULL), 404);
	/* Malformed keys are ignored. */
	core_storage_changed(f->core, "logical/");
	core_storage_changed(f->core, "logical/short/metadata/x");
	char key[128];
	snprintf(key, sizeof(key), "logical/%s", a->uuid);
	core_storage_changed(f->core, key);
	changed(f, "logical", a->uuid, "");
	mount_release(a);
	mount_release(b);
}

/* kv-v2's settings are typed per-mount config (engine_config.h), cached
 * in the mount's state. */
static void test_kv2_config_changed_underneath(void **state)
{
	struct fx *f = *state;
	json_t *out = NULL;
	static const char doc[] = "{\"max_versions\":3,\"cas_required\":true,\"delete_version_after\":0}";
	enable_kv2(f, "kva");
	enable_kv2(f, "kvb");
	assert_int_equal(call(f, OP_UPDATE, "kva/config", "{\"max_versions\":5}"), 204);
	assert_int_equal(call(f, OP_UPDATE, "kva/config", "{\"max_versions\":-1}"), 400);
	assert_int_equal(call_as(f, "root-id", OP_READ, "kva/config", NULL, &out), 200);
	assert_int_equal(json_integer_value(json_object_get(out, "max_versions")), 5);
	json_decref(out);
	assert_int_equal(call_as(f, "root-id", OP_READ, "kvb/config", NULL, &out), 200);
	assert_int_equal(json_integer_value(json_object_get(out, "max_versions")), 0); /* per mount */
	json_decref(out);

	struct mount *a = mount_match(core_mounts(f->core), "kva/");
	assert_int_equal(storage_put(a->view, "config", doc, sizeof(doc) - 1), 0);
	/* cached: a write without cas is still accepted */
	assert_int_equal(call(f, OP_UPDATE, "kva/data/x", "{\"data\":{\"a\":\"1\"}}"), 200);
	changed(f, "logical", a->uuid, "config");
	assert_int_equal(call(f, OP_UPDATE, "kva/data/x", "{\"data\":{\"a\":\"2\"}}"), 400);
	assert_int_equal(call_as(f, "root-id", OP_READ, "kva/config", NULL, &out), 200);
	assert_int_equal(json_integer_value(json_object_get(out, "max_versions")), 3);
	assert_true(json_is_true(json_object_get(out, "cas_required")));
	json_decref(out);
	mount_release(a);
}

static void uuid_of_type(struct mount *m, void *arg)
{
	if (strcmp(m->type, "identity") == 0)
		snprintf(arg, 37, "%s", m->uuid);
}

static void test_identity_changed_underneath(void **state)
{
	struct fx *f = *state;
	char hash[128], uuid[37] = "", key[128];
	json_t *out = NULL;
	enable_kv2(f, "kvb");
	assert_int_equal(call(f, OP_UPDATE, "kvb/data/x", "{\"data\":{\"b\":\"1\"}}"), 200);
	assert_int_equal(call(f, OP_UPDATE, "sys/policies/acl/reader",
	                      "{\"policy\":\"path \\\"kvb/data/*\\\" { capabilities = [\\\"read\\\"] }\"}"),
	                 204);
	assert_int_equal(call_as(f, "root-id", OP_UPDATE, "identity/entity", "{\"name\":\"ann\",\"policies\":[\"reader\"]}", &out), 200);
	char *eid = strdup(json_string_value(json_object_get(out, "id")));
	json_decref(out);
	mount_table_foreach(core_mounts(f->core), false, uuid_of_type, uuid);
	assert_int_equal(strlen(uuid), 36);
	struct mount *im = mount_match(core_mounts(f->core), "identity/");
	snprintf(key, sizeof(key), "entity/%s", eid);

	/* The entity's policies grant the read. */
	char *tok = make_token(f, NULL, eid, hash);
	assert_int_equal(call_as(f, tok, OP_READ, "kvb/data/x", NULL, NULL), 200);
	/* Its record loses the policy underneath: still granted from memory. */
	unsigned char *raw = NULL;
	size_t len = 0;
	assert_int_equal(storage_get(im->view, key, &raw, &len), 0);
	json_t *rec = json_loadb((const char *)raw, len, 0, NULL);
	free(raw);
	json_object_set_new(rec, "policies", json_array());
	json_object_set_new(rec, "name", json_string("bob"));
	char *text = json_dumps(rec, JSON_COMPACT);
	json_decref(rec);
	assert_int_equal(storage_put(im->view, key, text, strlen(text)), 0);
	free(text);
	assert_int_equal(call_as(f, tok, OP_READ, "kvb/data/x", NULL, NULL), 200);
	changed(f, "logical", uuid, key);
	assert_int_equal(call_as(f, tok, OP_READ, "kvb/data/x", NULL, NULL), 403);
	/* The store reindexed it under its new name. */
	assert_int_equal(call(f, OP_READ, "identity/entity/name/ann", NULL), 404);
	assert_int_equal(call(f, OP_READ, "identity/entity/name/bob", NULL), 200);
	/* Deleted underneath: gone once announced. */
	assert_int_equal(storage_delete(im->view, key), 0);
	assert_int_equal(call(f, OP_READ, "identity/entity/name/bob", NULL), 200);
	changed(f, "logical", uuid, key);
	assert_int_equal(call(f, OP_READ, "identity/entity/name/bob", NULL), 404);
	/* A record that cannot be parsed reloads the whole store on next use,
	 * which then reports the damage rather than stale data. */
	assert_int_equal(storage_put(im->view, key, "{", 1), 0);
	changed(f, "logical", uuid, key);
	assert_int_not_equal(call(f, OP_READ, "identity/entity/name/bob", NULL), 200);
	assert_int_equal(storage_delete(im->view, key), 0);
	assert_int_equal(call(f, OP_READ, "identity/entity/name/bob", NULL), 404);
	mount_release(im);
	secure_free_str(tok);
	free(eid);
}

/* Sealed, the core holds nothing cached: an announcement is a no-op. */
static void test_sealed_ignores_changes(void **state)
{
	struct fx *f = *state;
	assert_int_equal(core_seal(f->core), 0);
	core_storage_changed(f->core, "sys/policy/default");
	core_storage_changed(f->core, TOKEN_ID_PREFIX "x");
	core_storage_changed(f->core, "logical/00000000-0000-0000-0000-000000000000/metadata/x");
	core_storage_changed(NULL, "x");
	assert_true(core_sealed(f->core));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kv2_caches_are_per_mount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv2_state_freed_on_seal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockout_is_per_mount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approle_tidy_is_per_mount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_revoked_underneath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_changed_underneath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv2_metadata_changed_underneath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv2_config_changed_underneath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_changed_underneath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealed_ignores_changes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
