/* postgresql.c — the `postgresql-database-plugin`: PostgreSQL over libpq.
 *
 * libpq is loaded on first use (pq_lazy.h). Every call is non-blocking
 * on the socket and waits with poll() until the deadline it is given, so
 * a hung database costs a caller its deadline and no more; a statement
 * still running at the deadline is cancelled on the server (PQcancel, given
 * CANCEL_GRACE_MS to be delivered) and the call fails TROVE_ERR_TIMEOUT.
 * The user name lookup and DNS resolution in PQconnectStartParams are the
 * one blocking step: give a host address or a name in /etc/hosts to bound
 * them. See docs/database-postgresql.md. */
#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "pq_lazy.h"

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "secure.h"
#include "timed_call.h"

#include "banned.h"

/* How long past its deadline a timed-out call waits for the server to take
 * the cancel request, so that the statement does not run on. */
#define CANCEL_GRACE_MS 200
/* Longest message handed back in *why. */
#define WHY_CAP ((size_t)16 << 10)
#define SCRUBBED "*****"

struct db_conn {
	PGconn *pg;
	/* The password the connection logged in with (the URL's, else the
	 * root password given): scrubbed from every message. Wiped on free. */
	char *password;
	/* Whether the last exec_tx failed on a race lost to another
	 * transaction (lost_race). */
	bool lost_race;
};

/* ---- messages ---------------------------------------------------------- */

/* secrets: NULL-free list of values to hide; sorted longest first so that a
 * secret containing another is replaced whole. */
static int by_length_desc(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
	return la < lb ? 1 : la > lb ? -1 : 0;
}

/* A malloc'd copy of msg with every occurrence of each non-empty secret
 * replaced by SCRUBBED, line breaks turned into "; " and trailing space
 * dropped (libpq's messages end in a newline and may hold several lines).
 * NULL on allocation failure. */
