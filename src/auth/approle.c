/* approle.c — the auth/approle engine: its route table, roles (create,
 * update, read, delete, list) and role IDs.
 *
 * A role write applies only the fields present, so one code path serves
 * create, update and the per-field endpoints; create fills Vault's
 * defaults first (bind_secret_id true, a random UUID role ID) and a fresh
 * secret ID directory. Every role write of a mount holds the mount's role
 * lock, so the role_id index stays unique: a role ID names one role.
 *
 * The per-field endpoints live in approle_role_fields.c, secret IDs in
 * approle_secret_id.c and approle_secret.c, login in approle_login.c; the
 * storage layout is in approle.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approle.h"
#include "auth.h"

#include "core/mount.h"
#include "duration.h"
#include "encoding.h"
#include "err.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

/* --- helpers ------------------------------------------------------------------ */

static void role_key(const char *name, char *out, size_t n)
{
	snprintf(out, n, APPROLE_ROLE_PREFIX "%s", name);
}

static void role_id_key(const unsigned char salt[APPROLE_SALT_LEN], const char *role_id,
                        char out[APPROLE_KEY_MAX])
{
	char h[APPROLE_HASH_HEX + 1];
	approle_hash(salt, APPROLE_DOMAIN_ROLE_ID, role_id, h);
	snprintf(out, APPROLE_KEY_MAX, APPROLE_ROLE_ID_PREFIX "%s", h);
}

static int64_t max_ttl(const struct request *req)
{
	return req->mount && req->core ? mount_max_ttl(req->core, req->mount) : 0;
}

/* Applies the fields present in req to role (create: role holds the
 * defaults). Vault's validation and messages. */
int approle_role_apply(struct request *req, struct response *resp, struct approle_role *role, bool create)
{
	const char *bad = NULL;
	int r;

	if ((r = token_params_parse(req, resp, &role->tp)) != 0)
		return r;
	if (field_present(req, "token_type")) {
		if (strcmp(role->tp.type, "default-service") == 0) {
			snprintf(role->tp.type, sizeof(role->tp.type), "service");
			response_warning(resp, "default-service has no useful meaning; adjusting to service");
		} else if (strcmp(role->tp.type, "default-batch") == 0) {
			snprintf(role->tp.type, sizeof(role->tp.type), "batch");
			response_warning(resp, "default-batch has no useful meaning; adjusting to batch");
		}
	}
	/* hvac sends enable_local_secret_ids; Vault's name is local_secret_ids. */
	const char *local = field_present(req, "local_secret_ids")          ? "local_secret_ids"
	                    : field_present(req, "enable_local_secret_ids") ? "enable_local_secret_ids"
	                                                                    : NULL;
	if (local) {
		if (!create)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "local_secret_ids can only be modified during role creation");
		role->local_secret_ids = field_bool(req, local);
	}
	if (field_present(req, "role_id")) {
		const char *id = field_string(req, "role_id");
		size_t n = strlen(id);
		if (n == 0)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "invalid role_id supplied, or failed to generate a role_id");
		if (n > APPROLE_INPUT_MAX)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "role_id is longer than maximum of %d bytes",
			                      APPROLE_INPUT_MAX);
		/* login trims blanks, so such a role ID could never log in */
		if (isspace((unsigned char)id[0]) || isspace((unsigned char)id[n - 1]))
			return response_error(resp, TROVE_ERR_INVALID,
			                      "role_id must not begin or end with blanks");
		secure_free_str(role->role_id);
		role->role_id = xstrdup(id);
	}
	if (field_present(req, "bind_secret_id"))
		role->bind_secret_id = field_bool(req, "bind_secret_id");
	const char *cidrs = field_present(req, "secret_id_bound_cidrs") ? "secret_id_bound_cidrs"
	                    : field_present(req, "bound_cidr_list")     ? "bound_cidr_list"
	                                                                : NULL;
	if (cidrs) {
		strlist_release(&role->secret_id_bound_cidrs);
		strlist_init(&role->secret_id_bound_cidrs);
		approle_field_list(req, cidrs, &role->secret_id_bound_cidrs);
		if (!approle_cidrs_valid(&role->secret_id_bound_cidrs, &bad))
			return response_error(resp, TROVE_ERR_INVALID,
			                      "failed to validate CIDR blocks: invalid %s \"%s\"", cidrs,
			                      bad);
	}
	if (field_present(req, "secret_id_num_uses")) {
		role->secret_id_num_uses = field_int(req, "secret_id_num_uses");
		if (role->secret_id_num_uses < 0)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "secret_id_num_uses cannot be negative");
	}
	if (field_present(req, "secret_id_ttl"))
		role->secret_id_ttl = field_int(req, "secret_id_ttl");

	int64_t max = max_ttl(req);
	if (max > 0 && role->tp.period > max) {
		char p[32], m[32];
		duration_format(role->tp.period, p, sizeof(p));
		duration_format(max, m, sizeof(m));
		return response_error(
		    resp, TROVE_ERR_INVALID,
		    "period of \"%s\" is greater than the backend's maximum lease TTL of \"%s\"", p, m);
	}
	if (max > 0 && role->tp.max_ttl > max)
		response_warning(
		    resp, "token_max_ttl is greater than the backend mount's maximum TTL value; issued "
		          "tokens' max TTL value will be truncated");
	if (!approle_role_constrained(role))
		return response_error(resp, TROVE_ERR_INVALID,
		                      "at least one constraint should be enabled on the role");
	return 0;
}

