/* view.c — a prefix view: a mount's private subtree of another storage.
 *
 * Design: every key is prefix+key on the way down; list results need no
 * rewriting because list already returns names relative to the listed
 * prefix. The view never normalises paths, but a ".." (or ".") segment is
 * refused anyway so no layer above or below can turn one into an escape.
 * An invalid view prefix (empty, leading '/', not ending in '/', or with a
 * "." / ".." segment) makes storage_view_new() return NULL. Writes go
 * through the storage_* wrappers of the inner storage, which validate the
 * joined key (so a joined key over STORAGE_MAX_KEY is TROVE_ERR_INVALID). */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "storage/storage.h"

#include "banned.h"

struct view {
	struct storage base;
	struct storage *inner;
	char *prefix;
	size_t plen;
};

static struct view *impl(struct storage *s)
{
	return s->impl;
}

/* Whether s has a "." or ".." segment. */
static int has_dot_segment(const char *s)
{
	const char *p = s;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 1;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

/* Heap prefix+key, or NULL if key is refused. */
static char *join(struct view *v, const char *key)
{
	if (has_dot_segment(key))
		return NULL;
	size_t n = strlen(key);
	char *out = xmalloc(v->plen + n + 1);
	memcpy(out, v->prefix, v->plen);
	memcpy(out + v->plen, key, n + 1);
	return out;
}

static int view_get(struct storage *s, const char *key, unsigned char **out, size_t *out_len)
{
	struct view *v = impl(s);
	char *k = join(v, key);
	if (k == NULL)
		return TROVE_ERR_INVALID;
	int r = storage_get(v->inner, k, out, out_len);
	free(k);
	return r;
}

static int view_put(struct storage *s, const char *key, const void *value, size_t len)
{
	struct view *v = impl(s);
	char *k = join(v, key);
	if (k == NULL)
		return TROVE_ERR_INVALID;
	int r = storage_put(v->inner, k, value, len);
	free(k);
	return r;
}

static int view_del(struct storage *s, const char *key)
{
	struct view *v = impl(s);
	char *k = join(v, key);
	if (k == NULL)
		return TROVE_ERR_INVALID;
	int r = storage_delete(v->inner, k);
	free(k);
	return r;
}

static int view_list(struct storage *s, const char *prefix, struct strlist *out)
{
	struct view *v = impl(s);
	char *k = join(v, prefix);
	if (k == NULL)
		return TROVE_ERR_INVALID;
	int r = storage_list(v->inner, k, out);
	free(k);
	return r;
}

static int view_txn(struct storage *s, const struct storage_op *ops, size_t n)
{
	struct view *v = impl(s);
	struct storage_op *inner_ops = xcalloc(n, sizeof(*inner_ops));
	char **keys = xcalloc(n, sizeof(*keys));
	int r = TROVE_ERR_INVALID;

	for (size_t i = 0; i < n; i++) {
		if ((keys[i] = join(v, ops[i].key)) == NULL)
			goto out;
		inner_ops[i] = ops[i];
		inner_ops[i].key = keys[i];
	}
	r = storage_txn(v->inner, inner_ops, n);
out:
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(inner_ops);
	return r;
}

static void view_destroy(struct storage *s)
{
	struct view *v = impl(s);
	free(v->prefix);
	free(v);
}

static const struct storage_ops view_ops = {
    .name = "view",
    .get = view_get,
    .put = view_put,
    .del = view_del,
    .list = view_list,
    .txn = view_txn,
    .destroy = view_destroy,
};

struct storage *storage_view_new(struct storage *inner, const char *prefix)
{
	if (inner == NULL || prefix == NULL)
		return NULL;
	size_t n = strnlen(prefix, STORAGE_MAX_KEY + 1);
	if (n == 0 || n > STORAGE_MAX_KEY || prefix[0] == '/' || prefix[n - 1] != '/')
		return NULL;
	if (has_dot_segment(prefix))
		return NULL;
	struct view *v = xcalloc(1, sizeof(*v));
	v->inner = inner;
	v->prefix = xstrdup(prefix);
	v->plen = n;
	v->base.ops = &view_ops;
	v->base.durable = inner->durable;
	v->base.reads_block = inner->reads_block;
	v->base.impl = v;
	return &v->base;
}
