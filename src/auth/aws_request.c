/* aws_request.c — the signed GetCallerIdentity request a client hands to
 * auth/aws/login, decoded and checked before anything is sent to STS
 * (aws.h, aws_login_check). Nothing here touches the network or storage,
 * and no refusal quotes a header value, the body or the signature. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws.h"

#include "encoding.h"
#include "err.h"
#include "form.h"
#include "secure.h"
#include "timefmt.h"

#include "banned.h"

void aws_forward_init(struct aws_forward *f)
{
	memset(f, 0, sizeof(*f));
	strlist_init(&f->headers);
}

void aws_forward_release(struct aws_forward *f)
{
	free(f->url);
	secure_free_str(f->body);
	for (size_t i = 0; i < f->headers.len; i++)
		secure_wipe(f->headers.items[i], strlen(f->headers.items[i]));
	strlist_release(&f->headers);
	aws_forward_init(f);
}

static int fail(struct buf *why, const char *msg)
{
	buf_reset(why);
	buf_append_str(why, msg);
	return TROVE_ERR_INVALID;
}

/* Strict standard base64 of at most cap decoded bytes into a new
 * NUL-terminated string without NUL inside; NULL otherwise. */
static char *b64_text(const char *in, size_t cap, size_t *len)
{
	size_t n = strlen(in);
	if (n == 0 || n > (cap / 3 + 1) * 4)
		return NULL;
	char *out = xmalloc(n + 1);
	size_t m = 0;
	if (base64_decode(in, n, (unsigned char *)out, n, &m) != 0 || m > cap || memchr(out, '\0', m)) {
		secure_free(out, n + 1);
		return NULL;
	}
	out[m] = '\0';
	*len = m;
	return out;
}

/* --- the URL ------------------------------------------------------------- */

struct url_parts {
	const char *scheme, *host, *path;
	size_t scheme_len, host_len, path_len;
};

/* scheme://host[:port][/path]: no user info, query, fragment, blank or
 * control character. False otherwise. */
static bool url_split(const char *u, struct url_parts *p)
{
	const char *sep = strstr(u, "://");
	if (!sep || sep == u)
		return false;
	for (const char *c = u; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '?' || *c == '#' || *c == '@' ||
		    *c == '\\')
			return false;
	p->scheme = u;
	p->scheme_len = (size_t)(sep - u);
	p->host = sep + 3;
	const char *slash = strchr(p->host, '/');
	p->host_len = slash ? (size_t)(slash - p->host) : strlen(p->host);
	p->path = slash ? slash : "";
	p->path_len = strlen(p->path);
	if (p->path_len == 1) /* "/" is the empty path */
		p->path_len = 0;
	return p->host_len > 0;
}

static bool url_same(const char *given, const char *endpoint)
{
	struct url_parts a, b;
	return url_split(given, &a) && url_split(endpoint, &b) && a.scheme_len == b.scheme_len &&
	       strncasecmp(a.scheme, b.scheme, a.scheme_len) == 0 && a.host_len == b.host_len &&
	       strncasecmp(a.host, b.host, a.host_len) == 0 && a.path_len == b.path_len &&
	       strncmp(a.path, b.path, a.path_len) == 0;
}

/* --- the body ------------------------------------------------------------ */

static bool body_is_gci(const char *body, size_t n)
{
	json_t *form = json_object();
	const char *why;
	bool ok = form_parse(body, n, form, false, 2, &why) == 0 && json_object_size(form) == 2 &&
	          json_is_string(json_object_get(form, "Action")) &&
	          strcmp(json_string_value(json_object_get(form, "Action")), "GetCallerIdentity") == 0 &&
	          json_is_string(json_object_get(form, "Version")) &&
	          strcmp(json_string_value(json_object_get(form, "Version")), "2011-06-15") == 0;
	json_decref(form);
	return ok;
}

/* --- headers ------------------------------------------------------------- */

