/* sys_mounts.c — sys/mounts, sys/auth, tune, remount and the UI mount
 * listing: the API over core/mount.c. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "core/expiration.h"
#include "engines.h"

#include "core/acl.h"
#include "core/core.h"
#include "core/identity.h"
#include "core/mount.h"
#include "core/mount_gate.h"
#include "core/policy_store.h"
#include "core/token.h"
#include "err.h"
#include "log.h"
#include "timefmt.h"

#include "banned.h"

/* How long a disable waits for the requests running on the mount. */
#define DISABLE_WAIT_MS 30000

#define TUNE_SUFFIX "/tune"

static bool ends_with_tune(const char *p)
{
	size_t n = strlen(p), t = strlen(TUNE_SUFFIX);
	while (n > 0 && p[n - 1] == '/')
		n--;
	return n > t && strncmp(p + n - t, TUNE_SUFFIX, t) == 0;
}

/* The path after "mounts/" or "auth/" in req->rel, without the tune
 * suffix when tune is set. Heap string. */
static char *path_arg(const struct request *req, const char *prefix, bool tune)
{
	const char *p = req->rel + strlen(prefix);
	size_t n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (tune)
		n -= strlen(TUNE_SUFFIX);
	return xstrndup(p, n);
}

/* Turns a mount_* result and its message into the response. */
static int finish(struct response *resp, int r, const struct buf *err)
{
	if (r != 0)
		response_error(resp, r, "%s", err->len ? err->data : err_message(r));
	return r;
}

/* ---- listing ----------------------------------------------------------------- */

static int mounts_list(struct request *req, struct response *resp)
{
	response_set_data(resp, mount_table_json(core_mounts(req->core), false));
	resp->inject_data = true;
	return 0;
}

static int auth_list(struct request *req, struct response *resp)
{
	response_set_data(resp, mount_table_json(core_mounts(req->core), true));
	resp->inject_data = true;
	return 0;
}

/* ---- one mount: read, enable, disable, tune ------------------------------------ */

static int tune_read(struct request *req, struct response *resp, const char *full, bool auth)
{
	struct mount *m = mount_match(core_mounts(req->core), full);
	if (!m || (auth && strncmp(m->path, "auth/", 5) != 0))
		goto missing;
	json_t *j = json_pack("{s:I, s:I, s:b, s:s, s:O?}", "default_lease_ttl",
			      (json_int_t)mount_default_ttl(req->core, m), "max_lease_ttl",
			      (json_int_t)mount_max_ttl(req->core, m), "force_no_cache", m->config.force_no_cache,
			      "description", m->description ? m->description : "", "options", m->options);
	json_t *full_cfg = mount_to_json(m);
	json_t *cfg = json_object_get(full_cfg, "config");
	const char *k;
	json_t *v;
	json_object_foreach(cfg, k, v)
	{
		if (!json_object_get(j, k))
			json_object_set(j, k, v);
	}
	json_decref(full_cfg);
	mount_release(m);
	response_set_data(resp, j);
	resp->inject_data = true;
	return 0;
missing:
	if (m)
		mount_release(m);
	return response_error(resp, TROVE_ERR_INVALID, auth ? "No auth engine at %s" : "No secret engine mount at %s",
			      full + (auth ? 5 : 0));
}

/* via_auth: the API called (sys/auth/ or sys/mounts/), which names the
 * error as Vault's does; auth: which table full belongs to. */
static int mount_read_one(struct request *req, struct response *resp, const char *full, bool auth, bool via_auth)
{
	struct mount *m = mount_match(core_mounts(req->core), full);
	if (!m || m->auth != auth) {
		if (m)
			mount_release(m);
		return response_error(resp, TROVE_ERR_INVALID,
				      via_auth ? "No auth engine at %s" : "No secret engine mount at %s",
				      full + (via_auth ? 5 : 0));
	}
	response_set_data(resp, mount_to_json(m));
	mount_release(m);
	resp->inject_data = true;
	return 0;
}

static int enable(struct request *req, struct response *resp, const char *path, bool auth)
{
	struct buf err;
	struct mount_enable_params p = {
		.path = path,
		.type = field_string(req, "type"),
		.description = field_string(req, "description"),
		.config = json_object_get(req->data, "config"),
		.options = json_object_get(req->data, "options"),
		.local = field_bool(req, "local"),
		.seal_wrap = field_bool(req, "seal_wrap"),
		.external_entropy_access = field_bool(req, "external_entropy_access"),
		.auth = auth,
	};
	/* The legacy plugin_name names the type when type is absent. */
	if (!p.type[0] && field_string(req, "plugin_name")[0])
		p.type = field_string(req, "plugin_name");
	buf_init(&err, 1024);
	int r = finish(resp, mount_enable(core_mounts(req->core), &p, &err), &err);
	buf_release(&err);
	return r;
}