static char *scrub(const char *msg, struct strlist *secrets)
{
	struct buf b;
	const char *p = msg;
	char *out;

	if (secrets != NULL && secrets->len > 1)
		qsort(secrets->items, secrets->len, sizeof(secrets->items[0]), by_length_desc);
	buf_init(&b, WHY_CAP);
	while (*p != '\0') {
		size_t i, hit = 0;
		for (i = 0; secrets != NULL && i < secrets->len && hit == 0; i++) {
			size_t n = strlen(secrets->items[i]);
			if (n > 0 && strncmp(p, secrets->items[i], n) == 0)
				hit = n;
		}
		if (hit > 0) {
			if (buf_append_str(&b, SCRUBBED) != 0)
				break;
			p += hit;
		} else if (*p == '\n' || *p == '\r') {
			while (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ')
				p++;
			if (*p != '\0' && buf_append_str(&b, "; ") != 0)
				break;
		} else if (buf_append_byte(&b, *p++) != 0) {
			break;
		}
	}
	while (b.len > 0 && isspace((unsigned char)b.data[b.len - 1]))
		b.data[--b.len] = '\0';
	out = buf_take(&b);
	buf_release(&b);
	return out;
}

/* Sets *why (when why is not NULL) to "prefix: msg", scrubbed. */
static void set_why(char **why, const char *prefix, const char *msg, struct strlist *secrets)
{
	struct buf b;
	char *clean;

	if (why == NULL)
		return;
	free(*why);
	*why = NULL;
	clean = scrub(msg != NULL && msg[0] != '\0' ? msg : "(no message)", secrets);
	if (clean == NULL)
		return;
	buf_init(&b, WHY_CAP);
	if (prefix != NULL && prefix[0] != '\0')
		buf_printf(&b, "%s: %s", prefix, clean);
	else
		buf_append_str(&b, clean);
	free(clean);
	*why = buf_take(&b);
	buf_release(&b);
}

static void secrets_release(struct strlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		secure_wipe(l->items[i], strlen(l->items[i]));
	strlist_release(l);
}

static int secrets_add(struct strlist *l, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return 0;
	return strlist_push(l, s);
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$';
}

/* Adds the value of each `PASSWORD '...'` (or E'...') literal in sql to
 * out, unescaped as the server reads it: the values a failing statement's
 * message must not show. */
static int add_statement_passwords(const char *sql, struct strlist *out)
{
	const char *s = sql;
	int r = 0;

	while (r == 0 && (s = strcasestr(s, "password")) != NULL) {
		const char *q = s + strlen("password");
		bool word = (s == sql || !ident_char(s[-1])) && !ident_char(*q);
		bool esc = false;
		struct buf v;

		s = q;
		if (!word)
			continue;
		while (isspace((unsigned char)*q))
			q++;
		if ((*q == 'E' || *q == 'e') && q[1] == '\'') {
			esc = true;
			q++;
		}
		if (*q != '\'')
			continue;
		buf_init_secret(&v, WHY_CAP);
		for (q++; *q != '\0' && r == 0; q++) {
			if (*q == '\'') {
				if (q[1] != '\'')
					break;
				q++;
			} else if (esc && *q == '\\' && q[1] != '\0') {
				q++;
			}
			r = buf_append_byte(&v, *q);
		}
		if (r == 0)
			r = secrets_add(out, v.data);
		buf_release_secret(&v);
		s = q;
	}
	return r;
}

/* The password written in a connection string libpq cannot parse, found
 * by hand (best effort) so that its error message can be scrubbed:
 * `scheme://user:PASSWORD@...` or `password=VALUE`. */
static char *raw_url_password(const char *url)
{
	const char *p = strstr(url, "://"), *at, *colon, *end;

	if (p != NULL) {
		p += 3;
		at = strrchr(p, '@');
		colon = at != NULL ? memchr(p, ':', (size_t)(at - p)) : NULL;
		return colon != NULL ? xstrndup(colon + 1, (size_t)(at - colon - 1)) : NULL;
	}
	p = strstr(url, "password");
	if (p == NULL)
		return NULL;
	p += strlen("password");
	while (*p == ' ')
		p++;
	if (*p++ != '=')
		return NULL;
	while (*p == ' ')
		p++;
	if (*p == '\'') {
		p++;
		end = strchr(p, '\'');
	} else {
		for (end = p; *end != '\0' && !isspace((unsigned char)*end); end++)
			;
	}
	return end != NULL && end > p ? xstrndup(p, (size_t)(end - p)) : NULL;
}

/* ---- waiting ----------------------------------------------------------- */

static int64_t now_ms(void)
{
	return clock_realtime_ns() / 1000000;
}

/* Waits until fd is ready for events or the deadline passes. Returns 1
 * when ready, 0 at the deadline, -1 on a poll error. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int64_t left = deadline_ms - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int cancel_run(void *arg)
{
	char errbuf[256];

	return PQcancel(arg, errbuf, (int)sizeof(errbuf)) ? 0 : TROVE_ERR_UPSTREAM;
}

static void cancel_done(void *arg, int rc)
{
	(void)rc;
	PQfreeCancel(arg);
}

/* Asks the server to cancel what the connection is running. PQcancel
 * blocks with no timeout of its own, so it runs on a thread of its own and
 * is waited for CANCEL_GRACE_MS at most. */
static void cancel_statement(PGconn *pg)
{
	PGcancel *cn = PQgetCancel(pg);
	int rc;

	if (cn == NULL)
		return;
	if (timed_call(cancel_run, cn, cancel_done, CANCEL_GRACE_MS, &rc) != TROVE_ERR_TIMEOUT)
		PQfreeCancel(cn);
}

static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* ---- connect ----------------------------------------------------------- */

static bool is_conninfo_string(const char *url)
{
	return strchr(url, '=') != NULL || strncmp(url, "postgres://", 11) == 0 ||
	       strncmp(url, "postgresql://", 13) == 0;
}

/* Checks that url parses and finds the password it carries (a malloc'd
 * copy in *password, or NULL). */
static int parse_url(const char *url, const struct db_connect_params *p, char **password, char **why)
{
	PQconninfoOption *opts, *o;
	struct strlist secrets;
	char *perr = NULL, *raw;

	*password = NULL;
	if (!is_conninfo_string(url))
		return 0; /* a bare database name */
	opts = PQconninfoParse(url, &perr);
	if (opts == NULL) {
		if (perr == NULL) {
			set_why(why, "connection_url", pq_lazy_load() ? "out of memory" : PQ_LAZY_UNLOADED, NULL);
			return pq_lazy_load() ? TROVE_ERR_NOMEM : TROVE_ERR_INTERNAL;
		}
		strlist_init(&secrets);
		raw = raw_url_password(url);
		secrets_add(&secrets, raw);
		secrets_add(&secrets, p->password);
		set_why(why, "connection_url", perr, &secrets);
		secrets_release(&secrets);
		secure_free_str(raw);
		PQfreemem(perr);
		return TROVE_ERR_INVALID;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
			*password = xstrdup(o->val);
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL)
			secure_wipe(o->val, strlen(o->val));
	PQconninfoFree(opts);
	return 0;
}

static void pg_disconnect(struct db_conn *c)
{
	if (c == NULL)
		return;
	if (c->pg != NULL)
		PQfinish(c->pg);
	secure_free_str(c->password);
	free(c);
}

static int pg_connect(const struct db_connect_params *p, struct db_conn **out, char **why)
{
	/* Keywords before dbname are defaults the URL may override. */
	const char *keywords[] = {"application_name", "user", "password", "dbname", NULL};
	const char *values[5];
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	struct strlist secrets;
	struct db_conn *c;
	int r = TROVE_ERR_INVALID;

	*out = NULL;
	strlist_init(&secrets);
	if (p == NULL || p->connection_url == NULL || p->connection_url[0] == '\0') {
		set_why(why, "connection_url", "missing", NULL);
		return TROVE_ERR_INVALID;
	}
	if (!pq_lazy_load()) {
		set_why(why, NULL, PQ_LAZY_UNLOADED, NULL);
		return TROVE_ERR_INTERNAL;
	}
	c = xcalloc(1, sizeof(*c));
	r = parse_url(p->connection_url, p, &c->password, why);
	if (r != 0)
		goto out;
	if (c->password == NULL && p->password != NULL)
		c->password = xstrdup(p->password);
	r = secrets_add(&secrets, c->password);
	if (r == 0)
		r = secrets_add(&secrets, p->password);
	if (r != 0)
		goto out;
	values[0] = "trove";
	values[1] = p->username;
	values[2] = p->password;
	values[3] = p->connection_url;
	values[4] = NULL;
	c->pg = PQconnectStartParams(keywords, values, 1);
	if (c->pg == NULL) {
		r = TROVE_ERR_NOMEM;
		set_why(why, "connect", "out of memory", NULL);
		goto out;
	}
	PQsetNoticeProcessor(c->pg, quiet_notices, NULL);
	r = TROVE_ERR_UPSTREAM;
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		set_why(why, "connect", PQerrorMessage(c->pg), &secrets);
		goto out;
	}
	while (st != PGRES_POLLING_OK) {
		int w;

		if (st == PGRES_POLLING_FAILED) {
			set_why(why, "connect", PQerrorMessage(c->pg), &secrets);
			goto out;
		}
		w = wait_fd(PQsocket(c->pg), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, p->deadline_ms);
		if (w == 0) {
			r = TROVE_ERR_TIMEOUT;
			set_why(why, "connect", "the database did not answer before the deadline", NULL);
			goto out;
		}
		if (w < 0) {
			set_why(why, "connect", strerror(errno), NULL);
			goto out;
		}
		st = PQconnectPoll(c->pg);
	}
	if (PQsetnonblocking(c->pg, 1) != 0) {
		set_why(why, "connect", PQerrorMessage(c->pg), &secrets);
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	pg_disconnect(c);
	secrets_release(&secrets);
	return r;
}

/* ---- statements -------------------------------------------------------- */

/* The server's message of a failed result: primary text, the detail in
 * parentheses, and the SQLSTATE. */
static void result_why(char **why, const char *what, const PGresult *res, struct strlist *secrets)
{
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	struct buf b;

	buf_init(&b, WHY_CAP);
	buf_append_str(&b, primary != NULL ? primary : "statement failed");
	if (detail != NULL && detail[0] != '\0')
		buf_printf(&b, " (%s)", detail);
	if (state != NULL && state[0] != '\0')
		buf_printf(&b, " [SQLSTATE %s]", state);
	set_why(why, what, b.data, secrets);
	buf_release(&b);
}

/* Whether a failed result is a race lost to a concurrent transaction:
 * PostgreSQL fails a GRANT (or REVOKE, ALTER ROLE) on an object whose
 * catalog row another open transaction has just changed with "tuple
 * concurrently updated" (SQLSTATE XX000, so the message is checked too);
 * serialization failures and deadlocks are the same kind of loss. Several
 * creations at once granting on the same tables meet this all the time. */
static bool lost_race(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (state == NULL)
		return false;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return true;
	return strcmp(state, "XX000") == 0 && primary != NULL && strcmp(primary, "tuple concurrently updated") == 0;
}

/* Sends sql and reads every result it produces until the deadline. The
 * first failing result sets *why (prefixed by what) and makes the return
 * TROVE_ERR_UPSTREAM (and sets c->lost_race when it is a lost race); at
 * the deadline the statement is cancelled and the return is
 * TROVE_ERR_TIMEOUT. */
static int run(struct db_conn *c, const char *sql, const char *what, int64_t deadline_ms, struct strlist *secrets,
               char **why)
{
	PGresult *res;
	int r = 0, f, w;

	if (PQstatus(c->pg) != CONNECTION_OK) {
		set_why(why, what, "the connection to the database is closed", NULL);
		return TROVE_ERR_UPSTREAM;
	}
	if (!PQsendQuery(c->pg, sql)) {
		set_why(why, what, PQerrorMessage(c->pg), secrets);
		return TROVE_ERR_UPSTREAM;
	}
	while ((f = PQflush(c->pg)) == 1) {
		w = wait_fd(PQsocket(c->pg), POLLIN | POLLOUT, deadline_ms);
		if (w == 0)
			goto timeout;
		if (w < 0 || !PQconsumeInput(c->pg))
			break;
	}
	if (f != 0) {
		set_why(why, what, PQerrorMessage(c->pg), secrets);
		return TROVE_ERR_UPSTREAM;
	}
	for (;;) {
		while (PQisBusy(c->pg)) {
			w = wait_fd(PQsocket(c->pg), POLLIN, deadline_ms);
			if (w == 0)
				goto timeout;
			if (w < 0 || !PQconsumeInput(c->pg)) {
				set_why(why, what, PQerrorMessage(c->pg), secrets);
				return TROVE_ERR_UPSTREAM;
			}
		}
		res = PQgetResult(c->pg);
		if (res == NULL)
			return r;
		switch (PQresultStatus(res)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_EMPTY_QUERY:
		case PGRES_SINGLE_TUPLE:
			break;
		case PGRES_COPY_IN:
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			PQclear(res);
			set_why(why, what, "COPY is not supported in statements", NULL);
			return TROVE_ERR_UPSTREAM;
		default:
			if (r == 0) {
				r = TROVE_ERR_UPSTREAM;
				result_why(why, what, res, secrets);
				c->lost_race = c->lost_race || lost_race(res);
			}
			break;
		}
		PQclear(res);
	}
timeout:
	cancel_statement(c->pg);
	set_why(why, what, "the database did not answer before the deadline; the statement was cancelled", NULL);
	return TROVE_ERR_TIMEOUT;
}

static int pg_exec_tx(struct db_conn *c, const char *const *stmts, size_t n, int64_t deadline_ms, char **why)
{
	struct strlist secrets;
	char what[48];
	size_t i;
	int r;

	if (c == NULL || (n > 0 && stmts == NULL)) {
		set_why(why, NULL, "no connection or no statements", NULL);
		return TROVE_ERR_INVALID;
	}
	c->lost_race = false;
	strlist_init(&secrets);
	r = secrets_add(&secrets, c->password);
	for (i = 0; i < n && r == 0; i++) {
		if (stmts[i] == NULL) {
			set_why(why, NULL, "a statement is missing", NULL);
			r = TROVE_ERR_INVALID;
		} else {
			r = add_statement_passwords(stmts[i], &secrets);
		}
	}
	if (r != 0)
		goto out;
	r = run(c, "BEGIN", "BEGIN", deadline_ms, &secrets, why);
	for (i = 0; i < n && r == 0; i++) {
		snprintf(what, sizeof(what), "statement %zu", i + 1);
		r = run(c, stmts[i], what, deadline_ms, &secrets, why);
	}
	if (r == 0)
		r = run(c, "COMMIT", "COMMIT", deadline_ms, &secrets, why);
	else if (r == TROVE_ERR_UPSTREAM && PQstatus(c->pg) == CONNECTION_OK)
		(void)run(c, "ROLLBACK", "ROLLBACK", deadline_ms, &secrets, NULL);
out:
	secrets_release(&secrets);
	return r;
}

static int pg_ping(struct db_conn *c, int64_t deadline_ms, char **why)
{
	struct strlist secrets;
	int r;

	if (c == NULL) {
		set_why(why, NULL, "no connection", NULL);
		return TROVE_ERR_INVALID;
	}
	strlist_init(&secrets);
	r = secrets_add(&secrets, c->password);
	if (r == 0)
		r = run(c, "SELECT 1", "ping", deadline_ms, &secrets, why);
	secrets_release(&secrets);
	return r;
}

static bool pg_lost_race(const struct db_conn *c)
{
	return c != NULL && c->lost_race;
}

/* ---- the plugin -------------------------------------------------------- */

/* Revocation: one DO block, so that it is one statement whatever the
 * database holds, and a no-op for a role already gone (a retried
 * revocation succeeds). When the root user has the role's privileges
 * (a superuser, or a member) what the role owns is given to the root user
 * and DROP OWNED removes every privilege granted to it in this database;
 * otherwise each table, view and sequence privilege it holds, then each
 * schema privilege, is revoked object by object (Vault's default revokes
 * schema-wide, which fails for a root user that is not a superuser and
 * lacks rights on some table of the schema). The role is dropped, then its open
 * sessions are ended (found by the role's oid, where the root user may
 * signal them). */
static const char *const default_revocation[] = {
	"DO $trove$\n"
	"DECLARE\n"
	"  r oid;\n"
	"  s name;\n"
	"  t text;\n"
	"  owner_rights boolean;\n"
	"  may_signal boolean;\n"
	"BEGIN\n"
	"  SELECT oid INTO r FROM pg_catalog.pg_roles WHERE rolname = '{{name}}';\n"
	"  IF r IS NULL THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  owner_rights := pg_catalog.pg_has_role(r, 'USAGE');\n"
	"  may_signal := owner_rights OR pg_catalog.pg_has_role('pg_signal_backend', 'USAGE');\n"
	"  IF owner_rights THEN\n"
	"    EXECUTE format('REASSIGN OWNED BY %I TO CURRENT_USER', '{{name}}');\n"
	"    EXECUTE format('DROP OWNED BY %I', '{{name}}');\n"
	"  ELSE\n"
	"    FOR t IN SELECT DISTINCT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c,\n"
	"        LATERAL pg_catalog.aclexplode(c.relacl) a WHERE a.grantee = r LOOP\n"
	"      EXECUTE format('REVOKE ALL PRIVILEGES ON TABLE %s FROM %I', t, '{{name}}');\n"
	"    END LOOP;\n"
	"    FOR s IN SELECT n.nspname FROM pg_catalog.pg_namespace n,\n"
	"        LATERAL pg_catalog.aclexplode(n.nspacl) a WHERE a.grantee = r LOOP\n"
	"      EXECUTE format('REVOKE ALL PRIVILEGES ON SCHEMA %I FROM %I', s, '{{name}}');\n"
	"    END LOOP;\n"
	"    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM %I', current_database(), '{{name}}');\n"
	"  END IF;\n"
	"  EXECUTE format('DROP ROLE %I', '{{name}}');\n"
	"  IF may_signal THEN\n"
	"    PERFORM pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity\n"
	"      WHERE usesysid = r AND pid <> pg_catalog.pg_backend_pid();\n"
	"  END IF;\n"
	"END\n"
	"$trove$;",
	NULL,
};

static const char *const default_renew[] = {
	"ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}';",
	NULL,
};

static const char *const default_rotation[] = {
	"ALTER ROLE \"{{name}}\" WITH PASSWORD '{{password}}';",
	NULL,
};

const struct db_plugin db_plugin_postgresql = {
	.name = "postgresql-database-plugin",
	.username_max = 63,
	.default_username_template = "{{ printf \"v-%s-%s-%s-%s\" (.DisplayName | truncate 8) "
	                             "(.RoleName | truncate 8) (random 20) (unix_time) | truncate 63 }}",
	.default_revocation = default_revocation,
	.default_renew = default_renew,
	.default_rotation = default_rotation,
	.rsa_private_key = false,
	.ddl_transactional = true,
	.connect = pg_connect,
	.disconnect = pg_disconnect,
	.exec_tx = pg_exec_tx,
	.ping = pg_ping,
	.lost_race = pg_lost_race,
};
