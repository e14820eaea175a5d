/* transport_curl.c — one attempt of a request over libcurl.
 *
 * The easy handle is reset before every attempt so no option leaks from
 * one call into the next. Header lines come from the caller (one carries
 * the token; the caller wipes them). Bodies go out with CURLOPT_POSTFIELDS
 * (not copied by curl), so the caller's buffer is the only copy to wipe.
 * The answer is collected in the response's capped buffer: a misbehaving
 * server cannot make the client eat memory. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "api/retry.h"
#include "api/transport.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

struct api_curl {
	CURL *curl;
	const struct api_config *cfg;
	bool https;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int api_curl_new(const struct api_config *cfg, struct api_curl **out)
{
	struct api_curl *t;

	*out = NULL;
	if (pthread_once(&curl_once, curl_init_once) != 0 || curl_init_result != CURLE_OK)
		return TROVE_ERR_INTERNAL;
	t = xcalloc(1, sizeof(*t));
	t->cfg = cfg;
	t->https = strncmp(cfg->address, "https://", 8) == 0;
	t->curl = curl_easy_init();
	if (t->curl == NULL) {
		free(t);
		return TROVE_ERR_NOMEM;
	}
	*out = t;
	return 0;
}

void api_curl_free(struct api_curl *t)
{
	if (t == NULL)
		return;
	curl_easy_cleanup(t->curl);
	free(t);
}

/* Where curl's callbacks put the answer. */
struct sink {
	struct api_response *resp;
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

/* Keeps the header lines (up to API_MAX_RESP_HEADERS) and Retry-After of
 * the last response; a status line (a redirect's next answer) starts over. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb, len = n;
	long ms;

	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		s->resp->retry_after_ms = -1;
		strlist_release(&s->resp->headers);
		return n;
	}
	if ((ms = api_retry_after_ms(ptr, n)) >= 0)
		s->resp->retry_after_ms = ms;
	while (len > 0 && (ptr[len - 1] == '\n' || ptr[len - 1] == '\r'))
		len--;
	if (len > 0 && memchr(ptr, ':', len) != NULL && s->resp->headers.len < API_MAX_RESP_HEADERS)
		(void)strlist_push_owned(&s->resp->headers, xstrndup(ptr, len));
	return n;
}

/* With tls_server_name, the URL names that host (so curl sends it in SNI
 * and checks it in the certificate), CURLOPT_CONNECT_TO sends the
 * connection to the address's real host, and the Host header keeps the
 * address's host and port, as Vault's client sends it. Fills url,
 * connect_to and host; all stay empty when there is nothing to rewrite. */
static int server_name_route(const struct api_curl *t, const char *in, struct buf *url, struct buf *connect_to,
                             struct buf *host_header)
{
	const char *name = t->cfg->tls_server_name, *host, *end, *port, *p;

	if (name == NULL || !t->https || strncmp(in, "https://", 8) != 0)
		return 0;
	host = in + 8;
	end = host + strcspn(host, "/");
	if (*host == '[') { /* [v6]:port */
		p = memchr(host, ']', (size_t)(end - host));
		port = p && p + 1 < end && p[1] == ':' ? p + 2 : NULL;
		p = p ? p + 1 : end;
	} else {
		p = memchr(host, ':', (size_t)(end - host));
		port = p ? p + 1 : NULL;
		p = p ? p : end;
	}
	if (buf_printf(url, "https://%s:%.*s%s", name, port ? (int)(end - port) : 3, port ? port : "443", end) != 0 ||
	    buf_printf(connect_to, "%s:%.*s:%.*s:%.*s", name, port ? (int)(end - port) : 3, port ? port : "443",
	               (int)(p - host), host, port ? (int)(end - port) : 3, port ? port : "443") != 0 ||
	    buf_printf(host_header, "Host: %.*s", (int)(end - host), host) != 0)
		return TROVE_ERR_NOMEM;
	return 0;
}

static int set_options(struct api_curl *t, const struct api_wire *w, const char *url,
                       struct curl_slist *headers, struct curl_slist *connect_to, struct sink *sink)
{
	const struct api_config *cfg = t->cfg;
	CURL *h = t->curl;
	CURLcode e = CURLE_OK;

#define SET(opt, val)                                                                                        \
	do {                                                                                                 \
		if (e == CURLE_OK)                                                                           \
			e = curl_easy_setopt(h, opt, val);                                                   \
	} while (0)

