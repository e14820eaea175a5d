/* ha.c — the node's HA role and the lock thread that moves it.
 *
 * One thread per node (ha_start) runs a loop every retry interval:
 *  - a standby that is unsealed tries the lock; when it gets it, it fences
 *    its storage writes with the new epoch, runs the become-active work
 *    (the core reloads what it keeps from storage and starts the
 *    expiration manager; registered hooks follow), and only then reads
 *    as active;
 *  - the active node renews its lease; when the lock turns out to be
 *    someone else's, or it could not renew for longer than the lease
 *    minus one retry interval (the database's view of the lease may then
 *    be gone), or the node is sealed or asked to step down, it steps
 *    down: the role reads stepping_down (requests that need the active
 *    answer 503), the hooks stop what only the active runs, the lock is
 *    released, and the role reads standby;
 *  - every node records a heartbeat and refreshes its view of the holder.
 *
 * The role is one atomic: requests read it without a lock. The leader's
 * addresses are copied under `mu`. The lock thread is the only writer of
 * the role, so transitions never race each other. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ha.h"
#include "core.h"
#include "core_impl.h"

#include "clock.h"
#include "err.h"
#include "log.h"

#include "banned.h"

/* Nodes whose heartbeat is older than this are not listed. */
#define NODE_MAX_AGE_MS 30000

struct ha {
	struct core *core;
	_Atomic int role; /* enum ha_role */
	/* Monotonic ms until which the active node's lease is surely its
	 * own (its last renewal's start + ttl - one retry): past it the node
	 * serves nothing that needs the active, even if its lock thread is
	 * stuck in a call to an unreachable database. */
	_Atomic int64_t active_until_ms;
	atomic_bool standby_reads;

	pthread_mutex_t mu; /* guards what follows */
	pthread_cond_t cv;  /* wakes the thread: stop, step-down */
	struct ha_leader leader;
	struct ha_hooks hooks[HA_MAX_HOOKS];
	size_t nhooks;
	bool started, stop, step_down;
	uint64_t downs; /* step-downs done, for ha_step_down's wait */
	int64_t no_attempt_until_ms; /* monotonic */

	/* the thread's own (set before it starts) */
	pthread_t thread;
	struct ha_lock *lock;
	struct ha_config cfg;
	uint64_t epoch;
};

static int64_t now_ms(void)
{
	return clock_monotonic_ns() / 1000000;
}

const char *ha_role_name(enum ha_role r)
{
	switch (r) {
	case HA_ROLE_STANDBY:
		return "standby";
	case HA_ROLE_ACTIVE:
		return "active";
	case HA_ROLE_STEPPING_DOWN:
		return "stepping_down";
	case HA_ROLE_DISABLED:
		break;
	}
	return "disabled";
}

enum ha_role ha_role(const struct ha *h)
{
	return h ? (enum ha_role)atomic_load(&((struct ha *)h)->role) : HA_ROLE_DISABLED;
}

bool ha_enabled(const struct ha *h)
{
	return ha_role(h) != HA_ROLE_DISABLED;
}

enum ha_serve ha_may_serve(const struct ha *h)
{
	switch (ha_role(h)) {
	case HA_ROLE_DISABLED:
		return HA_SERVE_HERE;
	case HA_ROLE_ACTIVE:
		return now_ms() < atomic_load(&((struct ha *)h)->active_until_ms) ? HA_SERVE_HERE : HA_SERVE_UNAVAILABLE;
	case HA_ROLE_STEPPING_DOWN:
		return HA_SERVE_UNAVAILABLE;
	case HA_ROLE_STANDBY:
		break;
	}
	struct ha *m = (struct ha *)h;
	pthread_mutex_lock(&m->mu);
	bool known = m->leader.known && !m->leader.is_self && m->leader.api_addr[0];
	pthread_mutex_unlock(&m->mu);
	return known ? HA_SERVE_REDIRECT : HA_SERVE_UNAVAILABLE;
}

bool ha_may_run_background(const struct ha *h)
{
	enum ha_role r = ha_role(h);
	return r == HA_ROLE_DISABLED || r == HA_ROLE_ACTIVE;
}

int ha_redirect_url(const char *api_addr, const char *path_and_query, struct buf *out)
{
	size_t n = api_addr ? strlen(api_addr) : 0;
	while (n > 0 && api_addr[n - 1] == '/')
		n--;
	if (n == 0 || !path_and_query || path_and_query[0] != '/')
		return TROVE_ERR_INVALID;
	buf_append(out, api_addr, n);
	buf_append_str(out, path_and_query);
	return 0;
}

void ha_leader(struct ha *h, struct ha_leader *out)
{
	pthread_mutex_lock(&h->mu);
	*out = h->leader;
	pthread_mutex_unlock(&h->mu);
}

int ha_register_hooks(struct ha *h, const struct ha_hooks *hooks)
{
	int r = TROVE_ERR_NOMEM;
	pthread_mutex_lock(&h->mu);
	if (h->nhooks < HA_MAX_HOOKS) {
		h->hooks[h->nhooks++] = *hooks;
		r = 0;
	}
	pthread_mutex_unlock(&h->mu);
	return r;
}

