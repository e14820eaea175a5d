/* storage_pg_ha.c — the HA lock of the postgresql backend
 * (storage/ha_lock.h; why a lease row and not an advisory lock:
 * docs/decisions/0014-ha-lock.md).
 *
 * ha_table holds one lock row per cluster, keyed by the cluster's kv
 * table, and one heartbeat row per node ("<table>/node/<node id>"):
 *
 *   ha_key text PRIMARY KEY, node_id, hostname, api_addr, cluster_addr,
 *   epoch bigint, acquired_at, valid_until, last_echo timestamptz
 *
 * Every time is the database's (clock_timestamp()): nodes' clocks never
 * decide whether a lease ran out. Acquiring is one upsert that succeeds
 * only where the row is missing or its lease has run out, and adds one to
 * the epoch; renewing and releasing are updates that name the epoch. The
 * lock row is never deleted, so epochs only grow.
 *
 * Row locks: a fenced write reads the row FOR KEY SHARE; a renewal is a
 * plain UPDATE of non-key columns (FOR NO KEY UPDATE), which does not
 * conflict with it, so renewals never wait for writes; a takeover locks
 * the row FOR UPDATE first, which does.
 *
 * The lock runs on a connection of its own, outside the pool: a full pool
 * must not delay a renewal. Each call waits at most LOCK_WAIT_MS; a
 * broken connection is dropped and the next call opens a new one (which
 * libpq points at whichever host is now read-write). */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "storage/ha_lock.h"
#include "storage/storage_pg.h"
#include "storage/storage_pg_impl.h"

#include "banned.h"

#define LOCK_WAIT_MS 2000

const char pg_ha_ddl[] =
    "CREATE TABLE IF NOT EXISTS \"@T\" (ha_key text COLLATE \"C\" PRIMARY KEY, node_id text NOT NULL,"
    " hostname text NOT NULL DEFAULT '', api_addr text NOT NULL DEFAULT '', cluster_addr text NOT NULL DEFAULT '',"
    " epoch bigint NOT NULL DEFAULT 0, acquired_at timestamptz, valid_until timestamptz NOT NULL,"
    " last_echo timestamptz NOT NULL)";

enum ha_stmt { HS_ACQUIRE, HS_RENEW, HS_RELEASE, HS_HOLDER, HS_BEAT, HS_NODES, HS__COUNT };
static const char *const hs_name[HS__COUNT] = {"ha_acquire", "ha_renew", "ha_release",
                                               "ha_holder",  "ha_beat",  "ha_nodes"};
