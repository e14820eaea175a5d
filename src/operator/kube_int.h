/* kube_int.h — what the files of the Kubernetes client (kube_*.c) share
 * and nothing outside them uses: reading small files, the connection a
 * client opens, the request head it writes, and SIGPIPE blocking. */
#ifndef TROVE_OPERATOR_KUBE_INT_H
#define TROVE_OPERATOR_KUBE_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/net_conn.h"
#include <jansson.h>

#include "buf.h"
#include "operator/kube.h"

#define KUBE_FILE_MAX ((size_t)4 << 20) /* kubeconfig, CA bundles, tokens */

/* Reads the whole file at path (at most cap bytes) into *out (heap,
 * NUL-terminated; the caller frees or wipes) and *len. 0, or
 * TROVE_ERR_NOT_FOUND / TROVE_ERR_IO / TROVE_ERR_TOO_LARGE with *err
 * naming the file and why. */
int kube_read_file(const char *path, size_t cap, char **out, size_t *len, char **err);

/* Opens a connection to the client's server (TLS for https), by
 * deadline. 0, or a failure with c->why. */
int kube_conn_open(struct kube_client *k, struct api_conn *c, long deadline);

/* Appends the request head for method and path (the server's path prefix
 * is added) with the bearer token (the token file re-read when it
 * changed), Content-Type and Content-Length when body_len is not
 * (size_t)-1. head should be a secret buffer (it carries the token). */
int kube_write_head(struct kube_client *k, const char *method, const char *path, const char *content_type,
                    size_t body_len, struct buf *head);

/* Appends s percent-escaped but for RFC 3986's unreserved characters
 * (a path segment or a query value). 0 or the buffer's error. */
int kube_escape(struct buf *b, const char *s);

/* kube_request with its own timeout (the elector's requests must end
 * within its renew deadline). */
int kube_request_within(struct kube_client *k, const char *method, const char *path, const json_t *body,
                        const char *content_type, long timeout_ms, struct kube_resp *r);

/* The message of a Status object body (NULL: none), for errors. */
const char *kube_status_message(const json_t *body);

/* SIGPIPE blocked for the calling thread around a write to a peer that
 * may be gone (OpenSSL writes with write(2)); one raised meanwhile is
 * taken back. */
struct kube_sigpipe {
	sigset_t old;
	bool was_pending;
};
void kube_sigpipe_block(struct kube_sigpipe *s);
void kube_sigpipe_restore(struct kube_sigpipe *s);

/* ---- Background threads (kube_wait.c) ---------------------------------- */

/* cv on the monotonic clock, as kube_wait needs it. */
void kube_cond_init(pthread_cond_t *cv);
/* *stop, read under mu. */
bool kube_stopped(pthread_mutex_t *mu, const bool *stop);
/* Waits ms, or less when *stop is set (under mu) and cv signalled. */
void kube_wait(pthread_mutex_t *mu, pthread_cond_t *cv, const bool *stop, long ms);

/* ---- The watch event stream (kube_watch.c): bytes in, events out ---- */

enum kube_watch_type { KUBE_W_ADDED, KUBE_W_MODIFIED, KUBE_W_DELETED, KUBE_W_BOOKMARK, KUBE_W_ERROR };

/* Called for each event; obj is borrowed for the call. A non-zero return
 * stops the feed and is returned by it. */
typedef int (*kube_watch_fn)(void *ctx, enum kube_watch_type type, json_t *obj);

struct kube_watch_dec {
	struct buf line; /* a line not yet complete (capped at KUBE_MAX_EVENT) */
};

void kube_watch_init(struct kube_watch_dec *d);
void kube_watch_release(struct kube_watch_dec *d);
/* Feeds n bytes of a watch answer's body, as they came: every complete
 * line ({"type": ..., "object": {...}}; blank lines skipped) goes to fn.
 * No I/O. 0; fn's non-zero return; or TROVE_ERR_INVALID (a line that is
 * not an event) / TROVE_ERR_TOO_LARGE (a line past KUBE_MAX_EVENT) with
 * *why (static). */
int kube_watch_feed(struct kube_watch_dec *d, const char *p, size_t n, kube_watch_fn fn, void *ctx,
                    const char **why);

/* ---- An informer's cache (kube_cache.c): objects by "ns/name" -------- */

/* Each object is kept as its compact JSON text, resourceVersion beside
 * it: a jansson tree of an object costs six to eight times its text
 * (docs/performance.md, "secrets-operator"), and an informer holds every
 * object of its kind. Reads parse the text anew. An entry is wiped when
 * freed (a re-list holds its Secrets whole for a moment). */
#define KUBE_KEY_MAX 320 /* a namespace (63), '/', a name (253) */

struct kube_cache_entry;
struct kube_cache {
	struct kube_cache_entry **slots;
	size_t nslots, n;
};

/* "ns/name" (or "name" for cluster-scoped objects) into key. false when
 * obj has no metadata.name or the key is too long. */
bool kube_obj_key(const json_t *obj, char key[KUBE_KEY_MAX]);
void kube_cache_init(struct kube_cache *c);
void kube_cache_release(struct kube_cache *c);
/* The object under key, parsed anew (a new reference, the caller's own to
 * change), or NULL when absent (or out of memory). */
json_t *kube_cache_get(const struct kube_cache *c, const char *key);
/* Whether key is present; *rv (when rv is not NULL) its object's
 * metadata.resourceVersion, borrowed until the entry changes, or NULL
 * when absent or the object had none. */
bool kube_cache_find(const struct kube_cache *c, const char *key, const char **rv);
/* Stores obj's text under key (obj is only read), replacing any. 0, or
 * TROVE_ERR_INVALID when obj cannot be written as JSON (the cache is then
 * unchanged). */
int kube_cache_put(struct kube_cache *c, const char *key, const json_t *obj);
/* Removes key; whether it was there. */
bool kube_cache_remove(struct kube_cache *c, const char *key);
/* Calls fn for every entry with its key and resourceVersion (as
 * kube_cache_find); the cache must not change meanwhile. */
void kube_cache_each(const struct kube_cache *c, void (*fn)(void *ctx, const char *key, const char *rv), void *ctx);

#endif
