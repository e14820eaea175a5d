/* scheduler.c — see scheduler.h.
 *
 * One list of jobs under one mutex: the jobs are few (one periodic job per
 * mount that asks for it, and the one-shot jobs engines add), so the timer
 * scans the list rather than keeping a heap. A job handed to the pool is
 * marked queued and stays in the list; nothing frees a queued job but its
 * own run (run_job), which is how cancellation can wait for it. The timer
 * uses the monotonic clock, so a change of the wall clock neither fires
 * nor holds jobs. */
#include "scheduler.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "thread_role.h"

#include "banned.h"

#define RETRY_MS 100        /* after the pool refused a job */
#define TIMER_STACK_SIZE ((size_t)256 << 10)

struct job {
	struct job *next;
	struct scheduler *s;
	char *owner;
	sched_fn fn;
	void *arg;
	void (*arg_free)(void *arg);
	uint64_t interval_ms; /* 0: one-shot */
	unsigned jitter_pct;
	int64_t due_ms;       /* monotonic */
	bool queued;          /* handed to the pool, not yet finished */
	bool running;
	bool cancelled;
	bool ran;             /* a one-shot job that ran */
	pthread_t runner;
};

struct scheduler {
	pthread_mutex_t mu;
	pthread_cond_t timer_cv; /* the list or the time changed */
	pthread_cond_t done_cv;  /* a queued job finished */
	struct job *jobs;
	sched_submit_fn submit;
	void *submit_ctx;
	sched_gate_fn gate;
	void *gate_ctx;
	bool open;
	bool stopping;
	bool timer_started;
	pthread_t timer;
};

static int64_t mono_ms(void)
{
	return clock_monotonic_ns() / 1000000;
}

/* The next wait of a periodic job: interval_ms, give or take jitter_pct
 * percent, drawn uniformly. */
static int64_t next_wait(const struct job *j)
{
	uint64_t span = j->interval_ms * j->jitter_pct / 100;
	uint32_t r = 0;
	if (span == 0)
		return (int64_t)j->interval_ms;
	(void)rand_bytes(&r, sizeof(r));
	return (int64_t)(j->interval_ms - span + (uint64_t)r % (2 * span + 1));
}

static void job_free(struct job *j)
{
	if (j->arg_free && !j->ran)
		j->arg_free(j->arg);
	free(j->owner);
	free(j);
}

/* Takes j out of the list (s->mu held). */
static void unlink_job(struct scheduler *s, struct job *j)
{
	for (struct job **p = &s->jobs; *p; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			return;
		}
	}
}

/* Runs on a worker: one run of a job, then its next time or its end. */
static void run_job(void *arg)
{
	struct job *j = arg;
	struct scheduler *s = j->s;
	bool refused = thread_role_on_loop();

	pthread_mutex_lock(&s->mu);
	bool go = !j->cancelled && !refused;
	if (go) {
		j->running = true;
		j->runner = pthread_self();
	}
	pthread_mutex_unlock(&s->mu);
	if (refused)
		log_error("background job refused: handed to an event-loop thread", "owner", j->owner);
	if (go) {
		j->fn(j->arg);
		if (!j->interval_ms && j->arg_free) {
			j->arg_free(j->arg);
			j->ran = true;
		}
	}
	pthread_mutex_lock(&s->mu);
	j->running = false;
	j->queued = false;
	bool done = j->cancelled || (go && !j->interval_ms);
	if (done)
		unlink_job(s, j);
	else
		j->due_ms = mono_ms() + (j->interval_ms ? next_wait(j) : RETRY_MS);
	pthread_cond_broadcast(&s->done_cv);
	pthread_cond_signal(&s->timer_cv);
	pthread_mutex_unlock(&s->mu);
	if (done)
		job_free(j);
}

/* Hands the due jobs to the pool (s->mu held; dropped while submitting,
 * so that a submit function may run the job at once). Returns the next
 * due time of a waiting job, or INT64_MAX. */
