/* audit.c — the audit broker (see audit.h for the contract).
 *
 * State: an array of enabled devices and the header settings, guarded by
 * one rwlock. Logging holds it for reading (devices are thread-safe, so
 * entries go out in parallel); enable, disable, reopen, load and unload
 * hold it for writing. The table in storage is rewritten whole on each
 * change, before the change is visible, so a crash never leaves a device
 * running that the table does not know (or the reverse).
 *
 * Per-device settings the broker applies itself: format (only "json"),
 * prefix, log_raw, hmac_accessor, elide_list_responses. The rest of the
 * options belong to the device (the types' option_known).
 *
 * Two kinds of device share the array: those enabled through the API
 * (persisted in AUDIT_TABLE_PATH, opened with the config's limits) and
 * those declared in the server config (from_config: opened as trusted,
 * never written to that table, never disabled through the API; only their
 * salts are kept, in AUDIT_CONFIG_SALTS_PATH, so hashes survive restarts).
 *
 * A new device must record a test entry (a request entry for
 * sys/audit/test, like Vault's probe) before it is enabled: a device that
 * cannot write is refused rather than left to fail every request. */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "audit.h"

#include "audit_device.h"
#include "encoding.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "request.h"
#include "secure.h"
#include "strconv.h"
#include "timefmt.h"

#include "banned.h"

#define SALT_LEN 32
#define MAX_DEVICES 64
#define MAX_HEADERS 64
#define PROBE_PATH "sys/audit/test"

struct audit_dev {
	char *path; /* with trailing '/' */
	char *type;
	char *description;
	json_t *options; /* object of strings, as given */
	bool local;
	unsigned char salt[SALT_LEN];
	struct audit_format fmt;     /* points into options and salt */
	uint64_t serial;             /* unique per device opened, for reuse */
	struct audit_device *device; /* NULL: failed to open (writes fail) */
	const struct audit_device_types *types; /* the broker's */
	bool from_config;            /* declared in the server config */
	bool refused;                /* stored options no longer accepted:
	                              * never opened */
};

struct audit_header {
	char *name; /* lowercase */
	bool hmac;
};

struct audit_broker {
	pthread_rwlock_t lock;
	const struct audit_device_types *types; /* given at start-up */
	struct storage *logical;                                        /* NULL while unloaded */
	struct audit_dev *devs[MAX_DEVICES + AUDIT_MAX_CONFIG_DEVICES]; /* the table's, then room
	                                                                 * for the config's */
	size_t ndevs;
	struct audit_header headers[MAX_HEADERS];
	size_t nheaders;
	_Atomic bool active; /* ndevs > 0, readable without the lock */
	_Atomic bool blocks; /* some device may block */
	_Atomic bool headers_wanted;
	/* From the server config (audit_broker_configure), fixed after. */
	struct strlist file_dirs;
	bool allow_prefix;
	struct audit_config_device *config_devs; /* owned copies */
	size_t nconfig_devs;
};

/* --- helpers ------------------------------------------------------------ */

static const char *const broker_options[] = {
    "format", "prefix", "log_raw", "hmac_accessor", "elide_list_responses", NULL,
};

static bool broker_option(const char *key)
{
	for (size_t i = 0; broker_options[i]; i++)
		if (strcmp(broker_options[i], key) == 0)
			return true;
	return false;
}

