/* tmpl_fmt.c — values printed as Go's fmt prints them: %v of strings,
 * integers, float64s, booleans, nil, []interface{} and
 * map[string]interface{} (keys sorted), fmt.Sprint/Sprintln spacing, and
 * fmt.Sprintf for the verbs templates use. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "encoding.h"
#include "err.h"
#include "banned.h"

json_t *tval_str(const char *s, size_t n)
{
	json_t *v = json_stringn_nocheck(s ? s : "", s ? n : 0);
	if (!v)
		abort(); /* out of memory: small allocations abort, as xmalloc does */
	return v;
}

const char *tval_type(const json_t *v)
{
	if (!v)
		return "invalid value";
	switch (json_typeof(v)) {
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "int";
	case JSON_REAL: return "float64";
	case JSON_TRUE:
	case JSON_FALSE: return "bool";
	case JSON_ARRAY: return "[]interface {}";
	case JSON_OBJECT: return "map[string]interface {}";
	default: return "<nil>";
	}
}

int tfmt_shortest(double d, char digits[32], int *exp10)
{
	char tmp[64];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	int n = 0;
	char *p = tmp;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9' && n < 31)
			digits[n++] = *p;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	*exp10 = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
	return n;
}

int tfmt_fixed(struct buf *b, const char *digits, int nd, int exp10)
{
	int r = 0;
	if (exp10 < 0) {
		r = buf_append_str(b, "0.");
		for (int i = 0; i < -exp10 - 1 && !r; i++)
			r = buf_append_byte(b, '0');
		return r ? r : buf_append(b, digits, (size_t)nd);
	}
	for (int i = 0; i <= exp10 && !r; i++)
		r = buf_append_byte(b, i < nd ? digits[i] : '0');
	if (!r && nd > exp10 + 1) {
		r = buf_append_byte(b, '.');
		if (!r)
			r = buf_append(b, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
	}
	return r;
}

size_t tfmt_float(double d, char *out, size_t cap)
{
	struct buf b;
	char digits[32];
	int exp10 = 0;
	size_t n = 0;

	if (isnan(d))
		return (size_t)snprintf(out, cap, "NaN");
	if (isinf(d))
		return (size_t)snprintf(out, cap, d > 0 ? "+Inf" : "-Inf");
	buf_init(&b, 1024);
	if (signbit(d))
		(void)buf_append_byte(&b, '-');
	d = fabs(d);
	if (d == 0) {
		(void)buf_append_byte(&b, '0');
	} else {
		int nd = tfmt_shortest(d, digits, &exp10);
		if (exp10 < -4 || exp10 >= 6) {
			(void)buf_append_byte(&b, digits[0]);
			if (nd > 1) {
				(void)buf_append_byte(&b, '.');
				(void)buf_append(&b, digits + 1, (size_t)nd - 1);
			}
			(void)buf_printf(&b, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
		} else {
			(void)tfmt_fixed(&b, digits, nd, exp10);
		}
	}
	if (b.len < cap) {
		memcpy(out, b.data, b.len + 1);
		n = b.len;
	}
	buf_release(&b);
	return n;
}

/* strconv.IsPrint for a rune past ASCII, for the ranges text meets: the
 * C1 controls, the spaces other than ' ', the format characters and
 * private use are not printable. */
static bool printable(uint32_t r)
{
	return !(r < 0xa1 || r == 0xad || r == 0x1680 || (r >= 0x2000 && r <= 0x200f) || (r >= 0x2028 && r <= 0x202f) ||
	         (r >= 0x205f && r <= 0x206f) || r == 0x3000 || (r >= 0xe000 && r <= 0xf8ff) || r == 0xfeff ||
	         (r >= 0xfff9 && r <= 0xfffb) || r >= 0xf0000);
}

static int quote(struct buf *b, const char *s, size_t n, bool ascii);

int tfmt_quote(struct buf *b, const char *s, size_t n)
{
	return quote(b, s, n, false);
}

/* strconv.Quote, or QuoteToASCII when ascii. */
static int quote(struct buf *b, const char *s, size_t n, bool ascii)
{
	int r = buf_append_byte(b, '"');
	for (size_t i = 0; i < n && !r;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t rune;
		size_t k = utf8_decode((const unsigned char *)s + i, n - i, &rune);
		if (k == 0) {
			r = buf_printf(b, "\\x%02x", c);
			i++;
			continue;
		}
		if (k > 1) {
			if (ascii || !printable(rune))
				r = buf_printf(b, rune > 0xffff ? "\\U%08x" : "\\u%04x", rune);
			else
				r = buf_append(b, s + i, k);
			i += k;
			continue;
		}
		const char *esc = NULL;
		switch (c) {
		case '\a': esc = "\\a"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\v': esc = "\\v"; break;
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		default: break;
		}
		if (esc)
			r = buf_append_str(b, esc);
		else if (c < 0x20 || c == 0x7f)
			r = buf_printf(b, "\\x%02x", c);
		else
			r = buf_append_byte(b, (char)c);
		i++;
	}
	return r ? r : buf_append_byte(b, '"');
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of o, sorted (the caller frees the array, not the keys). */
static const char **sorted_keys(const json_t *o, size_t *n)
{
	const char *key;
	json_t *v;
	size_t i = 0;

	*n = json_object_size(o);
	const char **keys = xcalloc(*n ? *n : 1, sizeof(*keys));
	json_object_foreach((json_t *)o, key, v) keys[i++] = key;
	qsort(keys, *n, sizeof(*keys), cmp_keys);
	return keys;
}

static int value_at(struct buf *b, const json_t *v, bool top, int depth)
{
	char num[64];
	int r = 0;

	if (depth > TVAL_DEPTH_MAX)
		return -1;
	if (!v || json_is_null(v))
		return buf_append_str(b, top ? "<no value>" : "<nil>");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return buf_append(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return buf_printf(b, "%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		tfmt_float(json_real_value(v), num, sizeof(num));
		return buf_append_str(b, num);
	case JSON_TRUE:
		return buf_append_str(b, "true");
	case JSON_FALSE:
		return buf_append_str(b, "false");
	case JSON_ARRAY:
		r = buf_append_byte(b, '[');
		for (size_t i = 0; i < json_array_size(v) && !r; i++) {
			if (i > 0)
				r = buf_append_byte(b, ' ');
			if (!r)
				r = value_at(b, json_array_get(v, i), false, depth + 1);
		}
		return r ? r : buf_append_byte(b, ']');
	case JSON_OBJECT: {
		size_t n;
		const char **keys = sorted_keys(v, &n);
		r = buf_append_str(b, "map[");
		for (size_t i = 0; i < n && !r; i++) {
			r = buf_printf(b, "%s%s:", i > 0 ? " " : "", keys[i]);
			if (!r)
				r = value_at(b, json_object_get(v, keys[i]), false, depth + 1);
		}
		free(keys);
		return r ? r : buf_append_byte(b, ']');
	}
	default:
		return buf_append_str(b, "<nil>");
	}
}

int tfmt_value(struct buf *b, const json_t *v, bool top)
{
	return value_at(b, v, top, 0);
}

int tfmt_sprint(struct buf *b, json_t **argv, size_t argc, bool ln)
{
	bool prev_string = false;
	int r = 0;

	for (size_t i = 0; i < argc && !r; i++) {
		bool is_string = argv[i] && json_is_string(argv[i]);
		if (i > 0 && (ln || (!is_string && !prev_string)))
			r = buf_append_byte(b, ' ');
		if (!r)
			r = tfmt_value(b, argv[i], false);
		prev_string = is_string;
	}
	if (!r && ln)
		r = buf_append_byte(b, '\n');
	return r;
}

/* ---- printf ---- */

struct spec {
	bool minus, plus, sharp, zero, space;
	bool sharp_v; /* %#v: Go syntax */
	int width, prec; /* -1: none */
	uint32_t verb; /* a rune: Go reports any, even one it has no use for */
};

static int pad(struct buf *b, const struct spec *sp, const char *s, size_t n, bool numeric)
{
	size_t w = sp->width > 0 ? (size_t)sp->width : 0;
	/* width counts runes */
	size_t runes = 0;
	for (size_t i = 0; i < n; i++)
		runes += ((unsigned char)s[i] & 0xc0) != 0x80;
	if (runes >= w)
		return buf_append(b, s, n);
	size_t fill = w - runes;
	int r = 0;
	if (sp->minus) {
		r = buf_append(b, s, n);
		for (size_t i = 0; i < fill && !r; i++)
			r = buf_append_byte(b, ' ');
		return r;
	}
	if (sp->zero && numeric && n > 0 && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) {
		r = buf_append_byte(b, s[0]);
		s++;
		n--;
	}
	for (size_t i = 0; i < fill && !r; i++)
		r = buf_append_byte(b, sp->zero ? '0' : ' ');
	return r ? r : buf_append(b, s, n);
}

void tfmt_put_rune(struct buf *b, uint32_t r)
{
	char u[4];
	size_t n;
	if (r > 0x10ffff || (r >= 0xd800 && r < 0xe000))
		r = 0xfffd;
	if (r < 0x80) {
		u[0] = (char)r;
		n = 1;
	} else if (r < 0x800) {
		u[0] = (char)(0xc0 | (r >> 6));
		u[1] = (char)(0x80 | (r & 0x3f));
		n = 2;
	} else if (r < 0x10000) {
		u[0] = (char)(0xe0 | (r >> 12));
		u[1] = (char)(0x80 | ((r >> 6) & 0x3f));
		u[2] = (char)(0x80 | (r & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (r >> 18));
		u[1] = (char)(0x80 | ((r >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((r >> 6) & 0x3f));
		u[3] = (char)(0x80 | (r & 0x3f));
		n = 4;
	}
	(void)buf_append(b, u, n);
}

static int fmt_arg(struct buf *b, const struct spec *sp, const json_t *v);

/* Go's %!verb(type=value): the value as %v with the same flags and width. */
static int bad_verb(struct buf *b, const struct spec *sp, uint32_t verb, const json_t *v)
{
	int r = buf_append_str(b, "%!");
	if (!r)
		tfmt_put_rune(b, verb);
	if (!r)
		r = buf_append_byte(b, '(');
	if (!r && (!v || json_is_null(v)))
		return buf_append_str(b, "<nil>)");
	if (!r)
		r = buf_printf(b, "%s=", tval_type(v));
	struct spec as_v = *sp;
	as_v.verb = 'v';
	if (!r)
		r = fmt_arg(b, &as_v, v);
	return r ? r : buf_append_byte(b, ')');
}

static int fmt_int(struct buf *b, const struct spec *sp, long long x)
{
	struct buf t;
	char digits[80];
	unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
	int base = 10, r;
	const char *set = "0123456789abcdef";
	size_t nd = 0;

	switch (sp->verb) {
	case 'c':
		buf_init(&t, 16);
		tfmt_put_rune(&t, x < 0 || x > 0x10ffff ? 0xfffd : (uint32_t)x);
		r = pad(b, sp, t.data, t.len, false);
		buf_release(&t);
		return r;
	case 'q':
		buf_init(&t, 64);
		(void)buf_append_byte(&t, '\'');
		if (x < 0 || x > 0x10ffff || (x >= 0xd800 && x < 0xe000))
			x = 0xfffd; /* not a rune: Go quotes U+FFFD */
		if (x == '\'')
			(void)buf_append_str(&t, "\\'");
		else if (x == '\\')
			(void)buf_append_str(&t, "\\\\");
		else if (x < 0x20 || x == 0x7f)
			(void)buf_printf(&t, "\\x%02llx", (unsigned long long)x);
		else if (x >= 0x80 && !printable((uint32_t)x))
			(void)buf_printf(&t, x > 0xffff ? "\\U%08llx" : "\\u%04llx", (unsigned long long)x);
		else
			tfmt_put_rune(&t, (uint32_t)x);
		(void)buf_append_byte(&t, '\'');
		r = pad(b, sp, t.data, t.len, false);
		buf_release(&t);
		return r;
	case 'U':
		buf_init(&t, 64);
		(void)buf_printf(&t, "U+%04llX", (unsigned long long)x);
		r = pad(b, sp, t.data, t.len, false);
		buf_release(&t);
		return r;
	case 'x': base = 16; break;
	case 'X': base = 16; set = "0123456789ABCDEF"; break;
	case 'o':
	case 'O': base = 8; break;
	case 'b': base = 2; break;
	default: break;
	}
	do {
		digits[nd++] = set[u % (unsigned)base];
		u /= (unsigned)base;
	} while (u);
	if (sp->prec == 0 && x == 0)
		nd = 0;
	buf_init(&t, 1 << 21);
	if (x < 0)
		(void)buf_append_byte(&t, '-');
	else if (sp->plus)
		(void)buf_append_byte(&t, '+');
	else if (sp->space)
		(void)buf_append_byte(&t, ' ');
	if (sp->sharp || sp->verb == 'O') {
		if (base == 16)
			(void)buf_append_str(&t, sp->verb == 'X' ? "0X" : "0x");
		else if (base == 8)
			(void)buf_append_str(&t, sp->verb == 'O' ? "0o" : "0");
		else if (base == 2)
			(void)buf_append_str(&t, "0b");
	}
	for (int i = (int)nd; i < sp->prec; i++)
		(void)buf_append_byte(&t, '0');
	while (nd > 0)
		(void)buf_append_byte(&t, digits[--nd]);
	struct spec s2 = *sp;
	if (sp->prec >= 0)
		s2.zero = false;
	r = pad(b, &s2, t.data, t.len, true);
	buf_release(&t);
	return r;
}

/* Go's '#' on a float: a decimal point always, and for %g and %v the
 * trailing zeros that make prec significant digits (6 when none is
 * given). num[0..n) is the number (a sign first, maybe); returns its new
 * length. */
static size_t sharp_float(char *num, size_t n, size_t cap, char verb, int prec)
{
	char tail[16];
	size_t tn = 0, start = (n > 0 && (num[0] == '+' || num[0] == '-' || num[0] == ' ')) ? 1 : 0;
	int digits = (verb == 'g' || verb == 'G') ? (prec < 0 ? 6 : prec) : 0;
	bool point = false, nonzero = false;

	for (size_t i = start; i < n; i++) {
		if (num[i] == '.') {
			point = true;
		} else if (num[i] == 'e' || num[i] == 'E') {
			tn = n - i < sizeof(tail) ? n - i : sizeof(tail) - 1;
			memcpy(tail, num + i, tn);
			n = i;
			break;
		} else {
			nonzero |= num[i] != '0';
			if (nonzero)
				digits--;
		}
	}
	if (!point) {
		if (n - start == 1 && num[start] == '0')
			digits--;
		if (n < cap - 1)
			num[n++] = '.';
	}
	for (; digits > 0 && n < cap - sizeof(tail) - 1; digits--)
		num[n++] = '0';
	memcpy(num + n, tail, tn);
	return n + tn;
}

static int fmt_float(struct buf *b, const struct spec *sp, double d)
{
	char num[1024]; /* %.400f of 1e308 fits */
	size_t n = 0;

	if (isnan(d) || isinf(d)) {
		struct spec s2 = *sp;
		s2.zero = false;
		const char *t = isnan(d) ? "NaN" : d < 0 ? "-Inf" : sp->space && !sp->plus ? " Inf" : "+Inf";
		return pad(b, &s2, t, strlen(t), false);
	}
	char v = sp->verb == 'v' ? 'g' : sp->verb == 'F' ? 'f' : (char)sp->verb;
	if (sp->plus && !signbit(d))
		num[n++] = '+';
	else if (sp->space && !signbit(d))
		num[n++] = ' ';
	if ((v == 'g' || v == 'G') && sp->prec < 0) {
		n += tfmt_float(d, num + n, sizeof(num) - n);
	} else {
		int prec = sp->prec < 0 ? 6 : sp->prec > 400 ? 400 : sp->prec, k;
		if (v == 'e' || v == 'E')
			k = snprintf(num + n, sizeof(num) - n, "%.*e", prec, d);
		else if (v == 'f')
			k = snprintf(num + n, sizeof(num) - n, "%.*f", prec, d);
		else
			k = snprintf(num + n, sizeof(num) - n, "%.*g", prec, d);
		n += k < 0 ? 0 : (size_t)k < sizeof(num) - n ? (size_t)k : sizeof(num) - n - 1;
	}
	if (sp->sharp)
		n = sharp_float(num, n, sizeof(num), v, sp->prec);
	if (v == 'E' || v == 'G')
		for (size_t i = 0; i < n; i++)
			if (num[i] == 'e')
				num[i] = 'E';
	return pad(b, sp, num, n, true);
}

/* %b ("4503599627370496p-52") and %x/%X ("0x1.8p+00") of a float. */
static int fmt_float_bits(struct buf *b, const struct spec *sp, double d)
{
	char num[128];
	int k;
	if (isnan(d) || isinf(d))
		return fmt_float(b, sp, d);
	if (sp->verb == 'b') {
		int e = 0;
		double m = frexp(fabs(d), &e);
		unsigned long long mant = (unsigned long long)ldexp(m, 53);
		int exp = d == 0 ? -1074 : e - 53;
		if (d != 0 && e < -1021) { /* subnormal: the mantissa is shorter */
			mant = (unsigned long long)ldexp(fabs(d), 1074);
			exp = -1074;
		}
		k = snprintf(num, sizeof(num), "%s%llup%+d", signbit(d) ? "-" : sp->plus ? "+" : sp->space ? " " : "", mant,
		             exp);
	} else {
		char tmp[64];
		if (sp->prec >= 0)
			snprintf(tmp, sizeof(tmp), "%.*a", sp->prec > 13 ? 13 : sp->prec, d);
		else
			snprintf(tmp, sizeof(tmp), "%a", d);
		/* Go writes the exponent with two digits at least */
		char *p = strchr(tmp, 'p');
		size_t head = p ? (size_t)(p - tmp) + 2 : strlen(tmp);
		const char *digits = p ? p + 2 : "";
		k = snprintf(num, sizeof(num), "%s%.*s%s%s", signbit(d) ? "" : sp->plus ? "+" : sp->space ? " " : "", (int)head, tmp,
		             strlen(digits) < 2 ? "0" : "", digits);
		if (sp->verb == 'X')
			for (char *q = num; *q; q++)
				*q = *q >= 'a' && *q <= 'z' ? (char)(*q - 'a' + 'A') : *q;
	}
	return pad(b, sp, num, k < 0 ? 0 : (size_t)k, true);
}

/* strconv.CanBackquote: no backquote, no control character but tab,
 * valid UTF-8. */
static bool can_backquote(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t r;
		size_t k = utf8_decode((const unsigned char *)s + i, n - i, &r);
		if (k == 0 || r == '`' || r == 0xfeff || (r < 0x20 && r != '\t') || r == 0x7f)
			return false;
		i += k;
	}
	return true;
}

static int fmt_string(struct buf *b, const struct spec *sp, const char *s, size_t n)
{
	struct buf t;
	int r;

	if (sp->prec >= 0 && (sp->verb == 's' || sp->verb == 'v' || sp->verb == 'q')) {
		size_t runes = 0, i = 0;
		while (i < n && runes < (size_t)sp->prec) {
			i++;
			while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
				i++;
			runes++;
		}
		n = i;
	}
	switch (sp->verb) {
	case 's':
	case 'v':
		return pad(b, sp, s, n, false);
	case 'q':
		buf_init(&t, TMPL_OUT_MAX);
		if (sp->sharp && can_backquote(s, n)) {
			r = buf_append_byte(&t, '`');
			if (!r)
				r = buf_append(&t, s, n);
			if (!r)
				r = buf_append_byte(&t, '`');
		} else {
			r = quote(&t, s, n, sp->plus);
		}
		if (!r)
			r = pad(b, sp, t.data, t.len, false);
		buf_release(&t);
		return r;
	default: /* x, X: "0x" before the whole, or before each byte with ' ' */
		buf_init(&t, TMPL_OUT_MAX);
		r = 0;
		for (size_t i = 0; i < n && !r; i++) {
			if (sp->space && i > 0)
				r = buf_append_byte(&t, ' ');
			if (!r && sp->sharp && (sp->space || i == 0))
				r = buf_append_str(&t, sp->verb == 'x' ? "0x" : "0X");
			if (!r)
				r = buf_printf(&t, sp->verb == 'x' ? "%02x" : "%02X", (unsigned char)s[i]);
		}
		if (!r)
			r = pad(b, sp, t.data, t.len, false);
		buf_release(&t);
		return r;
	}
}


/* A list or map with the verb applied to each element and key, as Go's
 * printValue does; a null element prints <nil> whatever the verb. */
static int fmt_elem(struct buf *b, const struct spec *sp, const json_t *v)
{
	if (!v || json_is_null(v))
		return buf_append_str(b, "<nil>");
	return fmt_arg(b, sp, v);
}

static int fmt_container(struct buf *b, const struct spec *sp, const json_t *v)
{
	int r = 0;

	if (json_is_array(v)) {
		r = buf_append_byte(b, '[');
		for (size_t i = 0; i < json_array_size(v) && !r; i++) {
			if (i > 0)
				r = buf_append_byte(b, ' ');
			if (!r)
				r = fmt_elem(b, sp, json_array_get(v, i));
		}
		return r ? r : buf_append_byte(b, ']');
	}
	size_t n;
	const char **keys = sorted_keys(v, &n);
	r = buf_append_str(b, "map[");
	for (size_t i = 0; i < n && !r; i++) {
		json_t *k = tval_str(keys[i], strlen(keys[i]));
		if (i > 0)
			r = buf_append_byte(b, ' ');
		if (!r)
			r = fmt_arg(b, sp, k);
		json_decref(k);
		if (!r)
			r = buf_append_byte(b, ':');
		if (!r)
			r = fmt_elem(b, sp, json_object_get(v, keys[i]));
	}
	free(keys);
	return r ? r : buf_append_byte(b, ']');
}

/* Whether verb is one of the ASCII verbs in set. */
static bool verb_in(uint32_t verb, const char *set)
{
	return verb > 0 && verb < 0x80 && strchr(set, (int)verb);
}

/* %#v: the value as Go source would write it. */
static int fmt_go_syntax(struct buf *b, const json_t *v)
{
	int r = 0;
	if (!v || json_is_null(v))
		return buf_append_str(b, "interface {}(nil)");
	if (json_is_string(v))
		return tfmt_quote(b, json_string_value(v), json_string_length(v));
	if (json_is_array(v)) {
		r = buf_append_str(b, "[]interface {}{");
		for (size_t i = 0; i < json_array_size(v) && !r; i++) {
			if (i > 0)
				r = buf_append_str(b, ", ");
			if (!r)
				r = fmt_go_syntax(b, json_array_get(v, i));
		}
		return r ? r : buf_append_byte(b, '}');
	}
	if (json_is_object(v)) {
		size_t n;
		const char **keys = sorted_keys(v, &n);
		r = buf_append_str(b, "map[string]interface {}{");
		for (size_t i = 0; i < n && !r; i++) {
			if (i > 0)
				r = buf_append_str(b, ", ");
			if (!r)
				r = tfmt_quote(b, keys[i], strlen(keys[i]));
			if (!r)
				r = buf_append_byte(b, ':');
			if (!r)
				r = fmt_go_syntax(b, json_object_get(v, keys[i]));
		}
		free(keys);
		return r ? r : buf_append_byte(b, '}');
	}
	return tfmt_value(b, v, false);
}

static int fmt_arg(struct buf *b, const struct spec *sp, const json_t *v)
{
	uint32_t c = sp->verb;

	if (c == 'v' && sp->sharp_v) {
		struct buf t;
		buf_init(&t, TMPL_OUT_MAX);
		int r = fmt_go_syntax(&t, v);
		if (!r)
			r = pad(b, sp, t.data, t.len, false);
		buf_release(&t);
		return r;
	}

	if (c == 'T') {
		const char *t = !v || json_is_null(v) ? "<nil>" : tval_type(v);
		return pad(b, sp, t, strlen(t), false);
	}
	if (!v || json_is_null(v)) {
		if (c == 'v')
			return pad(b, sp, "<nil>", 5, false);
		return bad_verb(b, sp, c, v);
	}
	switch (json_typeof(v)) {
	case JSON_TRUE:
	case JSON_FALSE:
		if (c == 'v' || c == 't')
			return pad(b, sp, json_is_true(v) ? "true" : "false", json_is_true(v) ? 4 : 5, false);
		return bad_verb(b, sp, c, v);
	case JSON_INTEGER:
		if (verb_in(c, "bcdoOqxXUv")) {
			struct spec s2 = *sp;
			if (c == 'v')
				s2.verb = 'd';
			return fmt_int(b, &s2, (long long)json_integer_value(v));
		}
		return bad_verb(b, sp, c, v);
	case JSON_REAL:
		if (verb_in(c, "eEfFgGv"))
			return fmt_float(b, sp, json_real_value(v));
		if (verb_in(c, "bxX"))
			return fmt_float_bits(b, sp, json_real_value(v));
		return bad_verb(b, sp, c, v);
	case JSON_STRING:
		if (verb_in(c, "svqxX"))
			return fmt_string(b, sp, json_string_value(v), json_string_length(v));
		return bad_verb(b, sp, c, v);
	case JSON_ARRAY:
	case JSON_OBJECT:
		return fmt_container(b, sp, v);
	default:
		return bad_verb(b, sp, c, v);
	}
}

/* Digits at *i into *out. A number over 1e6 eats the rest of the format,
 * as Go's fmt does (what follows then reads as a missing verb). */
static bool read_num(const char *f, size_t n, size_t *i, int *out)
{
	size_t start = *i;
	long v = 0;
	*out = 0;
	while (*i < n && f[*i] >= '0' && f[*i] <= '9') {
		if (v > 1000000) {
			*i = n;
			return false;
		}
		v = v * 10 + (f[*i] - '0');
		(*i)++;
	}
	*out = (int)v;
	return *i > start;
}

/* An explicit argument index "[n]" at *i (Go's %[2]d): moves *argi to
 * argument n (1-based); a malformed or out-of-range one clears *good. */
static void arg_index(const char *f, size_t n, size_t *i, size_t argc, size_t *argi, bool *good, bool *reordered)
{
	if (*i >= n || f[*i] != '[')
		return;
	*reordered = true;
	size_t j = *i + 1;
	while (j < n && f[j] != ']')
		j++;
	if (n - *i < 3 || j >= n) {
		(*i)++;
		*good = false;
		return;
	}
	size_t k = *i + 1;
	int v = 0;
	bool ok = read_num(f, j, &k, &v) && k == j && v >= 1 && (size_t)v <= argc;
	*i = j + 1;
	if (ok)
		*argi = (size_t)v - 1;
	else
		*good = false;
}

int tfmt_sprintf(struct buf *b, const char *f, size_t n, json_t **argv, size_t argc)
{
	size_t argi = 0;
	bool reordered = false;
	int r = 0;

	for (size_t i = 0; i < n && !r;) {
		if (f[i] != '%') {
			size_t j = i;
			while (j < n && f[j] != '%')
				j++;
			r = buf_append(b, f + i, j - i);
			i = j;
			continue;
		}
		i++;
		struct spec sp = { .width = -1, .prec = -1 };
		for (; i < n; i++) {
			if (f[i] == '-')
				sp.minus = true;
			else if (f[i] == '+')
				sp.plus = true;
			else if (f[i] == '#')
				sp.sharp = true;
			else if (f[i] == '0')
				sp.zero = true;
			else if (f[i] == ' ')
				sp.space = true;
			else
				break;
		}
		if (sp.minus)
			sp.zero = false;
		bool bad_width = false, bad_prec = false, good = true;
		arg_index(f, n, &i, argc, &argi, &good, &reordered);
		if (i < n && f[i] == '*') {
			i++;
			if (argi < argc && argv[argi] && json_is_integer(argv[argi]) &&
			    llabs((long long)json_integer_value(argv[argi])) <= 1000000) {
				long long w = json_integer_value(argv[argi++]);
				if (w < 0) {
					sp.minus = true;
					sp.zero = false;
					w = -w;
				}
				sp.width = (int)w;
			} else {
				bad_width = true;
				if (argi < argc)
					argi++;
			}
		} else if (!read_num(f, n, &i, &sp.width)) {
			sp.width = -1;
		}
		if (i + 1 < n && f[i] == '.') { /* a '.' that ends the format is the verb */
			i++;
			arg_index(f, n, &i, argc, &argi, &good, &reordered);
			if (i < n && f[i] == '*') {
				i++;
				if (argi < argc && argv[argi] && json_is_integer(argv[argi]) &&
				    json_integer_value(argv[argi]) >= 0 && json_integer_value(argv[argi]) <= 1000000)
					sp.prec = (int)json_integer_value(argv[argi++]);
				else {
					bad_prec = true;
					if (argi < argc)
						argi++;
				}
			} else {
				(void)read_num(f, n, &i, &sp.prec);
			}
		}
		if (bad_width)
			r = buf_append_str(b, "%!(BADWIDTH)");
		if (bad_prec && !r)
			r = buf_append_str(b, "%!(BADPREC)");
		if (r)
			break;
		if (bad_width)
			sp.width = -1;
		if (bad_prec)
			sp.prec = -1;
		arg_index(f, n, &i, argc, &argi, &good, &reordered);
		if (i >= n) {
			r = buf_append_str(b, "%!(NOVERB)");
			break;
		}
		uint32_t verb;
		size_t k = utf8_decode((const unsigned char *)f + i, n - i, &verb);
		if (k == 0)
			k = 1;
		i += k;
		if (verb == '%') {
			r = buf_append_byte(b, '%');
			continue;
		}
		sp.verb = verb;
		if (verb == 'v') { /* '#' means Go syntax and '+' field names, which plain values lack */
			sp.sharp_v = sp.sharp;
			sp.sharp = sp.plus = false;
		}
		if (!good || argi >= argc) {
			r = buf_append_str(b, "%!");
			if (!r) {
				tfmt_put_rune(b, verb);
				r = buf_append_str(b, good ? "(MISSING)" : "(BADINDEX)");
			}
			continue;
		}
		r = fmt_arg(b, &sp, argv[argi++]);
	}
	if (!r && !reordered && argi < argc) {
		r = buf_append_str(b, "%!(EXTRA ");
		for (size_t j = argi; j < argc && !r; j++) {
			if (j > argi)
				r = buf_append_str(b, ", ");
			if (!r && (!argv[j] || json_is_null(argv[j])))
				r = buf_append_str(b, "<nil>");
			else if (!r) {
				r = buf_printf(b, "%s=", tval_type(argv[j]));
				if (!r)
					r = tfmt_value(b, argv[j], false);
			}
		}
		if (!r)
			r = buf_append_byte(b, ')');
	}
	return r;
}