static char *with_auth_prefix(const char *path)
{
	size_t n = strlen(path);
	char *out = xmalloc(n + 7);
	memcpy(out, "auth/", 5);
	memcpy(out + 5, path, n + 1);
	if (n == 0 || path[n - 1] != '/') {
		out[5 + n] = '/';
		out[6 + n] = '\0';
	}
	return out;
}

static char *with_slash(const char *path)
{
	size_t n = strlen(path);
	char *out = xmalloc(n + 2);
	memcpy(out, path, n + 1);
	if (n == 0 || path[n - 1] != '/') {
		out[n] = '/';
		out[n + 1] = '\0';
	}
	return out;
}

/* Disables a mount after revoking every lease it issued (an auth mount's
 * tokens, a secret mount's leased secrets), as Vault: a failed revocation
 * keeps the mount, so nothing it handed out is orphaned. The mount's gate
 * is closed first (mount_gate.h): requests to it are refused from then on
 * and the ones running are waited for, so no login mints a token between
 * the revocation and the removal. A failure opens it again. */
static int disable(struct request *req, const char *name, const char *full, bool auth, struct buf *err)
{
	struct mount_table *t = core_mounts(req->core);
	struct mount *m = mount_match(t, full);
	bool revoke = m && strcmp(m->path, full) == 0 && m->engine && !(m->engine->flags & ENGINE_BUILTIN);
	char accessor[sizeof(m->accessor)] = "";
	bool closed = false;
	int r = 0;

	if (revoke && auth)
		snprintf(accessor, sizeof(accessor), "%s", m->accessor);
	if (revoke && m->gate && !(closed = (r = mount_gate_close(m->gate, DISABLE_WAIT_MS)) == 0)) {
		buf_printf(err,
		           r == TROVE_ERR_CONFLICT ? "%s is already being disabled"
		                                   : "requests to %s did not finish; try again",
		           full);
		r = r == TROVE_ERR_CONFLICT ? TROVE_ERR_CONFLICT : TROVE_ERR_UNAVAILABLE;
		goto out;
	}
	if (revoke) {
		struct buf why;
		buf_init(&why, 2048);
		r = expiration_revoke_prefix(core_expiration(req->core), full, true, false, NULL, &why);
		if (r != 0) {
			buf_printf(err, "failed to revoke the leases of %s: %s", full, why.len ? why.data : err_message(r));
			r = r == TROVE_ERR_UPSTREAM ? TROVE_ERR_INVALID : r;
		}
		buf_release(&why);
		if (r != 0)
			goto out;
	}
	r = mount_disable(t, name, auth, err);
	if (r == 0 && accessor[0]) {
		/* Its aliases name a mount that no longer exists (Vault drops them). */
		struct mount *holder = NULL;
		struct identity_store *ids = identity_of_core(req->core, &holder);
		if (ids && identity_mount_removed(ids, accessor, NULL) != 0)
			log_warn("aliases of a disabled auth mount could not all be removed", "accessor", accessor);
		mount_release(holder);
	}
out:
	if (r != 0 && closed)
		mount_gate_open(m->gate); /* not disabled: usable as before */
	mount_release(m);
	return r;
}

/* sys/mounts/<path>[/tune] and sys/auth/<path>[/tune]: read, enable,
 * disable and tune one mount. via_auth tells which API was called. Vault
 * reads and tunes any mount, auth mounts included, through
 * sys/mounts/auth/<path>[/tune]: the Go client tunes them there and the
 * Terraform provider reads its auth backends there. */
static int one_mount(struct request *req, struct response *resp, bool via_auth)
{
	bool tune = ends_with_tune(req->rel);
	char *path = path_arg(req, via_auth ? "auth/" : "mounts/", tune);
	bool auth = via_auth || ((tune || req->op == OP_READ) && strncmp(path, "auth/", 5) == 0);
	const char *name = (auth && !via_auth) ? path + 5 : path; /* relative to its table */
	char *full = auth ? with_auth_prefix(name) : with_slash(name);
	struct mount_table *t = core_mounts(req->core);
	struct buf err;
	int r;

	buf_init(&err, 1024);
	if (!path[0])
		r = response_error(resp, TROVE_ERR_INVALID, "path: missing");
	else if (tune && req->op == OP_READ)
		r = tune_read(req, resp, full, auth);
	else if (tune)
		r = finish(resp, mount_tune(t, name, auth, req->data, &err), &err);
	else if (req->op == OP_READ)
		r = mount_read_one(req, resp, full, auth, via_auth);
	else if (req->op == OP_DELETE)
		r = finish(resp, disable(req, name, full, auth, &err), &err);
	else
		r = enable(req, resp, name, auth);
	buf_release(&err);
	free(full);
	free(path);
	return r;
}

