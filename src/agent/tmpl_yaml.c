/* tmpl_yaml.c — toYAML as consul-template writes it: gopkg.in/yaml.v2's
 * Marshal of interface{} values, whose emitter is libyaml's. Block
 * mappings with keys in yaml.v2's order, sequences inside a mapping not
 * indented, empty ones as {} and [], strings plain unless they would read
 * back as something else or hold characters plain text cannot (then
 * single or double quotes, or a literal block for several lines), long
 * lines folded at spaces past column 80. */
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "encoding.h"
#include "err.h"
#include "strconv.h"
#include "banned.h"

#define BEST_INDENT 2
#define BEST_WIDTH 80
#define YAML_DEPTH_MAX 4096

struct ye {
	struct buf *b;
	int r;
	int column, indent;
	bool whitespace, indention;
	bool mapping_ctx, simple_key_ctx;
};

static void put(struct ye *y, char c)
{
	if (!y->r)
		y->r = buf_append_byte(y->b, c);
	y->column++;
}

static void put_break(struct ye *y)
{
	if (!y->r)
		y->r = buf_append_byte(y->b, '\n');
	y->column = 0;
}

static size_t width(unsigned char c)
{
	return (c & 0x80) == 0 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
}

/* One character of v at *i. */
static void write1(struct ye *y, const unsigned char *v, size_t n, size_t *i)
{
	size_t w = width(v[*i]);
	if (*i + w > n)
		w = n - *i;
	if (!y->r)
		y->r = buf_append(y->b, v + *i, w);
	y->column++;
	*i += w;
}

static bool is_break(const unsigned char *v, size_t n, size_t i)
{
	return i < n && (v[i] == '\r' || v[i] == '\n' || (v[i] == 0xc2 && i + 1 < n && v[i + 1] == 0x85) ||
	                 (v[i] == 0xe2 && i + 2 < n && v[i + 1] == 0x80 && (v[i + 2] == 0xa8 || v[i + 2] == 0xa9)));
}

static void write_break(struct ye *y, const unsigned char *v, size_t n, size_t *i)
{
	if (v[*i] == '\n') {
		put_break(y);
		(*i)++;
		return;
	}
	write1(y, v, n, i);
	y->column = 0;
}

static bool is_space(const unsigned char *v, size_t n, size_t i)
{
	return i < n && v[i] == ' ';
}

static bool is_blank(const unsigned char *v, size_t n, size_t i)
{
	return i < n && (v[i] == ' ' || v[i] == '\t');
}

static bool is_printable(const unsigned char *v, size_t n, size_t i)
{
	unsigned char c = v[i], c1 = i + 1 < n ? v[i + 1] : 0, c2 = i + 2 < n ? v[i + 2] : 0;
	return c == 0x0a || (c >= 0x20 && c <= 0x7e) || (c == 0xc2 && c1 >= 0xa0) || (c > 0xc2 && c < 0xed) ||
	       (c == 0xed && c1 < 0xa0) || c == 0xee ||
	       (c == 0xef && !(c1 == 0xbb && c2 == 0xbf) && !(c1 == 0xbf && (c2 == 0xbe || c2 == 0xbf)));
}

static void write_indent(struct ye *y)
{
	int indent = y->indent < 0 ? 0 : y->indent;
	if (!y->indention || y->column > indent || (y->column == indent && !y->whitespace))
		put_break(y);
	while (y->column < indent)
		put(y, ' ');
	y->whitespace = true;
	y->indention = true;
}

static void indicator(struct ye *y, const char *s, bool need_ws, bool is_ws, bool is_ind)
{
	if (need_ws && !y->whitespace)
		put(y, ' ');
	for (; *s; s++)
		put(y, *s);
	y->whitespace = is_ws;
	y->indention = y->indention && is_ind;
}

/* ---- scalars ---- */

enum style { PLAIN, SINGLE, DOUBLE, LITERAL };

struct analysis {
	bool multiline, block_plain, single_ok, block_ok;
};

