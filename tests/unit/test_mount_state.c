/* test_mount_state.c — per-mount engine state (mount.h, "Per-mount
 * state"): each mount has its own caches, locks and counters, made when
 * it is mounted and freed when it is gone.
 *
 * A real core (initialised, unsealed, in memory) runs requests through
 * the router as the root token. To see a cache, a test changes a record
 * in storage underneath the engine: a mount whose cache holds the record
 * still answers from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "core/core.h"
#include "core/mount.h"
#include "core/request.h"
#include "core/router.h"
#include "err.h"
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
	                         .expiration_manual = true};
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
	int status = r ? err_http_status(r) : (resp.status ? resp.status : (resp.data ? 200 : 204));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kv2_caches_are_per_mount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv2_state_freed_on_seal, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
