/* jwt_role.c — auth/<jwt>/role/:name: how a verified token maps to a
 * Trove token (Vault's role fields and rules).
 *
 * A write on an existing role changes only the fields it gives. Checked:
 * role_type jwt or oidc; user_claim set; bound_claims_type string or glob
 * and bound_claims values strings or lists of strings (numbers and
 * booleans as their text, for "string"); claim_mappings values strings,
 * each metadata key used once; leeways an integer of seconds (-1: none,
 * 0: the default) or a duration; a jwt role has at least one of
 * bound_audiences, bound_subject, bound_claims or token_bound_cidrs, so
 * that no token from the issuer at large logs in by accident; an oidc
 * role has allowed_redirect_uris. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt_auth.h"

#include "duration.h"
#include "err.h"
#include "storage/storage.h"
#include "strlist_json.h"

#include "banned.h"

#define ROLE_KEY_MAX 512

static const char *const leeways[] = {"clock_skew_leeway", "expiration_leeway", "not_before_leeway"};

void jwt_role_init(struct jwt_role *r)
{
	r->doc = NULL;
	token_params_init(&r->tp);
}

void jwt_role_release(struct jwt_role *r)
{
	json_decref(r->doc);
	r->doc = NULL;
	token_params_release(&r->tp);
}

static int role_key(const char *name, char *out)
{
	if (!name || !*name || strlen(name) > 256 || strchr(name, '/'))
		return TROVE_ERR_INVALID;
	snprintf(out, ROLE_KEY_MAX, JWT_ROLE_PREFIX "%s", name);
	return 0;
}

int jwt_role_load(struct request *req, const char *name, struct jwt_role *out)
{
	char key[ROLE_KEY_MAX];
	int r;

	if (role_key(name, key) != 0)
		return TROVE_ERR_NOT_FOUND;
	if ((r = jwt_get_json(req, key, &out->doc)) != 0)
		return r;
	return token_params_load(json_object_get(out->doc, "token_params"), &out->tp);
}

int64_t jwt_role_leeway(const struct jwt_role *r, const char *name, int64_t def)
{
	json_int_t v = json_integer_value(json_object_get(r->doc, name));
	return v == 0 ? def : v < 0 ? 0 : (int64_t)v;
}

int jwt_role_exists(struct request *req, bool *out)
{
	struct jwt_role role;
	int r;

	jwt_role_init(&role);
	r = jwt_role_load(req, request_param(req, "name"), &role);
	*out = r == 0;
	jwt_role_release(&role);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

int jwt_role_list(struct request *req, struct response *resp)
{
	struct strlist keys;
	int r;

	(void)resp;
	strlist_init(&keys);
	if ((r = storage_list(req->storage, JWT_ROLE_PREFIX, &keys)) == 0) {
		if (keys.len == 0)
			r = TROVE_ERR_NOT_FOUND;
		else
			response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&keys)));
	}
	strlist_release(&keys);
	return r;
}

int jwt_role_read(struct request *req, struct response *resp)
{
	struct jwt_role role;
	int r;

	jwt_role_init(&role);
	if ((r = jwt_role_load(req, request_param(req, "name"), &role)) == 0) {
		json_t *data = json_deep_copy(role.doc);
		json_object_del(data, "token_params");
		token_params_to_json(&role.tp, data);
		response_set_data(resp, data);
	}
	jwt_role_release(&role);
	return r;
}

int jwt_role_delete(struct request *req, struct response *resp)
{
	char key[ROLE_KEY_MAX];

	(void)resp;
	if (role_key(request_param(req, "name"), key) != 0)
		return 0;
	return storage_delete(req->storage, key);
}

/* A leeway: an integer (-1 allowed) or a duration string, as seconds. */
static int leeway_value(const json_t *v, json_int_t *out)
{
	int64_t secs = 0;
	if (json_is_integer(v) && json_integer_value(v) >= -1) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && strcmp(json_string_value(v), "-1") == 0) {
		*out = -1;
		return 0;
	}
	if (json_is_string(v) && duration_parse_seconds(json_string_value(v), json_string_length(v), &secs) == 0 &&
	    secs >= 0 && secs <= 365 * 86400) {
		*out = secs;
		return 0;
	}
	return TROVE_ERR_INVALID;
}

