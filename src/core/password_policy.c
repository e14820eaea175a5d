/* password_policy.c — password policies: the HCL reader and the store.
 *
 * The reader walks the HCL tree once and refuses anything it does not
 * know by name (a key, a rule type, a key inside a rule), so a typo such
 * as `min_chars` is an error rather than a rule silently without its
 * minimum. What a spec must satisfy beyond its shape (sum of minimums,
 * charset bounds) is password_spec_check's, not repeated here.
 *
 * The store is Vault's: one barrier entry per policy holding
 * {"policy": text}, no cache, so every reader sees the latest write. */
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "password_policy.h"

#include "core.h"
#include "err.h"
#include "hcl.h"
#include "secure.h"

#include "banned.h"

/* Tries before a new policy is stored (Vault's count). */
#define TRIAL_PASSWORDS 10

static int why_set(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int why_set(char **why, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (why && !*why) {
		buf_init(&b, 1024);
		buf_append_str(&b, "invalid password policy: ");
		va_start(ap, fmt);
		buf_vprintf(&b, fmt, ap);
		va_end(ap);
		*why = buf_take(&b);
	}
	return TROVE_ERR_INVALID;
}

void password_policy_free(struct password_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->spec.n_rules; i++)
		free(p->charsets[i]);
	free(p);
}

static int read_charset(const struct hcl_value *v, int line, char **out, char **why)
{
	if (v->type != HCL_STRING)
		return why_set(why, "line %d: rule \"charset\": charset must be a string, not %s", line,
		               hcl_type_name(v->type));
	if (v->u.string.len == 0)
		return why_set(why, "line %d: rule \"charset\": charset is empty", line);
	for (size_t i = 0; i < v->u.string.len; i++) {
		unsigned char c = (unsigned char)v->u.string.ptr[i];
		if (c < 0x21 || c > 0x7e)
			return why_set(
			    why,
			    "line %d: rule \"charset\": charset has byte 0x%02x at offset %zu: only "
			    "printable "
			    "ASCII without the space (0x21-0x7e) is supported (Vault also takes UTF-8)",
			    line, c, i);
	}
	*out = strdup(v->u.string.ptr);
	return *out ? 0 : TROVE_ERR_NOMEM;
}

static int read_rule(struct password_policy *p, const struct hcl_member *m, char **why)
{
	const struct hcl_value *body;
	const char *label;
	struct hcl_error err;
	char *charset = NULL;
	int64_t min = 0;
	bool have_min = false;
	int r;

	if (hcl_member_block(m, &label, &body, &err) != 0)
		return why_set(why, "line %d: rule: %s", m->line, err.message);
	if (strcmp(label, "charset") != 0)
		return why_set(why, "line %d: unknown rule type \"%s\" (the only one is \"charset\")",
		               m->line, label);
	if (body->type != HCL_OBJECT)
		return why_set(why, "line %d: rule \"charset\" must be a block", m->line);
	if (p->spec.n_rules == PASSWORD_MAX_RULES)
		return why_set(why, "line %d: more than %d rules", m->line, PASSWORD_MAX_RULES);
	for (size_t i = 0; i < body->u.object.len; i++) {
		const struct hcl_member *f = &body->u.object.members[i];
		if (strcmp(f->key, "charset") == 0 && !charset) {
			if ((r = read_charset(f->value, f->line, &charset, why)) != 0)
				goto out;
		} else if (strcmp(f->key, "min-chars") == 0 && !have_min) {
			if (f->value->type != HCL_INT || f->value->u.i < 0 ||
			    f->value->u.i > PASSWORD_MAX_LENGTH) {
				r = why_set(
				    why,
				    "line %d: rule \"charset\": min-chars must be an integer from 0 to %d",
				    f->line, PASSWORD_MAX_LENGTH);
				goto out;
			}
			min = f->value->u.i;
			have_min = true;
		} else if (strcmp(f->key, "charset") == 0 || strcmp(f->key, "min-chars") == 0) {
			r = why_set(why, "line %d: rule \"charset\": %s is given twice", f->line, f->key);
			goto out;
		} else {
			r = why_set(why,
			            "line %d: rule \"charset\": unknown key \"%s\" (the keys are charset and "
			            "min-chars)",
			            f->line, f->key);
			goto out;
		}
	}
	if (!charset) {
		r = why_set(why, "line %d: rule \"charset\": charset is required", m->line);
		goto out;
	}
	p->charsets[p->spec.n_rules] = charset;
	p->rules[p->spec.n_rules].charset = charset;
	p->rules[p->spec.n_rules].min_chars = (size_t)min;
	p->spec.n_rules++;
	charset = NULL;
	r = 0;
out:
	free(charset);
	return r;
}

