/* token.c — the auth/token engine: Vault's token store API over
 * core/token.c, plus token roles and sys/capabilities-accessor.
 *
 * The store (core/token.c) keeps entries and enforces what it alone can
 * (hash-only storage, the tree, uses, expiry); this file decides who may
 * create what: the policy subset rule, root/sudo-only options, role
 * constraints and TTL defaults from the mount. Roles are kept in the
 * mount's own storage view at role/<name>.
 *
 * The client's token (req->token) has been resolved and authorised by the
 * router before any handler here runs; handlers that act on another token
 * look it up without consuming its uses. */
#include <ctype.h>
#include <stddef.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engines.h"

#include "core/acl.h"
#include "core/core.h"
#include "core/login.h"
#include "core/mount.h"
#include "core/policy_store.h"
#include "core/token.h"
#include "duration.h"
#include "err.h"
#include "secure.h"
#include "timefmt.h"
#include "strlist_json.h"

#include "banned.h"

#define ROLE_PREFIX "role/"
#define ROLE_NAME_MAX 128

/* --- helpers ----------------------------------------------------------- */

static struct token_store *store(const struct request *req)
{
	return core_tokens(req->core);
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static json_t *time_json(int64_t t)
{
	char buf[TIME_TEXT_MAX];
	if (t <= 0)
		return json_null();
	time_rfc3339(t, buf);
	return json_string(buf);
}

/* A coerced string-list field (JSON array of strings) into out. */
static void field_list(const struct request *req, const char *name, struct strlist *out)
{
	json_t *v = req->data ? json_object_get(req->data, name) : NULL, *x;
	size_t i;
	if (!json_is_array(v))
		return;
	json_array_foreach(v, i, x)
	{
		if (json_is_string(x))
			strlist_push(out, json_string_value(x));
	}
}

static void strlist_remove(struct strlist *l, const char *s)
{
	size_t w = 0;
	for (size_t i = 0; i < l->len; i++) {
		if (strcmp(l->items[i], s) == 0) {
			free(l->items[i]);
			continue;
		}
		l->items[w++] = l->items[i];
	}
	l->len = w;
}

static void strlist_copy(struct strlist *dst, const struct strlist *src)
{
	for (size_t i = 0; i < src->len; i++)
		strlist_push(dst, src->items[i]);
}

static bool glob_any(const struct strlist *globs, const char *s)
{
	for (size_t i = 0; i < globs->len; i++)
		if (fnmatch(globs->items[i], s, 0) == 0)
			return true;
	return false;
}

/* Comma-joined list for messages. Caller frees. */
static char *join(const struct strlist *l)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	for (size_t i = 0; i < l->len; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", l->items[i]);
	char *s = buf_take(&b);
	return s ? s : xstrdup("");
}

/* "token" or "token-<name>" with anything but [A-Za-z0-9_-] turned into
 * '-', runs of '-' collapsed and a trailing '-' dropped, as Vault. */
static char *display_name(const char *given)
{
	struct buf b;
	buf_init(&b, 4096);
	buf_append_str(&b, "token");
	if (given && given[0]) {
		buf_append_byte(&b, '-');
		for (const char *p = given; *p; p++) {
			unsigned char c = (unsigned char)*p;
			char out = (isalnum(c) || c == '_' || c == '-') ? (char)c : '-';
			if (out == '-' && b.len && b.data[b.len - 1] == '-')
				continue;
			if (buf_append_byte(&b, out) != 0)
				break;
		}
		while (b.len && b.data[b.len - 1] == '-')
			b.data[--b.len] = '\0';
	}
	char *s = buf_take(&b);
	return s ? s : xstrdup("token");
}

/* meta: a map of strings. Scalars become their text; nested values are
 * refused. */
static int meta_from_field(const struct request *req, struct response *resp, json_t **out)
{
	json_t *v = req->data ? json_object_get(req->data, "meta") : NULL, *m, *x;
	const char *k;
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return response_error(resp, TROVE_ERR_INVALID, "meta: must be a map of strings");
	m = json_object();
	json_object_foreach(v, k, x)
	{
		char num[64];
		if (json_is_string(x)) {
			json_object_set(m, k, x);
		} else if (json_is_integer(x)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(x));
			json_object_set_new(m, k, json_string(num));
		} else if (json_is_real(x)) {
			snprintf(num, sizeof(num), "%g", json_real_value(x));
			json_object_set_new(m, k, json_string(num));
		} else if (json_is_boolean(x)) {
			json_object_set_new(m, k, json_string(json_is_true(x) ? "true" : "false"));
		} else {
			json_decref(m);
			return response_error(resp, TROVE_ERR_INVALID, "meta: value of %s must be a string",
			                      k);
		}
	}
	if (json_object_size(m) == 0) {
		json_decref(m);
		m = NULL;
	}
	*out = m;
	return 0;
}

static int64_t remaining(const struct token_entry *e)
{
	if (e->expire_time == 0)
		return 0;
	int64_t left = e->expire_time - now_s();
	return left > 0 ? left : 0;
}

