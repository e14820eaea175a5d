/* The database engine's templating (statements.c): placeholders, the
 * values refused before anything runs, connection URL escaping of every
 * special character, the expiration format; allowed_roles globs and the
 * default user name shape (username.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/database/database.h"
#include "err.h"
#include "secure.h"

static char *render1(const char *tmpl, const struct db_stmt_vars *v, int *rc)
{
	char **out = NULL;
	char *why = NULL;
	*rc = db_render_stmts(&tmpl, 1, v, &out, &why);
	free(why);
	if (*rc != 0)
		return NULL;
	char *s = strdup(out[0]);
	db_stmts_free(out, 1);
	return s;
}

static void test_placeholders(void **state)
{
	(void)state;
	struct db_stmt_vars v = {
	    .name = "v-root-ro-abc", .password = "A1b2-C3", .expiration = "2030-01-02 03:04:05+0000"};
	int rc;
	char *s = render1(
	    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
	    " GRANT x TO \"{{username}}\";",
	    &v, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "CREATE ROLE \"v-root-ro-abc\" WITH LOGIN PASSWORD 'A1b2-C3' VALID UNTIL "
	                       "'2030-01-02 03:04:05+0000'; GRANT x TO \"v-root-ro-abc\";");
	free(s);
	/* a long statement (a role's GRANT list) */
	char longt[4097];
	memset(longt, 'x', 4096);
	longt[4096] = '\0';
	memcpy(longt + 100, "{{name}}", 8);
	s = render1(longt, &v, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(strlen(s), 4096 - 8 + strlen("v-root-ro-abc"));
	free(s);
	/* unknown placeholders and lone braces stay as written */
	s = render1("{{other}} {{ name }} {{name", &v, &rc);
	assert_string_equal(s, "{{other}} {{ name }} {{name");
	free(s);
	/* one pass: a value holding a placeholder is not expanded again */
	struct db_stmt_vars w = {.name = "{{password}}", .password = "secret"};
	s = render1("{{name}}", &w, &rc);
	assert_string_equal(s, "{{password}}");
	free(s);
	/* a variable not given stays a placeholder */
	struct db_stmt_vars u = {.name = "u"};
	s = render1("DROP {{name}} {{password}}", &u, &rc);
	assert_string_equal(s, "DROP u {{password}}");
	free(s);
}

static void test_hostile_values(void **state)
{
	(void)state;
	const char *bad[] = {"a'b",
	                     "a\"b",
	                     "a\\b",
	                     "a`b",
	                     "a;b",
	                     "a\nb",
	                     "a\rb",
	                     "a\tb",
	                     "a\x01"
	                     "b",
	                     "a\x7f"
	                     "b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;
		struct db_stmt_vars v = {.name = "ok", .password = bad[i]};
		assert_false(db_value_safe(bad[i]));
		assert_null(render1("x '{{password}}'", &v, &rc));
		assert_int_equal(rc, TROVE_ERR_INVALID);
		struct db_stmt_vars u = {.name = bad[i], .password = "ok"};
		assert_null(render1("x", &u, &rc)); /* refused even when unused */
		assert_int_equal(rc, TROVE_ERR_INVALID);
	}
	/* the message names the variable, never the value */
	char **out = NULL;
	char *why = NULL;
	const char *t = "x";
	struct db_stmt_vars v = {.name = "ok", .password = "sec'ret"};
	assert_int_equal(db_render_stmts(&t, 1, &v, &out, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "password"));
	assert_null(strstr(why, "sec'ret"));
	free(why);
	assert_true(db_value_safe("v-token-ro-AbC019-1700000000"));
	assert_true(db_value_safe("p@ss:w/rd#%?&"));
}

static void test_url_escaping(void **state)
{
	(void)state;
	const char *pw = ":@/#%?&' \\";
	char *u = NULL;
	assert_int_equal(db_render_url("postgres://{{username}}:{{password}}@db:5432/app?sslmode=require",
	                               "ro ot", pw, &u),
	                 0);
	assert_string_equal(u,
	                    "postgres://ro%20ot:%3A%40%2F%23%25%3F%26%27%20%5C@db:5432/app?sslmode=require");
	secure_free_str(u);
	assert_int_equal(db_render_url("postgresql://{{username}}:{{password}}@h/d", "r", "a-b_c.d~e", &u),
	                 0);
	assert_string_equal(u, "postgresql://r:a-b_c.d~e@h/d");
	secure_free_str(u);
	assert_int_equal(db_render_url("{{username}}:{{password}}@tcp(127.0.0.1:3306)/", "root", pw, &u), 0);
	assert_string_equal(u, "root:%3A%40%2F%23%25%3F%26%27%20%5C@tcp(127.0.0.1:3306)/");
	secure_free_str(u);
	/* libpq key=value: single-quoted, \\ and \' escaped */
	assert_int_equal(
	    db_render_url("host=db user={{username}} password={{password}} dbname=app", "root", pw, &u), 0);
	assert_string_equal(u, "host=db user='root' password=':@/#%?&\\' \\\\' dbname=app");
	secure_free_str(u);
	/* long values: a 1 KiB password of specials triples in length */
	char longpw[1025];
	memset(longpw, '@', 1024);
	longpw[1024] = '\0';
	assert_int_equal(db_render_url("postgres://{{username}}:{{password}}@h/d", "r", longpw, &u), 0);
	assert_int_equal(strlen(u), strlen("postgres://r:@h/d") + 3 * 1024);
	secure_free_str(u);
	/* nothing to put in: the URL as given */
	assert_int_equal(db_render_url("postgres://h/d", NULL, NULL, &u), 0);
	assert_string_equal(u, "postgres://h/d");
	secure_free_str(u);
}