static int64_t dispatch(struct scheduler *s)
{
	int64_t now = mono_ms(), next;
	bool allowed = !s->gate || s->gate(s->gate_ctx);
	struct job **due = NULL;
	size_t n = 0, cap = 0;

	if (!s->submit)
		return INT64_MAX; /* nowhere to run: wait for scheduler_set_submit */
	for (struct job *j = s->jobs; j; j = j->next) {
		if (j->queued || j->cancelled)
			continue;
		if (j->due_ms > now)
			continue;
		if (!allowed) {
			/* Not this node's work now: its next time, as if it ran. */
			j->due_ms = now + (j->interval_ms ? next_wait(j) : RETRY_MS);
		} else {
			if (n == cap) {
				cap = cap ? 2 * cap : 8;
				due = xrealloc(due, cap * sizeof(*due));
			}
			j->queued = true;
			due[n++] = j;
		}
	}
	sched_submit_fn submit = s->submit;
	void *ctx = s->submit_ctx;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		if (submit(ctx, run_job, due[i]) == 0)
			continue;
		pthread_mutex_lock(&s->mu);
		due[i]->queued = false;
		due[i]->due_ms = mono_ms() + RETRY_MS;
		if (due[i]->cancelled) {
			unlink_job(s, due[i]);
			pthread_cond_broadcast(&s->done_cv);
			pthread_mutex_unlock(&s->mu);
			job_free(due[i]);
			continue;
		}
		pthread_mutex_unlock(&s->mu);
	}
	free(due);
	pthread_mutex_lock(&s->mu);
	/* Runs may have ended (and set their next time) while the lock was
	 * dropped: their signal came before the timer waits, so look again. */
	next = INT64_MAX;
	for (struct job *j = s->jobs; j; j = j->next)
		if (!j->queued && !j->cancelled && j->due_ms < next)
			next = j->due_ms;
	return next;
}

static void *timer_main(void *arg)
{
	struct scheduler *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		int64_t next = dispatch(s);
		if (s->stopping)
			break;
		if (next == INT64_MAX) {
			pthread_cond_wait(&s->timer_cv, &s->mu);
			continue;
		}
		struct timespec ts = {.tv_sec = (time_t)(next / 1000), .tv_nsec = (long)(next % 1000) * 1000000L};
		pthread_cond_timedwait(&s->timer_cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

struct scheduler *scheduler_new(void)
{
	struct scheduler *s = xcalloc(1, sizeof(*s));
	pthread_condattr_t ca;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->timer_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->done_cv, NULL);
	s->open = true;
	return s;
}

void scheduler_free(struct scheduler *s)
{
	if (!s)
		return;
	scheduler_close(s);
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->timer_cv);
	pthread_mutex_unlock(&s->mu);
	if (s->timer_started)
		pthread_join(s->timer, NULL);
	pthread_cond_destroy(&s->done_cv);
	pthread_cond_destroy(&s->timer_cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void scheduler_set_submit(struct scheduler *s, sched_submit_fn submit, void *ctx)
{
	pthread_mutex_lock(&s->mu);
	s->submit = submit;
	s->submit_ctx = ctx;
	pthread_cond_signal(&s->timer_cv);
	pthread_mutex_unlock(&s->mu);
}

void scheduler_set_gate(struct scheduler *s, sched_gate_fn gate, void *ctx)
{
	pthread_mutex_lock(&s->mu);
	s->gate = gate;
	s->gate_ctx = ctx;
	pthread_mutex_unlock(&s->mu);
}

/* Adds a job and starts the timer with the first one. On failure frees
 * j, leaving its arg alone (the caller's still). */
static int add(struct scheduler *s, struct job *j)
{
	int r = TROVE_ERR_SEALED;
	pthread_mutex_lock(&s->mu);
	if (!s->open)
		goto out;
	if (!s->timer_started) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, TIMER_STACK_SIZE);
		int rc = pthread_create(&s->timer, &attr, timer_main, s);
		pthread_attr_destroy(&attr);
		r = TROVE_ERR_NOMEM;
		if (rc != 0)
			goto out;
		s->timer_started = true;
	}
	j->s = s;
	j->next = s->jobs;
	s->jobs = j;
	pthread_cond_signal(&s->timer_cv);
	r = 0;
out:
	pthread_mutex_unlock(&s->mu);
	if (r != 0) {
		j->arg_free = NULL;
		job_free(j);
	}
	return r;
}