static struct analysis analyze(const unsigned char *v, size_t n)
{
	struct analysis a = { false, true, true, false };
	bool block_ind = false, breaks = false, special = false, lead_space = false, lead_break = false;
	bool trail_space = false, trail_break = false, break_space = false, space_break = false;
	bool prev_ws = true, prev_space = false, prev_break = false;

	if (n == 0)
		return a;
	if (n >= 3 && ((v[0] == '-' && v[1] == '-' && v[2] == '-') || (v[0] == '.' && v[1] == '.' && v[2] == '.')))
		block_ind = true;
	for (size_t i = 0, w; i < n; i += w) {
		w = width(v[i]);
		bool followed_ws = i + w >= n || is_blank(v, n, i + w);
		if (i == 0) {
			if (strchr("#,[]{}&*!|>'\"%@`", v[i]) && v[i])
				block_ind = true;
			else if ((v[i] == '?' || v[i] == ':' || v[i] == '-') && followed_ws)
				block_ind = true;
		} else if ((v[i] == ':' && followed_ws) || (v[i] == '#' && prev_ws)) {
			block_ind = true;
		}
		if (!is_printable(v, n, i))
			special = true;
		if (is_space(v, n, i)) {
			lead_space |= i == 0;
			trail_space |= i + w >= n;
			break_space |= prev_break;
			prev_space = true;
			prev_break = false;
		} else if (is_break(v, n, i)) {
			breaks = true;
			lead_break |= i == 0;
			trail_break |= i + w >= n;
			space_break |= prev_space;
			prev_space = false;
			prev_break = true;
		} else {
			prev_space = prev_break = false;
		}
		prev_ws = is_blank(v, n, i) || is_break(v, n, i) || v[i] == 0;
	}
	a.multiline = breaks;
	a.block_ok = true;
	if (lead_space || lead_break || trail_space || trail_break)
		a.block_plain = false;
	if (trail_space)
		a.block_ok = false;
	if (break_space)
		a.block_plain = a.single_ok = false;
	if (space_break || special)
		a.block_plain = a.single_ok = a.block_ok = false;
	if (breaks || block_ind)
		a.block_plain = false;
	return a;
}

/* A plain scalar, or a single-quoted one (quotes, and ' doubled): both
 * fold at a space past the width when allowed. */
static void write_unescaped(struct ye *y, const unsigned char *v, size_t n, bool allow_breaks, bool single)
{
	bool spaces = false, breaks = false;
	if (single)
		indicator(y, "'", true, false, false);
	else if (!y->whitespace)
		put(y, ' ');
	for (size_t i = 0; i < n;) {
		if (is_space(v, n, i)) {
			bool inner = !single || (i > 0 && i < n - 1);
			if (allow_breaks && !spaces && y->column > BEST_WIDTH && inner && !is_space(v, n, i + 1)) {
				write_indent(y);
				i++;
			} else {
				write1(y, v, n, &i);
			}
			spaces = true;
		} else if (is_break(v, n, i)) {
			if (!breaks && v[i] == '\n')
				put_break(y);
			write_break(y, v, n, &i);
			y->indention = true;
			breaks = true;
		} else {
			if (breaks)
				write_indent(y);
			if (single && v[i] == '\'')
				put(y, '\'');
			write1(y, v, n, &i);
			y->indention = false;
			spaces = breaks = false;
		}
	}
	if (single)
		indicator(y, "'", false, false, false);
	y->whitespace = false;
	y->indention = false;
}

