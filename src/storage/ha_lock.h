/* ha_lock.h — the HA lock a storage backend offers (storage "postgresql"
 * with ha_enabled), as the core's HA module (core/ha.h) drives it.
 *
 * One lock per cluster (per table): a holder record with a lease the
 * holder renews, and an epoch that grows by one at each acquisition. The
 * backend's clock, not the nodes', decides when a lease has run out, so
 * nodes whose clocks disagree still agree on who holds it. Every storage
 * write of a node that has fenced itself (fence) carries the epoch it
 * holds and fails (TROVE_ERR_UNAVAILABLE) once another node has taken the
 * lock: a write is either committed before the takeover or not at all
 * (docs/decisions/0014-ha-lock.md).
 *
 * Each node also keeps a heartbeat record (its address, the last time it
 * was seen) for sys/ha-status.
 *
 * The functions may block on the network (bounded by the backend's
 * timeouts); call them from a thread of their own, never an event loop.
 * All are thread-safe. */
#ifndef TROVE_HA_LOCK_H
#define TROVE_HA_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HA_ID_MAX 64
#define HA_ADDR_MAX 256

/* Who a node is: written into the lock when it holds it and into its
 * heartbeat record. */
struct ha_self {
	char node_id[HA_ID_MAX];      /* random, new at each start */
	char hostname[HA_ADDR_MAX];
	char api_addr[HA_ADDR_MAX];     /* e.g. https://10.0.0.1:8200 */
	char cluster_addr[HA_ADDR_MAX]; /* e.g. https://10.0.0.1:8201 */
};

/* The lock's holder as last read. Times are unix milliseconds. */
struct ha_holder {
	struct ha_self node;
	uint64_t epoch;
	int64_t acquired_ms;
};

/* A node's heartbeat record (sys/ha-status). */
struct ha_node {
	struct ha_self node;
	int64_t last_echo_ms;
};

struct ha_lock;

struct ha_lock_ops {
	/* Takes the lock for me when it is free (never held, released, or
	 * its lease ran out), for ttl_ms: 0 with *epoch set, TROVE_ERR_CONFLICT
	 * when another node holds it, TROVE_ERR_UNAVAILABLE when the backend
	 * cannot be reached. */
	int (*acquire)(struct ha_lock *l, const struct ha_self *me, int64_t ttl_ms, uint64_t *epoch);
	/* Extends the lease of the lock held at epoch by ttl_ms: 0,
	 * TROVE_ERR_CONFLICT when it is no longer ours, TROVE_ERR_UNAVAILABLE. */
	int (*renew)(struct ha_lock *l, const struct ha_self *me, uint64_t epoch, int64_t ttl_ms);
	/* Gives up the lock held at epoch (a no-op when not ours). */
	int (*release)(struct ha_lock *l, const struct ha_self *me, uint64_t epoch);
	/* The current holder: 0, TROVE_ERR_NOT_FOUND when nobody holds a
	 * live lease, TROVE_ERR_UNAVAILABLE. */
	int (*holder)(struct ha_lock *l, struct ha_holder *out);
	/* Records me as alive now. */
	int (*heartbeat)(struct ha_lock *l, const struct ha_self *me);
	/* The nodes seen within the last max_age_ms: *out (free()) holds *n. */
	int (*nodes)(struct ha_lock *l, int64_t max_age_ms, struct ha_node **out, size_t *n);
	/* From now on every write of this storage must prove the lock is
	 * held at epoch; 0 lifts the check (a node that never held the lock:
	 * init and unseal write before any node is active). A node that
	 * loses the lock keeps its old epoch here, so its writes in flight
	 * fail, until it acquires again or seals. */
	void (*fence)(struct ha_lock *l, uint64_t epoch);
};

struct ha_lock {
	const struct ha_lock_ops *ops;
	void *impl;
};

#endif
