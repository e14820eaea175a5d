/* The database engine's connection pool (pool.c) over the recording fake
 * plugin: max_open, waits bounded by the deadline, idle reuse and the
 * ping before it, failed connections discarded, lifetime, close. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db_fake.h"

#include "engines/database/database.h"
#include "err.h"

static struct db_pool *pool_of(int64_t max_open, int64_t max_idle, int64_t lifetime_ms, int64_t ping_idle_ms)
{
	struct db_config cfg = {
	    .connection_url = "fake://{{username}}:{{password}}@h", .username = "root", .password = "pw"};
	struct db_connect_params p;
	assert_int_equal(db_connect_params_make(&cfg, &p), 0);
	struct db_pool_limits lim = {.max_open = max_open,
	                             .max_idle = max_idle,
	                             .max_lifetime_ms = lifetime_ms,
	                             .ping_idle_ms = ping_idle_ms};
	return db_pool_new(&db_fake_plugin, &p, &lim);
}

static void test_limits_and_deadline(void **state)
{
	(void)state;
	db_fake_reset();
	struct db_pool *p = pool_of(2, 0, 0, 60000);
	struct db_conn *a, *b, *c;
	char *why = NULL;
	int64_t open, idle;
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, NULL), 0);
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &b, NULL), 0);
	assert_string_equal(db_fake.last_url, "fake://root:pw@h");
	/* a third waits at most its deadline */
	int64_t t0 = db_now_ms();
	assert_int_equal(db_pool_get(p, t0 + 300, &c, &why), TROVE_ERR_TIMEOUT);
	int64_t waited = db_now_ms() - t0;
	assert_true(waited >= 280 && waited < 2000);
	assert_non_null(why);
	free(why);
	assert_int_equal(db_fake.connects, 2);
	/* one put back is reused, not reconnected */
	db_pool_put(p, a, 0);
	db_pool_counts(p, &open, &idle);
	assert_int_equal(open, 2);
	assert_int_equal(idle, 1);
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &c, NULL), 0);
	assert_ptr_equal(c, a);
	assert_int_equal(db_fake.connects, 2);
	/* a connection whose call timed out or failed is never reused */
	db_pool_put(p, c, TROVE_ERR_TIMEOUT);
	db_pool_put(p, b, TROVE_ERR_UPSTREAM);
	assert_int_equal(db_fake.disconnects, 2);
	db_pool_counts(p, &open, &idle);
	assert_int_equal(open, 0);
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, NULL), 0);
	assert_int_equal(db_fake.connects, 3);
	db_pool_put(p, a, 0);
	db_pool_unref(p);
	assert_int_equal(db_fake.open, 0);
}

static void test_ping_before_reuse(void **state)
{
	(void)state;
	db_fake_reset();
	struct db_pool *p = pool_of(4, 0, 0, 0); /* ping every reuse */
	struct db_conn *a, *b;
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, NULL), 0);
	assert_int_equal(db_fake.pings, 0); /* a new connection is not pinged */
	db_pool_put(p, a, 0);
	usleep(2000);
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &b, NULL), 0);
	assert_int_equal(db_fake.pings, 1);
	assert_ptr_equal(a, b);
	db_pool_put(p, b, 0);
	/* a failed ping: discarded, a new one opened */
	db_fake.fail_ping = true;
	usleep(2000);
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &b, NULL), 0);
	assert_int_equal(db_fake.disconnects, 1);
	assert_int_equal(db_fake.connects, 2);
	db_pool_put(p, b, 0);
	db_pool_unref(p);
	assert_int_equal(db_fake.open, 0);
}

static void test_suspect_pings_idle(void **state)
{
	(void)state;
	db_fake_reset();
	struct db_pool *p = pool_of(4, 0, 0, 60000); /* idle ones pinged after a minute */
	struct db_conn *a, *b;
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, NULL), 0);
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &b, NULL), 0);
	db_pool_put(p, a, 0);
	db_pool_put(p, b, 0);
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, NULL), 0);
	assert_int_equal(db_fake.pings, 0);
	db_pool_put(p, a, 0);
	/* one connection was found broken: every idle one is checked before
	 * reuse, and those that fail are replaced */
	db_pool_suspect(p);
	db_fake.fail_ping = true;
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, NULL), 0);
	assert_int_equal(db_fake.pings, 2);
	assert_int_equal(db_fake.disconnects, 2);
	assert_int_equal(db_fake.connects, 3);
	db_pool_put(p, a, 0);
	/* one put back since is trusted again */
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &b, NULL), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(db_fake.pings, 2);
	db_pool_put(p, b, 0);
	db_pool_unref(p);
	assert_int_equal(db_fake.open, 0);
}

