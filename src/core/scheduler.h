/* scheduler.h — timed jobs run on the worker pool: periodic ones (an
 * interval with jitter) and one-shot ones (after a delay).
 *
 * The scheduler owns one timer thread, started with the first job, that
 * hands each job to the worker pool when it falls due; it never runs a job
 * itself. The pool is injected at start-up (scheduler_set_submit): the core
 * does not know the server's pool. A job is refused (and tried again at its
 * next time) when its worker turns out to be an event loop
 * (thread_role.h), and skipped while the gate says this node may not run
 * background work. Runs of one periodic job never overlap.
 *
 * Jobs are grouped by owner (a mount accessor): scheduler_cancel stops
 * every job of an owner and waits for the one running, so that what the
 * job uses can be freed once it returns. All functions are thread-safe;
 * callbacks are called without the scheduler's lock, but must not wait for
 * their own owner's cancellation. */
#ifndef TROVE_SCHEDULER_H
#define TROVE_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

struct scheduler;

typedef void (*sched_fn)(void *arg);
/* Queues fn(arg) to run on a worker soon: 0, or an error when the pool
 * refuses (full, stopping); the job is then tried again shortly. */
typedef int (*sched_submit_fn)(void *ctx, sched_fn fn, void *arg);
/* Whether this node may run background work now. */
typedef bool (*sched_gate_fn)(void *ctx);

struct scheduler *scheduler_new(void);
/* Cancels every job (waiting for those running), stops the timer, frees.
 * NULL is fine. */
void scheduler_free(struct scheduler *s);

/* Where due jobs go. NULL: nowhere (jobs wait; set it to NULL before the
 * pool stops). */
void scheduler_set_submit(struct scheduler *s, sched_submit_fn submit, void *ctx);
/* The "may this node run background work" predicate; NULL: always. Called
 * with the scheduler's lock held: it must not call the scheduler. */
void scheduler_set_gate(struct scheduler *s, sched_gate_fn gate, void *ctx);

/* Runs fn(arg) every interval_ms, each wait drawn uniformly within
 * jitter_pct percent of it (0-100), the first one interval away.
 * arg_free(arg) (may be NULL) is called when the job is cancelled.
 * TROVE_ERR_INVALID for interval 0 or a jitter over 100; TROVE_ERR_SEALED
 * while closed; on an error arg stays the caller's. */
int scheduler_every(struct scheduler *s, const char *owner, uint64_t interval_ms, unsigned jitter_pct, sched_fn fn,
		    void *arg, void (*arg_free)(void *arg));
/* Runs fn(arg) once, delay_ms from now. arg_free(arg) (may be NULL) is
 * called after the run, or at cancellation when it never ran. On an error
 * (TROVE_ERR_SEALED while closed) arg stays the caller's. */
int scheduler_once(struct scheduler *s, const char *owner, uint64_t delay_ms, sched_fn fn, void *arg,
		   void (*arg_free)(void *arg));

/* Removes every job of owner and waits for its run in progress (not when
 * called from that run itself). */
void scheduler_cancel(struct scheduler *s, const char *owner);
/* Cancels every job, waits for the runs in progress, and refuses new jobs
 * (TROVE_ERR_SEALED) until scheduler_open. For seal. */
void scheduler_close(struct scheduler *s);
void scheduler_open(struct scheduler *s);

/* For tests and metrics: jobs known (queued, waiting or running). */
unsigned scheduler_jobs(struct scheduler *s);

#endif
