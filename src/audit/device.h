/* device.h — audit devices: where formatted audit entries are recorded.
 *
 * The audit broker (core/audit.h) formats each entry once per device (the
 * HMAC salt is per device) and hands the device one complete line: the
 * device's `prefix` option, the JSON object, and a final '\n'. A device
 * either records the whole line and returns 0, or returns an error; it
 * never records part of a line and calls that success. What "recorded"
 * means is the device's contract:
 *
 *   file    options: file_path (required; "stdout" and "discard" are
 *           special), mode (octal string, default "0600", at most "0640":
 *           only bits of 0640; "0000" means the default), applied only to
 *           a file the device creates, never to an existing one; recorded
 *           = "flushed" (default: the whole line was
 *           handed to the kernel with write(2), so it survives a crash of
 *           Trove but not of the machine) | "fsynced" (fdatasync returned
 *           as well). Concurrent writers are batched: whoever finds no
 *           write in flight writes every queued line with one writev and,
 *           for "fsynced", one fdatasync, then wakes the others with their
 *           result (the same leader/follower scheme as the LMDB backend).
 *           The lines of one audit_device_write_lines call join that queue
 *           together and share its fate.
 *           A short write (full disk) is an error for every line in the
 *           batch; the file is truncated back to its length before the
 *           batch so a half line never stays in the log. reopen() closes
 *           and reopens file_path (logrotate's SIGHUP).
 *   socket  options: address (required), socket_type = "tcp" (default) |
 *           "udp" | "unix", write_timeout (duration, default "2s"). The
 *           connection is made lazily and remade after any failure; a write
 *           that does not complete within write_timeout fails (and drops the
 *           connection, since a partial line may have been sent). Never
 *           blocks longer than write_timeout per line (connect included).
 *   syslog  options: facility (default "AUTH"), tag (default "trove").
 *           One datagram per line to /dev/log (RFC 3164 framing with the
 *           facility and tag of this device; the trailing newline is not
 *           sent); a send failure is an error.
 *
 * Unknown options are refused (the error names them); values are strings
 * as Vault stores them. Devices are thread-safe: audit_device_write and
 * audit_device_write_lines may be called from any thread at once. */
#ifndef TROVE_AUDIT_DEVICE_H
#define TROVE_AUDIT_DEVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "buf.h"
#include "core/audit_device.h"

struct audit_device;

/* The limits of a device declared in the server config. */
extern const struct audit_limits audit_limits_trusted;

/* Opens a device of `type` ("file", "socket", "syslog") with `options`
 * (a JSON object of strings, or NULL for none). The options the broker
 * itself handles (format, prefix, log_raw, hmac_accessor,
 * elide_list_responses, hmac_request_keys...) are ignored here; see
 * audit_device_option_known. On failure returns NULL with a message for
 * the client in err, naming the option and the reason, e.g.
 *   "file_path is required"
 *   "sanity check failed; unable to open \"/x/y\" for writing: No such file or directory"
 *   "unknown audit device type \"x\""
 *   "mode: expected an octal file mode such as \"0600\""
 *   "file_path: \"/x/l\" is a symbolic link, which is not followed"
 * A file device checks at open that it can append to file_path (creating
 * it with `mode`), as Vault's sanity check does; whether it can record a
 * line is the broker's test entry (core/audit.h). lim must not be NULL. */
struct audit_device *audit_device_open(const char *type, const json_t *options,
                                       const struct audit_limits *lim, struct buf *err);

/* Whether the len bytes at path are a canonical absolute path: starts
 * with '/', no empty, "." or ".." component, no trailing '/', no control
 * byte. An API file device's file_path must be one, and so must each of
 * the config's audit_file_dirs. */
bool audit_path_canonical(const char *path, size_t len);

/* Checks type and options as audit_device_open would, without opening
 * or creating anything (for trove server -check): 0 or TROVE_ERR_INVALID
 * with err filled. */
int audit_device_check(const char *type, const json_t *options, struct buf *err);

/* Whether `key` is an option of device `type` (the broker refuses options
 * neither it nor the device knows). */
bool audit_device_option_known(const char *type, const char *key);

/* Records one line (line[len-1] == '\n'). 0 on success; TROVE_ERR_IO when
 * it could not be recorded (the device logs why, without the line). */
int audit_device_write(struct audit_device *d, const char *line, size_t len);

/* Records n lines (each ending with '\n') in this order: ok[i] tells
 * whether line i was recorded; returns how many were. A file device
 * records them as one batch, all or none: the lines go out in the same
 * group write (one writev) and, for "fsynced", the same fdatasync, and a
 * failure fails every line of the call and is cut off the file as above.
 * Socket and syslog devices record them one by one, each line on its own.
 * A line without its '\n' (a broker bug) fails the whole call. */
size_t audit_device_write_lines(struct audit_device *d, const struct iovec *lines, size_t n, bool *ok);

/* Reopens the output (file: the path again, after rotation); a no-op for
 * other types. 0 or TROVE_ERR_IO. */
int audit_device_reopen(struct audit_device *d);

/* Whether a write may wait on something slow (fsync, a network peer):
 * requests are then run on the worker pool rather than an event loop. */
bool audit_device_may_block(const struct audit_device *d);

/* Lines that could not be recorded since open. */
uint64_t audit_device_failures(const struct audit_device *d);

/* Closes and frees (NULL is fine). No write may be in flight. */
void audit_device_close(struct audit_device *d);

/* The functions above as the table the server gives the core
 * (core_config.audit_devices, core/audit_device.h). */
extern const struct audit_device_types audit_device_types;

#endif