	SET(CURLOPT_URL, url);
	SET(CURLOPT_ERRORBUFFER, t->errbuf);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_USERAGENT, cfg->user_agent ? cfg->user_agent : "trove");
	SET(CURLOPT_TIMEOUT_MS, w->timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, w->timeout_ms < 30000 ? w->timeout_ms : 30000L);
	SET(CURLOPT_NOSIGNAL, 1L); /* no SIGALRM for name lookups: threads */
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, sink);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, sink);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, 1L);
	/* The token goes along with a redirect (as Vault's client does, for
	 * standbys), so never let a redirect downgrade to cleartext. */
	SET(CURLOPT_REDIR_PROTOCOLS_STR, t->https ? "https" : "http,https");
	SET(CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
	if (connect_to)
		SET(CURLOPT_CONNECT_TO, connect_to);

	if (strcmp(w->method, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(w->method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		if (w->body != NULL || strcmp(w->method, "PUT") == 0 || strcmp(w->method, "POST") == 0) {
			SET(CURLOPT_POSTFIELDS, w->body ? w->body : "");
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(w->body ? w->len : 0));
		}
		SET(CURLOPT_CUSTOMREQUEST, w->method);
	}

	/* A CA file wins over a CA directory, as in Vault's client
	 * (go-rootcerts reads CAPath only without a CAFile). */
	if (cfg->ca_pem) {
		struct curl_blob blob = {cfg->ca_pem, strlen(cfg->ca_pem), CURL_BLOB_COPY};

		SET(CURLOPT_CAINFO_BLOB, &blob);
	} else if (cfg->ca_cert)
		SET(CURLOPT_CAINFO, cfg->ca_cert);
	else if (cfg->ca_path)
		SET(CURLOPT_CAPATH, cfg->ca_path);
	if (cfg->client_cert)
		SET(CURLOPT_SSLCERT, cfg->client_cert);
	if (cfg->client_key)
		SET(CURLOPT_SSLKEY, cfg->client_key);
	if (cfg->tls_skip_verify) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
#undef SET
	if (e != CURLE_OK) {
		sink->resp->failure = API_FAIL_LOCAL;
		sink->resp->error = xstrdup(curl_easy_strerror(e));
		return TROVE_ERR_INTERNAL;
	}
	return 0;
}

static enum api_failure classify(CURLcode e)
{
	switch (e) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return API_FAIL_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return API_FAIL_TIMEOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return API_FAIL_EXCHANGE;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return API_FAIL_TLS;
	default:
		return API_FAIL_LOCAL;
	}
}

static int transport_error(struct api_curl *t, CURLcode e, const struct sink *sink)
{
	const char *detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(e);

	if (sink->overflow)
		return api_transport_fail(sink->resp, t->cfg, API_FAIL_TOO_LARGE, false, NULL);
	return api_transport_fail(sink->resp, t->cfg, classify(e),
	                          t->https && (e == CURLE_SSL_CONNECT_ERROR || strstr(detail, "wrong version number")),
	                          detail);
}

static int to_slist(const struct strlist *l, struct curl_slist **out)
{
	struct curl_slist *h = NULL, *n;
	size_t i;

	for (i = 0; i < l->len; i++) {
		if ((n = curl_slist_append(h, l->items[i])) == NULL)
			goto fail;
		h = n;
	}
	*out = h;
	return 0;
fail:
	for (n = h; n; n = n->next)
		secure_wipe(n->data, strlen(n->data));
	curl_slist_free_all(h);
	return TROVE_ERR_NOMEM;
}

/* Wipes header strings (one carries the token) before curl frees them. */
static void free_slist(struct curl_slist *h)
{
	struct curl_slist *i;

	for (i = h; i; i = i->next)
		secure_wipe(i->data, strlen(i->data));
	curl_slist_free_all(h);
}

int api_curl_send(void *ctx, const struct api_wire *w, struct api_response *resp)
{
	struct api_curl *t = ctx;
	struct curl_slist *headers = NULL, *route = NULL;
	struct sink sink = {resp, false};
	struct buf url, connect_to, host_header;
	CURLcode e;
	long status = 0;
	int r;

	buf_init(&url, BUF_CAP_DEFAULT);
	buf_init(&connect_to, BUF_CAP_DEFAULT);
	buf_init(&host_header, BUF_CAP_DEFAULT);
	if ((r = to_slist(w->headers, &headers)) != 0 ||
	    (r = server_name_route(t, w->url, &url, &connect_to, &host_header)) != 0)
		goto local;
	if (connect_to.len > 0 && (route = curl_slist_append(NULL, connect_to.data)) == NULL) {
		r = TROVE_ERR_NOMEM;
		goto local;
	}
	if (host_header.len > 0) {
		struct curl_slist *more = curl_slist_append(headers, host_header.data);
		if (more == NULL) {
			r = TROVE_ERR_NOMEM;
			goto local;
		}
		headers = more;
	}
	curl_easy_reset(t->curl);
	t->errbuf[0] = '\0';
	if ((r = set_options(t, w, url.len > 0 ? url.data : w->url, headers, route, &sink)) != 0)
		goto out;
	e = curl_easy_perform(t->curl);
	if (e != CURLE_OK) {
		r = transport_error(t, e, &sink);
		goto out;
	}
	curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
	resp->status = status;
	r = 0;
	goto out;
local:
	resp->failure = API_FAIL_LOCAL;
	resp->error = xstrdup("could not build the request");
out:
	curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(t->curl, CURLOPT_CONNECT_TO, NULL);
	free_slist(headers);
	curl_slist_free_all(route);
	buf_release(&url);
	buf_release(&connect_to);
	buf_release(&host_header);
	return r;
}
