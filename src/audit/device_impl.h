/* device_impl.h — what device.c shares with the device types (private to
 * src/audit).
 *
 * Each type (file.c, socket.c, syslog.c) exports one audit_device_ops: its
 * name, its option keys and four functions. Its struct embeds struct
 * audit_device as the first member, so device.c casts between the two.
 * device.c does everything common: it finds the type, checks the options
 * (every device option present is a string without NUL bytes by the time
 * a type's open() runs), fills in ops, and counts failed writes; a type
 * only sets may_block. A type writes one line (write) or a batch of lines
 * at once (write_lines); device.c serves both calls of device.h with
 * whichever the type has. */
#ifndef TROVE_AUDIT_DEVICE_IMPL_H
#define TROVE_AUDIT_DEVICE_IMPL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "audit/device.h"
#include "buf.h"

struct audit_device_ops {
	const char *type;
	const char *const *options; /* the type's own option keys, NULL-terminated */
	/* Returns a zeroed-then-filled device, or NULL with a message in err. */
	struct audit_device *(*open)(const json_t *options, const struct audit_limits *lim, struct buf *err);
	/* Checks the type's own options without opening: 0 or
	 * TROVE_ERR_INVALID. NULL: nothing beyond device.c's checks. */
	int (*check)(const json_t *options, struct buf *err);
	/* One line: 0 or TROVE_ERR_IO (having logged why, without the
	 * line). A type that has write_lines may leave this NULL. */
	int (*write)(struct audit_device *d, const char *line, size_t len);
	/* n lines (n >= 1) in this order, all or none: 0 or TROVE_ERR_IO
	 * (logged once, without the lines). NULL: device.c writes the lines
	 * one by one with write(). */
	int (*write_lines)(struct audit_device *d, const struct iovec *lines, size_t n);
	int (*reopen)(struct audit_device *d); /* NULL: nothing to reopen */
	void (*close)(struct audit_device *d);
};

struct audit_device {
	const struct audit_device_ops *ops; /* set by device.c */
	_Atomic uint64_t failures;          /* bumped by device.c */
	bool may_block;                     /* set by the type's open() */
};

extern const struct audit_device_ops audit_file_ops;
extern const struct audit_device_ops audit_socket_ops;
extern const struct audit_device_ops audit_syslog_ops;

/* The string value of option `key`, or NULL when absent (options may be
 * NULL). */
const char *audit_opt(const json_t *options, const char *key);

#endif
