/* identity.h — the identity store: entities, entity aliases, groups and
 * group aliases (Vault's identity secrets engine, mounted by the core at
 * identity/).
 *
 * Contract.
 *  - One store per identity mount, created by the engine's mount_init over
 *    the mount's private view (so every value is encrypted by the
 *    barrier). Records are JSON, one key each:
 *        entity/<id>  alias/<id>  group/<id>  group-alias/<id>
 *  - The store loads every record into memory on first use (lazily) and
 *    keeps indexes: entity and group by id and by lower-cased name (names
 *    are unique case-insensitively), entity alias and group alias by id
 *    and by (mount_accessor, name), which is unique. A rwlock guards the
 *    indexes; every write persists first and then updates the indexes, so
 *    a failed write changes nothing in memory.
 *  - `fields` arguments are JSON objects already coerced by the router
 *    (strings, string lists, maps of strings, booleans); absent keys leave
 *    the stored value unchanged on update.
 *  - Returns 0 or a TROVE_ERR_* code; TROVE_ERR_INVALID and
 *    TROVE_ERR_NOT_FOUND from writes come with a message in err.
 *    Reads return TROVE_ERR_NOT_FOUND when the record does not exist.
 *  - `out` results are new references in Vault's API shapes.
 *  - Every successful write bumps a generation counter
 *    (identity_generation) so callers may cache derived data.
 *
 * All functions are thread-safe. */
#ifndef TROVE_IDENTITY_H
#define TROVE_IDENTITY_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "storage/storage.h"

struct core;
struct identity_store;

/* view is borrowed (the mount's); core is used to resolve auth mount
 * accessors. */
struct identity_store *identity_store_new(struct core *core, struct storage *view);
void identity_store_free(struct identity_store *s);

/* ---- entities ---- */
/* Creates or updates an entity. id set: update that entity (400 "entity
 * not found from id" when missing). name_key set (entity/name/:name):
 * update the entity of that name or create it. Neither: create (name from
 * fields or generated). Fields: name, metadata, policies, disabled.
 * out: {"id","name"}. 400 on a duplicate name. */
int identity_entity_write(struct identity_store *s, const char *id, const char *name_key,
                          const json_t *fields, json_t **out, struct buf *err);
/* By id, or by name when id is NULL. The full read shape (aliases,
 * group ids, ...). */
int identity_entity_read(struct identity_store *s, const char *id, const char *name, json_t **out);
/* Deletes the entity, its aliases and its group memberships. 0 when
 * there was nothing to delete. */
int identity_entity_delete(struct identity_store *s, const char *id, const char *name);
/* {"keys":[ids or names], "key_info":{...}}; NOT_FOUND when empty. */
int identity_entity_list(struct identity_store *s, bool by_name, json_t **out);
/* Moves the aliases (and policies, group memberships) of the from
 * entities into `to` and deletes them. Two aliases on one mount accessor
 * are refused (400) unless force (the to-entity's alias is kept) or one
 * of them is in keep (that one is kept). */
int identity_entity_merge(struct identity_store *s, const struct strlist *from, const char *to, bool force,
                          const struct strlist *keep, struct buf *err);

/* ---- entity aliases ---- */
/* Creates (id NULL) or updates an alias. Fields: name, mount_accessor (an
 * existing auth mount's), canonical_id (an existing entity; created when
 * absent on create), metadata, custom_metadata (an object of strings the
 * caller has checked; replaced when given, kept when not).
 * out: {"id","canonical_id"}. */
int identity_alias_write(struct identity_store *s, const char *id, const json_t *fields, json_t **out,
                         struct buf *err);
int identity_alias_read(struct identity_store *s, const char *id, json_t **out);
int identity_alias_delete(struct identity_store *s, const char *id);
int identity_alias_list(struct identity_store *s, json_t **out);

/* ---- groups ---- */
/* As identity_entity_write. Fields: name, type (internal|external, fixed
 * once created), policies, member_entity_ids, member_group_ids (internal
 * groups only; existing ids; no cycles), metadata. out: {"id","name"}. */
int identity_group_write(struct identity_store *s, const char *id, const char *name_key, const json_t *fields,
                         json_t **out, struct buf *err);
int identity_group_read(struct identity_store *s, const char *id, const char *name, json_t **out);
int identity_group_delete(struct identity_store *s, const char *id, const char *name);
int identity_group_list(struct identity_store *s, bool by_name, json_t **out);

