/* storage.h — the one key/value vtable every layer of Trove stores through.
 *
 * Physical backends (inmem, lmdb, postgresql: storage_pg.h) implement it, and so do
 * the layers above them: the barrier (encrypts values, same keys) and prefix
 * views (a mount's private subtree). Keys are '/'-separated paths without a
 * leading '/'; values are opaque bytes.
 *
 * Semantics every implementation keeps:
 *  - keys have no leading or trailing '/' (a trailing '/' marks a folder
 *    in list results); backends may cap key length lower (LMDB: 511).
 *  - get of a missing key returns TROVE_ERR_NOT_FOUND.
 *  - delete of a missing key succeeds.
 *  - list(prefix) returns the immediate children under prefix, sorted, each
 *    once: "a" for key prefix+"a", "d/" for any key under prefix+"d/".
 *    prefix is "" or ends in '/'.
 *  - txn applies all operations atomically or none.
 *  - put/delete/txn return only after the write is durable for backends
 *    that promise durability (storage->durable).
 *  - all calls are safe from any thread.
 */
#ifndef TROVE_STORAGE_H
#define TROVE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define STORAGE_MAX_KEY 4096
#define STORAGE_MAX_VALUE ((size_t)256 << 20)

struct storage;

enum storage_op_kind { STORAGE_PUT, STORAGE_DELETE };

struct storage_op {
	enum storage_op_kind kind;
	const char *key;
	const void *value; /* PUT only */
	size_t value_len;
};

struct storage_ops {
	const char *name;
	/* *out is heap memory owned by the caller (free with free(); callers
	 * holding secrets wipe it first). A zero-length value gives a non-NULL
	 * *out. */
	int (*get)(struct storage *s, const char *key, unsigned char **out, size_t *out_len);
	int (*put)(struct storage *s, const char *key, const void *value, size_t len);
	int (*del)(struct storage *s, const char *key);
	/* Appends children to out (an initialised list). */
	int (*list)(struct storage *s, const char *prefix, struct strlist *out);
	int (*txn)(struct storage *s, const struct storage_op *ops, size_t n);
	void (*destroy)(struct storage *s);
};

struct storage {
	const struct storage_ops *ops;
	bool durable; /* writes may block on fsync: run them off the event loop */
	/* reads may block too (a network round trip to a database that may
	 * be slow or frozen): run reads off the event loop as well */
	bool reads_block;
	void *impl;
};

/* Wrappers that validate arguments (key length, no empty key, no NUL,
 * value size) then dispatch. Same return contract as the vtable. */
int storage_get(struct storage *s, const char *key, unsigned char **out, size_t *out_len);
int storage_put(struct storage *s, const char *key, const void *value, size_t len);
int storage_delete(struct storage *s, const char *key);
int storage_list(struct storage *s, const char *prefix, struct strlist *out);
int storage_txn(struct storage *s, const struct storage_op *ops, size_t n);
/* The commit index of the last write this thread made on a storage that
 * numbers its commits (postgresql: storage_pg.h, "Notifications"), or 0
 * when none since storage_write_index_reset. note is the backend's:
 * called once its commit is done. */
uint64_t storage_write_index(void);
void storage_write_index_reset(void);
void storage_write_index_note(uint64_t index);

/* Why this thread's last failing storage call failed with
 * TROVE_ERR_UNAVAILABLE, as "<backend>: <reason>" ("postgresql:
 * connection to server ... failed: Connection refused"), or NULL. A
 * backend notes it (storage_unavailable_note: the reason must name no
 * credential and no connection string; it is cut to 400 bytes); the
 * router clears it before each request it serves
 * (storage_unavailable_clear), so a 503 it answers names the storage. */
const char *storage_unavailable_reason(void);
void storage_unavailable_note(const char *backend, const char *reason);
void storage_unavailable_clear(void);
/* Destroys the handle (not the data). NULL is fine. */
void storage_free(struct storage *s);

/* Deletes every key under prefix ("" or ending in '/'), walking the tree
 * breadth-first with list (no recursion on the C stack) and deleting in
 * batched transactions. Returns 0 or the first error. */
int storage_delete_prefix(struct storage *s, const char *prefix);

/* Backends. */
struct storage *storage_inmem_new(void);

struct storage_lmdb_config {
	const char *path;  /* directory; created (0700) if missing */
	size_t max_size;   /* map size in bytes; 0 = STORAGE_LMDB_DEFAULT_SIZE */
};
#define STORAGE_LMDB_DEFAULT_SIZE ((size_t)1 << 30)
/* Opens or creates the environment. On failure returns NULL and writes a
 * reason into err (may be NULL). */
struct storage *storage_lmdb_new(const struct storage_lmdb_config *cfg, struct buf *err);

/* A view: every key is prefixed with `prefix` (which ends in '/') before it
 * reaches `inner`; list results are relative. Borrows inner, which must
 * outlive the view. Keys containing ".." segments are refused
 * (TROVE_ERR_INVALID), so a view cannot be escaped. */
struct storage *storage_view_new(struct storage *inner, const char *prefix);

#endif
