/* storage_pg_int.h — what the two files of the postgresql backend share
 * (storage_pg.c: the pool and the calls; storage_pg_schema.c: the SQL
 * text and the tables). Not for use outside src/storage/. */
#ifndef TROVE_STORAGE_PG_INT_H
#define TROVE_STORAGE_PG_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

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

#endif
