/* expiration.c — the expiration manager (see expiration.h, lease_key.h).
 *
 * Threads: one timer and cfg.workers workers. The timer owns the scan of
 * the expiry index; workers own the revocation of what it found. A lease
 * is queued at most once at a time (the in-flight set), so a slow engine
 * revocation is not queued again by the next scan. Every change to a
 * lease entry happens under the lease's stripe lock, and moves its expiry
 * index entry in the same transaction, so a lease is never left without
 * one; a stale index entry (the lease moved or is gone) is harmless: the
 * worker that meets it deletes it.
 *
 * Lock order: a stripe, then x->mu; the token store's callbacks may take
 * x->mu (expiration_schedule), never a stripe. */
#include "expiration.h"
#include "clock.h"
#include "duration.h"
#include "strhash.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "err.h"
#include "lease_call.h"
#include "lease_entry.h"
#include "lease_key.h"
#include "log.h"
#include "mount.h"
#include "rand.h"
#include "request.h"
#include "router.h"
#include "timefmt.h"
#include "token.h"

#include "banned.h"

#define STRIPES 64
#define INFLIGHT_BUCKETS 1024
#define SCAN_MAX 4096        /* leases queued by one scan */
#define SAFETY_RESCAN 60     /* seconds between scans when nothing is known due */
#define LEASE_RANDOM_CHARS 24
#define WORK_BATCH 256       /* jobs a worker takes at once */

struct job {
	struct job *next;
	char *lease_id;
	int64_t due; /* the expiry index entry's time */
	bool secret; /* a secret's lease, left for the second pass */
};

struct inflight {
	struct inflight *next;
	char *lease_id;
};

struct expiration {
	struct core *core;
	pthread_mutex_t mu;
	pthread_cond_t timer_cv;
	pthread_cond_t work_cv;
	struct storage *logical; /* NULL while stopped */
	struct expiration_config cfg;
	bool running;
	int64_t next_due; /* earliest time something may be due; INT64_MAX: none known */
	pthread_t timer;
	bool timer_started;
	pthread_t *workers;
	unsigned nworkers;
	struct job *head, *tail;
	struct inflight *inflight[INFLIGHT_BUCKETS];
	pthread_mutex_t stripes[STRIPES];
	const struct clock *clock; /* NULL: the system's */
	_Atomic uint64_t irrevocable, revoked, revoke_errors;
	pthread_t tidy_thread;
	bool tidy_joinable;
	atomic_bool tidy_running;
	struct lease_calls *calls; /* engine revocations under a time limit */
};

/* --- small helpers ---------------------------------------------------------- */

static int64_t now_of(struct expiration *x)
{
	return clock_read(x->clock, clock_realtime_s);
}

static pthread_mutex_t *stripe(struct expiration *x, const char *lease_id)
{
	return &x->stripes[str_hash(lease_id) % STRIPES];
}

void expiration_config_default(struct expiration_config *cfg)
{
	cfg->workers = EXPIRATION_DEFAULT_WORKERS;
	cfg->max_attempts = 6;
	cfg->retry_base = 10;
	cfg->retry_cap = 600;
	cfg->revoke_timeout_ms = EXPIRATION_DEFAULT_REVOKE_TIMEOUT_S * 1000;
}

struct expiration *expiration_new(struct core *c)
{
	struct expiration *x = xcalloc(1, sizeof(*x));
	x->core = c;
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->timer_cv, NULL);
	pthread_cond_init(&x->work_cv, NULL);
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_init(&x->stripes[i], NULL);
	expiration_config_default(&x->cfg);
	x->next_due = INT64_MAX;
	x->calls = lease_calls_new();
	return x;
}

void expiration_free(struct expiration *x)
{
	if (!x)
		return;
	expiration_stop(x);
	lease_calls_free(x->calls);
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&x->stripes[i]);
	pthread_cond_destroy(&x->work_cv);
	pthread_cond_destroy(&x->timer_cv);
	pthread_mutex_destroy(&x->mu);
	free(x);
}

void expiration_set_clock(struct expiration *x, const struct clock *c)
{
	x->clock = c;
}

void expiration_schedule(struct expiration *x, int64_t t)
{
	pthread_mutex_lock(&x->mu);
	if (t < x->next_due) {
		x->next_due = t;
		pthread_cond_signal(&x->timer_cv);
	}
	pthread_mutex_unlock(&x->mu);
}

static void on_token_expiry(void *arg, int64_t t)
{
	expiration_schedule(arg, t);
}

/* The storage handle, or NULL when stopped. Storage calls after a stop
 * are the caller's race with seal; the barrier then answers SEALED. */
static struct storage *store(struct expiration *x)
{
	return x->logical;
}

static int read_lease(struct expiration *x, const char *lease_id, bool *is_token, struct lease **out)
{
	char key[LEASE_KEY_MAX];
	unsigned char *raw = NULL;
	size_t len = 0;
	int r;
	*out = NULL;
	*is_token = false;
	if (lease_id_key(key, sizeof(key), lease_id) != 0)
		return TROVE_ERR_NOT_FOUND;
	if ((r = storage_get(store(x), key, &raw, &len)) != 0)
		return r;
	r = lease_entry_parse(raw, len, is_token, out);
	free(raw);
	return r;
}

/* The lease id an index entry (dir + item) holds, heap; NULL when it is
 * gone or unreadable. */
static char *read_index(struct expiration *x, const char *dir, const char *item)
{
	char key[LEASE_KEY_MAX];
	unsigned char *raw = NULL;
	size_t len = 0;
	snprintf(key, sizeof(key), "%s%s", dir, item);
	if (storage_get(store(x), key, &raw, &len) != 0)
		return NULL;
	char *id = xstrndup((const char *)raw, len);
	free(raw);
	return id;
}

/* --- changing a secret's lease (caller holds its stripe) --------------------- */