static const char *opt_str(const json_t *options, const char *key, const char *def)
{
	const json_t *v = options ? json_object_get(options, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : def;
}

/* Parses the broker-level options into d->fmt. */
static int parse_format(struct audit_dev *d, struct buf *err)
{
	static const char *const bools[] = {"log_raw", "hmac_accessor", "elide_list_responses"};
	bool vals[3] = {false, true, false};
	for (size_t i = 0; i < 3; i++) {
		const char *s = opt_str(d->options, bools[i], NULL);
		if (s && !strconv_bool(s, &vals[i])) {
			buf_printf(err, "%s: expected a boolean, got \"%s\"", bools[i], s);
			return TROVE_ERR_INVALID;
		}
	}
	const char *format = opt_str(d->options, "format", "json");
	if (strcmp(format, "json") != 0) {
		buf_printf(err, "format: only \"json\" is supported, got \"%s\"", format);
		return TROVE_ERR_INVALID;
	}
	d->fmt.salt = d->salt;
	d->fmt.salt_len = SALT_LEN;
	d->fmt.log_raw = vals[0];
	d->fmt.hmac_accessor = vals[1];
	d->fmt.elide_list_responses = vals[2];
	d->fmt.prefix = opt_str(d->options, "prefix", "");
	return 0;
}

/* Whether s holds a byte below 0x20 or DEL: a newline in a prefix (or in
 * any option that reaches a line) would forge a whole entry. */
static bool has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* Options must be an object of strings (numbers and booleans are taken as
 * their text, as Vault's API accepts them), each known to the broker or
 * the device, with no control byte in a key or value. A file device's
 * "path" is the legacy name of file_path (old clients send it) and is
 * stored as file_path. A prefix is refused unless allow_prefix. Returns a
 * normalised copy or NULL with err filled. */
static json_t *normalise_options(const struct audit_device_types *types, const char *type, const json_t *in,
                                 bool allow_prefix, struct buf *err)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	if (!in)
		return out;
	json_object_foreach((json_t *)in, k, v)
	{
		const char *key = k;
		if (strcmp(type, "file") == 0 && strcmp(k, "path") == 0) {
			if (json_object_get(in, "file_path")) {
				buf_printf(err, "options: give file_path or its old name path, not both");
				goto fail;
			}
			key = "file_path";
		}
		if (has_control(k, strlen(k))) {
			buf_printf(err, "options: an option name holds a control character");
			goto fail;
		}
		if (!broker_option(key) && !types->option_known(type, key)) {
			buf_printf(err, "options: unknown option \"%s\" for a %s audit device", k, type);
			goto fail;
		}
		if (json_is_string(v))
			json_object_set(out, key, v);
		else if (json_is_boolean(v))
			json_object_set_new(out, key, json_string(json_is_true(v) ? "true" : "false"));
		else if (json_is_integer(v))
			json_object_set_new(out, key,
			                    json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v)));
		else {
			buf_printf(err, "options: \"%s\" must be a string", k);
			goto fail;
		}
		const json_t *sv = json_object_get(out, key);
		if (has_control(json_string_value(sv), json_string_length(sv))) {
			buf_printf(err, "%s: must not hold a newline or other control character", k);
			goto fail;
		}
		if (strcmp(key, "prefix") == 0 && json_string_length(sv) > 0 && !allow_prefix) {
			buf_printf(
			    err, "prefix: not allowed on a device enabled through the API unless the server "
			         "config sets allow_audit_log_prefixing = true");
			goto fail;
		}
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

static _Atomic uint64_t next_serial = 1;

static void dev_free(struct audit_dev *d)
{
	if (!d)
		return;
	d->types->close(d->device);
	secure_wipe(d->salt, sizeof(d->salt));
	free(d->path);
	free(d->type);
	free(d->description);
	json_decref(d->options);
	free(d);
}

static char *with_slash(const char *path)
{
	size_t n = strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	size_t start = 0;
	while (start < n && path[start] == '/')
		start++;
	char *out = xmalloc(n - start + 2);
	memcpy(out, path + start, n - start);
	out[n - start] = '/';
	out[n - start + 1] = '\0';
	return out;
}

static void refresh_flags(struct audit_broker *b)
{
	bool blocks = false;
	for (size_t i = 0; i < b->ndevs; i++)
		if (b->devs[i]->device && b->types->may_block(b->devs[i]->device))
			blocks = true;
	atomic_store(&b->active, b->ndevs > 0);
	atomic_store(&b->blocks, blocks);
	atomic_store(&b->headers_wanted, b->nheaders > 0);
}

/* The limits a device is opened with: trusted for the config's own. */
static struct audit_limits limits_for(const struct audit_broker *b, bool from_config)
{
	if (from_config)
		return (struct audit_limits){.trusted = true};
	return (struct audit_limits){.trusted = false,
	                             .file_dirs = (const char *const *)b->file_dirs.items,
	                             .nfile_dirs = b->file_dirs.len};
}

/* --- persistence ---------------------------------------------------------- */

static int save_table(struct audit_broker *b, struct audit_dev *const *devs, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		char hex[2 * SALT_LEN + 1];
		if (devs[i]->from_config)
			continue; /* the config file is its table */
		hex_encode(devs[i]->salt, SALT_LEN, hex);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:O, s:b, s:s}", "path", devs[i]->path,
		                                     "type", devs[i]->type, "description",
		                                     devs[i]->description, "options", devs[i]->options,
		                                     "local", devs[i]->local, "salt", hex));
		secure_wipe(hex, sizeof(hex));
	}
	json_t *doc = json_pack("{s:o}", "devices", arr);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return TROVE_ERR_NOMEM;
	int r = storage_put(b->logical, AUDIT_TABLE_PATH, text, strlen(text));
	secure_free_str(text);
	return r;
}

static int save_headers(struct audit_broker *b, const struct audit_header *h, size_t n)
{
	json_t *obj = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(obj, h[i].name, json_pack("{s:b}", "hmac", h[i].hmac));
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (!text)
		return TROVE_ERR_NOMEM;
	int r = storage_put(b->logical, AUDIT_HEADERS_PATH, text, strlen(text));
	free(text);
	return r;
}

/* A device's settings, not yet opened (takes options). */
static struct audit_dev *dev_alloc(const struct audit_broker *b, const char *path, const char *type,
                                   const char *description, json_t *options, bool local)
{
	struct audit_dev *d = xcalloc(1, sizeof(*d));
	d->types = b->types;
	d->path = with_slash(path);
	d->type = xstrdup(type);
	d->description = xstrdup(description ? description : "");
	d->options = options;
	d->local = local;
	d->serial = atomic_fetch_add(&next_serial, 1);
	return d;
}

/* Builds a device from its stored or requested settings and opens it.
 * On an open failure: with keep_broken, the device is kept (NULL device,
 * writes fail); otherwise NULL with err filled. */
