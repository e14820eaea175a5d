/* mysql.c — the MySQL/MariaDB plugins of the database engine
 * (docs/database-mysql.md): four plugin names of Vault's over one
 * implementation on libmariadb, which mysql_lazy.c loads on first use.
 *
 * Every call honours its deadline with libmariadb's non-blocking API: the
 * plugin starts an operation, waits on the socket with poll() until the
 * deadline, and continues it; a call whose deadline passes leaves the
 * connection marked dead (the pool then closes it). */
#include <errno.h>
#include <mysql.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "mysql_lazy.h"
#include "mysql_parse.h"
#include "mysql_plugins.h"
#include "plugin.h"
#include "secure.h"

#include "banned.h"

struct db_conn {
	MYSQL *m;
	char *password; /* the root password, for scrubbing messages; secret */
	bool dead;      /* a call failed or timed out: never used again */
};

/* The secrets a message must not carry: the connection's password and the
 * password literals of the statements being run. */
struct secrets {
	const char *p[64];
	size_t len[64];
	size_t n;
};

static void secrets_add(void *arg, const char *p, size_t len)
{
	struct secrets *s = arg;

	if (len > 0 && s->n < sizeof(s->p) / sizeof(s->p[0])) {
		s->p[s->n] = p;
		s->len[s->n++] = len;
	}
}

/* Sets *why (when why is not NULL) to the formatted message with every
 * secret replaced by "*****". */
static void set_why(char **why, const struct secrets *sec, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_why(char **why, const struct secrets *sec, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (why == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(*why);
	*why = sec ? mysql_scrub(msg, sec->p, sec->len, sec->n) : strdup(msg);
	secure_wipe(msg, sizeof(msg));
}

static int64_t now_ms(void)
{
	return clock_realtime_ns() / 1000000;
}

/* Waits for what a non-blocking call asked for (status: MYSQL_WAIT_*),
 * until the deadline. Returns the status to continue the call with, or
 * -1 when the deadline passed. */
static int wait_for(MYSQL *m, int status, int64_t deadline_ms)
{
	struct pollfd pfd = {.fd = (int)mysql_get_socket(m), .events = 0};
	int64_t left;
	int n;

	for (;;) {
		left = deadline_ms - now_ms();
		if (left <= 0)
			return -1;
		bool lib_timeout = (status & MYSQL_WAIT_TIMEOUT) && mysql_get_timeout_value_ms(m) < left;
		if (lib_timeout)
			left = mysql_get_timeout_value_ms(m);
		pfd.events = (short)(((status & MYSQL_WAIT_READ) ? POLLIN : 0) |
		                     ((status & MYSQL_WAIT_WRITE) ? POLLOUT : 0) |
		                     ((status & MYSQL_WAIT_EXCEPT) ? POLLPRI : 0));
		n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return status; /* let the library find the broken socket */
		if (n == 0) {
			if (lib_timeout)
				return MYSQL_WAIT_TIMEOUT;
			continue; /* re-checks the deadline */
		}
		return ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) ? MYSQL_WAIT_READ : 0) |
		       ((pfd.revents & (POLLOUT | POLLERR)) ? MYSQL_WAIT_WRITE : 0) |
		       ((pfd.revents & POLLPRI) ? MYSQL_WAIT_EXCEPT : 0);
	}
}

/* Writes pem to a new private (0600) temporary file; *path receives its
 * name (the caller unlinks it). */
static int temp_pem(const char *pem, char path[static 64])
{
	const char *dir = getenv("TMPDIR");
	size_t len = strlen(pem), off = 0;
	int fd;

	if (dir == NULL || dir[0] == '\0' || strlen(dir) > 40)
		dir = "/tmp";
	snprintf(path, 64, "%s/trove-mysql-XXXXXX", dir);
	fd = mkstemp(path); /* mode 0600 */
	if (fd < 0)
		return TROVE_ERR_IO;
	while (off < len) {
		ssize_t w = write(fd, pem + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(path);
			return TROVE_ERR_IO;
		}
		off += (size_t)w;
	}
	close(fd);
	return 0;
}

/* Overwrites and removes a temporary PEM file. */
static void drop_pem(const char *path, size_t len)
{
	FILE *f;

	if (path[0] == '\0')
		return;
	f = fopen(path, "r+b");
	if (f != NULL) {
		for (size_t i = 0; i < len; i++)
			fputc(0, f);
		fclose(f);
	}
	unlink(path);
}