static void write_double(struct ye *y, const unsigned char *v, size_t n, bool allow_breaks)
{
	static const char hex[] = "0123456789ABCDEF";
	bool spaces = false;
	indicator(y, "\"", true, false, false);
	for (size_t i = 0; i < n;) {
		bool bom = i + 2 < n && v[i] == 0xef && v[i + 1] == 0xbb && v[i + 2] == 0xbf;
		if (!is_printable(v, n, i) || bom || is_break(v, n, i) || v[i] == '"' || v[i] == '\\') {
			uint32_t r;
			size_t w = utf8_decode(v + i, n - i, &r);
			if (w == 0) {
				w = 1;
				r = v[i];
			}
			i += w;
			put(y, '\\');
			const char *esc = NULL;
			switch (r) {
			case 0x00: esc = "0"; break;
			case 0x07: esc = "a"; break;
			case 0x08: esc = "b"; break;
			case 0x09: esc = "t"; break;
			case 0x0a: esc = "n"; break;
			case 0x0b: esc = "v"; break;
			case 0x0c: esc = "f"; break;
			case 0x0d: esc = "r"; break;
			case 0x1b: esc = "e"; break;
			case 0x22: esc = "\""; break;
			case 0x5c: esc = "\\"; break;
			case 0x85: esc = "N"; break;
			case 0xa0: esc = "_"; break;
			case 0x2028: esc = "L"; break;
			case 0x2029: esc = "P"; break;
			default: break;
			}
			if (esc) {
				put(y, esc[0]);
			} else {
				int digits = r <= 0xff ? 2 : r <= 0xffff ? 4 : 8;
				put(y, r <= 0xff ? 'x' : r <= 0xffff ? 'u' : 'U');
				for (int k = (digits - 1) * 4; k >= 0; k -= 4)
					put(y, hex[(r >> k) & 0xf]);
			}
			spaces = false;
		} else if (is_space(v, n, i)) {
			if (allow_breaks && !spaces && y->column > BEST_WIDTH && i > 0 && i < n - 1) {
				write_indent(y);
				if (is_space(v, n, i + 1))
					put(y, '\\');
				i++;
			} else {
				write1(y, v, n, &i);
			}
			spaces = true;
		} else {
			write1(y, v, n, &i);
			spaces = false;
		}
	}
	indicator(y, "\"", false, false, false);
	y->whitespace = false;
	y->indention = false;
}

static void write_literal(struct ye *y, const unsigned char *v, size_t n)
{
	indicator(y, "|", true, false, false);
	if (n > 0 && (v[0] == ' ' || is_break(v, n, 0)))
		indicator(y, "2", false, false, false);
	/* chomping: "-" without a final break, "+" with more than one */
	size_t i = n;
	const char *chomp = "-";
	if (n > 0) {
		i = n - 1;
		while (i > 0 && (v[i] & 0xc0) == 0x80)
			i--;
		if (is_break(v, n, i)) {
			chomp = NULL;
			if (i == 0) {
				chomp = "+";
			} else {
				i--;
				while (i > 0 && (v[i] & 0xc0) == 0x80)
					i--;
				if (is_break(v, n, i))
					chomp = "+";
			}
		}
	}
	if (chomp)
		indicator(y, chomp, false, false, false);
	put_break(y);
	y->indention = true;
	y->whitespace = true;
	bool breaks = true;
	for (i = 0; i < n;) {
		if (is_break(v, n, i)) {
			write_break(y, v, n, &i);
			y->indention = true;
			breaks = true;
		} else {
			if (breaks)
				write_indent(y);
			write1(y, v, n, &i);
			y->indention = false;
			breaks = false;
		}
	}
}

static bool digits_only(const char *s, size_t n, const char *set)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr(set, s[i]) || !s[i])
			return false;
	return true;
}

/* yaml.v2's resolve(): whether s, written plain, would read back as
 * something other than a string (a bool, null, number or timestamp). */
