/* static_role.c — static roles, `static-roles/:name`: an existing database
 * user whose password Trove rotates on a period or a cron schedule. The
 * stored record (with the current password and a pending one) and the
 * role's API; rotation itself is static_rotate.c. */
#include <stdlib.h>
#include <string.h>

#include "database.h"

#include "clock.h"
#include "core/engine.h"
#include "core/mount.h"
#include "core/router.h"
#include "engines/kv_util.h"
#include "err.h"
#include "secure.h"
#include "storage/storage.h"
#include "timefmt.h"

#include "banned.h"

#define STATIC_PREFIX "static-role/"
#define MIN_PERIOD_S 5    /* Vault's queue tick */
#define MIN_WINDOW_S 3600 /* Vault's shortest rotation_window */

void db_static_role_free(struct db_static_role *ro)
{
	if (!ro)
		return;
	free(ro->db_name);
	free(ro->username);
	json_decref(ro->rotation);
	free(ro->schedule);
	free(ro->credential_type);
	json_decref(ro->credential_config);
	secure_free_str(ro->password);
	secure_free_str(ro->pending);
	free(ro);
}

static char *static_key(const char *name)
{
	struct buf k;
	buf_init(&k, BUF_CAP_DEFAULT);
	buf_printf(&k, STATIC_PREFIX "%s", name);
	return buf_take(&k);
}

static char *str_or_empty(const json_t *v)
{
	const char *s = json_string_value(v);
	return xstrdup(s ? s : "");
}

int db_static_role_load(struct storage *s, const char *name, struct db_static_role **out)
{
	json_t *v = NULL;
	char *key = static_key(name);
	int r = kv_get_json(s, key, &v);
	free(key);
	*out = NULL;
	if (r != 0)
		return r;
	struct db_static_role *ro = xcalloc(1, sizeof(*ro));
	ro->db_name = str_or_empty(json_object_get(v, "db_name"));
	ro->username = str_or_empty(json_object_get(v, "username"));
	json_t *a = json_object_get(v, "rotation_statements");
	ro->rotation = json_is_array(a) ? json_incref(a) : json_array();
	ro->period_s = json_integer_value(json_object_get(v, "rotation_period"));
	ro->schedule = str_or_empty(json_object_get(v, "rotation_schedule"));
	ro->window_s = json_integer_value(json_object_get(v, "rotation_window"));
	ro->credential_type = str_or_empty(json_object_get(v, "credential_type"));
	json_t *cc = json_object_get(v, "credential_config");
	ro->credential_config = json_is_object(cc) ? json_incref(cc) : json_object();
	ro->skip_import_rotation = json_is_true(json_object_get(v, "skip_import_rotation"));
	ro->password = str_or_empty(json_object_get(v, "password"));
	const char *p = json_string_value(json_object_get(v, "pending_password"));
	ro->pending = p ? xstrdup(p) : NULL;
	ro->last_rotation_ns = json_integer_value(json_object_get(v, "last_vault_rotation_ns"));
	ro->next_rotation_s = json_integer_value(json_object_get(v, "next_vault_rotation"));
	json_decref(v);
	const char *field, *why;
	if (!ro->username[0] || (ro->schedule[0] && cron_parse(ro->schedule, &ro->spec, &field, &why) != 0) ||
	    (!ro->schedule[0] && ro->period_s <= 0)) {
		db_static_role_free(ro);
		return TROVE_ERR_INTEGRITY;
	}
	*out = ro;
	return 0;
}

int db_static_role_store(struct storage *s, const char *name, const struct db_static_role *ro)
{
	json_t *v = json_pack(
	    "{s:s, s:s, s:O, s:I, s:s, s:I, s:s, s:O, s:b, s:s, s:I, s:I}", "db_name", ro->db_name,
	    "username", ro->username, "rotation_statements", ro->rotation, "rotation_period",
	    (json_int_t)ro->period_s, "rotation_schedule", ro->schedule, "rotation_window",
	    (json_int_t)ro->window_s, "credential_type", ro->credential_type, "credential_config",
	    ro->credential_config, "skip_import_rotation", ro->skip_import_rotation, "password",
	    ro->password ? ro->password : "", "last_vault_rotation_ns", (json_int_t)ro->last_rotation_ns,
	    "next_vault_rotation", (json_int_t)ro->next_rotation_s);
	if (!v)
		return TROVE_ERR_NOMEM;
	if (ro->pending)
		json_object_set_new(v, "pending_password", json_string(ro->pending));
	char *key = static_key(name);
	int r = kv_put_json(s, key, v);
	free(key);
	/* the JSON held the passwords: wipe its strings before freeing */
	const char *k;
	json_t *e;
	json_object_foreach(v, k, e)
	{
		if (json_is_string(e) && (strcmp(k, "password") == 0 || strcmp(k, "pending_password") == 0))
			secure_wipe((void *)json_string_value(e), json_string_length(e));
	}
	json_decref(v);
	return r;
}

