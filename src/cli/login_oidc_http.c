/* login_oidc_http.c — parses the requests the OIDC callback listener
 * receives (login_oidc_http.h). The bytes come from whoever can reach the
 * listener, so everything is bounded: the whole request, the number of
 * form pairs, and only the two shapes a provider's redirect takes are
 * accepted. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "buf.h"
#include "cli/login_oidc_http.h"
#include "form.h"
#include "secure.h"

#include "banned.h"

#define MAX_PAIRS 16

void oidc_callback_release(struct oidc_callback *cb)
{
	secure_free_str(cb->state);
	secure_free_str(cb->code);
	secure_free_str(cb->id_token);
	secure_free_str(cb->error);
	secure_free_str(cb->error_description);
	memset(cb, 0, sizeof(*cb));
}

/* The end of the head ("\r\n\r\n"), or NULL when not received yet. */
static const char *head_end(const char *req, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if (memcmp(req + i, "\r\n\r\n", 4) == 0)
			return req + i;
	return NULL;
}

/* The value of header name in head[0..n) (lines after the request line),
 * trimmed, as a span; false when absent. */
static bool header(const char *head, size_t n, const char *name, const char **v, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = memchr(head, '\n', n), *end = head + n;

	while (p && p + 1 < end) {
		const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			const char *s = line + nl + 1, *e = eol;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*v = s;
			*vlen = (size_t)(e - s);
			return true;
		}
		p = eol < end ? eol : NULL;
	}
	return false;
}

/* Copies obj[key] into *dst; false when it is there but not one string
 * (a key given twice). */
static bool take(const json_t *obj, const char *key, char **dst)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		return true;
	if (!json_is_string(v))
		return false;
	*dst = xstrdup(json_string_value(v));
	return true;
}

static int fill(const char *s, size_t n, struct oidc_callback *cb)
{
	json_t *pairs = json_object();
	const char *why = NULL;
	int r = 400;

	if (form_parse(s, n, pairs, false, MAX_PAIRS, &why) != 0)
		goto out;
	if (!take(pairs, "state", &cb->state) || !take(pairs, "code", &cb->code) ||
	    !take(pairs, "id_token", &cb->id_token) || !take(pairs, "error", &cb->error) ||
	    !take(pairs, "error_description", &cb->error_description)) {
		oidc_callback_release(cb);
		goto out;
	}
	r = 200;
out:
	/* The pairs hold the code and maybe an ID token. */
	if (pairs) {
		const char *k;
		json_t *v;
		json_object_foreach(pairs, k, v) if (json_is_string(v))
		    secure_wipe((void *)json_string_value(v), json_string_length(v));
	}
	json_decref(pairs);
	return r;
}

int oidc_http_parse(const char *req, size_t n, struct oidc_callback *cb)
{
	const char *he, *sp1, *sp2, *eol, *target, *q, *v;
	size_t vlen, head_len, body_len = 0, tlen;
	bool post;

	memset(cb, 0, sizeof(*cb));
	if (n > OIDC_HTTP_MAX_REQUEST)
		return 413;
	he = head_end(req, n);
	if (!he)
		return n == OIDC_HTTP_MAX_REQUEST ? 413 : 0;
	head_len = (size_t)(he - req);
	eol = memchr(req, '\r', head_len + 1);
	sp1 = memchr(req, ' ', (size_t)(eol - req));
	if (!sp1)
		return 400;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || (size_t)(eol - sp2 - 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return 400;
	if ((size_t)(sp1 - req) == 3 && strncmp(req, "GET", 3) == 0)
		post = false;
	else if ((size_t)(sp1 - req) == 4 && strncmp(req, "POST", 4) == 0)
		post = true;
	else
		return 405;
	target = sp1 + 1;
	tlen = (size_t)(sp2 - target);
	q = memchr(target, '?', tlen);
	if ((size_t)((q ? q : sp2) - target) != strlen("/oidc/callback") ||
	    strncmp(target, "/oidc/callback", strlen("/oidc/callback")) != 0)
		return 404;
	if (!post)
		return q ? fill(q + 1, (size_t)(sp2 - q - 1), cb) : fill("", 0, cb);
	if (header(req, head_len, "Transfer-Encoding", &v, &vlen))
		return 411;
	if (!header(req, head_len, "Content-Length", &v, &vlen))
		return 411;
	if (vlen == 0 || vlen > 5)
		return vlen == 0 ? 400 : 413;
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 400;
		body_len = body_len * 10 + (size_t)(v[i] - '0');
	}
	if (head_len + 4 + body_len > OIDC_HTTP_MAX_REQUEST)
		return 413;
	if (!header(req, head_len, "Content-Type", &v, &vlen) ||
	    vlen < strlen("application/x-www-form-urlencoded") ||
	    strncasecmp(v, "application/x-www-form-urlencoded",
	                strlen("application/x-www-form-urlencoded")) != 0)
		return 415;
	if (n < head_len + 4 + body_len)
		return 0;
	return fill(he + 4, body_len, cb);
}
