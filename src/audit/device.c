/* device.c — audit device dispatch: type lookup, option checking, and the
 * calls every type shares (see device.h for the contract).
 *
 * Options are checked here once for all types: the broker's own keys are
 * skipped whatever their value, every other key must be one of the type's
 * and hold a string (Vault stores options as map[string]string) without a
 * NUL byte, so a type's open() only reads strings with audit_opt(). The
 * failure counter is bumped here, once per line a type's write() or
 * write_lines() refused, so "failures" counts lines whatever batching the
 * type does. */
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "audit/device.h"
#include "audit/device_impl.h"
#include "buf.h"
#include "err.h"

#include "banned.h"

static const struct audit_device_ops *const types[] = {
    &audit_file_ops,
    &audit_socket_ops,
    &audit_syslog_ops,
};

/* Keys the broker (core/audit.c) handles; a device never sees them. */
static const char *const broker_keys[] = {
    "format",   "prefix", "log_raw", "hmac_accessor",     "elide_list_responses",
    "fallback", "filter", "exclude", "hmac_request_keys",
};

static const struct audit_device_ops *find_type(const char *type)
{
	if (type == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i]->type, type) == 0)
			return types[i];
	return NULL;
}

static bool is_broker_key(const char *key)
{
	for (size_t i = 0; i < sizeof(broker_keys) / sizeof(broker_keys[0]); i++)
		if (strcmp(broker_keys[i], key) == 0)
			return true;
	return false;
}

static bool is_device_key(const struct audit_device_ops *ops, const char *key)
{
	for (const char *const *k = ops->options; *k; k++)
		if (strcmp(*k, key) == 0)
			return true;
	return false;
}

const char *audit_opt(const json_t *options, const char *key)
{
	return options ? json_string_value(json_object_get(options, key)) : NULL;
}

/* Every key is the broker's or the type's, and the type's are strings. */
static int check_options(const struct audit_device_ops *ops, const json_t *options, struct buf *err)
{
	const char *key;
	json_t *value;

	if (options == NULL)
		return 0;
	if (!json_is_object(options)) {
		buf_append_str(err, "options: expected an object of strings");
		return TROVE_ERR_INVALID;
	}
	json_object_foreach((json_t *)options, key, value)
	{
		if (is_broker_key(key))
			continue;
		if (!is_device_key(ops, key)) {
			buf_printf(err, "unknown option \"%s\" for audit device type \"%s\"", key, ops->type);
			return TROVE_ERR_INVALID;
		}
		if (!json_is_string(value)) {
			buf_printf(err, "%s: expected a string", key);
			return TROVE_ERR_INVALID;
		}
		if (strlen(json_string_value(value)) != json_string_length(value)) {
			buf_printf(err, "%s: contains a NUL byte", key);
			return TROVE_ERR_INVALID;
		}
	}
	return 0;
}

const struct audit_limits audit_limits_trusted = {.trusted = true};

struct audit_device *audit_device_open(const char *type, const json_t *options,
                                       const struct audit_limits *lim, struct buf *err)
{
	const struct audit_device_ops *ops = find_type(type);
	if (ops == NULL) {
		buf_printf(err, "unknown audit device type \"%s\"", type ? type : "");
		return NULL;
	}
	if (check_options(ops, options, err) != 0)
		return NULL;
	struct audit_device *d = ops->open(options, lim, err);
	if (d == NULL)
		return NULL;
	d->ops = ops;
	atomic_init(&d->failures, 0);
	return d;
}

int audit_device_check(const char *type, const json_t *options, struct buf *err)
{
	const struct audit_device_ops *ops = find_type(type);
	int r;
	if (ops == NULL) {
		buf_printf(err, "unknown audit device type \"%s\"", type ? type : "");
		return TROVE_ERR_INVALID;
	}
	if ((r = check_options(ops, options, err)) != 0)
		return r;
	return ops->check ? ops->check(options, err) : 0;
}

bool audit_device_option_known(const char *type, const char *key)
{
	const struct audit_device_ops *ops = find_type(type);
	return ops != NULL && key != NULL && is_device_key(ops, key);
}

static bool well_formed(const struct iovec *l)
{
	return l->iov_len > 0 && ((const char *)l->iov_base)[l->iov_len - 1] == '\n';
}

size_t audit_device_write_lines(struct audit_device *d, const struct iovec *lines, size_t n, bool *ok)
{
	size_t done = 0;

	for (size_t i = 0; i < n; i++)
		ok[i] = false;
	/* A line without its '\n' is a broker bug; recording it would break
	 * the one-line-per-entry framing of every device. */
	for (size_t i = 0; i < n; i++)
		if (!well_formed(&lines[i]))
			return 0;
	if (n == 0)
		return 0;
	if (d->ops->write_lines) {
		if (d->ops->write_lines(d, lines, n) == 0) {
			for (size_t i = 0; i < n; i++)
				ok[i] = true;
			done = n;
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			ok[i] = d->ops->write(d, lines[i].iov_base, lines[i].iov_len) == 0;
			done += ok[i];
		}
	}
	if (done < n)
		atomic_fetch_add_explicit(&d->failures, n - done, memory_order_relaxed);
	return done;
}

int audit_device_write(struct audit_device *d, const char *line, size_t len)
{
	struct iovec l = {.iov_base = (void *)line, .iov_len = len};
	bool ok;
	if (!well_formed(&l))
		return TROVE_ERR_INTERNAL;
	return audit_device_write_lines(d, &l, 1, &ok) == 1 ? 0 : TROVE_ERR_IO;
}

int audit_device_reopen(struct audit_device *d)
{
	return d->ops->reopen ? d->ops->reopen(d) : 0;
}

bool audit_device_may_block(const struct audit_device *d)
{
	return d->may_block;
}

uint64_t audit_device_failures(const struct audit_device *d)
{
	return atomic_load_explicit(&d->failures, memory_order_relaxed);
}

void audit_device_close(struct audit_device *d)
{
	if (d)
		d->ops->close(d);
}

const struct audit_device_types audit_device_types = {
    .open = audit_device_open,
    .check = audit_device_check,
    .option_known = audit_device_option_known,
    .write = audit_device_write,
    .write_lines = audit_device_write_lines,
    .reopen = audit_device_reopen,
    .may_block = audit_device_may_block,
    .failures = audit_device_failures,
    .close = audit_device_close,
};
