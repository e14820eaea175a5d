/* op_http.c — the probe and metrics listeners (op_http.h).
 *
 * One thread with poll() rather than an h2o loop: three tiny GET routes
 * hit every few seconds by the kubelet and Prometheus do not need a
 * general HTTP server, and h2o's loop, buffers and socket pools would cost
 * more resident memory than the whole operator's target allows for them.
 * The thread holds the listening sockets, a wake pipe and at most
 * MAX_CONNS connections, each with a fixed request buffer and a deadline;
 * while full it stops accepting (the kernel's backlog holds the rest). A
 * request is answered as soon as its head is complete, then the connection
 * closes: the answers are small enough for the socket buffer, and a client
 * that stops reading is dropped at its deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "operator/op_http.h"
#include "strconv.h"

#include "banned.h"

#define MAX_CONNS 8
#define CONN_DEADLINE_NS (5LL * 1000000000LL)

/* ---- one request --------------------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	default: return "Error";
	}
}

static int reply(struct buf *out, int status, const char *type, const char *extra, const char *body, size_t n)
{
	(void)buf_printf(out,
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sCache-Control: "
	                 "no-store\r\nConnection: close\r\n\r\n",
	                 status, reason(status), type, n, extra ? extra : "");
	(void)buf_append(out, body, n);
	return status;
}

static int reply_text(struct buf *out, int status, const char *text)
{
	return reply(out, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

/* Where the head ends ("\r\n\r\n", or "\n\n" from a lax client), or NULL. */
static const char *head_end(const char *req, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (req[i] == '\n' && req[i + 1] == '\n')
			return req + i + 2;
		if (i + 3 < n && memcmp(req + i, "\r\n\r\n", 4) == 0)
			return req + i + 4;
	}
	return NULL;
}

static bool is_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '_';
}

/* "METHOD SP /target SP HTTP/1.x" in line[0..n): method and path (the
 * target up to '?') as spans. false when malformed. */
static bool request_line(const char *line, size_t n, struct span *method, struct span *path)
{
	size_t i = 0, p0, t_end;

	while (i < n && is_token_char(line[i]))
		i++;
	if (i == 0 || i > 16 || i >= n || line[i] != ' ')
		return false;
	method->ptr = line;
	method->len = i;
	p0 = ++i;
	if (i >= n || line[i] != '/')
		return false;
	while (i < n && line[i] != ' ')
		if ((unsigned char)line[i++] < 0x21)
			return false;
	t_end = i;
	if (n - i != 9 || memcmp(line + i, " HTTP/1.", 8) != 0 || (line[i + 8] != '0' && line[i + 8] != '1'))
		return false;
	path->ptr = line + p0;
	path->len = t_end - p0;
	for (i = 0; i < path->len; i++)
		if (path->ptr[i] == '?') {
			path->len = i;
			break;
		}
	return true;
}

static int probe(bool (*check)(void *, struct buf *), void *ctx, struct buf *out)
{
	struct buf why;
	int st;

	buf_init(&why, 1024);
	if (check == NULL || check(ctx, &why)) {
		st = reply_text(out, 200, "ok");
	} else {
		if (why.len == 0)
			(void)buf_append_str(&why, "not ok");
		(void)buf_append_byte(&why, '\n');
		st = reply_text(out, 500, why.data);
	}
	buf_release(&why);
	return st;
}

int op_http_respond(const struct op_http_handlers *h, unsigned routes, const char *req, size_t n,
                    struct buf *out)
{
	const char *end = head_end(req, n), *eol;
	struct span method, path;
	size_t line_len;
	int target = 0; /* 1 healthz, 2 readyz, 3 metrics */

	if (end == NULL)
		return n > OP_HTTP_MAX_REQUEST ? reply_text(out, 431, "request head too large\n") : 0;
	if ((size_t)(end - req) > OP_HTTP_MAX_REQUEST)
		return reply_text(out, 431, "request head too large\n");
	eol = memchr(req, '\n', (size_t)(end - req));
	line_len = (size_t)(eol - req);
	if (line_len > 0 && req[line_len - 1] == '\r')
		line_len--;
	if (!request_line(req, line_len, &method, &path))
		return reply_text(out, 400, "malformed request line\n");
	if ((routes & OP_HTTP_PROBES) && span_eq_str(path, "/healthz"))
		target = 1;
	else if ((routes & OP_HTTP_PROBES) && span_eq_str(path, "/readyz"))
		target = 2;
	else if ((routes & OP_HTTP_METRICS) && span_eq_str(path, "/metrics"))
		target = 3;
	if (target == 0)
		return reply_text(out, 404, "404 page not found\n");
	if (!span_eq_str(method, "GET"))
		return reply(out, 405, "text/plain; charset=utf-8", "Allow: GET\r\n", "method not allowed\n", 19);
	if (target == 1)
		return probe(h->healthy, h->ctx, out);
	if (target == 2)
		return probe(h->ready, h->ctx, out);
	{
		struct buf body;
		int st;

		buf_init(&body, (size_t)1 << 20);
		if (h->metrics)
			h->metrics(h->ctx, &body);
		st = reply(out, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, body.data ? body.data : "",
		           body.len);
		buf_release(&body);
		return st;
	}
}

