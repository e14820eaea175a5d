/* net_conn.c — sockets and TLS under a deadline (net_conn.h).
 *
 * Non-blocking throughout so that no step (connect, handshake, a write to
 * a server that stopped reading, a read from one that stopped answering)
 * can outlast the call's time: each waits in poll for what is left. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "api/net_conn.h"
#include "clock.h"
#include "err.h"

#include "banned.h"

long api_conn_now_ms(void)
{
	return (long)(clock_monotonic_ns() / 1000000);
}

void api_conn_init(struct api_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void api_conn_close(struct api_conn *c)
{
	if (c->ssl) {
		(void)SSL_shutdown(c->ssl); /* non-blocking: one try */
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int failed(struct api_conn *c, enum api_failure kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int failed(struct api_conn *c, enum api_failure kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	c->failure = kind;
	return kind == API_FAIL_TIMEOUT ? TROVE_ERR_TIMEOUT : TROVE_ERR_UPSTREAM;
}

/* Waits for events on fd until the deadline. 1 ready, 0 timed out,
 * -errno on a poll failure. */
static int wait_fd(int fd, short events, long deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	long left;
	int n;

	for (;;) {
		left = deadline - api_conn_now_ms();
		if (left <= 0)
			return 0;
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* "host:port", with brackets for an IPv6 address. */
static void name_addr(const struct addrinfo *ai, char *out, size_t n)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), port, sizeof(port),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		(void)snprintf(out, n, "?");
		return;
	}
	(void)snprintf(out, n, ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* One address: 0 connected, or the errno (ETIMEDOUT when out of time). */
static int try_connect(struct api_conn *c, const struct addrinfo *ai, long deadline)
{
	int fd, err = 0, one = 1, w;
	socklen_t len = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto fail;
		}
		w = wait_fd(fd, POLLOUT, deadline);
		if (w <= 0) {
			err = w == 0 ? ETIMEDOUT : -w;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0)
			goto fail;
	}
	/* The head and the body go out as two writes: no Nagle delay. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	return 0;
fail:
	close(fd);
	return err;
}

int api_conn_open(struct api_conn *c, const char *host, const char *port, long deadline)
{
	struct addrinfo hints, *list = NULL, *ai;
	char where[NI_MAXHOST + NI_MAXSERV + 4] = "";
	int e, err = 0;

	api_conn_close(c);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	e = getaddrinfo(host, port, &hints, &list);
	if (e != 0)
		return failed(c, API_FAIL_CONNECT, "could not resolve host %s: %s", host,
		              e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
	for (ai = list; ai; ai = ai->ai_next) {
		name_addr(ai, where, sizeof(where));
		err = try_connect(c, ai, deadline);
		if (err == 0 || err == ETIMEDOUT)
			break;
	}
	freeaddrinfo(list);
	if (err == ETIMEDOUT)
		return failed(c, API_FAIL_TIMEOUT, "could not connect to %s in time", where);
	if (err != 0)
		return failed(c, API_FAIL_CONNECT, "could not connect to %s: %s", where, strerror(err));
	return 0;
}

/* Waits as SSL asked after result r of an SSL call. 1 to try again, or a
 * failure code through failed() with what. */
static int tls_wait(struct api_conn *c, int r, long deadline, const char *what, int *code)
{
	int e = SSL_get_error(c->ssl, r), w;
	unsigned long q;

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (w > 0)
			return 1;
		*code = w == 0 ? failed(c, API_FAIL_TIMEOUT, "%s: out of time", what)
		               : failed(c, API_FAIL_EXCHANGE, "%s: %s", what, strerror(-w));
		return 0;
	}
	q = ERR_peek_last_error();
	if (e == SSL_ERROR_SYSCALL && q == 0)
		*code = failed(c, API_FAIL_EXCHANGE, "%s: %s", what,
		               errno ? strerror(errno) : "the server closed the connection");
	else
		*code = failed(c, API_FAIL_EXCHANGE, "%s: %s", what,
		               q ? ERR_reason_error_string(q) ? ERR_reason_error_string(q) : "TLS error"
		                 : "TLS error");
	ERR_clear_error();
	return 0;
}

