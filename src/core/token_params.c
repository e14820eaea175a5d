/* token_params.c — the token_* settings of auth roles and users (Vault's
 * tokenutil): parsing a write, showing a read, and the storage form.
 *
 * Design notes.
 *
 * One parse for create and update. token_params_parse works on a deep copy
 * of p and swaps it in only when every field and the cross-field rules
 * passed, so a refused update leaves the role exactly as it was. A field
 * counts as given when it is in req->data and not null (the router drops
 * nulls); the token_ name wins, the legacy name is read only when the
 * token_ one is absent, and error messages name whichever the client sent.
 * Values are read whether or not the router coerced them (field_coerce is
 * applied again; it is idempotent), so engines that build requests by hand
 * get the same checks.
 *
 * Policies are normalised as the policy store names them (trimmed,
 * lowercased, policy_name_normalize), empties dropped, then sorted and made
 * unique; a name the store could never hold is refused. "root" is kept:
 * login_issue refuses it, as Vault does at login rather than at write.
 * CIDRs are checked with the token store's own parser (token_cidr_valid,
 * the one that later enforces them) and kept as written, trimmed.
 *
 * Legacy names on read: Vault shows policies, period, bound_cidrs, ttl,
 * max_ttl and num_uses only when they were set; we do not record which
 * name set a value, so each legacy key is shown when its value is set
 * (non-zero, non-empty), mirroring its token_ key.
 *
 * Storage form: {"token_ttl":..,...,"token_type":".."} with the nine token_
 * keys. Loading ignores unknown keys (an engine may keep the object inside
 * or merged into its own record), takes absent keys as their defaults, and
 * refuses a wrong type or a value parse would refuse (TROVE_ERR_INTEGRITY).
 * load overwrites p without releasing what p held: pass a fresh
 * (token_params_init) or released struct. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "token_params.h"

#include "err.h"
#include "policy_store.h"
#include "request.h"
#include "router.h"
#include "token.h"
#include "strlist_json.h"

#include "banned.h"

static const char *const token_types[] = {"service", "batch", "default-service", "default-batch", "default"};

void token_params_init(struct token_params *p)
{
	memset(p, 0, sizeof(*p));
	strlist_init(&p->policies);
	strlist_init(&p->bound_cidrs);
	snprintf(p->type, sizeof(p->type), "%s", "default");
}

void token_params_release(struct token_params *p)
{
	if (!p)
		return;
	strlist_release(&p->policies);
	strlist_release(&p->bound_cidrs);
	token_params_init(p);
}

static void list_copy(struct strlist *dst, const struct strlist *src)
{
	for (size_t i = 0; i < src->len; i++)
		strlist_push(dst, src->items[i]);
}

static void params_copy(struct token_params *dst, const struct token_params *src)
{
	*dst = *src;
	strlist_init(&dst->policies);
	strlist_init(&dst->bound_cidrs);
	list_copy(&dst->policies, &src->policies);
	list_copy(&dst->bound_cidrs, &src->bound_cidrs);
}

static bool valid_type(const char *t)
{
	for (size_t i = 0; i < sizeof(token_types) / sizeof(token_types[0]); i++)
		if (strcmp(t, token_types[i]) == 0)
			return true;
	return false;
}

static bool batch_type(const char *t)
{
	return strcmp(t, "batch") == 0 || strcmp(t, "default-batch") == 0;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

/* Policies: normalised, empties dropped, sorted, unique. Returns false
 * with *bad pointing at the offending name. */
static bool policies_from(const json_t *arr, struct strlist *out, const char **bad)
{
	size_t i;
	json_t *x;
	json_array_foreach(arr, i, x)
	{
		const char *s = json_string_value(x);
		if (!s || blank(s))
			continue;
		char *n = policy_name_normalize(s);
		if (!n) {
			*bad = s;
			return false;
		}
		strlist_push_owned(out, n);
	}
	strlist_sort_unique(out);
	return true;
}

/* CIDRs: trimmed, empties dropped, each valid, order kept. */
static bool cidrs_from(const json_t *arr, struct strlist *out, const char **bad)
{
	size_t i;
	json_t *x;
	json_array_foreach(arr, i, x)
	{
		const char *s = json_string_value(x), *e;
		if (!s || blank(s))
			continue;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
			e--;
		char *c = xstrndup(s, (size_t)(e - s));
		if (!token_cidr_valid(c)) {
			free(c);
			*bad = json_string_value(x);
			return false;
		}
		strlist_push_owned(out, c);
	}
	return true;
}

/* --- parse ------------------------------------------------------------- */

/* The value given for name, else for legacy (NULL: none); *used names the
 * one found. NULL when neither was given. */
