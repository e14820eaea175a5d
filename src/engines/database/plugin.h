/* plugin.h — a kind of database the `database` engine manages users on.
 *
 * One struct db_plugin per `plugin_name` Vault knows
 * (`postgresql-database-plugin`, `mysql-database-plugin`,
 * `mysql-aurora-database-plugin`, `mysql-rds-database-plugin`,
 * `mysql-legacy-database-plugin`). The engine owns everything that is
 * the same for every database: the stored connection config, roles,
 * templating of statements (`{{name}}`, `{{username}}`, `{{password}}`,
 * `{{expiration}}`), the connection pool, leases and rotation. A plugin
 * only opens connections and runs statements on them.
 *
 * Threads and time. Every call blocks on the network, so the engine calls
 * plugins only on worker threads (never on an event loop), and each call
 * returns within the deadline it is given: TROVE_ERR_TIMEOUT when the
 * database did not answer in time. A connection whose call failed with
 * TROVE_ERR_TIMEOUT or TROVE_ERR_UPSTREAM is never used again (the pool
 * disconnects it). One struct db_conn is used by one thread at a time.
 *
 * Errors. Calls return 0 or a TROVE_ERR_* code:
 *   TROVE_ERR_UPSTREAM  the database refused or failed (bad credentials, a
 *                       statement error, a connection that broke);
 *   TROVE_ERR_TIMEOUT   no answer before the deadline;
 *   TROVE_ERR_INVALID   the parameters cannot make a connection (a bad
 *                       URL, a TLS file that does not parse);
 *   TROVE_ERR_NOMEM.
 * With a failure, *why (when why is not NULL) receives a malloc'd message
 * for the operator (the caller frees it): the database's own text, with
 * no password in it — a plugin removes the connection's password and any
 * `{{password}}` value it was given from messages before returning them. */
#ifndef TROVE_DB_PLUGIN_H
#define TROVE_DB_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a connection is opened with, from the stored `config/:name`. The
 * engine has already put the root username and password into the URL's
 * `{{username}}`/`{{password}}` (percent-encoded for a URL form, quoted
 * for a key=value form), so the plugin reads the URL as it stands;
 * `username` and `password` are given too, for a URL without them. */
struct db_connect_params {
	const char *connection_url; /* the rendered URL or DSN */
	const char *username;       /* the root user, or NULL */
	const char *password;       /* the root password, or NULL */
	/* TLS for MySQL (`tls_ca`, `tls_certificate_key`: PEM text, or NULL).
	 * PostgreSQL takes `sslmode`/`sslrootcert` etc. in its URL. */
	const char *tls_ca;
	const char *tls_certificate_key;
	const char *tls_server_name; /* MySQL: the name checked in the certificate, or NULL */
	bool tls_skip_verify;        /* MySQL: `tls_skip_verify` */
	int64_t deadline_ms;         /* unix ms by which connect must have returned */
};

struct db_conn; /* one open connection, the plugin's */

struct db_plugin {
	const char *name;       /* Vault's plugin_name */
	size_t username_max;    /* longest user name the database takes */
	/* Username template used when the config names none (Vault's). */
	const char *default_username_template;
	/* Statements used when a role gives none (NULL-terminated lists,
	 * templated by the engine like a role's own; NULL: none). */
	const char *const *default_revocation;
	const char *const *default_renew;
	const char *const *default_rotation; /* static roles, rotate-root */
	/* Whether `credential_type=rsa_private_key` is supported. */
	bool rsa_private_key;
	/* Whether statements like CREATE USER and GRANT roll back with their
	 * transaction (PostgreSQL: yes; MySQL commits them at once). When not,
	 * the engine undoes a failed creation itself by running the role's
	 * revocation statements (or the defaults) for the new user. */
	bool ddl_transactional;

	/* Opens a connection as the root user. */
	int (*connect)(const struct db_connect_params *p, struct db_conn **out, char **why);
	/* Closes it and frees everything it held (NULL allowed). */
	void (*disconnect)(struct db_conn *c);
	/* Runs the statements in order in one transaction: a failure rolls
	 * back what the database can roll back (see ddl_transactional) and
	 * returns the failing statement's error. Each element may hold several statements separated by ';'
	 * (Vault's roles do); the plugin splits or sends them as its database
	 * needs, never inside a quoted string or a dollar-quoted body. The
	 * statements are already templated: the plugin runs them as given. */
	int (*exec_tx)(struct db_conn *c, const char *const *stmts, size_t n, int64_t deadline_ms, char **why);
	/* A cheap liveness check (PostgreSQL `SELECT 1`, MySQL ping) for a
	 * pooled connection before reuse and for `verify_connection`. */
	int (*ping)(struct db_conn *c, int64_t deadline_ms, char **why);
	/* Whether the last exec_tx on c failed only because a concurrent
	 * transaction changed the same rows first (PostgreSQL: "tuple
	 * concurrently updated" from GRANTs on one table, a serialization
	 * failure, a deadlock). The transaction was rolled back whole and c is
	 * still usable; run alone, it would succeed. NULL: never. */
	bool (*lost_race)(const struct db_conn *c);
};

#endif
