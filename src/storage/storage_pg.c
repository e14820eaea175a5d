/* storage_pg.c — the postgresql backend: a pool of libpq connections.
 *
 * Design. Each call takes a connection from the pool (mutex + condvar; at
 * most max_parallel are open, opened on demand), runs prepared statements
 * on it and gives it back. libpq's synchronous calls are enough: storage
 * calls already run on worker threads (storage->durable), never on an
 * event loop, and every wait is bounded by libpq's connect_timeout, the
 * session's statement_timeout and TCP keepalives / tcp_user_timeout
 * (defaults set below; the connection string overrides them).
 *
 * Keys and values travel as binary bytea parameters, never in SQL text:
 * the only name spliced into SQL is the table, validated as an identifier
 * and quoted. Columns are bytea, whose order is bytewise (memcmp), so list
 * order is LMDB's whatever the database's encoding or collation, and any
 * key byte but NUL is stored as it is.
 *
 * list(prefix): direct children are the keys whose parent_path is prefix
 * (one index lookup); folders are found by a loose index scan over
 * parent_path (a recursive query that, from each folder "d/" found, seeks
 * to prefix+"d0"), so a folder costs one index probe however many keys it
 * holds.
 *
 * Reads may wait on the network too (storage->reads_block): the router
 * runs them on worker threads as well.
 *
 * With ha_enabled, writes also number their commit and notify the other
 * nodes (storage_pg.h, "Notifications"): a write of one key by a node
 * holding no fence is one statement (ST_PUT_N, ST_DEL_N: the change, the
 * index row's update and pg_notify in data-modifying CTEs); a
 * transaction, and every write of the active node (which checks the fence
 * first), ends with ST_BUMP before COMMIT. The commit's index is left in
 * the calling thread's storage_write_index. Without ha_enabled a write is
 * the change alone. The tables are made and checked at open
 * (storage_pg_schema.c).
 *
 * Failures. A broken connection (see storage_pg.h) is closed together with
 * every idle one (after a restart of PostgreSQL they are all dead) and the
 * call runs once more on a fresh connection. Every operation is
 * idempotent (an upsert, a delete, a transaction of those), so running it
 * again after a commit whose answer was lost is harmless. The first
 * failure of an outage is logged, and the recovery. */
#include <libpq-fe.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "encoding.h"
#include "err.h"
#include "log.h"
#include "pq_lazy.h"
#include "rand.h"
#include "secure.h"
#include "storage/storage_pg.h"
#include "storage/storage_pg_impl.h"

#include "banned.h"

#define BYTEA_OID 17
#define TEXT_OID 25
/* How much longer than statement_timeout Trove waits for an answer; and
 * the wait before the first connection has said its statement_timeout. */
#define WAIT_MARGIN_MS 5000
#define WAIT_DEFAULT_MS (30000 + WAIT_MARGIN_MS)

static const char *const stmt_name[ST__COUNT] = {"trove_get",  "trove_put",  "trove_del",   "trove_list",
                                                  "trove_list_root", "trove_fence", "trove_bump", "trove_put_n",
                                                  "trove_del_n"};
static const int stmt_nparams[ST__COUNT] = {1, 3, 1, 2, 1, 2, 4, 7, 5};
#define B BYTEA_OID
#define T TEXT_OID
/* the fence's are text, inferred (0) */
static const Oid stmt_types[ST__COUNT][7] = {
    {B}, {B, B, B}, {B}, {B, B}, {B}, {0, 0}, {T, T, T, T}, {B, B, B, T, T, T, T}, {B, T, T, T, T},
};
#undef B
#undef T
/* The commit's index and its notifications, the tail of the three
 * statements that write (storage_pg.h, "Notifications"): $A the table's
 * name, $B the channel, $C "<node> ", $D the chunks. */
#define BUMP_SQL(A, B, C, D)                                                                                  \
	"i AS (UPDATE trove_storage_index SET idx = idx + 1 WHERE kv_table = $" #A " RETURNING idx)"           \
	" SELECT i.idx, pg_notify($" #B ", $" #C " || i.idx::text || ' ' || c)"                              \
	" FROM i, regexp_split_to_table($" #D ", chr(1)) AS c"


static struct pg_store *impl(struct storage *s)
{
	return s->impl;
}

