/* creds.c — `creds/:name`: a new database user with a lease, and the
 * lease's revocation (drop the user) and renewal (extend it). */
#include <stdlib.h>
#include <string.h>

#include "database.h"

#include "clock.h"
#include "core/engine.h"
#include "core/expiration.h"
#include "core/mount.h"
#include "core/token.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

/* Renders stmts for user (and password, expiration) and runs them on
 * connection db. *why as plugin.h. */
static int run_for_user(struct mount *m, const char *db, const char *const *stmts, size_t n,
                        const struct db_stmt_vars *v, char **why)
{
	char **out = NULL;
	int r = db_render_stmts(stmts, n, v, &out, why);
	if (r == 0)
		r = db_exec(m, db, (const char *const *)out, n, why);
	db_stmts_free(out, n);
	return r;
}

/* The role's statements of one kind, or the plugin's defaults when it has
 * none (plugin may be NULL). A vector of borrowed pointers: free it. */
static const char **stmts_or_default(const json_t *role_stmts, const char *const *defaults, size_t *n)
{
	const char **v = db_str_vec(role_stmts, n);
	if (*n > 0 || !defaults)
		return v;
	free(v);
	for (*n = 0; defaults[*n]; (*n)++)
		;
	v = xcalloc(*n + 1, sizeof(*v));
	memcpy(v, defaults, *n * sizeof(*v));
	return v;
}

/* Drops user after a failed creation on a database whose DDL is not
 * transactional; best effort: the creation's own error is what counts. */
static void undo_creation(struct mount *m, const struct db_config *cfg, const struct db_role *ro,
                          const char *user)
{
	size_t n;
	const char **s = stmts_or_default(ro->revocation, cfg->plugin->default_revocation, &n);
	struct db_stmt_vars v = {.name = user};
	char *why = NULL;
	if (n > 0)
		run_for_user(m, cfg->name, s, n, &v, &why);
	free(why);
	free(s);
}

/* The lease TTL of a new credential: the role's default TTL (else the
 * mount's), capped by the role's max TTL and the mount's. */
static int64_t creds_ttl(const struct request *req, const struct db_role *ro)
{
	int64_t ttl = ro->default_ttl > 0 ? ro->default_ttl : mount_default_ttl(req->core, req->mount);
	int64_t max = mount_max_ttl(req->core, req->mount);
	if (ro->max_ttl > 0 && (max <= 0 || ro->max_ttl < max))
		max = ro->max_ttl;
	if (max > 0 && ttl > max)
		ttl = max;
	return ttl > 0 ? ttl : 1;
}

static int creds_read(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	struct db_role *ro = NULL;
	struct db_config *cfg = NULL;
	char *user = NULL, *pass = NULL, *why = NULL;
	const char **stmts = NULL;
	size_t n = 0;
	char exp[32];
	int r = db_role_load(req->storage, name, &ro);

	if (r == TROVE_ERR_NOT_FOUND) {
		r = response_error(resp, TROVE_ERR_INVALID, "unknown role: %s", name);
		goto out;
	}
	if (r != 0)
		goto out;
	if ((r = db_config_load(req->storage, ro->db_name, &cfg)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "could not find connection with name \"%s\"", ro->db_name);
		goto out;
	}
	if (!db_config_allows(cfg, name)) {
		r = response_error(resp, TROVE_ERR_INVALID, "\"%s\" is not an allowed role", name);
		goto out;
	}
	if (!cfg->plugin) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "plugin_name: no plugin named \"%s\" in this build", cfg->plugin_name);
		goto out;
	}
	if (strcmp(ro->credential_type, "password") != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "credential_type %s is not supported yet",
		                   ro->credential_type);
		goto out;
	}
	int64_t ttl = creds_ttl(req, ro);
	db_format_expiration(clock_realtime_s() + ttl, exp);
	const char *display = req->token && req->token->display_name ? req->token->display_name : "";
	if ((r = db_username_make(cfg->plugin, cfg->username_template, display, name, &user, &why)) != 0) {
		r = response_error(resp, r, "%s", why ? why : err_message(r));
		goto out;
	}
	if ((r = db_password_make(req->core, cfg, &pass, &why)) != 0) {
		r = response_error(resp, r, "%s", why ? why : err_message(r));
		goto out;
	}
	struct db_stmt_vars v = {.name = user, .password = pass, .expiration = exp};
	stmts = db_str_vec(ro->creation, &n);
	if ((r = run_for_user(req->mount, cfg->name, stmts, n, &v, &why)) != 0) {
		if (r != TROVE_ERR_INVALID && !cfg->plugin->ddl_transactional)
			undo_creation(req->mount, cfg, ro, user);
		db_why_scrub(why, pass);
		db_why_scrub(why, cfg->password);
		r = response_error(resp, r, "failed to create the database user: %s",
		                   why ? why : err_message(r));
		goto out;
	}
	resp->secret.set = true;
	resp->secret.ttl = ttl;
	resp->secret.max_ttl = ro->max_ttl;
	resp->secret.renewable = true;
	/* the revocation statements ride with the lease, so a user of a role
	 * deleted since is still dropped the role's way (as Vault does) */
	resp->secret.internal = json_pack("{s:s, s:s, s:s, s:O}", "db_name", cfg->name, "username", user,
	                                  "role", name, "revocation_statements", ro->revocation);
	response_set_data(resp, json_pack("{s:s, s:s}", "username", user, "password", pass));
