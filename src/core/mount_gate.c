/* mount_gate.c — in-flight count and disabling mark of a mount (see
 * mount_gate.h).
 *
 * Two sequentially consistent atomics and no lock on the request path:
 * enter increments the count and then reads the mark; close sets the mark
 * and then reads the count. Whatever the interleaving, either the request
 * sees the mark (and leaves at once) or the closer sees the request (and
 * waits for it). The closer polls: disabling a mount is rare, and a
 * condition variable would put a lock on every request's way out. */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "mount_gate.h"

#include "buf.h"
#include "err.h"

#include "banned.h"

#define POLL_NS 1000000L /* 1 ms */

struct mount_gate {
	atomic_int refs;
	atomic_long inside;
	atomic_bool closed;
};

struct mount_gate *mount_gate_new(void)
{
	struct mount_gate *g = xcalloc(1, sizeof(*g));
	atomic_init(&g->refs, 1);
	atomic_init(&g->inside, 0);
	atomic_init(&g->closed, false);
	return g;
}

void mount_gate_ref(struct mount_gate *g)
{
	atomic_fetch_add(&g->refs, 1);
}

void mount_gate_release(struct mount_gate *g)
{
	if (g && atomic_fetch_sub(&g->refs, 1) == 1)
		free(g);
}

bool mount_gate_enter(struct mount_gate *g)
{
	atomic_fetch_add(&g->inside, 1);
	if (atomic_load(&g->closed)) {
		atomic_fetch_sub(&g->inside, 1);
		return false;
	}
	return true;
}

void mount_gate_leave(struct mount_gate *g)
{
	atomic_fetch_sub(&g->inside, 1);
}

int mount_gate_close(struct mount_gate *g, unsigned timeout_ms)
{
	bool was = false;
	if (!atomic_compare_exchange_strong(&g->closed, &was, true))
		return TROVE_ERR_CONFLICT;
	struct timespec pause = {0, POLL_NS};
	for (unsigned waited = 0; atomic_load(&g->inside) > 0; waited++) {
		if (waited >= timeout_ms) {
			atomic_store(&g->closed, false);
			return TROVE_ERR_TIMEOUT;
		}
		nanosleep(&pause, NULL);
	}
	return 0;
}

void mount_gate_open(struct mount_gate *g)
{
	atomic_store(&g->closed, false);
}
