/* test_rx.c — lib/rx: Go's regular expressions, Go's matches (the
 * expected answers are what Go's regexp gives for FindStringSubmatchIndex),
 * Go's refusals, and the bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rx.h"

/* "s,e s,e ..." for each group, or "none", or "error: why". */
static void run(const char *pat, size_t plen, const char *text, size_t tlen, size_t from, char *out,
                size_t cap)
{
	struct rx *r;
	char why[128];
	long c[20];
	size_t len = 0;

	if (rx_compile(pat, plen, &r, why, sizeof(why)) != 0) {
		assert_null(r);
		snprintf(out, cap, "error: %s", why);
		return;
	}
	size_t pairs = rx_groups(r) + 1 > 10 ? 10 : rx_groups(r) + 1;
	int found = rx_find(r, text, tlen, from, c, pairs, NULL);
	/* a matcher asked for no groups agrees on whether there is a match */
	assert_int_equal(found, rx_find(r, text, tlen, from, NULL, 0, NULL));
	rx_free(r);
	if (!found) {
		snprintf(out, cap, "none");
		return;
	}
	out[0] = '\0';
	for (size_t k = 0; k < pairs; k++)
		len +=
		    (size_t)snprintf(out + len, cap - len, "%s%ld,%ld", k ? " " : "", c[2 * k], c[2 * k + 1]);
}

struct tcase {
	const char *pat, *text, *want;
};

static void table(const struct tcase *t, size_t n)
{
	char got[256];
	for (size_t i = 0; i < n; i++) {
		run(t[i].pat, strlen(t[i].pat), t[i].text, strlen(t[i].text), 0, got, sizeof(got));
		if (strncmp(got, t[i].want, strlen(t[i].want)) != 0 ||
		    (strncmp(t[i].want, "error: ", 7) != 0 && strcmp(got, t[i].want) != 0))
			fail_msg("/%s/ on \"%s\": got \"%s\", want \"%s\"", t[i].pat, t[i].text, got,
			         t[i].want);
	}
}