out:
	free(stmts);
	free(why);
	free(user);
	secure_free_str(pass);
	db_config_free(cfg);
	db_role_free(ro);
	return r;
}

/* The user, connection and role a lease stands for. */
static int lease_parts(const struct lease *l, const char **user, const char **db, const char **role,
                       struct buf *err)
{
	*user = json_string_value(json_object_get(l->internal, "username"));
	*db = json_string_value(json_object_get(l->internal, "db_name"));
	*role = json_string_value(json_object_get(l->internal, "role"));
	if (*user && *db && *role)
		return 0;
	buf_printf(err, "lease holds no database user");
	return TROVE_ERR_INTEGRITY;
}

int db_lease_revoke(struct mount *m, const struct lease *l, struct buf *err)
{
	const char *user, *db, *role;
	struct db_config *cfg = NULL;
	struct db_role *ro = NULL;
	char *why = NULL;
	const char **s = NULL;
	size_t n = 0;
	int r;

	if ((r = lease_parts(l, &user, &db, &role, err)) != 0)
		return r;
	if ((r = db_config_load(m->view, db, &cfg)) != 0 || !cfg->plugin) {
		buf_printf(err, "cannot revoke %s: connection \"%s\" %s", user, db,
		           r ? "no longer exists" : "has a plugin this build lacks");
		r = r ? r : TROVE_ERR_UNAVAILABLE;
		goto out;
	}
	/* A role deleted since: the statements kept with the lease. */
	r = db_role_load(m->view, role, &ro);
	if (r != 0 && r != TROVE_ERR_NOT_FOUND)
		goto out;
	s = stmts_or_default(ro ? ro->revocation : json_object_get(l->internal, "revocation_statements"),
	                     cfg->plugin->default_revocation, &n);
	if (n == 0) {
		buf_printf(err, "no revocation statements for %s", user);
		r = TROVE_ERR_INVALID;
		goto out;
	}
	struct db_stmt_vars v = {.name = user};
	if ((r = run_for_user(m, db, s, n, &v, &why)) != 0) {
		db_why_scrub(why, cfg->password);
		buf_printf(err, "revoking %s: %s", user, why ? why : err_message(r));
	}
out:
	free(s);
	free(why);
	db_role_free(ro);
	db_config_free(cfg);
	return r;
}

int db_lease_renew(struct mount *m, const struct lease *l, int64_t *ttl, struct buf *err)
{
	const char *user, *db, *role;
	struct db_config *cfg = NULL;
	struct db_role *ro = NULL;
	char *why = NULL;
	const char **s = NULL;
	size_t n = 0;
	char exp[32];
	int r;

	if ((r = lease_parts(l, &user, &db, &role, err)) != 0)
		return r;
	if ((r = db_role_load(m->view, role, &ro)) != 0) {
		buf_printf(err, "error during renew: could not find role with name %s", role);
		return r == TROVE_ERR_NOT_FOUND ? TROVE_ERR_INVALID : r;
	}
	if ((r = db_config_load(m->view, db, &cfg)) != 0 || !cfg->plugin) {
		buf_printf(err, "error during renew: connection \"%s\" is not usable", db);
		r = r == TROVE_ERR_NOT_FOUND || r == 0 ? TROVE_ERR_INVALID : r;
		goto out;
	}
	int64_t now = clock_realtime_s();
	if (ro->max_ttl > 0 && *ttl > l->issue_time + ro->max_ttl - now)
		*ttl = l->issue_time + ro->max_ttl - now;
	if (*ttl <= 0) {
		buf_printf(err, "lease has reached the role's max TTL");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	s = stmts_or_default(ro->renew, cfg->plugin->default_renew, &n);
	if (n == 0)
		goto out; /* nothing to run: the lease alone moves */
	db_format_expiration(now + *ttl, exp);
	struct db_stmt_vars v = {.name = user, .expiration = exp};
	if ((r = run_for_user(m, db, s, n, &v, &why)) != 0) {
		db_why_scrub(why, cfg->password);
		buf_printf(err, "renewing %s: %s", user, why ? why : err_message(r));
	}
out:
	free(s);
	free(why);
	db_role_free(ro);
	db_config_free(cfg);
	return r;
}

const struct route db_creds_routes[] = {
    {.pattern = "creds/:name",
     .ops = {[OP_READ] = creds_read},
     .synopsis = "new credentials of a dynamic role"},
    {0},
};
