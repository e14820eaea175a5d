/* test_identity.c — the identity store (core/identity.c) directly.
 *
 * A real core (initialised, unsealed, with a userpass mount) resolves
 * mount accessors; the store itself runs over its own in-memory storage
 * so a second store over the same storage shows what a restart reloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/engines.h"
#include "audit/device.h"
#include "buf.h"
#include "core/core.h"
#include "core/identity.h"
#include "core/mount.h"
#include "err.h"
#include "storage/storage.h"

#include "banned.h"

struct fix {
	struct storage *phys;
	struct core *core;
	struct storage *data; /* the store's storage */
	struct identity_store *s;
	char accessor[64];
};

static void find_up(struct mount *m, void *arg)
{
	struct fix *f = arg;
	if (strcmp(m->type, "userpass") == 0)
		snprintf(f->accessor, sizeof(f->accessor), "%s", m->accessor);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct core_config cfg = {.storage_type = "inmem", .default_lease_ttl = 3600, .max_lease_ttl = 7200, .expiration_manual = true,
				   .engines = &builtin_engines, .audit_devices = &audit_device_types};
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	struct mount_enable_params p = {.path = "userpass", .type = "userpass", .auth = true};

	buf_init(&err, 1024);
	f->phys = storage_inmem_new();
	f->core = core_new(f->phys, &cfg);
	assert_int_equal(core_initialize(f->core, 1, 1, NULL, &res, &err), 0);
	assert_int_equal(core_unseal(f->core, res.keys[0], res.key_len, &st, &err), 0);
	core_init_result_release(&res);
	assert_int_equal(mount_enable(core_mounts(f->core), &p, &err), 0);
	mount_table_foreach(core_mounts(f->core), true, find_up, f);
	assert_true(f->accessor[0] != '\0');
	buf_release(&err);
	f->data = storage_inmem_new();
	f->s = identity_store_new(f->core, f->data);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	identity_store_free(f->s);
	storage_free(f->data);
	core_free(f->core);
	storage_free(f->phys);
	free(f);
	return 0;
}

/* Writes an entity from a JSON text; returns its id (caller frees). */
static char *mk_entity(struct identity_store *s, const char *json)
{
	json_t *fields = json_loads(json, 0, NULL), *out = NULL;
	struct buf err;
	buf_init(&err, 256);
	assert_int_equal(identity_entity_write(s, NULL, NULL, fields, &out, &err), 0);
	char *id = xstrdup(json_string_value(json_object_get(out, "id")));
	json_decref(out);
	json_decref(fields);
	buf_release(&err);
	return id;
}

static int write_err(int (*fn)(struct identity_store *, const char *, const char *, const json_t *, json_t **,
                               struct buf *),
                     struct identity_store *s, const char *id, const char *json, const char *needle)
{
	json_t *fields = json_loads(json, 0, NULL), *out = NULL;
	struct buf err;
	int r;
	buf_init(&err, 256);
	r = fn(s, id, NULL, fields, &out, &err);
	if (needle) {
		assert_non_null(err.data);
		assert_non_null(strstr(err.data, needle));
	}
	json_decref(out);
	json_decref(fields);
	buf_release(&err);
	return r;
}

static void test_entity_names_unique_case_insensitive(void **state)
{
	struct fix *f = *state;
	char *id = mk_entity(f->s, "{\"name\":\"Ann\",\"policies\":[\"p\"]}");
	json_t *e = NULL;
	assert_int_equal(strlen(id), 36);
	assert_int_equal(write_err(identity_entity_write, f->s, NULL, "{\"name\":\"aNN\"}", "already in use"),
	                 TROVE_ERR_INVALID);
	assert_int_equal(identity_entity_read(f->s, NULL, "ANN", &e), 0);
	assert_string_equal(json_string_value(json_object_get(e, "id")), id);
	assert_string_equal(json_string_value(json_object_get(e, "name")), "Ann");
	json_decref(e);
	/* renaming frees the old name */
	assert_int_equal(write_err(identity_entity_write, f->s, id, "{\"name\":\"Bea\"}", NULL), 0);
	assert_int_equal(identity_entity_read(f->s, NULL, "ann", &e), TROVE_ERR_NOT_FOUND);
	free(mk_entity(f->s, "{\"name\":\"ann\"}"));
	/* an unknown id is refused */
	assert_int_equal(write_err(identity_entity_write, f->s, "nope", "{}", "not found"),
	                 TROVE_ERR_INVALID);
	free(id);
}