/* bound_claims as stored: each value a string or a list of strings. */
static int bound_claims_check(json_t *bc, bool glob, struct response *resp)
{
	const char *k;
	json_t *v;

	json_object_foreach(bc, k, v)
	{
		json_t *list = json_is_array(v) ? v : NULL;
		size_t n = list ? json_array_size(list) : 1;
		for (size_t i = 0; i < n; i++) {
			json_t *x = list ? json_array_get(list, i) : v;
			if (json_is_string(x))
				continue;
			if (!glob && (json_is_number(x) || json_is_boolean(x)))
				continue;
			return response_error(resp, TROVE_ERR_INVALID,
			                      "bound_claims: claim %.128s: values must be strings or lists of strings%s",
			                      k, glob ? " for bound_claims_type glob" : "");
		}
	}
	return 0;
}

static int mappings_check(json_t *cm, struct response *resp)
{
	const char *k;
	json_t *v;
	struct strlist seen;
	int r = 0;

	strlist_init(&seen);
	json_object_foreach(cm, k, v)
	{
		if (!json_is_string(v) || json_string_length(v) == 0) {
			r = response_error(resp, TROVE_ERR_INVALID, "claim_mappings: %.128s: the value must be a name", k);
			break;
		}
		if (strlist_contains(&seen, json_string_value(v))) {
			r = response_error(resp, TROVE_ERR_INVALID, "claim_mappings: metadata key %.128s is mapped twice",
			                   json_string_value(v));
			break;
		}
		strlist_push(&seen, json_string_value(v));
	}
	strlist_release(&seen);
	return r;
}

/* Lays the request's role fields over doc. */
static int role_apply(struct request *req, struct response *resp, json_t *doc)
{
	static const char *const strings[] = {"role_type", "bound_subject", "bound_claims_type", "user_claim",
	                                      "groups_claim"};
	static const char *const lists[] = {"bound_audiences", "oidc_scopes", "allowed_redirect_uris"};
	static const char *const maps[] = {"bound_claims", "claim_mappings"};
	static const char *const bools[] = {"user_claim_json_pointer", "verbose_oidc_logging"};

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (field_present(req, strings[i]))
			json_object_set_new(doc, strings[i], json_string(field_string(req, strings[i])));
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		json_t *v = json_object_get(req->data, lists[i]);
		if (json_is_array(v))
			json_object_set_new(doc, lists[i], json_deep_copy(v));
	}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		json_t *v = json_object_get(req->data, maps[i]);
		if (json_is_object(v))
			json_object_set_new(doc, maps[i], json_deep_copy(v));
	}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
		if (field_present(req, bools[i]))
			json_object_set_new(doc, bools[i], json_boolean(field_bool(req, bools[i])));
	if (field_present(req, "max_age"))
		json_object_set_new(doc, "max_age", json_integer(field_int(req, "max_age")));
	for (size_t i = 0; i < sizeof(leeways) / sizeof(leeways[0]); i++) {
		json_t *v = json_object_get(req->data, leeways[i]);
		json_int_t n;
		if (!v || json_is_null(v))
			continue;
		if (leeway_value(v, &n) != 0)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "%s: expected seconds (-1 for none) or a duration", leeways[i]);
		json_object_set_new(doc, leeways[i], json_integer(n));
	}
	return 0;
}