/* ---- the listener thread ------------------------------------------------- */

struct conn {
	int fd; /* -1: free */
	unsigned routes;
	size_t len;
	int64_t deadline_ns;
	struct buf out; /* the answer, once made */
	size_t sent;
	bool answered;
	char req[OP_HTTP_MAX_REQUEST + 1];
};

struct listener {
	int fd; /* -1: disabled */
	unsigned routes;
	int port;
};

struct op_http {
	struct op_http_handlers h;
	struct listener l[2];
	int wake[2];
	pthread_t thread;
	bool started;
	struct conn c[MAX_CONNS];
};

static int fail(char **err, const char *addr, const char *why, const char *detail)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s: %s%s%s", addr, why, detail ? ": " : "", detail ? detail : "");
	*err = xstrdup(msg);
	return TROVE_ERR_INVALID;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

/* Binds addr ("host:port", ":port", "[v6]:port"); an empty host means
 * every interface (IPv6 and IPv4 when the host has IPv6, as Go's ":8080"). */
static int listen_on(const char *addr, struct listener *l, char **err)
{
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints, *res = NULL, *ai;
	char host[256];
	size_t hlen;
	int fd = -1, one = 1, zero = 0, rc, e = 0;
	int64_t port;

	if (colon == NULL || !strconv_int64(colon + 1, &port) || port < 0 || port > 65535 || colon[1] == '+' ||
	    colon[1] == '-')
		return fail(err, addr, "want host:port or :port (port 0 to 65535)", NULL);
	hlen = (size_t)(colon - addr);
	if (addr[0] == '[' && hlen >= 2 && addr[hlen - 1] == ']') {
		memcpy(host, addr + 1, hlen - 2);
		host[hlen - 2] = '\0';
	} else if (hlen < sizeof(host)) {
		memcpy(host, addr, hlen);
		host[hlen] = '\0';
	} else {
		return fail(err, addr, "host too long", NULL);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = host[0] ? AF_UNSPEC : AF_INET6;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (rc != 0 && host[0] == '\0') {
		hints.ai_family = AF_INET;
		rc = getaddrinfo(NULL, colon + 1, &hints, &res);
	}
	if (rc != 0)
		return fail(err, addr, "bad address", gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && host[0] == '\0')
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fail(err, addr, "cannot listen", strerror(e));
		return TROVE_ERR_IO;
	}
	l->fd = fd;
	l->port = bound_port(fd);
	return 0;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	buf_release(&c->out);
}

static void accept_one(struct op_http *s, const struct listener *l)
{
	size_t i;
	int fd;

	for (i = 0; i < MAX_CONNS; i++)
		if (s->c[i].fd < 0)
			break;
	if (i == MAX_CONNS)
		return;
	fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	s->c[i].fd = fd;
	s->c[i].routes = l->routes;
	s->c[i].len = 0;
	s->c[i].sent = 0;
	s->c[i].answered = false;
	s->c[i].deadline_ns = clock_monotonic_ns() + CONN_DEADLINE_NS;
	buf_init(&s->c[i].out, (size_t)2 << 20);
}

/* Reads what is there and answers a complete head; false: close it. */
static bool conn_read(struct op_http *s, struct conn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, c->req + c->len, sizeof(c->req) - c->len);

		if (n == 0)
			return false;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->len += (size_t)n;
		if (op_http_respond(&s->h, c->routes, c->req, c->len, &c->out) != 0) {
			c->answered = true;
			return true;
		}
		if (c->len == sizeof(c->req)) /* respond says 431 past the cap */
			return false;
	}
}

/* Sends what is left; false when done or failed (close it). */
static bool conn_write(struct conn *c)
{
	while (c->sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->sent += (size_t)n;
	}
	return false;
}

