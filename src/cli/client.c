/* client.c — libcurl-backed HTTP client for the CLI.
 *
 * Design: one easy handle per struct client, reset between requests so no
 * option leaks from one call into the next. Headers are rebuilt for every
 * request from the token and the extra header list; header strings hold
 * the token, so they are wiped before curl frees them. Bodies go out with
 * CURLOPT_POSTFIELDS (not copied by curl) so the caller's buffer is the
 * only copy we need to wipe. The response body is collected in a capped
 * struct buf: a misbehaving server cannot make the CLI eat memory. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/client.h"
#include "err.h"
#include "secure.h"
#include "trove_version.h"

#include "banned.h"

struct client {
	CURL *curl;
	char *address;
	char *token;
	struct client_config tls; /* string members owned (copies) */
	long timeout_secs;
	bool https;
	struct strlist headers; /* "Name: value" */
	char errbuf[CURL_ERROR_SIZE];
};

static bool curl_ready;

static char *dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

int client_new(const struct client_config *cfg, struct client **out)
{
	struct client *c = NULL;
	const char *host;
	size_t len;
	int r = TROVE_ERR_INVALID;

	*out = NULL;
	if (cfg->address == NULL)
		goto out;
	if (has_prefix(cfg->address, "https://"))
		host = cfg->address + 8;
	else if (has_prefix(cfg->address, "http://"))
		host = cfg->address + 7;
	else
		goto out;
	if (*host == '\0' || *host == '/' || strpbrk(cfg->address, " \t\r\n?#") != NULL)
		goto out;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			r = TROVE_ERR_INTERNAL;
			goto out;
		}
		curl_ready = true;
	}

	c = xcalloc(1, sizeof(*c));
	strlist_init(&c->headers);
	c->address = xstrdup(cfg->address);
	len = strlen(c->address);
	while (len > 0 && c->address[len - 1] == '/')
		c->address[--len] = '\0';
	c->https = has_prefix(c->address, "https://");
	c->tls.ca_cert = dup_or_null(cfg->ca_cert);
	c->tls.ca_path = dup_or_null(cfg->ca_path);
	c->tls.client_cert = dup_or_null(cfg->client_cert);
	c->tls.client_key = dup_or_null(cfg->client_key);
	c->tls.tls_skip_verify = cfg->tls_skip_verify;
	c->timeout_secs = cfg->timeout_secs > 0 ? cfg->timeout_secs : CLIENT_DEFAULT_TIMEOUT;
	client_set_token(c, cfg->token);

	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	client_free(c);
	return r;
}

void client_free(struct client *c)
{
	if (c == NULL)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	secure_free_str(c->token);
	free(c->address);
	free((char *)c->tls.ca_cert);
	free((char *)c->tls.ca_path);
	free((char *)c->tls.client_cert);
	free((char *)c->tls.client_key);
	strlist_release(&c->headers);
	free(c);
}

const char *client_address(const struct client *c)
{
	return c->address;
}

void client_set_token(struct client *c, const char *token)
{
	secure_free_str(c->token);
	c->token = token && *token ? xstrdup(token) : NULL;
}

bool client_has_token(const struct client *c)
{
	return c->token != NULL;
}

int client_add_header(struct client *c, const char *name, const char *value)
{
	struct buf b;
	int r;

	if (*name == '\0' || strpbrk(name, ":\r\n") != NULL || strpbrk(value, "\r\n") != NULL)
		return TROVE_ERR_INVALID;
	buf_init(&b, BUF_CAP_DEFAULT);
	if ((r = buf_printf(&b, "%s: %s", name, value)) == 0)
		r = strlist_push(&c->headers, b.data);
	buf_release(&b);
	return r;
}

void client_response_init(struct client_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	buf_init_secret(&resp->body, CLIENT_MAX_BODY);
}

void client_response_release(struct client_response *resp)
{
	buf_release_secret(&resp->body);
	json_decref(resp->json);
	free(resp->method);
	free(resp->url);
	free(resp->error);
	resp->json = NULL;
	resp->method = resp->url = resp->error = NULL;
	resp->status = 0;
}

static void response_reset(struct client_response *resp)
{
	size_t cap = resp->body.cap;

	client_response_release(resp);
	buf_init_secret(&resp->body, cap ? cap : CLIENT_MAX_BODY);
}

/* Where curl's write callback puts the body. */
struct sink {
	struct client_response *resp;
	bool overflow;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb;

