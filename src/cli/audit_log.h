/* audit_log.h — the files of a file audit log: which files make it up
 * (logrotate's siblings, oldest first), reading their lines (plain or
 * gzip) with the offset of each, and reading one line again later by its
 * offset, so that a reader can keep where an entry is instead of the
 * entry itself. Errors are written into a caller's buffer as
 * "<path>: <reason>". */
#ifndef TROVE_CLI_AUDIT_LOG_H
#define TROVE_CLI_AUDIT_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <zlib.h>

#include "buf.h"

/* Lines longer than this are skipped (and counted as malformed). */
#define AQ_LINE_MAX ((size_t)64 << 20)

/* The files of a log, oldest first: the dateext siblings PATH-YYYYMMDD
 * (8 to 14 digits, maybe ".gz") by date, then PATH.N and PATH.N.gz from
 * the highest N down, then PATH itself when it exists. Returns 0, or -1
 * with a message in err when the directory cannot be read or nothing of
 * the log exists. */
int aq_log_files(const char *path, struct strlist *out, struct buf *err);

/* Opens a log file for reading and fills *st. Returns the descriptor, or
 * -1 with a message in err (a directory is an error). */
int aq_log_open(const char *path, struct stat *st, struct buf *err);

/* Called with each line of a file: its bytes without the "\n" (a "\r"
 * stays) and the offset of its first byte in the (uncompressed) file. */
typedef void (*aq_line_fn)(void *arg, const char *line, size_t len, uint64_t offset);

/* Calls fn on each line of the open file fd, plain or gzip, and closes fd.
 * A line longer than AQ_LINE_MAX is skipped and counted in *overlong. Returns
 * 0, or -1 with a message in err. */
int aq_log_read(int fd, const char *path, aq_line_fn fn, void *arg, size_t *overlong, struct buf *err);

/* A checksum of a line's bytes, to tell that a line read again is the
 * same line. */
uint32_t aq_line_hash(const char *line, size_t len);

/* A file read again, forward only, one line at a time. */
struct aq_reread {
	gzFile gz;        /* NULL when closed */
	uint64_t pos;     /* offset of the next byte gzread gives */
	const char *path; /* borrowed, for messages */
	char *scratch;    /* for skipping */
};

/* Opens fd's file (a duplicate of fd is made; fd stays open) from its
 * start. Returns 0, or -1 with a message in err. */
int aq_reread_open(struct aq_reread *r, int fd, const char *path, struct buf *err);
/* Reads the len bytes at offset (not before r->pos) into out, replacing
 * its content (out's cap must allow AQ_LINE_MAX), and checks them
 * against hash. Returns 0, or -1 with a
 * message in err (also when the file changed since it was read). */
int aq_reread_line(struct aq_reread *r, uint64_t offset, size_t len, uint32_t hash, struct buf *out,
                   struct buf *err);
void aq_reread_close(struct aq_reread *r);

#endif
