/* identity_oidc_template.c — the claims of an identity token's role
 * template: JSON text whose {{ identity.* }} actions become JSON values.
 * Unlike policy templates (acl_template_expand, which names one path
 * segment and refuses '/' and the like), a value here is any JSON value
 * (an object of metadata, a list of group names), always encoded, so it
 * can never break out of its place in the document. */
#include <string.h>

#include "engines/identity_oidc.h"
#include "duration.h"
#include "err.h"
#include "json_limits.h"

#include "banned.h"

/* Vault's: the claims every token carries (nbf is the template's to set). */
static const char *const reserved[] = {"iat", "aud", "exp", "iss", "sub", "namespace"};

bool oidc_claim_reserved(const char *name)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(name, reserved[i]) == 0)
			return true;
	return false;
}

/* The alias of ident's entity on mount accessor acc, or NULL. */
static const json_t *alias_on(const json_t *entity, const char *acc, size_t acc_len)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(entity, "aliases"), i, a)
	{
		const char *m = json_string_value(json_object_get(a, "mount_accessor"));
		if (m && strlen(m) == acc_len && strncmp(m, acc, acc_len) == 0)
			return a;
	}
	return NULL;
}

/* A map member of rec ("metadata", "custom_metadata") whole, or its
 * member key after "<map>."; NULL when name is neither. */
static json_t *map_value(const json_t *rec, const char *map, const char *name)
{
	size_t n = strlen(map);
	const json_t *md = json_object_get(rec, map);

	if (strcmp(name, map) == 0)
		return json_is_object(md) ? json_deep_copy(md) : json_object();
	if (strncmp(name, map, n) == 0 && name[n] == '.' && name[n + 1]) {
		const char *s = json_string_value(json_object_get(md, name + n + 1));
		return json_string(s ? s : "");
	}
	return NULL;
}

/* "id", "name", "metadata" or "metadata.<key>" of rec (an entity or, with
 * alias, an alias, which also has "custom_metadata[.<key>]") as a new JSON
 * value; NULL for an unknown name. */
static json_t *member_value(const json_t *rec, const char *name, bool alias)
{
	json_t *v;
	if (strcmp(name, "id") == 0 || strcmp(name, "name") == 0) {
		const char *s = json_string_value(json_object_get(rec, name));
		return json_string(s ? s : "");
	}
	if ((v = map_value(rec, "metadata", name)) != NULL)
		return v;
	return alias ? map_value(rec, "custom_metadata", name) : NULL;
}

/* The list of one member ("id" or "name") of each of ident's groups. */
static json_t *group_list(const json_t *ident, const char *member)
{
	json_t *out = json_array(), *g;
	size_t i;
	json_array_foreach(json_object_get(ident, "groups"), i, g)
	{
		const char *s = json_string_value(json_object_get(g, member));
		if (s)
			json_array_append_new(out, json_string(s));
	}
	return out;
}

/* time.now, time.now.plus.<duration>, time.now.minus.<duration>: unix
 * seconds; NULL for anything else. */
static json_t *time_value(const char *expr)
{
	static const char plus[] = "time.now.plus.", minus[] = "time.now.minus.";
	int64_t now = oidc_now(), d = 0;
	const char *p = NULL;
	int sign = 1;

	if (strcmp(expr, "time.now") == 0)
		return json_integer(now);
	if (strncmp(expr, plus, sizeof(plus) - 1) == 0)
		p = expr + sizeof(plus) - 1;
	else if (strncmp(expr, minus, sizeof(minus) - 1) == 0) {
		p = expr + sizeof(minus) - 1;
		sign = -1;
	}
	if (!p || !p[0] || duration_parse_seconds(p, strlen(p), &d) != 0)
		return NULL;
	return json_integer(now + sign * d);
}

/* The value of one action (trimmed), a new reference; NULL when the
 * action is not one of those identity_oidc.h lists. */
static json_t *action_value(const char *expr, const json_t *ident)
{
	static const char ent[] = "identity.entity.", als[] = "aliases.";
	const json_t *entity = json_object_get(ident, "entity");
	const char *p;

	if (strncmp(expr, "time.", 5) == 0)
		return time_value(expr);
	if (strcmp(expr, "identity.entity.groups.ids") == 0)
		return group_list(ident, "id");
	if (strcmp(expr, "identity.entity.groups.names") == 0)
		return group_list(ident, "name");
	if (strncmp(expr, ent, sizeof(ent) - 1) != 0)
		return NULL;
	p = expr + sizeof(ent) - 1;
	if (strncmp(p, als, sizeof(als) - 1) != 0)
		return member_value(entity, p, false);
	p += sizeof(als) - 1;
	const char *dot = strchr(p, '.');
	if (!dot || dot == p)
		return NULL;
	json_t *probe = member_value(NULL, dot + 1, true); /* the member name is checked with no data */
	if (!probe)
		return NULL;
	const json_t *alias = alias_on(entity, p, (size_t)(dot - p));
	if (!alias)
		return probe;
	json_decref(probe);
	return member_value(alias, dot + 1, true);
}

/* The reason, with at most 200 bytes of the offending text: a reason
 * that would not fit the caller's buffer would leave it saying nothing. */
static int fail(struct buf *err, const char *why, const char *detail)
{
	size_t n = detail ? strlen(detail) : 0;
	if (err)
		buf_printf(err, "template: %s%.*s%s", why, (int)(n > 200 ? 200 : n), detail ? detail : "",
		           n > 200 ? "..." : "");
	return TROVE_ERR_INVALID;
}

int oidc_template_render(const char *tpl, const json_t *ident, json_t **out, struct buf *err)
{
	int r = TROVE_ERR_INVALID;
	struct buf text, expr;
	const char *p = tpl ? tpl : "", *open;
	json_t *doc = NULL;
	json_error_t jerr;

	*out = NULL;
	buf_init(&text, BUF_CAP_DEFAULT);
	buf_init(&expr, 4096);
	while ((open = strstr(p, "{{")) != NULL) {
		const char *close = strstr(open + 2, "}}"), *b = open + 2, *e;
		if (!close) {
			r = fail(err, "unterminated action", NULL);
			goto out;
		}
		buf_append(&text, p, (size_t)(open - p));
		e = close;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		buf_reset(&expr);
		if (buf_append(&expr, b, (size_t)(e - b)) != 0) {
			r = fail(err, "an action longer than 4096 bytes", NULL);
			goto out;
		}
		json_t *v = action_value(expr.data ? expr.data : "", ident);
		if (!v) {
			r = fail(err, "unknown action ", expr.data ? expr.data : "");
			goto out;
		}
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(v);
		if (!s) {
			r = TROVE_ERR_NOMEM;
			goto out;
		}
		buf_append_str(&text, s);
		free(s);
		p = close + 2;
	}
	buf_append_str(&text, p);
	if (text.len == 0 || strspn(text.data, " \t\r\n") == text.len) {
		*out = json_object();
		r = 0;
		goto out;
	}
	if (json_limits_check(text.data, text.len, &json_limits_body) != JSON_LIMIT_OK) {
		r = fail(err, "too deeply nested or too many members", NULL);
		goto out;
	}
	doc = json_loadb(text.data, text.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc)) {
		r = fail(err, "not a JSON object", NULL);
		goto out;
	}
	const char *k;
	json_t *v;
	json_object_foreach(doc, k, v)
	{
		if (oidc_claim_reserved(k)) {
			r = fail(err, "reserved claim ", k);
			goto out;
		}
	}
	*out = doc;
	doc = NULL;
	r = 0;
out:
	json_decref(doc);
	buf_release(&text);
	buf_release(&expr);
	return r;
}
