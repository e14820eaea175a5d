/* lmdb.c — the embedded, durable default backend.
 *
 * Design: one LMDB environment with its one unnamed database. LMDB gives
 * us crash safety (copy-on-write B+tree, two meta pages) and cheap sorted
 * prefix scans. mdb_txn_commit() fsyncs before returning because we never
 * pass MDB_NOSYNC or MDB_NOMETASYNC: a commit that returned is on disk.
 * MDB_NOTLS lets any thread use a read transaction, which our worker pool
 * needs (read txns are not tied to the thread's reader slot). get and list
 * are lock-free read transactions and see only committed data.
 *
 * Group commit. A commit costs two syncs (data pages, then the meta page),
 * so one write transaction per put would cap the whole server at half the
 * disk's fsync rate however many workers it has. Instead every put, delete
 * and txn becomes a request (its op array, on the caller's stack) appended
 * to one FIFO queue under l->mu, and the caller waits (see Waking below).
 * Whoever finds itself queued with no commit in flight becomes
 * the leader: it takes a group from the head of the queue (at most
 * GROUP_MAX_OPS operations and GROUP_MAX_BYTES of keys and values, but
 * always at least one request, however large), drops the lock, applies the
 * group in ONE write transaction, commits once, then retakes the lock,
 * wakes the new head of the queue (if any) to lead the next group, and
 * wakes each member of its group with its own result. There is no
 * committer thread to start or stop. A lone writer leads at once; under
 * load, requests pile up while a commit is in flight and the next leader
 * takes them all.
 *
 * Waking. The queue, the leader's hand-over and the waking are
 * lib/group_commit's (see group_commit.h): each request sleeps on a futex
 * word of its own and is woken after the leader dropped the lock.
 *
 * Left at that, a steady set of N writers splits into two alternating
 * groups of N/2: the next leader starts the moment the last commit ends,
 * before the writers it just released have queued again. So a leader
 * lingers, briefly, for those writers (the last group's threads, matched by
 * pthread_t): until all are queued again, or for at most a quarter of the
 * last commit's duration, capped at LINGER_MAX_NS. A lone writer is its own
 * last group and is already queued, so it never waits; measured with 8
 * writers, groups double and both throughput and mean latency improve
 * (bench/storage_write.c, docs/performance.md).
 *
 * Each caller's batch stays atomic and only its caller sees its failure.
 * The group is first applied flat, all batches into one transaction. If
 * any operation fails (MDB_MAP_FULL, say) that transaction is aborted and
 * the group rerun with each batch in a nested transaction (mdb_txn_begin
 * with the group's transaction as parent): a failing batch's child is
 * aborted and only its caller gets the error; the rest commit. (Nesting
 * costs LMDB a few MiB of allocation per child, so it is the slow path
 * only.) If the group's own commit fails, every batch that had applied
 * gets that error and nothing was written. Callers return only after the
 * commit holding their batch has synced, so the vtable's durability
 * contract is unchanged, and readers see a whole group or none of it.
 *
 * Keys are stored without a terminating NUL; LMDB's default order is
 * bytewise, the same as strcmp, so list() is a cursor scan from
 * MDB_SET_RANGE(prefix). On meeting a subdirectory "d/" it emits it once
 * and seeks to prefix+"d0" ('0' follows '/'), skipping the subtree without
 * visiting its keys.
 *
 * Limits: LMDB caps keys at mdb_env_get_maxkeysize() (511 bytes in the
 * stock build); longer keys are refused with TROVE_ERR_INVALID before the
 * batch is queued. A full map (MDB_MAP_FULL) is TROVE_ERR_IO and logged
 * with the fix (raise max_size). */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "clock.h"
#include "group_commit.h"
#include "log.h"
#include "storage/storage.h"

#include "banned.h"

/* Bounds on one group commit: a group stops growing at whichever comes
 * first, so one commit's dirty pages (and the time the next group waits)
 * stay small. A single request larger than both still runs, alone. */
#define GROUP_MAX_OPS 1024
#define GROUP_MAX_BYTES ((size_t)4 << 20)
/* How long a leader may wait for the last group's writers to queue again:
 * at most LINGER_MAX_NS and a quarter of the last commit's duration, and
 * only for the first LINGER_TRACK writers of that group. */
#define LINGER_MAX_NS ((uint64_t)200 * 1000)
#define LINGER_TRACK 64 /* bits in back_mask */
_Static_assert(LINGER_TRACK == 64, "back_mask is a uint64_t");

/* One caller's batch waiting in the commit queue, on the caller's stack.
 * gc comes first: a group's members are linked through gc.next. */
