/* static_rotate.c — rotating static roles' passwords: the per-mount queue
 * of when each role is due, the rotation itself (pending password stored
 * first, then the database changed, then the pending made current), the
 * engine's periodic function that runs due rotations and retries failures
 * with backoff, and `static-creds/:name` and `rotate-role/:name`. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "database.h"

#include "clock.h"
#include "core/engine.h"
#include "core/mount.h"
#include "err.h"
#include "log.h"
#include "secure.h"

#include "banned.h"

/* A failed rotation is tried again after 10 s (Vault's), doubling per
 * failure up to 5 minutes. */
#define RETRY_FIRST_S 10
#define RETRY_MAX_S 300

struct entry {
	char *name;
	int64_t due_s;
	int failures;
	struct entry *next;
};

struct db_static_queue {
	pthread_mutex_t mu;     /* entries, loaded */
	pthread_mutex_t rot_mu; /* db_static_lock */
	bool loaded;            /* the stored roles were read since the mount was loaded */
	struct entry *entries;
};

struct db_static_queue *db_static_queue_new(void)
{
	struct db_static_queue *q = xcalloc(1, sizeof(*q));
	pthread_mutex_init(&q->mu, NULL);
	pthread_mutex_init(&q->rot_mu, NULL);
	return q;
}

void db_static_queue_free(struct db_static_queue *q)
{
	if (!q)
		return;
	while (q->entries) {
		struct entry *e = q->entries;
		q->entries = e->next;
		free(e->name);
		free(e);
	}
	pthread_mutex_destroy(&q->mu);
	pthread_mutex_destroy(&q->rot_mu);
	free(q);
}

void db_static_lock(struct mount *m)
{
	pthread_mutex_lock(&db_state_static(m)->rot_mu);
}

void db_static_unlock(struct mount *m)
{
	pthread_mutex_unlock(&db_state_static(m)->rot_mu);
}

