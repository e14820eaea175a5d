/* ha.h — high availability: this node's role among Trove nodes sharing
 * one storage (storage "postgresql" with ha_enabled; docs/ha.md).
 *
 * One node is active: it holds the storage's HA lock (storage/ha_lock.h)
 * and is the only one that serves requests that need the active node and
 * runs background work (the expiration manager, the mounts' periodic and
 * one-shot jobs). The others are standbys: unsealed, holding no lock,
 * answering what a standby answers itself (sys/health, sys/leader, ...)
 * and redirecting the rest to the active node. Without HA the role is
 * HA_ROLE_DISABLED and the node does everything, as a single node.
 *
 *   disabled                            (no HA configured; never changes)
 *   standby  --lock acquired-->  active (become-active hooks run first)
 *   active   --lock lost, step-down, seal-->  stepping_down
 *   stepping_down --lose-active hooks done-->  standby
 *
 * The core owns the struct ha (core_ha; it lives as long as the core).
 * The server starts the lock thread (ha_start) once storage and core are
 * up and stops it (ha_stop) before the core is freed.
 *
 * All functions are thread-safe. ha_role is one atomic load; ha_may_serve
 * adds a monotonic clock read (active) or a short lock (standby): cheap
 * enough for every request, and safe on an event loop. */
#ifndef TROVE_HA_H
#define TROVE_HA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "storage/ha_lock.h"

struct core;
struct ha;

enum ha_role {
	HA_ROLE_DISABLED = 0, /* no HA: this node is the whole cluster */
	HA_ROLE_STANDBY,      /* unsealed or sealed, not holding the lock */
	HA_ROLE_ACTIVE,       /* holds the lock; hooks have run */
	HA_ROLE_STEPPING_DOWN /* lost the lock: stopping what only the active
	                       * node runs; answers 503 meanwhile */
};

/* "disabled", "standby", "active", "stepping_down". */
const char *ha_role_name(enum ha_role r);

/* This node's role now. h may be NULL (HA_ROLE_DISABLED). */
enum ha_role ha_role(const struct ha *h);
/* Whether HA is configured (the role is not HA_ROLE_DISABLED). */
bool ha_enabled(const struct ha *h);

/* --- who is active --------------------------------------------------- */

struct ha_leader {
	bool known;   /* an active node is known (false: none, or unknown) */
	bool is_self; /* it is this node */
	char api_addr[HA_ADDR_MAX];
	char cluster_addr[HA_ADDR_MAX];
	char node_id[HA_ID_MAX];
	int64_t active_since_ms; /* unix ms the holder acquired the lock */
};
/* The active node as the lock thread last saw it (at most one retry
 * interval old), copied out under the module's lock. */
void ha_leader(struct ha *h, struct ha_leader *out);

/* --- may this request be served here? -------------------------------- */

enum ha_serve {
	HA_SERVE_HERE,      /* active (within the lease it last renewed), or
	                     * HA disabled */
	HA_SERVE_REDIRECT,  /* standby with an active node known: 307 to it */
	HA_SERVE_UNAVAILABLE /* no active node known, or stepping down: 503 */
};
/* For a request that needs the active node (everything but the routes a
 * standby answers itself). A standby that serves reads (ha_set_standby_
 * reads) is asked by its own code, not by this. */
enum ha_serve ha_may_serve(const struct ha *h);
/* Whether background work (the scheduler's gate, the expiration timer)
 * may run on this node now: HA disabled or active. */
bool ha_may_run_background(const struct ha *h);

/* The URL a standby redirects a request to: the active node's api_addr
 * (any trailing '/' dropped) followed by path_and_query as the client
 * sent it ("/v1/secret/data/a?version=2"). Appends to out; 0, or
 * TROVE_ERR_INVALID when api_addr is empty or path_and_query does not
 * start with '/'. Pure. */
int ha_redirect_url(const char *api_addr, const char *path_and_query, struct buf *out);

/* --- hooks ----------------------------------------------------------- */

/* Called on the lock thread: became_active after the lock is acquired and
 * before the role reads HA_ROLE_ACTIVE (so a request served as active
 * finds what the hook started); losing_active after the role reads
 * HA_ROLE_STEPPING_DOWN and before HA_ROLE_STANDBY. Either may be NULL.
 * They must not call ha_start/ha_stop. */
struct ha_hooks {
	void (*became_active)(void *ctx, struct core *c);
	void (*losing_active)(void *ctx, struct core *c);
	void *ctx;
};
/* Registers hooks, called in registration order on becoming active and
 * in reverse order on losing it. At most HA_MAX_HOOKS; TROVE_ERR_NOMEM
 * past it. Register before ha_start. */
#define HA_MAX_HOOKS 16
int ha_register_hooks(struct ha *h, const struct ha_hooks *hooks);

/* --- the lock thread ------------------------------------------------- */

struct ha_config {
	struct ha_self self;  /* api_addr and cluster_addr required */
	int64_t lock_ttl_ms;  /* lease the active renews; 0: HA_DEFAULT_TTL_MS */
	int64_t retry_ms;     /* a standby's attempts, the active's renewals
	                       * (at most ttl/3); 0: HA_DEFAULT_RETRY_MS */
	int64_t step_down_wait_ms; /* after sys/step-down, no attempt for this
	                            * long; 0: HA_DEFAULT_STEP_DOWN_WAIT_MS */
};
#define HA_DEFAULT_TTL_MS 3000
#define HA_DEFAULT_RETRY_MS 500
#define HA_DEFAULT_STEP_DOWN_WAIT_MS 10000

/* Starts the lock thread over lock (borrowed; it must outlive ha_stop):
 * the role becomes standby, and an unsealed node tries the lock every
 * retry_ms. Copies cfg. TROVE_ERR_INVALID without api_addr, TROVE_ERR_CONFLICT
 * when already started. */
int ha_start(struct ha *h, struct ha_lock *lock, const struct ha_config *cfg);
/* Steps down if active (hooks run, lock released) and joins the thread.
 * Idempotent. The role then stays standby with no active known (what
 * needs the active answers 503) until the process ends; never started,
 * it stays disabled. */
void ha_stop(struct ha *h);

/* sys/step-down: releases the lock (when active) and makes no attempt to
 * take it again for step_down_wait_ms. Returns once the role is no
 * longer active. 0, or TROVE_ERR_INVALID when HA is not enabled. */
int ha_step_down(struct ha *h);

/* The nodes seen recently (sys/ha-status): *out (free()) holds *n.
 * TROVE_ERR_INVALID when HA is not enabled. */
int ha_nodes(struct ha *h, struct ha_node **out, size_t *n);

/* This node's own identity (valid after ha_start). */
const struct ha_self *ha_self(const struct ha *h);

/* For standbys that serve reads (performance standbys): set by that
 * code; sys/health answers 473 for such a standby. */
void ha_set_standby_reads(struct ha *h, bool on);
bool ha_standby_reads(const struct ha *h);

/* For the core: create and free (core.c); the lock thread watches
 * whether c is sealed (a sealed node never holds the lock). */
struct ha *ha_new(struct core *c);
void ha_free(struct ha *h);
/* The core's HA state. Never NULL. */
struct ha *core_ha(struct core *c);

#endif
