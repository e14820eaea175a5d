/* audit.h — the audit broker: every request and response recorded, fail
 * closed.
 *
 * The broker owns the enabled audit devices (audit/device.h) and their
 * settings, persisted inside the barrier at AUDIT_TABLE_PATH with each
 * device's HMAC salt (32 random bytes, made when the device is enabled and
 * discarded when it is disabled, so re-enabling gives new hashes), and the
 * request headers that entries carry (AUDIT_HEADERS_PATH).
 *
 * The router logs two entries per audited request: the request entry after
 * the ACL decision and before the handler, the response entry after the
 * handler. Requests an event loop serves together are logged together
 * (audit_broker_log_batch): all their request entries before any of their
 * handlers runs, all their response entries before any reply is sent.
 * Each device gets its own entry (its salt and options) and an entry
 * counts as recorded when at least one device recorded it, or when no
 * device is enabled. Otherwise the router refuses the request (no handler
 * runs) or withholds the response: fail closed. A device that fails is
 * logged (without the entry) and its failures counted; another device that
 * works carries the request on.
 *
 * Devices are read under a read lock, so enable/disable wait for entries
 * in flight. A device that cannot be opened when the table is loaded at
 * unseal stays in the table, failing every write (so a sole broken device
 * refuses requests rather than letting them through unaudited) until a
 * reopen (SIGHUP) succeeds or it is disabled.
 *
 * Devices come from two places. The server config may declare devices
 * (audit blocks): the trusted way, opened at each unseal with their
 * file_path as written, listed by audit_broker_list with
 * "declared_in_config": true, never stored in the table the API edits and
 * never disabled through it. Devices enabled through the API are bounded
 * by the config (audit_broker_configure): a file device's file_path must
 * lie under an allowed directory (audit/device.h) and a prefix needs
 * allow_prefix. Every device must record a test entry before the API
 * enables it. */
#ifndef TROVE_AUDIT_H
#define TROVE_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit_entry.h"
#include "buf.h"
#include "storage/storage.h"

#define AUDIT_TABLE_PATH "core/audit"
#define AUDIT_HEADERS_PATH "core/audit-headers"
#define AUDIT_CONFIG_SALTS_PATH "core/audit-config-salts"
#define AUDIT_MAX_CONFIG_DEVICES 32 /* besides the API's 64 */

struct audit_broker;
struct audit_device_types;
struct request;

/* types: the audit device types (core/audit_device.h), borrowed for the
 * broker's lifetime; NULL: none (every type is unknown). */
struct audit_broker *audit_broker_new(const struct audit_device_types *types);
void audit_broker_free(struct audit_broker *b);

/* An audit device the server config declares. */
struct audit_config_device {
	char *path; /* "file" or "file/" */
	char *type;
	char *description;
	json_t *options; /* object; values strings (or numbers, booleans) */
	bool local;
	char *where; /* "file:line" of its block, for messages; may be NULL */
};

/* What the server config says about audit devices. */
struct audit_settings {
	const char *const *file_dirs; /* where API file devices may write */
	size_t nfile_dirs;
	bool allow_prefix; /* API devices may set a prefix */
	const struct audit_config_device *devices;
	size_t ndevices;
};

/* Copies s into the broker; call before the first load (unseal). */
void audit_broker_configure(struct audit_broker *b, const struct audit_settings *s);

/* Checks a declared device's type and options against the device types
 * without opening anything (trove server -check): 0, or TROVE_ERR_INVALID
 * with err naming the option and the reason. */
int audit_config_device_check(const struct audit_device_types *types, const struct audit_config_device *c,
                              struct buf *err);

/* Loads the device table and header settings from `logical` (the barrier's
 * storage, borrowed until unload) and opens the devices. Errors only for
 * storage failures or a corrupt table. */
int audit_broker_load(struct audit_broker *b, struct storage *logical);
/* Another node changed the device table or the header settings in
 * storage: loads them again in one step under the lock (entries see the
 * old devices or the new ones, never none between). Nothing when
 * unloaded. 0, or the storage's error with the devices in use kept. */
int audit_broker_reload(struct audit_broker *b);
/* Closes every device (on seal). */
void audit_broker_unload(struct audit_broker *b);

