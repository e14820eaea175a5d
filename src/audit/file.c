/* file.c — the file audit device: appends each line to file_path.
 *
 * Options (device.h): file_path (required; "stdout" writes to fd 1,
 * "discard" accepts and drops), mode (octal with only bits of 0640,
 * default "0600"; "0000" means the default), recorded ("flushed" |
 * "fsynced"). A device declared in the server config opens file_path as
 * written; one enabled through the API opens it below an allowed
 * directory without following links (file_path.h). Either way the file is
 * opened O_WRONLY|O_APPEND, created with O_EXCL when missing and only then
 * fchmod'ed to mode (so the umask cannot change it). Unlike Vault, an
 * existing file's mode is never changed: the file may not be Trove's. For
 * "fsynced", open also checks that fdatasync works on the file (it fails
 * on a pipe or a terminal), rather than failing every line later.
 *
 * Group write. Each caller queues a request (its lines: one, or the
 * broker's batch, on its stack) under f->mu. Whoever finds no write in
 * flight becomes the leader: it takes the whole queue, drops the lock,
 * writes every line of every request with writev (IOV_MAX lines per call,
 * looping over partial writes), fdatasyncs once if
 * "fsynced", retakes the lock, hands leadership to the new head of the
 * queue (if any), drops the lock and publishes each member's result: the
 * queue, the hand-over and the waking are lib/group_commit's, shared with
 * the LMDB backend (group_commit.h).
 *
 * Failure. Before writing, the leader notes the file's size (regular
 * files only; a device or pipe cannot be truncated). If any writev or the
 * fdatasync fails, every line of the batch fails and the file is truncated
 * back to that size, so no half line stays in the log; the failure is
 * logged once per batch with the path and the error, never the content.
 *
 * Reopen swaps the fd under f->mu. The leader writes with the fd it took
 * under the lock (busy_fd); a reopen during that write leaves busy_fd open
 * and the leader closes it when done, so an fd in use is never closed and
 * its number never reused under a writev. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "audit/device_impl.h"
#include "audit/file_path.h"
#include "buf.h"
#include "err.h"
#include "group_commit.h"
#include "log.h"

#include "banned.h"

#define MODE_DEFAULT 0600
/* One caller's lines waiting in the queue, on the caller's stack. gc
 * comes first: a group's members are linked through gc.next. */
struct lreq {
	struct gc_req gc;
	const struct iovec *lines;
	size_t n; /* >= 1 */
};

/* The next request of a group, NULL at its end. */
static const struct lreq *next_of(const struct lreq *r)
{
	return (const struct lreq *)r->gc.next;
}

enum file_kind { FILE_PATH, FILE_STDOUT, FILE_DISCARD };

struct file_dev {
	struct audit_device base;
	enum file_kind kind;
	char *path;
	char *dir, *rel; /* API devices: the allowed dir and the rest; NULL
	                  * for a trusted device (path opened as written) */
	mode_t mode;     /* of a file the device creates */
	bool fsynced;

	pthread_mutex_t mu; /* guards everything below */
	int fd;             /* -1 for discard */
	int busy_fd;        /* the fd a leader is writing with; -1: no write in flight */
	struct gc_queue q;  /* busy while busy_fd >= 0 */
};

static const char *const file_options[] = {"file_path", "mode", "recorded", NULL};

/* An octal mode with only bits of 0640, e.g. "0600" or "640"; "0000" is
 * the default. Wider modes are refused rather than narrowed, so what the
 * operator reads back is what the file got. */
static bool parse_mode(const char *s, mode_t *out)
{
	unsigned v = 0;
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return false;
		v = v * 8 + (unsigned)(*s - '0');
		if (v > 07777)
			return false;
	}
	*out = v == 0 ? MODE_DEFAULT : (mode_t)v;
	return true;
}

/* Opens f->path for appending (see the note atop): the fd, or -1 with err
 * filled. */
