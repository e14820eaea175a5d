/* outbound.h — outbound HTTP(S) for engines: the one way an engine talks
 * to the network (Kubernetes TokenReview, JWKS, OIDC discovery, AWS STS,
 * ACME validation). No engine opens its own sockets.
 *
 * One blocking call per request, on libcurl. Refused on an event-loop
 * thread (thread_role.h) with TROVE_ERR_WOULD_BLOCK, so a route tried on
 * the loop goes on to the worker pool; call it from a handler that runs in
 * the pool, a periodic function or a scheduled job. Per call:
 *   - only http:// and https:// (file://, gopher://, ... refused), for
 *     the URL and for any redirect;
 *   - TLS 1.2 or later, the peer verified against the caller's CA bundle
 *     (PEM text or a file) or, given neither, the system bundle
 *     (SSL_CERT_FILE and SSL_CERT_DIR replace its file and directory
 *     when set, as OpenSSL and Go read them);
 *   - a connect timeout and a total timeout;
 *   - a cap on the response body (the transfer is cut at the cap);
 *   - redirects not followed unless the caller asks (the 3xx is returned);
 *   - the proxy environment honoured as curl does (https_proxy /
 *     HTTPS_PROXY, http_proxy, no_proxy / NO_PROXY);
 *   - no cookies, no .netrc, no content decoding.
 *
 * Thread-safe: calls share nothing. */
#ifndef TROVE_OUTBOUND_H
#define TROVE_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define OUTBOUND_CONNECT_TIMEOUT_MS 10000
#define OUTBOUND_TIMEOUT_MS 30000
#define OUTBOUND_MAX_RESPONSE ((size_t)1 << 20)
#define OUTBOUND_MAX_REDIRECTS 5
#define OUTBOUND_MAX_HEADER_BYTES ((size_t)64 << 10)

struct outbound_request {
	const char *method;          /* NULL: GET (POST when a body is given) */
	const char *url;             /* http:// or https:// */
	const char *const *headers;  /* "Name: value" each, NULL-terminated; or NULL */
	const void *body;            /* or NULL */
	size_t body_len;
	int64_t connect_timeout_ms;  /* 0: OUTBOUND_CONNECT_TIMEOUT_MS */
	int64_t timeout_ms;          /* the whole call; 0: OUTBOUND_TIMEOUT_MS */
	size_t max_response;         /* body bytes; 0: OUTBOUND_MAX_RESPONSE */
	const char *ca_pem;          /* CA certificates, PEM text; or NULL */
	const char *ca_file;         /* a CA bundle file; or NULL. Neither: the
	                              * system bundle (or SSL_CERT_FILE /
	                              * SSL_CERT_DIR) */
	bool follow_redirects;       /* at most max_redirects (0: the default) */
	unsigned max_redirects;
};

struct outbound_response {
	long status;             /* the final HTTP status */
	struct strlist headers;  /* the final response's "Name: value" lines */
	struct buf body;
};

void outbound_response_init(struct outbound_response *resp);
void outbound_response_release(struct outbound_response *resp);

/* Performs the request and fills resp (initialised by the caller; any
 * status, 4xx and 5xx included, is a success here). Errors, with the
 * reason in err (never the body sent):
 *   TROVE_ERR_WOULD_BLOCK  called on an event-loop thread;
 *   TROVE_ERR_INVALID      no URL, a scheme other than http/https, a
 *                          method that is not upper-case letters, a
 *                          header line with CR or LF, a CA file missing;
 *   TROVE_ERR_TIMEOUT      the connect or the total timeout passed;
 *   TROVE_ERR_UPSTREAM     could not connect, TLS failed (an untrusted
 *                          certificate, a version under 1.2), a redirect
 *                          to a refused scheme, a response over the cap. */
int outbound_call(const struct outbound_request *req, struct outbound_response *resp, struct buf *err);

/* The header value of resp (case-insensitive name; the first one), or
 * NULL. Borrowed from resp. */
const char *outbound_header(const struct outbound_response *resp, const char *name);

/* Takes one raw header line of a response as curl hands it over (with
 * its CRLF): a status line ("HTTP/...") drops the headers kept so far; a
 * "Name: value" line is kept (without its line end); anything else, or a
 * line holding NUL, CR or LF inside, is dropped. Exposed for tests and the
 * fuzzer (fuzz_outbound_headers). */
void outbound_header_line(struct outbound_response *resp, const char *line, size_t len);

#endif
