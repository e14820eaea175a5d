/* kubernetes_yaml.c — the YAML a namespace selector may be written in, as
 * Vault's plugin accepts it (it reads the selector as YAML or JSON).
 *
 * Only the YAML a label selector needs: block mappings and sequences by
 * indentation (spaces), "- key: value" items, flow collections on one
 * line ([a, b], {k: v}), plain, single- and double-quoted scalars, and
 * comments. Every scalar becomes a string (the selector's values are all
 * strings). Anchors, aliases, tags, block scalars, multi-line flow
 * collections, tabs in indentation and duplicate keys are refused with a
 * reason rather than guessed at. The input is bounded by the caller
 * (K8S_SELECTOR_MAX); nesting is capped at YAML_DEPTH. */
#include <stdlib.h>
#include <string.h>

#include "kubernetes.h"

#include "err.h"

#include "banned.h"

#define YAML_DEPTH 16

struct yline {
	const char *p; /* the content after the indentation */
	size_t len;    /* without comment and trailing blanks */
	size_t indent;
};

struct yp {
	struct yline *l;
	size_t n, i;
	const char *why;
	int depth;
};

static bool fail(struct yp *y, const char *why)
{
	if (!y->why)
		y->why = why;
	return false;
}

/* --- scalars and flow collections (one line) --------------------------------- */

static bool indicator(char c)
{
	return strchr("&*!|>%@`", c) != NULL;
}

/* A quoted scalar at s[*pos] (the quote), up to its closing quote. */
static json_t *quoted(struct yp *y, const char *s, size_t n, size_t *pos)
{
	char q = s[*pos];
	struct buf b;
	buf_init(&b, n + 1);
	for (size_t i = *pos + 1; i < n; i++) {
		char c = s[i];
		if (q == '\'' && c == '\'') {
			if (i + 1 < n && s[i + 1] == '\'') {
				buf_append_byte(&b, '\'');
				i++;
				continue;
			}
			*pos = i + 1;
			json_t *v = json_stringn(b.data ? b.data : "", b.len);
			buf_release(&b);
			return v ? v : (fail(y, "a string is not valid UTF-8"), NULL);
		}
		if (q == '"' && c == '"') {
			*pos = i + 1;
			json_t *v = json_stringn(b.data ? b.data : "", b.len);
			buf_release(&b);
			return v ? v : (fail(y, "a string is not valid UTF-8"), NULL);
		}
		if (q == '"' && c == '\\') {
			static const char from[] = "\"\\/ntr", to[] = "\"\\/\n\t\r";
			const char *e = i + 1 < n && s[i + 1] ? strchr(from, s[i + 1]) : NULL;
			if (!e) {
				buf_release(&b);
				fail(y, "a double-quoted string has an escape other than \\\" \\\\ \\/ \\n "
				        "\\t \\r");
				return NULL;
			}
			buf_append_byte(&b, to[e - from]);
			i++;
			continue;
		}
		buf_append_byte(&b, c);
	}
	buf_release(&b);
	fail(y, "a quoted string is not closed on its line");
	return NULL;
}

static void skip_blank(const char *s, size_t n, size_t *pos)
{
	while (*pos < n && (s[*pos] == ' ' || s[*pos] == '\t'))
		(*pos)++;
}

/* A plain scalar in a flow collection: up to one of stops. */
static json_t *plain(struct yp *y, const char *s, size_t n, size_t *pos, const char *stops)
{
	size_t start = *pos, end;
	if (start < n && indicator(s[start]))
		return fail(y, "YAML anchors, aliases, tags and block scalars are not supported"), NULL;
	while (*pos < n && !strchr(stops, s[*pos]))
		(*pos)++;
	end = *pos;
	while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
		end--;
	if (end == start)
		return fail(y, "an empty value in a flow collection"), NULL;
	json_t *v = json_stringn(s + start, end - start);
	return v ? v : (fail(y, "a string is not valid UTF-8"), NULL);
}

static json_t *flow_value(struct yp *y, const char *s, size_t n, size_t *pos, const char *stops);

static json_t *flow_seq(struct yp *y, const char *s, size_t n, size_t *pos)
{
	json_t *a = json_array();
	(*pos)++; /* '[' */
	skip_blank(s, n, pos);
	if (*pos < n && s[*pos] == ']') {
		(*pos)++;
		return a;
	}
	for (;;) {
		skip_blank(s, n, pos);
		if (*pos >= n) {
			fail(y, "a flow sequence is not closed on its line");
			break;
		}
		json_t *v = flow_value(y, s, n, pos, ",]");
		if (!v)
			break;
		json_array_append_new(a, v);
		skip_blank(s, n, pos);
		if (*pos < n && s[*pos] == ',') {
			(*pos)++;
			continue;
		}
		if (*pos < n && s[*pos] == ']') {
			(*pos)++;
			return a;
		}
		fail(y, "a flow sequence is not closed on its line");
		break;
	}
	json_decref(a);
	return NULL;
}

