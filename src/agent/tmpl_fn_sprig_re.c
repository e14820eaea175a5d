/* tmpl_fn_sprig_re.c — sprig's regular expressions in the sprig dialect:
 * regexMatch, regexFind, regexFindAll, regexReplaceAll(Literal),
 * regexSplit, regexQuoteMeta and their must forms.
 *
 * Go's expressions, matched as Go matches them (lib/rx.h): the same
 * syntax, the leftmost-first match, named groups in replacements. The
 * search's work counts toward the template's bound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "encoding.h"
#include "err.h"
#include "rx.h"
#include "banned.h"

/* A compiled expression and room for its groups' positions. */
struct re {
	struct rx *rx;
	size_t pairs;
	long *m; /* 2 * pairs */
};

static void re_release(struct re *re)
{
	rx_free(re->rx);
	free(re->m);
}

/* Compiles argv[0]: 0; a failure (its type, too much work); or 1 with
 * why[cap] saying why it is not an expression, nothing to release. */
static int compile_quiet(struct texec *e, struct tpos pos, const char *fn, json_t **argv, struct re *re,
                         char *why, size_t cap)
{
	const char *p;
	size_t n;
	int r = tsprig_str_arg(e, pos, fn, argv, 0, &p, &n);
	if (!r)
		r = texec_work(e, pos, n);
	if (r)
		return r;
	if (rx_compile(p, n, &re->rx, why, cap) != 0)
		return 1;
	re->pairs = rx_groups(re->rx) + 1;
	re->m = xcalloc(2 * re->pairs, sizeof(long));
	return 0;
}

/* compile_quiet, with a failure naming fn for a bad expression. */
static int compile(struct texec *e, struct tpos pos, const char *fn, json_t **argv, struct re *re)
{
	char why[256];
	int r = compile_quiet(e, pos, fn, argv, re, why, sizeof(why));
	if (r == 1) {
		const char *p = json_string_value(argv[0]);
		size_t n = json_string_length(argv[0]);
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: error parsing regexp: %s: `%.*s`", fn, why,
		                  (int)(n > 200 ? 200 : n), p);
	}
	return r;
}

/* The first match in s[from..n): 0 with re->m (pair 0 the whole match,
 * -1 for a group that took no part), 1 when there is none. */
static int find(struct texec *e, struct tpos pos, struct re *re, const char *s, size_t n, size_t from)
{
	uint64_t left = e->work < e->work_max ? e->work_max - e->work : 0, before = left;
	int found = rx_find(re->rx, s, n, from, re->m, re->pairs, &left);
	int r = texec_work(e, pos, before - left + (found < 0 ? 1 : 0));
	if (r)
		return r;
	return found == 1 ? 0 : 1;
}

static size_t rune_len(const char *s, size_t n, size_t i)
{
	uint32_t c;
	size_t k = i < n ? utf8_decode((const unsigned char *)s + i, n - i, &c) : 1;
	return k ? k : 1;
}

/* Go's all-matches walk: each match from where the last ended, an empty
 * one right after a match skipped. Calls each(ctx, m) per match; stops
 * after limit (< 0: none). */
static int each_match(struct texec *e, struct tpos pos, struct re *re, const char *s, size_t n, int64_t limit,
                      int (*each)(void *ctx, const struct re *re), void *ctx)
{
	size_t from = 0;
	int64_t count = 0;
	long prev_end = -1;
	while (from <= n && (limit < 0 || count < limit)) {
		int r = find(e, pos, re, s, n, from);
		if (r < 0)
			return r;
		if (r)
			break;
		size_t a = (size_t)re->m[0], z = (size_t)re->m[1];
		bool skip = z == a && (long)a == prev_end;
		if (!skip) {
			if ((r = each(ctx, re)) != 0)
				return r;
			count++;
		}
		prev_end = (long)z;
		from = z > a ? z : (a >= n ? n + 1 : a + rune_len(s, n, a));
	}
	return 0;
}

static int str_at(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t i, const char **s,
                  size_t *n)
{
	return tsprig_str_arg(e, pos, fn, argv, i, s, n);
}

static int match(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool must, json_t **out)
{
	struct re re = {0};
	const char *s;
	size_t n;
	char why[256];
	int r = str_at(e, pos, fn, argv, 1, &s, &n);
	if (r)
		return r;
	if ((r = must ? compile(e, pos, fn, argv, &re)
	              : compile_quiet(e, pos, fn, argv, &re, why, sizeof(why))) != 0) {
		if (r == 1) /* regexMatch: a bad expression matches nothing */
			*out = json_false();
		return r == 1 ? 0 : r;
	}
	r = find(e, pos, &re, s, n, 0);
	re_release(&re);
	if (r < 0)
		return r;
	*out = json_boolean(r == 0);
	return 0;
}

static int fn_regex_match(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return match(e, pos, "regexMatch", argv, false, out);
}