static void test_alias_rules(void **state)
{
	struct fix *f = *state;
	char *e1 = mk_entity(f->s, "{\"name\":\"e1\"}"), *e2 = mk_entity(f->s, "{\"name\":\"e2\"}");
	char body[512];
	json_t *fields, *out = NULL;
	struct buf err;

	buf_init(&err, 256);
	snprintf(body, sizeof(body), "{\"name\":\"ann\",\"mount_accessor\":\"%s\",\"canonical_id\":\"%s\"}",
	         f->accessor, e1);
	fields = json_loads(body, 0, NULL);
	assert_int_equal(identity_alias_write(f->s, NULL, fields, &out, &err), 0);
	json_decref(fields);
	char *aid = xstrdup(json_string_value(json_object_get(out, "id")));
	json_decref(out);
	out = NULL;

	/* (accessor, name) is unique */
	snprintf(body, sizeof(body), "{\"name\":\"ann\",\"mount_accessor\":\"%s\",\"canonical_id\":\"%s\"}",
	         f->accessor, e2);
	fields = json_loads(body, 0, NULL);
	assert_int_equal(identity_alias_write(f->s, NULL, fields, &out, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "already exists"));
	json_decref(fields);
	buf_reset(&err);

	/* an unknown accessor is refused */
	snprintf(body, sizeof(body),
	         "{\"name\":\"x\",\"mount_accessor\":\"auth_userpass_0000\",\"canonical_id\":\"%s\"}", e2);
	fields = json_loads(body, 0, NULL);
	assert_int_equal(identity_alias_write(f->s, NULL, fields, &out, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "mount accessor"));
	json_decref(fields);

	/* lookup by alias name + accessor, and by alias id */
	snprintf(body, sizeof(body), "{\"alias_name\":\"ann\",\"alias_mount_accessor\":\"%s\"}", f->accessor);
	fields = json_loads(body, 0, NULL);
	assert_int_equal(identity_lookup_entity(f->s, fields, &out, &err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "id")), e1);
	assert_int_equal(json_array_size(json_object_get(out, "aliases")), 1);
	json_decref(out);
	json_decref(fields);
	fields = json_pack("{s:s}", "alias_id", aid);
	assert_int_equal(identity_lookup_entity(f->s, fields, &out, &err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "id")), e1);
	json_decref(out);
	json_decref(fields);

	/* deleting the entity deletes its alias */
	assert_int_equal(identity_entity_delete(f->s, e1, NULL), 0);
	assert_int_equal(identity_alias_read(f->s, aid, &out), TROVE_ERR_NOT_FOUND);
	buf_release(&err);
	free(aid);
	free(e1);
	free(e2);
}

static char *mk_group(struct identity_store *s, const char *json)
{
	json_t *fields = json_loads(json, 0, NULL), *out = NULL;
	struct buf err;
	buf_init(&err, 256);
	assert_int_equal(identity_group_write(s, NULL, NULL, fields, &out, &err), 0);
	char *id = xstrdup(json_string_value(json_object_get(out, "id")));
	json_decref(out);
	json_decref(fields);
	buf_release(&err);
	return id;
}

static void test_group_cycles_and_generation(void **state)
{
	struct fix *f = *state;
	char body[256];
	char *a = mk_group(f->s, "{\"name\":\"a\"}");
	snprintf(body, sizeof(body), "{\"name\":\"b\",\"member_group_ids\":[\"%s\"]}", a);
	char *b = mk_group(f->s, body);
	snprintf(body, sizeof(body), "{\"name\":\"c\",\"member_group_ids\":[\"%s\"]}", b);
	char *c = mk_group(f->s, body);
	uint64_t gen = identity_generation(f->s);

	snprintf(body, sizeof(body), "{\"member_group_ids\":[\"%s\"]}", c);
	assert_int_equal(write_err(identity_group_write, f->s, a, body, "cycle"), TROVE_ERR_INVALID);
	snprintf(body, sizeof(body), "{\"member_group_ids\":[\"%s\"]}", a);
	assert_int_equal(write_err(identity_group_write, f->s, a, body, "cycle"), TROVE_ERR_INVALID);
	assert_int_equal(identity_generation(f->s), gen); /* refused writes change nothing */
	assert_int_equal(write_err(identity_group_write, f->s, a, "{\"policies\":[\"x\"]}", NULL), 0);
	assert_true(identity_generation(f->s) > gen);
	free(a);
	free(b);
	free(c);
}