static bool is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

int api_conn_tls(struct api_conn *c, SSL_CTX *ctx, const char *sni, const char *check_name, bool verify,
                 long deadline)
{
	X509_VERIFY_PARAM *param;
	long v;
	int r, code = 0;

	ERR_clear_error();
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return failed(c, API_FAIL_TLS, "could not set up TLS");
	if (sni && !is_ip(sni) && SSL_set_tlsext_host_name(c->ssl, sni) != 1)
		return failed(c, API_FAIL_TLS, "could not set the TLS server name %s", sni);
	if (verify) {
		param = SSL_get0_param(c->ssl);
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if ((is_ip(check_name) ? X509_VERIFY_PARAM_set1_ip_asc(param, check_name)
		                       : X509_VERIFY_PARAM_set1_host(param, check_name, 0)) != 1)
			return failed(c, API_FAIL_TLS, "could not set the name to check, %s", check_name);
		SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	}
	while ((r = SSL_connect(c->ssl)) != 1) {
		if (tls_wait(c, r, deadline, "TLS handshake", &code))
			continue;
		if (c->failure == API_FAIL_TIMEOUT)
			return code;
		v = SSL_get_verify_result(c->ssl);
		if (verify && v != X509_V_OK)
			return failed(c, API_FAIL_TLS, "the server's certificate was not accepted for %s: %s",
			              check_name, X509_verify_cert_error_string(v));
		c->failure = API_FAIL_TLS;
		return code;
	}
	return 0;
}

int api_conn_write(struct api_conn *c, const void *p, size_t n, long deadline)
{
	const char *s = p;
	size_t done = 0, k;
	ssize_t w;
	int r, code = 0;

	while (done < n) {
		if (c->ssl) {
			ERR_clear_error();
			r = SSL_write_ex(c->ssl, s + done, n - done, &k);
			if (r == 1) {
				done += k;
				continue;
			}
			if (tls_wait(c, r, deadline, "sending the request", &code))
				continue;
			return code;
		}
		w = send(c->fd, s + done, n - done, MSG_NOSIGNAL);
		if (w >= 0) {
			done += (size_t)w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return failed(c, API_FAIL_EXCHANGE, "sending the request: %s", strerror(errno));
		r = wait_fd(c->fd, POLLOUT, deadline);
		if (r <= 0)
			return r == 0 ? failed(c, API_FAIL_TIMEOUT, "sending the request: out of time")
			              : failed(c, API_FAIL_EXCHANGE, "sending the request: %s", strerror(-r));
	}
	return 0;
}

int api_conn_read(struct api_conn *c, void *p, size_t n, size_t *got, long deadline)
{
	ssize_t k;
	int r, code = 0, e;

	*got = 0;
	for (;;) {
		if (c->ssl) {
			ERR_clear_error();
			r = SSL_read_ex(c->ssl, p, n, got);
			if (r == 1)
				return 0;
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN) {
				*got = 0;
				return 0;
			}
			if (tls_wait(c, r, deadline, "reading the answer", &code))
				continue;
			return code;
		}
		k = recv(c->fd, p, n, 0);
		if (k >= 0) {
			*got = (size_t)k;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return failed(c, API_FAIL_EXCHANGE, "reading the answer: %s", strerror(errno));
		r = wait_fd(c->fd, POLLIN, deadline);
		if (r <= 0)
			return r == 0 ? failed(c, API_FAIL_TIMEOUT, "reading the answer: out of time")
			              : failed(c, API_FAIL_EXCHANGE, "reading the answer: %s", strerror(-r));
	}
}

bool api_conn_idle_ok(struct api_conn *c)
{
	char b[1];
	size_t got;
	ssize_t k;
	int r;

	if (c->fd < 0)
		return false;
	if (c->ssl) {
		ERR_clear_error();
		r = SSL_read_ex(c->ssl, b, sizeof(b), &got);
		if (r == 1)
			return false; /* bytes nobody asked for */
		r = SSL_get_error(c->ssl, r);
		ERR_clear_error();
		return r == SSL_ERROR_WANT_READ;
	}
	k = recv(c->fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	return k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
