/* test_username_template.c — Vault's username templates: the documented
 * examples, each function, Go layouts, and malformed or oversized
 * templates refused with the position and the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "username_template.h"

/* 2009-02-13T23:31:30.123456789Z, the time of Vault's examples. */
#define T0 ((int64_t)1234567890 * 1000000000 + 123456789)

static const struct username_template_vars vars = {
    .display_name = "token-with-display-name",
    .role_name = "my_custom_database_role",
};

/* Renders at T0 and returns the output (caller frees); fails the test on
 * error. */
static char *render(const char *tmpl)
{
	char *out = NULL, *why = NULL;
	int r = username_template_render_at(tmpl, &vars, T0, &out, &why);

	if (r != 0)
		fail_msg("%s: %s", tmpl, why ? why : "(no reason)");
	assert_null(why);
	return out;
}

static void expect(const char *tmpl, const char *want)
{
	char *out = render(tmpl);

	assert_string_equal(out, want);
	free(out);
	assert_int_equal(username_template_check(tmpl, NULL), 0);
}

/* The template is refused, by check and by render, with a reason that
 * contains each of the given fragments. */
static void refused(const char *tmpl, const char *frag)
{
	char *out = (char *)"unset", *why = NULL;

	assert_int_equal(username_template_render_at(tmpl, &vars, T0, &out, &why), TROVE_ERR_INVALID);
	assert_null(out);
	assert_non_null(why);
	if (!strstr(why, frag) || strncmp(why, "template: byte ", 15) != 0)
		fail_msg("%s: reason \"%s\" lacks \"%s\"", tmpl, why, frag);
	free(why);
	why = NULL;
	assert_int_equal(username_template_check(tmpl, &why), TROVE_ERR_INVALID);
	assert_non_null(why);
	free(why);
}

