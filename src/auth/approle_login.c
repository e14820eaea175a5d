/* approle_login.c — auth/approle/login: role_id (+ secret_id) to a token.
 *
 * Order, chosen so that no answer tells which credential was wrong:
 *   1. role_id -> role (index by HMAC, then a constant-time comparison
 *      with the role's role_id); any miss is "invalid role or secret ID"
 *   2. bind_secret_id: the secret ID's entry by HMAC under the role's
 *      directory; missing or expired is the same "invalid role or secret
 *      ID"
 *   2a. before the secret ID is looked at, the role's
 *      secret_id_bound_cidrs (Vault's message): from outside them the
 *      answer is the same whether the secret ID was right or wrong
 *   3. the CIDR restrictions of the secret ID itself (cidr_list, Vault's
 *      message), known only once the secret ID is found; checked before
 *      a use is spent so a refused address costs nothing
 *   4. a use-limited secret ID spends one use under its lock (the last
 *      use deletes it); an unlimited one is not written at all, so a
 *      batch-token login does no storage write
 * Logins are tried on the event loop (route.try_inline): one that would
 * write (a service token, a use to spend, a first login's entity) stops
 * with TROVE_ERR_WOULD_BLOCK before writing and runs again on the pool.
 *   5. login_issue with the role's token settings, display name
 *      "approle", metadata {role_name} plus the secret ID's metadata, and
 *      the secret ID's token_bound_cidrs when it has its own. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approle.h"

#include "core/login.h"
#include "core/router.h"
#include "core/token.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

/* field `name` without surrounding blanks (Vault trims both credentials),
 * as a heap copy to wipe; NULL when empty. */
static char *trimmed(const struct request *req, const char *name)
{
	const char *s = field_string(req, name);
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return n ? xstrndup(s, n) : NULL;
}

static int invalid(struct response *resp)
{
	return response_error(resp, TROVE_ERR_INVALID, APPROLE_INVALID_CREDS);
}

/* Step 1: the role whose role ID is role_id, or TROVE_ERR_NOT_FOUND. */
static int role_by_id(struct storage *s, const unsigned char *salt, const char *role_id,
                      struct approle_role *out)
{
	char h[APPROLE_HASH_HEX + 1], key[APPROLE_KEY_MAX];
	json_t *idx = NULL;
	int r;

	approle_hash(salt, APPROLE_DOMAIN_ROLE_ID, role_id, h);
	snprintf(key, sizeof(key), APPROLE_ROLE_ID_PREFIX "%s", h);
	if ((r = approle_get_json(s, key, &idx)) != 0)
		return r == TROVE_ERR_INTEGRITY ? TROVE_ERR_NOT_FOUND : r;
	json_t *name = json_object_get(idx, "name");
	r = json_is_string(name) ? approle_role_load(s, json_string_value(name), out) : TROVE_ERR_NOT_FOUND;
	json_decref(idx);
	/* A stale index (the role's ID changed since) must not let in the
	 * old ID: the role's own record decides. */
	if (r == 0 && !secure_str_eq(out->role_id, role_id))
		r = TROVE_ERR_NOT_FOUND;
	return r;
}

int approle_login(struct request *req, struct response *resp)
{
	unsigned char salt[APPROLE_SALT_LEN];
	char hmac[APPROLE_HASH_HEX + 1];
	const char *addr = req->remote_addr;
	struct approle_role role;
	struct approle_secret e;
	char *role_id = trimmed(req, "role_id"), *secret_id = NULL;
	json_t *meta = NULL, *alias_meta = NULL;
	bool have_secret = false;
	int r;

	approle_role_init(&role);
	approle_secret_init(&e);
	if (!role_id) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing role_id");
		goto out;
	}
	if ((r = approle_salt(req, salt)) != 0)
		goto out;
	if (strlen(role_id) > APPROLE_INPUT_MAX) {
		r = invalid(resp);
		goto out;
	}
	if ((r = role_by_id(req->storage, salt, role_id, &role)) != 0) {
		r = r == TROVE_ERR_NOT_FOUND ? invalid(resp) : r;
		goto out;
	}
	bool batch = login_issues_batch(&role.tp, req->mount);
	approle_hint_set(req, field_string(req, "role_id"), !batch);
	if (req->no_block && !batch) {
		r = TROVE_ERR_WOULD_BLOCK; /* a service token: to the pool */
		goto out;
	}

	if (role.secret_id_bound_cidrs.len > 0 && !token_cidr_allows(&role.secret_id_bound_cidrs, addr)) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "source address \"%s\" unauthorized by CIDR restrictions on the role",
		                   addr);
		goto out;
	}

	if (role.bind_secret_id) {
		if (!(secret_id = trimmed(req, "secret_id"))) {
			r = response_error(resp, TROVE_ERR_INVALID, "missing secret_id");
			goto out;
		}
		if (strlen(secret_id) > APPROLE_INPUT_MAX) {
			r = invalid(resp);
			goto out;
		}
		approle_hash(salt, role.dir, secret_id, hmac);
		r = approle_secret_load(req->storage, role.dir, hmac, &e);
		if (r == TROVE_ERR_NOT_FOUND || (r == 0 && approle_secret_expired(&e, approle_now_ns()))) {
			r = invalid(resp);
			goto out;
		}
		if (r != 0)
			goto out;
		have_secret = true;
		if (e.cidr_list.len > 0 && !token_cidr_allows(&e.cidr_list, addr)) {
			r = response_error(
			    resp, TROVE_ERR_INVALID,
			    "source address \"%s\" unauthorized through CIDR restrictions on the secret ID",
			    addr);
			goto out;
		}
	}
	if (have_secret && e.num_uses > 0) {
		if (req->no_block) {
			r = TROVE_ERR_WOULD_BLOCK; /* spending a use is a write */
			goto out;
		}
		r = approle_secret_spend(req->storage, approle_scope(req), salt, role.dir, hmac,
		                         approle_now_ns());
		if (r == TROVE_ERR_PERMISSION) {
			r = invalid(resp); /* a concurrent login took the last use */
			goto out;
		}
		if (r != 0)
			goto out;
	}

	meta = have_secret ? json_deep_copy(e.metadata) : json_object();
	json_object_set_new(meta, "role_name", json_string(role.name));
	alias_meta = json_pack("{s:s}", "role_name", role.name); /* as Vault's alias */
	struct token_params params = role.tp; /* shallow: only bound_cidrs may differ */
	if (have_secret && e.token_bound_cidrs.len > 0)
		params.bound_cidrs = e.token_bound_cidrs;
	struct login_grant grant = {
	    .params = &params,
	    .display_name = "approle",
	    .metadata = meta,
	    .role = NULL, /* a token-store role name; approle roles are not */
	    .extra_policies = NULL,
	    .alias_name = role_id, /* Vault: approle's alias name is the role_id */
	    .alias_metadata = alias_meta,
	};
	r = login_issue(req, resp, &grant);
out:
	secure_wipe(salt, sizeof(salt));
	secure_wipe(hmac, sizeof(hmac));
	secure_free_str(role_id);
	secure_free_str(secret_id);
	json_decref(meta);
	json_decref(alias_meta);
	approle_secret_release(&e);
	approle_role_release(&role);
	return r;
}
