/* storage_pg_schema.c — the postgresql backend's SQL: the statements'
 * text and the tables' creation and version check (storage_pg_int.h).
 * The pool and the calls are storage_pg.c's.
 *
 * list's statement is a loose index scan over parent_path: the direct
 * children are the keys whose parent_path is the prefix; the folders are
 * found by a recursive query that takes the first parent_path past the
 * prefix and, from each folder "d/" found, seeks to prefix+"d0" ('0' is
 * the byte after '/'), so a folder costs one index probe however many
 * keys it holds. decode('2f', 'hex') is "/" as bytea, written so that it
 * holds whatever standard_conforming_strings says. */
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage_pg.h"
#include "storage/storage_pg_int.h"

#include "banned.h"

/* Any constant: serialises table creation between nodes starting at once. */
#define SCHEMA_LOCK_KEY "7236527815093401903"

void pg_one_line(char *msg, size_t cap, const char *from)
{
	size_t n = 0;
	for (; from && from[n] && n + 1 < cap; n++)
		msg[n] = (from[n] == '\n' || from[n] == '\r' || from[n] == '\t') ? ' ' : from[n];
	while (n > 0 && msg[n - 1] == ' ')
		n--;
	msg[n] = '\0';
}

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

char *pg_list_sql(const char *t, bool bounded)
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

void pg_set_err(struct buf *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	buf_reset(err);
	va_start(ap, fmt);
	buf_vprintf(err, fmt, ap);
	va_end(ap);
}

/* Runs one setup statement; on failure writes why into err. */
static bool setup_exec(PGconn *c, const char *sql, ExecStatusType want, const char *table, struct buf *err)
{
	PGresult *res = PQexec(c, sql);
	bool ok = PQresultStatus(res) == want;
	if (!ok) {
		char msg[512];
		pg_one_line(msg, sizeof(msg), res ? PQresultErrorMessage(res) : PQerrorMessage(c));
		pg_set_err(err, "postgresql: table \"%s\": %s", table, msg);
	}
	PQclear(res);
	return ok;
}

/* Runs insert, whose $1 is the table's name; on failure writes why into
 * err. */
static bool add_row(PGconn *c, const char *insert, const char *t, struct buf *err)
{
	const char *vals[1] = {t};
	PGresult *res = PQexecParams(c, insert, 1, NULL, vals, NULL, NULL, 0);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		pg_set_err(err, "postgresql: table \"%s\": %s", t, PQresultErrorMessage(res));
	PQclear(res);
	return ok;
}

bool pg_setup_schema(PGconn *c, const char *t, bool skip_create, struct buf *err)
{
	const char *vals[1] = {t};
	char *sql = NULL, *ddl = NULL;
	PGresult *res = NULL;
	bool ok = false;
	long version;

	if (!setup_exec(c, "BEGIN", PGRES_COMMAND_OK, t, err))
		return false;
	if (!skip_create) {
		ddl = pg_sql_of("SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ");"
		             "CREATE TABLE IF NOT EXISTS trove_storage_schema (kv_table text COLLATE \"C\" PRIMARY KEY,"
		             " version integer NOT NULL);"
		             "CREATE TABLE IF NOT EXISTS trove_storage_index (kv_table text COLLATE \"C\" PRIMARY KEY,"
		             " idx bigint NOT NULL);"
		             "CREATE TABLE IF NOT EXISTS \"@T\" (key bytea PRIMARY KEY, parent_path bytea NOT NULL,"
		             " value bytea NOT NULL);"
		             "CREATE INDEX IF NOT EXISTS \"@T_parent_path\" ON \"@T\" (parent_path)",
		             t);
		if (!setup_exec(c, ddl, PGRES_COMMAND_OK, t, err))
			goto out;
	}
	/* a table of another layout (Vault's, say) is refused */
	sql = pg_sql_of("SELECT count(*) FROM pg_attribute WHERE attrelid = '\"@T\"'::regclass AND NOT attisdropped"
	             " AND atttypid = 'bytea'::regtype AND attname IN ('key', 'parent_path', 'value')",
	             t);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		char msg[512];
		pg_one_line(msg, sizeof(msg), PQresultErrorMessage(res));
		pg_set_err(err, "postgresql: table \"%s\": %s", t, msg);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "3") != 0) {
		pg_set_err(err,
		        "postgresql: table \"%s\" exists with another layout (Trove's has the columns key, "
		        "parent_path and value, all bytea): give another table, or migrate into a new one",
		        t);
		goto out;
	}
	PQclear(res);
	res = NULL;
	/* the table's rows: its layout version, its commit index
	 * (storage_pg.h, "Notifications") */
	if (!skip_create &&
	    (!add_row(c, "INSERT INTO trove_storage_schema (kv_table, version) VALUES ($1, 1)"
	                 " ON CONFLICT (kv_table) DO NOTHING",
	              t, err) ||
	     !add_row(c, "INSERT INTO trove_storage_index (kv_table, idx) VALUES ($1, 0) ON CONFLICT (kv_table) DO NOTHING",
	              t, err)))
		goto out;
	res = PQexecParams(c, "SELECT idx FROM trove_storage_index WHERE kv_table = $1", 1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_set_err(err, "postgresql: table \"%s\" has no row in trove_storage_index%s", t,
		        skip_create ? " (create the tables as docs/ha.md shows, or unset skip_create_table)" : "");
		goto out;
	}
	PQclear(res);
	res = PQexecParams(c, "SELECT version FROM trove_storage_schema WHERE kv_table = $1", 1, NULL, vals, NULL,
	                   NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_set_err(err, "postgresql: table \"%s\" has no row in trove_storage_schema%s", t,
		        skip_create ? " (create the tables as docs/ha.md shows, or unset skip_create_table)" : "");
		goto out;
	}
	version = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (version != STORAGE_PG_SCHEMA_VERSION) {
		char v[64];
		snprintf(v, sizeof(v), "%ld; this Trove reads version %d", version, STORAGE_PG_SCHEMA_VERSION);
		pg_set_err(err,
		        version > STORAGE_PG_SCHEMA_VERSION
		            ? "postgresql: table \"%s\" was written by a newer Trove (layout version %s): upgrade Trove"
		            : "postgresql: table \"%s\" has an unknown layout version (%s)",
		        t, v);
		goto out;
	}
	ok = setup_exec(c, "COMMIT", PGRES_COMMAND_OK, t, err);
out:
	PQclear(res);
	if (!ok) {
		PGresult *rb = PQexec(c, "ROLLBACK");
		PQclear(rb);
	}
	free(sql);
	free(ddl);
	return ok;
}
