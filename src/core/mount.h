/* mount.h — the mount tables: where each engine lives and its settings.
 *
 * Two tables, secret mounts ("secret/", "cubbyhole/", "sys/") and auth
 * mounts ("auth/token/", "auth/userpass/"), persisted inside the barrier
 * at MOUNT_TABLE_PATH / AUTH_TABLE_PATH and loaded on unseal. Each mount
 * has a UUID, an accessor ("kv_1a2b3c4d", "auth_token_1a2b3c4d"), its
 * engine, its config (TTLs, audit HMAC exemptions, listing visibility...)
 * and a private storage view at "logical/<uuid>/" (secret) or
 * "auth/<uuid>/" (auth) that its engine cannot escape. Disabling a mount
 * deletes everything under its view.
 *
 * Readers never block writers for long: the table is an immutable,
 * refcounted snapshot; enable/disable/tune/remount build a new snapshot,
 * persist it, and swap it in. mount_match returns a reference to a mount
 * in the current snapshot (release it with mount_release). */
#ifndef TROVE_MOUNT_H
#define TROVE_MOUNT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "storage/storage.h"

#define MOUNT_TABLE_PATH "core/mounts"
#define AUTH_TABLE_PATH "core/auth"

struct core;
struct engine;

struct mount_config {
	int64_t default_lease_ttl; /* seconds; 0 = system default */
	int64_t max_lease_ttl;     /* seconds; 0 = system default */
	bool force_no_cache;
	struct strlist audit_non_hmac_request_keys;
	struct strlist audit_non_hmac_response_keys;
	char *listing_visibility; /* "" | "unauth" | "hidden" */
	struct strlist passthrough_request_headers;
	struct strlist allowed_response_headers;
	char *token_type; /* auth mounts: "default-service" ... */
};

struct mount {
	char *path;        /* with trailing '/': "secret/", "auth/token/" */
	char *type;        /* as enabled: "kv", "cubbyhole", "system", "token" */
	char *description;
	char accessor[64];
	char uuid[37];
	json_t *options;   /* object of strings, or NULL (kept exactly as given) */
	struct mount_config config;
	bool auth;         /* lives in the auth table */
	bool local;
	bool seal_wrap;
	bool external_entropy_access;
	const struct engine *engine;
	struct storage *view; /* the mount's private storage (borrowed from
	                       * state, below) */
	struct core *core;    /* the core the mount belongs to (borrowed) */
	void *engine_state;   /* engine's own, created by engine->mount_init
	                       * and freed by engine->mount_cleanup: see
	                       * "Per-mount state" below */
	struct mount_gate *gate; /* requests in flight and the disabling mark;
	                          * shared by the mount's clones (mount_gate.h) */
	int refs;             /* atomic */
	struct mount_state *state; /* the view and engine_state, shared by the
	                            * mount's clones (mount.c) */
};

/* Per-mount state. An engine keeps what belongs to one mount (caches,
 * locks, salts, counters) in m->engine_state, never in a process global.
 * The mount calls engine->mount_init once when the mount is enabled or
 * loaded on unseal, and engine->mount_cleanup once when the mount is gone:
 * disabled or unloaded by a seal, and the last request still using it has
 * finished. Tune and remount replace the struct mount with a clone (see
 * mount.c); a clone of the same engine shares the view and engine_state
 * of the mount it replaces (mount_init is not called again), so a cache or
 * a lock outlives a tune and is the same for requests on the old and the
 * new copy. A tune that changes the engine (kv v1 -> v2) gives the clone a
 * new view and a new engine_state, made by the new engine's mount_init. */

struct mount_table;

/* Created empty with the core; loaded on unseal (creating the built-in
 * mounts sys/, cubbyhole/ and auth/token/ the first time), unloaded on
 * seal. */