static struct job *job_new(const char *owner, sched_fn fn, void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->owner = xstrdup(owner);
	j->fn = fn;
	j->arg = arg;
	return j;
}

int scheduler_every(struct scheduler *s, const char *owner, uint64_t interval_ms, unsigned jitter_pct, sched_fn fn,
		    void *arg, void (*arg_free)(void *arg))
{
	if (interval_ms == 0 || jitter_pct > 100)
		return TROVE_ERR_INVALID;
	struct job *j = job_new(owner, fn, arg);
	j->interval_ms = interval_ms;
	j->jitter_pct = jitter_pct;
	j->arg_free = arg_free;
	j->due_ms = mono_ms() + next_wait(j);
	return add(s, j);
}

int scheduler_once(struct scheduler *s, const char *owner, uint64_t delay_ms, sched_fn fn, void *arg,
		   void (*arg_free)(void *arg))
{
	struct job *j = job_new(owner, fn, arg);
	j->arg_free = arg_free;
	j->due_ms = mono_ms() + (int64_t)(delay_ms > INT32_MAX ? INT32_MAX : delay_ms);
	return add(s, j);
}

/* Whether a job of owner (or of anyone, owner NULL) is still queued or
 * running on another thread than this one (s->mu held). */
static bool busy(struct scheduler *s, const char *owner)
{
	pthread_t self = pthread_self();
	for (struct job *j = s->jobs; j; j = j->next) {
		if (owner && strcmp(j->owner, owner) != 0)
			continue;
		if (j->queued && !(j->running && pthread_equal(j->runner, self)))
			return true;
	}
	return false;
}

/* Marks the jobs of owner (NULL: all) cancelled, frees those not in
 * flight, and waits for the others' runs (s->mu held). */
static void cancel_locked(struct scheduler *s, const char *owner)
{
	struct job *free_list = NULL;
	for (struct job **p = &s->jobs; *p;) {
		struct job *j = *p;
		if (owner && strcmp(j->owner, owner) != 0) {
			p = &j->next;
			continue;
		}
		j->cancelled = true;
		if (j->queued) {
			p = &j->next;
			continue;
		}
		*p = j->next;
		j->next = free_list;
		free_list = j;
	}
	while (busy(s, owner))
		pthread_cond_wait(&s->done_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	while (free_list) {
		struct job *j = free_list;
		free_list = j->next;
		job_free(j);
	}
	pthread_mutex_lock(&s->mu);
}

void scheduler_cancel(struct scheduler *s, const char *owner)
{
	pthread_mutex_lock(&s->mu);
	cancel_locked(s, owner);
	pthread_mutex_unlock(&s->mu);
}

void scheduler_close(struct scheduler *s)
{
	pthread_mutex_lock(&s->mu);
	s->open = false;
	cancel_locked(s, NULL);
	pthread_mutex_unlock(&s->mu);
}

void scheduler_open(struct scheduler *s)
{
	pthread_mutex_lock(&s->mu);
	s->open = true;
	pthread_mutex_unlock(&s->mu);
}

unsigned scheduler_jobs(struct scheduler *s)
{
	unsigned n = 0;
	pthread_mutex_lock(&s->mu);
	for (struct job *j = s->jobs; j; j = j->next)
		n++;
	pthread_mutex_unlock(&s->mu);
	return n;
}
