/* The pool's alone mode (db_pool_get_alone, pool.c), used to run again a
 * transaction that lost a race with another connection of the pool: it
 * waits for every other connection to be put back, holds plain gets back
 * while it waits and while it holds the pool, and never past its
 * deadline. */
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

static struct db_pool *pool_of(int64_t max_open)
{
	struct db_config cfg = {
	    .connection_url = "fake://{{username}}:{{password}}@h", .username = "root", .password = "pw"};
	struct db_connect_params p;
	assert_int_equal(db_connect_params_make(&cfg, &p), 0);
	struct db_pool_limits lim = {.max_open = max_open, .ping_idle_ms = 60000};
	return db_pool_new(&db_fake_plugin, &p, &lim);
}

static void test_alone_waits_for_others_and_holds_the_pool(void **state)
{
	(void)state;
	db_fake_reset();
	struct db_pool *p = pool_of(4);
	struct db_conn *a, *b, *x;
	char *why = NULL;
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, NULL), 0);
	/* another connection is in use: the alone get times out, free slots or not */
	int64_t t0 = db_now_ms();
	assert_int_equal(db_pool_get_alone(p, t0 + 200, &x, &why), TROVE_ERR_TIMEOUT);
	assert_true(db_now_ms() - t0 >= 180);
	assert_non_null(why);
	free(why);
	/* its give-up holds nothing back */
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &b, NULL), 0);
	db_pool_put(p, b, 0);
	db_pool_put(p, a, 0);
	/* all put back: it gets one, and plain gets wait while it holds it */
	assert_int_equal(db_pool_get_alone(p, db_now_ms() + 1000, &x, NULL), 0);
	assert_int_equal(db_pool_get(p, db_now_ms() + 200, &b, NULL), TROVE_ERR_TIMEOUT);
	assert_int_equal(db_pool_get_alone(p, db_now_ms() + 200, &b, NULL), TROVE_ERR_TIMEOUT);
	db_pool_put(p, x, 0);
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &b, NULL), 0);
	db_pool_put(p, b, 0);
	db_pool_unref(p);
	assert_int_equal(db_fake.open, 0);
}

struct alone_arg {
	struct db_pool *p;
	int rc;
};

static void *alone_thread(void *v)
{
	struct alone_arg *arg = v;
	struct db_conn *c = NULL;
	arg->rc = db_pool_get_alone(arg->p, db_now_ms() + 5000, &c, NULL);
	if (arg->rc == 0)
		db_pool_put(arg->p, c, 0);
	return NULL;
}

static void test_a_waiting_alone_get_holds_plain_gets_back(void **state)
{
	(void)state;
	db_fake_reset();
	struct db_pool *p = pool_of(4);
	struct db_conn *a, *b;
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, NULL), 0);
	struct alone_arg arg = {.p = p, .rc = 1};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, alone_thread, &arg), 0);
	usleep(100 * 1000);
	/* free slots, but a caller waits to have the pool alone: wait behind it */
	assert_int_equal(db_pool_get(p, db_now_ms() + 200, &b, NULL), TROVE_ERR_TIMEOUT);
	assert_int_equal(arg.rc, 1); /* still waiting for a */
	db_pool_put(p, a, 0);
	pthread_join(t, NULL);
	assert_int_equal(arg.rc, 0);
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &b, NULL), 0);
	db_pool_put(p, b, 0);
	db_pool_unref(p);
}

static void test_close_ends_an_alone_wait(void **state)
{
	(void)state;
	db_fake_reset();
	struct db_pool *p = pool_of(2);
	struct db_conn *a;
	assert_int_equal(db_pool_get(p, db_now_ms() + 1000, &a, NULL), 0);
	struct alone_arg arg = {.p = p, .rc = 1};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, alone_thread, &arg), 0);
	usleep(50 * 1000);
	db_pool_close(p);
	pthread_join(t, NULL);
	assert_int_equal(arg.rc, TROVE_ERR_UNAVAILABLE);
	db_pool_put(p, a, 0);
	db_pool_unref(p);
	assert_int_equal(db_fake.open, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alone_waits_for_others_and_holds_the_pool),
	    cmocka_unit_test(test_a_waiting_alone_get_holds_plain_gets_back),
	    cmocka_unit_test(test_close_ends_an_alone_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
