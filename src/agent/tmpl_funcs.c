/* tmpl_funcs.c — consul-template's functions that Vault Agent templates
 * use: the Vault sources (secret, pkiCert, through struct tmpl_funcs),
 * encoders, strings, parsing, math, env, file and timestamp; and the
 * function table, with the Consul and Nomad functions refused by name. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/tmpl_int.h"
#include "clock.h"
#include "encoding.h"
#include "err.h"
#include "hmac.h"
#include "secure.h"
#include "strconv.h"
#include "banned.h"

/* ---- Vault ---- */

typedef int (*source_fn)(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out,
                         char **err);

static int call_source(struct texec *e, struct tpos pos, const char *fn, source_fn src, json_t **argv, size_t argc,
                       json_t **out)
{
	const char *path;
	const char **args = NULL;
	char *why = NULL;
	int r;

	if (!src)
		return texec_fail(e, pos, TROVE_ERR_UNSUPPORTED_OP, "function %s is not available here", fn);
	for (size_t i = 0; i < argc; i++) {
		const char *s;
		if ((r = targ_str(e, pos, fn, argv[i], &s, NULL)) != 0)
			return r;
	}
	path = json_string_value(argv[0]);
	if (argc > 1) {
		args = xcalloc(argc - 1, sizeof(*args));
		for (size_t i = 1; i < argc; i++)
			args[i - 1] = json_string_value(argv[i]);
	}
	r = src(e->f->ctx, path, args, argc - 1, out, &why);
	free(args);
	if (r) {
		if (*out) {
			json_decref(*out);
			*out = NULL;
		}
		r = texec_fail(e, pos, r, "%s \"%s\": %s", fn, path, why ? why : err_message(r));
		free(why);
		return r;
	}
	free(why);
	return 0;
}

static int fn_secret(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return call_source(e, pos, "secret", e->f->secret, argv, argc, out);
}

static int fn_pki_cert(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return call_source(e, pos, "pkiCert", e->f->pki_cert, argv, argc, out);
}

/* ---- helpers ---- */

static int give(struct buf *b, int r, json_t **out)
{
	if (!r)
		*out = tval_str(b->data, b->len);
	buf_release_secret(b);
	return r ? TROVE_ERR_TOO_LARGE : 0;
}

/* The one string argument of a string -> string function. */
#define STR1(fn)                                                   \
	const char *s;                                                 \
	size_t n;                                                      \
	(void)argc;                                                    \
	int r = targ_str(e, pos, fn, argv[argc - 1], &s, &n);         \
	if (r)                                                         \
		return r

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void trim_span(const char **s, size_t *n)
{
	while (*n > 0 && is_space((unsigned char)(*s)[0]))
		(*s)++, (*n)--;
	while (*n > 0 && is_space((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* ---- encoders ---- */

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
		return texec_fail(e, pos, r, "error calling %s: %s", indent ? "toJSONPretty" : "toJSON", why);
	}
	return give(&b, 0, out);
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
		return texec_fail(e, pos, r, "error calling toYAML: %s", why);
	}
	r = texec_work(e, pos, b.len);
	if (r) {
		buf_release_secret(&b);
		return r;
	}
	return give(&b, 0, out);
}

static int fn_parse_json(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	json_error_t je;
	STR1("parseJSON");
	if (n == 0) {
		*out = json_object();
		return 0;
	}
	*out = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!*out)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling parseJSON: %s at offset %d", je.text,
		                  je.position);
	return texec_work(e, pos, n);
}

static int b64_encode(const char *s, size_t n, bool url, json_t **out)
{
	size_t cap = base64_encoded_size(n);
	char *t = xmalloc(cap);
	base64_encode((const unsigned char *)s, n, t);
	if (url)
		for (char *p = t; *p; p++)
			*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	*out = tval_str(t, strlen(t));
	secure_free(t, cap);
	return 0;
}

