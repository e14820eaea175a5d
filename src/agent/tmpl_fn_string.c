/* tmpl_fn_string.c — consul-template's string functions: trimming,
 * split and join, replaceAll, case, indent, and the contains family. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "err.h"
#include "secure.h"
#include "banned.h"

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void tfn_trim_space(const char **s, size_t *n)
{
	while (*n > 0 && is_space((unsigned char)(*s)[0]))
		(*s)++, (*n)--;
	while (*n > 0 && is_space((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static int fn_trim_space(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	TFN_STR1("trimSpace");
	tfn_trim_space(&s, &n);
	*out = tval_str(s, n);
	return 0;
}

static int str2(struct texec *e, struct tpos pos, const char *fn, json_t **argv, const char **a, size_t *an,
                const char **b, size_t *bn)
{
	int r = targ_str(e, pos, fn, argv[0], a, an);
	return r ? r : targ_str(e, pos, fn, argv[1], b, bn);
}

static int fn_trim(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *cut, *s;
	size_t cn, n;
	(void)argc;
	int r = str2(e, pos, "trim", argv, &cut, &cn, &s, &n);
	if (r)
		return r;
	while (n > 0 && memchr(cut, s[0], cn))
		s++, n--;
	while (n > 0 && memchr(cut, s[n - 1], cn))
		n--;
	*out = tval_str(s, n);
	return 0;
}

int tfn_trim_affix(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool suffix, json_t **out)
{
	const char *p, *s;
	size_t pn, n;
	int r = str2(e, pos, fn, argv, &p, &pn, &s, &n);
	if (r)
		return r;
	if (pn <= n && memcmp(suffix ? s + n - pn : s, p, pn) == 0) {
		if (!suffix)
			s += pn;
		n -= pn;
	}
	*out = tval_str(s, n);
	return 0;
}

static int fn_trim_prefix(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return tfn_trim_affix(e, pos, "trimPrefix", argv, false, out);
}

static int fn_trim_suffix(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return tfn_trim_affix(e, pos, "trimSuffix", argv, true, out);
}

static size_t u8next(const char *s, size_t n, size_t i)
{
	i++;
	while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
		i++;
	return i;
}

static int fn_split(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *sep, *s;
	size_t sn, n;
	(void)argc;
	int r = str2(e, pos, "split", argv, &sep, &sn, &s, &n);
	if (r)
		return r;
	tfn_trim_space(&s, &n);
	*out = json_array();
	if (n == 0)
		return 0;
	size_t start = 0, count = 0;
	for (size_t i = 0; i < n;) {
		if (sn == 0) {
			size_t j = u8next(s, n, i);
			json_array_append_new(*out, tval_str(s + i, j - i));
			i = j;
			count++;
			continue;
		}
		if (n - i >= sn && memcmp(s + i, sep, sn) == 0) {
			json_array_append_new(*out, tval_str(s + start, i - start));
			i += sn;
			start = i;
			count++;
		} else {
			i++;
		}
	}
	if (sn > 0) {
		json_array_append_new(*out, tval_str(s + start, n - start));
		count++;
	}
	return texec_work(e, pos, count);
}

static int fn_join(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *sep;
	size_t sn;
	struct buf b;
	(void)argc;
	int r = targ_str(e, pos, "join", argv[0], &sep, &sn);
	if (r)
		return r;
	if (!json_is_array(argv[1]))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "join: the second argument is of type %s, not a list",
		                  json_is_null(argv[1]) ? "<nil>" : tval_type(argv[1]));
	buf_init_secret(&b, TMPL_OUT_MAX);
	for (size_t i = 0; i < json_array_size(argv[1]) && !r; i++) {
		json_t *v = json_array_get(argv[1], i);
		if (!json_is_string(v)) {
			buf_release_secret(&b);
			return texec_fail(e, pos, TROVE_ERR_INVALID, "join: element %zu is %s, not a string", i,
			                  tval_type(v));
		}
		if (i > 0)
			r = buf_append(&b, sep, sn);
		if (!r)
			r = buf_append(&b, json_string_value(v), json_string_length(v));
	}
	return tfn_give(e, pos, &b, r, out);
}

int tfn_replace(struct texec *e, struct tpos pos, const char *name, json_t **argv, json_t **out)
{
	const char *f, *t, *s;
	size_t fn, tn, n;
	struct buf b;
	int r = str2(e, pos, name, argv, &f, &fn, &t, &tn);
	if (!r)
		r = targ_str(e, pos, name, argv[2], &s, &n);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	if (fn == 0) { /* Go: the new text before each rune and at the end */
		for (size_t i = 0; i < n && !r;) {
			size_t j = u8next(s, n, i);
			r = buf_append(&b, t, tn);
			if (!r)
				r = buf_append(&b, s + i, j - i);
			i = j;
		}
		if (!r)
			r = buf_append(&b, t, tn);
	} else {
		for (size_t i = 0; i < n && !r;) {
			if (n - i >= fn && memcmp(s + i, f, fn) == 0) {
				r = buf_append(&b, t, tn);
				i += fn;
			} else {
				r = buf_append_byte(&b, s[i++]);
			}
		}
	}
	if (!r)
		r = texec_work(e, pos, b.len);
	if (r) {
		buf_release_secret(&b);
		return e->err ? r : texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "%s: result too large", name);
	}
	return tfn_give(e, pos, &b, 0, out);
}