/* Sets the TLS options from the config and the DSN. */
static int set_tls(MYSQL *m, const struct db_connect_params *p, const struct mysql_dsn *d,
                   char ca_path[static 64], char key_path[static 64], char **why)
{
	bool want = p->tls_ca || p->tls_certificate_key || d->tls != MYSQL_DSN_TLS_DEFAULT;
	my_bool verify = (p->tls_ca != NULL || d->tls == MYSQL_DSN_TLS_VERIFY) && !p->tls_skip_verify &&
	                 d->tls != MYSQL_DSN_TLS_SKIP_VERIFY;
	my_bool on = 1;
	int r;

	if (!want)
		return 0;
	if (p->tls_server_name != NULL && p->tls_server_name[0] != '\0' &&
	    (d->host == NULL || strcmp(p->tls_server_name, d->host) != 0)) {
		set_why(why, NULL,
		        "tls_server_name: the certificate is checked against the host of connection_url; "
		        "a different name is not supported");
		return TROVE_ERR_INVALID;
	}
	if (p->tls_ca != NULL) {
		if (strstr(p->tls_ca, "-----BEGIN CERTIFICATE-----") == NULL) {
			set_why(why, NULL, "tls_ca: no PEM certificate in it");
			return TROVE_ERR_INVALID;
		}
		/* libmariadb checks the chain whenever it has a CA: with
		 * verification off, as Vault's tls_skip_verify, it gets none. */
		if (verify) {
			if ((r = temp_pem(p->tls_ca, ca_path)) != 0)
				goto io;
			mysql_options(m, MYSQL_OPT_SSL_CA, ca_path);
		}
	}
	if (p->tls_certificate_key != NULL) {
		if (strstr(p->tls_certificate_key, "-----BEGIN CERTIFICATE-----") == NULL ||
		    strstr(p->tls_certificate_key, "PRIVATE KEY-----") == NULL) {
			set_why(why, NULL,
			        "tls_certificate_key: a PEM certificate and its private key are expected");
			return TROVE_ERR_INVALID;
		}
		if ((r = temp_pem(p->tls_certificate_key, key_path)) != 0)
			goto io;
		/* One file holds both: each reader skips the other's blocks. */
		mysql_options(m, MYSQL_OPT_SSL_CERT, key_path);
		mysql_options(m, MYSQL_OPT_SSL_KEY, key_path);
	}
	/* TLS is required, never downgraded to a plain connection. */
	mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &on);
	mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
	return 0;
io:
	set_why(why, NULL, "cannot write a temporary file for the TLS material: %s", strerror(errno));
	return r;
}

/* The common options: no LOAD DATA LOCAL (a server must not read our
 * files), the non-blocking API, the transport the DSN names. */
static void set_options(MYSQL *m, const struct mysql_dsn *d, int64_t deadline_ms)
{
	unsigned int zero = 0, proto = d->socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
	int64_t left_s = (deadline_ms - now_ms() + 999) / 1000;
	unsigned int connect_s = (unsigned int)(left_s < 1 ? 1 : left_s > 3600 ? 3600 : left_s);

	mysql_options(m, MYSQL_OPT_NONBLOCK, NULL);
	mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &zero);
	mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
}

static void conn_free(struct db_conn *c)
{
	if (c == NULL)
		return;
	if (c->m != NULL) {
		/* A connection abandoned mid-call must not block on close. */
		if (c->dead)
			shutdown((int)mysql_get_socket(c->m), SHUT_RDWR);
		mysql_close(c->m);
	}
	secure_free_str(c->password);
	free(c);
}