static int fn_must_regex_match(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return match(e, pos, "mustRegexMatch", argv, true, out);
}

struct collect {
	const char *s;
	json_t *list;
};

static int add_match(void *ctx, const struct re *re)
{
	struct collect *c = ctx;
	json_array_append_new(c->list, tval_str(c->s + re->m[0], (size_t)(re->m[1] - re->m[0])));
	return 0;
}

/* regexFind re s: the first match or ""; regexFindAll re s n: up to n
 * matches (n < 0: all). */
static int find_all(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool all, json_t **out)
{
	struct re re = {0};
	const char *s;
	size_t n;
	int64_t limit = 1;
	int r = str_at(e, pos, fn, argv, 1, &s, &n);
	if (!r && all)
		r = tsprig_int_arg(e, pos, fn, argv, 2, &limit);
	if (!r)
		r = compile(e, pos, fn, argv, &re);
	if (r)
		return r;
	struct collect c = {s, json_array()};
	r = limit == 0 ? 0 : each_match(e, pos, &re, s, n, limit, add_match, &c);
	re_release(&re);
	if (r) {
		json_decref(c.list);
		return r;
	}
	if (all) {
		*out = c.list;
		return 0;
	}
	*out = json_array_size(c.list) ? json_incref(json_array_get(c.list, 0)) : tval_str("", 0);
	json_decref(c.list);
	return 0;
}

static int fn_regex_find(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return find_all(e, pos, "regexFind", argv, false, out);
}

static int fn_must_regex_find(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return find_all(e, pos, "mustRegexFind", argv, false, out);
}

static int fn_regex_find_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return find_all(e, pos, "regexFindAll", argv, true, out);
}

static int fn_must_regex_find_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return find_all(e, pos, "mustRegexFindAll", argv, true, out);
}

struct replace {
	const char *s, *repl;
	size_t n, rn, last_end;
	bool literal;
	struct buf *b;
};

static bool name_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Group g's text when it took part. */
static int put_group(struct replace *x, const struct re *re, size_t g)
{
	if (g >= re->pairs || re->m[2 * g] < 0)
		return 0;
	return buf_append(x->b, x->s + re->m[2 * g], (size_t)(re->m[2 * g + 1] - re->m[2 * g]));
}

/* Go's Regexp.Expand of repl for the match in re: $1, ${1}, $name,
 * ${name}, $$; a group that is not there, or took no part, expands to
 * nothing (a name: its first group that took part). */
static int expand(struct replace *x, const struct re *re)
{
	struct buf *b = x->b;
	int r = 0;
	for (size_t i = 0; i < x->rn && !r; i++) {
		if (x->repl[i] != '$' || i + 1 >= x->rn) {
			r = buf_append_byte(b, x->repl[i]);
			continue;
		}
		size_t a = i + 1, z;
		if (x->repl[a] == '$') {
			r = buf_append_byte(b, '$');
			i = a;
			continue;
		}
		bool braced = x->repl[a] == '{';
		if (braced)
			a++;
		for (z = a; z < x->rn && name_byte(x->repl[z]); z++)
			;
		if (z == a || (braced && (z >= x->rn || x->repl[z] != '}'))) { /* malformed: a plain $ */
			r = buf_append_byte(b, '$');
			continue;
		}
		size_t g = 0;
		bool num = true;
		for (size_t k = a; k < z; k++) {
			num = num && x->repl[k] >= '0' && x->repl[k] <= '9';
			if (num && g < 100000)
				g = g * 10 + (size_t)(x->repl[k] - '0');
		}
		if (num) {
			r = put_group(x, re, g);
		} else {
			for (size_t k = 1; k < re->pairs; k++) {
				const char *name = rx_group_name(re->rx, k);
				if (name && strlen(name) == z - a && memcmp(name, x->repl + a, z - a) == 0 &&
				    re->m[2 * k] >= 0) {
					r = put_group(x, re, k);
					break;
				}
			}
		}
		i = braced ? z : z - 1;
	}
	return r;
}

static int add_replacement(void *ctx, const struct re *re)
{
	struct replace *x = ctx;
	size_t a = (size_t)re->m[0];
	int r = buf_append(x->b, x->s + x->last_end, a - x->last_end);
	if (!r)
		r = x->literal ? buf_append(x->b, x->repl, x->rn) : expand(x, re);
	x->last_end = (size_t)re->m[1];
	return r ? TROVE_ERR_TOO_LARGE : 0;
}