static struct audit_dev *dev_new(const struct audit_broker *b, const char *path, const char *type,
                                 const char *description, json_t *options, bool local, bool from_config,
                                 bool keep_broken, struct buf *err)
{
	struct audit_limits lim = limits_for(b, from_config);
	struct audit_dev *d = dev_alloc(b, path, type, description, options, local);
	d->from_config = from_config;
	if (parse_format(d, err) != 0)
		goto fail;
	d->device = b->types->open(type, options, &lim, err);
	if (!d->device) {
		if (!keep_broken)
			goto fail;
		log_error("audit device could not be opened; it refuses every entry until reopened", "path",
		          d->path, "error", err->len ? err->data : "unknown");
	}
	return d;
fail:
	dev_free(d);
	return NULL;
}

/* A stored device whose options are no longer accepted: kept in the table
 * (so it can be seen and disabled) but never opened, failing every entry. */
static struct audit_dev *dev_refused(const struct audit_broker *b, const char *path, const char *type,
                                     const char *description, json_t *options, bool local, const struct buf *why)
{
	struct audit_dev *d = dev_alloc(b, path, type, description, options, local);
	d->refused = true;
	d->fmt.salt = d->salt;
	d->fmt.salt_len = SALT_LEN;
	d->fmt.prefix = "";
	log_error("audit device options are refused; it refuses every entry until disabled", "path", d->path,
	          "error", why->len ? why->data : "invalid options");
	return d;
}

static struct audit_dev *find_locked(struct audit_broker *b, const char *path, size_t *index);

/* Opens the devices the server config declares, with their salts from
 * AUDIT_CONFIG_SALTS_PATH (made and saved for a new path). A device that
 * cannot be opened is kept, failing every entry, as a stored one is. */
static int load_config_devices(struct audit_broker *b)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	json_t *salts = NULL;
	bool dirty = false;
	int r;

	if (b->nconfig_devs == 0)
		return 0;
	r = storage_get(b->logical, AUDIT_CONFIG_SALTS_PATH, &raw, &len);
	if (r == 0) {
		salts = json_loadb((const char *)raw, len, 0, NULL);
		secure_free(raw, len);
		raw = NULL;
		if (!json_is_object(salts)) {
			r = TROVE_ERR_INTEGRITY;
			goto out;
		}
	} else if (r == TROVE_ERR_NOT_FOUND) {
		salts = json_object();
	} else {
		goto out;
	}
	for (size_t i = 0; i < b->nconfig_devs; i++) {
		const struct audit_config_device *c = &b->config_devs[i];
		struct buf err;
		buf_init(&err, 4096);
		json_t *opts = normalise_options(b->types, c->type, c->options, true, &err);
		struct audit_dev *d =
		    opts ? dev_new(b, c->path, c->type, c->description, opts, c->local, true, true, &err)
		         : dev_refused(b, c->path, c->type, c->description, json_object(), c->local, &err);
		buf_release(&err);
		if (!d) {
			r = TROVE_ERR_INVALID;
			goto out;
		}
		d->from_config = true;
		const char *hex = json_string_value(json_object_get(salts, d->path));
		size_t slen = 0;
		if (!hex || hex_decode(hex, strlen(hex), d->salt, SALT_LEN, &slen) != 0 || slen != SALT_LEN) {
			char fresh[2 * SALT_LEN + 1];
			if ((r = rand_bytes(d->salt, SALT_LEN)) != 0) {
				dev_free(d);
				goto out;
			}
			hex_encode(d->salt, SALT_LEN, fresh);
			json_object_set_new(salts, d->path, json_string(fresh));
			secure_wipe(fresh, sizeof(fresh));
			dirty = true;
		}
		b->devs[b->ndevs++] = d;
		log_info("audit device declared in the config enabled", "path", d->path, "type", d->type);
	}
	r = 0;
	if (dirty) {
		char *text = json_dumps(salts, JSON_COMPACT | JSON_SORT_KEYS);
		r = text ? storage_put(b->logical, AUDIT_CONFIG_SALTS_PATH, text, strlen(text))
		         : TROVE_ERR_NOMEM;
		if (text)
			secure_free_str(text);
	}
out:
	json_decref(salts);
	return r;
}

