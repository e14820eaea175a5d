/* pool.h — a bounded pool of worker threads for handlers that may block
 * (fsync, outbound calls, key generation), so the event loops never do. */
#ifndef TROVE_POOL_H
#define TROVE_POOL_H

#include <stddef.h>

struct pool;
typedef void (*pool_fn)(void *arg);

/* Starts nthreads workers with a queue of at most max_queue jobs. */
struct pool *pool_new(unsigned nthreads, size_t max_queue);
/* Queues fn(arg). TROVE_ERR_UNAVAILABLE when the queue is full or the
 * pool is stopping: the caller answers 503 instead of waiting. */
int pool_submit(struct pool *p, pool_fn fn, void *arg);
/* Runs every queued job, stops the workers, frees. NULL is fine. */
void pool_free(struct pool *p);

#endif
