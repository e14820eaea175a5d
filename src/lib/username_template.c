/* username_template.c — a parser and evaluator in one pass for the
 * username template language of username_template.h.
 *
 * There is no syntax tree: each action is parsed and evaluated as it is
 * read, by recursive descent (pipeline -> command -> operand). Checking a
 * template is running it on empty data now and throwing the output away,
 * so the check and the render can never disagree about what is valid
 * (only the output's length may differ, with the fields and the time), and
 * a template whose literal parts alone exceed the output bound is refused
 * when it is configured, not at the first credential. Every value is a
 * size-capped struct buf, so no function can build an unbounded string
 * (replace with a long NEW, say). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "username_template.h"

#include "buf.h"
#include "clock.h"
#include "encoding.h"
#include "err.h"
#include "rand.h"

#include "strconv.h"
#include "banned.h"

#define MAX_DEPTH 8
#define MAX_STAGES 16
#define MAX_ARGS 16
#define VALUE_MAX 16384

enum vtype { V_STR, V_INT };

struct val {
	enum vtype type;
	struct buf s; /* V_STR */
	int64_t i;    /* V_INT */
};

struct tp {
	const char *s;
	size_t n, pos;
	const struct username_template_vars *v;
	int64_t now_ns;
	int depth;
	char *why;
};

