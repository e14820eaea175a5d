/* rotate.c — changing one database user's password (the root user's by
 * `rotate-root/:name`; static roles call db_rotate_password too). */
#include <stdlib.h>
#include <string.h>

#include "database.h"

#include "core/engine.h"
#include "core/mount.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

int db_rotate_password(struct mount *m, const struct db_config *cfg, const char *user,
                       const char *new_password, const char *const *stmts, size_t n, char **why)
{
	char **out = NULL;
	int r;

	if (n == 0 && cfg->plugin && cfg->plugin->default_rotation) {
		stmts = cfg->plugin->default_rotation;
		for (n = 0; stmts[n]; n++)
			;
	}
	if (n == 0) {
		if (why)
			*why = xstrdup("no rotation statements: set root_rotation_statements");
		return TROVE_ERR_INVALID;
	}
	struct db_stmt_vars v = {.name = user, .password = new_password};
	if ((r = db_render_stmts(stmts, n, &v, &out, why)) == 0)
		r = db_exec(m, cfg->name, (const char *const *)out, n, why);
	db_stmts_free(out, n);
	return r;
}

static int rotate_root(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	struct db_config *cfg = NULL;
	char *pass = NULL, *why = NULL;
	db_config_lock(req->mount);
	int r = db_config_load(req->storage, name, &cfg);

	if (r == TROVE_ERR_NOT_FOUND) {
		r = response_error(resp, TROVE_ERR_INVALID, "no connection named \"%s\"", name);
		goto out;
	}
	if (r != 0)
		goto out;
	if (!cfg->username || !cfg->username[0]) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "unable to rotate root credentials: no username in configuration");
		goto out;
	}
	if (!cfg->plugin) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "plugin_name: no plugin named \"%s\" in this build", cfg->plugin_name);
		goto out;
	}
	if ((r = db_password_make(req->core, cfg, &pass, &why)) != 0) {
		r = response_error(resp, r, "%s", why ? why : err_message(r));
		goto out;
	}
	const char **s = NULL;
	size_t n = cfg->root_rotation_statements.len;
	s = (const char **)cfg->root_rotation_statements.items;
	if ((r = db_rotate_password(req->mount, cfg, cfg->username, pass, s, n, &why)) != 0) {
		db_why_scrub(why, pass);
		db_why_scrub(why, cfg->password);
		r = response_error(resp, r, "failed to rotate root credentials: %s",
		                   why ? why : err_message(r));
		goto out;
	}
	/* The database has the new password: only now is it stored. */
	secure_free_str(cfg->password);
	cfg->password = pass;
	pass = NULL;
	r = db_config_store(req->storage, cfg);
	db_state_drop(req->mount, name);
out:
	db_config_unlock(req->mount);
	free(why);
	secure_free_str(pass);
	db_config_free(cfg);
	return r;
}

const struct route db_rotate_routes[] = {
    {.pattern = "rotate-root/:name",
     .ops = {[OP_UPDATE] = rotate_root},
     .synopsis = "rotate the root password"},
    {0},
};
