/* audit_query.h — reading file audit logs to answer questions about them:
 * which requests match some filters (`trove audit query`) and who used a
 * secret (`trove audit consumers`).
 *
 * A scan reads lines (from memory, a file, or a file with its logrotate
 * siblings, plain or gzip: audit_log.h), parses each into an entry
 * (audit_line.h), keeps the entries that pass a filter (audit_filter.h),
 * and at the end hands them back in time order, or grouped by identity
 * for consumers (audit_consumers.h). This header brings in those.
 *
 * An entries scan keeps where each kept entry is (file and offset), not
 * the entry: it reads kept lines again, in time order, as it hands them
 * out. Nothing here prints; errors are written into a caller's buffer,
 * naming the flag or file at fault. */
#ifndef TROVE_CLI_AUDIT_QUERY_H
#define TROVE_CLI_AUDIT_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "cli/audit_consumers.h"
#include "cli/audit_filter.h"
#include "cli/audit_line.h"
#include "cli/audit_log.h"
#include "cli/audit_time.h"

/* The filter's verdict on e, the show setting aside. */
bool aq_entry_match(const struct aq_filter *f, const struct aq_entry *e);

/* What a scan keeps: entries to show, or consumer groups. */
enum aq_mode { AQ_MODE_ENTRIES, AQ_MODE_CONSUMERS };

struct aq_kept;
struct aq_file;

struct aq_scan {
	const struct aq_filter *filter;
	enum aq_mode mode;
	size_t lines, malformed;
	/* the rest is the scan's own */
	/* entries mode: where the kept entries are, in reading order */
	struct aq_kept *kept;
	size_t nkept, kept_size, ndropped;
	json_t *responded; /* request ids that have a response entry */
	json_t *pending;   /* request id -> [file, offset] of its kept request entry */
	/* consumers mode */
	struct aq_groups groups;
	/* files read (by device and inode, so a file named twice is read
	 * once), and runs of lines fed from memory, numbered in reading order */
	struct aq_file *files;
	size_t nfiles;
	size_t file;         /* the file being read, or SIZE_MAX */
	size_t memory;       /* the run of lines from memory being fed, or SIZE_MAX */
	uint64_t memory_pos; /* the next line's number in that run */
};

void aq_scan_init(struct aq_scan *s, const struct aq_filter *f, enum aq_mode mode);
void aq_scan_release(struct aq_scan *s);
/* Feeds one line (without or with its "\n"). */
void aq_scan_line(struct aq_scan *s, const char *line, size_t len);
/* Feeds every line of one file, plain or gzip. Returns 0, or -1 with
 * "<path>: <reason>" in err. */
int aq_scan_file(struct aq_scan *s, const char *path, struct buf *err);
/* aq_log_files, then aq_scan_file on each. */
int aq_scan_log(struct aq_scan *s, const char *path, struct buf *err);

/* Entries mode: how many entries there are to show. */
size_t aq_scan_count(struct aq_scan *s);
/* Called with each entry to show; returns false to stop. */
typedef bool (*aq_entry_fn)(void *arg, const struct aq_entry *e);
/* Entries mode: calls fn on each entry to show, in time order (entries of
 * the same time in reading order). Returns 0, 1 when fn stopped it, or -1
 * with a message in err when a file cannot be read again (it changed). */
int aq_scan_each(struct aq_scan *s, aq_entry_fn fn, void *arg, struct buf *err);
/* Entries mode: a new array of the entries to show, in time order; NULL
 * when a file cannot be read again. */
json_t *aq_scan_entries(struct aq_scan *s);
/* Consumers mode: aq_groups_consumers of what was read. */
json_t *aq_scan_consumers(const struct aq_scan *s);

#endif