/* Deletes a lease and its index entries. */
static int drop_lease(struct expiration *x, const struct lease *l)
{
	char idk[LEASE_KEY_MAX], whenk[LEASE_KEY_MAX], tokk[LEASE_KEY_MAX], irk[LEASE_KEY_MAX];
	struct storage_op ops[4];
	size_t n = 0;
	if (lease_id_key(idk, sizeof(idk), l->id) != 0)
		return TROVE_ERR_INVALID;
	ops[n++] = (struct storage_op){STORAGE_DELETE, idk, NULL, 0};
	if (l->revoke_at > 0 && lease_when_key(whenk, sizeof(whenk), l->revoke_at, l->id) == 0)
		ops[n++] = (struct storage_op){STORAGE_DELETE, whenk, NULL, 0};
	if (l->token[0] && lease_token_key(tokk, sizeof(tokk), l->token, l->id) == 0)
		ops[n++] = (struct storage_op){STORAGE_DELETE, tokk, NULL, 0};
	if (l->irrevocable && lease_irrevocable_key(irk, sizeof(irk), l->id) == 0)
		ops[n++] = (struct storage_op){STORAGE_DELETE, irk, NULL, 0};
	return storage_txn(store(x), ops, n);
}

/* Writes l, whose revoke_at moved from old_at (0: it had no index entry),
 * moving its expiry index entry with it; an irrevocable lease has none
 * and is listed among the irrevocable instead. extra: one more put (the
 * token index entry of a new lease) or NULL. */
static int write_lease(struct expiration *x, const struct lease *l, int64_t old_at, const struct storage_op *extra)
{
	char idk[LEASE_KEY_MAX], whenk[LEASE_KEY_MAX], oldk[LEASE_KEY_MAX], irk[LEASE_KEY_MAX];
	struct storage_op ops[5];
	size_t n = 0;
	char *text = lease_entry_dump(l);
	int r = TROVE_ERR_NOMEM;
	if (!text)
		goto out;
	r = TROVE_ERR_INVALID;
	if (lease_id_key(idk, sizeof(idk), l->id) != 0)
		goto out;
	ops[n++] = (struct storage_op){STORAGE_PUT, idk, text, strlen(text)};
	if (l->irrevocable) {
		if (lease_irrevocable_key(irk, sizeof(irk), l->id) != 0)
			goto out;
		ops[n++] = (struct storage_op){STORAGE_PUT, irk, l->id, strlen(l->id)};
	} else if (l->revoke_at > 0) {
		if (lease_when_key(whenk, sizeof(whenk), l->revoke_at, l->id) != 0)
			goto out;
		ops[n++] = (struct storage_op){STORAGE_PUT, whenk, l->id, strlen(l->id)};
	}
	if (old_at > 0 && (old_at != l->revoke_at || l->irrevocable) &&
	    lease_when_key(oldk, sizeof(oldk), old_at, l->id) == 0)
		ops[n++] = (struct storage_op){STORAGE_DELETE, oldk, NULL, 0};
	if (extra)
		ops[n++] = *extra;
	r = storage_txn(store(x), ops, n);
out:
	free(text);
	return r;
}

static int delete_when(struct expiration *x, int64_t t, const char *lease_id)
{
	char k[LEASE_KEY_MAX];
	if (lease_when_key(k, sizeof(k), t, lease_id) != 0)
		return 0;
	return storage_delete(store(x), k);
}

/* Calls the issuing engine's lease_revoke, for at most the configured
 * time (lease_call.h). */
static int engine_revoke(struct expiration *x, const struct lease *l, struct buf *err)
{
	struct mount *m = mount_by_accessor(core_mounts(x->core), l->mount_accessor);
	int r;
	if (!m) {
		buf_printf(err, "the mount that issued the lease (%s) no longer exists", l->mount_accessor);
		return TROVE_ERR_NOT_FOUND;
	}
	r = m->engine && m->engine->lease_revoke ? lease_call_revoke(x->calls, m, l, x->cfg.revoke_timeout_ms, err) : 0;
	if (r != 0 && err->len == 0)
		buf_append_str(err, err_message(r));
	mount_release(m);
	return r;
}

static int64_t backoff(const struct expiration_config *cfg, int attempts)
{
	int64_t d = cfg->retry_base > 0 ? cfg->retry_base : 1;
	for (int i = 1; i < attempts && d < cfg->retry_cap; i++)
		d *= 2;
	return d > cfg->retry_cap && cfg->retry_cap > 0 ? cfg->retry_cap : d;
}

/* Revokes a secret's lease whose stripe the caller holds. On an engine
 * failure the lease is kept for a retry (or made irrevocable) unless
 * force drops it anyway. */
static int revoke_secret_locked(struct expiration *x, struct lease *l, bool force, struct buf *err)
{
	struct buf why;
	int r, er;
	buf_init(&why, 1024);
	er = engine_revoke(x, l, &why);
	if (er == 0 || force) {
		if (er != 0)
			log_warn("lease dropped despite a failed revocation (force)", "lease_id", l->id, "error",
			         why.len ? why.data : "");
		if ((r = drop_lease(x, l)) == 0) {
			atomic_fetch_add(&x->revoked, 1);
			if (l->irrevocable)
				atomic_fetch_sub(&x->irrevocable, 1);
		}
		goto out;
	}
	atomic_fetch_add(&x->revoke_errors, 1);
	int64_t old_at = l->irrevocable ? 0 : l->revoke_at;
	bool was_irrevocable = l->irrevocable;
	l->attempts++;
	free(l->error);
	l->error = xstrdup(why.len ? why.data : "revocation failed");
	if (l->attempts >= x->cfg.max_attempts) {
		l->irrevocable = true;
		if (!was_irrevocable)
			log_error("lease is irrevocable: revocation failed too often", "lease_id", l->id, "error", l->error);
	} else {
		l->revoke_at = now_of(x) + backoff(&x->cfg, l->attempts);
		log_warn("lease revocation failed; will retry", "lease_id", l->id, "error", l->error);
	}
	r = write_lease(x, l, old_at, NULL);
	if (r == 0 && l->irrevocable && !was_irrevocable)
		atomic_fetch_add(&x->irrevocable, 1);
	if (r == 0 && !l->irrevocable)
		expiration_schedule(x, l->revoke_at);
	buf_printf(err, "failed to revoke lease %s: %s", l->id, l->error);
	r = TROVE_ERR_UPSTREAM;
out:
	buf_release(&why);
	return r;
}