static int fn_replace_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return tfn_replace(e, pos, "replaceAll", argv, out);
}

int tfn_case_map(struct texec *e, struct tpos pos, const char *fn, json_t *v, int mode, json_t **out)
{
	const char *s;
	size_t n;
	int r = targ_str(e, pos, fn, v, &s, &n);
	if (r)
		return r;
	char *t = xmalloc(n + 1);
	bool in_word = false; /* an apostrophe inside a word ("don't") does not end it */
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		            (unsigned char)c >= 0x80;
		if (mode == 4) /* swap */
			c = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
		else if (mode == 0 && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if ((mode == 1 || (mode >= 2 && !in_word)) && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		t[i] = c;
		if (!(c == '\'' && in_word && mode != 3)) /* mode 3: Go's strings.Title exactly */
			in_word = word;
	}
	*out = tval_str(t, n);
	secure_free(t, n + 1);
	return 0;
}

static int fn_to_lower(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return tfn_case_map(e, pos, "toLower", argv[0], 0, out);
}

static int fn_to_upper(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return tfn_case_map(e, pos, "toUpper", argv[0], 1, out);
}

static int fn_to_title(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return tfn_case_map(e, pos, "toTitle", argv[0], 2, out);
}

static int fn_indent(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t spaces;
	const char *s;
	size_t n;
	struct buf b;
	(void)argc;
	int r = targ_int(e, pos, "indent", argv[0], &spaces);
	if (!r)
		r = targ_str(e, pos, "indent", argv[1], &s, &n);
	if (r)
		return r;
	if (spaces < 0)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "indent: indent value must be a positive integer");
	if (spaces > 1000)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "indent: indent over 1000 spaces");
	buf_init_secret(&b, TMPL_OUT_MAX);
	bool line_start = true;
	for (size_t i = 0; i < n && !r; i++) {
		if (line_start && s[i] != '\n')
			for (int64_t k = 0; k < spaces && !r; k++)
				r = buf_append_byte(&b, ' ');
		if (!r)
			r = buf_append_byte(&b, s[i]);
		line_start = s[i] == '\n';
	}
	if (!r)
		r = texec_work(e, pos, b.len);
	if (r) {
		buf_release_secret(&b);
		return e->err ? r : texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "indent: result too large");
	}
	return tfn_give(e, pos, &b, 0, out);
}

/* consul-template's in(l, v): v an element of the list l, or a substring
 * of the string l. */
