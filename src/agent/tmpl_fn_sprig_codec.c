/* tmpl_fn_sprig_codec.c — sprig's encodings in the sprig dialect: b64enc,
 * b64dec, b32enc, b32dec (a bad input decodes to Go's error text, as
 * sprig's do), toJson and its kin (the must forms fail instead of giving
 * ""), fromJson (numbers as Go's float64), and the hashes sha1sum,
 * sha256sum, sha512sum, adler32sum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "agent/tmpl_int.h"
#include "encoding.h"
#include "err.h"
#include "secure.h"
#include "banned.h"

static int str1(struct texec *e, struct tpos pos, const char *fn, json_t **argv, const char **s, size_t *n)
{
	return tsprig_str_arg(e, pos, fn, argv, 0, s, n);
}

static int fn_b64enc(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *s;
	size_t n;
	(void)argc;
	int r = str1(e, pos, "b64enc", argv, &s, &n);
	if (!r)
		*out = tfn_b64_encode(s, n, false);
	return r;
}

/* Where Go's decoder would stop: the first byte outside the alphabet
 * (line breaks aside), else the start of the incomplete last block. */
static size_t bad_at(const char *s, size_t n, const char *alphabet, size_t block)
{
	size_t k = 0, last = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if (s[i] != '=' && (s[i] == '\0' || !strchr(alphabet, s[i])))
			return i;
		if (k % block == 0)
			last = i;
		k++;
	}
	return last;
}

static json_t *corrupt(const char *kind, size_t at)
{
	char t[96];
	int len = snprintf(t, sizeof(t), "illegal %s data at input byte %zu", kind, at);
	return tval_str(t, (size_t)len);
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static int fn_b64dec(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *s;
	size_t n;
	(void)argc;
	int r = str1(e, pos, "b64dec", argv, &s, &n);
	if (r)
		return r;
	*out = tfn_b64_decode(s, n, false);
	if (!*out)
		*out = corrupt("base64", bad_at(s, n, b64_alphabet, 4));
	return 0;
}

static int fn_b32enc(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *s;
	size_t n;
	struct buf b;
	(void)argc;
	int r = str1(e, pos, "b32enc", argv, &s, &n);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	for (size_t i = 0; i < n && !r; i += 5) {
		unsigned char q[5] = {0};
		size_t k = n - i < 5 ? n - i : 5;
		memcpy(q, s + i, k);
		uint64_t x = ((uint64_t)q[0] << 32) | ((uint64_t)q[1] << 24) | ((uint64_t)q[2] << 16) |
		             ((uint64_t)q[3] << 8) | q[4];
		size_t chars = (k * 8 + 4) / 5; /* 2, 4, 5, 7 or 8 */
		for (size_t c = 0; c < 8 && !r; c++)
			r = buf_append_byte(&b, c < chars ? b32_alphabet[(x >> (35 - 5 * c)) & 31] : '=');
	}
	return tfn_give(e, pos, &b, r, out);
}

/* Standard padded base32, line breaks skipped; NULL when not base32. */
static json_t *b32_decode(const char *s, size_t n)
{
	struct buf b;
	char q[8];
	size_t k = 0;
	bool done = false, bad = false;
	buf_init_secret(&b, TMPL_OUT_MAX);
	for (size_t i = 0; i <= n && !bad; i++) {
		if (i < n && (s[i] == '\r' || s[i] == '\n'))
			continue;
		if (i < n) {
			if (done)
				bad = true;
			q[k++] = s[i];
			if (k < 8)
				continue;
		} else if (k == 0) {
			break;
		} else {
			bad = true; /* an incomplete block */
			break;
		}
		/* a whole block of 8: data, then padding to its end */
		size_t data = 0;
		while (data < 8 && q[data] != '=')
			data++;
		for (size_t j = data; j < 8; j++)
			bad |= q[j] != '=';
		static const size_t bytes_of[9] = {0, 99, 1, 99, 2, 3, 99, 4, 5};
		if (bad || bytes_of[data] == 99 || (data == 0))
			bad = true;
		uint64_t x = 0;
		for (size_t j = 0; j < 8 && !bad; j++) {
			const char *p = j < data ? strchr(b32_alphabet, q[j]) : b32_alphabet;
			if (!p || q[j] == '\0')
				bad = true;
			else
				x = (x << 5) | (uint64_t)(p - b32_alphabet);
		}
		for (size_t j = 0; j < bytes_of[data] && !bad; j++)
			(void)buf_append_byte(&b, (char)(x >> (32 - 8 * j)));
		done = data < 8;
		k = 0;
	}
	json_t *v = bad ? NULL : tval_str(b.data ? b.data : "", b.len);
	buf_release_secret(&b);
	return v;
}

static int fn_b32dec(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *s;
	size_t n;
	(void)argc;
	int r = str1(e, pos, "b32dec", argv, &s, &n);
	if (r)
		return r;
	*out = b32_decode(s, n);
	if (!*out)
		*out = corrupt("base32", bad_at(s, n, b32_alphabet, 8));
	return 0;
}

/* ---- JSON ---- */

static int to_json(struct texec *e, struct tpos pos, const char *fn, json_t *v, bool indent, bool html,
                   bool must, json_t **out)
{
	struct buf b;
	const char *why = NULL;
	int r = tval_walk(e, pos, v);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	r = tjson_encode(&b, v, indent, html, &why);
	if (r) {
		buf_release_secret(&b);
		if (must)
			return texec_fail(e, pos, r, "error calling %s: %s", fn, why ? why : "cannot encode");
		*out = tval_str("", 0);
		return 0;
	}
	r = texec_work(e, pos, b.len);
	if (r) {
		buf_release_secret(&b);
		return r;
	}
	return tfn_give(e, pos, &b, 0, out);
}

#define JSON_FN(name, sname, indent, html, must)                                                             \
	static int name(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)          \
	{                                                                                                    \
		(void)argc;                                                                                  \
		return to_json(e, pos, sname, argv[0], indent, html, must, out);                             \
	}
JSON_FN(fn_to_json, "toJson", false, true, false)
JSON_FN(fn_to_pretty_json, "toPrettyJson", true, true, false)
JSON_FN(fn_to_raw_json, "toRawJson", false, false, true) /* sprig's panics on failure */
JSON_FN(fn_must_to_json, "mustToJson", false, true, true)
JSON_FN(fn_must_to_pretty_json, "mustToPrettyJson", true, true, true)
JSON_FN(fn_must_to_raw_json, "mustToRawJson", false, false, true)

/* Go decodes JSON numbers into float64: integers become reals. */
static json_t *as_go(json_t *v)
{
	if (json_is_integer(v)) {
		json_t *d = json_real((double)json_integer_value(v));
		json_decref(v);
		return d;
	}
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			if (json_is_integer(json_array_get(v, i)) || json_is_array(json_array_get(v, i)) ||
			    json_is_object(json_array_get(v, i)))
				json_array_set_new(v, i, as_go(json_incref(json_array_get(v, i))));
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) if (json_is_integer(x) || json_is_array(x) || json_is_object(x))
		    json_object_set_new(v, k, as_go(json_incref(x)));
	}
	return v;
}