/* --- the work: one due index entry ------------------------------------------- */

/* Whether a token's lease due at `due` is to be revoked now: its token
 * has expired. A lease whose token is gone, or that the token's renewal
 * moved, is cleaned up here instead. */
static bool token_lease_due(struct expiration *x, const char *lease_id, int64_t due, int64_t now)
{
	const char *loc = lease_item(lease_id);
	int64_t exp = 0;
	int r = token_expire_time(core_tokens(x->core), loc, &exp);
	if (r == TROVE_ERR_NOT_FOUND) {
		/* The token went without its lease (a crash between): drop both keys. */
		char idk[LEASE_KEY_MAX], whenk[LEASE_KEY_MAX];
		if (lease_id_key(idk, sizeof(idk), lease_id) == 0 &&
		    lease_when_key(whenk, sizeof(whenk), due, lease_id) == 0) {
			struct storage_op ops[2] = {{STORAGE_DELETE, idk, NULL, 0}, {STORAGE_DELETE, whenk, NULL, 0}};
			(void)storage_txn(store(x), ops, 2);
		}
		return false;
	}
	if (r != 0)
		return false;
	if (exp == 0 || exp > now) {
		if (exp != due)
			(void)delete_when(x, due, lease_id); /* renewed: a stale entry */
		return false;
	}
	return true;
}

enum due_kind {
	DUE_DONE,   /* acted on, or nothing to do */
	DUE_TOKEN,  /* an expired token's lease: the caller revokes the token */
	DUE_SECRET, /* a secret's lease, left alone (secrets false) */
};

/* Acts on one due index entry. An expired token's lease is left to the
 * caller (it revokes tokens in a batch); a secret's lease is revoked only
 * when `secrets` is set (else DUE_SECRET says it is one). */
static enum due_kind process(struct expiration *x, const char *lease_id, int64_t due, bool secrets)
{
	int64_t now = now_of(x);
	struct lease *l = NULL;
	bool is_token = false;
	pthread_mutex_t *mu = stripe(x, lease_id);
	struct buf err;
	int r;

	pthread_mutex_lock(mu);
	r = read_lease(x, lease_id, &is_token, &l);
	if (r == TROVE_ERR_NOT_FOUND) {
		(void)delete_when(x, due, lease_id); /* the lease is gone */
		goto out;
	}
	if (r != 0) {
		if (r != TROVE_ERR_SEALED)
			log_warn("lease could not be read", "lease_id", lease_id, "error", err_message(r));
		goto out;
	}
	if (is_token) {
		pthread_mutex_unlock(mu);
		return token_lease_due(x, lease_id, due, now) ? DUE_TOKEN : DUE_DONE;
	}
	if (!secrets) {
		pthread_mutex_unlock(mu);
		lease_free(l);
		return DUE_SECRET;
	}
	if (l->irrevocable || l->revoke_at != due)
		(void)delete_when(x, due, lease_id); /* stale: the lease moved */
	if (l->irrevocable || l->revoke_at > now)
		goto out;
	buf_init(&err, 2048);
	(void)revoke_secret_locked(x, l, false, &err);
	buf_release(&err);
out:
	pthread_mutex_unlock(mu);
	lease_free(l);
	return DUE_DONE;
}

/* Acts on a list of due entries: expired tokens first and together
 * (token_revoke_many: a transaction per 128 tokens, not one each, so an
 * expiry storm costs few fsyncs), then secrets one by one, so that a slow
 * engine's revocations never delay the tokens taken with them. */
static void process_jobs(struct expiration *x, struct job *jobs)
{
	size_t n = 0, cap = 0;
	const char **tokens = NULL;
	for (struct job *j = jobs; j; j = j->next) {
		enum due_kind k = process(x, j->lease_id, j->due, false);
		j->secret = k == DUE_SECRET;
		if (k != DUE_TOKEN)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			tokens = xrealloc(tokens, cap * sizeof(*tokens));
		}
		tokens[n++] = lease_item(j->lease_id);
	}
	if (n > 0 && token_revoke_many(core_tokens(x->core), tokens, n) == 0)
		atomic_fetch_add(&x->revoked, n);
	free(tokens);
	for (struct job *j = jobs; j; j = j->next)
		if (j->secret)
			(void)process(x, j->lease_id, j->due, true);
}

/* --- the scan -------------------------------------------------------------------- */

struct due {
	struct job *head, *tail;
	size_t n;
	int64_t next; /* the first time past now in the index; INT64_MAX: none */
};

static void due_push(struct due *d, const char *lease_id, int64_t t)
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->lease_id = xstrdup(lease_id);
	j->due = t;
	if (d->tail)
		d->tail->next = j;
	else
		d->head = j;
	d->tail = j;
	d->n++;
}

static void jobs_free(struct job *j)
{
	while (j) {
		struct job *next = j->next;
		free(j->lease_id);
		free(j);
		j = next;
	}
}

/* Collects up to SCAN_MAX index entries due at or before now, and the
 * next due time past now. */
static int scan(struct expiration *x, int64_t now, struct due *d)
{
	struct strlist hours, secs, items;
	char dir[LEASE_KEY_MAX];
	int r;

	d->next = INT64_MAX;
	strlist_init(&hours);
	strlist_init(&secs);
	strlist_init(&items);
	if ((r = storage_list(store(x), LEASE_WHEN_PREFIX, &hours)) != 0)
		goto out;
	for (size_t h = 0; h < hours.len; h++) {
		int64_t hour = lease_parse_time(hours.items[h]);
		if (hour < 0)
			continue;
		strlist_release(&secs);
		strlist_init(&secs);
		snprintf(dir, sizeof(dir), "%s%s", LEASE_WHEN_PREFIX, hours.items[h]);
		if ((r = storage_list(store(x), dir, &secs)) != 0)
			goto out;
		for (size_t s = 0; s < secs.len; s++) {
			int64_t t = lease_parse_time(secs.items[s]);
			if (t < 0)
				continue;
			if (t > now) {
				d->next = t;
				goto out;
			}
			strlist_release(&items);
			strlist_init(&items);
			snprintf(dir, sizeof(dir), "%s%s%s", LEASE_WHEN_PREFIX, hours.items[h], secs.items[s]);
			if ((r = storage_list(store(x), dir, &items)) != 0)
				goto out;
			for (size_t i = 0; i < items.len; i++) {
				char *id = read_index(x, dir, items.items[i]);
				if (!id)
					continue;
				if (lease_item(id)[0] && strcmp(lease_item(id), items.items[i]) == 0) {
					due_push(d, id, t);
				} else {
					char key[LEASE_KEY_MAX];
					snprintf(key, sizeof(key), "%s%s", dir, items.items[i]);
					(void)storage_delete(store(x), key); /* not an index entry */
				}
				free(id);
				if (d->n >= SCAN_MAX) {
					d->next = now; /* more may be due */
					goto out;
				}
			}
		}
	}
out:
	strlist_release(&hours);
	strlist_release(&secs);
	strlist_release(&items);
	return r;
}

