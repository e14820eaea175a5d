/* token.h — the token store.
 *
 * Tokens are bearer secrets: the store keeps only a salted hash of each
 * (HMAC-SHA256 under a per-installation salt kept in the barrier), so a copy
 * of storage yields no usable token. A token entry records what the token
 * may do (policies), where it came from (path, display name, parent) and
 * how long it lives (TTL, explicit max TTL, period, remaining uses).
 *
 * Two kinds of token:
 *  - service ("hvs." + 16 hex digits of creation sequence + 24 base62
 *    characters, ~143 bits of randomness): persisted under its locator,
 *    has an accessor, may be renewed, revoked and have children;
 *  - batch ("hvb." + base64url of an AES-256-GCM record holding the entry):
 *    never persisted, no accessor, not renewable, cannot be revoked or
 *    create children; it stops working when it expires or when its parent
 *    (if any) is gone.
 *
 * Storage layout (inside the barrier; <l> is a locator: "<seq>.<h>" where
 * <h> is lowercase hex of HMAC-SHA256(salt, x) and <seq> the creation
 * sequence that opens x, or "<h>" alone for a custom token id):
 *   sys/token/salt                    the salt (32 bytes)
 *   sys/token/batch-key               AES key of batch tokens (32 bytes)
 *   sys/token/id/<l(token)>           the entry (JSON)
 *   sys/token/accessor/<l(accessor)>  {"token": <l(token)>, "accessor": ...}
 *   sys/token/parent/<l(parent)>/<l(child)>   the tree index (empty value)
 * An accessor is looked up only under accessor/, a token only under id/:
 * an accessor presented as a token finds nothing.
 *
 * Validity is decided at lookup, whether or not a sweep (token_tidy) has
 * run: an expired token, a used-up one, or one whose ancestor is missing,
 * expired or used up is TROVE_ERR_PERMISSION.
 *
 * All functions are thread-safe. The store is opened on unseal
 * (token_store_open) and closed on seal. */
#ifndef TROVE_TOKEN_H
#define TROVE_TOKEN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "storage/storage.h"

#define TOKEN_ID_MAX 128     /* service / custom token ids */
#define TOKEN_BATCH_MAX 8192 /* a whole batch token */
#define TOKEN_HASH_HEX 64
/* A locator names a token (or accessor) in storage: "<seq>.<h>" where seq
 * is the 16 lowercase hex digits that open every generated token and
 * accessor (creation order), or just "<h>" for a custom id. See token.c. */
#define TOKEN_SEQ_HEX 16
#define TOKEN_LOCATOR_MAX (TOKEN_SEQ_HEX + 1 + TOKEN_HASH_HEX)
#define TOKEN_ACCESSOR_LEN (TOKEN_SEQ_HEX + 24)
#define TOKEN_SALT_PATH "sys/token/salt"
#define TOKEN_BATCH_KEY_PATH "sys/token/batch-key"
#define TOKEN_ID_PREFIX "sys/token/id/"
#define TOKEN_ACCESSOR_PREFIX "sys/token/accessor/"
#define TOKEN_PARENT_PREFIX "sys/token/parent/"
#define TOKEN_SERVICE_PREFIX "hvs."
/* Length of a generated service token: prefix, sequence, 24 base62. */
#define TOKEN_SERVICE_LEN (sizeof(TOKEN_SERVICE_PREFIX) - 1 + TOKEN_SEQ_HEX + 24)
#define TOKEN_BATCH_PREFIX "hvb."

struct token_store;

enum token_type {
	TOKEN_TYPE_SERVICE = 0,
	TOKEN_TYPE_BATCH = 1,
};

struct token_entry {
	char id_hash[TOKEN_LOCATOR_MAX + 1];     /* locator of the id: the storage key,
	                                          * and the cubbyhole's private prefix */
	char parent_hash[TOKEN_LOCATOR_MAX + 1]; /* "" for an orphan */
	char accessor[TOKEN_ACCESSOR_LEN + 1];   /* "" for batch tokens */
	struct strlist policies;              /* sorted, unique */
	json_t *meta;                         /* object of strings, or NULL */
	char *path;                           /* creation path, "auth/token/create" */
	char *display_name;
	char *entity_id;            /* "" when none */
	char *role;                 /* "" when none */
	struct strlist bound_cidrs; /* empty: usable from anywhere */
	int64_t creation_time;      /* unix seconds */
	int64_t ttl;                /* TTL given at creation; 0 = none */
	int64_t explicit_max_ttl;   /* 0 = none */
	int64_t max_ttl;            /* 0 = none: renewals of a non-periodic token
	                             * never reach past creation + max_ttl (the
	                             * issuing role's effective max, set at login) */
	int64_t period;             /* 0 = not periodic */
	int64_t num_uses;           /* remaining uses; 0 = unlimited */
	int64_t last_renewal_time;  /* 0 = never renewed */
	int64_t expire_time;        /* unix seconds; 0 = never */
	bool orphan;
	bool renewable;
	enum token_type type;
	/* Set by token_lookup_ex when this lookup consumed the token's last
	 * use: the request may proceed, and token_finish_request then
	 * revokes the token. Never stored. */
	bool last_use;
	/* The policies the token's entity gets from the identity store (its
	 * own and its groups'), filled by the router for the request that
	 * uses the token. Never stored. */
	struct strlist identity_policies;
};