/* Defaults for what a new role does not give. */
static void role_defaults(json_t *doc)
{
	static const char *const strings[] = {"role_type", "bound_subject", "bound_claims_type", "user_claim",
	                                      "groups_claim"};
	static const char *const defs[] = {"oidc", "", "string", "", ""};
	static const char *const lists[] = {"bound_audiences", "oidc_scopes", "allowed_redirect_uris"};

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (!json_object_get(doc, strings[i]))
			json_object_set_new(doc, strings[i], json_string(defs[i]));
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (!json_object_get(doc, lists[i]))
			json_object_set_new(doc, lists[i], json_array());
	if (!json_object_get(doc, "bound_claims"))
		json_object_set_new(doc, "bound_claims", json_null());
	if (!json_object_get(doc, "claim_mappings"))
		json_object_set_new(doc, "claim_mappings", json_null());
	if (!json_object_get(doc, "user_claim_json_pointer"))
		json_object_set_new(doc, "user_claim_json_pointer", json_false());
	if (!json_object_get(doc, "verbose_oidc_logging"))
		json_object_set_new(doc, "verbose_oidc_logging", json_false());
	if (!json_object_get(doc, "max_age"))
		json_object_set_new(doc, "max_age", json_integer(0));
	for (size_t i = 0; i < sizeof(leeways) / sizeof(leeways[0]); i++)
		if (!json_object_get(doc, leeways[i]))
			json_object_set_new(doc, leeways[i], json_integer(0));
}

static int role_check(const json_t *doc, const struct token_params *tp, struct response *resp)
{
	const char *type = json_string_value(json_object_get(doc, "role_type"));
	const char *bct = json_string_value(json_object_get(doc, "bound_claims_type"));
	json_t *bc = json_object_get(doc, "bound_claims"), *cm = json_object_get(doc, "claim_mappings");
	int r;

	if (strcmp(type, "jwt") != 0 && strcmp(type, "oidc") != 0)
		return response_error(resp, TROVE_ERR_INVALID, "role_type: invalid role type: must be jwt or oidc");
	if (strcmp(bct, "string") != 0 && strcmp(bct, "glob") != 0)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "bound_claims_type: invalid value: must be string or glob");
	if (!*json_string_value(json_object_get(doc, "user_claim")))
		return response_error(resp, TROVE_ERR_INVALID, "a user claim must be defined on the role");
	if (json_is_object(bc) && (r = bound_claims_check(bc, strcmp(bct, "glob") == 0, resp)) != 0)
		return r;
	if (json_is_object(cm) && (r = mappings_check(cm, resp)) != 0)
		return r;
	if (strcmp(type, "jwt") == 0 && json_array_size(json_object_get(doc, "bound_audiences")) == 0 &&
	    !*json_string_value(json_object_get(doc, "bound_subject")) && json_object_size(bc) == 0 &&
	    tp->bound_cidrs.len == 0)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "must have at least one bound constraint when creating/updating a role");
	if (strcmp(type, "oidc") == 0 && json_array_size(json_object_get(doc, "allowed_redirect_uris")) == 0)
		return response_error(resp, TROVE_ERR_INVALID, "'allowed_redirect_uris' must be set");
	return 0;
}

int jwt_role_write(struct request *req, struct response *resp)
{
	char key[ROLE_KEY_MAX];
	struct jwt_role role;
	int r;

	jwt_role_init(&role);
	if (role_key(request_param(req, "name"), key) != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "name: invalid role name");
		goto out;
	}
	r = jwt_role_load(req, request_param(req, "name"), &role);
	if (r == TROVE_ERR_NOT_FOUND) {
		role.doc = json_object();
		r = 0;
	}
	if (r != 0 || (r = role_apply(req, resp, role.doc)) != 0 ||
	    (r = token_params_parse(req, resp, &role.tp)) != 0)
		goto out;
	role_defaults(role.doc);
	if ((r = role_check(role.doc, &role.tp, resp)) != 0)
		goto out;
	json_object_set_new(role.doc, "token_params", token_params_store(&role.tp));
	r = jwt_put_json(req, key, role.doc);
out:
	jwt_role_release(&role);
	return r;
}
