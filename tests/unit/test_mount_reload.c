/* test_mount_reload.c — a table another node changed in storage, read
 * again (invalidate.h: core/mounts, core/auth, core/audit, core/keyring).
 *
 * Two cores share one in-memory storage, as two nodes share a
 * PostgreSQL table: "a" changes its mounts through the router, "b" hears
 * of the key through core_storage_changed and must then serve the new
 * table; a mount reference b's requests hold across the reload stays
 * usable. The audit part runs two brokers on one storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/device.h"
#include "buf.h"
#include "core/audit.h"
#include "core/core.h"
#include "core/engine.h"
#include "core/invalidate.h"
#include "core/mount.h"
#include "core/request.h"
#include "core/router.h"
#include "engines/engines.h"
#include "err.h"
#include "storage/storage.h"

#include "banned.h"

struct fx {
	struct storage *phys;
	struct core *a, *b;
};

static struct core *new_core(struct storage *phys)
{
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 600, .max_lease_ttl = 7200,
	                         .expiration_manual = true, .engines = &builtin_engines,
	                         .audit_devices = &audit_device_types};
	return core_new(phys, &cc);
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct core_init_result res;
	struct seal_status st;
	struct buf err;

	buf_init(&err, 1024);
	f->phys = storage_inmem_new();
	f->a = new_core(f->phys);
	f->b = new_core(f->phys);
	assert_int_equal(core_initialize(f->a, 1, 1, "root-id", &res, &err), 0);
	assert_int_equal(core_unseal(f->a, res.keys[0], res.key_len, &st, &err), 0);
	assert_int_equal(core_unseal(f->b, res.keys[0], res.key_len, &st, &err), 0);
	assert_false(st.sealed);
	core_init_result_release(&res);
	buf_release(&err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	core_free(f->b);
	core_free(f->a);
	storage_free(f->phys);
	free(f);
	return 0;
}

/* The HTTP status of op on path (body: JSON text or NULL) on core c as
 * the root token. */
static int call(struct core *c, enum op op, const char *path, const char *body)
{
	struct request req;
	struct response resp;
	struct route_match m;
	int status;

	request_init(&req);
	response_init(&resp);
	req.core = c;
	req.op = op;
	req.path = xstrdup(path);
	req.data = body ? json_loads(body, 0, NULL) : json_object();
	assert_non_null(req.data);
	req.client_token = xstrdup("root-id");
	int r = router_match(&req, &m);
	if (r == 0)
		r = router_dispatch(&req, &m, &resp);
	status = r ? err_http_status(r) : resp.status ? resp.status : resp.data || resp.auth ? 200 : 204;
	response_release(&resp);
	request_release(&req);
	return status;
}

static void test_enabled_mount_reaches_the_other_core(void **state)
{
	struct fx *f = *state;
	assert_int_equal(call(f->a, OP_UPDATE, "sys/mounts/kv", "{\"type\":\"kv\"}"), 204);
	assert_int_equal(call(f->a, OP_UPDATE, "kv/x", "{\"v\":\"1\"}"), 204);
	assert_int_not_equal(call(f->b, OP_READ, "kv/x", NULL), 200);
	core_storage_changed(f->b, MOUNT_TABLE_PATH);
	assert_int_equal(call(f->b, OP_READ, "kv/x", NULL), 200);
	/* the built-in mounts kept their state across the reload */
	assert_int_equal(call(f->b, OP_UPDATE, "cubbyhole/c", "{\"v\":\"1\"}"), 204);
	core_storage_changed(f->b, MOUNT_TABLE_PATH);
	assert_int_equal(call(f->b, OP_READ, "cubbyhole/c", NULL), 200);
}

