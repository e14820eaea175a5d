/* transport_native.c — HTTP/1.1 over Trove's own sockets (transport_native.h).
 *
 * An attempt: take the URL apart, write the request head (the caller's
 * header lines, one of which carries the token, so the head is built in
 * a wiped buffer) and then the body straight from the caller's buffer (no
 * copy of it), then read the answer through the byte-level reader
 * (http_response.h). Connections (net_conn.h) are kept for the next
 * request to the same origin. The libcurl transport is the reference for
 * what an attempt does; where curl reads a setting the same way, so does
 * this file. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/http_response.h"
#include "api/net_conn.h"
#include "api/transport_native.h"
#include "api/url_parts.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

#define READ_CHUNK 16384
#define CONNECT_TIMEOUT_MS 30000L /* as the libcurl transport's connect timeout */
#define MAX_REDIRECTS 1

struct api_native {
	const struct api_config *cfg;
	bool https;         /* the address is https: no redirect to http */
	struct api_url home; /* the address's host and port */
	SSL_CTX *tls;       /* made at the first https connection */
	bool relay;         /* api_native_relay: redirects are answers */
	struct api_conn conn;
	char origin[600]; /* what conn is connected to; "" when closed */
	char rbuf[READ_CHUNK];
};

static bool has_iprefix(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

int api_native_new(const struct api_config *cfg, struct api_native **out)
{
	struct api_native *t = xcalloc(1, sizeof(*t));

	t->cfg = cfg;
	t->https = has_iprefix(cfg->address, "https://");
	(void)api_url_parse(cfg->address, &t->home); /* checked by api_client_new */
	api_conn_init(&t->conn);
	*out = t;
	return 0;
}

void api_native_relay(struct api_native *t, SSL_CTX *tls)
{
	SSL_CTX_up_ref(tls);
	SSL_CTX_free(t->tls);
	t->tls = tls;
	t->relay = true;
}

static void drop_conn(struct api_native *t)
{
	api_conn_close(&t->conn);
	t->origin[0] = '\0';
}

void api_native_free(struct api_native *t)
{
	if (t == NULL)
		return;
	drop_conn(t);
	SSL_CTX_free(t->tls);
	secure_wipe(t->rbuf, sizeof(t->rbuf));
	free(t);
}

/* The name sent in SNI and checked in the certificate: tls_server_name
 * for the address's own host and port (as the libcurl transport routes
 * it), else the URL's host. */
static const char *tls_name(const struct api_native *t, const struct api_url *tg)
{
	if (t->cfg->tls_server_name && strcasecmp(tg->host, t->home.host) == 0 &&
	    strcmp(tg->port, t->home.port) == 0)
		return t->cfg->tls_server_name;
	return tg->host;
}

/* A new connection to tg, TLS included. 0 or a failure in t->conn. */
static int connect_to(struct api_native *t, const struct api_url *tg, long deadline)
{
	long now = api_conn_now_ms();
	long cd = deadline - now < CONNECT_TIMEOUT_MS ? deadline : now + CONNECT_TIMEOUT_MS;
	const char *name = tls_name(t, tg);
	int r;

	drop_conn(t);
	if ((r = api_conn_open(&t->conn, tg->host, tg->port, cd)) != 0)
		return r;
	if (tg->https) {
		if (t->tls == NULL && (r = api_conn_tls_ctx(t->cfg, &t->tls, &t->conn)) != 0)
			return r;
		if ((r = api_conn_tls(&t->conn, t->tls, name, name, !t->cfg->tls_skip_verify, cd)) != 0)
			return r;
	}
	(void)snprintf(t->origin, sizeof(t->origin), "%s %s %s %s", tg->https ? "https" : "http", tg->host,
	               tg->port, name);
	return 0;
}

static bool sends_body(const struct api_wire *w)
{
	if (strcmp(w->method, "GET") == 0 || strcmp(w->method, "HEAD") == 0)
		return false;
	return w->body != NULL || strcmp(w->method, "PUT") == 0 || strcmp(w->method, "POST") == 0;
}

/* The request head. A header line with nothing after the colon is one
 * the libcurl transport uses to drop a default of curl's: not sent. */
static int build_head(const struct api_native *t, const struct api_url *tg, const struct api_wire *w,
                      struct buf *b)
{
	const char *line, *colon;
	size_t i;
	int r;

	if ((r = buf_printf(b, "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n", w->method,
	                    *tg->path == '/' ? "" : "/", tg->path, tg->authority,
	                    t->cfg->user_agent ? t->cfg->user_agent : "trove")) != 0)
		return r;
	for (i = 0; i < w->headers->len; i++) {
		line = w->headers->items[i];
		colon = strchr(line, ':');
		if (colon == NULL || colon[1 + strspn(colon + 1, " \t")] == '\0')
			continue;
		if ((r = buf_append_str(b, line)) != 0 || (r = buf_append_str(b, "\r\n")) != 0)
			return r;
	}
	if (sends_body(w) && (r = buf_printf(b, "Content-Length: %zu\r\n", w->body ? w->len : 0)) != 0)
		return r;
	return buf_append_str(b, "\r\n");
}

/* Whether a failed step on a connection that was reused may be retried
 * once on a new one: the server closed it while it sat idle, and not a
 * byte of the answer came. */
static bool stale(const struct api_native *t, bool reused, const struct api_http_reader *rd)
{
	/* a relay's request may have been acted on (a write): never twice */
	return !t->relay && reused && t->conn.failure == API_FAIL_EXCHANGE && !api_http_reader_started(rd);
}

static int conn_fail(struct api_native *t, struct api_response *resp)
{
	const struct api_conn *c = &t->conn;
	int r = api_transport_fail(
	    resp, t->cfg, c->failure,
	    t->https && c->failure == API_FAIL_TLS && strncmp(c->why, "TLS handshake", 13) == 0, c->why);

	drop_conn(t);
	return r;
}

/* Reads the answer on t->conn into rd. 0 when complete; a failure in
 * t->conn otherwise (reader failures are put there too). */
static int read_answer(struct api_native *t, struct api_http_reader *rd, long deadline, bool *leftover)
{
	size_t got, used;
	int r;

	for (;;) {
		if ((r = api_conn_read(&t->conn, t->rbuf, sizeof(t->rbuf), &got, deadline)) != 0)
			return r;
		if (got == 0) {
			if (api_http_reader_eof(rd) == 0)
				return 0;
			t->conn.failure = API_FAIL_EXCHANGE;
			(void)snprintf(t->conn.why, sizeof(t->conn.why), "%s", rd->why);
			return TROVE_ERR_UPSTREAM;
		}
		r = api_http_reader_feed(rd, t->rbuf, got, &used);
		if (r == API_HTTP_MORE)
			continue;
		if (r == 0) {
			*leftover = used < got;
			return 0;
		}
		t->conn.failure = r == TROVE_ERR_TOO_LARGE ? API_FAIL_TOO_LARGE : API_FAIL_EXCHANGE;
		(void)snprintf(t->conn.why, sizeof(t->conn.why), "%s", rd->why);
		return TROVE_ERR_UPSTREAM;
	}
}

/* The request could not be sent whole: a server may answer (a 413, a
 * 401) and close before it took the whole body, so what it said is read
 * all the same. 0 with the answer (the connection is not kept), or the
 * write's failure when no answer came. */
static int early_answer(struct api_native *t, struct api_http_reader *rd, long deadline)
{
	char why[sizeof(t->conn.why)];
	bool leftover;
	int r;

	memcpy(why, t->conn.why, sizeof(why));
	r = read_answer(t, rd, deadline, &leftover);
	if (r == 0) {
		rd->keep_alive = false;
		return 0;
	}
	if (!api_http_reader_started(rd)) {
		memcpy(t->conn.why, why, sizeof(why));
		t->conn.failure = API_FAIL_EXCHANGE;
	}
	return r;
}

/* One request and its answer to tg, on the kept connection when it is to
 * the same origin and still open, else on a new one. */
static int exchange(struct api_native *t, const struct api_url *tg, const struct api_wire *w,
                    const struct buf *head, long deadline, struct api_http_reader *rd,
                    struct api_response *resp)
{
	char origin[sizeof(t->origin)];
	bool reused, leftover = false, head_request;
	struct buf *body;
	int tries, r;

	(void)snprintf(origin, sizeof(origin), "%s %s %s %s", tg->https ? "https" : "http", tg->host,
	               tg->port, tls_name(t, tg));
	for (tries = 0;; tries++) {
		reused = tries == 0 && t->conn.fd >= 0 && strcmp(origin, t->origin) == 0 &&
		         api_conn_idle_ok(&t->conn);
		if (!reused && (r = connect_to(t, tg, deadline)) != 0)
			return conn_fail(t, resp);
		r = api_conn_write(&t->conn, head->data, head->len, deadline);
		if (r == 0 && sends_body(w) && w->body && w->len > 0)
			r = api_conn_write(&t->conn, w->body, w->len, deadline);
		if (r == 0)
			r = read_answer(t, rd, deadline, &leftover);
		else if (t->conn.failure == API_FAIL_EXCHANGE)
			r = early_answer(t, rd, deadline);
		if (r == 0)
			break;
		if (!stale(t, reused, rd))
			return conn_fail(t, resp);
		drop_conn(t);
		head_request = rd->head_request;
		body = rd->body;
		api_http_reader_release(rd);
		api_http_reader_init(rd, head_request, body);
	}
	if (!rd->keep_alive || leftover)
		drop_conn(t);
	return 0;
}

static bool is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* The URL a Location names, relative to the target it came from. */
static int resolve_location(const struct api_url *from, const char *loc, struct buf *out)
{
	const char *scheme = from->https ? "https:" : "http:", *q;
	size_t dir;

	for (q = loc; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return TROVE_ERR_INVALID;
	if (has_iprefix(loc, "http://") || has_iprefix(loc, "https://"))
		return buf_append_str(out, loc);
	if (strncmp(loc, "//", 2) == 0)
		return buf_printf(out, "%s%s", scheme, loc);
	if (strstr(loc, "://") != NULL && strcspn(loc, ":") < strcspn(loc, "/?"))
		return TROVE_ERR_INVALID; /* another scheme */
	if (*loc == '/')
		return buf_printf(out, "%s//%s%s", scheme, from->authority, loc);
	dir = strcspn(from->path, "?");
	while (dir > 0 && from->path[dir - 1] != '/')
		dir--;
	return buf_printf(out, "%s//%s%s%.*s%s", scheme, from->authority, dir == 0 ? "/" : "", (int)dir,
	                  from->path, loc);
}

/* A failure that is no transport's: detail is what, then arg if any. */
static int local_fail(struct api_native *t, struct api_response *resp, const char *what, const char *arg)
{
	char detail[512];

	(void)snprintf(detail, sizeof(detail), "%s%s%s", what, arg ? " " : "", arg ? arg : "");
	drop_conn(t);
	return api_transport_fail(resp, t->cfg, API_FAIL_LOCAL, false, detail);
}

/* The attempt, with SIGPIPE blocked around it (see below). */
static int send_attempt(struct api_native *t, const struct api_wire *w, struct api_response *resp)
{
	long deadline = api_conn_now_ms() + (w->timeout_ms > 0 ? w->timeout_ms : 1);
	struct api_http_reader rd;
	struct api_url tg;
	struct buf head, next;
	const char *url = w->url;
	int hops, r = 0;

	buf_init_secret(&head, (size_t)1 << 20);
	buf_init(&next, BUF_CAP_DEFAULT);
	api_http_reader_init(&rd, strcmp(w->method, "HEAD") == 0, &resp->body);
	for (hops = 0;; hops++) {
		if (api_url_parse(url, &tg) != 0) {
			r = local_fail(t, resp, "cannot send to the URL", url);
			break;
		}
		if (t->https && !tg.https) {
			r = local_fail(t, resp, "refused to follow a redirect from https to http:", url);
			break;
		}
		buf_reset(&head);
		if ((r = build_head(t, &tg, w, &head)) != 0) {
			r = local_fail(t, resp, "could not build the request", NULL);
			break;
		}
		if ((r = exchange(t, &tg, w, &head, deadline, &rd, resp)) != 0)
			break;
		resp->status = rd.status;
		resp->retry_after_ms = rd.retry_after_ms;
		strlist_release(&resp->headers);
		resp->headers = rd.headers; /* handed over */
		strlist_init(&rd.headers);
		if (!is_redirect(rd.status) || rd.location == NULL || t->relay)
			break;
		if (hops >= MAX_REDIRECTS) {
			r = local_fail(t, resp, "Maximum (1) redirects followed", NULL);
			break;
		}
		buf_reset(&next);
		if (resolve_location(&tg, rd.location, &next) != 0) {
			r = local_fail(t, resp, "cannot follow the redirect to", rd.location);
			break;
		}
		/* The redirect's own body is not the answer. */
		buf_reset(&resp->body);
		resp->status = 0;
		resp->retry_after_ms = -1;
		api_http_reader_release(&rd);
		api_http_reader_init(&rd, strcmp(w->method, "HEAD") == 0, &resp->body);
		url = next.data;
	}
	if (r != 0)
		resp->status = 0;
	api_http_reader_release(&rd);
	buf_release_secret(&head);
	buf_release(&next);
	secure_wipe(t->rbuf, sizeof(t->rbuf));
	return r;
}

int api_native_send(void *ctx, const struct api_wire *w, struct api_response *resp)
{
	/* A TLS write to a server that went away raises SIGPIPE (OpenSSL
	 * writes with write(2)); a library must not kill its program for it.
	 * Block it for this thread and take back one that this call raised. */
	static const struct timespec now = {0, 0};
	sigset_t pipe_set, old, pending;
	bool was_pending;
	int r;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
	r = send_attempt(ctx, w, resp);
	if (!was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
		(void)sigtimedwait(&pipe_set, NULL, &now);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}