static int load_table(struct audit_broker *b)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r = storage_get(b->logical, AUDIT_TABLE_PATH, &raw, &len);
	if (r == TROVE_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	json_t *doc = json_loadb((const char *)raw, len, 0, NULL);
	secure_free(raw, len);
	json_t *arr = json_object_get(doc, "devices");
	r = TROVE_ERR_INTEGRITY;
	if (!json_is_array(arr) || json_array_size(arr) > MAX_DEVICES)
		goto out;
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		const char *path = json_string_value(json_object_get(e, "path"));
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *desc = json_string_value(json_object_get(e, "description"));
		const char *salt = json_string_value(json_object_get(e, "salt"));
		json_t *opts = json_object_get(e, "options");
		unsigned char s[SALT_LEN];
		size_t slen = 0;
		if (!path || !type || !salt || !json_is_object(opts) ||
		    hex_decode(salt, strlen(salt), s, sizeof(s), &slen) != 0 || slen != SALT_LEN)
			goto out;
		if (find_locked(b, path, NULL)) {
			log_error(
			    "audit device in the stored table is shadowed by one the server config declares "
			    "at the same path; the stored one is dropped",
			    "path", path);
			secure_wipe(s, sizeof(s));
			continue;
		}
		struct buf err;
		buf_init(&err, 256);
		/* Checked again as when it was enabled (an entry written by an
		 * older Trove may hold a control byte): such a device is kept,
		 * failing every entry, until it is disabled. */
		json_t *norm = normalise_options(b->types, type, opts, true, &err);
		bool ok = norm != NULL;
		json_decref(norm);
		struct audit_dev *d =
		    ok ? dev_new(b, path, type, desc, json_incref(opts),
		                 json_is_true(json_object_get(e, "local")), false, true, &err)
		       : dev_refused(b, path, type, desc, json_incref(opts),
		                     json_is_true(json_object_get(e, "local")), &err);
		buf_release(&err);
		if (!d) {
			secure_wipe(s, sizeof(s));
			goto out;
		}
		memcpy(d->salt, s, SALT_LEN);
		secure_wipe(s, sizeof(s));
		b->devs[b->ndevs++] = d;
	}
	r = 0;
out:
	json_decref(doc);
	return r;
}

static int load_headers(struct audit_broker *b)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r = storage_get(b->logical, AUDIT_HEADERS_PATH, &raw, &len);
	if (r == TROVE_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	json_t *obj = json_loadb((const char *)raw, len, 0, NULL);
	free(raw);
	r = TROVE_ERR_INTEGRITY;
	if (!json_is_object(obj) || json_object_size(obj) > MAX_HEADERS)
		goto out;
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		b->headers[b->nheaders].name = xstrdup(k);
		b->headers[b->nheaders].hmac = json_is_true(json_object_get(v, "hmac"));
		b->nheaders++;
	}
	r = 0;
out:
	json_decref(obj);
	return r;
}

/* --- no device types -------------------------------------------------- */

/* The table of a broker given none: every type is unknown. */
static struct audit_device *none_open(const char *type, const json_t *options, const struct audit_limits *lim,
                                      struct buf *err)
{
	buf_printf(err, "unknown audit device type \"%s\"", type ? type : "");
	return NULL;
}

static int none_check(const char *type, const json_t *options, struct buf *err)
{
	return none_open(type, options, NULL, err) ? 0 : TROVE_ERR_INVALID;
}

static bool none_option_known(const char *type, const char *key)
{
	return false;
}

/* Never called: no device is ever opened. */
static void none_close(struct audit_device *d)
{
}

static const struct audit_device_types no_types = {
    .open = none_open, .check = none_check, .option_known = none_option_known, .close = none_close};

/* --- lifecycle --------------------------------------------------------- */

struct audit_broker *audit_broker_new(const struct audit_device_types *types)
{
	struct audit_broker *b = xcalloc(1, sizeof(*b));
	b->types = types ? types : &no_types;
	pthread_rwlock_init(&b->lock, NULL);
	strlist_init(&b->file_dirs);
	return b;
}

static void clear_locked(struct audit_broker *b)
{
	for (size_t i = 0; i < b->ndevs; i++)
		dev_free(b->devs[i]);
	b->ndevs = 0;
	for (size_t i = 0; i < b->nheaders; i++)
		free(b->headers[i].name);
	b->nheaders = 0;
	b->logical = NULL;
	refresh_flags(b);
}

static void config_devs_release(struct audit_broker *b)
{
	for (size_t i = 0; i < b->nconfig_devs; i++) {
		struct audit_config_device *c = &b->config_devs[i];
		free(c->path);
		free(c->type);
		free(c->description);
		json_decref(c->options);
		free(c->where);
	}
	free(b->config_devs);
	b->config_devs = NULL;
	b->nconfig_devs = 0;
}

void audit_broker_configure(struct audit_broker *b, const struct audit_settings *s)
{
	pthread_rwlock_wrlock(&b->lock);
	strlist_release(&b->file_dirs);
	strlist_init(&b->file_dirs);
	for (size_t i = 0; i < s->nfile_dirs; i++)
		strlist_push(&b->file_dirs, s->file_dirs[i]);
	b->allow_prefix = s->allow_prefix;
	config_devs_release(b);
	if (s->ndevices > AUDIT_MAX_CONFIG_DEVICES)
		abort(); /* the config loader caps audit blocks at this */
	if (s->ndevices > 0)
		b->config_devs = xcalloc(s->ndevices, sizeof(*b->config_devs));
	for (size_t i = 0; i < s->ndevices; i++) {
		const struct audit_config_device *c = &s->devices[i];
		b->config_devs[i] = (struct audit_config_device){
		    .path = xstrdup(c->path),
		    .type = xstrdup(c->type),
		    .description = xstrdup(c->description ? c->description : ""),
		    .options = c->options ? json_deep_copy(c->options) : json_object(),
		    .local = c->local,
		    .where = c->where ? xstrdup(c->where) : NULL,
		};
	}
	b->nconfig_devs = s->ndevices;
	pthread_rwlock_unlock(&b->lock);
}

