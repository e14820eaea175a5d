/* jwt_login.c — auth/<jwt>/login, and what every login of the method does
 * once its token is verified (jwt_login_claims; OIDC's callback too).
 *
 * Order: the role (or the config's default_role), which must be a jwt
 * role; the role's token_bound_cidrs against the caller's address (403);
 * the token verified (lib/jwt.h: algorithms from the config, the keys,
 * exp/nbf/iat with the role's leeways, bound_issuer, bound_subject,
 * bound_audiences — a token carrying an aud needs the role to bind one);
 * the role's bound_claims; the user claim (a string: the alias name on
 * this mount), the groups claim (a list of strings or one string: the
 * external groups, login_grant.group_aliases) and claim_mappings (alias
 * and token metadata, with "role"). A refusal is a 400 saying which check
 * failed, never quoting the token; nothing is issued. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt_auth.h"

#include "clock.h"
#include "core/login.h"
#include "core/mount.h"
#include "core/token.h"
#include "err.h"
#include "log.h"

#include "banned.h"

#define DEFAULT_CLOCK_SKEW 60
#define DEFAULT_EXP_LEEWAY 150
#define DEFAULT_NBF_LEEWAY 150

bool jwt_glob_match(const char *p, const char *s)
{
	const char *star = NULL, *back = NULL;

	/* '*' matches any run of characters; everything else itself. */
	while (*s) {
		if (*p == '*') {
			star = p++;
			back = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++back;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* The text of a scalar claim value (a string, number or boolean) into
 * out; false for anything else. */
static bool scalar_text(const json_t *v, char *out, size_t n)
{
	if (json_is_string(v))
		snprintf(out, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, n, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, n, "%.17g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
	else
		return false;
	return true;
}

/* Whether the claim value (a scalar or a list of them) holds one value
 * matching expected (string or glob). */
static bool claim_matches(const json_t *claim, const json_t *expected, bool glob)
{
	char have[1024], want[1024];
	size_t nc = json_is_array(claim) ? json_array_size(claim) : 1;

	if (!scalar_text(expected, want, sizeof(want)))
		return false;
	for (size_t i = 0; i < nc; i++) {
		const json_t *c = json_is_array(claim) ? json_array_get(claim, i) : claim;
		if (!scalar_text(c, have, sizeof(have)))
			continue;
		if (glob ? jwt_glob_match(want, have) : strcmp(want, have) == 0)
			return true;
	}
	return false;
}

/* Vault's rule: every bound claim must be present, and match one of its
 * expected values. */
static int bound_claims(struct response *resp, const struct jwt_role *role, const json_t *claims)
{
	const json_t *bc = json_object_get(role->doc, "bound_claims"), *want;
	bool glob = strcmp(json_string_value(json_object_get(role->doc, "bound_claims_type")), "glob") == 0;
	const char *k;

	json_object_foreach((json_t *)bc, k, want)
	{
		const json_t *have = jwt_claim(claims, k);
		bool ok = false;
		if (!have)
			return response_error(resp, TROVE_ERR_INVALID, "claim %.128s is missing", k);
		if (json_is_array(want)) {
			for (size_t i = 0; !ok && i < json_array_size(want); i++)
				ok = claim_matches(have, json_array_get(want, i), glob);
		} else {
			ok = claim_matches(have, want, glob);
		}
		if (!ok)
			return response_error(resp, TROVE_ERR_INVALID, "claim %.128s does not match any associated bound claim values", k);
	}
	return 0;
}

/* user_claim is a JSON pointer only when the role says so; the other
 * claim specs are pointers whenever they start with '/'. */
static const json_t *user_claim_of(const struct jwt_role *role, const json_t *claims, const char *spec)
{
	if (!json_is_true(json_object_get(role->doc, "user_claim_json_pointer")))
		return json_object_get(claims, spec);
	return jwt_claim(claims, spec);
}

int jwt_login_claims(struct request *req, struct response *resp, const char *role_name,
                     const struct jwt_role *role, const json_t *claims)
{
	const char *user_claim = json_string_value(json_object_get(role->doc, "user_claim"));
	const char *groups_claim = json_string_value(json_object_get(role->doc, "groups_claim"));
	const json_t *cm = json_object_get(role->doc, "claim_mappings"), *v;
	json_t *meta = json_pack("{ss}", "role", role_name);
	struct strlist groups;
	char text[1024];
	const char *k;
	int r;

	strlist_init(&groups);
	if ((r = bound_claims(resp, role, claims)) != 0)
		goto out;
	v = user_claim_of(role, claims, user_claim);
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1024) {
		r = response_error(resp, TROVE_ERR_INVALID, "claim %.128s not found in token or not a string",
		                   user_claim);
		goto out;
	}
	const char *alias = json_string_value(v);
	if (groups_claim && *groups_claim) {
		v = jwt_claim(claims, groups_claim);
		if (!v) {
			r = response_error(resp, TROVE_ERR_INVALID, "%.128s claim not found in token", groups_claim);
			goto out;
		}
		size_t n = json_is_array(v) ? json_array_size(v) : 1;
		for (size_t i = 0; i < n; i++) {
			const json_t *g = json_is_array(v) ? json_array_get(v, i) : v;
			if (!json_is_string(g)) {
				r = response_error(resp, TROVE_ERR_INVALID, "%.128s claim is not a list of strings",
				                   groups_claim);
				goto out;
			}
			if (json_string_length(g) > 0 && !strlist_contains(&groups, json_string_value(g)))
				strlist_push(&groups, json_string_value(g));
		}
	}
	json_object_foreach((json_t *)cm, k, v)
	{
		const json_t *c = jwt_claim(claims, k);
		if (c && scalar_text(c, text, sizeof(text)))
			json_object_set_new(meta, json_string_value(v), json_string(text));
	}
	struct login_grant g = {
	    .params = &role->tp,
	    .display_name = alias,
	    .metadata = meta,
	    .alias_name = alias,
	    .alias_metadata = meta,
	    .group_aliases = groups_claim && *groups_claim ? &groups : NULL,
	};
	r = login_issue(req, resp, &g);
out:
	strlist_release(&groups);
	json_decref(meta);
	return r;
}

int jwt_verify_token(struct request *req, struct response *resp, const json_t *cfg, const char *token,
                     struct jwt_expect *e, json_t **claims)
{
	struct jwt_keys_ref *keys = NULL;
	const char **algs = jwt_config_algs(cfg);
	struct buf err;
	bool fresh = false;
	int r;

	buf_init(&err, 1024);
	e->algs = algs;
	if ((r = jwt_keys_get(req, resp, cfg, false, &keys, &fresh)) != 0)
		goto out;
	r = jwt_verify(token, strlen(token), &keys->ks, e, claims, &err);
	if (r == TROVE_ERR_NOT_FOUND && !fresh) {
		/* An unknown kid: the provider may have rotated its keys. */
		jwt_keys_unref(keys);
		keys = NULL;
		if ((r = jwt_keys_get(req, resp, cfg, true, &keys, &fresh)) != 0)
			goto out;
		buf_reset(&err);
		r = jwt_verify(token, strlen(token), &keys->ks, e, claims, &err);
	}
	if (r != 0)
		r = response_error(resp, TROVE_ERR_INVALID, "error validating token: %s", err.data);
out:
	jwt_keys_unref(keys);
	free(algs);
	buf_release(&err);
	return r;
}

int jwt_login(struct request *req, struct response *resp)
{
	json_t *cfg = NULL, *claims = NULL;
	struct jwt_role role;
	const char *name = field_string(req, "role"), *token = field_string(req, "jwt");
	const char *auds[65] = {0};
	int r;

	jwt_role_init(&role);
	if (!*token) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing token");
		goto out;
	}
	if ((r = jwt_config_load(req, &cfg)) != 0) {
		r = r == TROVE_ERR_NOT_FOUND ? response_error(resp, TROVE_ERR_INVALID, "could not load configuration") : r;
		goto out;
	}
	if (!*name)
		name = json_string_value(json_object_get(cfg, "default_role"));
	if (!name || !*name) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing role");
		goto out;
	}
	if ((r = jwt_role_load(req, name, &role)) != 0) {
		r = r == TROVE_ERR_NOT_FOUND ? response_error(resp, TROVE_ERR_INVALID, "role %.128s could not be found", name) : r;
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(role.doc, "role_type")), "jwt") != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "role with oidc role_type is not allowed");
		goto out;
	}
	if (role.tp.bound_cidrs.len > 0 && !token_cidr_allows(&role.tp.bound_cidrs, req->remote_addr)) {
		r = response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
		goto out;
	}
	const json_t *ba = json_object_get(role.doc, "bound_audiences");
	for (size_t i = 0; i < json_array_size(ba) && i < 64; i++)
		auds[i] = json_string_value(json_array_get(ba, i));
	struct jwt_expect e = {
	    .now = clock_realtime_s(),
	    .clock_skew = jwt_role_leeway(&role, "clock_skew_leeway", DEFAULT_CLOCK_SKEW),
	    .exp_leeway = jwt_role_leeway(&role, "expiration_leeway", DEFAULT_EXP_LEEWAY),
	    .nbf_leeway = jwt_role_leeway(&role, "not_before_leeway", DEFAULT_NBF_LEEWAY),
	    .issuer = json_string_value(json_object_get(cfg, "bound_issuer")),
	    .subject = json_string_value(json_object_get(role.doc, "bound_subject")),
	    .audiences = auds,
	};
	if ((r = jwt_verify_token(req, resp, cfg, token, &e, &claims)) != 0)
		goto out;
	if (json_is_true(json_object_get(role.doc, "verbose_oidc_logging")))
		log_debug("jwt: token verified", "mount", req->mount->path, "role", name);
	r = jwt_login_claims(req, resp, name, &role, claims);
out:
	json_decref(claims);
	json_decref(cfg);
	jwt_role_release(&role);
	return r;
}
