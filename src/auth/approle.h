/* approle.h — internals shared by the auth/approle files.
 *
 * Files:
 *   approle.c            the engine, its route table, role CRUD and role-id
 *   approle_role_fields.c  the per-field role endpoints (role/<r>/policies...)
 *   approle_store.c      the model in storage: the mount's salt, hashing,
 *                        locks, the clock, roles, CIDR and metadata helpers
 *   approle_secret.c     secret ID entries: register, load, spend a use,
 *                        delete, flush a role's, tidy
 *   approle_secret_id.c  the secret-id endpoints and tidy/secret-id
 *   approle_login.c      login
 *
 * Storage (the mount's private view; every value is encrypted by the
 * barrier). H(d, v) is lowercase hex of HMAC-SHA256(salt, d || 0 || v)
 * under the mount's salt, so no key reveals a credential:
 *   salt                              32 random bytes, made on enable
 *   role/<name>                       the role (JSON; names are lowercase)
 *   role_id/<H("role_id", role_id)>   {"name": <name>}: role IDs are unique
 *   secret_id/<dir>/<H(dir, secret)>  a secret ID's entry (JSON)
 *   accessor/<H("accessor", acc)>     {"dir": <dir>, "secret_id_hmac": ...}
 * <dir> is a random 128-bit hex id made when a role is created: the
 * secret IDs of a role that is deleted and made again under the same name
 * can never match the new one, and the HMAC binds each secret ID to its
 * role instance. A secret ID itself is never stored; its entry holds its
 * HMAC (compared in constant time after the lookup), its accessor, uses
 * left, expiry, metadata and CIDR lists. An entry and its accessor index
 * are always written and deleted together in one transaction.
 *
 * Concurrency: role writes of a mount are serialised by one lock (role_id
 * uniqueness spans roles); spending a use of a secret ID holds that secret
 * ID's stripe lock across read-decrement-write, so two logins can never
 * both spend the last use. Lock order: roles before secrets. Secret IDs
 * without a use limit are read without any lock and never written at
 * login. */
#ifndef TROVE_APPROLE_H
#define TROVE_APPROLE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "strlist_json.h"
#include "core/request.h"
#include "core/router.h"
#include "core/token_params.h"
#include "storage/storage.h"

#define APPROLE_SALT_LEN 32
#define APPROLE_HASH_HEX 64
#define APPROLE_DIR_HEX 32
#define APPROLE_UUID_LEN 36
/* Role names become storage keys (LMDB caps keys at 511 bytes with the
 * mount's prefix), so they are capped well below Vault's 4096. */
#define APPROLE_NAME_MAX 256
/* Vault's maxHmacInputLength: role IDs and secret IDs. */
#define APPROLE_INPUT_MAX 4096

#define APPROLE_SALT_KEY "salt"
#define APPROLE_ROLE_PREFIX "role/"
#define APPROLE_ROLE_ID_PREFIX "role_id/"
#define APPROLE_SECRET_PREFIX "secret_id/"
#define APPROLE_ACCESSOR_PREFIX "accessor/"
#define APPROLE_KEY_MAX 192 /* longest key above plus NUL, with room */

#define APPROLE_DOMAIN_ROLE_ID "role_id"
#define APPROLE_DOMAIN_ACCESSOR "accessor"

/* Vault's answer for every wrong credential, whichever part was wrong. */
#define APPROLE_INVALID_CREDS "invalid role or secret ID"

struct approle_role {
	char name[APPROLE_NAME_MAX + 1];
	char *role_id; /* never NULL once loaded or created */
	char dir[APPROLE_DIR_HEX + 1];
	bool bind_secret_id;
	struct strlist secret_id_bound_cidrs;
	int64_t secret_id_num_uses;
	int64_t secret_id_ttl; /* seconds */
	bool local_secret_ids;
	struct token_params tp;
};

struct approle_secret {
	char hmac[APPROLE_HASH_HEX + 1];
	char accessor[APPROLE_UUID_LEN + 1];
	int64_t num_uses;      /* uses left; 0 = unlimited */
	int64_t ttl;           /* seconds; 0 = never expires */
	int64_t creation_ns;   /* unix nanoseconds */
	int64_t expiration_ns; /* 0 = never */
	int64_t last_updated_ns;
	json_t *metadata; /* object of strings; never NULL */
	struct strlist cidr_list;
	struct strlist token_bound_cidrs;
};

/* --- approle_store.c ------------------------------------------------------ */

/* Unix time in nanoseconds; tests may replace the clock (lib/clock; it
 * must outlive its use, NULL restores the system's). */
int64_t approle_now_ns(void);
struct clock;
void approle_set_clock(const struct clock *c);