int audit_config_device_check(const struct audit_device_types *types, const struct audit_config_device *c,
                              struct buf *err)
{
	struct audit_dev d;
	int r = TROVE_ERR_INVALID;

	if (!c->type || !c->type[0]) {
		buf_append_str(err, "type: missing");
		return r;
	}
	if (!c->path || !c->path[0] || strspn(c->path, "/") == strlen(c->path)) {
		buf_append_str(err, "path: missing");
		return r;
	}
	json_t *opts = normalise_options(types, c->type, c->options, true, err);
	if (!opts)
		return r;
	memset(&d, 0, sizeof(d));
	d.options = opts;
	if ((r = parse_format(&d, err)) == 0)
		r = types->check(c->type, opts, err);
	json_decref(opts);
	return r;
}

void audit_broker_free(struct audit_broker *b)
{
	if (!b)
		return;
	audit_broker_unload(b);
	config_devs_release(b);
	strlist_release(&b->file_dirs);
	pthread_rwlock_destroy(&b->lock);
	free(b);
}

int audit_broker_load(struct audit_broker *b, struct storage *logical)
{
	pthread_rwlock_wrlock(&b->lock);
	clear_locked(b);
	b->logical = logical;
	int r = load_config_devices(b);
	if (r == 0)
		r = load_table(b);
	if (r == 0)
		r = load_headers(b);
	if (r != 0)
		clear_locked(b);
	refresh_flags(b);
	pthread_rwlock_unlock(&b->lock);
	return r;
}

int audit_broker_reload(struct audit_broker *b)
{
	struct audit_dev *old[MAX_DEVICES + AUDIT_MAX_CONFIG_DEVICES];
	struct audit_header old_headers[MAX_HEADERS];
	size_t nold, nold_headers;
	int r = 0;

	pthread_rwlock_wrlock(&b->lock);
	if (!b->logical)
		goto out; /* sealed: loaded at unseal */
	nold = b->ndevs;
	nold_headers = b->nheaders;
	memcpy(old, b->devs, nold * sizeof(*old));
	memcpy(old_headers, b->headers, nold_headers * sizeof(*old_headers));
	b->ndevs = b->nheaders = 0;
	r = load_config_devices(b);
	if (r == 0)
		r = load_table(b);
	if (r == 0)
		r = load_headers(b);
	if (r != 0) {
		/* the devices in use stay: never fewer because of a failed read */
		struct storage *logical = b->logical;
		clear_locked(b);
		b->logical = logical;
		memcpy(b->devs, old, nold * sizeof(*old));
		memcpy(b->headers, old_headers, nold_headers * sizeof(*old_headers));
		b->ndevs = nold;
		b->nheaders = nold_headers;
		log_error("audit table not reloaded; the devices in use stay", "error", err_name(r));
	} else {
		for (size_t i = 0; i < nold; i++)
			dev_free(old[i]);
		for (size_t i = 0; i < nold_headers; i++)
			free(old_headers[i].name);
		log_info("audit table reloaded from storage");
	}
	refresh_flags(b);
out:
	pthread_rwlock_unlock(&b->lock);
	return r;
}

void audit_broker_unload(struct audit_broker *b)
{
	pthread_rwlock_wrlock(&b->lock);
	clear_locked(b);
	pthread_rwlock_unlock(&b->lock);
}

bool audit_broker_active(struct audit_broker *b)
{
	return atomic_load(&b->active);
}

uint64_t audit_broker_failures(struct audit_broker *b)
{
	uint64_t n = 0;
	pthread_rwlock_rdlock(&b->lock);
	for (size_t i = 0; i < b->ndevs; i++)
		if (b->devs[i]->device)
			n += b->types->failures(b->devs[i]->device);
	pthread_rwlock_unlock(&b->lock);
	return n;
}

bool audit_broker_may_block(struct audit_broker *b)
{
	return atomic_load(&b->blocks);
}

/* --- devices ------------------------------------------------------------- */

static struct audit_dev *find_locked(struct audit_broker *b, const char *path, size_t *index)
{
	char *p = with_slash(path);
	struct audit_dev *found = NULL;
	for (size_t i = 0; i < b->ndevs && !found; i++) {
		if (strcmp(b->devs[i]->path, p) == 0) {
			found = b->devs[i];
			if (index)
				*index = i;
		}
	}
	free(p);
	return found;
}

/* Writes a test entry (a request entry for PROBE_PATH) on a new device:
 * 0, or TROVE_ERR_INVALID with err saying the device cannot record. */
static int probe(struct audit_dev *d, struct buf *err)
{
	struct request req;
	struct buf line;
	char when[TIME_TEXT_MAX];

	memset(&req, 0, sizeof(req));
	if (rand_uuid(req.id) != 0)
		return TROVE_ERR_INTERNAL;
	req.op = OP_UPDATE;
	req.path = (char *)PROBE_PATH;
	time_now_rfc3339_ns(when);
	struct audit_record rec = {.req = &req, .time = when};
	buf_init(&line, BUF_CAP_DEFAULT);
	int r = audit_format_entry_append(&d->fmt, &rec, NULL, &line);
	if (r == 0)
		r = d->types->write(d->device, line.data, line.len);
	buf_release(&line);
	if (r != 0) {
		buf_printf(err,
		           "sanity check failed; the audit device could not record a test entry (the server "
		           "log says why); nothing was enabled");
		return TROVE_ERR_INVALID;
	}
	return 0;
}

