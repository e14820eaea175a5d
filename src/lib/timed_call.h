/* timed_call.h — run a call that may block, waiting for it a bounded time.
 *
 * C cannot interrupt a blocked call, so the call runs on a thread of its
 * own and the caller stops waiting at the deadline. A call that overruns
 * keeps running; what it owns is released by its own thread when it
 * returns (the `done` callback). Used where one slow callee must not hold
 * up everything queued behind it (an engine's lease revocation). */
#ifndef TROVE_TIMED_CALL_H
#define TROVE_TIMED_CALL_H

#include <stdint.h>

/* Runs fn(arg) on a new thread and waits at most timeout_ms for it.
 * Returns 0 with *rc set to fn's return when it finished in time; the
 * caller still owns arg and done is not called. Returns TROVE_ERR_TIMEOUT
 * when it did not: the call runs on and, when fn returns, its thread calls
 * done(arg, rc) (done owns arg from then on; the caller must not touch
 * it). TROVE_ERR_NOMEM when no thread could be started (fn not run; arg
 * still the caller's). */
int timed_call(int (*fn)(void *arg), void *arg, void (*done)(void *arg, int rc), int64_t timeout_ms, int *rc);

#endif
