/* timed_call.c — see timed_call.h.
 *
 * The waiter and the call share a small record with two references: each
 * side drops one, whoever drops the last frees it. Whether the call was
 * abandoned is decided under the record's lock, so exactly one side acts
 * on arg after fn returns: the waiter when fn finished in time, the call's
 * thread (through done) when the waiter had already left. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "timed_call.h"

#include "buf.h"
#include "err.h"

#include "banned.h"

#define CALL_STACK_SIZE ((size_t)1 << 20)

struct call {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int (*fn)(void *arg);
	void *arg;
	void (*done)(void *arg, int rc);
	int rc;
	bool finished;
	bool abandoned;
	atomic_int refs;
};

static void call_unref(struct call *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void *call_main(void *p)
{
	struct call *c = p;
	int rc = c->fn(c->arg);
	pthread_mutex_lock(&c->mu);
	c->rc = rc;
	c->finished = true;
	bool abandoned = c->abandoned;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (abandoned && c->done)
		c->done(c->arg, rc);
	call_unref(c);
	return NULL;
}

int timed_call(int (*fn)(void *arg), void *arg, void (*done)(void *arg, int rc), int64_t timeout_ms, int *rc)
{
	struct call *c = xcalloc(1, sizeof(*c));
	pthread_condattr_t ca;
	pthread_attr_t attr;
	pthread_t th;
	struct timespec ts;
	int r = TROVE_ERR_NOMEM;

	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	c->fn = fn;
	c->arg = arg;
	c->done = done;
	atomic_init(&c->refs, 2);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CALL_STACK_SIZE);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, call_main, c) != 0) {
		pthread_attr_destroy(&attr);
		atomic_store(&c->refs, 1);
		call_unref(c);
		return r;
	}
	pthread_attr_destroy(&attr);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (timeout_ms < 0)
		timeout_ms = 0;
	ts.tv_sec += (time_t)(timeout_ms / 1000);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->mu);
	while (!c->finished) {
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT && !c->finished)
			break;
	}
	if (c->finished) {
		*rc = c->rc;
		r = 0;
	} else {
		c->abandoned = true;
		r = TROVE_ERR_TIMEOUT;
	}
	pthread_mutex_unlock(&c->mu);
	call_unref(c);
	return r;
}