static void test_tune_keeps_engine_state_and_changes_config(void **state)
{
	struct fx *f = *state;
	assert_int_equal(call(f->a, OP_UPDATE, "sys/mounts/kv2", "{\"type\":\"kv\",\"options\":{\"version\":\"2\"}}"),
	                 204);
	core_storage_changed(f->b, MOUNT_TABLE_PATH);
	struct mount *before = mount_match(core_mounts(f->b), "kv2/");
	assert_non_null(before);
	assert_int_equal(mount_max_ttl(f->b, before), 7200);
	assert_int_equal(call(f->a, OP_UPDATE, "sys/mounts/kv2/tune", "{\"max_lease_ttl\":\"1h\"}"), 204);
	core_storage_changed(f->b, MOUNT_TABLE_PATH);
	struct mount *after = mount_match(core_mounts(f->b), "kv2/");
	assert_non_null(after);
	assert_ptr_not_equal(before, after);
	assert_int_equal(mount_max_ttl(f->b, after), 3600);
	assert_ptr_equal(before->engine_state, after->engine_state);
	assert_ptr_equal(before->view, after->view);
	mount_release(after);
	mount_release(before);
}

static void test_disabled_mount_leaves_but_a_held_reference_stays_usable(void **state)
{
	struct fx *f = *state;
	assert_int_equal(call(f->a, OP_UPDATE, "sys/mounts/gone", "{\"type\":\"kv\"}"), 204);
	assert_int_equal(call(f->a, OP_UPDATE, "gone/x", "{\"v\":\"1\"}"), 204);
	core_storage_changed(f->b, MOUNT_TABLE_PATH);
	assert_int_equal(call(f->b, OP_READ, "gone/x", NULL), 200);
	struct mount *held = mount_match(core_mounts(f->b), "gone/"); /* a request in flight */
	assert_non_null(held);
	assert_int_equal(call(f->a, OP_DELETE, "sys/mounts/gone", NULL), 204);
	core_storage_changed(f->b, MOUNT_TABLE_PATH);
	assert_int_not_equal(call(f->b, OP_READ, "gone/x", NULL), 200);
	struct mount *none = mount_match(core_mounts(f->b), "gone/");
	assert_true(none == NULL || strcmp(none->path, "gone/") != 0);
	mount_release(none);
	/* its view still answers (the data went with the disable on a) */
	unsigned char *v = NULL;
	size_t len = 0;
	assert_int_equal(storage_get(held->view, "x", &v, &len), TROVE_ERR_NOT_FOUND);
	mount_release(held); /* the last reference: its state is freed now */
}

static void test_remount_moves_the_path_on_the_other_core(void **state)
{
	struct fx *f = *state;
	assert_int_equal(call(f->a, OP_UPDATE, "sys/mounts/from", "{\"type\":\"kv\"}"), 204);
	assert_int_equal(call(f->a, OP_UPDATE, "from/x", "{\"v\":\"1\"}"), 204);
	core_storage_changed(f->b, MOUNT_TABLE_PATH);
	assert_int_equal(call(f->a, OP_UPDATE, "sys/remount", "{\"from\":\"from\",\"to\":\"to\"}"), 200);
	core_storage_changed(f->b, MOUNT_TABLE_PATH);
	assert_int_not_equal(call(f->b, OP_READ, "from/x", NULL), 200);
	assert_int_equal(call(f->b, OP_READ, "to/x", NULL), 200);
}

static void test_auth_table_reaches_the_other_core(void **state)
{
	struct fx *f = *state;
	assert_int_equal(call(f->a, OP_UPDATE, "sys/auth/up", "{\"type\":\"userpass\"}"), 204);
	assert_int_equal(call(f->a, OP_UPDATE, "auth/up/users/ann", "{\"password\":\"pw\"}"), 204);
	assert_int_not_equal(call(f->b, OP_UPDATE, "auth/up/login/ann", "{\"password\":\"pw\"}"), 200);
	/* the secret table's key says nothing of the auth table */
	core_storage_changed(f->b, MOUNT_TABLE_PATH);
	assert_int_not_equal(call(f->b, OP_UPDATE, "auth/up/login/ann", "{\"password\":\"pw\"}"), 200);
	core_storage_changed(f->b, AUTH_TABLE_PATH);
	assert_int_equal(call(f->b, OP_UPDATE, "auth/up/login/ann", "{\"password\":\"pw\"}"), 200);
	assert_int_equal(call(f->a, OP_DELETE, "sys/auth/up", NULL), 204);
	core_storage_changed(f->b, AUTH_TABLE_PATH);
	assert_int_not_equal(call(f->b, OP_UPDATE, "auth/up/login/ann", "{\"password\":\"pw\"}"), 200);
}

