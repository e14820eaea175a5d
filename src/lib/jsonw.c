/* jsonw.c — see jsonw.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "jsonw.h"

#include "encoding.h"

#include "banned.h"

__attribute__((noinline)) bool jsonw_grow(struct jsonw *o, size_t extra)
{
	struct buf *b = &o->b;

	if (b->size == 0 && b->len + extra < JSONW_INITIAL - 1 && b->cap >= JSONW_INITIAL - 1)
		extra = JSONW_INITIAL - 1 - b->len; /* one allocation for a typical entry */
	return buf_reserve(b, extra) == 0;
}

size_t jsonw_int_text(json_int_t i, char out[JSONW_NUM_MAX])
{
	unsigned long long u = i < 0 ? 0ULL - (unsigned long long)i : (unsigned long long)i;
	char rev[24];
	size_t n = 0, len = 0;

	do {
		rev[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (i < 0)
		out[len++] = '-';
	while (n != 0)
		out[len++] = rev[--n];
	out[len] = '\0';
	return len;
}

size_t jsonw_real_text(double d, char *out, size_t cap)
{
	char *start, *end;
	size_t n;
	int r;

	if (!isfinite(d))
		return 0;
	r = snprintf(out, cap, "%.17g", d);
	if (r <= 0 || (size_t)r + 3 > cap)
		return 0;
	n = (size_t)r;
	if (!strchr(out, '.') && !strchr(out, 'e')) {
		out[n++] = '.';
		out[n++] = '0';
		out[n] = '\0';
	}
	/* "e+100" -> "e100", "e-07" -> "e-7", as jsonp_dtostr does. */
	start = strchr(out, 'e');
	if (start != NULL) {
		start++;
		end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, n + 1 - (size_t)(end - out));
			n -= (size_t)(end - start);
		}
	}
	return n;
}

void jsonw_str(struct jsonw *o, const char *s, size_t n)
{
	static const char hexu[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
	size_t l;
	char *d;

	while (end - p >= 8 && jsonw_plain8(p))
		p += 8;
	while (p < end && jsonw_plain(*p))
		p++;
	if (p == end) { /* the common case: nothing to escape or check */
		if (!jsonw_room(o, n + 2))
			return;
		d = o->b.data + o->b.len;
		d[0] = '"';
		memcpy(d + 1, s, n);
		d[n + 1] = '"';
		d[n + 2] = '\0';
		o->b.len += n + 2;
		return;
	}
	jsonw_byte(o, '"');
	while (p < end) {
		unsigned char c = *p;

		if (end - p >= 8 && jsonw_plain8(p)) {
			p += 8;
			continue;
		}
		if (jsonw_plain(c)) {
			p++;
			continue;
		}
		if (c >= 0x80 && (l = utf8_seq_len(p, (size_t)(end - p))) != 0) {
			p += l;
			continue;
		}
		jsonw_raw(o, run, (size_t)(p - run));
		switch (c) {
		case '"':
			jsonw_lit(o, "\\\"");
			break;
		case '\\':
			jsonw_lit(o, "\\\\");
			break;
		case '\b':
			jsonw_lit(o, "\\b");
			break;
		case '\f':
			jsonw_lit(o, "\\f");
			break;
		case '\n':
			jsonw_lit(o, "\\n");
			break;
		case '\r':
			jsonw_lit(o, "\\r");
			break;
		case '\t':
			jsonw_lit(o, "\\t");
			break;
		default:
			if (c < 0x20) {
				char esc[6] = {'\\', 'u', '0', '0', hexu[c >> 4], hexu[c & 15]};
				jsonw_raw(o, esc, sizeof(esc));
			} else {
				jsonw_lit(o, "\xef\xbf\xbd"); /* U+FFFD */
			}
		}
		run = ++p;
	}
	jsonw_raw(o, run, (size_t)(p - run));
	jsonw_byte(o, '"');
}

void jsonw_cstr(struct jsonw *o, const char *s)
{
	jsonw_str(o, s, strlen(s));
}

void jsonw_int(struct jsonw *o, json_int_t i)
{
	char num[JSONW_NUM_MAX];

	jsonw_raw(o, num, jsonw_int_text(i, num));
}

__attribute__((noinline)) void jsonw_scalar(struct jsonw *o, const json_t *v)
{
	char num[JSONW_NUM_MAX];
	size_t n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		jsonw_str(o, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		jsonw_int(o, json_integer_value(v));
		return;
	case JSON_REAL:
		n = jsonw_real_text(json_real_value(v), num, sizeof(num));
		if (n == 0)
			o->ok = false;
		else
			jsonw_raw(o, num, n);
		return;
	case JSON_TRUE:
		jsonw_lit(o, "true");
		return;
	case JSON_FALSE:
		jsonw_lit(o, "false");
		return;
	case JSON_NULL:
		jsonw_lit(o, "null");
		return;
	default:
		o->ok = false;
	}
}

/* Deeper than jansson itself would dump. */
#define JSONW_MAX_DEPTH 2048

static void value_at(struct jsonw *o, const json_t *v, unsigned depth)
{
	const char *k;
	size_t klen, i;
	json_t *c;
	bool first = true;

	if (depth > JSONW_MAX_DEPTH) {
		o->ok = false;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jsonw_byte(o, '{');
		json_object_keylen_foreach((json_t *)v, k, klen, c)
		{
			if (!first)
				jsonw_byte(o, ',');
			first = false;
			jsonw_str(o, k, klen);
			jsonw_byte(o, ':');
			value_at(o, c, depth + 1);
		}
		jsonw_byte(o, '}');
		return;
	case JSON_ARRAY:
		jsonw_byte(o, '[');
		json_array_foreach((json_t *)v, i, c)
		{
			if (i)
				jsonw_byte(o, ',');
			value_at(o, c, depth + 1);
		}
		jsonw_byte(o, ']');
		return;
	default:
		jsonw_scalar(o, v);
	}
}

void jsonw_value(struct jsonw *o, const json_t *v)
{
	value_at(o, v, 0);
}