static json_t *pick(const json_t *data, const char *name, const char *legacy, const char **used)
{
	json_t *v = data ? json_object_get(data, name) : NULL;
	*used = name;
	if (v && !json_is_null(v))
		return v;
	v = data && legacy ? json_object_get(data, legacy) : NULL;
	*used = legacy;
	return v && !json_is_null(v) ? v : NULL;
}

/* A coerced copy of v (a new reference) or NULL with *why set. */
static json_t *coerce(enum field_type t, json_t *v, const char **why)
{
	*why = "invalid value";
	return field_coerce(t, v, why);
}

/* An integer field (FIELD_INT or FIELD_DURATION); absent leaves *out.
 * Negative values are refused here, with the field's name. */
static int number(const json_t *data, const char *name, const char *legacy, enum field_type t,
                  struct response *resp, int64_t *out)
{
	const char *used, *why;
	json_t *v = pick(data, name, legacy, &used), *c;
	if (!v)
		return 0;
	if (json_is_integer(v) && t == FIELD_INT) {
		c = json_incref(v);
	} else if (!(c = coerce(t, v, &why))) {
		return response_error(resp, TROVE_ERR_INVALID, "%s: %s", used, why);
	}
	int64_t n = (int64_t)json_integer_value(c);
	json_decref(c);
	if (n < 0)
		return response_error(resp, TROVE_ERR_INVALID, "%s: cannot be negative", used);
	*out = n;
	return 0;
}

static int list(const json_t *data, const char *name, const char *legacy, bool cidr, struct response *resp,
                struct strlist *out)
{
	const char *used, *why, *bad = NULL;
	json_t *v = pick(data, name, legacy, &used), *c;
	struct strlist l;
	if (!v)
		return 0;
	if (!(c = coerce(FIELD_STRLIST, v, &why)))
		return response_error(resp, TROVE_ERR_INVALID, "%s: %s", used, why);
	strlist_init(&l);
	bool ok = cidr ? cidrs_from(c, &l, &bad) : policies_from(c, &l, &bad);
	if (!ok) {
		int r = response_error(resp, TROVE_ERR_INVALID, "%s: invalid %s \"%s\"", used,
		                       cidr ? "CIDR block or IP address" : "policy name", bad);
		strlist_release(&l);
		json_decref(c);
		return r;
	}
	json_decref(c);
	strlist_release(out);
	*out = l;
	return 0;
}

static int parse_into(const json_t *d, struct response *resp, struct token_params *n)
{
	const char *used, *why;
	json_t *v, *c;
	int r;

	static const struct {
		const char *name, *legacy;
		enum field_type type;
		size_t off;
	} nums[] = {
	    {"token_ttl", "ttl", FIELD_DURATION, offsetof(struct token_params, ttl)},
	    {"token_max_ttl", "max_ttl", FIELD_DURATION, offsetof(struct token_params, max_ttl)},
	    {"token_explicit_max_ttl", NULL, FIELD_DURATION, offsetof(struct token_params, explicit_max_ttl)},
	    {"token_period", "period", FIELD_DURATION, offsetof(struct token_params, period)},
	    {"token_num_uses", "num_uses", FIELD_INT, offsetof(struct token_params, num_uses)},
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		int64_t *out = (int64_t *)((char *)n + nums[i].off);
		if ((r = number(d, nums[i].name, nums[i].legacy, nums[i].type, resp, out)) != 0)
			return r;
	}
	if ((r = list(d, "token_policies", "policies", false, resp, &n->policies)) != 0 ||
	    (r = list(d, "token_bound_cidrs", "bound_cidrs", true, resp, &n->bound_cidrs)) != 0)
		return r;
	if ((v = pick(d, "token_no_default_policy", NULL, &used)) != NULL) {
		if (!(c = coerce(FIELD_BOOL, v, &why)))
			return response_error(resp, TROVE_ERR_INVALID, "%s: %s", used, why);
		n->no_default_policy = json_is_true(c);
		json_decref(c);
	}
	if ((v = pick(d, "token_type", NULL, &used)) != NULL) {
		const char *t = json_string_value(v);
		if (t && !t[0])
			t = "default"; /* Vault: "" means default */
		if (!t || !valid_type(t))
			return response_error(resp, TROVE_ERR_INVALID,
			                      "token_type: must be one of service, batch, default-service, "
			                      "default-batch, default");
		snprintf(n->type, sizeof(n->type), "%s", t);
	}
	return 0;
}

/* The name a cross-field message uses: the one the client sent, else the
 * token_ name. */
static const char *named(const json_t *d, const char *name, const char *legacy)
{
	const char *used;
	return pick(d, name, legacy, &used) ? used : name;
}

