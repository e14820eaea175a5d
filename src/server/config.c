/* config.c — option tables and the loader for the server config.
 *
 * Each block kind (top level, listener "tcp", storage) has one table of
 * options: name, type, where it lands in the struct, and bounds. The same
 * table drives parsing, type errors and defaults, so adding an option is
 * one line. Values are weakly typed as in Vault's config: a bool may be
 * written true or "true", a duration 30 or "30s", a size 1024 or "1MiB". */
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
#include "storage/storage_pg.h"

#include "duration.h"
#include "err.h"
#include "hcl.h"
#include "hcl_config.h"
#include "secure.h"
#include "strconv.h"

#include "banned.h"

#define DEFAULT_TTL (768 * 3600)

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

static const struct hcl_opt top_opts[] = {
	TOP("api_addr", HCL_OPT_STRING, api_addr, 0, 0),
	TOP("cluster_addr", HCL_OPT_STRING, cluster_addr, 0, 0),
	TOP("cluster_name", HCL_OPT_STRING, cluster_name, 0, 0),
	TOP("disable_mlock", HCL_OPT_BOOL, disable_mlock, 0, 0),
	TOP("disable_performance_standby", HCL_OPT_BOOL, disable_performance_standby, 0, 0),
	TOP("rollback_guard_file", HCL_OPT_STRING, rollback_guard_file, 0, 0),
	TOP("log_level", HCL_OPT_STRING, log_level, 0, 0),
	TOP("log_format", HCL_OPT_STRING, log_format, 0, 0),
	TOP("default_lease_ttl", HCL_OPT_DURATION, default_lease_ttl, 1, 0),
	TOP("max_lease_ttl", HCL_OPT_DURATION, max_lease_ttl, 1, 0),
	TOP("ui", HCL_OPT_BOOL, ui, 0, 0),
	TOP("pid_file", HCL_OPT_STRING, pid_file, 0, 0),
	TOP("user_lockout_max_entries", HCL_OPT_COUNT, user_lockout_max_entries, LOCKOUT_MIN_ENTRIES, 1 << 22),
	TOP("lease_revocation_workers", HCL_OPT_COUNT, lease_revocation_workers, 1, 64),
	TOP("lease_revocation_timeout", HCL_OPT_DURATION, lease_revocation_timeout, 1, 3600),
	{ "audit_file_dirs", HCL_OPT_STRING_LIST, offsetof(struct server_config, audit_file_dirs), 0, 0, audit_dir_refused },
	TOP("allow_audit_log_prefixing", HCL_OPT_BOOL, allow_audit_log_prefixing, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt listener_opts[] = {
	LST("address", HCL_OPT_STRING, address, 0, 0),
	LST("tls_disable", HCL_OPT_BOOL, tls_disable, 0, 0),
	LST("tls_cert_file", HCL_OPT_STRING, tls_cert_file, 0, 0),
	LST("tls_key_file", HCL_OPT_STRING, tls_key_file, 0, 0),
	LST("tls_min_version", HCL_OPT_STRING, tls_min_version, 0, 0),
	LST("tls_client_ca_file", HCL_OPT_STRING, tls_client_ca_file, 0, 0),
	LST("tls_require_and_verify_client_cert", HCL_OPT_BOOL, tls_require_and_verify_client_cert, 0, 0),
	LST("max_request_size", HCL_OPT_SIZE, max_request_size, 1, (int64_t)1 << 40),
	LST("max_request_duration", HCL_OPT_DURATION, max_request_duration, 1, 24 * 3600),
	LST("socket_receive_buffer", HCL_OPT_SIZE, socket_receive_buffer, 0, (int64_t)1 << 30),
	{ NULL, 0, 0, 0, 0, NULL },
};

/* An audit block's own keys; its options block is read apart (a map of
 * device options, checked by the audit broker). */
static const struct hcl_opt audit_opts[] = {
	AUD("path", HCL_OPT_STRING, path),
	AUD("description", HCL_OPT_STRING, description),
	AUD("local", HCL_OPT_BOOL, local),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt lmdb_opts[] = {
	STO("path", HCL_OPT_STRING, path, 0, 0),
	STO("max_size", HCL_OPT_SIZE, max_size, (int64_t)1 << 20, (int64_t)1 << 44),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt pg_opts[] = {
	STO("connection_url", HCL_OPT_STRING, connection_url, 0, 0),
	STO("table", HCL_OPT_STRING, table, 0, 0),
	STO("max_parallel", HCL_OPT_COUNT, max_parallel, 1, 4096),
	STO("max_idle_connections", HCL_OPT_COUNT, max_idle_connections, 0, 4096),
	STO("max_connect_retries", HCL_OPT_COUNT, max_connect_retries, 0, 1000000),
	STO("ha_enabled", HCL_OPT_BOOL, ha_enabled, 0, 0),
	STO("ha_table", HCL_OPT_STRING, ha_table, 0, 0),
	STO("skip_create_table", HCL_OPT_BOOL, skip_create_table, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

#define SEA(name, type, field, lo, hi) { name, type, offsetof(struct seal_block_config, field), lo, hi, NULL }
static const struct hcl_opt pkcs11_opts[] = {
	SEA("disabled", HCL_OPT_BOOL, disabled, 0, 0),
	SEA("lib", HCL_OPT_STRING, lib, 0, 0),
	SEA("slot", HCL_OPT_STRING, slot, 0, 0),
	SEA("token_label", HCL_OPT_STRING, token_label, 0, 0),
	SEA("pin", HCL_OPT_STRING, pin, 0, 0),
	SEA("key_label", HCL_OPT_STRING, key_label, 0, 0),
	SEA("key_id", HCL_OPT_STRING, key_id, 0, 0),
	SEA("mechanism", HCL_OPT_STRING, mechanism, 0, 0),
	SEA("rsa_oaep_hash", HCL_OPT_STRING, rsa_oaep_hash, 0, 0),
	SEA("generate_key", HCL_OPT_BOOL, generate_key, 0, 0),
	SEA("force_rw_session", HCL_OPT_BOOL, force_rw_session, 0, 0),
	SEA("disable_software_encryption", HCL_OPT_BOOL, disable_software_encryption, 0, 0),
	SEA("max_parallel", HCL_OPT_COUNT, max_parallel, 1, 4096),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt inmem_opts[] = {
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct {
	const char *type;
	const struct hcl_opt *opts;
} storage_types[] = {
	{ "lmdb", lmdb_opts },
	{ "postgresql", pg_opts },
	{ "inmem", inmem_opts },
};

void config_init(struct server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->default_lease_ttl = DEFAULT_TTL;
	cfg->max_lease_ttl = DEFAULT_TTL;
	/* standbys serve reads (docs/ha.md), as OpenBao's and Vault
	 * Enterprise's do by default; false is also the zeroed value */
	cfg->disable_performance_standby = false;
	strlist_init(&cfg->audit_file_dirs);
}

static void seal_block_release(struct seal_block_config *s)
{
	free(s->type);
	free(s->lib);
	free(s->slot);
	free(s->token_label);
	secure_free_str(s->pin);
	free(s->key_label);
	free(s->key_id);
	free(s->mechanism);
	free(s->rsa_oaep_hash);
	free(s->where);
	memset(s, 0, sizeof(*s));
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
	config_storage_release(&cfg->storage);
	seal_block_release(&cfg->seal);
	free(cfg->api_addr);
	free(cfg->cluster_addr);
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
	l->socket_receive_buffer = CONFIG_SOCKET_RECEIVE_BUFFER;
	return l;
}

static int load_listener(void *ctx, const char *type, const struct hcl_value *body, int line,
			 const char *file, struct buf *err)
{
	struct server_config *cfg = ctx;
	if (strcmp(type, "tcp") != 0)
		return hcl_config_fail(err, file, line, "listener \"%s\": unsupported listener type (supported: tcp)", type);
	struct listener_config *l = config_add_listener(cfg);
	if (!l)
		return hcl_config_fail(err, file, line, "too many listeners (at most %d)", CONFIG_MAX_LISTENERS);
	l->where = hcl_config_where(file, line);
	return hcl_opts_apply(l, listener_opts, body, file, "listener \"tcp\": ", err);
}

/* `seal "pkcs11" { ... }`; one seal block in all (Trove has one auto seal,
 * so a migration between two auto seals does not arise). */
static int load_seal(void *ctx, const char *type, const struct hcl_value *body, int line, const char *file,
                     struct buf *err)
{
	struct server_config *cfg = ctx;
	if (cfg->seal.type)
		return hcl_config_fail(err, file, line, "seal is already defined at %s; give it once", cfg->seal.where);
	if (strcmp(type, "pkcs11") != 0)
		return hcl_config_fail(err, file, line, "seal \"%s\": unsupported seal type (supported: pkcs11)", type);
	cfg->seal.type = xstrdup(type);
	cfg->seal.where = hcl_config_where(file, line);
	return hcl_opts_apply(&cfg->seal, pkcs11_opts, body, file, "seal \"pkcs11\": ", err);
}

/* The value of VAULT_<name>, else BAO_<name>, else NULL. */
static const char *seal_env(const char *name, const char **which)
{
	static const char *const prefixes[] = { "VAULT_", "BAO_" };
	static char used[64];
	for (size_t i = 0; i < 2; i++) {
		char var[64];
		snprintf(var, sizeof(var), "%s%s", prefixes[i], name);
		const char *v = getenv(var);
		if (v && v[0]) {
			snprintf(used, sizeof(used), "%s", var);
			*which = used;
			return v;
		}
	}
	return NULL;
}

int config_seal_apply_env(struct server_config *cfg, struct buf *err)
{
	static const struct {
		const char *name;
		size_t offset;
	} vars[] = {
		{ "HSM_LIB", offsetof(struct seal_block_config, lib) },
		{ "HSM_SLOT", offsetof(struct seal_block_config, slot) },
		{ "HSM_TOKEN_LABEL", offsetof(struct seal_block_config, token_label) },
		{ "HSM_PIN", offsetof(struct seal_block_config, pin) },
		{ "HSM_KEY_LABEL", offsetof(struct seal_block_config, key_label) },
		{ "HSM_KEY_ID", offsetof(struct seal_block_config, key_id) },
		{ "HSM_MECHANISM", offsetof(struct seal_block_config, mechanism) },
		{ "HSM_RSA_OAEP_HASH", offsetof(struct seal_block_config, rsa_oaep_hash) },
	};
	const char *which = NULL;
	const char *type = seal_env("SEAL_TYPE", &which);
	if (type && strcmp(type, "pkcs11") != 0) {
		buf_reset(err);
		buf_printf(err, "%s: unsupported seal type \"%s\" (supported: pkcs11)", which, type);
		return TROVE_ERR_INVALID;
	}
	if (!cfg->seal.type) {
		if (!type || !seal_env("HSM_LIB", &which))
			return 0;
		cfg->seal.type = xstrdup("pkcs11");
		cfg->seal.where = xstrdup("environment");
	}
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = seal_env(vars[i].name, &which);
		char **field = (char **)((char *)&cfg->seal + vars[i].offset);
		if (!v)
			continue;
		if (field == &cfg->seal.pin)
			secure_free_str(*field);
		else
			free(*field);
		*field = xstrdup(v);
	}
	const char *gen = seal_env("HSM_GENERATE_KEY", &which);
	if (gen && !strconv_bool(gen, &cfg->seal.generate_key)) {
		buf_reset(err);
		buf_printf(err, "%s: expected true or false", which);
		return TROVE_ERR_INVALID;
	}
	return 0;
}

void config_storage_release(struct storage_config *sc)
{
	free(sc->type);
	free(sc->path);
	secure_free_str(sc->connection_url); /* may hold a password */
	free(sc->table);
	free(sc->ha_table);
	free(sc->where);
	memset(sc, 0, sizeof(*sc));
}

/* The line of key in body, or line when it is not there. */
static int key_line(const struct hcl_value *body, const char *key, int line)
{
	for (size_t i = 0; body->type == HCL_OBJECT && i < body->u.object.len; i++)
		if (strcmp(body->u.object.members[i].key, key) == 0 && body->u.object.members[i].line)
			return body->u.object.members[i].line;
	return line;
}

/* What a postgresql block may not say: table names that are not
 * identifiers. */
static int check_pg(const struct storage_config *sc, const char *block, const struct hcl_value *body, int line,
                    const char *file, struct buf *err)
{
	const char *why;

	if (sc->table && (why = storage_pg_table_refused(sc->table)) != NULL)
		return hcl_config_fail(err, file, key_line(body, "table", line), "%stable \"%s\" %s", block, sc->table,
		                       why);
	if (sc->ha_table && (why = storage_pg_table_refused(sc->ha_table)) != NULL)
		return hcl_config_fail(err, file, key_line(body, "ha_table", line), "%sha_table \"%s\" %s", block,
		                       sc->ha_table, why);
	return 0;
}

/* hcl_opts_apply, where a count may also be written as a string of
 * digits: Vault documents max_parallel as a string ("128"), and its
 * storage options are read as strings whatever their HCL type. */
static int apply_counts_as_strings(struct storage_config *sc, const struct hcl_opt *table,
                                   const struct hcl_value *body, const char *file, const char *block, struct buf *err)
{
	struct hcl_value copy = *body, *ints = NULL;
	struct hcl_member *members = NULL;
	size_t n = body->type == HCL_OBJECT ? body->u.object.len : 0;
	int r;

	if (n > 0) {
		members = xcalloc(n, sizeof(*members));
		ints = xcalloc(n, sizeof(*ints));
	}
	for (size_t i = 0; i < n; i++) {
		const struct hcl_member *m = &body->u.object.members[i];
		const struct hcl_opt *o = hcl_opt_find(table, m->key);
		int64_t v;
		members[i] = *m;
		if (o && o->type == HCL_OPT_COUNT && m->value->type == HCL_STRING && strconv_int64(m->value->u.string.ptr, &v)) {
			ints[i] = *m->value;
			ints[i].type = HCL_INT;
			ints[i].u.i = v;
			members[i].value = &ints[i];
		}
	}
	copy.u.object.members = members;
	r = hcl_opts_apply(sc, table, &copy, file, block, err);
	free(members);
	free(ints);
	return r;
}

int config_storage_block(struct storage_config *sc, const char *kind, const char *type, const struct hcl_value *body,
                         int line, const char *file, struct buf *err)
{
	const struct hcl_opt *table = NULL;
	char block[96];
	int r;
	for (size_t i = 0; i < sizeof(storage_types) / sizeof(storage_types[0]); i++)
		if (strcmp(storage_types[i].type, type) == 0)
			table = storage_types[i].opts;
	if (!table)
		return hcl_config_fail(err, file, line,
		                       "%s \"%s\": unsupported storage type (supported: lmdb, postgresql, inmem)", kind,
		                       type);
	if (sc->type)
		return hcl_config_fail(err, file, line, "%s is already defined at %s; give it once", kind, sc->where);
	sc->type = xstrdup(type);
	sc->where = hcl_config_where(file, line);
	sc->max_connect_retries = -1;
	snprintf(block, sizeof(block), "%s \"%s\": ", kind, type);
	if (strcmp(type, "postgresql") != 0)
		return hcl_opts_apply(sc, table, body, file, block, err);
	if ((r = apply_counts_as_strings(sc, table, body, file, block, err)) != 0)
		return r;
	return check_pg(sc, block, body, line, file, err);
}

static int load_storage(void *ctx, const char *type, const struct hcl_value *body, int line,
			const char *file, struct buf *err)
{
	struct server_config *cfg = ctx;
	return config_storage_block(&cfg->storage, "storage", type, body, line, file, err);
}

/* An audit block's options: strings, numbers and booleans, as JSON (the
 * broker takes them as their text, as it does through the API). */
static int audit_options(struct audit_config_device *a, const struct hcl_value *v, const char *file, int line,
			 const char *block, struct buf *err)
{
	if (v->type != HCL_OBJECT)
		return hcl_config_fail(err, file, v->line ? v->line : line, "%soptions: expected a block of strings", block);
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
			return hcl_config_fail(err, file, m->line ? m->line : line, "%soptions.%s: %s", block, m->key,
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
		return hcl_config_fail(err, file, line, "too many audit blocks (at most %d)", CONFIG_MAX_AUDITS);
	if (body->type != HCL_OBJECT)
		return hcl_config_fail(err, file, body->line ? body->line : line, "%sexpected a block", block);
	struct audit_config_device *a = &cfg->audits[cfg->naudits++];
	a->type = xstrdup(type);
	a->where = hcl_config_where(file, line);
	a->options = json_object();
	if (label2)
		a->path = xstrdup(label2);
	for (size_t i = 0; i < body->u.object.len; i++) {
		const struct hcl_member *m = &body->u.object.members[i];
		int l = m->line ? m->line : line;
		int r;
		for (size_t j = 0; j < i; j++)
			if (strcmp(body->u.object.members[j].key, m->key) == 0)
				return hcl_config_fail(err, file, l, "%s\"%s\" is set twice", block, m->key);
		if (strcmp(m->key, "options") == 0) {
			if ((r = audit_options(a, m->value, file, l, block, err)) != 0)
				return r;
			continue;
		}
		const struct hcl_opt *o = audit_opts;
		for (; o->name; o++)
			if (strcmp(o->name, m->key) == 0)
				break;
		if (!o->name)
			return hcl_config_fail(err, file, l, "%sunknown key \"%s\" (path, description, local, options)", block,
				    m->key);
		if (label2 && strcmp(m->key, "path") == 0)
			return hcl_config_fail(err, file, l, "%spath is given twice (label and key)", block);
		if ((r = hcl_opt_set(a, o, m, file, block, err)) != 0)
			return r;
	}
	if (!a->path)
		a->path = xstrdup(type);
	return 0;
}

static int load_audit(void *ctx, const char *type, const struct hcl_value *body, int line,
		      const char *file, struct buf *err)
{
	struct server_config *cfg = ctx;
	return load_audit2(cfg, type, NULL, body, line, file, err);
}

int config_load_text(struct server_config *cfg, const char *name, const char *text, size_t len, bool json,
		     struct buf *err)
{
	struct hcl_value *root = NULL;
	struct hcl_error he = { 0 };
	int r = json ? hcl_parse_json(text, len, &root, &he) : hcl_parse(text, len, &root, &he);
	if (r != 0) {
		if (he.line > 0)
			return hcl_config_fail(err, name, he.line, "%s", he.message);
		return hcl_config_fail(err, name, 0, "%s", he.message);
	}
	for (size_t i = 0; i < root->u.object.len; i++) {
		const struct hcl_member *m = &root->u.object.members[i];
		if (strcmp(m->key, "listener") == 0)
			r = hcl_config_blocks(m, load_listener, cfg, name, err);
		else if (strcmp(m->key, "storage") == 0 || strcmp(m->key, "backend") == 0)
			r = hcl_config_blocks(m, load_storage, cfg, name, err);
		else if (strcmp(m->key, "seal") == 0)
			r = hcl_config_blocks(m, load_seal, cfg, name, err);
		else if (strcmp(m->key, "audit") == 0 && m->nlabels == 2)
			r = load_audit2(cfg, m->labels[0], m->labels[1], m->value, m->line, name, err);
		else if (strcmp(m->key, "audit") == 0)
			r = hcl_config_blocks(m, load_audit, cfg, name, err);
		else {
			const struct hcl_opt *o = top_opts;
			for (; o->name; o++)
				if (strcmp(o->name, m->key) == 0)
					break;
			if (!o->name)
				r = hcl_config_fail(err, name, m->line, "unknown key \"%s\"", m->key);
			else
				r = hcl_opt_set(cfg, o, m, name, "", err);
		}
		if (r != 0)
			break;
	}
	hcl_free(root);
	return r;
}

static int load_text_cb(void *ctx, const char *name, const char *text, size_t len, bool json, struct buf *err)
{
	return config_load_text(ctx, name, text, len, json, err);
}

int config_load_path(struct server_config *cfg, const char *path, struct buf *err)
{
	return hcl_config_load_path(path, load_text_cb, cfg, err);
}

static int check_readable(const char *file, const char *what, const char *where_, struct buf *err)
{
	if (access(file, R_OK) != 0)
		return hcl_config_fail(err, where_, 0, "listener \"tcp\": %s \"%s\" is not readable: %s", what, file,
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
				return hcl_config_fail(err, a->where, 0, "audit \"%s\": path \"%s\" is already used at %s", a->type,
					    a->path, cfg->audits[j].where);
		buf_init(&why, 4096);
		r = audit_config_device_check(&audit_device_types, a, &why);
		if (r != 0)
			hcl_config_fail(err, a->where, 0, "audit \"%s\": %s", a->type, why.data);
		buf_release(&why);
		if (r != 0)
			return r;
	}
	return 0;
}

const char *config_api_addr(const struct server_config *cfg)
{
	const char *v = cfg->api_addr && cfg->api_addr[0] ? cfg->api_addr : getenv("VAULT_API_ADDR");
	return v && v[0] ? v : NULL;
}

const char *config_cluster_addr(const struct server_config *cfg)
{
	const char *v = cfg->cluster_addr && cfg->cluster_addr[0] ? cfg->cluster_addr : getenv("VAULT_CLUSTER_ADDR");
	return v && v[0] ? v : NULL;
}

/* An address other nodes and clients reach this node at: a URL with a
 * scheme, a host, and nothing a Location header could not carry. */
static bool addr_ok(const char *a)
{
	if (strncmp(a, "http://", 7) != 0 && strncmp(a, "https://", 8) != 0)
		return false;
	const char *host = a + (a[4] == 's' ? 8 : 7);
	if (!host[0] || host[0] == '/' || strlen(a) >= 256)
		return false;
	for (const char *c = a; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return false;
	return true;
}

/* HA needs to know where the other nodes send clients (api_addr) and
 * where they reach this node (cluster_addr). */
static int validate_ha(const struct server_config *cfg, struct buf *err)
{
	static const char *const names[2] = {"api_addr", "cluster_addr"};
	static const char *const envs[2] = {"VAULT_API_ADDR", "VAULT_CLUSTER_ADDR"};
	const char *vals[2] = {config_api_addr(cfg), config_cluster_addr(cfg)};
	for (int i = 0; i < 2; i++) {
		if (!vals[i])
			return hcl_config_fail(err, cfg->storage.where, 0,
			                       "storage \"postgresql\": ha_enabled = true needs %s, the address of this node "
			                       "(set %s at the top level of the config, or %s)",
			                       names[i], names[i], envs[i]);
		if (!addr_ok(vals[i]))
			return hcl_config_fail(err, cfg->storage.where, 0,
			                       "%s \"%s\" must be an http:// or https:// URL with a host, without spaces "
			                       "or control characters",
			                       names[i], vals[i]);
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
		return hcl_config_fail(err, cfg->storage.where, 0, "storage \"lmdb\": \"path\" is required");
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
	if (cfg->storage.ha_enabled && (r = validate_ha(cfg, err)) != 0)
		return r;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct listener_config *l = &cfg->listeners[i];
		const char *w = l->where ? l->where : "listener";
		if (!strchr(l->address, ':'))
			return hcl_config_fail(err, w, 0, "listener \"tcp\": address \"%s\" must be host:port", l->address);
		if (strcmp(l->tls_min_version, "tls12") != 0 && strcmp(l->tls_min_version, "tls13") != 0)
			return hcl_config_fail(err, w, 0, "listener \"tcp\": tls_min_version must be tls12 or tls13");
		if (l->tls_disable)
			continue;
		if (!l->tls_cert_file || !l->tls_key_file)
			return hcl_config_fail(err, w, 0,
				    "listener \"tcp\": TLS is on, so tls_cert_file and tls_key_file are required "
				    "(or set tls_disable = true)");
		if ((r = check_readable(l->tls_cert_file, "tls_cert_file", w, err)) != 0 ||
		    (r = check_readable(l->tls_key_file, "tls_key_file", w, err)) != 0)
			return r;
		if (l->tls_client_ca_file && (r = check_readable(l->tls_client_ca_file, "tls_client_ca_file", w, err)))
			return r;
		if (l->tls_require_and_verify_client_cert && !l->tls_client_ca_file)
			return hcl_config_fail(err, w, 0,
				    "listener \"tcp\": tls_require_and_verify_client_cert needs tls_client_ca_file");
	}
	return 0;
}