int audit_broker_enable(struct audit_broker *b, const struct audit_enable_params *p, struct buf *err)
{
	int r;
	if (!p->path || !p->path[0] || strcmp(p->path, "/") == 0) {
		buf_printf(err, "path: missing");
		return TROVE_ERR_INVALID;
	}
	if (!p->type || !p->type[0]) {
		buf_printf(err, "type: missing");
		return TROVE_ERR_INVALID;
	}
	json_t *options = normalise_options(b->types, p->type, p->options, b->allow_prefix, err);
	if (!options)
		return TROVE_ERR_INVALID;
	pthread_rwlock_wrlock(&b->lock);
	r = TROVE_ERR_SEALED;
	if (!b->logical) {
		json_decref(options);
		goto out;
	}
	if (find_locked(b, p->path, NULL)) {
		char *s = with_slash(p->path);
		buf_printf(err, "path already in use at %s", s);
		free(s);
		json_decref(options);
		r = TROVE_ERR_CONFLICT;
		goto out;
	}
	r = TROVE_ERR_INVALID;
	if (b->ndevs >= MAX_DEVICES) {
		buf_printf(err, "at most %d audit devices", MAX_DEVICES);
		json_decref(options);
		goto out;
	}
	struct audit_dev *d =
	    dev_new(b, p->path, p->type, p->description, options, p->local, false, false, err);
	if (!d)
		goto out;
	if ((r = rand_bytes(d->salt, SALT_LEN)) != 0 || (r = probe(d, err)) != 0) {
		dev_free(d);
		goto out;
	}
	b->devs[b->ndevs] = d;
	if ((r = save_table(b, b->devs, b->ndevs + 1)) != 0) {
		buf_printf(err, "could not save the audit table");
		dev_free(d);
		goto out;
	}
	b->ndevs++;
	refresh_flags(b);
	log_info("audit device enabled", "path", d->path, "type", d->type);
	r = 0;
out:
	pthread_rwlock_unlock(&b->lock);
	return r;
}

int audit_broker_disable(struct audit_broker *b, const char *path, struct buf *err)
{
	size_t idx = 0;
	int r = 0;
	pthread_rwlock_wrlock(&b->lock);
	if (!b->logical) {
		r = TROVE_ERR_SEALED;
		goto out;
	}
	struct audit_dev *d = find_locked(b, path, &idx);
	if (!d)
		goto out;
	if (d->from_config) {
		buf_printf(err,
		           "the audit device at %s is declared in the server config file; remove its audit "
		           "block there and restart to disable it",
		           d->path);
		r = TROVE_ERR_INVALID;
		goto out;
	}
	struct audit_dev *rest[MAX_DEVICES + AUDIT_MAX_CONFIG_DEVICES];
	size_t n = 0;
	for (size_t i = 0; i < b->ndevs; i++)
		if (i != idx)
			rest[n++] = b->devs[i];
	if ((r = save_table(b, rest, n)) != 0)
		goto out;
	memcpy(b->devs, rest, n * sizeof(rest[0]));
	b->ndevs = n;
	log_info("audit device disabled", "path", d->path);
	dev_free(d);
	refresh_flags(b);
out:
	pthread_rwlock_unlock(&b->lock);
	return r;
}

json_t *audit_broker_list(struct audit_broker *b)
{
	json_t *out = json_object();
	pthread_rwlock_rdlock(&b->lock);
	for (size_t i = 0; i < b->ndevs; i++) {
		struct audit_dev *d = b->devs[i];
		json_t *e =
		    json_pack("{s:s, s:s, s:O, s:b, s:s}", "type", d->type, "description", d->description,
		              "options", d->options, "local", d->local, "path", d->path);
		if (d->from_config)
			json_object_set_new(e, "declared_in_config", json_true());
		json_object_set_new(out, d->path, e);
	}
	pthread_rwlock_unlock(&b->lock);
	return out;
}

int audit_broker_hash(struct audit_broker *b, const char *path, const char *input, char out[AUDIT_HASH_MAX])
{
	int r = TROVE_ERR_NOT_FOUND;
	pthread_rwlock_rdlock(&b->lock);
	struct audit_dev *d = find_locked(b, path, NULL);
	if (d) {
		audit_hash_text(d->salt, SALT_LEN, input, strlen(input), out);
		r = 0;
	}
	pthread_rwlock_unlock(&b->lock);
	return r;
}