/* Whether any device is enabled (requests are then audited). */
bool audit_broker_active(struct audit_broker *b);
/* Whether some device may block on a write (requests then leave the
 * event loops for the worker pool). */
bool audit_broker_may_block(struct audit_broker *b);
/* Lines the enabled devices failed to record, summed (each device counts
 * from its enabling or from unseal). */
uint64_t audit_broker_failures(struct audit_broker *b);

struct audit_enable_params {
	const char *path;        /* "file" or "file/"; nested paths allowed */
	const char *type;        /* "file", "socket", "syslog" */
	const char *description; /* may be NULL */
	const json_t *options;   /* object or NULL; values are strings */
	bool local;
};

/* Enables a device: opens it with the config's limits, writes a test
 * entry, then saves the table. TROVE_ERR_INVALID (err says why: a bad
 * option, a path outside the allowed directories, the sanity check, a
 * device that could not record the test entry: then nothing is enabled or
 * saved), TROVE_ERR_CONFLICT when the path is in use. */
int audit_broker_enable(struct audit_broker *b, const struct audit_enable_params *p, struct buf *err);
/* Disables the device at path (no error if there is none, as Vault).
 * TROVE_ERR_INVALID (err says why) for a device the config declares. */
int audit_broker_disable(struct audit_broker *b, const char *path, struct buf *err);
/* {"file/": {"type","description","options","local","path"}, ...}, plus
 * "declared_in_config": true on the config's devices. */
json_t *audit_broker_list(struct audit_broker *b);
/* The hash the device at path gives `input`. TROVE_ERR_NOT_FOUND when no
 * device is there. */
int audit_broker_hash(struct audit_broker *b, const char *path, const char *input, char out[AUDIT_HASH_MAX]);

/* What one request's request entries formatted for auth and request, per
 * device, for its response entries to reuse (audit_entry.h). The router
 * keeps one per request; release it with audit_reuse_release. */
#define AUDIT_REUSE_MAX 8
struct audit_reuse {
	size_t n;
	struct {
		uint64_t device; /* the device's serial, never reused */
		struct buf text;
	} v[AUDIT_REUSE_MAX];
};
void audit_reuse_release(struct audit_reuse *reuse);

/* Records one entry on every device (r->time is filled here when NULL).
 * reuse (may be NULL) carries the auth and request text from a request
 * entry to the response entry. 0 when recorded by at least one device or
 * when none is enabled; TROVE_ERR_IO when no device recorded it. The batch
 * below with one record. */
int audit_broker_log(struct audit_broker *b, struct audit_record *r, struct audit_reuse *reuse);

/* One record of a batch, with its request's reuse (may be NULL) and its
 * outcome, set by audit_broker_log_batch. */
struct audit_log_item {
	struct audit_record *rec;
	struct audit_reuse *reuse;
	int result; /* 0 or TROVE_ERR_IO, as audit_broker_log returns */
};

/* Records the entries of n records (each with its own time, filled in as
 * above) on every device, handing each device all of its lines of the batch
 * in one call (audit_device_write_lines): a file device writes them with
 * one writev, and records them all or none. Each record is judged on its
 * own by the rule of audit_broker_log: items[i].result is 0 when at least
 * one device recorded its entry (or none is enabled), TROVE_ERR_IO when
 * none did. So with one file device a failed write refuses every record of
 * the batch; with two, a record stands as long as either device recorded
 * it. Returns how many records were refused. */
size_t audit_broker_log_batch(struct audit_broker *b, struct audit_log_item *items, size_t n);

/* Reopens every device's output (logrotate's SIGHUP). */
void audit_broker_reopen(struct audit_broker *b);

/* Request headers to record: name (case-insensitive) -> whether its value
 * is HMAC'd. */
int audit_headers_set(struct audit_broker *b, const char *name, bool hmac);
int audit_headers_delete(struct audit_broker *b, const char *name);
/* {"<name>": {"hmac": bool}, ...} */
json_t *audit_headers_list(struct audit_broker *b);
/* {"hmac": bool} for one header, or NULL. */
json_t *audit_headers_get(struct audit_broker *b, const char *name);
/* Whether any header is configured (the HTTP layer then keeps the
 * request's headers in req->headers). */
bool audit_headers_wanted(struct audit_broker *b);

#endif