static void test_vault_examples(void **state)
{
	char *out;

	(void)state;
	expect("{{.DisplayName}}_{{.RoleName}}", "token-with-display-name_my_custom_database_role");
	expect("{{ .DisplayName }}", "token-with-display-name");
	/* Go's printf writes a missing argument and extra ones into the text */
	expect("{{ printf \"v-%s-%s\" \"a\" }}", "v-a-%!s(MISSING)");
	expect("{{ printf \"x%d\" 1 \"b\" 2 }}", "x1%!(EXTRA string=b, int=2)");
	expect("{{ printf \"v-%s-%s-%s\" (.RoleName | truncate 4) \"abcdefgh\" | truncate 16 }}", "v-my_c-abcdefgh-");
	expect("FOO_{{.DisplayName | replace \"-\" \"_\" | uppercase}}_{{.RoleName | replace \"-\" \"_\" | "
	       "uppercase}}_{{timestamp \"2006_01_02T15_04_05Z\" | replace \"-\" \"_\"}}",
	       "FOO_TOKEN_WITH_DISPLAY_NAME_MY_CUSTOM_DATABASE_ROLE_2009_02_13T23_31_30Z");
	/* The PostgreSQL plugin's default: 45 of the 63 characters here. */
	out = render(
	    "{{printf \"v_%s_%s_%s_%s\" (.DisplayName | truncate 8) (.RoleName | truncate 8) (random 20) "
	    "(unix_time) | truncate 45}}");
	assert_int_equal(strlen(out), 45);
	assert_memory_equal(out, "v_token-wi_my_custo_", 20);
	assert_int_equal(strspn(out + 20, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
	                 20);
	assert_string_equal(out + 40, "_1234");
	free(out);
	/* The documented truncate_sha256 example. */
	expect("{{ \"abcdefghijklmnopqrstuvwxyz\" | truncate_sha256 20 }}", "abcdefghijkl872808ff");
}

static void test_functions(void **state)
{
	char *out;

	(void)state;
	expect("{{ \"AbC\" | lowercase }}-{{ \"AbC\" | uppercase }}", "abc-ABC");
	expect("{{ .RoleName | truncate 4 }}{{ \"ab\" | truncate 10 }}", "my_cab");
	expect("{{ \"short\" | truncate_sha256 9 }}", "short");
	expect("{{ \"abc\" | sha256 }}", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	expect("{{ \"hello\" | base64 }}", "aGVsbG8=");
	expect("{{ \"a-b-c\" | replace \"-\" \"\" }}", "abc");
	expect("{{ \"ab\" | replace \"\" \"_\" }}", "_a_b_");
	expect("{{unix_time}} {{unix_time_millis}}", "1234567890 1234567890123");
	expect("{{ printf \"%s=%d%%\" \"x\" 5 }}", "x=5%");
	expect("{{ 42 }}{{ (\"x\") }}{{ `raw\\n` }}", "42xraw\\n");
	expect("{{ \"\\x41\\u00e9\\101\\t\" }}", "A\xc3\xa9"
	                                         "A\t");
	expect("a {{- \" b \" -}} c", "a b c");
	expect("a{{/* note */}}b {{- /* x */ -}} c", "abc");
	expect("{{random 0}}", "");
	out = render("{{ uuid }}");
	assert_int_equal(strlen(out), 36);
	assert_int_equal(out[14], '4');
	free(out);
	out = render("{{random 1024}}");
	assert_int_equal(strlen(out), 1024);
	free(out);
	/* Two renders differ where randomness is asked for. */
	char *a = render("{{random 16}}"), *b = render("{{random 16}}");
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void test_timestamps(void **state)
{
	(void)state;
	expect("{{timestamp \"2006-01-02T15:04:05Z07:00\"}}", "2009-02-13T23:31:30Z");
	expect("{{timestamp \"20060102150405\"}}", "20090213233130");
	expect("{{timestamp \"2006 01 02 15 04 05\"}}", "2009 02 13 23 31 30");
	expect("{{timestamp \"Mon Jan _2 3:4:5 PM MST -0700 06 002\"}}",
	       "Fri Feb 13 11:31:30 PM UTC +0000 09 044");
	expect("{{timestamp \"Monday January 2 1 .000 .999999999 ,00\"}}",
	       "Friday February 13 2 .123 .123456789 ,12");
	expect("{{timestamp \"_2006\"}}", "_2009");
}

static void test_malformed(void **state)
{
	(void)state;
	refused("{{.Foo}}", "unknown field .Foo");
	refused("{{.}}", "'.'");
	refused("{{.DisplayName.X}}", "no fields");
	refused("{{nosuch 3}}", "function \"nosuch\" not defined");
	refused("{{if .RoleName}}x{{end}}", "\"if\" is not supported");
	refused("{{$x := 1}}", "variables");
	refused("{{.DisplayName", "unclosed action");
	refused("{{\"abc}}", "unterminated quoted string");
	refused("{{`abc}}", "unterminated raw string");
	refused("{{ \"\\q\" }}", "unknown escape");
	refused("{{ \"\\x00\" }}", "NUL");
	refused("{{ \"\\ud800\" }}", "Unicode");
	refused("{{}}", "missing value for command");
	refused("{{ .RoleName | }}", "missing value for command");
	refused("{{ random }}", "wrong number of args for random: want 1 got 0");
	refused("{{ random \"3\" }}", "random: argument 1 must be an integer");
	refused("{{ 5 | uppercase }}", "uppercase: argument 1 must be a string");
	refused("{{ random 1025 }}", "between 0 and 1024");
	refused("{{ random -1 }}", "between 0 and 1024");
	refused("{{ .RoleName | truncate 0 }}", "max length must be > 0");
	refused("{{ .RoleName | truncate_sha256 8 }}", "max length must be > 8");
	refused("{{ .RoleName .DisplayName }}", "can't give argument to non-function");
	refused("{{ .RoleName | .DisplayName }}", "non executable command in pipeline stage 2");
	refused("{{ (.RoleName }}", "unclosed left parenthesis");
	refused("{{ ((((((((((1)))))))))) }}", "nested deeper");
	refused("{{ 12abc }}", "bad number syntax");
	refused("{{ 99999999999 }}", "out of range");
	refused("{{ printf \"%q\" 1 }}", "only %s");
	refused("{{ printf \"%\" }}", "lone %");
	refused("{{/* open }}", "unclosed comment");
	refused("{{ 'a' }}", "character constants");
	refused("{{ .RoleName ) }}", "unexpected \")\"");
	refused("", "empty");
	/* The position is where the trouble starts: byte 5 is the 'n'. */
	char *why = NULL;
	assert_int_equal(username_template_check("ab{{nosuch}}", &why), TROVE_ERR_INVALID);
	assert_string_equal(why, "template: byte 5: function \"nosuch\" not defined");
	free(why);
}

static void test_bounds(void **state)
{
	char big[USERNAME_TEMPLATE_MAX + 2];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	refused(big, "longer than 4096 bytes");
	refused("{{random 1000}}{{random 1000}}", "output is longer than 1024 bytes");
	/* An intermediate value is capped too, whatever the output. */
	refused("{{ random 1000 | replace \"\" \"0123456789abcdefghij\" | truncate 5 }}", "grows past");
	char deep[256] = "{{ \"a\"";
	for (int i = 0; i < 17; i++)
		strncat(deep, " | lowercase", sizeof(deep) - strlen(deep) - 1);
	strncat(deep, " }}", sizeof(deep) - strlen(deep) - 1);
	refused(deep, "more than 16 commands");
	/* A display name over the value cap cannot be rendered, but is refused
	 * cleanly. */
	char *name = malloc(20000), *out = NULL, *why = NULL;
	memset(name, 'x', 19999);
	name[19999] = '\0';
	struct username_template_vars v = {.display_name = name};
	assert_int_equal(username_template_render("{{.DisplayName | truncate 5}}", &v, &out, &why),
	                 TROVE_ERR_INVALID);
	assert_null(out);
	free(why);
	free(name);
}

static void test_null_vars(void **state)
{
	char *out = NULL, *why = NULL;

	(void)state;
	assert_int_equal(username_template_render("[{{.DisplayName}}|{{.RoleName}}]", NULL, &out, &why), 0);
	assert_string_equal(out, "[|]");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vault_examples), cmocka_unit_test(test_functions),
	    cmocka_unit_test(test_timestamps),     cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_bounds),         cmocka_unit_test(test_null_vars),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