	if (buf_append(&s->resp->body, ptr, n) != 0) {
		s->overflow = true;
		return 0; /* curl aborts with CURLE_WRITE_ERROR */
	}
	return n;
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

/* Wipes header strings (one carries the token) before curl frees them. */
static void free_headers(struct curl_slist *h)
{
	struct curl_slist *i;

	for (i = h; i; i = i->next)
		secure_wipe(i->data, strlen(i->data));
	curl_slist_free_all(h);
}

static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = curl_slist_append(*list, line);

	if (n == NULL)
		return TROVE_ERR_NOMEM;
	*list = n;
	return 0;
}

static int build_headers(struct client *c, const char *method, bool has_body, struct curl_slist **out)
{
	struct curl_slist *h = NULL;
	struct buf tok;
	size_t i;
	int r;

	buf_init_secret(&tok, BUF_CAP_DEFAULT);
	if ((r = add_header(&h, "X-Vault-Request: true")) != 0)
		goto out;
	/* An empty value makes curl drop its default form content type. A
	 * PATCH body is a JSON merge patch (RFC 7396), as Vault expects. */
	if ((r = add_header(&h, !has_body                       ? "Content-Type:"
	                        : strcmp(method, "PATCH") == 0 ? "Content-Type: application/merge-patch+json"
	                                                       : "Content-Type: application/json")) != 0)
		goto out;
	if ((r = add_header(&h, "Expect:")) != 0)
		goto out;
	if (c->token) {
		if ((r = buf_printf(&tok, "X-Vault-Token: %s", c->token)) != 0)
			goto out;
		if ((r = add_header(&h, tok.data)) != 0)
			goto out;
	}
	for (i = 0; i < c->headers.len; i++)
		if ((r = add_header(&h, c->headers.items[i])) != 0)
			goto out;
	*out = h;
	h = NULL;
	r = 0;
out:
	buf_release_secret(&tok);
	free_headers(h);
	return r;
}

static int set_options(struct client *c, const char *method, const char *body, size_t len,
                       struct curl_slist *headers, struct sink *sink)
{
	struct client_response *resp = sink->resp;
	CURL *h = c->curl;
	CURLcode e = CURLE_OK;

#define SET(opt, val)                                                                                        \
	do {                                                                                                 \
		if (e == CURLE_OK)                                                                           \
			e = curl_easy_setopt(h, opt, val);                                                   \
	} while (0)

	SET(CURLOPT_URL, resp->url);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_USERAGENT, "trove-cli/" TROVE_VERSION);
	SET(CURLOPT_TIMEOUT, c->timeout_secs);
	SET(CURLOPT_CONNECTTIMEOUT, c->timeout_secs < 30 ? c->timeout_secs : 30L);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, sink);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, 1L);
	/* The token goes along with a redirect (as Vault's client does, for
	 * standbys), so never let a redirect downgrade to cleartext. */
	SET(CURLOPT_REDIR_PROTOCOLS_STR, c->https ? "https" : "http,https");
	SET(CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);

	if (strcmp(method, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		if (body != NULL || strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
			SET(CURLOPT_POSTFIELDS, body ? body : "");
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
		}
		SET(CURLOPT_CUSTOMREQUEST, method);
	}

	if (c->tls.ca_cert)
		SET(CURLOPT_CAINFO, c->tls.ca_cert);
	if (c->tls.ca_path)
		SET(CURLOPT_CAPATH, c->tls.ca_path);
	if (c->tls.client_cert)
		SET(CURLOPT_SSLCERT, c->tls.client_cert);
	if (c->tls.client_key)
		SET(CURLOPT_SSLKEY, c->tls.client_key);
	if (c->tls.tls_skip_verify) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
#undef SET
	if (e != CURLE_OK) {
		resp->error = xstrdup(curl_easy_strerror(e));
		return TROVE_ERR_INTERNAL;
	}
	return 0;
}