static bool resolves_to_non_string(const char *s, size_t n)
{
	static const char *const words[] = {
		"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no", "No", "NO",
		"false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN",
		".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<",
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0)
			return true;
	char c = s[0];
	if (c != '.' && c != '+' && c != '-' && !(c >= '0' && c <= '9'))
		return false;
	char plain[64];
	size_t k = 0;
	if (n >= sizeof(plain))
		return false; /* no number or timestamp is that long */
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_' || c == '.')
			plain[k++] = s[i];
	plain[k] = '\0';
	if (memchr(s, '\0', n))
		return false;
	if (c == '.') { /* ParseFloat of the text as it is */
		char *end = NULL;
		(void)strtod(plain, &end);
		return k > 1 && end && *end == '\0' && strpbrk(plain, "0123456789");
	}
	/* a timestamp: four digits and a dash, then a date (and time) */
	if (k >= 8 && digits_only(plain, 4, "0123456789") && plain[4] == '-') {
		size_t i = 5, d = 0;
		while (i < k && plain[i] >= '0' && plain[i] <= '9')
			i++, d++;
		if (d >= 1 && d <= 2 && i < k && plain[i] == '-') {
			size_t j = i + 1, e = 0;
			while (j < k && plain[j] >= '0' && plain[j] <= '9')
				j++, e++;
			if (e >= 1 && e <= 2 && (j == k || plain[j] == 'T' || plain[j] == 't' || plain[j] == ' '))
				return true;
		}
	}
	const char *p = plain;
	if (*p == '+' || *p == '-')
		p++;
	size_t pn = strlen(p);
	/* ParseInt/ParseUint with base 0 */
	if (pn > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && digits_only(p + 2, pn - 2, "0123456789abcdefABCDEF"))
		return true;
	if (pn > 2 && p[0] == '0' && (p[1] == 'o' || p[1] == 'O') && digits_only(p + 2, pn - 2, "01234567"))
		return true;
	if (pn > 2 && p[0] == '0' && (p[1] == 'b' || p[1] == 'B') && digits_only(p + 2, pn - 2, "01"))
		return true;
	if (pn > 1 && p[0] == '0' && digits_only(p, pn, "01234567"))
		return true;
	if (digits_only(p, pn, "0123456789"))
		return true; /* (one too large for 64 bits is a float) */
	/* yaml's float form: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
	size_t i = 0, m = 0;
	while (i < pn && p[i] >= '0' && p[i] <= '9')
		i++, m++;
	if (i < pn && p[i] == '.') {
		i++;
		size_t f = 0;
		while (i < pn && p[i] >= '0' && p[i] <= '9')
			i++, f++;
		if (m == 0 && f == 0)
			return false;
	} else if (m == 0) {
		return false;
	}
	if (i < pn && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < pn && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t x = 0;
		while (i < pn && p[i] >= '0' && p[i] <= '9')
			i++, x++;
		if (x == 0)
			return false;
	}
	return i == pn;
}

/* yaml.v2's base-60 floats ("1:20", "-3:25:45.5"), also quoted. */
static bool is_base60(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !memchr(s, ':', n))
		return false;
	if (s[i] == '+' || s[i] == '-')
		i++;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return false;
	while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
		i++;
	bool groups = false;
	while (i < n && s[i] == ':') {
		i++;
		size_t d = 0;
		if (i < n && s[i] >= '0' && s[i] <= '5' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')
			i += 2, d = 2;
		else if (i < n && s[i] >= '0' && s[i] <= '9')
			i++, d = 1;
		if (d == 0)
			return false;
		groups = true;
	}
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			i++;
	}
	return groups && i == n;
}

static void scalar(struct ye *y, const char *text, size_t n, bool is_string, const char *tag)
{
	const unsigned char *v = (const unsigned char *)text;
	enum style st = PLAIN;
	if (is_string) {
		bool plain_ok = tag || (!resolves_to_non_string(text, n) && !is_base60(text, n));
		st = memchr(text, '\n', n) ? LITERAL : plain_ok ? PLAIN : DOUBLE;
	}
	struct analysis a = analyze(v, n);
	if (y->simple_key_ctx && a.multiline)
		st = DOUBLE;
	if (st == PLAIN && (!a.block_plain || (n == 0 && y->simple_key_ctx)))
		st = SINGLE;
	if (st == SINGLE && !a.single_ok)
		st = DOUBLE;
	if (st == LITERAL && (!a.block_ok || y->simple_key_ctx))
		st = DOUBLE;
	if (tag)
		indicator(y, tag, true, false, false);
	int saved = y->indent;
	y->indent = y->indent < 0 ? BEST_INDENT : y->indent + BEST_INDENT;
	switch (st) {
	case PLAIN: write_unescaped(y, v, n, !y->simple_key_ctx, false); break;
	case SINGLE: write_unescaped(y, v, n, !y->simple_key_ctx, true); break;
	case DOUBLE: write_double(y, v, n, !y->simple_key_ctx); break;
	case LITERAL: write_literal(y, v, n); break;
	}
	y->indent = saved;
}