static int mounts_one(struct request *req, struct response *resp)
{
	return one_mount(req, resp, false);
}

static int auth_one(struct request *req, struct response *resp)
{
	return one_mount(req, resp, true);
}

/* Remounts finish before the reply, but clients written for Vault's
 * asynchronous remount poll sys/remount/status/<id>; the last few
 * migrations are remembered for them. */
#define MIGRATIONS_KEPT 32

static struct {
	pthread_mutex_t lock;
	struct {
		char id[37];
		char from[256], to[256];
		int64_t when;
	} ring[MIGRATIONS_KEPT];
	unsigned next;
} migrations = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void remember_migration(const char *id, const char *from, const char *to)
{
	pthread_mutex_lock(&migrations.lock);
	unsigned i = migrations.next++ % MIGRATIONS_KEPT;
	snprintf(migrations.ring[i].id, sizeof(migrations.ring[i].id), "%s", id);
	snprintf(migrations.ring[i].from, sizeof(migrations.ring[i].from), "%s", from);
	snprintf(migrations.ring[i].to, sizeof(migrations.ring[i].to), "%s", to);
	migrations.ring[i].when = (int64_t)time(NULL);
	pthread_mutex_unlock(&migrations.lock);
}

static int remount_status(struct request *req, struct response *resp)
{
	const char *id = request_param(req, "migration_id");
	json_t *info = NULL;
	char when[TIME_TEXT_MAX];
	pthread_mutex_lock(&migrations.lock);
	for (unsigned i = 0; i < MIGRATIONS_KEPT; i++) {
		if (migrations.ring[i].id[0] && strcmp(migrations.ring[i].id, id) == 0) {
			time_rfc3339(migrations.ring[i].when, when);
			info = json_pack("{s:s, s:s, s:s, s:s, s:s}", "source_mount", migrations.ring[i].from,
					 "target_mount", migrations.ring[i].to, "status", "success", "start_time", when,
					 "end_time", when);
		}
	}
	pthread_mutex_unlock(&migrations.lock);
	if (!info)
		return TROVE_ERR_NOT_FOUND;
	response_set_data(resp, json_pack("{s:s, s:o}", "migration_id", id, "migration_info", info));
	return 0;
}

static int remount(struct request *req, struct response *resp)
{
	struct buf err;
	const char *from = field_string(req, "from"), *to = field_string(req, "to");
	if (!from[0] || !to[0])
		return response_error(resp, TROVE_ERR_INVALID, "from and to are required");
	buf_init(&err, 1024);
	int r = finish(resp, mount_remount(core_mounts(req->core), from, to, &err), &err);
	buf_release(&err);
	if (r == 0) {
		remember_migration(req->id, from, to);
		response_set_data(resp, json_pack("{s:s}", "migration_id", req->id));
	}
	return r;
}

/* ---- sys/internal/ui/mounts --------------------------------------------------- */

struct ui_list {
	json_t *out;
	const struct acl *acl; /* NULL: no token, only "unauth" mounts */
};

static void ui_add(struct mount *m, void *arg)
{
	struct ui_list *l = arg;
	bool visible = strcmp(m->config.listing_visibility ? m->config.listing_visibility : "", "unauth") == 0;
	if (!visible && l->acl)
		visible = acl_any_under(l->acl, m->path);
	if (visible)
		json_object_set_new(l->out, m->path + (m->auth ? 5 : 0), mount_to_json(m));
}

static int ui_mounts(struct request *req, struct response *resp)
{
	struct token_entry *tok = NULL;
	struct acl *acl = NULL;
	struct ui_list secret = { json_object(), NULL }, auth = { json_object(), NULL };
	/* Unauthenticated, but a valid token widens the listing to what it
	 * can reach; an invalid one is treated as none. */
	if (req->client_token &&
	    token_lookup_ex(core_tokens(req->core), req->client_token, req->remote_addr, TOKEN_LOOKUP_NO_USE, &tok) == 0 &&
	    policy_store_acl(core_policies(req->core), &tok->policies, &acl) == 0) {
		secret.acl = acl;
		auth.acl = acl;
	}
	mount_table_foreach(core_mounts(req->core), false, ui_add, &secret);
	mount_table_foreach(core_mounts(req->core), true, ui_add, &auth);
	response_set_data(resp, json_pack("{s:o, s:o}", "secret", secret.out, "auth", auth.out));
	acl_release(acl);
	token_entry_free(tok);
	return 0;
}