static const int hs_nparams[HS__COUNT] = {6, 4, 3, 1, 5, 2};
static const char *const hs_sql[HS__COUNT] = {
    /* $1 lock key, $2 node, $3 host, $4 api, $5 cluster, $6 ttl ms.
     * The run-out row is first locked FOR UPDATE, the one lock that
     * conflicts with the writes' FOR KEY SHARE: the takeover waits for
     * writes past their check, later writes wait for it and then fail. */
    "WITH expired AS (SELECT 1 FROM \"@T\" WHERE ha_key = $1 AND valid_until < clock_timestamp() FOR UPDATE)"
    " INSERT INTO \"@T\" AS h (ha_key, node_id, hostname, api_addr, cluster_addr, epoch, acquired_at, valid_until,"
    " last_echo) SELECT $1, $2, $3, $4, $5, 1, clock_timestamp(),"
    " clock_timestamp() + $6::bigint * interval '1 millisecond', clock_timestamp()"
    " WHERE (SELECT count(*) FROM expired) >= 0"
    " ON CONFLICT (ha_key) DO UPDATE SET node_id = EXCLUDED.node_id, hostname = EXCLUDED.hostname,"
    " api_addr = EXCLUDED.api_addr, cluster_addr = EXCLUDED.cluster_addr, epoch = h.epoch + 1,"
    " acquired_at = EXCLUDED.acquired_at, valid_until = EXCLUDED.valid_until, last_echo = EXCLUDED.last_echo"
    " WHERE h.valid_until < clock_timestamp() RETURNING epoch",
    /* $1 lock key, $2 node, $3 epoch, $4 ttl ms */
    "UPDATE \"@T\" SET valid_until = clock_timestamp() + $4::bigint * interval '1 millisecond',"
    " last_echo = clock_timestamp() WHERE ha_key = $1 AND node_id = $2 AND epoch = $3::bigint RETURNING epoch",
    /* $1 lock key, $2 node, $3 epoch */
    "UPDATE \"@T\" SET valid_until = '-infinity' WHERE ha_key = $1 AND node_id = $2 AND epoch = $3::bigint",
    /* $1 lock key */
    "SELECT node_id, hostname, api_addr, cluster_addr, epoch,"
    " (extract(epoch FROM acquired_at) * 1000)::bigint FROM \"@T\""
    " WHERE ha_key = $1 AND valid_until > clock_timestamp()",
    /* $1 node key, $2 node, $3 host, $4 api, $5 cluster */
    "INSERT INTO \"@T\" AS h (ha_key, node_id, hostname, api_addr, cluster_addr, valid_until, last_echo)"
    " VALUES ($1, $2, $3, $4, $5, '-infinity', clock_timestamp()) ON CONFLICT (ha_key) DO UPDATE"
    " SET hostname = EXCLUDED.hostname, api_addr = EXCLUDED.api_addr, cluster_addr = EXCLUDED.cluster_addr,"
    " last_echo = EXCLUDED.last_echo",
    /* $1 node key prefix, $2 max age ms; rows gone quiet for a day are dropped */
    "WITH gone AS (DELETE FROM \"@T\" WHERE left(ha_key, length($1)) = $1"
    " AND last_echo < clock_timestamp() - interval '1 day')"
    " SELECT node_id, hostname, api_addr, cluster_addr, (extract(epoch FROM last_echo) * 1000)::bigint"
    " FROM \"@T\" WHERE left(ha_key, length($1)) = $1"
    " AND last_echo > clock_timestamp() - $2::bigint * interval '1 millisecond' ORDER BY api_addr, node_id",
};

struct pg_ha {
	struct ha_lock lock;
	struct pg_store *p;
	pthread_mutex_t mu; /* the connection */
	PGconn *c;          /* NULL until needed, or after it broke */
	bool down;          /* logged once per outage */
};

static struct pg_ha *H(struct ha_lock *l)
{
	return l->impl;
}

/* The lock's connection, opened and prepared on demand (h->mu held). */
static PGconn *conn(struct pg_ha *h)
{
	char why[512];
	PGresult *res = NULL;
	bool late = false;

	if (h->c)
		return h->c;
	if ((h->c = pg_connect(h->p, false, why, sizeof(why))) == NULL)
		goto fail;
	for (int i = 0; i < HS__COUNT; i++) {
		char *sql = pg_sql_of(hs_sql[i], h->p->ha_table);
		res = pg_await(h->c, PQsendPrepare(h->c, hs_name[i], sql, hs_nparams[i], NULL) != 0, LOCK_WAIT_MS, &late);
		free(sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			pg_one_line(why, sizeof(why), late ? "no answer in time" : res ? PQresultErrorMessage(res)
			                                                                : PQerrorMessage(h->c));
			PQclear(res);
			PQfinish(h->c);
			h->c = NULL;
			goto fail;
		}
		PQclear(res);
	}
	return h->c;
fail:
	if (!h->down)
		log_error("postgresql HA lock: cannot reach the database", "ha_table", h->p->ha_table, "error", why);
	h->down = true;
	return NULL;
}

/* Runs one statement (h->mu held): the result (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK) for the caller to read and clear, or NULL after a
 * failure (logged; a broken connection is dropped). */
