/* kubernetes_role.c — auth/kubernetes/role/:name: which service accounts
 * a role admits and the token settings it grants.
 *
 * A role binds service account names and namespaces (lists of Vault's
 * globs, or the single "*"), and/or a label selector over namespaces; a
 * login must match a name and a namespace (by glob, or by the selector:
 * the two namespace conditions are ORed). A write applies the fields
 * present onto the stored role (create: onto Vault's defaults), then
 * checks the whole role with Vault's rules and messages. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approle.h"
#include "kubernetes.h"

#include "core/mount.h"
#include "duration.h"
#include "err.h"
#include "strlist_json.h"

#include "banned.h"

void k8s_role_init(struct k8s_role *r)
{
	memset(r, 0, sizeof(*r));
	strlist_init(&r->sa_names);
	strlist_init(&r->sa_namespaces);
	token_params_init(&r->tp);
	snprintf(r->alias_source, sizeof(r->alias_source), "%s", K8S_ALIAS_UID);
}

void k8s_role_release(struct k8s_role *r)
{
	strlist_release(&r->sa_names);
	strlist_release(&r->sa_namespaces);
	free(r->ns_selector);
	free(r->audience);
	token_params_release(&r->tp);
	memset(r, 0, sizeof(*r));
}

static void role_key(const char *name, char *out, size_t n)
{
	snprintf(out, n, K8S_ROLE_PREFIX "%s", name);
}

static json_t *role_to_store(const struct k8s_role *r)
{
	json_t *j =
	    json_pack("{s:o,s:o,s:s,s:s,s:s,s:o}", "bound_service_account_names", strlist_json(&r->sa_names),
	              "bound_service_account_namespaces", strlist_json(&r->sa_namespaces),
	              "bound_service_account_namespace_selector", r->ns_selector ? r->ns_selector : "",
	              "audience", r->audience ? r->audience : "", "alias_name_source", r->alias_source,
	              "token", token_params_store(&r->tp));
	return j;
}

int k8s_role_load(struct storage *s, const char *name, struct k8s_role *out)
{
	char key[K8S_NAME_MAX + 16];
	json_t *j = NULL;
	int r;

	k8s_role_release(out);
	k8s_role_init(out);
	role_key(name, key, sizeof(key));
	if ((r = approle_get_json(s, key, &j)) != 0)
		return r;
	snprintf(out->name, sizeof(out->name), "%s", name);
	const char *src = json_string_value(json_object_get(j, "alias_name_source"));
	if (!strlist_push_json(&out->sa_names, json_object_get(j, "bound_service_account_names")) ||
	    !strlist_push_json(&out->sa_namespaces, json_object_get(j, "bound_service_account_namespaces")) ||
	    !src || strlen(src) >= sizeof(out->alias_source) ||
	    token_params_load(json_object_get(j, "token"), &out->tp) != 0) {
		r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	snprintf(out->alias_source, sizeof(out->alias_source), "%s", src);
	out->ns_selector = k8s_dup_nonempty(json_object_get(j, "bound_service_account_namespace_selector"));
	out->audience = k8s_dup_nonempty(json_object_get(j, "audience"));
out:
	json_decref(j);
	return r;
}

/* --- the mount's role lock ------------------------------------------------------ */

/* Role writes and deletes of a mount are serialised, as Vault's are: a
 * write reads the role, applies the fields present and stores it, so two
 * concurrent partial updates must not lose one, nor a delete be undone by
 * a write that read the role before it. */
struct k8s_mount_state {
	pthread_mutex_t roles;
};

int k8s_mount_init(struct mount *m, struct buf *err)
{
	(void)err;
	struct k8s_mount_state *st = xcalloc(1, sizeof(*st));
	pthread_mutex_init(&st->roles, NULL);
	m->engine_state = st;
	return 0;
}

void k8s_mount_cleanup(struct mount *m)
{
	struct k8s_mount_state *st = m->engine_state;
	if (st)
		pthread_mutex_destroy(&st->roles);
	free(st);
	m->engine_state = NULL;
}

/* The lock of req's mount, locked; NULL outside a mount (unit tests). */
static pthread_mutex_t *lock_roles(const struct request *req)
{
	struct k8s_mount_state *st = req->mount ? req->mount->engine_state : NULL;
	if (!st)
		return NULL;
	pthread_mutex_lock(&st->roles);
	return &st->roles;
}

