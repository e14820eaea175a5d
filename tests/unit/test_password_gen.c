/* test_password_gen.c — passwords from charset rules: length, minimums,
 * only the union's characters, every character reachable, bad specs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "password_gen.h"
#include "secure.h"

static size_t count_in(const char *pw, const char *set)
{
	size_t n = 0;

	for (; *pw; pw++)
		if (strchr(set, *pw) != NULL)
			n++;
	return n;
}

static void test_default_spec(void **state)
{
	char *pw;
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		assert_int_equal(password_generate(&password_spec_default, &pw), 0);
		assert_int_equal(strlen(pw), 20);
		assert_true(count_in(pw, "abcdefghijklmnopqrstuvwxyz") >= 1);
		assert_true(count_in(pw, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") >= 1);
		assert_true(count_in(pw, "0123456789") >= 1);
		assert_true(count_in(pw, "-") >= 1);
		assert_int_equal(strspn(pw, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"), 20);
		secure_free_str(pw);
	}
}

static void test_minimums_met_and_every_char_reached(void **state)
{
	static const struct password_rule rules[] = {
	    {.charset = "ab", .min_chars = 3},
	    {.charset = "b!#", .min_chars = 2},
	};
	const struct password_spec spec = {.length = 6, .rules = rules, .n_rules = 2};
	int seen[128] = {0};
	char *pw;
	int i;
	const char *p;

	(void)state;
	for (i = 0; i < 500; i++) {
		assert_int_equal(password_generate(&spec, &pw), 0);
		assert_int_equal(strlen(pw), 6);
		assert_true(count_in(pw, "ab") >= 3);
		assert_true(count_in(pw, "b!#") >= 2);
		assert_int_equal(strspn(pw, "ab!#"), 6);
		for (p = pw; *p; p++)
			seen[(unsigned char)*p]++;
		secure_free_str(pw);
	}
	assert_true(seen['a'] > 0 && seen['b'] > 0 && seen['!'] > 0 && seen['#'] > 0);
}

static void test_two_passwords_differ(void **state)
{
	char *a, *b;

	(void)state;
	assert_int_equal(password_generate(&password_spec_default, &a), 0);
	assert_int_equal(password_generate(&password_spec_default, &b), 0);
	assert_string_not_equal(a, b);
	secure_free_str(a);
	secure_free_str(b);
}

static void test_bad_specs_refused(void **state)
{
	static const struct password_rule empty[] = {{.charset = "", .min_chars = 0}};
	static const struct password_rule space[] = {{.charset = "ab c", .min_chars = 0}};
	static const struct password_rule high[] = {{.charset = "ab\xc3\xa9", .min_chars = 0}};
	static const struct password_rule greedy[] = {{.charset = "ab", .min_chars = 4}, {.charset = "1", .min_chars = 2}};
	static const struct password_rule ok[] = {{.charset = "ab", .min_chars = 1}};
	const struct password_spec specs[] = {
	    {.length = 8, .rules = empty, .n_rules = 1},
	    {.length = 8, .rules = space, .n_rules = 1},
	    {.length = 8, .rules = high, .n_rules = 1},
	    {.length = 5, .rules = greedy, .n_rules = 2},
	    {.length = 0, .rules = ok, .n_rules = 1},
	    {.length = PASSWORD_MAX_LENGTH + 1, .rules = ok, .n_rules = 1},
	    {.length = 8, .rules = ok, .n_rules = 0},
	};
	const char *why;
	char *pw = (char *)"unchanged";
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		why = NULL;
		assert_int_equal(password_spec_check(&specs[i], &why), TROVE_ERR_INVALID);
		assert_non_null(why);
		assert_int_equal(password_generate(&specs[i], &pw), TROVE_ERR_INVALID);
		assert_null(pw);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_spec),
	    cmocka_unit_test(test_minimums_met_and_every_char_reached),
	    cmocka_unit_test(test_two_passwords_differ),
	    cmocka_unit_test(test_bad_specs_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