/* The mount's salt: made (32 random bytes) and stored on first use. */
int approle_salt_load(struct storage *s, unsigned char out[APPROLE_SALT_LEN]);
/* The salt of req's mount (cached by mount_init), else loaded from
 * req->storage (unit tests drive handlers without a mount). */
int approle_salt(const struct request *req, unsigned char out[APPROLE_SALT_LEN]);
struct mount;
int approle_mount_init(struct mount *m, struct buf *err);
void approle_mount_cleanup(struct mount *m);

/* out = hex HMAC-SHA256(salt, domain || 0 || value). */
void approle_hash(const unsigned char salt[APPROLE_SALT_LEN], const char *domain, const char *value,
                  char out[APPROLE_HASH_HEX + 1]);

/* The write locks of req's mount (in its per-mount state, shared by the
 * clones a tune makes), or NULL outside a mount (unit tests), which the
 * lock functions below take as one process-wide set. */
struct approle_locks;
struct approle_locks *approle_scope(const struct request *req);
/* Logins tried on the event loop (route.try_inline): whether this
 * request's role ID is worth trying there, and what
 * a login learnt about its role (pool: it issues service tokens). Keyed
 * by a hash of the role ID as given; a stale or colliding hint only sends
 * a login the long way. */
bool approle_try_inline(const struct request *req);
void approle_hint_set(const struct request *req, const char *role_id, bool pool);
/* tidy/secret-id runs once at a time per mount, as in Vault: claim is
 * false when a tidy of req's mount is already running (true outside a
 * mount); release ends a claimed one. */
bool approle_tidy_claim(const struct request *req);
void approle_tidy_release(const struct request *req);
/* Locks and returns the mount's role lock / a secret ID's stripe lock. */
pthread_mutex_t *approle_lock_roles(struct approle_locks *scope);
pthread_mutex_t *approle_lock_secret(struct approle_locks *scope, const char *hmac);

/* JSON values in storage; raw bytes are wiped before they are freed.
 * approle_get_json: TROVE_ERR_NOT_FOUND when missing, TROVE_ERR_INTEGRITY
 * when not a JSON object. approle_dump: compact JSON, to free with
 * approle_free_dump (wipes). */
int approle_get_json(struct storage *s, const char *key, json_t **out);
int approle_dump(const json_t *v, char **out, size_t *len);
void approle_free_dump(char *p, size_t len);
int approle_put_json(struct storage *s, const char *key, const json_t *v);

/* Role names: Vault's \w(([\w-.]+)?\w)?, lowercased. Reads the route's
 * :role_name into out; on failure a 400 message in resp. */
int approle_role_name(const struct request *req, struct response *resp, char out[APPROLE_NAME_MAX + 1]);

void approle_role_init(struct approle_role *r);
void approle_role_release(struct approle_role *r);
/* TROVE_ERR_NOT_FOUND when there is no such role. */
int approle_role_load(struct storage *s, const char *name, struct approle_role *out);
json_t *approle_role_to_store(const struct approle_role *r);
int approle_role_from_store(const json_t *j, const char *name, struct approle_role *out);
/* The API's role read object (role JSON without role_id or dir). */
json_t *approle_role_to_api(const struct approle_role *r);
/* Whether the role has a login constraint (Vault: at least one of
 * bind_secret_id, secret_id_bound_cidrs, token_bound_cidrs). */
bool approle_role_constrained(const struct approle_role *r);

/* A coerced string-list field (JSON array) appended to out, in order,
 * without empty items or duplicates. */
void approle_field_list(const struct request *req, const char *name, struct strlist *out);
/* Each item a CIDR block or an address; *bad names the first that is not. */
bool approle_cidrs_valid(const struct strlist *l, const char **bad);
/* Whether every block of inner lies inside some block of outer (bare
 * addresses count as /32 or /128). An empty outer contains everything. */
bool approle_cidr_subset(const struct strlist *inner, const struct strlist *outer);

/* Secret ID metadata as Vault takes it: a JSON object of strings, the
 * same encoded as a JSON string (hvac), "k=v,k2=v2", "" or absent (NULL)
 * for none. *out is a new object. On failure returns TROVE_ERR_INVALID
 * with a reason in *why. */
int approle_metadata_parse(const json_t *in, json_t **out, const char **why);

/* RFC 3339 with nanoseconds as Go prints it; 0 -> "0001-01-01T00:00:00Z". */
json_t *approle_time_json(int64_t ns);

/* --- approle_secret.c ----------------------------------------------------- */