struct wreq {
	struct gc_req gc;
	const struct storage_op *ops;
	size_t n;
	size_t bytes;     /* keys + values, for GROUP_MAX_BYTES */
	const char *what; /* "put", "delete", "txn": for logs */
	pthread_t owner;
};

/* The next batch of a group (or of the queue), NULL at its end. */
static struct wreq *next_of(const struct wreq *w)
{
	return (struct wreq *)w->gc.next;
}

struct lmdb_store {
	struct storage base;
	MDB_env *env;
	MDB_dbi dbi;
	size_t max_key;
	size_t map_size;
	char *path;

	pthread_mutex_t mu;  /* guards everything below */
	struct gc_queue q;     /* busy: a leader is lingering or applying a group */
	struct wreq *lingerer; /* the leader waiting for the last group's writers */
	/* The writers of the last group, which are likely to be back soon,
	 * and which of them are queued again (bit i: last_owner[i]). */
	pthread_t last_owner[LINGER_TRACK];
	size_t nlast;
	uint64_t back_mask;
	uint64_t last_commit_ns; /* how long the last group took */
};

static struct lmdb_store *impl(struct storage *s)
{
	return s->impl;
}

/* Maps an LMDB return code to ours, logging the ones an operator must act
 * on. */
static int map_err(struct lmdb_store *l, int rc, const char *what)
{
	char size[32];
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return TROVE_ERR_NOT_FOUND;
	case MDB_BAD_VALSIZE:
		return TROVE_ERR_INVALID;
	case MDB_MAP_FULL:
		snprintf(size, sizeof(size), "%zu", l->map_size);
		log_error("lmdb storage is full: raise the storage max_size", "path", l->path, "max_size",
		          size, "op", what);
		return TROVE_ERR_IO;
	case ENOMEM:
		return TROVE_ERR_NOMEM;
	default:
		log_error("lmdb storage error", "path", l->path, "op", what, "error", mdb_strerror(rc));
		return TROVE_ERR_IO;
	}
}

static int key_val(struct lmdb_store *l, const char *key, MDB_val *k)
{
	size_t n = strlen(key);
	if (n > l->max_key)
		return TROVE_ERR_INVALID;
	k->mv_size = n;
	k->mv_data = (void *)key;
	return 0;
}

static int lmdb_get(struct storage *s, const char *key, unsigned char **out, size_t *out_len)
{
	struct lmdb_store *l = impl(s);
	MDB_txn *txn = NULL;
	MDB_val k, v;
	int r;

	if (key_val(l, key, &k) != 0)
		return TROVE_ERR_NOT_FOUND; /* longer than LMDB allows: cannot exist */
	if ((r = map_err(l, mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn), "get")) != 0)
		goto out;
	if ((r = mdb_get(txn, l->dbi, &k, &v)) != 0) {
		r = map_err(l, r, "get");
		goto out;
	}
	*out = xmalloc(v.mv_size ? v.mv_size : 1);
	if (v.mv_size)
		memcpy(*out, v.mv_data, v.mv_size);
	*out_len = v.mv_size;
	r = 0;
out:
	if (txn)
		mdb_txn_abort(txn);
	return r;
}

/* Applies one batch inside txn. Returns an LMDB code; on failure txn is
 * left for the caller to abort. */
static int apply_ops(struct lmdb_store *l, MDB_txn *txn, const struct storage_op *ops, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		MDB_val k, v;
		if (key_val(l, ops[i].key, &k) != 0)
			continue; /* a delete of a key too long to exist */
		if (ops[i].kind == STORAGE_PUT) {
			v.mv_size = ops[i].value_len;
			v.mv_data = (void *)(ops[i].value ? ops[i].value : "");
			rc = mdb_put(txn, l->dbi, &k, &v, 0);
		} else {
			rc = mdb_del(txn, l->dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		}
		if (rc != 0)
			break;
	}
	return rc;
}

/* Applies one batch of a multi-batch group in a child of parent, so that a
 * failure undoes this batch alone. Returns our error code. */
static int apply_nested(struct lmdb_store *l, MDB_txn *parent, struct wreq *w)
{
	MDB_txn *child = NULL;
	int r;

	if ((r = map_err(l, mdb_txn_begin(l->env, parent, 0, &child), w->what)) != 0)
		goto out;
	if ((r = map_err(l, apply_ops(l, child, w->ops, w->n), w->what)) != 0)
		goto out;
	r = mdb_txn_commit(child); /* into parent: no sync */
	child = NULL;
	if ((r = map_err(l, r, w->what)) != 0)
		goto out;
	r = 0;
out:
	if (child)
		mdb_txn_abort(child);
	return r;
}

