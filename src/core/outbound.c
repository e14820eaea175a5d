/* outbound.c — see outbound.h.
 *
 * One easy handle per call: calls share no connection, cookie or DNS
 * state, so nothing one engine does reaches another's. curl is told the
 * protocols it may speak (CURLOPT_PROTOCOLS_STR, and the same for
 * redirects), so a URL or a Location naming file://, gopher://, dict://...
 * fails inside curl before any I/O. The proxy environment is curl's own
 * default, left on. */
#include "outbound.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "thread_role.h"

#include "banned.h"

#define USER_AGENT "Trove"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void outbound_response_init(struct outbound_response *resp)
{
	resp->status = 0;
	strlist_init(&resp->headers);
	buf_init_secret(&resp->body, OUTBOUND_MAX_RESPONSE);
}

void outbound_response_release(struct outbound_response *resp)
{
	strlist_release(&resp->headers);
	buf_release_secret(&resp->body);
}

const char *outbound_header(const struct outbound_response *resp, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < resp->headers.len; i++) {
		const char *h = resp->headers.items[i];
		if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
			h += n + 1;
			while (*h == ' ' || *h == '\t')
				h++;
			return h;
		}
	}
	return NULL;
}

struct transfer {
	struct outbound_response *resp;
	size_t header_bytes;
	bool over_cap;     /* the body passed max_response */
	bool headers_over; /* the headers passed OUTBOUND_MAX_HEADER_BYTES */
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	if (buf_append(&t->resp->body, p, n) != 0) {
		t->over_cap = true;
		return 0; /* curl aborts with CURLE_WRITE_ERROR */
	}
	return n;
}

void outbound_header_line(struct outbound_response *resp, const char *p, size_t len)
{
	/* A status line starts a response (after a proxy's CONNECT, a 100
	 * or a followed redirect): only the last one's headers are kept. */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		strlist_release(&resp->headers);
		strlist_init(&resp->headers);
		return;
	}
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	/* One "Name: value" line, kept as text: no NUL, CR or LF inside, a
	 * name before the colon. Anything else (the blank line that ends the
	 * headers, a folded continuation, garbage) is dropped. */
	const char *colon = memchr(p, ':', len);
	if (!colon || colon == p || memchr(p, '\0', len) || memchr(p, '\r', len) || memchr(p, '\n', len))
		return;
	strlist_push_owned(&resp->headers, xstrndup(p, len));
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	t->header_bytes += n;
	if (t->header_bytes > OUTBOUND_MAX_HEADER_BYTES) {
		t->headers_over = true;
		return 0;
	}
	outbound_header_line(t->resp, p, n);
	return n;
}

static bool is_http_url(const char *url)
{
	return strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "http://", 7) == 0;
}

/* Why a curl failure happened, as our error and a reason. */
static int map_error(CURLcode rc, const struct transfer *t, size_t cap, const char *detail, struct buf *err)
{
	if (t->over_cap) {
		buf_printf(err, "response body larger than %zu bytes", cap);
		return TROVE_ERR_UPSTREAM;
	}
	if (t->headers_over) {
		buf_printf(err, "response headers larger than %zu bytes", OUTBOUND_MAX_HEADER_BYTES);
		return TROVE_ERR_UPSTREAM;
	}
	const char *why = detail && detail[0] ? detail : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		buf_printf(err, "timed out: %s", why);
		return TROVE_ERR_TIMEOUT;
	case CURLE_SSL_CACERT_BADFILE:
		buf_printf(err, "ca_file: cannot be read: %s", why);
		return TROVE_ERR_INVALID;
	case CURLE_UNSUPPORTED_PROTOCOL:
		buf_printf(err, "refused: only http and https are allowed (%s)", why);
		return TROVE_ERR_UPSTREAM;
	case CURLE_TOO_MANY_REDIRECTS:
		buf_printf(err, "too many redirects: %s", why);
		return TROVE_ERR_UPSTREAM;
	default:
		buf_printf(err, "request failed: %s", why);
		return TROVE_ERR_UPSTREAM;
	}
}

int outbound_call(const struct outbound_request *req, struct outbound_response *resp, struct buf *err)
{
	char detail[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct transfer t = {resp, 0, false, false};
	CURL *h = NULL;
	size_t cap = req->max_response ? req->max_response : OUTBOUND_MAX_RESPONSE;
	int r = TROVE_ERR_INVALID;

	if (thread_role_on_loop()) {
		buf_append_str(err, "outbound calls are not made on an event-loop thread");
		return TROVE_ERR_WOULD_BLOCK;
	}
	if (!req->url || !is_http_url(req->url)) {
		buf_append_str(err, "url: only http:// and https:// URLs are allowed");
		return TROVE_ERR_INVALID;
	}
	if (req->method && (!req->method[0] || strspn(req->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(req->method))) {
		buf_append_str(err, "method: must be an upper-case HTTP method name");
		return TROVE_ERR_INVALID;
	}
	for (const char *const *hp = req->headers; hp && *hp; hp++) {
		if (strpbrk(*hp, "\r\n") || !strchr(*hp, ':')) {
			buf_append_str(err, "headers: each must be one \"Name: value\" line");
			return TROVE_ERR_INVALID;
		}
	}
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK || !(h = curl_easy_init())) {
		buf_append_str(err, "the HTTP client could not start");
		return TROVE_ERR_INTERNAL;
	}
	resp->status = 0;
	strlist_release(&resp->headers);
	strlist_init(&resp->headers);
	buf_release_secret(&resp->body);
	buf_init_secret(&resp->body, cap);

	for (const char *const *hp = req->headers; hp && *hp; hp++)
		hdrs = curl_slist_append(hdrs, *hp);
	if (req->body)
		hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */

	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(req->connect_timeout_ms > 0 ? req->connect_timeout_ms : OUTBOUND_CONNECT_TIMEOUT_MS));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms > 0 ? req->timeout_ms : OUTBOUND_TIMEOUT_MS));
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)(req->max_redirects ? req->max_redirects : OUTBOUND_MAX_REDIRECTS));
	curl_easy_setopt(h, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
	if (hdrs)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (req->ca_pem) {
		struct curl_blob blob = {(void *)req->ca_pem, strlen(req->ca_pem), CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	} else if (req->ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
	} else {
		/* The system store, as OpenSSL and Go name it: libcurl does not
		 * read these variables itself. */
		const char *file = getenv("SSL_CERT_FILE"), *dir = getenv("SSL_CERT_DIR");
		if (file && *file)
			curl_easy_setopt(h, CURLOPT_CAINFO, file);
		if (dir && *dir)
			curl_easy_setopt(h, CURLOPT_CAPATH, dir);
	}
	if (req->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
	}
	if (req->method && strcmp(req->method, req->body ? "POST" : "GET") != 0) {
		if (strcmp(req->method, "HEAD") == 0)
			curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		else
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}

	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (rc == CURLE_FILESIZE_EXCEEDED)
			t.over_cap = true;
		r = map_error(rc, &t, cap, detail, err);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	r = 0;
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return r;
}
