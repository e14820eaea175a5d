/* cubbyhole.c — per-token private storage ("cubbyhole/", built in).
 *
 * Like kv v1, but every path is private to the calling token: the storage
 * key is "<token id_hash>/<path>", so two tokens writing "cubbyhole/x" touch
 * different keys, and no token can name another's prefix (the prefix comes
 * from the resolved token, never from the request path).
 *
 * Only service tokens have one: a batch token gets Vault's 400 (its
 * cubbyhole could never be purged, a batch token not being stored).
 *
 * When a token is revoked its whole prefix is deleted. The revoke callback
 * is registered with the core's token store (arg = the core, which outlives
 * every mount snapshot, so a callback running while a mount is replaced
 * never sees freed memory); it finds the current cubbyhole mount itself.
 * Registration happens when the mount is loaded (mount_init), which the
 * core does on every unseal after opening the token store; registering
 * twice is a no-op. */
#include <stdlib.h>
#include <string.h>

#include "engines.h"
#include "kv_util.h"

#include "core/core.h"
#include "core/mount.h"
#include "core/token.h"
#include "core/wrapping.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

int cubbyhole_purge(struct storage *view, const char *id_hash)
{
	struct buf prefix;
	int r;
	if (!id_hash || !id_hash[0] || strchr(id_hash, '/'))
		return TROVE_ERR_INVALID;
	buf_init(&prefix, STORAGE_MAX_KEY);
	if ((r = buf_printf(&prefix, "%s/", id_hash)) == 0)
		r = storage_delete_prefix(view, prefix.data);
	buf_release(&prefix);
	return r;
}

static void on_token_revoked(void *arg, const struct token_entry *e)
{
	struct core *c = arg;
	struct mount_table *t = core_mounts(c);
	struct mount *m = t ? mount_match(t, "cubbyhole/") : NULL;
	if (!m)
		return;
	if (m->view && m->type && strcmp(m->type, "cubbyhole") == 0)
		(void)cubbyhole_purge(m->view, e->id_hash);
	mount_release(m);
}

static const struct wrap_store cubby_wrap_store = {.put = cubbyhole_put, .get = cubbyhole_get};

int cubbyhole_register(struct core *c)
{
	struct token_store *ts = c ? core_tokens(c) : NULL;
	if (!ts)
		return TROVE_ERR_INVALID;
	core_set_wrap_store(c, &cubby_wrap_store);
	return token_store_on_revoke(ts, on_token_revoked, c);
}

/* The view of the core's cubbyhole mount, with a reference in *m. */
static struct storage *cubby_view(struct core *c, struct mount **m)
{
	struct mount_table *t = c ? core_mounts(c) : NULL;
	*m = t ? mount_match(t, "cubbyhole/") : NULL;
	if (*m && (*m)->view && (*m)->type && strcmp((*m)->type, "cubbyhole") == 0)
		return (*m)->view;
	if (*m)
		mount_release(*m);
	*m = NULL;
	return NULL;
}

static int cubby_entry_key(const char *id_hash, const char *key, struct buf *out)
{
	buf_init(out, STORAGE_MAX_KEY + 1);
	if (!id_hash || !id_hash[0] || strchr(id_hash, '/') || !key || !key[0])
		return TROVE_ERR_INVALID;
	return buf_printf(out, "%s/%s", id_hash, key);
}

int cubbyhole_put(struct core *c, const char *id_hash, const char *key, const json_t *v)
{
	struct mount *m;
	struct storage *view = cubby_view(c, &m);
	struct buf k;
	int r;

	if (!view)
		return TROVE_ERR_NOT_FOUND;
	if ((r = cubby_entry_key(id_hash, key, &k)) == 0)
		r = kv_put_json(view, k.data, v);
	buf_release(&k);
	mount_release(m);
	return r;
}

int cubbyhole_get(struct core *c, const char *id_hash, const char *key, json_t **out)
{
	struct mount *m;
	struct storage *view = cubby_view(c, &m);
	struct buf k;
	int r;

	*out = NULL;
	if (!view)
		return TROVE_ERR_NOT_FOUND;
	if ((r = cubby_entry_key(id_hash, key, &k)) == 0)
		r = kv_get_json(view, k.data, out);
	buf_release(&k);
	mount_release(m);
	return r;
}

