/* config.c — option tables and the loader for the server config.
 *
 * Each block kind (top level, listener "tcp", storage) has one table of
 * options: name, type, where it lands in the struct, and bounds. The same
 * table drives parsing, type errors and defaults, so adding an option is
 * one line. Values are weakly typed as in Vault's config: a bool may be
 * written true or "true", a duration 30 or "30s", a size 1024 or "1MiB". */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#include "core/lockout.h"
#include "audit/device.h"

#include "duration.h"
#include "err.h"
#include "hcl.h"
#include "strconv.h"

#include "banned.h"

#define DEFAULT_TTL (768 * 3600)
#define MAX_CONFIG_FILE ((size_t)4 << 20)

enum opt_type { OPT_STRING, OPT_BOOL, OPT_DURATION, OPT_SIZE, OPT_COUNT, OPT_STRING_LIST };

struct opt {
	const char *name;
	enum opt_type type;
	size_t offset;
	int64_t min, max; /* bounds for durations, sizes and counts; max 0 = none */
	/* For a list: why an item is refused, or NULL when it is fine. */
	const char *(*check_item)(const char *item);
};

#define TOP(name, type, field, lo, hi) { name, type, offsetof(struct server_config, field), lo, hi, NULL }
#define LST(name, type, field, lo, hi) { name, type, offsetof(struct listener_config, field), lo, hi, NULL }
#define AUD(name, type, field) { name, type, offsetof(struct audit_config_device, field), 0, 0, NULL }
#define STO(name, type, field, lo, hi) { name, type, offsetof(struct storage_config, field), lo, hi, NULL }

/* An allowed directory for API audit files: canonical (a trailing '/' is
 * fine) and not "/". */
static const char *audit_dir_refused(const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if ((n == 1 && dir[0] == '/') || !audit_path_canonical(dir, n))
		return "must be an absolute directory other than \"/\", without \".\", \"..\", empty components or "
		       "control characters";
	return NULL;
}

