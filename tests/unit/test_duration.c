/* test_duration.c — durations (Go syntax + Vault extras) and sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "duration.h"
#include "err.h"
#include "timefmt.h"

#define S INT64_C(1000000000)

static int parse_ns(const char *s, int64_t *ns)
{
	return duration_parse_ns(s, strlen(s), ns);
}

static void test_parse_valid(void **state)
{
	static const struct {
		const char *in;
		int64_t ns;
	} cases[] = {
	    {"0", 0},
	    {"300", 300 * S},
	    {"0s", 0},
	    {"1s", S},
	    {"90s", 90 * S},
	    {"1m30s", 90 * S},
	    {"1h30m", 5400 * S},
	    {"2160h0m0s", INT64_C(2160) * 3600 * S},
	    {"768h", INT64_C(768) * 3600 * S},
	    {"1.5h", 5400 * S},
	    {".5s", S / 2},
	    {"5.s", 5 * S},
	    {"1.000000001s", S + 1},
	    {"1.0000000019s", S + 1},
	    {"100ms", S / 10},
	    {"10us", 10000},
	    {"10\xc2\xb5s", 10000},
	    {"10\xce\xbcs", 10000},
	    {"7ns", 7},
	    {"1d", 86400 * S},
	    {"1d12h", 86400 * S + 43200 * S},
	    {"+5s", 5 * S},
	    {" 5m ", 300 * S},
	    {"3h2m1s1ms", (3 * 3600 + 2 * 60 + 1) * S + 1000000},
	    {"9223372036", INT64_C(9223372036) * S},
	    {"9223372036854775807ns", INT64_MAX},
	    {"2562047h47m16.854775807s", INT64_MAX},
	    {"0.1h", 360 * S},
	    {"00001s", S},
	};
	size_t i;
	int64_t ns;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ns = -1;
		if (parse_ns(cases[i].in, &ns) != 0)
			fail_msg("rejected \"%s\"", cases[i].in);
		if (ns != cases[i].ns)
			fail_msg("\"%s\": got %lld, want %lld", cases[i].in, (long long)ns,
			         (long long)cases[i].ns);
	}
}

static void test_parse_invalid(void **state)
{
	static const char *const bad[] = {
	    "",
	    " ",
	    "-1",
	    "-1s",
	    "s",
	    "1x",
	    "1hh",
	    "h1",
	    "1.h.",
	    ".s",
	    ".",
	    "1 s",
	    "1h 30m",
	    "1h-30m",
	    "+",
	    "++1s",
	    "1e3s",
	    "1h30",
	    "0x10s",
	    "1S",
	    "1H",
	    "1sec",
	    "\xc2s",
	    "9223372037",
	    "99999999999999999999",
	    "9223372036854775808ns",
	    "2562048h",
	    "106752d",
	    "2562047h47m16.854775808s",
	    "1y",
	};
	size_t i;
	int64_t ns, s;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_ns(bad[i], &ns) != TROVE_ERR_INVALID)
			fail_msg("accepted \"%s\"", bad[i]);
		if (duration_parse_seconds(bad[i], strlen(bad[i]), &s) != TROVE_ERR_INVALID)
			fail_msg("accepted \"%s\" as seconds", bad[i]);
	}
	assert_int_equal(duration_parse_ns(NULL, 0, &ns), TROVE_ERR_INVALID);
	/* Length bounds the input: "10s" cut to "10" is ten seconds, "1hx" cut to "1h" one hour. */
	assert_int_equal(duration_parse_ns("10s", 2, &ns), 0);
	assert_int_equal(ns, 10 * S);
	assert_int_equal(duration_parse_ns("1hx", 2, &ns), 0);
	assert_int_equal(ns, 3600 * S);
	assert_int_equal(duration_parse_ns("1s\0", 3, &ns), TROVE_ERR_INVALID);
}