static int ui_mount_one(struct request *req, struct response *resp)
{
	const char *p = req->rel + strlen("internal/ui/mounts/");
	struct mount *m = mount_match(core_mounts(req->core), p);
	if (!m || (req->acl && !acl_any_under(req->acl, m->path))) {
		if (m)
			mount_release(m);
		return response_error(resp, TROVE_ERR_PERMISSION,
				      "preflight capability check returned 403, please ensure client's policies grant "
				      "access to path \"%s\"",
				      p);
	}
	json_t *j = mount_to_json(m);
	json_object_set_new(j, "path", json_string(m->path + (m->auth ? 5 : 0)));
	mount_release(m);
	response_set_data(resp, j);
	return 0;
}

static const struct field enable_fields[] = {
    {.name = "type", .type = FIELD_STRING, .description = "engine type"},
    {.name = "description", .type = FIELD_STRING, .def = "", .description = "human-readable description"},
    {.name = "config", .type = FIELD_MAP, .description = "TTLs, audit and listing settings"},
    {.name = "options", .type = FIELD_STRMAP, .description = "engine options, e.g. version=2 for kv"},
    {.name = "local", .type = FIELD_BOOL, .def = "false", .description = "not replicated"},
    {.name = "seal_wrap", .type = FIELD_BOOL, .def = "false", .description = "seal-wrap the mount's data"},
    {.name = "external_entropy_access", .type = FIELD_BOOL, .def = "false", .description = "unused"},
    {.name = "plugin_name", .type = FIELD_STRING, .description = "legacy name of the type"},
    {.name = "plugin_version", .type = FIELD_STRING, .description = "unused"},
    /* tune fields */
    {.name = "default_lease_ttl", .type = FIELD_ANY, .description = "default TTL"},
    {.name = "max_lease_ttl", .type = FIELD_ANY, .description = "maximum TTL"},
    {.name = "force_no_cache", .type = FIELD_BOOL, .description = "unused"},
    {.name = "audit_non_hmac_request_keys",
     .type = FIELD_STRLIST,
     .description = "request keys audit logs keep in clear"},
    {.name = "audit_non_hmac_response_keys",
     .type = FIELD_STRLIST,
     .description = "response keys audit logs keep in clear"},
    {.name = "listing_visibility",
     .type = FIELD_STRING,
     .description = "\"unauth\" lists the mount to everyone"},
    {.name = "passthrough_request_headers",
     .type = FIELD_STRLIST,
     .description = "headers passed to the engine"},
    {.name = "allowed_response_headers", .type = FIELD_STRLIST, .description = "headers the engine may set"},
    {.name = "token_type", .type = FIELD_STRING, .description = "auth mounts: token type"},
    {0},
};

static const struct field remount_fields[] = {
    {.name = "from", .type = FIELD_STRING, .description = "current mount path"},
    {.name = "to", .type = FIELD_STRING, .description = "new mount path"},
    {0},
};

const struct route sys_mount_routes[] = {
    {.pattern = "mounts",
     .ops = {[OP_READ] = mounts_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list secret mounts"},
    {.pattern = "mounts/*",
     .ops = {[OP_READ] = mounts_one, [OP_UPDATE] = mounts_one, [OP_DELETE] = mounts_one},
     .fields = enable_fields,
     .flags = ROUTE_SLASH_EQUIV | ROUTE_LOOP_READS,
     .synopsis = "read, enable, disable or tune a secret mount"},
    {.pattern = "auth",
     .ops = {[OP_READ] = auth_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list auth mounts"},
    {.pattern = "auth/*",
     .ops = {[OP_READ] = auth_one, [OP_UPDATE] = auth_one, [OP_DELETE] = auth_one},
     .fields = enable_fields,
     .flags = ROUTE_SUDO | ROUTE_SLASH_EQUIV | ROUTE_LOOP_READS,
     .synopsis = "read, enable, disable or tune an auth mount"},
    {.pattern = "remount",
     .ops = {[OP_UPDATE] = remount},
     .fields = remount_fields,
     .flags = ROUTE_SUDO,
     .synopsis = "move a mount"},
    {.pattern = "remount/status/:migration_id",
     .ops = {[OP_READ] = remount_status},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "result of a mount move"},
    {.pattern = "internal/ui/mounts",
     .ops = {[OP_READ] = ui_mounts},
     .flags = ROUTE_UNAUTH | ROUTE_LOOP_READS,
     .synopsis = "mounts visible to the caller"},
    {.pattern = "internal/ui/mounts/*",
     .ops = {[OP_READ] = ui_mount_one},
     .flags = ROUTE_NO_ACL | ROUTE_LOOP_READS,
     .synopsis = "one mount, if the caller can reach anything in it"},
    {0},
};