static bool header_name_ok(const char *s)
{
	if (!*s || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

static bool header_value_ok(const char *s)
{
	if (strlen(s) > AWS_HEADER_VALUE_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < ' ' && *s != '\t')
			return false;
	return true;
}

/* The headers as one JSON object of strings (a list's values joined by
 * ",", as SigV4 joins them). A new object, or NULL with a reason. */
static json_t *headers_object(const json_t *in, const char **why)
{
	json_t *parsed = NULL, *out = NULL;
	const json_t *obj = in;
	if (json_is_string(in)) {
		size_t n = 0;
		char *text = b64_text(json_string_value(in), AWS_HEADERS_JSON_MAX, &n);
		/* Vault takes the JSON text itself too. */
		if (!text && json_string_length(in) <= AWS_HEADERS_JSON_MAX) {
			text = xstrdup(json_string_value(in));
			n = strlen(text);
		}
		if (text) {
			json_error_t e;
			parsed = json_loadb(text, n, JSON_REJECT_DUPLICATES, &e);
			secure_free(text, n + 1);
		}
		obj = parsed;
	}
	if (!json_is_object(obj)) {
		*why = "iam_request_headers must be a JSON object (or its base64) of strings or lists of "
		       "strings";
		goto out;
	}
	if (json_object_size(obj) > AWS_HEADERS_MAX) {
		*why = "iam_request_headers holds too many headers";
		goto out;
	}
	out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
	{
		struct buf joined;
		bool ok = header_name_ok(k);
		buf_init_secret(&joined, AWS_HEADER_VALUE_MAX + 1);
		if (json_is_string(v)) {
			ok = ok && buf_append_str(&joined, json_string_value(v)) == 0;
		} else if (json_is_array(v) && json_array_size(v) > 0 && json_array_size(v) <= 8) {
			size_t i;
			json_t *x;
			json_array_foreach(v, i, x)
			{
				ok = ok && json_is_string(x) &&
				     buf_printf(&joined, "%s%s", i ? "," : "", json_string_value(x)) == 0;
			}
		} else {
			ok = false;
		}
		ok = ok && header_value_ok(joined.data ? joined.data : "");
		/* Header names are case-insensitive: one name, one entry. */
		const char *k2;
		json_t *v2;
		json_object_foreach(out, k2, v2)
		{
			ok = ok && strcasecmp(k, k2) != 0;
		}
		if (ok)
			json_object_set_new(out, k, json_string(joined.data ? joined.data : ""));
		buf_release_secret(&joined);
		if (!ok) {
			*why = "iam_request_headers holds a bad or repeated header name or value";
			json_decref(out);
			out = NULL;
			goto out;
		}
	}
out:
	json_decref(parsed);
	return out;
}

static const char *header_get(const json_t *h, const char *name)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)h, k, v)
	{
		if (strcasecmp(k, name) == 0)
			return json_string_value(v);
	}
	return NULL;
}

/* The SignedHeaders of a SigV4 Authorization value into out (lowercase
 * names). False when the value is not AWS4-HMAC-SHA256 with Credential,
 * SignedHeaders and Signature. */
static bool sigv4_signed_headers(const char *auth, struct strlist *out)
{
	static const char alg[] = "AWS4-HMAC-SHA256 ";
	bool cred = false, sig = false, sh = false;
	if (strncmp(auth, alg, sizeof(alg) - 1) != 0)
		return false;
	const char *p = auth + sizeof(alg) - 1;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 11 && strncmp(p, "Credential=", 11) == 0) {
			cred = true;
		} else if (n > 10 && strncmp(p, "Signature=", 10) == 0) {
			sig = true;
		} else if (n > 14 && strncmp(p, "SignedHeaders=", 14) == 0 && !sh) {
			sh = true;
			const char *q = p + 14, *qe = p + n;
			while (q < qe) {
				const char *semi = memchr(q, ';', (size_t)(qe - q));
				size_t m = semi ? (size_t)(semi - q) : (size_t)(qe - q);
				char *name = xstrndup(q, m);
				for (char *c = name; *c; c++)
					*c = (char)tolower((unsigned char)*c);
				strlist_push_owned(out, name);
				q += m + (semi ? 1 : 0);
			}
		} else if (n > 0) {
			return false;
		}
		p += n;
	}
	return cred && sig && sh;
}

static bool signed_has(const struct strlist *signed_h, const char *name)
{
	for (size_t i = 0; i < signed_h->len; i++)
		if (strcasecmp(signed_h->items[i], name) == 0)
			return true;
	return false;
}

int aws_amz_date_parse(const char *s, int64_t *out)
{
	if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return -1;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)s[i]))
			return -1;
	char rfc[21];
	snprintf(rfc, sizeof(rfc), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", s, s + 4, s + 6, s + 9, s + 11, s + 13);
	return time_parse_rfc3339(rfc, out);
}

