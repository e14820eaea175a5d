/* client.c — the API client object and the request loop (api.h).
 *
 * A client owns a copy of its config and, unless a test plugged in its own
 * transport, a libcurl handle. api_send builds the URL and the header
 * lines once, then sends and retries as retry.h says within the call's
 * time budget, and finally turns the answer into an err code and detail. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"
#include "api/headers.h"
#include "api/retry.h"
#include "api/transport.h"
#include "api/transport_native.h"
#include "clock.h"
#include "err.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

#define ERROR_TEXT_MAX 4096 /* how much of a raw error body goes into resp->error */

struct api_client {
	struct api_config cfg; /* strings owned */
	struct api_curl *curl; /* NULL with a plugged-in or the native transport */
	struct api_native *native; /* with cfg.native_transport */
	struct api_transport transport;
};

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int setup_fail(char **detail, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int setup_fail(char **detail, const char *fmt, ...)
{
	if (detail) {
		struct buf b;
		va_list ap;

		buf_init(&b, BUF_CAP_DEFAULT);
		va_start(ap, fmt);
		(void)buf_vprintf(&b, fmt, ap);
		va_end(ap);
		*detail = buf_take(&b);
		buf_release(&b);
	}
	return TROVE_ERR_INVALID;
}

/* Checks what api_client_new promises to check. */
static int check_config(const struct api_config *cfg, char **detail)
{
	const char *host;

	if (cfg->address == NULL)
		return setup_fail(detail, "no server address");
	if (has_prefix(cfg->address, "https://"))
		host = cfg->address + 8;
	else if (has_prefix(cfg->address, "http://"))
		host = cfg->address + 7;
	else
		host = NULL;
	if (host == NULL || *host == '\0' || *host == '/' || strpbrk(cfg->address, " \t\r\n?#") != NULL)
		return setup_fail(detail,
		                  "invalid server address \"%s\": want http://host:port or https://host:port",
		                  cfg->address);
	if (api_header_value_ok(cfg->token) != 0)
		return setup_fail(detail, "the token holds a line break");
	if (api_header_value_ok(cfg->namespace_name) != 0)
		return setup_fail(detail, "invalid namespace \"%s\": it holds a line break", cfg->namespace_name);
	if (api_header_value_ok(cfg->wrap_ttl) != 0)
		return setup_fail(detail, "invalid wrapping TTL \"%s\": it holds a line break", cfg->wrap_ttl);
	if (cfg->tls_server_name && strpbrk(cfg->tls_server_name, ":/[]@ \t\r\n") != NULL)
		return setup_fail(detail, "invalid TLS server name \"%s\": want a host name", cfg->tls_server_name);
	if (cfg->timeout_ms <= 0 || cfg->max_retries < 0 || cfg->max_retries > API_MAX_RETRIES_LIMIT ||
	    cfg->retry_wait_min_ms <= 0 || cfg->retry_wait_max_ms < cfg->retry_wait_min_ms)
		return setup_fail(detail, "invalid timeout or retry settings");
	return 0;
}

static void copy_config(struct api_config *dst, const struct api_config *src)
{
	size_t len;

	*dst = *src;
	dst->address = NULL;
	dst->token = dst->ca_cert = dst->ca_path = dst->ca_pem = dst->client_cert = dst->client_key = NULL;
	dst->tls_server_name = dst->namespace_name = dst->wrap_ttl = NULL;
	api_config_set(&dst->address, src->address);
	api_config_set(&dst->token, src->token);
	api_config_set(&dst->ca_cert, src->ca_cert);
	api_config_set(&dst->ca_path, src->ca_path);
	api_config_set(&dst->ca_pem, src->ca_pem);
	api_config_set(&dst->client_cert, src->client_cert);
	api_config_set(&dst->client_key, src->client_key);
	api_config_set(&dst->tls_server_name, src->tls_server_name);
	api_config_set(&dst->namespace_name, src->namespace_name);
	api_config_set(&dst->wrap_ttl, src->wrap_ttl);
	len = strlen(dst->address);
	while (len > 0 && dst->address[len - 1] == '/')
		dst->address[--len] = '\0';
}

int api_client_new(const struct api_config *cfg, struct api_client **out, char **detail)
{
	struct api_client *c = NULL;
	int r;

	*out = NULL;
	if (detail)
		*detail = NULL;
	if ((r = check_config(cfg, detail)) != 0)
		return r;
	c = xcalloc(1, sizeof(*c));
	copy_config(&c->cfg, cfg);
	if (cfg->transport) {
		c->transport = *cfg->transport;
	} else if (cfg->native_transport) {
		if ((r = api_native_new(&c->cfg, &c->native)) != 0) {
			api_client_free(c);
			return r;
		}
		c->transport.send = api_native_send;
		c->transport.ctx = c->native;
	} else {
		if ((r = api_curl_new(&c->cfg, &c->curl)) != 0) {
			if (detail)
				*detail = xstrdup("could not set up libcurl");
			api_client_free(c);
			return r;
		}
		c->transport.send = api_curl_send;
		c->transport.ctx = c->curl;
	}
	*out = c;
	return 0;
}

void api_client_free(struct api_client *c)
{
	if (c == NULL)
		return;
	api_curl_free(c->curl);
	api_native_free(c->native);
	api_config_release(&c->cfg);
	free(c);
}

const char *api_client_address(const struct api_client *c)
{
	return c->cfg.address;
}

void api_client_set_token(struct api_client *c, const char *token)
{
	api_config_set(&c->cfg.token, token);
}

bool api_client_has_token(const struct api_client *c)
{
	return c->cfg.token != NULL;
}

/* ---- responses ------------------------------------------------------- */

void api_response_init(struct api_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	buf_init_secret(&resp->body, API_MAX_BODY);
	strlist_init(&resp->headers);
	resp->retry_after_ms = -1;
}

void api_response_release(struct api_response *resp)
{
	buf_release_secret(&resp->body);
	json_decref(resp->json);
	free(resp->method);
	free(resp->url);
	free(resp->error);
	strlist_release(&resp->headers);
	memset(resp, 0, sizeof(*resp));
	strlist_init(&resp->headers);
	resp->retry_after_ms = -1;
}

/* Back to the state of a fresh attempt, keeping method, url, attempts. */
static void attempt_reset(struct api_response *resp)
{
	buf_release_secret(&resp->body);
	buf_init_secret(&resp->body, API_MAX_BODY);
	free(resp->error);
	resp->error = NULL;
	resp->status = 0;
	resp->failure = API_FAIL_NONE;
	resp->retry_after_ms = -1;
	strlist_release(&resp->headers);
}

int api_err_from_status(long status)
{
	int code;

	if (status < 400)
		return 0;
	for (code = -1; code > -TROVE_ERR__COUNT; code--)
		if (code != TROVE_ERR_UNINITIALIZED && code != TROVE_ERR_WOULD_BLOCK && err_http_status(code) == status)
			return code;
	return status < 500 ? TROVE_ERR_INVALID : TROVE_ERR_UPSTREAM;
}

/* resp->error for a 4xx/5xx: the "errors" strings joined, or the body. */
static void describe_status(struct api_response *resp)
{
	const json_t *errors = json_is_object(resp->json) ? json_object_get(resp->json, "errors") : NULL;
	const json_t *e;
	struct buf b;
	size_t i;

	buf_init(&b, BUF_CAP_DEFAULT);
	(void)buf_printf(&b, "Code: %ld.", resp->status);
	if (json_array_size(errors) > 0) {
		json_array_foreach(errors, i, e)
		{
			(void)buf_append_str(&b, i == 0 ? " " : "; ");
			(void)buf_append_str(&b, json_is_string(e) ? json_string_value(e) : "?");
		}
	} else if (resp->body.len > 0) {
		(void)buf_printf(&b, " %.*s", (int)(resp->body.len > ERROR_TEXT_MAX ? ERROR_TEXT_MAX : resp->body.len),
		                 resp->body.data);
	}
	free(resp->error);
	resp->error = buf_take(&b);
	buf_release(&b);
}

/* Percent-encodes everything outside RFC 3986 pchar plus '/'. */
static int append_path(struct buf *b, const char *path)
{
	static const char safe[] = "-._~!$&'()*+,;=:@/";
	const unsigned char *p;
	int r = 0;

	for (p = (const unsigned char *)path; *p && r == 0; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr(safe, *p) != NULL)
			r = buf_append_byte(b, (char)*p);
		else
			r = buf_printf(b, "%%%02X", *p);
	}
	return r;
}

