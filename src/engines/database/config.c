/* config.c — connections, `config/:name`: stored in the barrier, the
 * password never answered; `reset/:name`; the connect parameters a plugin
 * is given and the allowed_roles check. */
#include <stdlib.h>
#include <string.h>

#include "database.h"
#include "plugins.h"

#include "core/engine.h"
#include "core/mount.h"
#include "core/router.h"
#include "engines/kv_util.h"
#include "err.h"
#include "secure.h"
#include "storage/storage.h"
#include "strlist_json.h"
#include "username_template.h"

#include "banned.h"

#define CONFIG_PREFIX "config/"

void db_config_free(struct db_config *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->plugin_name);
	free(c->connection_url);
	free(c->username);
	secure_free_str(c->password);
	strlist_release(&c->allowed_roles);
	free(c->password_policy);
	free(c->username_template);
	strlist_release(&c->root_rotation_statements);
	free(c->tls_ca);
	secure_free_str(c->tls_certificate_key);
	free(c->tls_server_name);
	free(c);
}

static char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? xstrdup(s) : NULL;
}

static int config_from_json(const json_t *v, const char *name, struct db_config **out)
{
	struct db_config *c = xcalloc(1, sizeof(*c));
	strlist_init(&c->allowed_roles);
	strlist_init(&c->root_rotation_statements);
	c->name = xstrdup(name);
	c->plugin_name = jstr(v, "plugin_name");
	c->connection_url = jstr(v, "connection_url");
	c->username = jstr(v, "username");
	c->password = jstr(v, "password");
	c->password_policy = jstr(v, "password_policy");
	c->username_template = jstr(v, "username_template");
	c->tls_ca = jstr(v, "tls_ca");
	c->tls_certificate_key = jstr(v, "tls_certificate_key");
	c->tls_server_name = jstr(v, "tls_server_name");
	c->tls_skip_verify = json_is_true(json_object_get(v, "tls_skip_verify"));
	c->verify_connection = !json_is_false(json_object_get(v, "verify_connection"));
	c->max_open = json_integer_value(json_object_get(v, "max_open_connections"));
	c->max_idle = json_integer_value(json_object_get(v, "max_idle_connections"));
	c->max_lifetime_s = json_integer_value(json_object_get(v, "max_connection_lifetime"));
	if (!c->plugin_name || !strlist_push_json(&c->allowed_roles, json_object_get(v, "allowed_roles")) ||
	    !strlist_push_json(&c->root_rotation_statements,
	                       json_object_get(v, "root_rotation_statements"))) {
		db_config_free(c);
		return TROVE_ERR_INTEGRITY;
	}
	c->plugin = db_plugin_find(c->plugin_name);
	*out = c;
	return 0;
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static json_t *config_to_json(const struct db_config *c)
{
	json_t *o = json_object();
	set_str(o, "plugin_name", c->plugin_name);
	set_str(o, "connection_url", c->connection_url);
	set_str(o, "username", c->username);
	set_str(o, "password", c->password);
	set_str(o, "password_policy", c->password_policy);
	set_str(o, "username_template", c->username_template);
	set_str(o, "tls_ca", c->tls_ca);
	set_str(o, "tls_certificate_key", c->tls_certificate_key);
	set_str(o, "tls_server_name", c->tls_server_name);
	json_object_set_new(o, "tls_skip_verify", json_boolean(c->tls_skip_verify));
	json_object_set_new(o, "verify_connection", json_boolean(c->verify_connection));
	json_object_set_new(o, "max_open_connections", json_integer(c->max_open));
	json_object_set_new(o, "max_idle_connections", json_integer(c->max_idle));
	json_object_set_new(o, "max_connection_lifetime", json_integer(c->max_lifetime_s));
	json_object_set_new(o, "allowed_roles", strlist_json(&c->allowed_roles));
	json_object_set_new(o, "root_rotation_statements", strlist_json(&c->root_rotation_statements));
	return o;
}

static char *config_key(const char *name)
{
	struct buf k;
	buf_init(&k, BUF_CAP_DEFAULT);
	buf_printf(&k, CONFIG_PREFIX "%s", name);
	return buf_take(&k);
}

int db_config_load(struct storage *s, const char *name, struct db_config **out)
{
	json_t *v = NULL;
	char *key = config_key(name);
	int r = kv_get_json(s, key, &v);
	free(key);
	*out = NULL;
	if (r == 0)
		r = config_from_json(v, name, out);
	json_decref(v);
	return r;
}

int db_config_store(struct storage *s, const struct db_config *cfg)
{
	json_t *v = config_to_json(cfg);
	char *key = config_key(cfg->name);
	int r = kv_put_json(s, key, v);
	free(key);
	json_decref(v);
	return r;
}

void db_connect_params_release(struct db_connect_params *p)
{
	secure_free_str((char *)p->connection_url);
	free((char *)p->username);
	secure_free_str((char *)p->password);
	free((char *)p->tls_ca);
	secure_free_str((char *)p->tls_certificate_key);
	free((char *)p->tls_server_name);
	memset(p, 0, sizeof(*p));
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int db_connect_params_make(const struct db_config *cfg, struct db_connect_params *p)
{
	char *url = NULL;
	memset(p, 0, sizeof(*p));
	int r =
	    db_render_url(cfg->connection_url ? cfg->connection_url : "", cfg->username, cfg->password, &url);
	if (r != 0)
		return r;
	p->connection_url = url;
	p->username = dup_or_null(cfg->username);
	p->password = dup_or_null(cfg->password);
	p->tls_ca = dup_or_null(cfg->tls_ca);
	p->tls_certificate_key = dup_or_null(cfg->tls_certificate_key);
	p->tls_server_name = dup_or_null(cfg->tls_server_name);
	p->tls_skip_verify = cfg->tls_skip_verify;
	return 0;
}

bool db_glob_match(const char *pat, const char *s)
{
	for (; *pat; pat++, s++) {
		if (*pat == '*') {
			while (pat[1] == '*')
				pat++;
			for (const char *t = s;; t++) {
				if (db_glob_match(pat + 1, t))
					return true;
				if (!*t)
					return false;
			}
		}
		if (*s != *pat)
			return false;
	}
	return *s == '\0';
}

bool db_config_allows(const struct db_config *cfg, const char *role)
{
	for (size_t i = 0; i < cfg->allowed_roles.len; i++)
		if (db_glob_match(cfg->allowed_roles.items[i], role))
			return true;
	return false;
}

/* Connects with cfg's settings and pings, as verify_connection asks. */
static int verify(const struct db_config *cfg, char **why)
{
	struct db_connect_params p;
	struct db_conn *c = NULL;
	int r = db_connect_params_make(cfg, &p);
	if (r != 0)
		return r;
	p.deadline_ms = db_now_ms() + DB_CALL_TIMEOUT_MS;
	if ((r = cfg->plugin->connect(&p, &c, why)) == 0) {
		r = cfg->plugin->ping(c, p.deadline_ms, why);
		cfg->plugin->disconnect(c);
	}
	db_connect_params_release(&p);
	return r;
}

static void take_str(const struct request *req, const char *k, char **dst)
{
	if (!field_present(req, k))
		return;
	free(*dst);
	*dst = xstrdup(field_string(req, k));
}

/* Lays the request's fields over c (a new config or the stored one, as
 * Vault's update keeps what a write does not name). */
static int config_apply(struct request *req, struct response *resp, struct db_config *c)
{
	json_t *stmts = NULL;
	int r;

	take_str(req, "plugin_name", &c->plugin_name);
	take_str(req, "connection_url", &c->connection_url);
	take_str(req, "username", &c->username);
	if (field_present(req, "password")) {
		secure_free_str(c->password);
		c->password = xstrdup(field_string(req, "password"));
	}
	take_str(req, "password_policy", &c->password_policy);
	take_str(req, "username_template", &c->username_template);
	take_str(req, "tls_ca", &c->tls_ca);
	if (field_present(req, "tls_certificate_key")) {
		secure_free_str(c->tls_certificate_key);
		c->tls_certificate_key = xstrdup(field_string(req, "tls_certificate_key"));
	}
	take_str(req, "tls_server_name", &c->tls_server_name);
	if (field_present(req, "tls_skip_verify"))
		c->tls_skip_verify = field_bool(req, "tls_skip_verify");
	c->verify_connection = field_bool(req, "verify_connection");
	if (field_present(req, "max_open_connections"))
		c->max_open = field_int(req, "max_open_connections");
	if (field_present(req, "max_idle_connections"))
		c->max_idle = field_int(req, "max_idle_connections");
	if (field_present(req, "max_connection_lifetime"))
		c->max_lifetime_s = field_int(req, "max_connection_lifetime");
	if (field_present(req, "allowed_roles")) {
		strlist_release(&c->allowed_roles);
		strlist_init(&c->allowed_roles);
		strlist_push_json(&c->allowed_roles, json_object_get(req->data, "allowed_roles"));
	}
	if ((r = db_field_stmts(req, "root_rotation_statements", &stmts)) != 0)
		return response_error(resp, r,
		                      "root_rotation_statements: must be a string or a list of strings");
	if (field_present(req, "root_rotation_statements")) {
		strlist_release(&c->root_rotation_statements);
		strlist_init(&c->root_rotation_statements);
		strlist_push_json(&c->root_rotation_statements, stmts);
	}
	json_decref(stmts);
	if (!c->plugin_name || !c->plugin_name[0])
		return response_error(resp, TROVE_ERR_INVALID, "plugin_name: missing");
	if (!(c->plugin = db_plugin_find(c->plugin_name)))
		return response_error(resp, TROVE_ERR_INVALID,
		                      "plugin_name: no plugin named \"%s\" in this build", c->plugin_name);
	if (c->username_template && c->username_template[0]) {
		char *why = NULL;
		if ((r = username_template_check(c->username_template, &why)) != 0) {
			r = response_error(resp, r, "username_template: %s", why ? why : err_message(r));
			free(why);
			return r;
		}
	}
	if (c->max_open <= 0)
		c->max_open = DB_MAX_OPEN_DEFAULT;
	return 0;
}

static int config_write(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	struct db_config *c = NULL;
	char *why = NULL;
	db_config_lock(req->mount);
	int r = db_config_load(req->storage, name, &c);

	if (r == TROVE_ERR_NOT_FOUND) {
		c = xcalloc(1, sizeof(*c));
		c->name = xstrdup(name);
		strlist_init(&c->allowed_roles);
		strlist_init(&c->root_rotation_statements);
	} else if (r != 0) {
		goto out;
	}
	if ((r = config_apply(req, resp, c)) != 0)
		goto out;
	if (c->verify_connection && (r = verify(c, &why)) != 0) {
		db_why_scrub(why, c->password);
		r = response_error(resp, r == TROVE_ERR_NOMEM ? r : TROVE_ERR_INVALID,
		                   "error verifying connection: %s", why ? why : err_message(r));
		goto out;
	}
	if ((r = db_config_store(req->storage, c)) != 0)
		goto out;
	db_state_drop(req->mount, name);
out:
	db_config_unlock(req->mount);
	secure_free_str(why);
	db_config_free(c);
	return r;
}

static int config_read(struct request *req, struct response *resp)
{
	struct db_config *c = NULL;
	int r = db_config_load(req->storage, request_param(req, "name"), &c);
	if (r != 0)
		return r;
	json_t *details = json_object();
	if (c->connection_url) {
		char *shown = db_url_redact(c->connection_url);
		json_object_set_new(details, "connection_url", json_string(shown));
		free(shown);
	}
	set_str(details, "username", c->username);
	set_str(details, "tls_server_name", c->tls_server_name);
	if (c->tls_skip_verify)
		json_object_set_new(details, "tls_skip_verify", json_true());
	json_object_set_new(details, "max_open_connections", json_integer(c->max_open));
	json_object_set_new(details, "max_idle_connections", json_integer(c->max_idle));
	json_object_set_new(details, "max_connection_lifetime", json_integer(c->max_lifetime_s));
	response_set_data(resp, json_pack("{s:o, s:o, s:s, s:s, s:s, s:o, s:b}", "allowed_roles",
	                                  strlist_json(&c->allowed_roles), "connection_details", details,
	                                  "password_policy", c->password_policy ? c->password_policy : "",
	                                  "plugin_name", c->plugin_name, "plugin_version", "",
	                                  "root_credentials_rotate_statements",
	                                  strlist_json(&c->root_rotation_statements), "verify_connection",
	                                  c->verify_connection));
	if (c->username_template)
		json_object_set_new(json_object_get(resp->data, "connection_details"), "username_template",
		                    json_string(c->username_template));
	db_config_free(c);
	return 0;
}

static int config_delete(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	char *key = config_key(name);
	(void)resp;
	db_config_lock(req->mount);
	int r = storage_delete(req->storage, key);
	db_state_drop(req->mount, name);
	db_config_unlock(req->mount);
	free(key);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

static int config_list(struct request *req, struct response *resp)
{
	return kv_list_reply(req->storage, CONFIG_PREFIX, resp);
}

static int config_exists(struct request *req, bool *out)
{
	char *key = config_key(request_param(req, "name"));
	unsigned char *v = NULL;
	size_t n = 0;
	int r = storage_get(req->storage, key, &v, &n);
	free(key);
	secure_free(v, n);
	*out = r == 0;
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

static int reset_write(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	struct db_config *c = NULL;
	int r = db_config_load(req->storage, name, &c);
	db_config_free(c);
	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, TROVE_ERR_INVALID, "no connection named \"%s\"", name);
	if (r == 0)
		db_state_drop(req->mount, name);
	return r;
}

static const struct field config_fields[] = {
    {.name = "plugin_name",
     .type = FIELD_STRING,
     .description = "the kind of database (Vault's plugin name)"},
    {.name = "plugin_version", .type = FIELD_STRING, .description = "accepted and ignored"},
    {.name = "connection_url", .type = FIELD_STRING, .description = "URL or DSN; {{username}}, {{password}}"},
    {.name = "username", .type = FIELD_STRING, .description = "the root user"},
    {.name = "password",
     .type = FIELD_STRING,
     .sensitive = true,
     .description = "the root password, never returned"},
    {.name = "allowed_roles", .type = FIELD_STRLIST, .description = "roles that may use it (globs; * any)"},
    {.name = "verify_connection", .type = FIELD_BOOL, .def = "true", .description = "connect before storing"},
    {.name = "password_policy", .type = FIELD_STRING, .description = "password policy for new passwords"},
    {.name = "username_template", .type = FIELD_STRING, .description = "template of new user names"},
    {.name = "root_rotation_statements", .type = FIELD_ANY, .description = "statements of rotate-root"},
    {.name = "max_open_connections", .type = FIELD_INT, .min = 1, .max = 1000, .description = "default 4"},
    {.name = "max_idle_connections", .type = FIELD_INT, .min = -1, .max = 1000, .description = "0: max_open"},
    {.name = "max_connection_lifetime",
     .type = FIELD_DURATION,
     .min = 0,
     .max = 86400 * 365,
     .description = "0: unlimited"},
    {.name = "tls_ca", .type = FIELD_STRING, .description = "MySQL: CA certificates (PEM)"},
    {.name = "tls_certificate_key",
     .type = FIELD_STRING,
     .sensitive = true,
     .description = "MySQL: client certificate and key (PEM)"},
    {.name = "tls_server_name",
     .type = FIELD_STRING,
     .description = "MySQL: name checked in the certificate"},
    {.name = "tls_skip_verify", .type = FIELD_BOOL, .description = "MySQL: do not verify the certificate"},
    {0},
};

const struct route db_config_routes[] = {
    {.pattern = "config", .ops = {[OP_LIST] = config_list}, .synopsis = "list the connections"},
    {.pattern = "config/:name",
     .ops = {[OP_READ] = config_read,
             [OP_CREATE] = config_write,
             [OP_UPDATE] = config_write,
             [OP_DELETE] = config_delete},
     .exists = config_exists,
     .fields = config_fields,
     .synopsis = "configure a connection to a database"},
    {.pattern = "reset/:name", .ops = {[OP_UPDATE] = reset_write}, .synopsis = "close a connection's pool"},
    {0},
};
