/* yaml_read.c — YAML text to a jansson value (yaml_read.h).
 *
 * A recursive descent over the bytes, one pass: a block node is read at
 * the column it starts in, and ends at the first line indented at or
 * below its parent's column. Every byte is looked at a bounded number of
 * times (a line is scanned once more to tell a key from a scalar), so the
 * cost is linear in the input; recursion is bounded by the depth cap. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "encoding.h"
#include "err.h"
#include "strconv.h"
#include "yaml_read.h"

#include "banned.h"

#define SCALAR_CAP ((size_t)1 << 30) /* the input's cap bounds every scalar first */

struct yr {
	const char *s;
	size_t n, i;
	size_t line, line_start; /* 1-based line, offset of its first byte */
	int depth;
	unsigned flags;
	bool started; /* a node began: a later "---" ends the document */
	char *err;
};

static int fail(struct yr *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct yr *p, const char *fmt, ...)
{
	char why[200];
	va_list ap;
	struct buf b;

	if (p->err)
		return TROVE_ERR_INVALID;
	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	buf_init(&b, 512);
	(void)buf_printf(&b, "line %zu, column %zu: %s", p->line, p->i - p->line_start + 1, why);
	p->err = buf_take(&b);
	return TROVE_ERR_INVALID;
}

static int ch(const struct yr *p, size_t k)
{
	return p->i + k < p->n ? (unsigned char)p->s[p->i + k] : -1;
}

static bool eol(int c)
{
	return c == '\n' || c == '\r' || c < 0;
}

static bool ws(int c)
{
	return c == ' ' || c == '\t';
}

static bool blank_or_eol(int c)
{
	return ws(c) || eol(c);
}

static size_t col(const struct yr *p)
{
	return p->i - p->line_start;
}

/* At a line break: steps over it. */
static void newline(struct yr *p)
{
	if (ch(p, 0) == '\r' && ch(p, 1) == '\n')
		p->i++;
	if (p->i < p->n)
		p->i++;
	p->line++;
	p->line_start = p->i;
}

static void skip_inline_ws(struct yr *p)
{
	while (ws(ch(p, 0)))
		p->i++;
}

/* A '#' at i starts a comment (at a line's start or after a blank). */
static bool at_comment(const struct yr *p)
{
	return ch(p, 0) == '#' && (p->i == p->line_start || ws((unsigned char)p->s[p->i - 1]));
}

static void skip_to_eol(struct yr *p)
{
	while (!eol(ch(p, 0)))
		p->i++;
}

static bool at_marker(const struct yr *p, const char *m)
{
	return p->i == p->line_start && p->n - p->i >= 3 && memcmp(p->s + p->i, m, 3) == 0 &&
	       blank_or_eol(ch(p, 3));
}

/* Skips blanks, comments and line breaks to the next content (or the
 * end, which a second document's "---" or a "..." brings forward). */
static int skip_to_content(struct yr *p)
{
	bool tab = false;

	for (;;) {
		if (p->i == p->line_start) {
			tab = false;
			if (at_marker(p, "...") || (p->started && at_marker(p, "---"))) {
				p->n = p->i;
				return 0;
			}
			if (at_marker(p, "---")) {
				p->i += 3;
				continue;
			}
			if (ch(p, 0) == '%' && !p->started)
				return fail(p, "directives (%%) are not supported");
			while (ws(ch(p, 0)))
				tab |= ch(p, 0) == '\t', p->i++;
		} else {
			skip_inline_ws(p);
		}
		if (at_comment(p))
			skip_to_eol(p);
		if (ch(p, 0) < 0)
			return 0;
		if (!eol(ch(p, 0)))
			break;
		newline(p);
	}
	if (tab)
		return fail(p, "a tab in indentation (YAML indents with spaces)");
	return 0;
}

static bool at_dash(const struct yr *p)
{
	return ch(p, 0) == '-' && blank_or_eol(ch(p, 1));
}

