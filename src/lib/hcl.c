/* hcl.c — HCL1 and JSON into one tree.
 *
 * Design: a hand-written lexer over (pointer, length) with one token of
 * lookahead, and a recursive-descent parser over it. Every byte read is
 * bounds-checked against the length, so input need not be terminated and may
 * hold anything. Recursion only happens through objects and lists, each of
 * which counts one level against HCL_MAX_DEPTH, which bounds the stack.
 * Decoded strings are built in capped bufs. The first error wins and is
 * reported with the 1-based line and byte column where the offending token
 * (or unterminated construct) began. The tree's nodes are small fixed
 * allocations (x* helpers, abort on OOM); their total is bounded by the
 * input size limit.
 *
 * Grammar (HCL1 as Vault uses it; newlines are plain whitespace):
 *   body    := { member | ',' }
 *   member  := key { label } ( '=' value | object )
 *   key     := IDENT | STRING        label := IDENT | STRING
 *   value   := STRING | HEREDOC | NUMBER | true | false | object | list
 *   object  := '{' body '}'          list := '[' [ value { ',' value } [','] ] ']'
 * Numbers follow Go's strconv.ParseInt(s, 0, 64) as HCL1 does (0x hex,
 * leading-zero octal); floats go through strtod (Trove never calls
 * setlocale, so the decimal point is '.').
 *
 * JSON goes through jansson (duplicate keys rejected) and is converted. As
 * HCL1's JSON reader does, a member whose value is a non-empty array of
 * objects becomes one member per element, so `"listener": [{..}, {..}]`
 * reads like two listener blocks. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hcl.h"
#include "strconv.h"
#include "buf.h"
#include "err.h"
#include "banned.h"

enum tok_type {
	T_EOF,
	T_IDENT,
	T_STRING,
	T_INT,
	T_FLOAT,
	T_LBRACE,
	T_RBRACE,
	T_LBRACK,
	T_RBRACK,
	T_EQUALS,
	T_COMMA
};

struct token {
	enum tok_type type;
	int line;
	int col;
	const char *start; /* raw text (identifiers, numbers) */
	size_t len;
	char *str; /* decoded string, owned until taken */
	size_t str_len;
	int64_t i;
	double f;
};

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	int line;
	size_t line_start;
	struct token tok;
	struct hcl_error *err;
};

