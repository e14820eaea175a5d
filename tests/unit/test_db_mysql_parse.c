/* test_db_mysql_parse.c — the MySQL plugins' DSN parser, statement
 * splitter and password scrubbing (engines/database/mysql_parse.h), and
 * the plugins' table entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/database/database.h"
#include "engines/database/mysql_parse.h"
#include "engines/database/plugins.h"
#include "err.h"

static void test_dsn_tcp(void **state)
{
	struct mysql_dsn d;
	const char *why;

	(void)state;
	assert_int_equal(mysql_dsn_parse("root:s3cret@tcp(db.example.com:3307)/app", &d, &why), 0);
	assert_string_equal(d.user, "root");
	assert_string_equal(d.password, "s3cret");
	assert_string_equal(d.host, "db.example.com");
	assert_int_equal(d.port, 3307);
	assert_null(d.socket);
	assert_string_equal(d.dbname, "app");
	assert_int_equal(d.tls, MYSQL_DSN_TLS_DEFAULT);
	mysql_dsn_free(&d);

	/* Percent-encoded credentials, as the engine renders them. */
	assert_int_equal(mysql_dsn_parse("v%40x:p%3A%40%2F%23%25%3F%26w@tcp(127.0.0.1)/", &d, &why), 0);
	assert_string_equal(d.user, "v@x");
	assert_string_equal(d.password, "p:@/#%?&w");
	assert_string_equal(d.host, "127.0.0.1");
	assert_int_equal(d.port, 3306);
	assert_string_equal(d.dbname, "");
	mysql_dsn_free(&d);

	/* An '@' in a raw password: the last one before the address counts. */
	assert_int_equal(
	    mysql_dsn_parse("u:a@b@tcp([::1]:3310)/db?charset=utf8mb4&tls=skip-verify", &d, &why), 0);
	assert_string_equal(d.password, "a@b");
	assert_string_equal(d.host, "::1");
	assert_int_equal(d.port, 3310);
	assert_string_equal(d.dbname, "db");
	assert_int_equal(d.tls, MYSQL_DSN_TLS_SKIP_VERIFY);
	mysql_dsn_free(&d);

	/* No credentials, no address: the Go driver's defaults. */
	assert_int_equal(mysql_dsn_parse("/db?tls=true", &d, &why), 0);
	assert_null(d.user);
	assert_null(d.password);
	assert_string_equal(d.host, "127.0.0.1");
	assert_int_equal(d.port, 3306);
	assert_int_equal(d.tls, MYSQL_DSN_TLS_VERIFY);
	mysql_dsn_free(&d);

	assert_int_equal(mysql_dsn_parse("user@tcp/db", &d, &why), 0);
	assert_string_equal(d.user, "user");
	assert_null(d.password);
	mysql_dsn_free(&d);
}

static void test_dsn_unix(void **state)
{
	struct mysql_dsn d;
	const char *why;

	(void)state;
	assert_int_equal(mysql_dsn_parse("root:pw@unix(/run/mysqld/mysqld.sock)/db", &d, &why), 0);
	assert_string_equal(d.socket, "/run/mysqld/mysqld.sock");
	assert_null(d.host);
	assert_string_equal(d.dbname, "db");
	mysql_dsn_free(&d);
}

static void refused(const char *dsn, const char *needle)
{
	struct mysql_dsn d;
	const char *why = NULL;

	assert_int_equal(mysql_dsn_parse(dsn, &d, &why), TROVE_ERR_INVALID);
	assert_non_null(why);
	if (strstr(why, needle) == NULL)
		fail_msg("%s: \"%s\" lacks \"%s\"", dsn, why, needle);
	assert_null(d.user);
	assert_null(d.password);
}

