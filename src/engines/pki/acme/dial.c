/* dial.c — a bounded TCP connect. */
#include "dial.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"

/* Connects fd to addr within ms; 0, or the errno of the failure. */
static int connect_within(int fd, const struct addrinfo *ai, int64_t ms)
{
	int flags = fcntl(fd, F_GETFL), e = 0;
	socklen_t len = sizeof(e);
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS)
			return errno;
		if (poll(&p, 1, (int)(ms > 0 ? ms : 0)) != 1)
			return ETIMEDOUT;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
			return errno;
		if (e != 0)
			return e;
	}
	return fcntl(fd, F_SETFL, flags) == 0 ? 0 : errno;
}

static void set_timeouts(int fd, int64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000 * 1000)};

	if (ms <= 0)
		tv.tv_usec = 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int acme_dial(const char *host, unsigned port, int64_t timeout_ms, int *fd, struct buf *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	char service[8];
	int64_t deadline = clock_monotonic_ns() + timeout_ms * 1000000;
	int e = 0, g;

	*fd = -1;
	snprintf(service, sizeof(service), "%u", port);
	if ((g = getaddrinfo(host, service, &hints, &res)) != 0) {
		if (err)
			buf_printf(err, "resolving %s: %s", host, gai_strerror(g));
		return TROVE_ERR_UPSTREAM;
	}
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int64_t left = (deadline - clock_monotonic_ns()) / 1000000;
		int s;

		if (left <= 0) {
			e = ETIMEDOUT;
			break;
		}
		s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (s < 0) {
			e = errno;
			continue;
		}
		if ((e = connect_within(s, ai, left)) == 0) {
			set_timeouts(s, (deadline - clock_monotonic_ns()) / 1000000);
			*fd = s;
			break;
		}
		close(s);
	}
	freeaddrinfo(res);
	if (*fd >= 0)
		return 0;
	if (err)
		buf_printf(err, "connecting to %s port %u: %s", host, port, strerror(e));
	return e == ETIMEDOUT ? TROVE_ERR_TIMEOUT : TROVE_ERR_UPSTREAM;
}