static void test_reload_rebuilds_indexes(void **state)
{
	struct fix *f = *state;
	char *id = mk_entity(f->s, "{\"name\":\"Keeper\",\"metadata\":{\"k\":\"v\"}}");
	char body[128];
	snprintf(body, sizeof(body), "{\"name\":\"g\",\"member_entity_ids\":[\"%s\"]}", id);
	char *g = mk_group(f->s, body);
	struct identity_store *s2 = identity_store_new(f->core, f->data);
	json_t *e = NULL;
	assert_int_equal(identity_entity_read(s2, NULL, "keeper", &e), 0);
	assert_string_equal(json_string_value(json_object_get(e, "id")), id);
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "metadata"), "k")), "v");
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "direct_group_ids"), 0)), g);
	json_decref(e);
	assert_int_equal(
	    write_err(identity_entity_write, s2, NULL, "{\"name\":\"KEEPER\"}", "already in use"),
	    TROVE_ERR_INVALID);
	identity_store_free(s2);
	free(id);
	free(g);
}

/* custom_metadata is stored, kept by an update that omits it, and
 * reloaded; a group alias without canonical_id gets an external group. */
static void test_alias_custom_metadata_and_new_group(void **state)
{
	struct fix *f = *state;
	char *e = mk_entity(f->s, "{\"name\":\"cm\"}");
	char body[512];
	json_t *fields, *out = NULL, *a = NULL, *g = NULL;
	struct buf err;

	buf_init(&err, 256);
	snprintf(body, sizeof(body),
	         "{\"name\":\"cm\",\"mount_accessor\":\"%s\",\"canonical_id\":\"%s\","
	         "\"custom_metadata\":{\"team\":\"ops\"}}",
	         f->accessor, e);
	fields = json_loads(body, 0, NULL);
	assert_int_equal(identity_alias_write(f->s, NULL, fields, &out, &err), 0);
	json_decref(fields);
	char *aid = xstrdup(json_string_value(json_object_get(out, "id")));
	json_decref(out);
	out = NULL;
	fields = json_loads("{\"name\":\"cm2\"}", 0, NULL);
	assert_int_equal(identity_alias_write(f->s, aid, fields, &out, &err), 0);
	json_decref(fields);
	json_decref(out);
	out = NULL;
	struct identity_store *s2 = identity_store_new(f->core, f->data);
	assert_int_equal(identity_alias_read(s2, aid, &a), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "custom_metadata"), "team")), "ops");
	assert_string_equal(json_string_value(json_object_get(a, "name")), "cm2");
	json_decref(a);
	identity_store_free(s2);

	snprintf(body, sizeof(body), "{\"name\":\"devs\",\"mount_accessor\":\"%s\"}", f->accessor);
	fields = json_loads(body, 0, NULL);
	assert_int_equal(identity_group_alias_write(f->s, NULL, fields, &out, &err), 0);
	json_decref(fields);
	assert_int_equal(identity_group_read(f->s, json_string_value(json_object_get(out, "canonical_id")), NULL, &g), 0);
	assert_string_equal(json_string_value(json_object_get(g, "type")), "external");
	json_decref(g);
	json_decref(out);
	buf_release(&err);
	free(aid);
	free(e);
}