static void unlock_roles(pthread_mutex_t *lk)
{
	if (lk)
		pthread_mutex_unlock(lk);
}

/* --- binding ------------------------------------------------------------------ */

bool k8s_glob_match(const char *item, const char *s)
{
	size_t n = strlen(item), sn = strlen(s);
	if (n < 2)
		return strcmp(item, s) == 0;
	bool pre = item[0] == '*', suf = item[n - 1] == '*';
	if (pre && suf) {
		char *mid = xstrndup(item + 1, n - 2);
		bool m = strstr(s, mid) != NULL;
		free(mid);
		return m;
	}
	if (pre)
		return sn >= n - 1 && memcmp(s + sn - (n - 1), item + 1, n - 1) == 0;
	if (suf)
		return sn >= n - 1 && memcmp(s, item, n - 1) == 0;
	return strcmp(item, s) == 0;
}

static bool any_glob(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->len; i++)
		if (k8s_glob_match(l->items[i], s))
			return true;
	return false;
}

bool k8s_role_name_bound(const struct k8s_role *r, const char *name)
{
	if (r->sa_names.len == 1 && strcmp(r->sa_names.items[0], "*") == 0)
		return true;
	return any_glob(&r->sa_names, name);
}

bool k8s_role_namespace_bound(const struct k8s_role *r, const char *ns)
{
	if (r->sa_namespaces.len > 0 && strcmp(r->sa_namespaces.items[0], "*") == 0)
		return true;
	return any_glob(&r->sa_namespaces, ns);
}

/* --- handlers ----------------------------------------------------------------- */

static json_t *role_to_api(const struct k8s_role *r)
{
	json_t *d = json_pack("{s:o,s:o,s:s,s:s}", "bound_service_account_names", strlist_json(&r->sa_names),
	                      "bound_service_account_namespaces", strlist_json(&r->sa_namespaces),
	                      "bound_service_account_namespace_selector",
	                      r->ns_selector ? r->ns_selector : "", "alias_name_source", r->alias_source);
	if (r->audience)
		json_object_set_new(d, "audience", json_string(r->audience));
	token_params_to_json(&r->tp, d);
	return d;
}

int k8s_role_exists(struct request *req, bool *out)
{
	struct response scratch;
	struct k8s_role role;
	char name[K8S_NAME_MAX + 1];

	*out = false;
	response_init(&scratch);
	k8s_role_init(&role);
	if (approle_role_name(req, &scratch, name) == 0)
		*out = k8s_role_load(req->storage, name, &role) == 0;
	k8s_role_release(&role);
	response_release(&scratch);
	return 0;
}

int k8s_role_read(struct request *req, struct response *resp)
{
	struct k8s_role role;
	char name[K8S_NAME_MAX + 1];
	int r;

	k8s_role_init(&role);
	/* A missing role is TROVE_ERR_NOT_FOUND: 404, as Vault's nil answer. */
	if ((r = approle_role_name(req, resp, name)) == 0 &&
	    (r = k8s_role_load(req->storage, name, &role)) == 0)
		response_set_data(resp, role_to_api(&role));
	k8s_role_release(&role);
	return r;
}

static bool has_star(const struct strlist *l)
{
	return l->len > 1 && strlist_contains(l, "*");
}

