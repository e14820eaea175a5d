/* audit_device.h — what the audit broker (audit.h) needs of the audit
 * devices, which live above the core (src/audit, contract in
 * audit/device.h) and are given to it at start-up as a table of
 * functions (core_config.audit_devices): open a device of a named type,
 * check a type's options, and write, reopen, query and close a device.
 * The core never names a device type itself. */
#ifndef TROVE_CORE_AUDIT_DEVICE_H
#define TROVE_CORE_AUDIT_DEVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "buf.h"

struct audit_device; /* a device, opaque to the core */

/* Where a device may write. A device declared in the server config file is
 * trusted: its file_path is opened as the operator wrote it (links
 * followed, a character device such as /dev/stdout allowed). A device
 * enabled through the API is not: its file_path must lie under one of
 * file_dirs and is opened without following links, regular files only
 * (audit/file_path.h); "stdout" and "discard" are always allowed. */
struct audit_limits {
	bool trusted;
	const char *const *file_dirs; /* borrowed; none: API file devices
	                               * may only use stdout and discard */
	size_t nfile_dirs;
};

/* The audit device types. Each member has the contract of the
 * audit/device.h function of the same name (audit_device_open ...); all
 * are thread-safe. */
struct audit_device_types {
	struct audit_device *(*open)(const char *type, const json_t *options, const struct audit_limits *lim,
	                             struct buf *err);
	int (*check)(const char *type, const json_t *options, struct buf *err);
	bool (*option_known)(const char *type, const char *key);
	int (*write)(struct audit_device *d, const char *line, size_t len);
	size_t (*write_lines)(struct audit_device *d, const struct iovec *lines, size_t n, bool *ok);
	int (*reopen)(struct audit_device *d);
	bool (*may_block)(const struct audit_device *d);
	uint64_t (*failures)(const struct audit_device *d);
	void (*close)(struct audit_device *d);
};

#endif
