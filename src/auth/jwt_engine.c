/* jwt_engine.c — the auth/jwt and auth/oidc engines: one implementation
 * under two mount types, as in Vault (jwt_auth.h lists the files).
 *
 * Routes (Vault's):
 *   config              read, write (sudo-free, as Vault's)
 *   role                LIST
 *   role/:name          create/update, read, delete
 *   login               unauthenticated: role, jwt -> a token
 *   oidc/auth_url       unauthenticated: the provider's authorisation URL
 *   oidc/callback       unauthenticated: GET (query) and POST (form_post)
 * Every route runs on the worker pool: config writes and logins may call
 * the provider (outbound_call refuses the event loop). */
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/jwt_auth.h"

#include "core/mount.h"
#include "err.h"

#include "banned.h"

static int jwt_mount_init(struct mount *m, struct buf *err)
{
	struct jwt_state *st = calloc(1, sizeof(*st));

	(void)err;
	if (!st)
		return TROVE_ERR_NOMEM;
	pthread_mutex_init(&st->lock, NULL);
	m->engine_state = st;
	return 0;
}

static void jwt_mount_cleanup(struct mount *m)
{
	struct jwt_state *st = m->engine_state;

	if (!st)
		return;
	jwt_keys_unref(st->keys);
	jwt_oidc_pending_free(st);
	pthread_mutex_destroy(&st->lock);
	free(st);
	m->engine_state = NULL;
}

/* The config changed in storage behind this process (a standby, a
 * restore): the cached keys may be another source's. */
static void jwt_invalidate(struct mount *m, const char *key)
{
	if (m->engine_state && strcmp(key, JWT_CONFIG_KEY) == 0)
		jwt_keys_drop(m->engine_state);
}

static const struct field config_fields[] = {
    {.name = "oidc_discovery_url", .type = FIELD_STRING, .canon = FIELD_CANON_TRIM, .description = "the OIDC issuer URL (its discovery document is fetched at write)"},
    {.name = "oidc_discovery_ca_pem", .type = FIELD_STRING, .description = "CA certificates (PEM) for the discovery URL"},
    {.name = "oidc_client_id", .type = FIELD_STRING, .description = "the OAuth client ID"},
    {.name = "oidc_client_secret", .type = FIELD_STRING, .sensitive = true, .description = "the OAuth client secret (never returned)"},
    {.name = "oidc_response_mode", .type = FIELD_STRING, .description = "query or form_post"},
    {.name = "oidc_response_types", .type = FIELD_STRLIST, .description = "code or id_token"},
    {.name = "jwks_url", .type = FIELD_STRING, .canon = FIELD_CANON_TRIM, .description = "a JWKS URL to verify tokens with"},
    {.name = "jwks_ca_pem", .type = FIELD_STRING, .description = "CA certificates (PEM) for the JWKS URL"},
    {.name = "jwt_validation_pubkeys", .type = FIELD_STRLIST, .description = "PEM public keys to verify tokens with"},
    {.name = "bound_issuer", .type = FIELD_STRING, .description = "the iss claim tokens must carry"},
    {.name = "jwt_supported_algs", .type = FIELD_STRLIST, .description = "accepted signing algorithms (default RS256)"},
    {.name = "default_role", .type = FIELD_STRING, .canon = FIELD_CANON_LOWER, .description = "the role of a login that names none"},
    {.name = "provider_config", .type = FIELD_MAP, .description = "provider-specific settings (kept, not interpreted)"},
    {.name = "namespace_in_state", .type = FIELD_BOOL, .def = "true", .description = "pass the namespace in the OIDC state"},
    {0},
};