static void *serve(void *arg)
{
	struct op_http *s = arg;

	for (;;) {
		struct pollfd p[3 + MAX_CONNS];
		size_t np = 0, i, nconn = 0;
		int64_t now = clock_monotonic_ns(), next = -1;
		int timeout;

		p[np++] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		for (i = 0; i < MAX_CONNS; i++)
			nconn += s->c[i].fd >= 0;
		for (i = 0; i < 2; i++)
			p[np++] = (struct pollfd){ .fd = nconn < MAX_CONNS ? s->l[i].fd : -1, .events = POLLIN };
		for (i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &s->c[i];

			if (c->fd >= 0 && now >= c->deadline_ns)
				conn_close(c);
			p[np++] = (struct pollfd){ .fd = c->fd, .events = c->answered ? POLLOUT : POLLIN };
			if (c->fd >= 0 && (next < 0 || c->deadline_ns < next))
				next = c->deadline_ns;
		}
		timeout = next < 0 ? -1 : (int)((next - now) / 1000000 + 1);
		if (poll(p, np, timeout) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		for (i = 0; i < 2; i++)
			if (p[1 + i].revents & POLLIN)
				accept_one(s, &s->l[i]);
		for (i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &s->c[i];
			short re = p[3 + i].revents;
			bool keep = true;

			if (c->fd < 0 || re == 0)
				continue;
			if (!c->answered && (re & (POLLIN | POLLHUP | POLLERR)))
				keep = conn_read(s, c);
			if (keep && c->answered)
				keep = conn_write(c);
			if (!keep)
				conn_close(c);
		}
	}
	return NULL;
}

static bool ends_with_port_zero(const char *addr)
{
	size_t n = strlen(addr);

	return n >= 2 && strcmp(addr + n - 2, ":0") == 0;
}

int op_http_start(const char *metrics_addr, const char *probe_addr, const struct op_http_handlers *h,
                  struct op_http **out, char **err)
{
	struct op_http *s = xcalloc(1, sizeof(*s));
	bool m_on = metrics_addr && *metrics_addr && strcmp(metrics_addr, "0") != 0;
	bool p_on = probe_addr && *probe_addr && strcmp(probe_addr, "0") != 0;
	size_t i;
	int r = 0;

	*out = NULL;
	*err = NULL;
	s->h = *h;
	s->wake[0] = s->wake[1] = -1;
	for (i = 0; i < 2; i++)
		s->l[i].fd = -1;
	for (i = 0; i < MAX_CONNS; i++)
		s->c[i].fd = -1;
	s->l[0].routes = OP_HTTP_METRICS;
	s->l[1].routes = OP_HTTP_PROBES;
	/* One socket for one address (but ":0" asks for two ports). */
	if (m_on && p_on && strcmp(metrics_addr, probe_addr) == 0 && !ends_with_port_zero(probe_addr)) {
		s->l[0].routes |= OP_HTTP_PROBES;
		p_on = false;
	}
	if (m_on && (r = listen_on(metrics_addr, &s->l[0], err)) != 0)
		goto out;
	if (p_on && (r = listen_on(probe_addr, &s->l[1], err)) != 0)
		goto out;
	if (pipe2(s->wake, O_CLOEXEC) != 0) {
		r = TROVE_ERR_IO;
		*err = xstrdup("cannot make the listener's wake pipe");
		goto out;
	}
	if (pthread_create(&s->thread, NULL, serve, s) != 0) {
		r = TROVE_ERR_INTERNAL;
		*err = xstrdup("cannot start the listener's thread");
		goto out;
	}
	s->started = true;
	*out = s;
out:
	if (r != 0)
		op_http_stop(s);
	return r;
}

int op_http_port(const struct op_http *s, unsigned routes)
{
	size_t i;

	for (i = 0; i < 2; i++)
		if (s->l[i].fd >= 0 && (s->l[i].routes & routes))
			return s->l[i].port;
	return 0;
}

void op_http_stop(struct op_http *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->started) {
		ssize_t n = write(s->wake[1], "x", 1);

		(void)n;
		pthread_join(s->thread, NULL);
	}
	for (i = 0; i < MAX_CONNS; i++)
		if (s->c[i].fd >= 0)
			conn_close(&s->c[i]);
	for (i = 0; i < 2; i++)
		if (s->l[i].fd >= 0)
			close(s->l[i].fd);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	free(s);
}