/* The storage key for the caller's path: "<id_hash>/<path>" ("<id_hash>/"
 * for a list of the root). */
static int cubby_key(struct request *req, struct response *resp, bool list, bool required, struct buf *key)
{
	char *path = kv_rest(req, "");
	int r;

	buf_init(key, STORAGE_MAX_KEY + 1);
	if (!req->token || !req->token->id_hash[0]) {
		r = response_error(resp, TROVE_ERR_INVALID, "client token empty");
		goto out;
	}
	/* A batch token is never stored, so no revocation would ever purge
	 * its cubbyhole: Vault refuses it one, with this answer. */
	if (req->token->type != TOKEN_TYPE_SERVICE) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "cubbyhole operations are only supported by \"service\" type tokens");
		goto out;
	}
	if ((r = kv_check_path(path, "path", resp)) != 0)
		goto out;
	if (required && !path[0]) {
		r = response_error(resp, TROVE_ERR_INVALID, "path: a secret path is required");
		goto out;
	}
	if (list)
		r = buf_printf(key, path[0] ? "%s/%s/" : "%s/%s", req->token->id_hash, path);
	else
		r = buf_printf(key, "%s/%s", req->token->id_hash, path);
out:
	free(path);
	return r;
}

static int cubby_read(struct request *req, struct response *resp)
{
	struct buf key;
	json_t *v = NULL;
	int r;

	if ((r = cubby_key(req, resp, false, false, &key)) != 0)
		goto out;
	if (key.len > 0 && key.data[key.len - 1] == '/') {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = kv_get_json(req->storage, key.data, &v)) != 0)
		goto out;
	response_set_data(resp, v);
out:
	buf_release(&key);
	return r;
}

static int cubby_write(struct request *req, struct response *resp)
{
	struct buf key;
	int r;

	if ((r = cubby_key(req, resp, false, true, &key)) != 0)
		goto out;
	if (!json_is_object(req->data) || json_object_size(req->data) == 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing data fields");
		goto out;
	}
	r = kv_put_json(req->storage, key.data, req->data);
out:
	buf_release(&key);
	return r;
}

static int cubby_delete(struct request *req, struct response *resp)
{
	struct buf key;
	int r;

	if ((r = cubby_key(req, resp, false, true, &key)) == 0)
		r = storage_delete(req->storage, key.data);
	buf_release(&key);
	return r;
}

static int cubby_list(struct request *req, struct response *resp)
{
	struct buf key;
	int r;

	if ((r = cubby_key(req, resp, true, false, &key)) == 0)
		r = kv_list_reply(req->storage, key.data, resp);
	buf_release(&key);
	return r;
}

static int cubby_exists(struct request *req, bool *out)
{
	struct response scratch;
	struct buf key;
	unsigned char *raw = NULL;
	size_t len = 0;
	int r;

	*out = false;
	response_init(&scratch);
	r = cubby_key(req, &scratch, false, true, &key);
	response_release(&scratch);
	if (r == 0) {
		r = storage_get(req->storage, key.data, &raw, &len);
		*out = r == 0;
		secure_free(raw, len);
	}
	buf_release(&key);
	/* A bad path or missing token is the handler's to report. */
	return (r == TROVE_ERR_NOT_FOUND || r == TROVE_ERR_INVALID) ? 0 : r;
}

static const struct route cubbyhole_routes[] = {
    {.pattern = "*",
     .ops = {[OP_READ] = cubby_read,
             [OP_UPDATE] = cubby_write,
             [OP_DELETE] = cubby_delete,
             [OP_LIST] = cubby_list},
     .exists = cubby_exists,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "the calling token's private secrets"},
    {0},
};

static const struct route *const cubbyhole_tables[] = { cubbyhole_routes, NULL };

static int cubby_mount_init(struct mount *m, struct buf *err)
{
	int r = cubbyhole_register(m->core);
	if (r != 0)
		buf_printf(err, "cubbyhole: cannot watch token revocations");
	return r;
}

const struct engine cubbyhole_engine = {
	.type = "cubbyhole",
	.tables = cubbyhole_tables,
	.flags = ENGINE_BUILTIN,
	.mount_init = cubby_mount_init,
};
