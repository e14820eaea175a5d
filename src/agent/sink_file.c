/* sink_file.c — the atomic file write of a sink (sink.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/sink.h"
#include "err.h"
#include "rand.h"

#include "banned.h"

static int fail(struct buf *err, const char *what, const char *path, int e)
{
	buf_printf(err, "%s %s: %s", what, path, strerror(e));
	return TROVE_ERR_IO;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync of path's directory, so that the rename survives a crash. */
static void sync_dir(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

int sink_file_write(const char *path, mode_t mode, uid_t uid, gid_t gid, const char *data, size_t len,
                    struct buf *err)
{
	struct buf tmp;
	char suffix[9];
	int fd = -1, e, r = TROVE_ERR_IO;
	bool created = false;

	buf_init(&tmp, 8192);
	if (rand_base62(suffix, 8) != 0) {
		buf_append_str(err, "no randomness for a temporary file name");
		r = TROVE_ERR_INTERNAL;
		goto out;
	}
	buf_printf(&tmp, "%s.tmp.%s", path, suffix);
	/* The mode is the file's from its creation: no byte is ever readable
	 * with looser permissions (the umask is lifted by fchmod below). */
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
	if (fd < 0) {
		r = fail(err, "cannot create", tmp.data, errno);
		goto out;
	}
	created = true;
	if (fchmod(fd, mode & 07777) != 0) {
		r = fail(err, "cannot set the mode of", tmp.data, errno);
		goto out;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) != 0) {
		r = fail(err, "cannot change the owner of", tmp.data, errno);
		goto out;
	}
	if ((e = write_all(fd, data, len)) != 0) {
		r = fail(err, "cannot write", tmp.data, e);
		goto out;
	}
	if (fsync(fd) != 0) {
		r = fail(err, "cannot sync", tmp.data, errno);
		goto out;
	}
	e = close(fd);
	fd = -1;
	if (e != 0) {
		r = fail(err, "cannot close", tmp.data, errno);
		goto out;
	}
	if (rename(tmp.data, path) != 0) {
		r = fail(err, "cannot rename the temporary file to", path, errno);
		goto out;
	}
	sync_dir(path);
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (r != 0 && created)
		(void)unlink(tmp.data);
	buf_release(&tmp);
	return r;
}
