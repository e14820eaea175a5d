/* acl.c — the access decision for one request against a compiled ACL
 * (acl_build.c parses policies and compiles them; the deciding rule for a
 * path comes from acl_lookup_perm there).
 *
 * Parameter values are compared as Vault does (strings with a leading or
 * trailing '*' glob, numbers and booleans by value), but against the
 * request as the router coerced it, each policy value first put in the
 * same form by the caller's acl_canon_fn (decision 0007). One deliberate
 * difference: a request value that is a JSON array is checked element by
 * element (denied if any element is denied, allowed only if every element
 * is allowed) instead of being compared as a whole, so a list cannot carry
 * a denied value past the check. */
#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl_impl.h"

#include "err.h"
#include "strlist_json.h"

#include "banned.h"

/* --- deciding --- */

void acl_result_init(struct acl_result *r)
{
	memset(r, 0, sizeof(*r));
	strlist_init(&r->granting);
}

void acl_result_release(struct acl_result *r)
{
	strlist_release(&r->granting);
	acl_result_init(r);
}

static unsigned op_cap(enum op op)
{
	switch (op) {
	case OP_READ:
	case OP_HEAD:
		return ACL_CAP_READ;
	case OP_CREATE:
		return ACL_CAP_CREATE;
	case OP_UPDATE:
		return ACL_CAP_UPDATE;
	case OP_PATCH:
		return ACL_CAP_PATCH;
	case OP_DELETE:
		return ACL_CAP_DELETE;
	case OP_LIST:
		return ACL_CAP_LIST;
	default:
		return 0;
	}
}

/* A policy value against a value the caller sent. */
static bool glob_match(const char *item, size_t ilen, const char *val, size_t vlen)
{
	if (ilen < 2)
		return ilen == vlen && memcmp(item, val, ilen) == 0;
	bool lead = item[0] == '*', trail = item[ilen - 1] == '*';
	if (lead && trail) {
		size_t n = ilen - 2;
		if (n == 0)
			return true;
		if (n > vlen)
			return false;
		for (size_t i = 0; i + n <= vlen; i++)
			if (memcmp(val + i, item + 1, n) == 0)
				return true;
		return false;
	}
	if (lead)
		return ilen - 1 <= vlen && memcmp(val + vlen - (ilen - 1), item + 1, ilen - 1) == 0;
	if (trail)
		return ilen - 1 <= vlen && memcmp(val, item, ilen - 1) == 0;
	return ilen == vlen && memcmp(item, val, ilen) == 0;
}

static bool scalar_eq(const json_t *el, const json_t *v)
{
	if (json_is_string(el) && json_is_string(v))
		return glob_match(json_string_value(el), json_string_length(el), json_string_value(v),
				  json_string_length(v));
	if (json_is_number(el) && json_is_number(v))
		return json_number_value(el) == json_number_value(v);
	if (json_is_boolean(el) && json_is_boolean(v))
		return json_is_true(el) == json_is_true(v);
	return false;
}

/* How the policy's values are put in the request's form (acl_check_ex). */
struct canon {
	acl_canon_fn fn;
	const void *ctx;
	const char *key; /* the request key being checked */
};

static bool scalar_in(const json_t *v, const json_t *list, const struct canon *cn)
{
	size_t i;
	json_t *el;
	json_array_foreach((json_t *)list, i, el) {
		json_t *c = cn->fn ? cn->fn(cn->key, el, cn->ctx) : NULL;
		bool eq = scalar_eq(c ? c : el, v);
		json_decref(c);
		if (eq)
			return true;
	}
	return false;
}

/* An empty list stands for every value. */
static bool denied_value(const json_t *v, const json_t *list, const struct canon *cn)
{
	if (json_array_size(list) == 0)
		return true;
	if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach((json_t *)v, i, e)
			if (scalar_in(e, list, cn))
				return true;
		return false;
	}
	return scalar_in(v, list, cn);
}

static bool allowed_value(const json_t *v, const json_t *list, const struct canon *cn)
{
	if (json_array_size(list) == 0)
		return true;
	if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach((json_t *)v, i, e)
			if (!scalar_in(e, list, cn))
				return false;
		return true;
	}
	return scalar_in(v, list, cn);
}

static bool data_has(const json_t *data, const char *lkey)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)data, k, v)
		if (strcasecmp(k, lkey) == 0)
			return true;
	return false;
}

static const json_t *param_get(const json_t *map, const char *key)
{
	char local[128], *lk = local;
	size_t n = strlen(key);
	if (n >= sizeof(local))
		lk = xmalloc(n + 1);
	for (size_t i = 0; i <= n; i++)
		lk[i] = (char)tolower((unsigned char)key[i]);
	const json_t *v = json_object_get(map, lk);
	if (lk != local)
		free(lk);
	return v;
}