/* Whether the rest of the line is "key: ..." (the key plain or quoted). */
static bool line_has_key(const struct yr *p)
{
	size_t j = p->i;
	char q;

	if (j < p->n && (p->s[j] == '"' || p->s[j] == '\'')) {
		q = p->s[j++];
		while (j < p->n && p->s[j] != '\n' && p->s[j] != '\r') {
			if (q == '"' && p->s[j] == '\\') {
				j += 2;
				continue;
			}
			if (p->s[j] == q) {
				if (q == '\'' && j + 1 < p->n && p->s[j + 1] == '\'') {
					j += 2;
					continue;
				}
				break;
			}
			j++;
		}
		if (j >= p->n || p->s[j] != q)
			return false;
		for (j++; j < p->n && (p->s[j] == ' ' || p->s[j] == '\t'); j++)
			;
		return j < p->n && p->s[j] == ':' && (j + 1 >= p->n || blank_or_eol((unsigned char)p->s[j + 1]));
	}
	if (j < p->n && (p->s[j] == '[' || p->s[j] == '{'))
		return false;
	for (; j < p->n && p->s[j] != '\n' && p->s[j] != '\r'; j++) {
		if (p->s[j] == ':' && (j + 1 >= p->n || blank_or_eol((unsigned char)p->s[j + 1])))
			return true;
		if (p->s[j] == '#' && j > p->i && ws((unsigned char)p->s[j - 1]))
			return false;
	}
	return false;
}

/* ---- scalars ------------------------------------------------------------ */