/* ---- keys in yaml.v2's order: letters before other runes, digit runs by value ---- */

static bool is_letter(uint32_t r)
{
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r >= 0xc0;
}

static bool is_digit(uint32_t r)
{
	return r >= '0' && r <= '9';
}

static int key_cmp(const void *pa, const void *pb)
{
	const unsigned char *a = *(const unsigned char *const *)pa, *b = *(const unsigned char *const *)pb;
	uint32_t ar[1024], br[1024];
	size_t an = 0, bn = 0, la = strlen((const char *)a), lb = strlen((const char *)b);
	for (size_t i = 0; i < la && an < 1024;) {
		size_t w = utf8_decode(a + i, la - i, &ar[an++]);
		i += w ? w : 1;
	}
	for (size_t i = 0; i < lb && bn < 1024;) {
		size_t w = utf8_decode(b + i, lb - i, &br[bn++]);
		i += w ? w : 1;
	}
	for (size_t i = 0; i < an && i < bn; i++) {
		if (ar[i] == br[i])
			continue;
		bool al = is_letter(ar[i]), bl = is_letter(br[i]);
		if (al && bl)
			return ar[i] < br[i] ? -1 : 1;
		if (al || bl)
			return bl ? -1 : 1;
		int64_t av = 0, bv = 0;
		size_t ai, bi;
		if (ar[i] == '0' || br[i] == '0')
			for (size_t j = i; j-- > 0 && is_digit(ar[j]);)
				if (ar[j] != '0') {
					av = bv = 1;
					break;
				}
		for (ai = i; ai < an && is_digit(ar[ai]); ai++)
			av = av * 10 + (ar[ai] - '0');
		for (bi = i; bi < bn && is_digit(br[bi]); bi++)
			bv = bv * 10 + (br[bi] - '0');
		if (av != bv)
			return av < bv ? -1 : 1;
		if (ai != bi)
			return ai < bi ? -1 : 1;
		return ar[i] < br[i] ? -1 : 1;
	}
	return an < bn ? -1 : an > bn;
}

/* ---- nodes ---- */

static int node(struct ye *y, const json_t *v, bool mapping, bool simple_key, int depth, const char **why);

static void flow_empty(struct ye *y, const char *open, const char *close)
{
	indicator(y, open, true, true, false);
	indicator(y, close, false, false, false);
}

static int mapping(struct ye *y, const json_t *o, int depth, const char **why)
{
	size_t n = json_object_size(o), i = 0;
	if (n == 0) {
		flow_empty(y, "{", "}");
		return 0;
	}
	const char **keys = xcalloc(n, sizeof(*keys));
	const char *key;
	json_t *m;
	json_object_foreach((json_t *)o, key, m) keys[i++] = key;
	qsort(keys, n, sizeof(*keys), key_cmp);
	int saved = y->indent, r = 0;
	y->indent = y->indent < 0 ? 0 : y->indent + BEST_INDENT;
	for (i = 0; i < n && !r; i++) {
		json_t *k = tval_str(keys[i], strlen(keys[i]));
		struct analysis a = analyze((const unsigned char *)keys[i], strlen(keys[i]));
		write_indent(y);
		if (!a.multiline && strlen(keys[i]) <= 128) {
			r = node(y, k, true, true, depth + 1, why);
			indicator(y, ":", false, false, false);
		} else {
			indicator(y, "?", true, false, true);
			r = node(y, k, true, false, depth + 1, why);
			write_indent(y);
			indicator(y, ":", true, false, true);
		}
		if (!r)
			r = node(y, json_object_get(o, keys[i]), true, false, depth + 1, why);
		json_decref(k);
	}
	free(keys);
	y->indent = saved;
	return r;
}