static PGresult *exec_ha(struct pg_ha *h, enum ha_stmt s, const char *const *vals)
{
	PGconn *c = conn(h);
	bool late = false;
	PGresult *res;
	char msg[512];

	if (c == NULL)
		return NULL;
	res = pg_await(c, PQsendQueryPrepared(c, hs_name[s], hs_nparams[s], vals, NULL, NULL, 0) != 0, LOCK_WAIT_MS,
	               &late);
	if (res && (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK)) {
		if (h->down)
			log_info("postgresql HA lock: database reachable again", "ha_table", h->p->ha_table);
		h->down = false;
		return res;
	}
	pg_one_line(msg, sizeof(msg), late ? "no answer in time" : res ? PQresultErrorMessage(res) : PQerrorMessage(c));
	if (!h->down)
		log_error("postgresql HA lock: statement failed", "ha_table", h->p->ha_table, "op", hs_name[s], "error",
		          msg);
	h->down = true;
	if (late || pg_is_broken(c, res)) {
		PQfinish(c);
		h->c = NULL;
	}
	PQclear(res);
	return NULL;
}

static int ha_acquire(struct ha_lock *l, const struct ha_self *me, int64_t ttl_ms, uint64_t *epoch)
{
	struct pg_ha *h = H(l);
	char ttl[24];
	const char *vals[6] = {h->p->table, me->node_id, me->hostname, me->api_addr, me->cluster_addr, ttl};
	int r = TROVE_ERR_UNAVAILABLE;
	PGresult *res;

	snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
	pthread_mutex_lock(&h->mu);
	if ((res = exec_ha(h, HS_ACQUIRE, vals)) != NULL) {
		r = TROVE_ERR_CONFLICT;
		if (PQntuples(res) == 1) {
			*epoch = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
			r = 0;
		}
	}
	PQclear(res);
	pthread_mutex_unlock(&h->mu);
	return r;
}

static int ha_renew(struct ha_lock *l, const struct ha_self *me, uint64_t epoch, int64_t ttl_ms)
{
	struct pg_ha *h = H(l);
	char ttl[24], e[24];
	const char *vals[4] = {h->p->table, me->node_id, e, ttl};
	int r = TROVE_ERR_UNAVAILABLE;
	PGresult *res;

	snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
	snprintf(e, sizeof(e), "%llu", (unsigned long long)epoch);
	pthread_mutex_lock(&h->mu);
	if ((res = exec_ha(h, HS_RENEW, vals)) != NULL)
		r = PQntuples(res) == 1 ? 0 : TROVE_ERR_CONFLICT;
	PQclear(res);
	pthread_mutex_unlock(&h->mu);
	return r;
}

static int ha_release(struct ha_lock *l, const struct ha_self *me, uint64_t epoch)
{
	struct pg_ha *h = H(l);
	char e[24];
	const char *vals[3] = {h->p->table, me->node_id, e};
	PGresult *res;

	snprintf(e, sizeof(e), "%llu", (unsigned long long)epoch);
	pthread_mutex_lock(&h->mu);
	res = exec_ha(h, HS_RELEASE, vals);
	pthread_mutex_unlock(&h->mu);
	int r = res ? 0 : TROVE_ERR_UNAVAILABLE;
	PQclear(res);
	return r;
}

static void copy_text(char *dst, size_t cap, const PGresult *res, int row, int col)
{
	snprintf(dst, cap, "%s", PQgetvalue(res, row, col));
}

static int ha_holder(struct ha_lock *l, struct ha_holder *out)
{
	struct pg_ha *h = H(l);
	const char *vals[1] = {h->p->table};
	int r = TROVE_ERR_UNAVAILABLE;
	PGresult *res;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&h->mu);
	if ((res = exec_ha(h, HS_HOLDER, vals)) != NULL) {
		r = TROVE_ERR_NOT_FOUND;
		if (PQntuples(res) == 1) {
			copy_text(out->node.node_id, sizeof(out->node.node_id), res, 0, 0);
			copy_text(out->node.hostname, sizeof(out->node.hostname), res, 0, 1);
			copy_text(out->node.api_addr, sizeof(out->node.api_addr), res, 0, 2);
			copy_text(out->node.cluster_addr, sizeof(out->node.cluster_addr), res, 0, 3);
			out->epoch = strtoull(PQgetvalue(res, 0, 4), NULL, 10);
			out->acquired_ms = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
			r = 0;
		}
	}
	PQclear(res);
	pthread_mutex_unlock(&h->mu);
	return r;
}

