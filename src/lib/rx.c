/* rx.c — Go's regular expressions (rx.h): a parser to a tree, a compiler
 * to a program, and a Pike machine that runs it.
 *
 * The program's instructions: RUNE, CLASS, ANY and ANYNL consume one rune;
 * SPLIT (x preferred to y) and JMP branch; SAVE records a position in a
 * capture slot; ASSERT tests an empty-width condition; MATCH ends a
 * thread. A counted repetition is compiled as copies, so the program's
 * size, bounded by RX_INST_MAX, is the whole cost of an expression. */
#include "rx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "encoding.h"
#include "strconv.h"
#include "banned.h"

#define RUNE_MAX 0x10ffffu

struct range {
	uint32_t lo, hi;
};

/* A set of runes: ranges, sorted and merged by set_normalize. */
struct set {
	struct range *r;
	size_t n, cap;
};

enum node_kind { N_EMPTY, N_LIT, N_CLASS, N_ANY, N_ANYNL, N_ASSERT, N_CAT, N_ALT, N_CAP, N_REP };
enum assert_kind { A_BOT, A_EOT, A_BOL, A_EOL, A_WORD, A_NOTWORD };

struct node {
	enum node_kind kind;
	uint32_t arg;      /* N_LIT: the rune; N_ASSERT: its kind; N_CAP: the group */
	int min, max;      /* N_REP: max -1 when unbounded */
	bool greedy;       /* N_REP */
	struct set set;    /* N_CLASS */
	long range_off;    /* N_CLASS: where its ranges went in the program, -1 before */
	struct node **kid; /* N_CAT, N_ALT; N_CAP and N_REP have one */
	size_t nkid, kcap;
};

enum { F_ICASE = 1, F_MULTI = 2, F_DOTNL = 4, F_UNGREEDY = 8 };

struct parser {
	const char *p;
	size_t n, i;
	int flags;
	unsigned ngroups;
	const char *err;
	char **names; /* by group, as they are met */
	size_t namecap;
	struct node **all; /* every node made, to free */
	size_t nall, allcap;
};

enum op { OP_RUNE, OP_CLASS, OP_ANY, OP_ANYNL, OP_SPLIT, OP_JMP, OP_SAVE, OP_ASSERT, OP_MATCH };

struct inst {
	uint8_t op;
	uint32_t x, y; /* RUNE: rune; CLASS: ranges at x, y of them; SPLIT: x then
	                  y; JMP: x; SAVE: slot x; ASSERT: kind x */
};

struct rx {
	struct inst *prog;
	size_t ninst, icap;
	struct range *ranges;
	size_t nranges, rcap;
	size_t ngroups;
	char **names; /* ngroups + 1; NULL for a group with no name */
	bool skip;    /* a match must start with one of the bytes in first */
	bool first[256];
};

/* ---- Rune sets --------------------------------------------------------- */

static void set_add(struct set *s, uint32_t lo, uint32_t hi)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->r = xrealloc(s->r, s->cap * sizeof(*s->r));
	}
	s->r[s->n++] = (struct range){lo, hi};
}

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void set_normalize(struct set *s)
{
	size_t k = 0;
	if (s->n == 0)
		return;
	qsort(s->r, s->n, sizeof(*s->r), range_cmp);
	for (size_t i = 1; i < s->n; i++) {
		if (s->r[i].lo <= s->r[k].hi + 1) {
			if (s->r[i].hi > s->r[k].hi)
				s->r[k].hi = s->r[i].hi;
		} else {
			s->r[++k] = s->r[i];
		}
	}
	s->n = k + 1;
}

/* The runes not in s (normalized first). */
static void set_negate(struct set *s)
{
	struct set out = {0};
	uint32_t next = 0;
	set_normalize(s);
	for (size_t i = 0; i < s->n; i++) {
		if (s->r[i].lo > next)
			set_add(&out, next, s->r[i].lo - 1);
		next = s->r[i].hi + 1;
	}
	if (next <= RUNE_MAX)
		set_add(&out, next, RUNE_MAX);
	free(s->r);
	*s = out;
}

/* Adds the other case of every ASCII letter in s. */
static void set_fold(struct set *s)
{
	size_t n = s->n;
	for (size_t i = 0; i < n; i++) {
		uint32_t lo = s->r[i].lo, hi = s->r[i].hi;
		if (lo <= 'Z' && hi >= 'A')
			set_add(s, (lo > 'A' ? lo : 'A') + 32, (hi < 'Z' ? hi : 'Z') + 32);
		if (lo <= 'z' && hi >= 'a')
			set_add(s, (lo > 'a' ? lo : 'a') - 32, (hi < 'z' ? hi : 'z') - 32);
	}
}

