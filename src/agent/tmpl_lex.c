/* tmpl_lex.c — the template lexer: text and actions between delimiters,
 * with Go's trim markers ("{{- " and " -}}"), comments, and the tokens of
 * an action. Strings are unquoted here (Go's escapes). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "encoding.h"
#include "buf.h"
#include "strconv.h"
#include "banned.h"

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alnum(int c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void tlex_init(struct tlexer *l, const char *text, size_t len, const char *ld, const char *rd)
{
	memset(l, 0, sizeof(*l));
	l->text = text;
	l->len = len;
	l->line = 1;
	l->ld = ld ? ld : "{{";
	l->rd = rd ? rd : "}}";
	l->ld_len = strlen(l->ld);
	l->rd_len = strlen(l->rd);
}

void ttoken_clear(struct ttoken *t)
{
	free(t->str);
	free(t->why);
	memset(t, 0, sizeof(*t));
}

static int peekc(const struct tlexer *l, size_t off)
{
	return l->pos + off < l->len ? (unsigned char)l->text[l->pos + off] : -1;
}

/* Bytes of the identifier character at the lexer's position: an ASCII
 * letter, digit or '_', or a valid UTF-8 sequence past ASCII (a letter, as
 * far as Trove tells); 0 for anything else (bytes that are not UTF-8
 * are refused, as Go refuses U+FFFD). */
static size_t word_char(const struct tlexer *l)
{
	int c = peekc(l, 0);
	if (c < 0)
		return 0;
	if (c < 0x80)
		return is_alnum(c) ? 1 : 0;
	uint32_t r;
	return utf8_decode((const unsigned char *)l->text + l->pos, l->len - l->pos, &r);
}

static bool has(const struct tlexer *l, size_t at, const char *s, size_t n)
{
	return at <= l->len && l->len - at >= n && memcmp(l->text + at, s, n) == 0;
}

/* Moves forward n bytes, counting lines. */
static void adv(struct tlexer *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (l->text[l->pos + i] == '\n') {
			l->line++;
			l->line_start = l->pos + i + 1;
		}
	l->pos += n;
}

static struct tpos here(const struct tlexer *l)
{
	return (struct tpos){ l->line, (uint32_t)(l->pos - l->line_start + 1) };
}

static void tok(struct ttoken *t, enum ttok kind, struct tpos pos, const char *p, size_t n)
{
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->pos = pos;
	t->p = p;
	t->n = n;
}

__attribute__((format(printf, 3, 4))) static void lex_err(struct tlexer *l, struct ttoken *t, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	tok(t, TK_ERROR, here(l), NULL, 0);
	buf_init(&b, 4096);
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	t->why = buf_take(&b);
	l->pos = l->len; /* nothing after an error */
}

/* " -" then the right delimiter at pos. */
static bool right_trim_at(const struct tlexer *l, size_t at)
{
	return at + 2 <= l->len && is_space((unsigned char)l->text[at]) && l->text[at + 1] == '-' &&
	       has(l, at + 2, l->rd, l->rd_len);
}

static bool left_trim_after(const struct tlexer *l, size_t at)
{
	return at + 2 <= l->len && l->text[at] == '-' && is_space((unsigned char)l->text[at + 1]);
}

static void skip_spaces(struct tlexer *l)
{
	size_t n = 0;

	while (l->pos + n < l->len && is_space((unsigned char)l->text[l->pos + n]))
		n++;
	adv(l, n);
}

static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
	if (m == 0 || m > n)
		return NULL;
	return memmem(hay, n, needle, m);
}

/* Text up to the next left delimiter (or the end); false when all of it
 * was trimmed away. */
static bool lex_text(struct tlexer *l, struct ttoken *t)
{
	if (l->trim_next) {
		l->trim_next = false;
		skip_spaces(l);
	}
	const char *start = l->text + l->pos;
	const char *d = find(start, l->len - l->pos, l->ld, l->ld_len);
	size_t n = d ? (size_t)(d - start) : l->len - l->pos;
	size_t keep = n;
	if (d && left_trim_after(l, l->pos + n + l->ld_len))
		while (keep > 0 && is_space((unsigned char)start[keep - 1]))
			keep--;
	struct tpos pos = here(l);
	adv(l, n);
	if (keep == 0)
		return false;
	tok(t, TK_TEXT, pos, start, keep);
	return true;
}