/* "<table>/node/" followed by id (which may be "") into out. */
static void node_key(const struct pg_ha *h, const char *id, char *out, size_t cap)
{
	snprintf(out, cap, "%s/node/%s", h->p->table, id);
}

static int ha_heartbeat(struct ha_lock *l, const struct ha_self *me)
{
	struct pg_ha *h = H(l);
	char key[STORAGE_PG_MAX_TABLE + HA_ID_MAX + 16];
	const char *vals[5] = {key, me->node_id, me->hostname, me->api_addr, me->cluster_addr};
	PGresult *res;

	node_key(h, me->node_id, key, sizeof(key));
	pthread_mutex_lock(&h->mu);
	res = exec_ha(h, HS_BEAT, vals);
	pthread_mutex_unlock(&h->mu);
	int r = res ? 0 : TROVE_ERR_UNAVAILABLE;
	PQclear(res);
	return r;
}

static int ha_nodes(struct ha_lock *l, int64_t max_age_ms, struct ha_node **out, size_t *n)
{
	struct pg_ha *h = H(l);
	char key[STORAGE_PG_MAX_TABLE + 16], age[24];
	const char *vals[2] = {key, age};
	int r = TROVE_ERR_UNAVAILABLE;
	PGresult *res;

	*out = NULL;
	*n = 0;
	node_key(h, "", key, sizeof(key));
	snprintf(age, sizeof(age), "%lld", (long long)max_age_ms);
	pthread_mutex_lock(&h->mu);
	if ((res = exec_ha(h, HS_NODES, vals)) != NULL) {
		int rows = PQntuples(res);
		*out = xcalloc(rows > 0 ? (size_t)rows : 1, sizeof(**out));
		for (int i = 0; i < rows; i++) {
			struct ha_node *d = &(*out)[i];
			copy_text(d->node.node_id, sizeof(d->node.node_id), res, i, 0);
			copy_text(d->node.hostname, sizeof(d->node.hostname), res, i, 1);
			copy_text(d->node.api_addr, sizeof(d->node.api_addr), res, i, 2);
			copy_text(d->node.cluster_addr, sizeof(d->node.cluster_addr), res, i, 3);
			d->last_echo_ms = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		}
		*n = (size_t)rows;
		r = 0;
	}
	PQclear(res);
	pthread_mutex_unlock(&h->mu);
	return r;
}

static void ha_fence(struct ha_lock *l, uint64_t epoch)
{
	atomic_store(&H(l)->p->fence, epoch);
}

static const struct ha_lock_ops pg_lock_ops = {
    .acquire = ha_acquire,
    .renew = ha_renew,
    .release = ha_release,
    .holder = ha_holder,
    .heartbeat = ha_heartbeat,
    .nodes = ha_nodes,
    .fence = ha_fence,
};

struct pg_ha *pg_ha_new(struct pg_store *p)
{
	struct pg_ha *h = xcalloc(1, sizeof(*h));
	h->p = p;
	h->lock.ops = &pg_lock_ops;
	h->lock.impl = h;
	pthread_mutex_init(&h->mu, NULL);
	return h;
}

void pg_ha_free(struct pg_ha *h)
{
	if (!h)
		return;
	if (h->c)
		PQfinish(h->c);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

struct ha_lock *storage_pg_ha_lock(struct storage *s)
{
	if (!s || s->ops->destroy == NULL || strcmp(s->ops->name, "postgresql") != 0)
		return NULL;
	struct pg_store *p = s->impl;
	return p->ha ? &p->ha->lock : NULL;
}