/* Applies every batch of the group straight into txn. Returns 0, or an
 * LMDB code after which txn can only be aborted (and the batch at fault is
 * not known to be the only one). */
static int apply_flat(struct lmdb_store *l, MDB_txn *txn, struct wreq *group)
{
	int rc = 0;
	for (struct wreq *w = group; w && rc == 0; w = next_of(w))
		rc = apply_ops(l, txn, w->ops, w->n);
	return rc;
}

/* The leader's work, run without l->mu: applies every batch of the group in
 * one write transaction and commits it once, filling in each result.
 *
 * The fast path applies all batches flat into one transaction. Only if that
 * fails is the group rerun with each batch in its own nested transaction,
 * which isolates the failing batch: nesting costs LMDB a few MiB of
 * allocation per child, which we pay only when something went wrong. */
static void commit_group(struct lmdb_store *l, struct wreq *group)
{
	MDB_txn *txn = NULL;
	const char *what = group->gc.next ? "group commit" : group->what;
	int r;

	for (struct wreq *w = group; w; w = next_of(w))
		w->gc.result = 0;
	if ((r = map_err(l, mdb_txn_begin(l->env, NULL, 0, &txn), what)) != 0)
		goto out;
	if (group->gc.next == NULL) {
		/* alone: the whole transaction is this batch */
		if ((r = map_err(l, apply_flat(l, txn, group), what)) != 0)
			goto out;
	} else if (apply_flat(l, txn, group) != 0) {
		mdb_txn_abort(txn);
		txn = NULL;
		if ((r = map_err(l, mdb_txn_begin(l->env, NULL, 0, &txn), what)) != 0)
			goto out;
		for (struct wreq *w = group; w; w = next_of(w))
			w->gc.result = apply_nested(l, txn, w);
	}
	r = mdb_txn_commit(txn);
	txn = NULL; /* commit frees the txn even on failure */
	if ((r = map_err(l, r, what)) != 0)
		goto out;
	r = 0;
out:
	if (txn)
		mdb_txn_abort(txn);
	/* a batch that applied shares the fate of the commit */
	for (struct wreq *w = group; w; w = next_of(w))
		if (w->gc.result == 0)
			w->gc.result = r;
}

/* The running size of a group being taken, for gc_take. */
struct group_size {
	size_t ops, bytes;
};

/* Whether the next batch still fits the group within its bounds. */
static bool group_fits(const struct gc_req *next, void *arg)
{
	const struct wreq *w = (const struct wreq *)next;
	struct group_size *sz = arg;

	if (sz->ops + w->n > GROUP_MAX_OPS || sz->bytes + w->bytes > GROUP_MAX_BYTES)
		return false;
	sz->ops += w->n;
	sz->bytes += w->bytes;
	return true;
}

/* Detaches a group from the head of the queue: at least one request, then
 * more while the group stays within its bounds. Called with l->mu held. */
static struct wreq *take_group(struct lmdb_store *l)
{
	const struct wreq *first = (const struct wreq *)l->q.head;
	struct group_size sz = {first->n, first->bytes};

	return (struct wreq *)gc_take(&l->q, group_fits, &sz);
}

static bool all_back(const struct lmdb_store *l)
{
	uint64_t all = l->nlast == LINGER_TRACK ? UINT64_MAX : ((uint64_t)1 << l->nlast) - 1;
	return (l->back_mask & all) == all;
}

/* Appends w to the queue and notes whether its thread wrote in the last
 * group; wakes a lingering leader once all of those are back. Called with
 * l->mu held. */
static void enqueue(struct lmdb_store *l, struct wreq *w)
{
	gc_enqueue(&l->q, &w->gc);
	for (size_t i = 0; i < l->nlast; i++) {
		if (pthread_equal(l->last_owner[i], w->owner)) {
			l->back_mask |= (uint64_t)1 << i;
			if (l->lingerer && all_back(l))
				gc_poke(&l->lingerer->gc);
			break;
		}
	}
}

/* The leader, before taking its group: if writers of the last group are
 * not queued again yet, waits briefly for them, so that a steady set of
 * writers shares one commit instead of alternating between two. A lone
 * writer is always back already (it is the leader), so it never waits.
 * Called with l->mu held and q.busy set; w is the leader's request. */
