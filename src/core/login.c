/* login.c — issuing the token of a successful login, the same way for
 * every auth method, and the one auth block every token answer carries.
 *
 * Design notes.
 *
 * The method has already decided who logged in and with which settings
 * (a login_grant); this file only turns the settings into a token entry:
 *
 *   type      "default" follows the mount's tune (config.token_type, which
 *             may itself be "default"), else default-service; default-X
 *             means X. A role's explicit type wins over a default-X tune;
 *             a tune of "service" or "batch" wins over the role, as Vault
 *             documents it ("override any auth method preference").
 *   policies  normalised as the policy store names them, "default" added
 *             unless token_no_default_policy; "root" is refused (Vault:
 *             "auth methods cannot create root tokens"), as is a name the
 *             store could never hold.
 *   TTL       Vault's CalculateTTL: the effective max is the smallest of
 *             the mount's max, token_max_ttl and token_explicit_max_ttl
 *             (the role cannot raise the mount's max). A periodic token
 *             gets its period, else token_ttl, else the mount's default;
 *             over the max it is cut to the max with Vault's warning
 *             ("period of ..." or "TTL of ..."). A capped period is stored
 *             capped, so renewals (which reset a periodic token's TTL to
 *             its period) stay within the max too.
 *   batch     cannot be periodic or have limited uses: 400, as the token
 *             store's create endpoints say it. This can only happen when the
 *             mount's tune makes the token batch (token_params_parse already
 *             refuses it for explicit batch types).
 *
 * A login token is always an orphan (there is no parent token), carries
 * the method's display name (or the mount's path, "userpass", when the
 * method gives none), its metadata and role, and records the login path
 * (auth/userpass/login/ann) as its creation path. Policies that do not
 * exist get Vault's warning, as the token store's create does.
 *
 * token_auth_json is the single shape of an "auth" block: the keys listed
 * in login.h, always all of them (identity_policies null when the entity
 * has none). The token store's create and renew endpoints use it too. */
#include <stdlib.h>
#include <string.h>

#include "login.h"

#include "core.h"
#include "duration.h"
#include "err.h"
#include "identity.h"
#include "mount.h"
#include "policy_store.h"
#include "request.h"
#include "secure.h"
#include "token.h"
#include "strlist_json.h"

#include "banned.h"

json_t *token_auth_json(const struct token_entry *e, const char *client_token, int64_t lease_duration)
{
	json_t *a = json_object();
	bool batch = e->type == TOKEN_TYPE_BATCH;
	json_object_set_new(a, "client_token", json_string(client_token ? client_token : ""));
	json_object_set_new(a, "accessor", json_string(batch ? "" : e->accessor));
	struct strlist all;
	strlist_init(&all);
	for (size_t i = 0; i < e->policies.len; i++)
		strlist_push(&all, e->policies.items[i]);
	for (size_t i = 0; i < e->identity_policies.len; i++)
		strlist_push(&all, e->identity_policies.items[i]);
	strlist_sort_unique(&all);
	json_object_set_new(a, "policies", strlist_json(&all));
	strlist_release(&all);
	json_object_set_new(a, "token_policies", strlist_json(&e->policies));
	json_object_set_new(a, "identity_policies",
	                    e->identity_policies.len ? strlist_json(&e->identity_policies) : json_null());
	json_object_set_new(a, "metadata", json_is_object(e->meta) ? json_deep_copy(e->meta) : json_null());
	json_object_set_new(a, "lease_duration", json_integer((json_int_t)lease_duration));
	json_object_set_new(a, "renewable", json_boolean(e->renewable && e->expire_time != 0));
	json_object_set_new(a, "entity_id", json_string(e->entity_id ? e->entity_id : ""));
	json_object_set_new(a, "token_type", json_string(batch ? "batch" : "service"));
	json_object_set_new(a, "orphan", json_boolean(e->orphan));
	json_object_set_new(a, "mfa_requirement", json_null());
	json_object_set_new(a, "num_uses", json_integer((json_int_t)(e->num_uses > 0 ? e->num_uses : 0)));
	return a;
}

/* --- login_issue --------------------------------------------------------- */