/* Records the first error: "template: byte N: reason". */
static int fail_code(struct tp *t, int code, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_code(struct tp *t, int code, size_t pos, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (t->why)
		return code;
	buf_init(&b, 1024);
	buf_printf(&b, "template: byte %zu: ", pos + 1);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	t->why = buf_take(&b);
	return code;
}

#define fail(t, pos, ...) fail_code((t), TROVE_ERR_INVALID, (pos), __VA_ARGS__)

static void val_init_str(struct val *v)
{
	v->type = V_STR;
	v->i = 0;
	buf_init(&v->s, VALUE_MAX);
}

static void val_release(struct val *v)
{
	buf_release(&v->s);
}

static void val_move(struct val *dst, struct val *src)
{
	*dst = *src;
	val_init_str(src);
}

/* Appends n bytes to a value, refusing to pass VALUE_MAX. */
static int put(struct tp *t, struct val *v, size_t pos, const void *p, size_t n)
{
	if (buf_append(&v->s, p, n) != 0)
		return fail(t, pos, "a value grows past %d bytes", VALUE_MAX);
	return 0;
}

static int putf(struct tp *t, struct val *v, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int putf(struct tp *t, struct val *v, size_t pos, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(tmp))
		return fail_code(t, TROVE_ERR_INTERNAL, pos, "formatting failed");
	return put(t, v, pos, tmp, (size_t)k);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static void skip_space(struct tp *t)
{
	while (t->pos < t->n && is_space(t->s[t->pos]))
		t->pos++;
}

/* At " -}}" (its blank already skipped) or "}}". */
static bool at_close(const struct tp *t, bool *trim)
{
	const char *p = t->s + t->pos;
	size_t rest = t->n - t->pos;

	*trim = false;
	if (rest >= 2 && p[0] == '}' && p[1] == '}')
		return true;
	if (rest >= 3 && p[0] == '-' && p[1] == '}' && p[2] == '}' && t->pos > 0 && is_space(p[-1])) {
		*trim = true;
		return true;
	}
	return false;
}

static bool at_command_end(const struct tp *t)
{
	bool trim;
	char c;

	if (t->pos >= t->n)
		return true;
	c = t->s[t->pos];
	return c == '|' || c == ')' || at_close(t, &trim);
}

/* --- the functions ----------------------------------------------------- */

static int fn_random(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	char *tmp;
	int r;

	if (a[0].i < 0 || a[0].i > USERNAME_TEMPLATE_RANDOM_MAX)
		return fail(t, pos, "random: length must be between 0 and %d, not %lld",
		            USERNAME_TEMPLATE_RANDOM_MAX, (long long)a[0].i);
	tmp = xmalloc((size_t)a[0].i + 1);
	if (rand_base62(tmp, (size_t)a[0].i) != 0)
		r = fail_code(t, TROVE_ERR_INTERNAL, pos, "random: the random generator failed");
	else
		r = put(t, out, pos, tmp, (size_t)a[0].i);
	free(tmp);
	return r;
}

static int fn_truncate(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	if (a[0].i <= 0)
		return fail(t, pos, "truncate: max length must be > 0 but was %lld", (long long)a[0].i);
	return put(t, out, pos, a[1].s.data, a[1].s.len < (uint64_t)a[0].i ? a[1].s.len : (size_t)a[0].i);
}

static void sha256_hex(const char *p, size_t n, char hex[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)p, n, md);
	hex_encode(md, sizeof(md), hex);
}

/* As Vault: the characters past max-8 are hashed, and the first 8 hex
 * digits of that hash replace them. */
static int fn_truncate_sha256(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	char hex[65];
	size_t keep;
	int r;

	if (a[0].i <= 8)
		return fail(t, pos, "truncate_sha256: max length must be > 8 but was %lld",
		            (long long)a[0].i);
	if (a[1].s.len <= (uint64_t)a[0].i)
		return put(t, out, pos, a[1].s.data, a[1].s.len);
	keep = (size_t)a[0].i - 8;
	sha256_hex(a[1].s.data + keep, a[1].s.len - keep, hex);
	if ((r = put(t, out, pos, a[1].s.data, keep)) != 0)
		return r;
	return put(t, out, pos, hex, 8);
}

static int change_case(struct tp *t, struct val *a, size_t pos, struct val *out, bool upper)
{
	int r;

	if ((r = put(t, out, pos, a[0].s.data, a[0].s.len)) != 0)
		return r;
	for (size_t i = 0; i < out->s.len; i++) {
		char c = out->s.data[i];
		if (upper && c >= 'a' && c <= 'z')
			out->s.data[i] = (char)(c - 'a' + 'A');
		else if (!upper && c >= 'A' && c <= 'Z')
			out->s.data[i] = (char)(c - 'A' + 'a');
	}
	return 0;
}

static int fn_uppercase(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	return change_case(t, a, pos, out, true);
}

static int fn_lowercase(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	return change_case(t, a, pos, out, false);
}

/* strings.ReplaceAll: every non-overlapping OLD, left to right; an empty
 * OLD matches before each UTF-8 sequence and at the end. */
static int fn_replace(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	const char *s = a[2].s.data, *old = a[0].s.data, *rep = a[1].s.data;
	size_t n = a[2].s.len, on = a[0].s.len, rn = a[1].s.len, i = 0;
	int r;

	while (i < n) {
		if (on == 0) {
			size_t k = utf8_seq_len((const unsigned char *)s + i, n - i);
			if (k == 0)
				k = 1;
			if ((r = put(t, out, pos, rep, rn)) != 0 || (r = put(t, out, pos, s + i, k)) != 0)
				return r;
			i += k;
		} else if (n - i >= on && memcmp(s + i, old, on) == 0) {
			if ((r = put(t, out, pos, rep, rn)) != 0)
				return r;
			i += on;
		} else {
			if ((r = put(t, out, pos, s + i, 1)) != 0)
				return r;
			i++;
		}
	}
	return on == 0 ? put(t, out, pos, rep, rn) : 0;
}

static int fn_sha256(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	char hex[65];

	sha256_hex(a[0].s.data, a[0].s.len, hex);
	return put(t, out, pos, hex, 64);
}

static int fn_base64(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	char *tmp;
	int r;

	if (a[0].s.len > VALUE_MAX)
		return fail(t, pos, "a value grows past %d bytes", VALUE_MAX);
	tmp = xmalloc(base64_encoded_size(a[0].s.len));
	base64_encode((const unsigned char *)a[0].s.data, a[0].s.len, tmp);
	r = put(t, out, pos, tmp, strlen(tmp));
	free(tmp);
	return r;
}

static int fn_unix_time(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	(void)a;
	return putf(t, out, pos, "%lld", (long long)(t->now_ns / 1000000000));
}

static int fn_unix_time_millis(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	(void)a;
	return putf(t, out, pos, "%lld", (long long)(t->now_ns / 1000000));
}

static int fn_uuid(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	char id[37];

	(void)a;
	if (rand_uuid(id) != 0)
		return fail_code(t, TROVE_ERR_INTERNAL, pos, "uuid: the random generator failed");
	return put(t, out, pos, id, 36);
}

static const char *const month_names[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};
static const char *const day_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};