/* At a left delimiter: an action's start, or a whole comment skipped
 * (false). */
static bool lex_left(struct tlexer *l, struct ttoken *t)
{
	struct tpos pos = here(l);
	adv(l, l->ld_len);
	size_t marker = left_trim_after(l, l->pos) ? 2 : 0;
	if (has(l, l->pos + marker, "/*", 2)) {
		adv(l, marker + 2);
		const char *end = find(l->text + l->pos, l->len - l->pos, "*/", 2);
		if (!end) {
			lex_err(l, t, "unclosed comment");
			t->pos = pos;
			return true;
		}
		adv(l, (size_t)(end - (l->text + l->pos)) + 2);
		if (right_trim_at(l, l->pos)) {
			adv(l, 2 + l->rd_len);
			l->trim_next = true;
		} else if (has(l, l->pos, l->rd, l->rd_len)) {
			adv(l, l->rd_len);
		} else {
			lex_err(l, t, "comment ends before closing delimiter");
			t->pos = pos;
			return true;
		}
		return false;
	}
	adv(l, marker);
	l->in_action = true;
	l->parens = 0;
	tok(t, TK_LDELIM, pos, NULL, 0);
	return true;
}

static bool at_terminator(const struct tlexer *l)
{
	int c = peekc(l, 0);
	if (c < 0 || is_space(c) || c == '.' || c == ',' || c == '|' || c == ':' || c == ')' || c == '(')
		return true;
	return has(l, l->pos, l->rd, l->rd_len);
}

static const struct {
	const char *word;
	enum ttok kind;
} keywords[] = {
	{ "block", TK_BLOCK }, { "break", TK_BREAK }, { "continue", TK_CONTINUE }, { "define", TK_DEFINE },
	{ "else", TK_ELSE },   { "end", TK_END },     { "if", TK_IF },             { "range", TK_RANGE },
	{ "template", TK_TEMPLATE }, { "with", TK_WITH }, { "nil", TK_NIL },      { "true", TK_BOOL },
	{ "false", TK_BOOL },
};

/* An identifier, keyword, field (after '.') or variable (after '$'). */
static void lex_word(struct tlexer *l, struct ttoken *t, enum ttok kind, size_t skip)
{
	struct tpos pos = here(l);
	size_t start = l->pos;
	adv(l, skip);
	for (size_t k; (k = word_char(l)) > 0;)
		adv(l, k);
	if (!at_terminator(l)) {
		int c = peekc(l, 0);
		lex_err(l, t, "bad character %s%c%s in action", c >= 0x20 && c < 0x7f ? "'" : "",
		        c >= 0x20 && c < 0x7f ? c : '?', c >= 0x20 && c < 0x7f ? "'" : "");
		t->pos = pos;
		return;
	}
	const char *p = l->text + start;
	size_t n = l->pos - start;
	if (kind == TK_FIELD) {
		if (n == 1)
			tok(t, TK_DOT, pos, p, n);
		else
			tok(t, TK_FIELD, pos, p + 1, n - 1);
		return;
	}
	if (kind == TK_IDENT)
		for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
			if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, p, n) == 0) {
				tok(t, keywords[i].kind, pos, p, n);
				return;
			}
	tok(t, kind, pos, p, n);
}

static void lex_number(struct tlexer *l, struct ttoken *t)
{
	struct tpos pos = here(l);
	size_t start = l->pos;
	const char *digits = "0123456789_";
	int c = peekc(l, 0);

	if (c == '+' || c == '-')
		adv(l, 1);
	if (peekc(l, 0) == '0' && peekc(l, 1) >= 0 && strchr("xXoObB", peekc(l, 1))) {
		c = peekc(l, 1);
		adv(l, 2);
		digits = (c == 'x' || c == 'X') ? "0123456789abcdefABCDEF_" : (c == 'o' || c == 'O') ? "01234567_" : "01_";
	}
	while (peekc(l, 0) > 0 && strchr(digits, peekc(l, 0)))
		adv(l, 1);
	if (peekc(l, 0) == '.') {
		adv(l, 1);
		while (peekc(l, 0) > 0 && strchr(digits, peekc(l, 0)))
			adv(l, 1);
	}
	if (strlen(digits) == 11 && (peekc(l, 0) == 'e' || peekc(l, 0) == 'E')) {
		adv(l, 1);
		if (peekc(l, 0) == '+' || peekc(l, 0) == '-')
			adv(l, 1);
		while (peekc(l, 0) > 0 && strchr("0123456789_", peekc(l, 0)))
			adv(l, 1);
	}
	if (word_char(l) > 0 || peekc(l, 0) == '.') {
		adv(l, 1);
		lex_err(l, t, "bad number syntax: %.*s", (int)(l->pos - start), l->text + start);
		t->pos = pos;
		return;
	}
	tok(t, TK_NUMBER, pos, l->text + start, l->pos - start);
}

