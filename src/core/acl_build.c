/* acl_build.c — policy documents and their compiled union (the ACL);
 * acl.c makes the access decision with it (acl_impl.h holds what the two
 * share).
 *
 * Parsing. A policy is a list of `path "<pattern>" { ... }` rules in HCL1
 * or its JSON form (told apart by the first non-blank byte, as HCL1 does).
 * Every key is checked: an unknown key or capability is an error that
 * names the line, so a typo never silently grants or withholds access.
 * JSON carries no positions through hcl_parse_json, so for JSON input the
 * line of a rule is recovered by finding its quoted pattern in the text.
 *
 * Compilation. The rules of all of a token's policies are folded into one
 * entry per distinct pattern (capabilities unioned, deny absorbing,
 * parameter constraints merged). Patterns without '+' go into a byte-wise
 * radix tree; each node may carry an exact rule and a prefix ("...*")
 * rule. One walk down the tree along the request path yields the exact
 * match (if any) and the longest prefix rule, whatever the number of
 * rules. Patterns with '+' go into a trie of path segments whose nodes
 * have literal children, one '+' child, an exact rule and the prefix rules
 * whose final, partial segment ends there (kept sorted, so the candidates
 * for one path segment are found by binary search per prefix length).
 *
 * Precedence. An exact rule wins outright. Otherwise the candidates (the
 * longest prefix rule and every matching '+' rule) are ranked as Vault
 * documents: a later first wildcard beats an earlier one; a non-glob beats
 * a glob; fewer '+' segments beat more; a longer pattern beats a shorter;
 * finally the lexicographically larger wins. Only the winner decides: its
 * deny, capabilities and parameter constraints. Rules whose path holds an
 * identity template ("{{...}}") are dropped by acl_new and expanded with
 * one entity's values by acl_new_templated (see acl.h for what a value
 * may contain); an unresolved template drops its rule, as in Vault. */
#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl_impl.h"

#include "duration.h"
#include "err.h"
#include "hcl.h"

#include "banned.h"

/* --- parsed policies ------------------------------------------------------ */

static const struct {
	const char *name;
	unsigned bit;
} cap_names[] = {
	{ "deny", ACL_CAP_DENY },     { "create", ACL_CAP_CREATE }, { "read", ACL_CAP_READ },
	{ "update", ACL_CAP_UPDATE }, { "patch", ACL_CAP_PATCH },   { "delete", ACL_CAP_DELETE },
	{ "list", ACL_CAP_LIST },     { "sudo", ACL_CAP_SUDO },
	/* Known to Vault or OpenBao but meaning nothing here (events, snapshot
	 * recovery, recursive listing): accepted so such policies load, and
	 * never grant anything. */
	{ "subscribe", 0 },           { "recover", 0 },             { "scan", 0 },
};

struct pctx {
	const char *text;
	size_t len;
	bool json;
	const char *key; /* the key being parsed (JSON line recovery) */
	struct buf *err;
};

/* JSON members carry no line: on error, the line of the first quoted
 * occurrence of the key being parsed stands in (keys of one object are
 * unique, so this is nearly always the right one). */
static int json_line(const struct pctx *c)
{
	size_t klen = c->key ? strlen(c->key) : 0;
	for (size_t i = 0; c->key && i + klen + 2 <= c->len; i++) {
		if (c->text[i] == '"' && memcmp(c->text + i + 1, c->key, klen) == 0 && c->text[i + 1 + klen] == '"') {
			int n = 1;
			for (size_t j = 0; j < i; j++)
				n += c->text[j] == '\n';
			return n;
		}
	}
	return 1;
}

static int perr(struct pctx *c, int line, const char *pattern, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int perr(struct pctx *c, int line, const char *pattern, const char *fmt, ...)
{
	va_list ap;
	if (!c->err)
		return TROVE_ERR_INVALID;
	buf_reset(c->err);
	buf_printf(c->err, "line %d: ", line > 0 ? line : c->json ? json_line(c) : 1);
	if (pattern)
		buf_printf(c->err, "path \"%s\": ", pattern);
	va_start(ap, fmt);
	buf_vprintf(c->err, fmt, ap);
	va_end(ap);
	return TROVE_ERR_INVALID;
}

static void rule_release(struct policy_rule *r)
{
	free(r->pattern);
	strlist_release(&r->required);
	json_decref(r->allowed);
	json_decref(r->denied);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nrules; i++)
		rule_release(&p->rules[i]);
	free(p->rules);
	free(p->name);
	free(p);
}

const char *policy_name(const struct policy *p)
{
	return p->name;
}

static int parse_caps(struct pctx *c, int line, const char *pattern, const struct hcl_value *v, unsigned *caps)
{
	if (v->type != HCL_LIST)
		return perr(c, line, pattern, "capabilities must be a list of strings");
	for (size_t i = 0; i < v->u.list.len; i++) {
		const struct hcl_value *it = v->u.list.items[i];
		size_t k;
		if (it->type != HCL_STRING)
			return perr(c, line, pattern, "capabilities must be a list of strings");
		for (k = 0; k < sizeof(cap_names) / sizeof(cap_names[0]); k++)
			if (strcmp(cap_names[k].name, it->u.string.ptr) == 0)
				break;
		if (k == sizeof(cap_names) / sizeof(cap_names[0]))
			return perr(c, line, pattern, "unknown capability \"%s\"", it->u.string.ptr);
		*caps |= cap_names[k].bit;
	}
	return 0;
}