/* --- in-flight set (x->mu held) ------------------------------------------------ */

static bool inflight_add(struct expiration *x, const char *lease_id)
{
	struct inflight **b = &x->inflight[str_hash(lease_id) % INFLIGHT_BUCKETS];
	for (struct inflight *f = *b; f; f = f->next)
		if (strcmp(f->lease_id, lease_id) == 0)
			return false;
	struct inflight *f = xcalloc(1, sizeof(*f));
	f->lease_id = xstrdup(lease_id);
	f->next = *b;
	*b = f;
	return true;
}

static void inflight_remove(struct expiration *x, const char *lease_id)
{
	struct inflight **p = &x->inflight[str_hash(lease_id) % INFLIGHT_BUCKETS];
	for (; *p; p = &(*p)->next) {
		if (strcmp((*p)->lease_id, lease_id) == 0) {
			struct inflight *f = *p;
			*p = f->next;
			free(f->lease_id);
			free(f);
			return;
		}
	}
}

static void inflight_clear(struct expiration *x)
{
	for (size_t i = 0; i < INFLIGHT_BUCKETS; i++) {
		while (x->inflight[i]) {
			struct inflight *f = x->inflight[i];
			x->inflight[i] = f->next;
			free(f->lease_id);
			free(f);
		}
	}
}

/* Queues the jobs not already in flight (x->mu held). Returns how many. */
static size_t enqueue(struct expiration *x, struct due *d)
{
	size_t n = 0;
	struct job *j = d->head;
	d->head = d->tail = NULL;
	while (j) {
		struct job *next = j->next;
		j->next = NULL;
		if (inflight_add(x, j->lease_id)) {
			if (x->tail)
				x->tail->next = j;
			else
				x->head = j;
			x->tail = j;
			n++;
		} else {
			jobs_free(j);
		}
		j = next;
	}
	if (n)
		pthread_cond_broadcast(&x->work_cv);
	return n;
}

int expiration_tick(struct expiration *x, size_t *processed)
{
	struct due d = {0};
	size_t n = 0;
	int r;
	if (processed)
		*processed = 0;
	if (!store(x))
		return TROVE_ERR_SEALED;
	if ((r = scan(x, now_of(x), &d)) != 0) {
		jobs_free(d.head);
		return r;
	}
	if (x->nworkers == 0) {
		process_jobs(x, d.head);
		n = d.n;
		jobs_free(d.head);
	} else {
		pthread_mutex_lock(&x->mu);
		n = enqueue(x, &d);
		pthread_mutex_unlock(&x->mu);
	}
	if (processed)
		*processed = n;
	return 0;
}

/* --- threads --------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct expiration *x = arg;
	pthread_mutex_lock(&x->mu);
	while (x->running) {
		struct job *j = x->head, *last = NULL;
		if (!j) {
			pthread_cond_wait(&x->work_cv, &x->mu);
			continue;
		}
		/* Take up to WORK_BATCH jobs: the others are for the next worker. */
		size_t k = 0;
		for (last = j; k + 1 < WORK_BATCH && last->next; k++)
			last = last->next;
		x->head = last->next;
		if (!x->head)
			x->tail = NULL;
		last->next = NULL;
		if (x->head)
			pthread_cond_signal(&x->work_cv);
		pthread_mutex_unlock(&x->mu);
		process_jobs(x, j);
		pthread_mutex_lock(&x->mu);
		for (struct job *d = j; d; d = d->next)
			inflight_remove(x, d->lease_id);
		if (!x->head)
			pthread_cond_signal(&x->timer_cv); /* the timer may scan again */
		jobs_free(j);
	}
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

/* Waits (x->mu held) until signalled or until unix second `until`, at
 * most SAFETY_RESCAN seconds; with until <= now, 200 ms. */
static void timed_wait(struct expiration *x, int64_t until)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = now_of(x);
	int64_t secs = until > now ? until - now : 0;
	if (secs > SAFETY_RESCAN)
		secs = SAFETY_RESCAN;
	ts.tv_sec += (time_t)secs;
	if (secs == 0)
		ts.tv_nsec += 200 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&x->timer_cv, &x->mu, &ts);
}

