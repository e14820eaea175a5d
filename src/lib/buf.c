/* buf.c — the owning buffer, span helpers, string lists, x-allocators.
 *
 * Design: a struct buf starts pointing at a static "" so that a fresh buffer
 * is always a valid C string without allocating. Growth doubles the
 * allocation but never allocates more than cap + 1 bytes, and every append
 * checks len + n against cap before touching anything, so a failed append
 * leaves the buffer exactly as it was. Request-driven growth returns errors;
 * the x* helpers are for small fixed allocations and abort on OOM. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "secure.h"
#include "banned.h"

static char buf_empty[1] = "";

static void oom(void)
{
	static const char msg[] = "trove: out of memory\n";

	fputs(msg, stderr);
	abort();
}

static const struct buf_allocator libc_allocator = {malloc, realloc, free};
static const struct buf_allocator *al = &libc_allocator;

void buf_set_allocator(const struct buf_allocator *a)
{
	al = a ? a : &libc_allocator;
}

void buf_init(struct buf *b, size_t cap)
{
	b->data = buf_empty;
	b->len = 0;
	b->size = 0;
	b->cap = cap;
	b->secret = false;
}

void buf_init_secret(struct buf *b, size_t cap)
{
	buf_init(b, cap);
	b->secret = true;
}

/* Back to empty and unallocated, keeping cap and the mode. */
static void buf_forget(struct buf *b)
{
	bool secret = b->secret;

	buf_init(b, b->cap);
	b->secret = secret;
}

void buf_release(struct buf *b)
{
	if (b->size != 0) {
		if (b->secret)
			secure_wipe(b->data, b->size);
		al->release(b->data);
	}
	buf_forget(b);
}

void buf_release_secret(struct buf *b)
{
	if (b->size != 0)
		secure_wipe(b->data, b->size);
	buf_release(b);
}

void buf_reset(struct buf *b)
{
	if (b->size != 0 && b->secret)
		secure_wipe(b->data, b->len);
	b->len = 0;
	if (b->size != 0)
		b->data[0] = '\0';
}

/* A secret buffer's growth: never realloc, which may free the old block
 * as it was. */
static char *grow_secret(struct buf *b, size_t nsize)
{
	char *p = al->alloc(nsize);

	if (p == NULL)
		return NULL;
	memcpy(p, b->data, b->len + 1);
	secure_wipe(b->data, b->size);
	al->release(b->data);
	return p;
}

/* Makes room for extra more bytes plus the terminator. */
static int buf_grow(struct buf *b, size_t extra)
{
	size_t need, nsize;
	char *p;

	if (extra > b->cap || b->len > b->cap - extra)
		return TROVE_ERR_TOO_LARGE;
	need = b->len + extra + 1;
	if (need <= b->size)
		return 0;
	nsize = b->size ? b->size : 64;
	while (nsize < need) {
		if (nsize > SIZE_MAX / 2) {
			nsize = need;
			break;
		}
		nsize *= 2;
	}
	if (nsize > b->cap + 1 && b->cap < SIZE_MAX)
		nsize = b->cap + 1;
	if (nsize < need)
		nsize = need;
	if (b->size == 0) {
		p = al->alloc(nsize);
		if (p == NULL)
			return TROVE_ERR_NOMEM;
		p[0] = '\0';
	} else {
		p = b->secret ? grow_secret(b, nsize) : al->resize(b->data, nsize);
		if (p == NULL)
			return TROVE_ERR_NOMEM;
	}
	b->data = p;
	b->size = nsize;
	return 0;
}

int buf_reserve(struct buf *b, size_t extra)
{
	return buf_grow(b, extra);
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int r;

	if ((r = buf_grow(b, n)) != 0)
		return r;
	if (n != 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_byte(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	size_t avail;
	int n, r;

	avail = b->size ? b->size - b->len : 0;
	va_copy(cp, ap);
	if (avail != 0)
		n = vsnprintf(b->data + b->len, avail, fmt, cp);
	else
		n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0) {
		if (b->size != 0)
			b->data[b->len] = '\0';
		return TROVE_ERR_INVALID;
	}
	if ((size_t)n < avail) {
		if ((size_t)n > b->cap - b->len) {
			/* Fitted in the allocation but not under the cap. */
			b->data[b->len] = '\0';
			return TROVE_ERR_TOO_LARGE;
		}
		b->len += (size_t)n;
		return 0;
	}
	if (b->size != 0)
		b->data[b->len] = '\0';
	if ((r = buf_grow(b, (size_t)n)) != 0)
		return r;
	va_copy(cp, ap);
	n = vsnprintf(b->data + b->len, b->size - b->len, fmt, cp);
	va_end(cp);
	if (n < 0 || (size_t)n >= b->size - b->len) {
		b->data[b->len] = '\0';
		return TROVE_ERR_INTERNAL;
	}
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

char *buf_take(struct buf *b)
{
	char *s;

	if (b->size == 0) {
		s = malloc(1);
		if (s != NULL)
			s[0] = '\0';
		return s;
	}
	s = b->data;
	buf_forget(b);
	return s;
}

struct span span_from_str(const char *s)
{
	struct span sp = {s, s ? strlen(s) : 0};
	return sp;
}

bool span_eq_str(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

char *span_dup(struct span s)
{
	char *p;

	if (s.len == SIZE_MAX)
		oom();
	p = xmalloc(s.len + 1);
	if (s.len != 0)
		memcpy(p, s.ptr, s.len);
	p[s.len] = '\0';
	return p;
}

void strlist_init(struct strlist *l)
{
	l->items = NULL;
	l->len = 0;
	l->size = 0;
}

void strlist_release(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->len; i++)
		free(l->items[i]);
	free(l->items);
	strlist_init(l);
}

int strlist_push_owned(struct strlist *l, char *s)
{
	char **items;
	size_t nsize;

	if (s == NULL)
		return TROVE_ERR_NOMEM;
	if (l->len == l->size) {
		nsize = l->size ? l->size * 2 : 8;
		if (nsize > SIZE_MAX / sizeof(*items)) {
			free(s);
			return TROVE_ERR_NOMEM;
		}
		items = realloc(l->items, nsize * sizeof(*items));
		if (items == NULL) {
			free(s);
			return TROVE_ERR_NOMEM;
		}
		l->items = items;
		l->size = nsize;
	}
	l->items[l->len++] = s;
	return 0;
}

int strlist_push(struct strlist *l, const char *s)
{
	return strlist_push_owned(l, strdup(s));
}

bool strlist_contains(const struct strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->len; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

static int strlist_cmp(const void *a, const void *b)
{
	const char *const *x = a;
	const char *const *y = b;

	return strcmp(*x, *y);
}

void strlist_sort(struct strlist *l)
{
	if (l->len > 1)
		qsort(l->items, l->len, sizeof(*l->items), strlist_cmp);
}

void strlist_sort_unique(struct strlist *l)
{
	size_t i, o;

	strlist_sort(l);
	if (l->len < 2)
		return;
	for (i = 1, o = 1; i < l->len; i++) {
		if (strcmp(l->items[i], l->items[o - 1]) == 0)
			free(l->items[i]);
		else
			l->items[o++] = l->items[i];
	}
	l->len = o;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p;

	if (len == SIZE_MAX)
		oom();
	p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
