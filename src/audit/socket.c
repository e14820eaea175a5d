/* socket.c — the socket audit device: sends each line over TCP, UDP or a
 * unix stream socket.
 *
 * Options (device.h): address (required: "host:port" for tcp and udp, with
 * an IPv6 host in brackets and a numeric port; a socket path for unix),
 * socket_type ("tcp" | "udp" | "unix"), write_timeout (a duration,
 * default "2s", more than zero).
 *
 * Bounded time. A write never takes longer than write_timeout: the deadline
 * is set when write() is called and bounds waiting for the device's mutex
 * (pthread_mutex_clocklock), connecting (non-blocking connect + ppoll) and
 * sending (non-blocking send with MSG_NOSIGNAL + ppoll). Names are
 * therefore resolved once, at open, because getaddrinfo has no timeout;
 * open fails if the name does not resolve, and a changed DNS record needs
 * the device to be enabled again.
 *
 * One connection, made lazily and kept; writers take turns under the
 * mutex, so lines never interleave on the stream. Any failure or timeout
 * closes the connection (a partial line may have been sent, and the
 * receiver must see it cut by the reconnection rather than glued to the
 * next line) and the next write connects again. Before each send the
 * connection is polled: a peer that hung up (or a pending error) is
 * noticed there and the line goes to a new connection instead of into a
 * dead one. Audit receivers never talk back; anything they send is read
 * and dropped. udp sends one datagram per line (the line as given, '\n'
 * included) on a connected socket; the ICMP error of an unreachable
 * receiver fails the next send, so an outage shows up as failures rather
 * than as silent loss; a line too long for one datagram (EMSGSIZE) fails.
 * unix connects a stream socket to the path. TCP cannot tell a line the
 * peer received from one it will never read (no acknowledgement in the
 * protocol): "recorded" here means handed to the kernel in whole. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit/device_impl.h"
#include "buf.h"
#include "clock.h"
#include "duration.h"
#include "err.h"
#include "log.h"

#include "banned.h"

#define NS_PER_S INT64_C(1000000000)
#define TIMEOUT_DEFAULT "2s"
#define DRAIN_MAX_READS 16 /* reads spent dropping what a peer sent, per write */

enum sock_kind { KIND_TCP, KIND_UDP, KIND_UNIX };

struct sock_dev {
	struct audit_device base;
	enum sock_kind kind;
	char *address;
	int64_t timeout_ns;
	struct addrinfo *ai;    /* tcp, udp: the resolved addresses, tried in order */
	struct sockaddr_un sun; /* unix */

	pthread_mutex_t mu; /* guards fd and serializes writers */
	int fd;             /* -1: not connected */
};

static const char *const socket_options[] = {"address", "socket_type", "write_timeout", NULL};

static struct timespec ns_to_timespec(int64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / NS_PER_S), .tv_nsec = (long)(ns % NS_PER_S)};
}

/* Waits until fd is ready for events or the deadline passes: 0, ETIMEDOUT
 * or an errno. Readiness includes errors, which the next call reports. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clock_monotonic_ns();
		if (left <= 0)
			return ETIMEDOUT;
		struct timespec ts = ns_to_timespec(left);
		struct pollfd p = {.fd = fd, .events = events};
		int r = ppoll(&p, 1, &ts, NULL);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return errno;
	}
}

/* Splits "host:port" or "[v6]:port" (port numeric, 1 to 65535) in place:
 * *host and *port point into a, which the caller owns. */
static bool split_host_port(char *a, char **host, char **port)
{
	char *colon;
	if (a[0] == '[') {
		char *close = strchr(a, ']');
		if (close == NULL || close[1] != ':')
			return false;
		*close = '\0';
		*host = a + 1;
		colon = close + 1;
	} else {
		colon = strrchr(a, ':');
		if (colon == NULL || memchr(a, ':', (size_t)(colon - a)) != NULL)
			return false;
		*host = a;
	}
	*colon = '\0';
	*port = colon + 1;
	size_t n = strlen(*port);
	unsigned long v = 0;
	if (n == 0 || n > 5)
		return false;
	for (const char *p = *port; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v >= 1 && v <= 65535;
}

/* Resolves s->address into s->ai. */
static int resolve(struct sock_dev *s, struct buf *err)
{
	char *a = xstrdup(s->address), *host, *port;
	int r = 0;

	if (!split_host_port(a, &host, &port)) {
		buf_append_str(err,
		               "address: expected \"host:port\" (an IPv6 host in brackets, a numeric port)");
		r = TROVE_ERR_INVALID;
	} else {
		struct addrinfo hints = {
		    .ai_socktype = s->kind == KIND_UDP ? SOCK_DGRAM : SOCK_STREAM,
		    .ai_flags = AI_NUMERICSERV,
		};
		/* an empty host is the local system, as in Go */
		int rc = getaddrinfo(*host ? host : NULL, port, &hints, &s->ai);
		if (rc != 0) {
			s->ai = NULL;
			buf_printf(err, "address: unable to resolve \"%s\": %s", host, gai_strerror(rc));
			r = TROVE_ERR_INVALID;
		}
	}
	free(a);
	return r;
}

static int parse_options(struct sock_dev *s, const json_t *options, struct buf *err)
{
	const char *address = audit_opt(options, "address");
	const char *type = audit_opt(options, "socket_type");
	const char *timeout = audit_opt(options, "write_timeout");

	if (address == NULL || *address == '\0') {
		buf_append_str(err, "address is required");
		return TROVE_ERR_INVALID;
	}
	if (type == NULL || strcmp(type, "tcp") == 0) {
		s->kind = KIND_TCP;
	} else if (strcmp(type, "udp") == 0) {
		s->kind = KIND_UDP;
	} else if (strcmp(type, "unix") == 0) {
		s->kind = KIND_UNIX;
	} else {
		buf_append_str(err, "socket_type: expected \"tcp\", \"udp\" or \"unix\"");
		return TROVE_ERR_INVALID;
	}
	if (timeout == NULL)
		timeout = TIMEOUT_DEFAULT;
	if (duration_parse_ns(timeout, strlen(timeout), &s->timeout_ns) != 0 || s->timeout_ns <= 0) {
		buf_append_str(err, "write_timeout: expected a duration greater than zero, such as \"2s\"");
		return TROVE_ERR_INVALID;
	}
	s->address = xstrdup(address);
	if (s->kind != KIND_UNIX)
		return resolve(s, err);
	if (strlen(address) >= sizeof(s->sun.sun_path)) {
		buf_printf(err, "address: a unix socket path is at most %zu bytes",
		           sizeof(s->sun.sun_path) - 1);
		return TROVE_ERR_INVALID;
	}
	s->sun.sun_family = AF_UNIX;
	memcpy(s->sun.sun_path, address, strlen(address) + 1);
	return 0;
}

static void sock_free(struct sock_dev *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->ai)
		freeaddrinfo(s->ai);
	pthread_mutex_destroy(&s->mu);
	free(s->address);
	free(s);
}

