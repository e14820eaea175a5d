/* tmpl_fn_sprig_re.c — sprig's regular expressions in the sprig dialect:
 * regexMatch, regexFind, regexFindAll, regexReplaceAll(Literal),
 * regexSplit, regexQuoteMeta and their must forms.
 *
 * Go's are RE2; these are POSIX extended expressions (the C library's),
 * with RE2's common escapes translated: \d \D, and \n \t \r \f \v; \w \W
 * \s \S \b \B are the C library's own; inside brackets \d \w \s and the
 * character escapes stand for their characters; a leading (?i) ignores
 * case. Differences that remain (docs/operator.md): POSIX picks the
 * leftmost-longest match where RE2 picks the leftmost-first, and there are
 * no lazy repetitions, named groups or other (?flags). Backreferences (not
 * RE2) are refused, and so are counted repetitions multiplying past
 * REPEAT_MAX, so that no expression is slow or huge. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "err.h"
#include "banned.h"

#define PATTERN_MAX 4096
#define REPEAT_MAX 10000
#define GROUPS_MAX 10

struct re {
	regex_t rx;
	size_t plen;
};

/* RE2 text to POSIX ERE in b; a static reason when it cannot be. */
static const char *translate(const char *p, size_t n, struct buf *b, bool *icase)
{
	bool in_br = false;
	uint64_t product = 1;
	*icase = false;
	if (n >= 4 && memcmp(p, "(?i)", 4) == 0)
		p += 4, n -= 4, *icase = true;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\0')
			return "a NUL byte";
		if (in_br) {
			if (c == ']' &&
			    !(i > 0 && (p[i - 1] == '[' || (p[i - 1] == '^' && i > 1 && p[i - 2] == '['))))
				in_br = false;
			if (c == '\\' && i + 1 < n) {
				const char *cls = NULL;
				switch (p[++i]) {
				case 'd':
					cls = "0-9";
					break;
				case 'w':
					cls = "0-9A-Za-z_";
					break;
				case 's':
					cls = "\t\n\f\r ";
					break;
				case 'n':
					cls = "\n";
					break;
				case 't':
					cls = "\t";
					break;
				case 'r':
					cls = "\r";
					break;
				case 'f':
					cls = "\f";
					break;
				case 'v':
					cls = "\v";
					break;
				default:
					if ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z'))
						return "an escape Trove's expressions do not have inside "
						       "brackets";
					if (p[i] == ']' || p[i] == '-' ||
					    p[i] == '^') /* POSIX has no escapes there */
						return "an escaped ], - or ^ inside brackets (put ] first, - "
						       "last, ^ not first)";
					(void)buf_append_byte(b, p[i]);
					continue;
				}
				(void)buf_append_str(b, cls);
				continue;
			}
			(void)buf_append_byte(b, c);
			continue;
		}
		if (c == '[') {
			in_br = true;
			(void)buf_append_byte(b, c);
			continue;
		}
		if (c == '{') { /* counted repetition: bounded, as RE2's */
			char *end = NULL;
			unsigned long lo = strtoul(p + i + 1, &end, 10), hi = lo;
			if (end && *end == ',' && end[1] >= '0' && end[1] <= '9')
				hi = strtoul(end + 1, &end, 10);
			if (lo > 1000 || hi > 1000)
				return "a repetition count over 1000";
			product *= hi ? hi : 1;
			if (product > REPEAT_MAX)
				return "counted repetitions multiplying past 10000";
		}
		if (c == '\\' && i + 1 < n) {
			char d = p[++i];
			const char *t = NULL;
			switch (d) {
			case 'd':
				t = "[0-9]";
				break;
			case 'D':
				t = "[^0-9]";
				break;
			case 'n':
				t = "\n";
				break;
			case 't':
				t = "\t";
				break;
			case 'r':
				t = "\r";
				break;
			case 'f':
				t = "\f";
				break;
			case 'v':
				t = "\v";
				break;
			default:
				if (d >= '1' && d <= '9')
					return "a backreference (RE2 has none)";
				if (((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z')) &&
				    !strchr("wWsSbB", d))
					return "an escape Trove's expressions do not have (\\A, \\z, \\x, "
					       "\\p...)";
				(void)buf_append_byte(b, '\\');
				(void)buf_append_byte(b, d);
				continue;
			}
			(void)buf_append_str(b, t);
			continue;
		}
		(void)buf_append_byte(b, c);
	}
	return NULL;
}

/* Compiles argv[0]: 0; a failure (its type, too much work); or 1 with
 * why[cap] saying why it is not an expression, nothing recorded. */
static int compile_quiet(struct texec *e, struct tpos pos, const char *fn, json_t **argv, struct re *re,
                         char *why, size_t cap)
{
	const char *p;
	size_t n;
	struct buf b;
	bool icase;
	int r = tsprig_str_arg(e, pos, fn, argv, 0, &p, &n);
	if (!r)
		r = texec_work(e, pos, n);
	if (r)
		return r;
	if (n > PATTERN_MAX) {
		snprintf(why, cap, "over %d bytes", PATTERN_MAX);
		return 1;
	}
	buf_init(&b, 8 * PATTERN_MAX + 64);
	const char *bad = translate(p, n, &b, &icase);
	if (bad) {
		snprintf(why, cap, "%s", bad);
		r = 1;
	} else {
		(void)buf_append_byte(&b, '\0');
		int rc = regcomp(&re->rx, b.data, REG_EXTENDED | (icase ? REG_ICASE : 0));
		if (rc != 0) {
			regerror(rc, NULL, why, cap);
			r = 1;
		}
	}
	buf_release(&b);
	re->plen = n;
	return r;
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

/* The first match in s[from..n): 0 with m (m[0] the whole match, -1 for an
 * unmatched group), 1 when there is none. */
static int find(struct texec *e, struct tpos pos, struct re *re, const char *s, size_t n, size_t from,
                regmatch_t m[GROUPS_MAX])
{
	int r = texec_work(e, pos, (uint64_t)(n - from + 1) * (1 + re->plen / 16));
	if (r)
		return r;
	m[0].rm_so = (regoff_t)from;
	m[0].rm_eo = (regoff_t)n;
	if (regexec(&re->rx, s, GROUPS_MAX, m, REG_STARTEND | (from > 0 ? REG_NOTBOL : 0)) != 0)
		return 1;
	return 0;
}

static size_t rune_len(const char *s, size_t n, size_t i)
{
	uint32_t c;
	size_t k = i < n ? tfmt_rune((const unsigned char *)s + i, n - i, &c) : 1;
	return k ? k : 1;
}

/* Go's all-matches walk: each match from where the last ended, an empty
 * one right after a match skipped. Calls each(ctx, m) per match; stops
 * after limit (< 0: none). */
static int each_match(struct texec *e, struct tpos pos, struct re *re, const char *s, size_t n, int64_t limit,
                      int (*each)(void *ctx, const regmatch_t *m), void *ctx)
{
	size_t from = 0;
	int64_t count = 0;
	long prev_end = -1;
	regmatch_t m[GROUPS_MAX];
	while (from <= n && (limit < 0 || count < limit)) {
		int r = find(e, pos, re, s, n, from, m);
		if (r < 0)
			return r;
		if (r)
			break;
		size_t a = (size_t)m[0].rm_so, z = (size_t)m[0].rm_eo;
		bool skip = z == a && (long)a == prev_end;
		if (!skip) {
			if ((r = each(ctx, m)) != 0)
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
	struct re re;
	const char *s;
	size_t n;
	regmatch_t m[GROUPS_MAX];
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
	r = find(e, pos, &re, s, n, 0, m);
	regfree(&re.rx);
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

static int add_match(void *ctx, const regmatch_t *m)
{
	struct collect *c = ctx;
	json_array_append_new(c->list, tval_str(c->s + m[0].rm_so, (size_t)(m[0].rm_eo - m[0].rm_so)));
	return 0;
}

/* regexFind re s: the first match or ""; regexFindAll re s n: up to n
 * matches (n < 0: all). */
static int find_all(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool all, json_t **out)
{
	struct re re;
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
	regfree(&re.rx);
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

/* Go's Regexp.Expand of repl for match m: $1, ${1}, $$; a name that is
 * not a group number (no named groups here) expands to nothing. */
static int expand(struct replace *x, const regmatch_t *m)
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
			if (num && g < 1000)
				g = g * 10 + (size_t)(x->repl[k] - '0');
		}
		if (num && g < GROUPS_MAX && m[g].rm_so >= 0)
			r = buf_append(b, x->s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
		i = braced ? z : z - 1;
	}
	return r;
}

static int add_replacement(void *ctx, const regmatch_t *m)
{
	struct replace *x = ctx;
	size_t a = (size_t)m[0].rm_so;
	int r = buf_append(x->b, x->s + x->last_end, a - x->last_end);
	if (!r)
		r = x->literal ? buf_append(x->b, x->repl, x->rn) : expand(x, m);
	x->last_end = (size_t)m[0].rm_eo;
	return r ? TROVE_ERR_TOO_LARGE : 0;
}

/* regexReplaceAll re s repl (Literal: repl as it is). */
static int replace_all(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool literal,
                       json_t **out)
{
	struct re re;
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
	regfree(&re.rx);
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

static int add_piece(void *ctx, const regmatch_t *m)
{
	struct split *x = ctx;
	if (x->limit > 0 && (int64_t)json_array_size(x->list) == x->limit - 1)
		return 0;
	x->end = (size_t)m[0].rm_so;
	if (m[0].rm_eo != 0)
		json_array_append_new(x->list, tval_str(x->s + x->beg, x->end - x->beg));
	x->beg = (size_t)m[0].rm_eo;
	return 0;
}

/* regexSplit re s n: Go's Regexp.Split. */
static int split(struct texec *e, struct tpos pos, const char *fn, json_t **argv, json_t **out)
{
	struct re re;
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
	regfree(&re.rx);
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