static json_t *flow_map(struct yp *y, const char *s, size_t n, size_t *pos)
{
	json_t *o = json_object();
	(*pos)++; /* '{' */
	skip_blank(s, n, pos);
	if (*pos < n && s[*pos] == '}') {
		(*pos)++;
		return o;
	}
	for (;;) {
		skip_blank(s, n, pos);
		if (*pos >= n) {
			fail(y, "a flow mapping is not closed on its line");
			break;
		}
		json_t *k = *pos < n && (s[*pos] == '"' || s[*pos] == '\'') ? quoted(y, s, n, pos)
		                                                            : plain(y, s, n, pos, ":,}");
		if (!k)
			break;
		skip_blank(s, n, pos);
		if (*pos >= n || s[*pos] != ':') {
			json_decref(k);
			fail(y, "a flow mapping's key has no ':'");
			break;
		}
		(*pos)++;
		json_t *v = flow_value(y, s, n, pos, ",}");
		if (!v || json_object_get(o, json_string_value(k))) {
			json_decref(k);
			json_decref(v);
			fail(y, "a mapping has a key twice");
			break;
		}
		json_object_set_new(o, json_string_value(k), v);
		json_decref(k);
		skip_blank(s, n, pos);
		if (*pos < n && s[*pos] == ',') {
			(*pos)++;
			continue;
		}
		if (*pos < n && s[*pos] == '}') {
			(*pos)++;
			return o;
		}
		fail(y, "a flow mapping is not closed on its line");
		break;
	}
	json_decref(o);
	return NULL;
}

static json_t *flow_value(struct yp *y, const char *s, size_t n, size_t *pos, const char *stops)
{
	json_t *v;
	skip_blank(s, n, pos);
	if (*pos >= n)
		return fail(y, "a value is missing"), NULL;
	if (++y->depth > YAML_DEPTH)
		return fail(y, "the selector is nested too deeply"), NULL;
	if (s[*pos] == '[')
		v = flow_seq(y, s, n, pos);
	else if (s[*pos] == '{')
		v = flow_map(y, s, n, pos);
	else if (s[*pos] == '"' || s[*pos] == '\'')
		v = quoted(y, s, n, pos);
	else
		v = plain(y, s, n, pos, stops);
	y->depth--;
	return v;
}

static size_t key_colon(const char *s, size_t n);

/* The value written after "key:" or "- " on one line: all of it. */
static json_t *inline_value(struct yp *y, const char *s, size_t n)
{
	size_t pos = 0;
	json_t *v;
	if (s[0] == '[' || s[0] == '{' || s[0] == '"' || s[0] == '\'') {
		v = flow_value(y, s, n, &pos, "");
		skip_blank(s, n, &pos);
		if (v && pos != n) {
			json_decref(v);
			return fail(y, "text follows a value on its line"), NULL;
		}
		return v;
	}
	if (key_colon(s, n) < n)
		return fail(y, "a plain value holds \": \" (quote it)"), NULL;
	return plain(y, s, n, &pos, "");
}

/* --- blocks ------------------------------------------------------------------- */

/* Where the line's "key:" ends: the offset of the ':' that is followed by
 * a blank or the end, outside quotes and brackets; or n when none. */
static size_t key_colon(const char *s, size_t n)
{
	char q = 0;
	int nest = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (q) {
			if (c == q)
				q = 0;
		} else if (c == '"' || c == '\'') {
			if (i == 0)
				q = c;
		} else if (c == '[' || c == '{') {
			nest++;
		} else if (c == ']' || c == '}') {
			nest--;
		} else if (c == ':' && nest == 0 && (i + 1 == n || s[i + 1] == ' ')) {
			return i;
		}
	}
	return n;
}

static bool is_item(const struct yline *l)
{
	return l->p[0] == '-' && (l->len == 1 || l->p[1] == ' ');
}

static json_t *block(struct yp *y, size_t indent);

/* The value of a "key:" or "-" with nothing after it on its line: the
 * block below it, more indented; or a sequence at the key's own
 * indentation (YAML allows "key:\n- a"). */
static json_t *nested(struct yp *y, size_t indent, bool allow_same_seq)
{
	if (y->i < y->n && y->l[y->i].indent > indent)
		return block(y, y->l[y->i].indent);
	if (allow_same_seq && y->i < y->n && y->l[y->i].indent == indent && is_item(&y->l[y->i]))
		return block(y, indent);
	return fail(y, "a key or item has no value"), NULL;
}

