/* storage_pg_listen.c — the listener of the postgresql backend: a thread
 * on a connection of its own that LISTENs on the table's channel and
 * turns the other nodes' notifications into invalidations and the node's
 * applied index (storage_pg.h, "Notifications").
 *
 * Design. The thread connects, LISTENs, reads the table's current index
 * and only then calls hooks.all_changed: whatever committed before the
 * LISTEN is in storage (caches reload it), whatever commits after it is
 * notified, so after that call the applied index is at least the one
 * read. Notifications arrive in commit order; a commit's keys (several
 * chunks for a large transaction) are handed to hooks.changed and its
 * index becomes the applied index when its last chunk is in. This
 * node's own notifications change nothing in memory (its writers forgot
 * what they wrote) but advance the index all the same. A connection lost
 * (PostgreSQL restarted, the backend terminated, a TCP timeout) is made
 * again after a backoff (100 ms doubling to 2 s), and everything is
 * invalidated again. pg_listener_start returns once the first attempt to
 * subscribe is over, so that first invalidation comes before the node
 * serves anything. A payload that does not parse (someone else sent it)
 * is logged and treated as "anything may have changed". The thread polls
 * with a 250 ms timeout to see stop. */
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "storage/storage_pg.h"
#include "storage/storage_pg_impl.h"

#include "banned.h"

#define POLL_MS 250
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define START_WAIT_S 15

struct pg_listener {
	struct pg_store *p;
	struct storage_pg_hooks hooks;
	pthread_t thread;
	atomic_bool stop;

	pthread_mutex_t mu; /* guards applied and tried */
	pthread_cond_t cv;  /* applied moved, or the first attempt ended */
	uint64_t applied;
	bool tried; /* the first attempt to subscribe is over */
};

static void note_tried(struct pg_listener *l)
{
	pthread_mutex_lock(&l->mu);
	l->tried = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void set_applied(struct pg_listener *l, uint64_t index)
{
	pthread_mutex_lock(&l->mu);
	if (index > l->applied) {
		l->applied = index;
		pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
}

/* Sleeps ms, in steps, returning early once stop is set. */
static void nap(struct pg_listener *l, int ms)
{
	for (int left = ms; left > 0 && !atomic_load(&l->stop); left -= 50) {
		struct timespec ts = {0, (long)(left < 50 ? left : 50) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* On a new connection: LISTEN, then the table's index. false when the
 * connection failed (why says how). */
static bool subscribe(struct pg_listener *l, PGconn *c, uint64_t *index, char *why, size_t cap)
{
	char *sql;
	bool late = false, ok;
	PGresult *res;

	/* the channel and the table are checked identifiers: quoted, they
	 * are safe in SQL text */
	size_t n = strlen(pg_channel(l->p)) + strlen(pg_table(l->p)) + 96;
	sql = xmalloc(n);
	snprintf(sql, n, "LISTEN \"%s\"; SELECT idx FROM trove_storage_index WHERE kv_table = '%s'", pg_channel(l->p),
	         pg_table(l->p));
	res = pg_exec(l->p, c, sql, &late);
	ok = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	if (ok)
		*index = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	else
		pg_one_line(why, cap,
		            late ? "no answer in time"
		            : res && PQresultStatus(res) == PGRES_TUPLES_OK ? "no row in trove_storage_index"
		            : res ? PQresultErrorMessage(res) : PQerrorMessage(c));
	PQclear(res);
	free(sql);
	return ok;
}

static void on_notice(struct pg_listener *l, const PGnotify *n)
{
	struct storage_pg_notice notice;
	struct strlist keys;

	strlist_init(&keys);
	if (!storage_pg_notice_parse(n->extra, strlen(n->extra), &notice, &keys)) {
		log_warn("postgresql listener: a notification that is not Trove's; invalidating everything", "table",
		         pg_table(l->p));
		l->hooks.all_changed(l->hooks.arg);
		strlist_release(&keys);
		return;
	}
	if (strcmp(notice.node, pg_node(l->p)) != 0)
		for (size_t i = 0; i < keys.len; i++)
			l->hooks.changed(l->hooks.arg, keys.items[i]);
	if (notice.last)
		set_applied(l, notice.index);
	strlist_release(&keys);
}

/* Serves one connection until it breaks or stop is set. */
static void serve(struct pg_listener *l, PGconn *c)
{
	PGnotify *n;

	while (!atomic_load(&l->stop)) {
		struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
		int rc = poll(&pfd, 1, POLL_MS);
		if (rc == 0)
			continue;
		if (rc < 0 || !PQconsumeInput(c) || PQstatus(c) == CONNECTION_BAD) {
			char msg[512];
			pg_one_line(msg, sizeof(msg), PQerrorMessage(c));
			log_warn("postgresql listener lost its connection", "table", pg_table(l->p), "error", msg);
			return;
		}
		while ((n = PQnotifies(c)) != NULL) {
			on_notice(l, n);
			PQfreemem(n);
		}
	}
}

static void *listener_main(void *arg)
{
	struct pg_listener *l = arg;
	int delay = BACKOFF_MIN_MS;
	bool first = true, quiet = false;
	char why[512];

	while (!atomic_load(&l->stop)) {
		uint64_t index = 0;
		PGconn *c = pg_connect_plain(l->p, why, sizeof(why));
		if (c != NULL && !subscribe(l, c, &index, why, sizeof(why))) {
			PQfinish(c);
			c = NULL;
		}
		if (c == NULL) {
			note_tried(l);
			if (!quiet)
				log_warn("postgresql listener cannot connect, retrying", "table", pg_table(l->p), "error", why);
			quiet = true;
			nap(l, delay);
			delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
			continue;
		}
		/* anything may have changed while nobody listened */
		l->hooks.all_changed(l->hooks.arg);
		set_applied(l, index);
		note_tried(l);
		if (!first)
			log_info("postgresql listener connected again; caches invalidated", "table", pg_table(l->p));
		first = quiet = false;
		delay = BACKOFF_MIN_MS;
		serve(l, c);
		PQfinish(c);
		nap(l, delay);
	}
	return NULL;
}

struct pg_listener *pg_listener_start(struct pg_store *p, const struct storage_pg_hooks *h)
{
	struct pg_listener *l = xcalloc(1, sizeof(*l));

	l->p = p;
	l->hooks = *h;
	atomic_init(&l->stop, false);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	if (pthread_create(&l->thread, NULL, listener_main, l) != 0) {
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mu);
		free(l);
		return NULL;
	}
	/* The first subscription's "anything may have changed" must come
	 * before the node serves (it would empty caches filled meanwhile):
	 * wait for the first attempt, at most START_WAIT_S. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += START_WAIT_S;
	pthread_mutex_lock(&l->mu);
	while (!l->tried && pthread_cond_timedwait(&l->cv, &l->mu, &until) == 0)
		;
	pthread_mutex_unlock(&l->mu);
	return l;
}

void pg_listener_stop(struct pg_listener *l)
{
	if (l == NULL)
		return;
	atomic_store(&l->stop, true);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

uint64_t pg_listener_applied(struct pg_listener *l)
{
	uint64_t v;

	pthread_mutex_lock(&l->mu);
	v = l->applied;
	pthread_mutex_unlock(&l->mu);
	return v;
}

bool pg_listener_wait(struct pg_listener *l, uint64_t index, int64_t timeout_ms)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(timeout_ms / 1000);
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->mu);
	while (l->applied < index && pthread_cond_timedwait(&l->cv, &l->mu, &until) == 0)
		;
	ok = l->applied >= index;
	pthread_mutex_unlock(&l->mu);
	return ok;
}
