/* test_jwt_glob.c — the jwt/oidc method's bound_claims globs
 * (jwt_glob_match): '*' matches any run of characters, anything else
 * itself, as Vault's go-glob does; no '?' or classes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/jwt_auth.h"

static void test_glob(void **state)
{
	(void)state;
	static const struct {
		const char *pattern, *s;
		bool want;
	} cases[] = {
	    {"", "", true},
	    {"", "a", false},
	    {"*", "", true},
	    {"*", "anything", true},
	    {"abc", "abc", true},
	    {"abc", "abd", false},
	    {"abc", "ab", false},
	    {"*@example.com", "ann@example.com", true},
	    {"*@example.com", "ann@example.org", false},
	    {"*@example.com", "ann@example.com.evil", false},
	    {"refs/heads/*", "refs/heads/main", true},
	    {"refs/heads/*", "refs/tags/v1", false},
	    {"a*b*c", "aXXbYYc", true},
	    {"a*b*c", "abc", true},
	    {"a*b*c", "acb", false},
	    {"a**c", "abc", true},
	    {"*a*", "bab", true},
	    {"*ab", "aab", true},
	    {"?", "a", false},
	    {"[a]", "a", false},
	    {"[a]", "[a]", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (jwt_glob_match(cases[i].pattern, cases[i].s) != cases[i].want)
			fail_msg("%s against %s: want %d", cases[i].pattern, cases[i].s, cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_glob)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
