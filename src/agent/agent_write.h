/* agent_write.h — the files the agent renders: reading what a destination
 * holds now, and replacing it atomically.
 *
 * A rendered file is never seen half-written: the new content goes to a
 * temporary file in the destination's own directory (so the final rename
 * stays on one filesystem), whose mode is set before the first byte is
 * written, is flushed with fsync and then renamed over the destination.
 * A failure at any step removes the temporary file and leaves the
 * destination as it was. */
#ifndef TROVE_AGENT_WRITE_H
#define TROVE_AGENT_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define AGENT_WRITE_KEEP_MODE UINT32_MAX

struct agent_write_opts {
	/* the file's mode, exactly (the umask does not apply); AGENT_WRITE_KEEP_MODE:
	 * the mode of the file being replaced, 0644 for a new file */
	uint32_t perms;
	bool create_dirs; /* make missing parent directories, mode 0755 */
	bool backup;      /* keep the file being replaced as <path>.bak */
};

/* Reads path into out (appended; out's own cap applies, and a file longer
 * than cap bytes is refused). Returns 0; TROVE_ERR_NOT_FOUND when there is
 * no such file; TROVE_ERR_TOO_LARGE past cap; TROVE_ERR_IO with err naming
 * the path and the reason. */
int agent_file_read(const char *path, size_t cap, struct buf *out, struct buf *err);

/* Whether path holds exactly len bytes equal to data (false when it
 * cannot be read). */
bool agent_file_same(const char *path, const void *data, size_t len);

/* Replaces path with len bytes of data as described above. Returns 0, or
 * TROVE_ERR_IO (TROVE_ERR_NOT_FOUND when the directory is missing and
 * create_dirs is off) with err naming the path and the failed step. */
int agent_file_write(const char *path, const void *data, size_t len, const struct agent_write_opts *o,
                     struct buf *err);

#endif
