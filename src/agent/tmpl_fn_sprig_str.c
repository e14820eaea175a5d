/* tmpl_fn_sprig_str.c — sprig's string functions in the sprig dialect:
 * trimming, case, repeat, substr, trunc, abbrev, the tests (contains,
 * hasPrefix, hasSuffix), quote, squote, cat, indent, nindent, replace,
 * plural, split and join, toStrings, sortAlpha, nospace, initials. Go's
 * argument order: the string last, so `{{ .x | trimAll "-" }}` works. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "encoding.h"
#include "err.h"
#include "banned.h"

/* unicode.IsSpace */
static bool is_uspace(uint32_t c)
{
	switch (c) {
	case ' ':
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case 0x85:
	case 0xA0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202F:
	case 0x205F:
	case 0x3000:
		return true;
	default:
		return c >= 0x2000 && c <= 0x200A;
	}
}

/* The rune at s[i] (n bytes in all): its length (at least 1) and *c. */
static size_t rune_at(const char *s, size_t n, size_t i, uint32_t *c)
{
	size_t k = utf8_decode((const unsigned char *)s + i, n - i, c);
	return k ? k : 1;
}

/* The last rune before s[n]: its length. */
static size_t rune_before(const char *s, size_t n, uint32_t *c)
{
	size_t start = n - 1;
	while (start > 0 && n - start < 4 && ((unsigned char)s[start] & 0xc0) == 0x80)
		start--;
	size_t k = utf8_decode((const unsigned char *)s + start, n - start, c);
	if (k != n - start) { /* not one whole sequence: a lone byte */
		*c = 0xFFFD;
		return 1;
	}
	return k;
}

static bool in_cutset(const char *cut, size_t cn, uint32_t c)
{
	for (size_t i = 0; i < cn;) {
		uint32_t x;
		i += rune_at(cut, cn, i, &x);
		if (x == c)
			return true;
	}
	return false;
}

/* strings.Trim(s, cutset) (cut NULL: strings.TrimSpace). */
static json_t *trim(const char *s, size_t n, const char *cut, size_t cn)
{
	while (n > 0) {
		uint32_t c;
		size_t k = rune_at(s, n, 0, &c);
		if (cut ? !in_cutset(cut, cn, c) : !is_uspace(c))
			break;
		s += k, n -= k;
	}
	while (n > 0) {
		uint32_t c;
		size_t k = rune_before(s, n, &c);
		if (cut ? !in_cutset(cut, cn, c) : !is_uspace(c))
			break;
		n -= k;
	}
	return tval_str(s, n);
}

static int fn_trim(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *s;
	size_t n;
	(void)argc;
	int r = tsprig_str_arg(e, pos, "trim", argv, 0, &s, &n);
	if (!r)
		*out = trim(s, n, NULL, 0);
	return r;
}

static int trim_all(struct texec *e, struct tpos pos, const char *fn, json_t **argv, json_t **out)
{
	const char *cut, *s;
	size_t cn, n;
	int r = tsprig_str_arg(e, pos, fn, argv, 0, &cut, &cn);
	if (!r)
		r = tsprig_str_arg(e, pos, fn, argv, 1, &s, &n);
	if (!r)
		r = texec_work(e, pos, (uint64_t)n * (cn + 1));
	if (!r)
		*out = trim(s, n, cut, cn);
	return r;
}

static int fn_trim_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return trim_all(e, pos, "trimAll", argv, out);
}

