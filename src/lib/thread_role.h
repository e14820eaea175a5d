/* thread_role.h — whether the calling thread is an event loop.
 *
 * An event loop serves every connection it holds: one call that blocks on
 * it (an outbound HTTPS request, a background job) stalls them all. The
 * listener marks its loop threads once at start; services that may block
 * (core/outbound.h, core/scheduler.h) refuse to run on a marked thread. */
#ifndef TROVE_THREAD_ROLE_H
#define TROVE_THREAD_ROLE_H

#include <stdbool.h>

/* Marks (on) or unmarks the calling thread as an event-loop thread. */
void thread_role_set_loop(bool on);
/* Whether the calling thread is marked as an event loop. */
bool thread_role_on_loop(void);

#endif