/* One escape after a backslash at s[0] (s[0] == '\\'), for a literal quoted
 * with q. Appends the value; returns the bytes consumed, 0 when invalid.
 * *rune gets the code point (or the byte for \x and octal). */
static size_t unescape(const char *s, size_t n, char q, struct buf *b, int64_t *rune)
{
	if (n < 2)
		return 0;
	char c = s[1];
	const char *simple = "abfnrtv\\";
	const char *vals = "\a\b\f\n\r\t\v\\";
	const char *sp = strchr(simple, c);
	if (c && sp) {
		*rune = (unsigned char)vals[sp - simple];
		(void)buf_append_byte(b, (char)*rune);
		return 2;
	}
	if (c == '\'' || c == '"') {
		if (c != q)
			return 0;
		*rune = c;
		(void)buf_append_byte(b, c);
		return 2;
	}
	size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
	if (digits) {
		if (n < 2 + digits)
			return 0;
		uint32_t v = 0;
		for (size_t i = 0; i < digits; i++) {
			int h = strconv_hex_digit((unsigned char)s[2 + i]);
			if (h < 0)
				return 0;
			v = v * 16 + (uint32_t)h;
		}
		if (c == 'x') {
			*rune = v;
			(void)buf_append_byte(b, (char)v);
		} else {
			if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
				return 0;
			*rune = v;
			tfmt_put_rune(b, v);
		}
		return 2 + digits;
	}
	if (c >= '0' && c <= '7') {
		if (n < 4)
			return 0;
		uint32_t v = 0;
		for (size_t i = 1; i < 4; i++) {
			if (s[i] < '0' || s[i] > '7')
				return 0;
			v = v * 8 + (uint32_t)(s[i] - '0');
		}
		if (v > 255)
			return 0;
		*rune = v;
		(void)buf_append_byte(b, (char)v);
		return 4;
	}
	return 0;
}

/* A "..." string or a '.' char constant. */
static void lex_quoted(struct tlexer *l, struct ttoken *t, char q)
{
	struct tpos pos = here(l);
	struct buf b;
	int64_t rune = 0;
	size_t count = 0;

	buf_init(&b, TMPL_TEXT_MAX);
	adv(l, 1);
	for (;;) {
		int c = peekc(l, 0);
		if (c < 0 || c == '\n') {
			buf_release(&b);
			lex_err(l, t, q == '"' ? "unterminated quoted string" : "unterminated character constant");
			t->pos = pos;
			return;
		}
		if (c == q) {
			adv(l, 1);
			break;
		}
		if (c == '\\') {
			size_t used = unescape(l->text + l->pos, l->len - l->pos, q, &b, &rune);
			if (!used) {
				buf_release(&b);
				lex_err(l, t, "invalid escape in %s", q == '"' ? "quoted string" : "character constant");
				t->pos = pos;
				return;
			}
			adv(l, used);
		} else {
			uint32_t r32;
			size_t n = utf8_decode((const unsigned char *)l->text + l->pos, l->len - l->pos, &r32);
			if (n == 0) { /* a byte that starts no UTF-8 sequence reads as U+FFFD, as in Go */
				tfmt_put_rune(&b, 0xfffd);
				adv(l, 1);
			} else {
				(void)buf_append(&b, l->text + l->pos, n);
				adv(l, n);
			}
			rune = r32;
		}
		count++;
	}
	if (q == '\'') {
		buf_release(&b);
		if (count != 1) {
			lex_err(l, t, "malformed character constant");
			t->pos = pos;
			return;
		}
		tok(t, TK_CHAR, pos, NULL, 0);
		t->num = rune;
		return;
	}
	tok(t, TK_STRING, pos, NULL, 0);
	t->str_len = b.len;
	t->str = buf_take(&b);
}

