/* db_fake.h — a recording database plugin for the database engine's
 * tests: it keeps every statement it is given, the URL it connected with,
 * and fails, blocks or refuses on request. */
#ifndef TROVE_TEST_DB_FAKE_H
#define TROVE_TEST_DB_FAKE_H

#include <stdbool.h>

#include "buf.h"
#include "engines/database/plugin.h"

struct db_fake {
	struct buf log;      /* every statement run, one per line */
	char last_url[1024]; /* the connection_url of the last connect */
	char last_password[256];
	int connects, disconnects, pings, open;
	/* Knobs. */
	bool fail_connect; /* connect: UPSTREAM, with the password in its message */
	bool fail_ping;
	const char *fail_stmt; /* exec_tx fails on a statement holding this */
	bool block;            /* exec_tx sleeps to its deadline: TIMEOUT */
	int delay_ms;          /* exec_tx and ping take this long first */
};

extern struct db_fake db_fake;
extern struct db_plugin db_fake_plugin; /* "fake-database-plugin" */

/* Clears the log, counters and knobs and registers the plugin. */
void db_fake_reset(void);
/* Whether the log holds s. */
bool db_fake_ran(const char *s);

#endif
