/* test_scheduler.c — background work: the scheduler alone (periodic with
 * jitter bounds, one-shot, never on an event loop, the gate) and through
 * the mount table (stopped at disable and at seal, disable waiting for a
 * run in progress), on the real pool and the real clock. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/device.h"
#include "engines/engines.h"
#include "core/background.h"
#include "core/core.h"
#include "core/mount.h"
#include "core/router.h"
#include "core/scheduler.h"
#include "err.h"
#include "server/pool.h"
#include "thread_role.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	usleep((useconds_t)ms * 1000);
}

static int to_pool(void *ctx, sched_fn fn, void *arg)
{
	return pool_submit(ctx, fn, arg);
}

/* What the jobs saw. */
#define MAX_RUNS 64
static struct {
	pthread_mutex_t mu;
	int64_t at[MAX_RUNS];
	atomic_int runs;
	atomic_int on_loop; /* runs that found themselves on a loop thread */
	atomic_int freed;
	atomic_bool finished; /* the slow job's run returned */
	int sleep_ms;         /* how long a run takes */
} seen = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void reset_seen(void)
{
	memset(seen.at, 0, sizeof(seen.at));
	atomic_store(&seen.runs, 0);
	atomic_store(&seen.on_loop, 0);
	atomic_store(&seen.freed, 0);
	atomic_store(&seen.finished, false);
	seen.sleep_ms = 0;
}

static void record(void)
{
	if (thread_role_on_loop())
		atomic_fetch_add(&seen.on_loop, 1);
	pthread_mutex_lock(&seen.mu);
	int n = atomic_load(&seen.runs);
	if (n < MAX_RUNS)
		seen.at[n] = now_ms();
	atomic_store(&seen.runs, n + 1);
	pthread_mutex_unlock(&seen.mu);
	if (seen.sleep_ms)
		sleep_ms(seen.sleep_ms);
	atomic_store(&seen.finished, true);
}

static void job(void *arg)
{
	record();
}

static void count_free(void *arg)
{
	atomic_fetch_add(&seen.freed, 1);
}

/* --- the scheduler alone ----------------------------------------------------------- */

static void test_periodic_interval_and_jitter(void **state)
{
	struct pool *p = pool_new(2, 16);
	struct scheduler *s = scheduler_new();
	reset_seen();
	scheduler_set_submit(s, to_pool, p);
	int64_t t0 = now_ms();
	assert_int_equal(scheduler_every(s, "m1", 60, 25, job, NULL, count_free), 0);
	while (atomic_load(&seen.runs) < 8 && now_ms() - t0 < 5000)
		sleep_ms(5);
	scheduler_cancel(s, "m1");
	int n = atomic_load(&seen.runs);
	assert_true(n >= 8);
	assert_int_equal(atomic_load(&seen.freed), 1);
	/* Each wait within 60 ms +- 25 % (45..75), with some slack above
	 * for the timer's and the pool's own latency. */
	int64_t lo = 1000, hi = 0;
	for (int i = 1; i < 8; i++) {
		int64_t gap = seen.at[i] - seen.at[i - 1];
		assert_true(gap >= 44);
		assert_true(gap <= 75 + 100); /* slack: a loaded machine */
		lo = gap < lo ? gap : lo;
		hi = gap > hi ? gap : hi;
	}
	assert_true(seen.at[0] - t0 >= 44);
	/* Jitter really varies the waits. */
	assert_true(hi - lo >= 3);
	sleep_ms(150);
	assert_int_equal(atomic_load(&seen.runs), n); /* stopped */
	scheduler_free(s);
	pool_free(p);
}

static void test_bad_parameters(void **state)
{
	struct scheduler *s = scheduler_new();
	assert_int_equal(scheduler_every(s, "m", 0, 0, job, NULL, NULL), TROVE_ERR_INVALID);
	assert_int_equal(scheduler_every(s, "m", 10, 101, job, NULL, NULL), TROVE_ERR_INVALID);
	scheduler_close(s);
	assert_int_equal(scheduler_once(s, "m", 0, job, NULL, NULL), TROVE_ERR_SEALED);
	scheduler_open(s);
	assert_int_equal(scheduler_jobs(s), 0);
	scheduler_free(s);
}