/* Fractional seconds for Go's ".000" (fixed) and ".999" (trailing zeros
 * dropped, and the separator too when nothing is left). */
static int put_fraction(struct tp *t, struct val *out, size_t pos, char sep, size_t digits, bool fixed)
{
	char frac[10];
	long ns = (long)(t->now_ns % 1000000000);

	if (ns < 0)
		ns += 1000000000;
	snprintf(frac, sizeof(frac), "%09ld", ns);
	if (!fixed)
		while (digits > 0 && frac[digits - 1] == '0')
			digits--;
	if (digits == 0)
		return 0;
	if (put(t, out, pos, &sep, 1) != 0)
		return TROVE_ERR_INVALID;
	return put(t, out, pos, frac, digits);
}

/* Go's time.Format for the layout, in UTC. Layout elements Go does not
 * have are copied as they are, as Go does. */
static int fn_timestamp(struct tp *t, struct val *a, size_t pos, struct val *out)
{
	const char *L = a[0].s.data;
	size_t n = a[0].s.len, i = 0;
	time_t secs = (time_t)(t->now_ns / 1000000000);
	struct tm tm;
	int r = 0, h12;

	if (t->now_ns < 0 || !gmtime_r(&secs, &tm))
		return fail_code(t, TROVE_ERR_INTERNAL, pos, "timestamp: the clock is out of range");
	h12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
	while (i < n && r == 0) {
		const char *p = L + i;
		size_t rest = n - i;
#define HAS(lit) (rest >= sizeof(lit) - 1 && memcmp(p, lit, sizeof(lit) - 1) == 0)
#define EMIT(len, ...)                                                                                       \
	{                                                                                                    \
		r = putf(t, out, pos, __VA_ARGS__);                                                          \
		i += (len);                                                                                  \
		continue;                                                                                    \
	}
		switch (*p) {
		case 'J':
			if (HAS("January"))
				EMIT(7, "%s", month_names[tm.tm_mon]);
			if (HAS("Jan"))
				EMIT(3, "%.3s", month_names[tm.tm_mon]);
			break;
		case 'M':
			if (HAS("Monday"))
				EMIT(6, "%s", day_names[tm.tm_wday]);
			if (HAS("Mon"))
				EMIT(3, "%.3s", day_names[tm.tm_wday]);
			if (HAS("MST"))
				EMIT(3, "UTC");
			break;
		case '0':
			if (HAS("002"))
				EMIT(3, "%03d", tm.tm_yday + 1);
			if (rest >= 2 && p[1] >= '1' && p[1] <= '6') {
				int v[] = {tm.tm_mon + 1, tm.tm_mday, h12,
				           tm.tm_min,     tm.tm_sec,  tm.tm_year % 100};
				EMIT(2, "%02d", v[p[1] - '1']);
			}
			break;
		case '1':
			if (HAS("15"))
				EMIT(2, "%02d", tm.tm_hour);
			EMIT(1, "%d", tm.tm_mon + 1);
		case '2':
			if (HAS("2006"))
				EMIT(4, "%04d", tm.tm_year + 1900);
			EMIT(1, "%d", tm.tm_mday);
		case '_':
			if (HAS("_2006"))
				EMIT(1, "_"); /* the year follows */
			if (HAS("__2"))
				EMIT(3, "%3d", tm.tm_yday + 1);
			if (HAS("_2"))
				EMIT(2, "%2d", tm.tm_mday);
			break;
		case '3':
			EMIT(1, "%d", h12);
		case '4':
			EMIT(1, "%d", tm.tm_min);
		case '5':
			EMIT(1, "%d", tm.tm_sec);
		case 'P':
			if (HAS("PM"))
				EMIT(2, "%s", tm.tm_hour >= 12 ? "PM" : "AM");
			break;
		case 'p':
			if (HAS("pm"))
				EMIT(2, "%s", tm.tm_hour >= 12 ? "pm" : "am");
			break;
		case '-':
			if (HAS("-070000"))
				EMIT(7, "+000000");
			if (HAS("-07:00:00"))
				EMIT(9, "+00:00:00");
			if (HAS("-0700"))
				EMIT(5, "+0000");
			if (HAS("-07:00"))
				EMIT(6, "+00:00");
			if (HAS("-07"))
				EMIT(3, "+00");
			break;
		case 'Z':
			if (HAS("Z070000"))
				EMIT(7, "Z");
			if (HAS("Z07:00:00"))
				EMIT(9, "Z");
			if (HAS("Z0700"))
				EMIT(5, "Z");
			if (HAS("Z07:00"))
				EMIT(6, "Z");
			if (HAS("Z07"))
				EMIT(3, "Z");
			break;
		case '.':
		case ',':
			if (rest >= 2 && (p[1] == '0' || p[1] == '9')) {
				size_t j = 1;
				while (j < rest && p[j] == p[1])
					j++;
				if ((j == rest || p[j] < '0' || p[j] > '9') && j - 1 <= 9) {
					r = put_fraction(t, out, pos, p[0], j - 1, p[1] == '0');
					i += j;
					continue;
				}
			}
			break;
		default:
			break;
		}
#undef EMIT
#undef HAS
		r = put(t, out, pos, p, 1);
		i++;
	}
	return r;
}