static int b64_decode(struct texec *e, struct tpos pos, const char *fn, const char *s, size_t n, bool url,
                      json_t **out)
{
	char *in = xmalloc(n + 1);
	unsigned char *t = xmalloc(n + 1);
	size_t len = 0;
	int r = 0;
	for (size_t i = 0; i < n && !r; i++) {
		char c = s[i];
		if (url && (c == '+' || c == '/'))
			r = TROVE_ERR_INVALID;
		in[i] = url && c == '-' ? '+' : url && c == '_' ? '/' : c;
	}
	if (!r)
		r = base64_decode(in, n, t, n + 1, &len);
	if (!r)
		*out = tval_str((const char *)t, len);
	secure_free(in, n + 1);
	secure_free(t, n + 1);
	if (r)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling %s: illegal base64 data", fn);
	return 0;
}

static int fn_b64enc(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	STR1("base64Encode");
	return b64_encode(s, n, false, out);
}

static int fn_b64urlenc(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	STR1("base64URLEncode");
	return b64_encode(s, n, true, out);
}

static int fn_b64dec(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	STR1("base64Decode");
	return b64_decode(e, pos, "base64Decode", s, n, false, out);
}

static int fn_b64urldec(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	STR1("base64URLDecode");
	return b64_decode(e, pos, "base64URLDecode", s, n, true, out);
}

static int fn_sha256hex(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	unsigned char d[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	STR1("sha256Hex");
	if (sha256(s, n, d) != 0)
		return texec_fail(e, pos, TROVE_ERR_INTERNAL, "error calling sha256Hex: hashing failed");
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
		return texec_fail(e, pos, TROVE_ERR_INTERNAL, "error calling hmacSHA256Hex: hashing failed");
	hex_encode(d, sizeof(d), hex);
	*out = tval_str(hex, 2 * HMAC_SHA256_LEN);
	secure_wipe(d, sizeof(d));
	return 0;
}

/* ---- environment, files, time ---- */

static int fn_env(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	STR1("env");
	(void)n;
	const char *v = getenv(s);
	*out = tval_str(v ? v : "", v ? strlen(v) : 0);
	return 0;
}

static int fn_must_env(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	STR1("mustEnv");
	(void)n;
	const char *v = getenv(s);
	if (!v || !*v)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling mustEnv: required environment variable %s is empty",
		                  s);
	*out = tval_str(v, strlen(v));
	return 0;
}

static int fn_env_or_default(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *name, *def;
	size_t dn;
	(void)argc;
	int r = targ_str(e, pos, "envOrDefault", argv[0], &name, NULL);
	if (!r)
		r = targ_str(e, pos, "envOrDefault", argv[1], &def, &dn);
	if (r)
		return r;
	const char *v = getenv(name);
	*out = v ? tval_str(v, strlen(v)) : tval_str(def, dn);
	return 0;
}

static int fn_file(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	struct buf b;
	struct stat st;
	STR1("file");
	trim_span(&s, &n);
	if (n == 0) {
		*out = tval_str("", 0);
		return 0;
	}
	if (memchr(s, '\0', n))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling file: the path holds a NUL byte");
	char *path = xstrndup(s, n);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = texec_fail(e, pos, TROVE_ERR_NOT_FOUND, "error calling file: %s: %s", path, strerror(errno));
		free(path);
		return r;
	}
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		close(fd);
		r = texec_fail(e, pos, TROVE_ERR_IO, "error calling file: %s: not a readable file", path);
		free(path);
		return r;
	}
	buf_init_secret(&b, TMPL_FILE_MAX + 1);
	for (;;) {
		char chunk[8192];
		ssize_t k = read(fd, chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = texec_fail(e, pos, TROVE_ERR_IO, "error calling file: %s: %s", path, strerror(errno));
			break;
		}
		if (k == 0)
			break;
		if (buf_append(&b, chunk, (size_t)k) != 0 || b.len > TMPL_FILE_MAX) {
			r = texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "error calling file: %s: over %zu bytes", path,
			               TMPL_FILE_MAX);
			break;
		}
	}
	close(fd);
	free(path);
	if (r) {
		buf_release_secret(&b);
		return r;
	}
	return give(&b, 0, out);
}