static void test_one_shot_runs_once(void **state)
{
	struct pool *p = pool_new(2, 16);
	struct scheduler *s = scheduler_new();
	reset_seen();
	scheduler_set_submit(s, to_pool, p);
	int64_t t0 = now_ms();
	assert_int_equal(scheduler_once(s, "m1", 50, job, NULL, count_free), 0);
	assert_int_equal(scheduler_jobs(s), 1);
	sleep_ms(300);
	assert_int_equal(atomic_load(&seen.runs), 1);
	assert_true(seen.at[0] - t0 >= 49);
	assert_int_equal(atomic_load(&seen.freed), 1);
	assert_int_equal(scheduler_jobs(s), 0);
	/* One cancelled before its time never runs, and its arg is freed. */
	assert_int_equal(scheduler_once(s, "m2", 10000, job, NULL, count_free), 0);
	scheduler_cancel(s, "m2");
	assert_int_equal(atomic_load(&seen.freed), 2);
	assert_int_equal(atomic_load(&seen.runs), 1);
	scheduler_free(s);
	pool_free(p);
}

/* A "pool" whose workers are event-loop threads. */
static void *loop_worker(void *arg)
{
	void **a = arg;
	thread_role_set_loop(true);
	((sched_fn)a[0])(a[1]);
	free(a);
	return NULL;
}

static int to_loop(void *ctx, sched_fn fn, void *arg)
{
	void **a = malloc(2 * sizeof(*a));
	pthread_t t;
	a[0] = (void *)fn;
	a[1] = arg;
	if (pthread_create(&t, NULL, loop_worker, a) != 0)
		return TROVE_ERR_UNAVAILABLE;
	pthread_detach(t);
	return 0;
}

static void test_never_on_a_loop_thread(void **state)
{
	struct pool *p = pool_new(2, 16);
	struct scheduler *s = scheduler_new();
	reset_seen();
	/* Handed to loop threads: refused every time. */
	scheduler_set_submit(s, to_loop, NULL);
	assert_int_equal(scheduler_every(s, "m1", 20, 0, job, NULL, NULL), 0);
	assert_int_equal(scheduler_once(s, "m1", 0, job, NULL, NULL), 0);
	sleep_ms(250);
	assert_int_equal(atomic_load(&seen.runs), 0);
	/* On the pool: they run, and never on a loop thread. */
	scheduler_set_submit(s, to_pool, p);
	sleep_ms(250);
	assert_true(atomic_load(&seen.runs) >= 2);
	assert_int_equal(atomic_load(&seen.on_loop), 0);
	scheduler_cancel(s, "m1");
	scheduler_free(s);
	pool_free(p);
}

static atomic_bool gate_open;
static bool gate(void *ctx)
{
	return atomic_load(&gate_open);
}

static void test_gate_holds_work(void **state)
{
	struct pool *p = pool_new(2, 16);
	struct scheduler *s = scheduler_new();
	reset_seen();
	atomic_store(&gate_open, false);
	scheduler_set_gate(s, gate, NULL);
	scheduler_set_submit(s, to_pool, p);
	assert_int_equal(scheduler_every(s, "m1", 20, 0, job, NULL, NULL), 0);
	sleep_ms(200);
	assert_int_equal(atomic_load(&seen.runs), 0);
	atomic_store(&gate_open, true);
	sleep_ms(200);
	assert_true(atomic_load(&seen.runs) >= 2);
	scheduler_free(s);
	pool_free(p);
}

/* --- through the mount table --------------------------------------------------------- */

static void periodic(struct mount *m)
{
	assert_non_null(m->engine_state == NULL ? m : m); /* a live mount */
	record();
}

static const struct route *const no_tables[] = {NULL};
static const struct engine busy_engine = {
    .type = "kv",
    .tables = no_tables,
    .periodic = periodic,
    .periodic_interval_s = 1,
    .periodic_jitter_pct = 0,
};

struct fx {
	struct storage *phys;
	struct core *core;
	struct pool *pool;
	unsigned char key[64];
	size_t key_len;
	unsigned builtin_jobs;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 600, .max_lease_ttl = 7200,
	                         .expiration_manual = true, .engines = &builtin_engines,
	                         .audit_devices = &audit_device_types};
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	buf_init(&err, 1024);
	reset_seen();
	f->phys = storage_inmem_new();
	f->core = core_new(f->phys, &cc);
	f->pool = pool_new(2, 16);
	scheduler_set_submit(background_scheduler(mount_table_background(core_mounts(f->core))), to_pool, f->pool);
	if (core_initialize(f->core, 1, 1, "root-id", &res, &err) != 0 ||
	    core_unseal(f->core, res.keys[0], res.key_len, &st, &err) != 0)
		return -1;
	memcpy(f->key, res.keys[0], res.key_len);
	f->key_len = res.key_len;
	core_init_result_release(&res);
	/* the built-in mounts' own periodic jobs (identity tokens' key rotation) */
	f->builtin_jobs = scheduler_jobs(background_scheduler(mount_table_background(core_mounts(f->core))));
	struct mount_enable_params p = {.path = "work", .type = "kv"};
	if (mount_enable(core_mounts(f->core), &p, &err) != 0)
		return -1;
	/* The engine swapped for one with a periodic function, started as
	 * enable would have. */
	struct mount *m = mount_match(core_mounts(f->core), "work/x");
	m->engine = &busy_engine;
	if (background_mount_start(mount_table_background(core_mounts(f->core)), m) != 0)
		return -1;
	mount_release(m);
	buf_release(&err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	scheduler_set_submit(background_scheduler(mount_table_background(core_mounts(f->core))), NULL, NULL);
	pool_free(f->pool);
	core_free(f->core);
	storage_free(f->phys);
	free(f);
	return 0;
}

