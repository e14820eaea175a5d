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
    {"id", FIELD_STRING, NULL, "entity id (update)"},           {"name", FIELD_STRING, NULL, "entity name"},
    {"metadata", FIELD_STRMAP, NULL, "metadata (map of strings)"}, {"policies", FIELD_POLICIES, NULL, "policies"},
    {"disabled", FIELD_BOOL, NULL, "refuse logins and tokens"}, {NULL, 0, NULL, NULL},
};

static const struct field merge_fields[] = {
    {"from_entity_ids", FIELD_STRLIST, NULL, "entities to merge"},
    {"to_entity_id", FIELD_STRING, NULL, "entity to merge into"},
    {"force", FIELD_BOOL, "false", "keep the destination's alias on a conflict"},
    {"conflicting_alias_ids_to_keep", FIELD_STRLIST, NULL, "aliases to keep on a conflict"},
    {NULL, 0, NULL, NULL},
};

static const struct field alias_fields[] = {
    {"id", FIELD_STRING, NULL, "alias id (update)"},
    {"name", FIELD_STRING, NULL, "alias name"},
    {"mount_accessor", FIELD_STRING, NULL, "auth mount accessor"},
    {"canonical_id", FIELD_STRING, NULL, "entity (or group) id"},
    {"metadata", FIELD_STRMAP, NULL, "metadata"},
    {"custom_metadata", FIELD_STRMAP, NULL, "user-defined string pairs (at most 64; keys 128 bytes, values 512)"},
    {NULL, 0, NULL, NULL},
};

/* Vault's group aliases carry neither metadata nor custom_metadata. */
static const struct field galias_fields[] = {
    {"id", FIELD_STRING, NULL, "alias id (update)"},
    {"name", FIELD_STRING, NULL, "alias name"},
    {"mount_accessor", FIELD_STRING, NULL, "auth mount accessor"},
    {"canonical_id", FIELD_STRING, NULL, "group id"},
    {NULL, 0, NULL, NULL},
};

static const struct field group_fields[] = {
    {"id", FIELD_STRING, NULL, "group id (update)"},
    {"name", FIELD_STRING, NULL, "group name"},
    {"type", FIELD_STRING, NULL, "internal or external"},
    {"metadata", FIELD_STRMAP, NULL, "metadata"},
    {"policies", FIELD_POLICIES, NULL, "policies"},
    {"member_entity_ids", FIELD_STRLIST, NULL, "member entities"},
    {"member_group_ids", FIELD_STRLIST, NULL, "member groups"},
    {NULL, 0, NULL, NULL},
};

static const struct field lookup_fields[] = {
    {"name", FIELD_STRING, NULL, "name"},
    {"id", FIELD_STRING, NULL, "id"},
    {"alias_id", FIELD_STRING, NULL, "alias id"},
    {"alias_name", FIELD_STRING, NULL, "alias name"},
    {"alias_mount_accessor", FIELD_STRING, NULL, "alias mount accessor"},
    {NULL, 0, NULL, NULL},
};

#define W(fn) [OP_UPDATE] = fn, [OP_CREATE] = fn

static const struct route identity_routes[] = {
    {"entity", {W(entity_create)}, NULL, entity_fields, 0, "create an entity"},
    {"entity/merge", {W(entity_merge)}, NULL, merge_fields, 0, "merge entities"},
    {"entity/id", {[OP_LIST] = entity_id_list}, NULL, NULL, 0, "list entities by id"},
    {"entity/id/:id",
     {[OP_READ] = entity_id_read, W(entity_id_write), [OP_DELETE] = entity_id_delete},
     NULL,
     entity_fields,
     0,
     "an entity by id"},
    {"entity/name", {[OP_LIST] = entity_name_list}, NULL, NULL, 0, "list entities by name"},
    {"entity/name/:name",
     {[OP_READ] = entity_name_read, W(entity_name_write), [OP_DELETE] = entity_name_delete},
     NULL,
     entity_fields,
     ROUTE_NAMES_CI,
     "an entity by name"},
    {"entity-alias", {W(alias_create)}, NULL, alias_fields, 0, "create an entity alias"},
    {"entity-alias/id", {[OP_LIST] = alias_list}, NULL, NULL, 0, "list entity aliases"},
    {"entity-alias/id/:id",
     {[OP_READ] = alias_id_read, W(alias_id_write), [OP_DELETE] = alias_id_delete},
     NULL,
     alias_fields,
     0,
     "an entity alias"},
    {"group", {W(group_create)}, NULL, group_fields, 0, "create a group"},
    {"group/id", {[OP_LIST] = group_id_list}, NULL, NULL, 0, "list groups by id"},
    {"group/id/:id",
     {[OP_READ] = group_id_read, W(group_id_write), [OP_DELETE] = group_id_delete},
     NULL,
     group_fields,
     0,
     "a group by id"},
    {"group/name", {[OP_LIST] = group_name_list}, NULL, NULL, 0, "list groups by name"},
    {"group/name/:name",
     {[OP_READ] = group_name_read, W(group_name_write), [OP_DELETE] = group_name_delete},
     NULL,
     group_fields,
     ROUTE_NAMES_CI,
     "a group by name"},
    {"group-alias", {W(galias_create)}, NULL, galias_fields, 0, "create a group alias"},
    {"group-alias/id", {[OP_LIST] = galias_list}, NULL, NULL, 0, "list group aliases"},
    {"group-alias/id/:id",
     {[OP_READ] = galias_id_read, W(galias_id_write), [OP_DELETE] = galias_id_delete},
     NULL,
     galias_fields,
     0,
     "a group alias"},
    {"lookup/entity", {W(lookup_entity)}, NULL, lookup_fields, 0, "look up an entity"},
    {"lookup/group", {W(lookup_group)}, NULL, lookup_fields, 0, "look up a group"},
    {NULL, {0}, NULL, NULL, 0, NULL},
};

static const struct route *const identity_tables[] = {identity_routes, NULL};

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
};
