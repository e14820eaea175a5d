/* lockout.c — the user lockout table (see lockout.h for the rules).
 *
 * One process-wide chained hash table behind one mutex: a login attempt
 * touches it twice (begin, then success or nothing) around an argon2
 * verification that costs milliseconds, so the lock is never contended
 * for long. Entries are found by FNV-1a of accessor and alias. An entry
 * remembers the threshold and counter reset it was counted with, so it can
 * tell on its own whether it is locked or has run out (listing and
 * the sweep do not know the mount's settings). */
#include <pthread.h>
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
	char *accessor;
	char *alias;
	int64_t count;
	int64_t threshold;
	int64_t counter_reset;
	int64_t last_failure;
	int64_t locked_until; /* 0: not locked */
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *buckets[BUCKETS];
static size_t nentries;
static size_t max_entries = LOCKOUT_MAX_ENTRIES;
static int64_t last_sweep; /* when make_room last swept (now_s) */
static bool swept_once;
static const struct clock *clock_src;

static int64_t now_s(void)
{
	return clock_read(clock_src, clock_monotonic_s);
}

static size_t alias_len(const char *alias)
{
	return strnlen(alias, LOCKOUT_ALIAS_MAX);
}

static uint64_t key_hash(const char *accessor, const char *alias)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = accessor; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL; /* separator no name contains */
	for (size_t i = 0, n = alias_len(alias); i < n; i++)
		h = (h ^ (unsigned char)alias[i]) * 1099511628211ULL;
	return h;
}

static bool key_eq(const struct entry *e, uint64_t h, const char *accessor, const char *alias)
{
	size_t n = alias_len(alias);
	return e->hash == h && strcmp(e->accessor, accessor) == 0 && strlen(e->alias) == n &&
	       memcmp(e->alias, alias, n) == 0;
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

static struct entry **find_slot(uint64_t h, const char *accessor, const char *alias)
{
	struct entry **pp = &buckets[h & (BUCKETS - 1)];
	while (*pp && !key_eq(*pp, h, accessor, alias))
		pp = &(*pp)->next;
	return pp;
}

static void unlink_free(struct entry **pp)
{
	struct entry *e = *pp;
	*pp = e->next;
	free(e->accessor);
	free(e->alias);
	free(e);
	nentries--;
}

/* Drops spent entries, at most once a second (a full table is swept by
 * every refused attempt otherwise). Entries still counting stay: evicting
 * one would give an attacker fresh guesses at its alias. */
static void make_room(int64_t now)
{
	if (swept_once && now == last_sweep)
		return;
	swept_once = true;
	last_sweep = now;
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct entry **pp = &buckets[b]; *pp;) {
			if (spent_at(*pp, now))
				unlink_free(pp);
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

int lockout_begin(const char *accessor, const char *alias, const struct lockout_config *cfg)
{
	if (cfg->threshold <= 0)
		return 0;
	uint64_t h = key_hash(accessor, alias);
	int r = 0;

	pthread_mutex_lock(&table_lock);
	int64_t now = now_s();
	struct entry **pp = find_slot(h, accessor, alias);
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
		if (nentries >= max_entries)
			make_room(now);
		if (nentries >= max_entries) {
			r = TROVE_ERR_RATE_LIMIT;
			goto out;
		}
		e = xcalloc(1, sizeof(*e));
		e->hash = h;
		e->accessor = xstrdup(accessor);
		e->alias = xstrndup(alias, alias_len(alias));
		e->next = buckets[h & (BUCKETS - 1)];
		buckets[h & (BUCKETS - 1)] = e;
		nentries++;
	}
	e->count++;
	e->last_failure = now;
	e->threshold = cfg->threshold;
	e->counter_reset = cfg->counter_reset < 0 ? 0 : cfg->counter_reset;
	if (e->count >= cfg->threshold && cfg->duration > 0)
		e->locked_until = now + cfg->duration;
out:
	pthread_mutex_unlock(&table_lock);
	return r;
}

void lockout_success(const char *accessor, const char *alias)
{
	uint64_t h = key_hash(accessor, alias);
	pthread_mutex_lock(&table_lock);
	struct entry **pp = find_slot(h, accessor, alias);
	if (*pp)
		unlink_free(pp);
	pthread_mutex_unlock(&table_lock);
}

void lockout_abandon(const char *accessor, const char *alias)
{
	uint64_t h = key_hash(accessor, alias);
	pthread_mutex_lock(&table_lock);
	struct entry **pp = find_slot(h, accessor, alias);
	struct entry *e = *pp;
	if (e) {
		if (e->count > 0)
			e->count--;
		if (e->count < e->threshold)
			e->locked_until = 0;
		if (e->count == 0)
			unlink_free(pp);
	}
	pthread_mutex_unlock(&table_lock);
}

bool lockout_unlock(const char *accessor, const char *alias)
{
	uint64_t h = key_hash(accessor, alias);
	bool was = false;
	pthread_mutex_lock(&table_lock);
	struct entry **pp = find_slot(h, accessor, alias);
	if (*pp) {
		was = locked_at(*pp, now_s());
		unlink_free(pp);
	}
	pthread_mutex_unlock(&table_lock);
	return was;
}

bool lockout_is_locked(const char *accessor, const char *alias)
{
	uint64_t h = key_hash(accessor, alias);
	pthread_mutex_lock(&table_lock);
	struct entry *e = *find_slot(h, accessor, alias);
	bool l = e && locked_at(e, now_s());
	pthread_mutex_unlock(&table_lock);
	return l;
}

size_t lockout_foreach_locked(const char *accessor,
                              void (*fn)(const char *accessor, const char *alias, void *arg), void *arg)
{
	size_t n = 0;
	pthread_mutex_lock(&table_lock);
	int64_t now = now_s();
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct entry *e = buckets[b]; e; e = e->next) {
			if (!locked_at(e, now) || (accessor && strcmp(e->accessor, accessor) != 0))
				continue;
			fn(e->accessor, e->alias, arg);
			n++;
		}
	pthread_mutex_unlock(&table_lock);
	return n;
}

void lockout_set_clock(const struct clock *c)
{
	pthread_mutex_lock(&table_lock);
	clock_src = c;
	pthread_mutex_unlock(&table_lock);
}

void lockout_set_max_entries(size_t n)
{
	pthread_mutex_lock(&table_lock);
	max_entries = n == 0 ? LOCKOUT_MAX_ENTRIES : n < LOCKOUT_MIN_ENTRIES ? LOCKOUT_MIN_ENTRIES : n;
	pthread_mutex_unlock(&table_lock);
}

void lockout_clear(void)
{
	pthread_mutex_lock(&table_lock);
	swept_once = false;
	for (size_t b = 0; b < BUCKETS; b++)
		while (buckets[b])
			unlink_free(&buckets[b]);
	pthread_mutex_unlock(&table_lock);
}

size_t lockout_size(void)
{
	pthread_mutex_lock(&table_lock);
	size_t n = nentries;
	pthread_mutex_unlock(&table_lock);
	return n;
}