/* The lookup data object. id: the token itself, or "" (by accessor). */
static json_t *lookup_json(const struct token_entry *e, const char *id)
{
	json_t *d = json_object();
	json_object_set_new(d, "accessor", json_string(e->accessor));
	json_object_set_new(d, "creation_time", json_integer((json_int_t)e->creation_time));
	json_object_set_new(d, "creation_ttl", json_integer((json_int_t)e->ttl));
	json_object_set_new(d, "display_name", json_string(e->display_name));
	json_object_set_new(d, "entity_id", json_string(e->entity_id));
	if (e->identity_policies.len) /* set for the request's own token only */
		json_object_set_new(d, "identity_policies", strlist_json(&e->identity_policies));
	json_object_set_new(d, "expire_time", time_json(e->expire_time));
	json_object_set_new(d, "explicit_max_ttl", json_integer((json_int_t)e->explicit_max_ttl));
	json_object_set_new(d, "id", json_string(id ? id : ""));
	json_object_set_new(d, "issue_time", time_json(e->creation_time));
	json_object_set_new(d, "meta", e->meta ? json_incref(e->meta) : json_null());
	json_object_set_new(d, "num_uses", json_integer((json_int_t)(e->num_uses > 0 ? e->num_uses : 0)));
	json_object_set_new(d, "orphan", json_boolean(e->orphan));
	json_object_set_new(d, "path", json_string(e->path));
	json_object_set_new(d, "policies", strlist_json(&e->policies));
	json_object_set_new(d, "renewable", json_boolean(e->renewable && e->expire_time != 0));
	json_object_set_new(d, "ttl", json_integer((json_int_t)remaining(e)));
	json_object_set_new(d, "type", json_string(e->type == TOKEN_TYPE_BATCH ? "batch" : "service"));
	if (e->period)
		json_object_set_new(d, "period", json_integer((json_int_t)e->period));
	if (e->role[0])
		json_object_set_new(d, "role", json_string(e->role));
	if (e->last_renewal_time) {
		json_object_set_new(d, "last_renewal_time", json_integer((json_int_t)e->last_renewal_time));
		json_object_set_new(d, "last_renewal", time_json(e->last_renewal_time));
	}
	if (e->bound_cidrs.len)
		json_object_set_new(d, "bound_cidrs", strlist_json(&e->bound_cidrs));
	return d;
}

/* --- roles --------------------------------------------------------------- */

struct role {
	char *name;
	struct strlist allowed, disallowed, allowed_glob, disallowed_glob, entity_aliases, cidrs;
	bool orphan, renewable, no_default_policy;
	char *path_suffix;
	char *token_type; /* service | batch | default-service | default-batch */
	int64_t period, explicit_max_ttl, num_uses, ttl, max_ttl;
};

static struct role *role_new(const char *name)
{
	struct role *r = xcalloc(1, sizeof(*r));
	r->name = xstrdup(name);
	strlist_init(&r->allowed);
	strlist_init(&r->disallowed);
	strlist_init(&r->allowed_glob);
	strlist_init(&r->disallowed_glob);
	strlist_init(&r->entity_aliases);
	strlist_init(&r->cidrs);
	r->renewable = true;
	r->path_suffix = xstrdup("");
	r->token_type = xstrdup("default-service");
	return r;
}

static void role_free(struct role *r)
{
	if (!r)
		return;
	free(r->name);
	strlist_release(&r->allowed);
	strlist_release(&r->disallowed);
	strlist_release(&r->allowed_glob);
	strlist_release(&r->disallowed_glob);
	strlist_release(&r->entity_aliases);
	strlist_release(&r->cidrs);
	free(r->path_suffix);
	free(r->token_type);
	free(r);
}

static json_t *role_json(const struct role *r)
{
	return json_pack(
	    "{s:o, s:o, s:o, s:o, s:o, s:I, s:s, s:b, s:s, s:I, s:b, s:o, s:I, s:b, s:I, s:I, s:s, "
	    "s:I, s:I}",
	    "allowed_entity_aliases", strlist_json(&r->entity_aliases), "allowed_policies",
	    strlist_json(&r->allowed), "allowed_policies_glob", strlist_json(&r->allowed_glob),
	    "disallowed_policies", strlist_json(&r->disallowed), "disallowed_policies_glob",
	    strlist_json(&r->disallowed_glob), "explicit_max_ttl", (json_int_t)r->explicit_max_ttl, "name",
	    r->name, "orphan", r->orphan, "path_suffix", r->path_suffix, "period", (json_int_t)r->period,
	    "renewable", r->renewable, "token_bound_cidrs", strlist_json(&r->cidrs), "token_explicit_max_ttl",
	    (json_int_t)r->explicit_max_ttl, "token_no_default_policy", r->no_default_policy,
	    "token_num_uses", (json_int_t)r->num_uses, "token_period", (json_int_t)r->period, "token_type",
	    r->token_type, "token_ttl", (json_int_t)r->ttl, "token_max_ttl", (json_int_t)r->max_ttl);
}

static void json_list(json_t *j, const char *k, struct strlist *out)
{
	json_t *v = json_object_get(j, k), *x;
	size_t i;
	json_array_foreach(v, i, x)
	{
		if (json_is_string(x))
			strlist_push(out, json_string_value(x));
	}
}

static int64_t json_int_of(json_t *j, const char *k)
{
	json_t *v = json_object_get(j, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *json_str_of(json_t *j, const char *k, const char *def)
{
	json_t *v = json_object_get(j, k);
	return json_is_string(v) ? json_string_value(v) : def;
}

static void role_key(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s%s", ROLE_PREFIX, name);
}

static bool valid_role_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > ROLE_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x20)
			return false;
	return true;
}

/* Role names are case-insensitive (stored lowercased). Caller frees. */
static char *role_name_norm(const char *name)
{
	char *s = xstrdup(name ? name : "");
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* Loads a role. NOT_FOUND when absent. */
static int role_load(struct request *req, const char *name, struct role **out)
{
	char key[sizeof(ROLE_PREFIX) + ROLE_NAME_MAX + 1];
	unsigned char *raw = NULL;
	size_t len = 0;
	json_t *j = NULL;
	int r;

	*out = NULL;
	if (!valid_role_name(name) || !req->storage)
		return TROVE_ERR_NOT_FOUND;
	role_key(key, sizeof(key), name);
	if ((r = storage_get(req->storage, key, &raw, &len)) != 0)
		return r;
	j = json_loadb((const char *)raw, len, 0, NULL);
	free(raw);
	if (!json_is_object(j)) {
		json_decref(j);
		return TROVE_ERR_INTEGRITY;
	}
	struct role *ro = role_new(name);
	json_list(j, "allowed_policies", &ro->allowed);
	json_list(j, "disallowed_policies", &ro->disallowed);
	json_list(j, "allowed_policies_glob", &ro->allowed_glob);
	json_list(j, "disallowed_policies_glob", &ro->disallowed_glob);
	json_list(j, "allowed_entity_aliases", &ro->entity_aliases);
	json_list(j, "token_bound_cidrs", &ro->cidrs);
	ro->orphan = json_is_true(json_object_get(j, "orphan"));
	ro->renewable = json_is_true(json_object_get(j, "renewable"));
	ro->no_default_policy = json_is_true(json_object_get(j, "token_no_default_policy"));
	token_entry_set(&ro->path_suffix, json_str_of(j, "path_suffix", ""));
	token_entry_set(&ro->token_type, json_str_of(j, "token_type", "default-service"));
	ro->period = json_int_of(j, "token_period");
	ro->explicit_max_ttl = json_int_of(j, "token_explicit_max_ttl");
	ro->num_uses = json_int_of(j, "token_num_uses");
	ro->ttl = json_int_of(j, "token_ttl");
	ro->max_ttl = json_int_of(j, "token_max_ttl");
	json_decref(j);
	*out = ro;
	return 0;
}

static int role_exists(struct request *req, bool *out)
{
	struct role *ro = NULL;
	char *name = role_name_norm(request_param(req, "role_name"));
	int r = role_load(req, name, &ro);
	free(name);
	role_free(ro);
	*out = r == 0;
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

static int roles_list(struct request *req, struct response *resp)
{
	struct strlist keys;
	int r;
	strlist_init(&keys);
	if (!req->storage)
		return TROVE_ERR_NOT_FOUND;
	if ((r = storage_list(req->storage, ROLE_PREFIX, &keys)) != 0)
		goto out;
	r = TROVE_ERR_NOT_FOUND;
	if (keys.len == 0)
		goto out;
	response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&keys)));
	r = 0;
