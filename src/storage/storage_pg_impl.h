/* storage_pg_impl.h — what storage_pg.c (the key/value backend),
 * storage_pg_schema.c (its tables), storage_pg_ha.c (the HA lock on the
 * same database) and storage_pg_listen.c (the notification listener)
 * share. Private to them. */
#ifndef TROVE_STORAGE_PG_IMPL_H
#define TROVE_STORAGE_PG_IMPL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"
#include "storage/storage_pg.h"

/* Prepared on every pooled connection; ST_FENCE only with HA. Without HA
 * a write is ST_PUT or ST_DEL, alone or in a transaction. With HA, ST_PUT
 * and ST_DEL run inside a transaction that ST_BUMP ends (numbered and
 * notified); a write of one key by a node that holds no fence is one
 * statement, ST_PUT_N or ST_DEL_N, which does both. */
enum stmt { ST_GET, ST_PUT, ST_DEL, ST_LIST, ST_LIST_ROOT, ST_FENCE, ST_BUMP, ST_PUT_N, ST_DEL_N, ST__COUNT };

struct pg_ha;

struct pg_store {
	struct storage base;
	char *conninfo; /* may hold a password: wiped at destroy */
	char *table;
	char *ha_table; /* NULL without HA */
	char *sql[ST__COUNT];

	pthread_mutex_t mu; /* guards what follows */
	pthread_cond_t cv;  /* a connection came back, or a slot freed */
	PGconn **idle;
	size_t nidle, open, max, max_idle;
	bool down; /* the last attempt to reach the database failed */
	/* How long Trove waits for an answer, in ms: the session's
	 * statement_timeout and a margin (set by each new connection). */
	_Atomic int64_t wait_ms;
	/* The HA epoch every write must prove is still the lock's (0: none;
	 * storage_pg_ha.c), and the lock itself (NULL without HA). */
	_Atomic uint64_t fence;
	struct pg_ha *ha;
	char node[STORAGE_PG_NODE_HEX + 1];        /* this process's name in notifications */
	char node_prefix[STORAGE_PG_NODE_HEX + 2]; /* node and ' ' */
	char *channel;                             /* the table's NOTIFY channel */
	struct pg_listener *listener;              /* NULL until storage_pg_listen */
};

/* Opens one connection (session settings made; the statements prepared
 * unless !prepare), or NULL with why (one line). */
PGconn *pg_connect(struct pg_store *p, bool prepare, char *why, size_t cap);
/* Waits at most wait_ms for the answer to what was just sent on c (sent:
 * whether sending worked). The first failed result, else the last; NULL
 * when nothing came (then *timed_out, or the connection broke). */
PGresult *pg_await(PGconn *c, bool sent, int64_t wait_ms, bool *timed_out);
/* Whether a failed result means the connection cannot be used again. */
bool pg_is_broken(PGconn *c, const PGresult *res);
/* from, on one line (newlines and tabs to spaces, trailing ones cut). */
void pg_one_line(char *msg, size_t cap, const char *from);
/* tmpl with every "@T" replaced by t (a validated identifier); heap. */
char *pg_sql_of(const char *tmpl, const char *t);
/* err (may be NULL) reset and set to the formatted message. */
void pg_set_err(struct buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* storage_pg_schema.c: on c (a bare connection at open), creates the
 * tables p needs where missing (unless skip_create) and checks their
 * layouts and version, in one transaction. false with why in err. */
bool pg_setup_schema(struct pg_store *p, PGconn *c, bool skip_create, struct buf *err);

/* What storage_pg_listen.c reads of the pool (storage_pg.c). */
const char *pg_table(const struct pg_store *p);
const char *pg_node(const struct pg_store *p);   /* this process's 16 hex digits */
const char *pg_channel(const struct pg_store *p); /* the table's NOTIFY channel */
/* A new connection of its own (not the pool's; application_name "trove
 * listener"), statements unprepared, or NULL with why. The caller
 * PQfinishes it. */
PGconn *pg_connect_plain(struct pg_store *p, char *why, size_t cap);
/* Runs sql (one or more statements) on c, waiting as every call does;
 * the first failed result or the last one; NULL when sending failed or
 * the time ran out (*timed_out). The caller PQclears it. */
PGresult *pg_exec(struct pg_store *p, PGconn *c, const char *sql, bool *timed_out);

/* The listener (storage_pg_listen.c). start: NULL when the thread cannot
 * be made. stop: joins and frees; NULL is fine. */
struct pg_listener;
struct pg_listener *pg_listener_start(struct pg_store *p, const struct storage_pg_hooks *h);
void pg_listener_stop(struct pg_listener *l);
uint64_t pg_listener_applied(struct pg_listener *l);
bool pg_listener_wait(struct pg_listener *l, uint64_t index, int64_t timeout_ms);

/* storage_pg_ha.c: the lock's state, made at open when ha_table is set,
 * and freed at destroy. The HA table's DDL, "@T" standing for it. */
struct pg_ha *pg_ha_new(struct pg_store *p);
void pg_ha_free(struct pg_ha *h);
extern const char pg_ha_ddl[];

#endif
