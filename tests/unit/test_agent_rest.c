/* test_agent_rest.c — agent_rest: memory given back once, after a quiet
 * period with no work noted, and the main thread woken only by the first
 * note after a release. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent_rest.h"
#include "clock.h"

static int releases;

static unsigned long count_release(void)
{
	releases++;
	return 4096;
}

/* Bytes waiting in the pipe, read out. */
static int pending_bytes(const struct agent_rest *r)
{
	char b[64];
	int n = 0;
	ssize_t got;
	while ((got = read(agent_rest_fd(r), b, sizeof(b))) > 0)
		n += (int)got;
	return n;
}

static void test_start_is_a_period(void **state)
{
	struct agent_rest r;
	(void)state;
	releases = 0;
	assert_int_equal(agent_rest_init(&r, 50, count_release), 0);
	/* start-up counts as work: the first quiet period ends in a release */
	assert_int_equal(agent_rest_step(&r, false, true), -1);
	assert_int_equal(releases, 1);
	/* then nothing until work is noted: poll waits without a timeout */
	assert_int_equal(agent_rest_step(&r, false, false), -1);
	assert_int_equal(agent_rest_step(&r, false, true), -1);
	assert_int_equal(releases, 1);
	agent_rest_release(&r);
}

static void test_one_wake_per_period(void **state)
{
	struct agent_rest r;
	(void)state;
	releases = 0;
	assert_int_equal(agent_rest_init(&r, 50, count_release), 0);
	assert_int_equal(agent_rest_step(&r, false, true), -1);
	for (int i = 0; i < 1000; i++)
		agent_rest_note(&r);
	/* a thousand notes, one byte: main wakes once */
	struct pollfd p = {.fd = agent_rest_fd(&r), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_int_equal(agent_rest_step(&r, true, false), 50);
	assert_int_equal(pending_bytes(&r), 0);
	/* work in the period: it starts again, no release */
	agent_rest_note(&r);
	assert_int_equal(pending_bytes(&r), 0);
	assert_int_equal(agent_rest_step(&r, false, true), 50);
	assert_int_equal(releases, 1);
	/* a signal in the period: it starts again */
	assert_int_equal(agent_rest_step(&r, false, false), 50);
	/* a whole period with no note: released, disarmed */
	assert_int_equal(agent_rest_step(&r, false, true), -1);
	assert_int_equal(releases, 2);
	/* the next note wakes main again */
	agent_rest_note(&r);
	assert_int_equal(pending_bytes(&r), 1);
	agent_rest_release(&r);
}

/* Another thread notes work while main runs the loop agent.c runs: once
 * it stops, memory is given back within two periods, and never while it
 * worked without a pause as long as a period. */
struct worker {
	struct agent_rest *r;
	volatile bool stop;
};

static void *noter(void *arg)
{
	struct worker *w = arg;
	while (!w->stop) {
		agent_rest_note(w->r);
		usleep(2000);
	}
	return NULL;
}

static void test_busy_then_quiet(void **state)
{
	struct agent_rest r;
	struct worker w;
	pthread_t t;
	(void)state;
	releases = 0;
	assert_int_equal(agent_rest_init(&r, 150, count_release), 0);
	w.r = &r;
	w.stop = false;
	assert_int_equal(pthread_create(&t, NULL, noter, &w), 0);
	long timeout = 150;
	int64_t start = clock_monotonic_ns(), stopped = 0;
	for (;;) {
		int64_t now = clock_monotonic_ns();
		if (!stopped && now - start > 600 * 1000000LL) {
			w.stop = true;
			pthread_join(t, NULL);
			stopped = clock_monotonic_ns();
			assert_int_equal(releases, 0); /* busy all along */
		}
		if (stopped && releases > 0)
			break;
		assert_true(!stopped || now - stopped < 3000 * 1000000LL);
		struct pollfd p = {.fd = agent_rest_fd(&r), .events = POLLIN};
		int n = poll(&p, 1, (int)timeout);
		timeout = agent_rest_step(&r, n > 0 && (p.revents & POLLIN), n == 0);
		if (timeout < 0 && !stopped)
			timeout = 1000; /* not expected: caught by the assertion above */
	}
	assert_int_equal(releases, 1);
	agent_rest_release(&r);
}

static void test_real_release(void **state)
{
	(void)state;
	/* the release itself runs and the process goes on */
	assert_true(agent_rest_give_back() > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_start_is_a_period),
	    cmocka_unit_test(test_one_wake_per_period),
	    cmocka_unit_test(test_busy_then_quiet),
	    cmocka_unit_test(test_real_release),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
