/* json_items.c — an object's members one at a time (json_items.h). The
 * bytes are walked with jansson itself: JSON_DISABLE_EOF_CHECK makes it
 * stop after one value and say how many bytes it read, so this file only
 * steps over the punctuation between values. */
#include <stdbool.h>
#include <string.h>

#include "err.h"
#include "json_items.h"

#include "banned.h"

struct cursor {
	const char *p;
	size_t n, at;
	size_t flags;
};

static void skip_ws(struct cursor *c)
{
	while (c->at < c->n && (c->p[c->at] == ' ' || c->p[c->at] == '\t' || c->p[c->at] == '\n' ||
	                        c->p[c->at] == '\r'))
		c->at++;
}

/* The punctuation ch next (after whitespace): consumed, true. */
static bool take(struct cursor *c, char ch)
{
	skip_ws(c);
	if (c->at < c->n && c->p[c->at] == ch) {
		c->at++;
		return true;
	}
	return false;
}

/* The next value, parsed (a new reference), or NULL when it is not one. */
static json_t *value(struct cursor *c)
{
	json_error_t e;
	json_t *v;

	skip_ws(c);
	if (c->at >= c->n)
		return NULL;
	v = json_loadb(c->p + c->at, c->n - c->at, c->flags | JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &e);
	if (v == NULL)
		return NULL;
	if (e.position <= 0 || (size_t)e.position > c->n - c->at) {
		json_decref(v);
		return NULL;
	}
	c->at += (size_t)e.position;
	return v;
}

/* The array at the cursor, element by element to fn (or dropped). */
static int elements(struct cursor *c, json_items_fn fn, void *ctx)
{
	json_t *item;
	int r;

	if (!take(c, '['))
		return TROVE_ERR_INVALID;
	if (take(c, ']'))
		return 0;
	do {
		if ((item = value(c)) == NULL)
			return TROVE_ERR_INVALID;
		r = fn ? fn(ctx, item) : 0;
		json_decref(item);
		if (r != 0)
			return r;
	} while (take(c, ','));
	return take(c, ']') ? 0 : TROVE_ERR_INVALID;
}

static int members(struct cursor *c, const char *key, json_items_fn fn, void *ctx, json_t *rest)
{
	json_t *k, *v;
	int r;

	if (!take(c, '{'))
		return TROVE_ERR_INVALID;
	if (take(c, '}'))
		return 0;
	do {
		k = value(c);
		if (!json_is_string(k) || !take(c, ':')) {
			json_decref(k);
			return TROVE_ERR_INVALID;
		}
		skip_ws(c);
		if (strcmp(json_string_value(k), key) == 0 && c->at < c->n && c->p[c->at] == '[') {
			r = elements(c, fn, ctx);
		} else if ((v = value(c)) == NULL) {
			r = TROVE_ERR_INVALID;
		} else if (strcmp(json_string_value(k), key) == 0 && !json_is_null(v)) {
			json_decref(v); /* the key, but not an array */
			r = TROVE_ERR_INVALID;
		} else {
			r = rest && json_object_set_new(rest, json_string_value(k), v) != 0 ? TROVE_ERR_INVALID : 0;
			if (!rest)
				json_decref(v);
		}
		json_decref(k);
		if (r != 0)
			return r;
	} while (take(c, ','));
	return take(c, '}') ? 0 : TROVE_ERR_INVALID;
}

int json_items_read(const char *p, size_t n, const char *key, size_t flags, json_items_fn fn, void *ctx,
                    json_t **rest)
{
	struct cursor c = {p, n, 0, flags};
	json_t *o = rest ? json_object() : NULL;
	int r;

	if (rest)
		*rest = NULL;
	r = members(&c, key, fn, ctx, o);
	if (r == 0) {
		skip_ws(&c);
		if (c.at != c.n)
			r = TROVE_ERR_INVALID;
	}
	if (r != 0 || rest == NULL)
		json_decref(o);
	else
		*rest = o;
	return r;
}