/* A named class's ranges, as "lohi" pairs of bytes; NULL when unknown. */
static const char *class_table(const char *name, size_t n)
{
	static const struct {
		const char *name, *ranges;
	} t[] = {
	    {"d", "09"},           {"s", "\t\n\f\r  "},   {"w", "09AZaz__"},   {"alnum", "09AZaz"},
	    {"alpha", "AZaz"},     {"ascii", "\x01\x7f"}, {"blank", "\t\t  "}, {"cntrl", "\x01\x1f\x7f\x7f"},
	    {"digit", "09"},       {"graph", "!~"},       {"lower", "az"},     {"print", " ~"},
	    {"punct", "!/:@[`{~"}, {"space", "\t\r  "},   {"upper", "AZ"},     {"word", "09AZaz__"},
	    {"xdigit", "09AFaf"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strlen(t[i].name) == n && memcmp(t[i].name, name, n) == 0)
			return t[i].ranges;
	return NULL;
}

/* Adds a named class (or, negated, what it leaves out) to s. NUL is in
 * ascii and cntrl: the table cannot hold it, so it is added here. */
static void set_add_class(struct set *s, const char *name, size_t n, const char *ranges, bool negate)
{
	struct set c = {0};
	for (size_t i = 0; ranges[i]; i += 2)
		set_add(&c, (unsigned char)ranges[i], (unsigned char)ranges[i + 1]);
	if ((n == 5 && memcmp(name, "ascii", 5) == 0) || (n == 5 && memcmp(name, "cntrl", 5) == 0))
		set_add(&c, 0, 0);
	if (negate)
		set_negate(&c);
	for (size_t i = 0; i < c.n; i++)
		set_add(s, c.r[i].lo, c.r[i].hi);
	free(c.r);
}

/* ---- Parser ------------------------------------------------------------ */

static struct node *mk(struct parser *ps, enum node_kind kind)
{
	struct node *nd = xcalloc(1, sizeof(*nd));
	nd->kind = kind;
	nd->range_off = -1;
	if (ps->nall == ps->allcap) {
		ps->allcap = ps->allcap ? 2 * ps->allcap : 64;
		ps->all = xrealloc(ps->all, ps->allcap * sizeof(*ps->all));
	}
	ps->all[ps->nall++] = nd;
	return nd;
}

static void add_kid(struct node *p, struct node *k)
{
	if (p->nkid == p->kcap) {
		p->kcap = p->kcap ? 2 * p->kcap : 4;
		p->kid = xrealloc(p->kid, p->kcap * sizeof(*p->kid));
	}
	p->kid[p->nkid++] = k;
}

static bool at(const struct parser *ps, char c)
{
	return ps->i < ps->n && ps->p[ps->i] == c;
}

static struct node *fail(struct parser *ps, const char *why)
{
	if (ps->err == NULL)
		ps->err = why;
	return NULL;
}

static struct node *literal(struct parser *ps, uint32_t rune)
{
	struct node *nd;
	bool letter = (rune >= 'a' && rune <= 'z') || (rune >= 'A' && rune <= 'Z');
	if ((ps->flags & F_ICASE) && letter) {
		nd = mk(ps, N_CLASS);
		set_add(&nd->set, rune, rune);
		set_fold(&nd->set);
		set_normalize(&nd->set);
		return nd;
	}
	nd = mk(ps, N_LIT);
	nd->arg = rune;
	return nd;
}

/* One rune of the expression's text; false for invalid UTF-8. */
static bool next_rune(struct parser *ps, uint32_t *rune)
{
	size_t k = utf8_decode((const unsigned char *)ps->p + ps->i, ps->n - ps->i, rune);
	if (k == 0)
		return false;
	ps->i += k;
	return true;
}

/* The rune a backslash escape stands for; ps->i is past the backslash
 * and ends past the escape. false, with ps->err, when it is none. */
static bool escape_rune(struct parser *ps, uint32_t *rune)
{
	char c;
	if (ps->i >= ps->n) {
		fail(ps, "trailing backslash at end of expression");
		return false;
	}
	c = ps->p[ps->i++];
	switch (c) {
	case 'a':
		*rune = 7;
		return true;
	case 'f':
		*rune = '\f';
		return true;
	case 't':
		*rune = '\t';
		return true;
	case 'n':
		*rune = '\n';
		return true;
	case 'r':
		*rune = '\r';
		return true;
	case 'v':
		*rune = '\v';
		return true;
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
		/* a lone digit would be a backreference, which Go has not */
		if (ps->i >= ps->n || ps->p[ps->i] < '0' || ps->p[ps->i] > '7')
			break;
		/* fall through */
	case '0': {
		uint32_t v = (uint32_t)(c - '0');
		for (int k = 1; k < 3 && ps->i < ps->n && ps->p[ps->i] >= '0' && ps->p[ps->i] <= '7'; k++)
			v = v * 8 + (uint32_t)(ps->p[ps->i++] - '0');
		*rune = v;
		return true;
	}
	case 'x': {
		uint32_t v = 0;
		if (at(ps, '{')) {
			size_t digits = 0;
			for (ps->i++; ps->i < ps->n && strconv_hex_digit(ps->p[ps->i]) >= 0;
			     ps->i++, digits++) {
				v = v * 16 + (uint32_t)strconv_hex_digit(ps->p[ps->i]);
				if (v > RUNE_MAX)
					break;
			}
			if (digits == 0 || v > RUNE_MAX || !at(ps, '}'))
				break;
			ps->i++;
		} else {
			if (ps->i + 2 > ps->n || strconv_hex_digit(ps->p[ps->i]) < 0 ||
			    strconv_hex_digit(ps->p[ps->i + 1]) < 0)
				break;
			v = (uint32_t)(strconv_hex_digit(ps->p[ps->i]) * 16 +
			               strconv_hex_digit(ps->p[ps->i + 1]));
			ps->i += 2;
		}
		*rune = v;
		return true;
	}
	default:
		if ((unsigned char)c < 0x80 &&
		    !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
			*rune = (unsigned char)c;
			return true;
		}
		if (c == 'p' || c == 'P') {
			fail(ps, "Unicode classes (\\p, \\P) are not supported");
			return false;
		}
		break;
	}
	fail(ps, "invalid escape sequence");
	return false;
}

/* \d \D \s \S \w \W at ps->p[ps->i] == '\\': added to s, true. */
static bool perl_class(struct parser *ps, struct set *s)
{
	char c;
	if (ps->i + 1 >= ps->n || ps->p[ps->i] != '\\')
		return false;
	c = ps->p[ps->i + 1];
	if (!strchr("dDsSwW", c) || c == '\0')
		return false;
	char lower = (char)(c | 0x20);
	set_add_class(s, &lower, 1, class_table(&lower, 1), c != lower);
	ps->i += 2;
	return true;
}

/* One rune in brackets: a backslash escape or the rune itself. */
static bool class_rune(struct parser *ps, uint32_t *rune)
{
	if (at(ps, '\\')) {
		ps->i++;
		return escape_rune(ps, rune);
	}
	if (!next_rune(ps, rune)) {
		fail(ps, "invalid UTF-8");
		return false;
	}
	return true;
}

/* [...] at ps->p[ps->i] == '['. */
static struct node *parse_class(struct parser *ps)
{
	struct node *nd = mk(ps, N_CLASS);
	bool negate = false, first = true;
	ps->i++;
	if (at(ps, '^')) {
		negate = true;
		ps->i++;
	}
	while (ps->i < ps->n && (ps->p[ps->i] != ']' || first)) {
		uint32_t lo, hi;
		first = false;
		if (ps->i + 1 < ps->n && ps->p[ps->i] == '[' && ps->p[ps->i + 1] == ':') {
			size_t start = ps->i + 2, end = start;
			while (end + 1 < ps->n && !(ps->p[end] == ':' && ps->p[end + 1] == ']'))
				end++;
			if (end + 1 >= ps->n)
				return fail(ps, "missing closing ]");
			bool neg = start < end && ps->p[start] == '^';
			const char *name = ps->p + start + neg;
			size_t len = end - start - neg;
			const char *tab = class_table(name, len);
			if (tab == NULL || len < 3)
				return fail(ps, "invalid character class range");
			set_add_class(&nd->set, name, len, tab, neg);
			ps->i = end + 2;
			continue;
		}
		if (perl_class(ps, &nd->set))
			continue;
		if (!class_rune(ps, &lo))
			return NULL;
		hi = lo;
		if (ps->i + 1 < ps->n && ps->p[ps->i] == '-' && ps->p[ps->i + 1] != ']') {
			ps->i++;
			if (!class_rune(ps, &hi))
				return NULL;
			if (hi < lo)
				return fail(ps, "invalid character class range");
		}
		set_add(&nd->set, lo, hi);
	}
	if (ps->i >= ps->n)
		return fail(ps, "missing closing ]");
	ps->i++;
	if (ps->flags & F_ICASE)
		set_fold(&nd->set);
	set_normalize(&nd->set);
	if (negate)
		set_negate(&nd->set);
	return nd;
}

/* A count at ps->p[ps->i] == '{': true with its bounds and length when the
 * text is one ("{n}", "{n,}", "{n,m}"); a brace that is not is a literal. */
static bool count_syntax(const struct parser *ps, int *min, int *max, size_t *len)
{
	size_t k = ps->i + 1, d1 = 0, d2 = 0;
	long lo = 0, hi;
	for (; k < ps->n && ps->p[k] >= '0' && ps->p[k] <= '9'; k++, d1++)
		lo = lo > 100000 ? lo : lo * 10 + (ps->p[k] - '0');
	hi = lo;
	if (d1 > 0 && k < ps->n && ps->p[k] == ',') {
		hi = 0;
		for (k++; k < ps->n && ps->p[k] >= '0' && ps->p[k] <= '9'; k++, d2++)
			hi = hi > 100000 ? hi : hi * 10 + (ps->p[k] - '0');
		if (d2 == 0)
			hi = -1;
	}
	if (d1 == 0 || k >= ps->n || ps->p[k] != '}')
		return false;
	*min = lo > 100000 ? 100001 : (int)lo;
	*max = hi > 100000 ? 100001 : (int)hi;
	*len = k + 1 - ps->i;
	return true;
}

static struct node *parse_alt(struct parser *ps, int depth);

/* A group's content up to its ')', after which the flags are as before
 * the group (saved). */
static struct node *group_body(struct parser *ps, int depth, int saved)
{
	struct node *body = parse_alt(ps, depth + 1);
	if (body == NULL)
		return NULL;
	if (!at(ps, ')'))
		return fail(ps, "missing closing )");
	ps->i++;
	ps->flags = saved;
	return body;
}

/* (...) at ps->p[ps->i] == '(': a group, or a flags change (N_EMPTY). */
static struct node *parse_group(struct parser *ps, int depth)
{
	int saved = ps->flags;
	struct node *body, *cap = NULL;
	const char *name = NULL;
	size_t name_len = 0;
	ps->i++;
	if (at(ps, '?')) {
		ps->i++;
		if (at(ps, '<') || (at(ps, 'P') && ps->i + 1 < ps->n && ps->p[ps->i + 1] == '<')) {
			size_t k = ps->i + (at(ps, 'P') ? 2 : 1), start = k;
			while (k < ps->n && ((ps->p[k] >= '0' && ps->p[k] <= '9') ||
			                     (ps->p[k] >= 'a' && ps->p[k] <= 'z') ||
			                     (ps->p[k] >= 'A' && ps->p[k] <= 'Z') || ps->p[k] == '_'))
				k++;
			if (k == start || k >= ps->n || ps->p[k] != '>')
				return fail(ps, "invalid named capture");
			name = ps->p + start;
			name_len = k - start;
			ps->i = k + 1;
		} else {
			int flags = ps->flags;
			bool neg = false, any = false;
			for (;;) {
				if (ps->i >= ps->n)
					return fail(ps, "missing closing )");
				char c = ps->p[ps->i++];
				int f = c == 'i'   ? F_ICASE
				        : c == 'm' ? F_MULTI
				        : c == 's' ? F_DOTNL
				        : c == 'U' ? F_UNGREEDY
				                   : 0;
				if (f) {
					flags = neg ? flags & ~f : flags | f;
					any = true;
					continue;
				}
				if (c == '-' && !neg) {
					neg = true;
					any = false;
					continue;
				}
				if ((c == ')' && any) || (c == ':' && (any || !neg))) /* (?:re) has none */
					break;
				return fail(ps, "invalid or unsupported Perl syntax");
			}
			ps->flags = flags;
			if (ps->p[ps->i - 1] == ')') /* (?flags): for the rest of this group */
				return mk(ps, N_EMPTY);
			return group_body(ps, depth, saved);
		}
	}
	cap = mk(ps, N_CAP);
	cap->arg = ++ps->ngroups;
	if (ps->ngroups >= ps->namecap) {
		size_t old = ps->namecap;
		ps->namecap = 2 * ps->ngroups + 8;
		ps->names = xrealloc(ps->names, ps->namecap * sizeof(*ps->names));
		memset(ps->names + old, 0, (ps->namecap - old) * sizeof(*ps->names));
	}
	if (name)
		ps->names[ps->ngroups] = xstrndup(name, name_len);
	if ((body = group_body(ps, depth, saved)) == NULL)
		return NULL;
	add_kid(cap, body);
	return cap;
}

static struct node *parse_atom(struct parser *ps, int depth)
{
	char c = ps->p[ps->i];
	struct node *nd;
	uint32_t rune;
	int min, max;
	size_t len;

	switch (c) {
	case '(':
		return parse_group(ps, depth);
	case '[':
		return parse_class(ps);
	case '.':
		ps->i++;
		return mk(ps, (ps->flags & F_DOTNL) ? N_ANY : N_ANYNL);
	case '^':
	case '$':
		ps->i++;
		nd = mk(ps, N_ASSERT);
		nd->arg = c == '^' ? ((ps->flags & F_MULTI) ? A_BOL : A_BOT)
		                   : ((ps->flags & F_MULTI) ? A_EOL : A_EOT);
		return nd;
	case '*':
	case '+':
	case '?':
		return fail(ps, "missing argument to repetition operator");
	case '{':
		if (count_syntax(ps, &min, &max, &len))
			return fail(ps, "missing argument to repetition operator");
		ps->i++;
		return literal(ps, '{');
	case '\\':
		if (ps->i + 1 < ps->n && strchr("AzbB", ps->p[ps->i + 1]) && ps->p[ps->i + 1] != '\0') {
			char e = ps->p[ps->i + 1];
			ps->i += 2;
			nd = mk(ps, N_ASSERT);
			nd->arg = e == 'A' ? A_BOT : e == 'z' ? A_EOT : e == 'b' ? A_WORD : A_NOTWORD;
			return nd;
		}
		if (ps->i + 1 < ps->n && strchr("dDsSwW", ps->p[ps->i + 1]) && ps->p[ps->i + 1] != '\0') {
			nd = mk(ps, N_CLASS);
			(void)perl_class(ps, &nd->set);
			set_normalize(&nd->set);
			return nd;
		}
		ps->i++;
		if (!escape_rune(ps, &rune))
			return NULL;
		return literal(ps, rune);
	default:
		if (!next_rune(ps, &rune))
			return fail(ps, "invalid UTF-8");
		return literal(ps, rune);
	}
}

/* The repetitions after an item: * + ? {n,m}, each maybe lazy. */
static struct node *parse_postfix(struct parser *ps, struct node *item)
{
	bool repeated = false;
	while (ps->i < ps->n) {
		char c = ps->p[ps->i];
		int min, max;
		size_t len = 1;
		if (c == '*')
			min = 0, max = -1;
		else if (c == '+')
			min = 1, max = -1;
		else if (c == '?')
			min = 0, max = 1;
		else if (c != '{' || !count_syntax(ps, &min, &max, &len))
			break;
		if (repeated)
			return fail(ps, "invalid nested repetition operator");
		if (min > RX_COUNT_MAX || max > RX_COUNT_MAX || (max >= 0 && max < min))
			return fail(ps, "invalid repeat count");
		ps->i += len;
		struct node *r = mk(ps, N_REP);
		r->min = min;
		r->max = max;
		r->greedy = true;
		if (at(ps, '?')) {
			ps->i++;
			r->greedy = false;
		}
		if (ps->flags & F_UNGREEDY)
			r->greedy = !r->greedy;
		add_kid(r, item);
		item = r;
		repeated = true;
	}
	return item;
}

static struct node *parse_cat(struct parser *ps, int depth)
{
	struct node *cat = mk(ps, N_CAT);
	while (ps->i < ps->n && ps->p[ps->i] != '|' && ps->p[ps->i] != ')') {
		struct node *item;
		if (ps->i + 1 < ps->n && ps->p[ps->i] == '\\' && ps->p[ps->i + 1] == 'Q') {
			/* \Q...\E: literal text; a repetition after it repeats its last rune */
			uint32_t rune;
			ps->i += 2;
			while (ps->i < ps->n &&
			       !(ps->p[ps->i] == '\\' && ps->i + 1 < ps->n && ps->p[ps->i + 1] == 'E')) {
				if (!next_rune(ps, &rune))
					return fail(ps, "invalid UTF-8");
				add_kid(cat, literal(ps, rune));
			}
			if (ps->i < ps->n)
				ps->i += 2;
			if (cat->nkid > 0 && (item = parse_postfix(ps, cat->kid[cat->nkid - 1])) != NULL)
				cat->kid[cat->nkid - 1] = item;
			if (ps->err)
				return NULL;
			continue;
		}
		item = parse_atom(ps, depth);
		if (item == NULL)
			return NULL;
		if (item->kind == N_EMPTY) /* (?flags): nothing to repeat */
			continue;
		item = parse_postfix(ps, item);
		if (item == NULL)
			return NULL;
		add_kid(cat, item);
	}
	return cat;
}

static struct node *parse_alt(struct parser *ps, int depth)
{
	struct node *first, *alt = NULL;
	if (depth > RX_DEPTH_MAX)
		return fail(ps, "expression nests too deeply");
	first = parse_cat(ps, depth);
	if (first == NULL)
		return NULL;
	while (at(ps, '|')) {
		struct node *next;
		ps->i++;
		if (alt == NULL) {
			alt = mk(ps, N_ALT);
			add_kid(alt, first);
		}
		next = parse_cat(ps, depth);
		if (next == NULL)
			return NULL;
		add_kid(alt, next);
	}
	return alt ? alt : first;
}

/* ---- Compiler ---------------------------------------------------------- */

struct cc {
	struct rx *r;
	bool over;
};

static uint32_t emit(struct cc *c, uint8_t op, uint32_t x, uint32_t y)
{
	struct rx *r = c->r;
	if (r->ninst >= RX_INST_MAX) {
		c->over = true;
		return 0;
	}
	if (r->ninst == r->icap) {
		r->icap = r->icap ? 2 * r->icap : 64;
		r->prog = xrealloc(r->prog, r->icap * sizeof(*r->prog));
	}
	r->prog[r->ninst] = (struct inst){op, x, y};
	return (uint32_t)r->ninst++;
}

static uint32_t here(const struct cc *c)
{
	return (uint32_t)c->r->ninst;
}

static void compile(struct cc *c, struct node *nd);

/* kid*, lazy or greedy */
static void star(struct cc *c, struct node *kid, bool greedy)
{
	uint32_t l = emit(c, OP_SPLIT, 0, 0);
	compile(c, kid);
	emit(c, OP_JMP, l, 0);
	if (c->over)
		return;
	c->r->prog[l].x = greedy ? l + 1 : here(c);
	c->r->prog[l].y = greedy ? here(c) : l + 1;
}

static void repeat(struct cc *c, struct node *nd)
{
	struct node *kid = nd->kid[0];
	if (nd->max < 0) {
		if (nd->min == 0) {
			star(c, kid, nd->greedy);
			return;
		}
		/* x{n,}: n - 1 copies, then one that loops back to its start */
		for (int k = 1; k < nd->min && !c->over; k++)
			compile(c, kid);
		uint32_t l = here(c);
		compile(c, kid);
		uint32_t s = emit(c, OP_SPLIT, 0, 0);
		if (c->over)
			return;
		c->r->prog[s].x = nd->greedy ? l : s + 1;
		c->r->prog[s].y = nd->greedy ? s + 1 : l;
		return;
	}
	for (int k = 0; k < nd->min && !c->over; k++)
		compile(c, kid);
	/* max - min optional copies, nested: skipping one skips the rest; each
	 * split's y links to the previous one until they are patched */
	uint32_t chain = UINT32_MAX;
	for (int k = nd->min; k < nd->max && !c->over; k++) {
		uint32_t s = emit(c, OP_SPLIT, 0, chain);
		chain = s;
		compile(c, kid);
	}
	if (c->over)
		return;
	uint32_t end = here(c);
	while (chain != UINT32_MAX) {
		struct inst *in = &c->r->prog[chain];
		uint32_t prev = in->y;
		in->x = nd->greedy ? chain + 1 : end;
		in->y = nd->greedy ? end : chain + 1;
		chain = prev;
	}
}

static void compile(struct cc *c, struct node *nd)
{
	struct rx *r = c->r;
	if (c->over)
		return;
	switch (nd->kind) {
	case N_EMPTY:
		return;
	case N_LIT:
		emit(c, OP_RUNE, nd->arg, 0);
		return;
	case N_CLASS:
		if (nd->range_off < 0) {
			if (r->nranges + nd->set.n > r->rcap) {
				r->rcap = 2 * (r->nranges + nd->set.n);
				r->ranges = xrealloc(r->ranges, r->rcap * sizeof(*r->ranges));
			}
			if (nd->set.n)
				memcpy(r->ranges + r->nranges, nd->set.r, nd->set.n * sizeof(*nd->set.r));
			nd->range_off = (long)r->nranges;
			r->nranges += nd->set.n;
		}
		emit(c, OP_CLASS, (uint32_t)nd->range_off, (uint32_t)nd->set.n);
		return;
	case N_ANY:
		emit(c, OP_ANY, 0, 0);
		return;
	case N_ANYNL:
		emit(c, OP_ANYNL, 0, 0);
		return;
	case N_ASSERT:
		emit(c, OP_ASSERT, nd->arg, 0);
		return;
	case N_CAT:
		for (size_t i = 0; i < nd->nkid; i++)
			compile(c, nd->kid[i]);
		return;
	case N_ALT: {
		/* split to each but the last; each ends with a jump past the rest,
		 * the jumps linked through x until they are patched */
		uint32_t chain = UINT32_MAX;
		for (size_t i = 0; i < nd->nkid && !c->over; i++) {
			if (i + 1 == nd->nkid) {
				compile(c, nd->kid[i]);
				break;
			}
			uint32_t s = emit(c, OP_SPLIT, 0, 0);
			compile(c, nd->kid[i]);
			uint32_t j = emit(c, OP_JMP, chain, 0);
			chain = j;
			if (c->over)
				return;
			r->prog[s].x = s + 1;
			r->prog[s].y = here(c);
		}
		if (c->over)
			return;
		while (chain != UINT32_MAX) {
			uint32_t prev = r->prog[chain].x;
			r->prog[chain].x = here(c);
			chain = prev;
		}
		return;
	}
	case N_CAP:
		emit(c, OP_SAVE, 2 * nd->arg, 0);
		compile(c, nd->kid[0]);
		emit(c, OP_SAVE, 2 * nd->arg + 1, 0);
		return;
	case N_REP:
		repeat(c, nd);
		return;
	}
}

/* The bytes a match can start with, when it cannot be empty: a search
 * with no thread running skips the others (r->skip). Assertions are
 * taken as holding, so the set is never too small. */
static void first_bytes(struct rx *r)
{
	uint32_t *stack = xcalloc(2 * r->ninst + 2, sizeof(uint32_t));
	bool *seen = xcalloc(r->ninst, sizeof(bool));
	size_t sp = 0;
	bool ok = true;

	stack[sp++] = 0;
	while (sp > 0 && ok) {
		uint32_t pc = stack[--sp];
		const struct inst *in = &r->prog[pc];
		if (seen[pc])
			continue;
		seen[pc] = true;
		switch (in->op) {
		case OP_JMP:
			stack[sp++] = in->x;
			break;
		case OP_SPLIT:
			stack[sp++] = in->x;
			stack[sp++] = in->y;
			break;
		case OP_SAVE:
		case OP_ASSERT:
			stack[sp++] = pc + 1;
			break;
		case OP_RUNE:
			if (in->x < 0x80)
				r->first[in->x] = true;
			else
				memset(r->first + 0x80, 1, 0x80);
			break;
		case OP_CLASS:
			for (size_t k = in->x; k < (size_t)in->x + in->y; k++) {
				for (uint32_t c = r->ranges[k].lo; c <= r->ranges[k].hi && c < 0x80; c++)
					r->first[c] = true;
				if (r->ranges[k].hi >= 0x80)
					memset(r->first + 0x80, 1, 0x80);
			}
			break;
		default: /* ANY, ANYNL; MATCH: a match may be empty */
			ok = false;
			break;
		}
	}
	r->skip = ok;
	free(stack);
	free(seen);
}

int rx_compile(const char *p, size_t n, struct rx **out, char *why, size_t cap)
{
	struct parser ps = {.p = p, .n = n};
	struct node *root = NULL;
	struct rx *r = NULL;

	*out = NULL;
	if (n > RX_PATTERN_MAX) {
		snprintf(why, cap, "expression longer than %d bytes", RX_PATTERN_MAX);
		return -1;
	}
	root = parse_alt(&ps, 0);
	if (root && ps.i < ps.n)
		fail(&ps, "unexpected )");
	if (ps.err == NULL) {
		struct cc c = {.r = xcalloc(1, sizeof(struct rx))};
		r = c.r;
		r->ngroups = ps.ngroups;
		emit(&c, OP_SAVE, 0, 0);
		compile(&c, root);
		emit(&c, OP_SAVE, 1, 0);
		emit(&c, OP_MATCH, 0, 0);
		if (c.over || 2 * (r->ngroups + 1) * r->ninst > RX_SLOTS_MAX) {
			fail(&ps, "expression too large");
			rx_free(r);
			r = NULL;
		} else {
			r->names = xcalloc(r->ngroups + 1, sizeof(*r->names));
			for (size_t k = 1; k <= r->ngroups && k < ps.namecap; k++) {
				r->names[k] = ps.names[k];
				ps.names[k] = NULL;
			}
			first_bytes(r);
		}
	}
	for (size_t k = 0; k < ps.namecap; k++)
		free(ps.names[k]);
	free(ps.names);
	for (size_t i = 0; i < ps.nall; i++) {
		free(ps.all[i]->kid);
		free(ps.all[i]->set.r);
		free(ps.all[i]);
	}
	free(ps.all);
	if (ps.err) {
		snprintf(why, cap, "%s", ps.err);
		return -1;
	}
	*out = r;
	return 0;
}

void rx_free(struct rx *r)
{
	if (r == NULL)
		return;
	for (size_t k = 0; r->names && k <= r->ngroups; k++)
		free(r->names[k]);
	free(r->names);
	free(r->prog);
	free(r->ranges);
	free(r);
}

size_t rx_groups(const struct rx *r)
{
	return r->ngroups;
}

const char *rx_group_name(const struct rx *r, size_t k)
{
	return k >= 1 && k <= r->ngroups ? r->names[k] : NULL;
}

size_t rx_size(const struct rx *r)
{
	return r->ninst;
}

/* ---- Matcher ----------------------------------------------------------- */

/* The threads at one position, in priority order: a sparse set of pcs,
 * each consuming one with its capture slots. */
struct queue {
	uint32_t *sparse, *dense;
	size_t n;
	long *caps;
};

struct entry {
	uint32_t pc; /* or the slot to restore */
	bool restore;
	long val;
};

struct vm {
	const struct rx *r;
	const char *s;
	size_t n;
	size_t ns; /* capture slots kept per thread */
	struct entry *stack;
	bool matched;
	long *best;
};

static bool is_word(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool holds(const struct vm *m, uint32_t kind, size_t pos)
{
	bool before, after;
	switch (kind) {
	case A_BOT:
		return pos == 0;
	case A_EOT:
		return pos == m->n;
	case A_BOL:
		return pos == 0 || m->s[pos - 1] == '\n';
	case A_EOL:
		return pos == m->n || m->s[pos] == '\n';
	default:
		before = pos > 0 && is_word((unsigned char)m->s[pos - 1]);
		after = pos < m->n && is_word((unsigned char)m->s[pos]);
		return (before != after) == (kind == A_WORD);
	}
}

static bool in_class(const struct rx *r, const struct inst *in, uint32_t rune)
{
	size_t lo = in->x, hi = (size_t)in->x + in->y;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rune < r->ranges[mid].lo)
			hi = mid;
		else if (rune > r->ranges[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* Adds the thread at pc0 and every pc it reaches without consuming. */
static void add(struct vm *m, struct queue *q, uint32_t pc0, size_t pos, long *cap)
{
	size_t sp = 0;
	m->stack[sp++] = (struct entry){.pc = pc0};
	while (sp > 0) {
		struct entry e = m->stack[--sp];
		if (e.restore) {
			cap[e.pc] = e.val;
			continue;
		}
		uint32_t pc = e.pc, j = q->sparse[pc];
		if (j < q->n && q->dense[j] == pc)
			continue;
		j = (uint32_t)q->n++;
		q->dense[j] = pc;
		q->sparse[pc] = j;
		const struct inst *in = &m->r->prog[pc];
		switch (in->op) {
		case OP_JMP:
			m->stack[sp++] = (struct entry){.pc = in->x};
			break;
		case OP_SPLIT:
			m->stack[sp++] = (struct entry){.pc = in->y};
			m->stack[sp++] = (struct entry){.pc = in->x};
			break;
		case OP_ASSERT:
			if (holds(m, in->x, pos))
				m->stack[sp++] = (struct entry){.pc = pc + 1};
			break;
		case OP_SAVE:
			if (in->x < m->ns) {
				m->stack[sp++] =
				    (struct entry){.pc = in->x, .restore = true, .val = cap[in->x]};
				cap[in->x] = (long)pos;
			}
			m->stack[sp++] = (struct entry){.pc = pc + 1};
			break;
		default:
			if (m->ns)
				memcpy(q->caps + (size_t)j * m->ns, cap, m->ns * sizeof(*cap));
			break;
		}
	}
}

/* Runs each thread of run over the rune at pos (none at the end) into
 * next; a thread that matches cuts off those after it. */
static void step(struct vm *m, struct queue *run, struct queue *next, size_t pos, size_t width, uint32_t rune,
                 bool end)
{
	for (size_t i = 0; i < run->n; i++) {
		const struct inst *in = &m->r->prog[run->dense[i]];
		long *tc = run->caps + i * m->ns;
		bool ok;
		switch (in->op) {
		case OP_MATCH:
			if (m->ns)
				memcpy(m->best, tc, m->ns * sizeof(*tc));
			m->matched = true;
			run->n = 0;
			return;
		case OP_RUNE:
			ok = !end && rune == in->x;
			break;
		case OP_CLASS:
			ok = !end && in_class(m->r, in, rune);
			break;
		case OP_ANY:
			ok = !end;
			break;
		case OP_ANYNL:
			ok = !end && rune != '\n';
			break;
		default:
			continue;
		}
		if (ok)
			add(m, next, run->dense[i] + 1, pos + width, tc);
	}
	run->n = 0;
}

int rx_find(const struct rx *r, const char *s, size_t n, size_t from, long *cap, size_t npairs,
            uint64_t *budget)
{
	struct vm m = {.r = r, .s = s, .n = n};
	struct queue q[2];
	size_t ni = r->ninst, pos = from;
	long *tmpl;

	if (from > n)
		return 0;
	m.ns = 2 * (npairs < r->ngroups + 1 ? npairs : r->ngroups + 1);
	/* one zeroed block for the machine: on the stack when small (most
	 * expressions), so a walk over many short matches does not allocate */
	size_t longs = 2 * (ni * m.ns + 1) + 2 * (m.ns + 1);
	size_t bytes = 4 * ni * sizeof(uint32_t) + longs * sizeof(long) + (3 * ni + 2) * sizeof(struct entry);
	_Alignas(16) unsigned char small[8192];
	unsigned char *block = bytes <= sizeof(small) ? small : xmalloc(bytes);
	memset(block, 0, bytes);
	long *lp = (long *)block;
	for (int k = 0; k < 2; k++) {
		q[k].caps = lp;
		lp += ni * m.ns + 1;
		q[k].n = 0;
	}
	tmpl = lp;
	lp += m.ns + 1;
	m.best = lp;
	lp += m.ns + 1;
	m.stack = (struct entry *)lp;
	uint32_t *up = (uint32_t *)(m.stack + 3 * ni + 2);
	for (int k = 0; k < 2; k++) {
		q[k].sparse = up;
		up += ni;
		q[k].dense = up;
		up += ni;
	}
	/* a new thread's slots: add() puts back every slot it sets, so these
	 * stay -1 from one position to the next */
	for (size_t k = 0; k < m.ns; k++)
		tmpl[k] = -1;
	struct queue *run = &q[0], *next = &q[1];
	bool spent = false;
	for (;;) {
		uint32_t rune = 0;
		size_t width = 0;
		if (run->n == 0 && m.matched)
			break;
		if (run->n == 0 && r->skip)
			while (pos < n && !r->first[(unsigned char)s[pos]])
				pos++;
		bool end = pos >= n;
		if (!m.matched)
			add(&m, run, 0, pos, tmpl);
		if (!end) {
			width = utf8_decode((const unsigned char *)s + pos, n - pos, &rune);
			if (width == 0)
				width = 1;
		}
		if (budget) {
			uint64_t cost = (uint64_t)(run->n + 1) * (1 + m.ns / 16);
			if (*budget < cost) {
				*budget = 0;
				spent = true;
				break;
			}
			*budget -= cost;
		}
		step(&m, run, next, pos, width, rune, end);
		if (end || (m.matched && m.ns == 0))
			break;
		pos += width;
		struct queue *t = run;
		run = next;
		next = t;
	}
	if (m.matched && !spent)
		for (size_t k = 0; k < 2 * npairs; k++)
			cap[k] = k < m.ns ? m.best[k] : -1;
	if (block != small)
		free(block);
	return spent ? -1 : m.matched ? 1 : 0;
}