/* libpq's messages end in a newline; logs want one line. */
void pg_one_line(char *msg, size_t cap, const char *from)
{
	size_t n = 0;
	for (; from && from[n] && n + 1 < cap; n++)
		msg[n] = (from[n] == '\n' || from[n] == '\r' || from[n] == '\t') ? ' ' : from[n];
	while (n > 0 && msg[n - 1] == ' ')
		n--;
	msg[n] = '\0';
}

static void note_down(struct pg_store *p, const char *what, const char *why)
{
	char msg[512];
	bool first;

	pg_one_line(msg, sizeof(msg), why);
	storage_unavailable_note("postgresql", msg);
	pthread_mutex_lock(&p->mu);
	first = !p->down;
	p->down = true;
	pthread_mutex_unlock(&p->mu);
	if (first)
		log_error("postgresql storage unreachable", "table", p->table, "op", what, "error", msg);
}

static void note_up(struct pg_store *p)
{
	bool was;

	pthread_mutex_lock(&p->mu);
	was = p->down;
	p->down = false;
	pthread_mutex_unlock(&p->mu);
	if (was)
		log_info("postgresql storage reachable again", "table", p->table);
}

/* Whether a failed result means the connection cannot be used again. */
bool pg_is_broken(PGconn *c, const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(c) == CONNECTION_BAD || st == NULL)
		return true;
	return strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
	       strcmp(st, "57P03") == 0 || strcmp(st, "25006") == 0;
}

/* Maps a result to 0 (its status is want) or an error, setting *broken
 * when the connection must be dropped. Logs what an operator must see. */
static int check(struct pg_store *p, PGconn *c, PGresult *res, ExecStatusType want, const char *what, bool *broken,
                 bool timed_out)
{
	char msg[512];
	const char *st;

	if (res && PQresultStatus(res) == want)
		return 0;
	if (timed_out || pg_is_broken(c, res)) {
		*broken = true;
		note_down(p, what,
		          timed_out ? "no answer within statement_timeout and 5 s" :
		          res       ? PQresultErrorMessage(res) : PQerrorMessage(c));
		return TROVE_ERR_UNAVAILABLE;
	}
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	pg_one_line(msg, sizeof(msg), PQresultErrorMessage(res));
	log_error("postgresql storage error", "table", p->table, "op", what, "sqlstate", st, "error", msg);
	/* 57014: statement_timeout; 53xxx: out of resources (connections,
	 * disk, memory) — both pass, so they are "try again" */
	if (strcmp(st, "57014") == 0 || strncmp(st, "53", 2) == 0) {
		storage_unavailable_note("postgresql", msg);
		return TROVE_ERR_UNAVAILABLE;
	}
	return TROVE_ERR_IO;
}

/* Waits for the answer to what was just sent on c, at most p->wait_ms:
 * the server's statement_timeout ends a slow statement, this ends a wait
 * on a server that answers nothing at all (stopped, or its host gone
 * while the kernel still acks). Returns the first failed result, else the
 * last one; NULL when the send failed or the time ran out (then c is
 * useless: *timed_out). */
PGresult *pg_await(PGconn *c, bool sent, int64_t wait_ms, bool *timed_out)
{
	int64_t end = clock_monotonic_ns() / 1000000 + wait_ms;
	PGresult *keep = NULL, *res;

	if (!sent)
		return NULL;
	for (;;) {
		while (PQisBusy(c) && PQstatus(c) != CONNECTION_BAD) {
			int64_t left = end - clock_monotonic_ns() / 1000000;
			struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
			int rc = left > 0 ? poll(&pfd, 1, (int)(left > INT32_MAX ? INT32_MAX : left)) : 0;
			if (rc == 0) {
				*timed_out = true;
				PQclear(keep);
				return NULL;
			}
			if (rc < 0 && errno != EINTR)
				break;
			if (rc > 0 && !PQconsumeInput(c))
				break; /* lost: PQgetResult says why */
		}
		if ((res = PQgetResult(c)) == NULL)
			return keep;
		if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
			PQclear(res);
		} else {
			PQclear(keep);
			keep = res;
		}
	}
}

static PGresult *await_answer(struct pg_store *p, PGconn *c, bool sent, bool *timed_out)
{
	return pg_await(c, sent, atomic_load(&p->wait_ms), timed_out);
}

static PGresult *run(struct pg_store *p, PGconn *c, enum stmt s, const char *const *vals, const int *lens,
                     int result_format, bool *timed_out)
{
	static const int binary[7] = {1, 1, 1, 1, 1, 1, 1};
	bool sent = PQsendQueryPrepared(c, stmt_name[s], stmt_nparams[s], vals, lens, binary, result_format) != 0;
	return await_answer(p, c, sent, timed_out);
}