static struct audit_device *sock_open(const json_t *options, const struct audit_limits *lim, struct buf *err)
{
	(void)lim; /* writes nowhere on the host's file system */
	struct sock_dev *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->fd = -1;
	if (parse_options(s, options, err) != 0) {
		sock_free(s);
		return NULL;
	}
	s->base.may_block = true;
	return &s->base;
}

/* Connects a non-blocking socket to one address by the deadline: 0 with
 * *out set, or an errno. */
static int connect_one(int family, int type, int proto, const struct sockaddr *sa, socklen_t len,
                       int64_t deadline, int *out)
{
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return errno;
	if (connect(fd, sa, len) != 0) {
		int e = errno;
		if (e == EINPROGRESS || e == EINTR) {
			socklen_t elen = sizeof(e);
			e = wait_fd(fd, POLLOUT, deadline);
			if (e == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
				e = errno;
		}
		if (e != 0) {
			close(fd);
			return e;
		}
	}
	*out = fd;
	return 0;
}

/* Connects to the first address that answers by the deadline. */
static int sock_connect(struct sock_dev *s, int64_t deadline)
{
	if (s->kind == KIND_UNIX)
		return connect_one(AF_UNIX, SOCK_STREAM, 0, (const struct sockaddr *)&s->sun, sizeof(s->sun),
		                   deadline, &s->fd);
	int e = EHOSTUNREACH;
	for (const struct addrinfo *ai = s->ai; ai; ai = ai->ai_next) {
		e = connect_one(ai->ai_family, ai->ai_socktype, ai->ai_protocol, ai->ai_addr, ai->ai_addrlen,
		                deadline, &s->fd);
		if (e == 0 || e == ETIMEDOUT)
			break;
	}
	return e;
}

/* Whether a stream connection is unusable: the peer hung up, or an error is
 * pending. What the peer sent is dropped. */
static bool peer_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
		return true;
	char drop[4096];
	for (int i = 0; i < DRAIN_MAX_READS; i++) {
		ssize_t k = recv(fd, drop, sizeof(drop), MSG_DONTWAIT);
		if (k == 0)
			return true;
		if (k < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
	}
	return false;
}

/* Sends all of line by the deadline: 0, ETIMEDOUT or an errno. */
static int send_all(int fd, const char *line, size_t len, int64_t deadline)
{
	size_t off = 0;
	while (off < len) {
		ssize_t k = send(fd, line + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k >= 0) {
			off += (size_t)k;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return errno;
		int e = wait_fd(fd, POLLOUT, deadline);
		if (e != 0)
			return e;
	}
	return 0;
}

static int sock_write(struct audit_device *d, const char *line, size_t len)
{
	struct sock_dev *s = (struct sock_dev *)d;
	int64_t deadline = clock_monotonic_ns() + s->timeout_ns;
	struct timespec abs = ns_to_timespec(deadline);

	if (pthread_mutex_clocklock(&s->mu, CLOCK_MONOTONIC, &abs) != 0) {
		log_error("audit socket write failed", "address", s->address, "error",
		          "timed out waiting for other writes to the socket");
		return TROVE_ERR_IO;
	}
	if (s->fd >= 0 && s->kind != KIND_UDP && peer_gone(s->fd)) {
		close(s->fd);
		s->fd = -1;
	}
	int e = s->fd >= 0 ? 0 : sock_connect(s, deadline);
	if (e == 0) {
		e = send_all(s->fd, line, len, deadline);
		if (e != 0) {
			close(s->fd);
			s->fd = -1;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (e != 0) {
		log_error("audit socket write failed", "address", s->address, "error", strerror(e));
		return TROVE_ERR_IO;
	}
	return 0;
}

static void sock_close(struct audit_device *d)
{
	sock_free((struct sock_dev *)d);
}

const struct audit_device_ops audit_socket_ops = {
    .type = "socket",
    .options = socket_options,
    .open = sock_open,
    .write = sock_write,
    .reopen = NULL,
    .close = sock_close,
};