static bool is_digits(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

/* A plain scalar by the YAML 1.2 core schema. */
static json_t *typed(const char *s, size_t n)
{
	char t[64], *end;
	const char *d;
	long long v;
	double f;

	if (n == 0 || n >= sizeof(t))
		return NULL;
	memcpy(t, s, n);
	t[n] = '\0';
	if (!strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL"))
		return json_null();
	if (!strcmp(t, "true") || !strcmp(t, "True") || !strcmp(t, "TRUE"))
		return json_true();
	if (!strcmp(t, "false") || !strcmp(t, "False") || !strcmp(t, "FALSE"))
		return json_false();
	errno = 0;
	if ((t[0] == '0' && t[1] == 'o' && is_digits(t + 2, "01234567")) ||
	    (t[0] == '0' && t[1] == 'x' && is_digits(t + 2, "0123456789abcdefABCDEF"))) {
		v = strtoll(t + 2, &end, t[1] == 'o' ? 8 : 16);
		return errno || *end ? NULL : json_integer(v);
	}
	d = t + (t[0] == '-' || t[0] == '+');
	if (is_digits(d, "0123456789")) {
		v = strtoll(t, &end, 10);
		return errno || *end ? NULL : json_integer(v);
	}
	/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
	if (*d == '.' && !(d[1] >= '0' && d[1] <= '9'))
		return NULL;
	while (*d >= '0' && *d <= '9')
		d++;
	if (*d == '.')
		for (d++; *d >= '0' && *d <= '9'; d++)
			;
	if (*d == 'e' || *d == 'E') {
		d += 1 + (d[1] == '-' || d[1] == '+');
		if (!(*d >= '0' && *d <= '9'))
			return NULL;
		while (*d >= '0' && *d <= '9')
			d++;
	}
	if (*d || !strpbrk(t, "0123456789"))
		return NULL;
	f = strtod(t, &end);
	return *end || errno == ERANGE ? NULL : json_real(f);
}

/* The JSON value of scalar text; plain ones typed unless YAML_READ_STRINGS. */
static int scalar(struct yr *p, const struct buf *b, bool plain, json_t **out)
{
	json_t *v = NULL;

	if (plain && !(p->flags & YAML_READ_STRINGS))
		v = typed(b->data, b->len);
	if (v == NULL)
		v = json_stringn(b->data, b->len);
	if (v == NULL)
		return fail(p, "a scalar that is not valid UTF-8");
	*out = v;
	return 0;
}

static int put_utf8(struct buf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	}
	return buf_append(b, u, n);
}

static int hex_escape(struct yr *p, int digits, unsigned long *cp)
{
	int k, d;

	*cp = 0;
	for (k = 1; k <= digits; k++) {
		if ((d = strconv_hex_digit(ch(p, (size_t)k))) < 0)
			return fail(p, "a \\%c escape needs %d hex digits", ch(p, 0), digits);
		*cp = *cp * 16 + (unsigned long)d;
	}
	p->i += (size_t)digits + 1;
	return 0;
}

/* \u, \U or \x at i (after the backslash). */
static int code_escape(struct yr *p, struct buf *b)
{
	int e = ch(p, 0);
	unsigned long cp, lo;
	int r;

	if ((r = hex_escape(p, e == 'x' ? 2 : e == 'u' ? 4 : 8, &cp)) != 0)
		return r;
	if (cp >= 0xD800 && cp <= 0xDBFF && ch(p, 0) == '\\' && ch(p, 1) == 'u') {
		p->i++;
		if ((r = hex_escape(p, 4, &lo)) != 0)
			return r;
		if (lo < 0xDC00 || lo > 0xDFFF)
			return fail(p, "a lone UTF-16 surrogate in an escape");
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	} else if (cp >= 0xD800 && cp <= 0xDFFF) {
		return fail(p, "a lone UTF-16 surrogate in an escape");
	}
	if (cp > 0x10FFFF)
		return fail(p, "an escape past U+10FFFF");
	if (cp == 0)
		return fail(p, "an escape of NUL (U+0000): a string cannot hold it");
	return put_utf8(b, cp);
}

static int simple_escape(struct yr *p, struct buf *b)
{
	static const char from[] = "0abt\tnvfre \"/\\";
	static const char to[] = "\0\a\b\t\t\n\v\f\r\033 \"/\\";
	static const unsigned long named[][2] = {{'N', 0x85}, {'_', 0xA0}, {'L', 0x2028}, {'P', 0x2029}};
	const char *hit;
	size_t k;
	int e = ch(p, 0);

	if (e == 'x' || e == 'u' || e == 'U')
		return code_escape(p, b);
	if (e == '0')
		return fail(p, "an escape of NUL (\\0): a string cannot hold it");
	p->i++;
	for (k = 0; k < sizeof(named) / sizeof(named[0]); k++)
		if ((unsigned long)e == named[k][0])
			return put_utf8(b, named[k][1]);
	if (e > 0 && (hit = memchr(from, e, sizeof(from) - 1)) != NULL)
		return buf_append_byte(b, to[hit - from]);
	p->i--;
	return fail(p, "an unknown escape \\%c", e > ' ' && e < 0x7f ? e : '?');
}

/* A line break inside a quoted scalar: trailing blanks of the line go,
 * leading blanks of the next go, the break becomes a space or, with blank
 * lines, that many newlines. hard: the length before the trailing blanks. */
static int fold_break(struct yr *p, struct buf *b, size_t hard)
{
	size_t blanks = 0;

	if (b->len > hard) {
		b->len = hard;
		b->data[hard] = '\0';
	}
	newline(p);
	for (;;) {
		skip_inline_ws(p);
		if (ch(p, 0) < 0 || !eol(ch(p, 0)))
			break;
		newline(p);
		blanks++;
	}
	if (blanks == 0)
		return buf_append_byte(b, ' ');
	while (blanks--)
		if (buf_append_byte(b, '\n') != 0)
			return TROVE_ERR_TOO_LARGE;
	return 0;
}

static int read_quoted(struct yr *p, struct buf *b)
{
	char q = p->s[p->i];
	size_t start_line = p->line, start_col = col(p) + 1, hard = 0;
	int c, r = 0;

	p->i++;
	for (;;) {
		c = ch(p, 0);
		if (c < 0) {
			(void)fail(p, "the %s-quoted scalar from line %zu, column %zu is not closed",
			           q == '"' ? "double" : "single", start_line, start_col);
			return TROVE_ERR_INVALID;
		}
		if (c == q && q == '\'' && ch(p, 1) == '\'') {
			p->i += 2;
			r = buf_append_byte(b, '\'');
		} else if (c == q) {
			p->i++;
			return 0;
		} else if (c == '\\' && q == '"' && eol(ch(p, 1)) && ch(p, 1) >= 0) {
			p->i++;
			newline(p);
			skip_inline_ws(p);
		} else if (c == '\\' && q == '"') {
			p->i++;
			r = simple_escape(p, b);
		} else if (eol(c)) {
			r = fold_break(p, b, hard);
			hard = b->len;
			continue;
		} else {
			r = buf_append_byte(b, (char)c);
			p->i++;
			if (ws(c))
				continue;
		}
		if (r != 0)
			return r == TROVE_ERR_INVALID ? r : fail(p, "a scalar too large");
		hard = b->len;
	}
}

/* One line's part of a plain scalar in a block: up to a comment or the
 * end of the line, trailing blanks dropped. */
static int plain_line(struct yr *p, struct buf *b)
{
	size_t hard = b->len;
	int c;

	while (!eol(c = ch(p, 0))) {
		if (c == ':' && blank_or_eol(ch(p, 1)))
			return fail(p, "a key: value inside a scalar (mapping values are not allowed here)");
		if (at_comment(p))
			break;
		if (buf_append_byte(b, (char)c) != 0)
			return fail(p, "a scalar too large");
		if (!ws(c))
			hard = b->len;
		p->i++;
	}
	if (b->len > hard) {
		b->len = hard;
		b->data[hard] = '\0';
	}
	return 0;
}

/* A plain scalar in a block: its first line, then every following line
 * indented past parent (folded: a space, or newlines for blank lines). */
static int read_plain(struct yr *p, int parent, struct buf *b)
{
	size_t save_i, save_line, save_start, blanks, ind;
	int r;

	if ((r = plain_line(p, b)) != 0)
		return r;
	for (;;) {
		if (at_comment(p))
			return 0;
		save_i = p->i, save_line = p->line, save_start = p->line_start;
		blanks = 0;
		for (;;) {
			if (ch(p, 0) < 0)
				break;
			newline(p);
			while (ch(p, 0) == ' ')
				p->i++;
			if (!eol(ch(p, 0)) || ch(p, 0) < 0)
				break;
			blanks++;
		}
		ind = col(p);
		if (ch(p, 0) < 0 || eol(ch(p, 0)) || (long)ind <= parent || at_comment(p) || ch(p, 0) == '\t' ||
		    (ind == 0 && (at_marker(p, "---") || at_marker(p, "...")))) {
			p->i = save_i, p->line = save_line, p->line_start = save_start;
			return 0;
		}
		if (blanks == 0)
			r = buf_append_byte(b, ' ');
		while (blanks-- > 0 && r == 0)
			r = buf_append_byte(b, '\n');
		if (r != 0 || (r = plain_line(p, b)) != 0)
			return r == TROVE_ERR_INVALID ? r : fail(p, "a scalar too large");
	}
}

/* Refuses what a node may not start with here. */
static int check_node_start(struct yr *p)
{
	int c = ch(p, 0);

	if (c == '&')
		return fail(p, "anchors (&) are not supported");
	if (c == '*')
		return fail(p, "aliases (*) are not supported");
	if (c == '!')
		return fail(p, "tags (!) are not supported");
	if (c == '@' || c == '`')
		return fail(p, "'%c' is reserved and cannot start a scalar", c);
	if (c == '?' && blank_or_eol(ch(p, 1)))
		return fail(p, "explicit keys (? ) are not supported");
	return 0;
}

/* The rest of the line after a value must be blank or a comment. */
static int end_of_value(struct yr *p)
{
	skip_inline_ws(p);
	if (at_comment(p))
		skip_to_eol(p);
	if (!eol(ch(p, 0)))
		return fail(p, "unexpected text after the value");
	return 0;
}

/* A literal (|) or folded (>) block scalar; parent: the column of the
 * node holding it. */
static int read_block_scalar(struct yr *p, int parent, struct buf *b)
{
	bool folded = ch(p, 0) == '>', first = true, more, prev_more = false;
	int chomp = 0, c, r = 0;
	size_t ind = 0, k, blanks = 0, line_begin, j;
	long content = -1;

	for (p->i++, k = 0; k < 2; k++, p->i++) {
		c = ch(p, 0);
		if ((c == '-' || c == '+') && chomp == 0)
			chomp = c == '-' ? -1 : 1;
		else if (c >= '1' && c <= '9' && ind == 0)
			ind = (size_t)(c - '0');
		else
			break;
	}
	if (!blank_or_eol(ch(p, 0)))
		return fail(p, "a block scalar's header is | or > with at most a chomping indicator and a digit");
	skip_inline_ws(p);
	if (at_comment(p))
		skip_to_eol(p);
	if (!eol(ch(p, 0)))
		return fail(p, "unexpected text after the block scalar's header");
	if (ch(p, 0) < 0)
		return 0;
	newline(p);
	if (ind) {
		content = (parent < 0 ? 0 : parent) + (long)ind;
	} else {
		for (j = p->i; j < p->n;) {
			for (k = 0; j + k < p->n && p->s[j + k] == ' '; k++)
				;
			if (j + k < p->n && p->s[j + k] != '\n' && p->s[j + k] != '\r') {
				content = (long)k;
				break;
			}
			j += k;
			while (j < p->n && p->s[j] != '\n')
				j++;
			j++;
		}
		if (content <= parent)
			content = -1;
	}
	for (;;) {
		line_begin = p->i;
		for (k = 0; ch(p, 0) == ' '; k++)
			p->i++;
		if (eol(ch(p, 0))) {
			if (ch(p, 0) < 0)
				break;
			blanks++;
			newline(p);
			continue;
		}
		if (content < 0 || (long)k < content || (k == 0 && (at_marker(p, "---") || at_marker(p, "...")))) {
			p->i = line_begin;
			break;
		}
		p->i = line_begin + (size_t)content;
		more = ws(ch(p, 0));
		if (first)
			while (blanks-- > 0 && r == 0)
				r = buf_append_byte(b, '\n');
		else if (folded && !more && !prev_more && blanks == 0)
			r = buf_append_byte(b, ' ');
		else
			for (k = (folded && !more && !prev_more) ? 0 : 1, blanks += k; blanks > 0 && r == 0; blanks--)
				r = buf_append_byte(b, '\n');
		for (j = p->i; !eol(ch(p, 0)); p->i++)
			;
		if (r == 0)
			r = buf_append(b, p->s + j, p->i - j);
		if (r != 0)
			return fail(p, "a scalar too large");
		blanks = 0, first = false, prev_more = more;
		if (ch(p, 0) < 0)
			break;
		newline(p);
	}
	if (chomp >= 0 && !first)
		r = buf_append_byte(b, '\n');
	while (chomp > 0 && blanks-- > 0 && r == 0)
		r = buf_append_byte(b, '\n');
	return r == 0 ? 0 : fail(p, "a scalar too large");
}

/* ---- flow collections ---------------------------------------------------- */

static int parse_flow(struct yr *p, json_t **out);

static int flow_skip(struct yr *p)
{
	for (;;) {
		skip_inline_ws(p);
		if (at_comment(p))
			skip_to_eol(p);
		if (ch(p, 0) < 0)
			return fail(p, "a flow collection is not closed");
		if (!eol(ch(p, 0)))
			return 0;
		newline(p);
	}
}

static bool flow_stop(const struct yr *p)
{
	int c = ch(p, 0), d = ch(p, 1);

	return eol(c) || c == ',' || c == '[' || c == ']' || c == '{' || c == '}' || at_comment(p) ||
	       (c == ':' && (blank_or_eol(d) || d == ',' || d == ']' || d == '}'));
}

/* A plain scalar's bytes up to where stop says, trailing blanks dropped. */
static void take_plain(struct yr *p, bool (*stop)(const struct yr *), struct buf *b)
{
	size_t hard = b->len;

	while (!stop(p)) {
		if (buf_append_byte(b, p->s[p->i]) != 0)
			break;
		if (!ws(ch(p, 0)))
			hard = b->len;
		p->i++;
	}
	if (b->len > hard) {
		b->len = hard;
		b->data[hard] = '\0';
	}
}

/* A scalar in a flow collection; a key is kept as written (a string). */
static int flow_scalar(struct yr *p, bool key, json_t **out)
{
	struct buf b;
	bool plain = ch(p, 0) != '"' && ch(p, 0) != '\'';
	int r;

	buf_init(&b, SCALAR_CAP);
	if (!plain) {
		r = read_quoted(p, &b);
	} else {
		take_plain(p, flow_stop, &b);
		r = b.len ? 0 : fail(p, "an empty entry in a flow collection");
	}
	if (r == 0)
		r = scalar(p, &b, plain && !key, out);
	buf_release(&b);
	return r;
}

static int flow_node(struct yr *p, json_t **out)
{
	int r;

	if ((r = check_node_start(p)) != 0)
		return r;
	if (ch(p, 0) == '[' || ch(p, 0) == '{')
		return parse_flow(p, out);
	if (ch(p, 0) == '-' && blank_or_eol(ch(p, 1)))
		return fail(p, "a block sequence inside a flow collection");
	return flow_scalar(p, false, out);
}

static int set_key(struct yr *p, json_t *obj, json_t *key, json_t *v)
{
	const char *k = json_string_value(key);
	size_t n = json_string_length(key);

	if (json_object_getn(obj, k, n) != NULL) {
		json_decref(v);
		return fail(p, "the key \"%.60s\" appears twice", k);
	}
	if (json_object_setn_new(obj, k, n, v) != 0)
		return fail(p, "out of memory");
	return 0;
}

static int parse_flow(struct yr *p, json_t **out)
{
	bool seq = ch(p, 0) == '[';
	char close = seq ? ']' : '}';
	json_t *c = seq ? json_array() : json_object(), *k = NULL, *v = NULL;
	int r = 0;

	if (++p->depth > YAML_READ_MAX_DEPTH) {
		r = fail(p, "nesting deeper than %d", YAML_READ_MAX_DEPTH);
		goto out;
	}
	p->i++;
	for (;;) {
		if ((r = flow_skip(p)) != 0)
			goto out;
		if (ch(p, 0) == close)
			break;
		if (seq) {
			if ((r = flow_node(p, &v)) != 0)
				goto out;
			if ((r = flow_skip(p)) != 0)
				goto out;
			if (ch(p, 0) == ':' && blank_or_eol(ch(p, 1))) {
				r = fail(p, "a key: value pair inside [ ] is not supported");
				goto out;
			}
			json_array_append_new(c, v);
			v = NULL;
		} else {
			if (ch(p, 0) == '[' || ch(p, 0) == '{') {
				r = fail(p, "a collection as a key is not supported");
				goto out;
			}
			if ((r = check_node_start(p)) != 0 || (r = flow_scalar(p, true, &k)) != 0)
				goto out;
			if ((r = flow_skip(p)) != 0)
				goto out;
			if (ch(p, 0) == ':') {
				p->i++;
				if ((r = flow_skip(p)) != 0)
					goto out;
				if (ch(p, 0) != ',' && ch(p, 0) != '}' && (r = flow_node(p, &v)) != 0)
					goto out;
			}
			r = set_key(p, c, k, v ? v : json_null());
			v = NULL;
			if (r != 0)
				goto out;
			json_decref(k);
			k = NULL;
		}
		if ((r = flow_skip(p)) != 0)
			goto out;
		if (ch(p, 0) == ',') {
			p->i++;
			continue;
		}
		if (ch(p, 0) != close) {
			r = fail(p, "expected ',' or '%c' in a flow collection", close);
			goto out;
		}
		break;
	}
	p->i++;
	p->depth--;
out:
	json_decref(k);
	json_decref(v);
	if (r != 0)
		json_decref(c);
	else
		*out = c;
	return r;
}

/* ---- block collections --------------------------------------------------- */

static int parse_block(struct yr *p, int parent, bool seq_here, bool map_inline, json_t **out);

static int parse_seq(struct yr *p, size_t c, json_t **out)
{
	json_t *a = json_array(), *v = NULL;
	int r = 0;

	if (++p->depth > YAML_READ_MAX_DEPTH) {
		r = fail(p, "nesting deeper than %d", YAML_READ_MAX_DEPTH);
		goto out;
	}
	for (;;) {
		p->i++; /* the dash */
		if ((r = parse_block(p, (int)c, false, true, &v)) != 0)
			goto out;
		json_array_append_new(a, v);
		if ((r = skip_to_content(p)) != 0 || ch(p, 0) < 0 || col(p) < c)
			break;
		if (col(p) > c) {
			r = fail(p, "bad indentation of a sequence entry");
			goto out;
		}
		if (!at_dash(p))
			break;
	}
	p->depth--;
out:
	if (r != 0)
		json_decref(a);
	else
		*out = a;
	return r;
}

static bool key_stop(const struct yr *p)
{
	return eol(ch(p, 0)) || (ch(p, 0) == ':' && blank_or_eol(ch(p, 1)));
}

static int block_key(struct yr *p, json_t **key)
{
	struct buf b;
	bool plain = ch(p, 0) != '"' && ch(p, 0) != '\'';
	int r;

	if ((r = check_node_start(p)) != 0)
		return r;
	buf_init(&b, SCALAR_CAP);
	if (!plain) {
		r = read_quoted(p, &b);
	} else {
		take_plain(p, key_stop, &b);
		if (span_eq_str((struct span){b.data, b.len}, "<<"))
			r = fail(p, "merge keys (<<) are not supported");
	}
	if (r == 0)
		r = scalar(p, &b, false, key); /* keys as written */
	buf_release(&b);
	if (r == 0) {
		skip_inline_ws(p);
		if (ch(p, 0) != ':') {
			json_decref(*key);
			return fail(p, "expected ':' after the key");
		}
		p->i++;
	}
	return r;
}

static int parse_map(struct yr *p, size_t c, json_t **out)
{
	json_t *m = json_object(), *k = NULL, *v = NULL;
	int r = 0;

	if (++p->depth > YAML_READ_MAX_DEPTH) {
		r = fail(p, "nesting deeper than %d", YAML_READ_MAX_DEPTH);
		goto out;
	}
	for (;;) {
		if ((r = block_key(p, &k)) != 0)
			goto out;
		if ((r = parse_block(p, (int)c, true, false, &v)) != 0)
			goto out;
		r = set_key(p, m, k, v);
		v = NULL;
		json_decref(k);
		k = NULL;
		if (r != 0)
			goto out;
		if ((r = skip_to_content(p)) != 0 || ch(p, 0) < 0 || col(p) < c)
			break;
		if (col(p) > c) {
			r = fail(p, "bad indentation of a mapping entry");
			goto out;
		}
		if (at_dash(p)) {
			r = fail(p, "a sequence entry where a key was expected");
			goto out;
		}
		if (!line_has_key(p)) {
			r = fail(p, "expected a key: value");
			goto out;
		}
	}
	p->depth--;
out:
	json_decref(k);
	if (r != 0)
		json_decref(m);
	else
		*out = m;
	return r;
}

/* A scalar, a flow collection or a block scalar starting at i. */
static int inline_value(struct yr *p, int parent, json_t **out)
{
	struct buf b;
	bool plain = false;
	int c = ch(p, 0), r;

	if ((r = check_node_start(p)) != 0)
		return r;
	if (c == '[' || c == '{') {
		if ((r = parse_flow(p, out)) == 0 && (r = end_of_value(p)) != 0) {
			json_decref(*out);
			*out = NULL;
		}
		return r;
	}
	if (c == '%' || (c == '-' && blank_or_eol(ch(p, 1))))
		return fail(p, "'%c' cannot start a value here", c);
	buf_init(&b, SCALAR_CAP);
	if (c == '|' || c == '>') {
		r = read_block_scalar(p, parent, &b);
	} else if (c == '"' || c == '\'') {
		if ((r = read_quoted(p, &b)) == 0)
			r = end_of_value(p);
	} else {
		plain = true;
		r = read_plain(p, parent, &b);
	}
	if (r == 0)
		r = scalar(p, &b, plain, out);
	buf_release(&b);
	return r;
}

/* The node after "key:" or "- " (or the document's root): on the same
 * line, or on the following lines indented past parent (seq_here: a
 * sequence at parent's own column too, as a mapping's value). Nothing
 * there is null. */
static int parse_block(struct yr *p, int parent, bool seq_here, bool map_inline, json_t **out)
{
	size_t c;
	int r;

	skip_inline_ws(p);
	if (!eol(ch(p, 0)) && !at_comment(p)) {
		p->started = true;
		c = col(p);
		if (at_dash(p)) {
			if (!map_inline)
				return fail(p, "a sequence cannot start on its key's line");
			return parse_seq(p, c, out);
		}
		if (line_has_key(p)) {
			if (!map_inline)
				return fail(p, "a key: value on its key's line (mapping values are not allowed here)");
			return parse_map(p, c, out);
		}
		return inline_value(p, parent, out);
	}
	if ((r = skip_to_content(p)) != 0)
		return r;
	c = col(p);
	if (ch(p, 0) < 0 || (long)c < parent || ((long)c == parent && !(seq_here && at_dash(p)))) {
		*out = json_null();
		return 0;
	}
	return parse_block(p, parent, seq_here, true, out);
}

int yaml_read(const char *text, size_t n, size_t max_bytes, unsigned flags, json_t **out, char **err)
{
	struct yr p = {.s = text, .n = n, .line = 1, .flags = flags};
	json_t *v = NULL;
	size_t k, len;
	int r;

	*out = NULL;
	*err = NULL;
	if (n > max_bytes) {
		*err = xstrdup("the YAML is larger than its limit");
		return TROVE_ERR_TOO_LARGE;
	}
	if (n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		p.i = p.line_start = 3;
	for (k = p.i; k < n; k += len) {
		len = text[k] ? utf8_seq_len((const unsigned char *)text + k, n - k) : 0;
		if (len == 0) {
			p.i = k;
			while (p.line_start < k && memchr(text + p.line_start, '\n', k - p.line_start))
				p.line_start += (size_t)((const char *)memchr(text + p.line_start, '\n',
				                                               k - p.line_start) - (text + p.line_start)) + 1,
				    p.line++;
			r = fail(&p, text[k] ? "bytes that are not UTF-8" : "a NUL byte");
			goto out;
		}
	}
	if ((r = skip_to_content(&p)) != 0)
		goto out;
	if (ch(&p, 0) < 0) {
		v = json_null();
		goto out;
	}
	if ((r = parse_block(&p, -1, false, true, &v)) != 0)
		goto out;
	if ((r = skip_to_content(&p)) != 0)
		goto out;
	if (ch(&p, 0) >= 0)
		r = fail(&p, "more content after the document's root node");
out:
	if (r == 0) {
		*out = v;
		return 0;
	}
	json_decref(v);
	*err = p.err ? p.err : xstrdup("invalid YAML");
	return r;
}
