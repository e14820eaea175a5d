/* kv_util.h — helpers shared by the key/value engines (kv v1, kv v2,
 * cubbyhole): secret paths, JSON values in storage, listings, subtree
 * deletion and JSON merge patch. Internal to src/engines. */
#ifndef TROVE_KV_UTIL_H
#define TROVE_KV_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "core/request.h"
#include "storage/storage.h"

/* The part of req->rel after the literal route prefix `prefix` ("" for a
 * route that is only "*", "data/" for the pattern data/...), without trailing '/'.
 * Heap memory the caller frees. */
char *kv_rest(const struct request *req, const char *prefix);

/* Checks a secret path as a storage key: no empty, "." or ".." segment.
 * An empty path is allowed here (callers decide). Returns 0, or adds a 400
 * message naming `what` to resp and returns TROVE_ERR_INVALID. */
int kv_check_path(const char *path, const char *what, struct response *resp);

/* Reads a JSON value. TROVE_ERR_NOT_FOUND when missing; TROVE_ERR_INTEGRITY
 * when the stored bytes are not JSON. *out is a new reference. The raw
 * bytes are wiped before they are freed (they hold secret values). */
int kv_get_json(struct storage *s, const char *key, json_t **out);

/* Compact JSON encoding of v; *out is heap memory, wipe and free it with
 * kv_free_dump. Returns 0 or TROVE_ERR_NOMEM. */
int kv_dump(const json_t *v, char **out, size_t *len);
void kv_free_dump(char *p, size_t len);

int kv_put_json(struct storage *s, const char *key, const json_t *v);

/* LIST reply: data.keys = the children under prefix ("" or ending in '/').
 * An empty listing is TROVE_ERR_NOT_FOUND (404 with no message). */
int kv_list_reply(struct storage *s, const char *prefix, struct response *resp);

/* Every key under prefix ("" or ending in '/'), recursively, as full keys.
 * Appends to out. */
int kv_collect_keys(struct storage *s, const char *prefix, struct strlist *out);

/* RFC 7386 JSON merge patch: returns target with patch applied (a new
 * reference; target is consumed, patch is borrowed). */
json_t *kv_merge_patch(json_t *target, const json_t *patch);

/* The `ttl` key of a kv v1 value as seconds: an integer or a duration
 * string of 0 to 100 years. Returns false when absent, unparsable or out
 * of range. */
bool kv_ttl_seconds(const json_t *v, int64_t *out);

struct mount;

/* The options_changed hook of both kv engines (kv_v2.c): 1 -> 2 converts
 * every secret of the mount into version 1 of a versioned secret, in one
 * transaction; 2 -> 1 is refused. m->options holds the new options. */
int kv_options_changed(struct mount *m, json_t *old_options, struct buf *err);

#endif