struct waiter {
	struct db_pool *p;
	int rc;
	int64_t took_ms;
};

static void *wait_for_conn(void *arg)
{
	struct waiter *w = arg;
	struct db_conn *c = NULL;
	int64_t t0 = db_now_ms();
	w->rc = db_pool_get(w->p, t0 + 5000, &c, NULL);
	w->took_ms = db_now_ms() - t0;
	if (w->rc == 0)
		db_pool_put(w->p, c, 0);
	return NULL;
}

static void test_stalled_pool_bounds_its_waiters(void **state)
{
	(void)state;
	db_fake_reset();
	struct db_pool *p = pool_of(1, 0, 0, 60000);
	struct db_conn *held;
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &held, NULL), 0);
	/* the one connection is not put back: after a second with no progress
	 * only 8 requests keep waiting, the others are refused */
	enum { N = 12 };
	struct waiter w[N];
	pthread_t t[N];
	for (int i = 0; i < N; i++) {
		w[i] = (struct waiter){.p = p};
		assert_int_equal(pthread_create(&t[i], NULL, wait_for_conn, &w[i]), 0);
	}
	usleep(2500 * 1000);
	db_pool_put(p, held, 0); /* progress again: the ones still waiting are served */
	int refused = 0, served = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		if (w[i].rc == TROVE_ERR_TIMEOUT) {
			refused++;
			assert_true(w[i].took_ms >= 1000 && w[i].took_ms < 2400);
		} else {
			assert_int_equal(w[i].rc, 0);
			served++;
		}
	}
	assert_int_equal(refused, N - 8);
	assert_int_equal(served, 8);
	db_pool_unref(p);
	assert_int_equal(db_fake.open, 0);
}

static void test_idle_lifetime_close(void **state)
{
	(void)state;
	db_fake_reset();
	struct db_pool *p = pool_of(3, 1, 0, 60000); /* keep one idle */
	struct db_conn *a, *b, *c;
	int64_t open, idle;
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, NULL), 0);
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &b, NULL), 0);
	db_pool_put(p, a, 0);
	db_pool_put(p, b, 0); /* over max_idle: closed */
	db_pool_counts(p, &open, &idle);
	assert_int_equal(open, 1);
	assert_int_equal(idle, 1);
	db_pool_unref(p);

	db_fake_reset();
	p = pool_of(2, 0, 50, 60000); /* 50 ms lifetime */
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, NULL), 0);
	db_pool_put(p, a, 0);
	usleep(80 * 1000);
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &b, NULL), 0);
	assert_int_equal(db_fake.connects, 2); /* the old one was too old */
	assert_int_equal(db_fake.disconnects, 1);
	/* close: idle ones at once, busy ones when put back; no more gets */
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &c, NULL), 0);
	db_pool_put(p, c, 0);
	db_pool_close(p);
	assert_int_equal(db_fake.open, 1);
	char *why = NULL;
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, &why), TROVE_ERR_UNAVAILABLE);
	free(why);
	db_pool_put(p, b, 0);
	assert_int_equal(db_fake.open, 0);
	db_pool_unref(p);
}

static void test_connect_failure(void **state)
{
	(void)state;
	db_fake_reset();
	struct db_pool *p = pool_of(1, 0, 0, 60000);
	struct db_conn *a;
	char *why = NULL;
	db_fake.fail_connect = true;
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, &why), TROVE_ERR_UPSTREAM);
	free(why);
	db_fake.fail_connect = false;
	/* the failed slot was given back */
	assert_int_equal(db_pool_get(p, db_now_ms() + 100, &a, NULL), 0);
	db_pool_put(p, a, 0);
	db_pool_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limits_and_deadline),
	    cmocka_unit_test(test_ping_before_reuse),
	    cmocka_unit_test(test_suspect_pings_idle),
	    cmocka_unit_test(test_stalled_pool_bounds_its_waiters),
	    cmocka_unit_test(test_idle_lifetime_close),
	    cmocka_unit_test(test_connect_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