static void set_error(struct hcl_error *err, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(struct hcl_error *err, int line, int col, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->line = line;
	err->column = col;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

static int col_at(const struct parser *p, size_t pos)
{
	return (int)(pos - p->line_start + 1);
}

/* Moves past one byte, keeping line accounting. */
static void step(struct parser *p)
{
	if (p->s[p->pos] == '\n') {
		p->line++;
		p->line_start = p->pos + 1;
	}
	p->pos++;
}

static bool is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(unsigned char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static const char *tok_desc(enum tok_type t)
{
	switch (t) {
	case T_EOF:
		return "end of input";
	case T_IDENT:
		return "identifier";
	case T_STRING:
		return "string";
	case T_INT:
	case T_FLOAT:
		return "number";
	case T_LBRACE:
		return "'{'";
	case T_RBRACE:
		return "'}'";
	case T_LBRACK:
		return "'['";
	case T_RBRACK:
		return "']'";
	case T_EQUALS:
		return "'='";
	case T_COMMA:
		return "','";
	}
	return "token";
}

static int skip_space(struct parser *p)
{
	int line, col;

	while (p->pos < p->len) {
		unsigned char c = (unsigned char)p->s[p->pos];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			step(p);
		} else if (c == '#' || (c == '/' && p->pos + 1 < p->len && p->s[p->pos + 1] == '/')) {
			while (p->pos < p->len && p->s[p->pos] != '\n')
				p->pos++;
		} else if (c == '/' && p->pos + 1 < p->len && p->s[p->pos + 1] == '*') {
			line = p->line;
			col = col_at(p, p->pos);
			p->pos += 2;
			for (;;) {
				if (p->pos + 1 >= p->len) {
					set_error(p->err, line, col, "unterminated /* comment");
					return TROVE_ERR_INVALID;
				}
				if (p->s[p->pos] == '*' && p->s[p->pos + 1] == '/') {
					p->pos += 2;
					break;
				}
				step(p);
			}
		} else {
			break;
		}
	}
	return 0;
}

/* Reads n hex digits at s[pos..]; -1 if short or invalid. */
static long read_hex(const struct parser *p, size_t pos, int n)
{
	long v = 0;
	int i, d;

	if (p->len - pos < (size_t)n)
		return -1;
	for (i = 0; i < n; i++) {
		if ((d = strconv_hex_digit((unsigned char)p->s[pos + (size_t)i])) < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static int append_utf8(struct buf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(b, u, n);
}

/* At a backslash inside a string: decodes one escape into b. */
static int lex_escape(struct parser *p, struct buf *b, int sline, int scol)
{
	int line = p->line, col = col_at(p, p->pos);
	unsigned char e;
	long cp, lo;
	int r;

	if (p->pos + 1 >= p->len) {
		set_error(p->err, sline, scol, "unterminated string");
		return TROVE_ERR_INVALID;
	}
	e = (unsigned char)p->s[p->pos + 1];
	p->pos += 2;
	switch (e) {
	case 'n':
		return buf_append_byte(b, '\n');
	case 't':
		return buf_append_byte(b, '\t');
	case 'r':
		return buf_append_byte(b, '\r');
	case '"':
	case '\\':
	case '/':
		return buf_append_byte(b, (char)e);
	case 'u':
		if ((cp = read_hex(p, p->pos, 4)) < 0)
			goto bad_unicode;
		p->pos += 4;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			/* A high surrogate must be followed by \u + low surrogate. */
			if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
			    (lo = read_hex(p, p->pos + 2, 4)) < 0xdc00 || lo > 0xdfff)
				goto bad_unicode;
			p->pos += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			goto bad_unicode;
		}
		break;
	case 'U':
		if ((cp = read_hex(p, p->pos, 8)) < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad_unicode;
		p->pos += 8;
		break;
	default:
		if (e >= 0x21 && e < 0x7f)
			set_error(p->err, line, col, "invalid escape sequence '\\%c' in string", e);
		else
			set_error(p->err, line, col, "invalid escape sequence (byte 0x%02x) in string", e);
		return TROVE_ERR_INVALID;
	}
	if (cp == 0) {
		set_error(p->err, line, col, "\\u0000 is not allowed in strings");
		return TROVE_ERR_INVALID;
	}
	if ((r = append_utf8(b, (unsigned long)cp)) != 0)
		return r;
	return 0;
bad_unicode:
	set_error(p->err, line, col, "invalid unicode escape in string");
	return TROVE_ERR_INVALID;
}

/* Makes the collected bytes the current string token (takes them from b). */
static int set_string_token(struct parser *p, struct buf *b)
{
	p->tok.type = T_STRING;
	p->tok.str_len = b->len;
	p->tok.str = buf_take(b);
	return p->tok.str ? 0 : TROVE_ERR_NOMEM;
}
static int lex_string(struct parser *p)
{
	int sline = p->line, scol = col_at(p, p->pos);
	struct buf b;
	int r = TROVE_ERR_INVALID;

	buf_init(&b, HCL_MAX_INPUT);
	p->pos++;
	for (;;) {
		size_t run = p->pos;

		/* Copy plain runs in one go. */
		while (run < p->len && p->s[run] != '"' && p->s[run] != '\\' && p->s[run] != '\n' &&
		       p->s[run] != '\0')
			run++;
		if (run > p->pos) {
			if ((r = buf_append(&b, p->s + p->pos, run - p->pos)) != 0)
				goto out;
			p->pos = run;
		}
		if (p->pos >= p->len || p->s[p->pos] == '\n') {
			set_error(p->err, sline, scol, "unterminated string");
			r = TROVE_ERR_INVALID;
			goto out;
		}
		if (p->s[p->pos] == '\0') {
			set_error(p->err, p->line, col_at(p, p->pos), "NUL byte in string");
			r = TROVE_ERR_INVALID;
			goto out;
		}
		if (p->s[p->pos] == '"') {
			p->pos++;
			break;
		}
		if ((r = lex_escape(p, &b, sline, scol)) != 0)
			goto out;
	}
	r = set_string_token(p, &b);
out:
	buf_release(&b);
	return r;
}

/* At "<<": a heredoc, <<ANCHOR or <<-ANCHOR, ending at a line holding only
 * the anchor (blanks around it allowed). The value keeps the final newline.
 * With <<-, the indentation of the closing line is removed from every line
 * if every non-empty line starts with it (as HCL1 does). */
static int lex_heredoc(struct parser *p)
{
	int sline = p->line, scol = col_at(p, p->pos);
	size_t anchor, alen, body, ls, le, ts, te, ind_len = 0, i;
	bool indent = false, strip;
	struct buf b;
	int r = TROVE_ERR_INVALID;

	buf_init(&b, HCL_MAX_INPUT);
	p->pos += 2;
	if (p->pos < p->len && p->s[p->pos] == '-') {
		indent = true;
		p->pos++;
	}
	anchor = p->pos;
	while (p->pos < p->len &&
	       (is_ident_start((unsigned char)p->s[p->pos]) || is_digit((unsigned char)p->s[p->pos])))
		p->pos++;
	alen = p->pos - anchor;
	if (alen == 0) {
		set_error(p->err, sline, scol, "expected a heredoc anchor after '<<'");
		goto out;
	}
	if (p->pos < p->len && p->s[p->pos] == '\r')
		p->pos++;
	if (p->pos >= p->len || p->s[p->pos] != '\n') {
		set_error(p->err, sline, scol, "heredoc anchor must be followed by a newline");
		goto out;
	}
	step(p);
	body = p->pos;
	for (;;) {
		ls = p->pos;
		if (ls >= p->len) {
			set_error(p->err, sline, scol, "unterminated heredoc (missing '%.*s')",
			          (int)(alen > 40 ? 40 : alen), p->s + anchor);
			goto out;
		}
		le = ls;
		while (le < p->len && p->s[le] != '\n')
			le++;
		ts = ls;
		while (ts < le && (p->s[ts] == ' ' || p->s[ts] == '\t'))
			ts++;
		te = le;
		while (te > ts && (p->s[te - 1] == ' ' || p->s[te - 1] == '\t' || p->s[te - 1] == '\r'))
			te--;
		if (te - ts == alen && memcmp(p->s + ts, p->s + anchor, alen) == 0) {
			ind_len = ts - ls;
			p->pos = te;
			break;
		}
		p->pos = le;
		if (le < p->len)
			step(p);
	}
	/* Body is [body, ls): whole lines, each ending in '\n'. */
	strip = indent && ind_len > 0;
	for (i = body; strip && i < ls;) {
		size_t e = i;

		while (e < ls && p->s[e] != '\n')
			e++;
		if (e > i && (e - i < ind_len || memcmp(p->s + i, p->s + ls, ind_len) != 0))
			strip = false;
		i = e + 1;
	}
	for (i = body; i < ls;) {
		size_t e = i;

		while (e < ls && p->s[e] != '\n')
			e++;
		if (strip && e > i)
			i += ind_len;
		if ((r = buf_append(&b, p->s + i, e - i + 1)) != 0)
			goto out;
		i = e + 1;
	}
	if (memchr(b.data, '\0', b.len) != NULL) {
		set_error(p->err, sline, scol, "NUL byte in heredoc");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	r = set_string_token(p, &b);
out:
	buf_release(&b);
	return r;
}

/* Integer text (after any sign) in base 0 like Go: 0x.., 0.. octal, else decimal. */
static bool parse_int(const char *s, size_t n, bool neg, int64_t *out)
{
	uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	unsigned base = 10;
	size_t i = 0;
	int d;

	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	} else if (n >= 2 && s[0] == '0') {
		base = 8;
		i = 1;
	}
	if (i == n)
		return false;
	for (; i < n; i++) {
		d = strconv_hex_digit((unsigned char)s[i]);
		if (d < 0 || (unsigned)d >= base)
			return false;
		if (v > (limit - (uint64_t)d) / base)
			return false;
		v = v * base + (uint64_t)d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	if (neg && v == (uint64_t)INT64_MAX + 1)
		*out = INT64_MIN;
	return true;
}

static int lex_number(struct parser *p)
{
	size_t start = p->pos, digits;
	int col = col_at(p, p->pos);
	bool neg = false, is_float = false;
	char tmp[64], *end;
	double f;

	if (p->s[p->pos] == '-') {
		neg = true;
		p->pos++;
	}
	digits = p->pos;
	if (p->len - p->pos >= 2 && p->s[p->pos] == '0' &&
	    (p->s[p->pos + 1] == 'x' || p->s[p->pos + 1] == 'X')) {
		p->pos += 2;
		while (p->pos < p->len && strconv_hex_digit((unsigned char)p->s[p->pos]) >= 0)
			p->pos++;
	} else {
		while (p->pos < p->len && is_digit((unsigned char)p->s[p->pos]))
			p->pos++;
		if (p->pos + 1 < p->len && p->s[p->pos] == '.' && is_digit((unsigned char)p->s[p->pos + 1])) {
			is_float = true;
			p->pos++;
			while (p->pos < p->len && is_digit((unsigned char)p->s[p->pos]))
				p->pos++;
		}
		if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
			is_float = true;
			p->pos++;
			if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
				p->pos++;
			if (p->pos >= p->len || !is_digit((unsigned char)p->s[p->pos]))
				goto bad;
			while (p->pos < p->len && is_digit((unsigned char)p->s[p->pos]))
				p->pos++;
		}
	}
	if (p->pos < p->len && is_ident_char((unsigned char)p->s[p->pos]))
		goto bad;
	p->tok.start = p->s + start;
	p->tok.len = p->pos - start;
	if (!is_float) {
		if (!parse_int(p->s + digits, p->pos - digits, neg, &p->tok.i)) {
			set_error(p->err, p->line, col, "invalid or out-of-range integer '%.*s'",
			          (int)(p->tok.len > 40 ? 40 : p->tok.len), p->tok.start);
			return TROVE_ERR_INVALID;
		}
		p->tok.type = T_INT;
		return 0;
	}
	if (p->tok.len >= sizeof(tmp)) {
		set_error(p->err, p->line, col, "number too long");
		return TROVE_ERR_INVALID;
	}
	memcpy(tmp, p->tok.start, p->tok.len);
	tmp[p->tok.len] = '\0';
	errno = 0;
	f = strtod(tmp, &end);
	if (end != tmp + p->tok.len || !isfinite(f)) {
		set_error(p->err, p->line, col, "invalid or out-of-range number '%s'", tmp);
		return TROVE_ERR_INVALID;
	}
	p->tok.type = T_FLOAT;
	p->tok.f = f;
	return 0;
bad:
	while (p->pos < p->len && is_ident_char((unsigned char)p->s[p->pos]) && p->pos - start < 40)
		p->pos++;
	set_error(p->err, p->line, col, "invalid number '%.*s'", (int)(p->pos - start), p->s + start);
	return TROVE_ERR_INVALID;
}

/* Replaces the current token with the next one. */
static int lex(struct parser *p)
{
	unsigned char c;
	int r;

	free(p->tok.str);
	memset(&p->tok, 0, sizeof(p->tok));
	if ((r = skip_space(p)) != 0)
		return r;
	p->tok.line = p->line;
	p->tok.col = col_at(p, p->pos);
	if (p->pos >= p->len) {
		p->tok.type = T_EOF;
		return 0;
	}
	c = (unsigned char)p->s[p->pos];
	switch (c) {
	case '{':
		p->tok.type = T_LBRACE;
		break;
	case '}':
		p->tok.type = T_RBRACE;
		break;
	case '[':
		p->tok.type = T_LBRACK;
		break;
	case ']':
		p->tok.type = T_RBRACK;
		break;
	case '=':
		p->tok.type = T_EQUALS;
		break;
	case ',':
		p->tok.type = T_COMMA;
		break;
	case '"':
		return lex_string(p);
	default:
		if (c == '<' && p->pos + 1 < p->len && p->s[p->pos + 1] == '<')
			return lex_heredoc(p);
		if (is_digit(c) ||
		    (c == '-' && p->pos + 1 < p->len && is_digit((unsigned char)p->s[p->pos + 1])))
			return lex_number(p);
		if (is_ident_start(c)) {
			size_t start = p->pos;

			while (p->pos < p->len && is_ident_char((unsigned char)p->s[p->pos]))
				p->pos++;
			p->tok.type = T_IDENT;
			p->tok.start = p->s + start;
			p->tok.len = p->pos - start;
			return 0;
		}
		if (c >= 0x21 && c < 0x7f)
			set_error(p->err, p->tok.line, p->tok.col, "unexpected character '%c'", c);
		else
			set_error(p->err, p->tok.line, p->tok.col, "unexpected byte 0x%02x", c);
		return TROVE_ERR_INVALID;
	}
	p->pos++;
	return 0;
}

static bool tok_is(const struct token *t, const char *word)
{
	size_t n = strlen(word);

	return t->type == T_IDENT && t->len == n && memcmp(t->start, word, n) == 0;
}

/* Takes the text of the current identifier or string token. */
static char *tok_take_text(struct parser *p)
{
	char *s;

	if (p->tok.type == T_STRING) {
		s = p->tok.str;
		p->tok.str = NULL;
		return s;
	}
	return xstrndup(p->tok.start, p->tok.len);
}

static struct hcl_value *value_new(enum hcl_type type, int line)
{
	struct hcl_value *v = xcalloc(1, sizeof(*v));

	v->type = type;
	v->line = line;
	return v;
}

static void member_release(struct hcl_member *m)
{
	size_t i;

	free(m->key);
	for (i = 0; i < m->nlabels; i++)
		free(m->labels[i]);
	free(m->labels);
	hcl_free(m->value);
}

void hcl_free(struct hcl_value *v)
{
	size_t i;

	if (v == NULL)
		return;
	switch (v->type) {
	case HCL_OBJECT:
		for (i = 0; i < v->u.object.len; i++)
			member_release(&v->u.object.members[i]);
		free(v->u.object.members);
		break;
	case HCL_LIST:
		for (i = 0; i < v->u.list.len; i++)
			hcl_free(v->u.list.items[i]);
		free(v->u.list.items);
		break;
	case HCL_STRING:
		free(v->u.string.ptr);
		break;
	default:
		break;
	}
	free(v);
}

/* Appends m (by value) to obj; cap is the caller's capacity counter. */
static void object_push(struct hcl_value *obj, size_t *cap, const struct hcl_member *m)
{
	if (obj->u.object.len == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		obj->u.object.members = xrealloc(obj->u.object.members, *cap * sizeof(*m));
	}
	obj->u.object.members[obj->u.object.len++] = *m;
}

static void list_push(struct hcl_value *list, size_t *cap, struct hcl_value *item)
{
	if (list->u.list.len == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		list->u.list.items = xrealloc(list->u.list.items, *cap * sizeof(item));
	}
	list->u.list.items[list->u.list.len++] = item;
}

static int parse_value(struct parser *p, struct hcl_value **out, int depth);

static int err_depth(struct parser *p)
{
	set_error(p->err, p->tok.line, p->tok.col, "nesting too deep (limit %d)", HCL_MAX_DEPTH);
	return TROVE_ERR_INVALID;
}

/* Members until '}' (or end of input at top level) into obj, at depth. */
static int parse_body(struct parser *p, struct hcl_value *obj, int depth, int open_line)
{
	struct hcl_member m;
	size_t cap = 0, lcap;
	int r = TROVE_ERR_INVALID;

	memset(&m, 0, sizeof(m));
	for (;;) {
		if (p->tok.type == T_EOF) {
			if (open_line == 0)
				break;
			set_error(p->err, p->tok.line, p->tok.col,
			          "unexpected end of input: missing '}' for the block opened on line %d",
			          open_line);
			r = TROVE_ERR_INVALID;
			goto out;
		}
		if (p->tok.type == T_RBRACE) {
			if (open_line == 0) {
				set_error(p->err, p->tok.line, p->tok.col,
				          "unexpected '}' (no block is open)");
				r = TROVE_ERR_INVALID;
				goto out;
			}
			if ((r = lex(p)) != 0)
				goto out;
			break;
		}
		if (p->tok.type == T_COMMA) {
			if ((r = lex(p)) != 0)
				goto out;
			continue;
		}
		if (p->tok.type != T_IDENT && p->tok.type != T_STRING) {
			set_error(p->err, p->tok.line, p->tok.col, "expected a key, found %s",
			          tok_desc(p->tok.type));
			r = TROVE_ERR_INVALID;
			goto out;
		}
		m.line = p->tok.line;
		m.key = tok_take_text(p);
		if ((r = lex(p)) != 0)
			goto out;
		lcap = 0;
		while (p->tok.type == T_IDENT || p->tok.type == T_STRING) {
			if (m.nlabels == lcap) {
				lcap = lcap ? lcap * 2 : 2;
				m.labels = xrealloc(m.labels, lcap * sizeof(*m.labels));
			}
			m.labels[m.nlabels++] = tok_take_text(p);
			if ((r = lex(p)) != 0)
				goto out;
		}
		if (p->tok.type == T_EQUALS && m.nlabels == 0) {
			if ((r = lex(p)) != 0)
				goto out;
			if ((r = parse_value(p, &m.value, depth)) != 0)
				goto out;
		} else if (p->tok.type == T_LBRACE) {
			if ((r = parse_value(p, &m.value, depth)) != 0)
				goto out;
		} else {
			r = TROVE_ERR_INVALID;
			if (m.nlabels == 0)
				set_error(p->err, p->tok.line, p->tok.col,
				          "expected '=' or '{' after key '%.60s', found %s", m.key,
				          tok_desc(p->tok.type));
			else
				set_error(p->err, p->tok.line, p->tok.col,
				          "expected '{' after the labels of block '%.60s', found %s", m.key,
				          tok_desc(p->tok.type));
			goto out;
		}
		object_push(obj, &cap, &m);
		memset(&m, 0, sizeof(m));
	}
	r = 0;
out:
	member_release(&m);
	return r;
}

static int parse_list(struct parser *p, struct hcl_value *list, int depth, int open_line)
{
	struct hcl_value *item = NULL;
	size_t cap = 0;
	int r = TROVE_ERR_INVALID;

	for (;;) {
		if (p->tok.type == T_RBRACK)
			break;
		if (p->tok.type == T_EOF) {
			set_error(p->err, p->tok.line, p->tok.col,
			          "unexpected end of input: missing ']' for the list opened on line %d",
			          open_line);
			r = TROVE_ERR_INVALID;
			goto out;
		}
		if ((r = parse_value(p, &item, depth)) != 0)
			goto out;
		list_push(list, &cap, item);
		item = NULL;
		if (p->tok.type == T_COMMA) {
			if ((r = lex(p)) != 0)
				goto out;
		} else if (p->tok.type != T_RBRACK) {
			set_error(p->err, p->tok.line, p->tok.col,
			          "expected ',' or ']' after a list element, found %s",
			          tok_desc(p->tok.type));
			r = TROVE_ERR_INVALID;
			goto out;
		}
	}
	if ((r = lex(p)) != 0)
		goto out;
	r = 0;
out:
	return r;
}

/* A value whose container (if any) sits at depth + 1. */
static int parse_value(struct parser *p, struct hcl_value **out, int depth)
{
	struct hcl_value *v = NULL;
	int line = p->tok.line, r = TROVE_ERR_INVALID;

	switch (p->tok.type) {
	case T_STRING:
		v = value_new(HCL_STRING, line);
		v->u.string.len = p->tok.str_len;
		v->u.string.ptr = tok_take_text(p);
		break;
	case T_INT:
		v = value_new(HCL_INT, line);
		v->u.i = p->tok.i;
		break;
	case T_FLOAT:
		v = value_new(HCL_FLOAT, line);
		v->u.f = p->tok.f;
		break;
	case T_IDENT:
		if (tok_is(&p->tok, "true") || tok_is(&p->tok, "false")) {
			v = value_new(HCL_BOOL, line);
			v->u.b = tok_is(&p->tok, "true");
			break;
		}
		set_error(p->err, line, p->tok.col,
		          "unexpected identifier '%.*s' where a value was expected"
		          " (strings must be quoted)",
		          (int)(p->tok.len > 60 ? 60 : p->tok.len), p->tok.start);
		goto out;
	case T_LBRACE:
	case T_LBRACK:
		if (depth + 1 > HCL_MAX_DEPTH) {
			r = err_depth(p);
			goto out;
		}
		v = value_new(p->tok.type == T_LBRACE ? HCL_OBJECT : HCL_LIST, line);
		if ((r = lex(p)) != 0)
			goto out;
		if (v->type == HCL_OBJECT)
			r = parse_body(p, v, depth + 1, line);
		else
			r = parse_list(p, v, depth + 1, line);
		if (r != 0)
			goto out;
		*out = v;
		return 0;
	default:
		set_error(p->err, line, p->tok.col, "expected a value, found %s", tok_desc(p->tok.type));
		goto out;
	}
	if ((r = lex(p)) != 0)
		goto out;
	*out = v;
	return 0;
out:
	hcl_free(v);
	return r;
}

static void error_clear(struct hcl_error *err)
{
	if (err != NULL) {
		err->line = 0;
		err->column = 0;
		err->message[0] = '\0';
	}
}

int hcl_parse(const char *text, size_t len, struct hcl_value **out, struct hcl_error *err)
{
	struct parser p;
	struct hcl_value *root = NULL;
	int r = TROVE_ERR_INVALID;

	*out = NULL;
	error_clear(err);
	if (len > HCL_MAX_INPUT) {
		set_error(err, 0, 0, "input too large (%zu bytes, limit %zu)", len, HCL_MAX_INPUT);
		return TROVE_ERR_TOO_LARGE;
	}
	memset(&p, 0, sizeof(p));
	p.s = text;
	p.len = text != NULL ? len : 0;
	p.line = 1;
	p.err = err;
	/* A UTF-8 byte order mark is not content. */
	if (p.len >= 3 && memcmp(p.s, "\xef\xbb\xbf", 3) == 0)
		p.pos = p.line_start = 3;
	root = value_new(HCL_OBJECT, 1);
	if ((r = lex(&p)) != 0)
		goto out;
	if ((r = parse_body(&p, root, 1, 0)) != 0)
		goto out;
	*out = root;
	root = NULL;
	r = 0;
out:
	free(p.tok.str);
	hcl_free(root);
	if (r == TROVE_ERR_NOMEM || r == TROVE_ERR_TOO_LARGE) {
		if (err != NULL && err->message[0] == '\0')
			set_error(err, p.line, col_at(&p, p.pos), "%s",
			          r == TROVE_ERR_NOMEM ? "out of memory" : "value too large");
	}
	return r;
}

static int from_json(const json_t *j, struct hcl_value **out, int depth, struct hcl_error *err);

static int json_member(struct hcl_value *obj, size_t *cap, const char *key, const json_t *jv, int depth,
                       struct hcl_error *err)
{
	struct hcl_member m;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = from_json(jv, &m.value, depth, err)) != 0)
		return r;
	m.key = xstrdup(key);
	object_push(obj, cap, &m);
	return 0;
}

static bool is_object_array(const json_t *j)
{
	size_t i;

	if (!json_is_array(j) || json_array_size(j) == 0)
		return false;
	for (i = 0; i < json_array_size(j); i++)
		if (!json_is_object(json_array_get(j, i)))
			return false;
	return true;
}

static int from_json(const json_t *j, struct hcl_value **out, int depth, struct hcl_error *err)
{
	struct hcl_value *v = NULL;
	const char *key;
	const json_t *jv;
	size_t i, cap = 0;
	int r = TROVE_ERR_INVALID;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth + 1 > HCL_MAX_DEPTH) {
			set_error(err, 0, 0, "nesting too deep (limit %d)", HCL_MAX_DEPTH);
			goto out;
		}
		if (json_is_array(j)) {
			v = value_new(HCL_LIST, 0);
			for (i = 0; i < json_array_size(j); i++) {
				struct hcl_value *item = NULL;

				if ((r = from_json(json_array_get(j, i), &item, depth + 1, err)) != 0)
					goto out;
				list_push(v, &cap, item);
			}
			break;
		}
		v = value_new(HCL_OBJECT, 0);
		/* The iteration API is not const-qualified; it does not modify. */
		json_object_foreach((json_t *)j, key, jv)
		{
			if (is_object_array(jv)) {
				for (i = 0; i < json_array_size(jv); i++)
					if ((r = json_member(v, &cap, key, json_array_get(jv, i), depth + 1,
					                     err)) != 0)
						goto out;
			} else if ((r = json_member(v, &cap, key, jv, depth + 1, err)) != 0) {
				goto out;
			}
		}
		break;
	case JSON_STRING:
		v = value_new(HCL_STRING, 0);
		v->u.string.len = json_string_length(j);
		v->u.string.ptr = xstrndup(json_string_value(j), v->u.string.len);
		break;
	case JSON_INTEGER:
		v = value_new(HCL_INT, 0);
		v->u.i = (int64_t)json_integer_value(j);
		break;
	case JSON_REAL:
		v = value_new(HCL_FLOAT, 0);
		v->u.f = json_real_value(j);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v = value_new(HCL_BOOL, 0);
		v->u.b = json_is_true(j);
		break;
	case JSON_NULL:
		set_error(err, 0, 0, "null values are not supported");
		goto out;
	}
	*out = v;
	return 0;
out:
	hcl_free(v);
	return r;
}

