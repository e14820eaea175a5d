/* storage.c — the validating front door of every storage implementation.
 *
 * Design: backends (inmem, lmdb), the barrier and views implement the raw
 * vtable and trust their arguments; these wrappers are where untrusted
 * keys stop. A key is 1..STORAGE_MAX_KEY bytes, has no leading or trailing
 * '/' (a trailing '/' is how list names a directory, so a key ending in one
 * would be indistinguishable from a directory); a list prefix is "" or ends
 * in '/'. A transaction is validated as a whole before it reaches the
 * backend, so an invalid operation anywhere in it applies nothing. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "storage/storage.h"

#include "banned.h"

static _Thread_local uint64_t write_index;

uint64_t storage_write_index(void)
{
	return write_index;
}

void storage_write_index_reset(void)
{
	write_index = 0;
}

void storage_write_index_note(uint64_t index)
{
	if (index > write_index)
		write_index = index;
}

static _Thread_local char unavailable[400];

const char *storage_unavailable_reason(void)
{
	return unavailable[0] ? unavailable : NULL;
}

void storage_unavailable_note(const char *backend, const char *reason)
{
	size_t n = strlen(backend);

	if (n + 3 >= sizeof(unavailable))
		return;
	memcpy(unavailable, backend, n);
	memcpy(unavailable + n, ": ", 2);
	n += 2;
	for (size_t i = 0; reason && reason[i] && n + 1 < sizeof(unavailable); i++)
		unavailable[n++] = reason[i];
	unavailable[n] = '\0';
}

void storage_unavailable_clear(void)
{
	unavailable[0] = '\0';
}

static int check_key(const char *key)
{
	if (key == NULL)
		return TROVE_ERR_INVALID;
	size_t n = strnlen(key, STORAGE_MAX_KEY + 1);
	if (n == 0 || n > STORAGE_MAX_KEY)
		return TROVE_ERR_INVALID;
	if (key[0] == '/' || key[n - 1] == '/')
		return TROVE_ERR_INVALID;
	return 0;
}

static int check_prefix(const char *prefix)
{
	if (prefix == NULL)
		return TROVE_ERR_INVALID;
	size_t n = strnlen(prefix, STORAGE_MAX_KEY + 1);
	if (n == 0)
		return 0;
	if (n > STORAGE_MAX_KEY || prefix[0] == '/' || prefix[n - 1] != '/')
		return TROVE_ERR_INVALID;
	return 0;
}

static int check_value(const void *value, size_t len)
{
	if (value == NULL && len != 0)
		return TROVE_ERR_INVALID;
	if (len > STORAGE_MAX_VALUE)
		return TROVE_ERR_TOO_LARGE;
	return 0;
}

int storage_get(struct storage *s, const char *key, unsigned char **out, size_t *out_len)
{
	int r;
	if (s == NULL || out == NULL || out_len == NULL)
		return TROVE_ERR_INVALID;
	*out = NULL;
	*out_len = 0;
	if ((r = check_key(key)) != 0)
		return r;
	return s->ops->get(s, key, out, out_len);
}

int storage_put(struct storage *s, const char *key, const void *value, size_t len)
{
	int r;
	if (s == NULL)
		return TROVE_ERR_INVALID;
	if ((r = check_key(key)) != 0 || (r = check_value(value, len)) != 0)
		return r;
	return s->ops->put(s, key, value, len);
}

int storage_delete(struct storage *s, const char *key)
{
	int r;
	if (s == NULL)
		return TROVE_ERR_INVALID;
	if ((r = check_key(key)) != 0)
		return r;
	return s->ops->del(s, key);
}

int storage_list(struct storage *s, const char *prefix, struct strlist *out)
{
	int r;
	if (s == NULL || out == NULL)
		return TROVE_ERR_INVALID;
	if ((r = check_prefix(prefix)) != 0)
		return r;
	return s->ops->list(s, prefix, out);
}

int storage_txn(struct storage *s, const struct storage_op *ops, size_t n)
{
	int r;
	if (s == NULL || (ops == NULL && n != 0))
		return TROVE_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		if ((r = check_key(ops[i].key)) != 0)
			return r;
		if (ops[i].kind == STORAGE_PUT) {
			if ((r = check_value(ops[i].value, ops[i].value_len)) != 0)
				return r;
		} else if (ops[i].kind != STORAGE_DELETE) {
			return TROVE_ERR_INVALID;
		}
	}
	if (n == 0)
		return 0;
	return s->ops->txn(s, ops, n);
}

void storage_free(struct storage *s)
{
	if (s == NULL)
		return;
	s->ops->destroy(s);
}

int storage_delete_prefix(struct storage *s, const char *prefix)
{
	struct strlist pending, children;
	struct storage_op ops[256];
	char *owned[256];
	size_t nops = 0;
	int r = 0;

	strlist_init(&pending);
	strlist_init(&children);
	strlist_push(&pending, prefix);
	/* pending grows as folders are found; index i walks it once. */
	for (size_t i = 0; i < pending.len && r == 0; i++) {
		const char *dir = pending.items[i];
		strlist_release(&children);
		strlist_init(&children);
		if ((r = storage_list(s, dir, &children)) != 0)
			break;
		for (size_t j = 0; j < children.len && r == 0; j++) {
			size_t dl = strlen(dir), cl = strlen(children.items[j]);
			char *full = xmalloc(dl + cl + 1);
			memcpy(full, dir, dl);
			memcpy(full + dl, children.items[j], cl + 1);
			if (cl > 0 && children.items[j][cl - 1] == '/') {
				strlist_push_owned(&pending, full);
				continue;
			}
			owned[nops] = full;
			ops[nops] = (struct storage_op){ STORAGE_DELETE, full, NULL, 0 };
			if (++nops == sizeof(ops) / sizeof(ops[0])) {
				r = storage_txn(s, ops, nops);
				for (size_t k = 0; k < nops; k++)
					free(owned[k]);
				nops = 0;
			}
		}
	}
	if (r == 0 && nops > 0)
		r = storage_txn(s, ops, nops);
	for (size_t k = 0; k < nops; k++)
		free(owned[k]);
	strlist_release(&children);
	strlist_release(&pending);
	return r;
}