/* A one-shot job an engine schedules for its mount. */
static void once(struct mount *m, void *arg)
{
	assert_string_equal(m->path, "work/");
	record();
}

static void test_mount_schedule_at(void **state)
{
	struct fx *f = *state;
	struct mount *m = mount_match(core_mounts(f->core), "work/x");
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 100;
	assert_int_equal(mount_schedule_at(m, at, once, NULL, count_free), 0);
	mount_release(m);
	sleep_ms(400); /* before the periodic's first run, 1 s in */
	assert_int_equal(atomic_load(&seen.runs), 1);
	assert_int_equal(atomic_load(&seen.freed), 1);
}

static void test_stops_at_disable_and_waits(void **state)
{
	struct fx *f = *state;
	struct buf err;
	buf_init(&err, 256);
	seen.sleep_ms = 400;
	/* Wait for the first run to start, then disable while it runs. */
	int64_t t0 = now_ms();
	while (atomic_load(&seen.runs) == 0 && now_ms() - t0 < 3000)
		sleep_ms(5);
	assert_int_equal(atomic_load(&seen.runs), 1);
	assert_false(atomic_load(&seen.finished));
	assert_int_equal(mount_disable(core_mounts(f->core), "work", false, &err), 0);
	assert_true(atomic_load(&seen.finished)); /* the run finished first */
	sleep_ms(1500);
	assert_int_equal(atomic_load(&seen.runs), 1); /* and none came after */
	assert_int_equal(scheduler_jobs(background_scheduler(mount_table_background(core_mounts(f->core)))),
	                 f->builtin_jobs);
	buf_release(&err);
}

static void test_stops_at_seal_and_comes_back(void **state)
{
	struct fx *f = *state;
	struct seal_status st;
	struct buf err;
	buf_init(&err, 256);
	int64_t t0 = now_ms();
	while (atomic_load(&seen.runs) < 1 && now_ms() - t0 < 3000)
		sleep_ms(5);
	assert_int_equal(core_seal(f->core), 0);
	int n = atomic_load(&seen.runs);
	sleep_ms(1500);
	assert_int_equal(atomic_load(&seen.runs), n);
	assert_int_equal(scheduler_jobs(background_scheduler(mount_table_background(core_mounts(f->core)))), 0);
	/* A one-shot job is refused while sealed. */
	assert_int_equal(scheduler_once(background_scheduler(mount_table_background(core_mounts(f->core))), "x", 0, job,
	                                NULL, NULL),
	                 TROVE_ERR_SEALED);
	/* Unsealed again: the kv engine has no periodic function, so only the
	 * built-in mounts' jobs come back. */
	assert_int_equal(core_unseal(f->core, f->key, f->key_len, &st, &err), 0);
	assert_false(st.sealed);
	assert_int_equal(scheduler_jobs(background_scheduler(mount_table_background(core_mounts(f->core)))),
	                 f->builtin_jobs);
	buf_release(&err);
}

static void test_seal_waits_for_a_run(void **state)
{
	struct fx *f = *state;
	seen.sleep_ms = 400;
	int64_t t0 = now_ms();
	while (atomic_load(&seen.runs) == 0 && now_ms() - t0 < 3000)
		sleep_ms(5);
	assert_int_equal(atomic_load(&seen.runs), 1);
	assert_false(atomic_load(&seen.finished));
	assert_int_equal(core_seal(f->core), 0);
	assert_true(atomic_load(&seen.finished)); /* the run finished first */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_periodic_interval_and_jitter),
	    cmocka_unit_test(test_bad_parameters),
	    cmocka_unit_test(test_one_shot_runs_once),
	    cmocka_unit_test(test_never_on_a_loop_thread),
	    cmocka_unit_test(test_gate_holds_work),
	    cmocka_unit_test_setup_teardown(test_mount_schedule_at, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stops_at_disable_and_waits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stops_at_seal_and_comes_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seal_waits_for_a_run, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
