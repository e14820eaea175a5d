/* test_vcache.c — the versioned cache: hits and misses, a put that lost a
 * race with a writer is refused, collisions replace, clear empties, and
 * under concurrent readers and writers no reader ever sees a value older
 * than the last write that completed before its read began. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "vcache.h"

#include "banned.h"

static _Atomic long live; /* values allocated and not yet released */

static void *copy_int(const void *v)
{
	long *out = xmalloc(sizeof(*out));
	*out = *(const long *)v;
	atomic_fetch_add(&live, 1);
	return out;
}

static void release_int(void *v)
{
	atomic_fetch_sub(&live, 1);
	free(v);
}

static long get_or(struct vcache *c, const char *key, long dflt)
{
	long *v = vcache_get(c, key);
	long out = v ? *v : dflt;
	if (v)
		release_int(v);
	return out;
}

static void test_hit_miss_forget(void **state)
{
	(void)state;
	struct vcache *c = vcache_new(64, copy_int, release_int);
	long one = 1, two = 2;
	assert_null(vcache_get(c, "a"));
	vcache_put(c, "a", vcache_generation(c, "a"), &one);
	assert_int_equal(get_or(c, "a", -1), 1);
	assert_int_equal(get_or(c, "b", -1), -1);
	vcache_forget(c, "a");
	assert_int_equal(get_or(c, "a", -1), -1);
	vcache_put(c, "a", vcache_generation(c, "a"), &two);
	assert_int_equal(get_or(c, "a", -1), 2);
	vcache_clear(c);
	assert_int_equal(get_or(c, "a", -1), -1);
	vcache_free(c);
	assert_int_equal(atomic_load(&live), 0);
}

static void test_stale_put_refused(void **state)
{
	(void)state;
	struct vcache *c = vcache_new(64, copy_int, release_int);
	long old = 1;
	uint64_t gen = vcache_generation(c, "k"); /* a reader starts ... */
	vcache_forget(c, "k");                    /* ... a writer finishes ... */
	vcache_put(c, "k", gen, &old);            /* ... the reader's old value */
	assert_null(vcache_get(c, "k"));
	gen = vcache_generation(c, "k");
	vcache_clear(c);
	vcache_put(c, "k", gen, &old); /* clear also invalidates readers */
	assert_null(vcache_get(c, "k"));
	vcache_free(c);
	assert_int_equal(atomic_load(&live), 0);
}

static void test_collision_replaces(void **state)
{
	(void)state;
	struct vcache *c = vcache_new(1, copy_int, release_int); /* every key collides */
	long one = 1, two = 2;
	vcache_put(c, "a", vcache_generation(c, "a"), &one);
	vcache_put(c, "b", vcache_generation(c, "b"), &two);
	assert_int_equal(get_or(c, "a", -1), -1);
	assert_int_equal(get_or(c, "b", -1), 2);
	vcache_free(c);
	assert_int_equal(atomic_load(&live), 0);
}

/* A "storage" of one counter per key, written under a lock; a writer bumps
 * it, forgets, then counts its write as completed. Readers go through the
 * cache and must never see a value below the number of writes completed
 * when their read began. */
#define KEYS 8
static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;
static long store[KEYS];
static _Atomic long completed[KEYS];
static _Atomic bool stop;
static _Atomic long violations;

struct ctx {
	struct vcache *c;
	unsigned seed;
};

static void key_name(int k, char out[8])
{
	out[0] = 'k';
	out[1] = (char)('0' + k);
	out[2] = '\0';
}

static void *writer(void *arg)
{
	struct ctx *x = arg;
	char key[8];
	while (!atomic_load(&stop)) {
		int k = (int)(rand_r(&x->seed) % KEYS);
		key_name(k, key);
		pthread_mutex_lock(&store_mu);
		store[k]++;
		pthread_mutex_unlock(&store_mu);
		vcache_forget(x->c, key);
		atomic_fetch_add(&completed[k], 1);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct ctx *x = arg;
	char key[8];
	while (!atomic_load(&stop)) {
		int k = (int)(rand_r(&x->seed) % KEYS);
		key_name(k, key);
		long floor = atomic_load(&completed[k]);
		long *v = vcache_get(x->c, key);
		long got;
		if (v) {
			got = *v;
			release_int(v);
		} else {
			uint64_t gen = vcache_generation(x->c, key);
			pthread_mutex_lock(&store_mu);
			got = store[k];
			pthread_mutex_unlock(&store_mu);
			vcache_put(x->c, key, gen, &got);
		}
		if (got < floor)
			atomic_fetch_add(&violations, 1);
	}
	return NULL;
}

static void test_never_stale_under_concurrency(void **state)
{
	(void)state;
	struct vcache *c = vcache_new(KEYS * 2, copy_int, release_int);
	pthread_t t[6];
	struct ctx x[6];
	for (int i = 0; i < 6; i++) {
		x[i].c = c;
		x[i].seed = (unsigned)i + 1;
		pthread_create(&t[i], NULL, i < 2 ? writer : reader, &x[i]);
	}
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&violations), 0);
	vcache_free(c);
	assert_int_equal(atomic_load(&live), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_miss_forget),
		cmocka_unit_test(test_stale_put_refused),
		cmocka_unit_test(test_collision_replaces),
		cmocka_unit_test(test_never_stale_under_concurrency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