static bool contains_value(const json_t *l, const json_t *v)
{
	if (json_is_array(l)) {
		for (size_t i = 0; i < json_array_size(l); i++) {
			const json_t *x = json_array_get(l, i);
			if (json_is_integer(x) && json_is_integer(v) && json_integer_value(x) == json_integer_value(v))
				return true;
			if (json_is_real(x) && json_is_real(v) && json_real_value(x) == json_real_value(v))
				return true;
			if (json_is_string(x) && json_is_string(v) && json_string_length(x) == json_string_length(v) &&
			    memcmp(json_string_value(x), json_string_value(v), json_string_length(v)) == 0)
				return true;
		}
		return false;
	}
	if (json_is_string(l) && json_is_string(v)) {
		size_t n = json_string_length(v);
		if (n == 0)
			return true;
		return memmem(json_string_value(l), json_string_length(l), json_string_value(v), n) != NULL;
	}
	return false;
}

static int fn_contains(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	*out = json_boolean(contains_value(argv[1], argv[0]));
	return texec_work(e, pos, json_is_array(argv[1]) ? json_array_size(argv[1]) : json_string_length(argv[1]));
}

static int fn_in(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	*out = json_boolean(contains_value(argv[0], argv[1]));
	return texec_work(e, pos, json_is_array(argv[0]) ? json_array_size(argv[0]) : json_string_length(argv[0]));
}

/* containsAll, containsAny, containsNone, containsNotAll (consul-template's
 * containsSomeFunc(ret_true, invert)). */
static int contains_some(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool ret_true, bool invert,
                         json_t **out)
{
	if (json_is_null(argv[0])) { /* a nil list holds nothing */
		*out = json_boolean(ret_true);
		return 0;
	}
	if (!json_is_array(argv[0]))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: the first argument is of type %s, not a list",
		                  fn, json_is_null(argv[0]) ? "<nil>" : tval_type(argv[0]));
	size_t n = json_array_size(argv[0]);
	int r = texec_work(e, pos, n * (json_is_array(argv[1]) ? json_array_size(argv[1]) + 1 : 1));
	if (r)
		return r;
	for (size_t i = 0; i < n; i++)
		if (contains_value(argv[1], json_array_get(argv[0], i)) != invert) {
			*out = json_boolean(!ret_true);
			return 0;
		}
	*out = json_boolean(ret_true);
	return 0;
}

static int fn_contains_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return contains_some(e, pos, "containsAll", argv, true, true, out);
}

static int fn_contains_any(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return contains_some(e, pos, "containsAny", argv, false, false, out);
}

static int fn_contains_none(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return contains_some(e, pos, "containsNone", argv, true, false, out);
}

static int fn_contains_not_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return contains_some(e, pos, "containsNotAll", argv, false, true, out);
}

const struct tfunc tfunc_string[] = {
	{ "trimSpace", 1, 1, fn_trim_space },
	{ "trim", 2, 2, fn_trim },
	{ "trimPrefix", 2, 2, fn_trim_prefix },
	{ "trimSuffix", 2, 2, fn_trim_suffix },
	{ "split", 2, 2, fn_split },
	{ "join", 2, 2, fn_join },
	{ "replaceAll", 3, 3, fn_replace_all },
	{ "toLower", 1, 1, fn_to_lower },
	{ "toUpper", 1, 1, fn_to_upper },
	{ "toTitle", 1, 1, fn_to_title },
	{ "indent", 2, 2, fn_indent },
	{ "contains", 2, 2, fn_contains },
	{ "in", 2, 2, fn_in },
	{ "containsAll", 2, 2, fn_contains_all },
	{ "containsAny", 2, 2, fn_contains_any },
	{ "containsNone", 2, 2, fn_contains_none },
	{ "containsNotAll", 2, 2, fn_contains_not_all },
};
const size_t tfunc_string_count = sizeof(tfunc_string) / sizeof(tfunc_string[0]);