static void test_everything_changed_reloads_the_tables(void **state)
{
	struct fx *f = *state;
	assert_int_equal(call(f->a, OP_UPDATE, "sys/mounts/all", "{\"type\":\"kv\"}"), 204);
	assert_int_equal(call(f->a, OP_UPDATE, "sys/auth/upall", "{\"type\":\"userpass\"}"), 204);
	core_storage_changed_all(f->b);
	struct mount *m = mount_match(core_mounts(f->b), "all/x");
	struct mount *u = mount_match(core_mounts(f->b), "auth/upall/login/x");
	assert_non_null(m);
	assert_non_null(u);
	assert_string_equal(m->path, "all/");
	assert_string_equal(u->path, "auth/upall/");
	mount_release(m);
	mount_release(u);
}

static void test_keyring_rotated_elsewhere(void **state)
{
	struct fx *f = *state;
	assert_int_equal(call(f->a, OP_UPDATE, "sys/mounts/rot", "{\"type\":\"kv\"}"), 204);
	core_storage_changed(f->b, MOUNT_TABLE_PATH);
	assert_int_equal(call(f->a, OP_UPDATE, "sys/rotate", NULL), 204);
	assert_int_equal(call(f->a, OP_UPDATE, "rot/x", "{\"v\":\"1\"}"), 204);
	/* b does not know the new term yet */
	assert_int_not_equal(call(f->b, OP_READ, "rot/x", NULL), 200);
	core_storage_changed(f->b, "core/keyring");
	assert_int_equal(call(f->b, OP_READ, "rot/x", NULL), 200);
}

static void test_sealed_core_ignores_table_keys(void **state)
{
	struct fx *f = *state;
	assert_int_equal(core_seal(f->b), 0);
	core_storage_changed(f->b, MOUNT_TABLE_PATH);
	core_storage_changed(f->b, AUTH_TABLE_PATH);
	core_storage_changed(f->b, "core/audit");
	core_storage_changed(f->b, "core/keyring");
	assert_int_equal(mount_table_reload(core_mounts(f->b), false), 0);
	assert_int_equal(audit_broker_reload(core_audit(f->b)), 0);
	assert_true(core_sealed(f->b));
}

/* --- audit: two brokers on one storage -------------------------------- */

static void test_audit_device_enabled_elsewhere(void **state)
{
	(void)state;
	char dir[64], file[128];
	struct storage *s = storage_inmem_new();
	struct audit_broker *a = audit_broker_new(&audit_device_types), *b = audit_broker_new(&audit_device_types);
	struct buf err;

	snprintf(dir, sizeof(dir), "/tmp/trove-reload-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/audit.log", dir);
	const char *dirs[] = {dir};
	audit_broker_configure(a, &(struct audit_settings){.file_dirs = dirs, .nfile_dirs = 1});
	audit_broker_configure(b, &(struct audit_settings){.file_dirs = dirs, .nfile_dirs = 1});
	assert_int_equal(audit_broker_load(a, s), 0);
	assert_int_equal(audit_broker_load(b, s), 0);
	json_t *o = json_pack("{ss}", "file_path", file);
	buf_init(&err, 1024);
	assert_int_equal(audit_broker_enable(a, &(struct audit_enable_params){.path = "f", .type = "file", .options = o},
	                                     &err),
	                 0);
	json_decref(o);
	assert_false(audit_broker_active(b));
	assert_int_equal(audit_broker_reload(b), 0);
	assert_true(audit_broker_active(b));
	json_t *l = audit_broker_list(b);
	assert_non_null(json_object_get(l, "f/"));
	json_decref(l);
	assert_int_equal(audit_broker_disable(a, "f", &err), 0);
	assert_int_equal(audit_broker_reload(b), 0);
	assert_false(audit_broker_active(b));
	buf_release(&err);
	audit_broker_free(b);
	audit_broker_free(a);
	storage_free(s);
	unlink(file);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_enabled_mount_reaches_the_other_core, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tune_keeps_engine_state_and_changes_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disabled_mount_leaves_but_a_held_reference_stays_usable, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_remount_moves_the_path_on_the_other_core, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_table_reaches_the_other_core, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_everything_changed_reloads_the_tables, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keyring_rotated_elsewhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sealed_core_ignores_table_keys, setup, teardown),
	    cmocka_unit_test(test_audit_device_enabled_elsewhere),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
