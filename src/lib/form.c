/* form.c — k=v&k=v pairs into a JSON object.
 *
 * Repeated keys collect into arrays as they come; with join the arrays
 * become comma-joined strings once, at the end, so a body repeating one
 * key costs linear time rather than copying the growing string per
 * repetition. */
#include <stdlib.h>
#include <string.h>

#include "form.h"

#include "buf.h"
#include "strconv.h"

#include "banned.h"

char *form_decode(const char *s, size_t n, bool plus_space)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n || (hi = strconv_hex_digit((unsigned char)s[i + 1])) < 0 ||
			    (lo = strconv_hex_digit((unsigned char)s[i + 2])) < 0) {
				free(out);
				return NULL;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (c == '\0') {
			free(out);
			return NULL;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

/* Replaces each array in obj that this call created with its values
 * joined by ','. */
static void join_repeats(json_t *obj, const json_t *repeated)
{
	const char *k;
	json_t *unused;
	json_object_foreach((json_t *)repeated, k, unused)
	{
		json_t *arr = json_object_get(obj, k);
		struct buf b;
		size_t i;
		json_t *v;
		buf_init(&b, SIZE_MAX);
		json_array_foreach(arr, i, v)
		{
			if (i > 0)
				buf_append_byte(&b, ',');
			buf_append(&b, json_string_value(v), json_string_length(v));
		}
		json_object_set_new(obj, k, json_stringn(b.data ? b.data : "", b.len));
		buf_release(&b);
	}
}

int form_parse(const char *s, size_t n, json_t *obj, bool join, size_t max_pairs, const char **why)
{
	json_t *repeated = join ? json_object() : NULL; /* keys whose array this call made */
	size_t pairs = 0, i = 0;
	int r = -1;

	while (i < n) {
		size_t end = i;
		while (end < n && s[end] != '&')
			end++;
		if (end > i) {
			if (++pairs > max_pairs) {
				*why = "too many parameters";
				goto out;
			}
			const char *eq = memchr(s + i, '=', end - i);
			size_t klen = eq ? (size_t)(eq - (s + i)) : end - i;
			char *k = form_decode(s + i, klen, true);
			char *v = eq ? form_decode(eq + 1, (size_t)(s + end - eq - 1), true) : xstrdup("");
			if (!k || !v) {
				free(k);
				free(v);
				*why = "invalid percent-encoding in parameters";
				goto out;
			}
			json_t *old = json_object_get(obj, k);
			if (!old) {
				json_object_set_new(obj, k, json_string(v));
			} else if (json_is_array(old)) {
				json_array_append_new(old, json_string(v));
			} else {
				json_t *arr = json_array();
				json_array_append(arr, old);
				json_array_append_new(arr, json_string(v));
				json_object_set_new(obj, k, arr);
				if (repeated)
					json_object_set_new(repeated, k, json_true());
			}
			free(k);
			free(v);
		}
		i = end + 1;
	}
	r = 0;
out:
	if (repeated && r == 0)
		join_repeats(obj, repeated);
	json_decref(repeated);
	return r;
}