static void linger(struct lmdb_store *l, struct wreq *w)
{
	if (all_back(l))
		return;
	uint64_t wait = l->last_commit_ns / 4;
	if (wait > LINGER_MAX_NS)
		wait = LINGER_MAX_NS;
	uint64_t end = (uint64_t)clock_monotonic_ns() + wait;
	l->lingerer = w;
	while (!all_back(l)) {
		uint64_t now = (uint64_t)clock_monotonic_ns();
		if (now >= end)
			break;
		struct timespec left = {.tv_sec = 0, .tv_nsec = (long)(end - now)};
		uint32_t seen = atomic_load_explicit(&w->gc.word, memory_order_relaxed);
		pthread_mutex_unlock(&l->mu);
		gc_sleep(&w->gc, seen, &left);
		pthread_mutex_lock(&l->mu);
	}
	l->lingerer = NULL;
}

/* Queues ops and returns once they are durable (or failed): either a leader
 * commits them, or this caller becomes the leader. All or nothing. */
static int write_ops(struct lmdb_store *l, const struct storage_op *ops, size_t n, const char *what)
{
	struct wreq w = {.ops = ops, .n = n, .what = what, .owner = pthread_self()};

	for (size_t i = 0; i < n; i++) {
		size_t klen = strlen(ops[i].key);
		if (ops[i].kind == STORAGE_PUT && klen > l->max_key)
			return TROVE_ERR_INVALID;
		w.bytes += klen + (ops[i].kind == STORAGE_PUT ? ops[i].value_len : 0);
	}
	pthread_mutex_lock(&l->mu);
	enqueue(l, &w);
	if (gc_await(&l->q, &w.gc, &l->mu))
		return w.gc.result; /* published by a leader; lock not held */
	/* queued, and no commit in flight: lead one group (which holds w
	 * unless the queue ahead of it filled the group, in which case w
	 * waits again below) */
	for (;;) {
		l->q.busy = true;
		linger(l, &w);
		struct wreq *group = take_group(l);
		pthread_mutex_unlock(&l->mu);
		uint64_t t0 = (uint64_t)clock_monotonic_ns();
		commit_group(l, group);
		uint64_t took = (uint64_t)clock_monotonic_ns() - t0;
		pthread_mutex_lock(&l->mu);
		l->last_commit_ns = took;
		l->nlast = 0;
		l->back_mask = 0;
		gc_handoff(&l->q); /* the next leader, first */
		for (struct wreq *g = group; g; g = next_of(g))
			if (l->nlast < LINGER_TRACK)
				l->last_owner[l->nlast++] = g->owner;
		pthread_mutex_unlock(&l->mu);
		gc_publish(&group->gc, &w.gc, false, 0);
		pthread_mutex_lock(&l->mu);
		if (gc_await(&l->q, &w.gc, &l->mu))
			return w.gc.result;
	}
}

static int lmdb_put(struct storage *s, const char *key, const void *value, size_t len)
{
	struct storage_op op = {.kind = STORAGE_PUT, .key = key, .value = value, .value_len = len};
	return write_ops(impl(s), &op, 1, "put");
}

static int lmdb_del(struct storage *s, const char *key)
{
	struct storage_op op = {.kind = STORAGE_DELETE, .key = key};
	return write_ops(impl(s), &op, 1, "delete");
}

static int lmdb_txn(struct storage *s, const struct storage_op *ops, size_t n)
{
	return write_ops(impl(s), ops, n, "txn");
}

static int lmdb_list(struct storage *s, const char *prefix, struct strlist *out)
{
	struct lmdb_store *l = impl(s);
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	size_t plen = strlen(prefix);
	char *seek = NULL;
	MDB_val k, v;
	int r, rc;

	if (plen > l->max_key)
		return 0; /* no key can live under it */
	seek = xmalloc(l->max_key + 2);
	if ((r = map_err(l, mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn), "list")) != 0)
		goto out;
	if ((r = map_err(l, mdb_cursor_open(txn, l->dbi, &cur), "list")) != 0)
		goto out;

	k.mv_size = plen;
	k.mv_data = (void *)prefix;
	if (plen == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	else
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		const char *kd = k.mv_data;
		if (k.mv_size < plen || memcmp(kd, prefix, plen) != 0)
			break;
		const char *rest = kd + plen;
		size_t rlen = k.mv_size - plen;
		const char *slash = memchr(rest, '/', rlen);
		if (slash == NULL) {
			if (rlen > 0 && (r = strlist_push_owned(out, xstrndup(rest, rlen))) != 0)
				goto out;
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
			continue;
		}
		size_t dlen = (size_t)(slash - rest) + 1;
		if ((r = strlist_push_owned(out, xstrndup(rest, dlen))) != 0)
			goto out;
		/* seek to prefix+"d0": the first key past the "d/" subtree */
		memcpy(seek, kd, plen + dlen);
		seek[plen + dlen - 1] = '/' + 1;
		k.mv_size = plen + dlen;
		k.mv_data = seek;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		r = map_err(l, rc, "list");
		goto out;
	}
	r = 0;
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	free(seek);
	return r;
}