/* An empty entry: strings "", lists empty, meta NULL, renewable true.
 * Free with token_entry_free (NULL is fine). */
struct token_entry *token_entry_new(void);
void token_entry_free(struct token_entry *e);
/* A deep copy. */
struct token_entry *token_entry_copy(const struct token_entry *e);
/* Replaces one of the entry's strings with a copy of v (NULL -> ""). */
void token_entry_set(char **field, const char *v);
bool token_has_policy(const struct token_entry *e, const char *policy);

struct token_store *token_store_new(void);
void token_store_free(struct token_store *ts);

/* Loads (or, first time, creates) the salt and the batch-token key from
 * `logical` (borrowed; the barrier view). Call after unseal. */
int token_store_open(struct token_store *ts, struct storage *logical);
/* Forgets the keys and the storage handle. Call on seal. */
void token_store_close(struct token_store *ts);

/* For tests: the clock (lib/clock, Unix seconds) the store uses instead
 * of time(NULL); it must outlive the store or be replaced. NULL restores
 * the system's. */
struct clock;
void token_store_set_clock(struct token_store *ts, const struct clock *c);
/* The keys batch tokens are sealed under (batch_keys.h), borrowed: for
 * tests (rotation threshold) and status. */
struct batch_keys *token_store_batch_keys(struct token_store *ts);

/* Registers fn to run once for every token revoked from now on (subtree
 * members, used-up and tidied tokens included), after the token has been
 * removed from storage and outside the store's locks (fn may call the
 * store). Registering the same (fn, arg) twice is a no-op. At most 16
 * callbacks: TROVE_ERR_TOO_LARGE beyond. */
int token_store_on_revoke(struct token_store *ts, void (*fn)(void *arg, const struct token_entry *e),
                          void *arg);
void token_store_off_revoke(struct token_store *ts, void (*fn)(void *arg, const struct token_entry *e),
                            void *arg);

/* Registers fn (one at a time; NULL to remove) to hear of every time a
 * token's lease becomes due: after a create or a renewal that set an
 * expiry t. The expiration manager wakes its timer with it. Each service
 * token but the root token of init has a lease (lease_key.h): its entry
 * and expiry index entry are written, moved and deleted in the same
 * transactions as the token itself. */
void token_store_on_expiry(struct token_store *ts, void (*fn)(void *arg, int64_t t), void *arg);
/* A stored token's expiry (0 = never), valid or not: TROVE_ERR_NOT_FOUND
 * when no such token is stored. */
int token_expire_time(struct token_store *ts, const char *id_hash, int64_t *out);

/* Creates a root token (policy "root", no expiry, not renewable, orphan).
 * id: the caller's chosen id (dev mode) or NULL for a random one. *out_id
 * is heap memory the caller wipes and frees (secure_free_str). */
int token_create_root(struct token_store *ts, const char *id, char **out_id);

/* Creates a token from `e`, which the caller fills: type, parent_hash
 * ("" = orphan; `orphan` is derived from it), policies, meta, path,
 * display_name, entity_id, role, bound_cidrs, ttl (0 = never expires),
 * explicit_max_ttl, period, num_uses, renewable. The store fills id_hash,
 * accessor (service only), creation_time and expire_time. The caller has
 * already decided the policy and TTL rules; the store checks only what it
 * alone can: that the parent is still valid (else TROVE_ERR_PERMISSION)
 * and that a custom id is well formed (TROVE_ERR_INVALID) and unused
 * (TROVE_ERR_CONFLICT). id: a custom id or NULL (batch tokens: NULL).
 * *out_id is heap memory the caller wipes and frees (secure_free_str). */
int token_create(struct token_store *ts, struct token_entry *e, const char *id, char **out_id);