bool login_issues_batch(const struct token_params *p, const struct mount *m)
{
	const char *type = p ? p->type : NULL;
	const char *tune = m->config.token_type && m->config.token_type[0] ? m->config.token_type : "default";
	const char *t = type && type[0] ? type : "default";
	if (strcmp(tune, "service") == 0 || strcmp(tune, "batch") == 0)
		t = tune; /* the mount overrides the role */
	else if (strcmp(t, "default") == 0)
		t = tune;
	return strcmp(t, "batch") == 0 || strcmp(t, "default-batch") == 0;
}

/* Adds one policy name, normalised; blank names are skipped. */
static int add_policy(struct response *resp, struct strlist *out, const char *name)
{
	const char *s = name;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (!*s)
		return 0;
	char *n = policy_name_normalize(name);
	if (!n)
		return response_error(resp, TROVE_ERR_INVALID, "invalid policy name \"%s\"", name);
	strlist_push_owned(out, n);
	return 0;
}

static int choose_policies(struct response *resp, const struct login_grant *g, const struct token_params *p,
                           struct strlist *out)
{
	int r;
	for (size_t i = 0; i < p->policies.len; i++)
		if ((r = add_policy(resp, out, p->policies.items[i])) != 0)
			return r;
	for (size_t i = 0; g->extra_policies && i < g->extra_policies->len; i++)
		if ((r = add_policy(resp, out, g->extra_policies->items[i])) != 0)
			return r;
	if (!p->no_default_policy)
		strlist_push(out, "default");
	strlist_sort_unique(out);
	if (strlist_contains(out, "root"))
		return response_error(resp, TROVE_ERR_INVALID, "auth methods cannot create root tokens");
	return 0;
}

/* The effective max (0 = none), as CalculateTTL: the mount's, lowered by
 * the role's max and its explicit max. */
static int64_t effective_max(int64_t mount_max, const struct token_params *p)
{
	int64_t max = mount_max;
	if (p->max_ttl > 0 && (max == 0 || p->max_ttl < max))
		max = p->max_ttl;
	if (p->explicit_max_ttl > 0 && (max == 0 || p->explicit_max_ttl < max))
		max = p->explicit_max_ttl;
	return max;
}

static void choose_ttl(struct request *req, struct response *resp, const struct token_params *p,
                       struct token_entry *e)
{
	int64_t max = effective_max(mount_max_ttl(req->core, req->mount), p);
	bool periodic = p->period > 0;
	int64_t ttl = periodic ? p->period : p->ttl > 0 ? p->ttl : mount_default_ttl(req->core, req->mount);

	if (max > 0 && ttl > max) {
		char a[32], b[32];
		duration_format(ttl, a, sizeof(a));
		duration_format(max, b, sizeof(b));
		response_warning(
		    resp, "%s of %s exceeded the effective max_ttl of %s; %s value is capped accordingly",
		    periodic ? "period" : "TTL", a, b, periodic ? "period" : "TTL");
		ttl = max;
	}
	e->ttl = ttl;
	e->period = periodic ? ttl : 0;
	e->explicit_max_ttl = p->explicit_max_ttl;
	e->max_ttl = periodic ? 0 : max; /* renewals stay under the role's max */
}

/* A copy of the grant's metadata (NULL when none or empty); values must
 * be strings. */
static int copy_meta(struct response *resp, const json_t *m, json_t **out)
{
	const char *k;
	json_t *v;
	*out = NULL;
	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return response_error(resp, TROVE_ERR_INVALID, "metadata: must be a map of strings");
	json_object_foreach((json_t *)m, k, v)
	{
		if (!json_is_string(v))
			return response_error(resp, TROVE_ERR_INVALID,
			                      "metadata: value of %s must be a string", k);
	}
	if (json_object_size(m) > 0)
		*out = json_deep_copy(m);
	return 0;
}

/* The mount's path as a display name: "auth/my-up/" -> "my-up". */
static char *mount_display_name(const struct mount *m)
{
	const char *s = m->path ? m->path : "";
	if (strncmp(s, "auth/", 5) == 0)
		s += 5;
	char *d = xstrdup(s);
	size_t n = strlen(d);
	for (size_t i = 0; i < n; i++)
		if (d[i] == '/')
			d[i] = '-';
	while (n > 0 && d[n - 1] == '-')
		d[--n] = '\0';
	return d;
}