static const struct opt top_opts[] = {
	TOP("api_addr", OPT_STRING, api_addr, 0, 0),
	TOP("cluster_name", OPT_STRING, cluster_name, 0, 0),
	TOP("disable_mlock", OPT_BOOL, disable_mlock, 0, 0),
	TOP("rollback_guard_file", OPT_STRING, rollback_guard_file, 0, 0),
	TOP("log_level", OPT_STRING, log_level, 0, 0),
	TOP("log_format", OPT_STRING, log_format, 0, 0),
	TOP("default_lease_ttl", OPT_DURATION, default_lease_ttl, 1, 0),
	TOP("max_lease_ttl", OPT_DURATION, max_lease_ttl, 1, 0),
	TOP("ui", OPT_BOOL, ui, 0, 0),
	TOP("pid_file", OPT_STRING, pid_file, 0, 0),
	TOP("user_lockout_max_entries", OPT_COUNT, user_lockout_max_entries, LOCKOUT_MIN_ENTRIES, 1 << 22),
	TOP("lease_revocation_workers", OPT_COUNT, lease_revocation_workers, 1, 64),
	TOP("lease_revocation_timeout", OPT_DURATION, lease_revocation_timeout, 1, 3600),
	{ "audit_file_dirs", OPT_STRING_LIST, offsetof(struct server_config, audit_file_dirs), 0, 0, audit_dir_refused },
	TOP("allow_audit_log_prefixing", OPT_BOOL, allow_audit_log_prefixing, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct opt listener_opts[] = {
	LST("address", OPT_STRING, address, 0, 0),
	LST("tls_disable", OPT_BOOL, tls_disable, 0, 0),
	LST("tls_cert_file", OPT_STRING, tls_cert_file, 0, 0),
	LST("tls_key_file", OPT_STRING, tls_key_file, 0, 0),
	LST("tls_min_version", OPT_STRING, tls_min_version, 0, 0),
	LST("tls_client_ca_file", OPT_STRING, tls_client_ca_file, 0, 0),
	LST("tls_require_and_verify_client_cert", OPT_BOOL, tls_require_and_verify_client_cert, 0, 0),
	LST("max_request_size", OPT_SIZE, max_request_size, 1, (int64_t)1 << 40),
	LST("max_request_duration", OPT_DURATION, max_request_duration, 1, 24 * 3600),
	{ NULL, 0, 0, 0, 0, NULL },
};

/* An audit block's own keys; its options block is read apart (a map of
 * device options, checked by the audit broker). */
static const struct opt audit_opts[] = {
	AUD("path", OPT_STRING, path),
	AUD("description", OPT_STRING, description),
	AUD("local", OPT_BOOL, local),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct opt lmdb_opts[] = {
	STO("path", OPT_STRING, path, 0, 0),
	STO("max_size", OPT_SIZE, max_size, (int64_t)1 << 20, (int64_t)1 << 44),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct opt inmem_opts[] = {
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct {
	const char *type;
	const struct opt *opts;
} storage_types[] = {
	{ "lmdb", lmdb_opts },
	{ "inmem", inmem_opts },
};

void config_init(struct server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->default_lease_ttl = DEFAULT_TTL;
	cfg->max_lease_ttl = DEFAULT_TTL;
	strlist_init(&cfg->audit_file_dirs);
}

static void listener_release(struct listener_config *l)
{
	free(l->address);
	free(l->tls_cert_file);
	free(l->tls_key_file);
	free(l->tls_min_version);
	free(l->tls_client_ca_file);
	free(l->where);
}

void config_release(struct server_config *cfg)
{
	for (size_t i = 0; i < cfg->nlisteners; i++)
		listener_release(&cfg->listeners[i]);
	free(cfg->storage.type);
	free(cfg->storage.path);
	free(cfg->storage.where);
	free(cfg->api_addr);
	free(cfg->cluster_name);
	free(cfg->log_level);
	free(cfg->log_format);
	free(cfg->pid_file);
	free(cfg->rollback_guard_file);
	for (size_t i = 0; i < cfg->naudits; i++) {
		struct audit_config_device *a = &cfg->audits[i];
		free(a->path);
		free(a->type);
		free(a->description);
		json_decref(a->options);
		free(a->where);
	}
	strlist_release(&cfg->audit_file_dirs);
	memset(cfg, 0, sizeof(*cfg));
}

struct listener_config *config_add_listener(struct server_config *cfg)
{
	if (cfg->nlisteners >= CONFIG_MAX_LISTENERS)
		return NULL;
	struct listener_config *l = &cfg->listeners[cfg->nlisteners++];
	memset(l, 0, sizeof(*l));
	l->address = xstrdup("127.0.0.1:8200");
	l->tls_min_version = xstrdup("tls12");
	l->max_request_size = (uint64_t)32 << 20;
	l->max_request_duration = 90;
	return l;
}

static int fail(struct buf *err, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct buf *err, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	buf_reset(err);
	if (line > 0)
		buf_printf(err, "%s:%d: ", file, line);
	else
		buf_printf(err, "%s: ", file);
	va_start(ap, fmt);
	buf_vprintf(err, fmt, ap);
	va_end(ap);
	return TROVE_ERR_INVALID;
}

static int set_opt(void *base, const struct opt *o, const struct hcl_member *m, const char *file,
		   const char *block, struct buf *err)
{
	const struct hcl_value *v = m->value;
	char *field = (char *)base + o->offset;
	int line = m->line ? m->line : v->line;

	switch (o->type) {
	case OPT_STRING: {
		char **dst = (char **)(void *)field;
		if (v->type != HCL_STRING)
			return fail(err, file, line, "%s%s: expected a string, got %s", block, o->name,
				    hcl_type_name(v->type));
		free(*dst);
		*dst = xstrdup(v->u.string.ptr);
		return 0;
	}
	case OPT_BOOL: {
		bool b;
		if (v->type == HCL_BOOL)
			b = v->u.b;
		else if (v->type == HCL_INT && (v->u.i == 0 || v->u.i == 1))
			b = v->u.i == 1;
		else if (v->type != HCL_STRING || !strconv_bool(v->u.string.ptr, &b))
			return fail(err, file, line, "%s%s: expected a boolean", block, o->name);
		*(bool *)(void *)field = b;
		return 0;
	}
	case OPT_DURATION: {
		int64_t secs = 0;
		if (v->type == HCL_INT)
			secs = v->u.i;
		else if (v->type != HCL_STRING || duration_parse_seconds(v->u.string.ptr, v->u.string.len, &secs) != 0)
			return fail(err, file, line, "%s%s: expected a duration such as \"30s\" or \"768h\"", block,
				    o->name);
		if (secs < o->min || (o->max && secs > o->max))
			return fail(err, file, line, "%s%s: out of range", block, o->name);
		*(int64_t *)(void *)field = secs;
		return 0;
	}
	case OPT_SIZE: {
		uint64_t n = 0;
		if (v->type == HCL_INT && v->u.i >= 0)
			n = (uint64_t)v->u.i;
		else if (v->type != HCL_STRING || size_parse(v->u.string.ptr, v->u.string.len, &n) != 0)
			return fail(err, file, line, "%s%s: expected a size in bytes such as 33554432 or \"32MiB\"",
				    block, o->name);
		if (n < (uint64_t)o->min || (o->max && n > (uint64_t)o->max))
			return fail(err, file, line, "%s%s: out of range", block, o->name);
		*(uint64_t *)(void *)field = n;
		return 0;
	}
	case OPT_COUNT:
		if (v->type != HCL_INT)
			return fail(err, file, line, "%s%s: expected a whole number", block, o->name);
		if (v->u.i < o->min || (o->max && v->u.i > o->max))
			return fail(err, file, line, "%s%s: out of range", block, o->name);
		*(int64_t *)(void *)field = v->u.i;
		return 0;
	case OPT_STRING_LIST: {
		struct strlist *dst = (struct strlist *)(void *)field;
		if (v->type != HCL_LIST)
			return fail(err, file, line, "%s%s: expected a list of strings such as [\"/var/log/trove\"]",
				    block, o->name);
		for (size_t i = 0; i < v->u.list.len; i++) {
			const struct hcl_value *item = v->u.list.items[i];
			const char *why;
			if (item->type != HCL_STRING)
				return fail(err, file, line, "%s%s: item %zu: expected a string, got %s", block, o->name,
					    i + 1, hcl_type_name(item->type));
			if (o->check_item && (why = o->check_item(item->u.string.ptr)) != NULL)
				return fail(err, file, line, "%s%s: \"%s\" %s", block, o->name, item->u.string.ptr, why);
		}
		strlist_release(dst); /* a later file replaces the list */
		strlist_init(dst);
		for (size_t i = 0; i < v->u.list.len; i++)
			strlist_push(dst, v->u.list.items[i]->u.string.ptr);
		return 0;
	}
	}
	return TROVE_ERR_INTERNAL;
}

/* Applies every member of an object through an option table. Each key may
 * appear once per block. */
static int apply_block(void *base, const struct opt *table, const struct hcl_value *body, const char *file,
		       const char *block, struct buf *err)
{
	if (body->type != HCL_OBJECT)
		return fail(err, file, body->line, "%sexpected a block", block);
	for (size_t i = 0; i < body->u.object.len; i++) {
		const struct hcl_member *m = &body->u.object.members[i];
		const struct opt *o = table;
		int r;
		for (; o->name; o++)
			if (strcmp(o->name, m->key) == 0)
				break;
		if (!o->name)
			return fail(err, file, m->line, "%sunknown key \"%s\"", block, m->key);
		for (size_t j = 0; j < i; j++)
			if (strcmp(body->u.object.members[j].key, m->key) == 0)
				return fail(err, file, m->line, "%s\"%s\" is set twice", block, m->key);
		if ((r = set_opt(base, o, m, file, block, err)) != 0)
			return r;
	}
	return 0;
}

static char *where(const char *file, int line)
{
	struct buf b;
	buf_init(&b, 4096);
	buf_printf(&b, "%s:%d", file, line);
	return buf_take(&b);
}

static int load_listener(struct server_config *cfg, const char *type, const struct hcl_value *body, int line,
			 const char *file, struct buf *err)
{
	if (strcmp(type, "tcp") != 0)
		return fail(err, file, line, "listener \"%s\": unsupported listener type (supported: tcp)", type);
	struct listener_config *l = config_add_listener(cfg);
	if (!l)
		return fail(err, file, line, "too many listeners (at most %d)", CONFIG_MAX_LISTENERS);
	l->where = where(file, line);
	return apply_block(l, listener_opts, body, file, "listener \"tcp\": ", err);
}

static int load_storage(struct server_config *cfg, const char *type, const struct hcl_value *body, int line,
			const char *file, struct buf *err)
{
	const struct opt *table = NULL;
	char block[96];
	for (size_t i = 0; i < sizeof(storage_types) / sizeof(storage_types[0]); i++)
		if (strcmp(storage_types[i].type, type) == 0)
			table = storage_types[i].opts;
	if (!table)
		return fail(err, file, line, "storage \"%s\": unsupported storage type (supported: lmdb, inmem)",
			    type);
	if (cfg->storage.type)
		return fail(err, file, line, "storage is already defined at %s; give it once", cfg->storage.where);
	cfg->storage.type = xstrdup(type);
	cfg->storage.where = where(file, line);
	snprintf(block, sizeof(block), "storage \"%s\": ", type);
	return apply_block(&cfg->storage, table, body, file, block, err);
}

/* An audit block's options: strings, numbers and booleans, as JSON (the
 * broker takes them as their text, as it does through the API). */
static int audit_options(struct audit_config_device *a, const struct hcl_value *v, const char *file, int line,
			 const char *block, struct buf *err)
{
	if (v->type != HCL_OBJECT)
		return fail(err, file, v->line ? v->line : line, "%soptions: expected a block of strings", block);
	json_t *o = json_object();
	for (size_t i = 0; i < v->u.object.len; i++) {
		const struct hcl_member *m = &v->u.object.members[i];
		const struct hcl_value *x = m->value;
		json_t *j = x->type == HCL_STRING ? json_stringn(x->u.string.ptr, x->u.string.len)
			    : x->type == HCL_INT  ? json_integer(x->u.i)
			    : x->type == HCL_BOOL ? json_boolean(x->u.b)
						  : NULL;
		if (!j || json_object_get(o, m->key)) {
			json_decref(j);
			json_decref(o);
			return fail(err, file, m->line ? m->line : line, "%soptions.%s: %s", block, m->key,
				    j ? "is set twice" : "expected a string");
		}
		json_object_set_new(o, m->key, j);
	}
	json_decref(a->options);
	a->options = o;
	return 0;
}

/* `audit "TYPE" { path = "P/" description = "..." local = false options
 * = { ... } }`; path defaults to TYPE/. OpenBao's `audit "TYPE" "P" {..}`
 * comes here with the path as label2. */
static int load_audit2(struct server_config *cfg, const char *type, const char *label2, const struct hcl_value *body,
		       int line, const char *file, struct buf *err)
{
	char block[96];
	snprintf(block, sizeof(block), "audit \"%.40s\": ", type);
	if (cfg->naudits >= CONFIG_MAX_AUDITS)
		return fail(err, file, line, "too many audit blocks (at most %d)", CONFIG_MAX_AUDITS);
	if (body->type != HCL_OBJECT)
		return fail(err, file, body->line ? body->line : line, "%sexpected a block", block);
	struct audit_config_device *a = &cfg->audits[cfg->naudits++];
	a->type = xstrdup(type);
	a->where = where(file, line);
	a->options = json_object();
	if (label2)
		a->path = xstrdup(label2);
	for (size_t i = 0; i < body->u.object.len; i++) {
		const struct hcl_member *m = &body->u.object.members[i];
		int l = m->line ? m->line : line;
		int r;
		for (size_t j = 0; j < i; j++)
			if (strcmp(body->u.object.members[j].key, m->key) == 0)
				return fail(err, file, l, "%s\"%s\" is set twice", block, m->key);
		if (strcmp(m->key, "options") == 0) {
			if ((r = audit_options(a, m->value, file, l, block, err)) != 0)
				return r;
			continue;
		}
		const struct opt *o = audit_opts;
		for (; o->name; o++)
			if (strcmp(o->name, m->key) == 0)
				break;
		if (!o->name)
			return fail(err, file, l, "%sunknown key \"%s\" (path, description, local, options)", block,
				    m->key);
		if (label2 && strcmp(m->key, "path") == 0)
			return fail(err, file, l, "%spath is given twice (label and key)", block);
		if ((r = set_opt(a, o, m, file, block, err)) != 0)
			return r;
	}
	if (!a->path)
		a->path = xstrdup(type);
	return 0;
}

static int load_audit(struct server_config *cfg, const char *type, const struct hcl_value *body, int line,
		      const char *file, struct buf *err)
{
	return load_audit2(cfg, type, NULL, body, line, file, err);
}

typedef int (*block_loader)(struct server_config *, const char *, const struct hcl_value *, int, const char *,
			    struct buf *);

/* A block member in any of its shapes: `name "label" {..}`, `name = {
 * label = {..} }`, or (JSON) `"name": [{"label": {..}}, ...]`. */
static int load_blocks(struct server_config *cfg, const struct hcl_member *m, block_loader loader, const char *file,
		       struct buf *err)
{
	struct hcl_error he = { 0 };
	const char *label = NULL;
	const struct hcl_value *body = NULL;
	int r;

	if (m->value->type == HCL_LIST && m->nlabels == 0) {
		for (size_t i = 0; i < m->value->u.list.len; i++) {
			const struct hcl_value *item = m->value->u.list.items[i];
			if (item->type != HCL_OBJECT)
				return fail(err, file, item->line, "%s: expected a block", m->key);
			for (size_t j = 0; j < item->u.object.len; j++) {
				const struct hcl_member *inner = &item->u.object.members[j];
				if ((r = loader(cfg, inner->key, inner->value, inner->line, file, err)) != 0)
					return r;
			}
		}
		return 0;
	}
	if (hcl_member_block(m, &label, &body, &he) != 0)
		return fail(err, file, he.line ? he.line : m->line, "%s: %s", m->key, he.message);
	return loader(cfg, label, body, m->line, file, err);
}

int config_load_text(struct server_config *cfg, const char *name, const char *text, size_t len, bool json,
		     struct buf *err)
{
	struct hcl_value *root = NULL;
	struct hcl_error he = { 0 };
	int r = json ? hcl_parse_json(text, len, &root, &he) : hcl_parse(text, len, &root, &he);
	if (r != 0) {
		if (he.line > 0)
			return fail(err, name, he.line, "%s", he.message);
		return fail(err, name, 0, "%s", he.message);
	}
	for (size_t i = 0; i < root->u.object.len; i++) {
		const struct hcl_member *m = &root->u.object.members[i];
		if (strcmp(m->key, "listener") == 0)
			r = load_blocks(cfg, m, load_listener, name, err);
		else if (strcmp(m->key, "storage") == 0 || strcmp(m->key, "backend") == 0)
			r = load_blocks(cfg, m, load_storage, name, err);
		else if (strcmp(m->key, "audit") == 0 && m->nlabels == 2)
			r = load_audit2(cfg, m->labels[0], m->labels[1], m->value, m->line, name, err);
		else if (strcmp(m->key, "audit") == 0)
			r = load_blocks(cfg, m, load_audit, name, err);
		else {
			const struct opt *o = top_opts;
			for (; o->name; o++)
				if (strcmp(o->name, m->key) == 0)
					break;
			if (!o->name)
				r = fail(err, name, m->line, "unknown key \"%s\"", m->key);
			else
				r = set_opt(cfg, o, m, name, "", err);
		}
		if (r != 0)
			break;
	}
	hcl_free(root);
	return r;
}

static int load_file(struct server_config *cfg, const char *path, struct buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text = NULL;
	size_t n = 0;
	int r;
	if (fd < 0)
		return fail(err, path, 0, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || (size_t)st.st_size > MAX_CONFIG_FILE) {
		close(fd);
		return fail(err, path, 0, "not a readable file of at most %zu bytes", MAX_CONFIG_FILE);
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size) {
		ssize_t got = read(fd, text + n, (size_t)st.st_size - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	text[n] = '\0';
	size_t plen = strlen(path);
	bool json = plen > 5 && strcmp(path + plen - 5, ".json") == 0;
	r = config_load_text(cfg, path, text, n, json, err);
	free(text);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int config_load_path(struct server_config *cfg, const char *path, struct buf *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return fail(err, path, 0, "cannot read config: %s", strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return load_file(cfg, path, err);

	DIR *d = opendir(path);
	struct dirent *de;
	struct strlist names;
	int r = 0;
	if (!d)
		return fail(err, path, 0, "cannot open directory: %s", strerror(errno));
	strlist_init(&names);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if ((n > 4 && strcmp(de->d_name + n - 4, ".hcl") == 0) ||
		    (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0))
			strlist_push(&names, de->d_name);
	}
	closedir(d);
	qsort(names.items, names.len, sizeof(char *), name_cmp);
	for (size_t i = 0; i < names.len && r == 0; i++) {
		struct buf full;
		buf_init(&full, 8192);
		buf_printf(&full, "%s/%s", path, names.items[i]);
		r = load_file(cfg, full.data, err);
		buf_release(&full);
	}
	strlist_release(&names);
	return r;
}

static int check_readable(const char *file, const char *what, const char *where_, struct buf *err)
{
	if (access(file, R_OK) != 0)
		return fail(err, where_, 0, "listener \"tcp\": %s \"%s\" is not readable: %s", what, file,
			    strerror(errno));
	return 0;
}

/* "file" and "file/" are one path, as the broker sees them. */
static bool same_audit_path(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	while (na > 0 && a[na - 1] == '/')
		na--;
	while (nb > 0 && b[nb - 1] == '/')
		nb--;
	return na == nb && strncmp(a, b, na) == 0;
}

static int validate_audit(const struct server_config *cfg, struct buf *err)
{
	for (size_t i = 0; i < cfg->naudits; i++) {
		const struct audit_config_device *a = &cfg->audits[i];
		struct buf why;
		int r;
		for (size_t j = 0; j < i; j++)
			if (same_audit_path(a->path, cfg->audits[j].path))
				return fail(err, a->where, 0, "audit \"%s\": path \"%s\" is already used at %s", a->type,
					    a->path, cfg->audits[j].where);
		buf_init(&why, 4096);
		r = audit_config_device_check(&audit_device_types, a, &why);
		if (r != 0)
			fail(err, a->where, 0, "audit \"%s\": %s", a->type, why.data);
		buf_release(&why);
		if (r != 0)
			return r;
	}
	return 0;
}

int config_validate(const struct server_config *cfg, struct buf *err)
{
	int r;
	if (!cfg->storage.type) {
		buf_reset(err);
		buf_append_str(err, "no storage configured: add a storage \"lmdb\" { path = \"...\" } block");
		return TROVE_ERR_INVALID;
	}
	if (strcmp(cfg->storage.type, "lmdb") == 0 && (!cfg->storage.path || !cfg->storage.path[0]))
		return fail(err, cfg->storage.where, 0, "storage \"lmdb\": \"path\" is required");
	if (cfg->nlisteners == 0) {
		buf_reset(err);
		buf_append_str(err, "no listener configured: add a listener \"tcp\" { ... } block");
		return TROVE_ERR_INVALID;
	}
	if (cfg->max_lease_ttl < cfg->default_lease_ttl) {
		buf_reset(err);
		buf_append_str(err, "default_lease_ttl must not exceed max_lease_ttl");
		return TROVE_ERR_INVALID;
	}
	if (cfg->log_level) {
		static const char *const ok[] = { "trace", "debug", "info", "warn", "warning", "error", "off" };
		bool found = false;
		for (size_t i = 0; i < 7; i++)
			found |= strcmp(cfg->log_level, ok[i]) == 0;
		if (!found) {
			buf_reset(err);
			buf_printf(err, "log_level: \"%s\" is not one of trace, debug, info, warn, error, off",
				   cfg->log_level);
			return TROVE_ERR_INVALID;
		}
	}
	if (cfg->log_format && strcmp(cfg->log_format, "standard") != 0 && strcmp(cfg->log_format, "json") != 0) {
		buf_reset(err);
		buf_printf(err, "log_format: \"%s\" is not one of standard, json", cfg->log_format);
		return TROVE_ERR_INVALID;
	}
	if ((r = validate_audit(cfg, err)) != 0)
		return r;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct listener_config *l = &cfg->listeners[i];
		const char *w = l->where ? l->where : "listener";
		if (!strchr(l->address, ':'))
			return fail(err, w, 0, "listener \"tcp\": address \"%s\" must be host:port", l->address);
		if (strcmp(l->tls_min_version, "tls12") != 0 && strcmp(l->tls_min_version, "tls13") != 0)
			return fail(err, w, 0, "listener \"tcp\": tls_min_version must be tls12 or tls13");
		if (l->tls_disable)
			continue;
		if (!l->tls_cert_file || !l->tls_key_file)
			return fail(err, w, 0,
				    "listener \"tcp\": TLS is on, so tls_cert_file and tls_key_file are required "
				    "(or set tls_disable = true)");
		if ((r = check_readable(l->tls_cert_file, "tls_cert_file", w, err)) != 0 ||
		    (r = check_readable(l->tls_key_file, "tls_key_file", w, err)) != 0)
			return r;
		if (l->tls_client_ca_file && (r = check_readable(l->tls_client_ca_file, "tls_client_ca_file", w, err)))
			return r;
		if (l->tls_require_and_verify_client_cert && !l->tls_client_ca_file)
			return fail(err, w, 0,
				    "listener \"tcp\": tls_require_and_verify_client_cert needs tls_client_ca_file");
	}
	return 0;
}