static int mysql_connect(const struct db_connect_params *p, struct db_conn **out, char **why)
{
	struct mysql_dsn d;
	struct db_conn *c = NULL;
	struct secrets sec = {0};
	char ca_path[64] = "", key_path[64] = "";
	const char *perr, *user, *pass;
	MYSQL *ret = NULL;
	int r, status;

	*out = NULL;
	r = mysql_dsn_parse(p->connection_url, &d, &perr);
	if (r != 0) {
		set_why(why, NULL, "%s", perr);
		return r;
	}
	user = d.user ? d.user : p->username;
	pass = d.password ? d.password : p->password;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (pass != NULL && (c->password = strdup(pass)) == NULL)) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	if (c->password != NULL)
		secrets_add(&sec, c->password, strlen(c->password));
	if (p->password != NULL)
		secrets_add(&sec, p->password, strlen(p->password));
	c->m = mysql_init(NULL);
	if (c->m == NULL) {
		r = mysql_lazy_load() ? TROVE_ERR_NOMEM : TROVE_ERR_UPSTREAM;
		set_why(why, NULL, "%s", mysql_lazy_load() ? "out of memory" : mysql_error(NULL));
		goto out;
	}
	set_options(c->m, &d, p->deadline_ms);
	if ((r = set_tls(c->m, p, &d, ca_path, key_path, why)) != 0)
		goto out;
	status = mysql_real_connect_start(&ret, c->m, d.host, user, pass, d.dbname[0] ? d.dbname : NULL,
	                                  d.port, d.socket, 0);
	while (status != 0) {
		status = wait_for(c->m, status, p->deadline_ms);
		if (status < 0) {
			c->dead = true;
			r = TROVE_ERR_TIMEOUT;
			set_why(why, NULL, "no answer from the MySQL server before the deadline (connect)");
			goto out;
		}
		status = mysql_real_connect_cont(&ret, c->m, status);
	}
	if (ret == NULL) {
		c->dead = true;
		r = TROVE_ERR_UPSTREAM;
		set_why(why, &sec, "cannot connect to MySQL: error %u: %s", mysql_errno(c->m),
		        mysql_error(c->m));
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	drop_pem(ca_path, p->tls_ca ? strlen(p->tls_ca) : 0);
	drop_pem(key_path, p->tls_certificate_key ? strlen(p->tls_certificate_key) : 0);
	if (r != 0 && why != NULL && *why == NULL)
		set_why(why, NULL, "%s", err_message(r));
	conn_free(c);
	mysql_dsn_free(&d);
	return r;
}

static void mysql_disconnect(struct db_conn *c)
{
	conn_free(c);
}

/* Runs one statement (and reads any result it returns). */
static int run(struct db_conn *c, const char *q, size_t len, int64_t deadline_ms, const struct secrets *sec,
               const char *what, char **why)
{
	MYSQL_RES *res = NULL;
	int ret = 0, status;

	status = mysql_real_query_start(&ret, c->m, q, (unsigned long)len);
	while (status != 0) {
		if ((status = wait_for(c->m, status, deadline_ms)) < 0)
			goto timeout;
		status = mysql_real_query_cont(&ret, c->m, status);
	}
	/* Read and drop every result the statement returns (a CALL returns
	 * one per SELECT in the procedure, then its status). */
	while (ret == 0) {
		status = mysql_store_result_start(&res, c->m);
		while (status != 0) {
			if ((status = wait_for(c->m, status, deadline_ms)) < 0)
				goto timeout;
			status = mysql_store_result_cont(&res, c->m, status);
		}
		if (res != NULL)
			mysql_free_result(res);
		else if (mysql_errno(c->m) != 0) {
			ret = 1;
			break;
		}
		if (!mysql_more_results(c->m))
			break;
		status = mysql_next_result_start(&ret, c->m);
		while (status != 0) {
			if ((status = wait_for(c->m, status, deadline_ms)) < 0)
				goto timeout;
			status = mysql_next_result_cont(&ret, c->m, status);
		}
		if (ret < 0) /* no more results */
			ret = 0;
		else if (ret > 0)
			break;
		else
			res = NULL;
	}
	if (ret != 0) {
		unsigned int e = mysql_errno(c->m);
		/* Client-side errors (2000-2999) mean the connection broke. */
		if (e >= 2000 && e < 3000)
			c->dead = true;
		set_why(why, sec, "%s: MySQL error %u: %s", what, e, mysql_error(c->m));
		return TROVE_ERR_UPSTREAM;
	}
	return 0;
timeout:
	c->dead = true;
	set_why(why, sec, "%s: no answer from the MySQL server before the deadline", what);
	return TROVE_ERR_TIMEOUT;
}