/* Go's printf for %s, %v, %d and %%; other verbs are refused rather than
 * printed as Go's %!verb noise. A missing argument and arguments left
 * over are written as Go writes them ("%!s(MISSING)", "%!(EXTRA
 * string=x, int=1)"), since templates copied from Vault's documentation
 * rely on that (the legacy MySQL one has a %s more than its arguments,
 * cut off by its truncate). */
static int fn_printf(struct tp *t, struct val *a, size_t na, size_t pos, struct val *out)
{
	const char *f = a[0].s.data;
	size_t n = a[0].s.len, next = 1;
	int r;

	for (size_t i = 0; i < n; i++) {
		if (f[i] != '%') {
			if ((r = put(t, out, pos, f + i, 1)) != 0)
				return r;
			continue;
		}
		if (++i == n)
			return fail(t, pos, "printf: the format ends with a lone %%");
		if (f[i] == '%') {
			if ((r = put(t, out, pos, "%", 1)) != 0)
				return r;
			continue;
		}
		if (f[i] != 's' && f[i] != 'v' && f[i] != 'd')
			return fail(t, pos, "printf: only %%s, %%v, %%d and %%%% are supported, not %%%c",
			            f[i]);
		if (next >= na) {
			if ((r = putf(t, out, pos, "%%!%c(MISSING)", f[i])) != 0)
				return r;
			continue;
		}
		struct val *v = &a[next++];
		if (f[i] == 'd' && v->type != V_INT)
			return fail(t, pos, "printf: %%d needs an integer, argument %zu is a string",
			            next - 1);
		r = v->type == V_INT ? putf(t, out, pos, "%lld", (long long)v->i)
		                     : put(t, out, pos, v->s.data, v->s.len);
		if (r != 0)
			return r;
	}
	if (next < na) {
		if ((r = put(t, out, pos, "%!(EXTRA ", 9)) != 0)
			return r;
		for (size_t k = next; k < na; k++) {
			r = a[k].type == V_INT ? putf(t, out, pos, "%sint=%lld", k > next ? ", " : "", (long long)a[k].i)
			                       : putf(t, out, pos, "%sstring=%.*s", k > next ? ", " : "",
			                              (int)a[k].s.len, a[k].s.data);
			if (r != 0)
				return r;
		}
		if ((r = put(t, out, pos, ")", 1)) != 0)
			return r;
	}
	return 0;
}