static long now_ms(void)
{
	return (long)(clock_monotonic_ns() / 1000000);
}

/* Sends w until an answer is final, as retry.h says, within the config's
 * timeout. Returns the last attempt's transport result. */
static int send_with_retries(struct api_client *c, struct api_wire *w, struct api_response *resp)
{
	const struct api_config *cfg = &c->cfg;
	long start = now_ms(), wait, left;
	uint32_t rnd;
	int r, n;

	for (n = 0;; n++) {
		attempt_reset(resp);
		left = cfg->timeout_ms - (now_ms() - start);
		w->timeout_ms = left > 0 ? left : 1;
		r = c->transport.send(c->transport.ctx, w, resp);
		resp->attempts = n + 1;
		if (r != 0 && resp->failure == API_FAIL_NONE)
			resp->failure = API_FAIL_LOCAL;
		if (n >= cfg->max_retries || !api_retry_wanted(resp->failure, r == 0 ? resp->status : 0))
			return r;
		if (rand_bytes(&rnd, sizeof(rnd)) != 0)
			rnd = 0;
		wait = api_retry_wait_ms(n, cfg->retry_wait_min_ms, cfg->retry_wait_max_ms, resp->status,
		                         resp->retry_after_ms, rnd);
		if (now_ms() - start + wait >= cfg->timeout_ms)
			return r;
		api_retry_sleep_ms(wait);
	}
}

