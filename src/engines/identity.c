/* identity.c — the identity engine's routes (Vault's identity secrets
 * engine), mounted by the core at identity/. The records and their rules
 * live in core/identity.c; this file maps paths and fields onto it.
 *
 *   entity                     POST: create (or update with "id")
 *   entity/id/:id              read, update, delete; entity/id LIST
 *   entity/name/:name          read, create-or-update, delete; entity/name LIST
 *   entity/merge               POST
 *   entity-alias               POST; entity-alias/id/:id; entity-alias/id LIST
 *   group                      POST; group/id/:id; group/name/:name; LISTs
 *   group-alias                POST; group-alias/id/:id; group-alias/id LIST
 *   lookup/entity, lookup/group   POST (204 when nothing matches) */
#include <string.h>

#include "engines.h"
#include "custom_metadata.h"

#include "core/identity.h"
#include "engines/identity_oidc.h"
#include "core/mount.h"
#include "err.h"

#include "banned.h"

static struct identity_store *store_of(const struct request *req)
{
	return req->mount ? req->mount->engine_state : NULL;
}

/* Turns a store result into the response. */
static int finish(struct response *resp, int r, json_t *out, struct buf *err)
{
	if (r == 0) {
		if (out)
			response_set_data(resp, out);
	} else {
		json_decref(out);
		if (err && err->len)
			r = response_error(resp, r, "%s", err->data);
	}
	if (err)
		buf_release(err);
	return r;
}

#define STORE_OR_FAIL(s)                                                                                     \
	struct identity_store *s = store_of(req);                                                            \
	if (!s)                                                                                              \
		return response_error(resp, TROVE_ERR_INTERNAL, "identity store unavailable");

/* ---- entities ---- */

static int entity_create(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	struct buf err;
	json_t *out = NULL;
	buf_init(&err, 512);
	int r = identity_entity_write(s, NULL, NULL, req->data, &out, &err);
	return finish(resp, r, out, &err);
}

static int entity_id_write(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	struct buf err;
	json_t *out = NULL;
	buf_init(&err, 512);
	int r = identity_entity_write(s, request_param(req, "id"), NULL, req->data, &out, &err);
	return finish(resp, r, out, &err);
}

static int entity_name_write(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	struct buf err;
	json_t *out = NULL;
	buf_init(&err, 512);
	int r = identity_entity_write(s, NULL, request_param(req, "name"), req->data, &out, &err);
	return finish(resp, r, out, &err);
}

static int entity_id_read(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_entity_read(s, request_param(req, "id"), NULL, &out);
	return finish(resp, r, out, NULL);
}

static int entity_name_read(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_entity_read(s, NULL, request_param(req, "name"), &out);
	return finish(resp, r, out, NULL);
}

static int entity_id_delete(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	int r = identity_entity_delete(s, request_param(req, "id"), NULL);
	return finish(resp, r, NULL, NULL);
}

static int entity_name_delete(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	int r = identity_entity_delete(s, NULL, request_param(req, "name"));
	return finish(resp, r, NULL, NULL);
}

static int entity_id_list(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_entity_list(s, false, &out);
	return finish(resp, r, out, NULL);
}

static int entity_name_list(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_entity_list(s, true, &out);
	return finish(resp, r, out, NULL);
}

static void strlist_from(const json_t *arr, struct strlist *l)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) if (json_is_string(v)) strlist_push(l, json_string_value(v));
}

static int entity_merge(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	struct strlist from, keep;
	struct buf err;
	int r;
	strlist_init(&from);
	strlist_init(&keep);
	buf_init(&err, 512);
	strlist_from(json_object_get(req->data, "from_entity_ids"), &from);
	strlist_from(json_object_get(req->data, "conflicting_alias_ids_to_keep"), &keep);
	r = identity_entity_merge(s, &from, field_string(req, "to_entity_id"), field_bool(req, "force"),
	                          &keep, &err);
	strlist_release(&from);
	strlist_release(&keep);
	return finish(resp, r, NULL, &err);
}