void audit_broker_reopen(struct audit_broker *b)
{
	pthread_rwlock_wrlock(&b->lock);
	for (size_t i = 0; i < b->ndevs; i++) {
		struct audit_dev *d = b->devs[i];
		if (d->device) {
			if (d->types->reopen(d->device) != 0)
				log_error("audit device could not be reopened", "path", d->path);
			continue;
		}
		if (d->refused)
			continue;
		struct buf err;
		struct audit_limits lim = limits_for(b, d->from_config);
		buf_init(&err, 4096);
		d->device = d->types->open(d->type, d->options, &lim, &err);
		if (d->device)
			log_info("audit device opened", "path", d->path);
		else
			log_error("audit device still cannot be opened", "path", d->path, "error", err.data);
		buf_release(&err);
	}
	refresh_flags(b);
	pthread_rwlock_unlock(&b->lock);
}

/* --- logging --------------------------------------------------------------- */

/* The configured headers of this request, masked with d's salt where so
 * configured; NULL when none is present. Caller holds the lock. */
static json_t *headers_for(struct audit_broker *b, const struct audit_dev *d, const struct request *req)
{
	json_t *out = NULL;
	if (!req || !req->headers)
		return NULL;
	for (size_t i = 0; i < b->nheaders; i++) {
		json_t *v = json_object_get(req->headers, b->headers[i].name);
		if (!json_is_string(v))
			continue;
		if (!out)
			out = json_object();
		if (b->headers[i].hmac && !d->fmt.log_raw) {
			char h[AUDIT_HASH_MAX];
			audit_hash_text(d->salt, SALT_LEN, json_string_value(v), json_string_length(v), h);
			json_object_set_new(out, b->headers[i].name, json_string(h));
		} else {
			json_object_set(out, b->headers[i].name, v);
		}
	}
	return out;
}

void audit_reuse_release(struct audit_reuse *reuse)
{
	if (!reuse)
		return;
	for (size_t i = 0; i < reuse->n; i++)
		buf_release_secret(&reuse->v[i].text); /* log_raw text holds the token */
	reuse->n = 0;
}

/* Points r at the text the request entry kept for device d (a response
 * entry), or at a fresh slot for it to keep (a request entry). */
static void bind_reuse(struct audit_record *r, struct audit_reuse *reuse, const struct audit_dev *d)
{
	r->reuse = NULL;
	r->reuse_len = 0;
	r->keep = NULL;
	if (!reuse)
		return;
	for (size_t i = 0; i < reuse->n; i++) {
		if (reuse->v[i].device == d->serial) {
			if (r->resp && reuse->v[i].text.len > 0) {
				r->reuse = reuse->v[i].text.data;
				r->reuse_len = reuse->v[i].text.len;
			}
			return;
		}
	}
	if (!r->resp && reuse->n < AUDIT_REUSE_MAX) {
		reuse->v[reuse->n].device = d->serial;
		/* larger: formatted twice; log_raw text holds the token */
		buf_init_secret(&reuse->v[reuse->n].text, BUF_CAP_DEFAULT);
		r->keep = &reuse->v[reuse->n].text;
		reuse->n++;
	}
}

/* What the batch keeps per record while it runs. */
struct batch_slot {
	char when[TIME_TEXT_MAX];
	size_t off, len; /* this device's line in the batch's text; len 0: none */
	size_t recorded; /* devices that recorded the entry */
};

#define BATCH_STACK 16 /* records kept on the stack; more are allocated */

size_t audit_broker_log_batch(struct audit_broker *b, struct audit_log_item *items, size_t n)
{
	struct batch_slot stack_slots[BATCH_STACK];
	struct iovec stack_iov[BATCH_STACK];
	size_t stack_map[BATCH_STACK];
	bool stack_ok[BATCH_STACK];
	struct batch_slot *slots = stack_slots;
	struct iovec *iov = stack_iov;
	size_t *map = stack_map; /* iov[k] is the line of record map[k] */
	bool *ok = stack_ok;
	size_t tried = 0, refused = 0;
	struct buf text;                     /* one device's lines of the batch, end to end */
	struct audit_hash_memo *memo = NULL; /* its hashes, when n > 1 */

	for (size_t i = 0; i < n; i++)
		items[i].result = 0;
	if (n == 0 || !atomic_load(&b->active))
		return 0;
	if (n > BATCH_STACK) {
		slots = xcalloc(n, sizeof(*slots));
		iov = xcalloc(n, sizeof(*iov));
		map = xcalloc(n, sizeof(*map));
		ok = xcalloc(n, sizeof(*ok));
	}
	for (size_t i = 0; i < n; i++) {
		slots[i].recorded = 0;
		if (!items[i].rec->time) {
			time_now_rfc3339_ns(slots[i].when);
			items[i].rec->time = slots[i].when;
		}
	}
	buf_init_secret(&text, SIZE_MAX / 4); /* log_raw lines hold secrets */
	if (n > 1)
		memo = audit_hash_memo_new();
	pthread_rwlock_rdlock(&b->lock);
	for (size_t di = 0; di < b->ndevs; di++) {
		struct audit_dev *d = b->devs[di];
		tried++;
		if (!d->device)
			continue;
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			struct audit_record *r = items[i].rec;
			json_t *headers = headers_for(b, d, r->req);
			const json_t *saved = r->headers;
			r->headers = headers;
			bind_reuse(r, items[i].reuse, d);
			slots[i].off = text.len;
			slots[i].len = audit_format_entry_append(&d->fmt, r, memo, &text) == 0
			                   ? text.len - slots[i].off
			                   : 0;
			r->headers = saved;
			json_decref(headers);
		}
		/* The text is complete (it no longer moves): point at its lines. */
		for (size_t i = 0; i < n; i++) {
			if (slots[i].len == 0)
				continue;
			iov[m].iov_base = text.data + slots[i].off;
			iov[m].iov_len = slots[i].len;
			map[m++] = i;
		}
		size_t done = m ? d->types->write_lines(d->device, iov, m, ok) : 0;
		for (size_t k = 0; k < m; k++)
			if (ok[k])
				slots[map[k]].recorded++;
		if (done < n) {
			char count[24];
			snprintf(count, sizeof(count), "%zu", n - done);
			log_error("audit device failed to record an entry", "path", d->path, "entries",
			          count);
		}
		buf_reset(&text); /* wipes; the next device reuses the block */
		audit_hash_memo_reset(memo); /* the next device has its own salt */
	}
	pthread_rwlock_unlock(&b->lock);
	buf_release(&text);
	audit_hash_memo_free(memo);
	for (size_t i = 0; i < n; i++) {
		struct audit_record *r = items[i].rec;
		if (r->time == slots[i].when)
			r->time = NULL;
		if (tried > 0 && slots[i].recorded == 0) {
			/* the caller refuses the request and says why (the
			 * devices' own failures are logged above) */
			items[i].result = TROVE_ERR_IO;
			refused++;
		}
	}
	if (slots != stack_slots) {
		free(slots);
		free(iov);
		free(map);
		free(ok);
	}
	return refused;
}