/* Looks a token up. TROVE_ERR_PERMISSION for an unknown, malformed,
 * expired, used-up or CIDR-refused token, or one whose parent chain is no
 * longer valid (callers answer 403 without saying which).
 * remote_addr: the client's IP address (text) for tokens bound to CIDRs,
 * or NULL to skip that check. flags: TOKEN_LOOKUP_NO_USE inspects without
 * consuming a use (lookup of another token); otherwise a token with
 * num_uses > 0 has one use consumed and persisted atomically, and
 * out->last_use says the request consumed the last one.
 * *out is owned by the caller (token_entry_free). */
#define TOKEN_LOOKUP_NO_USE 1u
int token_lookup_ex(struct token_store *ts, const char *id, const char *remote_addr, unsigned flags,
                    struct token_entry **out);
/* Whether requests authenticated by e spend a use of it (a service token
 * created with num_uses): a durable write, never made on an event loop. */
bool token_has_use_limit(const struct token_entry *e);
/* Spends one use of e, looked up with TOKEN_LOOKUP_NO_USE, now that the
 * request it authenticates is allowed (Vault spends uses only on allowed
 * requests, so a refused request cannot burn a single-use token). A token
 * without a use limit costs nothing. TROVE_ERR_PERMISSION when the uses
 * ran out meanwhile; e->last_use as token_lookup_ex sets it. */
int token_consume_use(struct token_store *ts, struct token_entry *e);
/* token_lookup_ex(ts, id, NULL, 0, out). */
int token_lookup(struct token_store *ts, const char *id, struct token_entry **out);
/* A service token by its id hash (no use consumed, validity checked). */
int token_lookup_hash(struct token_store *ts, const char *id_hash, struct token_entry **out);
/* A service token by its accessor (no use consumed, validity checked).
 * TROVE_ERR_NOT_FOUND for an unknown accessor or an invalid token. */
int token_lookup_accessor(struct token_store *ts, const char *accessor, struct token_entry **out);

/* Runs after the handler of a request authenticated by e (NULL is fine):
 * revokes e's token when the request consumed its last use. */
void token_finish_request(struct token_store *ts, const struct token_entry *e);

/* Renews a service token. increment: requested TTL in seconds (0: the
 * token's creation TTL, else default_ttl). max_ttl: the mount's max TTL,
 * measured from the creation time (ignored for periodic tokens, whose TTL
 * is reset to the period); explicit_max_ttl caps both. *capped is set
 * when the TTL was cut short by a max. TROVE_ERR_PERMISSION when the
 * token is invalid; TROVE_ERR_INVALID when it is not renewable or a batch
 * token. *out (may be NULL) gets the updated entry. */
int token_renew(struct token_store *ts, const char *id_hash, int64_t increment, int64_t default_ttl,
                int64_t max_ttl, struct token_entry **out, bool *capped);

/* Revokes a service token by id hash and, unless orphan_children, its
 * whole subtree (iteratively; children before parents). With
 * orphan_children its direct children become orphans instead. An
 * unknown hash is not an error. Revoke callbacks run for each token. */
int token_revoke(struct token_store *ts, const char *id_hash, bool orphan_children);

/* Revokes several service tokens and their subtrees at once (the
 * expiration manager's batch of expired tokens): up to 128 tokens per
 * storage transaction instead of one each. TROVE_ERR_INVALID when a hash
 * is malformed (nothing is revoked). */
int token_revoke_many(struct token_store *ts, const char *const *id_hashes, size_t n);

/* Appends every accessor (unsorted) to out. */
int token_list_accessors(struct token_store *ts, struct strlist *out);

struct token_tidy_stats {
	size_t revoked;           /* expired, used-up or with an invalid parent chain */
	size_t accessors_removed; /* accessor entries pointing at no token */
	size_t parents_removed;   /* tree index entries pointing at no token */
};
/* Sweeps the store: revokes what lookup would refuse and removes
 * dangling index entries. */
int token_tidy(struct token_store *ts, struct token_tidy_stats *out);

/* A storage change made elsewhere (core_storage_changed, invalidate.h):
 * when key is a token entry's (TOKEN_ID_PREFIX<id hash>), the parsed entry
 * cached for it is dropped, so the next lookup reads storage (and sees a
 * revoked token gone). Other keys are ignored. */
void token_store_invalidate(struct token_store *ts, const char *key);
/* Drops every cached entry: anything may have changed elsewhere. */
void token_store_invalidate_all(struct token_store *ts);

/* Whether addr (IPv4 or IPv6 text, "[v6]" and an IPv4-mapped IPv6 address
 * accepted) lies in one of cidrs ("10.0.0.0/8", "::1/128", or a bare
 * address). An empty list allows everything; an unparsable address or
 * CIDR allows nothing. */
bool token_cidr_allows(const struct strlist *cidrs, const char *addr);
/* Whether s is a valid CIDR block or address. */
bool token_cidr_valid(const char *s);

#endif