const struct ha_self *ha_self(const struct ha *h)
{
	return &h->cfg.self;
}

void ha_set_standby_reads(struct ha *h, bool on)
{
	atomic_store(&h->standby_reads, on);
}

bool ha_standby_reads(const struct ha *h)
{
	return atomic_load(&((struct ha *)h)->standby_reads);
}

struct ha *ha_new(struct core *c)
{
	struct ha *h = xcalloc(1, sizeof(*h));
	h->core = c;
	atomic_init(&h->role, HA_ROLE_DISABLED);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	return h;
}

void ha_free(struct ha *h)
{
	if (!h)
		return;
	ha_stop(h);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* --- transitions (lock thread only) ------------------------------------ */

static void set_leader_self(struct ha *h)
{
	pthread_mutex_lock(&h->mu);
	memset(&h->leader, 0, sizeof(h->leader));
	h->leader.known = true;
	h->leader.is_self = true;
	memcpy(h->leader.api_addr, h->cfg.self.api_addr, sizeof(h->leader.api_addr));
	memcpy(h->leader.cluster_addr, h->cfg.self.cluster_addr, sizeof(h->leader.cluster_addr));
	memcpy(h->leader.node_id, h->cfg.self.node_id, sizeof(h->leader.node_id));
	h->leader.active_since_ms = clock_realtime_ns() / 1000000;
	pthread_mutex_unlock(&h->mu);
}

static void refresh_leader(struct ha *h)
{
	struct ha_holder who;
	int r = h->lock->ops->holder(h->lock, &who);
	pthread_mutex_lock(&h->mu);
	if (r == 0) {
		memset(&h->leader, 0, sizeof(h->leader));
		h->leader.known = true;
		h->leader.is_self = strcmp(who.node.node_id, h->cfg.self.node_id) == 0;
		memcpy(h->leader.api_addr, who.node.api_addr, sizeof(h->leader.api_addr));
		memcpy(h->leader.cluster_addr, who.node.cluster_addr, sizeof(h->leader.cluster_addr));
		memcpy(h->leader.node_id, who.node.node_id, sizeof(h->leader.node_id));
		h->leader.active_since_ms = who.acquired_ms;
	} else {
		/* nobody, or the database is out of reach: no active known */
		h->leader.known = false;
	}
	pthread_mutex_unlock(&h->mu);
}

static void become_active(struct ha *h)
{
	struct ha_hooks hooks[HA_MAX_HOOKS];
	size_t n;

	h->lock->ops->fence(h->lock, h->epoch);
	if (core_ha_activate(h->core) != 0) {
		/* sealed meanwhile, or storage failed: give the lock back */
		log_warn("HA: could not become active; releasing the lock");
		h->lock->ops->release(h->lock, &h->cfg.self, h->epoch);
		return;
	}
	pthread_mutex_lock(&h->mu);
	n = h->nhooks;
	memcpy(hooks, h->hooks, n * sizeof(hooks[0]));
	pthread_mutex_unlock(&h->mu);
	for (size_t i = 0; i < n; i++)
		if (hooks[i].became_active)
			hooks[i].became_active(hooks[i].ctx, h->core);
	set_leader_self(h);
	atomic_store(&h->role, HA_ROLE_ACTIVE);
	log_info("HA: this node is now active", "api_addr", h->cfg.self.api_addr);
}

static void step_down(struct ha *h, const char *why)
{
	struct ha_hooks hooks[HA_MAX_HOOKS];
	size_t n;

	atomic_store(&h->role, HA_ROLE_STEPPING_DOWN);
	log_warn("HA: stepping down", "reason", why);
	pthread_mutex_lock(&h->mu);
	n = h->nhooks;
	memcpy(hooks, h->hooks, n * sizeof(hooks[0]));
	h->leader.known = false;
	pthread_mutex_unlock(&h->mu);
	for (size_t i = n; i-- > 0;)
		if (hooks[i].losing_active)
			hooks[i].losing_active(hooks[i].ctx, h->core);
	core_ha_deactivate(h->core);
	/* The fence keeps the old epoch: anything still in flight fails. */
	(void)h->lock->ops->release(h->lock, &h->cfg.self, h->epoch);
	atomic_store(&h->role, HA_ROLE_STANDBY);
	pthread_mutex_lock(&h->mu);
	h->downs++;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	log_info("HA: this node is now a standby");
}

static void *lock_main(void *arg)
{
	struct ha *h = arg;
	const struct ha_lock_ops *ops = h->lock->ops;
	int64_t ttl = h->cfg.lock_ttl_ms, retry = h->cfg.retry_ms;
	int64_t deadline = 0; /* monotonic ms: the active's lease, as it last knew it */

	for (;;) {
		pthread_mutex_lock(&h->mu);
		bool stop = h->stop, down = h->step_down;
		h->step_down = false;
		int64_t quiet_until = h->no_attempt_until_ms;
		pthread_mutex_unlock(&h->mu);
		bool sealed = core_sealed(h->core);
		enum ha_role role = ha_role(h);

		if (role == HA_ROLE_ACTIVE) {
			int64_t sent = now_ms();
			int r = stop || sealed || down ? TROVE_ERR_CONFLICT
			                               : ops->renew(h->lock, &h->cfg.self, h->epoch, ttl);
			if (r == 0) {
				deadline = sent + ttl - retry;
				atomic_store(&h->active_until_ms, deadline);
			}
			if (r == TROVE_ERR_CONFLICT || (r != 0 && now_ms() >= deadline))
				step_down(h, stop ? "shutting down" : sealed ? "sealed" : down ? "step-down requested"
				                   : r == TROVE_ERR_CONFLICT ? "the lock is held by another node"
				                                             : "the lock could not be renewed in time");
		} else if (!stop && !sealed && now_ms() >= quiet_until) {
			int64_t sent = now_ms();
			if (ops->acquire(h->lock, &h->cfg.self, ttl, &h->epoch) == 0) {
				deadline = sent + ttl - retry;
				atomic_store(&h->active_until_ms, deadline);
				become_active(h);
			}
		}
		if (sealed && ha_role(h) == HA_ROLE_STANDBY)
			ops->fence(h->lock, 0); /* sealed: the next unseal may write */
		if (ha_role(h) != HA_ROLE_ACTIVE)
			refresh_leader(h);
		(void)ops->heartbeat(h->lock, &h->cfg.self);
		if (stop)
			break;

		pthread_mutex_lock(&h->mu);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t ns = (int64_t)ts.tv_nsec + (retry % 1000) * 1000000;
		ts.tv_sec += (time_t)(retry / 1000 + ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		if (!h->stop && !h->step_down)
			pthread_cond_timedwait(&h->cv, &h->mu, &ts);
		pthread_mutex_unlock(&h->mu);
	}
	return NULL;
}

int ha_start(struct ha *h, struct ha_lock *lock, const struct ha_config *cfg)
{
	pthread_condattr_t ca;

	if (!cfg->self.api_addr[0] || !lock)
		return TROVE_ERR_INVALID;
	pthread_mutex_lock(&h->mu);
	if (h->started) {
		pthread_mutex_unlock(&h->mu);
		return TROVE_ERR_CONFLICT;
	}
	h->started = true;
	h->stop = false;
	pthread_mutex_unlock(&h->mu);
	h->lock = lock;
	h->cfg = *cfg;
	if (h->cfg.lock_ttl_ms <= 0)
		h->cfg.lock_ttl_ms = HA_DEFAULT_TTL_MS;
	if (h->cfg.retry_ms <= 0)
		h->cfg.retry_ms = HA_DEFAULT_RETRY_MS;
	if (h->cfg.retry_ms > h->cfg.lock_ttl_ms / 3)
		h->cfg.retry_ms = h->cfg.lock_ttl_ms / 3 > 0 ? h->cfg.lock_ttl_ms / 3 : 1;
	if (h->cfg.step_down_wait_ms <= 0)
		h->cfg.step_down_wait_ms = HA_DEFAULT_STEP_DOWN_WAIT_MS;
	/* the waits are on the monotonic clock */
	pthread_cond_destroy(&h->cv);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_store(&h->role, HA_ROLE_STANDBY);
	if (pthread_create(&h->thread, NULL, lock_main, h) != 0) {
		atomic_store(&h->role, HA_ROLE_DISABLED);
		pthread_mutex_lock(&h->mu);
		h->started = false;
		pthread_mutex_unlock(&h->mu);
		return TROVE_ERR_NOMEM;
	}
	return 0;
}

void ha_stop(struct ha *h)
{
	pthread_mutex_lock(&h->mu);
	bool started = h->started;
	h->stop = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (!started)
		return;
	pthread_join(h->thread, NULL);
	/* Still a standby, with no active known: until the listeners stop,
	 * what needs the active answers 503 here. */
	pthread_mutex_lock(&h->mu);
	h->started = false;
	h->leader.known = false;
	pthread_mutex_unlock(&h->mu);
}

int ha_step_down(struct ha *h)
{
	if (!ha_enabled(h))
		return TROVE_ERR_INVALID;
	pthread_mutex_lock(&h->mu);
	h->no_attempt_until_ms = now_ms() + h->cfg.step_down_wait_ms;
	if (ha_role(h) == HA_ROLE_ACTIVE) {
		uint64_t downs = h->downs;
		h->step_down = true;
		pthread_cond_broadcast(&h->cv);
		while (h->downs == downs && h->started && !h->stop)
			pthread_cond_wait(&h->cv, &h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return 0;
}

int ha_nodes(struct ha *h, struct ha_node **out, size_t *n)
{
	if (!ha_enabled(h))
		return TROVE_ERR_INVALID;
	return h->lock->ops->nodes(h->lock, NODE_MAX_AGE_MS, out, n);
}