static int from_json(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool must, json_t **out)
{
	const char *s;
	size_t n;
	json_error_t je;
	int r = str1(e, pos, fn, argv, &s, &n);
	if (!r)
		r = texec_work(e, pos, n);
	if (!r) /* a JSON value takes two bytes at least: its elements */
		r = tval_slots(e, pos, n / 2 + 1);
	if (r)
		return r;
	/* jansson parses at most 2048 levels deep: a bound for as_go too */
	json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!v) {
		if (must)
			return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling %s: %s at offset %d", fn,
			                  je.text, je.position);
		*out = json_null();
		return 0;
	}
	*out = as_go(v);
	return 0;
}

static int fn_from_json(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return from_json(e, pos, "fromJson", argv, false, out);
}

static int fn_must_from_json(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return from_json(e, pos, "mustFromJson", argv, true, out);
}

/* ---- hashes ---- */

static int digest(struct texec *e, struct tpos pos, const char *fn, const EVP_MD *md, json_t **argv,
                  json_t **out)
{
	const char *s;
	size_t n;
	unsigned char d[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int len = 0;
	int r = str1(e, pos, fn, argv, &s, &n);
	if (r)
		return r;
	if (EVP_Digest(s, n, d, &len, md, NULL) != 1)
		return texec_fail(e, pos, TROVE_ERR_INTERNAL, "%s: hashing failed", fn);
	hex_encode(d, len, hex);
	*out = tval_str(hex, 2 * (size_t)len);
	return 0;
}

static int fn_sha1sum(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return digest(e, pos, "sha1sum", EVP_sha1(), argv, out);
}

static int fn_sha256sum(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return digest(e, pos, "sha256sum", EVP_sha256(), argv, out);
}

static int fn_sha512sum(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return digest(e, pos, "sha512sum", EVP_sha512(), argv, out);
}

static int fn_adler32sum(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *s;
	size_t n;
	char t[16];
	(void)argc;
	int r = str1(e, pos, "adler32sum", argv, &s, &n);
	if (r)
		return r;
	uint32_t a = 1, b = 0;
	for (size_t i = 0; i < n; i++) {
		a = (a + (unsigned char)s[i]) % 65521;
		b = (b + a) % 65521;
	}
	int len = snprintf(t, sizeof(t), "%u", (unsigned)((b << 16) | a));
	*out = tval_str(t, (size_t)len);
	return 0;
}

const struct tfunc tfunc_sprig_codec[] = {
    {"b64enc", 1, 1, fn_b64enc},
    {"b64dec", 1, 1, fn_b64dec},
    {"b32enc", 1, 1, fn_b32enc},
    {"b32dec", 1, 1, fn_b32dec},
    {"toJson", 1, 1, fn_to_json},
    {"toPrettyJson", 1, 1, fn_to_pretty_json},
    {"toRawJson", 1, 1, fn_to_raw_json},
    {"mustToJson", 1, 1, fn_must_to_json},
    {"mustToPrettyJson", 1, 1, fn_must_to_pretty_json},
    {"mustToRawJson", 1, 1, fn_must_to_raw_json},
    {"fromJson", 1, 1, fn_from_json},
    {"mustFromJson", 1, 1, fn_must_from_json},
    {"sha1sum", 1, 1, fn_sha1sum},
    {"sha256sum", 1, 1, fn_sha256sum},
    {"sha512sum", 1, 1, fn_sha512sum},
    {"adler32sum", 1, 1, fn_adler32sum},
};
const size_t tfunc_sprig_codec_count = sizeof(tfunc_sprig_codec) / sizeof(tfunc_sprig_codec[0]);
