/* kv_v1.c — the unversioned key/value engine ("kv", options.version "1"
 * or unset).
 *
 * Layout: each secret is one storage key in the mount's view, named by its
 * path, holding the JSON object exactly as written. There is nothing else
 * in the view, which is what lets kv_v2 upgrade a mount in place: every key
 * it finds is a secret.
 *
 * A `ttl` key inside a secret is advisory: it becomes the lease_duration
 * of reads (no lease is created), as in Vault. */
#include <stdlib.h>
#include <string.h>

#include "engines.h"
#include "kv_util.h"

#include "core/mount.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

static int v1_read(struct request *req, struct response *resp)
{
	char *path = kv_rest(req, "");
	json_t *v = NULL;
	int64_t ttl;
	int r;

	if (!path[0]) {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = kv_check_path(path, "path", resp)) != 0)
		goto out;
	if ((r = kv_get_json(req->storage, path, &v)) != 0)
		goto out;
	if (kv_ttl_seconds(v, &ttl))
		resp->lease_duration = ttl;
	else
		resp->lease_duration = req->mount ? mount_default_ttl(req->core, req->mount) : 0;
	response_set_data(resp, v);
	v = NULL;
out:
	json_decref(v);
	free(path);
	return r;
}

static int v1_write(struct request *req, struct response *resp)
{
	char *path = kv_rest(req, "");
	int64_t ttl;
	int r;

	if (!path[0]) {
		r = response_error(resp, TROVE_ERR_INVALID, "path: a secret path is required");
		goto out;
	}
	if ((r = kv_check_path(path, "path", resp)) != 0)
		goto out;
	if (!json_is_object(req->data) || json_object_size(req->data) == 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing data fields");
		goto out;
	}
	if (json_object_get(req->data, "ttl") && !kv_ttl_seconds(req->data, &ttl)) {
		r = response_error(resp, TROVE_ERR_INVALID,
				   "ttl: expected a duration (seconds or a string such as \"30s\" or \"1h\")");
		goto out;
	}
	r = kv_put_json(req->storage, path, req->data);
out:
	free(path);
	return r;
}

static int v1_delete(struct request *req, struct response *resp)
{
	char *path = kv_rest(req, "");
	int r;

	if (!path[0]) {
		r = response_error(resp, TROVE_ERR_INVALID, "path: a secret path is required");
		goto out;
	}
	if ((r = kv_check_path(path, "path", resp)) != 0)
		goto out;
	r = storage_delete(req->storage, path);
out:
	free(path);
	return r;
}

static int v1_list(struct request *req, struct response *resp)
{
	char *path = kv_rest(req, "");
	struct buf prefix;
	int r;

	buf_init(&prefix, STORAGE_MAX_KEY);
	if ((r = kv_check_path(path, "path", resp)) != 0)
		goto out;
	if (path[0] && (r = buf_printf(&prefix, "%s/", path)) != 0)
		goto out;
	r = kv_list_reply(req->storage, prefix.data, resp);
out:
	buf_release(&prefix);
	free(path);
	return r;
}

static int v1_exists(struct request *req, bool *out)
{
	char *path = kv_rest(req, "");
	unsigned char *raw = NULL;
	size_t len = 0;
	int r = 0;

	*out = false;
	if (path[0]) {
		r = storage_get(req->storage, path, &raw, &len);
		if (r == 0)
			*out = true;
		if (r == TROVE_ERR_NOT_FOUND || r == TROVE_ERR_INVALID)
			r = 0;
		secure_free(raw, len);
	}
	free(path);
	return r;
}

static const struct route kv_v1_routes[] = {
    {.pattern = "*",
     .ops = {[OP_READ] = v1_read, [OP_UPDATE] = v1_write, [OP_DELETE] = v1_delete, [OP_LIST] = v1_list},
     .exists = v1_exists,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "read, write, delete and list unversioned secrets"},
    {0},
};

static const struct route *const kv_v1_tables[] = { kv_v1_routes, NULL };

const struct engine kv_v1_engine = {
	.type = "kv",
	.tables = kv_v1_tables,
	.flags = 0,
	.options_changed = kv_options_changed,
};