static int fn_trimall(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return trim_all(e, pos, "trimall", argv, out);
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

static int fn_upper(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return tfn_case_map(e, pos, "upper", argv[0], 1, out);
}

static int fn_lower(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return tfn_case_map(e, pos, "lower", argv[0], 0, out);
}

static int fn_title(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return tfn_case_map(e, pos, "title", argv[0], 3, out);
}

static int fn_swapcase(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return tfn_case_map(e, pos, "swapcase", argv[0], 4, out);
}

/* untitle, initials: per word (words split by Unicode spaces), the first
 * rune lowered (untitle, the rest kept) or kept alone (initials). */
static int per_word(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool initials,
                    json_t **out)
{
	const char *s;
	size_t n;
	struct buf b;
	int r = tsprig_str_arg(e, pos, fn, argv, 0, &s, &n);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	bool gap = true;
	for (size_t i = 0; i < n && !r;) {
		uint32_t c;
		size_t k = rune_at(s, n, i, &c);
		bool space = is_uspace(c);
		if (!space && gap)
			r = c >= 'A' && c <= 'Z' && !initials ? buf_append_byte(&b, (char)(c - 'A' + 'a'))
			                                      : buf_append(&b, s + i, k);
		else if (!initials)
			r = buf_append(&b, s + i, k);
		gap = space;
		i += k;
	}
	return tfn_give(e, pos, &b, r, out);
}

static int fn_untitle(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return per_word(e, pos, "untitle", argv, false, out);
}

static int fn_initials(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return per_word(e, pos, "initials", argv, true, out);
}

static int fn_nospace(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *s;
	size_t n;
	struct buf b;
	(void)argc;
	int r = tsprig_str_arg(e, pos, "nospace", argv, 0, &s, &n);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	for (size_t i = 0; i < n && !r;) {
		uint32_t c;
		size_t k = rune_at(s, n, i, &c);
		if (!is_uspace(c))
			r = buf_append(&b, s + i, k);
		i += k;
	}
	return tfn_give(e, pos, &b, r, out);
}

/* An int then a string argument. */
static int int_str(struct texec *e, struct tpos pos, const char *fn, json_t **argv, int64_t *x,
                   const char **s, size_t *n)
{
	int r = tsprig_int_arg(e, pos, fn, argv, 0, x);
	return r ? r : tsprig_str_arg(e, pos, fn, argv, 1, s, n);
}

/* Whether a result of count copies of n bytes plus extra stays within the
 * output bound; it is counted as work. */
static int fits(struct texec *e, struct tpos pos, const char *fn, uint64_t count, uint64_t n, uint64_t extra)
{
	if ((n && count > TMPL_OUT_MAX / n) || count * n + extra > TMPL_OUT_MAX)
		return texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "%s: the result would be over %zu bytes", fn,
		                  TMPL_OUT_MAX);
	return texec_work(e, pos, count * n + extra);
}

static int fn_repeat(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t count;
	const char *s;
	size_t n;
	struct buf b;
	(void)argc;
	int r = int_str(e, pos, "repeat", argv, &count, &s, &n);
	if (r)
		return r;
	if (count < 0)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "repeat: negative count %lld", (long long)count);
	if ((r = fits(e, pos, "repeat", (uint64_t)count, n, 0)) != 0)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	for (int64_t i = 0; i < count && !r && n; i++)
		r = buf_append(&b, s, n);
	return tfn_give(e, pos, &b, r, out);
}

static int bounds(struct texec *e, struct tpos pos, const char *fn, int64_t lo, int64_t hi, size_t n)
{
	if (lo < 0 || hi < lo || (uint64_t)hi > n)
		return texec_fail(e, pos, TROVE_ERR_INVALID,
		                  "%s: slice bounds out of range [%lld:%lld] of %zu bytes", fn, (long long)lo,
		                  (long long)hi, n);
	return 0;
}

/* substr start end s: s[start:end]; a negative start is 0, a negative or
 * too large end is the end. Byte offsets, as sprig's. */
static int fn_substr(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t a, z;
	const char *s;
	size_t n;
	(void)argc;
	int r = tsprig_int_arg(e, pos, "substr", argv, 0, &a);
	if (!r)
		r = tsprig_int_arg(e, pos, "substr", argv, 1, &z);
	if (!r)
		r = tsprig_str_arg(e, pos, "substr", argv, 2, &s, &n);
	if (r)
		return r;
	if (a < 0)
		a = 0;
	else if (z < 0 || (uint64_t)z > n)
		z = (int64_t)n;
	if ((r = bounds(e, pos, "substr", a, z, n)) != 0)
		return r;
	*out = tval_str(s + a, (size_t)(z - a));
	return 0;
}