int password_policy_parse(const char *text, size_t len, struct password_policy **out, char **why)
{
	struct password_policy *p = NULL;
	struct hcl_value *root = NULL;
	struct hcl_error err;
	const char *spec_why = NULL;
	bool have_length = false;
	size_t i = 0;
	int r;

	*out = NULL;
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	memset(&err, 0, sizeof(err));
	r = i < len && text[i] == '{' ? hcl_parse_json(text, len, &root, &err)
	                              : hcl_parse(text, len, &root, &err);
	if (r != 0) {
		r = why_set(why, "line %d: %s", err.line, err.message);
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	p->spec.rules = p->rules;
	for (i = 0; i < root->u.object.len; i++) {
		const struct hcl_member *m = &root->u.object.members[i];
		if (strcmp(m->key, "length") == 0) {
			if (have_length) {
				r = why_set(why, "line %d: length is given twice", m->line);
				goto out;
			}
			if (m->value->type != HCL_INT) {
				r = why_set(why, "line %d: length must be an integer, not %s", m->line,
				            hcl_type_name(m->value->type));
				goto out;
			}
			if (m->value->u.i < PASSWORD_POLICY_MIN_LENGTH ||
			    m->value->u.i > PASSWORD_POLICY_MAX_LENGTH) {
				r = why_set(why,
				            "line %d: length: passwords must be between %d and %d characters",
				            m->line, PASSWORD_POLICY_MIN_LENGTH, PASSWORD_POLICY_MAX_LENGTH);
				goto out;
			}
			p->spec.length = (size_t)m->value->u.i;
			have_length = true;
		} else if (strcmp(m->key, "rule") == 0) {
			if ((r = read_rule(p, m, why)) != 0)
				goto out;
		} else {
			r = why_set(why, "line %d: unknown key \"%s\" (the keys are length and rule)",
			            m->line, m->key);
			goto out;
		}
	}
	if (!have_length) {
		r = why_set(why, "length is required");
		goto out;
	}
	if (p->spec.n_rules == 0) {
		r = why_set(why, "at least one rule \"charset\" is required");
		goto out;
	}
	if (password_spec_check(&p->spec, &spec_why) != 0) {
		r = why_set(why, "%s", spec_why ? spec_why : "the rules cannot be met");
		goto out;
	}
	*out = p;
	p = NULL;
	r = 0;
out:
	password_policy_free(p);
	hcl_free(root);
	return r;
}

bool password_policy_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > PASSWORD_POLICY_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= 0x20 || c == 0x7f || c == '/')
			return false;
	}
	return true;
}

static char *storage_key(const char *name)
{
	struct buf b;

	buf_init(&b, 1024);
	buf_printf(&b, "%s%s", PASSWORD_POLICY_PATH_PREFIX, name);
	return buf_take(&b);
}

int password_policy_put(struct core *core, const char *name, const char *text, size_t len, char **why)
{
	struct password_policy *p = NULL;
	char *key = NULL, *doc = NULL, *pw;
	json_t *j = NULL;
	int r;

	if (!password_policy_name_valid(name)) {
		if (why && !*why)
			*why = strdup("invalid password policy name: 1 to 128 bytes, no '/', blank or "
			              "control character");
		return TROVE_ERR_INVALID;
	}
	if ((r = password_policy_parse(text, len, &p, why)) != 0)
		goto out;
	/* As Vault: a policy that cannot produce passwords is not kept. */
	for (int k = 0; k < TRIAL_PASSWORDS; k++) {
		if (password_generate(&p->spec, &pw) != 0) {
			r = why_set(why, "unable to generate passwords from it: are the rules impossible?");
			goto out;
		}
		secure_free_str(pw);
	}
	j = json_pack("{s:s%}", "policy", text, len);
	doc = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (!doc) {
		r = why_set(why, "the text is not valid UTF-8");
		goto out;
	}
	key = storage_key(name);
	r = storage_put(core_storage(core), key, doc, strlen(doc));
out:
	free(key);
	free(doc);
	json_decref(j);
	password_policy_free(p);
	return r;
}

int password_policy_get(struct core *core, const char *name, char **text)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	json_t *j = NULL;
	const char *s;
	char *key;
	int r;

	*text = NULL;
	if (!password_policy_name_valid(name))
		return TROVE_ERR_NOT_FOUND;
	key = storage_key(name);
	r = storage_get(core_storage(core), key, &raw, &len);
	free(key);
	if (r != 0)
		return r;
	j = json_loadb((const char *)raw, len, 0, NULL);
	s = json_string_value(json_object_get(j, "policy"));
	if (s)
		*text = strdup(s);
	r = !s ? TROVE_ERR_INTERNAL : *text ? 0 : TROVE_ERR_NOMEM;
	json_decref(j);
	free(raw);
	return r;
}

int password_policy_delete(struct core *core, const char *name)
{
	char *key;
	int r;

	if (!password_policy_name_valid(name))
		return TROVE_ERR_NOT_FOUND;
	key = storage_key(name);
	r = storage_delete(core_storage(core), key);
	free(key);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

int password_policy_list(struct core *core, struct strlist *out)
{
	struct strlist tmp;
	int r;

	strlist_init(&tmp);
	if ((r = storage_list(core_storage(core), PASSWORD_POLICY_PATH_PREFIX, &tmp)) != 0)
		goto out;
	strlist_sort(&tmp);
	for (size_t i = 0; i < tmp.len; i++) {
		size_t n = strlen(tmp.items[i]);
		if (n > 0 && tmp.items[i][n - 1] != '/' && (r = strlist_push(out, tmp.items[i])) != 0)
			goto out;
	}
	r = 0;
out:
	strlist_release(&tmp);
	return r;
}

int password_policy_generate(struct core *core, const char *policy_name, char **out)
{
	struct password_policy *p = NULL;
	char *text = NULL;
	int r;

	*out = NULL;
	if ((r = password_policy_get(core, policy_name, &text)) != 0)
		return r;
	if (password_policy_parse(text, strlen(text), &p, NULL) != 0)
		r = TROVE_ERR_INTERNAL; /* stored text that no longer parses: fail closed */
	else
		r = password_generate(&p->spec, out);
	password_policy_free(p);
	free(text);
	return r;
}