static json_t *seq_block(struct yp *y, size_t indent)
{
	json_t *a = json_array();
	while (y->i < y->n && y->l[y->i].indent == indent && is_item(&y->l[y->i])) {
		struct yline *l = &y->l[y->i];
		size_t off = 1;
		while (off < l->len && l->p[off] == ' ')
			off++;
		json_t *v;
		if (off == l->len) {
			y->i++;
			v = nested(y, indent, false);
		} else if (key_colon(l->p + off, l->len - off) < l->len - off) {
			/* "- key: value": a mapping whose first line is this one,
			 * its keys aligned with "key". */
			l->p += off;
			l->len -= off;
			l->indent += off;
			v = block(y, l->indent);
		} else {
			v = inline_value(y, l->p + off, l->len - off);
			y->i++;
		}
		if (!v) {
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a, v);
	}
	return a;
}

static json_t *map_block(struct yp *y, size_t indent)
{
	json_t *o = json_object();
	while (y->i < y->n && y->l[y->i].indent == indent && !is_item(&y->l[y->i])) {
		const struct yline *l = &y->l[y->i];
		size_t c = key_colon(l->p, l->len), pos = 0;
		json_t *k = NULL, *v = NULL;
		if (c == l->len) {
			fail(y, "a line in a mapping is not \"key: value\"");
			goto bad;
		}
		k = l->p[0] == '"' || l->p[0] == '\'' ? quoted(y, l->p, c, &pos)
		                                      : plain(y, l->p, c, &pos, "");
		if (!k)
			goto bad;
		skip_blank(l->p, c, &pos);
		if (pos != c) {
			fail(y, "a key is malformed");
			goto bad;
		}
		if (json_object_get(o, json_string_value(k))) {
			fail(y, "a mapping has a key twice");
			goto bad;
		}
		size_t vs = c + 1;
		while (vs < l->len && l->p[vs] == ' ')
			vs++;
		if (vs == l->len) {
			y->i++;
			v = nested(y, indent, true);
		} else {
			v = inline_value(y, l->p + vs, l->len - vs);
			y->i++;
		}
		if (!v)
			goto bad;
		json_object_set_new(o, json_string_value(k), v);
		json_decref(k);
		continue;
	bad:
		json_decref(k);
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *block(struct yp *y, size_t indent)
{
	json_t *v;
	if (++y->depth > YAML_DEPTH)
		return fail(y, "the selector is nested too deeply"), NULL;
	v = is_item(&y->l[y->i]) ? seq_block(y, indent) : map_block(y, indent);
	y->depth--;
	if (v && y->i < y->n && y->l[y->i].indent > indent) {
		json_decref(v);
		return fail(y, "a line is indented more than its block"), NULL;
	}
	return v;
}

/* Splits text into content lines: indentation counted, comments and
 * trailing blanks cut, blank lines and a leading "---" dropped. */
static bool split_lines(struct yp *y, const char *text, size_t len)
{
	size_t cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	y->l = xcalloc(cap, sizeof(*y->l));
	for (size_t start = 0; start < len;) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len, i = start;
		while (i < end && text[i] == ' ')
			i++;
		if (i < end && text[i] == '\t')
			return fail(y, "tabs may not indent YAML");
		/* cut a comment: '#' at the start or after a blank, outside quotes */
		char q = 0;
		size_t e = i;
		for (; e < end; e++) {
			char c = text[e];
			if (q) {
				if (c == q)
					q = 0;
			} else if ((c == '"' || c == '\'') && (e == i || strchr(" \t[{,:", text[e - 1]))) {
				q = c;
			} else if (c == '#' && (e == i || text[e - 1] == ' ' || text[e - 1] == '\t')) {
				break;
			}
		}
		while (e > i && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r'))
			e--;
		bool marker = y->n == 0 && e - i == 3 && memcmp(text + i, "---", 3) == 0 && i == start;
		if (e > i && !marker) {
			for (size_t k = i; k < e; k++)
				if ((unsigned char)text[k] < 0x20 && text[k] != '\t')
					return fail(y, "the selector holds a control character");
			y->l[y->n++] = (struct yline){text + i, e - i, i - start};
		}
		start = end + 1;
	}
	return y->n > 0 || fail(y, "the selector is empty");
}

int k8s_yaml_parse(const char *text, size_t len, json_t **out, const char **why)
{
	struct yp y = {0};
	json_t *v = NULL;

	*out = NULL;
	if (split_lines(&y, text, len)) {
		v = y.l[0].p[0] == '{' && y.n == 1 ? inline_value(&y, y.l[0].p, y.l[0].len)
		                                   : block(&y, y.l[0].indent);
		if (v && y.i < y.n && !(y.l[0].p[0] == '{' && y.n == 1)) {
			json_decref(v);
			v = NULL;
			fail(&y, "a line is indented less than the first");
		}
		if (v && !json_is_object(v)) {
			json_decref(v);
			v = NULL;
			fail(&y, "a selector is a mapping");
		}
	}
	free(y.l);
	if (!v) {
		*why = y.why ? y.why : "not a selector";
		return TROVE_ERR_INVALID;
	}
	*out = v;
	return 0;
}
