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

#include "core_fixture.h"
#include "core/background.h"
#include "core/core.h"
#include "core/mount.h"
#include "core/router.h"
#include "core/scheduler.h"
#include "engines/engines.h"
#include "err.h"
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

static void test_notes_engine(void **state)
{
	(void)state;
	struct core_fixture f;
	json_t *b;
	core_fixture_start(&f, &with_notes, 600, 7200);
	struct core *core = f.core;
	struct pool *pool = pool_new(2, 16);
	scheduler_set_submit(background_scheduler(mount_table_background(core_mounts(core))), to_pool, pool);

	assert_int_equal(fixture_call(core, "POST", "/v1/sys/mounts/notes", "{\"type\": \"notes\"}", NULL), 204);
	assert_int_equal(fixture_call(core, "POST", "/v1/sys/mounts/other", "{\"type\": \"notes\"}", NULL), 204);

	/* Write and read back; the name is canonical (ROUTE_NAMES_CI). */
	assert_int_equal(fixture_call(core, "PUT", "/v1/notes/notes/Groceries", "{\"text\": \"milk\", \"copies\": \"3\"}",
			      NULL),
			 204);
	assert_int_equal(fixture_call(core, "GET", "/v1/notes/notes/groceries", NULL, &b), 200);
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "data"), "text")), "milk");
	json_decref(b);
	assert_int_equal(fixture_call(core, "GET", "/v1/notes/notes/nothing", NULL, NULL), 404);

	/* The declarations, applied by the router before the handler. */
	assert_int_equal(fixture_call(core, "PUT", "/v1/notes/notes/x", "{\"copies\": 2}", &b), 400);
	assert_string_equal(fixture_first_error(b), "text: missing");
	json_decref(b);
	assert_int_equal(fixture_call(core, "PUT", "/v1/notes/notes/x", "{\"text\": \"t\", \"copies\": 11}", &b), 400);
	assert_string_equal(fixture_first_error(b), "copies: above the maximum (1 to 10)");
	json_decref(b);
	assert_int_equal(fixture_call(core, "PUT", "/v1/notes/notes/x", "{\"text\": \"t\"}", NULL), 204); /* copies: 1 */

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
	assert_int_equal(fixture_call(core, "DELETE", "/v1/sys/mounts/other", NULL, NULL), 204);

	scheduler_set_submit(background_scheduler(mount_table_background(core_mounts(core))), NULL, NULL);
	pool_free(pool);
	core_fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notes_engine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