int token_params_parse(const struct request *req, struct response *resp, struct token_params *p)
{
	const json_t *d = req ? req->data : NULL;
	struct token_params n;
	int r;

	params_copy(&n, p);
	if ((r = parse_into(d, resp, &n)) != 0)
		goto fail;
	if (n.ttl > 0 && n.max_ttl > 0 && n.ttl > n.max_ttl) {
		r = response_error(resp, TROVE_ERR_INVALID, "%s: cannot be greater than %s",
		                   named(d, "token_ttl", "ttl"), named(d, "token_max_ttl", "max_ttl"));
		goto fail;
	}
	if (batch_type(n.type) && n.period > 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "token_type: cannot be %s when %s is set", n.type,
		                   named(d, "token_period", "period"));
		goto fail;
	}
	if (batch_type(n.type) && n.num_uses > 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "token_type: cannot be %s when %s is set", n.type,
		                   named(d, "token_num_uses", "num_uses"));
		goto fail;
	}
	token_params_release(p);
	*p = n;
	return 0;
fail:
	token_params_release(&n);
	return r;
}

/* --- read, store, load ------------------------------------------------- */

/* The nine token_ keys, shared by the read and the storage forms. */
static void put_token_keys(const struct token_params *p, json_t *o)
{
	json_object_set_new(o, "token_ttl", json_integer((json_int_t)p->ttl));
	json_object_set_new(o, "token_max_ttl", json_integer((json_int_t)p->max_ttl));
	json_object_set_new(o, "token_explicit_max_ttl", json_integer((json_int_t)p->explicit_max_ttl));
	json_object_set_new(o, "token_period", json_integer((json_int_t)p->period));
	json_object_set_new(o, "token_policies", strlist_json(&p->policies));
	json_object_set_new(o, "token_bound_cidrs", strlist_json(&p->bound_cidrs));
	json_object_set_new(o, "token_no_default_policy", json_boolean(p->no_default_policy));
	json_object_set_new(o, "token_num_uses", json_integer((json_int_t)p->num_uses));
	json_object_set_new(o, "token_type", json_string(p->type));
}

void token_params_to_json(const struct token_params *p, json_t *obj)
{
	put_token_keys(p, obj);
	if (p->policies.len)
		json_object_set_new(obj, "policies", strlist_json(&p->policies));
	if (p->period)
		json_object_set_new(obj, "period", json_integer((json_int_t)p->period));
	if (p->bound_cidrs.len)
		json_object_set_new(obj, "bound_cidrs", strlist_json(&p->bound_cidrs));
	if (p->ttl)
		json_object_set_new(obj, "ttl", json_integer((json_int_t)p->ttl));
	if (p->max_ttl)
		json_object_set_new(obj, "max_ttl", json_integer((json_int_t)p->max_ttl));
	if (p->num_uses)
		json_object_set_new(obj, "num_uses", json_integer((json_int_t)p->num_uses));
}

json_t *token_params_store(const struct token_params *p)
{
	json_t *o = json_object();
	put_token_keys(p, o);
	return o;
}

static bool load_int(const json_t *obj, const char *k, int64_t *out)
{
	json_t *v = json_object_get(obj, k);
	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

static bool load_list(const json_t *obj, const char *k, bool cidr, struct strlist *out)
{
	json_t *v = json_object_get(obj, k), *x;
	size_t i;
	if (!v)
		return true;
	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, x)
	{
		if (!json_is_string(x) || (cidr && !token_cidr_valid(json_string_value(x))))
			return false;
		strlist_push(out, json_string_value(x));
	}
	if (!cidr)
		strlist_sort_unique(out);
	return true;
}

int token_params_load(const json_t *obj, struct token_params *p)
{
	json_t *v;

	token_params_init(p);
	if (!json_is_object(obj))
		return TROVE_ERR_INTEGRITY;
	if (!load_int(obj, "token_ttl", &p->ttl) || !load_int(obj, "token_max_ttl", &p->max_ttl) ||
	    !load_int(obj, "token_explicit_max_ttl", &p->explicit_max_ttl) ||
	    !load_int(obj, "token_period", &p->period) || !load_int(obj, "token_num_uses", &p->num_uses) ||
	    !load_list(obj, "token_policies", false, &p->policies) ||
	    !load_list(obj, "token_bound_cidrs", true, &p->bound_cidrs))
		goto bad;
	if ((v = json_object_get(obj, "token_no_default_policy")) != NULL) {
		if (!json_is_boolean(v))
			goto bad;
		p->no_default_policy = json_is_true(v);
	}
	if ((v = json_object_get(obj, "token_type")) != NULL) {
		if (!json_is_string(v) || !valid_type(json_string_value(v)))
			goto bad;
		snprintf(p->type, sizeof(p->type), "%s", json_string_value(v));
	}
	return 0;
bad:
	token_params_release(p);
	return TROVE_ERR_INTEGRITY;
}