static int open_path(const struct file_dev *f, struct buf *err)
{
	if (f->dir)
		return audit_path_open(f->dir, f->rel, f->mode, err);
	bool created = true;
	int fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, MODE_DEFAULT);
	if (fd < 0 && errno == EEXIST) {
		created = false;
		fd = open(f->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	}
	if (fd < 0 || (created && fchmod(fd, f->mode) != 0)) {
		buf_printf(err, "sanity check failed; unable to open \"%s\" for writing: %s", f->path,
		           strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int parse_options(struct file_dev *f, const json_t *options, const struct audit_limits *lim,
                         struct buf *err)
{
	const char *path = audit_opt(options, "file_path");
	const char *mode = audit_opt(options, "mode");
	const char *recorded = audit_opt(options, "recorded");

	if (path == NULL || *path == '\0') {
		buf_append_str(err, "file_path is required");
		return TROVE_ERR_INVALID;
	}
	f->mode = MODE_DEFAULT;
	if (mode && !parse_mode(mode, &f->mode)) {
		buf_append_str(err, "mode: expected an octal file mode such as \"0600\"");
		return TROVE_ERR_INVALID;
	}
	if ((f->mode & ~(mode_t)0640) != 0) {
		buf_printf(err,
		           "mode: %s gives more than 0640 (owner read/write, group read); audit logs hold "
		           "secrets' hashes, so a wider mode is refused",
		           mode);
		return TROVE_ERR_INVALID;
	}
	if (recorded == NULL || strcmp(recorded, "flushed") == 0) {
		f->fsynced = false;
	} else if (strcmp(recorded, "fsynced") == 0) {
		f->fsynced = true;
	} else {
		buf_append_str(err, "recorded: expected \"flushed\" or \"fsynced\"");
		return TROVE_ERR_INVALID;
	}
	f->kind = strcmp(path, "stdout") == 0    ? FILE_STDOUT
	          : strcmp(path, "discard") == 0 ? FILE_DISCARD
	                                         : FILE_PATH;
	f->path = xstrdup(path);
	if (f->kind == FILE_PATH && !lim->trusted)
		return audit_path_split(path, lim->file_dirs, lim->nfile_dirs, &f->dir, &f->rel, err);
	return 0;
}

static void file_free(struct file_dev *f)
{
	if (f->kind == FILE_PATH && f->fd >= 0)
		close(f->fd);
	pthread_mutex_destroy(&f->mu);
	free(f->path);
	free(f->dir);
	free(f->rel);
	free(f);
}

static struct audit_device *file_open(const json_t *options, const struct audit_limits *lim, struct buf *err)
{
	struct file_dev *f = xcalloc(1, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->fd = -1;
	f->busy_fd = -1;
	if (parse_options(f, options, lim, err) != 0) {
		file_free(f);
		return NULL;
	}
	if (f->kind == FILE_PATH) {
		f->fd = open_path(f, err);
		if (f->fd < 0) {
			file_free(f);
			return NULL;
		}
	} else if (f->kind == FILE_STDOUT) {
		f->fd = STDOUT_FILENO;
	}
	if (f->fsynced && f->fd >= 0 && fdatasync(f->fd) != 0) {
		buf_printf(err, "sanity check failed; unable to fsync \"%s\": %s", f->path, strerror(errno));
		file_free(f);
		return NULL;
	}
	f->base.may_block = f->fsynced && f->kind != FILE_DISCARD;
	return &f->base;
}

/* Writes the lines of group in order with writev, IOV_MAX at a time. 0 or
 * the errno of the first failure; *written counts the bytes that went out
 * either way. */
static int writev_all(int fd, const struct lreq *group, size_t *written)
{
	struct iovec iov[IOV_MAX];
	const struct lreq *cur = group;
	size_t line = 0; /* the line of cur being written */
	size_t off = 0;  /* bytes of that line already written */

	while (cur) {
		int n = 0;
		const struct lreq *g = cur;
		size_t i = line;
		while (g && n < IOV_MAX) {
			size_t skip = n == 0 ? off : 0;
			iov[n].iov_base = (char *)g->lines[i].iov_base + skip;
			iov[n].iov_len = g->lines[i].iov_len - skip;
			n++;
			if (++i == g->n) {
				g = next_of(g);
				i = 0;
			}
		}
		ssize_t k = writev(fd, iov, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno;
		if (k == 0)
			return EIO; /* no progress and no error: do not spin */
		size_t done = (size_t)k;
		*written += done;
		while (cur && done >= cur->lines[line].iov_len - off) {
			done -= cur->lines[line].iov_len - off;
			off = 0;
			if (++line == cur->n) {
				cur = next_of(cur);
				line = 0;
			}
		}
		off += done;
	}
	return 0;
}

/* Records the whole group or none of it: 0 or TROVE_ERR_IO. On a failure
 * the bytes this group wrote are cut off the end again (O_APPEND: they
 * are the file's last bytes), so no half line stays; the file's size is
 * read only then, which keeps a stat call off every write. */
static int write_group(struct file_dev *f, int fd, const struct lreq *group)
{
	size_t written = 0;
	int e = writev_all(fd, group, &written);
	if (e == 0 && f->fsynced && fdatasync(fd) != 0)
		e = errno;
	if (e == 0)
		return 0;

	size_t lines = 0;
	for (const struct lreq *g = group; g; g = next_of(g))
		lines += g->n;
	char nlines[24];
	snprintf(nlines, sizeof(nlines), "%zu", lines);
	log_error("audit file write failed", "path", f->path, "lines", nlines, "error", strerror(e));
	struct stat st;
	if (written > 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size >= written &&
	    ftruncate(fd, st.st_size - (off_t)written) != 0)
		log_error("audit file truncate after a failed write failed; a partial line may remain",
		          "path", f->path, "error", strerror(errno));
	return TROVE_ERR_IO;
}

/* A caller's lines join the queue as one request: they are written in
 * one group, so they succeed or fail together. */
static int file_write_lines(struct audit_device *d, const struct iovec *lines, size_t n)
{
	struct file_dev *f = (struct file_dev *)d;
	struct lreq w = {.lines = lines, .n = n};

	if (f->kind == FILE_DISCARD)
		return 0;
	pthread_mutex_lock(&f->mu);
	gc_enqueue(&f->q, &w.gc);
	if (gc_await(&f->q, &w.gc, &f->mu))
		return w.gc.result; /* published by a leader; lock not held */

	/* Still queued, and no write in flight: lead; the group (the whole
	 * queue) holds w. */
	f->q.busy = true;
	struct lreq *group = (struct lreq *)gc_take(&f->q, NULL, NULL);
	int fd = f->busy_fd = f->fd;
	pthread_mutex_unlock(&f->mu);

	int r = write_group(f, fd, group);

	pthread_mutex_lock(&f->mu);
	if (f->fd != fd)
		close(fd); /* reopened meanwhile; the new fd is f->fd */
	f->busy_fd = -1;
	gc_handoff(&f->q); /* the next leader; still queued, so it cannot return yet */
	pthread_mutex_unlock(&f->mu);

	gc_publish(&group->gc, &w.gc, true, r);
	return r;
}

static int file_reopen(struct audit_device *d)
{
	struct file_dev *f = (struct file_dev *)d;

	if (f->kind != FILE_PATH)
		return 0;
	struct buf err;
	buf_init(&err, 8192);
	int fd = open_path(f, &err);
	if (fd < 0) {
		log_error("audit file reopen failed; still writing to the old file", "path", f->path, "error",
		          err.data);
		buf_release(&err);
		return TROVE_ERR_IO;
	}
	buf_release(&err);
	pthread_mutex_lock(&f->mu);
	int old = f->fd;
	f->fd = fd;
	if (old != f->busy_fd)
		close(old); /* else the leader using it closes it */
	pthread_mutex_unlock(&f->mu);
	return 0;
}

/* The options as file_open reads them, for a config file: file_path must
 * then be absolute (or stdout, discard). */
static int file_check(const json_t *options, struct buf *err)
{
	struct file_dev *f = xcalloc(1, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->fd = -1;
	int r = parse_options(f, options, &audit_limits_trusted, err);
	if (r == 0 && f->kind == FILE_PATH && f->path[0] != '/') {
		buf_printf(err, "file_path: \"%s\" must be an absolute path (or \"stdout\", \"discard\")",
		           f->path);
		r = TROVE_ERR_INVALID;
	}
	file_free(f);
	return r;
}

static void file_close(struct audit_device *d)
{
	file_free((struct file_dev *)d);
}

const struct audit_device_ops audit_file_ops = {
    .type = "file",
    .options = file_options,
    .open = file_open,
    .check = file_check,
    .write = NULL,
    .write_lines = file_write_lines,
    .reopen = file_reopen,
    .close = file_close,
};
