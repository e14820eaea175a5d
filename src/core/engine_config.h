/* engine_config.h — an engine's typed settings for one mount.
 *
 * An engine declares its settings once: a C struct of int64_t and bool
 * members, and a table saying, for each, the name it has in the API and in
 * storage, its type and its bounds. The document lives through the barrier
 * at a fixed key of the mount's view (kv-v2: "config") as one JSON object
 * of every declared field (ints and durations as integers of seconds,
 * bools as booleans), so a restart, a standby or a backup reads what was
 * written. An absent document is every field at zero.
 *
 * A struct engine_config kept in the mount's engine state caches the
 * parsed document: readers copy the struct without touching storage; a
 * write validates the changes against the table, stores the whole
 * document, caches it and calls the declaration's reload hook; a storage
 * change announced for the key (core_storage_changed, invalidate.h)
 * reloads it and calls the hook if the settings differ. Only scalar types
 * so far: FIELD_INT, FIELD_DURATION (int64_t) and FIELD_BOOL (bool).
 *
 * All functions are thread-safe for one engine_config. */
#ifndef TROVE_ENGINE_CONFIG_H
#define TROVE_ENGINE_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "router.h"
#include "storage/storage.h"

#define ENGINE_CONFIG_MAX 1024 /* bytes of the largest settings struct */

struct config_field {
	const char *name;     /* in the API and in the stored document */
	enum field_type type; /* FIELD_INT, FIELD_DURATION or FIELD_BOOL */
	size_t offset;        /* offsetof the member (int64_t, or bool) */
	int64_t min, max;     /* ints and durations: accepted range, but 0
	                       * (not set: the engine's default) always is */
};

/* Table entries: an int64_t member with bounds, a bool member. */
#define CONFIG_INT(st, member, name, lo, hi) { name, FIELD_INT, offsetof(st, member), lo, hi }
#define CONFIG_DURATION(st, member, name, lo, hi) { name, FIELD_DURATION, offsetof(st, member), lo, hi }
#define CONFIG_BOOL(st, member, name) { name, FIELD_BOOL, offsetof(st, member), 0, 0 }

struct config_decl {
	const char *key;                   /* storage key in the mount's view */
	size_t size;                       /* sizeof the struct; <= ENGINE_CONFIG_MAX */
	const struct config_field *fields; /* ended by an entry with name NULL */
	/* Optional: the settings changed (written, or reloaded after a
	 * storage change). cfg is the new struct, valid during the call;
	 * arg is engine_config_new's. Called without the config's lock held,
	 * after the new settings are visible to engine_config_get. */
	void (*reload)(void *arg, const void *cfg);
};

/* Without a cache (a request outside a mount): reads the document at
 * d->key in view into out (d->size bytes; zeroed when absent). Returns 0,
 * or TROVE_ERR_INTEGRITY when the stored document is not an object of the
 * declared types within bounds, or a storage error. */
int engine_config_load(const struct config_decl *d, struct storage *view, void *out);

/* Applies changes (a JSON object; the declared fields it holds with a
 * non-null value, coerced as the router coerces them: integers for ints
 * and durations, booleans for bools) onto cfg, checking each against the
 * table. Returns 0, or TROVE_ERR_INVALID with "<field>: <reason>" in err
 * (cfg may then be partly changed). */
int engine_config_apply(const struct config_decl *d, void *cfg, const json_t *changes, struct buf *err);

/* The stored document of cfg. New reference. */
json_t *engine_config_json(const struct config_decl *d, const void *cfg);

struct engine_config;

/* The cached settings of one mount: d and arg are borrowed and must
 * outlive it. Nothing is read until the first use. */
struct engine_config *engine_config_new(const struct config_decl *d, void *arg);
void engine_config_free(struct engine_config *c);

/* The current settings into out (d->size bytes), loaded from view the
 * first time. Returns 0 or engine_config_load's error. */
int engine_config_get(struct engine_config *c, struct storage *view, void *out);

/* Read-modify-write: applies changes (engine_config_apply) to the current
 * settings, stores the document, caches it and calls the reload hook.
 * Writers are serialised. Returns 0, TROVE_ERR_INVALID with err filled
 * (nothing stored), or a storage error (nothing cached). */
int engine_config_write(struct engine_config *c, struct storage *view, const json_t *changes, struct buf *err);

/* The stored document may have changed underneath (invalidate.h): it is
 * read again now; when it differs, the reload hook is called. When it
 * cannot be read the cache is dropped and the next get reads storage. */
void engine_config_invalidate(struct engine_config *c, struct storage *view);

#endif
