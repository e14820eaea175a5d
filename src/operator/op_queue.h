/* op_queue.h — the operator's rate-limited work queue of string keys.
 *
 * The semantics of client-go's workqueue as controller-runtime uses it:
 *   - a key is queued at most once (dedup); adding a queued key is a no-op;
 *   - a key handed out by op_queue_get is "processing" until op_queue_done:
 *     no other op_queue_get returns it meanwhile, and an add during that
 *     time makes it come back once, after op_queue_done;
 *   - delayed adds wait in one timer heap (no thread or timer per key); a
 *     key already waiting keeps the earlier of its two times, and an
 *     immediate add of a waiting key takes it out of the heap (the
 *     reconcile it triggers decides the next time);
 *   - op_queue_add_rate_limited (a failed reconcile) delays the key by the
 *     larger of its own exponential backoff (base doubling per failure up
 *     to max, reset by op_queue_forget) and a token bucket shared by all
 *     keys (qps, burst), so a storm of failures cannot hammer Trove or the
 *     API server;
 *   - op_queue_shutdown wakes every waiter: op_queue_get returns NULL at
 *     once from then on (queued keys are dropped, not drained), adds are
 *     ignored, op_queue_done still works.
 * All functions are safe from any thread. */
#ifndef TROVE_OPERATOR_OP_QUEUE_H
#define TROVE_OPERATOR_OP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

/* client-go's DefaultControllerRateLimiter, which VSO keeps: 5 ms
 * doubling to 1000 s per key, and 10 adds a second with a burst of 100
 * over all keys. */
#define OP_QUEUE_BASE_DELAY_MS 5L
#define OP_QUEUE_MAX_DELAY_MS 1000000L
#define OP_QUEUE_QPS 10.0
#define OP_QUEUE_BURST 100

struct op_queue_opts {
	long base_delay_ms; /* <= 0: OP_QUEUE_BASE_DELAY_MS */
	long max_delay_ms;  /* <= 0: OP_QUEUE_MAX_DELAY_MS */
	double qps;         /* <= 0: OP_QUEUE_QPS */
	int burst;          /* <= 0: OP_QUEUE_BURST */
};

struct op_queue;

/* A new empty queue; opts NULL for the defaults. NULL on allocation
 * failure. */
struct op_queue *op_queue_new(const struct op_queue_opts *opts);
/* Frees the queue and every key in it. Call after every thread stopped
 * using it. NULL-safe. */
void op_queue_free(struct op_queue *q);

/* Queues key (copied) after delay_ms (<= 0: now), as described above. */
void op_queue_add(struct op_queue *q, const char *key, long delay_ms);
/* Records a failure of key and queues it after the rate limiter's delay.
 * Returns that delay in milliseconds (-1 after shutdown). */
long op_queue_add_rate_limited(struct op_queue *q, const char *key);
/* Clears key's failure count (its next failure waits base_delay_ms). */
void op_queue_forget(struct op_queue *q, const char *key);
/* How many failures key has had since it was last forgotten. */
unsigned op_queue_failures(struct op_queue *q, const char *key);

/* Blocks until a key is due and not being processed, or until shutdown.
 * Returns the key, marked processing, borrowed until op_queue_done(q, it);
 * NULL after shutdown. */
const char *op_queue_get(struct op_queue *q);
/* As op_queue_get, waiting at most timeout_ms; NULL on timeout too. */
const char *op_queue_get_timed(struct op_queue *q, long timeout_ms);
/* Ends the processing of key (as op_queue_get returned it); re-queues it
 * when it was added meanwhile. key must not be used after. */
void op_queue_done(struct op_queue *q, const char *key);

/* Keys due now and waiting for a worker (the depth gauge). */
size_t op_queue_len(struct op_queue *q);
/* Keys waiting in the timer heap. */
size_t op_queue_delayed(struct op_queue *q);

/* Stops the queue and wakes every waiter (see above). Idempotent. */
void op_queue_shutdown(struct op_queue *q);
bool op_queue_shutting_down(struct op_queue *q);
/* Waits until no key is processing or timeout_ms passed. Returns true
 * when none is. */
bool op_queue_wait_idle(struct op_queue *q, long timeout_ms);

#endif
