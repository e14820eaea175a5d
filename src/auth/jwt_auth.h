/* jwt_auth.h — internals shared by the auth/jwt (and auth/oidc) files.
 *
 * One engine serves both mount types, as in Vault: a mount of type "jwt"
 * and one of type "oidc" are the same method.
 *
 * Files:
 *   jwt_engine.c   the engine: route table, per-mount state, invalidation
 *   jwt_config.c   config: validation at write (OIDC discovery and JWKS
 *                  fetched then), the key set cache and its refetch
 *   jwt_role.c     role/:name and the role list
 *   jwt_login.c    login (role_type jwt), and what every login does once
 *                  a token is verified: bound claims, user and groups
 *                  claims, claim mappings, the grant
 *   jwt_oidc.c     oidc/auth_url and oidc/callback (the authorisation-
 *                  code flow with PKCE), pending logins kept in memory
 *
 * Storage (the mount's view, encrypted by the barrier):
 *   config        the config (JSON), the client secret with it; the
 *                 discovered provider metadata under "_discovered"
 *   role/<name>   a role (JSON; names are lower-cased)
 */
#ifndef TROVE_JWT_AUTH_H
#define TROVE_JWT_AUTH_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/router.h"
#include "core/token_params.h"
#include "jwt.h"

#define JWT_CONFIG_KEY "config"
#define JWT_ROLE_PREFIX "role/"
#define JWT_JWKS_REFETCH_S 60   /* an unknown kid refetches at most this often */
#define JWT_OIDC_STATE_TTL_S 600 /* a pending OIDC login lives 10 minutes */
#define JWT_OIDC_MAX_PENDING 4096

/* A key set shared by the logins using it; freed with its last user. */
struct jwt_keys_ref {
	atomic_int refs;
	struct jwt_keyset ks;
};

struct oidc_pending; /* jwt_oidc.c */

/* Per-mount state. */
struct jwt_state {
	pthread_mutex_t lock;
	struct jwt_keys_ref *keys; /* the cached key set, or NULL */
	int64_t refetched_at;      /* monotonic seconds of the last refetch for an
	                            * unknown kid, or 0 */
	uint64_t gen;              /* bumped when the config changes: a key set
	                            * built for an older config is not cached */
	struct oidc_pending *pending; /* OIDC logins between auth_url and callback */
	size_t npending;
};

/* The config as stored: a JSON object (Vault's names). Loads it into *out
 * (a new reference). TROVE_ERR_NOT_FOUND when none is written. */
int jwt_config_load(struct request *req, json_t **out);

/* The key set for verifying tokens on this mount under config cfg: the
 * cached one, else built (PEM keys) or fetched (JWKS). refetch asks for a
 * fresh JWKS (an unknown kid): honoured at most once per
 * JWT_JWKS_REFETCH_S, else *fresh is false and the cached set comes back.
 * Returns 0 with *out referenced (release with jwt_keys_unref), or an
 * error with a message in resp. */
int jwt_keys_get(struct request *req, struct response *resp, const json_t *cfg, bool refetch,
                 struct jwt_keys_ref **out, bool *fresh);
void jwt_keys_unref(struct jwt_keys_ref *k);
/* Drops the cached key set (config written or changed in storage). */
void jwt_keys_drop(struct jwt_state *st);

/* The config's accepted algorithms as a NULL-terminated array of borrowed
 * strings (into cfg), in a new array the caller frees; NULL for none. */
const char **jwt_config_algs(const json_t *cfg);

/* A role as stored (JSON) and its token settings. */
struct jwt_role {
	json_t *doc;
	struct token_params tp;
};
void jwt_role_init(struct jwt_role *r);
void jwt_role_release(struct jwt_role *r);
/* Loads role name (lower-cased by the caller). TROVE_ERR_NOT_FOUND. */
int jwt_role_load(struct request *req, const char *name, struct jwt_role *out);
/* The role's leeway (clock_skew_leeway...): 0 means the default, -1 none. */
int64_t jwt_role_leeway(const struct jwt_role *r, const char *name, int64_t def);

/* Verifies the token (the refusals in resp, 400/403) against the mount's
 * keys: an unknown kid refetches the JWKS once. e carries everything but
 * the algorithms, which come from cfg. *claims is a new reference. */
int jwt_verify_token(struct request *req, struct response *resp, const json_t *cfg, const char *token,
                     struct jwt_expect *e, json_t **claims);

/* Once the token is verified: the role's bound claims, then the user and
 * groups claims and claim mappings, then the token (login_issue). */
int jwt_login_claims(struct request *req, struct response *resp, const char *role_name,
                     const struct jwt_role *role, const json_t *claims);

/* The per-field role rules, shared with login: whether a value matches a
 * bound claim (string or glob). */
bool jwt_glob_match(const char *pattern, const char *s);

/* Handlers. */
int jwt_config_read(struct request *req, struct response *resp);
int jwt_config_write(struct request *req, struct response *resp);
int jwt_role_read(struct request *req, struct response *resp);
int jwt_role_write(struct request *req, struct response *resp);
int jwt_role_delete(struct request *req, struct response *resp);
int jwt_role_list(struct request *req, struct response *resp);
int jwt_role_exists(struct request *req, bool *out);
int jwt_login(struct request *req, struct response *resp);
int jwt_oidc_auth_url(struct request *req, struct response *resp);
int jwt_oidc_callback(struct request *req, struct response *resp);
void jwt_oidc_pending_free(struct jwt_state *st);

/* JSON documents in the mount's view. */
int jwt_get_json(struct request *req, const char *key, json_t **out);
int jwt_put_json(struct request *req, const char *key, const json_t *doc);

#endif
