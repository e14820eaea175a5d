/* login.h — what every auth method does once a login has succeeded: issue
 * a token from the role's or user's token_params and answer with Vault's
 * auth block.
 *
 * login_issue decides, the same way for every method:
 *   type      token_params.type; "default" follows the mount's tune
 *             (token_type), else default-service. default-X means X.
 *   policies  token_params.policies + grant->extra_policies, plus
 *             "default" unless token_no_default_policy; sorted, unique.
 *             A grant can never yield "root" (refused with 400).
 *   ttl       period when periodic; else token_ttl, else the mount's
 *             default TTL; capped by token_max_ttl (else the mount's max)
 *             and token_explicit_max_ttl, with Vault's warning when capped.
 *   other     orphan (no parent), token_num_uses, token_bound_cidrs,
 *             renewable unless batch or ttl 0, display_name, metadata,
 *             role, creation path = the login path (auth/userpass/login/ann).
 * and fills resp->auth:
 *   {"client_token","accessor","policies","token_policies",
 *    "identity_policies" (the entity's, or null),"metadata","lease_duration","renewable",
 *    "entity_id","token_type","orphan":true,"mfa_requirement":null,
 *    "num_uses"}
 * (accessor "" for batch tokens; metadata an object of strings or null;
 * policies = token_policies + identity_policies).
 *
 * token_auth_json is the same auth block for any token entry; the token
 * store's own create endpoints use it too, so there is one shape. */
#ifndef TROVE_LOGIN_H
#define TROVE_LOGIN_H

#include <jansson.h>
#include <stdint.h>

#include "buf.h"
#include "token_params.h"

struct request;
struct response;
struct token_entry;

struct login_grant {
	const struct token_params *params; /* the role's or user's settings */
	const char *display_name;          /* e.g. "userpass-ann", "approle" */
	const json_t *metadata;            /* object of strings or NULL (borrowed) */
	const char *role;                  /* recorded in the entry; may be NULL */
	const struct strlist *extra_policies; /* may be NULL */
	/* The identity alias of this login on the mount (userpass: the
	 * username; approle: the role_id) and its metadata (object of strings,
	 * borrowed, may be NULL). When alias_name is set, the entity of
	 * (mount accessor, alias_name) is found or created and becomes the
	 * token's entity_id; a disabled entity refuses the login (403). */
	const char *alias_name;
	const json_t *alias_metadata;
	/* The group names the method knows the user by (OIDC groups claim,
	 * LDAP groups), or NULL when the method has none: they set the
	 * entity's external group membership on this mount
	 * (identity_login_groups) before its policies are computed. */
	const struct strlist *group_aliases;
};

/* Issues the token (req->mount is the auth mount, req->rel the login path)
 * and sets resp->auth. Returns 0, TROVE_ERR_INVALID with a message in resp
 * (a grant that would make a root or an invalid token), or a storage
 * error. */
int login_issue(struct request *req, struct response *resp, const struct login_grant *grant);

/* A login token's display name as Vault makes it: the auth mount's path
 * without "auth/" and its trailing '/', each '/' as '-', then "-<name>"
 * ("auth/userpass/" and "ann" -> "userpass-ann"; "auth/a/b/" -> "a-b-ann").
 * Malloc'd. */
char *login_display_name(const char *mount_path, const char *name);

struct mount;
/* Whether a login with these settings on auth mount m issues a batch token
 * (the "type" rule above). A method tried on an event loop (no_block)
 * asks this first: a service token is a durable write. */
bool login_issues_batch(const struct token_params *p, const struct mount *m);

/* Vault's auth block for entry e whose token is client_token, with
 * lease_duration seconds. A new reference. */
json_t *token_auth_json(const struct token_entry *e, const char *client_token, int64_t lease_duration);

#endif
