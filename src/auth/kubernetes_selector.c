/* kubernetes_selector.c — a role's bound_service_account_namespace_selector:
 * a Kubernetes label selector (matchLabels and matchExpressions) checked
 * against a namespace's labels.
 *
 * Written as JSON or YAML (kubernetes_yaml.c), as Vault reads it. The
 * selector is operator input kept in a role, parsed at every role
 * write (a bad one is a 400 then) and again at login. It is bounded
 * (K8S_SELECTOR_MAX bytes, jansson's depth limits) and each part is
 * checked for the shape Kubernetes requires before anything matches: an
 * unknown key or operator is refused rather than ignored, so a typo can
 * never widen a role. */
#include <string.h>

#include "kubernetes.h"

#include "err.h"

#include "banned.h"

static bool all_strings(const json_t *o)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		if (!json_is_string(v))
			return false;
	}
	return true;
}

/* One matchExpressions item, checked: {"key": s, "operator": op,
 * "values": [s...]}. */
static int expression_check(const json_t *e, const char **why)
{
	const char *k;
	json_t *v;

	if (!json_is_object(e)) {
		*why = "each matchExpressions item must be an object";
		return TROVE_ERR_INVALID;
	}
	json_object_foreach((json_t *)e, k, v)
	{
		if (strcmp(k, "key") != 0 && strcmp(k, "operator") != 0 && strcmp(k, "values") != 0) {
			*why = "a matchExpressions item holds only key, operator and values";
			return TROVE_ERR_INVALID;
		}
	}
	const char *key = json_string_value(json_object_get(e, "key"));
	const char *op = json_string_value(json_object_get(e, "operator"));
	const json_t *values = json_object_get(e, "values");
	if (!key || !key[0]) {
		*why = "a matchExpressions item needs a key";
		return TROVE_ERR_INVALID;
	}
	if (values && !json_is_null(values)) {
		size_t i;
		json_t *s;
		if (!json_is_array(values)) {
			*why = "matchExpressions values must be a list of strings";
			return TROVE_ERR_INVALID;
		}
		json_array_foreach(values, i, s)
		{
			if (!json_is_string(s)) {
				*why = "matchExpressions values must be a list of strings";
				return TROVE_ERR_INVALID;
			}
		}
	}
	size_t nv = json_array_size(values);
	if (op && (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0)) {
		if (nv == 0) {
			*why = "the In and NotIn operators need values";
			return TROVE_ERR_INVALID;
		}
		return 0;
	}
	if (op && (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0)) {
		if (nv != 0) {
			*why = "the Exists and DoesNotExist operators take no values";
			return TROVE_ERR_INVALID;
		}
		return 0;
	}
	*why = "a matchExpressions operator is In, NotIn, Exists or DoesNotExist";
	return TROVE_ERR_INVALID;
}

int k8s_selector_parse(const char *text, size_t len, json_t **out, const char **why)
{
	json_error_t jerr;
	json_t *j = NULL, *labels, *exprs;
	const char *k;
	json_t *v;
	int r = TROVE_ERR_INVALID;

	*out = NULL;
	if (len == 0 || len > K8S_SELECTOR_MAX) {
		*why = "a selector is a JSON or YAML mapping of at most 16384 bytes";
		goto out;
	}
	/* JSON first; what is not JSON may be YAML, as Vault reads it. */
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j && k8s_yaml_parse(text, len, &j, why) != 0)
		goto out;
	if (!json_is_object(j)) {
		*why = "a selector is a JSON or YAML mapping";
		goto out;
	}
	json_object_foreach(j, k, v)
	{
		if (strcmp(k, "matchLabels") != 0 && strcmp(k, "matchExpressions") != 0) {
			*why = "a selector holds only matchLabels and matchExpressions";
			goto out;
		}
	}
	labels = json_object_get(j, "matchLabels");
	exprs = json_object_get(j, "matchExpressions");
	if (labels && !json_is_null(labels) && (!json_is_object(labels) || !all_strings(labels))) {
		*why = "matchLabels must be an object of strings";
		goto out;
	}
	if (exprs && !json_is_null(exprs) && !json_is_array(exprs)) {
		*why = "matchExpressions must be a list";
		goto out;
	}
	size_t i;
	json_array_foreach(exprs, i, v)
	{
		if ((r = expression_check(v, why)) != 0)
			goto out;
	}
	*out = json_object();
	json_object_set_new(*out, "matchLabels",
	                    json_is_object(labels) ? json_incref(labels) : json_object());
	json_object_set_new(*out, "matchExpressions",
	                    json_is_array(exprs) ? json_incref(exprs) : json_array());
	r = *out ? 0 : TROVE_ERR_NOMEM;
out:
	json_decref(j);
	return r;
}

static bool values_contain(const json_t *values, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(values, i, v)
	{
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

bool k8s_selector_matches(const json_t *sel, const json_t *labels)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(json_object_get(sel, "matchLabels"), k, v)
	{
		const char *have = json_string_value(json_object_get(labels, k));
		if (!have || strcmp(have, json_string_value(v)) != 0)
			return false;
	}
	json_array_foreach(json_object_get(sel, "matchExpressions"), i, v)
	{
		const char *key = json_string_value(json_object_get(v, "key"));
		const char *op = json_string_value(json_object_get(v, "operator"));
		const json_t *values = json_object_get(v, "values");
		const char *have = json_string_value(json_object_get(labels, key));
		bool ok;
		if (strcmp(op, "In") == 0)
			ok = have && values_contain(values, have);
		else if (strcmp(op, "NotIn") == 0)
			ok = !have || !values_contain(values, have);
		else if (strcmp(op, "Exists") == 0)
			ok = have != NULL;
		else
			ok = have == NULL;
		if (!ok)
			return false;
	}
	return true;
}