/* trunc c s: the first c bytes, or for a negative c the last -c. */
static int fn_trunc(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t c;
	const char *s;
	size_t n;
	(void)argc;
	int r = int_str(e, pos, "trunc", argv, &c, &s, &n);
	if (r)
		return r;
	if (c < 0 && (int64_t)n + c > 0)
		s += (int64_t)n + c, n = (size_t)-c;
	else if (c >= 0 && n > (uint64_t)c)
		n = (size_t)c;
	*out = tval_str(s, n);
	return 0;
}

/* abbrev width s: s cut to width bytes, the last three "...". */
static int fn_abbrev(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t w;
	const char *s;
	size_t n;
	struct buf b;
	(void)argc;
	int r = int_str(e, pos, "abbrev", argv, &w, &s, &n);
	if (r)
		return r;
	if (w < 4 || n <= (uint64_t)w) {
		*out = tval_str(s, n);
		return 0;
	}
	buf_init_secret(&b, TMPL_OUT_MAX);
	r = buf_append(&b, s, (size_t)w - 3);
	if (!r)
		r = buf_append_str(&b, "...");
	return tfn_give(e, pos, &b, r, out);
}

static int str_test(struct texec *e, struct tpos pos, const char *fn, json_t **argv, int how, json_t **out)
{
	const char *a, *s;
	size_t an, n;
	int r = tsprig_str_arg(e, pos, fn, argv, 0, &a, &an);
	if (!r)
		r = tsprig_str_arg(e, pos, fn, argv, 1, &s, &n);
	if (r)
		return r;
	bool yes;
	if (how == 0)
		yes = an == 0 || memmem(s, n, a, an) != NULL;
	else
		yes = an <= n && memcmp(how == 1 ? s : s + n - an, a, an) == 0;
	*out = json_boolean(yes);
	return 0;
}

static int fn_contains(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return str_test(e, pos, "contains", argv, 0, out);
}

static int fn_has_prefix(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return str_test(e, pos, "hasPrefix", argv, 1, out);
}

static int fn_has_suffix(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return str_test(e, pos, "hasSuffix", argv, 2, out);
}

/* quote, squote, cat: each argument but nil ones, joined by spaces. */
static int each_arg(struct texec *e, struct tpos pos, json_t **argv, size_t argc, int how, json_t **out)
{
	struct buf b, v;
	int r = 0;
	bool first = true;
	buf_init_secret(&b, TMPL_OUT_MAX);
	for (size_t i = 0; i < argc && !r; i++) {
		if (json_is_null(argv[i]))
			continue;
		if (!first)
			r = buf_append_byte(&b, ' ');
		first = false;
		if (r)
			break;
		if (how == 0) { /* quote: %q of the value's text */
			buf_init_secret(&v, TMPL_OUT_MAX);
			r = tsprig_strval(e, pos, &v, argv[i]);
			if (!r)
				r = tfmt_quote(&b, v.data ? v.data : "", v.len);
			buf_release_secret(&v);
		} else if (how == 1) { /* squote: '%v' */
			r = buf_append_byte(&b, '\'');
			if (!r)
				r = tsprig_strval(e, pos, &b, argv[i]);
			if (!r)
				r = buf_append_byte(&b, '\'');
		} else {
			r = tsprig_strval(e, pos, &b, argv[i]);
		}
	}
	return tfn_give(e, pos, &b, r, out);
}

static int fn_quote(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return each_arg(e, pos, argv, argc, 0, out);
}

static int fn_squote(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return each_arg(e, pos, argv, argc, 1, out);
}

static int fn_cat(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return each_arg(e, pos, argv, argc, 2, out);
}

/* indent n s: n spaces before the text and after each newline (empty lines
 * too); nindent: a newline first. */
static int indent(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool nl, json_t **out)
{
	int64_t w;
	const char *s;
	size_t n, lines = 1;
	struct buf b;
	int r = int_str(e, pos, fn, argv, &w, &s, &n);
	if (r)
		return r;
	if (w < 0)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: negative count %lld", fn, (long long)w);
	for (size_t i = 0; i < n; i++)
		lines += s[i] == '\n';
	if ((r = fits(e, pos, fn, lines, (uint64_t)w, n + nl)) != 0)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	if (nl)
		r = buf_append_byte(&b, '\n');
	for (size_t i = 0; i <= n && !r; i++) {
		if (i == 0 || s[i - 1] == '\n')
			for (int64_t k = 0; k < w && !r; k++)
				r = buf_append_byte(&b, ' ');
		if (!r && i < n)
			r = buf_append_byte(&b, s[i]);
	}
	return tfn_give(e, pos, &b, r, out);
}