/* ---- aliases ---- */

/* Create (id NULL) or update an entity alias. custom_metadata is checked,
 * its scalars made strings, before the store sees it. */
static int alias_write(struct request *req, struct response *resp, const char *id)
{
	STORE_OR_FAIL(s);
	json_t *cm = req->data ? json_object_get(req->data, "custom_metadata") : NULL;
	struct buf err;
	json_t *out = NULL;
	int r;

	if (cm && (r = custom_metadata_check(cm, resp)) != 0)
		return r;
	buf_init(&err, 512);
	r = identity_alias_write(s, id, req->data, &out, &err);
	return finish(resp, r, out, &err);
}

static int alias_create(struct request *req, struct response *resp)
{
	return alias_write(req, resp, NULL);
}

static int alias_id_write(struct request *req, struct response *resp)
{
	return alias_write(req, resp, request_param(req, "id"));
}

static int alias_id_read(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_alias_read(s, request_param(req, "id"), &out);
	return finish(resp, r, out, NULL);
}

static int alias_id_delete(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	int r = identity_alias_delete(s, request_param(req, "id"));
	return finish(resp, r, NULL, NULL);
}

static int alias_list(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_alias_list(s, &out);
	return finish(resp, r, out, NULL);
}

/* ---- groups ---- */

static int group_create(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	struct buf err;
	json_t *out = NULL;
	buf_init(&err, 512);
	int r = identity_group_write(s, NULL, NULL, req->data, &out, &err);
	return finish(resp, r, out, &err);
}

static int group_id_write(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	struct buf err;
	json_t *out = NULL;
	buf_init(&err, 512);
	int r = identity_group_write(s, request_param(req, "id"), NULL, req->data, &out, &err);
	return finish(resp, r, out, &err);
}

static int group_name_write(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	struct buf err;
	json_t *out = NULL;
	buf_init(&err, 512);
	int r = identity_group_write(s, NULL, request_param(req, "name"), req->data, &out, &err);
	return finish(resp, r, out, &err);
}

static int group_id_read(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_group_read(s, request_param(req, "id"), NULL, &out);
	return finish(resp, r, out, NULL);
}

static int group_name_read(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_group_read(s, NULL, request_param(req, "name"), &out);
	return finish(resp, r, out, NULL);
}

static int group_id_delete(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	int r = identity_group_delete(s, request_param(req, "id"), NULL);
	return finish(resp, r, NULL, NULL);
}

static int group_name_delete(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	int r = identity_group_delete(s, NULL, request_param(req, "name"));
	return finish(resp, r, NULL, NULL);
}

static int group_id_list(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_group_list(s, false, &out);
	return finish(resp, r, out, NULL);
}

static int group_name_list(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_group_list(s, true, &out);
	return finish(resp, r, out, NULL);
}

/* ---- group aliases ---- */

static int galias_create(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	struct buf err;
	json_t *out = NULL;
	buf_init(&err, 512);
	int r = identity_group_alias_write(s, NULL, req->data, &out, &err);
	return finish(resp, r, out, &err);
}

static int galias_id_write(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	struct buf err;
	json_t *out = NULL;
	buf_init(&err, 512);
	int r = identity_group_alias_write(s, request_param(req, "id"), req->data, &out, &err);
	return finish(resp, r, out, &err);
}

static int galias_id_read(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_group_alias_read(s, request_param(req, "id"), &out);
	return finish(resp, r, out, NULL);
}

static int galias_id_delete(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	int r = identity_group_alias_delete(s, request_param(req, "id"));
	return finish(resp, r, NULL, NULL);
}

static int galias_list(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	json_t *out = NULL;
	int r = identity_group_alias_list(s, &out);
	return finish(resp, r, out, NULL);
}

/* ---- lookups: nothing found is 204, as Vault ---- */