static void *timer_main(void *arg)
{
	struct expiration *x = arg;
	int64_t last_scan = 0;
	pthread_mutex_lock(&x->mu);
	while (x->running) {
		int64_t now = now_of(x);
		/* Scan when something is due and the last scan's work is done,
		 * and at least every SAFETY_RESCAN seconds whatever is known. */
		bool due = x->next_due <= now || now - last_scan >= SAFETY_RESCAN;
		if (!due || x->head) {
			timed_wait(x, x->head ? now : x->next_due);
			continue;
		}
		x->next_due = INT64_MAX;
		last_scan = now;
		pthread_mutex_unlock(&x->mu);
		struct due d = {0};
		int r = scan(x, now, &d);
		pthread_mutex_lock(&x->mu);
		if (r != 0) {
			jobs_free(d.head);
			if (x->next_due > now + 1)
				x->next_due = now + 1; /* storage trouble: try again shortly */
			continue;
		}
		size_t found = d.n;
		size_t queued = enqueue(x, &d);
		if (d.next < x->next_due)
			x->next_due = d.next;
		/* Everything due is already in flight: let it finish rather
		 * than scan the same entries again at once. */
		if (found > 0 && queued == 0 && x->next_due <= now)
			x->next_due = now + 1;
	}
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

/* --- start / stop -------------------------------------------------------------- */

static uint64_t count_irrevocable(struct expiration *x)
{
	struct strlist l;
	uint64_t n = 0;
	strlist_init(&l);
	if (storage_list(store(x), LEASE_IRREVOCABLE_PREFIX, &l) == 0)
		n = l.len;
	strlist_release(&l);
	return n;
}

static void on_token_revoked(void *arg, const struct token_entry *e);

int expiration_start(struct expiration *x, struct storage *logical, const struct expiration_config *cfg)
{
	int r;
	expiration_stop(x);
	pthread_mutex_lock(&x->mu);
	x->logical = logical;
	if (cfg)
		x->cfg = *cfg;
	x->running = true;
	x->next_due = 0; /* whatever fell due while sealed is due now */
	pthread_mutex_unlock(&x->mu);
	atomic_store(&x->irrevocable, count_irrevocable(x));
	atomic_store(&x->revoked, 0);
	atomic_store(&x->revoke_errors, 0);
	if ((r = token_store_on_revoke(core_tokens(x->core), on_token_revoked, x)) != 0)
		goto fail;
	token_store_on_expiry(core_tokens(x->core), on_token_expiry, x);
	if (x->cfg.workers == 0)
		return 0;
	x->workers = xcalloc(x->cfg.workers, sizeof(*x->workers));
	for (unsigned i = 0; i < x->cfg.workers; i++) {
		if (pthread_create(&x->workers[i], NULL, worker_main, x) != 0) {
			r = TROVE_ERR_NOMEM;
			goto fail;
		}
		x->nworkers++;
	}
	if (pthread_create(&x->timer, NULL, timer_main, x) != 0) {
		r = TROVE_ERR_NOMEM;
		goto fail;
	}
	x->timer_started = true;
	return 0;
fail:
	expiration_stop(x);
	return r;
}

void expiration_stop(struct expiration *x)
{
	pthread_mutex_lock(&x->mu);
	bool was = x->logical != NULL;
	x->running = false;
	pthread_cond_broadcast(&x->timer_cv);
	pthread_cond_broadcast(&x->work_cv);
	pthread_mutex_unlock(&x->mu);
	if (!was)
		return;
	if (x->timer_started)
		pthread_join(x->timer, NULL);
	x->timer_started = false;
	for (unsigned i = 0; i < x->nworkers; i++)
		pthread_join(x->workers[i], NULL);
	free(x->workers);
	x->workers = NULL;
	x->nworkers = 0;
	if (x->tidy_joinable)
		pthread_join(x->tidy_thread, NULL);
	x->tidy_joinable = false;
	token_store_on_expiry(core_tokens(x->core), NULL, NULL);
	token_store_off_revoke(core_tokens(x->core), on_token_revoked, x);
	pthread_mutex_lock(&x->mu);
	jobs_free(x->head);
	x->head = x->tail = NULL;
	inflight_clear(x);
	x->logical = NULL;
	x->next_due = INT64_MAX;
	pthread_mutex_unlock(&x->mu);
}

/* --- a token's leases go with it ------------------------------------------------- */

/* Makes a secret's lease due now (caller holds its stripe). */
static int expire_now_locked(struct expiration *x, struct lease *l)
{
	int64_t now = now_of(x);
	if (l->irrevocable || (l->revoke_at > 0 && l->revoke_at <= now))
		return 0;
	int64_t old = l->revoke_at;
	l->revoke_at = now;
	int r = write_lease(x, l, old, NULL);
	if (r == 0)
		expiration_schedule(x, now);
	return r;
}

static void on_token_revoked(void *arg, const struct token_entry *e)
{
	struct expiration *x = arg;
	char dir[LEASE_KEY_MAX];
	struct strlist items;
	if (!store(x) || !e->id_hash[0])
		return;
	snprintf(dir, sizeof(dir), "%s%s/", LEASE_TOKEN_PREFIX, e->id_hash);
	strlist_init(&items);
	(void)storage_list(store(x), dir, &items);
	for (size_t i = 0; i < items.len; i++) {
		char *id = read_index(x, dir, items.items[i]);
		if (!id)
			continue;
		pthread_mutex_t *mu = stripe(x, id);
		struct lease *l = NULL;
		bool is_token;
		pthread_mutex_lock(mu);
		if (read_lease(x, id, &is_token, &l) == 0 && l) {
			(void)expire_now_locked(x, l);
		} else {
			char key[LEASE_KEY_MAX];
			snprintf(key, sizeof(key), "%s%s", dir, items.items[i]);
			(void)storage_delete(store(x), key);
		}
		pthread_mutex_unlock(mu);
		lease_free(l);
		free(id);
	}
	strlist_release(&items);
}

/* --- registering a secret's lease ---------------------------------------------- */

int expiration_register(struct expiration *x, struct request *req, struct response *resp)
{
	struct lease l = {0};
	char rnd[LEASE_RANDOM_CHARS + 1];
	char tokk[LEASE_KEY_MAX];
	struct storage_op tok_op;
	int r;

	if (!resp->secret.set)
		return 0;
	if (!store(x) || !req->mount)
		return response_error(resp, TROVE_ERR_INTERNAL, "failed to register lease");
	int64_t now = now_of(x);
	int64_t ttl = resp->secret.ttl > 0 ? resp->secret.ttl : mount_default_ttl(req->core, req->mount);
	int64_t max = mount_max_ttl(req->core, req->mount);
	if (resp->secret.max_ttl > 0 && (max <= 0 || resp->secret.max_ttl < max))
		max = resp->secret.max_ttl;
	if (max > 0 && ttl > max)
		ttl = max;
	if (ttl <= 0)
		ttl = 1;
	size_t plen = strlen(req->path);
	while (plen > 0 && req->path[plen - 1] == '/')
		plen--;
	l.path = xstrndup(req->path, plen);
	l.mount_accessor = xstrdup(req->mount->accessor);
	l.token = xstrdup(req->token && req->token->type == TOKEN_TYPE_SERVICE ? req->token->id_hash : "");
	l.internal = resp->secret.internal ? json_incref(resp->secret.internal) : json_object();
	if ((r = rand_base62(rnd, LEASE_RANDOM_CHARS)) != 0)
		goto fail;
	rnd[LEASE_RANDOM_CHARS] = '\0';
	struct buf id;
	buf_init(&id, LEASE_ID_MAX + 1);
	if (buf_append(&id, l.path, plen) != 0 || buf_printf(&id, "/%s", rnd) != 0) {
		buf_release(&id);
		r = TROVE_ERR_TOO_LARGE;
		goto fail;
	}
	l.id = buf_take(&id);
	l.issue_time = now;
	if (duration_add(now, ttl, &l.expire_time) != 0) {
		r = TROVE_ERR_INVALID; /* an expiry past int64 would read as "never" */
		goto fail;
	}
	l.revoke_at = l.expire_time;
	l.ttl = ttl;
	l.max_ttl = max > 0 ? max : 0;
	l.renewable = resp->secret.renewable;
	const struct storage_op *extra = NULL;
	if (l.token[0]) {
		if (lease_token_key(tokk, sizeof(tokk), l.token, l.id) != 0) {
			r = TROVE_ERR_INVALID;
			goto fail;
		}
		tok_op = (struct storage_op){STORAGE_PUT, tokk, l.id, strlen(l.id)};
		extra = &tok_op;
	}
	pthread_mutex_t *mu = stripe(x, l.id);
	pthread_mutex_lock(mu);
	r = write_lease(x, &l, 0, extra);
	pthread_mutex_unlock(mu);
	if (r != 0)
		goto fail;
	expiration_schedule(x, l.revoke_at);
	free(resp->lease_id);
	resp->lease_id = l.id;
	l.id = NULL;
	resp->lease_duration = ttl;
	resp->renewable = l.renewable;
	json_decref(resp->secret.internal);
	resp->secret.internal = NULL;
	resp->secret.set = false;
	r = 0;
	goto out;
fail:
	/* What the engine made must not outlive a lease that was never
	 * recorded: undo it now. */
	if (l.mount_accessor) {
		struct buf err;
		buf_init(&err, 1024);
		if (!l.id)
			l.id = xstrdup("");
		if (engine_revoke(x, &l, &err) != 0)
			log_error("a secret without a lease could not be revoked", "path", l.path, "error",
			          err.len ? err.data : "");
		buf_release(&err);
	}
	response_release(resp);
	response_init(resp);
	response_fail_detail(resp, "failed to register lease", r); /* the listener logs it */
	r = response_error(resp, TROVE_ERR_INTERNAL, "failed to register lease");
out:
	free(l.id);
	free(l.path);
	free(l.mount_accessor);
	free(l.token);
	json_decref(l.internal);
	return r;
}

/* --- lookup, list, renew, revoke ---------------------------------------------- */

static json_t *time_or_null(int64_t t)
{
	char text[TIME_TEXT_MAX];
	if (t <= 0)
		return json_null();
	time_rfc3339(t, text);
	return json_string(text);
}

static json_t *lookup_json(const char *id, int64_t issue, int64_t expire, int64_t renewed, bool renewable,
                           int64_t now)
{
	int64_t ttl = expire > now ? expire - now : 0;
	return json_pack("{s:s, s:o, s:o, s:o, s:b, s:I}", "id", id, "issue_time", time_or_null(issue), "expire_time",
	                 time_or_null(expire), "last_renewal", time_or_null(renewed), "renewable", renewable, "ttl",
	                 (json_int_t)ttl);
}

int expiration_lookup(struct expiration *x, const char *lease_id, json_t **out)
{
	struct lease *l = NULL;
	bool is_token;
	int r;
	*out = NULL;
	if (!store(x))
		return TROVE_ERR_SEALED;
	r = read_lease(x, lease_id, &is_token, &l);
	if (r == TROVE_ERR_NOT_FOUND || r == TROVE_ERR_INTEGRITY)
		return TROVE_ERR_INVALID;
	if (r != 0)
		return r;
	int64_t now = now_of(x);
	if (is_token) {
		struct token_entry *e = NULL;
		if (token_lookup_hash(core_tokens(x->core), lease_item(lease_id), &e) != 0)
			return TROVE_ERR_INVALID;
		*out = lookup_json(lease_id, e->creation_time, e->expire_time, e->last_renewal_time,
		                   e->renewable && e->expire_time > 0, now);
		token_entry_free(e);
	} else {
		*out = lookup_json(l->id, l->issue_time, l->expire_time, l->last_renewal, l->renewable && !l->irrevocable,
		                   now);
		lease_free(l);
	}
	return *out ? 0 : TROVE_ERR_NOMEM;
}

int expiration_list(struct expiration *x, const char *prefix, struct strlist *out)
{
	char dir[LEASE_KEY_MAX];
	if (!store(x))
		return TROVE_ERR_SEALED;
	size_t n = strlen(prefix);
	if (n > LEASE_ID_MAX || (n > 0 && prefix[n - 1] != '/'))
		return TROVE_ERR_INVALID;
	snprintf(dir, sizeof(dir), "%s%s", LEASE_ID_PREFIX, prefix);
	return storage_list(store(x), dir, out);
}

int expiration_renew(struct expiration *x, const char *lease_id, int64_t increment, struct response *resp)
{
	struct lease *l = NULL;
	bool is_token;
	pthread_mutex_t *mu;
	int r;
	if (!store(x))
		return response_error(resp, TROVE_ERR_SEALED, "Vault is sealed");
	mu = stripe(x, lease_id);
	pthread_mutex_lock(mu);
	r = read_lease(x, lease_id, &is_token, &l);
	if (r == TROVE_ERR_NOT_FOUND || r == TROVE_ERR_INTEGRITY) {
		r = response_error(resp, TROVE_ERR_INVALID, "invalid lease");
		goto out;
	}
	if (r != 0)
		goto out;
	if (is_token) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "tokens cannot be renewed through this endpoint; use auth/token/renew");
		goto out;
	}
	int64_t now = now_of(x);
	if (!l->renewable || l->irrevocable || l->expire_time <= now) {
		r = response_error(resp, TROVE_ERR_INVALID, "lease is not renewable");
		goto out;
	}
	int64_t ttl = increment > 0 ? increment : l->ttl;
	struct mount *m = mount_by_accessor(core_mounts(x->core), l->mount_accessor);
	if (!m) {
		r = response_error(resp, TROVE_ERR_INVALID, "the mount that issued the lease no longer exists");
		goto out;
	}
	/* The cap is the lease's own and the mount's as tuned now. */
	int64_t max = mount_max_ttl(x->core, m);
	if (l->max_ttl > 0 && (max <= 0 || l->max_ttl < max))
		max = l->max_ttl;
	int64_t end, expire;
	if (max > 0 && duration_add(l->issue_time, max, &end) != 0) {
		mount_release(m);
		r = response_error(resp, TROVE_ERR_INVALID, "lease max TTL out of range");
		goto out;
	}
	if (max > 0) {
		int64_t left = end - now;
		if (ttl > left) {
			response_warning(resp,
			                 "TTL of %lld exceeded the effective max_ttl of %lld; TTL value is capped "
			                 "accordingly",
			                 (long long)ttl, (long long)left);
			ttl = left;
		}
	}
	if (ttl <= 0) {
		mount_release(m);
		r = response_error(resp, TROVE_ERR_INVALID, "lease has reached its max TTL");
		goto out;
	}
	if (m->engine && m->engine->lease_renew) {
		struct buf err;
		buf_init(&err, 1024);
		int64_t granted = ttl;
		r = m->engine->lease_renew(m, l, &granted, &err);
		if (r == 0 && granted > 0 && granted < ttl)
			ttl = granted;
		if (r != 0)
			response_error(resp, r, "%s", err.len ? err.data : err_message(r));
		buf_release(&err);
	}
	mount_release(m);
	if (r != 0)
		goto out;
	if (duration_add(now, ttl, &expire) != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "lease TTL out of range");
		goto out;
	}
	int64_t old = l->revoke_at;
	l->expire_time = l->revoke_at = expire;
	l->last_renewal = now;
	l->ttl = ttl;
	l->attempts = 0;
	if ((r = write_lease(x, l, old, NULL)) != 0)
		goto out;
	expiration_schedule(x, l->revoke_at);
	free(resp->lease_id);
	resp->lease_id = xstrdup(l->id);
	resp->lease_duration = ttl;
	resp->renewable = true;