static int transport_error(struct client *c, CURLcode e, const struct sink *sink)
{
	struct client_response *resp = sink->resp;
	struct buf b;
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(e);

	buf_init(&b, BUF_CAP_DEFAULT);
	if (sink->overflow) {
		(void)buf_printf(&b, "response from %s exceeded %zu bytes", c->address, resp->body.cap);
		resp->error = buf_take(&b);
		buf_release(&b);
		return TROVE_ERR_TOO_LARGE;
	}
	if (e == CURLE_OPERATION_TIMEDOUT)
		(void)buf_printf(&b, "no answer from %s within %ld seconds: %s", c->address, c->timeout_secs,
		                 detail);
	else
		(void)buf_printf(&b, "could not talk to the server at %s: %s", c->address, detail);
	/* The common mistake: https (the default) against a plain-http listener. */
	if (c->https && (e == CURLE_SSL_CONNECT_ERROR || strstr(detail, "wrong version number")))
		(void)buf_append_str(&b, "\n\nIf the server does not use TLS, set the address with "
		                         "an http:// scheme (-address or TROVE_ADDR).");
	resp->error = buf_take(&b);
	buf_release(&b);
	return e == CURLE_OPERATION_TIMEDOUT ? TROVE_ERR_TIMEOUT : TROVE_ERR_UPSTREAM;
}

int client_do(struct client *c, const char *method, const char *path, const char *query, const char *body,
              size_t len, struct client_response *resp)
{
	struct curl_slist *headers = NULL;
	struct sink sink = {resp, false};
	struct buf url;
	CURLcode e;
	long status = 0;
	int r;

	response_reset(resp);
	buf_init(&url, BUF_CAP_DEFAULT);
	while (*path == '/')
		path++;
	if ((r = buf_printf(&url, "%s/v1/", c->address)) != 0 || (r = append_path(&url, path)) != 0)
		goto out;
	if (query && *query &&
	    ((r = buf_append_byte(&url, '?')) != 0 || (r = buf_append_str(&url, query)) != 0))
		goto out;
	resp->url = buf_take(&url);
	resp->method = xstrdup(method);
	if (resp->url == NULL) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}

	if ((r = build_headers(c, method, body != NULL, &headers)) != 0)
		goto out;
	curl_easy_reset(c->curl);
	c->errbuf[0] = '\0';
	if ((r = set_options(c, method, body, len, headers, &sink)) != 0)
		goto out;

	e = curl_easy_perform(c->curl);
	if (e != CURLE_OK) {
		r = transport_error(c, e, &sink);
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	resp->status = status;
	if (resp->body.len > 0)
		resp->json = json_loadb(resp->body.data, resp->body.len, JSON_DECODE_ANY, NULL);
	r = 0;
out:
	if (c->curl)
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	free_headers(headers);
	buf_release(&url);
	return r;
}

int client_do_json(struct client *c, const char *method, const char *path, const char *query,
                   const json_t *body, struct client_response *resp)
{
	char *text = NULL;
	int r;

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL) {
			response_reset(resp);
			resp->error = xstrdup("could not encode the request body");
			return TROVE_ERR_NOMEM;
		}
	}
	r = client_do(c, method, path, query, text, text ? strlen(text) : 0, resp);
	secure_free_str(text);
	return r;
}

bool client_response_failed(const struct client_response *resp)
{
	return resp->status == 0 || resp->status >= 400;
}

void client_print_error(const char *doing, const struct client_response *resp)
{
	const json_t *errors;
	size_t i;

	if (resp->status == 0) {
		fprintf(stderr, "Error %s: %s\n", doing, resp->error ? resp->error : "request failed");
		return;
	}
	fprintf(stderr, "Error %s: Error making API request.\n\nURL: %s %s\n", doing,
	        resp->method ? resp->method : "?", resp->url ? resp->url : "?");
	errors = json_is_object(resp->json) ? json_object_get(resp->json, "errors") : NULL;
	if (json_is_array(errors)) {
		fprintf(stderr, "Code: %ld. Errors:\n\n", resp->status);
		for (i = 0; i < json_array_size(errors); i++) {
			const json_t *e = json_array_get(errors, i);

			if (json_is_string(e))
				fprintf(stderr, "* %s\n", json_string_value(e));
			else if (e) {
				char *s = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);

				fprintf(stderr, "* %s\n", s ? s : "?");
				free(s);
			}
		}
	} else {
		fprintf(stderr, "Code: %ld. Raw Message:\n\n%.*s\n", resp->status,
		        (int)(resp->body.len > 4096 ? 4096 : resp->body.len), resp->body.data);
	}
}

void client_json_free_secret(json_t *j)
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
			client_json_free_secret(json_incref(v));
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
		{
			client_json_free_secret(json_incref(v));
		}
	}
	json_decref(j);
}
