/* listener.h — HTTP(S) listeners on h2o event loops.
 *
 * Threading model: one event-loop thread per core. Every loop has its own
 * listening socket per configured listener (SO_REUSEPORT; the kernel
 * spreads connections) and its own h2o context. A request is parsed and
 * routed on its loop. One that may run there is queued, and the requests
 * a loop turn read are served together at the end of the turn, as one
 * router batch (router_dispatch_batch: with audit devices enabled, one
 * write per device for all their request entries and one for all their
 * response entries). If the route may block (router_is_slow) the request
 * goes to the shared worker pool and the loop moves on (a write that
 * hashes or verifies a password, router_is_hashing, goes to the small
 * hashing pool instead, and is answered 429 with Retry-After when that
 * pool's queue is full, so a login flood never holds the shared pool);
 * the worker posts
 * the finished job back to the owning loop through h2o's multithread
 * queue, and only that loop writes the reply. A job that outlives the
 * listener's max_request_duration is answered 504 by its loop and freed
 * when the worker's message arrives. Connections that do not finish
 * sending headers within the header timeout (10 s) or TLS handshakes that
 * stall are closed by h2o; bodies over max_request_size are refused with
 * 413 before they are read. HTTP/1.1 only. */
#ifndef TROVE_LISTENER_H
#define TROVE_LISTENER_H

#include "buf.h"
#include "config.h"

struct core;
struct pool;
struct listener_set;

#define LISTENER_HEADER_TIMEOUT_MS 10000
#define LISTENER_HANDSHAKE_TIMEOUT_MS 10000
/* Retry-After (seconds) of a 429 from a full hashing pool. */
#define LISTENER_RETRY_AFTER_S "1"
/* Sum of header name and value bytes; more is refused with 431. */
#define LISTENER_MAX_HEADER_BYTES (64 * 1024)
/* A body longer than this is parsed on the worker pool, never on an
 * event loop, whatever its route. */
#define LISTENER_INLINE_BODY_MAX (64 * 1024)

/* Binds every listener (nthreads sockets each) and starts the loop
 * threads. On failure nothing is left running and err says which address
 * and why. cfg, core and both pools are borrowed and must outlive the
 * set. */
int listeners_start(const struct server_config *cfg, struct core *core, struct pool *pool, struct pool *hash_pool,
		    unsigned nthreads, struct listener_set **out, struct buf *err);
/* Stops the loops, joins the threads, closes the sockets. NULL is fine. */
void listeners_stop(struct listener_set *set);

#endif
