/* test_engine_config.c — typed per-mount engine settings
 * (core/engine_config.h): the declared table checks what is written and
 * what is read back, the cache answers without storage, and the reload
 * hook hears every change, whether written or announced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "core/engine_config.h"
#include "err.h"
#include "storage/storage.h"

#include "banned.h"

struct settings {
	int64_t limit;
	bool strict;
	int64_t ttl;
};

static const struct config_field fields[] = {
	CONFIG_INT(struct settings, limit, "limit", 0, 100),
	CONFIG_BOOL(struct settings, strict, "strict"),
	CONFIG_DURATION(struct settings, ttl, "ttl", 10, 3600),
	{ NULL, 0, 0, 0, 0 },
};

struct hook {
	int calls;
	struct settings last;
};

static void on_reload(void *arg, const void *cfg)
{
	struct hook *h = arg;
	h->calls++;
	memcpy(&h->last, cfg, sizeof(h->last));
}

static const struct config_decl decl = {
	.key = "config",
	.size = sizeof(struct settings),
	.fields = fields,
	.reload = on_reload,
};

static int write_json(struct engine_config *c, struct storage *s, const char *text, struct buf *err)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	buf_reset(err);
	int r = engine_config_write(c, s, j, err);
	json_decref(j);
	return r;
}

static void put(struct storage *s, const char *text)
{
	assert_int_equal(storage_put(s, "config", text, strlen(text)), 0);
}

static void test_absent_is_zero(void **state)
{
	struct storage *s = storage_inmem_new();
	struct settings v = { 7, true, 7 };
	assert_int_equal(engine_config_load(&decl, s, &v), 0);
	assert_int_equal(v.limit, 0);
	assert_false(v.strict);
	assert_int_equal(v.ttl, 0);
	storage_free(s);
}

static void test_apply_checks_the_table(void **state)
{
	struct settings v = { 0 };
	struct buf err;
	buf_init(&err, 128);
	json_t *j = json_pack("{s:I, s:b, s:I, s:s}", "limit", (json_int_t)5, "strict", 1, "ttl", (json_int_t)60,
	                      "other", "ignored");
	assert_int_equal(engine_config_apply(&decl, &v, j, &err), 0);
	assert_int_equal(v.limit, 5);
	assert_true(v.strict);
	assert_int_equal(v.ttl, 60);
	json_decref(j);

	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "{\"limit\":-1}", "limit: must not be negative" },
		{ "{\"limit\":101}", "limit: above the maximum" },
		{ "{\"ttl\":9}", "ttl: below the minimum" },
		{ "{\"limit\":\"5\"}", "limit: expected an integer" },
		{ "{\"ttl\":\"1h\"}", "ttl: expected a duration" },
		{ "{\"strict\":1}", "strict: expected a boolean" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_loads(bad[i].json, 0, NULL);
		buf_reset(&err);
		assert_int_equal(engine_config_apply(&decl, &v, j, &err), TROVE_ERR_INVALID);
		assert_string_equal(err.data, bad[i].msg);
		json_decref(j);
	}
	/* 0 is "not set", whatever the bounds */
	j = json_loads("{\"ttl\":0}", 0, NULL);
	assert_int_equal(engine_config_apply(&decl, &v, j, &err), 0);
	assert_int_equal(v.ttl, 0);
	json_decref(j);
	/* nulls and absent fields change nothing */
	j = json_loads("{\"limit\":null}", 0, NULL);
	assert_int_equal(engine_config_apply(&decl, &v, j, &err), 0);
	assert_int_equal(v.limit, 5);
	json_decref(j);
	buf_release(&err);
}

static void test_load_refuses_a_bad_document(void **state)
{
	struct storage *s = storage_inmem_new();
	struct settings v;
	const char *bad[] = { "[]", "{", "{\"limit\":true}", "{\"limit\":1000}", "{\"strict\":\"yes\"}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(s, bad[i]);
		v.limit = 3;
		assert_int_equal(engine_config_load(&decl, s, &v), TROVE_ERR_INTEGRITY);
		assert_int_equal(v.limit, 0);
	}
	put(s, "{\"limit\":4,\"strict\":true,\"ttl\":20,\"unknown\":1}");
	assert_int_equal(engine_config_load(&decl, s, &v), 0);
	assert_int_equal(v.limit, 4);
	assert_true(v.strict);
	assert_int_equal(v.ttl, 20);
	storage_free(s);
}

static void test_write_stores_caches_and_reloads(void **state)
{
	struct storage *s = storage_inmem_new();
	struct hook h = { 0 };
	struct engine_config *c = engine_config_new(&decl, &h);
	struct settings v;
	struct buf err;
	buf_init(&err, 128);

	assert_int_equal(write_json(c, s, "{\"limit\":9}", &err), 0);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.last.limit, 9);
	assert_int_equal(write_json(c, s, "{\"strict\":true}", &err), 0); /* merged over the last */
	assert_int_equal(h.calls, 2);
	assert_int_equal(h.last.limit, 9);
	assert_true(h.last.strict);
	/* The whole document is stored, in the declared types. */
	assert_int_equal(engine_config_load(&decl, s, &v), 0);
	assert_int_equal(v.limit, 9);
	assert_true(v.strict);
	/* A refused write stores nothing and calls nothing. */
	assert_int_equal(write_json(c, s, "{\"limit\":500}", &err), TROVE_ERR_INVALID);
	assert_int_equal(h.calls, 2);
	assert_int_equal(engine_config_get(c, s, &v), 0);
	assert_int_equal(v.limit, 9);
	/* Reads come from the cache: a change underneath is not seen... */
	put(s, "{\"limit\":1}");
	assert_int_equal(engine_config_get(c, s, &v), 0);
	assert_int_equal(v.limit, 9);
	/* ...until it is announced; then the hook hears it once. */
	engine_config_invalidate(c, s);
	assert_int_equal(engine_config_get(c, s, &v), 0);
	assert_int_equal(v.limit, 1);
	assert_false(v.strict);
	assert_int_equal(h.calls, 3);
	engine_config_invalidate(c, s); /* unchanged: no call */
	assert_int_equal(h.calls, 3);
	/* A bad document underneath: the next get reports it. */
	put(s, "{\"limit\":-4}");
	engine_config_invalidate(c, s);
	assert_int_equal(engine_config_get(c, s, &v), TROVE_ERR_INTEGRITY);
	assert_int_equal(storage_delete(s, "config"), 0);
	assert_int_equal(engine_config_get(c, s, &v), 0);
	assert_int_equal(v.limit, 0);
	engine_config_free(c);
	buf_release(&err);
	storage_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absent_is_zero),
		cmocka_unit_test(test_apply_checks_the_table),
		cmocka_unit_test(test_load_refuses_a_bad_document),
		cmocka_unit_test(test_write_stores_caches_and_reloads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
