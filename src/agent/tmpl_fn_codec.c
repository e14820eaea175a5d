/* tmpl_fn_codec.c — consul-template's encoding functions: toJSON and its
 * kin, toYAML, parseJSON, base64 in both alphabets, sha256Hex and
 * hmacSHA256Hex. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "encoding.h"
#include "err.h"
#include "hmac.h"
#include "secure.h"
#include "banned.h"

static int fn_to_json(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out, bool indent,
                      bool html)
{
	struct buf b;
	const char *why = NULL;
	(void)argc;
	buf_init_secret(&b, TMPL_OUT_MAX);
	int r = tjson_encode(&b, argv[0], indent, html, &why);
	if (r) {
		buf_release_secret(&b);
		return texec_fail(e, pos, r, "%s: %s", indent ? "toJSONPretty" : "toJSON", why);
	}
	return tfn_give(e, pos, &b, 0, out);
}

static int fn_tojson(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return fn_to_json(e, pos, argv, argc, out, false, true);
}

static int fn_tojson_pretty(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return fn_to_json(e, pos, argv, argc, out, true, true);
}

static int fn_tojson_raw(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return fn_to_json(e, pos, argv, argc, out, false, false);
}

static int fn_tojson_raw_pretty(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return fn_to_json(e, pos, argv, argc, out, true, false);
}

static int fn_to_yaml(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	struct buf b;
	const char *why = NULL;
	(void)argc;
	buf_init_secret(&b, TMPL_OUT_MAX);
	int r = tyaml_encode(&b, argv[0], &why);
	if (r) {
		buf_release_secret(&b);
		return texec_fail(e, pos, r, "toYAML: %s", why);
	}
	r = texec_work(e, pos, b.len);
	if (r) {
		buf_release_secret(&b);
		return r;
	}
	return tfn_give(e, pos, &b, 0, out);
}

static int fn_parse_json(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	json_error_t je;
	TFN_STR1("parseJSON");
	if (n == 0) {
		*out = json_object();
		return 0;
	}
	*out = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!*out)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "parseJSON: %s at offset %d", je.text,
		                  je.position);
	return texec_work(e, pos, n);
}

json_t *tfn_b64_encode(const char *s, size_t n, bool url)
{
	size_t cap = base64_encoded_size(n);
	char *t = xmalloc(cap);
	base64_encode((const unsigned char *)s, n, t);
	if (url)
		for (char *p = t; *p; p++)
			*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	json_t *v = tval_str(t, strlen(t));
	secure_free(t, cap);
	return v;
}

json_t *tfn_b64_decode(const char *s, size_t n, bool url)
{
	char *in = xmalloc(n + 1);
	unsigned char *t = xmalloc(n + 1);
	json_t *v = NULL;
	size_t len = 0;
	int r = 0;
	size_t k = 0;
	for (size_t i = 0; i < n && !r; i++) {
		char c = s[i];
		if (c == '\r' || c == '\n') /* Go's decoder skips line breaks */
			continue;
		if (url && (c == '+' || c == '/'))
			r = TROVE_ERR_INVALID;
		in[k++] = url && c == '-' ? '+' : url && c == '_' ? '/' : c;
	}
	if (!r && k % 4 != 0) /* padded encodings: a length of 4n */
		r = TROVE_ERR_INVALID;
	if (!r)
		r = base64_decode(in, k, t, n + 1, &len);
	if (!r)
		v = tval_str((const char *)t, len);
	secure_free(in, n + 1);
	secure_free(t, n + 1);
	return v;
}

static int b64_decode(struct texec *e, struct tpos pos, const char *fn, const char *s, size_t n, bool url,
                      json_t **out)
{
	*out = tfn_b64_decode(s, n, url);
	if (!*out)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: illegal base64 data", fn);
	return 0;
}

static int fn_b64enc(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	TFN_STR1("base64Encode");
	*out = tfn_b64_encode(s, n, false);
	return 0;
}

static int fn_b64urlenc(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	TFN_STR1("base64URLEncode");
	*out = tfn_b64_encode(s, n, true);
	return 0;
}

static int fn_b64dec(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	TFN_STR1("base64Decode");
	return b64_decode(e, pos, "base64Decode", s, n, false, out);
}

static int fn_b64urldec(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	TFN_STR1("base64URLDecode");
	return b64_decode(e, pos, "base64URLDecode", s, n, true, out);
}

static int fn_sha256hex(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	unsigned char d[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	TFN_STR1("sha256Hex");
	if (sha256(s, n, d) != 0)
		return texec_fail(e, pos, TROVE_ERR_INTERNAL, "sha256Hex: hashing failed");
	hex_encode(d, sizeof(d), hex);
	*out = tval_str(hex, 2 * SHA256_LEN);
	return 0;
}

static int fn_hmac_sha256hex(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	unsigned char d[HMAC_SHA256_LEN];
	char hex[2 * HMAC_SHA256_LEN + 1];
	const char *msg, *key;
	size_t mn, kn;
	(void)argc;
	int r = targ_str(e, pos, "hmacSHA256Hex", argv[0], &msg, &mn);
	if (!r)
		r = targ_str(e, pos, "hmacSHA256Hex", argv[1], &key, &kn);
	if (r)
		return r;
	if (hmac_sha256(key, kn, msg, mn, d) != 0)
		return texec_fail(e, pos, TROVE_ERR_INTERNAL, "hmacSHA256Hex: hashing failed");
	hex_encode(d, sizeof(d), hex);
	*out = tval_str(hex, 2 * HMAC_SHA256_LEN);
	secure_wipe(d, sizeof(d));
	return 0;
}

const struct tfunc tfunc_codec[] = {
	{ "toJSON", 1, 1, fn_tojson },
	{ "toJSONPretty", 1, 1, fn_tojson_pretty },
	{ "toUnescapedJSON", 1, 1, fn_tojson_raw },
	{ "toUnescapedJSONPretty", 1, 1, fn_tojson_raw_pretty },
	{ "toYAML", 1, 1, fn_to_yaml },
	{ "parseJSON", 1, 1, fn_parse_json },
	{ "base64Encode", 1, 1, fn_b64enc },
	{ "base64Decode", 1, 1, fn_b64dec },
	{ "base64URLEncode", 1, 1, fn_b64urlenc },
	{ "base64URLDecode", 1, 1, fn_b64urldec },
	{ "sha256Hex", 1, 1, fn_sha256hex },
	{ "hmacSHA256Hex", 2, 2, fn_hmac_sha256hex },
};
const size_t tfunc_codec_count = sizeof(tfunc_codec) / sizeof(tfunc_codec[0]);