void approle_secret_init(struct approle_secret *e);
void approle_secret_release(struct approle_secret *e);
json_t *approle_secret_to_store(const struct approle_secret *e);
int approle_secret_from_store(const json_t *j, struct approle_secret *out);
/* The lookup answer (Vault's secretIDStorageEntry.ToResponseData). */
json_t *approle_secret_to_api(const struct approle_secret *e);
bool approle_secret_expired(const struct approle_secret *e, int64_t now_ns);

void approle_secret_key(const char *dir, const char *hmac, char out[APPROLE_KEY_MAX]);
void approle_accessor_key(const unsigned char salt[APPROLE_SALT_LEN], const char *accessor,
                          char out[APPROLE_KEY_MAX]);

/* Stores a new secret ID for the role instance dir: fills e->hmac,
 * e->accessor (random UUID), the times (expiry from e->ttl) and writes
 * entry and accessor index in one transaction. TROVE_ERR_CONFLICT when
 * that secret ID is already registered for the role. */
int approle_secret_register(struct storage *s, struct approle_locks *scope, const unsigned char salt[APPROLE_SALT_LEN],
                            const char *dir, const char *secret_id, struct approle_secret *e);
/* Loads the entry at secret_id/<dir>/<hmac> and checks, in constant
 * time, that it is the entry of that HMAC. TROVE_ERR_NOT_FOUND if none. */
int approle_secret_load(struct storage *s, const char *dir, const char *hmac, struct approle_secret *out);
/* The entry and the accessor index of secret ID <hmac> by its accessor:
 * TROVE_ERR_NOT_FOUND unless the accessor exists and belongs to dir. */
int approle_secret_by_accessor(struct storage *s, const unsigned char salt[APPROLE_SALT_LEN], const char *dir,
                               const char *accessor, struct approle_secret *out);
/* Spends one use of a use-limited secret ID, under its stripe lock: the
 * entry is re-read, and the use that takes the count to zero deletes it
 * (with its accessor). Returns 0 when a use was spent, or
 * TROVE_ERR_PERMISSION when the secret ID is gone, expired or used up. */
int approle_secret_spend(struct storage *s, struct approle_locks *scope, const unsigned char salt[APPROLE_SALT_LEN],
                         const char *dir, const char *hmac, int64_t now_ns);
/* Deletes entry and accessor index (under the stripe lock). Deleting a
 * missing secret ID succeeds. */
int approle_secret_destroy(struct storage *s, struct approle_locks *scope, const unsigned char salt[APPROLE_SALT_LEN],
                           const char *dir, const char *hmac);
/* Accessors of every secret ID of dir, appended to out. */
int approle_secret_accessors(struct storage *s, const char *dir, struct strlist *out);
/* Deletes every secret ID of dir and their accessor indexes. */
int approle_secret_flush(struct storage *s, const unsigned char salt[APPROLE_SALT_LEN], const char *dir,
                         size_t *removed);

struct approle_tidy_stats {
	size_t expired;   /* expired or used-up secret IDs removed */
	size_t orphaned;  /* secret IDs of roles that no longer exist */
	size_t accessors; /* accessor indexes pointing at nothing */
};
int approle_tidy(struct storage *s, struct approle_locks *scope, const unsigned char salt[APPROLE_SALT_LEN],
                 int64_t now_ns, struct approle_tidy_stats *out);

/* --- approle.c: the role write path, shared with approle_role_fields.c ---- */

/* Loads the route's role for a change and takes the mount's role lock
 * (held in *lk on success). create: a missing role is made with Vault's
 * defaults (*created set); else it is a 404 naming the role. */
int approle_role_begin(struct request *req, struct response *resp, struct approle_role *role, bool create,
                       bool *created, pthread_mutex_t **lk);
/* Applies the fields present in req to role, with Vault's validation. */
int approle_role_apply(struct request *req, struct response *resp, struct approle_role *role, bool create);
/* Writes role and its role_id index in one transaction (dropping the
 * index of old_role_id when it changed); "role_id already in use" when
 * another role holds the role ID. Caller holds the role lock. */
int approle_role_save(struct request *req, struct response *resp, const struct approle_role *role,
                      const char *old_role_id);

/* --- handlers (route tables in approle.c and approle_role_fields.c) -------- */

extern const struct route approle_field_routes[];

int approle_secret_id_generate(struct request *req, struct response *resp);
int approle_secret_id_custom(struct request *req, struct response *resp);
int approle_secret_id_list(struct request *req, struct response *resp);
int approle_secret_id_lookup(struct request *req, struct response *resp);
int approle_secret_id_destroy(struct request *req, struct response *resp);
int approle_accessor_lookup(struct request *req, struct response *resp);
int approle_accessor_destroy(struct request *req, struct response *resp);
int approle_tidy_secret_id(struct request *req, struct response *resp);
int approle_login(struct request *req, struct response *resp);

#endif