out:
	pthread_mutex_unlock(mu);
	lease_free(l);
	return r;
}

/* Revokes one lease now (token leases always now). */
static int revoke_one(struct expiration *x, const char *lease_id, bool sync, bool force, struct buf *err)
{
	struct lease *l = NULL;
	bool is_token;
	pthread_mutex_t *mu = stripe(x, lease_id);
	int r;
	pthread_mutex_lock(mu);
	r = read_lease(x, lease_id, &is_token, &l);
	if (r == TROVE_ERR_INTEGRITY && force) {
		char k[LEASE_KEY_MAX];
		r = lease_id_key(k, sizeof(k), lease_id) == 0 ? storage_delete(store(x), k) : 0;
		goto out;
	}
	if (r != 0)
		goto out;
	if (is_token) {
		pthread_mutex_unlock(mu);
		r = token_revoke(core_tokens(x->core), lease_item(lease_id), false);
		if (r == 0) {
			/* A token lease without its token: drop the entry. */
			char k[LEASE_KEY_MAX];
			int64_t exp;
			if (token_expire_time(core_tokens(x->core), lease_item(lease_id), &exp) == TROVE_ERR_NOT_FOUND &&
			    lease_id_key(k, sizeof(k), lease_id) == 0)
				(void)storage_delete(store(x), k);
			atomic_fetch_add(&x->revoked, 1);
		}
		return r;
	}
	if (sync || force || l->irrevocable)
		r = revoke_secret_locked(x, l, force, err);
	else
		r = expire_now_locked(x, l);
out:
	pthread_mutex_unlock(mu);
	lease_free(l);
	return r;
}