/* Writes role and its role_id index in one transaction (dropping the
 * index of old_role_id when it changed). Caller holds the role lock. */
int approle_role_save(struct request *req, struct response *resp, const struct approle_role *role,
                      const char *old_role_id)
{
	unsigned char salt[APPROLE_SALT_LEN];
	char rkey[APPROLE_KEY_MAX + APPROLE_NAME_MAX], ikey[APPROLE_KEY_MAX], okey[APPROLE_KEY_MAX];
	char *rtext = NULL, *itext = NULL;
	size_t rlen = 0, ilen = 0;
	json_t *rj = NULL, *ij = NULL, *cur = NULL;
	struct storage_op ops[3];
	size_t n = 0;
	int r;

	if ((r = approle_salt(req, salt)) != 0)
		return r;
	role_id_key(salt, role->role_id, ikey);
	r = approle_get_json(req->storage, ikey, &cur);
	if (r == 0) {
		json_t *nm = json_object_get(cur, "name");
		if (!json_is_string(nm) || strcmp(json_string_value(nm), role->name) != 0) {
			/* An index naming a role that is gone, or that has
			 * another role ID now, is stale: it may be reused. */
			struct approle_role other;
			approle_role_init(&other);
			int lr = json_is_string(nm)
			             ? approle_role_load(req->storage, json_string_value(nm), &other)
			             : TROVE_ERR_NOT_FOUND;
			bool taken = lr == 0 && secure_str_eq(other.role_id, role->role_id);
			approle_role_release(&other);
			if (lr != 0 && lr != TROVE_ERR_NOT_FOUND) {
				r = lr;
				goto out;
			}
			if (taken) {
				r = response_error(resp, TROVE_ERR_INVALID, "role_id already in use");
				goto out;
			}
		}
	} else if (r != TROVE_ERR_NOT_FOUND && r != TROVE_ERR_INTEGRITY) {
		goto out;
	}
	role_key(role->name, rkey, sizeof(rkey));
	rj = approle_role_to_store(role);
	ij = json_pack("{s:s}", "name", role->name);
	if (!rj || !ij || (r = approle_dump(rj, &rtext, &rlen)) != 0 ||
	    (r = approle_dump(ij, &itext, &ilen)) != 0) {
		r = r ? r : TROVE_ERR_NOMEM;
		goto out;
	}
	ops[n++] = (struct storage_op){STORAGE_PUT, rkey, rtext, rlen};
	ops[n++] = (struct storage_op){STORAGE_PUT, ikey, itext, ilen};
	if (old_role_id && strcmp(old_role_id, role->role_id) != 0) {
		role_id_key(salt, old_role_id, okey);
		ops[n++] = (struct storage_op){STORAGE_DELETE, okey, NULL, 0};
	}
	r = storage_txn(req->storage, ops, n);
out:
	secure_wipe(salt, sizeof(salt));
	json_decref(cur);
	json_decref(rj);
	json_decref(ij);
	if (rtext)
		approle_free_dump(rtext, rlen);
	if (itext)
		approle_free_dump(itext, ilen);
	return r;
}

/* Loads the route's role for a change under the role lock. On success
 * *lk is held. create: a missing role is made with Vault's defaults. */