static int lookup_entity(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	struct buf err;
	json_t *out = NULL;
	int r;
	buf_init(&err, 512);
	r = identity_lookup_entity(s, req->data, &out, &err);
	return finish(resp, r == TROVE_ERR_NOT_FOUND ? 0 : r, out, &err);
}

static int lookup_group(struct request *req, struct response *resp)
{
	STORE_OR_FAIL(s);
	struct buf err;
	json_t *out = NULL;
	int r;
	buf_init(&err, 512);
	r = identity_lookup_group(s, req->data, &out, &err);
	return finish(resp, r == TROVE_ERR_NOT_FOUND ? 0 : r, out, &err);
}

/* ---- tables ---- */

static const struct field entity_fields[] = {
    {.name = "id", .type = FIELD_STRING, .description = "entity id (update)"},
    {.name = "name", .type = FIELD_STRING, .description = "entity name"},
    {.name = "metadata", .type = FIELD_STRMAP, .description = "metadata (map of strings)"},
    {.name = "policies", .type = FIELD_POLICIES, .description = "policies"},
    {.name = "disabled", .type = FIELD_BOOL, .description = "refuse logins and tokens"},
    {0},
};

static const struct field merge_fields[] = {
    {.name = "from_entity_ids", .type = FIELD_STRLIST, .description = "entities to merge"},
    {.name = "to_entity_id", .type = FIELD_STRING, .description = "entity to merge into"},
    {.name = "force",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "keep the destination's alias on a conflict"},
    {.name = "conflicting_alias_ids_to_keep",
     .type = FIELD_STRLIST,
     .description = "aliases to keep on a conflict"},
    {0},
};

static const struct field alias_fields[] = {
    {.name = "id", .type = FIELD_STRING, .description = "alias id (update)"},
    {.name = "name", .type = FIELD_STRING, .description = "alias name"},
    {.name = "mount_accessor", .type = FIELD_STRING, .description = "auth mount accessor"},
    {.name = "canonical_id", .type = FIELD_STRING, .description = "entity (or group) id"},
    {.name = "metadata", .type = FIELD_STRMAP, .description = "metadata"},
    {.name = "custom_metadata",
     .type = FIELD_STRMAP,
     .description = "user-defined string pairs (at most 64; keys 128 bytes, values 512)"},
    {0},
};

/* Vault's group aliases carry neither metadata nor custom_metadata. */
static const struct field galias_fields[] = {
    {.name = "id", .type = FIELD_STRING, .description = "alias id (update)"},
    {.name = "name", .type = FIELD_STRING, .description = "alias name"},
    {.name = "mount_accessor", .type = FIELD_STRING, .description = "auth mount accessor"},
    {.name = "canonical_id", .type = FIELD_STRING, .description = "group id"},
    {0},
};

static const struct field group_fields[] = {
    {.name = "id", .type = FIELD_STRING, .description = "group id (update)"},
    {.name = "name", .type = FIELD_STRING, .description = "group name"},
    {.name = "type", .type = FIELD_STRING, .description = "internal or external"},
    {.name = "metadata", .type = FIELD_STRMAP, .description = "metadata"},
    {.name = "policies", .type = FIELD_POLICIES, .description = "policies"},
    {.name = "member_entity_ids", .type = FIELD_STRLIST, .description = "member entities"},
    {.name = "member_group_ids", .type = FIELD_STRLIST, .description = "member groups"},
    {0},
};

static const struct field lookup_fields[] = {
    {.name = "name", .type = FIELD_STRING, .description = "name"},
    {.name = "id", .type = FIELD_STRING, .description = "id"},
    {.name = "alias_id", .type = FIELD_STRING, .description = "alias id"},
    {.name = "alias_name", .type = FIELD_STRING, .description = "alias name"},
    {.name = "alias_mount_accessor", .type = FIELD_STRING, .description = "alias mount accessor"},
    {0},
};

