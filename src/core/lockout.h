/* lockout.h — Vault's user lockout: after too many failed logins in a row
 * an alias (a userpass username, an approle role ID) is refused for a
 * while, even with the right credentials.
 *
 * Each auth mount has its own table (mount_lockout, mount.h), made with
 * the mount and freed with it: a lock on one mount never touches another,
 * as in Vault (whose entries are keyed by mount accessor and alias), and
 * a flood of names on one mount cannot fill another's table.
 *
 * State machine of one alias in one table, times in seconds of a
 * monotonic clock:
 *   - every login attempt that is not refused starts with lockout_begin,
 *     which counts it as a failure in advance (count+1, last = now); the
 *     count first restarts from 0 when more than counter_reset seconds
 *     passed since the last failure;
 *   - when the count reaches threshold the alias is locked until
 *     last + duration; lockout_begin refuses it meanwhile (and does not
 *     count the refusal), after that the count restarts from 0;
 *   - lockout_success (the credentials were right) forgets the pair;
 *     lockout_abandon (the attempt failed for another reason: storage,
 *     a CIDR refusal) takes the advance count back; a wrong credential
 *     needs no further call.
 * Counting in advance, under the table's lock, bounds the guesses: N
 * concurrent wrong attempts cannot all slip in before the first failure
 * is recorded (Vault counts after the fact). The price: while the
 * threshold-reaching attempt is still being checked, a concurrent one is
 * refused even if the pending one turns out right.
 *
 * Unknown aliases are tracked like known ones, so a lock says nothing
 * about whether a user exists.
 *
 * Storage: in memory only. A restart unlocks everybody — Vault also
 * persists locks; we chose not to write storage on every failed login.
 * A table holds at most max_entries aliases (LOCKOUT_MAX_ENTRIES unless
 * lockout_set_max_entries says otherwise; the limit is per table). When
 * it is full, entries whose counter or lock has run out are dropped (at
 * most one sweep a second); an entry with failures still counting or a
 * lock still running is never dropped, so a flood of other names cannot
 * reset a victim's count. An alias not in a full table is refused instead
 * (lockout_begin: TROVE_ERR_RATE_LIMIT) until entries run out; aliases
 * already tracked go on as before (docs/decisions/
 * 0010-lockout-table-never-evicts.md). Aliases longer than
 * LOCKOUT_ALIAS_MAX bytes are tracked by their first LOCKOUT_ALIAS_MAX
 * bytes.
 *
 * Defaults are Vault's (5 attempts, 15 minutes lock, 15 minutes counter
 * reset). All functions are thread-safe. */
#ifndef TROVE_LOCKOUT_H
#define TROVE_LOCKOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOCKOUT_DEFAULT_THRESHOLD 5
#define LOCKOUT_DEFAULT_DURATION (15 * 60)
#define LOCKOUT_DEFAULT_COUNTER_RESET (15 * 60)
#define LOCKOUT_MAX_ENTRIES 32768
#define LOCKOUT_MIN_ENTRIES 16
#define LOCKOUT_ALIAS_MAX 256

struct lockout_config {
	int64_t threshold;     /* failed attempts that lock; <= 0 disables lockout */
	int64_t duration;      /* seconds a lock lasts, from the last failure */
	int64_t counter_reset; /* seconds without a failure that restart the count */
};

/* Vault's defaults (the constants above). */
void lockout_config_default(struct lockout_config *cfg);

struct lockout_table;

/* An empty table (its buckets are allocated on first use). Aborts on
 * OOM. */
struct lockout_table *lockout_table_new(void);
/* NULL is fine. */
void lockout_table_free(struct lockout_table *t);

/* Starts a login attempt. Returns 0 having counted the attempt as a
 * failure in advance (nothing is tracked when cfg disables lockout);
 * otherwise refuse without checking credentials: TROVE_ERR_PERMISSION
 * when the alias is locked, TROVE_ERR_RATE_LIMIT when it is not tracked
 * and the table is full of aliases still counting. */
int lockout_begin(struct lockout_table *t, const char *alias, const struct lockout_config *cfg);
/* The credentials were right: the alias's failures are forgotten. */
void lockout_success(struct lockout_table *t, const char *alias);
/* The attempt failed for a reason other than wrong credentials: its
 * advance count is taken back (and a lock it caused lifted). */
void lockout_abandon(struct lockout_table *t, const char *alias);
/* sys/locked-users/.../unlock: forgets the alias. Returns whether it was
 * locked. Idempotent. */
bool lockout_unlock(struct lockout_table *t, const char *alias);
/* Whether the alias is locked now. */
bool lockout_is_locked(struct lockout_table *t, const char *alias);

/* Calls fn for every alias locked now, in no particular order, with the
 * table locked: fn must not call back into this table. Returns how
 * many. */
size_t lockout_foreach_locked(struct lockout_table *t, void (*fn)(const char *alias, void *arg), void *arg);

/* For tests: replaces the clock of every table (lib/clock, monotonic
 * seconds), which must outlive its use; NULL restores CLOCK_MONOTONIC. */
struct clock;
void lockout_set_clock(const struct clock *c);
/* The most aliases each table tracks (at least LOCKOUT_MIN_ENTRIES; 0
 * restores LOCKOUT_MAX_ENTRIES). Aliases already tracked stay. */
void lockout_set_max_entries(size_t n);
/* For tests: forgets every alias of t. */
void lockout_clear(struct lockout_table *t);
/* Aliases currently held by t (locked or counting). */
size_t lockout_size(struct lockout_table *t);

#endif
