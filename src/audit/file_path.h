/* file_path.h — where a file audit device enabled through the API may
 * write (private to src/audit).
 *
 * The sys/audit API is root-protected, but a sudo token is not host root:
 * a device's file_path must not let it write a line into /etc/cron.d,
 * chmod /etc/shadow or follow a link planted in a shared directory. So an
 * API device's file_path is canonical (absolute, no "." or ".." or empty
 * component, no trailing '/'), lies below one of the directories the
 * server config allows (audit_file_dirs), and is opened component by
 * component below that directory with openat and O_NOFOLLOW: no symbolic
 * link is followed after the allowed directory itself (which the operator
 * named, and which may be a link). The file must be a regular file with a
 * single link, or is created; a FIFO, a device or a directory is refused. */
#ifndef TROVE_AUDIT_FILE_PATH_H
#define TROVE_AUDIT_FILE_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* Splits `path` into the allowed directory it lies under (*dir, as the
 * config wrote it without trailing '/') and the rest (*rel, no leading
 * '/'), both malloc'd for the caller. 0, or TROVE_ERR_INVALID with err
 * naming file_path and the reason (not canonical, outside every allowed
 * directory, or no directory allowed at all). */
int audit_path_split(const char *path, const char *const *dirs, size_t ndirs, char **dir, char **rel,
                     struct buf *err);

/* Opens dir/rel for appending as described above: dir is opened following
 * links, every component of rel without. A missing final component is
 * created with `mode` exactly (the umask does not change it); an existing
 * file's mode is left alone. Returns the fd (O_WRONLY|O_APPEND|O_CLOEXEC,
 * blocking), or -1 with err saying why (naming file_path). */
int audit_path_open(const char *dir, const char *rel, mode_t mode, struct buf *err);

#endif