static bool params_ok(const struct perm *p, const json_t *data, acl_canon_fn canon, const void *ctx)
{
	const char *k;
	json_t *v;
	for (size_t i = 0; i < p->required.len; i++)
		if (!data || !data_has(data, p->required.items[i]))
			return false;
	if (!data || json_object_size(data) == 0)
		return true;
	if (p->denied && json_object_size(p->denied) > 0) {
		if (json_object_get(p->denied, "*"))
			return false;
		json_object_foreach((json_t *)data, k, v) {
			const json_t *list = param_get(p->denied, k);
			struct canon cn = { canon, ctx, k };
			if (list && denied_value(v, list, &cn))
				return false;
		}
	}
	if (!p->allowed || json_object_size(p->allowed) == 0)
		return true;
	bool any = json_object_get(p->allowed, "*") != NULL;
	if (any && json_object_size(p->allowed) == 1)
		return true;
	json_object_foreach((json_t *)data, k, v) {
		const json_t *list = param_get(p->allowed, k);
		struct canon cn = { canon, ctx, k };
		if (!list) {
			if (!any)
				return false;
		} else if (!allowed_value(v, list, &cn)) {
			return false;
		}
	}
	return true;
}

void acl_check(const struct acl *a, const char *path, enum op op, const json_t *data, struct acl_result *out)
{
	acl_check_ex(a, path, op, data, NULL, NULL, out);
}

void acl_check_ex(const struct acl *a, const char *path, enum op op, const json_t *data, acl_canon_fn canon,
		  const void *ctx, struct acl_result *out)
{
	acl_result_release(out);
	if (!a)
		return;
	if (a->root) {
		out->allowed = true;
		out->sudo = true;
		out->caps = CAPS_ALL;
		strlist_push(&out->granting, "root");
		return;
	}
	const struct perm *p = acl_lookup_perm(a, path, op == OP_LIST);
	if (!p)
		return;
	out->caps = p->caps;
	if (p->caps & ACL_CAP_DENY)
		return;
	out->sudo = (p->caps & ACL_CAP_SUDO) != 0;
	out->min_wrapping_ttl = p->min_wrap;
	out->max_wrapping_ttl = p->max_wrap;
	unsigned need = op_cap(op);
	if (!need || !(p->caps & need))
		return;
	for (size_t i = 0; i < p->ncontribs; i++)
		if (p->contribs[i].caps & need)
			strlist_push(&out->granting, p->contribs[i].policy);
	strlist_sort_unique(&out->granting);
	if ((op == OP_CREATE || op == OP_UPDATE || op == OP_PATCH) && !params_ok(p, data, canon, ctx))
		return;
	out->allowed = true;
}

unsigned acl_capabilities(const struct acl *a, const char *path)
{
	if (!a)
		return ACL_CAP_DENY;
	if (a->root)
		return CAPS_ALL;
	const struct perm *p = acl_lookup_perm(a, path, false);
	if (!p || (p->caps & ACL_CAP_DENY) || (p->caps & CAPS_ALL) == 0)
		return ACL_CAP_DENY;
	return p->caps & CAPS_ALL;
}

/* Sorted by name, as Vault reports them. */
static const struct {
	const char *name;
	unsigned bit;
} caps_sorted[] = {
	{ "create", ACL_CAP_CREATE }, { "delete", ACL_CAP_DELETE }, { "list", ACL_CAP_LIST },
	{ "patch", ACL_CAP_PATCH },   { "read", ACL_CAP_READ },     { "sudo", ACL_CAP_SUDO },
	{ "update", ACL_CAP_UPDATE },
};

static json_t *caps_array(unsigned caps)
{
	json_t *arr = json_array();
	if ((caps & ACL_CAP_DENY) || (caps & CAPS_ALL) == 0) {
		json_array_append_new(arr, json_string("deny"));
		return arr;
	}
	for (size_t i = 0; i < sizeof(caps_sorted) / sizeof(caps_sorted[0]); i++)
		if (caps & caps_sorted[i].bit)
			json_array_append_new(arr, json_string(caps_sorted[i].name));
	return arr;
}

json_t *acl_caps_json(const struct acl *a, unsigned caps)
{
	if (a && a->root)
		return json_pack("[s]", "root");
	return caps_array(caps);
}

static json_t *perm_json(const struct perm *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "capabilities", caps_array(p->caps));
	if (p->required.len) {
		json_object_set_new(o, "required_parameters", strlist_json(&p->required));
	}
	if (p->allowed && json_object_size(p->allowed))
		json_object_set_new(o, "allowed_parameters", json_deep_copy(p->allowed));
	if (p->denied && json_object_size(p->denied))
		json_object_set_new(o, "denied_parameters", json_deep_copy(p->denied));
	if (p->min_wrap)
		json_object_set_new(o, "min_wrapping_ttl", json_integer(p->min_wrap));
	if (p->max_wrap)
		json_object_set_new(o, "max_wrapping_ttl", json_integer(p->max_wrap));
	return o;
}

json_t *acl_resultant_json(const struct acl *a)
{
	json_t *exact = json_object(), *glob = json_object();
	if (a && !a->root) {
		for (size_t i = 0; i < a->nperms; i++) {
			const struct perm *p = a->perms[i];
			char *key = xstrndup(p->pattern, p->wc_len);
			json_object_set_new(p->is_prefix ? glob : exact, key, perm_json(p));
			free(key);
		}
	}
	return json_pack("{s:o, s:o, s:b}", "exact_paths", exact, "glob_paths", glob, "root", a && a->root);
}