int db_static_role_delete(struct storage *s, const char *name)
{
	char *key = static_key(name);
	int r = storage_delete(s, key);
	free(key);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

int db_static_role_names(struct storage *s, struct strlist *out)
{
	return storage_list(s, STATIC_PREFIX, out);
}

int64_t db_static_next(const struct db_static_role *ro, int64_t from_s)
{
	if (!ro->schedule[0])
		return from_s + ro->period_s;
	int64_t n = cron_next(&ro->spec, from_s);
	return n < 0 ? 0 : n;
}

/* "0001-01-01T00:00:00Z" (Go's zero time, what Vault answers) before
 * the first rotation. */
static void last_rotation_text(const struct db_static_role *ro, char out[TIME_TEXT_MAX])
{
	if (ro->last_rotation_ns > 0)
		time_rfc3339_ns(ro->last_rotation_ns, out);
	else
		memcpy(out, "0001-01-01T00:00:00Z", sizeof("0001-01-01T00:00:00Z"));
}

/* The rotation fields as Vault answers them, added to d. */
static void add_rotation_fields(json_t *d, const struct db_static_role *ro)
{
	if (ro->schedule[0]) {
		json_object_set_new(d, "rotation_schedule", json_string(ro->schedule));
		json_object_set_new(d, "rotation_window", json_integer(ro->window_s));
	} else {
		json_object_set_new(d, "rotation_period", json_integer(ro->period_s));
	}
}

json_t *db_static_creds_json(const struct db_static_role *ro, int64_t now_s)
{
	char last[TIME_TEXT_MAX];
	int64_t ttl = ro->next_rotation_s > now_s ? ro->next_rotation_s - now_s : 0;
	last_rotation_text(ro, last);
	json_t *d = json_pack("{s:s, s:s, s:s, s:I}", "username", ro->username, "password", ro->password,
	                      "last_vault_rotation", last, "ttl", (json_int_t)ttl);
	add_rotation_fields(d, ro);
	return d;
}

static json_t *role_json(const struct db_static_role *ro)
{
	char last[TIME_TEXT_MAX];
	json_t *d = json_pack("{s:s, s:s, s:O, s:s, s:b}", "db_name", ro->db_name, "username", ro->username,
	                      "rotation_statements", ro->rotation, "credential_type", ro->credential_type,
	                      "skip_import_rotation", ro->skip_import_rotation);
	if (json_object_size(ro->credential_config) > 0)
		json_object_set(d, "credential_config", ro->credential_config);
	if (ro->last_rotation_ns > 0) {
		last_rotation_text(ro, last);
		json_object_set_new(d, "last_vault_rotation", json_string(last));
	}
	add_rotation_fields(d, ro);
	return d;
}

/* Applies the rotation fields of req to ro (Vault's rules: period XOR
 * schedule, a window only with a schedule). 0 or a 400 in resp. */
static int apply_rotation(struct request *req, struct response *resp, struct db_static_role *ro, bool create)
{
	bool has_period = field_present(req, "rotation_period");
	const char *sched =
	    field_present(req, "rotation_schedule") ? field_string(req, "rotation_schedule") : "";
	bool has_sched = sched && sched[0];
	bool has_window = field_present(req, "rotation_window");

	if (has_period && has_sched)
		return response_error(
		    resp, TROVE_ERR_INVALID,
		    "rotation_period and rotation_schedule are mutually exclusive: give one");
	if (create && !has_period && !has_sched)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "rotation_period or rotation_schedule: one is required");
	if (has_period) {
		if (has_window)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "rotation_window: only valid with rotation_schedule");
		int64_t p = field_int(req, "rotation_period");
		if (p < MIN_PERIOD_S)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "rotation_period: must be %d seconds or more", MIN_PERIOD_S);
		ro->period_s = p;
		free(ro->schedule);
		ro->schedule = xstrdup("");
		ro->window_s = 0;
	}
	if (has_sched) {
		struct cron_spec spec;
		const char *field = NULL, *why = NULL;
		if (cron_parse(sched, &spec, &field, &why) != 0)
			return response_error(resp, TROVE_ERR_INVALID, "rotation_schedule: %s%s%s",
			                      field ? field : "", field ? ": " : "", why);
		if (cron_next(&spec, clock_realtime_s()) < 0)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "rotation_schedule: never comes within five years");
		free(ro->schedule);
		ro->schedule = xstrdup(sched);
		ro->spec = spec;
		ro->period_s = 0;
	}
	if (has_window) {
		if (!ro->schedule[0])
			return response_error(resp, TROVE_ERR_INVALID,
			                      "rotation_window: only valid with rotation_schedule");
		int64_t w = field_int(req, "rotation_window");
		if (w != 0 && w < MIN_WINDOW_S)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "rotation_window: must be %d seconds or more", MIN_WINDOW_S);
		ro->window_s = w;
	}
	return 0;
}

