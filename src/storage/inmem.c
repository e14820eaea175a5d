/* inmem.c — the in-memory backend for tests and -dev.
 *
 * Design: a sorted array of (key, value) entries under one pthread rwlock.
 * Binary search finds a key or its insertion point; list() finds the first
 * key >= prefix and walks forward while keys share the prefix. When it
 * meets a subdirectory "d/" it emits "d/" once and jumps straight past the
 * whole subtree by searching for prefix+"d0" ('0' is the byte after '/'),
 * so a listing costs O(children * log n), not O(keys under prefix).
 * Inserts shift pointers (O(n)), which is fine at dev/test sizes.
 * Values are wiped when overwritten, deleted or freed: in tests they are
 * plaintext. Arguments were validated by storage.c. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "secure.h"
#include "storage/storage.h"

#include "banned.h"

struct entry {
	char *key;
	unsigned char *val;
	size_t len;
};

struct inmem {
	struct storage base;
	pthread_rwlock_t lock;
	struct entry *items;
	size_t n;
	size_t size;
};

static struct inmem *impl(struct storage *s)
{
	return s->impl;
}

/* Index of the first entry whose key is >= key (n if none). */
static size_t lower_bound(const struct inmem *m, const char *key)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(m->items[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static unsigned char *dup_value(const void *v, size_t len)
{
	unsigned char *p = xmalloc(len ? len : 1);
	if (len)
		memcpy(p, v, len);
	return p;
}

static void entry_free_value(struct entry *e)
{
	secure_free(e->val, e->len ? e->len : 1);
	e->val = NULL;
	e->len = 0;
}

/* Under the write lock. Takes ownership of val. */
static void put_locked(struct inmem *m, const char *key, unsigned char *val, size_t len)
{
	size_t i = lower_bound(m, key);
	if (i < m->n && strcmp(m->items[i].key, key) == 0) {
		entry_free_value(&m->items[i]);
		m->items[i].val = val;
		m->items[i].len = len;
		return;
	}
	if (m->n == m->size) {
		m->size = m->size ? m->size * 2 : 64;
		m->items = xrealloc(m->items, m->size * sizeof(*m->items));
	}
	memmove(&m->items[i + 1], &m->items[i], (m->n - i) * sizeof(*m->items));
	m->items[i].key = xstrdup(key);
	m->items[i].val = val;
	m->items[i].len = len;
	m->n++;
}

static void del_locked(struct inmem *m, const char *key)
{
	size_t i = lower_bound(m, key);
	if (i >= m->n || strcmp(m->items[i].key, key) != 0)
		return;
	entry_free_value(&m->items[i]);
	free(m->items[i].key);
	memmove(&m->items[i], &m->items[i + 1], (m->n - i - 1) * sizeof(*m->items));
	m->n--;
}

static int inmem_get(struct storage *s, const char *key, unsigned char **out, size_t *out_len)
{
	struct inmem *m = impl(s);
	int r = TROVE_ERR_NOT_FOUND;
	pthread_rwlock_rdlock(&m->lock);
	size_t i = lower_bound(m, key);
	if (i < m->n && strcmp(m->items[i].key, key) == 0) {
		*out = dup_value(m->items[i].val, m->items[i].len);
		*out_len = m->items[i].len;
		r = 0;
	}
	pthread_rwlock_unlock(&m->lock);
	return r;
}

static int inmem_put(struct storage *s, const char *key, const void *value, size_t len)
{
	struct inmem *m = impl(s);
	unsigned char *v = dup_value(value, len); /* copy outside the lock */
	pthread_rwlock_wrlock(&m->lock);
	put_locked(m, key, v, len);
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

static int inmem_del(struct storage *s, const char *key)
{
	struct inmem *m = impl(s);
	pthread_rwlock_wrlock(&m->lock);
	del_locked(m, key);
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

static int inmem_list(struct storage *s, const char *prefix, struct strlist *out)
{
	struct inmem *m = impl(s);
	size_t plen = strlen(prefix);
	char *seek = xmalloc(STORAGE_MAX_KEY + 2);
	int r = 0;

	pthread_rwlock_rdlock(&m->lock);
	size_t i = lower_bound(m, prefix);
	while (i < m->n) {
		const char *k = m->items[i].key;
		if (strncmp(k, prefix, plen) != 0)
			break;
		const char *rest = k + plen;
		const char *slash = strchr(rest, '/');
		if (slash == NULL) {
			if ((r = strlist_push(out, rest)) != 0)
				goto out;
			i++;
			continue;
		}
		/* emit "d/" and skip the subtree: every key under prefix+"d/"
		 * sorts before prefix+"d0" */
		size_t dlen = (size_t)(slash - rest) + 1;
		char *child = xstrndup(rest, dlen);
		if ((r = strlist_push_owned(out, child)) != 0)
			goto out;
		memcpy(seek, k, plen + dlen);
		seek[plen + dlen - 1] = '/' + 1;
		seek[plen + dlen] = '\0';
		i = lower_bound(m, seek);
	}
	r = 0;
out:
	pthread_rwlock_unlock(&m->lock);
	free(seek);
	return r;
}

static int inmem_txn(struct storage *s, const struct storage_op *ops, size_t n)
{
	struct inmem *m = impl(s);
	/* Copy every value before taking the lock; after that nothing can fail
	 * (allocation failure aborts), so the batch applies whole. */
	unsigned char **vals = xcalloc(n, sizeof(*vals));
	for (size_t i = 0; i < n; i++)
		if (ops[i].kind == STORAGE_PUT)
			vals[i] = dup_value(ops[i].value, ops[i].value_len);
	pthread_rwlock_wrlock(&m->lock);
	for (size_t i = 0; i < n; i++) {
		if (ops[i].kind == STORAGE_PUT)
			put_locked(m, ops[i].key, vals[i], ops[i].value_len);
		else
			del_locked(m, ops[i].key);
	}
	pthread_rwlock_unlock(&m->lock);
	free(vals);
	return 0;
}

static void inmem_destroy(struct storage *s)
{
	struct inmem *m = impl(s);
	for (size_t i = 0; i < m->n; i++) {
		entry_free_value(&m->items[i]);
		free(m->items[i].key);
	}
	free(m->items);
	pthread_rwlock_destroy(&m->lock);
	free(m);
}

static const struct storage_ops inmem_ops = {
    .name = "inmem",
    .get = inmem_get,
    .put = inmem_put,
    .del = inmem_del,
    .list = inmem_list,
    .txn = inmem_txn,
    .destroy = inmem_destroy,
};

struct storage *storage_inmem_new(void)
{
	struct inmem *m = xcalloc(1, sizeof(*m));
	if (pthread_rwlock_init(&m->lock, NULL) != 0) {
		free(m);
		return NULL;
	}
	m->base.ops = &inmem_ops;
	m->base.durable = false;
	m->base.impl = m;
	return &m->base;
}