static int fn_timestamp(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	struct buf b;
	const char *layout = "2006-01-02T15:04:05Z07:00";
	size_t n = strlen(layout);
	int64_t now = e->now_ns ? e->now_ns : clock_realtime_ns();

	if (argc == 1) {
		int r = targ_str(e, pos, "timestamp", argv[0], &layout, &n);
		if (r)
			return r;
	}
	buf_init(&b, TMPL_OUT_MAX);
	if (n == 4 && memcmp(layout, "unix", 4) == 0) {
		int64_t secs = now / 1000000000;
		if (now < 0 && now % 1000000000)
			secs--;
		(void)buf_printf(&b, "%lld", (long long)secs);
		return give(&b, 0, out);
	}
	return give(&b, ttime_format(&b, now, layout, n), out);
}

/* ---- strings ---- */

static int fn_trim_space(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	STR1("trimSpace");
	trim_span(&s, &n);
	*out = tval_str(s, n);
	return 0;
}

static int str2(struct texec *e, struct tpos pos, const char *fn, json_t **argv, const char **a, size_t *an,
                const char **b, size_t *bn)
{
	int r = targ_str(e, pos, fn, argv[0], a, an);
	return r ? r : targ_str(e, pos, fn, argv[1], b, bn);
}

static int fn_trim(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *cut, *s;
	size_t cn, n;
	(void)argc;
	int r = str2(e, pos, "trim", argv, &cut, &cn, &s, &n);
	if (r)
		return r;
	while (n > 0 && memchr(cut, s[0], cn))
		s++, n--;
	while (n > 0 && memchr(cut, s[n - 1], cn))
		n--;
	*out = tval_str(s, n);
	return 0;
}

static int fn_trim_prefix(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *p, *s;
	size_t pn, n;
	(void)argc;
	int r = str2(e, pos, "trimPrefix", argv, &p, &pn, &s, &n);
	if (r)
		return r;
	if (pn <= n && memcmp(s, p, pn) == 0)
		s += pn, n -= pn;
	*out = tval_str(s, n);
	return 0;
}

static int fn_trim_suffix(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *p, *s;
	size_t pn, n;
	(void)argc;
	int r = str2(e, pos, "trimSuffix", argv, &p, &pn, &s, &n);
	if (r)
		return r;
	if (pn <= n && memcmp(s + n - pn, p, pn) == 0)
		n -= pn;
	*out = tval_str(s, n);
	return 0;
}

static size_t u8next(const char *s, size_t n, size_t i)
{
	i++;
	while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
		i++;
	return i;
}

static int fn_split(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *sep, *s;
	size_t sn, n;
	(void)argc;
	int r = str2(e, pos, "split", argv, &sep, &sn, &s, &n);
	if (r)
		return r;
	trim_span(&s, &n);
	*out = json_array();
	if (n == 0)
		return 0;
	size_t start = 0, count = 0;
	for (size_t i = 0; i < n;) {
		if (sn == 0) {
			size_t j = u8next(s, n, i);
			json_array_append_new(*out, tval_str(s + i, j - i));
			i = j;
			count++;
			continue;
		}
		if (n - i >= sn && memcmp(s + i, sep, sn) == 0) {
			json_array_append_new(*out, tval_str(s + start, i - start));
			i += sn;
			start = i;
			count++;
		} else {
			i++;
		}
	}
	if (sn > 0) {
		json_array_append_new(*out, tval_str(s + start, n - start));
		count++;
	}
	return texec_work(e, pos, count);
}

static int fn_join(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *sep;
	size_t sn;
	struct buf b;
	(void)argc;
	int r = targ_str(e, pos, "join", argv[0], &sep, &sn);
	if (r)
		return r;
	if (!json_is_array(argv[1]))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling join: wrong type for value; expected []string; got %s",
		                  json_is_null(argv[1]) ? "<nil>" : tval_type(argv[1]));
	buf_init_secret(&b, TMPL_OUT_MAX);
	for (size_t i = 0; i < json_array_size(argv[1]) && !r; i++) {
		json_t *v = json_array_get(argv[1], i);
		if (!json_is_string(v)) {
			buf_release_secret(&b);
			return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling join: element %zu is %s, not a string", i,
			                  tval_type(v));
		}
		if (i > 0)
			r = buf_append(&b, sep, sn);
		if (!r)
			r = buf_append(&b, json_string_value(v), json_string_length(v));
	}
	return give(&b, r, out);
}

