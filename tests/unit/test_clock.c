/* test_clock.c — lib/clock: the system readers agree with each other,
 * and an installed clock replaces them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"

static int64_t fixed(void *arg)
{
	return *(const int64_t *)arg;
}

static int64_t zero(void)
{
	return 0;
}

static void test_system_readers(void **state)
{
	(void)state;
	int64_t s = clock_realtime_s(), ns = clock_realtime_ns();
	assert_true(s > 1600000000); /* after 2020 */
	assert_true(ns / 1000000000 - s >= 0 && ns / 1000000000 - s <= 1);
	int64_t m1 = clock_monotonic_ns(), m2 = clock_monotonic_ns();
	assert_true(m2 >= m1);
	int64_t ms = clock_monotonic_s();
	assert_true(ms - m2 / 1000000000 >= 0 && ms - m2 / 1000000000 <= 1);
}

static void test_read_prefers_installed(void **state)
{
	int64_t t = 42;
	struct clock c = {fixed, &t};
	struct clock empty = {NULL, NULL};

	(void)state;
	assert_int_equal(clock_read(&c, zero), 42);
	t = 43; /* read each time, never cached */
	assert_int_equal(clock_read(&c, zero), 43);
	assert_int_equal(clock_read(NULL, zero), 0);
	assert_int_equal(clock_read(&empty, zero), 0);
	assert_true(clock_read(NULL, clock_realtime_s) > 1600000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_system_readers),
	    cmocka_unit_test(test_read_prefers_installed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
