/* test_core_inject.c — what the layers above the core hand it at start-up:
 * the engine registry (engine_lookup, the sys/ mount), the wrap store
 * (response wrapping through whatever the cubbyhole registers) and the
 * audit device types (the broker opens and checks devices only through
 * them). Each test gives the core a registry, store or table of its own and
 * checks the core used that one, and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/device.h"
#include "buf.h"
#include "core/audit.h"
#include "core/audit_device.h"
#include "core/core.h"
#include "core/engine.h"
#include "core/mount.h"
#include "core/token.h"
#include "core/wrapping.h"
#include "engines/engines.h"
#include "err.h"
#include "storage/storage.h"

#include "banned.h"

/* ---- the engine registry ------------------------------------------------ */

static const struct engine fake_sys = {.type = "system"};
static const struct engine fake_kv = {.type = "kv"};

static struct {
	int calls;
	const json_t *options;
	bool auth;
} seen;

static const struct engine *fake_lookup(const char *type, const json_t *options, bool auth)
{
	seen.calls++;
	seen.options = options;
	seen.auth = auth;
	if (strcmp(type, "system") == 0 && !auth)
		return &fake_sys;
	if (strcmp(type, "kv") == 0 && !auth)
		return &fake_kv;
	return NULL;
}

static const struct engine_registry fake_registry = {.lookup = fake_lookup};

static struct core *core_with(struct storage *phys, const struct engine_registry *reg,
                              const struct audit_device_types *types)
{
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 3600, .max_lease_ttl = 7200,
	                         .expiration_manual = true, .engines = reg, .audit_devices = types};
	return core_new(phys, &cc);
}

static void test_registry_is_the_one_given(void **state)
{
	(void)state;
	struct storage *phys = storage_inmem_new();
	struct core *c = core_with(phys, &fake_registry, NULL);
	json_t *opts = json_pack("{s:s}", "version", "2");

	/* the sys/ mount is built from the registry's "system" engine */
	struct mount *sys = core_sys_mount(c);
	assert_non_null(sys);
	assert_ptr_equal(sys->engine, &fake_sys);
	assert_string_equal(sys->path, "sys/");
	assert_string_equal(sys->type, "system");

	memset(&seen, 0, sizeof(seen));
	assert_ptr_equal(engine_lookup(c, "kv", opts, false), &fake_kv);
	assert_int_equal(seen.calls, 1);
	assert_ptr_equal(seen.options, opts);
	assert_false(seen.auth);
	assert_null(engine_lookup(c, "kv", NULL, true));
	assert_true(seen.auth);
	/* the built-in engines are not reached behind the registry's back */
	assert_null(engine_lookup(c, "cubbyhole", NULL, false));
	assert_null(engine_lookup(c, "token", NULL, true));

	json_decref(opts);
	core_free(c);
	storage_free(phys);
}

static void test_no_registry(void **state)
{
	(void)state;
	struct storage *phys = storage_inmem_new();
	struct core *c = core_with(phys, NULL, NULL);
	assert_null(core_sys_mount(c));
	assert_null(engine_lookup(c, "system", NULL, false));
	assert_null(engine_lookup(c, "kv", NULL, false));
	assert_null(engine_lookup(NULL, "kv", NULL, false));
	core_free(c);
	storage_free(phys);
}

static void test_builtin_registry(void **state)
{
	(void)state;
	struct storage *phys = storage_inmem_new();
	struct core *c = core_with(phys, &builtin_engines, NULL);
	json_t *v1 = json_pack("{s:s}", "version", "1"), *v2 = json_pack("{s:s}", "version", "2");
	json_t *v3 = json_pack("{s:s}", "version", "3");

	assert_ptr_equal(core_sys_mount(c)->engine, &sys_engine);
	assert_ptr_equal(engine_lookup(c, "kv", NULL, false), &kv_v1_engine);
	assert_ptr_equal(engine_lookup(c, "kv", v1, false), &kv_v1_engine);
	assert_ptr_equal(engine_lookup(c, "kv", v2, false), &kv_v2_engine);
	assert_null(engine_lookup(c, "kv", v3, false));
	assert_ptr_equal(engine_lookup(c, "cubbyhole", NULL, false), &cubbyhole_engine);
	assert_ptr_equal(engine_lookup(c, "token", NULL, true), &token_engine);
	assert_null(engine_lookup(c, "token", NULL, false)); /* auth namespace only */
	assert_null(engine_lookup(c, "nope", NULL, false));
	assert_null(engine_lookup(c, NULL, NULL, false));

	json_decref(v1);
	json_decref(v2);
	json_decref(v3);
	core_free(c);
	storage_free(phys);
}

/* ---- the wrap store ----------------------------------------------------- */

static struct {
	int puts, gets;
	char id_hash[TOKEN_LOCATOR_MAX + 1];
	json_t *kept; /* key -> value */
} store;

static int fake_put(struct core *c, const char *id_hash, const char *key, const json_t *v)
{
	store.puts++;
	snprintf(store.id_hash, sizeof(store.id_hash), "%s", id_hash);
	return json_object_set_new(store.kept, key, json_deep_copy(v)) == 0 ? 0 : TROVE_ERR_NOMEM;
}

static int fake_get(struct core *c, const char *id_hash, const char *key, json_t **out)
{
	store.gets++;
	if (strcmp(id_hash, store.id_hash) != 0)
		return TROVE_ERR_NOT_FOUND;
	json_t *v = json_object_get(store.kept, key);
	if (!v)
		return TROVE_ERR_NOT_FOUND;
	*out = json_deep_copy(v);
	return 0;
}