#define W(fn) [OP_UPDATE] = fn, [OP_CREATE] = fn

static const struct route identity_routes[] = {
    {.pattern = "entity", .ops = {W(entity_create)}, .fields = entity_fields, .synopsis = "create an entity"},
    {.pattern = "entity/merge",
     .ops = {W(entity_merge)},
     .fields = merge_fields,
     .synopsis = "merge entities"},
    {.pattern = "entity/id",
     .ops = {[OP_LIST] = entity_id_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list entities by id"},
    {.pattern = "entity/id/:id",
     .ops = {[OP_READ] = entity_id_read, W(entity_id_write), [OP_DELETE] = entity_id_delete},
     .fields = entity_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "an entity by id"},
    {.pattern = "entity/name",
     .ops = {[OP_LIST] = entity_name_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list entities by name"},
    {.pattern = "entity/name/:name",
     .ops = {[OP_READ] = entity_name_read, W(entity_name_write), [OP_DELETE] = entity_name_delete},
     .fields = entity_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "an entity by name"},
    {.pattern = "entity-alias",
     .ops = {W(alias_create)},
     .fields = alias_fields,
     .synopsis = "create an entity alias"},
    {.pattern = "entity-alias/id",
     .ops = {[OP_LIST] = alias_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list entity aliases"},
    {.pattern = "entity-alias/id/:id",
     .ops = {[OP_READ] = alias_id_read, W(alias_id_write), [OP_DELETE] = alias_id_delete},
     .fields = alias_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "an entity alias"},
    {.pattern = "group", .ops = {W(group_create)}, .fields = group_fields, .synopsis = "create a group"},
    {.pattern = "group/id",
     .ops = {[OP_LIST] = group_id_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list groups by id"},
    {.pattern = "group/id/:id",
     .ops = {[OP_READ] = group_id_read, W(group_id_write), [OP_DELETE] = group_id_delete},
     .fields = group_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "a group by id"},
    {.pattern = "group/name",
     .ops = {[OP_LIST] = group_name_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list groups by name"},
    {.pattern = "group/name/:name",
     .ops = {[OP_READ] = group_name_read, W(group_name_write), [OP_DELETE] = group_name_delete},
     .fields = group_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "a group by name"},
    {.pattern = "group-alias",
     .ops = {W(galias_create)},
     .fields = galias_fields,
     .synopsis = "create a group alias"},
    {.pattern = "group-alias/id",
     .ops = {[OP_LIST] = galias_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list group aliases"},
    {.pattern = "group-alias/id/:id",
     .ops = {[OP_READ] = galias_id_read, W(galias_id_write), [OP_DELETE] = galias_id_delete},
     .fields = galias_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "a group alias"},
    {.pattern = "lookup/entity",
     .ops = {W(lookup_entity)},
     .fields = lookup_fields,
     .synopsis = "look up an entity"},
    {.pattern = "lookup/group",
     .ops = {W(lookup_group)},
     .fields = lookup_fields,
     .synopsis = "look up a group"},
    {0},
};

static const struct route *const identity_tables[] = {identity_routes, identity_oidc_routes, NULL};

static int identity_mount_init(struct mount *m, struct buf *err)
{
	(void)err;
	m->engine_state = identity_store_new(m->core, m->view);
	return 0;
}

static void identity_invalidate(struct mount *m, const char *key)
{
	if (m->engine_state)
		identity_store_invalidate(m->engine_state, key);
}

static void identity_mount_cleanup(struct mount *m)
{
	identity_store_free(m->engine_state);
	m->engine_state = NULL;
}

const struct engine identity_engine = {
    .type = "identity",
    .tables = identity_tables,
    .flags = ENGINE_BUILTIN,
    .mount_init = identity_mount_init,
    .mount_cleanup = identity_mount_cleanup,
    .invalidate = identity_invalidate,
    .periodic = identity_oidc_periodic, /* identity token key rotation */
    .periodic_interval_s = 60,
};