static const struct fn {
	const char *name;
	const char *sig; /* 'i' integer, 's' string per argument; a final '*': any more */
	int (*run)(struct tp *t, struct val *a, size_t pos, struct val *out); /* NULL: printf */
} fns[] = {
    {"random", "i", fn_random},
    {"truncate", "is", fn_truncate},
    {"truncate_sha256", "is", fn_truncate_sha256},
    {"uppercase", "s", fn_uppercase},
    {"lowercase", "s", fn_lowercase},
    {"replace", "sss", fn_replace},
    {"sha256", "s", fn_sha256},
    {"base64", "s", fn_base64},
    {"unix_time", "", fn_unix_time},
    {"unix_time_millis", "", fn_unix_time_millis},
    {"timestamp", "s", fn_timestamp},
    {"uuid", "", fn_uuid},
    {"printf", "s*", NULL},
};

static const char *const unsupported_words[] = {"if",     "else",     "end",   "range", "with",
                                                "define", "template", "block", "break", "continue",
                                                "true",   "false",    "nil"};

static const char *type_name(enum vtype ty)
{
	return ty == V_INT ? "an integer" : "a string";
}

/* Calls fn on args[0..na) (the piped value, if any, already last). */
static int call(struct tp *t, const struct fn *fn, struct val *args, size_t na, size_t pos, struct val *out)
{
	size_t fixed = strlen(fn->sig);
	int r;
	bool variadic = fixed > 0 && fn->sig[fixed - 1] == '*';

	if (variadic)
		fixed--;
	if (na < fixed || (!variadic && na > fixed))
		return fail(t, pos, "wrong number of args for %s: want %s%zu got %zu", fn->name,
		            variadic ? "at least " : "", fixed, na);
	for (size_t k = 0; k < fixed; k++) {
		enum vtype want = fn->sig[k] == 'i' ? V_INT : V_STR;
		if (args[k].type != want)
			return fail(t, pos, "%s: argument %zu must be %s, not %s", fn->name, k + 1,
			            type_name(want), type_name(args[k].type));
	}
	val_init_str(out);
	r = fn->run ? fn->run(t, args, pos, out) : fn_printf(t, args, na, pos, out);
	if (r != 0)
		val_release(out);
	return r;
}

static int parse_pipeline(struct tp *t, struct val *out);

static int parse_number(struct tp *t, struct val *out)
{
	size_t start = t->pos;
	bool neg = false;
	int64_t v = 0;

	if (t->s[t->pos] == '-' || t->s[t->pos] == '+')
		neg = t->s[t->pos++] == '-';
	while (t->pos < t->n && t->s[t->pos] >= '0' && t->s[t->pos] <= '9') {
		if (v > 100000000)
			return fail(t, start, "number out of range");
		v = v * 10 + (t->s[t->pos++] - '0');
	}
	if (t->pos < t->n && (is_ident(t->s[t->pos]) || t->s[t->pos] == '.'))
		return fail(t, start, "bad number syntax (only decimal integers are supported)");
	val_init_str(out);
	out->type = V_INT;
	out->i = neg ? -v : v;
	return 0;
}

