/* standby.h — whether an HA standby serves a request itself (core/ha.h):
 * a request only the active node serves goes to it, forwarded
 * (forward.h) or, where it cannot be or the client asks, redirected (307,
 * same path and query); with no active node known it is answered 503. A
 * few paths it answers itself: sys/health, sys/leader, sys/seal-status,
 * sys/init, sys/unseal, sys/seal (they concern this node, or must work
 * before any node is active). */
#ifndef TROVE_STANDBY_H
#define TROVE_STANDBY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct core;

/* Whether a standby answers the logical path (no /v1/) itself. Pure. */
bool standby_answers_itself(const char *path);

/* For a request of logical path `path`, sent as raw (the request target:
 * "/v1/...?query", raw_len bytes): 0 to serve it here (also on a sealed
 * node, which the router answers 503 "Vault is sealed"); 307 with the
 * active node's URL for it appended to location; 503 when it must not be
 * served here and no active node is known. */
int standby_decision(struct core *core, const char *path, const char *raw, size_t raw_len, struct buf *location);

/* The message of that 503, Vault's. */
#define STANDBY_NO_ACTIVE "local node not active but active cluster node not found"

#endif
