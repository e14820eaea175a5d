/* syslog.c — the syslog audit device: one datagram per line to the local
 * syslog socket.
 *
 * Options (device.h): facility (default "AUTH"; KERN USER MAIL DAEMON AUTH
 * SYSLOG LPR NEWS UUCP CRON AUTHPRIV FTP LOCAL0..LOCAL7, any case), tag
 * (default "trove"; 1 to 32 printable ASCII characters without blanks,
 * ':', '[' or ']', so the framing cannot be broken), and, as a Trove
 * extension, socket_path (default "/dev/log").
 *
 * openlog/syslog(3) are process-wide (one identity and facility for the
 * whole process) and would mix with any other user, so the device speaks
 * the protocol itself: each line is sent as "<PRI>TAG[pid]: message" with
 * severity INFO and without its trailing '\n' (the local daemon adds the
 * time and host). The header is built once at open; sendmsg sends it and
 * the line from two iovecs, without copying.
 *
 * The socket is not connected: every send names socket_path, so a syslog
 * daemon that restarts (and recreates its socket) is reached again without
 * any reconnection logic or shared state between writers. Open checks once
 * that socket_path accepts a connection (the sanity check). A full daemon
 * queue makes a send wait, at most SEND_TIMEOUT_S (SO_SNDTIMEO), hence
 * may_block; a send that fails or times out is an error, as is a line
 * longer than the socket's send buffer allows in one datagram. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit/device_impl.h"
#include "buf.h"
#include "err.h"
#include "log.h"

#include "banned.h"

#define SOCKET_PATH_DEFAULT "/dev/log"
#define SEVERITY_INFO 6
#define TAG_MAX 32
#define SEND_TIMEOUT_S 2

struct syslog_dev {
	struct audit_device base;
	int fd;
	struct sockaddr_un addr;
	char head[64]; /* "<PRI>TAG[pid]: " */
	size_t head_len;
};

static const char *const syslog_options[] = {"facility", "tag", "socket_path", NULL};

static const struct {
	const char *name;
	int code;
} facilities[] = {
    {"KERN", 0},      {"USER", 1},    {"MAIL", 2},    {"DAEMON", 3},  {"AUTH", 4},
    {"SYSLOG", 5},    {"LPR", 6},     {"NEWS", 7},    {"UUCP", 8},    {"CRON", 9},
    {"AUTHPRIV", 10}, {"FTP", 11},    {"LOCAL0", 16}, {"LOCAL1", 17}, {"LOCAL2", 18},
    {"LOCAL3", 19},   {"LOCAL4", 20}, {"LOCAL5", 21}, {"LOCAL6", 22}, {"LOCAL7", 23},
};

static int facility_code(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(facilities[i].name, name) == 0)
			return facilities[i].code;
	return -1;
}

static bool tag_ok(const char *tag)
{
	size_t n = strlen(tag);
	if (n == 0 || n > TAG_MAX)
		return false;
	for (; *tag; tag++)
		if (*tag <= ' ' || *tag > '~' || *tag == ':' || *tag == '[' || *tag == ']')
			return false;
	return true;
}

static void syslog_free(struct syslog_dev *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

/* The sanity check: socket_path accepts a connection. 0 or an errno. */
static int probe(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int e = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ? 0 : errno;
	close(fd);
	return e;
}

static struct audit_device *syslog_open(const json_t *options, const struct audit_limits *lim, struct buf *err)
{
	(void)lim; /* writes nowhere on the host's file system */
	const char *facility = audit_opt(options, "facility");
	const char *tag = audit_opt(options, "tag");
	const char *path = audit_opt(options, "socket_path");
	struct syslog_dev *s = xcalloc(1, sizeof(*s));
	s->fd = -1;

	int code = facility_code(facility ? facility : "AUTH");
	if (code < 0) {
		buf_append_str(err, "facility: expected a syslog facility such as \"AUTH\" or \"LOCAL0\"");
		goto fail;
	}
	if (tag == NULL)
		tag = "trove";
	if (!tag_ok(tag)) {
		buf_printf(err, "tag: expected 1 to %d printable characters without blanks, ':', '[' or ']'",
		           TAG_MAX);
		goto fail;
	}
	if (path == NULL)
		path = SOCKET_PATH_DEFAULT;
	if (*path == '\0' || strlen(path) >= sizeof(s->addr.sun_path)) {
		buf_printf(err, "socket_path: expected a unix socket path of 1 to %zu bytes",
		           sizeof(s->addr.sun_path) - 1);
		goto fail;
	}
	s->addr.sun_family = AF_UNIX;
	memcpy(s->addr.sun_path, path, strlen(path) + 1);
	int e = probe(&s->addr);
	if (e != 0) {
		buf_printf(err, "sanity check failed; unable to connect to syslog at \"%s\": %s", path,
		           strerror(e));
		goto fail;
	}
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = SEND_TIMEOUT_S};
	if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		buf_printf(err, "unable to create a syslog socket: %s", strerror(errno));
		goto fail;
	}
	int n = snprintf(s->head, sizeof(s->head), "<%d>%s[%ld]: ", code * 8 + SEVERITY_INFO, tag,
	                 (long)getpid());
	s->head_len = (size_t)n; /* fits: TAG_MAX bounds it */
	s->base.may_block = true;
	return &s->base;
fail:
	syslog_free(s);
	return NULL;
}

static int syslog_write(struct audit_device *d, const char *line, size_t len)
{
	struct syslog_dev *s = (struct syslog_dev *)d;
	struct iovec iov[2] = {
	    {.iov_base = s->head, .iov_len = s->head_len},
	    {.iov_base = (void *)line, .iov_len = len - 1}, /* without the '\n' */
	};
	struct msghdr msg = {
	    .msg_name = &s->addr,
	    .msg_namelen = sizeof(s->addr),
	    .msg_iov = iov,
	    .msg_iovlen = 2,
	};
	ssize_t k;
	do
		k = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k < 0) {
		log_error("audit syslog write failed", "socket", s->addr.sun_path, "error", strerror(errno));
		return TROVE_ERR_IO;
	}
	return 0;
}

static void syslog_close(struct audit_device *d)
{
	syslog_free((struct syslog_dev *)d);
}

const struct audit_device_ops audit_syslog_ops = {
    .type = "syslog",
    .options = syslog_options,
    .open = syslog_open,
    .write = syslog_write,
    .reopen = NULL,
    .close = syslog_close,
};