int audit_broker_log(struct audit_broker *b, struct audit_record *r, struct audit_reuse *reuse)
{
	struct audit_log_item item = {.rec = r, .reuse = reuse};
	audit_broker_log_batch(b, &item, 1);
	return item.result;
}

/* --- request headers ------------------------------------------------------- */

static char *lower_dup(const char *s)
{
	char *out = xstrdup(s);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

int audit_headers_set(struct audit_broker *b, const char *name, bool hmac)
{
	char *lname = lower_dup(name);
	int r = TROVE_ERR_SEALED;
	pthread_rwlock_wrlock(&b->lock);
	if (!b->logical)
		goto out;
	struct audit_header next[MAX_HEADERS];
	size_t n = b->nheaders;
	memcpy(next, b->headers, n * sizeof(next[0]));
	size_t i;
	for (i = 0; i < n && strcmp(next[i].name, lname) != 0; i++)
		;
	r = TROVE_ERR_INVALID;
	if (i == n && n == MAX_HEADERS)
		goto out;
	if (i == n) {
		next[n].name = lname;
		n++;
	}
	next[i].hmac = hmac;
	if ((r = save_headers(b, next, n)) != 0)
		goto out; /* a new name was not adopted: freed below */
	if (i == b->nheaders)
		lname = NULL; /* adopted by the table */
	memcpy(b->headers, next, n * sizeof(next[0]));
	b->nheaders = n;
	refresh_flags(b);
	r = 0;
out:
	pthread_rwlock_unlock(&b->lock);
	free(lname);
	return r;
}

int audit_headers_delete(struct audit_broker *b, const char *name)
{
	char *lname = lower_dup(name);
	int r = TROVE_ERR_SEALED;
	pthread_rwlock_wrlock(&b->lock);
	if (!b->logical)
		goto out;
	struct audit_header next[MAX_HEADERS];
	size_t n = 0, gone = b->nheaders;
	for (size_t i = 0; i < b->nheaders; i++) {
		if (strcmp(b->headers[i].name, lname) == 0)
			gone = i;
		else
			next[n++] = b->headers[i];
	}
	r = 0;
	if (gone == b->nheaders)
		goto out;
	if ((r = save_headers(b, next, n)) != 0)
		goto out;
	free(b->headers[gone].name);
	memcpy(b->headers, next, n * sizeof(next[0]));
	b->nheaders = n;
	refresh_flags(b);
out:
	pthread_rwlock_unlock(&b->lock);
	free(lname);
	return r;
}

json_t *audit_headers_list(struct audit_broker *b)
{
	json_t *out = json_object();
	pthread_rwlock_rdlock(&b->lock);
	for (size_t i = 0; i < b->nheaders; i++)
		json_object_set_new(out, b->headers[i].name, json_pack("{s:b}", "hmac", b->headers[i].hmac));
	pthread_rwlock_unlock(&b->lock);
	return out;
}

json_t *audit_headers_get(struct audit_broker *b, const char *name)
{
	char *lname = lower_dup(name);
	json_t *out = NULL;
	pthread_rwlock_rdlock(&b->lock);
	for (size_t i = 0; i < b->nheaders && !out; i++)
		if (strcmp(b->headers[i].name, lname) == 0)
			out = json_pack("{s:b}", "hmac", b->headers[i].hmac);
	pthread_rwlock_unlock(&b->lock);
	free(lname);
	return out;
}

bool audit_headers_wanted(struct audit_broker *b)
{
	return atomic_load(&b->headers_wanted);
}