static const struct wrap_store fake_store = {.put = fake_put, .get = fake_get};

static void test_wrapping_goes_through_the_store(void **state)
{
	(void)state;
	struct storage *phys = storage_inmem_new();
	struct core *c = core_with(phys, &builtin_engines, NULL);
	struct token_entry *e = token_entry_new();
	json_t *env = NULL, *info = NULL;

	memset(&store, 0, sizeof(store));
	store.kept = json_object();
	snprintf(e->id_hash, sizeof(e->id_hash), "%s", "hash-of-a-wrapping-token");

	/* nothing registered: as with no cubbyhole mount */
	assert_null(core_wrap_store(c));
	assert_int_equal(wrapping_read(c, e, &env, &info), TROVE_ERR_NOT_FOUND);
	assert_null(env);

	core_set_wrap_store(c, &fake_store);
	assert_ptr_equal(core_wrap_store(c), &fake_store);
	assert_int_equal(wrapping_read(c, e, &env, &info), TROVE_ERR_NOT_FOUND);
	assert_int_equal(store.gets, 1);

	/* what wrapping_create would have stored, read back through the store */
	json_t *stored = json_pack("{s:s}", "response", "{\"data\":{\"k\":\"v\"}}");
	json_t *wi = json_pack("{s:s, s:i}", "creation_path", "kv/x", "creation_ttl", 60);
	assert_int_equal(fake_put(c, e->id_hash, "response", stored), 0);
	assert_int_equal(fake_put(c, e->id_hash, "wrapinfo", wi), 0);
	assert_int_equal(wrapping_read(c, e, &env, &info), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(env, "data"), "k")), "v");
	assert_string_equal(json_string_value(json_object_get(info, "creation_path")), "kv/x");
	assert_int_equal(store.gets, 3);

	json_decref(env);
	json_decref(info);
	json_decref(stored);
	json_decref(wi);
	json_decref(store.kept);
	token_entry_free(e);
	core_free(c);
	storage_free(phys);
}

/* ---- the audit device types ---------------------------------------------- */

static struct {
	int checks, opens;
	char type[32];
} dev;

static struct audit_device *fake_open(const char *type, const json_t *options, const struct audit_limits *lim,
                                      struct buf *err)
{
	dev.opens++;
	buf_printf(err, "fake: cannot open");
	return NULL;
}

static int fake_check(const char *type, const json_t *options, struct buf *err)
{
	dev.checks++;
	snprintf(dev.type, sizeof(dev.type), "%s", type);
	return 0;
}

static bool fake_option_known(const char *type, const char *key)
{
	return strcmp(type, "fake") == 0 && strcmp(key, "where") == 0;
}

static void fake_close(struct audit_device *d)
{
}

static const struct audit_device_types fake_types = {
    .open = fake_open, .check = fake_check, .option_known = fake_option_known, .close = fake_close};

static void test_config_check_uses_the_types(void **state)
{
	(void)state;
	struct buf err;
	json_t *good = json_pack("{s:s}", "where", "here"), *bad = json_pack("{s:s}", "file_path", "/tmp/x");
	struct audit_config_device d = {.path = (char *)"a", .type = (char *)"fake", .options = good};

	buf_init(&err, 256);
	memset(&dev, 0, sizeof(dev));
	assert_int_equal(audit_config_device_check(&fake_types, &d, &err), 0);
	assert_int_equal(dev.checks, 1);
	assert_string_equal(dev.type, "fake");

	/* an option the given types do not know is refused before any check,
	 * even one a built-in type has */
	d.options = bad;
	assert_int_equal(audit_config_device_check(&fake_types, &d, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "file_path"));
	assert_int_equal(dev.checks, 1);

	/* the built-in table knows the file device */
	d.type = (char *)"file";
	err.len = 0;
	assert_int_equal(audit_config_device_check(&audit_device_types, &d, &err), 0);

	buf_release(&err);
	json_decref(good);
	json_decref(bad);
}

static void test_broker_opens_through_the_types(void **state)
{
	(void)state;
	struct storage *logical = storage_inmem_new();
	struct buf err;
	json_t *opts = json_pack("{s:s}", "where", "here");
	struct audit_enable_params p = {.path = "f", .type = "fake", .options = opts};

	buf_init(&err, 256);
	memset(&dev, 0, sizeof(dev));
	struct audit_broker *b = audit_broker_new(&fake_types);
	assert_int_equal(audit_broker_load(b, logical), 0);
	assert_int_not_equal(audit_broker_enable(b, &p, &err), 0);
	assert_int_equal(dev.opens, 1);
	assert_non_null(strstr(err.data, "fake: cannot open"));
	audit_broker_free(b);

	/* no types given: every type is unknown, the file device too */
	b = audit_broker_new(NULL);
	assert_int_equal(audit_broker_load(b, logical), 0);
	p.type = "file";
	p.options = NULL;
	err.len = 0;
	assert_int_equal(audit_broker_enable(b, &p, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "unknown audit device type \"file\""));
	audit_broker_free(b);

	buf_release(&err);
	json_decref(opts);
	storage_free(logical);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry_is_the_one_given),
	    cmocka_unit_test(test_no_registry),
	    cmocka_unit_test(test_builtin_registry),
	    cmocka_unit_test(test_wrapping_goes_through_the_store),
	    cmocka_unit_test(test_config_check_uses_the_types),
	    cmocka_unit_test(test_broker_opens_through_the_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