static void test_identity_policies_follow_groups(void **state)
{
	struct fix *f = *state;
	char body[256];
	struct strlist pol;
	char *e = mk_entity(f->s, "{\"name\":\"e\",\"policies\":[\"own\"]}");
	snprintf(body, sizeof(body),
	         "{\"name\":\"in\",\"policies\":[\"p-in\"],\"member_entity_ids\":[\"%s\"]}", e);
	char *in = mk_group(f->s, body);
	snprintf(body, sizeof(body),
	         "{\"name\":\"out\",\"policies\":[\"p-out\",\"own\"],\"member_group_ids\":[\"%s\"]}", in);
	char *out = mk_group(f->s, body);

	strlist_init(&pol);
	assert_int_equal(identity_policies(f->s, e, &pol), 0);
	assert_int_equal(pol.len, 3);
	assert_string_equal(pol.items[0], "own");
	assert_string_equal(pol.items[1], "p-in");
	assert_string_equal(pol.items[2], "p-out");
	strlist_release(&pol);

	/* a cached answer is dropped by the next write */
	assert_int_equal(write_err(identity_group_write, f->s, in, "{\"member_entity_ids\":[]}", NULL), 0);
	strlist_init(&pol);
	assert_int_equal(identity_policies(f->s, e, &pol), 0);
	assert_int_equal(pol.len, 1);
	strlist_release(&pol);

	/* unknown entity: nothing; disabled: refused */
	strlist_init(&pol);
	assert_int_equal(identity_policies(f->s, "nope", &pol), 0);
	assert_int_equal(pol.len, 0);
	assert_int_equal(write_err(identity_entity_write, f->s, e, "{\"disabled\":true}", NULL), 0);
	assert_int_equal(identity_policies(f->s, e, &pol), TROVE_ERR_PERMISSION);
	strlist_release(&pol);
	free(e);
	free(in);
	free(out);
}

static void test_login_entity_created_then_reused(void **state)
{
	struct fix *f = *state;
	char id1[37], id2[37];
	struct buf err;
	json_t *e = NULL;
	buf_init(&err, 256);
	assert_int_equal(identity_login_entity(f->s, f->accessor, "ann", NULL, true, id1, &err), 0);
	assert_int_equal(identity_login_entity(f->s, f->accessor, "ann", NULL, true, id2, &err), 0);
	assert_string_equal(id1, id2);
	/* Without may_write: a known alias still answers; a new one would be
	 * a write and is refused with WOULD_BLOCK, creating nothing. */
	assert_int_equal(identity_login_entity(f->s, f->accessor, "ann", NULL, false, id2, &err), 0);
	assert_string_equal(id1, id2);
	uint64_t gen = identity_generation(f->s);
	assert_int_equal(identity_login_entity(f->s, f->accessor, "newcomer", NULL, false, id2, &err),
	                 TROVE_ERR_WOULD_BLOCK);
	assert_int_equal(identity_generation(f->s), gen);
	assert_int_equal(identity_entity_read(f->s, id1, NULL, &e), 0);
	assert_int_equal(json_array_size(json_object_get(e, "aliases")), 1);
	json_decref(e);
	assert_int_equal(write_err(identity_entity_write, f->s, id1, "{\"disabled\":true}", NULL), 0);
	assert_int_equal(identity_login_entity(f->s, f->accessor, "ann", NULL, true, id2, &err),
	                 TROVE_ERR_PERMISSION);
	buf_release(&err);
}

static void find_token_mount(struct mount *m, void *arg)
{
	if (strcmp(m->type, "token") == 0)
		snprintf(arg, 64, "%s", m->accessor);
}

/* An external group with policy p and an alias `alias` on mount acc. */
static char *mk_external(struct identity_store *s, const char *name, const char *p, const char *acc,
                         const char *alias)
{
	char body[256];
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"type\":\"external\",\"policies\":[\"%s\"]}", name, p);
	char *g = mk_group(s, body);
	json_t *fields = json_pack("{s:s, s:s, s:s}", "name", alias, "mount_accessor", acc, "canonical_id", g), *out = NULL;
	struct buf err;
	buf_init(&err, 256);
	assert_int_equal(identity_group_alias_write(s, NULL, fields, &out, &err), 0);
	json_decref(out);
	json_decref(fields);
	buf_release(&err);
	return g;
}

static bool has_policy(struct identity_store *s, const char *eid, const char *p)
{
	struct strlist pol;
	strlist_init(&pol);
	assert_int_equal(identity_policies(s, eid, &pol), 0);
	bool found = strlist_contains(&pol, p);
	strlist_release(&pol);
	return found;
}

