/* storage_pg_impl.h — what storage_pg.c (the key/value backend) and
 * storage_pg_ha.c (the HA lock on the same database) share. Private to
 * the two. */
#ifndef TROVE_STORAGE_PG_IMPL_H
#define TROVE_STORAGE_PG_IMPL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

/* Prepared on every pooled connection; ST_FENCE only with HA. */
enum stmt { ST_GET, ST_PUT, ST_DEL, ST_LIST, ST_LIST_ROOT, ST_FENCE, ST__COUNT };

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

/* storage_pg_ha.c: the lock's state, made at open when ha_table is set,
 * and freed at destroy. The HA table's DDL, "@T" standing for it. */
struct pg_ha *pg_ha_new(struct pg_store *p);
void pg_ha_free(struct pg_ha *h);
extern const char pg_ha_ddl[];

#endif
