/* database.c — the `database` engine: its route tables, its per-mount
 * state (one connection pool per connection name) and the one way a
 * statement reaches a database (db_exec). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "database.h"

#include "clock.h"
#include "core/engine.h"
#include "core/mount.h"
#include "err.h"

#include "banned.h"

#define DB_PING_IDLE_MS 5000

struct pool_entry {
	char *name;
	struct db_pool *pool;
	struct pool_entry *next;
};

struct db_state {
	pthread_mutex_t mu; /* pools */
	struct pool_entry *pools;
	pthread_mutex_t config_mu; /* db_config_lock */
};

int64_t db_now_ms(void)
{
	return clock_realtime_ns() / 1000000;
}

void db_why_scrub(char *why, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	if (!why || n == 0)
		return;
	for (char *p = strstr(why, secret); p; p = strstr(p, secret))
		memset(p, '*', n);
}

static int db_mount_init(struct mount *m, struct buf *err)
{
	struct db_state *st = calloc(1, sizeof(*st));
	(void)err;
	if (!st)
		return TROVE_ERR_NOMEM;
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->config_mu, NULL);
	m->engine_state = st;
	return 0;
}

static void entry_free(struct pool_entry *e)
{
	db_pool_close(e->pool);
	db_pool_unref(e->pool);
	free(e->name);
	free(e);
}

static void db_mount_cleanup(struct mount *m)
{
	struct db_state *st = m->engine_state;
	if (!st)
		return;
	while (st->pools) {
		struct pool_entry *e = st->pools;
		st->pools = e->next;
		entry_free(e);
	}
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->config_mu);
	free(st);
	m->engine_state = NULL;
}

void db_config_lock(struct mount *m)
{
	pthread_mutex_lock(&((struct db_state *)m->engine_state)->config_mu);
}

void db_config_unlock(struct mount *m)
{
	pthread_mutex_unlock(&((struct db_state *)m->engine_state)->config_mu);
}

void db_state_drop(struct mount *m, const char *name)
{
	struct db_state *st = m->engine_state;
	struct pool_entry *gone = NULL;
	pthread_mutex_lock(&st->mu);
	for (struct pool_entry **pp = &st->pools; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			gone = *pp;
			*pp = gone->next;
			break;
		}
	}
	pthread_mutex_unlock(&st->mu);
	if (gone)
		entry_free(gone);
}

/* The pool of name if one is open (a new reference), or NULL. */
static struct db_pool *pool_find(struct db_state *st, const char *name)
{
	struct db_pool *p = NULL;
	pthread_mutex_lock(&st->mu);
	for (struct pool_entry *e = st->pools; e; e = e->next) {
		if (strcmp(e->name, name) == 0) {
			p = e->pool;
			db_pool_ref(p);
			break;
		}
	}
	pthread_mutex_unlock(&st->mu);
	return p;
}

int db_state_pool(struct mount *m, const char *name, struct db_pool **out, char **why)
{
	struct db_state *st = m->engine_state;
	struct db_config *cfg = NULL;
	struct db_connect_params params;
	int r;

	if ((*out = pool_find(st, name)))
		return 0;
	if ((r = db_config_load(m->view, name, &cfg)) != 0)
		return r;
	if (!cfg->plugin) {
		if (why)
			*why = xstrdup("the connection's plugin is not in this build");
		r = TROVE_ERR_UNAVAILABLE;
		goto out;
	}
	if ((r = db_connect_params_make(cfg, &params)) != 0)
		goto out;
	struct db_pool_limits lim = {.max_open = cfg->max_open,
	                             .max_idle = cfg->max_idle,
	                             .max_lifetime_ms = cfg->max_lifetime_s * 1000,
	                             .ping_idle_ms = DB_PING_IDLE_MS};
	struct db_pool *p = db_pool_new(cfg->plugin, &params, &lim);
	if (!p) {
		db_connect_params_release(&params);
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	struct pool_entry *e = xcalloc(1, sizeof(*e));
	e->name = xstrdup(name);
	e->pool = p;
	pthread_mutex_lock(&st->mu);
	for (struct pool_entry *o = st->pools; o; o = o->next) {
		if (strcmp(o->name, name) == 0) { /* another request made one first */
			pthread_mutex_unlock(&st->mu);
			entry_free(e);
			*out = pool_find(st, name);
			r = *out ? 0 : TROVE_ERR_UNAVAILABLE;
			goto out;
		}
	}
	e->next = st->pools;
	st->pools = e;
	db_pool_ref(p);
	pthread_mutex_unlock(&st->mu);
	*out = p;
out:
	db_config_free(cfg);
	return r;
}

int db_exec(struct mount *m, const char *name, const char *const *stmts, size_t n, char **why)
{
	struct db_pool *p = NULL;
	struct db_conn *c = NULL;
	int64_t deadline = db_now_ms() + DB_CALL_TIMEOUT_MS;
	int r = db_state_pool(m, name, &p, why);
	if (r == TROVE_ERR_NOT_FOUND && why && !*why)
		*why = xstrdup("no connection of that name");
	if (r != 0)
		return r;
	if ((r = db_pool_get(p, deadline, &c, why)) == 0) {
		const struct db_plugin *pl = db_pool_plugin(p);
		r = n ? pl->exec_tx(c, stmts, n, deadline, why) : 0;
		bool lost = r == TROVE_ERR_UPSTREAM && pl->lost_race && pl->lost_race(c);
		db_pool_put(p, c, lost ? 0 : r); /* rolled back, the connection is sound */
		/* Lost a race to a transaction on another connection of the pool
		 * (concurrent GRANTs on one table): run once more with the pool to
		 * itself, so no other connection of it can race it; if that cannot
		 * start in time, the first error stands. */
		if (lost && db_pool_get_alone(p, deadline, &c, NULL) == 0) {
			if (why) {
				free(*why);
				*why = NULL;
			}
			r = pl->exec_tx(c, stmts, n, deadline, why);
			db_pool_put(p, c, r);
		}
	}
	db_pool_unref(p);
	return r;
}

static void db_invalidate(struct mount *m, const char *key)
{
	if (strncmp(key, "config/", 7) == 0)
		db_state_drop(m, key + 7);
}

static const struct route *const db_tables[] = {db_config_routes, db_role_routes, db_creds_routes,
                                                db_rotate_routes, NULL};

const struct engine database_engine = {
    .type = "database",
    .tables = db_tables,
    .mount_init = db_mount_init,
    .mount_cleanup = db_mount_cleanup,
    .lease_revoke = db_lease_revoke,
    .lease_renew = db_lease_renew,
    .invalidate = db_invalidate,
};
