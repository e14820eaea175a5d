/* expiration.h — leases and the expiration manager.
 *
 * A lease says how long something Trove handed out stays valid and who
 * cleans it up. Two kinds:
 *  - a service token's lease: id "<creation path>/<locator>"; its times
 *    are the token's own (the token store keeps lease and token in step,
 *    lease_key.h); revoking the lease revokes the token and its subtree;
 *  - a secret's lease: registered by the router when an engine's handler
 *    leases what it returns (response.secret); id "<request path>/<24
 *    random base62>"; revoking it calls the engine's lease_revoke with
 *    the engine's own data kept in the lease (router.h, struct engine).
 * Every lease a token created is revoked when that token is revoked.
 *
 * The manager drives revocation from the expiry index in storage (see
 * lease_key.h): a timer thread sleeps until the first due second (or a
 * registration due earlier wakes it), collects what is due, and hands it
 * to worker threads. A lease whose engine revocation fails is retried
 * with exponential backoff (retry_base, doubling, at most retry_cap);
 * after max_attempts failures it becomes irrevocable: kept, listed by
 * sys/leases?type=irrevocable, counted in a metric, never retried by the
 * timer again (sys/leases/revoke retries it once; revoke-force drops it).
 *
 * All functions are thread-safe. */
#ifndef TROVE_EXPIRATION_H
#define TROVE_EXPIRATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "storage/storage.h"

struct core;
struct request;
struct response;
struct expiration;

/* A secret's lease as its engine sees it in lease_revoke / lease_renew. */
struct lease {
	char *id;
	char *path;           /* the request path that created it */
	char *mount_accessor; /* the mount whose engine issued it */
	char *token;          /* locator of the token that created it, or "" */
	json_t *internal;     /* the engine's own data (object), never shown */
	int64_t issue_time;   /* unix seconds */
	int64_t expire_time;  /* unix seconds */
	int64_t last_renewal; /* 0 = never */
	int64_t ttl;          /* the TTL granted at issue or last renewal */
	int64_t max_ttl;      /* no renewal reaches past issue_time + max_ttl */
	int64_t revoke_at;    /* when the timer next acts on it */
	int attempts;         /* failed revocations so far */
	bool renewable;
	bool irrevocable;
	char *error;          /* the last revocation failure, or NULL */
};

struct expiration_config {
	unsigned workers;     /* revocation threads; 0 = no threads: the
	                       * owner drives expiration_tick (tests) */
	int max_attempts;     /* failed revocations before irrevocable */
	int64_t retry_base;   /* seconds before the first retry */
	int64_t retry_cap;    /* longest wait between retries */
	int64_t revoke_timeout_ms; /* longest wait for one engine lease_revoke
	                            * call; past it the call counts as failed
	                            * (retried later) and the worker moves on.
	                            * 0 = no limit (lease_call.h) */
};
#define EXPIRATION_DEFAULT_WORKERS 2
#define EXPIRATION_DEFAULT_REVOKE_TIMEOUT_S 30
/* Vault's: 6 attempts, 10 s doubling; EXPIRATION_DEFAULT_WORKERS workers,
 * EXPIRATION_DEFAULT_REVOKE_TIMEOUT_S per engine call. */
void expiration_config_default(struct expiration_config *cfg);

struct expiration *expiration_new(struct core *c);
void expiration_free(struct expiration *x);
/* For tests: the clock (lib/clock, Unix seconds) used instead of
 * time(NULL); it must outlive x or be replaced. NULL restores the
 * system's. */
struct clock;
void expiration_set_clock(struct expiration *x, const struct clock *c);

/* Starts the manager over `logical` (borrowed; the barrier view) once the
 * token store and the mounts are loaded: hooks token revocation and token
 * expiry scheduling, loads the irrevocable count, and starts the threads.
 * Nothing per lease is loaded. */
int expiration_start(struct expiration *x, struct storage *logical, const struct expiration_config *cfg);
/* Stops the threads (waiting for revocations in flight) and forgets the
 * storage. Call on seal, before the token store closes. Idempotent. */
void expiration_stop(struct expiration *x);

/* Collects and revokes what is due now, in the calling thread when the
 * manager has no workers (else queues it). *processed (may be NULL) gets
 * the number of leases acted on. */
int expiration_tick(struct expiration *x, size_t *processed);
/* Tells the timer something is due at t (unix seconds). */
void expiration_schedule(struct expiration *x, int64_t t);

/* After a successful handler: when resp->secret.set, registers the lease
 * (tied to req's service token, if any), sets resp->lease_id,
 * lease_duration and renewable, and drops resp->secret.internal. TTL:
 * resp->secret.ttl or the mount's default, capped by resp->secret.max_ttl
 * and the mount's max. If registration fails the engine's lease_revoke is
 * called at once (nothing handed out stays unleased) and the response
 * becomes an error. */
int expiration_register(struct expiration *x, struct request *req, struct response *resp);

/* sys/leases/lookup: data {id, issue_time, expire_time, last_renewal,
 * renewable, ttl}. TROVE_ERR_INVALID ("invalid lease") when unknown. */
int expiration_lookup(struct expiration *x, const char *lease_id, json_t **out);
/* LIST sys/leases/lookup/<prefix>: children of prefix ("" or ending in
 * '/'), folders with a trailing '/'. */
int expiration_list(struct expiration *x, const char *prefix, struct strlist *out);
/* sys/leases/renew of a secret's lease: increment seconds (0: the
 * lease's original TTL), capped by its max; the engine's lease_renew may
 * shorten or refuse it. Fills resp (lease_id, lease_duration, renewable).
 * TROVE_ERR_INVALID with resp errors for an unknown lease, a token lease
 * or a lease that is not renewable. */
int expiration_renew(struct expiration *x, const char *lease_id, int64_t increment, struct response *resp);
/* Revokes one lease. A token lease: the token (and subtree) now. A
 * secret's lease: sync revokes it now (errors say why it failed), else it
 * is queued for the workers. An unknown lease is already revoked (0). */
int expiration_revoke(struct expiration *x, const char *lease_id, bool sync, struct buf *err);
/* Revokes every lease whose id starts with prefix (as a path: "a/b"
 * means "a/b/..."; an exact lease id revokes that lease). force: engine
 * failures are logged and the leases dropped anyway. *count (may be NULL)
 * gets the number of leases acted on. */
int expiration_revoke_prefix(struct expiration *x, const char *prefix, bool sync, bool force, size_t *count,
                             struct buf *err);
/* Starts a background sweep: lease entries whose token is gone are
 * revoked, dangling index entries dropped. TROVE_ERR_CONFLICT when one is
 * already running. */
int expiration_tidy(struct expiration *x);

/* The irrevocable leases: {"lease_count": n, "counts": {accessor: n}}
 * (counts_only) or {"lease_count": n, "leases": [{lease_id, mount_id,
 * expire_time, error}...]} with at most limit entries (0 = no limit). */
int expiration_irrevocable(struct expiration *x, bool counts_only, size_t limit, json_t **out);

struct expiration_stats {
	uint64_t irrevocable;   /* leases irrevocable now */
	uint64_t revoked;       /* leases revoked since start */
	uint64_t revoke_errors; /* failed revocation attempts since start */
};
void expiration_stats(struct expiration *x, struct expiration_stats *out);

void lease_free(struct lease *l);

#endif