static int fn_indent(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return indent(e, pos, "indent", argv, false, out);
}

static int fn_nindent(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return indent(e, pos, "nindent", argv, true, out);
}

static int fn_replace(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return tfn_replace(e, pos, "replace", argv, out);
}

static int fn_plural(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *one, *many;
	int64_t count;
	(void)argc;
	int r = tsprig_str_arg(e, pos, "plural", argv, 0, &one, NULL);
	if (!r)
		r = tsprig_str_arg(e, pos, "plural", argv, 1, &many, NULL);
	if (!r)
		r = tsprig_int_arg(e, pos, "plural", argv, 2, &count);
	if (!r)
		*out = json_incref(argv[count == 1 ? 0 : 1]);
	return r;
}

/* strings.SplitN(s, sep, limit) (limit < 0: no limit) as a list. */
static int split_list(struct texec *e, struct tpos pos, const char *sep, size_t sn, const char *s, size_t n,
                      int64_t limit, json_t **out)
{
	json_t *l = json_array();
	size_t start = 0;
	if (limit == 0) {
		*out = l;
		return 0;
	}
	for (size_t i = 0; i < n && (limit < 0 || (int64_t)json_array_size(l) < limit - 1);) {
		if (sn == 0) { /* each UTF-8 sequence */
			uint32_t c;
			size_t k = rune_at(s, n, i, &c);
			json_array_append_new(l, tval_str(s + i, k));
			i += k;
			start = i;
		} else if (n - i >= sn && memcmp(s + i, sep, sn) == 0) {
			json_array_append_new(l, tval_str(s + start, i - start));
			i += sn;
			start = i;
		} else {
			i++;
		}
	}
	if (sn > 0 || start < n)
		json_array_append_new(l, tval_str(s + start, n - start));
	*out = l;
	return texec_work(e, pos, json_array_size(l));
}

static int split_args(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t si,
                      const char **sep, size_t *sn, const char **s, size_t *n)
{
	int r = tsprig_str_arg(e, pos, fn, argv, 0, sep, sn);
	return r ? r : tsprig_str_arg(e, pos, fn, argv, si, s, n);
}

static int fn_split_list(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *sep, *s;
	size_t sn, n;
	(void)argc;
	int r = split_args(e, pos, "splitList", argv, 1, &sep, &sn, &s, &n);
	return r ? r : split_list(e, pos, sep, sn, s, n, -1, out);
}

/* split and splitn: the pieces as a map, keys "_0", "_1", ... */
static int split_map(struct texec *e, struct tpos pos, const char *sep, size_t sn, const char *s, size_t n,
                     int64_t limit, json_t **out)
{
	json_t *l = NULL;
	int r = split_list(e, pos, sep, sn, s, n, limit, &l);
	if (r)
		return r;
	*out = json_object();
	for (size_t i = 0; i < json_array_size(l); i++) {
		char k[32];
		snprintf(k, sizeof(k), "_%zu", i);
		json_object_set(*out, k, json_array_get(l, i));
	}
	json_decref(l);
	return 0;
}

static int fn_split(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *sep, *s;
	size_t sn, n;
	(void)argc;
	int r = split_args(e, pos, "split", argv, 1, &sep, &sn, &s, &n);
	return r ? r : split_map(e, pos, sep, sn, s, n, -1, out);
}

static int fn_splitn(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *sep, *s;
	size_t sn, n;
	int64_t limit;
	(void)argc;
	int r = split_args(e, pos, "splitn", argv, 2, &sep, &sn, &s, &n);
	if (!r)
		r = tsprig_int_arg(e, pos, "splitn", argv, 1, &limit);
	return r ? r : split_map(e, pos, sep, sn, s, n, limit, out);
}

/* sprig's strslice: a list's elements as strings, nil ones left out; nil
 * is no strings, any other value its own text. */