static PGresult *exec(struct pg_store *p, PGconn *c, const char *sql, bool *timed_out)
{
	return await_answer(p, c, PQsendQuery(c, sql) != 0, timed_out);
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Opens one connection and prepares the statements on it (unless
 * !prepare: before the tables exist, or for the listener), or returns
 * NULL with why. app is its application_name unless the connection string
 * sets one. */
static PGconn *connect_as(struct pg_store *p, bool prepare, const char *app, char *why, size_t cap)
{
	/* Defaults first: the connection string (expanded from dbname, last)
	 * overrides any of them. */
	static const char *const kw[] = {"connect_timeout",  "keepalives",       "keepalives_idle",
	                                 "keepalives_interval", "keepalives_count", "tcp_user_timeout",
	                                 "fallback_application_name", "dbname", NULL};
	const char *val[] = {"5", "1", "5", "2", "3", "15000", app, p->conninfo, NULL};
	PGresult *res = NULL;
	bool late = false;
	PGconn *c = PQconnectdbParams(kw, val, 1);

	if (c == NULL) {
		pg_one_line(why, cap, pq_lazy_load() ? "out of memory" : PQ_LAZY_UNLOADED);
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK)
		goto fail;
	/* the server's notices ("already exists, skipping") are not errors */
	PQsetNoticeProcessor(c, quiet, NULL);
	/* Every acknowledged write is flushed (and, where the database has
	 * synchronous standbys, confirmed by them) before COMMIT returns.
	 * Until the statement_timeout is known, the wait for this answer is
	 * bounded by the one of the last connection (or the default). */
	res = exec(p, c,
	           "SET synchronous_commit TO on; SELECT set_config('statement_timeout', '30s', false) "
	           "WHERE current_setting('statement_timeout') = '0'; "
	           "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'",
	           &late);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		goto fail;
	atomic_store(&p->wait_ms, strtoll(PQgetvalue(res, 0, 0), NULL, 10) + WAIT_MARGIN_MS);
	for (int i = 0; prepare && i < ST__COUNT; i++) {
		if (p->sql[i] == NULL)
			continue; /* ST_FENCE without HA */
		PQclear(res);
		res = await_answer(p, c, PQsendPrepare(c, stmt_name[i], p->sql[i], stmt_nparams[i], stmt_types[i]) != 0,
		                   &late);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			goto fail;
	}
	PQclear(res);
	return c;
fail:
	pg_one_line(why, cap,
	         late ? "no answer in time"
	         : res && PQresultStatus(res) == PGRES_FATAL_ERROR ? PQresultErrorMessage(res)
	                                                          : PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
	return NULL;
}

PGconn *pg_connect(struct pg_store *p, bool prepare, char *why, size_t cap)
{
	return connect_as(p, prepare, "trove", why, cap);
}

PGconn *pg_connect_plain(struct pg_store *p, char *why, size_t cap)
{
	return connect_as(p, false, "trove listener", why, cap);
}

PGresult *pg_exec(struct pg_store *p, PGconn *c, const char *sql, bool *timed_out)
{
	return exec(p, c, sql, timed_out);
}

/* Takes a connection: an idle one, or a new one while fewer than max are
 * open, else waits for one to come back. NULL when none could be opened
 * (logged). */
static PGconn *acquire(struct pg_store *p, const char *what)
{
	char why[512];
	PGconn *c;

	pthread_mutex_lock(&p->mu);
	while (p->nidle == 0 && p->open >= p->max)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->nidle > 0) {
		c = p->idle[--p->nidle];
		pthread_mutex_unlock(&p->mu);
		return c;
	}
	p->open++;
	pthread_mutex_unlock(&p->mu);
	if ((c = pg_connect(p, true, why, sizeof(why))) != NULL) {
		note_up(p);
		return c;
	}
	note_down(p, what, why);
	pthread_mutex_lock(&p->mu);
	p->open--;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Gives c back. A broken c is closed with every idle connection, which a
 * restart or failover of the database has broken as well. */
static void release(struct pg_store *p, PGconn *c, bool broken)
{
	PGconn *drop[64];
	size_t ndrop = 0;

	pthread_mutex_lock(&p->mu);
	if (!broken && PQtransactionStatus(c) == PQTRANS_IDLE && p->nidle < p->max_idle) {
		p->idle[p->nidle++] = c;
		c = NULL;
	} else {
		p->open--;
	}
	if (broken) {
		while (p->nidle > 0 && ndrop < sizeof(drop) / sizeof(drop[0])) {
			drop[ndrop++] = p->idle[--p->nidle];
			p->open--;
		}
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (c)
		PQfinish(c);
	for (size_t i = 0; i < ndrop; i++)
		PQfinish(drop[i]);
}

/* One operation on one connection: returns an error code and sets
 * *broken when the connection is lost. */
typedef int (*pg_fn)(struct pg_store *p, PGconn *c, void *arg, bool *broken);

/* Runs fn on a pooled connection, and once more on a fresh one if the
 * first was broken. */
static int with_conn(struct pg_store *p, const char *what, pg_fn fn, void *arg)
{
	int r = TROVE_ERR_UNAVAILABLE;

	for (int attempt = 0; attempt < 2; attempt++) {
		bool broken = false;
		PGconn *c = acquire(p, what);
		if (c == NULL)
			return TROVE_ERR_UNAVAILABLE;
		r = fn(p, c, arg, &broken);
		release(p, c, broken);
		if (!broken)
			return r;
	}
	return r;
}

struct get_arg {
	const char *key;
	unsigned char **out;
	size_t *out_len;
};

static int do_get(struct pg_store *p, PGconn *c, void *arg, bool *broken)
{
	struct get_arg *a = arg;
	const char *vals[1] = {a->key};
	int lens[1] = {(int)strlen(a->key)};
	bool late = false;
	PGresult *res = run(p, c, ST_GET, vals, lens, 1, &late);
	int r = check(p, c, res, PGRES_TUPLES_OK, "get", broken, late);

	if (r == 0 && PQntuples(res) == 0)
		r = TROVE_ERR_NOT_FOUND;
	if (r == 0) {
		size_t n = (size_t)PQgetlength(res, 0, 0);
		*a->out = xmalloc(n ? n : 1);
		memcpy(*a->out, PQgetvalue(res, 0, 0), n);
		*a->out_len = n;
	}
	PQclear(res);
	return r;
}

static int pg_get(struct storage *s, const char *key, unsigned char **out, size_t *out_len)
{
	struct get_arg a = {key, out, out_len};

	if (strlen(key) > STORAGE_PG_MAX_KEY)
		return TROVE_ERR_NOT_FOUND; /* cannot have been written */
	return with_conn(impl(s), "get", do_get, &a);
}

/* One put or delete on c, inside a transaction. */
static int apply_op(struct pg_store *p, PGconn *c, const struct storage_op *op, bool *broken)
{
	const char *key = op->key;
	int klen = (int)strlen(key);
	PGresult *res;
	bool late = false;
	int r;

	if (op->kind == STORAGE_PUT) {
		const char *vals[3] = {key, key, op->value ? op->value : ""};
		int lens[3] = {klen, (int)storage_pg_parent_len(key), (int)op->value_len};
		res = run(p, c, ST_PUT, vals, lens, 0, &late);
		r = check(p, c, res, PGRES_COMMAND_OK, "put", broken, late);
	} else {
		const char *vals[1] = {key};
		int lens[1] = {klen};
		if ((size_t)klen > STORAGE_PG_MAX_KEY)
			return 0; /* a key too long to exist */
		res = run(p, c, ST_DEL, vals, lens, 0, &late);
		r = check(p, c, res, PGRES_COMMAND_OK, "delete", broken, late);
	}
	PQclear(res);
	return r;
}

struct ops_arg {
	const struct storage_op *ops;
	size_t n;
	uint64_t index; /* the commit's, once done */
};

static int simple(struct pg_store *p, PGconn *c, const char *sql, const char *what, bool *broken)
{
	bool late = false;
	PGresult *res = exec(p, c, sql, &late);
	int r = check(p, c, res, PGRES_COMMAND_OK, what, broken, late);
	PQclear(res);
	return r;
}

/* The commit index a writing statement returned (text, first column).
 * No row: the table's row in trove_storage_index is missing. */
static int take_index(struct pg_store *p, PGresult *res, uint64_t *index)
{
	if (PQntuples(res) < 1) {
		log_error("postgresql storage error", "table", p->table, "error",
		          "no row in trove_storage_index for this table");
		return TROVE_ERR_IO;
	}
	*index = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	return 0;
}

/* A write of one key without HA: the change, the index and the
 * notification in one statement (one round trip, committed on its own). */
static int write_one(struct pg_store *p, PGconn *c, const struct storage_op *op, bool *broken, uint64_t *index)
{
	const char *key = op->key;
	int klen = (int)strlen(key);
	char *chunks = storage_pg_notify_chunks(&key, 1);
	int tlen = (int)strlen(p->table), chlen = (int)strlen(p->channel), nlen = (int)strlen(p->node_prefix);
	int clen = (int)strlen(chunks);
	PGresult *res;
	bool late = false;
	int r;

	if (op->kind == STORAGE_PUT) {
		const char *vals[7] = {key, key, op->value ? op->value : "", p->table, p->channel, p->node_prefix, chunks};
		int lens[7] = {klen, (int)storage_pg_parent_len(key), (int)op->value_len, tlen, chlen, nlen, clen};
		res = run(p, c, ST_PUT_N, vals, lens, 0, &late);
		r = check(p, c, res, PGRES_TUPLES_OK, "put", broken, late);
	} else {
		const char *vals[5] = {key, p->table, p->channel, p->node_prefix, chunks};
		int lens[5] = {klen, tlen, chlen, nlen, clen};
		res = run(p, c, ST_DEL_N, vals, lens, 0, &late);
		r = check(p, c, res, PGRES_TUPLES_OK, "delete", broken, late);
	}
	if (r == 0)
		r = take_index(p, res, index);
	PQclear(res);
	free(chunks);
	return r;
}

/* Inside a transaction: takes its index and queues its notifications. */
static int bump(struct pg_store *p, PGconn *c, const struct storage_op *ops, size_t n, bool *broken,
                uint64_t *index)
{
	const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
	char *chunks;
	bool late = false;
	int r;

	for (size_t i = 0; i < n; i++)
		keys[i] = ops[i].key;
	chunks = storage_pg_notify_chunks(keys, n);
	const char *vals[4] = {p->table, p->channel, p->node_prefix, chunks};
	int lens[4] = {(int)strlen(p->table), (int)strlen(p->channel), (int)strlen(p->node_prefix),
	               (int)strlen(chunks)};
	PGresult *res = run(p, c, ST_BUMP, vals, lens, 0, &late);
	r = check(p, c, res, PGRES_TUPLES_OK, "txn", broken, late);
	if (r == 0)
		r = take_index(p, res, index);
	PQclear(res);
	free(chunks);
	free(keys);
	return r;
}

/* Inside a transaction: whether the HA lock is still held at epoch. The
 * lock row is read FOR KEY SHARE, so a node taking the lock over (which
 * locks the row FOR UPDATE first: storage_pg_ha.c) waits until this
 * transaction ends: every write that passed this check is committed
 * before the new epoch exists, and every write after it fails. The
 * holder's renewals (plain updates) do not wait for writes.
 * TROVE_ERR_UNAVAILABLE when the lock has moved. */
static int check_fence(struct pg_store *p, PGconn *c, uint64_t epoch, bool *broken)
{
	char e[24];
	const char *vals[2] = {p->table, e};
	bool late = false;
	PGresult *res;
	int r;

	snprintf(e, sizeof(e), "%llu", (unsigned long long)epoch);
	res = await_answer(p, c, PQsendQueryPrepared(c, stmt_name[ST_FENCE], 2, vals, NULL, NULL, 0) != 0, &late);
	r = check(p, c, res, PGRES_TUPLES_OK, "fence", broken, late);
	if (r == 0 && PQntuples(res) != 1) {
		log_warn("postgresql storage: write refused, this node no longer holds the HA lock", "table", p->table);
		storage_unavailable_note("postgresql", "this node no longer holds the HA lock");
		r = TROVE_ERR_UNAVAILABLE;
	}
	PQclear(res);
	return r;
}

static int do_ops(struct pg_store *p, PGconn *c, void *arg, bool *broken)
{
	struct ops_arg *a = arg;
	uint64_t epoch = atomic_load(&p->fence);
	uint64_t index = 0;
	int r;

	/* Without HA the node is alone on its table: nobody to notify, no
	 * index to give (storage_pg.h, "Notifications") */
	bool notify = p->ha != NULL;

	if (a->n == 1 && epoch == 0) {
		if (a->ops[0].kind == STORAGE_DELETE && strlen(a->ops[0].key) > STORAGE_PG_MAX_KEY)
			return 0; /* a key too long to exist: nothing changes */
		if (!notify)
			return apply_op(p, c, &a->ops[0], broken);
		if ((r = write_one(p, c, &a->ops[0], broken, &index)) == 0)
			a->index = index;
		return r;
	}
	if ((r = simple(p, c, "BEGIN", "txn", broken)) != 0)
		return r;
	if (epoch != 0)
		r = check_fence(p, c, epoch, broken);
	for (size_t i = 0; i < a->n && r == 0; i++)
		r = apply_op(p, c, &a->ops[i], broken);
	if (r == 0 && notify)
		r = bump(p, c, a->ops, a->n, broken, &index);
	if (r == 0)
		r = simple(p, c, "COMMIT", "txn", broken);
	if (r != 0 && !*broken)
		(void)simple(p, c, "ROLLBACK", "txn", broken);
	if (r == 0)
		a->index = index;
	return r;
}

static int write_ops(struct storage *s, const struct storage_op *ops, size_t n, const char *what)
{
	struct ops_arg a = {ops, n, 0};
	int r;

	for (size_t i = 0; i < n; i++)
		if (ops[i].kind == STORAGE_PUT && strlen(ops[i].key) > STORAGE_PG_MAX_KEY)
			return TROVE_ERR_INVALID;
	r = with_conn(impl(s), what, do_ops, &a);
	if (r == 0 && a.index != 0)
		storage_write_index_note(a.index);
	return r;
}

static int pg_put(struct storage *s, const char *key, const void *value, size_t len)
{
	struct storage_op op = {.kind = STORAGE_PUT, .key = key, .value = value, .value_len = len};
	return write_ops(s, &op, 1, "put");
}

static int pg_del(struct storage *s, const char *key)
{
	struct storage_op op = {.kind = STORAGE_DELETE, .key = key};
	return write_ops(s, &op, 1, "delete");
}

static int pg_txn(struct storage *s, const struct storage_op *ops, size_t n)
{
	return write_ops(s, ops, n, "txn");
}

struct list_arg {
	const char *prefix;
	struct strlist *out;
};

static int do_list(struct pg_store *p, PGconn *c, void *arg, bool *broken)
{
	struct list_arg *a = arg;
	size_t plen = strlen(a->prefix);
	char *end = xmalloc(plen + 1);
	const char *vals[2] = {a->prefix, end};
	int lens[2] = {(int)plen, (int)plen};
	bool bounded = storage_pg_prefix_end(a->prefix, end);
	bool late = false;
	PGresult *res = run(p, c, bounded ? ST_LIST : ST_LIST_ROOT, vals, lens, 1, &late);
	int r = check(p, c, res, PGRES_TUPLES_OK, "list", broken, late);

	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		size_t n = (size_t)PQgetlength(res, i, 0);
		if (n > 0)
			r = strlist_push_owned(a->out, xstrndup(PQgetvalue(res, i, 0), n));
	}
	PQclear(res);
	free(end);
	return r;
}

static int pg_list(struct storage *s, const char *prefix, struct strlist *out)
{
	struct list_arg a = {prefix, out};

	if (strlen(prefix) > STORAGE_PG_MAX_KEY)
		return 0; /* no key can live under it */
	return with_conn(impl(s), "list", do_list, &a);
}

static void pg_destroy(struct storage *s)
{
	struct pg_store *p = impl(s);

	pg_listener_stop(p->listener);

	for (size_t i = 0; i < p->nidle; i++)
		PQfinish(p->idle[i]);
	free(p->idle);
	pg_ha_free(p->ha);
	for (int i = 0; i < ST__COUNT; i++)
		free(p->sql[i]);
	secure_free_str(p->conninfo);
	free(p->table);
	free(p->ha_table);
	free(p->channel);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static const struct storage_ops pg_ops = {
    .name = "postgresql",
    .get = pg_get,
    .put = pg_put,
    .del = pg_del,
    .list = pg_list,
    .txn = pg_txn,
    .destroy = pg_destroy,
};

/* tmpl with every "@T" replaced by the table name (an identifier,
 * validated: storage_pg_table_refused). */
char *pg_sql_of(const char *tmpl, const char *t)
{
	struct buf b;
	const char *at;

	buf_init(&b, 8192);
	while ((at = strstr(tmpl, "@T")) != NULL) {
		buf_append(&b, tmpl, (size_t)(at - tmpl));
		buf_append_str(&b, t);
		tmpl = at + 2;
	}
	buf_append_str(&b, tmpl);
	return buf_take(&b);
}

/* The loose index scan of list (see the top of this file). $1 is the
 * prefix, $2 the first string past it (none at the root). */
static char *list_sql(const char *t, bool bounded)
{
	static const char with_end[] =
	    "WITH RECURSIVE f(p) AS ("
	    " SELECT (SELECT parent_path FROM \"@T\" WHERE parent_path > $1 AND parent_path < $2"
	    " ORDER BY parent_path LIMIT 1)"
	    " UNION ALL"
	    " SELECT (SELECT parent_path FROM \"@T\" WHERE parent_path >="
	    " substr(f.p, 1, length($1) + position(decode('2f', 'hex') IN substr(f.p, length($1) + 1)) - 1)"
	    " || decode('30', 'hex') AND parent_path < $2 ORDER BY parent_path LIMIT 1)"
	    " FROM f WHERE f.p IS NOT NULL)"
	    " SELECT substr(p, length($1) + 1, position(decode('2f', 'hex') IN substr(p, length($1) + 1)))"
	    " FROM f WHERE p IS NOT NULL"
	    " UNION ALL SELECT substr(key, length($1) + 1) FROM \"@T\" WHERE parent_path = $1"
	    " ORDER BY 1";
	static const char at_root[] =
	    "WITH RECURSIVE f(p) AS ("
	    " SELECT (SELECT parent_path FROM \"@T\" WHERE parent_path > $1 ORDER BY parent_path LIMIT 1)"
	    " UNION ALL"
	    " SELECT (SELECT parent_path FROM \"@T\" WHERE parent_path >="
	    " substr(f.p, 1, position(decode('2f', 'hex') IN f.p) - 1) || decode('30', 'hex')"
	    " ORDER BY parent_path LIMIT 1)"
	    " FROM f WHERE f.p IS NOT NULL)"
	    " SELECT substr(p, 1, position(decode('2f', 'hex') IN p)) FROM f WHERE p IS NOT NULL"
	    " UNION ALL SELECT key FROM \"@T\" WHERE parent_path = $1"
	    " ORDER BY 1";
	return pg_sql_of(bounded ? with_end : at_root, t);
}

const char *pg_table(const struct pg_store *p)
{
	return p->table;
}

const char *pg_node(const struct pg_store *p)
{
	return p->node;
}

const char *pg_channel(const struct pg_store *p)
{
	return p->channel;
}

bool storage_is_pg(const struct storage *s)
{
	return s != NULL && s->ops == &pg_ops;
}

const char *storage_pg_table_name(const struct storage *s)
{
	return ((const struct pg_store *)s->impl)->table;
}

bool storage_pg_notifies(struct storage *s)
{
	return storage_is_pg(s) && impl(s)->ha != NULL;
}

int storage_pg_listen(struct storage *s, const struct storage_pg_hooks *h)
{
	struct pg_store *p;

	if (!storage_is_pg(s) || (p = impl(s))->listener != NULL)
		return TROVE_ERR_INVALID;
	p->listener = pg_listener_start(p, h);
	return p->listener ? 0 : TROVE_ERR_INTERNAL;
}

void storage_pg_unlisten(struct storage *s)
{
	struct pg_store *p = storage_is_pg(s) ? impl(s) : NULL;
	if (p == NULL)
		return;
	pg_listener_stop(p->listener);
	p->listener = NULL;
}

uint64_t storage_pg_applied(struct storage *s)
{
	struct pg_store *p = storage_is_pg(s) ? impl(s) : NULL;
	return p && p->listener ? pg_listener_applied(p->listener) : 0;
}

bool storage_pg_wait_applied(struct storage *s, uint64_t index, int64_t timeout_ms)
{
	struct pg_store *p = storage_is_pg(s) ? impl(s) : NULL;
	if (p == NULL || p->listener == NULL)
		return index == 0;
	return pg_listener_wait(p->listener, index, timeout_ms);
}

/* Connects at open, retrying with a backoff (15 ms doubling to 5 s);
 * retries 0 means until the database answers. */
static PGconn *connect_at_open(struct pg_store *p, bool prepare, unsigned retries, struct buf *err)
{
	uint64_t delay_ms = 15;
	char why[512];

	for (unsigned attempt = 0;; attempt++) {
		PGconn *c = pg_connect(p, prepare, why, sizeof(why));
		if (c != NULL)
			return c;
		if (retries != 0 && attempt >= retries) {
			pg_set_err(err, "postgresql: cannot connect (table \"%s\"): %s", p->table, why);
			return NULL;
		}
		log_warn("postgresql storage: cannot connect, retrying", "table", p->table, "error", why);
		struct timespec ts = {(time_t)(delay_ms / 1000), (long)(delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		delay_ms = delay_ms * 2 > 5000 ? 5000 : delay_ms * 2;
	}
}

struct storage *storage_pg_new(const struct storage_pg_config *cfg, struct buf *err)
{
	const char *url = cfg->connection_url;
	const char *table = cfg->table ? cfg->table : STORAGE_PG_DEFAULT_TABLE;
	const char *why = storage_pg_table_refused(table);
	struct pg_store *p;
	PGconn *c;

	if (why != NULL) {
		pg_set_err(err, "postgresql: table \"%s\" %s", table, why);
		return NULL;
	}
	if (url == NULL || url[0] == '\0')
		url = getenv("VAULT_PG_CONNECTION_URL");
	p = xcalloc(1, sizeof(*p));
	p->base.ops = &pg_ops;
	p->base.durable = true;
	p->base.reads_block = true;
	p->base.impl = p;
	p->conninfo = xstrdup(url ? url : "");
	p->table = xstrdup(table);
	atomic_init(&p->wait_ms, WAIT_DEFAULT_MS);
	p->max = cfg->max_parallel ? cfg->max_parallel : STORAGE_PG_DEFAULT_PARALLEL;
	p->max_idle = cfg->max_idle && cfg->max_idle < p->max ? cfg->max_idle : p->max;
	p->idle = xcalloc(p->max, sizeof(*p->idle));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->sql[ST_GET] = pg_sql_of("SELECT value FROM \"@T\" WHERE key = $1", table);
	p->sql[ST_PUT] = pg_sql_of("INSERT INTO \"@T\" (key, parent_path, value) VALUES ($1, $2, $3)"
	                        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
	                        table);
	p->sql[ST_DEL] = pg_sql_of("DELETE FROM \"@T\" WHERE key = $1", table);
	p->sql[ST_LIST] = list_sql(table, true);
	p->sql[ST_LIST_ROOT] = list_sql(table, false);
	p->sql[ST_BUMP] = pg_sql_of("WITH " BUMP_SQL(1, 2, 3, 4), table);
	p->sql[ST_PUT_N] = pg_sql_of("WITH w AS (INSERT INTO \"@T\" (key, parent_path, value) VALUES ($1, $2, $3)"
	                             " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value RETURNING 1), "
	                             BUMP_SQL(4, 5, 6, 7),
	                             table);
	p->sql[ST_DEL_N] = pg_sql_of("WITH w AS (DELETE FROM \"@T\" WHERE key = $1 RETURNING 1), " BUMP_SQL(2, 3, 4, 5),
	                             table);
	p->channel = pg_sql_of(STORAGE_PG_CHANNEL_PREFIX "@T", table);
	{
		unsigned char id[STORAGE_PG_NODE_HEX / 2];
		if (rand_bytes(id, sizeof(id)) != 0)
			goto fail;
		hex_encode(id, sizeof(id), p->node);
		snprintf(p->node_prefix, sizeof(p->node_prefix), "%s ", p->node);
	}
	if (cfg->ha_enabled) {
		const char *ha = cfg->ha_table ? cfg->ha_table : STORAGE_PG_DEFAULT_HA_TABLE;
		if ((why = storage_pg_table_refused(ha)) != NULL) {
			pg_set_err(err, "postgresql: ha_table \"%s\" %s", ha, why);
			goto fail;
		}
		p->ha_table = xstrdup(ha);
		p->sql[ST_FENCE] = pg_sql_of("SELECT 1 FROM \"@T\" WHERE ha_key = $1 AND epoch = $2::bigint FOR KEY SHARE", ha);
		p->ha = pg_ha_new(p);
	}

	/* The tables must exist before statements on them can be prepared:
	 * set them up on a bare connection first. */
	if ((c = connect_at_open(p, false, cfg->max_connect_retries, err)) == NULL)
		goto fail;
	if (!pg_setup_schema(p, c, cfg->skip_create_table, err)) {
		PQfinish(c);
		goto fail;
	}
	PQfinish(c);
	if ((c = connect_at_open(p, true, cfg->max_connect_retries, err)) == NULL)
		goto fail;
	p->idle[p->nidle++] = c;
	p->open = 1;
	return &p->base;
fail:
	pg_destroy(&p->base);
	return NULL;
}
