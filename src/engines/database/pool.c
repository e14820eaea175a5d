/* pool.c — open connections of one database connection config: at most
 * max_open at once, idle ones kept for reuse, every wait bounded by the
 * caller's deadline. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "database.h"

#include "err.h"

#include "banned.h"

struct pconn {
	struct db_conn *c;
	int64_t born_ms, idle_since_ms;
	bool alone; /* handed out by db_pool_get_alone */
	struct pconn *next;
};

struct db_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool closed;
	const struct db_plugin *plugin;
	struct db_connect_params params;
	struct db_pool_limits lim;
	int64_t open, nidle;
	struct pconn *idle, *busy;
	/* db_pool_get_alone: callers waiting for the pool to empty, and
	 * whether one of them holds it; db_pool_get waits while either. */
	int alone_waiting;
	bool alone_held;
};

struct db_pool *db_pool_new(const struct db_plugin *plugin, struct db_connect_params *params,
                            const struct db_pool_limits *limits)
{
	struct db_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->refs = 1;
	p->plugin = plugin;
	p->params = *params;
	memset(params, 0, sizeof(*params));
	p->lim = *limits;
	if (p->lim.max_open <= 0)
		p->lim.max_open = DB_MAX_OPEN_DEFAULT;
	if (p->lim.max_idle == 0 || p->lim.max_idle > p->lim.max_open)
		p->lim.max_idle = p->lim.max_open;
	return p;
}

void db_pool_ref(struct db_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->refs++;
	pthread_mutex_unlock(&p->mu);
}

/* Disconnects a list of connections taken out of the pool. */
static void close_list(const struct db_plugin *plugin, struct pconn *l)
{
	while (l) {
		struct pconn *n = l->next;
		plugin->disconnect(l->c);
		free(l);
		l = n;
	}
}

void db_pool_close(struct db_pool *p)
{
	pthread_mutex_lock(&p->mu);
	struct pconn *idle = p->idle;
	p->closed = true;
	p->idle = NULL;
	p->open -= p->nidle;
	p->nidle = 0;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	close_list(p->plugin, idle);
}