/* Applies every field of req to ro; 0 or a 400 in resp. */
static int apply_fields(struct request *req, struct response *resp, struct db_static_role *ro, bool create)
{
	int r;
	if (field_present(req, "db_name")) {
		free(ro->db_name);
		ro->db_name = xstrdup(field_string(req, "db_name"));
	}
	if (!ro->db_name[0])
		return response_error(resp, TROVE_ERR_INVALID, "db_name: missing");
	const char *user = field_present(req, "username") ? field_string(req, "username") : "";
	if (create) {
		if (!user || !user[0])
			return response_error(resp, TROVE_ERR_INVALID, "username: missing");
		if (!db_value_safe(user))
			return response_error(
			    resp, TROVE_ERR_INVALID,
			    "username: holds a quote, backslash, backtick, semicolon or control "
			    "character");
		ro->username = xstrdup(user);
	} else if (user && user[0] && strcmp(user, ro->username) != 0) {
		return response_error(resp, TROVE_ERR_INVALID, "username: cannot be changed after creation");
	}
	if ((r = apply_rotation(req, resp, ro, create)) != 0)
		return r;
	if (field_present(req, "rotation_statements")) {
		json_t *a = NULL;
		if (db_field_stmts(req, "rotation_statements", &a) != 0)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "rotation_statements: must be a string or a list of strings");
		json_decref(ro->rotation);
		ro->rotation = a;
	}
	if (field_present(req, "credential_type")) {
		const char *ct = field_string(req, "credential_type");
		if (strcmp(ct, "password") != 0)
			return response_error(
			    resp, TROVE_ERR_INVALID,
			    "credential_type: static roles rotate passwords only (\"password\")");
	}
	if (field_present(req, "credential_config")) {
		json_decref(ro->credential_config);
		ro->credential_config = json_incref(json_object_get(req->data, "credential_config"));
	}
	if (create && field_present(req, "skip_import_rotation"))
		ro->skip_import_rotation = field_bool(req, "skip_import_rotation");
	return 0;
}

/* The connection must exist and allow the role (checked on each write,
 * as Vault does). */
static int check_connection(struct request *req, struct response *resp, const char *name,
                            const struct db_static_role *ro)
{
	struct db_config *cfg = NULL;
	int r = db_config_load(req->storage, ro->db_name, &cfg);
	if (r == TROVE_ERR_NOT_FOUND)
		r = response_error(resp, TROVE_ERR_INVALID, "db_name: no connection named \"%s\"",
		                   ro->db_name);
	else if (r == 0 && !db_config_allows(cfg, name))
		r = response_error(resp, TROVE_ERR_INVALID, "\"%s\" is not an allowed role", name);
	db_config_free(cfg);
	return r;
}

static struct db_static_role *role_new(void)
{
	struct db_static_role *ro = xcalloc(1, sizeof(*ro));
	ro->db_name = xstrdup("");
	ro->rotation = json_array();
	ro->schedule = xstrdup("");
	ro->credential_type = xstrdup("password");
	ro->credential_config = json_object();
	ro->password = xstrdup("");
	return ro;
}

/* Creation: the role is stored, then its password rotated at once (Trove
 * must know it); a failed first rotation removes the role again. */
static int role_create(struct request *req, struct response *resp, const char *name,
                       struct db_static_role *ro)
{
	char *why = NULL;
	int64_t now = clock_realtime_s();
	ro->next_rotation_s = db_static_next(ro, now);
	int r = db_static_role_store(req->storage, name, ro);
	if (r != 0 || ro->skip_import_rotation)
		goto out;
	if ((r = db_static_rotate_locked(req->mount, name, &why)) != 0) {
		(void)db_static_role_delete(req->storage, name);
		r = response_error(resp, r, "failed to rotate the password of \"%s\": %s", ro->username,
		                   why ? why : err_message(r));
		goto out;
	}
	return 0;
out:
	if (r == 0)
		db_static_arm(req->mount, name, ro->next_rotation_s);
	free(why);
	return r;
}