static void test_parse_seconds(void **state)
{
	int64_t s;

	(void)state;
	assert_int_equal(duration_parse_seconds("1500ms", 6, &s), 0);
	assert_int_equal(s, 1);
	assert_int_equal(duration_parse_seconds("999ms", 5, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(duration_parse_seconds("768h", 4, &s), 0);
	assert_int_equal(s, 2764800);
	assert_int_equal(duration_parse_seconds("3600", 4, &s), 0);
	assert_int_equal(s, 3600);
	assert_int_equal(duration_parse_seconds("32d", 3, &s), 0);
	assert_int_equal(s, 32 * 86400);
}

static void test_format(void **state)
{
	static const struct {
		int64_t s;
		const char *out;
	} cases[] = {
	    {0, "0s"},
	    {1, "1s"},
	    {59, "59s"},
	    {60, "1m0s"},
	    {90, "1m30s"},
	    {3599, "59m59s"},
	    {3600, "1h0m0s"},
	    {3661, "1h1m1s"},
	    {2764800, "768h0m0s"},
	    {7776000, "2160h0m0s"},
	    {-90, "-1m30s"},
	    {INT64_MAX, "2562047788015215h30m7s"},
	    {INT64_MIN, "-2562047788015215h30m8s"},
	};
	char out[32];
	size_t i;
	int64_t back;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		duration_format(cases[i].s, out, sizeof(out));
		assert_string_equal(out, cases[i].out);
	}
	/* Formatting then parsing gives the value back. */
	for (int64_t v = 0; v < 100000; v += 37) {
		duration_format(v, out, sizeof(out));
		assert_int_equal(duration_parse_seconds(out, strlen(out), &back), 0);
		assert_int_equal(back, v);
	}
	/* Truncates safely into a short buffer. */
	duration_format(2764800, out, 4);
	assert_string_equal(out, "768");
	duration_format(5, out, 0);
}

static void test_size_parse(void **state)
{
	static const struct {
		const char *in;
		uint64_t v;
	} ok[] = {
	    {"0", 0},
	    {"33554432", 33554432},
	    {"32MiB", UINT64_C(32) << 20},
	    {"32mib", UINT64_C(32) << 20},
	    {"1g", UINT64_C(1) << 30},
	    {"1G", UINT64_C(1) << 30},
	    {"1GB", UINT64_C(1) << 30},
	    {"512k", 512 << 10},
	    {"512KiB", 512 << 10},
	    {"10MB", UINT64_C(10) << 20},
	    {"10 MB", UINT64_C(10) << 20},
	    {"100b", 100},
	    {"2t", UINT64_C(2) << 40},
	    {"1p", UINT64_C(1) << 50},
	    {"16383p", UINT64_C(16383) << 50},
	    {"18446744073709551615", UINT64_MAX},
	};
	static const char *const bad[] = {
	    "",       "k",  "-1",   "1.5g", "1x", "1kibb", "1 k i", "18446744073709551616",
	    "16384p", "1e", "MB10", "1 ",
	};
	size_t i;
	uint64_t v;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (size_parse(ok[i].in, strlen(ok[i].in), &v) != 0)
			fail_msg("rejected \"%s\"", ok[i].in);
		assert_true(v == ok[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (strcmp(bad[i], "1 ") == 0)
			continue; /* trailing blanks are trimmed */
		if (size_parse(bad[i], strlen(bad[i]), &v) != TROVE_ERR_INVALID)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(size_parse("1 ", 2, &v), 0);
	assert_int_equal(size_parse("4kXYZ", 2, &v), 0);
	assert_int_equal(v, 4096);
}

/* RFC 3339 timestamps (timefmt.h), beside durations: the other way times
 * are written. */
static void test_rfc3339(void **state)
{
	(void)state;
	char s[TIME_TEXT_MAX];
	time_rfc3339(0, s);
	assert_string_equal(s, "1970-01-01T00:00:00Z");
	time_rfc3339(1796040000, s);
	assert_string_equal(s, "2026-11-30T12:00:00Z");
	time_rfc3339_ns(1796040000LL * 1000000000LL, s);
	assert_string_equal(s, "2026-11-30T12:00:00Z"); /* whole: no fraction */
	time_rfc3339_ns(1796040000LL * 1000000000LL + 120000000, s);
	assert_string_equal(s, "2026-11-30T12:00:00.12Z"); /* trailing zeros trimmed */
	time_rfc3339_ns(1796040000LL * 1000000000LL + 1, s);
	assert_string_equal(s, "2026-11-30T12:00:00.000000001Z");
	time_rfc3339_ns(-1, s);
	assert_string_equal(s, "1969-12-31T23:59:59.999999999Z");
	time_now_rfc3339_ns(s);
	assert_int_equal(s[4], '-');
	assert_int_equal(s[strlen(s) - 1], 'Z');
	/* and back */
	int64_t t = 0;
	assert_int_equal(time_parse_rfc3339("2026-11-30T12:00:00Z", &t), 0);
	assert_int_equal(t, 1796040000);
	assert_int_equal(time_parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(time_parse_rfc3339("2026-11-30T12:00:00", &t), -1);
	assert_int_equal(time_parse_rfc3339("2026-11-30T12:00:00Zjunk", &t), -1);
	assert_int_equal(time_parse_rfc3339("", &t), -1);
	assert_int_equal(time_parse_rfc3339(NULL, &t), -1);
}

/* The bound and the checked sums: a sum past int64 or not positive (an
 * expiry that would read as "never") is refused. */
static void test_bound_and_sums(void **state)
{
	int64_t out = 7;

	(void)state;
	assert_null(duration_check(0));
	assert_null(duration_check(DURATION_MAX_SECONDS));
	assert_non_null(duration_check(DURATION_MAX_SECONDS + 1));
	assert_non_null(duration_check(INT64_MAX));
	assert_non_null(duration_check(-1));
	assert_non_null(duration_check(INT64_MIN));

	assert_int_equal(duration_add(1796040000, 3600, &out), 0);
	assert_int_equal(out, 1796040000 + 3600);
	out = 7;
	assert_int_equal(duration_add(1796040000, INT64_MAX, &out), TROVE_ERR_INVALID);
	assert_int_equal(duration_add(INT64_MAX, 1, &out), TROVE_ERR_INVALID);
	assert_int_equal(duration_add(0, 0, &out), TROVE_ERR_INVALID);
	assert_int_equal(duration_add(10, -20, &out), TROVE_ERR_INVALID);
	assert_int_equal(duration_add(INT64_MIN, -1, &out), TROVE_ERR_INVALID);
	assert_int_equal(out, 7); /* untouched on failure */

	assert_int_equal(duration_add_ns(INT64_C(1796040000000000000), 60, &out), 0);
	assert_int_equal(out, INT64_C(1796040060000000000));
	out = 7;
	assert_int_equal(duration_add_ns(INT64_C(1796040000000000000), DURATION_MAX_SECONDS * 3, &out),
	                 TROVE_ERR_INVALID);
	assert_int_equal(duration_add_ns(1, INT64_MAX / 1000, &out), TROVE_ERR_INVALID);
	assert_int_equal(out, 7);
	/* The largest bounded duration from now fits in nanoseconds. */
	assert_int_equal(duration_add_ns(INT64_C(1796040000000000000), DURATION_MAX_SECONDS, &out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid),   cmocka_unit_test(test_parse_invalid),
	    cmocka_unit_test(test_parse_seconds), cmocka_unit_test(test_format),
	    cmocka_unit_test(test_size_parse),   cmocka_unit_test(test_rfc3339),
	    cmocka_unit_test(test_bound_and_sums),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
