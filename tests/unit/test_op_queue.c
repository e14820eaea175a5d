/* test_op_queue.c — the operator's work queue: FIFO order, dedup, a key
 * never handed to two workers at once (and re-run once when added while
 * processing), delayed adds with the earlier time winning, per-key
 * exponential backoff growing and reset by forget, the shared token
 * bucket, and shutdown waking every waiter. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "operator/op_queue.h"

#include "banned.h"

static long elapsed_ms(int64_t since_ns)
{
	return (long)((clock_monotonic_ns() - since_ns) / 1000000);
}

static void take(struct op_queue *q, const char *want)
{
	const char *k = op_queue_get_timed(q, 1000);

	assert_non_null(k);
	assert_string_equal(k, want);
	op_queue_done(q, k);
}

static void test_fifo_and_dedup(void **state)
{
	struct op_queue *q = op_queue_new(NULL);

	(void)state;
	op_queue_add(q, "a", 0);
	op_queue_add(q, "b", 0);
	op_queue_add(q, "a", 0);
	op_queue_add(q, "c", 0);
	op_queue_add(q, "b", 0);
	assert_int_equal(op_queue_len(q), 3);
	take(q, "a");
	take(q, "b");
	take(q, "c");
	assert_int_equal(op_queue_len(q), 0);
	assert_null(op_queue_get_timed(q, 20));
	op_queue_free(q);
}

static void test_added_while_processing(void **state)
{
	struct op_queue *q = op_queue_new(NULL);
	const char *k;

	(void)state;
	op_queue_add(q, "a", 0);
	k = op_queue_get_timed(q, 1000);
	assert_non_null(k);
	assert_string_equal(k, "a");
	/* Added twice while processing: not handed out, and once after. */
	op_queue_add(q, "a", 0);
	op_queue_add(q, "a", 0);
	assert_int_equal(op_queue_len(q), 0);
	assert_null(op_queue_get_timed(q, 30));
	op_queue_done(q, k);
	assert_int_equal(op_queue_len(q), 1);
	take(q, "a");
	assert_null(op_queue_get_timed(q, 30));
	op_queue_free(q);
}

/* Many workers, few keys, keys re-added by the workers themselves: a
 * key's in-flight count never exceeds one. */
#define NKEYS 4
struct stress {
	struct op_queue *q;
	atomic_int inflight[NKEYS];
	atomic_int max_inflight;
	atomic_int processed;
};

static void *stress_worker(void *arg)
{
	struct stress *s = arg;
	const char *k;

	while ((k = op_queue_get(s->q)) != NULL) {
		int i = k[0] - 'a', n = atomic_fetch_add(&s->inflight[i], 1) + 1;

		if (n > atomic_load(&s->max_inflight))
			atomic_store(&s->max_inflight, n);
		usleep(200);
		op_queue_add(s->q, k, 0); /* added while processing */
		atomic_fetch_sub(&s->inflight[i], 1);
		atomic_fetch_add(&s->processed, 1);
		op_queue_done(s->q, k);
	}
	return NULL;
}

static void test_never_concurrent_per_key(void **state)
{
	struct stress s;
	pthread_t t[8];
	char key[2] = "a";
	int i;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.q = op_queue_new(NULL);
	for (i = 0; i < NKEYS; i++) {
		key[0] = (char)('a' + i);
		op_queue_add(s.q, key, 0);
	}
	for (i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, stress_worker, &s), 0);
	while (atomic_load(&s.processed) < 400)
		usleep(1000);
	op_queue_shutdown(s.q);
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&s.max_inflight), 1);
	op_queue_free(s.q);
}

static void test_delayed(void **state)
{
	struct op_queue *q = op_queue_new(NULL);
	int64_t t0 = clock_monotonic_ns();
	const char *k;

	(void)state;
	op_queue_add(q, "late", 150);
	op_queue_add(q, "soon", 60);
	assert_int_equal(op_queue_delayed(q), 2);
	assert_int_equal(op_queue_len(q), 0);
	assert_null(op_queue_get_timed(q, 20));
	k = op_queue_get_timed(q, 1000);
	assert_non_null(k);
	assert_string_equal(k, "soon");
	assert_true(elapsed_ms(t0) >= 55);
	op_queue_done(q, k);
	take(q, "late");
	assert_true(elapsed_ms(t0) >= 145);

	/* A later time does not replace an earlier one; an earlier one does. */
	t0 = clock_monotonic_ns();
	op_queue_add(q, "x", 50);
	op_queue_add(q, "x", 5000);
	op_queue_add(q, "y", 5000);
	op_queue_add(q, "y", 80);
	assert_int_equal(op_queue_delayed(q), 2);
	take(q, "x");
	take(q, "y");
	assert_true(elapsed_ms(t0) < 2000);

	/* A delayed add of a queued key changes nothing; an immediate add of a
	 * waiting key takes it out of the heap. */
	op_queue_add(q, "z", 0);
	op_queue_add(q, "z", 50);
	assert_int_equal(op_queue_delayed(q), 0);
	take(q, "z");
	op_queue_add(q, "w", 100);
	op_queue_add(q, "w", 0);
	assert_int_equal(op_queue_delayed(q), 0);
	take(q, "w");
	assert_null(op_queue_get_timed(q, 200));
	op_queue_free(q);
}