int approle_role_begin(struct request *req, struct response *resp, struct approle_role *role, bool create,
                       bool *created, pthread_mutex_t **lk)
{
	char name[APPROLE_NAME_MAX + 1];
	int r;

	*lk = NULL;
	*created = false;
	if ((r = approle_role_name(req, resp, name)) != 0)
		return r;
	*lk = approle_lock_roles(approle_scope(req));
	r = approle_role_load(req->storage, name, role);
	if (r == TROVE_ERR_NOT_FOUND && create) {
		unsigned char rnd[APPROLE_DIR_HEX / 2];
		char uuid[APPROLE_UUID_LEN + 1];
		approle_role_release(role);
		approle_role_init(role);
		snprintf(role->name, sizeof(role->name), "%s", name);
		if ((r = rand_bytes(rnd, sizeof(rnd))) == 0 && (r = rand_uuid(uuid)) == 0) {
			hex_encode(rnd, sizeof(rnd), role->dir);
			role->role_id = xstrdup(uuid);
			*created = true;
		}
	} else if (r == TROVE_ERR_NOT_FOUND) {
		r = response_error(resp, TROVE_ERR_NOT_FOUND, "role \"%s\" does not exist", name);
	}
	if (r != 0) {
		pthread_mutex_unlock(*lk);
		*lk = NULL;
	}
	return r;
}

/* --- role/:role_name ------------------------------------------------------------ */

static int role_exists(struct request *req, bool *out)
{
	struct response scratch;
	struct approle_role role;
	char name[APPROLE_NAME_MAX + 1];
	int r;

	*out = false;
	response_init(&scratch);
	approle_role_init(&role);
	if (approle_role_name(req, &scratch, name) == 0) {
		r = approle_role_load(req->storage, name, &role);
		*out = r == 0;
	}
	approle_role_release(&role);
	response_release(&scratch);
	return 0;
}

static int role_write(struct request *req, struct response *resp)
{
	struct approle_role role;
	pthread_mutex_t *lk;
	bool created;
	approle_role_init(&role);
	int r = approle_role_begin(req, resp, &role, true, &created, &lk);
	if (r != 0)
		goto out;
	char *old = created ? NULL : xstrdup(role.role_id);
	if ((r = approle_role_apply(req, resp, &role, created)) == 0)
		r = approle_role_save(req, resp, &role, old);
	secure_free_str(old);
	pthread_mutex_unlock(lk);
out:
	approle_role_release(&role);
	return r;
}

static int role_read(struct request *req, struct response *resp)
{
	struct approle_role role;
	char name[APPROLE_NAME_MAX + 1];
	int r;
	approle_role_init(&role);
	if ((r = approle_role_name(req, resp, name)) == 0 &&
	    (r = approle_role_load(req->storage, name, &role)) == 0)
		response_set_data(resp, approle_role_to_api(&role));
	approle_role_release(&role);
	return r;
}

static int role_delete(struct request *req, struct response *resp)
{
	unsigned char salt[APPROLE_SALT_LEN];
	struct approle_role role;
	pthread_mutex_t *lk;
	bool created;
	int r;

	approle_role_init(&role);
	if ((r = approle_salt(req, salt)) != 0)
		goto out;
	r = approle_role_begin(req, resp, &role, false, &created, &lk);
	if (r == TROVE_ERR_NOT_FOUND) {
		/* Vault: deleting a missing role is not an error. */
		json_decref(resp->errors);
		resp->errors = NULL;
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	char rkey[APPROLE_KEY_MAX + APPROLE_NAME_MAX], ikey[APPROLE_KEY_MAX];
	json_t *idx = NULL;
	struct storage_op ops[2];
	size_t n = 0;
	role_key(role.name, rkey, sizeof(rkey));
	ops[n++] = (struct storage_op){STORAGE_DELETE, rkey, NULL, 0};
	role_id_key(salt, role.role_id, ikey);
	if (approle_get_json(req->storage, ikey, &idx) == 0 && json_is_string(json_object_get(idx, "name")) &&
	    strcmp(json_string_value(json_object_get(idx, "name")), role.name) == 0)
		ops[n++] = (struct storage_op){STORAGE_DELETE, ikey, NULL, 0};
	json_decref(idx);
	r = storage_txn(req->storage, ops, n);
	pthread_mutex_unlock(lk);
	/* The role is gone, so none of its secret IDs can log in any more;
	 * their entries go now (tidy finishes the job if this fails). */
	if (r == 0)
		r = approle_secret_flush(req->storage, salt, role.dir, NULL);
out:
	secure_wipe(salt, sizeof(salt));
	approle_role_release(&role);
	return r;
}

static int role_list(struct request *req, struct response *resp)
{
	struct strlist keys, page;
	const char *after = field_string(req, "after");
	int64_t limit = field_int(req, "limit");
	int r;

	strlist_init(&keys);
	strlist_init(&page);
	if ((r = storage_list(req->storage, APPROLE_ROLE_PREFIX, &keys)) != 0)
		goto out;
	for (size_t i = 0; i < keys.len && (limit <= 0 || (int64_t)page.len < limit); i++)
		if (!after[0] || strcmp(keys.items[i], after) > 0)
			strlist_push(&page, keys.items[i]);
	if (page.len == 0) {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&page)));
