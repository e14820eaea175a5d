/* storage_pg_schema.c — the postgresql backend's tables: created when
 * missing, in one transaction serialised between nodes starting at once
 * by an advisory lock, and checked: a table of another layout, or of a
 * layout version newer than this Trove's, is refused at open with a
 * message that says what to do (docs/decisions/0013-postgresql-storage-
 * schema.md; the HA lock's table: 0014-ha-lock.md). */
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "storage/storage_pg.h"
#include "storage/storage_pg_impl.h"

#include "banned.h"

/* Any constant: serialises table creation between nodes starting at once. */
#define SCHEMA_LOCK_KEY "7236527815093401903"

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

/* Whether ha_table has Trove's columns (pg_ha_ddl). Vault's table of the
 * same default name (ha_key, ha_identity, ha_value, valid_until) is
 * refused here, at start, with a message rather than by every lock call
 * later. */
static bool ha_layout_ok(struct pg_store *p, PGconn *c, struct buf *err)
{
	char *sql = pg_sql_of("SELECT count(*) FROM pg_attribute WHERE attrelid = '\"@T\"'::regclass AND NOT attisdropped"
	                      " AND attname IN ('ha_key', 'node_id', 'hostname', 'api_addr', 'cluster_addr', 'epoch',"
	                      " 'acquired_at', 'valid_until', 'last_echo')",
	                      p->ha_table);
	PGresult *res = PQexec(c, sql);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "9") == 0;
	if (!ok && PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[512];
		pg_one_line(msg, sizeof(msg), PQresultErrorMessage(res));
		pg_set_err(err, "postgresql: ha_table \"%s\": %s", p->ha_table, msg);
	} else if (!ok) {
		pg_set_err(err,
		        "postgresql: ha_table \"%s\" exists with another layout (Vault's?); Trove's has the columns "
		        "ha_key, node_id, hostname, api_addr, cluster_addr, epoch, acquired_at, valid_until and "
		        "last_echo: give another ha_table (docs/decisions/0014-ha-lock.md)",
		        p->ha_table);
	}
	PQclear(res);
	free(sql);
	return ok;
}

/* Creates what is missing (unless skip_create) and checks the version of
 * the table's layout, in one transaction. */
bool pg_setup_schema(struct pg_store *p, PGconn *c, bool skip_create, struct buf *err)
{
	const char *t = p->table;
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
		             "CREATE TABLE IF NOT EXISTS \"@T\" (key bytea PRIMARY KEY, parent_path bytea NOT NULL,"
		             " value bytea NOT NULL);"
		             "CREATE INDEX IF NOT EXISTS \"@T_parent_path\" ON \"@T\" (parent_path);"
		             "CREATE TABLE IF NOT EXISTS trove_storage_index (kv_table text COLLATE \"C\" PRIMARY KEY,"
		             " idx bigint NOT NULL)",
		             t);
		if (!setup_exec(c, ddl, PGRES_COMMAND_OK, t, err))
			goto out;
		if (p->ha_table) {
			free(ddl);
			ddl = pg_sql_of(pg_ha_ddl, p->ha_table);
			if (!setup_exec(c, ddl, PGRES_COMMAND_OK, p->ha_table, err))
				goto out;
		}
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
	if (p->ha_table && !ha_layout_ok(p, c, err))
		goto out;
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