out:
	strlist_release(&keys);
	return r;
}

static int role_read(struct request *req, struct response *resp)
{
	struct role *ro = NULL;
	char *name = role_name_norm(request_param(req, "role_name"));
	int r = role_load(req, name, &ro);
	free(name);
	if (r != 0)
		return r;
	response_set_data(resp, role_json(ro));
	role_free(ro);
	return 0;
}

static int role_delete(struct request *req, struct response *resp)
{
	char key[sizeof(ROLE_PREFIX) + ROLE_NAME_MAX + 1];
	char *name = role_name_norm(request_param(req, "role_name"));
	int r;
	(void)resp;
	if (!valid_role_name(name)) {
		free(name);
		return response_error(resp, TROVE_ERR_INVALID, "invalid role name");
	}
	role_key(key, sizeof(key), name);
	free(name);
	r = req->storage ? storage_delete(req->storage, key) : TROVE_ERR_INTERNAL;
	return r;
}

static bool valid_token_type(const char *t, bool role)
{
	if (strcmp(t, "service") == 0 || strcmp(t, "batch") == 0)
		return true;
	return role && (strcmp(t, "default-service") == 0 || strcmp(t, "default-batch") == 0 ||
	                strcmp(t, "default") == 0);
}

/* A duration field, or its legacy alias. Returns whether either was given. */
static bool duration_pair(struct request *req, const char *name, const char *legacy, int64_t *out)
{
	if (field_present(req, name)) {
		*out = field_int(req, name);
		return true;
	}
	if (legacy && field_present(req, legacy)) {
		*out = field_int(req, legacy);
		return true;
	}
	return false;
}

static int role_write(struct request *req, struct response *resp)
{
	char key[sizeof(ROLE_PREFIX) + ROLE_NAME_MAX + 1];
	struct role *ro = NULL;
	char *name = role_name_norm(request_param(req, "role_name"));
	char *text = NULL;
	json_t *j = NULL;
	int r;

	if (!valid_role_name(name)) {
		r = response_error(resp, TROVE_ERR_INVALID, "invalid role name");
		goto out;
	}
	r = role_load(req, name, &ro);
	if (r == TROVE_ERR_NOT_FOUND)
		ro = role_new(name);
	else if (r != 0)
		goto out;

	static const struct {
		const char *field;
		size_t off;
		bool policies;
	} lists[] = {
	    {"allowed_policies", offsetof(struct role, allowed), true},
	    {"disallowed_policies", offsetof(struct role, disallowed), true},
	    {"allowed_policies_glob", offsetof(struct role, allowed_glob), true},
	    {"disallowed_policies_glob", offsetof(struct role, disallowed_glob), true},
	    {"allowed_entity_aliases", offsetof(struct role, entity_aliases), false},
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (!field_present(req, lists[i].field))
			continue;
		struct strlist *l = (struct strlist *)((char *)ro + lists[i].off);
		strlist_release(l);
		field_list(req, lists[i].field, l);
		if (lists[i].policies)
			policy_names_canon(l);
	}
	if (field_present(req, "token_bound_cidrs") || field_present(req, "bound_cidrs")) {
		strlist_release(&ro->cidrs);
		field_list(req, field_present(req, "token_bound_cidrs") ? "token_bound_cidrs" : "bound_cidrs",
		           &ro->cidrs);
		for (size_t i = 0; i < ro->cidrs.len; i++) {
			if (!token_cidr_valid(ro->cidrs.items[i])) {
				r = response_error(resp, TROVE_ERR_INVALID, "invalid token_bound_cidrs: %s",
				                   ro->cidrs.items[i]);
				goto out;
			}
		}
	}
	if (field_present(req, "orphan"))
		ro->orphan = field_bool(req, "orphan");
	if (field_present(req, "renewable"))
		ro->renewable = field_bool(req, "renewable");
	if (field_present(req, "token_no_default_policy"))
		ro->no_default_policy = field_bool(req, "token_no_default_policy");
	if (field_present(req, "path_suffix")) {
		const char *s = field_string(req, "path_suffix");
		if (strstr(s, "..") || s[0] == '/') {
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "path_suffix: must not contain '..' or start with '/'");
			goto out;
		}
		token_entry_set(&ro->path_suffix, s);
	}
	if (field_present(req, "token_type")) {
		const char *t = field_string(req, "token_type");
		if (!valid_token_type(t, true)) {
			r = response_error(resp, TROVE_ERR_INVALID, "token_type: invalid value %s", t);
			goto out;
		}
		token_entry_set(&ro->token_type, strcmp(t, "default") == 0 ? "default-service" : t);
	}
	(void)duration_pair(req, "token_period", "period", &ro->period);
	(void)duration_pair(req, "token_explicit_max_ttl", "explicit_max_ttl", &ro->explicit_max_ttl);
	(void)duration_pair(req, "token_ttl", "ttl", &ro->ttl);
	(void)duration_pair(req, "token_max_ttl", "max_ttl", &ro->max_ttl);
	if (field_present(req, "token_num_uses") || field_present(req, "num_uses"))
		ro->num_uses =
		    field_int(req, field_present(req, "token_num_uses") ? "token_num_uses" : "num_uses");
	if (ro->num_uses < 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "token_num_uses: cannot be negative");
		goto out;
	}
	if (ro->max_ttl > 0 && ro->ttl > ro->max_ttl) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "token_ttl: cannot be greater than token_max_ttl");
		goto out;
	}
	if (strcmp(ro->token_type, "batch") == 0 && ro->period > 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "batch tokens cannot be periodic");
		goto out;
	}
	j = role_json(ro);
	json_object_del(j, "name");
	r = TROVE_ERR_NOMEM;
	if (!j || !(text = json_dumps(j, JSON_COMPACT)))
		goto out;
	role_key(key, sizeof(key), name);
	r = req->storage ? storage_put(req->storage, key, text, strlen(text)) : TROVE_ERR_INTERNAL;
