/* lockout.c — the user lockout tables (see lockout.h for the rules).
 *
 * One chained hash table per auth mount behind one mutex: a login attempt
 * touches it twice (begin, then success or nothing) around an argon2
 * verification that costs milliseconds, so the lock is never contended
 * for long. Entries are found by FNV-1a of the alias. An entry remembers
 * the threshold and counter reset it was counted with, so it can tell on
 * its own whether it is locked or has run out (listing and the sweep do
 * not know the mount's settings). The size limit and the clock are
 * process-wide settings, read by every table. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lockout.h"

#include "buf.h"
#include "clock.h"
#include "err.h"

#include "banned.h"

#define BUCKETS 4096 /* a power of two */

struct entry {
	struct entry *next;
	uint64_t hash;
	char *alias;
	int64_t count;
	int64_t threshold;
	int64_t counter_reset;
	int64_t last_failure;
	int64_t locked_until; /* 0: not locked */
};

struct lockout_table {
	pthread_mutex_t lock;
	struct entry **buckets; /* BUCKETS of them once the first alias comes */
	size_t nentries;
	int64_t last_sweep; /* when make_room last swept (now_s) */
	bool swept_once;
};

static _Atomic size_t max_entries = LOCKOUT_MAX_ENTRIES;
static const struct clock *_Atomic clock_src;

static int64_t now_s(void)
{
	return clock_read(atomic_load(&clock_src), clock_monotonic_s);
}

static size_t alias_len(const char *alias)
{
	return strnlen(alias, LOCKOUT_ALIAS_MAX);
}

static uint64_t key_hash(const char *alias)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0, n = alias_len(alias); i < n; i++)
		h = (h ^ (unsigned char)alias[i]) * 1099511628211ULL;
	return h;
}

static bool key_eq(const struct entry *e, uint64_t h, const char *alias)
{
	size_t n = alias_len(alias);
	return e->hash == h && strlen(e->alias) == n && memcmp(e->alias, alias, n) == 0;
}

static bool locked_at(const struct entry *e, int64_t now)
{
	return e->locked_until != 0 && now < e->locked_until;
}

/* Neither locked nor counting any more: may be dropped. */
static bool spent_at(const struct entry *e, int64_t now)
{
	if (e->locked_until != 0)
		return now >= e->locked_until;
	return now - e->last_failure > e->counter_reset;
}

/* The link that holds (or would hold) alias; NULL while t is empty. */
static struct entry **find_slot(struct lockout_table *t, uint64_t h, const char *alias)
{
	if (!t->buckets)
		return NULL;
	struct entry **pp = &t->buckets[h & (BUCKETS - 1)];
	while (*pp && !key_eq(*pp, h, alias))
		pp = &(*pp)->next;
	return pp;
}

static void unlink_free(struct lockout_table *t, struct entry **pp)
{
	struct entry *e = *pp;
	*pp = e->next;
	free(e->alias);
	free(e);
	t->nentries--;
}

/* Drops spent entries, at most once a second (a full table is swept by
 * every refused attempt otherwise). Entries still counting stay: evicting
 * one would give an attacker fresh guesses at its alias. */
static void make_room(struct lockout_table *t, int64_t now)
{
	if (t->swept_once && now == t->last_sweep)
		return;
	t->swept_once = true;
	t->last_sweep = now;
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct entry **pp = &t->buckets[b]; *pp;) {
			if (spent_at(*pp, now))
				unlink_free(t, pp);
			else
				pp = &(*pp)->next;
		}
}

void lockout_config_default(struct lockout_config *cfg)
{
	cfg->threshold = LOCKOUT_DEFAULT_THRESHOLD;
	cfg->duration = LOCKOUT_DEFAULT_DURATION;
	cfg->counter_reset = LOCKOUT_DEFAULT_COUNTER_RESET;
}

