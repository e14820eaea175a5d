/* test_db_postgresql.c — the PostgreSQL plugin without a database: its
 * table entry and defaults, connection strings refused with a reason,
 * no server, a server that never answers (the deadline), and a server's
 * error message that echoes the password (scrubbed). The plugin against a
 * real PostgreSQL is tests/integration/test_db_plugin_postgres.py. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "engines/database/plugins.h"
#include "err.h"

#define SECRET "S3cr3t-pw-7f1c"

static const struct db_plugin *pg(void)
{
	const struct db_plugin *p = db_plugin_find("postgresql-database-plugin");

	assert_non_null(p);
	return p;
}

static int64_t now_ms(void)
{
	return clock_realtime_ns() / 1000000;
}

/* A loopback listener; its port in *port. */
static int listener(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Connects to url with the root password given apart; returns the code
 * and checks that a failure has a reason without SECRET in it. */
static int try_connect(const char *url, int64_t timeout_ms, char **why_out)
{
	struct db_connect_params p = {.connection_url = url, .username = "root", .password = SECRET};
	struct db_conn *c = NULL;
	char *why = NULL;
	int r;

	p.deadline_ms = now_ms() + timeout_ms;
	r = pg()->connect(&p, &c, &why);
	if (r == 0) {
		assert_non_null(c);
		pg()->disconnect(c);
	} else {
		assert_null(c);
		assert_non_null(why);
		assert_null(strstr(why, SECRET));
	}
	if (why_out != NULL)
		*why_out = why;
	else
		free(why);
	return r;
}

static void test_table_entry_and_defaults(void **state)
{
	const struct db_plugin *p = pg();

	(void)state;
	assert_string_equal(p->name, "postgresql-database-plugin");
	assert_int_equal(p->username_max, 63);
	assert_true(p->ddl_transactional);
	assert_false(p->rsa_private_key);
	assert_non_null(strstr(p->default_username_template, "(.RoleName | truncate 8) (random 20) (unix_time) | truncate 63"));
	assert_non_null(p->default_revocation[0]);
	assert_null(p->default_revocation[1]);
	assert_non_null(strstr(p->default_revocation[0], "'{{name}}'"));
	assert_non_null(strstr(p->default_revocation[0], "REASSIGN OWNED BY"));
	assert_non_null(strstr(p->default_revocation[0], "DROP OWNED BY"));
	assert_non_null(strstr(p->default_revocation[0], "pg_terminate_backend"));
	assert_non_null(strstr(p->default_revocation[0], "DROP ROLE"));
	assert_string_equal(p->default_renew[0], "ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}';");
	assert_null(p->default_renew[1]);
	assert_string_equal(p->default_rotation[0], "ALTER ROLE \"{{name}}\" WITH PASSWORD '{{password}}';");
	assert_null(p->default_rotation[1]);
}

static void test_bad_connection_strings(void **state)
{
	struct db_connect_params p = {0};
	struct db_conn *c = NULL;
	char *why = NULL;

	(void)state;
	assert_int_equal(pg()->connect(&p, &c, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "connection_url"));
	free(why);
	assert_int_equal(try_connect("postgresql://u:" SECRET "@127.0.0.1/db?nosuch=1", 2000, &why),
	                 TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "nosuch"));
	free(why);
	assert_int_equal(try_connect("host=127.0.0.1 password=" SECRET " stray", 2000, NULL), TROVE_ERR_INVALID);
	assert_int_equal(try_connect("host=127.0.0.1 password='" SECRET "' stray", 2000, NULL), TROVE_ERR_INVALID);
	assert_int_equal(try_connect("postgres://u:" SECRET "@[::1/db", 2000, NULL), TROVE_ERR_INVALID);
}

static void test_no_server(void **state)
{
	char url[128], *why;
	int port, fd = listener(&port);

	(void)state;
	close(fd); /* nothing listens there now */
	snprintf(url, sizeof(url), "postgresql://u:" SECRET "@127.0.0.1:%d/db?sslmode=disable", port);
	assert_int_equal(try_connect(url, 2000, &why), TROVE_ERR_UPSTREAM);
	assert_non_null(strstr(why, "refused"));
	free(why);
	snprintf(url, sizeof(url), "host=127.0.0.1 port=%d sslmode=disable", port);
	assert_int_equal(try_connect(url, 2000, NULL), TROVE_ERR_UPSTREAM);
}

static void test_silent_server_deadline(void **state)
{
	char url[128], *why;
	int port, fd = listener(&port);
	int64_t t0;

	(void)state;
	snprintf(url, sizeof(url), "postgresql://u@127.0.0.1:%d/db?sslmode=disable&gssencmode=disable", port);
	t0 = now_ms();
	assert_int_equal(try_connect(url, 300, &why), TROVE_ERR_TIMEOUT);
	assert_true(now_ms() - t0 >= 290);
	assert_true(now_ms() - t0 < 1000);
	free(why);
	close(fd);
}

/* A server that answers the startup packet with an error echoing the
 * password, as a badly written proxy might. */
static void *echoing_server(void *arg)
{
	static const char fields[] = "SFATAL\0VFATAL\0C28P01\0Mno entry for password " SECRET "\0";
	unsigned char buf[512];
	size_t n = sizeof(fields); /* the fields and the final NUL */
	uint32_t len = htonl((uint32_t)(4 + n));
	int fd = accept(*(int *)arg, NULL, NULL);

	if (fd < 0)
		return NULL;
	(void)!read(fd, buf, sizeof(buf));
	(void)!write(fd, "E", 1);
	(void)!write(fd, &len, 4);
	(void)!write(fd, fields, n);
	close(fd);
	return NULL;
}

static void test_server_message_scrubbed(void **state)
{
	char url[160], *why;
	int port, fd = listener(&port);
	pthread_t th;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, echoing_server, &fd), 0);
	snprintf(url, sizeof(url), "host=127.0.0.1 port=%d sslmode=disable gssencmode=disable", port);
	assert_int_equal(try_connect(url, 3000, &why), TROVE_ERR_UPSTREAM);
	assert_non_null(strstr(why, "no entry for password *****"));
	assert_null(strchr(why, '\n'));
	free(why);
	pthread_join(th, NULL);
	close(fd);
}

static void test_null_connection(void **state)
{
	const char *stmts[] = {"SELECT 1"};
	char *why = NULL;

	(void)state;
	pg()->disconnect(NULL);
	assert_int_equal(pg()->exec_tx(NULL, stmts, 1, now_ms() + 1000, &why), TROVE_ERR_INVALID);
	free(why);
	why = NULL;
	assert_int_equal(pg()->ping(NULL, now_ms() + 1000, &why), TROVE_ERR_INVALID);
	free(why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_entry_and_defaults),
	    cmocka_unit_test(test_bad_connection_strings),
	    cmocka_unit_test(test_no_server),
	    cmocka_unit_test(test_silent_server_deadline),
	    cmocka_unit_test(test_server_message_scrubbed),
	    cmocka_unit_test(test_null_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
