/* kube_cache.c — an informer's objects by "namespace/name" (kube_int.h):
 * a chained hash table that doubles when it holds twice as many objects
 * as slots. Each entry is one allocation holding the key, the object's
 * compact JSON text and its resourceVersion; reads parse the text anew.
 * Not synchronised: the informer holds its mutex around it. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "operator/kube_int.h"
#include "secure.h"
#include "strhash.h"

#include "banned.h"

#define TEXT_FLAGS JSON_COMPACT

struct kube_cache_entry {
	struct kube_cache_entry *next;
	const char *text; /* into data: the object, compact, NUL-terminated */
	const char *rv;   /* into data, or NULL: the object had no resourceVersion */
	size_t text_len;
	size_t size; /* of the whole entry, to wipe it */
	char data[];      /* key '\0' text '\0' [rv '\0'] */
};

bool kube_obj_key(const json_t *obj, char key[KUBE_KEY_MAX])
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	size_t a = ns ? strlen(ns) : 0, b = name ? strlen(name) : 0;

	if (name == NULL || b == 0 || a + b + 2 > KUBE_KEY_MAX || strchr(name, '/') || (ns && strchr(ns, '/')))
		return false;
	if (a) {
		memcpy(key, ns, a);
		key[a++] = '/';
	}
	memcpy(key + a, name, b + 1);
	return true;
}

/* Wiped: a re-list's Secrets are kept whole for a while, data included. */
static void entry_free(struct kube_cache_entry *e)
{
	secure_wipe(e, e->size);
	free(e);
}

void kube_cache_init(struct kube_cache *c)
{
	c->nslots = 64;
	c->slots = xcalloc(c->nslots, sizeof(*c->slots));
	c->n = 0;
}

void kube_cache_release(struct kube_cache *c)
{
	struct kube_cache_entry *e, *next;
	size_t i;

	for (i = 0; i < c->nslots; i++)
		for (e = c->slots[i]; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	free(c->slots);
	memset(c, 0, sizeof(*c));
}

static struct kube_cache_entry **find(const struct kube_cache *c, const char *key)
{
	struct kube_cache_entry **e = &c->slots[str_hash(key) & (c->nslots - 1)];

	while (*e && strcmp((*e)->data, key) != 0)
		e = &(*e)->next;
	return e;
}

static json_t *parse(const struct kube_cache_entry *e)
{
	return json_loadb(e->text, e->text_len, 0, NULL);
}

json_t *kube_cache_get(const struct kube_cache *c, const char *key)
{
	struct kube_cache_entry *e = *find(c, key);

	return e ? parse(e) : NULL;
}

bool kube_cache_find(const struct kube_cache *c, const char *key, const char **rv)
{
	struct kube_cache_entry *e = *find(c, key);

	if (rv)
		*rv = e ? e->rv : NULL;
	return e != NULL;
}

static void grow(struct kube_cache *c)
{
	struct kube_cache_entry **old = c->slots, *e, *next;
	size_t i, n = c->nslots, h;

	c->nslots = n * 2;
	c->slots = xcalloc(c->nslots, sizeof(*c->slots));
	for (i = 0; i < n; i++)
		for (e = old[i]; e; e = next) {
			next = e->next;
			h = str_hash(e->data) & (c->nslots - 1);
			e->next = c->slots[h];
			c->slots[h] = e;
		}
	free(old);
}

/* A new entry for key and obj (next unset), or NULL when obj cannot be
 * written as JSON. */
static struct kube_cache_entry *entry_new(const char *key, const json_t *obj)
{
	const char *rv =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	size_t kn = strlen(key) + 1, tn = json_dumpb(obj, NULL, 0, TEXT_FLAGS), rn = rv ? strlen(rv) + 1 : 0;
	struct kube_cache_entry *e;
	char *text;

	if (tn == 0)
		return NULL;
	e = xmalloc(sizeof(*e) + kn + tn + 1 + rn);
	e->size = sizeof(*e) + kn + tn + 1 + rn;
	memcpy(e->data, key, kn);
	text = e->data + kn;
	if (json_dumpb(obj, text, tn, TEXT_FLAGS) != tn) {
		entry_free(e);
		return NULL;
	}
	text[tn] = '\0';
	e->text = text;
	e->text_len = tn;
	e->rv = NULL;
	if (rv) {
		memcpy(text + tn + 1, rv, rn);
		e->rv = text + tn + 1;
	}
	return e;
}

int kube_cache_put(struct kube_cache *c, const char *key, const json_t *obj)
{
	struct kube_cache_entry **at = find(c, key), *e = entry_new(key, obj);

	if (e == NULL)
		return TROVE_ERR_INVALID;
	if (*at) { /* in place of the old one */
		e->next = (*at)->next;
		entry_free(*at);
		*at = e;
		return 0;
	}
	e->next = NULL;
	*at = e;
	if (++c->n > c->nslots * 2)
		grow(c);
	return 0;
}

bool kube_cache_remove(struct kube_cache *c, const char *key)
{
	struct kube_cache_entry **at = find(c, key), *e = *at;

	if (e == NULL)
		return false;
	*at = e->next;
	entry_free(e);
	c->n--;
	return true;
}

void kube_cache_each(const struct kube_cache *c, void (*fn)(void *ctx, const char *key, const char *rv), void *ctx)
{
	struct kube_cache_entry *e;
	size_t i;

	for (i = 0; i < c->nslots; i++)
		for (e = c->slots[i]; e; e = e->next)
			fn(ctx, e->data, e->rv);
}