out:
	strlist_release(&keys);
	strlist_release(&page);
	return r;
}

/* --- role/:role_name/role-id ---------------------------------------------------- */

static int role_id_read(struct request *req, struct response *resp)
{
	struct approle_role role;
	char name[APPROLE_NAME_MAX + 1];
	int r;
	approle_role_init(&role);
	if ((r = approle_role_name(req, resp, name)) == 0 &&
	    (r = approle_role_load(req->storage, name, &role)) == 0)
		response_set_data(resp, json_pack("{s:s}", "role_id", role.role_id));
	approle_role_release(&role);
	return r;
}

static int role_id_write(struct request *req, struct response *resp)
{
	struct approle_role role;
	pthread_mutex_t *lk;
	bool created;
	int r;

	if (!field_present(req, "role_id") || !field_string(req, "role_id")[0])
		return response_error(resp, TROVE_ERR_INVALID, "missing role_id");
	approle_role_init(&role);
	if ((r = approle_role_begin(req, resp, &role, false, &created, &lk)) == 0) {
		char *old = xstrdup(role.role_id);
		if ((r = approle_role_apply(req, resp, &role, false)) == 0)
			r = approle_role_save(req, resp, &role, old);
		secure_free_str(old);
		pthread_mutex_unlock(lk);
	}
	approle_role_release(&role);
	return r;
}

/* --- route table ---------------------------------------------------------------- */

static const struct field role_fields[] = {
    {.name = "bind_secret_id",
     .type = FIELD_BOOL,
     .def = "true",
     .description = "require a secret ID at login"},
    {.name = "secret_id_bound_cidrs", .type = FIELD_STRLIST, .description = "CIDR blocks allowed to log in"},
    {.name = "bound_cidr_list", .type = FIELD_STRLIST, .description = "legacy name of secret_id_bound_cidrs"},
    {.name = "secret_id_num_uses",
     .type = FIELD_INT,
     .description = "uses of each secret ID (0 = unlimited)"},
    {.name = "secret_id_ttl", .type = FIELD_DURATION, .description = "lifetime of secret IDs (0 = none)"},
    {.name = "local_secret_ids",
     .type = FIELD_BOOL,
     .description = "secret IDs are cluster-local (creation only)"},
    {.name = "enable_local_secret_ids", .type = FIELD_BOOL, .description = "hvac's name of local_secret_ids"},
    {.name = "role_id", .type = FIELD_STRING, .description = "a custom role ID (default: a UUID)"},
    TOKEN_PARAM_FIELDS,
    {0},
};
static const struct field list_fields[] = {
    {.name = "after", .type = FIELD_STRING, .description = "list entries after this one"},
    {.name = "limit", .type = FIELD_INT, .description = "at most this many entries (0 = all)"},
    {0},
};
static const struct field role_id_fields[] = {
    {.name = "role_id", .type = FIELD_STRING, .description = "the new role ID"},
    {0},
};
static const struct field secret_id_fields[] = {
    {.name = "metadata",
     .type = FIELD_ANY,
     .description = "JSON object of strings (or its JSON text) for issued tokens"},
    {.name = "cidr_list", .type = FIELD_STRLIST, .description = "CIDR blocks the secret ID may log in from"},
    {.name = "token_bound_cidrs",
     .type = FIELD_STRLIST,
     .description = "CIDR blocks issued tokens may be used from"},
    {.name = "num_uses", .type = FIELD_INT, .description = "uses of the secret ID (0 = unlimited)"},
    {.name = "ttl", .type = FIELD_DURATION, .description = "lifetime of the secret ID"},
    {.name = "after", .type = FIELD_STRING, .description = "LIST: entries after this one"},
    {.name = "limit", .type = FIELD_INT, .description = "LIST: at most this many entries"},
    {0},
};
static const struct field custom_secret_id_fields[] = {
    {.name = "secret_id", .type = FIELD_STRING, .description = "the secret ID to register", .sensitive = true},
    {.name = "metadata",
     .type = FIELD_ANY,
     .description = "JSON object of strings (or its JSON text) for issued tokens"},
    {.name = "cidr_list", .type = FIELD_STRLIST, .description = "CIDR blocks the secret ID may log in from"},
    {.name = "token_bound_cidrs",
     .type = FIELD_STRLIST,
     .description = "CIDR blocks issued tokens may be used from"},
    {.name = "num_uses", .type = FIELD_INT, .description = "uses of the secret ID (0 = unlimited)"},
    {.name = "ttl", .type = FIELD_DURATION, .description = "lifetime of the secret ID"},
    {0},
};
static const struct field secret_id_only_fields[] = {
    {.name = "secret_id", .type = FIELD_STRING, .description = "a secret ID of the role", .sensitive = true},
    {0},
};
static const struct field accessor_fields[] = {
    {.name = "secret_id_accessor",
     .type = FIELD_STRING,
     .description = "the accessor of a secret ID of the role"},
    {0},
};
static const struct field login_fields[] = {
    {.name = "role_id", .type = FIELD_STRING, .description = "the role's role ID"},
    {.name = "secret_id", .type = FIELD_STRING, .description = "a secret ID of the role", .sensitive = true},
    {0},
};
static const struct field no_fields[] = {{0}};