/* ---- group aliases (external groups only, one per group) ---- */
/* Creates (id NULL) or updates a group alias. Fields: name, mount_accessor,
 * canonical_id (an external group; on create without it, a new external
 * group is made, as Vault does). out: {"id","canonical_id"}. */
int identity_group_alias_write(struct identity_store *s, const char *id, const json_t *fields, json_t **out,
                               struct buf *err);
int identity_group_alias_read(struct identity_store *s, const char *id, json_t **out);
int identity_group_alias_delete(struct identity_store *s, const char *id);
int identity_group_alias_list(struct identity_store *s, json_t **out);

/* ---- lookups ---- */
/* By exactly one of name, id, alias_id, or alias_name+alias_mount_accessor
 * (400 otherwise). NOT_FOUND when nothing matches. */
int identity_lookup_entity(struct identity_store *s, const json_t *fields, json_t **out, struct buf *err);
int identity_lookup_group(struct identity_store *s, const json_t *fields, json_t **out, struct buf *err);

uint64_t identity_generation(struct identity_store *s);

/* The lock the identity token routes (engines/identity_oidc.c) hold while
 * they read, change and store a key or role record, so a rotation and a
 * write of the same key never lose one another. Lives as long as s. */
pthread_mutex_t *identity_oidc_lock(struct identity_store *s);

/* A storage change made elsewhere (core_storage_changed, invalidate.h):
 * key is relative to the store's view ("entity/<id>", "alias/<id>",
 * "group/<id>", "group-alias/<id>"). The record is read again from
 * storage (dropped when it is gone) and the generation moves on, so
 * lookups, identity policies and templated ACLs see the change on the
 * next request. When the record cannot be read the whole store is
 * reloaded on its next use. Other keys are ignored. */
void identity_store_invalidate(struct identity_store *s, const char *key);

/* ---- for the core ---- */
struct mount;
/* The identity store of core c: the engine state of its identity/ mount.
 * On success *holder is a reference on that mount (keeping the store
 * alive): release it with mount_release. NULL when there is none. */
struct identity_store *identity_of_core(struct core *c, struct mount **holder);
/* Login: the entity of the alias (mount_accessor, alias_name), creating
 * the entity and the alias when there is none (alias_meta, an object of
 * strings or NULL, becomes or replaces the alias's metadata). Writes the
 * entity's id into entity_id. TROVE_ERR_PERMISSION with err filled when
 * the entity is disabled. Without may_write (a login tried on an event
 * loop), TROVE_ERR_WOULD_BLOCK instead of any write; the same for
 * identity_login_groups below. */
/* The identity policies of an entity: its own and those of every group
 * it belongs to, directly or through member_group_ids; sorted, unique,
 * appended to out. Nothing for an unknown entity (or ""); PERMISSION for a
 * disabled one. Answers come from a cache that any identity write
 * invalidates (the generation counter), so a change applies to the next
 * request. */
int identity_policies(struct identity_store *s, const char *entity_id, struct strlist *out);
/* What templated policies substitute (acl_new_templated in acl.h):
 * {"entity": <entity read shape>, "groups": [{"id","name"}...]} for the
 * entity's groups, direct and inherited. New reference; NULL for an
 * unknown entity. */
json_t *identity_template_data(struct identity_store *s, const char *entity_id);
int identity_login_entity(struct identity_store *s, const char *mount_accessor, const char *alias_name,
                          const json_t *alias_meta, bool may_write, char entity_id[37], struct buf *err);
/* An auth mount was disabled: its entity aliases and group aliases go
 * (entities and groups stay). *removed (may be NULL) gets the count. */
int identity_mount_removed(struct identity_store *s, const char *mount_accessor, size_t *removed);
/* Login: the external groups an auth method reports for a user (OIDC's
 * groups claim, LDAP groups), by group alias name on that method's mount.
 * The entity becomes a member of each external group whose alias on
 * mount_accessor is in names, and stops being a member of every other
 * external group aliased on that mount; groups of other mounts and
 * internal groups are untouched. Unknown names are ignored (an operator
 * creates the external group and its alias to give a group policies). */
int identity_login_groups(struct identity_store *s, const char *mount_accessor, const char *entity_id,
                          const struct strlist *names, bool may_write);

#endif