out:
	free(text);
	json_decref(j);
	role_free(ro);
	free(name);
	return r;
}

/* --- create -------------------------------------------------------------- */

/* The policy set of a new token. Returns 0 or an error already put in
 * resp. */
static int choose_policies(struct request *req, struct response *resp, const struct token_entry *parent,
                           const struct role *ro, bool is_sudo, bool no_default, struct strlist *out)
{
	struct strlist bad;
	bool asked = field_present(req, "policies");
	bool default_disallowed = false;
	int r = 0;

	strlist_init(&bad);
	field_list(req, "policies", out);
	policy_names_canon(out);
	if (!asked || out->len == 0) {
		if (ro && ro->allowed.len)
			strlist_copy(out, &ro->allowed);
		else
			strlist_copy(out, &parent->policies);
		if (no_default)
			strlist_remove(out, "default");
		policy_names_canon(out);
	}
	if (ro) {
		default_disallowed =
		    strlist_contains(&ro->disallowed, "default") || glob_any(&ro->disallowed_glob, "default");
		for (size_t i = 0; i < out->len; i++) {
			const char *p = out->items[i];
			if (strlist_contains(&ro->disallowed, p) || glob_any(&ro->disallowed_glob, p))
				strlist_push(&bad, p);
		}
		if (bad.len) {
			char *s = join(&bad);
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "token policies (%s) have been disallowed by this role", s);
			free(s);
			goto out;
		}
		if (ro->allowed.len || ro->allowed_glob.len) {
			for (size_t i = 0; i < out->len; i++) {
				const char *p = out->items[i];
				if (strcmp(p, "default") != 0 && !strlist_contains(&ro->allowed, p) &&
				    !glob_any(&ro->allowed_glob, p))
					strlist_push(&bad, p);
			}
			if (bad.len) {
				char *s = join(&bad);
				r = response_error(
				    resp, TROVE_ERR_INVALID,
				    "token policies (%s) must be subset of the role's allowed policies", s);
				free(s);
				goto out;
			}
			goto add_default;
		}
	}
	if (!is_sudo) {
		for (size_t i = 0; i < out->len; i++) {
			const char *p = out->items[i];
			if (strcmp(p, "default") != 0 && !strlist_contains(&parent->policies, p))
				strlist_push(&bad, p);
		}
		if (bad.len) {
			char *s = join(&bad);
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "child policies must be subset of parent: not allowed: %s", s);
			free(s);
			goto out;
		}
	}
add_default:
	if (!no_default && !default_disallowed && !strlist_contains(out, "root"))
		strlist_push(out, "default");
	policy_names_canon(out);
	if (strlist_contains(out, "root") && !token_has_policy(parent, "root")) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "root tokens may not be created without parent token being root");
		goto out;
	}
out:
	strlist_release(&bad);
	return r;
}

