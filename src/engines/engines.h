/* engines.h — the built-in engines' path tables. */
#ifndef TROVE_ENGINES_H
#define TROVE_ENGINES_H

#include "core/router.h"

/* Every built-in engine and auth method by mount type: what the server
 * gives the core (core_config.engines). */
extern const struct engine_registry builtin_engines;

/* sys/: init, seal, health, keyring. */
extern const struct engine sys_engine;

/* sys/policy, sys/policies/acl, sys/capabilities[-self],
 * sys/internal/ui/resultant-acl (sys_policy.c). */
extern const struct route sys_policy_routes[];
/* sys/audit, sys/audit-hash, sys/config/auditing (sys_audit.c) */
extern const struct route sys_audit_routes[];
/* sys/locked-users (sys_locked_users.c) */
extern const struct route sys_locked_users_routes[];
/* sys/mounts, sys/auth, sys/remount, sys/internal/ui/mounts */
extern const struct route sys_mount_routes[];
/* auth/token/: the token store API (create, lookup, renew, revoke, roles) */
extern const struct engine token_engine;
/* sys/capabilities-accessor (needs the token store's accessor lookup) */
extern const struct route token_sys_routes[];

/* kv, options.version "1" or unset: unversioned secrets. */
extern const struct engine kv_v1_engine;
/* kv, options.version "2": versioned secrets (data/, metadata/, ...). */
extern const struct engine kv_v2_engine;
/* cubbyhole/: per-token private secrets (built in). */
extern const struct engine cubbyhole_engine;
extern const struct engine identity_engine;
/* pki: an internal CA, Vault's PKI API (pki/pki.c). */
extern const struct engine pki_engine;

struct core;
struct storage;
/* Registers the cubbyhole with the core: its token-revocation hook with
 * the core's token store (deleting a revoked token's cubbyhole), and
 * cubbyhole_put/get as the core's wrap store (core/wrapping.h). Call once
 * the token store is open; calling again is a no-op. */
int cubbyhole_register(struct core *c);
/* Deletes every cubbyhole entry of the token whose hash is id_hash from a
 * cubbyhole mount's view. Exposed for tests. */
int cubbyhole_purge(struct storage *view, const char *id_hash);
/* Stores / reads the JSON value at key (no '/' needed) in the cubbyhole
 * of the token whose hash is id_hash, through the core's cubbyhole mount
 * (response wrapping, through the wrap store cubbyhole_register sets).
 * *out is the caller's; TROVE_ERR_NOT_FOUND when absent or when there is
 * no cubbyhole mount. */
int cubbyhole_put(struct core *c, const char *id_hash, const char *key, const json_t *v);
int cubbyhole_get(struct core *c, const char *id_hash, const char *key, json_t **out);

/* sys/leases/..., sys/renew, sys/revoke... (sys_leases.c) */
extern const struct route sys_lease_routes[];
/* sys/metrics (sys_metrics.c) */
extern const struct route sys_metrics_routes[];
/* sys/leader, sys/ha-status, sys/step-down (sys_ha.c) */
extern const struct route sys_ha_routes[];
/* sys/rekey/{init,update,verify,backup} (sys_rekey.c) */
extern const struct route sys_rekey_routes[];
/* sys/generate-root/{attempt,update} (sys_generate_root.c) */
extern const struct route sys_generate_root_routes[];
/* Decodes a key share as sys/unseal, sys/rekey and sys/generate-root take
 * it: hex, else base64 (Vault tries hex first). Returns 0 or an error code
 * (not hex or base64, or longer than cap). */
int sys_key_share_decode(const char *s, unsigned char *out, size_t cap, size_t *len);
/* Reads the request's "key" field into out (decoded as above). Returns 0,
 * or TROVE_ERR_INVALID with resp's error set (missing, not hex or base64).
 * The caller wipes out. */
int sys_key_field(struct request *req, struct response *resp, unsigned char *out, size_t cap, size_t *len);
/* sys/internal/specs/openapi (sys_openapi.c) */
extern const struct route sys_openapi_routes[];
/* sys/wrapping/{wrap,unwrap,lookup,rewrap} (sys_wrapping.c) */
extern const struct route sys_wrapping_routes[];

#endif
