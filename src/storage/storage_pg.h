/* storage_pg.h — the postgresql storage backend (Vault's storage
 * "postgresql"), on libpq loaded at first use (lib/pq_lazy.h).
 *
 * One table holds every key: (key bytea primary key, parent_path bytea,
 * value bytea), with an index on parent_path for list. A shared table,
 * trove_storage_schema, records the layout version of each table; a table
 * written by a newer Trove is refused at open. Layout and reasons:
 * docs/decisions/0013-postgresql-storage-schema.md; operation: docs/ha.md.
 *
 * Every session runs with synchronous_commit = on, so a put, delete or txn
 * returns only after PostgreSQL has flushed its commit (the storage is
 * durable). A connection found broken (connection status, SQLSTATE class
 * 08, 57P01..57P03, or 25006 on a server that became a read-only standby)
 * is closed, with every idle one, and the call is tried once more on a new
 * connection; if that fails too it returns TROVE_ERR_UNAVAILABLE (503).
 * Connecting is bounded by connect_timeout (5 s unless the connection
 * string sets it), a statement by statement_timeout (30 s unless the
 * server, role or connection string sets one), any wait for an answer by
 * that statement_timeout + 5 s on Trove's side (a server that accepts
 * and never answers), a dead peer by TCP keepalives and tcp_user_timeout,
 * so no call waits forever. */
#ifndef TROVE_STORAGE_PG_H
#define TROVE_STORAGE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "storage/storage.h"

#define STORAGE_PG_DEFAULT_TABLE "vault_kv_store"
#define STORAGE_PG_DEFAULT_HA_TABLE "vault_ha_locks"
/* Connections in the pool: every worker thread may hold one; more than
 * the server's workers would sit idle (docs/ha.md). */
#define STORAGE_PG_DEFAULT_PARALLEL 16
/* The layout version this Trove writes and reads. */
#define STORAGE_PG_SCHEMA_VERSION 1
/* Longest key: a btree index entry must fit a third of a page (2704
 * bytes), and keys are indexed as they are. */
#define STORAGE_PG_MAX_KEY 2048
/* Longest table name: the index name adds "_parent_path" to it within
 * PostgreSQL's 63 bytes. */
#define STORAGE_PG_MAX_TABLE 48

struct storage_pg_config {
	/* A postgres:// URL or a key=value string, multi-host forms
	 * included; NULL or "" takes VAULT_PG_CONNECTION_URL from the
	 * environment, and failing that libpq's own PG* variables. */
	const char *connection_url;
	const char *table;      /* NULL: STORAGE_PG_DEFAULT_TABLE */
	size_t max_parallel;    /* pool size; 0: STORAGE_PG_DEFAULT_PARALLEL */
	size_t max_idle;        /* idle connections kept; 0: max_parallel */
	/* Attempts to reach the database at open, with a backoff from 15 ms
	 * to 5 s between them; 0: until it answers. */
	unsigned max_connect_retries;
	bool skip_create_table; /* the tables must exist already */
	/* HA (docs/ha.md): the lock and the nodes' heartbeats live in
	 * ha_table (NULL: STORAGE_PG_DEFAULT_HA_TABLE), created if missing;
	 * storage_pg_ha_lock gives the lock. */
	bool ha_enabled;
	const char *ha_table;
};

/* Connects, creates the tables if missing (unless skip_create_table) and
 * checks the layout version. Returns a durable storage, or NULL with the
 * reason in err (may be NULL). */
struct storage *storage_pg_new(const struct storage_pg_config *cfg, struct buf *err);

/* The HA lock of a storage opened with ha_enabled (storage/ha_lock.h),
 * owned by the storage; NULL without HA or for another backend. The lock
 * row's key is the storage's table, so clusters sharing one ha_table do
 * not share a lock. */
struct ha_lock;
struct ha_lock *storage_pg_ha_lock(struct storage *s);

/* Why name cannot be a table name (letters, digits and '_', not starting
 * with a digit, 1..STORAGE_PG_MAX_TABLE bytes), or NULL when it can. It is
 * always quoted in SQL besides. */
const char *storage_pg_table_refused(const char *name);