static struct entry **find(struct db_static_queue *q, const char *name)
{
	struct entry **pp = &q->entries;
	while (*pp && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	return pp;
}

void db_static_arm(struct mount *m, const char *name, int64_t due_s)
{
	struct db_static_queue *q = db_state_static(m);
	pthread_mutex_lock(&q->mu);
	struct entry **pp = find(q, name);
	if (!*pp) {
		*pp = xcalloc(1, sizeof(**pp));
		(*pp)->name = xstrdup(name);
	}
	(*pp)->due_s = due_s;
	(*pp)->failures = 0;
	pthread_mutex_unlock(&q->mu);
}

void db_static_disarm(struct mount *m, const char *name)
{
	struct db_static_queue *q = db_state_static(m);
	pthread_mutex_lock(&q->mu);
	struct entry **pp = find(q, name);
	struct entry *e = *pp;
	if (e) {
		*pp = e->next;
		free(e->name);
		free(e);
	}
	pthread_mutex_unlock(&q->mu);
}

/* After a failure: due again after the backoff. */
static int64_t backoff(struct mount *m, const char *name)
{
	struct db_static_queue *q = db_state_static(m);
	int64_t wait = RETRY_FIRST_S;
	pthread_mutex_lock(&q->mu);
	struct entry *e = *find(q, name);
	if (e) {
		for (int i = 0; i < e->failures && wait < RETRY_MAX_S; i++)
			wait *= 2;
		if (wait > RETRY_MAX_S)
			wait = RETRY_MAX_S;
		e->failures++;
		e->due_s = clock_realtime_s() + wait;
	}
	pthread_mutex_unlock(&q->mu);
	return wait;
}

int db_static_rotate_locked(struct mount *m, const char *name, char **why)
{
	struct db_static_role *ro = NULL;
	struct db_config *cfg = NULL;
	const char **stmts = NULL;
	size_t n = 0;
	int r = db_static_role_load(m->view, name, &ro);

	if (r != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			db_static_disarm(m, name);
		goto out;
	}
	if ((r = db_config_load(m->view, ro->db_name, &cfg)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND) {
			r = TROVE_ERR_INVALID;
			if (why)
				*why = xstrdup("the role's connection does not exist");
		}
		goto out;
	}
	if (!ro->pending) {
		/* stored before the database is changed: if Trove stops between
		 * the two, the next attempt sets this same password again */
		if ((r = db_password_make(m->core, cfg, &ro->pending, why)) != 0 ||
		    (r = db_static_role_store(m->view, name, ro)) != 0)
			goto out;
	}
	stmts = db_str_vec(ro->rotation, &n);
	if ((r = db_rotate_password(m, cfg, ro->username, ro->pending, stmts, n, why)) != 0) {
		if (why) {
			db_why_scrub(*why, ro->pending);
			db_why_scrub(*why, ro->password);
			db_why_scrub(*why, cfg->password);
		}
		goto out;
	}
	int64_t now_ns = clock_realtime_ns();
	secure_free_str(ro->password);
	ro->password = ro->pending;
	ro->pending = NULL;
	ro->last_rotation_ns = now_ns;
	ro->next_rotation_s = db_static_next(ro, now_ns / 1000000000);
	if ((r = db_static_role_store(m->view, name, ro)) == 0)
		db_static_arm(m, name, ro->next_rotation_s);
out:
	free(stmts);
	db_config_free(cfg);
	db_static_role_free(ro);
	return r;
}

/* Queues every stored role: a pending password left by an unfinished
 * rotation makes it due now. Under db_static_lock, so a write or rotation
 * racing the load never has its newer time overwritten by an older one. */
static void load_queue(struct mount *m)
{
	struct strlist names;
	strlist_init(&names);
	int64_t now = clock_realtime_s();
	db_static_lock(m);
	if (db_static_role_names(m->view, &names) != 0) {
		db_static_unlock(m);
		strlist_release(&names);
		return;
	}
	for (size_t i = 0; i < names.len; i++) {
		struct db_static_role *ro = NULL;
		if (db_static_role_load(m->view, names.items[i], &ro) == 0)
			db_static_arm(m, names.items[i], ro->pending ? now : ro->next_rotation_s);
		db_static_role_free(ro);
	}
	struct db_static_queue *q = db_state_static(m);
	pthread_mutex_lock(&q->mu);
	q->loaded = true;
	pthread_mutex_unlock(&q->mu);
	db_static_unlock(m);
	strlist_release(&names);
}

void db_static_reload(struct mount *m)
{
	struct db_static_queue *q = db_state_static(m);
	pthread_mutex_lock(&q->mu);
	q->loaded = false;
	pthread_mutex_unlock(&q->mu);
}

/* A role due with a schedule and a window whose window has passed (Trove
 * was sealed or down through it) is not rotated late: it waits for its
 * next scheduled time. Returns true when that was the case. */
static bool window_missed(struct mount *m, const char *name, int64_t now)
{
	struct db_static_role *ro = NULL;
	bool missed = false;
	if (db_static_role_load(m->view, name, &ro) != 0)
		return false;
	if (ro->schedule[0] && ro->window_s > 0 && !ro->pending && ro->next_rotation_s > 0 &&
	    now >= ro->next_rotation_s + ro->window_s) {
		ro->next_rotation_s = db_static_next(ro, now);
		if (db_static_role_store(m->view, name, ro) == 0)
			db_static_arm(m, name, ro->next_rotation_s);
		missed = true;
	}
	db_static_role_free(ro);
	return missed;
}

void db_static_tick(struct mount *m)
{
	struct db_static_queue *q = db_state_static(m);
	struct strlist due;
	int64_t now = clock_realtime_s();
	bool loaded;

	pthread_mutex_lock(&q->mu);
	loaded = q->loaded;
	pthread_mutex_unlock(&q->mu);
	if (!loaded)
		load_queue(m);
	strlist_init(&due);
	pthread_mutex_lock(&q->mu);
	for (struct entry *e = q->entries; e; e = e->next)
		if (e->due_s > 0 && e->due_s <= now)
			strlist_push(&due, e->name);
	pthread_mutex_unlock(&q->mu);
	for (size_t i = 0; i < due.len; i++) {
		const char *name = due.items[i];
		char *why = NULL;
		db_static_lock(m);
		int r = window_missed(m, name, now) ? 0 : db_static_rotate_locked(m, name, &why);
		if (r != 0 && r != TROVE_ERR_NOT_FOUND) {
			char wait[32];
			snprintf(wait, sizeof(wait), "%llds", (long long)backoff(m, name));
			log_warn("static role rotation failed; the current password stays", "mount", m->path,
			         "role", name, "error", why ? why : err_message(r), "retry_in", wait);
		}
		db_static_unlock(m);
		free(why);
	}
	strlist_release(&due);
}

static int creds_read(struct request *req, struct response *resp)
{
	struct db_static_role *ro = NULL;
	const char *name = request_param(req, "name");
	int r = db_static_role_load(req->storage, name, &ro);
	if (r == TROVE_ERR_NOT_FOUND)
		r = response_error(resp, TROVE_ERR_INVALID, "unknown static role: %s", name);
	else if (r == 0)
		response_set_data(resp, db_static_creds_json(ro, clock_realtime_s()));
	db_static_role_free(ro);
	return r;
}

static int rotate_role(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	char *why = NULL;
	db_static_lock(req->mount);
	int r = db_static_rotate_locked(req->mount, name, &why);
	if (r == TROVE_ERR_NOT_FOUND && !why)
		r = response_error(resp, TROVE_ERR_INVALID, "unknown static role: %s", name);
	else if (r != 0)
		r = response_error(resp, r, "failed to rotate the password of static role \"%s\": %s", name,
		                   why ? why : err_message(r));
	if (r != 0 && r != TROVE_ERR_INVALID)
		backoff(req->mount, name);
	db_static_unlock(req->mount);
	free(why);
	return r;
}

const struct route db_static_creds_routes[] = {
    {.pattern = "static-creds/:name",
     .ops = {[OP_READ] = creds_read},
     .synopsis = "the current password of a static role"},
    {.pattern = "rotate-role/:name",
     .ops = {[OP_UPDATE] = rotate_role},
     .synopsis = "rotate a static role's password now"},
    {0},
};