/* regexReplaceAll re s repl (Literal: repl as it is). */
static int replace_all(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool literal,
                       json_t **out)
{
	struct re re = {0};
	struct buf b;
	struct replace x = {.literal = literal, .b = &b};
	int r = str_at(e, pos, fn, argv, 1, &x.s, &x.n);
	if (!r)
		r = str_at(e, pos, fn, argv, 2, &x.repl, &x.rn);
	if (!r)
		r = compile(e, pos, fn, argv, &re);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	r = each_match(e, pos, &re, x.s, x.n, -1, add_replacement, &x);
	re_release(&re);
	if (!r)
		r = buf_append(&b, x.s + x.last_end, x.n - x.last_end);
	if (!r)
		r = texec_work(e, pos, b.len);
	if (r) {
		buf_release_secret(&b);
		return e->err ? r : texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "%s: result too large", fn);
	}
	return tfn_give(e, pos, &b, 0, out);
}

static int fn_regex_replace_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return replace_all(e, pos, "regexReplaceAll", argv, false, out);
}

static int fn_must_regex_replace_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc,
                                     json_t **out)
{
	(void)argc;
	return replace_all(e, pos, "mustRegexReplaceAll", argv, false, out);
}

static int fn_regex_replace_all_literal(struct texec *e, struct tpos pos, json_t **argv, size_t argc,
                                        json_t **out)
{
	(void)argc;
	return replace_all(e, pos, "regexReplaceAllLiteral", argv, true, out);
}

static int fn_must_regex_replace_all_literal(struct texec *e, struct tpos pos, json_t **argv, size_t argc,
                                             json_t **out)
{
	(void)argc;
	return replace_all(e, pos, "mustRegexReplaceAllLiteral", argv, true, out);
}

struct split {
	const char *s;
	json_t *list;
	size_t beg, end;
	int64_t limit;
};

static int add_piece(void *ctx, const struct re *re)
{
	struct split *x = ctx;
	const long *m = re->m;
	if (x->limit > 0 && (int64_t)json_array_size(x->list) == x->limit - 1)
		return 0;
	x->end = (size_t)m[0];
	if (m[1] != 0)
		json_array_append_new(x->list, tval_str(x->s + x->beg, x->end - x->beg));
	x->beg = (size_t)m[1];
	return 0;
}

/* regexSplit re s n: Go's Regexp.Split. */
static int split(struct texec *e, struct tpos pos, const char *fn, json_t **argv, json_t **out)
{
	struct re re = {0};
	const char *s;
	size_t n;
	int64_t limit;
	int r = str_at(e, pos, fn, argv, 1, &s, &n);
	if (!r)
		r = tsprig_int_arg(e, pos, fn, argv, 2, &limit);
	if (!r)
		r = compile(e, pos, fn, argv, &re);
	if (r)
		return r;
	struct split x = {s, json_array(), 0, 0, limit};
	if (limit != 0 && n == 0 && json_string_length(argv[0]) > 0) {
		json_array_append_new(x.list, tval_str("", 0));
	} else if (limit != 0) {
		r = each_match(e, pos, &re, s, n, limit, add_piece, &x);
		if (!r && x.end != n)
			json_array_append_new(x.list, tval_str(s + x.beg, n - x.beg));
	}
	re_release(&re);
	if (r) {
		json_decref(x.list);
		return r;
	}
	*out = x.list;
	return 0;
}

static int fn_regex_split(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return split(e, pos, "regexSplit", argv, out);
}

static int fn_must_regex_split(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return split(e, pos, "mustRegexSplit", argv, out);
}

static int fn_regex_quote_meta(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *s;
	size_t n;
	struct buf b;
	(void)argc;
	int r = str_at(e, pos, "regexQuoteMeta", argv, 0, &s, &n);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	for (size_t i = 0; i < n && !r; i++) {
		if (s[i] && strchr("\\.+*?()|[]{}^$", s[i]))
			r = buf_append_byte(&b, '\\');
		if (!r)
			r = buf_append_byte(&b, s[i]);
	}
	return tfn_give(e, pos, &b, r, out);
}

const struct tfunc tfunc_sprig_re[] = {
    {"regexMatch", 2, 2, fn_regex_match},
    {"mustRegexMatch", 2, 2, fn_must_regex_match},
    {"regexFind", 2, 2, fn_regex_find},
    {"mustRegexFind", 2, 2, fn_must_regex_find},
    {"regexFindAll", 3, 3, fn_regex_find_all},
    {"mustRegexFindAll", 3, 3, fn_must_regex_find_all},
    {"regexReplaceAll", 3, 3, fn_regex_replace_all},
    {"mustRegexReplaceAll", 3, 3, fn_must_regex_replace_all},
    {"regexReplaceAllLiteral", 3, 3, fn_regex_replace_all_literal},
    {"mustRegexReplaceAllLiteral", 3, 3, fn_must_regex_replace_all_literal},
    {"regexSplit", 3, 3, fn_regex_split},
    {"mustRegexSplit", 3, 3, fn_must_regex_split},
    {"regexQuoteMeta", 1, 1, fn_regex_quote_meta},
};
const size_t tfunc_sprig_re_count = sizeof(tfunc_sprig_re) / sizeof(tfunc_sprig_re[0]);