struct lockout_table *lockout_table_new(void)
{
	struct lockout_table *t = xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void lockout_table_free(struct lockout_table *t)
{
	if (!t)
		return;
	lockout_clear(t);
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int lockout_begin(struct lockout_table *t, const char *alias, const struct lockout_config *cfg)
{
	if (cfg->threshold <= 0)
		return 0;
	uint64_t h = key_hash(alias);
	int r = 0;

	pthread_mutex_lock(&t->lock);
	if (!t->buckets)
		t->buckets = xcalloc(BUCKETS, sizeof(*t->buckets));
	int64_t now = now_s();
	struct entry **pp = find_slot(t, h, alias);
	struct entry *e = *pp;
	if (e && locked_at(e, now)) {
		r = TROVE_ERR_PERMISSION;
		goto out;
	}
	if (e && (e->locked_until != 0 || now - e->last_failure > cfg->counter_reset)) {
		e->count = 0;
		e->locked_until = 0;
	}
	if (!e) {
		size_t max = atomic_load(&max_entries);
		if (t->nentries >= max)
			make_room(t, now);
		if (t->nentries >= max) {
			r = TROVE_ERR_RATE_LIMIT;
			goto out;
		}
		e = xcalloc(1, sizeof(*e));
		e->hash = h;
		e->alias = xstrndup(alias, alias_len(alias));
		e->next = t->buckets[h & (BUCKETS - 1)];
		t->buckets[h & (BUCKETS - 1)] = e;
		t->nentries++;
	}
	e->count++;
	e->last_failure = now;
	e->threshold = cfg->threshold;
	e->counter_reset = cfg->counter_reset < 0 ? 0 : cfg->counter_reset;
	if (e->count >= cfg->threshold && cfg->duration > 0)
		e->locked_until = now + cfg->duration;
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

void lockout_success(struct lockout_table *t, const char *alias)
{
	uint64_t h = key_hash(alias);
	pthread_mutex_lock(&t->lock);
	struct entry **pp = find_slot(t, h, alias);
	if (pp && *pp)
		unlink_free(t, pp);
	pthread_mutex_unlock(&t->lock);
}

void lockout_abandon(struct lockout_table *t, const char *alias)
{
	uint64_t h = key_hash(alias);
	pthread_mutex_lock(&t->lock);
	struct entry **pp = find_slot(t, h, alias);
	struct entry *e = pp ? *pp : NULL;
	if (e) {
		if (e->count > 0)
			e->count--;
		if (e->count < e->threshold)
			e->locked_until = 0;
		if (e->count == 0)
			unlink_free(t, pp);
	}
	pthread_mutex_unlock(&t->lock);
}

bool lockout_unlock(struct lockout_table *t, const char *alias)
{
	uint64_t h = key_hash(alias);
	bool was = false;
	pthread_mutex_lock(&t->lock);
	struct entry **pp = find_slot(t, h, alias);
	if (pp && *pp) {
		was = locked_at(*pp, now_s());
		unlink_free(t, pp);
	}
	pthread_mutex_unlock(&t->lock);
	return was;
}

bool lockout_is_locked(struct lockout_table *t, const char *alias)
{
	uint64_t h = key_hash(alias);
	pthread_mutex_lock(&t->lock);
	struct entry **pp = find_slot(t, h, alias);
	bool l = pp && *pp && locked_at(*pp, now_s());
	pthread_mutex_unlock(&t->lock);
	return l;
}

size_t lockout_foreach_locked(struct lockout_table *t, void (*fn)(const char *alias, void *arg), void *arg)
{
	size_t n = 0;
	pthread_mutex_lock(&t->lock);
	int64_t now = now_s();
	for (size_t b = 0; t->buckets && b < BUCKETS; b++)
		for (struct entry *e = t->buckets[b]; e; e = e->next) {
			if (!locked_at(e, now))
				continue;
			fn(e->alias, arg);
			n++;
		}
	pthread_mutex_unlock(&t->lock);
	return n;
}

void lockout_set_clock(const struct clock *c)
{
	atomic_store(&clock_src, c);
}

void lockout_set_max_entries(size_t n)
{
	atomic_store(&max_entries, n == 0 ? LOCKOUT_MAX_ENTRIES : n < LOCKOUT_MIN_ENTRIES ? LOCKOUT_MIN_ENTRIES : n);
}

void lockout_clear(struct lockout_table *t)
{
	pthread_mutex_lock(&t->lock);
	t->swept_once = false;
	for (size_t b = 0; t->buckets && b < BUCKETS; b++)
		while (t->buckets[b])
			unlink_free(t, &t->buckets[b]);
	pthread_mutex_unlock(&t->lock);
}

size_t lockout_size(struct lockout_table *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->nentries;
	pthread_mutex_unlock(&t->lock);
	return n;
}