/* Applies the fields present onto role, then checks it (Vault's order). */
static int role_apply(struct request *req, struct response *resp, struct k8s_role *role)
{
	const char *why = NULL;
	int r;

	if ((r = token_params_parse(req, resp, &role->tp)) != 0)
		return r;
	int64_t max = req->mount && req->core ? mount_max_ttl(req->core, req->mount) : 0;
	if (max > 0 && role->tp.period > max) {
		char p[32], m[32];
		duration_format(role->tp.period, p, sizeof(p));
		duration_format(max, m, sizeof(m));
		return response_error(resp, TROVE_ERR_INVALID,
		                      "token period of \"%s\" is greater than the backend's maximum lease "
		                      "TTL of \"%s\"",
		                      p, m);
	}
	if (max > 0 && role->tp.max_ttl > max)
		response_warning(resp, "max_ttl is greater than the system or backend mount's maximum TTL "
		                       "value; issued tokens' max TTL value will be truncated");
	if (field_present(req, "bound_service_account_names")) {
		strlist_release(&role->sa_names);
		strlist_init(&role->sa_names);
		approle_field_list(req, "bound_service_account_names", &role->sa_names);
	}
	if (role->sa_names.len == 0)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "\"bound_service_account_names\" can not be empty");
	if (has_star(&role->sa_names))
		return response_error(resp, TROVE_ERR_INVALID, "can not mix \"*\" with values");
	if (field_present(req, "bound_service_account_namespaces")) {
		strlist_release(&role->sa_namespaces);
		strlist_init(&role->sa_namespaces);
		approle_field_list(req, "bound_service_account_namespaces", &role->sa_namespaces);
	}
	if (field_present(req, "bound_service_account_namespace_selector")) {
		const char *sel = field_string(req, "bound_service_account_namespace_selector");
		free(role->ns_selector);
		role->ns_selector = sel[0] ? xstrdup(sel) : NULL;
	}
	if (role->sa_namespaces.len == 0 && !role->ns_selector)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "\"bound_service_account_namespaces\" can not be empty if "
		                      "\"bound_service_account_namespace_selector\" is not set");
	if (role->ns_selector) {
		json_t *parsed = NULL;
		r = k8s_selector_parse(role->ns_selector, strlen(role->ns_selector), &parsed, &why);
		json_decref(parsed);
		if (r != 0)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "invalid \"bound_service_account_namespace_selector\" "
			                      "configured: %s",
			                      why);
	}
	if (has_star(&role->sa_namespaces))
		return response_error(resp, TROVE_ERR_INVALID, "can not mix \"*\" with values");
	if (field_present(req, "audience")) {
		const char *a = field_string(req, "audience");
		free(role->audience);
		role->audience = a[0] ? xstrdup(a) : NULL;
	}
	if (!role->audience)
		response_warning(resp,
		                 "Role %s does not have an audience configured. While audiences are not "
		                 "required, consider specifying one if your use case would benefit from "
		                 "additional JWT claim verification.",
		                 role->name);
	if (field_present(req, "alias_name_source")) {
		const char *s = field_string(req, "alias_name_source");
		if (strcmp(s, K8S_ALIAS_UID) != 0 && strcmp(s, K8S_ALIAS_NAME) != 0)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "alias_name_source: must be \"%s\" or \"%s\"", K8S_ALIAS_UID,
			                      K8S_ALIAS_NAME);
		snprintf(role->alias_source, sizeof(role->alias_source), "%s", s);
	}
	return 0;
}

int k8s_role_write(struct request *req, struct response *resp)
{
	struct k8s_role role;
	char name[K8S_NAME_MAX + 1], key[K8S_NAME_MAX + 16];
	json_t *j = NULL;
	pthread_mutex_t *lk = NULL;
	int r;

	k8s_role_init(&role);
	if ((r = approle_role_name(req, resp, name)) != 0)
		goto out;
	lk = lock_roles(req);
	r = k8s_role_load(req->storage, name, &role);
	if (r == TROVE_ERR_NOT_FOUND) {
		k8s_role_release(&role);
		k8s_role_init(&role);
		snprintf(role.name, sizeof(role.name), "%s", name);
	} else if (r != 0) {
		goto out;
	}
	if ((r = role_apply(req, resp, &role)) != 0)
		goto out;
	role_key(name, key, sizeof(key));
	if (!(j = role_to_store(&role))) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	r = approle_put_json(req->storage, key, j);
out:
	unlock_roles(lk);
	json_decref(j);
	k8s_role_release(&role);
	return r;
}

int k8s_role_delete(struct request *req, struct response *resp)
{
	char name[K8S_NAME_MAX + 1], key[K8S_NAME_MAX + 16];
	int r = approle_role_name(req, resp, name);
	if (r != 0)
		return r;
	role_key(name, key, sizeof(key));
	pthread_mutex_t *lk = lock_roles(req);
	r = storage_delete(req->storage, key);
	unlock_roles(lk);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

int k8s_role_list(struct request *req, struct response *resp)
{
	struct strlist keys;
	strlist_init(&keys);
	int r = storage_list(req->storage, K8S_ROLE_PREFIX, &keys);
	if (r == 0 && keys.len == 0)
		r = TROVE_ERR_NOT_FOUND;
	if (r == 0)
		response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&keys)));
	strlist_release(&keys);
	return r;
}
