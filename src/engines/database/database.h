/* database.h — the `database` engine's internal contract: the stored
 * connection config and role, the per-mount state, and what each file of
 * src/engines/database/ offers the others. See docs/database.md. */
#ifndef TROVE_DB_DATABASE_H
#define TROVE_DB_DATABASE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "core/engine.h"
#include "plugin.h"

struct mount;
struct storage;

extern const struct engine database_engine;

/* Every database call gets this long unless said otherwise. */
#define DB_CALL_TIMEOUT_MS 10000
#define DB_MAX_OPEN_DEFAULT 4

/* The unix time in milliseconds (deadlines are absolute). */
int64_t db_now_ms(void);

/* ---- config.c: the stored connection `config/<name>` ---- */

/* One connection as stored (JSON in the barrier at "config/<name>"). The
 * password and tls_certificate_key are secrets: never answered, wiped on
 * free. */
struct db_config {
	char *name;
	const struct db_plugin *plugin; /* NULL when plugin_name is unknown */
	char *plugin_name;
	char *connection_url; /* as given, with {{username}}/{{password}} */
	char *username, *password;
	struct strlist allowed_roles;
	bool verify_connection;
	char *password_policy, *username_template;
	struct strlist root_rotation_statements;
	int64_t max_open, max_idle, max_lifetime_s;
	char *tls_ca, *tls_certificate_key, *tls_server_name;
	bool tls_skip_verify;
};

/* Reads connection `name` from s: 0, TROVE_ERR_NOT_FOUND, or
 * TROVE_ERR_INTEGRITY. *out is the caller's (db_config_free). */
int db_config_load(struct storage *s, const char *name, struct db_config **out);
/* Stores cfg at config/<cfg->name>. */
int db_config_store(struct storage *s, const struct db_config *cfg);
void db_config_free(struct db_config *cfg);
/* The parameters a plugin connects with: the URL rendered with the root
 * user and password (statements.c's db_render_url). Owned by p; release
 * with db_connect_params_release (wipes the secrets). */
int db_connect_params_make(const struct db_config *cfg, struct db_connect_params *p);
void db_connect_params_release(struct db_connect_params *p);
/* Whether role may use connection cfg: allowed_roles holds "*" or a glob
 * matching it ('*' any run of characters); empty allows none. */
bool db_config_allows(const struct db_config *cfg, const char *role);
/* Simple glob: '*' matches any run of characters, all else literally. */
bool db_glob_match(const char *pattern, const char *s);

/* ---- pool.c: open connections per connection name ---- */

struct db_pool;
struct db_pool_limits {
	int64_t max_open;        /* > 0 */
	int64_t max_idle;        /* 0: max_open; < 0: keep none */
	int64_t max_lifetime_ms; /* 0: unlimited */
	int64_t ping_idle_ms;    /* an idle connection older than this is pinged before reuse */
};

/* A pool connecting with params (taken: the pool releases them with
 * db_connect_params_release; *params is zeroed). Returns NULL on NOMEM.
 * The caller holds one reference. */
struct db_pool *db_pool_new(const struct db_plugin *plugin, struct db_connect_params *params,
                            const struct db_pool_limits *limits);
void db_pool_ref(struct db_pool *p);
/* Drops a reference; the last frees the pool and disconnects its idle
 * connections. */
void db_pool_unref(struct db_pool *p);
/* Closes the pool: idle connections are disconnected now, busy ones when
 * they are put back; later db_pool_get fail with TROVE_ERR_UNAVAILABLE. */
void db_pool_close(struct db_pool *p);
/* A connection for one thread's use until db_pool_put: an idle one (pinged
 * first when idle longer than ping_idle_ms; one that fails is discarded)
 * or a new one when fewer than max_open are out; else waits for one put
 * back, until deadline_ms (TROVE_ERR_TIMEOUT). *why as plugin.h. */
int db_pool_get(struct db_pool *p, int64_t deadline_ms, struct db_conn **out, char **why);
/* Like db_pool_get, but the connection is the only one of the pool in use
 * until it is put back: waits for the others to be put back, and holds
 * later db_pool_get callers back meanwhile (all until deadline_ms). For
 * running again a transaction that lost a race with another (plugin.h,
 * lost_race). */
int db_pool_get_alone(struct db_pool *p, int64_t deadline_ms, struct db_conn **out, char **why);
/* Gives c back. rc is the result of the last call made on it: after
 * TROVE_ERR_TIMEOUT or TROVE_ERR_UPSTREAM it is disconnected, never reused. */
void db_pool_put(struct db_pool *p, struct db_conn *c, int rc);
/* The plugin the pool connects with. */
const struct db_plugin *db_pool_plugin(const struct db_pool *p);
/* Connections open now (busy + idle) and idle, for tests and metrics. */
void db_pool_counts(struct db_pool *p, int64_t *open, int64_t *idle);

/* ---- database.c: per-mount state ---- */

/* Overwrites every occurrence of secret in why with '*' (a database's
 * message must never carry a password back). NULLs are fine. */
void db_why_scrub(char *why, const char *secret);