int hcl_parse_json(const char *text, size_t len, struct hcl_value **out, struct hcl_error *err)
{
	json_error_t jerr;
	json_t *root = NULL;
	int r = TROVE_ERR_INVALID;

	*out = NULL;
	error_clear(err);
	if (len > HCL_MAX_INPUT) {
		set_error(err, 0, 0, "input too large (%zu bytes, limit %zu)", len, HCL_MAX_INPUT);
		return TROVE_ERR_TOO_LARGE;
	}
	if (text == NULL)
		text = "";
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		set_error(err, jerr.line > 0 ? jerr.line : 0, jerr.column > 0 ? jerr.column : 0, "%s",
		          jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		set_error(err, 1, 1, "the top level of a JSON document must be an object");
		goto out;
	}
	if ((r = from_json(root, out, 0, err)) != 0)
		goto out;
	r = 0;
out:
	json_decref(root);
	return r;
}

int hcl_member_block(const struct hcl_member *m, const char **label, const struct hcl_value **body,
                     struct hcl_error *err)
{
	const struct hcl_member *inner;

	error_clear(err);
	if (m->value == NULL || m->value->type != HCL_OBJECT)
		goto bad;
	if (m->nlabels == 1) {
		*label = m->labels[0];
		*body = m->value;
		return 0;
	}
	if (m->nlabels > 1) {
		set_error(err, m->line, 0, "'%.60s' takes one label, found %zu", m->key, m->nlabels);
		return TROVE_ERR_INVALID;
	}
	if (m->value->u.object.len != 1)
		goto bad;
	inner = &m->value->u.object.members[0];
	if (inner->nlabels != 0 || inner->value == NULL || inner->value->type != HCL_OBJECT)
		goto bad;
	*label = inner->key;
	*body = inner->value;
	return 0;
bad:
	set_error(err, m->line, 0, "'%.60s' must be a block with one label, like %.60s \"name\" { ... }",
	          m->key, m->key);
	return TROVE_ERR_INVALID;
}

const char *hcl_type_name(enum hcl_type t)
{
	switch (t) {
	case HCL_OBJECT:
		return "object";
	case HCL_LIST:
		return "list";
	case HCL_STRING:
		return "string";
	case HCL_INT:
		return "int";
	case HCL_FLOAT:
		return "float";
	case HCL_BOOL:
		return "bool";
	}
	return "unknown";
}
