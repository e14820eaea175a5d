/* lease_call.h — an engine's lease_revoke under a time limit (internal to
 * the expiration manager, expiration.h).
 *
 * A slow engine (a database that stopped answering) must not hold a
 * revocation worker, and with it the token expiries queued behind it, for
 * longer than the limit. The call runs on its own thread (timed_call.h);
 * past the limit the worker moves on and the lease is retried later, as
 * for any failed revocation. The overrunning call keeps a reference to its
 * mount and its own copy of the lease until it returns; while it runs no
 * second call is made for the same lease.
 *
 * Thread-safe. */
#ifndef TROVE_LEASE_CALL_H
#define TROVE_LEASE_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct mount;
struct lease;
struct lease_calls;

struct lease_calls *lease_calls_new(void);
/* Waits for every call still running past its limit to return, then
 * frees. NULL is fine. */
void lease_calls_free(struct lease_calls *s);

/* Calls m's engine lease_revoke for l (the engine must have one) and
 * returns what it returns, with its reason in err. timeout_ms 0: no limit
 * (called on this thread). Past the limit: TROVE_ERR_TIMEOUT, err saying
 * so. A lease whose earlier call is still running is not called again:
 * TROVE_ERR_UPSTREAM, err saying so. */
int lease_call_revoke(struct lease_calls *s, struct mount *m, const struct lease *l, int64_t timeout_ms,
		      struct buf *err);

/* Calls still running past their limit. */
size_t lease_calls_running(struct lease_calls *s);

#endif
