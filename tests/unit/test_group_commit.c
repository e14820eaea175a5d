/* test_group_commit.c — lib/group_commit: every request gets its own
 * result, one leader at a time, groups form under load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "group_commit.h"

#define THREADS 8
#define ROUNDS 2000

struct req {
	struct gc_req gc;
	int value;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct gc_queue q = GC_QUEUE_INIT;
static _Atomic int leaders;       /* at work right now */
static _Atomic int max_leaders;   /* ever at once */
static _Atomic long groups, members, wrong;

static bool at_most_three(const struct gc_req *next, void *arg)
{
	int *n = arg;
	(void)next;
	return ++*n < 3;
}

/* The unit of work: result = value * 2, done by whichever thread leads. */
static int submit(int value, bool bounded)
{
	struct req r = {.value = value};

	pthread_mutex_lock(&mu);
	gc_enqueue(&q, &r.gc);
	if (gc_await(&q, &r.gc, &mu))
		return r.gc.result;
	for (;;) {
		int n = 0;
		q.busy = true;
		struct gc_req *group = gc_take(&q, bounded ? at_most_three : NULL, &n);
		pthread_mutex_unlock(&mu);
		int now = atomic_fetch_add(&leaders, 1) + 1;
		if (now > atomic_load(&max_leaders))
			atomic_store(&max_leaders, now);
		long k = 0;
		for (struct gc_req *g = group; g; g = g->next, k++)
			g->result = ((struct req *)g)->value * 2;
		if (bounded && k > 3)
			atomic_fetch_add(&wrong, 1);
		usleep(50); /* the "fsync": lets others queue */
		atomic_fetch_sub(&leaders, 1);
		atomic_fetch_add(&groups, 1);
		atomic_fetch_add(&members, k);
		pthread_mutex_lock(&mu);
		gc_handoff(&q);
		pthread_mutex_unlock(&mu);
		gc_publish(group, &r.gc, false, 0);
		pthread_mutex_lock(&mu);
		if (gc_await(&q, &r.gc, &mu))
			return r.gc.result;
	}
}

static bool bounded_run;

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < ROUNDS; i++) {
		int v = id * ROUNDS + i;
		if (submit(v, bounded_run) != v * 2)
			atomic_fetch_add(&wrong, 1);
	}
	return NULL;
}

static void run(bool bounded)
{
	pthread_t t[THREADS];

	bounded_run = bounded;
	groups = members = wrong = 0;
	max_leaders = 0;
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(wrong, 0);
	assert_int_equal(members, (long)THREADS * ROUNDS);
	assert_int_equal(max_leaders, 1);
	assert_true(groups < members); /* some groups held more than one */
	assert_null(q.head);
	assert_false(q.busy);
}

static void test_whole_queue(void **state)
{
	(void)state;
	run(false);
}

static void test_bounded_groups(void **state)
{
	(void)state;
	run(true);
}

static void test_alone_leads_at_once(void **state)
{
	(void)state;
	groups = members = 0;
	assert_int_equal(submit(21, false), 42);
	assert_int_equal(groups, 1);
	assert_int_equal(members, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alone_leads_at_once),
	    cmocka_unit_test(test_whole_queue),
	    cmocka_unit_test(test_bounded_groups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