static int mysql_exec_tx(struct db_conn *c, const char *const *stmts, size_t n, int64_t deadline_ms,
                         char **why)
{
	struct secrets sec = {0};
	char what[48];
	size_t i, k = 0, pos, start, len;
	int r;

	if (c == NULL || c->m == NULL || c->dead) {
		set_why(why, NULL, "the MySQL connection failed earlier and is not used again");
		return TROVE_ERR_UPSTREAM;
	}
	if (c->password != NULL)
		secrets_add(&sec, c->password, strlen(c->password));
	for (i = 0; i < n; i++)
		mysql_password_literals(stmts[i], strlen(stmts[i]), secrets_add, &sec);
	r = run(c, "START TRANSACTION", 17, deadline_ms, &sec, "START TRANSACTION", why);
	for (i = 0; r == 0 && i < n; i++)
		for (pos = 0; r == 0 && mysql_split_next(stmts[i], &pos, &start, &len);) {
			snprintf(what, sizeof(what), "statement %zu", ++k);
			r = run(c, stmts[i] + start, len, deadline_ms, &sec, what, why);
		}
	if (r == 0)
		return run(c, "COMMIT", 6, deadline_ms, &sec, "COMMIT", why);
	if (!c->dead)
		(void)run(c, "ROLLBACK", 8, deadline_ms, &sec, "ROLLBACK", NULL);
	return r;
}

static int mysql_ping_conn(struct db_conn *c, int64_t deadline_ms, char **why)
{
	int ret = 0, status;

	if (c == NULL || c->m == NULL || c->dead) {
		set_why(why, NULL, "the MySQL connection failed earlier and is not used again");
		return TROVE_ERR_UPSTREAM;
	}
	status = mysql_ping_start(&ret, c->m);
	while (status != 0) {
		if ((status = wait_for(c->m, status, deadline_ms)) < 0) {
			c->dead = true;
			set_why(why, NULL, "no answer from the MySQL server before the deadline (ping)");
			return TROVE_ERR_TIMEOUT;
		}
		status = mysql_ping_cont(&ret, c->m, status);
	}
	if (ret != 0) {
		struct secrets sec = {0};
		if (c->password != NULL)
			secrets_add(&sec, c->password, strlen(c->password));
		c->dead = true;
		set_why(why, &sec, "ping: MySQL error %u: %s", mysql_errno(c->m), mysql_error(c->m));
		return TROVE_ERR_UPSTREAM;
	}
	return 0;
}

/* Vault's defaults (plugins/database/mysql): user names of at most 32
 * characters, or 16 for the legacy template; revocation drops the user
 * from any host pattern '%'; rotation sets the password with ALTER USER.
 * MySQL has no expiry to renew. */
static const char *const default_revocation[] = {
    "REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{{name}}'@'%'; DROP USER '{{name}}'@'%'",
    NULL,
};
static const char *const default_rotation[] = {
    "ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}';",
    NULL,
};
#define MYSQL_TEMPLATE                                                                                       \
	"{{ printf \"v-%s-%s-%s-%s\" (.DisplayName | truncate 10) (.RoleName | truncate 10) "                \
	"(random 20) (unix_time) | truncate 32 }}"
/* Vault's legacy template has a third %s with no argument, which Go's
 * printf renders as "%!s(MISSING)" and the truncation always cuts off;
 * Trove's printf refuses a missing argument, so the template has the two
 * it uses: the names are the same. */
#define MYSQL_LEGACY_TEMPLATE "{{ printf \"v-%s-%s\" (.RoleName | truncate 4) (random 20) | truncate 16 }}"

#define MYSQL_PLUGIN(plugin_name, max, tmpl)                                                                 \
	{                                                                                                    \
		.name = plugin_name, .username_max = max, .default_username_template = tmpl,                 \
		.default_revocation = default_revocation, .default_renew = NULL,                             \
		.default_rotation = default_rotation, .rsa_private_key = false, .ddl_transactional = false,  \
		.connect = mysql_connect, .disconnect = mysql_disconnect, .exec_tx = mysql_exec_tx,          \
		.ping = mysql_ping_conn,                                                                     \
	}

/* Vault gives Aurora and RDS the legacy template too. */
const struct db_plugin db_plugin_mysql = MYSQL_PLUGIN("mysql-database-plugin", 32, MYSQL_TEMPLATE);
const struct db_plugin db_plugin_mysql_aurora =
    MYSQL_PLUGIN("mysql-aurora-database-plugin", 32, MYSQL_LEGACY_TEMPLATE);
const struct db_plugin db_plugin_mysql_rds =
    MYSQL_PLUGIN("mysql-rds-database-plugin", 32, MYSQL_LEGACY_TEMPLATE);
const struct db_plugin db_plugin_mysql_legacy =
    MYSQL_PLUGIN("mysql-legacy-database-plugin", 16, MYSQL_LEGACY_TEMPLATE);
