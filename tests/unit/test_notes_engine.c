/* The worked example of docs/architecture.md ("Writing an engine"),
 * docs/examples/notes_engine.c, mounted on an in-memory core through a
 * registry and driven through the router as a listener would: what the
 * declarations give it (required and bounded fields, canonical names),
 * per-mount state, and its periodic function run on the pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/device.h"
#include "core/background.h"
#include "core/core.h"
#include "core/mount.h"
#include "core/router.h"
#include "core/scheduler.h"
#include "engines/engines.h"
#include "err.h"
#include "server/http.h"
#include "server/pool.h"

extern const struct engine notes_engine;

struct notes_state { /* as in the example */
	atomic_long writes, tallies;
};

static const struct engine *lookup(const char *type, const json_t *options, bool auth)
{
	if (!auth && strcmp(type, "notes") == 0)
		return &notes_engine;
	return builtin_engines.lookup(type, options, auth);
}
static const struct engine_registry with_notes = {.lookup = lookup};

static int to_pool(void *ctx, sched_fn fn, void *arg)
{
	return pool_submit(ctx, fn, arg);
}

/* One request through the HTTP edge and the router; the HTTP status, and
 * the body in *body (may be NULL). */
static int call(struct core *core, const char *method, const char *path, const char *json, json_t **body)
{
	struct request req;
	struct response resp;
	struct route_match m;
	struct buf out;
	int status = 0;
	request_init(&req);
	response_init(&resp);
	buf_init(&out, 1 << 16);
	req.core = core;
	req.client_token = strdup("root-id");
	int r = http_build_request(&req, method, strlen(method), path, strlen(path), json, json ? strlen(json) : 0,
				   "application/json", strlen("application/json"), &resp);
	if (r == 0) {
		router_match(&req, &m);
		r = router_dispatch(&req, &m, &resp);
	}
	assert_int_equal(http_render(&req, &resp, r, &status, &out), 0);
	json_t *j = out.len ? json_loads(out.data, 0, NULL) : NULL;
	if (body)
		*body = j;
	else
		json_decref(j);
	buf_release(&out);
	request_release(&req);
	response_release(&resp);
	return status;
}

static const char *first_error(const json_t *b)
{
	return json_string_value(json_array_get(json_object_get(b, "errors"), 0));
}

static void test_notes_engine(void **state)
{
	(void)state;
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 600, .max_lease_ttl = 7200,
				 .expiration_manual = true, .engines = &with_notes,
				 .audit_devices = &audit_device_types};
	struct storage *phys = storage_inmem_new();
	struct core *core = core_new(phys, &cc);
	struct pool *pool = pool_new(2, 16);
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	json_t *b;
	buf_init(&err, 1024);
	scheduler_set_submit(background_scheduler(mount_table_background(core_mounts(core))), to_pool, pool);
	assert_int_equal(core_initialize(core, 1, 1, "root-id", &res, &err), 0);
	assert_int_equal(core_unseal(core, res.keys[0], res.key_len, &st, &err), 0);

	assert_int_equal(call(core, "POST", "/v1/sys/mounts/notes", "{\"type\": \"notes\"}", NULL), 204);
	assert_int_equal(call(core, "POST", "/v1/sys/mounts/other", "{\"type\": \"notes\"}", NULL), 204);

	/* Write and read back; the name is canonical (ROUTE_NAMES_CI). */
	assert_int_equal(call(core, "PUT", "/v1/notes/notes/Groceries", "{\"text\": \"milk\", \"copies\": \"3\"}",
			      NULL),
			 204);
	assert_int_equal(call(core, "GET", "/v1/notes/notes/groceries", NULL, &b), 200);
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "data"), "text")), "milk");
	json_decref(b);
	assert_int_equal(call(core, "GET", "/v1/notes/notes/nothing", NULL, NULL), 404);

	/* The declarations, applied by the router before the handler. */
	assert_int_equal(call(core, "PUT", "/v1/notes/notes/x", "{\"copies\": 2}", &b), 400);
	assert_string_equal(first_error(b), "text: missing");
	json_decref(b);
	assert_int_equal(call(core, "PUT", "/v1/notes/notes/x", "{\"text\": \"t\", \"copies\": 11}", &b), 400);
	assert_string_equal(first_error(b), "copies: above the maximum (1 to 10)");
	json_decref(b);
	assert_int_equal(call(core, "PUT", "/v1/notes/notes/x", "{\"text\": \"t\"}", NULL), 204); /* copies: 1 */

	/* Per-mount state: the other mount counted nothing. */
	struct mount *m = mount_match(core_mounts(core), "notes/x");
	struct mount *o = mount_match(core_mounts(core), "other/x");
	assert_int_equal(atomic_load(&((struct notes_state *)m->engine_state)->writes), 4);
	assert_int_equal(atomic_load(&((struct notes_state *)o->engine_state)->writes), 0);

	/* The periodic function runs on the pool, every second. */
	for (int i = 0; i < 40 && atomic_load(&((struct notes_state *)m->engine_state)->tallies) < 1; i++)
		usleep(100 * 1000);
	assert_true(atomic_load(&((struct notes_state *)m->engine_state)->tallies) >= 1);
	mount_release(m);
	mount_release(o);

	/* Disabling a mount frees its state (ASan would see a leak). */
	assert_int_equal(call(core, "DELETE", "/v1/sys/mounts/other", NULL, NULL), 204);

	scheduler_set_submit(background_scheduler(mount_table_background(core_mounts(core))), NULL, NULL);
	pool_free(pool);
	core_init_result_release(&res);
	core_free(core);
	storage_free(phys);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notes_engine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