int expiration_revoke(struct expiration *x, const char *lease_id, bool sync, struct buf *err)
{
	if (!store(x))
		return TROVE_ERR_SEALED;
	int r = revoke_one(x, lease_id, sync, false, err);
	if (r == TROVE_ERR_NOT_FOUND)
		return 0; /* nothing to revoke: done, as Vault */
	if (r == TROVE_ERR_INTEGRITY) {
		buf_append_str(err, "invalid lease");
		return TROVE_ERR_INVALID;
	}
	return r;
}

int expiration_revoke_prefix(struct expiration *x, const char *prefix, bool sync, bool force, size_t *count,
                             struct buf *err)
{
	struct strlist dirs, kids;
	char dir[LEASE_KEY_MAX];
	size_t n = 0, plen = strlen(prefix);
	int r = 0, first = 0;

	if (count)
		*count = 0;
	if (!store(x))
		return TROVE_ERR_SEALED;
	if (plen == 0 || plen > LEASE_ID_MAX) {
		buf_append_str(err, plen == 0 ? "prefix is required" : "prefix is too long");
		return TROVE_ERR_INVALID;
	}
	strlist_init(&dirs);
	strlist_init(&kids);
	if (prefix[plen - 1] != '/') {
		/* An exact lease id is revoked itself; then what lies below. */
		r = revoke_one(x, prefix, sync, force, err);
		if (r == 0)
			n++;
		else if (r != TROVE_ERR_NOT_FOUND)
			goto out;
		r = 0;
		snprintf(dir, sizeof(dir), "%s%s/", LEASE_ID_PREFIX, prefix);
	} else {
		snprintf(dir, sizeof(dir), "%s%s", LEASE_ID_PREFIX, prefix);
	}
	strlist_push(&dirs, dir);
	for (size_t d = 0; d < dirs.len; d++) {
		strlist_release(&kids);
		strlist_init(&kids);
		if ((r = storage_list(store(x), dirs.items[d], &kids)) != 0)
			goto out;
		for (size_t i = 0; i < kids.len; i++) {
			char path[LEASE_KEY_MAX];
			snprintf(path, sizeof(path), "%s%s", dirs.items[d], kids.items[i]);
			size_t klen = strlen(kids.items[i]);
			if (klen && kids.items[i][klen - 1] == '/') {
				strlist_push(&dirs, path);
				continue;
			}
			int rr = revoke_one(x, path + strlen(LEASE_ID_PREFIX), sync, force, err);
			if (rr == 0)
				n++;
			else if (rr != TROVE_ERR_NOT_FOUND && !first)
				first = rr; /* go on with the others; report the first failure */
		}
	}
	r = first;
out:
	if (count)
		*count = n;
	strlist_release(&dirs);
	strlist_release(&kids);
	return r;
}

