/* storage_pg_int.h — what the files of the postgresql backend share
 * (storage_pg.c: the pool and the calls; storage_pg_schema.c: the SQL
 * text and the tables; storage_pg_listen.c: the listener). Not for use
 * outside src/storage/. */
#ifndef TROVE_STORAGE_PG_INT_H
#define TROVE_STORAGE_PG_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* from, with line breaks and tabs made spaces and trailing spaces cut,
 * into msg (cap bytes, always terminated). from may be NULL. */
void pg_one_line(char *msg, size_t cap, const char *from);

/* Replaces err (may be NULL) with the formatted text. */
void pg_set_err(struct buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tmpl with every "@T" replaced by table, an identifier already checked
 * by storage_pg_table_refused. Heap; the caller frees it. */
char *pg_sql_of(const char *tmpl, const char *table);

/* list's statement: $1 the prefix, $2 the first string past it
 * (storage_pg_prefix_end); bounded false: at the root, $1 only. Heap. */
char *pg_list_sql(const char *table, bool bounded);

/* On c, in one transaction: creates what is missing (unless
 * skip_create), refuses a table of another layout, and checks its layout
 * version. false with the reason in err. */
bool pg_setup_schema(PGconn *c, const char *table, bool skip_create, struct buf *err);

/* What storage_pg_listen.c reads of the pool (storage_pg.c). */
struct pg_store;
struct storage_pg_hooks;
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

#endif