/* The length of key's parent path: up to and including its last '/', 0
 * for a key at the root. list(prefix) finds the keys whose parent path is
 * prefix. */
size_t storage_pg_parent_len(const char *key);

/* The first byte string past every string that starts with prefix
 * ("a/b/" gives "a/b0"), written to out (strlen(prefix)+1 bytes); returns
 * false for "" (nothing is past everything). prefix is "" or ends in
 * '/'. */
bool storage_pg_prefix_end(const char *prefix, char *out);

/* Notifications: cross-node invalidation and the commit index.
 *
 * With ha_enabled, every commit (put, delete, txn) takes the next number of the table's
 * row in trove_storage_index, in its own transaction, and sends, also in
 * it (so only on commit, and in commit order), a NOTIFY on the channel
 * STORAGE_PG_CHANNEL_PREFIX<table> naming the keys it changed, split into
 * chunks that fit NOTIFY's 8000-byte payload (storage_pg_notify.c has the
 * text). The row lock makes index order commit order. A listener thread
 * (storage_pg_listen) on a connection of its own hands every key another
 * node changed to hooks.changed and, once the commit's last chunk is in,
 * makes its index the node's applied index: what this node's caches have
 * caught up with (X-Vault-Index). A lost listening connection is made
 * again, and since notifications may have been missed meanwhile,
 * hooks.all_changed is called and the applied index is read anew.
 *
 * Without ha_enabled a node is alone on its table (as in Vault, several
 * nodes share a storage only through HA): its commits are neither
 * numbered nor notified, which would cost every write a row lock held to
 * its commit and the cluster-wide NOTIFY queue for nobody to hear. */
#define STORAGE_PG_CHANNEL_PREFIX "trove_inv_"
#define STORAGE_PG_NODE_HEX 16
/* Bytes of one chunk (flag and keys); the payload adds at most 38. */
#define STORAGE_PG_NOTIFY_CHUNK 7800
/* Between chunks in storage_pg_notify_chunks' text. */
#define STORAGE_PG_NOTIFY_SEP "\x01"

/* The chunks naming keys[0..n) (n may be 0), separated by
 * STORAGE_PG_NOTIFY_SEP, the last one flagged 'K', the others 'k'. Heap;
 * the caller frees it. */
char *storage_pg_notify_chunks(const char *const *keys, size_t n);

struct storage_pg_notice {
	char node[STORAGE_PG_NODE_HEX + 1];
	uint64_t index;
	bool last; /* the commit's last chunk */
};

/* Parses one received payload (untrusted: anyone allowed to NOTIFY on the
 * channel may send one): fills *out and appends its keys, unescaped, to
 * keys. false, with keys untouched, when it is not a well-formed payload. */
bool storage_pg_notice_parse(const char *payload, size_t len, struct storage_pg_notice *out, struct strlist *keys);

struct storage_pg_hooks {
	void (*changed)(void *arg, const char *key); /* another node changed key */
	void (*all_changed)(void *arg);               /* anything may have changed */
	void *arg;
};

/* Starts the listener of s (a postgresql storage) calling h's hooks from
 * its own thread until s is destroyed. Returns 0, or TROVE_ERR_INVALID for
 * another storage or a second call. */
int storage_pg_listen(struct storage *s, const struct storage_pg_hooks *h);

/* Whether s is a postgresql storage whose commits are numbered and
 * notified (opened with ha_enabled). */
bool storage_pg_notifies(struct storage *s);

/* Stops the listener started by storage_pg_listen (none: nothing). */
void storage_pg_unlisten(struct storage *s);

/* The highest commit index whose changes this node has applied (0 before
 * the listener first connected). */
uint64_t storage_pg_applied(struct storage *s);

/* Waits until storage_pg_applied(s) >= index, at most timeout_ms. true
 * when reached. */
bool storage_pg_wait_applied(struct storage *s, uint64_t index, int64_t timeout_ms);

/* Whether s is a postgresql storage. */
bool storage_is_pg(const struct storage *s);
/* Its table's name (s must be a postgresql storage). */
const char *storage_pg_table_name(const struct storage *s);

#endif