static void redacts(const char *url, const char *want)
{
	char *got = db_url_redact(url);
	assert_string_equal(got, want);
	free(got);
}

static void test_url_redaction(void **state)
{
	(void)state;
	redacts("postgres://{{username}}:{{password}}@h/d", "postgres://{{username}}:{{password}}@h/d");
	redacts("postgres://root:hunter2@h:5432/d?sslmode=require",
	        "postgres://root:*****@h:5432/d?sslmode=require");
	redacts("postgres://root:hu@nter2@h/d", "postgres://root:*****@h/d");
	redacts("postgres://root@h/d", "postgres://root@h/d");
	redacts("postgres://h/d", "postgres://h/d");
	redacts("root:hunter2@tcp(127.0.0.1:3306)/", "root:*****@tcp(127.0.0.1:3306)/");
	redacts("{{username}}:{{password}}@tcp(127.0.0.1:3306)/",
	        "{{username}}:{{password}}@tcp(127.0.0.1:3306)/");
	redacts("host=h user=root password=hunter2 dbname=d", "host=h user=root password=***** dbname=d");
	redacts("host=h password = 'a b\\' c' dbname=d", "host=h password = ***** dbname=d");
	redacts("host=h password={{password}}", "host=h password={{password}}");
	redacts("host=h mypassword=x", "host=h mypassword=x");
}

static void test_expiration_format(void **state)
{
	(void)state;
	char out[32];
	db_format_expiration(1136214245, out); /* Go's reference time, 2006-01-02 15:04:05 UTC */
	assert_string_equal(out, "2006-01-02 15:04:05+0000");
}

static void test_globs(void **state)
{
	(void)state;
	assert_true(db_glob_match("*", "anything"));
	assert_true(db_glob_match("*", ""));
	assert_true(db_glob_match("ro", "ro"));
	assert_false(db_glob_match("ro", "rw"));
	assert_true(db_glob_match("app-*", "app-ro"));
	assert_false(db_glob_match("app-*", "ap-ro"));
	assert_true(db_glob_match("*-ro", "app-ro"));
	assert_true(db_glob_match("a*b*c", "aXXbYYc"));
	assert_false(db_glob_match("a*b*c", "aXXbYY"));
	assert_true(db_glob_match("a**", "a"));
	struct db_config c = {0};
	strlist_init(&c.allowed_roles);
	assert_false(db_config_allows(&c, "ro")); /* empty: none */
	strlist_push(&c.allowed_roles, "app-*");
	assert_true(db_config_allows(&c, "app-ro"));
	assert_false(db_config_allows(&c, "ro"));
	strlist_release(&c.allowed_roles);
}

static void test_username_shape(void **state)
{
	(void)state;
	struct db_plugin p = {.name = "x", .username_max = 63};
	char *u = NULL, *why = NULL;
	assert_int_equal(db_username_make(&p, NULL, "token-with-long-name", "readonly-role", &u, &why), 0);
	/* v-<8>-<8>-<20 random>-<unix time> */
	assert_memory_equal(u, "v-token-wi-readonly-", 20);
	assert_int_equal(strlen(u), 20 + 20 + 1 + 10);
	assert_true(db_value_safe(u));
	free(u);
	/* a display name's quote never reaches a statement */
	assert_int_equal(db_username_make(&p, NULL, "a'b;c", "r", &u, &why), 0);
	assert_memory_equal(u, "v-a-b-c-r-", 10);
	free(u);
	p.username_max = 16; /* MySQL legacy */
	assert_int_equal(db_username_make(&p, NULL, "root", "ro", &u, &why), 0);
	assert_int_equal(strlen(u), 16);
	free(u);
	/* the plugin's default template, then the connection's own */
	p.username_max = 63;
	p.default_username_template = "{{ .RoleName | uppercase }}-fixed";
	assert_int_equal(db_username_make(&p, NULL, "tok", "ro", &u, &why), 0);
	assert_string_equal(u, "RO-fixed");
	free(u);
	assert_int_equal(db_username_make(&p, "app_{{ .DisplayName }}", "tok", "ro", &u, &why), 0);
	assert_string_equal(u, "app_tok");
	free(u);
	/* a template that fails, or makes an unsafe name, is refused */
	assert_int_equal(db_username_make(&p, "{{ .Nope }}", "tok", "ro", &u, &why), TROVE_ERR_INVALID);
	assert_null(u);
	assert_non_null(why);
	free(why);
	why = NULL;
	assert_int_equal(db_username_make(&p, "a'{{ .RoleName }}", "tok", "ro", &u, &why), TROVE_ERR_INVALID);
	assert_null(u);
	assert_non_null(why);
	free(why);
	why = NULL;
	char *pw = NULL;
	assert_int_equal(db_password_make(NULL, NULL, &pw, NULL), 0);
	assert_int_equal(strlen(pw), 20);
	assert_true(db_value_safe(pw));
	secure_free_str(pw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_placeholders),   cmocka_unit_test(test_hostile_values),
	    cmocka_unit_test(test_url_escaping),   cmocka_unit_test(test_expiration_format),
	    cmocka_unit_test(test_url_redaction),  cmocka_unit_test(test_globs),
	    cmocka_unit_test(test_username_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