static int fn_replace_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *f, *t, *s;
	size_t fn, tn, n;
	struct buf b;
	(void)argc;
	int r = str2(e, pos, "replaceAll", argv, &f, &fn, &t, &tn);
	if (!r)
		r = targ_str(e, pos, "replaceAll", argv[2], &s, &n);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	if (fn == 0) { /* Go: the new text before each rune and at the end */
		for (size_t i = 0; i < n && !r;) {
			size_t j = u8next(s, n, i);
			r = buf_append(&b, t, tn);
			if (!r)
				r = buf_append(&b, s + i, j - i);
			i = j;
		}
		if (!r)
			r = buf_append(&b, t, tn);
	} else {
		for (size_t i = 0; i < n && !r;) {
			if (n - i >= fn && memcmp(s + i, f, fn) == 0) {
				r = buf_append(&b, t, tn);
				i += fn;
			} else {
				r = buf_append_byte(&b, s[i++]);
			}
		}
	}
	if (!r)
		r = texec_work(e, pos, b.len);
	if (r) {
		buf_release_secret(&b);
		return e->err ? r : texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "error calling replaceAll: result too large");
	}
	return give(&b, 0, out);
}

static int case_map(struct texec *e, struct tpos pos, const char *fn, json_t *v, int mode, json_t **out)
{
	const char *s;
	size_t n;
	int r = targ_str(e, pos, fn, v, &s, &n);
	if (r)
		return r;
	char *t = xmalloc(n + 1);
	bool word_start = true;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (mode == 0 && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if ((mode == 1 || (mode == 2 && word_start)) && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		t[i] = c;
		word_start = !(letter || (c >= '0' && c <= '9') || c == '\'' || (unsigned char)c >= 0x80);
	}
	*out = tval_str(t, n);
	secure_free(t, n + 1);
	return 0;
}

static int fn_to_lower(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return case_map(e, pos, "toLower", argv[0], 0, out);
}

static int fn_to_upper(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return case_map(e, pos, "toUpper", argv[0], 1, out);
}

static int fn_to_title(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return case_map(e, pos, "toTitle", argv[0], 2, out);
}

static int fn_indent(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t spaces;
	const char *s;
	size_t n;
	struct buf b;
	(void)argc;
	int r = targ_int(e, pos, "indent", argv[0], &spaces);
	if (!r)
		r = targ_str(e, pos, "indent", argv[1], &s, &n);
	if (r)
		return r;
	if (spaces < 0)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling indent: indent value must be a positive integer");
	if (spaces > 1000)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling indent: indent over 1000 spaces");
	buf_init_secret(&b, TMPL_OUT_MAX);
	bool line_start = true;
	for (size_t i = 0; i < n && !r; i++) {
		if (line_start && s[i] != '\n')
			for (int64_t k = 0; k < spaces && !r; k++)
				r = buf_append_byte(&b, ' ');
		if (!r)
			r = buf_append_byte(&b, s[i]);
		line_start = s[i] == '\n';
	}
	if (!r)
		r = texec_work(e, pos, b.len);
	if (r) {
		buf_release_secret(&b);
		return e->err ? r : texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "error calling indent: result too large");
	}
	return give(&b, 0, out);
}

/* consul-template's in(l, v): v an element of the list l, or a substring
 * of the string l. */
static bool contains_value(const json_t *l, const json_t *v)
{
	if (json_is_array(l)) {
		for (size_t i = 0; i < json_array_size(l); i++) {
			const json_t *x = json_array_get(l, i);
			if (json_is_integer(x) && json_is_integer(v) && json_integer_value(x) == json_integer_value(v))
				return true;
			if (json_is_real(x) && json_is_real(v) && json_real_value(x) == json_real_value(v))
				return true;
			if (json_is_string(x) && json_is_string(v) && json_string_length(x) == json_string_length(v) &&
			    memcmp(json_string_value(x), json_string_value(v), json_string_length(v)) == 0)
				return true;
		}
		return false;
	}
	if (json_is_string(l) && json_is_string(v)) {
		size_t n = json_string_length(v);
		if (n == 0)
			return true;
		return memmem(json_string_value(l), json_string_length(l), json_string_value(v), n) != NULL;
	}
	return false;
}

static int fn_contains(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	*out = json_boolean(contains_value(argv[1], argv[0]));
	return texec_work(e, pos, json_is_array(argv[1]) ? json_array_size(argv[1]) : json_string_length(argv[1]));
}