static int create_common(struct request *req, struct response *resp, const char *role_param, bool orphan_path)
{
	struct token_entry *parent = req->token, *e = NULL;
	struct role *ro = NULL;
	char *role_name = NULL, *tok = NULL, *dn = NULL;
	json_t *meta = NULL;
	int64_t def_ttl, max_ttl, ttl = 0, explicit_max = 0, period = 0, num_uses;
	bool is_root, is_sudo, orphan, renewable, no_default, batch = false;
	int r;

	if (!parent)
		return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
	if (parent->type == TOKEN_TYPE_BATCH)
		return response_error(resp, TROVE_ERR_INVALID, "batch tokens cannot create more tokens");
	is_root = token_has_policy(parent, "root");
	is_sudo = is_root || req->sudo;

	if (!role_param || !role_param[0])
		role_param = field_string(req, "role_name");
	if (role_param && role_param[0]) {
		role_name = role_name_norm(role_param);
		r = role_load(req, role_name, &ro);
		if (r == TROVE_ERR_NOT_FOUND) {
			r = response_error(resp, TROVE_ERR_INVALID, "unknown role %s", role_name);
			goto out;
		}
		if (r != 0)
			goto out;
	}

	/* Token type. */
	const char *want = field_string(req, "type");
	if (want[0] && !valid_token_type(want, false)) {
		r = response_error(resp, TROVE_ERR_INVALID, "type: must be \"service\" or \"batch\"");
		goto out;
	}
	{
		const char *def =
		    ro ? ro->token_type
		       : (req->mount && req->mount->config.token_type ? req->mount->config.token_type
		                                                      : "default-service");
		if (strcmp(def, "service") == 0 || strcmp(def, "batch") == 0) {
			if (want[0] && strcmp(want, def) != 0) {
				r = response_error(resp, TROVE_ERR_INVALID, "%s only allows %s tokens",
				                   ro ? "role" : "mount", def);
				goto out;
			}
			batch = strcmp(def, "batch") == 0;
		} else {
			batch = want[0] ? strcmp(want, "batch") == 0 : strcmp(def, "default-batch") == 0;
		}
	}

	/* Options reserved to root or sudo. */
	const char *id = field_present(req, "id") ? field_string(req, "id") : NULL;
	if (id && !id[0])
		id = NULL;
	if (id) {
		if (!is_sudo) {
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "root or sudo privileges required to specify token id");
			goto out;
		}
		if (strchr(id, '.')) {
			r = response_error(resp, TROVE_ERR_INVALID, "token IDs can not contain a period");
			goto out;
		}
		if (batch) {
			r = response_error(resp, TROVE_ERR_INVALID, "batch tokens cannot have a custom id");
			goto out;
		}
	}
	orphan = orphan_path || (ro && ro->orphan);
	if (field_bool(req, "no_parent")) {
		if (!is_sudo && !orphan) {
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "root or sudo privileges required to create orphan token");
			goto out;
		}
		orphan = true;
	}
	if (ro && ro->period > 0) {
		period = ro->period;
	} else if (field_present(req, "period") && field_int(req, "period") > 0) {
		if (!is_sudo) {
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "root or sudo privileges required to create periodic token");
			goto out;
		}
		period = field_int(req, "period");
	}

	/* Numbers. */
	num_uses = field_int(req, "num_uses");
	if (num_uses < 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "number of uses cannot be negative");
		goto out;
	}
	if (ro && ro->num_uses > 0 && (num_uses == 0 || num_uses > ro->num_uses))
		num_uses = ro->num_uses;
	explicit_max = field_int(req, "explicit_max_ttl");
	if (ro && ro->explicit_max_ttl > 0 && (explicit_max == 0 || explicit_max > ro->explicit_max_ttl))
		explicit_max = ro->explicit_max_ttl;
	if (!duration_pair(req, "ttl", "lease", &ttl) && ro)
		ttl = ro->ttl;
	renewable = field_present(req, "renewable") ? field_bool(req, "renewable") : true;
	if (ro && !ro->renewable)
		renewable = false;
	no_default = field_bool(req, "no_default_policy") || (ro && ro->no_default_policy);
	if (field_string(req, "entity_alias")[0]) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "entity_alias: entity aliases are not supported yet");
		goto out;
	}
	if (batch) {
		if (period > 0) {
			r = response_error(resp, TROVE_ERR_INVALID, "batch tokens cannot be periodic");
			goto out;
		}
		if (num_uses > 0) {
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "batch tokens cannot have a limited number of uses");
			goto out;
		}
		renewable = false;
	}

	e = token_entry_new();
	e->type = batch ? TOKEN_TYPE_BATCH : TOKEN_TYPE_SERVICE;
	if ((r = choose_policies(req, resp, parent, ro, is_sudo, no_default, &e->policies)) != 0)
		goto out;
	if (batch && strlist_contains(&e->policies, "root")) {
		r = response_error(resp, TROVE_ERR_INVALID, "batch tokens cannot be root tokens");
		goto out;
	}
	if ((r = meta_from_field(req, resp, &meta)) != 0)
		goto out;
	e->meta = meta;
	meta = NULL;

	/* TTL: the period for periodic tokens; otherwise the request, the
	 * role or the mount default, capped by the max (mount, role,
	 * explicit). A root-policy token may have none. */
	def_ttl = mount_default_ttl(req->core, req->mount);
	max_ttl = mount_max_ttl(req->core, req->mount);
	if (ro && ro->max_ttl > 0 && (max_ttl == 0 || ro->max_ttl < max_ttl))
		max_ttl = ro->max_ttl;
	if (period > 0) {
		ttl = period;
		if (explicit_max > 0 && explicit_max < ttl)
			ttl = explicit_max;
	} else {
		if (ttl == 0 && !strlist_contains(&e->policies, "root"))
			ttl = def_ttl;
		int64_t cap = max_ttl;
		if (explicit_max > 0 && (cap == 0 || explicit_max < cap))
			cap = explicit_max;
		if (ttl == 0 && explicit_max > 0)
			ttl = explicit_max;
		if (ttl > 0 && cap > 0 && ttl > cap) {
			char a[32], b[32];
			duration_format(ttl, a, sizeof(a));
			duration_format(cap, b, sizeof(b));
			response_warning(
			    resp,
			    "TTL of %s exceeded the effective max_ttl of %s; TTL value is capped accordingly",
			    a, b);
			ttl = cap;
		}
	}
	if (ttl == 0 && parent->expire_time != 0) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "expiring root tokens cannot create non-expiring root tokens");
		goto out;
	}
	e->ttl = ttl;
	e->explicit_max_ttl = explicit_max;
	e->period = period;
	e->num_uses = num_uses;
	e->renewable = renewable && ttl > 0;

	dn = display_name(field_string(req, "display_name"));
	token_entry_set(&e->display_name, dn);
	{
		struct buf p;
		buf_init(&p, 4096);
		buf_printf(&p, "%s%s", req->mount ? req->mount->path : "auth/token/",
		           req->rel ? req->rel : "");
		if (ro && ro->path_suffix[0])
			buf_printf(&p, "/%s", ro->path_suffix);
		token_entry_set(&e->path, p.data);
		buf_release(&p);
	}
	token_entry_set(&e->entity_id, parent->entity_id);
	if (ro) {
		token_entry_set(&e->role, ro->name);
		strlist_copy(&e->bound_cidrs, &ro->cidrs);
	}
	if (!orphan)
		memcpy(e->parent_hash, parent->id_hash, sizeof(e->parent_hash));

	r = token_create(store(req), e, id, &tok);
	if (r == TROVE_ERR_CONFLICT) {
		r = response_error(resp, TROVE_ERR_INVALID, "cannot create a token with a duplicate ID");
		goto out;
	}
	if (r == TROVE_ERR_INVALID) {
		r = response_error(resp, TROVE_ERR_INVALID, "invalid token id");
		goto out;
	}
	if (r != 0)
		goto out;

	for (size_t i = 0; i < e->policies.len; i++) {
		const char *p = e->policies.items[i];
		if (strcmp(p, "root") != 0 && strcmp(p, "default") != 0 &&
		    !policy_store_exists(core_policies(req->core), p))
			response_warning(resp, "Policy \"%s\" does not exist", p);
	}
	resp->auth = token_auth_json(e, tok, e->ttl);
	r = 0;