static void lex_raw(struct tlexer *l, struct ttoken *t)
{
	struct tpos pos = here(l);
	adv(l, 1);
	const char *start = l->text + l->pos;
	const char *end = memchr(start, '`', l->len - l->pos);
	if (!end) {
		lex_err(l, t, "unterminated raw quoted string");
		t->pos = pos;
		return;
	}
	size_t n = (size_t)(end - start);
	char *s = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (start[i] != '\r')
			s[k++] = start[i];
	s[k] = '\0';
	adv(l, n + 1);
	tok(t, TK_STRING, pos, NULL, 0);
	t->str = s;
	t->str_len = k;
}

static void lex_action1(struct tlexer *l, struct ttoken *t)
{
	struct tpos pos = here(l);
	bool trim = right_trim_at(l, l->pos);
	if (trim || has(l, l->pos, l->rd, l->rd_len)) {
		if (l->parens > 0) {
			lex_err(l, t, "unclosed left paren");
			return;
		}
		adv(l, (trim ? 2 : 0) + l->rd_len);
		l->in_action = false;
		l->trim_next = trim;
		tok(t, TK_RDELIM, pos, NULL, 0);
		return;
	}
	int c = peekc(l, 0);
	if (c < 0) {
		lex_err(l, t, "unclosed action");
		return;
	}
	switch (c) {
	case '=':
		adv(l, 1);
		tok(t, TK_ASSIGN, pos, NULL, 0);
		return;
	case ':':
		if (peekc(l, 1) != '=') {
			lex_err(l, t, "expected :=");
			return;
		}
		adv(l, 2);
		tok(t, TK_DECLARE, pos, NULL, 0);
		return;
	case '|':
		adv(l, 1);
		tok(t, TK_PIPE, pos, NULL, 0);
		return;
	case ',':
		adv(l, 1);
		tok(t, TK_COMMA, pos, NULL, 0);
		return;
	case '(':
		adv(l, 1);
		l->parens++;
		tok(t, TK_LPAREN, pos, NULL, 0);
		return;
	case ')':
		if (l->parens == 0) {
			lex_err(l, t, "unexpected right paren");
			return;
		}
		adv(l, 1);
		l->parens--;
		tok(t, TK_RPAREN, pos, NULL, 0);
		return;
	case '"':
	case '\'':
		lex_quoted(l, t, (char)c);
		return;
	case '`':
		lex_raw(l, t);
		return;
	case '$':
		lex_word(l, t, TK_VAR, 1);
		return;
	case '.':
		if (peekc(l, 1) < '0' || peekc(l, 1) > '9') {
			lex_word(l, t, TK_FIELD, 1);
			return;
		}
		lex_number(l, t);
		return;
	default:
		break;
	}
	if (c == '+' || c == '-' || (c >= '0' && c <= '9')) {
		lex_number(l, t);
		return;
	}
	if (word_char(l) > 0) {
		lex_word(l, t, TK_IDENT, 0);
		return;
	}
	if (c >= 0x20 && c < 0x7f)
		lex_err(l, t, "unexpected '%c' in action", c);
	else
		lex_err(l, t, "unrecognized character 0x%02x in action", c);
}

/* Blanks in an action only separate tokens: the token after them says so
 * (space_before). A " -}}" keeps its own blank. */
static void lex_action(struct tlexer *l, struct ttoken *t)
{
	size_t n = 0;

	while (l->pos + n < l->len && is_space((unsigned char)l->text[l->pos + n]))
		n++;
	if (n > 0 && right_trim_at(l, l->pos + n - 1))
		n--;
	adv(l, n);
	lex_action1(l, t);
	t->space_before = n > 0;
}

void tlex_next(struct tlexer *l, struct ttoken *t)
{
	for (;;) {
		if (l->in_action) {
			lex_action(l, t);
			return;
		}
		if (l->pos >= l->len && !l->trim_next) {
			tok(t, TK_EOF, here(l), NULL, 0);
			return;
		}
		if (!l->trim_next && has(l, l->pos, l->ld, l->ld_len)) {
			if (lex_left(l, t))
				return;
		} else if (lex_text(l, t)) {
			return;
		}
	}
}
