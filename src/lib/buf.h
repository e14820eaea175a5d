/* buf.h — the owning buffer, the non-owning view, and a string list.
 *
 * struct buf is always NUL-terminated, grows geometrically and never past
 * its cap: an append that would exceed it fails with TROVE_ERR_TOO_LARGE and
 * leaves the contents unchanged. buf_release() frees; buf_release_secret()
 * wipes the whole allocation first. A zeroed struct buf is not valid: call
 * buf_init().
 *
 * A buffer that will hold secrets (response bodies, tokens, audit lines
 * under log_raw) is made with buf_init_secret(): it never leaves a copy
 * behind in freed memory. realloc() may move a block and free the old one
 * as it was; such a buffer grows by allocating anew, copying, wiping the
 * old block and freeing it, and buf_reset/buf_release wipe what it held.
 * The mode survives buf_reset, buf_release and buf_take (whose string the
 * caller then wipes). */
#ifndef TROVE_BUF_H
#define TROVE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define BUF_CAP_DEFAULT ((size_t)1 << 20)

struct buf {
	char *data;  /* NUL-terminated; "" (static) until the first append */
	size_t len;  /* bytes used, excluding the terminator */
	size_t size; /* bytes allocated */
	size_t cap;  /* hard maximum for len */
	bool secret; /* buf_init_secret: wiped on growth, reset and release */
};

/* Non-owning view of len bytes at ptr (not necessarily terminated). */
struct span {
	const char *ptr;
	size_t len;
};

#define SPAN_LIT(s) ((struct span){ (s), sizeof(s) - 1 })

void buf_init(struct buf *b, size_t cap);
/* buf_init in the secret mode described above. */
void buf_init_secret(struct buf *b, size_t cap);
void buf_release(struct buf *b);
/* Wipes every allocated byte, then releases. */
void buf_release_secret(struct buf *b);
/* Empties the buffer, keeping its allocation. */
void buf_reset(struct buf *b);
/* Makes room for extra more bytes plus the terminator, growing as an
 * append would (in the secret mode, by copy and wipe), so that a writer
 * may then fill b->data + b->len directly. 0, TROVE_ERR_TOO_LARGE past the
 * cap (nothing changed), or TROVE_ERR_NOMEM. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hands the heap string to the caller (who frees it) and resets b.
 * Returns NULL only on allocation failure. */
char *buf_take(struct buf *b);

struct span span_from_str(const char *s);
bool span_eq_str(struct span s, const char *lit);
/* Heap copy, NUL-terminated; aborts on OOM (small fixed allocation). */
char *span_dup(struct span s);

/* For tests: the allocator buffers grow with (NULL restores malloc,
 * realloc and free). Set it before any buffer is allocated and restore it
 * after the last one is released: it is not synchronised. */
struct buf_allocator {
	void *(*alloc)(size_t n);
	void *(*resize)(void *p, size_t n);
	void (*release)(void *p);
};
void buf_set_allocator(const struct buf_allocator *a);

/* Growable list of owned strings. */
struct strlist {
	char **items;
	size_t len;
	size_t size;
};

void strlist_init(struct strlist *l);
void strlist_release(struct strlist *l);
/* Copies s. */
int strlist_push(struct strlist *l, const char *s);
/* Takes ownership of s (freed with the list). */
int strlist_push_owned(struct strlist *l, char *s);
bool strlist_contains(const struct strlist *l, const char *s);
void strlist_sort(struct strlist *l);
/* Sorts and removes duplicates. */
void strlist_sort_unique(struct strlist *l);

/* Allocation helpers for small fixed allocations: abort on OOM. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