static const struct field role_fields[] = {
    {.name = "name", .type = FIELD_STRING, .description = "the role's name"},
    {.name = "role_type", .type = FIELD_STRING, .canon = FIELD_CANON_LOWER, .description = "jwt or oidc (default)"},
    {.name = "bound_audiences", .type = FIELD_STRLIST, .description = "aud values accepted"},
    {.name = "bound_subject", .type = FIELD_STRING, .description = "the sub claim required"},
    {.name = "bound_claims", .type = FIELD_MAP, .description = "claims (names or JSON pointers) and their accepted values"},
    {.name = "bound_claims_type", .type = FIELD_STRING, .canon = FIELD_CANON_LOWER, .description = "string or glob"},
    {.name = "claim_mappings", .type = FIELD_MAP, .description = "claims copied to metadata keys"},
    {.name = "user_claim", .type = FIELD_STRING, .description = "the claim naming the user (the alias)"},
    {.name = "user_claim_json_pointer", .type = FIELD_BOOL, .description = "user_claim is a JSON pointer"},
    {.name = "groups_claim", .type = FIELD_STRING, .description = "the claim listing the user's groups"},
    {.name = "oidc_scopes", .type = FIELD_STRLIST, .description = "scopes asked for besides openid"},
    {.name = "allowed_redirect_uris", .type = FIELD_STRLIST, .description = "redirect URIs an OIDC login may use"},
    {.name = "verbose_oidc_logging", .type = FIELD_BOOL, .description = "log verified logins at debug level"},
    {.name = "clock_skew_leeway", .type = FIELD_ANY, .description = "seconds of leeway on every time claim (0: 60, -1: none)"},
    {.name = "expiration_leeway", .type = FIELD_ANY, .description = "seconds of leeway on exp (0: 150, -1: none)"},
    {.name = "not_before_leeway", .type = FIELD_ANY, .description = "seconds of leeway on nbf (0: 150, -1: none)"},
    {.name = "max_age", .type = FIELD_DURATION, .description = "the longest time since the user last authenticated"},
    TOKEN_PARAM_FIELDS,
    {0},
};

static const struct field login_fields[] = {
    {.name = "role", .type = FIELD_STRING, .canon = FIELD_CANON_LOWER, .description = "the role (default_role when empty)"},
    {.name = "jwt", .type = FIELD_STRING, .sensitive = true, .canon = FIELD_CANON_TRIM, .description = "the signed JWT (blanks at either end dropped: a token file's newline)"},
    {0},
};

static const struct field auth_url_fields[] = {
    {.name = "role", .type = FIELD_STRING, .canon = FIELD_CANON_LOWER, .description = "the role (default_role when empty)"},
    {.name = "redirect_uri", .type = FIELD_STRING, .description = "where the provider sends the browser back"},
    {.name = "client_nonce", .type = FIELD_STRING, .sensitive = true, .description = "a nonce the callback must repeat"},
    {0},
};

static const struct field callback_fields[] = {
    {.name = "state", .type = FIELD_STRING, .sensitive = true, .description = "the state of the authorisation URL"},
    {.name = "code", .type = FIELD_STRING, .sensitive = true, .description = "the authorisation code"},
    {.name = "id_token", .type = FIELD_STRING, .sensitive = true, .description = "an ID token (form_post)"},
    {.name = "client_nonce", .type = FIELD_STRING, .sensitive = true, .description = "the auth_url's client_nonce"},
    {.name = "error", .type = FIELD_STRING, .description = "the provider's error code"},
    {.name = "error_description", .type = FIELD_STRING, .description = "the provider's error text"},
    {0},
};

static const struct route jwt_routes[] = {
    {.pattern = "config",
     .ops = {[OP_READ] = jwt_config_read, [OP_UPDATE] = jwt_config_write},
     .fields = config_fields,
     .synopsis = "the method's keys and OIDC provider"},
    {.pattern = "role", .ops = {[OP_LIST] = jwt_role_list}, .synopsis = "list roles"},
    {.pattern = "role/:name",
     .ops = {[OP_READ] = jwt_role_read, [OP_UPDATE] = jwt_role_write, [OP_DELETE] = jwt_role_delete},
     .exists = jwt_role_exists,
     .fields = role_fields,
     .flags = ROUTE_NAMES_CI,
     .synopsis = "a role: which tokens log in, and the token they get"},
    {.pattern = "login",
     .ops = {[OP_UPDATE] = jwt_login},
     .fields = login_fields,
     .flags = ROUTE_UNAUTH,
     .synopsis = "log in with a signed JWT"},
    {.pattern = "oidc/auth_url",
     .ops = {[OP_UPDATE] = jwt_oidc_auth_url},
     .fields = auth_url_fields,
     .flags = ROUTE_UNAUTH,
     .synopsis = "start an OIDC login: the provider's authorisation URL"},
    {.pattern = "oidc/callback",
     .ops = {[OP_READ] = jwt_oidc_callback, [OP_UPDATE] = jwt_oidc_callback},
     .fields = callback_fields,
     .flags = ROUTE_UNAUTH,
     .synopsis = "finish an OIDC login"},
    {.pattern = NULL},
};

static const struct route *const jwt_tables[] = {jwt_routes, NULL};

const struct engine jwt_engine = {
    .type = "jwt",
    .tables = jwt_tables,
    .flags = ENGINE_AUTH,
    .mount_init = jwt_mount_init,
    .mount_cleanup = jwt_mount_cleanup,
    .invalidate = jwt_invalidate,
};
