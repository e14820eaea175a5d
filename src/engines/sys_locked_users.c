/* sys_locked_users.c — the sys/ engine, user lockout: sys/locked-users
 * (GET or LIST, optional mount_accessor) and
 * sys/locked-users/:mount_accessor/unlock/:alias_identifier (POST).
 *
 * Each auth mount has its own lockout table (core/lockout.h, in memory,
 * mount_lockout); this file lists what is locked now, in Vault's shape,
 * for the auth mounts that exist (a disabled mount's table went with it).
 * There are no namespaces: everything is in "root".
 *   {"by_namespace": [{"namespace_id": "root", "namespace_path": "",
 *     "counts": N, "mount_accessors": [{"mount_accessor": "auth_userpass_..",
 *     "counts": n, "alias_identifiers": ["ann", ...]}, ...]}],
 *    "total": N}
 * Mounts come in decreasing order of counts (then by accessor), aliases
 * sorted. Without locked users by_namespace is empty; when a mount_accessor
 * is asked for, the root namespace is always listed (Vault does the same).
 * Unlocking is idempotent (204 whether or not the alias was locked) and
 * not root-protected, as in Vault; the ACL decides. */
#include <stdlib.h>
#include <string.h>

#include "engines.h"

#include "core/core.h"
#include "core/lockout.h"
#include "core/mount.h"
#include "err.h"
#include "log.h"

#include "banned.h"

struct mount_locks {
	const char *accessor; /* borrowed from the JSON object's key */
	json_t *aliases;      /* borrowed */
};

struct collect_arg {
	const char *filter; /* "" for every mount */
	json_t *by;         /* accessor -> [alias, ...] */
};

static void collect_alias(const char *alias, void *arg)
{
	json_array_append_new((json_t *)arg, json_string(alias));
}

static void collect_mount(struct mount *m, void *arg)
{
	struct collect_arg *a = arg;
	struct lockout_table *t = mount_lockout(m);
	if (!t || (a->filter[0] && strcmp(a->filter, m->accessor) != 0))
		return;
	json_t *arr = json_array();
	if (lockout_foreach_locked(t, collect_alias, arr) > 0)
		json_object_set(a->by, m->accessor, arr);
	json_decref(arr);
}

static int cmp_alias(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_mount(const void *a, const void *b)
{
	const struct mount_locks *x = a, *y = b;
	size_t nx = json_array_size(x->aliases), ny = json_array_size(y->aliases);
	if (nx != ny)
		return nx > ny ? -1 : 1;
	return strcmp(x->accessor, y->accessor);
}

/* The sorted alias_identifiers array of one mount. */
static json_t *sorted_aliases(json_t *aliases)
{
	size_t n = json_array_size(aliases);
	const char **v = xcalloc(n ? n : 1, sizeof(*v));
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(aliases, i));
	qsort(v, n, sizeof(*v), cmp_alias);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, json_string(v[i]));
	free(v);
	return out;
}

static int locked_users_read(struct request *req, struct response *resp)
{
	const char *filter = field_string(req, "mount_accessor");
	json_t *by = json_object(), *mounts = json_array(), *namespaces = json_array();
	struct collect_arg ca = {filter, by};
	struct mount_locks *v;
	const char *acc;
	json_t *aliases;
	size_t n = 0, total = 0;

	mount_table_foreach(core_mounts(req->core), true, collect_mount, &ca);
	v = xcalloc(json_object_size(by) + 1, sizeof(*v));
	json_object_foreach(by, acc, aliases)
	{
		v[n].accessor = acc;
		v[n].aliases = aliases;
		total += json_array_size(aliases);
		n++;
	}
	qsort(v, n, sizeof(*v), cmp_mount);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(mounts, json_pack("{s:s, s:I, s:o}", "mount_accessor", v[i].accessor,
		                                        "counts", (json_int_t)json_array_size(v[i].aliases),
		                                        "alias_identifiers", sorted_aliases(v[i].aliases)));
	free(v);
	if (total > 0 || filter[0])
		json_array_append_new(namespaces, json_pack("{s:s, s:s, s:I, s:O}", "namespace_id", "root",
		                                            "namespace_path", "", "counts", (json_int_t)total,
		                                            "mount_accessors", mounts));
	response_set_data(resp,
	                  json_pack("{s:o, s:I}", "by_namespace", namespaces, "total", (json_int_t)total));
	json_decref(mounts);
	json_decref(by);
	return 0;
}

struct unlock_arg {
	const char *accessor, *alias;
	bool was_locked;
};

static void unlock_mount(struct mount *m, void *arg)
{
	struct unlock_arg *a = arg;
	struct lockout_table *t = mount_lockout(m);
	if (t && strcmp(m->accessor, a->accessor) == 0 && lockout_unlock(t, a->alias))
		a->was_locked = true;
}

static int unlock_write(struct request *req, struct response *resp)
{
	const char *accessor = request_param(req, "mount_accessor");
	const char *alias = request_param(req, "alias_identifier");
	if (!accessor || !accessor[0])
		return response_error(resp, TROVE_ERR_INVALID, "missing mount_accessor");
	if (!alias || !alias[0])
		return response_error(resp, TROVE_ERR_INVALID, "missing alias_identifier");
	struct unlock_arg ua = {accessor, alias, false};
	mount_table_foreach(core_mounts(req->core), true, unlock_mount, &ua);
	if (ua.was_locked)
		log_info("locked user unlocked", "mount_accessor", accessor, "alias", alias);
	resp->status = 204;
	return 0;
}

static const struct field list_fields[] = {
    {.name = "mount_accessor", .type = FIELD_STRING, .description = "only this auth mount's locked users"},
    {0},
};

static const struct field unlock_fields[] = {
    {.name = "mount_accessor", .type = FIELD_STRING, .description = "the auth mount the user belongs to"},
    {.name = "alias_identifier",
     .type = FIELD_STRING,
     .description = "the user's name (userpass), role ID (approle)..."},
    {0},
};

const struct route sys_locked_users_routes[] = {
    {.pattern = "locked-users",
     .ops = {[OP_READ] = locked_users_read, [OP_LIST] = locked_users_read},
     .fields = list_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "users locked out after failed logins"},
    {.pattern = "locked-users/:mount_accessor/unlock/:alias_identifier",
     .ops = {[OP_UPDATE] = unlock_write},
     .fields = unlock_fields,
     .synopsis = "unlock a locked user"},
    {0},
};