out:
	secure_free_str(tok);
	json_decref(meta);
	token_entry_free(e);
	role_free(ro);
	free(role_name);
	free(dn);
	return r;
}

static int create_write(struct request *req, struct response *resp)
{
	return create_common(req, resp, NULL, false);
}

static int create_orphan_write(struct request *req, struct response *resp)
{
	return create_common(req, resp, NULL, true);
}

static int create_role_write(struct request *req, struct response *resp)
{
	return create_common(req, resp, request_param(req, "role_name"), false);
}

/* --- lookup -------------------------------------------------------------- */

static int lookup_self(struct request *req, struct response *resp)
{
	if (!req->token)
		return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
	response_set_data(resp, lookup_json(req->token, req->client_token));
	return 0;
}

/* Another token, named in the body (or the deprecated path segment),
 * looked up without consuming a use. */
static int other_token(struct request *req, struct response *resp, struct token_entry **out,
                       const char **id_out)
{
	const char *id = request_param(req, "token");
	if (!id || !id[0])
		id = field_string(req, "token");
	*out = NULL;
	if (!id[0])
		return response_error(resp, TROVE_ERR_INVALID, "missing token");
	int r = token_lookup_ex(store(req), id, NULL, TOKEN_LOOKUP_NO_USE, out);
	if (id_out)
		*id_out = id;
	return r;
}

static int lookup_other(struct request *req, struct response *resp)
{
	struct token_entry *e = NULL;
	const char *id = NULL;
	int r = other_token(req, resp, &e, &id);
	if (r == TROVE_ERR_PERMISSION)
		return response_error(resp, TROVE_ERR_PERMISSION, "bad token");
	if (r != 0)
		return r;
	response_set_data(resp, lookup_json(e, id));
	token_entry_free(e);
	return 0;
}

static int by_accessor(struct request *req, struct response *resp, struct token_entry **out)
{
	const char *acc = request_param(req, "accessor");
	if (!acc || !acc[0])
		acc = field_string(req, "accessor");
	*out = NULL;
	if (!acc[0])
		return response_error(resp, TROVE_ERR_INVALID, "missing accessor");
	int r = token_lookup_accessor(store(req), acc, out);
	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, TROVE_ERR_INVALID, "invalid accessor");
	return r;
}

static int lookup_accessor(struct request *req, struct response *resp)
{
	struct token_entry *e = NULL;
	int r = by_accessor(req, resp, &e);
	if (r != 0)
		return r;
	response_set_data(resp, lookup_json(e, ""));
	token_entry_free(e);
	return 0;
}

/* --- renew --------------------------------------------------------------- */

static int renew_entry(struct request *req, struct response *resp, const struct token_entry *e,
                       const char *client_token)
{
	struct token_entry *after = NULL;
	bool capped = false;
	int r;

	if (e->type == TOKEN_TYPE_BATCH)
		return response_error(resp, TROVE_ERR_INVALID, "batch tokens cannot be renewed");
	r = token_renew(store(req), e->id_hash, field_int(req, "increment"),
	                mount_default_ttl(req->core, req->mount), mount_max_ttl(req->core, req->mount),
	                &after, &capped);
	if (r == TROVE_ERR_INVALID)
		return response_error(resp, r, "lease is not renewable");
	if (r == TROVE_ERR_PERMISSION)
		return response_error(resp, TROVE_ERR_INVALID, "token not found");
	if (r != 0)
		return r;
	if (capped)
		response_warning(resp, "TTL of the token was capped by its max TTL");
	resp->auth = token_auth_json(after, client_token, remaining(after));
	token_entry_free(after);
	return 0;
}

static int renew_self(struct request *req, struct response *resp)
{
	if (!req->token)
		return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
	return renew_entry(req, resp, req->token, req->client_token);
}

static int renew_other(struct request *req, struct response *resp)
{
	struct token_entry *e = NULL;
	const char *id = NULL;
	int r = other_token(req, resp, &e, &id);
	if (r == TROVE_ERR_PERMISSION)
		return response_error(resp, TROVE_ERR_INVALID, "token not found");
	if (r != 0)
		return r;
	r = renew_entry(req, resp, e, id);
	token_entry_free(e);
	return r;
}

static int renew_accessor(struct request *req, struct response *resp)
{
	struct token_entry *e = NULL;
	int r = by_accessor(req, resp, &e);
	if (r != 0)
		return r;
	r = renew_entry(req, resp, e, "");
	token_entry_free(e);
	return r;
}

/* --- revoke -------------------------------------------------------------- */

static int revoke_entry(struct request *req, struct response *resp, const struct token_entry *e, bool orphan)
{
	if (e->type == TOKEN_TYPE_BATCH)
		return response_error(resp, TROVE_ERR_INVALID, "batch tokens cannot be revoked");
	return token_revoke(store(req), e->id_hash, orphan);
}

static int revoke_self(struct request *req, struct response *resp)
{
	if (!req->token)
		return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
	return revoke_entry(req, resp, req->token, false);
}

static int revoke_named(struct request *req, struct response *resp, bool orphan)
{
	struct token_entry *e = NULL;
	int r = other_token(req, resp, &e, NULL);
	if (r == TROVE_ERR_PERMISSION)
		return 0; /* unknown or already invalid: nothing to revoke */
	if (r != 0)
		return r;
	r = revoke_entry(req, resp, e, orphan);
	token_entry_free(e);
	return r;
}

static int revoke_other(struct request *req, struct response *resp)
{
	return revoke_named(req, resp, false);
}

static int revoke_orphan(struct request *req, struct response *resp)
{
	/* Root-protected (ROUTE_SUDO); checked here too in case the route
	 * table is used without the router's sudo check. */
	if (!req->sudo && !token_has_policy(req->token, "root"))
		return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
	return revoke_named(req, resp, true);
}

static int revoke_accessor(struct request *req, struct response *resp)
{
	struct token_entry *e = NULL;
	int r = by_accessor(req, resp, &e);
	if (r != 0)
		return r;
	r = revoke_entry(req, resp, e, false);
	token_entry_free(e);
	return r;
}

/* --- accessors, tidy -------------------------------------------------------- */