static void test_dsn_refused(void **state)
{
	(void)state;
	refused("", "empty");
	refused("mysql://root:pw@localhost:3306/db", "not a URL");
	refused("root:pw@tcp(localhost:3306)", "'/'");
	refused("root:pw@unix(/tmp/x.sock)", "'/'");
	refused("root:pw@udp(localhost:3306)/db", "tcp(host:port)");
	refused("root:pw@tcp(localhost:0)/db", "port");
	refused("root:pw@tcp(localhost:65536)/db", "port");
	refused("root:pw@tcp(localhost:)/db", "port");
	refused("root:pw@tcp(localhost:-1)/db", "port");
	refused("root:pw@tcp(localhost:3306/db", "')'");
	refused("root:pw@tcp()/db", "no host");
	refused("root:pw@tcp(:3306)/db", "no host");
	refused("root:pw@tcp([::1)/db", "']'");
	refused("root:pw@tcp([::1]x)/db", ":port");
	refused("root:pw@tcp(ho st)/db", "host");
	refused("root:pw@unix/db", "socket");
	refused("root:pw@unix(sock)/db", "absolute");
	refused("root:p%4@tcp(h)/db", "password");
	refused("root:p%00w@tcp(h)/db", "password");
	refused("r%zz:pw@tcp(h)/db", "user name");
	refused("root:pw@tcp(h)/d%b", "database name");
	refused("root:pw@tcp(h)/db?tls=custom", "tls=");
	refused("root:pw@tcp(h)/db?tls", "key=value");
}

/* The statements of s, joined by '|'. */
static char *split(const char *s)
{
	static char out[512];
	size_t pos = 0, start, len, o = 0;

	out[0] = '\0';
	while (mysql_split_next(s, &pos, &start, &len)) {
		assert_true(o + len + 2 < sizeof(out));
		if (o > 0)
			out[o++] = '|';
		memcpy(out + o, s + start, len);
		o += len;
		out[o] = '\0';
	}
	assert_int_equal(pos, strlen(s));
	return out;
}

static void test_split(void **state)
{
	(void)state;
	assert_string_equal(split("CREATE USER 'a'@'%'; GRANT SELECT ON db.* TO 'a'@'%';"),
	                    "CREATE USER 'a'@'%'|GRANT SELECT ON db.* TO 'a'@'%'");
	assert_string_equal(split("  SELECT 1  "), "SELECT 1");
	assert_string_equal(split(""), "");
	assert_string_equal(split(" ; ;;\n"), "");
	/* Semicolons inside quotes of each kind. */
	assert_string_equal(split("SELECT 'a;b'; SELECT \"c;d\"; SELECT `e;f`"),
	                    "SELECT 'a;b'|SELECT \"c;d\"|SELECT `e;f`");
	/* Backslash escapes in '...' and "...", doubled quotes, none in `...`. */
	assert_string_equal(split("SELECT 'it\\'s;x'; SELECT 'o''k;y'; SELECT \"q\\\";z\""),
	                    "SELECT 'it\\'s;x'|SELECT 'o''k;y'|SELECT \"q\\\";z\"");
	assert_string_equal(split("SELECT `a\\`; SELECT 2"), "SELECT `a\\`|SELECT 2");
	/* Comments: kept inside a statement, never split on, skipped alone. */
	assert_string_equal(split("-- a; comment\nSELECT 1; # b; c\nSELECT /* ;; */ 2;"),
	                    "SELECT 1|SELECT /* ;; */ 2");
	assert_string_equal(split("/* only; a comment */ ; -- and this"), "");
	/* "--" without a blank after it is not a comment (1--1 is 1 - -1). */
	assert_string_equal(split("SELECT 1--1; SELECT 2"), "SELECT 1--1|SELECT 2");
	/* Executable comments are statement text. */
	assert_string_equal(split("/*!40101 SET x=1 */; SELECT 3"), "/*!40101 SET x=1 */|SELECT 3");
	/* Unterminated quotes and comments run to the end. */
	assert_string_equal(split("SELECT 'open; still"), "SELECT 'open; still");
	assert_string_equal(split("SELECT 1 /* open;"), "SELECT 1");
	assert_string_equal(split("SELECT 'x\\"), "SELECT 'x\\");
}

struct lits {
	char got[4][32];
	size_t n;
};

static void add_lit(void *arg, const char *p, size_t len)
{
	struct lits *l = arg;

	assert_true(l->n < 4 && len < 32);
	memcpy(l->got[l->n], p, len);
	l->got[l->n++][len] = '\0';
}