static int role_write(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	struct db_static_role *ro = NULL;
	struct db_role *dyn = NULL;
	db_static_lock(req->mount);
	int r = db_static_role_load(req->storage, name, &ro);
	bool create = r == TROVE_ERR_NOT_FOUND;

	if (create) {
		if ((r = db_role_load(req->storage, name, &dyn)) == 0) {
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "Role and Static Role names must be unique");
			goto out;
		}
		if (r != TROVE_ERR_NOT_FOUND)
			goto out;
		ro = role_new();
	} else if (r != 0) {
		goto out;
	}
	if ((r = apply_fields(req, resp, ro, create)) != 0 ||
	    (r = check_connection(req, resp, name, ro)) != 0)
		goto out;
	if (create) {
		r = role_create(req, resp, name, ro);
		goto out;
	}
	/* an update: the next time follows from the last rotation (Vault's) */
	if (field_present(req, "rotation_period") || field_present(req, "rotation_schedule")) {
		int64_t last =
		    ro->last_rotation_ns > 0 ? ro->last_rotation_ns / 1000000000 : clock_realtime_s();
		ro->next_rotation_s = db_static_next(ro, last);
	}
	if ((r = db_static_role_store(req->storage, name, ro)) == 0)
		db_static_arm(req->mount, name, ro->pending ? clock_realtime_s() : ro->next_rotation_s);
out:
	db_static_unlock(req->mount);
	db_role_free(dyn);
	db_static_role_free(ro);
	return r;
}

static int role_read(struct request *req, struct response *resp)
{
	struct db_static_role *ro = NULL;
	int r = db_static_role_load(req->storage, request_param(req, "name"), &ro);
	if (r == 0)
		response_set_data(resp, role_json(ro));
	db_static_role_free(ro);
	return r;
}

/* Deleting stops the rotation; the user and its password stay in the
 * database as they are. */
static int role_delete(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	(void)resp;
	db_static_lock(req->mount);
	int r = db_static_role_delete(req->storage, name);
	if (r == 0)
		db_static_disarm(req->mount, name);
	db_static_unlock(req->mount);
	return r;
}

static int role_list(struct request *req, struct response *resp)
{
	return kv_list_reply(req->storage, STATIC_PREFIX, resp);
}

static int role_exists(struct request *req, bool *out)
{
	struct db_static_role *ro = NULL;
	int r = db_static_role_load(req->storage, request_param(req, "name"), &ro);
	db_static_role_free(ro);
	*out = r == 0;
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

static const struct field static_fields[] = {
    {.name = "db_name", .type = FIELD_STRING, .description = "the connection (config/:name) to use"},
    {.name = "username", .type = FIELD_STRING, .description = "the existing database user"},
    {.name = "rotation_period",
     .type = FIELD_DURATION,
     .min = 0,
     .max = 100LL * 365 * 86400,
     .description = "time between rotations (5 s or more)"},
    {.name = "rotation_schedule", .type = FIELD_STRING, .description = "5-field cron schedule, UTC"},
    {.name = "rotation_window",
     .type = FIELD_DURATION,
     .min = 0,
     .max = 100LL * 365 * 86400,
     .description = "how long after a scheduled time a rotation may still run (1 h or more)"},
    {.name = "rotation_statements", .type = FIELD_ANY, .description = "statements that set the password"},
    {.name = "credential_type", .type = FIELD_STRING, .canon = FIELD_CANON_LOWER, .description = "password"},
    {.name = "credential_config", .type = FIELD_MAP, .description = "settings of the credential type"},
    {.name = "skip_import_rotation",
     .type = FIELD_BOOL,
     .description = "do not rotate when the role is created"},
    {0},
};

const struct route db_static_role_routes[] = {
    {.pattern = "static-roles", .ops = {[OP_LIST] = role_list}, .synopsis = "list the static roles"},
    {.pattern = "static-roles/:name",
     .ops = {[OP_READ] = role_read,
             [OP_CREATE] = role_write,
             [OP_UPDATE] = role_write,
             [OP_DELETE] = role_delete},
     .exists = role_exists,
     .fields = static_fields,
     .synopsis = "a static role: an existing database user whose password is rotated"},
    {0},
};
