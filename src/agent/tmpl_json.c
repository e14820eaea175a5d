/* tmpl_json.c — toJSON and toJSONPretty as Go's encoding/json writes
 * interface{} values: object keys sorted, strings escaped as Go does (with
 * or without the HTML escapes), floats in Go's shortest form, and
 * MarshalIndent's layout with two-space indents. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "encoding.h"
#include "err.h"
#include "banned.h"

#define JSON_DEPTH_MAX 4096

static const char hexd[] = "0123456789abcdef";

static int str(struct buf *b, const char *s, size_t n, bool html)
{
	int r = buf_append_byte(b, '"');
	size_t start = 0, i = 0;

	while (i < n && !r) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			bool safe = c >= 0x20 && c != '"' && c != '\\' && !(html && (c == '<' || c == '>' || c == '&'));
			if (safe) {
				i++;
				continue;
			}
			r = buf_append(b, s + start, i - start);
			if (r)
				break;
			switch (c) {
			case '"': r = buf_append_str(b, "\\\""); break;
			case '\\': r = buf_append_str(b, "\\\\"); break;
			case '\b': r = buf_append_str(b, "\\b"); break;
			case '\f': r = buf_append_str(b, "\\f"); break;
			case '\n': r = buf_append_str(b, "\\n"); break;
			case '\r': r = buf_append_str(b, "\\r"); break;
			case '\t': r = buf_append_str(b, "\\t"); break;
			default: r = buf_printf(b, "\\u00%c%c", hexd[c >> 4], hexd[c & 0xf]); break;
			}
			i++;
			start = i;
			continue;
		}
		/* a UTF-8 sequence, or U+FFFD for a byte that starts none */
		uint32_t rune;
		size_t want = utf8_decode((const unsigned char *)s + i, n - i, &rune);
		if (want == 0) {
			r = buf_append(b, s + start, i - start);
			if (!r)
				r = buf_append_str(b, "\\ufffd");
			i++;
			start = i;
			continue;
		}
		if (rune == 0x2028 || rune == 0x2029) {
			r = buf_append(b, s + start, i - start);
			if (!r)
				r = buf_printf(b, "\\u202%c", hexd[rune & 0xf]);
			i += want;
			start = i;
			continue;
		}
		i += want;
	}
	if (!r)
		r = buf_append(b, s + start, n - start);
	return r ? r : buf_append_byte(b, '"');
}

/* encoding/json's float64: 'f' in the shortest form, 'e' below 1e-6 or
 * from 1e21 on, the exponent's leading zero dropped ("1e-7"). */
static int real(struct buf *b, double d, const char **why)
{
	char digits[32];
	int x, nd, r = 0;

	if (isnan(d) || isinf(d)) {
		*why = "json: unsupported value: a float that is not finite";
		return TROVE_ERR_INVALID;
	}
	if (d == 0)
		return buf_append_str(b, signbit(d) ? "-0" : "0");
	if (d < 0)
		r = buf_append_byte(b, '-');
	double a = fabs(d);
	nd = tfmt_shortest(a, digits, &x);
	if (r || !(a < 1e-6 || a >= 1e21))
		return r ? r : tfmt_fixed(b, digits, nd, x);
	r = buf_append_byte(b, digits[0]);
	if (!r && nd > 1) {
		r = buf_append_byte(b, '.');
		if (!r)
			r = buf_append(b, digits + 1, (size_t)nd - 1);
	}
	return r ? r : buf_printf(b, "e%c%0*d", x < 0 ? '-' : '+', x < 0 ? 1 : 2, x < 0 ? -x : x);
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int newline(struct buf *b, bool indent, int depth)
{
	if (!indent)
		return 0;
	int r = buf_append_byte(b, '\n');
	for (int i = 0; i < depth && !r; i++)
		r = buf_append_str(b, "  ");
	return r;
}

static int value(struct buf *b, const json_t *v, bool indent, bool html, int depth, const char **why)
{
	int r = 0;

	if (depth > JSON_DEPTH_MAX) {
		*why = "json: value nested too deep";
		return TROVE_ERR_INVALID;
	}
	if (!v)
		return buf_append_str(b, "null");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return str(b, json_string_value(v), json_string_length(v), html);
	case JSON_INTEGER:
		return buf_printf(b, "%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return real(b, json_real_value(v), why);
	case JSON_TRUE:
		return buf_append_str(b, "true");
	case JSON_FALSE:
		return buf_append_str(b, "false");
	case JSON_NULL:
		return buf_append_str(b, "null");
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		r = buf_append_byte(b, '[');
		for (size_t i = 0; i < n && !r; i++) {
			if (i > 0)
				r = buf_append_byte(b, ',');
			if (!r)
				r = newline(b, indent, depth + 1);
			if (!r)
				r = value(b, json_array_get(v, i), indent, html, depth + 1, why);
		}
		if (!r && n > 0)
			r = newline(b, indent, depth);
		return r ? r : buf_append_byte(b, ']');
	}
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
		const char *key;
		json_t *m;
		json_object_foreach((json_t *)v, key, m) keys[i++] = key;
		qsort(keys, n, sizeof(*keys), cmp_keys);
		r = buf_append_byte(b, '{');
		for (i = 0; i < n && !r; i++) {
			if (i > 0)
				r = buf_append_byte(b, ',');
			if (!r)
				r = newline(b, indent, depth + 1);
			if (!r)
				r = str(b, keys[i], strlen(keys[i]), html);
			if (!r)
				r = buf_append_str(b, indent ? ": " : ":");
			if (!r)
				r = value(b, json_object_get(v, keys[i]), indent, html, depth + 1, why);
		}
		free(keys);
		if (!r && n > 0)
			r = newline(b, indent, depth);
		return r ? r : buf_append_byte(b, '}');
	}
	}
	return buf_append_str(b, "null");
}

int tjson_encode(struct buf *b, const json_t *v, bool indent, bool html, const char **why)
{
	*why = NULL;
	int r = value(b, v, indent, html, 0, why);
	if (r && !*why)
		*why = "the text is too large";
	return r;
}