/* Vault's pre-capabilities keyword. */
static int parse_legacy(struct pctx *c, int line, const char *pattern, const struct hcl_value *v, unsigned *caps)
{
	static const unsigned rw = ACL_CAP_CREATE | ACL_CAP_READ | ACL_CAP_UPDATE | ACL_CAP_DELETE | ACL_CAP_LIST;
	if (v->type != HCL_STRING)
		return perr(c, line, pattern, "policy must be a string");
	const char *s = v->u.string.ptr;
	if (strcmp(s, "deny") == 0)
		*caps |= ACL_CAP_DENY;
	else if (strcmp(s, "read") == 0)
		*caps |= ACL_CAP_READ | ACL_CAP_LIST;
	else if (strcmp(s, "write") == 0)
		*caps |= rw;
	else if (strcmp(s, "sudo") == 0)
		*caps |= rw | ACL_CAP_SUDO;
	else
		return perr(c, line, pattern, "invalid policy \"%s\" (want deny, read, write or sudo)", s);
	return 0;
}

static int parse_required(struct pctx *c, int line, const char *pattern, const struct hcl_value *v,
			  struct strlist *out)
{
	if (v->type != HCL_LIST)
		return perr(c, line, pattern, "required_parameters must be a list of strings");
	for (size_t i = 0; i < v->u.list.len; i++) {
		const struct hcl_value *it = v->u.list.items[i];
		if (it->type != HCL_STRING)
			return perr(c, line, pattern, "required_parameters must be a list of strings");
		char *k = xstrdup(it->u.string.ptr);
		for (char *q = k; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		strlist_push_owned(out, k);
	}
	strlist_sort_unique(out);
	return 0;
}

static json_t *scalar_json(const struct hcl_value *v)
{
	switch (v->type) {
	case HCL_STRING:
		return json_stringn(v->u.string.ptr, v->u.string.len);
	case HCL_INT:
		return json_integer((json_int_t)v->u.i);
	case HCL_FLOAT:
		return json_real(v->u.f);
	case HCL_BOOL:
		return json_boolean(v->u.b);
	default:
		return NULL;
	}
}

/* allowed_parameters / denied_parameters: { key = [values] }. Keys are
 * lowercased (requests are compared lowercased). */
static int parse_params(struct pctx *c, int line, const char *pattern, const char *what,
			const struct hcl_value *v, json_t **out)
{
	if (v->type != HCL_OBJECT)
		return perr(c, line, pattern, "%s must be a map of parameter names to lists", what);
	json_t *obj = json_object();
	for (size_t i = 0; i < v->u.object.len; i++) {
		const struct hcl_member *m = &v->u.object.members[i];
		const struct hcl_value *lv = m->value;
		if (m->nlabels != 0 || lv->type != HCL_LIST) {
			json_decref(obj);
			return perr(c, line, pattern, "%s: \"%s\" must be a list of values", what, m->key);
		}
		char *k = xstrdup(m->key);
		for (char *q = k; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		json_t *arr = json_object_get(obj, k);
		if (!arr) {
			arr = json_array();
			if (json_object_set_new(obj, k, arr) != 0) {
				free(k);
				json_decref(obj);
				return perr(c, line, pattern, "%s: invalid parameter name", what);
			}
		}
		free(k);
		for (size_t j = 0; j < lv->u.list.len; j++) {
			json_t *e = scalar_json(lv->u.list.items[j]);
			if (!e) {
				json_decref(obj);
				return perr(c, line, pattern, "%s: values of \"%s\" must be strings, numbers or booleans",
					    what, m->key);
			}
			json_array_append_new(arr, e);
		}
	}
	*out = obj;
	return 0;
}

static int parse_ttl(struct pctx *c, int line, const char *pattern, const char *what, const struct hcl_value *v,
		     int64_t *out)
{
	if (v->type == HCL_INT && v->u.i >= 0) {
		*out = v->u.i;
		return 0;
	}
	if (v->type == HCL_STRING && duration_parse_seconds(v->u.string.ptr, v->u.string.len, out) == 0)
		return 0;
	return perr(c, line, pattern, "%s must be a duration such as \"90s\"", what);
}

static struct policy_rule *new_rule(struct policy *p)
{
	if (p->nrules == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		p->rules = xrealloc(p->rules, p->cap * sizeof(*p->rules));
	}
	struct policy_rule *r = &p->rules[p->nrules];
	memset(r, 0, sizeof(*r));
	strlist_init(&r->required);
	return r;
}

static int parse_rule(struct pctx *c, struct policy *p, const char *raw_pattern, const struct hcl_value *body,
		      int line)
{
	static const char *const unsupported[] = { "mfa_methods", "control_group", "subscribe_event_types",
						    "expiration", "pagination_limit",
						    "list_scan_response_keys_filter_path" };
	const char *pattern = raw_pattern;
	bool seen[8] = { false };
	struct policy_rule *r;
	int rc;

	while (*pattern == '/')
		pattern++;
	c->key = raw_pattern;
	if (body->type != HCL_OBJECT)
		return perr(c, line, pattern, "the rule must be a block");
	if (strstr(pattern, "+*"))
		return perr(c, line, pattern, "invalid use of wildcards ('+*' is forbidden)");
	const char *star = strchr(pattern, '*');
	if (star && star[1] != '\0')
		return perr(c, line, pattern, "'*' is only allowed as the last character");

	r = new_rule(p);
	r->pattern = xstrdup(pattern);
	r->line = line;
	r->templated = strstr(pattern, "{{") != NULL;
	p->nrules++; /* owned by p from here; policy_free releases it on error */

	for (size_t i = 0; i < body->u.object.len; i++) {
		const struct hcl_member *m = &body->u.object.members[i];
		/* Errors inside a rule point at the key's own line (HCL). */
		int ml = m->line ? m->line : line;
		static const char *const keys[] = { "capabilities",     "policy",           "required_parameters",
						    "allowed_parameters", "denied_parameters", "min_wrapping_ttl",
						    "max_wrapping_ttl", "comment" };
		size_t k;
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strcmp(keys[k], m->key) == 0)
				break;
		if (k == sizeof(keys) / sizeof(keys[0])) {
			for (size_t u = 0; u < sizeof(unsupported) / sizeof(unsupported[0]); u++)
				if (strcmp(unsupported[u], m->key) == 0)
					return perr(c, ml, pattern, "\"%s\" is not supported", m->key);
			return perr(c, ml, pattern, "unknown key \"%s\"", m->key);
		}
		if (seen[k])
			return perr(c, ml, pattern, "\"%s\" given twice", m->key);
		seen[k] = true;
		if (m->nlabels != 0 && k != 3 && k != 4)
			return perr(c, ml, pattern, "\"%s\" cannot be a labelled block", m->key);
		switch (k) {
		case 0:
			rc = parse_caps(c, ml, pattern, m->value, &r->caps);
			break;
		case 1:
			rc = parse_legacy(c, ml, pattern, m->value, &r->caps);
			break;
		case 2:
			rc = parse_required(c, ml, pattern, m->value, &r->required);
			break;
		case 3:
		case 4:
			if (m->nlabels != 0)
				return perr(c, ml, pattern, "\"%s\" must be a map", m->key);
			rc = parse_params(c, ml, pattern, m->key, m->value, k == 3 ? &r->allowed : &r->denied);
			break;
		case 5:
			rc = parse_ttl(c, ml, pattern, m->key, m->value, &r->min_wrap);
			break;
		case 6:
			rc = parse_ttl(c, ml, pattern, m->key, m->value, &r->max_wrap);
			break;
		default:
			rc = m->value->type == HCL_STRING ? 0 : perr(c, ml, pattern, "comment must be a string");
			break;
		}
		if (rc != 0)
			return rc;
	}
	if (r->min_wrap > 0 && r->max_wrap > 0 && r->max_wrap < r->min_wrap)
		return perr(c, line, pattern, "max_wrapping_ttl cannot be less than min_wrapping_ttl");
	if (r->caps & ACL_CAP_DENY)
		r->caps = ACL_CAP_DENY;
	return 0;
}

/* A `path` member: HCL `path "p" {..}` (one label), or the unlabelled map
 * form shared by JSON and HCL (`path = { "a" = {..}, "b" = {..} }`). */
static int parse_path_member(struct pctx *c, struct policy *p, const struct hcl_member *m)
{
	int r;
	if (m->nlabels == 1)
		return parse_rule(c, p, m->labels[0], m->value, m->line);
	if (m->nlabels > 1)
		return perr(c, m->line, NULL, "path takes exactly one pattern");
	c->key = m->key;
	if (m->value->type != HCL_OBJECT)
		return perr(c, m->line, NULL, "path must be a block");
	for (size_t i = 0; i < m->value->u.object.len; i++) {
		const struct hcl_member *im = &m->value->u.object.members[i];
		if (im->nlabels != 0)
			return perr(c, im->line ? im->line : m->line, im->key, "unexpected labels");
		if ((r = parse_rule(c, p, im->key, im->value, im->line ? im->line : m->line)) != 0)
			return r;
	}
	return 0;
}

int policy_parse(const char *name, const char *text, size_t len, struct policy **out, struct buf *err)
{
	struct hcl_value *root = NULL;
	struct hcl_error herr;
	struct policy *p = NULL;
	struct pctx c = { text, len, false, NULL, err };
	size_t i = 0;
	int r;

	*out = NULL;
	while (i < len && isspace((unsigned char)text[i]))
		i++;
	c.json = i < len && text[i] == '{';
	r = c.json ? hcl_parse_json(text, len, &root, &herr) : hcl_parse(text, len, &root, &herr);
	if (r != 0) {
		if (err) {
			buf_reset(err);
			buf_printf(err, "line %d: %s", herr.line > 0 ? herr.line : 1, herr.message);
		}
		goto out;
	}
	p = xcalloc(1, sizeof(*p));
	p->name = xstrdup(name ? name : "");
	for (i = 0; i < root->u.object.len; i++) {
		const struct hcl_member *m = &root->u.object.members[i];
		if (strcmp(m->key, "path") == 0) {
			if ((r = parse_path_member(&c, p, m)) != 0)
				goto out;
		} else if (strcmp(m->key, "name") == 0 && m->nlabels == 0 && m->value->type == HCL_STRING) {
			/* informational; the store's name is authoritative */
		} else {
			c.key = m->key;
			r = perr(&c, m->line, NULL, "unknown key \"%s\"", m->key);
			goto out;
		}
	}
	*out = p;
	p = NULL;
	r = 0;
out:
	policy_free(p);
	hcl_free(root);
	return r;
}

/* --- compiled ACL ---------------------------------------------------------- */

static int span_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static struct perm *perm_new(struct acl *a, const char *pattern)
{
	struct perm *p = xcalloc(1, sizeof(*p));
	size_t n = strlen(pattern);
	p->pattern = xstrdup(pattern);
	strlist_init(&p->required);
	p->is_prefix = n > 0 && pattern[n - 1] == '*';
	p->wc_len = p->is_prefix ? n - 1 : n;
	const char *plus = strchr(pattern, '+');
	p->first_wc = plus ? (size_t)(plus - pattern) : p->wc_len;
	/* '+' counts only as a whole segment */
	for (size_t i = 0; i < p->wc_len; i++)
		if (pattern[i] == '+' && (i == 0 || pattern[i - 1] == '/') &&
		    (i + 1 == p->wc_len || pattern[i + 1] == '/'))
			p->wildcards++;
	if (a->nperms == a->perms_cap) {
		a->perms_cap = a->perms_cap ? a->perms_cap * 2 : 16;
		a->perms = xrealloc(a->perms, a->perms_cap * sizeof(*a->perms));
	}
	a->perms[a->nperms++] = p;
	return p;
}

static void perm_free(struct perm *p)
{
	free(p->pattern);
	strlist_release(&p->required);
	json_decref(p->allowed);
	json_decref(p->denied);
	free(p->contribs);
	free(p);
}

/* Vault's merge of parameter maps: a key new to the map is copied; a key
 * that either side leaves open ([]) becomes open; otherwise the value
 * lists are concatenated. */
static void merge_params(json_t **dst, const json_t *src)
{
	const char *k;
	json_t *v;
	if (!src || json_object_size(src) == 0)
		return;
	if (!*dst)
		*dst = json_object();
	json_object_foreach((json_t *)src, k, v) {
		json_t *cur = json_object_get(*dst, k);
		if (!cur)
			json_object_set_new(*dst, k, json_deep_copy(v));
		else if (json_array_size(cur) == 0 || json_array_size(v) == 0)
			json_object_set_new(*dst, k, json_array());
		else
			json_array_extend(cur, v);
	}
}

static void perm_merge(struct perm *p, const struct policy_rule *r, const char *policy)
{
	size_t i;
	if ((p->caps | r->caps) & ACL_CAP_DENY)
		p->caps = ACL_CAP_DENY;
	else
		p->caps |= r->caps;
	for (i = 0; i < r->required.len; i++)
		if (!strlist_contains(&p->required, r->required.items[i]))
			strlist_push(&p->required, r->required.items[i]);
	strlist_sort(&p->required);
	merge_params(&p->allowed, r->allowed);
	merge_params(&p->denied, r->denied);
	if (r->min_wrap > 0 && (p->min_wrap == 0 || r->min_wrap < p->min_wrap))
		p->min_wrap = r->min_wrap;
	if (r->max_wrap > 0 && (p->max_wrap == 0 || r->max_wrap < p->max_wrap))
		p->max_wrap = r->max_wrap;
	for (i = 0; i < p->ncontribs; i++)
		if (p->contribs[i].policy == policy) {
			p->contribs[i].caps |= r->caps;
			return;
		}
	p->contribs = xrealloc(p->contribs, (p->ncontribs + 1) * sizeof(*p->contribs));
	p->contribs[p->ncontribs].policy = policy;
	p->contribs[p->ncontribs].caps = r->caps;
	p->ncontribs++;
}

/* --- the radix tree --- */

static struct rnode *rnode_new(const char *label, size_t len)
{
	struct rnode *n = xcalloc(1, sizeof(*n));
	n->label = xstrndup(label, len);
	n->label_len = len;
	return n;
}

/* Trees can be as deep as their longest pattern, so they are walked with
 * an explicit stack rather than recursion. */
struct ptrstack {
	void **items;
	size_t len;
	size_t cap;
};

static void ptrstack_push(struct ptrstack *st, void *p)
{
	if (st->len == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 32;
		st->items = xrealloc(st->items, st->cap * sizeof(*st->items));
	}
	st->items[st->len++] = p;
}

static void rnode_free(struct rnode *root)
{
	struct ptrstack st = { NULL, 0, 0 };
	if (root)
		ptrstack_push(&st, root);
	while (st.len) {
		struct rnode *n = st.items[--st.len];
		for (size_t i = 0; i < n->nkids; i++)
			ptrstack_push(&st, n->kids[i]);
		free(n->kids);
		free(n->label);
		free(n);
	}
	free(st.items);
}

static size_t rnode_find(const struct rnode *n, unsigned char c, bool *found)
{
	size_t lo = 0, hi = n->nkids;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		unsigned char m = (unsigned char)n->kids[mid]->label[0];
		if (m == c) {
			*found = true;
			return mid;
		}
		if (m < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static void rnode_insert_kid(struct rnode *n, size_t at, struct rnode *kid)
{
	if (n->nkids == n->kids_cap) {
		n->kids_cap = n->kids_cap ? n->kids_cap * 2 : 2;
		n->kids = xrealloc(n->kids, n->kids_cap * sizeof(*n->kids));
	}
	memmove(n->kids + at + 1, n->kids + at, (n->nkids - at) * sizeof(*n->kids));
	n->kids[at] = kid;
	n->nkids++;
}

/* The node for key, created (splitting an edge if needed). */
static struct rnode *radix_node(struct rnode *root, const char *key, size_t len)
{
	struct rnode *n = root;
	while (len > 0) {
		bool found;
		size_t at = rnode_find(n, (unsigned char)key[0], &found);
		if (!found) {
			struct rnode *kid = rnode_new(key, len);
			rnode_insert_kid(n, at, kid);
			return kid;
		}
		struct rnode *kid = n->kids[at];
		size_t common = 0;
		while (common < kid->label_len && common < len && kid->label[common] == key[common])
			common++;
		if (common < kid->label_len) {
			/* split kid's edge at common */
			struct rnode *mid = rnode_new(kid->label, common);
			char *rest = xstrndup(kid->label + common, kid->label_len - common);
			free(kid->label);
			kid->label = rest;
			kid->label_len -= common;
			mid->kids = xmalloc(2 * sizeof(*mid->kids));
			mid->kids[0] = kid;
			mid->nkids = 1;
			mid->kids_cap = 2;
			n->kids[at] = mid;
			kid = mid;
		}
		n = kid;
		key += common;
		len -= common;
	}
	return n;
}

/* One walk: the exact rule for path (if any) and the longest prefix rule. */
static void radix_lookup(const struct rnode *root, const char *path, size_t len, const struct perm **exact,
			 const struct perm **prefix)
{
	const struct rnode *n = root;
	*exact = NULL;
	*prefix = NULL;
	for (;;) {
		if (n->prefix)
			*prefix = n->prefix;
		if (len == 0) {
			*exact = n->exact;
			return;
		}
		bool found;
		size_t at = rnode_find(n, (unsigned char)path[0], &found);
		if (!found)
			return;
		const struct rnode *kid = n->kids[at];
		if (kid->label_len > len || memcmp(kid->label, path, kid->label_len) != 0)
			return;
		path += kid->label_len;
		len -= kid->label_len;
		n = kid;
	}
}

/* --- the '+' segment trie --- */

static void snode_free(struct snode *root)
{
	struct ptrstack st = { NULL, 0, 0 };
	if (root)
		ptrstack_push(&st, root);
	while (st.len) {
		struct snode *n = st.items[--st.len];
		size_t i;
		for (i = 0; i < n->nkids; i++) {
			free(n->kids[i].seg);
			ptrstack_push(&st, n->kids[i].node);
		}
		free(n->kids);
		if (n->plus)
			ptrstack_push(&st, n->plus);
		for (i = 0; i < n->nprefixes; i++)
			free(n->prefixes[i].last);
		free(n->prefixes);
		free(n);
	}
	free(st.items);
}

static size_t skid_find(const struct snode *n, const char *s, size_t len, bool *found)
{
	size_t lo = 0, hi = n->nkids;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = span_cmp(n->kids[mid].seg, n->kids[mid].len, s, len);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static size_t sprefix_find(const struct snode *n, const char *s, size_t len, bool *found)
{
	size_t lo = 0, hi = n->nprefixes;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = span_cmp(n->prefixes[mid].last, n->prefixes[mid].len, s, len);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* The slot for a '+' pattern (is_prefix: the trailing '*' removed). */
static struct perm **seg_slot(struct snode *root, const char *pat, size_t len, bool is_prefix)
{
	struct snode *n = root;
	const char *p = pat, *end = pat + len;
	for (;;) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t slen = slash ? (size_t)(slash - p) : (size_t)(end - p);
		bool found;
		size_t at;
		if (!slash && is_prefix) {
			at = sprefix_find(n, p, slen, &found);
			if (!found) {
				if (n->nprefixes == n->prefixes_cap) {
					n->prefixes_cap = n->prefixes_cap ? n->prefixes_cap * 2 : 2;
					n->prefixes = xrealloc(n->prefixes, n->prefixes_cap * sizeof(*n->prefixes));
				}
				if (slen > n->prefix_maxlen)
					n->prefix_maxlen = slen;
				memmove(n->prefixes + at + 1, n->prefixes + at,
					(n->nprefixes - at) * sizeof(*n->prefixes));
				n->prefixes[at].last = xstrndup(p, slen);
				n->prefixes[at].len = slen;
				n->prefixes[at].perm = NULL;
				n->nprefixes++;
			}
			return &n->prefixes[at].perm;
		}
		struct snode *next;
		if (slen == 1 && p[0] == '+') {
			if (!n->plus)
				n->plus = xcalloc(1, sizeof(*n->plus));
			next = n->plus;
		} else {
			at = skid_find(n, p, slen, &found);
			if (!found) {
				if (n->nkids == n->kids_cap) {
					n->kids_cap = n->kids_cap ? n->kids_cap * 2 : 2;
					n->kids = xrealloc(n->kids, n->kids_cap * sizeof(*n->kids));
				}
				memmove(n->kids + at + 1, n->kids + at, (n->nkids - at) * sizeof(*n->kids));
				n->kids[at].seg = xstrndup(p, slen);
				n->kids[at].len = slen;
				n->kids[at].node = xcalloc(1, sizeof(struct snode));
				n->nkids++;
			}
			next = n->kids[at].node;
		}
		n = next;
		if (!slash)
			return &n->exact;
		p = slash + 1;
	}
}

/* Returns >0 when a outranks b (Vault's documented order). */
static int rank(const struct perm *a, const struct perm *b)
{
	if (a->first_wc != b->first_wc)
		return a->first_wc > b->first_wc ? 1 : -1;
	if (a->is_prefix != b->is_prefix)
		return a->is_prefix ? -1 : 1;
	if (a->wildcards != b->wildcards)
		return a->wildcards < b->wildcards ? 1 : -1;
	if (a->wc_len != b->wc_len)
		return a->wc_len > b->wc_len ? 1 : -1;
	return span_cmp(a->pattern, a->wc_len, b->pattern, b->wc_len);
}

static void consider(const struct perm **best, const struct perm *p)
{
	if (!*best || rank(p, *best) > 0)
		*best = p;
}

static void seg_walk(const struct snode *n, const struct span *segs, size_t nsegs, size_t i,
		     const struct perm **best)
{
	if (i == nsegs) {
		if (n->exact)
			consider(best, n->exact);
		return;
	}
	const struct span s = segs[i];
	if (n->nprefixes) {
		size_t maxl = s.len < n->prefix_maxlen ? s.len : n->prefix_maxlen;
		for (size_t l = 0; l <= maxl; l++) {
			bool found;
			size_t at = sprefix_find(n, s.ptr, l, &found);
			if (found && n->prefixes[at].perm)
				consider(best, n->prefixes[at].perm);
		}
	}
	if (n->nkids) {
		bool found;
		size_t at = skid_find(n, s.ptr, s.len, &found);
		if (found)
			seg_walk(n->kids[at].node, segs, nsegs, i + 1, best);
	}
	if (n->plus)
		seg_walk(n->plus, segs, nsegs, i + 1, best);
}

static const struct perm *seg_lookup(const struct snode *root, const char *path, size_t len)
{
	struct span local[32], *segs = local;
	size_t nsegs = 1, i, k = 0;
	const struct perm *best = NULL;
	const char *start = path;

	for (i = 0; i < len; i++)
		nsegs += path[i] == '/';
	if (nsegs > sizeof(local) / sizeof(local[0]))
		segs = xmalloc(nsegs * sizeof(*segs));
	for (i = 0; i <= len; i++) {
		if (i == len || path[i] == '/') {
			segs[k].ptr = start;
			segs[k].len = (size_t)(path + i - start);
			k++;
			start = path + i + 1;
		}
	}
	seg_walk(root, segs, nsegs, 0, &best);
	if (segs != local)
		free(segs);
	return best;
}

/* --- building --- */

static const char *intern(struct acl *a, const char *name)
{
	for (size_t i = 0; i < a->nnames; i++)
		if (strcmp(a->names[i], name) == 0)
			return a->names[i];
	a->names = xrealloc(a->names, (a->nnames + 1) * sizeof(*a->names));
	a->names[a->nnames] = xstrdup(name);
	return a->names[a->nnames++];
}

struct pending {
	const struct policy_rule *rule;
	const char *policy;
	size_t keylen; /* pattern length without a trailing '*' */
};

/* Segment by segment, each compared as span_cmp does: the order the trie
 * keeps its children in, so sorted rules are appended, never inserted. */
static int seg_order(const void *pa, const void *pb)
{
	const struct pending *x = pa, *y = pb;
	const char *a = x->rule->pattern, *ae = a + x->keylen;
	const char *b = y->rule->pattern, *be = b + y->keylen;
	for (;;) {
		const char *as = memchr(a, '/', (size_t)(ae - a)), *bs = memchr(b, '/', (size_t)(be - b));
		size_t al = as ? (size_t)(as - a) : (size_t)(ae - a), bl = bs ? (size_t)(bs - b) : (size_t)(be - b);
		int c = span_cmp(a, al, b, bl);
		if (c != 0)
			return c;
		if (!as || !bs)
			return (as != NULL) - (bs != NULL);
		a = as + 1;
		b = bs + 1;
	}
}

/* --- identity templates --------------------------------------------------- */

/* A substituted value may not change the shape of the path: empty, '*',
 * '+', '/', "..", '{', '}' and control bytes are refused (acl.h). */
static bool template_value_ok(const char *v)
{
	if (!v || !*v || strstr(v, ".."))
		return false;
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if (*c < 0x20 || *c == 0x7f || *c == '*' || *c == '+' || *c == '/' || *c == '{' || *c == '}')
			return false;
	return true;
}

static const char *json_str_at(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The value of one template expression (without the braces, trimmed), or
 * NULL when it cannot be resolved. */
static const char *template_lookup(const char *expr, const json_t *ident)
{
	const json_t *ent = json_object_get(ident, "entity");
	const json_t *groups = json_object_get(ident, "groups");
	const char *rest;
	size_t i;
	json_t *v;

	if (strncmp(expr, "identity.entity.", 16) == 0 && json_is_object(ent)) {
		rest = expr + 16;
		if (strcmp(rest, "id") == 0 || strcmp(rest, "name") == 0)
			return json_str_at(ent, rest);
		if (strncmp(rest, "metadata.", 9) == 0)
			return json_str_at(json_object_get(ent, "metadata"), rest + 9);
		if (strncmp(rest, "aliases.", 8) == 0) {
			rest += 8;
			const char *dot = strchr(rest, '.');
			if (!dot || dot == rest)
				return NULL;
			json_array_foreach(json_object_get(ent, "aliases"), i, v)
			{
				const char *acc = json_str_at(v, "mount_accessor");
				if (!acc || strlen(acc) != (size_t)(dot - rest) ||
				    strncmp(acc, rest, (size_t)(dot - rest)) != 0)
					continue;
				if (strcmp(dot + 1, "id") == 0 || strcmp(dot + 1, "name") == 0)
					return json_str_at(v, dot + 1);
				if (strncmp(dot + 1, "metadata.", 9) == 0)
					return json_str_at(json_object_get(v, "metadata"), dot + 10);
				return NULL;
			}
		}
		return NULL;
	}
	const char *want, *give, *field;
	if (strncmp(expr, "identity.groups.ids.", 20) == 0) {
		rest = expr + 20, want = "id", give = "name", field = ".name";
	} else if (strncmp(expr, "identity.groups.names.", 22) == 0) {
		rest = expr + 22, want = "name", give = "id", field = ".id";
	} else {
		return NULL;
	}
	size_t rl = strlen(rest), fl = strlen(field);
	if (rl <= fl || strcmp(rest + rl - fl, field) != 0)
		return NULL;
	json_array_foreach(groups, i, v)
	{
		const char *k = json_str_at(v, want);
		if (k && strlen(k) == rl - fl && strncmp(k, rest, rl - fl) == 0)
			return json_str_at(v, give);
	}
	return NULL;
}

char *acl_template_expand(const char *pattern, const json_t *ident)
{
	struct buf out, expr;
	const char *p = pattern, *open;
	char *res = NULL;

	buf_init(&out, BUF_CAP_DEFAULT);
	buf_init(&expr, BUF_CAP_DEFAULT);
	while ((open = strstr(p, "{{")) != NULL) {
		const char *close = strstr(open + 2, "}}");
		if (!close)
			goto out;
		buf_append(&out, p, (size_t)(open - p));
		const char *b = open + 2, *e = close;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		buf_reset(&expr);
		buf_append(&expr, b, (size_t)(e - b));
		const char *v = template_lookup(expr.data ? expr.data : "", ident);
		if (!template_value_ok(v))
			goto out;
		buf_append(&out, v, strlen(v));
		p = close + 2;
	}
	buf_append(&out, p, strlen(p));
	res = xstrdup(out.data ? out.data : "");
out:
	buf_release(&expr);
	buf_release(&out);
	return res;
}

bool policy_has_templates(const struct policy *p)
{
	for (size_t i = 0; p && i < p->nrules; i++)
		if (p->rules[i].templated)
			return true;
	return false;
}

bool acl_has_templates(const struct acl *a)
{
	return a->has_templates;
}

struct acl *acl_new(const struct policy *const *policies, size_t n)
{
	return acl_new_templated(policies, n, NULL);
}

struct acl *acl_new_templated(const struct policy *const *policies, size_t n, const json_t *ident)
{
	struct acl *a = xcalloc(1, sizeof(*a));
	struct pending *todo = NULL;
	struct policy_rule *expanded = NULL;
	size_t ntodo = 0, total = 0, nexp = 0;

	atomic_init(&a->refs, 1);
	a->radix = rnode_new("", 0);
	for (size_t i = 0; i < n; i++) {
		if (policies[i] && strcmp(policies[i]->name, "root") == 0)
			a->root = true;
		if (policies[i])
			total += policies[i]->nrules;
	}
	if (a->root) {
		intern(a, "root");
		return a;
	}
	todo = xmalloc((total ? total : 1) * sizeof(*todo));
	if (ident)
		expanded = xcalloc(total ? total : 1, sizeof(*expanded));
	for (size_t i = 0; i < n; i++) {
		const struct policy *pol = policies[i];
		if (!pol)
			continue;
		const char *pname = intern(a, pol->name);
		for (size_t j = 0; j < pol->nrules; j++) {
			const struct policy_rule *r = &pol->rules[j];
			size_t len = strlen(r->pattern);
			if (r->templated) {
				a->has_templates = true;
				char *pat = ident ? acl_template_expand(r->pattern, ident) : NULL;
				if (!pat)
					continue; /* unresolved or refused: grants nothing */
				expanded[nexp] = *r;
				expanded[nexp].pattern = pat;
				r = &expanded[nexp++];
				len = strlen(pat);
			}
			todo[ntodo].rule = r;
			todo[ntodo].policy = pname;
			todo[ntodo].keylen = len > 0 && r->pattern[len - 1] == '*' ? len - 1 : len;
			ntodo++;
		}
	}
	qsort(todo, ntodo, sizeof(*todo), seg_order);
	for (size_t i = 0; i < ntodo; i++) {
		const struct policy_rule *r = todo[i].rule;
		bool is_prefix = r->pattern[todo[i].keylen] == '*';
		struct perm **slot;
		if (strchr(r->pattern, '+')) {
			if (!a->segs)
				a->segs = xcalloc(1, sizeof(*a->segs));
			slot = seg_slot(a->segs, r->pattern, todo[i].keylen, is_prefix);
		} else {
			struct rnode *node = radix_node(a->radix, r->pattern, todo[i].keylen);
			slot = is_prefix ? &node->prefix : &node->exact;
		}
		if (!*slot)
			*slot = perm_new(a, r->pattern);
		perm_merge(*slot, r, todo[i].policy);
	}
	free(todo);
	for (size_t i = 0; i < nexp; i++)
		free(expanded[i].pattern);
	free(expanded);
	return a;
}

void acl_ref(struct acl *a)
{
	if (a)
		atomic_fetch_add(&a->refs, 1);
}

void acl_release(struct acl *a)
{
	if (!a || atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	rnode_free(a->radix);
	snode_free(a->segs);
	for (size_t i = 0; i < a->nperms; i++)
		perm_free(a->perms[i]);
	free(a->perms);
	for (size_t i = 0; i < a->nnames; i++)
		free(a->names[i]);
	free(a->names);
	free(a);
}

bool acl_is_root(const struct acl *a)
{
	return a && a->root;
}

/* The deciding rule for path, or NULL. list: Vault also lets an exact
 * rule for "p" cover LIST "p/". */
const struct perm *acl_lookup_perm(const struct acl *a, const char *path, bool list)
{
	const struct perm *exact, *prefix, *best;
	while (*path == '/')
		path++;
	size_t len = strlen(path);
	radix_lookup(a->radix, path, len, &exact, &prefix);
	if (exact)
		return exact;
	if (list && len > 0 && path[len - 1] == '/') {
		const struct perm *e2, *p2;
		radix_lookup(a->radix, path, len - 1, &e2, &p2);
		if (e2)
			return e2;
	}
	best = prefix;
	if (a->segs) {
		const struct perm *w = seg_lookup(a->segs, path, len);
		if (w)
			consider(&best, w);
	}
	return best;
}

static bool perm_grants(const struct perm *p)
{
	return !(p->caps & ACL_CAP_DENY) && (p->caps & CAPS_ALL) != 0;
}

static bool rnode_any(const struct rnode *root)
{
	struct ptrstack st = { NULL, 0, 0 };
	bool found = false;
	ptrstack_push(&st, (void *)root);
	while (st.len && !found) {
		const struct rnode *n = st.items[--st.len];
		if ((n->exact && perm_grants(n->exact)) || (n->prefix && perm_grants(n->prefix)))
			found = true;
		for (size_t i = 0; i < n->nkids; i++)
			ptrstack_push(&st, n->kids[i]);
	}
	free(st.items);
	return found;
}

/* Whether a '+' pattern could match some path that starts with prefix. */
static bool seg_could_match(const struct perm *p, const char *prefix)
{
	const char *pp = p->pattern, *pend = p->pattern + p->wc_len;
	const char *s = prefix;
	for (;;) {
		const char *pslash = memchr(pp, '/', (size_t)(pend - pp));
		size_t plen = pslash ? (size_t)(pslash - pp) : (size_t)(pend - pp);
		bool plast = pslash == NULL;
		const char *sslash = strchr(s, '/');
		size_t slen = sslash ? (size_t)(sslash - s) : strlen(s);
		bool splus = plen == 1 && pp[0] == '+';
		if (!sslash) {
			/* s is a partial segment: the path continues it */
			if (splus)
				return true;
			if (plast && p->is_prefix)
				return slen <= plen ? memcmp(pp, s, slen) == 0 : memcmp(s, pp, plen) == 0;
			return slen <= plen && memcmp(pp, s, slen) == 0;
		}
		if (plast && p->is_prefix)
			return splus || (slen >= plen && memcmp(s, pp, plen) == 0);
		if (!splus && (plen != slen || memcmp(pp, s, slen) != 0))
			return false;
		if (plast)
			return false; /* the pattern ends above the prefix */
		pp = pslash + 1;
		s = sslash + 1;
	}
}

bool acl_any_under(const struct acl *a, const char *prefix)
{
	if (!a)
		return false;
	if (a->root)
		return true;
	while (*prefix == '/')
		prefix++;
	if (acl_capabilities(a, prefix) != ACL_CAP_DENY)
		return true;
	/* every radix rule whose pattern starts with prefix */
	const struct rnode *n = a->radix;
	size_t len = strlen(prefix);
	const char *s = prefix;
	while (len > 0) {
		bool found;
		size_t at = rnode_find(n, (unsigned char)s[0], &found);
		if (!found)
			goto segs;
		const struct rnode *kid = n->kids[at];
		size_t m = kid->label_len < len ? kid->label_len : len;
		if (memcmp(kid->label, s, m) != 0)
			goto segs;
		s += m;
		len -= m;
		n = kid;
	}
	if (rnode_any(n))
		return true;
segs:
	for (size_t i = 0; i < a->nperms; i++) {
		const struct perm *p = a->perms[i];
		if (strchr(p->pattern, '+') && perm_grants(p) && seg_could_match(p, prefix))
			return true;
	}
	return false;
}
