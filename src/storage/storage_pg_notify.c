/* storage_pg_notify.c — the text of the notifications that tell the other
 * nodes which keys a commit changed (storage_pg.h, "Notifications").
 * Pure functions: no database, no threads.
 *
 * A payload is "<node> <index> <flag>" then "\n<key>" per key: node is the
 * writer's 16 hex digits, index the commit's decimal index, flag 'K' for
 * the last (or only) chunk of the commit and 'k' when more follow. Keys
 * are escaped so a payload is printable ASCII (any database encoding
 * takes it) and '\n' separates them: every byte below 0x21, '%' and every
 * byte from 0x7f is written %XX (upper-case hex). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage_pg.h"

#include "banned.h"

static bool needs_escape(unsigned char ch)
{
	return ch < 0x21 || ch == '%' || ch >= 0x7f;
}

static size_t escaped_len(const char *key)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		n += needs_escape(*p) ? 3 : 1;
	return n;
}

static void append_escaped(struct buf *b, const char *key)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if (needs_escape(*p)) {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			buf_append(b, e, 3);
		} else {
			buf_append(b, (const char *)p, 1);
		}
	}
}

char *storage_pg_notify_chunks(const char *const *keys, size_t n)
{
	struct buf b;
	size_t chunk = 1; /* the current chunk's bytes, its flag included */

	buf_init(&b, (size_t)64 << 20);
	buf_append_str(&b, "K");
	for (size_t i = 0; i < n; i++) {
		size_t add = 1 + escaped_len(keys[i]);
		if (chunk > 1 && chunk + add > STORAGE_PG_NOTIFY_CHUNK) {
			/* the chunk so far has more after it: its flag becomes 'k' */
			b.data[b.len - chunk] = 'k';
			buf_append_str(&b, STORAGE_PG_NOTIFY_SEP "K");
			chunk = 1;
		}
		buf_append_str(&b, "\n");
		append_escaped(&b, keys[i]);
		chunk += add;
	}
	return buf_take(&b);
}

static int unhex(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The key of n escaped bytes at s, unescaped, or NULL when malformed (a
 * bad escape, a byte that should have been escaped, an empty key, or one
 * that unescapes to a NUL). */
static char *unescape(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '%') {
			if (i + 2 >= n)
				goto bad;
			int h = unhex((unsigned char)s[i + 1]), l = unhex((unsigned char)s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				goto bad;
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else if (needs_escape(ch)) {
			goto bad;
		} else {
			out[o++] = (char)ch;
		}
	}
	if (o == 0)
		goto bad;
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

bool storage_pg_notice_parse(const char *payload, size_t len, struct storage_pg_notice *out, struct strlist *keys)
{
	const char *p = payload, *end = payload + len;
	const char *nl;
	uint64_t idx = 0;
	size_t digits = 0;
	struct strlist got;

	/* "<16 hex> " */
	if (len < STORAGE_PG_NODE_HEX + 4)
		return false;
	for (size_t i = 0; i < STORAGE_PG_NODE_HEX; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	if (p[STORAGE_PG_NODE_HEX] != ' ')
		return false;
	memcpy(out->node, p, STORAGE_PG_NODE_HEX);
	out->node[STORAGE_PG_NODE_HEX] = '\0';
	p += STORAGE_PG_NODE_HEX + 1;
	/* "<index> " */
	for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
		if (digits >= 19)
			return false; /* past any index a bigint holds */
		idx = idx * 10 + (uint64_t)(*p - '0');
	}
	if (digits == 0 || p + 2 > end || p[0] != ' ' || (p[1] != 'K' && p[1] != 'k'))
		return false;
	out->index = idx;
	out->last = p[1] == 'K';
	p += 2;
	strlist_init(&got);
	while (p < end) {
		if (*p != '\n')
			goto bad;
		p++;
		nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *key = unescape(p, n);
		if (key == NULL)
			goto bad;
		strlist_push_owned(&got, key);
		p += n;
	}
	for (size_t i = 0; i < got.len; i++) {
		strlist_push_owned(keys, got.items[i]);
		got.items[i] = NULL;
	}
	got.len = 0;
	strlist_release(&got);
	return true;
bad:
	strlist_release(&got);
	return false;
}