static const struct route approle_routes[] = {
    {.pattern = "login",
     .ops = {[OP_UPDATE] = approle_login},
     .fields = login_fields,
     .flags = ROUTE_UNAUTH,
     .synopsis = "log in with a role's credentials",
     .try_inline = approle_try_inline},
    {.pattern = "role",
     .ops = {[OP_LIST] = role_list},
     .fields = list_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list roles"},
    {.pattern = "role/:role_name",
     .ops = {[OP_READ] = role_read,
             [OP_CREATE] = role_write,
             [OP_UPDATE] = role_write,
             [OP_DELETE] = role_delete},
     .exists = role_exists,
     .fields = role_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "create, read, update and delete roles"},
    {.pattern = "role/:role_name/role-id",
     .ops = {[OP_READ] = role_id_read, [OP_UPDATE] = role_id_write},
     .fields = role_id_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "a role's role ID"},
    {.pattern = "role/:role_name/secret-id",
     .ops = {[OP_UPDATE] = approle_secret_id_generate, [OP_LIST] = approle_secret_id_list},
     .fields = secret_id_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "generate a secret ID, or list their accessors"},
    {.pattern = "role/:role_name/custom-secret-id",
     .ops = {[OP_UPDATE] = approle_secret_id_custom},
     .fields = custom_secret_id_fields,
     .flags = ROUTE_NAMES_CI,
     .synopsis = "register a secret ID of the caller's choice"},
    {.pattern = "role/:role_name/secret-id/lookup",
     .ops = {[OP_UPDATE] = approle_secret_id_lookup},
     .fields = secret_id_only_fields,
     .flags = ROUTE_NAMES_CI,
     .synopsis = "read a secret ID's properties"},
    {.pattern = "role/:role_name/secret-id/destroy",
     .ops = {[OP_UPDATE] = approle_secret_id_destroy, [OP_DELETE] = approle_secret_id_destroy},
     .fields = secret_id_only_fields,
     .flags = ROUTE_NAMES_CI,
     .synopsis = "destroy a secret ID"},
    {.pattern = "role/:role_name/secret-id-accessor/lookup",
     .ops = {[OP_UPDATE] = approle_accessor_lookup},
     .fields = accessor_fields,
     .flags = ROUTE_NAMES_CI,
     .synopsis = "read a secret ID's properties by its accessor"},
    {.pattern = "role/:role_name/secret-id-accessor/destroy",
     .ops = {[OP_UPDATE] = approle_accessor_destroy, [OP_DELETE] = approle_accessor_destroy},
     .fields = accessor_fields,
     .flags = ROUTE_NAMES_CI,
     .synopsis = "destroy a secret ID by its accessor"},
    {.pattern = "tidy/secret-id",
     .ops = {[OP_UPDATE] = approle_tidy_secret_id},
     .fields = no_fields,

     .synopsis = "remove expired secret IDs and dangling index entries"},
    {0},
};

static const struct route *const approle_tables[] = {approle_routes, approle_field_routes, NULL};

const struct engine approle_engine = {
    .type = "approle",
    .tables = approle_tables,
    .flags = ENGINE_AUTH,
    .mount_init = approle_mount_init,
    .mount_cleanup = approle_mount_cleanup,
};