static void test_login_groups_set_external_membership(void **state)
{
	struct fix *f = *state;
	char eid[37], other[64] = "";
	char body[256];
	struct strlist names;
	struct buf err;
	buf_init(&err, 256);
	mount_table_foreach(core_mounts(f->core), true, find_token_mount, other);
	assert_true(other[0] != '\0');
	char *eng = mk_external(f->s, "eng", "p-eng", f->accessor, "engineers");
	char *ops = mk_external(f->s, "ops", "p-ops", f->accessor, "operators");
	char *elsewhere = mk_external(f->s, "elsewhere", "p-else", other, "engineers");
	assert_int_equal(identity_login_entity(f->s, f->accessor, "ann", NULL, true, eid, &err), 0);
	snprintf(body, sizeof(body), "{\"name\":\"internal\",\"policies\":[\"p-int\"],\"member_entity_ids\":[\"%s\"]}",
	         eid);
	char *internal = mk_group(f->s, body);

	strlist_init(&names);
	strlist_push(&names, "engineers");
	strlist_push(&names, "no-such-group");
	assert_int_equal(identity_login_groups(f->s, f->accessor, eid, &names, true), 0);
	assert_true(has_policy(f->s, eid, "p-eng"));
	assert_false(has_policy(f->s, eid, "p-ops"));
	assert_false(has_policy(f->s, eid, "p-else")); /* same alias name, other mount */
	uint64_t gen = identity_generation(f->s);
	assert_int_equal(identity_login_groups(f->s, f->accessor, eid, &names, true), 0);
	assert_int_equal(identity_generation(f->s), gen); /* unchanged: nothing written */
	strlist_release(&names);

	/* The next login reports other groups: membership follows. */
	strlist_init(&names);
	strlist_push(&names, "operators");
	assert_int_equal(identity_login_groups(f->s, f->accessor, eid, &names, true), 0);
	assert_false(has_policy(f->s, eid, "p-eng"));
	assert_true(has_policy(f->s, eid, "p-ops"));
	strlist_release(&names);

	/* None at all: out of every external group of this mount, never out
	 * of an internal group. */
	strlist_init(&names);
	assert_int_equal(identity_login_groups(f->s, f->accessor, eid, &names, true), 0);
	assert_false(has_policy(f->s, eid, "p-ops"));
	assert_true(has_policy(f->s, eid, "p-int"));
	strlist_release(&names);
	buf_release(&err);
	free(eng);
	free(ops);
	free(elsewhere);
	free(internal);
}

static void test_mount_removed_drops_its_aliases(void **state)
{
	struct fix *f = *state;
	char eid[37], other[64] = "";
	struct buf err;
	json_t *e = NULL;
	size_t n = 0;
	buf_init(&err, 256);
	mount_table_foreach(core_mounts(f->core), true, find_token_mount, other);
	assert_int_equal(identity_login_entity(f->s, f->accessor, "ann", NULL, true, eid, &err), 0);
	char *g = mk_external(f->s, "eng", "p-eng", f->accessor, "engineers");
	char *kept = mk_external(f->s, "ops", "p-ops", other, "operators");
	assert_int_equal(identity_mount_removed(f->s, f->accessor, &n), 0);
	assert_int_equal(n, 2); /* ann's alias and the group alias */
	assert_int_equal(identity_entity_read(f->s, eid, NULL, &e), 0); /* the entity stays */
	assert_int_equal(json_array_size(json_object_get(e, "aliases")), 0);
	json_decref(e);
	json_t *list = NULL;
	assert_int_equal(identity_group_alias_list(f->s, &list), 0);
	assert_int_equal(json_array_size(json_object_get(list, "keys")), 1); /* the other mount's */
	json_decref(list);
	buf_release(&err);
	free(g);
	free(kept);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_entity_names_unique_case_insensitive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alias_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_cycles_and_generation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload_rebuilds_indexes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alias_custom_metadata_and_new_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_identity_policies_follow_groups, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_entity_created_then_reused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_groups_set_external_membership, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mount_removed_drops_its_aliases, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