static void test_password_literals(void **state)
{
	const char *s = "CREATE USER 'by'@'%' IDENTIFIED BY 'pw1'; "
	                "SET PASSWORD FOR 'u'@'%' = PASSWORD('pw2'); "
	                "ALTER USER 'password' IDENTIFIED WITH x BY \"p\\\"w3\"; SELECT 'bystander'";
	struct lits l = {0};

	(void)state;
	mysql_password_literals(s, strlen(s), add_lit, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.got[0], "pw1");
	assert_string_equal(l.got[1], "pw2");
	assert_string_equal(l.got[2], "p\\\"w3");
	l.n = 0;
	mysql_password_literals("IDENTIFIED BY 'unterminated", 27, add_lit, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.got[0], "unterminated");
}

static void test_scrub(void **state)
{
	const char *secrets[] = {"hunter2", "", "x"};
	const size_t lens[] = {7, 0, 1};
	char *out;

	(void)state;
	out = mysql_scrub("near 'hunter2' and hunter2x", secrets, lens, 3);
	assert_string_equal(out, "near '*****' and **********");
	free(out);
	out = mysql_scrub("nothing here", secrets, lens, 1);
	assert_string_equal(out, "nothing here");
	free(out);
	out = mysql_scrub("", secrets, lens, 3);
	assert_string_equal(out, "");
	free(out);
}

static void test_plugins(void **state)
{
	static const struct {
		const char *name;
		size_t max;
		const char *tmpl_end;
	} want[] = {
	    {"mysql-database-plugin", 32, "| truncate 32 }}"},
	    {"mysql-aurora-database-plugin", 32, "| truncate 16 }}"},
	    {"mysql-rds-database-plugin", 32, "| truncate 16 }}"},
	    {"mysql-legacy-database-plugin", 16, "| truncate 16 }}"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct db_plugin *p = db_plugin_find(want[i].name);
		const char *t;

		assert_non_null(p);
		assert_string_equal(p->name, want[i].name);
		assert_int_equal(p->username_max, want[i].max);
		t = p->default_username_template;
		assert_true(strlen(t) > strlen(want[i].tmpl_end));
		assert_string_equal(t + strlen(t) - strlen(want[i].tmpl_end), want[i].tmpl_end);
		assert_false(p->ddl_transactional);
		assert_false(p->rsa_private_key);
		assert_null(p->default_renew);
		assert_non_null(strstr(p->default_revocation[0], "DROP USER '{{name}}'@'%'"));
		assert_null(p->default_revocation[1]);
		assert_non_null(strstr(p->default_rotation[0], "IDENTIFIED BY '{{password}}'"));
	}
	/* Vault's DefaultUserNameTemplate and DefaultLegacyUserNameTemplate. */
	assert_string_equal(
	    db_plugin_find("mysql-database-plugin")->default_username_template,
	    "{{ printf \"v-%s-%s-%s-%s\" (.DisplayName | truncate 10) (.RoleName | truncate 10) "
	    "(random 20) (unix_time) | truncate 32 }}");
	assert_string_equal(db_plugin_find("mysql-legacy-database-plugin")->default_username_template,
	                    "{{ printf \"v-%s-%s\" (.RoleName | truncate 4) (random 20) | truncate 16 }}");
	/* every default template renders, to a name the database takes */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct db_plugin *p = db_plugin_find(want[i].name);
		char *u = NULL, *why = NULL;

		assert_int_equal(db_username_make(p, NULL, "root", "legacyrole", &u, &why), 0);
		assert_null(why);
		assert_true(strlen(u) >= 16 && strlen(u) <= want[i].max);
		assert_memory_equal(u, "v-", 2);
		free(u);
	}
	assert_null(db_plugin_find("mysql"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dsn_tcp),           cmocka_unit_test(test_dsn_unix),
	    cmocka_unit_test(test_dsn_refused),       cmocka_unit_test(test_split),
	    cmocka_unit_test(test_password_literals), cmocka_unit_test(test_scrub),
	    cmocka_unit_test(test_plugins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