static int sequence(struct ye *y, const json_t *a, int depth, const char **why)
{
	size_t n = json_array_size(a);
	if (n == 0) {
		flow_empty(y, "[", "]");
		return 0;
	}
	int saved = y->indent, r = 0;
	bool indentless = y->mapping_ctx && !y->indention;
	if (y->indent < 0)
		y->indent = 0;
	else if (!indentless)
		y->indent += BEST_INDENT;
	for (size_t i = 0; i < n && !r; i++) {
		write_indent(y);
		indicator(y, "-", true, false, true);
		r = node(y, json_array_get(a, i), false, false, depth + 1, why);
	}
	y->indent = saved;
	return r;
}

static int node(struct ye *y, const json_t *v, bool mapping_ctx, bool simple_key, int depth, const char **why)
{
	char num[64];

	if (depth > YAML_DEPTH_MAX) {
		*why = "yaml: value nested too deep";
		return TROVE_ERR_INVALID;
	}
	y->mapping_ctx = mapping_ctx;
	y->simple_key_ctx = simple_key;
	if (!v || json_is_null(v)) {
		scalar(y, "null", 4, false, NULL);
		return y->r;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return mapping(y, v, depth, why);
	case JSON_ARRAY:
		return sequence(y, v, depth, why);
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		bool valid = true;
		for (size_t i = 0; i < n && valid;) {
			uint32_t r;
			size_t w = utf8_decode((const unsigned char *)s + i, n - i, &r);
			valid = w > 0;
			i += w;
		}
		if (valid) {
			scalar(y, s, n, true, NULL);
			return y->r;
		}
		/* yaml.v2: bytes that are not UTF-8 go out as !!binary base64, in
		 * lines of 70 each ending in a break when there are several */
		size_t cap = base64_encoded_size(n);
		char *b64 = xmalloc(cap);
		base64_encode((const unsigned char *)s, n, b64);
		size_t len = strlen(b64);
		struct buf lines;
		buf_init(&lines, TMPL_OUT_MAX);
		for (size_t i = 0; i < len; i += 70) {
			(void)buf_append(&lines, b64 + i, len - i < 70 ? len - i : 70);
			if (len >= 70)
				(void)buf_append_byte(&lines, '\n');
		}
		free(b64);
		scalar(y, lines.data, lines.len, true, "!!binary");
		buf_release(&lines);
		return y->r;
	}
	case JSON_INTEGER: {
		size_t n = (size_t)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		scalar(y, num, n, false, NULL);
		return y->r;
	}
	case JSON_REAL: {
		size_t n = tfmt_float(json_real_value(v), num, sizeof(num));
		scalar(y, num, n, false, NULL);
		return y->r;
	}
	case JSON_TRUE:
		scalar(y, "true", 4, false, NULL);
		return y->r;
	default:
		scalar(y, "false", 5, false, NULL);
		return y->r;
	}
}

int tyaml_encode(struct buf *b, const json_t *v, const char **why)
{
	struct buf tmp;
	struct ye y = { .indent = -1, .whitespace = true, .indention = true };

	*why = NULL;
	buf_init_secret(&tmp, TMPL_OUT_MAX);
	y.b = &tmp;
	int r = node(&y, v, false, false, 0, why);
	if (!r && y.r)
		r = y.r;
	if (!r) { /* consul-template trims the document */
		size_t s = 0, e = tmp.len;
		while (s < e && (tmp.data[s] == ' ' || tmp.data[s] == '\n' || tmp.data[s] == '\t' || tmp.data[s] == '\r'))
			s++;
		while (e > s && (tmp.data[e - 1] == ' ' || tmp.data[e - 1] == '\n' || tmp.data[e - 1] == '\t' ||
		                 tmp.data[e - 1] == '\r'))
			e--;
		r = buf_append(b, tmp.data + s, e - s);
	}
	if (r && !*why)
		*why = "the text is too large";
	buf_release_secret(&tmp);
	return r;
}