static int fn_in(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	*out = json_boolean(contains_value(argv[0], argv[1]));
	return texec_work(e, pos, json_is_array(argv[0]) ? json_array_size(argv[0]) : json_string_length(argv[0]));
}

/* containsAll, containsAny, containsNone, containsNotAll (consul-template's
 * containsSomeFunc(ret_true, invert)). */
static int contains_some(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool ret_true, bool invert,
                         json_t **out)
{
	if (!json_is_array(argv[0]))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling %s: wrong type for value; expected []interface {}; got %s",
		                  fn, json_is_null(argv[0]) ? "<nil>" : tval_type(argv[0]));
	size_t n = json_array_size(argv[0]);
	int r = texec_work(e, pos, n * (json_is_array(argv[1]) ? json_array_size(argv[1]) + 1 : 1));
	if (r)
		return r;
	for (size_t i = 0; i < n; i++)
		if (contains_value(argv[1], json_array_get(argv[0], i)) != invert) {
			*out = json_boolean(!ret_true);
			return 0;
		}
	*out = json_boolean(ret_true);
	return 0;
}

static int fn_contains_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return contains_some(e, pos, "containsAll", argv, true, true, out);
}

static int fn_contains_any(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return contains_some(e, pos, "containsAny", argv, false, false, out);
}

static int fn_contains_none(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return contains_some(e, pos, "containsNone", argv, true, false, out);
}

static int fn_contains_not_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return contains_some(e, pos, "containsNotAll", argv, false, true, out);
}

/* ---- parsing ---- */

static int fn_parse_int(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t v = 0;
	STR1("parseInt");
	char *t = xstrndup(s, n);
	bool ok = n == 0 || (strlen(t) == n && strconv_int64(t, &v));
	free(t);
	if (!ok)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling parseInt: parsing \"%.*s\": invalid syntax",
		                  (int)(n > 64 ? 64 : n), s);
	*out = json_integer(v);
	return 0;
}

static int fn_parse_uint(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t v = 0;
	STR1("parseUint");
	char *t = xstrndup(s, n);
	bool ok = n == 0 || (strlen(t) == n && t[0] != '-' && t[0] != '+' && strconv_int64(t, &v));
	free(t);
	if (!ok)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling parseUint: parsing \"%.*s\": invalid syntax",
		                  (int)(n > 64 ? 64 : n), s);
	*out = json_integer(v);
	return 0;
}

static int fn_parse_float(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	double d = 0;
	STR1("parseFloat");
	if (n > 0) {
		char *t = xstrndup(s, n), *end = NULL;
		errno = 0;
		d = strtod(t, &end);
		bool ok = strlen(t) == n && !is_space((unsigned char)t[0]) && end && *end == '\0' && end != t &&
		          errno != ERANGE;
		free(t);
		if (!ok)
			return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling parseFloat: parsing \"%.*s\": invalid syntax",
			                  (int)(n > 64 ? 64 : n), s);
	}
	*out = json_real(d);
	return 0;
}

static int fn_parse_bool(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	bool v = false;
	STR1("parseBool");
	char *t = xstrndup(s, n);
	bool ok = n == 0 || (strlen(t) == n && strconv_bool(t, &v));
	free(t);
	if (!ok)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling parseBool: parsing \"%.*s\": invalid syntax",
		                  (int)(n > 64 ? 64 : n), s);
	*out = json_boolean(v);
	return 0;
}

/* ---- math: consul-template's argument order, `{{ 7 | subtract 2 }}` is 5 ---- */

enum op { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_MIN, OP_MAX };
static const char *const op_names[] = { "add", "subtract", "multiply", "divide", "modulo", "minimum", "maximum" };