int login_issue(struct request *req, struct response *resp, const struct login_grant *grant)
{
	struct token_params none;
	const struct token_params *p = grant->params;
	struct token_entry *e = NULL;
	char *tok = NULL, *dn = NULL;
	bool batch;
	int r;

	token_params_init(&none);
	if (!p)
		p = &none;
	if (!req->mount || !req->core)
		return response_error(resp, TROVE_ERR_INTERNAL, "login outside an auth mount");
	batch = login_issues_batch(p, req->mount);
	if (req->no_block && !batch)
		return TROVE_ERR_WOULD_BLOCK; /* a service token is a durable write */
	if (batch && p->period > 0)
		return response_error(resp, TROVE_ERR_INVALID, "batch tokens cannot be periodic");
	if (batch && p->num_uses > 0)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "batch tokens cannot have a limited number of uses");

	e = token_entry_new();
	e->type = batch ? TOKEN_TYPE_BATCH : TOKEN_TYPE_SERVICE;
	if ((r = choose_policies(resp, grant, p, &e->policies)) != 0)
		goto out;
	if ((r = copy_meta(resp, grant->metadata, &e->meta)) != 0)
		goto out;
	choose_ttl(req, resp, p, e);
	e->num_uses = p->num_uses;
	e->renewable = !batch && e->ttl > 0;
	for (size_t i = 0; i < p->bound_cidrs.len; i++)
		strlist_push(&e->bound_cidrs, p->bound_cidrs.items[i]);
	if (grant->display_name && grant->display_name[0])
		token_entry_set(&e->display_name, grant->display_name);
	else
		token_entry_set(&e->display_name, dn = mount_display_name(req->mount));
	token_entry_set(&e->role, grant->role);
	{
		struct buf path;
		buf_init(&path, BUF_CAP_DEFAULT);
		buf_printf(&path, "%s%s", req->mount->path ? req->mount->path : "", req->rel ? req->rel : "");
		token_entry_set(&e->path, path.data);
		buf_release(&path);
	}
	/* parent_hash stays "": a login token is an orphan. */
	if (grant->alias_name && grant->alias_name[0]) {
		struct mount *holder = NULL;
		struct identity_store *ids = identity_of_core(req->core, &holder);
		char eid[37];
		struct buf err;
		buf_init(&err, BUF_CAP_DEFAULT);
		r = ids ? identity_login_entity(ids, req->mount->accessor, grant->alias_name, grant->alias_metadata,
		                                !req->no_block, eid, &err)
		        : 0;
		if (r == 0 && ids && grant->group_aliases)
			r = identity_login_groups(ids, req->mount->accessor, eid, grant->group_aliases, !req->no_block);
		if (r == 0 && ids)
			r = identity_policies(ids, eid, &e->identity_policies);
		if (r == TROVE_ERR_PERMISSION && !err.len)
			buf_printf(&err, "entity is disabled");
		mount_release(holder);
		if (r == 0 && ids)
			token_entry_set(&e->entity_id, eid);
		else if (r != 0 && r != TROVE_ERR_WOULD_BLOCK)
			r = response_error(resp, r, "%s", err.len ? err.data : "identity store failure");
		buf_release(&err);
		if (r != 0)
			goto out;
	}

	if ((r = token_create(core_tokens(req->core), e, NULL, &tok)) != 0)
		goto out;
	for (size_t i = 0; i < e->policies.len; i++) {
		const char *name = e->policies.items[i];
		if (strcmp(name, "default") != 0 && !policy_store_exists(core_policies(req->core), name))
			response_warning(resp, "Policy \"%s\" does not exist", name);
	}
	json_decref(resp->auth);
	resp->auth = token_auth_json(e, tok, e->ttl);
	r = 0;
out:
	secure_free_str(tok);
	token_entry_free(e);
	free(dn);
	return r;
}

char *login_display_name(const char *mount_path, const char *name)
{
	const char *p = strncmp(mount_path, "auth/", 5) == 0 ? mount_path + 5 : mount_path;
	size_t n = strlen(p);
	struct buf b;

	while (n > 0 && p[n - 1] == '/')
		n--;
	buf_init(&b, BUF_CAP_DEFAULT);
	for (size_t i = 0; i < n; i++)
		buf_append_byte(&b, p[i] == '/' ? '-' : p[i]);
	buf_printf(&b, "-%s", name);
	return buf_take(&b);
}