void db_pool_unref(struct db_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	bool last = --p->refs == 0;
	pthread_mutex_unlock(&p->mu);
	if (!last)
		return;
	close_list(p->plugin, p->idle);
	close_list(p->plugin, p->busy); /* none: a busy connection holds a reference */
	db_connect_params_release(&p->params);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static bool too_old(const struct db_pool *p, const struct pconn *e, int64_t now)
{
	return p->lim.max_lifetime_ms > 0 && now - e->born_ms >= p->lim.max_lifetime_ms;
}

/* Moves e to the busy list (p->mu held). */
static void mark_busy(struct db_pool *p, struct pconn *e)
{
	e->next = p->busy;
	p->busy = e;
}

/* Takes the entry of c off the busy list (p->mu held). */
static struct pconn *take_busy(struct db_pool *p, const struct db_conn *c)
{
	for (struct pconn **pp = &p->busy; *pp; pp = &(*pp)->next) {
		if ((*pp)->c == c) {
			struct pconn *e = *pp;
			*pp = e->next;
			e->next = NULL;
			return e;
		}
	}
	return NULL;
}

/* Ends a connection that was counted open (p->mu not held). */
static void discard(struct db_pool *p, struct pconn *e)
{
	p->plugin->disconnect(e->c);
	free(e);
	pthread_mutex_lock(&p->mu);
	p->open--;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static int wait_until(struct db_pool *p, int64_t deadline_ms)
{
	struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
	return pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

/* A new connection for a slot already counted in p->open (and, when
 * alone, with p->alone_held set for it). */
static int open_new(struct db_pool *p, bool alone, int64_t deadline_ms, struct db_conn **out, char **why)
{
	struct db_connect_params cp = p->params;
	struct db_conn *c = NULL;
	cp.deadline_ms = deadline_ms;
	int r = p->plugin->connect(&cp, &c, why);
	pthread_mutex_lock(&p->mu);
	if (r != 0) {
		p->open--;
		p->alone_held = p->alone_held && !alone;
		pthread_cond_broadcast(&p->cv);
	} else {
		struct pconn *e = calloc(1, sizeof(*e));
		if (!e) {
			p->open--;
			p->alone_held = p->alone_held && !alone;
			pthread_cond_broadcast(&p->cv);
			pthread_mutex_unlock(&p->mu);
			p->plugin->disconnect(c);
			return TROVE_ERR_NOMEM;
		}
		e->c = c;
		e->alone = alone;
		e->born_ms = db_now_ms();
		mark_busy(p, e);
		*out = c;
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

/* Whether a get (alone or not) must wait for db_pool_get_alone callers:
 * a plain get while one waits or holds the pool, an alone get while any
 * connection is in use (p->mu held). */
static bool held_back(const struct db_pool *p, bool alone)
{
	if (p->alone_held)
		return true;
	return alone ? p->open - p->nidle > 0 : p->alone_waiting > 0;
}

/* Marks the pool held by an alone get that found its connection, or lets
 * it go again when that connection proved unusable (p->mu held). */
static void hold(struct db_pool *p, bool alone, bool on)
{
	if (!alone)
		return;
	p->alone_held = on;
	p->alone_waiting += on ? -1 : 1;
	if (!on)
		pthread_cond_broadcast(&p->cv);
}

static int pool_get(struct db_pool *p, bool alone, int64_t deadline_ms, struct db_conn **out, char **why)
{
	*out = NULL;
	pthread_mutex_lock(&p->mu);
	p->alone_waiting += alone;
	for (;;) {
		if (p->closed) {
			p->alone_waiting -= alone;
			pthread_cond_broadcast(&p->cv);
			pthread_mutex_unlock(&p->mu);
			if (why)
				*why = xstrdup("the connection was reset; try again");
			return TROVE_ERR_UNAVAILABLE;
		}
		int64_t now = db_now_ms();
		bool held = held_back(p, alone);
		if (!held && p->idle) {
			struct pconn *e = p->idle;
			p->idle = e->next;
			p->nidle--;
			mark_busy(p, e);
			hold(p, alone, true);
			e->alone = alone;
			bool old = too_old(p, e, now);
			bool check = !old && now - e->idle_since_ms > p->lim.ping_idle_ms;
			if (!old && !check) {
				*out = e->c;
				pthread_mutex_unlock(&p->mu);
				return 0;
			}
			pthread_mutex_unlock(&p->mu);
			if (!old && p->plugin->ping(e->c, deadline_ms, NULL) == 0) {
				*out = e->c;
				return 0;
			}
			pthread_mutex_lock(&p->mu);
			take_busy(p, e->c);
			hold(p, alone, false);
			pthread_mutex_unlock(&p->mu);
			discard(p, e);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (!held && p->open < p->lim.max_open) {
			p->open++;
			hold(p, alone, true);
			pthread_mutex_unlock(&p->mu);
			return open_new(p, alone, deadline_ms, out, why);
		}
		if (now >= deadline_ms || wait_until(p, deadline_ms) == ETIMEDOUT) {
			if (!held_back(p, alone) && (p->idle || p->open < p->lim.max_open))
				continue;
			p->alone_waiting -= alone;
			pthread_cond_broadcast(&p->cv);
			pthread_mutex_unlock(&p->mu);
			if (why)
				*why = xstrdup("no database connection became free in time");
			return TROVE_ERR_TIMEOUT;
		}
	}
}

int db_pool_get(struct db_pool *p, int64_t deadline_ms, struct db_conn **out, char **why)
{
	return pool_get(p, false, deadline_ms, out, why);
}

int db_pool_get_alone(struct db_pool *p, int64_t deadline_ms, struct db_conn **out, char **why)
{
	return pool_get(p, true, deadline_ms, out, why);
}

void db_pool_put(struct db_pool *p, struct db_conn *c, int rc)
{
	if (!c)
		return;
	pthread_mutex_lock(&p->mu);
	struct pconn *e = take_busy(p, c);
	if (!e) { /* not ours: should not happen */
		pthread_mutex_unlock(&p->mu);
		p->plugin->disconnect(c);
		return;
	}
	if (e->alone) {
		e->alone = false;
		p->alone_held = false;
		pthread_cond_broadcast(&p->cv);
	}
	int64_t now = db_now_ms();
	bool keep = !p->closed && rc != TROVE_ERR_TIMEOUT && rc != TROVE_ERR_UPSTREAM &&
	            !too_old(p, e, now) && p->lim.max_idle > 0 && p->nidle < p->lim.max_idle;
	if (keep) {
		e->idle_since_ms = now;
		e->next = p->idle;
		p->idle = e;
		p->nidle++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	pthread_mutex_unlock(&p->mu);
	discard(p, e);
}

void db_pool_counts(struct db_pool *p, int64_t *open, int64_t *idle)
{
	pthread_mutex_lock(&p->mu);
	*open = p->open;
	*idle = p->nidle;
	pthread_mutex_unlock(&p->mu);
}

const struct db_plugin *db_pool_plugin(const struct db_pool *p)
{
	return p->plugin;
}