static int strslice(struct texec *e, struct tpos pos, json_t *v, json_t **out)
{
	struct buf b;
	int r = 0;
	*out = json_array();
	if (json_is_null(v))
		return 0;
	size_t n = json_is_array(v) ? json_array_size(v) : 1;
	for (size_t i = 0; i < n && !r; i++) {
		json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
		if (json_is_null(x))
			continue;
		buf_init_secret(&b, TMPL_OUT_MAX);
		r = tsprig_strval(e, pos, &b, x);
		if (!r)
			json_array_append_new(*out, tval_str(b.data ? b.data : "", b.len));
		if (!r)
			r = texec_work(e, pos, b.len + 1);
		buf_release_secret(&b);
	}
	if (r) {
		json_decref(*out);
		*out = NULL;
		return e->err ? r : texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "a value too large or too deep");
	}
	return 0;
}

static int fn_to_strings(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return strslice(e, pos, argv[0], out);
}

static int cmp_str(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	size_t xn = json_string_length(x), yn = json_string_length(y);
	int c = memcmp(json_string_value(x), json_string_value(y), xn < yn ? xn : yn);
	return c ? c : (xn > yn) - (xn < yn);
}

static int fn_sort_alpha(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	json_t *l = NULL;
	(void)argc;
	if (!json_is_array(argv[0])) /* not a list: its own text, alone */
		return strslice(e, pos, argv[0], out);
	int r = strslice(e, pos, argv[0], &l);
	if (r)
		return r;
	size_t n = json_array_size(l);
	json_t **items = xcalloc(n ? n : 1, sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(l, i));
	qsort(items, n, sizeof(*items), cmp_str);
	*out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(*out, items[i]);
	free(items);
	json_decref(l);
	return texec_work(e, pos, n);
}

static int fn_join(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *sep;
	size_t sn;
	json_t *l = NULL;
	struct buf b;
	(void)argc;
	int r = tsprig_str_arg(e, pos, "join", argv, 0, &sep, &sn);
	if (!r)
		r = strslice(e, pos, argv[1], &l);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	for (size_t i = 0; i < json_array_size(l) && !r; i++) {
		json_t *v = json_array_get(l, i);
		if (i > 0)
			r = buf_append(&b, sep, sn);
		if (!r)
			r = buf_append(&b, json_string_value(v), json_string_length(v));
	}
	json_decref(l);
	return tfn_give(e, pos, &b, r, out);
}

const struct tfunc tfunc_sprig_str[] = {
    {"trim", 1, 1, fn_trim},
    {"trimAll", 2, 2, fn_trim_all},
    {"trimall", 2, 2, fn_trimall},
    {"trimPrefix", 2, 2, fn_trim_prefix},
    {"trimSuffix", 2, 2, fn_trim_suffix},
    {"upper", 1, 1, fn_upper},
    {"lower", 1, 1, fn_lower},
    {"title", 1, 1, fn_title},
    {"swapcase", 1, 1, fn_swapcase},
    {"untitle", 1, 1, fn_untitle},
    {"initials", 1, 1, fn_initials},
    {"nospace", 1, 1, fn_nospace},
    {"repeat", 2, 2, fn_repeat},
    {"substr", 3, 3, fn_substr},
    {"trunc", 2, 2, fn_trunc},
    {"abbrev", 2, 2, fn_abbrev},
    {"contains", 2, 2, fn_contains},
    {"hasPrefix", 2, 2, fn_has_prefix},
    {"hasSuffix", 2, 2, fn_has_suffix},
    {"quote", 0, -1, fn_quote},
    {"squote", 0, -1, fn_squote},
    {"cat", 0, -1, fn_cat},
    {"indent", 2, 2, fn_indent},
    {"nindent", 2, 2, fn_nindent},
    {"replace", 3, 3, fn_replace},
    {"plural", 3, 3, fn_plural},
    {"splitList", 2, 2, fn_split_list},
    {"split", 2, 2, fn_split},
    {"splitn", 3, 3, fn_splitn},
    {"toStrings", 1, 1, fn_to_strings},
    {"sortAlpha", 1, 1, fn_sort_alpha},
    {"join", 2, 2, fn_join},
};
const size_t tfunc_sprig_str_count = sizeof(tfunc_sprig_str) / sizeof(tfunc_sprig_str[0]);
