/* test_cron.c — 5-field cron schedules (lib/cron.h): what parses, what is
 * refused naming the field, and the next time in UTC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cron.h"
#include "err.h"
#include "timefmt.h"

static int64_t at(const char *rfc3339)
{
	int64_t s = -1;
	assert_int_equal(time_parse_rfc3339(rfc3339, &s), 0);
	return s;
}

static void expect_next(const char *spec, const char *after, const char *want)
{
	struct cron_spec c;
	const char *field = NULL, *why = NULL;
	char got[TIME_TEXT_MAX] = "";
	assert_int_equal(cron_parse(spec, &c, &field, &why), 0);
	int64_t n = cron_next(&c, at(after));
	if (want == NULL) {
		assert_int_equal(n, -1);
		return;
	}
	time_rfc3339(n, got);
	if (strcmp(got, want) != 0)
		fail_msg("%s after %s: got %s, want %s", spec, after, got, want);
}

static void test_next(void **state)
{
	(void)state;
	expect_next("*/15 * * * *", "2026-01-01T00:00:00Z", "2026-01-01T00:15:00Z");
	expect_next("*/15 * * * *", "2026-01-01T00:14:59Z", "2026-01-01T00:15:00Z");
	/* strictly after: a matching minute gives the following one */
	expect_next("* * * * *", "2026-01-01T00:15:00Z", "2026-01-01T00:16:00Z");
	expect_next("5/15 * * * *", "2026-01-01T00:36:00Z", "2026-01-01T00:50:00Z");
	expect_next("0 0 * * *", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z");
	expect_next("59 23 31 12 *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z");
	expect_next("0 9-17/4 * * *", "2026-05-05T13:00:00Z", "2026-05-05T17:00:00Z");
	expect_next("30 2 1,15 * *", "2026-01-16T00:00:00Z", "2026-02-01T02:30:00Z");
	expect_next("0 0 1 JAN-mar *", "2026-03-02T00:00:00Z", "2027-01-01T00:00:00Z");
	/* 31st: months without one are skipped */
	expect_next("0 0 31 * *", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z");
	/* Feb 29 only in leap years; 2100 is not one */
	expect_next("0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z");
	expect_next("0 0 29 2 *", "2099-03-01T00:00:00Z", "2104-02-29T00:00:00Z");
	/* beyond five years: none, as robfig/cron gives up */
	expect_next("0 0 29 2 *", "2096-03-01T00:00:00Z", NULL);
	expect_next("0 0 28 2 *", "2028-02-28T00:00:00Z", "2029-02-28T00:00:00Z");
	/* never: Feb 30, Apr 31 */
	expect_next("0 0 30 2 *", "2026-01-01T00:00:00Z", NULL);
	expect_next("0 0 31 4 *", "2026-01-01T00:00:00Z", NULL);
	/* descriptors */
	expect_next("@hourly", "2026-01-01T10:20:00Z", "2026-01-01T11:00:00Z");
	expect_next("@daily", "2026-01-01T10:20:00Z", "2026-01-02T00:00:00Z");
	expect_next("@weekly", "2026-01-01T10:20:00Z", "2026-01-04T00:00:00Z"); /* a Sunday */
	expect_next("@monthly", "2026-01-01T10:20:00Z", "2026-02-01T00:00:00Z");
	expect_next("@yearly", "2026-01-01T10:20:00Z", "2027-01-01T00:00:00Z");
	expect_next("  @annually  ", "2026-01-01T10:20:00Z", "2027-01-01T00:00:00Z");
}

static void test_day_fields(void **state)
{
	(void)state;
	/* 2026-01-01 is a Thursday. Both restricted: either matches. */
	expect_next("0 0 13 * FRI", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z");
	expect_next("0 0 13 * fri", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z");
	/* one unrestricted: the other decides */
	expect_next("0 0 13 * *", "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z");
	expect_next("0 0 * * 5", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z");
	expect_next("0 0 ? * 5", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z");
	expect_next("0 0 * * SUN", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z");
	expect_next("0 0 * * 6", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z");
	/* a step above 1 makes a field restricted (OR with MON); a step of 1 does not */
	expect_next("0 0 */2 * MON", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z");
	expect_next("0 0 */1 * MON", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z");
}

static void expect_refused(const char *spec, const char *field)
{
	struct cron_spec c;
	const char *f = NULL, *why = NULL;
	assert_int_equal(cron_parse(spec, &c, &f, &why), TROVE_ERR_INVALID);
	assert_non_null(why);
	if (field == NULL)
		assert_null(f);
	else if (!f || strcmp(f, field) != 0)
		fail_msg("%s: field %s, want %s (%s)", spec, f ? f : "(none)", field, why);
}

static void test_refused(void **state)
{
	(void)state;
	expect_refused("", NULL);
	expect_refused("* * * *", NULL);
	expect_refused("* * * * * *", NULL);
	expect_refused("@every 1h", NULL);
	expect_refused("@reboot", NULL);
	expect_refused("60 * * * *", "minute");
	expect_refused("-1 * * * *", "minute");
	expect_refused("*/0 * * * *", "minute");
	expect_refused("1,,2 * * * *", "minute");
	expect_refused("x * * * *", "minute");
	expect_refused("* 24 * * *", "hour");
	expect_refused("* 5-3 * * *", "hour");
	expect_refused("* * 0 * *", "day of month");
	expect_refused("* * 32 * *", "day of month");
	expect_refused("* * * 13 *", "month");
	expect_refused("* * * janu *", "month");
	expect_refused("* * * * 7", "day of week");
	expect_refused("* * * * MON-", "day of week");
	expect_refused("* * * * 99999999999999", "day of week");
	expect_refused("* * * * */x", "day of week");
}

static void test_bits(void **state)
{
	struct cron_spec c;
	const char *f, *why;
	(void)state;
	assert_int_equal(cron_parse("0,30 */6 1-3 jan,JUL sat-sat", &c, &f, &why), 0);
	assert_true(c.minute == ((1ULL << 0) | (1ULL << 30)));
	assert_true(c.hour == ((1ULL << 0) | (1ULL << 6) | (1ULL << 12) | (1ULL << 18)));
	assert_true(c.dom == ((1ULL << 1) | (1ULL << 2) | (1ULL << 3)));
	assert_true(c.month == ((1ULL << 1) | (1ULL << 7)));
	assert_true(c.dow == (1ULL << 6));
	assert_false(c.dom_star);
	assert_false(c.dow_star);
	assert_int_equal(cron_next(&c, -5), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_next),
	    cmocka_unit_test(test_day_fields),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
