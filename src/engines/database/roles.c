/* roles.c — dynamic roles, `roles/:name`: which connection a role's users
 * are made on, the statements that make, undo, renew and revoke them, and
 * their TTLs. */
#include <stdlib.h>
#include <string.h>

#include "database.h"
#include "plugins.h"

#include "core/engine.h"
#include "core/router.h"
#include "engines/kv_util.h"
#include "err.h"
#include "storage/storage.h"

#include "banned.h"

#define ROLE_PREFIX "role/"

static const char *const stmt_fields[] = {"creation_statements", "revocation_statements",
                                          "rollback_statements", "renew_statements"};

void db_role_free(struct db_role *r)
{
	if (!r)
		return;
	free(r->db_name);
	json_decref(r->creation);
	json_decref(r->revocation);
	json_decref(r->rollback);
	json_decref(r->renew);
	free(r->credential_type);
	json_decref(r->credential_config);
	free(r);
}

static json_t **role_stmts(struct db_role *r, size_t i)
{
	json_t **slots[] = {&r->creation, &r->revocation, &r->rollback, &r->renew};
	return slots[i];
}

const char **db_str_vec(const json_t *a, size_t *n)
{
	size_t len = json_array_size(a);
	const char **v = xcalloc(len + 1, sizeof(*v));
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (s)
			v[(*n)++] = s;
	}
	return v;
}

int db_field_stmts(const struct request *req, const char *name, json_t **out)
{
	json_t *v = json_object_get(req->data, name);
	size_t i;
	json_t *e;

	*out = json_array();
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		if (json_string_length(v) > 0)
			json_array_append(*out, v);
		return 0;
	}
	if (!json_is_array(v))
		goto bad;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			goto bad;
		if (json_string_length(e) > 0)
			json_array_append(*out, e);
	}
	return 0;
bad:
	json_decref(*out);
	*out = NULL;
	return TROVE_ERR_INVALID;
}

static char *role_key(const char *name)
{
	struct buf k;
	buf_init(&k, BUF_CAP_DEFAULT);
	buf_printf(&k, ROLE_PREFIX "%s", name);
	return buf_take(&k);
}

static json_t *arr_or_empty(json_t *a)
{
	return json_is_array(a) ? json_incref(a) : json_array();
}

int db_role_load(struct storage *s, const char *name, struct db_role **out)
{
	json_t *v = NULL;
	char *key = role_key(name);
	int r = kv_get_json(s, key, &v);
	free(key);
	*out = NULL;
	if (r != 0)
		return r;
	struct db_role *ro = xcalloc(1, sizeof(*ro));
	const char *db = json_string_value(json_object_get(v, "db_name"));
	const char *ct = json_string_value(json_object_get(v, "credential_type"));
	ro->db_name = xstrdup(db ? db : "");
	for (size_t i = 0; i < 4; i++)
		*role_stmts(ro, i) = arr_or_empty(json_object_get(v, stmt_fields[i]));
	ro->default_ttl = json_integer_value(json_object_get(v, "default_ttl"));
	ro->max_ttl = json_integer_value(json_object_get(v, "max_ttl"));
	ro->credential_type = xstrdup(ct ? ct : "password");
	json_t *cc = json_object_get(v, "credential_config");
	ro->credential_config = json_is_object(cc) ? json_incref(cc) : json_object();
	json_decref(v);
	*out = ro;
	return 0;
}

static json_t *role_json(const struct db_role *r)
{
	return json_pack("{s:O, s:s, s:s, s:I, s:I, s:O, s:O, s:O, s:O}", "creation_statements", r->creation,
	                 "credential_type", r->credential_type, "db_name", r->db_name, "default_ttl",
	                 (json_int_t)r->default_ttl, "max_ttl", (json_int_t)r->max_ttl, "renew_statements",
	                 r->renew, "revocation_statements", r->revocation, "rollback_statements", r->rollback,
	                 "credential_config", r->credential_config);
}

/* Checks the credential type against the connection's plugin, when the
 * connection exists (Vault does not require it to at write). */
static int check_credential_type(struct request *req, struct response *resp, const struct db_role *ro)
{
	if (strcmp(ro->credential_type, "password") == 0)
		return 0;
	if (strcmp(ro->credential_type, "rsa_private_key") != 0)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "credential_type: \"%s\" is not one of password, rsa_private_key",
		                      ro->credential_type);
	struct db_config *c = NULL;
	int r = db_config_load(req->storage, ro->db_name, &c);
	bool ok = r != 0 || (c->plugin && c->plugin->rsa_private_key);
	db_config_free(c);
	if (!ok)
		return response_error(
		    resp, TROVE_ERR_INVALID,
		    "credential_type: rsa_private_key is not supported by the plugin of \"%s\"", ro->db_name);
	return 0;
}