static void test_matches(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
	    {"a|ab", "ab", "0,1"}, /* leftmost-first, where POSIX takes "ab" */
	    {"(a|ab)(c|bcd)(d*)", "abcd", "0,4 0,1 1,4 4,4"},
	    {"a*", "aaa", "0,3"},
	    {"a*?", "aaa", "0,0"},
	    {"a+?", "aaa", "0,1"},
	    {"x{2,3}", "xxxx", "0,3"},
	    {"x{2,3}?", "xxxx", "0,2"},
	    {"x{2,}", "xxxxx", "0,5"},
	    {"x{2}", "xxxxx", "0,2"},
	    {"(?U)a+", "aaa", "0,1"},
	    {"(?U)a+?", "aaa", "0,3"},
	    {"(?i)hello", "HeLLo", "0,5"},
	    {"(?i)[k-m]+", "KLm", "0,3"},
	    {"a(?i)b|c", "C", "0,1"},
	    {"(?i:a)b", "Ab", "0,2"},
	    {"(?i:a)b", "AB", "none"},
	    {"^abc$", "abc\n", "none"}, /* $ is the end of the text */
	    {"(?m)^b$", "a\nb\nc", "2,3"},
	    {"\\bfoo\\b", "a foo b", "2,5"},
	    {"\\bfoo\\b", "afoo", "none"},
	    {"\\Bo\\B", "foo", "1,2"},
	    {"[[:alpha:]]+", "12abC3", "2,5"},
	    {"[^[:digit:]]+", "12ab3", "2,4"},
	    {"[[:^alpha:]]+", "ab12c", "2,4"},
	    {"\\d+", "ab123", "2,5"},
	    {"[\\d]+", "ab123", "2,5"},
	    {"\\D+", "12ab", "2,4"},
	    {"[\\D]+", "12ab", "2,4"},
	    {"\\w+", "--a_1--", "2,5"},
	    {"\\s+", "a \t\nb", "1,4"},
	    {"\\S+", "  ab ", "2,4"},
	    {"(?P<year>\\d{4})-(\\d{2})", "x2024-05", "1,8 1,5 6,8"},
	    {"(?<y>\\d)", "a1", "1,2 1,2"},
	    {"(?:ab)+", "ababa", "0,4"},
	    {".", "\xc3\xa9", "0,2"}, /* a rune */
	    {".", "\xff", "0,1"},     /* an invalid byte is one rune */
	    {"a.c", "a\nc", "none"},
	    {"(?s)a.c", "a\nc", "0,3"},
	    {"[^a]", "\n", "0,1"},
	    {"a{,3}", "a{,3}", "0,5"}, /* not a count: literal */
	    {"a{", "a{", "0,2"},
	    {"\\Qa.b\\E+", "a.bbb", "0,5"},
	    {"\\Qa.b", "xa.b", "1,4"},
	    {"x*", "", "0,0"},
	    {"[]a]+", "]a]", "0,3"},
	    {"[a-]+", "a-a", "0,3"},
	    {"\\x41\\x{42}\\101", "ABA", "0,3"},
	    {"\\x{263a}", "\xe2\x98\xba", "0,3"},
	    {"[\\x{263a}-\\x{263c}]", "\xe2\x98\xbb", "0,3"},
	    {"(a)|b", "b", "0,1 -1,-1"},
	    {"$", "ab", "2,2"},
	    {"\\.\\*\\_", ".*_", "0,3"},
	    {"(a*)+", "b", "0,0 0,0"},
	    {"(a|b)*c", "abac", "0,4 2,3"},
	    {"(\\w+)@(\\w+)\\.com", "mail: bob@example.com", "6,21 6,9 10,17"},
	    {"a\\z", "a\n", "none"},
	    {"\\Aa", "ba", "none"},
	    {"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$", "user.name@example.org", "0,21"},
	};
	table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_refusals(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
	    {"(", "", "error: missing closing )"},
	    {")", "", "error: unexpected )"},
	    {"a**", "", "error: invalid nested repetition operator"},
	    {"a*+", "", "error: invalid nested repetition operator"},
	    {"a{2}{3}", "", "error: invalid nested repetition operator"},
	    {"*a", "", "error: missing argument to repetition operator"},
	    {"{2}", "", "error: missing argument to repetition operator"},
	    {"(?i)*", "", "error: missing argument to repetition operator"},
	    {"a{1001}", "", "error: invalid repeat count"},
	    {"a{3,2}", "", "error: invalid repeat count"},
	    {"a{99999999999999999999}", "", "error: invalid repeat count"},
	    {"[a", "", "error: missing closing ]"},
	    {"[z-a]", "", "error: invalid character class range"},
	    {"[[:nope:]]", "", "error: invalid character class range"},
	    {"\\1", "", "error: invalid escape sequence"},
	    {"(a)\\1", "", "error: invalid escape sequence"},
	    {"\\8", "", "error: invalid escape sequence"},
	    {"\\q", "", "error: invalid escape sequence"},
	    {"\\x{110000}", "", "error: invalid escape sequence"},
	    {"\\xZ1", "", "error: invalid escape sequence"},
	    {"a\\", "", "error: trailing backslash"},
	    {"\\pL", "", "error: Unicode classes"},
	    {"[\\p{Greek}]", "", "error: Unicode classes"},
	    {"(?=a)", "", "error: invalid or unsupported Perl syntax"},
	    {"(?i-)", "", "error: invalid or unsupported Perl syntax"},
	    {"(?P<>a)", "", "error: invalid named capture"},
	    {"(?P<a-b>a)", "", "error: invalid named capture"},
	    {"\xff", "", "error: invalid UTF-8"},
	    {"((a{1000}){1000}){1000}", "", "error: expression too large"},
	    {"(a|b|c|d|e|f|g|h){1000}", "", "error: expression too large"},
	};
	table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_bounds(void **state)
{
	char got[256], *p = malloc(RX_PATTERN_MAX + 2);
	(void)state;

	/* nesting past RX_DEPTH_MAX is refused, at it compiles */
	for (int depth = RX_DEPTH_MAX; depth <= RX_DEPTH_MAX + 1; depth++) {
		size_t n = 0;
		for (int k = 0; k < depth; k++)
			p[n++] = '(';
		p[n++] = 'a';
		for (int k = 0; k < depth; k++)
			p[n++] = ')';
		run(p, n, "a", 1, 0, got, sizeof(got));
		if (depth > RX_DEPTH_MAX)
			assert_string_equal(got, "error: expression nests too deeply");
		else
			assert_string_equal(got, "0,1 0,1 0,1 0,1 0,1 0,1 0,1 0,1 0,1 0,1");
	}
	memset(p, 'a', RX_PATTERN_MAX + 1);
	run(p, RX_PATTERN_MAX, p, RX_PATTERN_MAX, 0, got, sizeof(got));
	assert_string_equal(got, "0,4096");
	run(p, RX_PATTERN_MAX + 1, "a", 1, 0, got, sizeof(got));
	assert_string_equal(got, "error: expression longer than 4096 bytes");
	free(p);

	/* the expression whose DFA has 2^20 states, over 1 MiB of a and b:
	 * the program's threads, not the input, bound the memory */
	size_t n = (size_t)1 << 20;
	char *text = malloc(n);
	srand(1);
	for (size_t i = 0; i < n; i++)
		text[i] = "ab"[rand() % 2];
	text[n - 22] = 'a';
	text[n - 1] = 'c';
	run("(a|b)*a(a|b){20}c", 17, text, n, 0, got, sizeof(got));
	assert_string_equal(got, "0,1048576 1048553,1048554 1048574,1048575");
	free(text);
}