static int accessors_list(struct request *req, struct response *resp)
{
	struct strlist keys;
	int r;
	strlist_init(&keys);
	if ((r = token_list_accessors(store(req), &keys)) != 0)
		goto out;
	r = TROVE_ERR_NOT_FOUND;
	if (keys.len == 0)
		goto out;
	strlist_sort(&keys);
	response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&keys)));
	r = 0;
out:
	strlist_release(&keys);
	return r;
}

static int tidy_write(struct request *req, struct response *resp)
{
	struct token_tidy_stats st;
	int r = token_tidy(store(req), &st);
	if (r != 0)
		return r;
	/* Run to completion before answering; the warning keeps Vault's
	 * wording for clients that look for it. */
	response_warning(resp,
	                 "Tidy operation successfully started. Any information from the operation will be "
	                 "printed to Trove's server logs.");
	response_warning(resp, "tidy: revoked %zu tokens, removed %zu accessor and %zu tree index entries",
	                 st.revoked, st.accessors_removed, st.parents_removed);
	return 0;
}

/* --- sys/capabilities-accessor ------------------------------------------------ */

static int capabilities_accessor(struct request *req, struct response *resp)
{
	struct token_entry *e = NULL;
	struct acl *acl = NULL;
	struct strlist paths;
	json_t *d = NULL;
	int r;

	strlist_init(&paths);
	field_list(req, "paths", &paths);
	const char *one = field_string(req, "path");
	if (one[0])
		strlist_push(&paths, one);
	if (paths.len == 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing paths");
		goto out;
	}
	if ((r = by_accessor(req, resp, &e)) != 0)
		goto out;
	if ((r = policy_store_acl(core_policies(req->core), &e->policies, &acl)) != 0)
		goto out;
	d = json_object();
	json_t *all = NULL;
	for (size_t i = 0; i < paths.len; i++) {
		const char *p = paths.items[i];
		while (*p == '/')
			p++;
		json_t *caps = acl_caps_json(acl, acl_capabilities(acl, p));
		if (!all)
			all = json_incref(caps);
		json_object_set_new(d, paths.items[i], caps);
	}
	/* The legacy single-path key: the capabilities of the first path. */
	json_object_set_new(d, "capabilities", all ? all : json_array());
	response_set_data(resp, d);
	resp->inject_data = true;
	r = 0;
out:
	if (acl)
		acl_release(acl);
	token_entry_free(e);
	strlist_release(&paths);
	return r;
}

/* --- route tables ---------------------------------------------------------------- */

static const struct field create_fields[] = {
    {.name = "id", .type = FIELD_STRING, .description = "the token's id (root or sudo only)"},
    {.name = "role_name", .type = FIELD_STRING, .description = "create against this token role"},
    {.name = "policies", .type = FIELD_POLICIES, .description = "policies of the token"},
    {.name = "meta", .type = FIELD_STRMAP, .description = "string metadata, passed to audit devices"},
    {.name = "no_parent",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "create an orphan (root or sudo only)"},
    {.name = "no_default_policy",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "do not attach the default policy"},
    {.name = "renewable",
     .type = FIELD_BOOL,
     .description = "whether the token may be renewed (default true)"},
    {.name = "ttl", .type = FIELD_DURATION, .description = "time to live"},
    {.name = "lease", .type = FIELD_DURATION, .description = "deprecated: use ttl"},
    {.name = "explicit_max_ttl", .type = FIELD_DURATION, .description = "hard cap on the token's lifetime"},
    {.name = "display_name", .type = FIELD_STRING, .description = "display name (prefixed with token-)"},
    {.name = "num_uses", .type = FIELD_INT, .def = "0", .description = "number of uses; 0 is unlimited"},
    {.name = "period",
     .type = FIELD_DURATION,
     .description = "make the token periodic (root or sudo, or a role)"},
    {.name = "type", .type = FIELD_STRING, .description = "service or batch"},
    {.name = "entity_alias", .type = FIELD_STRING, .description = "entity alias (unsupported)"},
    {0},
};

static const struct field token_fields[] = {
    {.name = "token", .type = FIELD_STRING, .description = "the token", .sensitive = true},
    {.name = "increment", .type = FIELD_DURATION, .description = "requested TTL extension"},
    {0},
};

static const struct field self_fields[] = {
    {.name = "increment", .type = FIELD_DURATION, .description = "requested TTL extension"},
    {0},
};

static const struct field accessor_fields[] = {
    {.name = "accessor", .type = FIELD_STRING, .description = "the token's accessor"},
    {.name = "increment", .type = FIELD_DURATION, .description = "requested TTL extension"},
    {0},
};

static const struct field role_fields[] = {
    {.name = "allowed_policies",
     .type = FIELD_POLICIES,
     .description = "policies tokens of this role may have"},
    {.name = "disallowed_policies",
     .type = FIELD_POLICIES,
     .description = "policies tokens of this role may not have"},
    {.name = "allowed_policies_glob", .type = FIELD_POLICIES, .description = "globs of allowed policies"},
    {.name = "disallowed_policies_glob",
     .type = FIELD_POLICIES,
     .description = "globs of disallowed policies"},
    {.name = "orphan", .type = FIELD_BOOL, .description = "tokens of this role are orphans"},
    {.name = "renewable", .type = FIELD_BOOL, .description = "tokens of this role may be renewed"},
    {.name = "path_suffix", .type = FIELD_STRING, .description = "suffix of the tokens' creation path"},
    {.name = "allowed_entity_aliases",
     .type = FIELD_STRLIST,
     .description = "entity aliases allowed (stored, not yet used)"},
    {.name = "token_type",
     .type = FIELD_STRING,
     .description = "service, batch, default-service or default-batch"},
    {.name = "token_period", .type = FIELD_DURATION, .description = "period of the tokens"},
    {.name = "period", .type = FIELD_DURATION, .description = "deprecated: token_period"},
    {.name = "token_explicit_max_ttl",
     .type = FIELD_DURATION,
     .description = "explicit max TTL of the tokens"},
    {.name = "explicit_max_ttl", .type = FIELD_DURATION, .description = "deprecated: token_explicit_max_ttl"},
    {.name = "token_bound_cidrs",
     .type = FIELD_STRLIST,
     .description = "CIDR blocks the tokens may be used from"},
    {.name = "bound_cidrs", .type = FIELD_STRLIST, .description = "deprecated: token_bound_cidrs"},
    {.name = "token_no_default_policy",
     .type = FIELD_BOOL,
     .description = "do not attach the default policy"},
    {.name = "token_num_uses", .type = FIELD_INT, .description = "maximum uses of the tokens"},
    {.name = "num_uses", .type = FIELD_INT, .description = "deprecated: token_num_uses"},
    {.name = "token_ttl", .type = FIELD_DURATION, .description = "default TTL of the tokens"},
    {.name = "ttl", .type = FIELD_DURATION, .description = "deprecated: token_ttl"},
    {.name = "token_max_ttl", .type = FIELD_DURATION, .description = "max TTL of the tokens"},
    {.name = "max_ttl", .type = FIELD_DURATION, .description = "deprecated: token_max_ttl"},
    {0},
};