static int math(struct texec *e, struct tpos pos, enum op op, json_t *bv, json_t *av, json_t **out)
{
	const char *fn = op_names[op];
	if (!json_is_number(av) || !json_is_number(bv)) {
		json_t *bad = json_is_number(av) ? bv : av;
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling %s: unknown type %s", fn,
		                  json_is_null(bad) ? "<nil>" : tval_type(bad));
	}
	if (json_is_integer(av) && json_is_integer(bv)) {
		uint64_t a = (uint64_t)json_integer_value(av), b = (uint64_t)json_integer_value(bv);
		int64_t sa = json_integer_value(av), sb = json_integer_value(bv);
		switch (op) {
		case OP_ADD: *out = json_integer((json_int_t)(a + b)); return 0; /* wraps, as Go's int64 */
		case OP_SUB: *out = json_integer((json_int_t)(a - b)); return 0;
		case OP_MUL: *out = json_integer((json_int_t)(a * b)); return 0;
		case OP_DIV:
		case OP_MOD:
			if (sb == 0)
				return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling %s: integer divide by zero", fn);
			if (sb == -1) /* INT64_MIN / -1 wraps in Go */
				*out = json_integer(op == OP_DIV ? (json_int_t)(0 - a) : 0);
			else
				*out = json_integer(op == OP_DIV ? sa / sb : sa % sb);
			return 0;
		case OP_MIN: *out = json_integer(sa < sb ? sa : sb); return 0;
		case OP_MAX: *out = json_integer(sa > sb ? sa : sb); return 0;
		}
	}
	if (op == OP_MOD)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling modulo: unknown type float64");
	double a = json_number_value(av), b = json_number_value(bv);
	switch (op) {
	case OP_ADD: *out = json_real(a + b); break;
	case OP_SUB: *out = json_real(a - b); break;
	case OP_MUL: *out = json_real(a * b); break;
	case OP_DIV: *out = json_real(a / b); break;
	case OP_MIN: *out = json_real(a < b ? a : b); break;
	default: *out = json_real(a > b ? a : b); break;
	}
	if (!*out) /* jansson holds no NaN or infinity */
		return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling %s: result is not a finite number", fn);
	return 0;
}

#define MATH_FN(name, op)                                                                             \
	static int fn_##name(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out) \
	{                                                                                                 \
		(void)argc;                                                                                   \
		return math(e, pos, op, argv[0], argv[1], out);                                               \
	}
MATH_FN(add, OP_ADD)
MATH_FN(subtract, OP_SUB)
MATH_FN(multiply, OP_MUL)
MATH_FN(divide, OP_DIV)
MATH_FN(modulo, OP_MOD)
MATH_FN(minimum, OP_MIN)
MATH_FN(maximum, OP_MAX)

/* loop N or loop START END: the integers in [START, END). */
static int fn_loop(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t from = 0, to = 0;
	int r = targ_int(e, pos, "loop", argv[0], argc == 1 ? &to : &from);
	if (!r && argc == 2)
		r = targ_int(e, pos, "loop", argv[1], &to);
	if (r)
		return r;
	if (to > from && (uint64_t)to - (uint64_t)from > TMPL_RANGE_MAX)
		return texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "error calling loop: more than %d items", TMPL_RANGE_MAX);
	*out = json_array();
	for (int64_t i = from; i < to; i++)
		json_array_append_new(*out, json_integer(i));
	return texec_work(e, pos, to > from ? (uint64_t)(to - from) : 0);
}

const struct tfunc tfunc_ct[] = {
	{ "secret", 1, -1, fn_secret },
	{ "pkiCert", 1, -1, fn_pki_cert },
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
	{ "env", 1, 1, fn_env },
	{ "mustEnv", 1, 1, fn_must_env },
	{ "envOrDefault", 2, 2, fn_env_or_default },
	{ "file", 1, 1, fn_file },
	{ "timestamp", 0, 1, fn_timestamp },
	{ "trimSpace", 1, 1, fn_trim_space },
	{ "trim", 2, 2, fn_trim },
	{ "trimPrefix", 2, 2, fn_trim_prefix },
	{ "trimSuffix", 2, 2, fn_trim_suffix },
	{ "split", 2, 2, fn_split },
	{ "join", 2, 2, fn_join },
	{ "replaceAll", 3, 3, fn_replace_all },
	{ "toLower", 1, 1, fn_to_lower },
	{ "toUpper", 1, 1, fn_to_upper },
	{ "toTitle", 1, 1, fn_to_title },
	{ "indent", 2, 2, fn_indent },
	{ "contains", 2, 2, fn_contains },
	{ "in", 2, 2, fn_in },
	{ "containsAll", 2, 2, fn_contains_all },
	{ "containsAny", 2, 2, fn_contains_any },
	{ "containsNone", 2, 2, fn_contains_none },
	{ "containsNotAll", 2, 2, fn_contains_not_all },
	{ "parseInt", 1, 1, fn_parse_int },
	{ "parseUint", 1, 1, fn_parse_uint },
	{ "parseFloat", 1, 1, fn_parse_float },
	{ "parseBool", 1, 1, fn_parse_bool },
	{ "add", 2, 2, fn_add },
	{ "subtract", 2, 2, fn_subtract },
	{ "multiply", 2, 2, fn_multiply },
	{ "divide", 2, 2, fn_divide },
	{ "modulo", 2, 2, fn_modulo },
	{ "minimum", 2, 2, fn_minimum },
	{ "maximum", 2, 2, fn_maximum },
	{ "loop", 1, 2, fn_loop },
};
const size_t tfunc_ct_count = sizeof(tfunc_ct) / sizeof(tfunc_ct[0]);

