/* agent_write.c — reading a destination and replacing it atomically
 * (agent_write.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_write.h"
#include "err.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

int agent_file_read(const char *path, size_t cap, struct buf *out, struct buf *err)
{
	int r = TROVE_ERR_IO;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t total = 0;

	if (fd < 0) {
		if (errno == ENOENT)
			return TROVE_ERR_NOT_FOUND;
		buf_printf(err, "%s: %s", path, strerror(errno));
		return TROVE_ERR_IO;
	}
	for (;;) {
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_printf(err, "%s: %s", path, strerror(errno));
			r = TROVE_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > cap) {
			buf_printf(err, "%s: longer than %zu bytes", path, cap);
			r = TROVE_ERR_TOO_LARGE;
		} else {
			r = buf_append(out, chunk, (size_t)n);
		}
		secure_wipe(chunk, sizeof(chunk));
		if (r != 0)
			goto out;
	}
	r = 0;
out:
	close(fd);
	return r;
}

bool agent_file_same(const char *path, const void *data, size_t len)
{
	struct buf cur, err;
	bool same;

	buf_init_secret(&cur, len + 1);
	buf_init(&err, 256);
	same = agent_file_read(path, len, &cur, &err) == 0 && cur.len == len && memcmp(cur.data, data, len) == 0;
	buf_release_secret(&cur);
	buf_release(&err);
	return same;
}

/* mkdir -p of the directory part of path (which is modified and restored). */
static int make_parents(char *path, struct buf *err)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			buf_printf(err, "creating directory %s: %s", path, strerror(errno));
			*p = '/';
			return TROVE_ERR_IO;
		}
		*p = '/';
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Keeps the current file as <path>.bak: a second name for its inode, which
 * the rename that follows leaves alone. A failure is not fatal. */
static void keep_backup(const char *path)
{
	struct buf bak;

	buf_init(&bak, 4096 + 8);
	if (buf_printf(&bak, "%s.bak", path) == 0 && access(path, F_OK) == 0) {
		unlink(bak.data);
		if (link(path, bak.data) != 0) {
			/* another filesystem or no hard links: leave it be */
		}
	}
	buf_release(&bak);
}

static void sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* perms, or for AGENT_WRITE_KEEP_MODE the mode of the file at path (0644
 * when there is none). */
static mode_t mode_for(const char *path, uint32_t perms)
{
	struct stat st;

	if (perms != AGENT_WRITE_KEEP_MODE)
		return (mode_t)(perms & 07777);
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
		return st.st_mode & 07777;
	return 0644;
}

int agent_file_write(const char *path, const void *data, size_t len, const struct agent_write_opts *o,
                     struct buf *err)
{
	int r = TROVE_ERR_IO;
	struct buf tmp;
	char *copy = NULL;
	const char *slash = strrchr(path, '/');
	char rnd[9];
	int fd = -1;
	bool created = false;

	buf_init(&tmp, 4096 + 64);
	if (o->create_dirs && slash && slash != path) {
		copy = xstrdup(path);
		if ((r = make_parents(copy, err)) != 0)
			goto out;
	}
	if (rand_base62(rnd, 8) != 0 ||
	    buf_printf(&tmp, "%.*s.%s.%s.tmp", slash ? (int)(slash - path + 1) : 0, path, slash ? slash + 1 : path,
	               rnd) != 0) {
		buf_printf(err, "%s: name too long", path);
		r = TROVE_ERR_IO;
		goto out;
	}
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = errno == ENOENT ? TROVE_ERR_NOT_FOUND : TROVE_ERR_IO;
		buf_printf(err, "creating %s: %s", tmp.data, strerror(errno));
		goto out;
	}
	created = true;
	/* The mode is final before any byte of the content is in the file. */
	if (fchmod(fd, mode_for(path, o->perms)) != 0) {
		buf_printf(err, "setting the mode of %s: %s", tmp.data, strerror(errno));
		r = TROVE_ERR_IO;
		goto out;
	}
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		buf_printf(err, "writing %s: %s", tmp.data, errno ? strerror(errno) : "short write");
		r = TROVE_ERR_IO;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		buf_printf(err, "writing %s: %s", tmp.data, strerror(errno));
		r = TROVE_ERR_IO;
		goto out;
	}
	fd = -1;
	if (o->backup)
		keep_backup(path);
	if (rename(tmp.data, path) != 0) {
		buf_printf(err, "renaming %s to %s: %s", tmp.data, path, strerror(errno));
		r = TROVE_ERR_IO;
		goto out;
	}
	sync_dir(path);
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (r != 0 && created)
		unlink(tmp.data);
	free(copy);
	buf_release(&tmp);
	return r;
}