/* One code point as UTF-8 into b (at most 4 bytes). */
static size_t utf8_put(uint32_t cp, char *b)
{
	if (cp < 0x80) {
		b[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (char)(0xf0 | (cp >> 18));
	b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	b[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One escape after a backslash at t->pos (Go's strconv.Unquote rules). */
static int parse_escape(struct tp *t, struct val *out)
{
	size_t at = t->pos - 1, digits = 0;
	uint32_t cp = 0;
	char c, b[4];
	const char *simple = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"";

	if (t->pos >= t->n)
		return fail(t, at, "unterminated quoted string");
	c = t->s[t->pos++];
	for (const char *s = simple; *s; s += 2)
		if (*s == c)
			return put(t, out, at, s + 1, 1);
	if (c == 'x')
		digits = 2;
	else if (c == 'u')
		digits = 4;
	else if (c == 'U')
		digits = 8;
	else if (c >= '0' && c <= '7') {
		cp = (uint32_t)(c - '0');
		for (int k = 0; k < 2; k++) {
			if (t->pos >= t->n || t->s[t->pos] < '0' || t->s[t->pos] > '7')
				return fail(t, at, "bad octal escape (three digits are needed)");
			cp = cp * 8 + (uint32_t)(t->s[t->pos++] - '0');
		}
		if (cp > 255)
			return fail(t, at, "octal escape value > 255");
		digits = 0;
	} else
		return fail(t, at, "unknown escape sequence \\%c", c);
	for (size_t k = 0; k < digits; k++) {
		int h = t->pos < t->n ? strconv_hex_digit(t->s[t->pos]) : -1;
		if (h < 0)
			return fail(t, at, "bad \\%c escape (%zu hex digits are needed)", c, digits);
		cp = cp * 16 + (uint32_t)h;
		t->pos++;
	}
	if (cp == 0)
		return fail(t, at, "a NUL character is not allowed");
	if (c == 'x' || (c >= '0' && c <= '7')) {
		b[0] = (char)cp;
		return put(t, out, at, b, 1);
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail(t, at, "escape \\%c is not a valid Unicode code point", c);
	return put(t, out, at, b, utf8_put(cp, b));
}

static int parse_string(struct tp *t, struct val *out)
{
	size_t start = t->pos;
	char q = t->s[t->pos++];
	int r;

	val_init_str(out);
	for (;;) {
		if (t->pos >= t->n || (q == '"' && t->s[t->pos] == '\n')) {
			r = fail(t, start, "unterminated %s string", q == '"' ? "quoted" : "raw");
			break;
		}
		char c = t->s[t->pos++];
		if (c == q)
			return 0;
		if (c == '\\' && q == '"')
			r = parse_escape(t, out);
		else
			r = put(t, out, t->pos - 1, &c, 1);
		if (r != 0)
			break;
	}
	val_release(out);
	return r;
}

static const struct fn *find_fn(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (strlen(fns[i].name) == len && memcmp(fns[i].name, name, len) == 0)
			return &fns[i];
	return NULL;
}

/* A name that starts a command: one of the functions, or an error. */
static int parse_fn_name(struct tp *t, const struct fn **fn)
{
	size_t start = t->pos;
	const char *name = t->s + start;
	size_t len;

	while (t->pos < t->n && is_ident(t->s[t->pos]))
		t->pos++;
	len = t->pos - start;
	for (size_t i = 0; i < sizeof(unsupported_words) / sizeof(unsupported_words[0]); i++)
		if (strlen(unsupported_words[i]) == len && memcmp(unsupported_words[i], name, len) == 0)
			return fail(t, start, "\"%.*s\" is not supported in username templates", (int)len,
			            name);
	if ((*fn = find_fn(name, len)) == NULL)
		return fail(t, start, "function \"%.*s\" not defined", (int)len, name);
	return 0;
}

static int parse_field(struct tp *t, struct val *out)
{
	size_t start = t->pos++;
	const char *name = t->s + t->pos, *value;
	size_t len;

	if (t->pos >= t->n || !is_ident_start(t->s[t->pos]))
		return fail(t, start,
		            "the data '.' cannot be used as a value; use .DisplayName or .RoleName");
	while (t->pos < t->n && is_ident(t->s[t->pos]))
		t->pos++;
	len = (size_t)(t->s + t->pos - name);
	if (len == 11 && memcmp(name, "DisplayName", 11) == 0)
		value = t->v->display_name;
	else if (len == 8 && memcmp(name, "RoleName", 8) == 0)
		value = t->v->role_name;
	else
		return fail(t, start, "unknown field .%.*s (the fields are .DisplayName and .RoleName)",
		            (int)len, name);
	if (t->pos < t->n && t->s[t->pos] == '.')
		return fail(t, t->pos, ".%.*s is a string and has no fields", (int)len, name);
	val_init_str(out);
	if (value && put(t, out, start, value, strlen(value)) != 0) {
		val_release(out);
		return TROVE_ERR_INVALID;
	}
	return 0;
}

/* An argument: a field, a literal, a parenthesised pipeline, or a
 * function called without arguments. */
static int parse_operand(struct tp *t, struct val *out)
{
	size_t start = t->pos;
	char c = t->s[t->pos];
	const struct fn *fn;
	int r;

	if (c == '.')
		return parse_field(t, out);
	if (c == '"' || c == '`')
		return parse_string(t, out);
	if ((c >= '0' && c <= '9') || ((c == '-' || c == '+') && t->pos + 1 < t->n &&
	                               t->s[t->pos + 1] >= '0' && t->s[t->pos + 1] <= '9'))
		return parse_number(t, out);
	if (c == '(') {
		if (++t->depth > MAX_DEPTH)
			return fail(t, start, "parentheses nested deeper than %d", MAX_DEPTH);
		t->pos++;
		if ((r = parse_pipeline(t, out)) != 0)
			return r;
		skip_space(t);
		if (t->pos >= t->n || t->s[t->pos] != ')') {
			val_release(out);
			return fail(t, t->pos < t->n ? t->pos : start, "unclosed left parenthesis");
		}
		t->pos++;
		t->depth--;
		return 0;
	}
	if (is_ident_start(c)) {
		if ((r = parse_fn_name(t, &fn)) != 0)
			return r;
		return call(t, fn, NULL, 0, start, out);
	}
	if (c == '$')
		return fail(t, start, "variables are not supported in username templates");
	if (c == '\'')
		return fail(t, start, "character constants are not supported; use a string");
	return fail(t, start, "unexpected \"%c\" in command", c);
}

/* One command of a pipeline; piped (may be NULL) is consumed. */
static int parse_command(struct tp *t, struct val *piped, size_t stage, struct val *out)
{
	size_t start = t->pos, na = 0;
	struct val args[MAX_ARGS + 1];
	const struct fn *fn;
	int r;

	if (at_command_end(t)) {
		r = fail(t, start, "missing value for command");
		goto out;
	}
	if (!is_ident_start(t->s[t->pos])) {
		if ((r = parse_operand(t, out)) != 0)
			goto out;
		skip_space(t);
		if (piped || !at_command_end(t)) {
			val_release(out);
			r = piped ? fail(t, start, "non executable command in pipeline stage %zu", stage)
			          : fail(t, t->pos, "can't give argument to non-function");
		}
		goto out;
	}
	if ((r = parse_fn_name(t, &fn)) != 0)
		goto out;
	for (;;) {
		skip_space(t);
		if (at_command_end(t))
			break;
		if (na == MAX_ARGS) {
			r = fail(t, t->pos, "more than %d arguments", MAX_ARGS);
			goto out;
		}
		if (!is_space(t->s[t->pos - 1]) && t->s[t->pos - 1] != ')' && na > 0) {
			r = fail(t, t->pos, "arguments must be separated by spaces");
			goto out;
		}
		if ((r = parse_operand(t, &args[na])) != 0)
			goto out;
		na++;
	}
	if (piped)
		val_move(&args[na++], piped);
	r = call(t, fn, args, na, start, out);
out:
	for (size_t k = 0; k < na; k++)
		val_release(&args[k]);
	if (piped)
		val_release(piped);
	return r;
}

static int parse_pipeline(struct tp *t, struct val *out)
{
	struct val cur, next;
	bool have = false;
	int r;

	for (size_t stage = 1;; stage++) {
		skip_space(t);
		if (stage > MAX_STAGES) {
			r = fail(t, t->pos, "a pipeline of more than %d commands", MAX_STAGES);
			break;
		}
		if ((r = parse_command(t, have ? &cur : NULL, stage, &next)) != 0) {
			have = false;
			break;
		}
		cur = next;
		have = true;
		skip_space(t);
		if (t->pos < t->n && t->s[t->pos] == '|') {
			t->pos++;
			continue;
		}
		break;
	}
	if (r != 0) {
		if (have)
			val_release(&cur);
		return r;
	}
	*out = cur;
	return 0;
}

/* A comment action: "/" "*" ... "*" "/" then the closing delimiter. */
static int skip_comment(struct tp *t, bool *trim)
{
	size_t start = t->pos;
	const char *end = NULL;

	for (size_t i = t->pos + 2; i + 1 < t->n; i++)
		if (t->s[i] == '*' && t->s[i + 1] == '/') {
			end = t->s + i;
			break;
		}
	if (!end)
		return fail(t, start, "unclosed comment");
	t->pos = (size_t)(end - t->s) + 2;
	if (t->pos + 1 < t->n && t->s[t->pos] == ' ')
		t->pos++;
	if (!at_close(t, trim))
		return fail(t, t->pos, "comment ends before closing delimiter");
	return 0;
}

static int run(struct tp *t, struct buf *res)
{
	bool trim_next = false;
	struct val v;
	int r;

	if (t->n > USERNAME_TEMPLATE_MAX)
		return fail(t, USERNAME_TEMPLATE_MAX, "the template is longer than %d bytes",
		            USERNAME_TEMPLATE_MAX);
	while (t->pos < t->n) {
		const char *open;
		size_t at, text_end;
		bool ltrim, trim = false;

		if (trim_next)
			skip_space(t);
		open = strstr(t->s + t->pos, "{{");
		at = open ? (size_t)(open - t->s) : t->n;
		ltrim = open && at + 3 < t->n && t->s[at + 2] == '-' && is_space(t->s[at + 3]);
		text_end = at;
		if (ltrim)
			while (text_end > t->pos && is_space(t->s[text_end - 1]))
				text_end--;
		if (buf_append(res, t->s + t->pos, text_end - t->pos) != 0)
			return fail(t, t->pos, "the output is longer than %d bytes",
			            USERNAME_TEMPLATE_OUTPUT_MAX);
		if (!open)
			break;
		t->pos = at + (ltrim ? 4 : 2);
		if (t->pos + 1 < t->n && t->s[t->pos] == '/' && t->s[t->pos + 1] == '*') {
			if ((r = skip_comment(t, &trim)) != 0)
				return r;
		} else {
			if ((r = parse_pipeline(t, &v)) != 0)
				return r;
			skip_space(t);
			if (!at_close(t, &trim)) {
				val_release(&v);
				if (t->pos >= t->n)
					return fail(t, at, "unclosed action");
				return fail(t, t->pos, "unexpected \"%c\" in command", t->s[t->pos]);
			}
			r = v.type == V_INT ? putf(t, &v, at, "%lld", (long long)v.i) : 0;
			if (r == 0 && buf_append(res, v.s.data, v.s.len) != 0)
				r = fail(t, at, "the output is longer than %d bytes",
				         USERNAME_TEMPLATE_OUTPUT_MAX);
			val_release(&v);
			if (r != 0)
				return r;
		}
		t->pos += trim ? 3 : 2;
		trim_next = trim;
	}
	return 0;
}

int username_template_render_at(const char *tmpl, const struct username_template_vars *v, int64_t now_ns,
                                char **out, char **why)
{
	static const struct username_template_vars none = {0};
	struct tp t = {.s = tmpl ? tmpl : "", .v = v ? v : &none, .now_ns = now_ns};
	struct buf res;
	int r;

	*out = NULL;
	if (why)
		*why = NULL;
	t.n = strlen(t.s);
	buf_init(&res, USERNAME_TEMPLATE_OUTPUT_MAX);
	if (t.n == 0)
		r = fail(&t, 0, "the template is empty");
	else
		r = run(&t, &res);
	if (r == 0)
		*out = buf_take(&res);
	buf_release(&res);
	if (why)
		*why = t.why;
	else
		free(t.why);
	return r;
}

int username_template_render(const char *tmpl, const struct username_template_vars *v, char **out, char **why)
{
	return username_template_render_at(tmpl, v, clock_realtime_ns(), out, why);
}

int username_template_check(const char *tmpl, char **why)
{
	char *out = NULL;
	int r = username_template_render_at(tmpl, NULL, clock_realtime_ns(), &out, why);

	free(out);
	return r;
}