struct db_state; /* m->engine_state */

/* The pool of connection name (a new reference; db_pool_unref it): the
 * existing one, or one made from the stored config. TROVE_ERR_NOT_FOUND
 * when there is no such connection; *why set for the others. */
int db_state_pool(struct mount *m, const char *name, struct db_pool **out, char **why);
/* Held around every read-change-store of a stored connection (config
 * write and delete, rotate-root, later static rotation), including the
 * database calls in between: two of them interleaved could store a
 * password the database no longer has. */
void db_config_lock(struct mount *m);
void db_config_unlock(struct mount *m);
/* Closes and forgets the pool of name (reset, config change, delete). */
void db_state_drop(struct mount *m, const char *name);

/* Runs stmts (already rendered) in one transaction on a connection of
 * `name`'s pool, within DB_CALL_TIMEOUT_MS. *why as plugin.h. */
int db_exec(struct mount *m, const char *name, const char *const *stmts, size_t n, char **why);

/* ---- statements.c: templating ---- */

struct db_stmt_vars {
	const char *name;       /* {{name}} and {{username}} */
	const char *password;   /* {{password}} or NULL */
	const char *expiration; /* {{expiration}} or NULL */
};

/* Whether v may be put into a statement: no quote, backslash, backtick,
 * semicolon or control byte. */
bool db_value_safe(const char *v);
/* Renders each of the n templates with v, replacing `{{name}}`,
 * `{{username}}`, `{{password}}` and `{{expiration}}` in one pass (a value
 * is never itself scanned for placeholders). Refuses (TROVE_ERR_INVALID,
 * *why malloc'd naming the variable) a value that is not db_value_safe.
 * *out: n malloc'd strings, freed with db_stmts_free (wiped). */
int db_render_stmts(const char *const *tmpl, size_t n, const struct db_stmt_vars *v, char ***out, char **why);
void db_stmts_free(char **s, size_t n);
/* The connection URL with {{username}} and {{password}} replaced:
 * percent-encoded when url is a URI or a MySQL DSN (user:pass@tcp(...)),
 * single-quoted with \\ and \' escapes in a libpq key=value string.
 * *out malloc'd (secure_free_str). */
int db_render_url(const char *url, const char *username, const char *password, char **out);
/* url for an answer: a password written into it literally (not the
 * {{password}} placeholder) replaced by "*****", in a URI, a MySQL DSN or
 * a key=value string. Malloc'd. */
char *db_url_redact(const char *url);
/* Vault's PostgreSQL time format, UTC: "2006-01-02 15:04:05+0000". */
void db_format_expiration(int64_t unix_s, char out[32]);

/* ---- username.c: new credentials ---- */

/* A new user name (malloc'd) from tmpl (NULL or empty: the plugin's
 * default template) over the display and role names, cut to the
 * plugin's username_max. TROVE_ERR_INVALID with *why (malloc'd) for a
 * template that fails or makes an empty or unsafe name. */
int db_username_make(const struct db_plugin *plugin, const char *tmpl, const char *display_name,
                     const char *role_name, char **out, char **why);
/* A new password for connection cfg (secure_free_str it). One that could
 * not be put in a statement (db_value_safe: a password policy's charset
 * may allow it), or a password_policy that does not exist, is
 * TROVE_ERR_INVALID with *why (malloc'd) naming the policy. */
struct core;
int db_password_make(struct core *core, const struct db_config *cfg, char **out, char **why);

/* ---- roles.c ---- */

struct db_role {
	char *db_name;
	json_t *creation, *revocation, *rollback, *renew; /* arrays of strings */
	int64_t default_ttl, max_ttl;
	char *credential_type;
	json_t *credential_config; /* object */
};

int db_role_load(struct storage *s, const char *name, struct db_role **out);
void db_role_free(struct db_role *r);
/* A JSON array of strings as a NULL-terminated vector of borrowed
 * pointers (free the vector only); *n its length. */
const char **db_str_vec(const json_t *a, size_t *n);
/* The field `name` of req as a list of statements: a string is one
 * element, an array of strings each. NULL (a new empty array) when
 * absent. A member that is not a string: NULL and TROVE_ERR_INVALID. */
int db_field_stmts(const struct request *req, const char *name, json_t **out);

/* ---- rotate.c ---- */

/* Sets user's password to new_password on connection cfg by running
 * stmts (or the plugin's default_rotation when n is 0) with {{name}} and
 * {{username}} = user, {{password}} = new_password, in one transaction.
 * Stores nothing. *why as plugin.h. */
int db_rotate_password(struct mount *m, const struct db_config *cfg, const char *user,
                       const char *new_password, const char *const *stmts, size_t n, char **why);

/* ---- creds.c ---- */

struct lease;
int db_lease_revoke(struct mount *m, const struct lease *l, struct buf *err);
int db_lease_renew(struct mount *m, const struct lease *l, int64_t *ttl, struct buf *err);

/* Route tables. */
extern const struct route db_config_routes[];
extern const struct route db_role_routes[];
extern const struct route db_creds_routes[];
extern const struct route db_rotate_routes[];

#endif