struct mount_table *mount_table_new(struct core *core);
void mount_table_free(struct mount_table *t);
int mount_table_load(struct mount_table *t, struct storage *logical);
void mount_table_unload(struct mount_table *t);
/* Another node changed one table in storage (auth: the auth table, else
 * the secret one): reads it and swaps it in as a whole, as unseal would
 * load it. A mount kept (same uuid) keeps its engine state, view and
 * gate when its engine is the same, as a tune's clone does; a mount gone
 * leaves the table at once and its state is freed (mount_cleanup) when
 * the last request using it ends; its data is not touched (the node that
 * disabled it deletes it). Background work starts and stops with the
 * mounts. A request sees the old table or the new one. 0 (also when
 * sealed: nothing is loaded), or the storage's error, the table kept. */
int mount_table_reload(struct mount_table *t, bool auth);

/* The mount whose path is the longest prefix of `path` ("auth/x/..." looks
 * in the auth table). Returns a new reference or NULL. */
struct mount *mount_match(struct mount_table *t, const char *path);
/* The user lockout table of an auth mount (lockout.h): made with the
 * mount, shared by its clones, freed when the mount is gone. NULL for a
 * secret mount. Borrowed: valid while the caller holds m. */
struct lockout_table *mount_lockout(const struct mount *m);

/* The mount of one table whose uuid is uuid. Returns a new reference or
 * NULL. */
struct mount *mount_by_uuid(struct mount_table *t, bool auth, const char *uuid);
void mount_ref(struct mount *m);
void mount_release(struct mount *m);

struct mount_enable_params {
	const char *path;       /* without "auth/" for auth mounts; '/' optional */
	const char *type;
	const char *description;
	json_t *config;         /* the API's "config" object or NULL */
	json_t *options;        /* or NULL */
	bool local, seal_wrap, external_entropy_access;
	bool auth;
};

/* Enables a mount. TROVE_ERR_CONFLICT ("path is already in use at X/")
 * when the path equals, contains or is inside an existing mount;
 * TROVE_ERR_INVALID for an unknown type, a reserved path (sys/, auth/,
 * cubbyhole/, identity/ ...) or bad config, with err filled. */
int mount_enable(struct mount_table *t, const struct mount_enable_params *p, struct buf *err);
/* Disables and deletes the mount's data. Built-in mounts cannot be
 * disabled. TROVE_ERR_INVALID with err when there is no such mount. */
int mount_disable(struct mount_table *t, const char *path, bool auth, struct buf *err);
/* Applies tune fields (the API's tune body) to a mount. */
int mount_tune(struct mount_table *t, const char *path, bool auth, json_t *body, struct buf *err);
/* Moves a mount and its data ("from" and "to" are full paths; an auth
 * mount is "auth/x"). */
int mount_remount(struct mount_table *t, const char *from, const char *to, struct buf *err);

/* The API object of one mount (sys/mounts shape: accessor, config{...},
 * description, external_entropy_access, local, options, plugin_version,
 * running_plugin_version, running_sha256, seal_wrap, type, uuid,
 * deprecation_status). New reference. */
json_t *mount_to_json(const struct mount *m);
/* {"<path>": mount_to_json, ...} for one table. New reference. */
json_t *mount_table_json(struct mount_table *t, bool auth);
/* Calls fn for every mount of one table (a snapshot; safe to call the
 * table's readers inside fn, not its writers). */
void mount_table_foreach(struct mount_table *t, bool auth, void (*fn)(struct mount *m, void *arg), void *arg);

/* The background work of the table's mounts (background.h). */
struct background *mount_table_background(struct mount_table *t);

/* The mount (of either table) with this accessor: a new reference, or
 * NULL. The accessor stays with a mount through tune and remount. */
struct mount *mount_by_accessor(struct mount_table *t, const char *accessor);

/* Effective TTLs of a mount (0 in its config means the system value). */
int64_t mount_default_ttl(const struct core *c, const struct mount *m);
int64_t mount_max_ttl(const struct core *c, const struct mount *m);

#endif