/* --- tidy ------------------------------------------------------------------------------ */

static void tidy_lease(struct expiration *x, const char *lease_id)
{
	struct token_store *ts = core_tokens(x->core);
	struct lease *l = NULL;
	bool is_token;
	int64_t exp;
	pthread_mutex_t *mu = stripe(x, lease_id);
	char k[LEASE_KEY_MAX];
	pthread_mutex_lock(mu);
	int r = read_lease(x, lease_id, &is_token, &l);
	if (r == TROVE_ERR_INTEGRITY) {
		log_warn("lease tidy: dropping an unreadable lease entry", "lease_id", lease_id);
		if (lease_id_key(k, sizeof(k), lease_id) == 0)
			(void)storage_delete(store(x), k);
	} else if (r == 0 && is_token) {
		if (token_expire_time(ts, lease_item(lease_id), &exp) == TROVE_ERR_NOT_FOUND &&
		    lease_id_key(k, sizeof(k), lease_id) == 0)
			(void)storage_delete(store(x), k);
	} else if (r == 0 && l->token[0] && !l->irrevocable) {
		struct token_entry *e = NULL;
		if (token_lookup_hash(ts, l->token, &e) != 0)
			(void)expire_now_locked(x, l); /* its token is gone */
		token_entry_free(e);
	}
	pthread_mutex_unlock(mu);
	lease_free(l);
}

static void *tidy_main(void *arg)
{
	struct expiration *x = arg;
	struct strlist dirs, kids;
	size_t seen = 0;
	strlist_init(&dirs);
	strlist_init(&kids);
	strlist_push(&dirs, LEASE_ID_PREFIX);
	for (size_t d = 0; d < dirs.len; d++) {
		pthread_mutex_lock(&x->mu);
		bool running = x->running;
		pthread_mutex_unlock(&x->mu);
		if (!running)
			break;
		strlist_release(&kids);
		strlist_init(&kids);
		if (storage_list(store(x), dirs.items[d], &kids) != 0)
			break;
		for (size_t i = 0; i < kids.len; i++) {
			char path[LEASE_KEY_MAX];
			snprintf(path, sizeof(path), "%s%s", dirs.items[d], kids.items[i]);
			size_t klen = strlen(kids.items[i]);
			if (klen && kids.items[i][klen - 1] == '/')
				strlist_push(&dirs, path);
			else {
				tidy_lease(x, path + strlen(LEASE_ID_PREFIX));
				seen++;
			}
		}
	}
	strlist_release(&dirs);
	strlist_release(&kids);
	char n[32];
	snprintf(n, sizeof(n), "%zu", seen);
	log_info("lease tidy done", "leases_checked", n);
	atomic_store(&x->tidy_running, false);
	return NULL;
}

int expiration_tidy(struct expiration *x)
{
	if (!store(x))
		return TROVE_ERR_SEALED;
	if (atomic_exchange(&x->tidy_running, true))
		return TROVE_ERR_CONFLICT;
	pthread_mutex_lock(&x->mu);
	if (x->tidy_joinable) {
		pthread_join(x->tidy_thread, NULL); /* the previous sweep has finished */
		x->tidy_joinable = false;
	}
	int r = pthread_create(&x->tidy_thread, NULL, tidy_main, x) == 0 ? 0 : TROVE_ERR_NOMEM;
	x->tidy_joinable = r == 0;
	pthread_mutex_unlock(&x->mu);
	if (r != 0)
		atomic_store(&x->tidy_running, false);
	return r;
}

/* --- irrevocable leases and stats ---------------------------------------------- */

int expiration_irrevocable(struct expiration *x, bool counts_only, size_t limit, json_t **out)
{
	struct strlist items;
	json_t *counts = json_object(), *leases = json_array();
	size_t total = 0;
	int r;
	*out = NULL;
	if (!store(x))
		return TROVE_ERR_SEALED;
	strlist_init(&items);
	if ((r = storage_list(store(x), LEASE_IRREVOCABLE_PREFIX, &items)) != 0)
		goto out;
	for (size_t i = 0; i < items.len; i++) {
		struct lease *l = NULL;
		bool is_token;
		char *id = read_index(x, LEASE_IRREVOCABLE_PREFIX, items.items[i]);
		if (!id)
			continue;
		if (read_lease(x, id, &is_token, &l) == 0 && l && l->irrevocable) {
			total++;
			json_t *c = json_object_get(counts, l->mount_accessor);
			json_object_set_new(counts, l->mount_accessor,
			                    json_integer((c ? json_integer_value(c) : 0) + 1));
			if (!counts_only && (limit == 0 || json_array_size(leases) < limit))
				json_array_append_new(leases, json_pack("{s:s, s:s, s:o, s:s}", "lease_id", l->id,
				                                        "mount_id", l->mount_accessor, "expire_time",
				                                        time_or_null(l->expire_time), "error",
				                                        l->error ? l->error : ""));
		}
		lease_free(l);
		free(id);
	}
	if (counts_only)
		*out = json_pack("{s:I, s:O}", "lease_count", (json_int_t)total, "counts", counts);
	else
		*out = json_pack("{s:I, s:O}", "lease_count", (json_int_t)total, "leases", leases);
	r = *out ? 0 : TROVE_ERR_NOMEM;
out:
	strlist_release(&items);
	json_decref(counts);
	json_decref(leases);
	return r;
}

void expiration_stats(struct expiration *x, struct expiration_stats *out)
{
	out->irrevocable = atomic_load(&x->irrevocable);
	out->revoked = atomic_load(&x->revoked);
	out->revoke_errors = atomic_load(&x->revoke_errors);
}