static void test_from(void **state)
{
	char got[256];
	(void)state;
	/* the text before `from` is context, as in Go's FindAll */
	run("^a", 2, "aa", 2, 1, got, sizeof(got));
	assert_string_equal(got, "none");
	run("\\ba", 3, "ba a", 4, 1, got, sizeof(got));
	assert_string_equal(got, "3,4");
	run("a", 1, "aa", 2, 2, got, sizeof(got));
	assert_string_equal(got, "none");
	run("$", 1, "aa", 2, 2, got, sizeof(got));
	assert_string_equal(got, "2,2");
	run("a", 1, "aa", 2, 3, got, sizeof(got));
	assert_string_equal(got, "none");
}

static void test_budget_and_names(void **state)
{
	struct rx *r;
	char why[128];
	long c[4];
	uint64_t budget = 1000;
	(void)state;

	assert_int_equal(rx_compile("(?P<first>a)(b)(?<third>c)", 26, &r, why, sizeof(why)), 0);
	assert_int_equal(rx_groups(r), 3);
	assert_string_equal(rx_group_name(r, 1), "first");
	assert_null(rx_group_name(r, 2));
	assert_string_equal(rx_group_name(r, 3), "third");
	assert_null(rx_group_name(r, 0));
	assert_null(rx_group_name(r, 4));
	rx_free(r);

	/* a search stops when its budget is spent, and says so */
	assert_int_equal(rx_compile("a+x", 3, &r, why, sizeof(why)), 0);
	char text[4096];
	memset(text, 'a', sizeof(text));
	assert_int_equal(rx_find(r, text, sizeof(text), 0, c, 1, &budget), -1);
	assert_int_equal(budget, 0);
	budget = 100000;
	assert_int_equal(rx_find(r, text, sizeof(text), 0, c, 1, &budget), 0);
	assert_true(budget < 100000 && budget > 0);
	rx_free(r);

	/* threads keeping every group of a big expression would not fit */
	char many[4096];
	for (size_t i = 0; i < sizeof(many); i += 2)
		many[i] = '(', many[i + 1] = ')';
	assert_int_equal(rx_compile(many, sizeof(many), &r, why, sizeof(why)), -1);
	assert_string_equal(why, "expression too large");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_matches),          cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_bounds),           cmocka_unit_test(test_from),
	    cmocka_unit_test(test_budget_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