/* Whether an accepted header that is not signed may still be forwarded. */
static bool unsigned_ok(const char *name, const struct strlist *allowed)
{
	static const char *const usual[] = {"content-type", "content-length", "user-agent", "authorization",
	                                    NULL};
	for (size_t i = 0; usual[i]; i++)
		if (strcasecmp(name, usual[i]) == 0)
			return true;
	for (size_t i = 0; allowed && i < allowed->len; i++)
		if (strcasecmp(name, allowed->items[i]) == 0)
			return true;
	return false;
}

int aws_login_check(const struct aws_login_input *in, const char *endpoint, const char *server_id,
                    const struct strlist *allowed, int64_t now_s, struct aws_forward *out, struct buf *why)
{
	struct strlist signed_h;
	json_t *h = NULL;
	char *url = NULL, *body = NULL;
	size_t url_len = 0, body_len = 0;
	const char *reason = NULL;
	int r = TROVE_ERR_INVALID;

	strlist_init(&signed_h);
	if (!in->method || strcmp(in->method, "POST") != 0) {
		fail(why, "iam_http_request_method must be POST");
		goto out;
	}
	if (!in->url_b64 || !(url = b64_text(in->url_b64, AWS_URL_MAX, &url_len)) ||
	    !url_same(url, endpoint)) {
		fail(why, "iam_request_url must be the base64 of the configured STS endpoint's URL");
		goto out;
	}
	if (!in->body_b64 || !(body = b64_text(in->body_b64, AWS_BODY_MAX, &body_len)) ||
	    !body_is_gci(body, body_len)) {
		fail(why,
		     "iam_request_body must be the base64 of Action=GetCallerIdentity&Version=2011-06-15");
		goto out;
	}
	if (!in->headers || !(h = headers_object(in->headers, &reason))) {
		fail(why, reason ? reason : "missing iam_request_headers");
		goto out;
	}
	const char *auth = header_get(h, "Authorization");
	if (!auth || !sigv4_signed_headers(auth, &signed_h)) {
		fail(why, "iam_request_headers must hold an AWS4-HMAC-SHA256 Authorization header");
		goto out;
	}
	if (!signed_has(&signed_h, "host")) {
		fail(why, "the request's signature must cover the host header");
		goto out;
	}
	if (server_id && *server_id) {
		const char *v = header_get(h, AWS_SERVER_ID_HEADER);
		if (!v) {
			fail(why, "missing header \"" AWS_SERVER_ID_HEADER "\"");
			goto out;
		}
		if (!secure_str_eq(server_id, v)) {
			fail(why, "the " AWS_SERVER_ID_HEADER " header does not hold the configured value");
			goto out;
		}
		if (!signed_has(&signed_h, AWS_SERVER_ID_HEADER)) {
			fail(why, "the " AWS_SERVER_ID_HEADER " header is not signed");
			goto out;
		}
	}
	const char *date = header_get(h, "X-Amz-Date");
	int64_t when = 0;
	if (!date || aws_amz_date_parse(date, &when) != 0) {
		fail(why, "iam_request_headers must hold X-Amz-Date (YYYYMMDDTHHMMSSZ)");
		goto out;
	}
	if (when < now_s - AWS_DATE_WINDOW_S || when > now_s + AWS_DATE_WINDOW_S) {
		fail(why, "the request's X-Amz-Date is more than 15 minutes away from now");
		goto out;
	}
	const char *k;
	json_t *v;
	json_object_foreach(h, k, v)
	{
		if (strcasecmp(k, "host") == 0 || strcasecmp(k, "content-length") == 0)
			continue; /* the HTTP client sets both from what it sends */
		if (!signed_has(&signed_h, k) && !unsigned_ok(k, allowed)) {
			buf_reset(why);
			buf_printf(why,
			           "header \"%s\" is neither signed nor allowed (allowed_sts_header_values)",
			           k);
			goto out;
		}
		struct buf line;
		buf_init_secret(&line, AWS_HEADER_VALUE_MAX + 256);
		buf_printf(&line, "%s: %s", k, json_string_value(v)); /* both bounded above */
		strlist_push(&out->headers, line.data);
		buf_release_secret(&line);
	}
	out->url = url;
	out->body = body;
	out->body_len = body_len;
	url = body = NULL;
	r = 0;
out:
	if (r != 0)
		aws_forward_release(out); /* nothing half-filled */
	free(url);
	secure_free_str(body);
	json_decref(h);
	strlist_release(&signed_h);
	return r;
}