static const struct field capabilities_fields[] = {
    {.name = "accessor", .type = FIELD_STRING, .description = "the token's accessor"},
    {.name = "path", .type = FIELD_STRING, .description = "deprecated: one path"},
    {.name = "paths", .type = FIELD_STRLIST, .description = "paths to check"},
    {0},
};

static const struct route token_routes[] = {
    {.pattern = "create",
     .ops = {[OP_UPDATE] = create_write},
     .fields = create_fields,
     .synopsis = "create a child token"},
    {.pattern = "create-orphan",
     .ops = {[OP_UPDATE] = create_orphan_write},
     .fields = create_fields,
     .synopsis = "create an orphan token"},
    {.pattern = "create/:role_name",
     .ops = {[OP_UPDATE] = create_role_write},
     .fields = create_fields,
     .flags = ROUTE_NAMES_CI,
     .synopsis = "create a token against a role"},
    {.pattern = "lookup",
     .ops = {[OP_READ] = lookup_other, [OP_UPDATE] = lookup_other},
     .fields = token_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "look a token up"},
    {.pattern = "lookup/#token",
     .ops = {[OP_READ] = lookup_other},
     .fields = token_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "deprecated: look a token up"},
    {.pattern = "lookup-self",
     .ops = {[OP_READ] = lookup_self, [OP_UPDATE] = lookup_self},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "look the calling token up"},
    {.pattern = "lookup-accessor",
     .ops = {[OP_UPDATE] = lookup_accessor},
     .fields = accessor_fields,
     .synopsis = "look a token up by accessor"},
    {.pattern = "renew",
     .ops = {[OP_UPDATE] = renew_other},
     .fields = token_fields,
     .synopsis = "renew a token"},
    {.pattern = "renew-self",
     .ops = {[OP_UPDATE] = renew_self},
     .fields = self_fields,
     .synopsis = "renew the calling token"},
    {.pattern = "renew-accessor",
     .ops = {[OP_UPDATE] = renew_accessor},
     .fields = accessor_fields,
     .synopsis = "renew a token by accessor"},
    {.pattern = "revoke",
     .ops = {[OP_UPDATE] = revoke_other},
     .fields = token_fields,
     .synopsis = "revoke a token and its children"},
    {.pattern = "revoke-self",
     .ops = {[OP_UPDATE] = revoke_self},
     .synopsis = "revoke the calling token and its children"},
    {.pattern = "revoke-accessor",
     .ops = {[OP_UPDATE] = revoke_accessor},
     .fields = accessor_fields,
     .synopsis = "revoke a token by accessor"},
    {.pattern = "revoke-orphan",
     .ops = {[OP_UPDATE] = revoke_orphan},
     .fields = token_fields,
     .flags = ROUTE_SUDO,
     .synopsis = "revoke a token, orphaning its children"},
    /* Vault's deprecated forms with the token or accessor in the URL:
     * "#" masks it in the audit entries and the server log. */
    {.pattern = "lookup-accessor/#accessor",
     .ops = {[OP_UPDATE] = lookup_accessor},
     .fields = accessor_fields,
     .synopsis = "deprecated: look a token up by accessor"},
    {.pattern = "renew/#token",
     .ops = {[OP_UPDATE] = renew_other},
     .fields = token_fields,
     .synopsis = "deprecated: renew a token"},
    {.pattern = "revoke/#token",
     .ops = {[OP_UPDATE] = revoke_other},
     .fields = token_fields,
     .synopsis = "deprecated: revoke a token and its children"},
    {.pattern = "revoke-accessor/#accessor",
     .ops = {[OP_UPDATE] = revoke_accessor},
     .fields = accessor_fields,
     .synopsis = "deprecated: revoke a token by accessor"},
    {.pattern = "revoke-orphan/#token",
     .ops = {[OP_UPDATE] = revoke_orphan},
     .fields = token_fields,
     .flags = ROUTE_SUDO,
     .synopsis = "deprecated: revoke a token, orphaning its children"},
    {.pattern = "roles",
     .ops = {[OP_LIST] = roles_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list token roles"},
    {.pattern = "roles/:role_name",
     .ops = {[OP_READ] = role_read,
             [OP_CREATE] = role_write,
             [OP_UPDATE] = role_write,
             [OP_DELETE] = role_delete},
     .exists = role_exists,
     .fields = role_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "a token role"},
    {.pattern = "accessors",
     .ops = {[OP_LIST] = accessors_list},
     .flags = ROUTE_SUDO | ROUTE_LOOP_READS,
     .synopsis = "list token accessors"},
    {.pattern = "tidy",
     .ops = {[OP_UPDATE] = tidy_write},

     .synopsis = "clean up expired tokens and dangling index entries"},
    {.pattern = NULL},
};

const struct route token_sys_routes[] = {
    {.pattern = "capabilities-accessor",
     .ops = {[OP_UPDATE] = capabilities_accessor},
     .fields = capabilities_fields,
     .synopsis = "capabilities of a token, by accessor"},
    {.pattern = NULL},
};

static const struct route *const token_tables[] = {token_routes, NULL};

const struct engine token_engine = {
    .type = "token",
    .tables = token_tables,
    .flags = ENGINE_AUTH | ENGINE_BUILTIN,
};