static void lmdb_destroy(struct storage *s)
{
	struct lmdb_store *l = impl(s);
	pthread_mutex_destroy(&l->mu);
	if (l->env) {
		mdb_dbi_close(l->env, l->dbi);
		mdb_env_close(l->env);
	}
	free(l->path);
	free(l);
}

static const struct storage_ops lmdb_ops = {
    .name = "lmdb",
    .get = lmdb_get,
    .put = lmdb_put,
    .del = lmdb_del,
    .list = lmdb_list,
    .txn = lmdb_txn,
    .destroy = lmdb_destroy,
};

static void set_err(struct buf *err, const char *what, const char *path, const char *detail)
{
	if (err == NULL)
		return;
	buf_reset(err);
	buf_printf(err, "lmdb: %s %s: %s", what, path, detail);
}

struct storage *storage_lmdb_new(const struct storage_lmdb_config *cfg, struct buf *err)
{
	struct lmdb_store *l = NULL;
	MDB_txn *txn = NULL;
	struct stat st;
	int rc;

	if (cfg == NULL || cfg->path == NULL || cfg->path[0] == '\0') {
		set_err(err, "open", "", "no path configured");
		return NULL;
	}
	if (mkdir(cfg->path, 0700) != 0 && errno != EEXIST) {
		set_err(err, "cannot create directory", cfg->path, strerror(errno));
		return NULL;
	}
	if (stat(cfg->path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		set_err(err, "open", cfg->path, "not a directory");
		return NULL;
	}
	/* Whoever else owns or may write the directory could swap the
	 * database under the barrier's feet (or read it: new ones are 0700). */
	if (st.st_uid != geteuid()) {
		char why[128];
		snprintf(why, sizeof(why), "the data directory is owned by uid %lu, not by the server's uid %lu",
		         (unsigned long)st.st_uid, (unsigned long)geteuid());
		set_err(err, "open", cfg->path, why);
		return NULL;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		char why[128];
		snprintf(why, sizeof(why), "the data directory is writable by %s (mode %04o): chmod go-w it",
		         (st.st_mode & S_IWOTH) ? "others" : "its group", (unsigned)(st.st_mode & 07777));
		set_err(err, "open", cfg->path, why);
		return NULL;
	}

	l = xcalloc(1, sizeof(*l));
	l->path = xstrdup(cfg->path);
	pthread_mutex_init(&l->mu, NULL);
	l->map_size = cfg->max_size ? cfg->max_size : STORAGE_LMDB_DEFAULT_SIZE;
	if ((rc = mdb_env_create(&l->env)) != 0) {
		l->env = NULL;
		set_err(err, "mdb_env_create", cfg->path, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_env_set_mapsize(l->env, l->map_size)) != 0) {
		set_err(err, "mdb_env_set_mapsize", cfg->path, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_env_set_maxreaders(l->env, 512)) != 0) {
		set_err(err, "mdb_env_set_maxreaders", cfg->path, mdb_strerror(rc));
		goto fail;
	}
	/* durable: no MDB_NOSYNC / MDB_NOMETASYNC */
	if ((rc = mdb_env_open(l->env, cfg->path, MDB_NOTLS, 0600)) != 0) {
		set_err(err, "mdb_env_open", cfg->path, mdb_strerror(rc));
		goto fail;
	}
	l->max_key = (size_t)mdb_env_get_maxkeysize(l->env);
	/* free reader slots left behind by a process that died mid-read */
	int dead = 0;
	(void)mdb_reader_check(l->env, &dead);
	if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0) {
		set_err(err, "mdb_txn_begin", cfg->path, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_dbi_open(txn, NULL, 0, &l->dbi)) != 0) {
		mdb_txn_abort(txn);
		set_err(err, "mdb_dbi_open", cfg->path, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		set_err(err, "mdb_txn_commit", cfg->path, mdb_strerror(rc));
		goto fail;
	}
	l->base.ops = &lmdb_ops;
	l->base.durable = true;
	l->base.impl = l;
	return &l->base;
fail:
	if (l->env)
		mdb_env_close(l->env);
	pthread_mutex_destroy(&l->mu);
	free(l->path);
	free(l);
	return NULL;
}