/* A worker blocked on an empty queue wakes for a key that falls due. */
static void *get_one(void *arg)
{
	struct op_queue *q = arg;
	const char *k = op_queue_get(q);

	if (k)
		op_queue_done(q, k);
	return k != NULL ? arg : NULL;
}

static void test_blocked_worker_wakes_for_delay(void **state)
{
	struct op_queue *q = op_queue_new(NULL);
	pthread_t t;
	void *got = NULL;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, get_one, q), 0);
	usleep(20000);
	op_queue_add(q, "k", 30);
	pthread_join(t, &got);
	assert_true(got != NULL);
	op_queue_free(q);
}

static void test_backoff_growth_and_forget(void **state)
{
	struct op_queue_opts o = { .base_delay_ms = 5, .max_delay_ms = 100, .qps = 1000, .burst = 1000 };
	struct op_queue *q = op_queue_new(&o);
	long want[] = { 5, 10, 20, 40, 80, 100, 100 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(op_queue_add_rate_limited(q, "k"), want[i]);
	assert_int_equal(op_queue_failures(q, "k"), 7);
	/* Another key has its own count. */
	assert_int_equal(op_queue_add_rate_limited(q, "other"), 5);
	op_queue_forget(q, "k");
	assert_int_equal(op_queue_failures(q, "k"), 0);
	assert_int_equal(op_queue_add_rate_limited(q, "k"), 5);
	op_queue_free(q);
}

static void test_default_backoff_cap(void **state)
{
	struct op_queue *q = op_queue_new(NULL);
	long d = 0;
	int i;

	(void)state;
	/* 5 ms * 2^n reaches client-go's 1000 s cap and stays there. */
	for (i = 0; i < 40; i++)
		d = op_queue_add_rate_limited(q, "k");
	assert_int_equal(d, OP_QUEUE_MAX_DELAY_MS);
	op_queue_free(q);
}

static void test_token_bucket(void **state)
{
	struct op_queue_opts o = { .base_delay_ms = 5, .max_delay_ms = 1000, .qps = 10, .burst = 3 };
	struct op_queue *q = op_queue_new(&o);
	char key[8];
	long d[6];
	int i;

	(void)state;
	for (i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		d[i] = op_queue_add_rate_limited(q, key);
	}
	/* The burst goes at the keys' own backoff, then one every 100 ms. */
	assert_int_equal(d[0], 5);
	assert_int_equal(d[2], 5);
	assert_in_range(d[3], 90, 101);
	assert_in_range(d[4], 190, 201);
	assert_in_range(d[5], 290, 301);
	op_queue_free(q);
}

struct waiter {
	struct op_queue *q;
	const char *got;
};

static void *wait_get(void *arg)
{
	struct waiter *w = arg;

	w->got = op_queue_get(w->q);
	return NULL;
}

static void test_shutdown(void **state)
{
	struct op_queue *q = op_queue_new(NULL);
	struct waiter w[3];
	pthread_t t[3];
	const char *k;
	int i;

	(void)state;
	op_queue_add(q, "later", 60000);
	for (i = 0; i < 3; i++) {
		w[i].q = q;
		w[i].got = "unset";
		assert_int_equal(pthread_create(&t[i], NULL, wait_get, &w[i]), 0);
	}
	usleep(20000);
	op_queue_shutdown(q);
	for (i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		assert_null(w[i].got);
	}
	assert_true(op_queue_shutting_down(q));
	op_queue_add(q, "x", 0);
	assert_int_equal(op_queue_len(q), 0);
	assert_int_equal(op_queue_add_rate_limited(q, "x"), -1);
	assert_null(op_queue_get_timed(q, 10));
	op_queue_free(q);

	/* In-flight work is waited for, with a bound. */
	q = op_queue_new(NULL);
	op_queue_add(q, "busy", 0);
	k = op_queue_get(q);
	assert_non_null(k);
	op_queue_shutdown(q);
	assert_false(op_queue_wait_idle(q, 30));
	op_queue_done(q, k);
	assert_true(op_queue_wait_idle(q, 30));
	op_queue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_and_dedup),
		cmocka_unit_test(test_added_while_processing),
		cmocka_unit_test(test_never_concurrent_per_key),
		cmocka_unit_test(test_delayed),
		cmocka_unit_test(test_blocked_worker_wakes_for_delay),
		cmocka_unit_test(test_backoff_growth_and_forget),
		cmocka_unit_test(test_default_backoff_cap),
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test(test_shutdown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