static int role_write(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	struct db_role *ro = NULL;
	char *key = NULL;
	int r = db_role_load(req->storage, name, &ro);

	if (r == TROVE_ERR_NOT_FOUND) {
		struct db_static_role *st = NULL;
		bool taken = db_static_role_load(req->storage, name, &st) == 0;
		db_static_role_free(st);
		if (taken) {
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "Role and Static Role names must be unique");
			goto out;
		}
		ro = xcalloc(1, sizeof(*ro));
		ro->db_name = xstrdup("");
		for (size_t i = 0; i < 4; i++)
			*role_stmts(ro, i) = json_array();
		ro->credential_type = xstrdup("password");
		ro->credential_config = json_object();
	} else if (r != 0) {
		goto out;
	}
	if (field_present(req, "db_name")) {
		free(ro->db_name);
		ro->db_name = xstrdup(field_string(req, "db_name"));
	}
	for (size_t i = 0; i < 4; i++) {
		json_t *a = NULL;
		if ((r = db_field_stmts(req, stmt_fields[i], &a)) != 0) {
			r = response_error(resp, r, "%s: must be a string or a list of strings",
			                   stmt_fields[i]);
			goto out;
		}
		if (field_present(req, stmt_fields[i])) {
			json_decref(*role_stmts(ro, i));
			*role_stmts(ro, i) = a;
		} else {
			json_decref(a);
		}
	}
	if (field_present(req, "default_ttl"))
		ro->default_ttl = field_int(req, "default_ttl");
	if (field_present(req, "max_ttl"))
		ro->max_ttl = field_int(req, "max_ttl");
	if (field_present(req, "credential_type")) {
		free(ro->credential_type);
		ro->credential_type = xstrdup(field_string(req, "credential_type"));
	}
	if (field_present(req, "credential_config")) {
		json_decref(ro->credential_config);
		ro->credential_config = json_incref(json_object_get(req->data, "credential_config"));
	}
	if (!ro->db_name[0]) {
		r = response_error(resp, TROVE_ERR_INVALID, "db_name: missing");
		goto out;
	}
	if (json_array_size(ro->creation) == 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "creation_statements: missing");
		goto out;
	}
	if (ro->max_ttl > 0 && ro->default_ttl > ro->max_ttl) {
		r = response_error(resp, TROVE_ERR_INVALID, "default_ttl: cannot be greater than max_ttl");
		goto out;
	}
	if ((r = check_credential_type(req, resp, ro)) != 0)
		goto out;
	json_t *v = role_json(ro);
	key = role_key(name);
	r = kv_put_json(req->storage, key, v);
	json_decref(v);
out:
	free(key);
	db_role_free(ro);
	return r;
}

static int role_read(struct request *req, struct response *resp)
{
	struct db_role *ro = NULL;
	int r = db_role_load(req->storage, request_param(req, "name"), &ro);
	if (r == 0)
		response_set_data(resp, role_json(ro));
	db_role_free(ro);
	return r;
}

static int role_delete(struct request *req, struct response *resp)
{
	char *key = role_key(request_param(req, "name"));
	int r = storage_delete(req->storage, key);
	(void)resp;
	free(key);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

static int role_list(struct request *req, struct response *resp)
{
	return kv_list_reply(req->storage, ROLE_PREFIX, resp);
}

static int role_exists(struct request *req, bool *out)
{
	struct db_role *ro = NULL;
	int r = db_role_load(req->storage, request_param(req, "name"), &ro);
	db_role_free(ro);
	*out = r == 0;
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

static const struct field role_fields[] = {
    {.name = "db_name", .type = FIELD_STRING, .description = "the connection (config/:name) to use"},
    {.name = "creation_statements", .type = FIELD_ANY, .description = "statements that create the user"},
    {.name = "revocation_statements", .type = FIELD_ANY, .description = "statements that drop it"},
    {.name = "rollback_statements", .type = FIELD_ANY, .description = "accepted and kept (Vault's)"},
    {.name = "renew_statements", .type = FIELD_ANY, .description = "statements run on renewal"},
    {.name = "default_ttl",
     .type = FIELD_DURATION,
     .min = 0,
     .max = 100LL * 365 * 86400,
     .description = "lease TTL; 0: the mount's"},
    {.name = "max_ttl",
     .type = FIELD_DURATION,
     .min = 0,
     .max = 100LL * 365 * 86400,
     .description = "longest lease; 0: the mount's"},
    {.name = "credential_type",
     .type = FIELD_STRING,
     .canon = FIELD_CANON_LOWER,
     .description = "password or rsa_private_key"},
    {.name = "credential_config", .type = FIELD_MAP, .description = "settings of the credential type"},
    {0},
};

const struct route db_role_routes[] = {
    {.pattern = "roles", .ops = {[OP_LIST] = role_list}, .synopsis = "list the dynamic roles"},
    {.pattern = "roles/:name",
     .ops = {[OP_READ] = role_read,
             [OP_CREATE] = role_write,
             [OP_UPDATE] = role_write,
             [OP_DELETE] = role_delete},
     .exists = role_exists,
     .fields = role_fields,
     .synopsis = "a dynamic role"},
    {0},
};