/* The length of the name of header line l ("Name: value"), or 0 when it
 * has no ": " or holds a line break. */
static size_t header_name_len(const char *l)
{
	const char *colon = strchr(l, ':');

	if (colon == NULL || colon == l || colon[1] != ' ' || api_header_value_ok(l) != 0)
		return 0;
	return (size_t)(colon - l);
}

/* Puts each line of extra into headers, replacing lines of the same name. */
static int merge_extra(struct strlist *headers, const struct strlist *extra)
{
	size_t i, j, k, n;
	int r;

	for (i = 0; extra && i < extra->len; i++) {
		if ((n = header_name_len(extra->items[i])) == 0)
			return TROVE_ERR_INVALID;
		for (j = k = 0; j < headers->len; j++) {
			if (strncasecmp(headers->items[j], extra->items[i], n) == 0 && headers->items[j][n] == ':') {
				secure_free_str(headers->items[j]);
				continue;
			}
			headers->items[k++] = headers->items[j];
		}
		headers->len = k;
		if ((r = strlist_push(headers, extra->items[i])) != 0)
			return r;
	}
	return 0;
}

int api_send(struct api_client *c, const char *method, const char *path, const char *query, const char *body,
             size_t len, struct api_response *resp)
{
	return api_send_extra(c, method, path, query, body, len, NULL, resp);
}

int api_send_extra(struct api_client *c, const char *method, const char *path, const char *query, const char *body,
                   size_t len, const struct strlist *extra, struct api_response *resp)
{
	struct strlist headers;
	struct api_wire w;
	struct buf url;
	int r;

	api_response_release(resp);
	api_response_init(resp);
	strlist_init(&headers);
	buf_init(&url, BUF_CAP_DEFAULT);
	resp->method = xstrdup(method);
	while (*path == '/')
		path++;
	if ((r = buf_printf(&url, "%s/v1/", c->cfg.address)) != 0 || (r = append_path(&url, path)) != 0)
		goto local;
	if (query && *query && ((r = buf_append_byte(&url, '?')) != 0 || (r = buf_append_str(&url, query)) != 0))
		goto local;
	resp->url = buf_take(&url);
	if (resp->url == NULL) {
		r = TROVE_ERR_NOMEM;
		goto local;
	}
	if ((r = api_headers_build(&c->cfg, method, path, body != NULL, &headers)) != 0 ||
	    (r = merge_extra(&headers, extra)) != 0)
		goto local;

	memset(&w, 0, sizeof(w));
	w.method = method;
	w.url = resp->url;
	w.headers = &headers;
	w.body = body;
	w.len = body ? len : 0;
	r = send_with_retries(c, &w, resp);
	if (r != 0)
		goto out;
	if (resp->body.len > 0)
		resp->json = json_loadb(resp->body.data, resp->body.len, JSON_DECODE_ANY, NULL);
	if ((r = api_err_from_status(resp->status)) != 0)
		describe_status(resp);
	goto out;
local:
	resp->failure = API_FAIL_LOCAL;
	resp->error = xstrdup(r == TROVE_ERR_INVALID ? "a header value holds a line break"
	                                             : "could not build the request");
out:
	api_headers_wipe(&headers);
	buf_release(&url);
	return r;
}

int api_request(struct api_client *c, const char *method, const char *path, const char *query,
                const json_t *body, struct api_response *resp)
{
	char *text = NULL;
	int r;

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL) {
			api_response_release(resp);
			api_response_init(resp);
			resp->failure = API_FAIL_LOCAL;
			resp->error = xstrdup("could not encode the request body");
			return TROVE_ERR_NOMEM;
		}
	}
	r = api_send(c, method, path, query, text, text ? strlen(text) : 0, resp);
	secure_free_str(text);
	return r;
}

int api_read(struct api_client *c, const char *path, struct api_response *resp)
{
	return api_request(c, "GET", path, NULL, NULL, resp);
}

int api_write(struct api_client *c, const char *path, const json_t *body, struct api_response *resp)
{
	return api_request(c, "PUT", path, NULL, body, resp);
}

int api_list(struct api_client *c, const char *path, struct api_response *resp)
{
	return api_request(c, "LIST", path, NULL, NULL, resp);
}

int api_delete(struct api_client *c, const char *path, struct api_response *resp)
{
	return api_request(c, "DELETE", path, NULL, NULL, resp);
}

void api_json_free_secret(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (j == NULL)
		return;
	if (json_is_string(j)) {
		/* jansson owns a private copy; wiping it in place is safe and
		 * leaves a same-length string of NULs behind. */
		secure_wipe((char *)json_string_value(j), json_string_length(j));
	} else if (json_is_object(j)) {
		json_object_foreach(j, k, v)
		{
			api_json_free_secret(json_incref(v));
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
		{
			api_json_free_secret(json_incref(v));
		}
	}
	json_decref(j);
}