/* consul-template functions Trove does not offer, and why. */
static const struct {
	const char *name;
	const char *why;
} refused[] = {
	{ "datacenters", "reads Consul" },       { "exportedServices", "reads Consul" },
	{ "importedServices", "reads Consul" },  { "key", "reads Consul" },
	{ "keyExists", "reads Consul" },         { "keyOrDefault", "reads Consul" },
	{ "ls", "reads Consul" },                { "safeLs", "reads Consul" },
	{ "node", "reads Consul" },              { "nodes", "reads Consul" },
	{ "partitions", "reads Consul" },        { "peerings", "reads Consul" },
	{ "service", "reads Consul" },           { "services", "reads Consul" },
	{ "connect", "reads Consul" },           { "tree", "reads Consul" },
	{ "safeTree", "reads Consul" },          { "caRoots", "reads Consul" },
	{ "caLeaf", "reads Consul" },            { "byKey", "works on Consul keys" },
	{ "byPort", "works on Consul services" }, { "byTag", "works on Consul services" },
	{ "byMeta", "works on Consul services" }, { "explode", "works on Consul keys" },
	{ "nomadServices", "reads Nomad" },      { "nomadService", "reads Nomad" },
	{ "nomadVarList", "reads Nomad" },       { "nomadVarListSafe", "reads Nomad" },
	{ "nomadVar", "reads Nomad" },           { "nomadVarExists", "reads Nomad" },
	{ "secrets", "lists Vault paths" },      { "plugin", "runs programs" },
	{ "writeToFile", "writes files" },       { "executeTemplate", "not supported" },
	{ "scratch", "not supported" },          { "sockaddr", "not supported" },
	{ "regexMatch", "not supported" },       { "regexReplaceAll", "not supported" },
	{ "toTOML", "not supported" },           { "parseYAML", "not supported" },
	{ "explodeMap", "not supported" },       { "mergeMap", "not supported" },
	{ "mergeMapWithOverride", "not supported" }, { "splitToMap", "not supported" },
	{ "md5sum", "not supported" },           { "spew_dump", "not supported" },
	{ "spew_printf", "not supported" },      { "spew_sdump", "not supported" },
	{ "spew_sprintf", "not supported" },
};

int tfunc_lookup(const char *name, size_t n, const char **why)
{
	*why = NULL;
	for (size_t i = 0; i < tfunc_builtin_count; i++)
		if (strlen(tfunc_builtin[i].name) == n && memcmp(tfunc_builtin[i].name, name, n) == 0)
			return (int)i;
	for (size_t i = 0; i < tfunc_ct_count; i++)
		if (strlen(tfunc_ct[i].name) == n && memcmp(tfunc_ct[i].name, name, n) == 0)
			return (int)(tfunc_builtin_count + i);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strlen(refused[i].name) == n && memcmp(refused[i].name, name, n) == 0) {
			*why = refused[i].why;
			return -1;
		}
	if (n > 6 && memcmp(name, "sprig_", 6) == 0)
		*why = "sprig functions are not offered";
	return -1;
}

const struct tfunc *tfunc_get(int i)
{
	if ((size_t)i < tfunc_builtin_count)
		return &tfunc_builtin[i];
	return &tfunc_ct[(size_t)i - tfunc_builtin_count];
}
