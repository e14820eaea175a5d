/* file_path.c — resolving and opening an API file device's path without
 * following links (see file_path.h).
 *
 * Why openat and not realpath: realpath answers about the path as it was,
 * and a link swapped in between the check and the open would still be
 * followed. Opening each directory with O_NOFOLLOW|O_DIRECTORY below the
 * allowed one, then the file with O_NOFOLLOW, checks the very objects the
 * fd ends up on. The file is opened O_NONBLOCK first so that a FIFO with no
 * reader cannot hang the request, then checked with fstat on the fd. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/device.h"
#include "audit/file_path.h"
#include "buf.h"
#include "err.h"

#include "banned.h"

#define PATH_MAX_LEN 4095

bool audit_path_canonical(const char *path, size_t len)
{
	if (len < 2 || len > PATH_MAX_LEN || path[0] != '/' || path[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	/* every component: non-empty, not "." or ".." */
	for (size_t i = 1; i <= len;) {
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		size_t n = j - i;
		if (n == 0 || (n == 1 && path[i] == '.') || (n == 2 && path[i] == '.' && path[i + 1] == '.'))
			return false;
		i = j + 1;
	}
	return true;
}

int audit_path_split(const char *path, const char *const *dirs, size_t ndirs, char **dir, char **rel,
                     struct buf *err)
{
	size_t len = strlen(path);

	*dir = *rel = NULL;
	if (!audit_path_canonical(path, len)) {
		buf_printf(err,
		           "file_path: \"%s\" must be an absolute path without \".\", \"..\", empty "
		           "components, control characters or a trailing '/'",
		           path);
		return TROVE_ERR_INVALID;
	}
	if (ndirs == 0) {
		buf_append_str(err,
		               "file_path: no directory is allowed for audit files enabled through the API "
		               "(set audit_file_dirs in the server config, or declare the device in an audit "
		               "block there)");
		return TROVE_ERR_INVALID;
	}
	for (size_t i = 0; i < ndirs; i++) {
		size_t n = strlen(dirs[i]);
		while (n > 1 && dirs[i][n - 1] == '/')
			n--;
		if (n == 1 && dirs[i][0] == '/')
			n = 0; /* "/" itself: everything below it */
		if (len > n + 1 && strncmp(path, dirs[i], n) == 0 && path[n] == '/') {
			*dir = n ? xstrndup(dirs[i], n) : xstrdup("/");
			*rel = xstrdup(path + n + 1);
			return 0;
		}
	}
	buf_printf(err, "file_path: \"%s\" is not under a directory allowed by audit_file_dirs", path);
	return TROVE_ERR_INVALID;
}

/* Opens the last component of a walk: the fd or -1 with err filled. */
static int open_leaf(int dirfd, const char *name, const char *shown, mode_t mode, struct buf *err)
{
	struct stat st;
	bool created = true;
	int fd = openat(dirfd, name,
	                O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		created = false;
		fd = openat(dirfd, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	}
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP)
			buf_printf(err, "file_path: \"%s\" is a symbolic link, which is not followed", shown);
		else if (e == ENXIO)
			buf_printf(err, "file_path: \"%s\" is not a regular file", shown);
		else
			buf_printf(err,
			           "file_path: sanity check failed; unable to open \"%s\" for writing: %s",
			           shown, strerror(e));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		buf_printf(err, "file_path: \"%s\" is not a regular file", shown);
		goto fail;
	}
	if (!created && st.st_nlink != 1) {
		buf_printf(err, "file_path: \"%s\" has other hard links; refusing to write to it", shown);
		goto fail;
	}
	/* Created here: exactly the mode asked for, whatever the umask. */
	if (created && fchmod(fd, mode) != 0) {
		buf_printf(err, "file_path: sanity check failed; unable to set the mode of \"%s\": %s", shown,
		           strerror(errno));
		goto fail;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		buf_printf(err, "file_path: sanity check failed; unable to open \"%s\" for writing: %s",
		           shown, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	if (created)
		(void)unlinkat(dirfd, name, 0);
	return -1;
}

int audit_path_open(const char *dir, const char *rel, mode_t mode, struct buf *err)
{
	struct buf shown;
	int dirfd = -1, fd = -1;
	char *walk = xstrdup(rel);
	char *comp = walk;

	buf_init(&shown, PATH_MAX_LEN + 2);
	buf_append_str(&shown, dir);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		buf_printf(err, "file_path: sanity check failed; unable to open the directory \"%s\": %s",
		           dir, strerror(errno));
		goto out;
	}
	for (;;) {
		char *slash = strchr(comp, '/');
		if (shown.len > 0 && shown.data[shown.len - 1] != '/')
			buf_append_str(&shown, "/");
		if (slash == NULL) {
			buf_append_str(&shown, comp);
			fd = open_leaf(dirfd, comp, shown.data, mode, err);
			break;
		}
		*slash = '\0';
		buf_append_str(&shown, comp);
		int next = openat(dirfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			int e = errno;
			if (e == ELOOP || e == ENOTDIR) {
				struct stat st;
				bool link = fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				            S_ISLNK(st.st_mode);
				buf_printf(err, "file_path: \"%s\" is %s", shown.data,
				           link ? "a symbolic link, which is not followed"
				                : "not a directory");
			} else {
				buf_printf(err, "file_path: sanity check failed; unable to open \"%s\": %s",
				           shown.data, strerror(e));
			}
			goto out;
		}
		close(dirfd);
		dirfd = next;
		comp = slash + 1;
	}
out:
	if (dirfd >= 0)
		close(dirfd);
	buf_release(&shown);
	free(walk);
	return fd;
}
