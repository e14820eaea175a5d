/* identity_oidc.h — Trove as an OIDC identity-token issuer (Vault's
 * identity/oidc): named signing keys, roles, signed ID tokens over
 * identity data, introspection and the unauthenticated discovery
 * documents. Served by the identity mount (engines/identity.c); every
 * record lives in that mount's view (the barrier) under "oidc/":
 *     oidc/config        {"issuer"}
 *     oidc/key/<name>    the key's settings, its current private key (PEM,
 *                        never returned) and the public JWKs still
 *                        verifying, each with its end of verification
 *     oidc/role/<name>   {"key", "template", "ttl", "client_id"} */
#ifndef TROVE_IDENTITY_OIDC_H
#define TROVE_IDENTITY_OIDC_H

#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "core/engine.h"
#include "storage/storage.h"

struct clock;
struct mount;

/* The routes, below identity/ (oidc/...). */
extern const struct route identity_oidc_routes[];

/* Rotates every key whose rotation time has come and drops public keys
 * whose verification time has ended. The identity engine's periodic job;
 * on a worker. */
void identity_oidc_periodic(struct mount *m);

/* Tests: the wall clock (seconds) the engine reads; NULL restores the
 * system's. */
void identity_oidc_set_clock(const struct clock *c);
int64_t oidc_now(void);

/* ---- keys (identity_oidc_keys.c) ---- */

/* A new key record for alg with a fresh key pair; the settings are the
 * caller's to add. NULL on failure. */
json_t *oidc_key_new(const char *alg, int64_t now);
/* A new key pair for rec: the current public key keeps verifying until
 * now + verification_ttl; the next rotation is now + rotation_period. */
int oidc_key_rotate(json_t *rec, int64_t now, int64_t verification_ttl);
/* Drops the public keys whose verification ended; true when any went. */
bool oidc_key_expire(json_t *rec, int64_t now);
/* Signs claims with rec's current key: *out is a new compact JWS. */
int oidc_key_sign(const json_t *rec, const json_t *claims, char **out);
/* The public JWKs of every key in st, still verifying at now:
 * {"keys": [...]}. New reference. */
json_t *oidc_jwks(struct storage *st, int64_t now);
/* The soonest rotation of any key, or 0 when there is none. */
int64_t oidc_next_rotation(struct storage *st);
/* A JSON object at path of st (*out new; NOT_FOUND, INTEGRITY when the
 * stored text is no object) and its storing; oidc_key_* at oidc/key/<name>. */
int oidc_doc_load(struct storage *st, const char *path, json_t **out);
int oidc_doc_store(struct storage *st, const char *path, const json_t *doc);
int oidc_key_load(struct storage *st, const char *name, json_t **out);
int oidc_key_store(struct storage *st, const char *name, const json_t *rec);

/* ---- templates (identity_oidc_template.c) ---- */

/* Reserved claims a template may not set (Vault's: iat, aud, exp, iss,
 * sub, namespace). */
bool oidc_claim_reserved(const char *name);
/* Expands tpl (JSON text whose values may be {{ identity.* }} actions,
 * each replaced by its value as JSON) over ident (identity_template_data's
 * shape, or NULL: empty data) into *out, a new JSON object. Actions:
 *   identity.entity.id | name | metadata | metadata.<key>
 *   identity.entity.aliases.<mount accessor>.id | name | metadata |
 *       metadata.<key> | custom_metadata | custom_metadata.<key>
 *   identity.entity.groups.ids | identity.entity.groups.names
 *   time.now | time.now.plus.<duration> | time.now.minus.<duration>
 * A value missing from ident is "" (an object {} for metadata, [] for the
 * group lists). Returns 0, or TROVE_ERR_INVALID with the reason in err:
 * an unknown or unterminated action, text that is not a JSON object once
 * expanded, a reserved claim. An empty tpl is {}. */
int oidc_template_render(const char *tpl, const json_t *ident, json_t **out, struct buf *err);

#endif
