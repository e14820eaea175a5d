/* agent_cache.h — the API proxy's lease cache, as Vault Agent's: answers
 * that carry a lease, or that create a token, made through the proxy are
 * kept and served again to an identical request, until the lease or the
 * token is revoked through the proxy, cleared with /agent/v1/cache-clear,
 * fails to renew or expires.
 *
 * This file is the store and its rules, without I/O: the proxy (agent_
 * proxy.c) asks it, forwards misses, offers it the answers, tells it about
 * revocations, and its renewer renews what agent_cache_next_due hands out.
 * All functions are thread-safe (one mutex). Times are monotonic seconds
 * passed in by the caller, so tests drive the clock.
 *
 * Which answers are kept (Vault Agent's rules): a 2xx JSON answer that is
 * not wrapped and is renewable, with
 *   - a lease_id, when the request's token is managed (a token the cache
 *     holds, or the auto-auth token): kept under that token;
 *   - an auth block, when the new token is an orphan or its parent (the
 *     request's token) is managed: kept as a token entry, child of its
 *     parent.
 * Evicting a token entry evicts what is kept under it: the leases made
 * with it and its child tokens, recursively.
 *
 * Bounds: at most cap entries (the least recently used is evicted to make
 * room) and AGENT_CACHE_MAX_BODY bytes per answer (a larger one is not
 * kept). Bodies are secrets: wiped when evicted. */
#ifndef TROVE_AGENT_CACHE_H
#define TROVE_AGENT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

#define AGENT_CACHE_MAX_ENTRIES 1024
#define AGENT_CACHE_MAX_BODY ((size_t)256 << 10)
#define AGENT_CACHE_KEY_LEN 64 /* hex SHA-256 */

struct agent_cache;

/* What identifies a request (all borrowed; NULL is "" for strings). */
struct agent_cache_req {
	const char *token; /* the token the request is sent with */
	const char *namespace_name;
	const char *method;
	const char *path; /* as received, "/v1/..." */
	const char *query;
	const char *body;
	size_t body_len;
};

/* A cached answer handed out (copies; release with agent_cache_hit_release). */
struct agent_cache_hit {
	int status;
	char *content_type;
	struct buf body; /* secret */
	int64_t age;     /* seconds since it was stored */
};

/* A renewal that is due (copies, the token wiped on release). */
struct agent_cache_renewal {
	char key[AGENT_CACHE_KEY_LEN + 1];
	bool is_token;  /* renew the token itself (auth/token/renew-self) */
	char *token;    /* the token to renew with */
	char *lease_id; /* for a lease (sys/leases/renew) */
	char *namespace_name;
	int64_t increment; /* seconds asked for */
};

/* cap 0: AGENT_CACHE_MAX_ENTRIES. renew_fraction in (0, 1]: a lease is
 * renewed when that fraction of its duration has passed (0: 2/3, as
 * Vault's lifetime watcher). */
struct agent_cache *agent_cache_new(size_t cap, double renew_fraction);
/* Wipes and frees every entry. NULL is fine. */
void agent_cache_free(struct agent_cache *c);

/* The request's key: hex SHA-256 over its fields, each length-prefixed.
 * False only if OpenSSL failed (then out is empty and the request must
 * not be looked up or kept). */
bool agent_cache_key(const struct agent_cache_req *r, char out[AGENT_CACHE_KEY_LEN + 1]);

/* Looks key up; on a hit fills *hit (the entry becomes the most recently
 * used) and returns true. */
bool agent_cache_get(struct agent_cache *c, const char *key, int64_t now, struct agent_cache_hit *hit);
void agent_cache_hit_release(struct agent_cache_hit *hit);

/* Offers an answer to the request r (keyed key) for keeping. auto_token is
 * the current auto-auth token (NULL: none), which counts as managed.
 * Returns true when it was kept. json is the parsed body (borrowed). */
bool agent_cache_offer(struct agent_cache *c, const char *key, const struct agent_cache_req *r,
                       const char *auto_token, int status, const char *content_type, const char *body, size_t len,
                       const json_t *json, int64_t now);

/* What a successful (2xx) request through the proxy revoked: evicts the
 * entries it makes stale (Vault Agent's revocation paths). Returns true
 * when r was a revocation request. */
bool agent_cache_on_revocation(struct agent_cache *c, const struct agent_cache_req *r, const json_t *body);

/* /agent/v1/cache-clear: type request_path|lease|token|token_accessor|all
 * with value (not needed for all) and namespace (request_path only).
 * Returns 0 with *evicted set, or TROVE_ERR_INVALID with why (a static
 * string) for an unknown type or a missing value. */
int agent_cache_clear(struct agent_cache *c, const char *type, const char *value, const char *namespace_name,
                      size_t *evicted, const char **why);

/* The earliest renewal due time of an entry (INT64_MAX when none). */
int64_t agent_cache_next_due(struct agent_cache *c);
/* Takes a renewal that is due at now (fills *out, returns true), marking
 * it in progress; the caller renews and reports with agent_cache_renewed. */
bool agent_cache_take_due(struct agent_cache *c, int64_t now, struct agent_cache_renewal *out);
/* The outcome of a renewal: ok with the new duration ttl (seconds), or a
 * failure, which evicts the entry (and what is under it). A renewal that
 * does not extend the entry's life (ttl shorter than asked, the max
 * reached) keeps it until it expires, then it is evicted. */
void agent_cache_renewed(struct agent_cache *c, const struct agent_cache_renewal *r, bool ok, int64_t ttl,
                         int64_t now);
void agent_cache_renewal_release(struct agent_cache_renewal *r);

/* Entries held now, and the counters since the cache was made. */
size_t agent_cache_count(struct agent_cache *c);

#endif
