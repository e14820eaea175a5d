/* kube_cache.c — an informer's objects by "namespace/name" (kube_int.h):
 * a chained hash table that doubles when it holds twice as many objects
 * as slots. Not synchronised: the informer holds its mutex around it. */
#include <stdlib.h>
#include <string.h>

#include "operator/kube_int.h"
#include "strhash.h"

#include "banned.h"

struct kube_cache_entry {
	struct kube_cache_entry *next;
	json_t *obj;
	char key[];
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
			json_decref(e->obj);
			free(e);
		}
	free(c->slots);
	memset(c, 0, sizeof(*c));
}

static struct kube_cache_entry **find(const struct kube_cache *c, const char *key)
{
	struct kube_cache_entry **e = &c->slots[str_hash(key) & (c->nslots - 1)];

	while (*e && strcmp((*e)->key, key) != 0)
		e = &(*e)->next;
	return e;
}

json_t *kube_cache_get(const struct kube_cache *c, const char *key)
{
	struct kube_cache_entry *e = *find(c, key);

	return e ? e->obj : NULL;
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
			h = str_hash(e->key) & (c->nslots - 1);
			e->next = c->slots[h];
			c->slots[h] = e;
		}
	free(old);
}

void kube_cache_put(struct kube_cache *c, const char *key, json_t *obj)
{
	struct kube_cache_entry **at = find(c, key), *e;
	size_t n;

	if (*at) {
		json_decref((*at)->obj);
		(*at)->obj = obj;
		return;
	}
	n = strlen(key) + 1;
	e = xmalloc(sizeof(*e) + n);
	memcpy(e->key, key, n);
	e->obj = obj;
	e->next = NULL;
	*at = e;
	if (++c->n > c->nslots * 2)
		grow(c);
}

json_t *kube_cache_take(struct kube_cache *c, const char *key)
{
	struct kube_cache_entry **at = find(c, key), *e = *at;
	json_t *obj;

	if (e == NULL)
		return NULL;
	*at = e->next;
	obj = e->obj;
	free(e);
	c->n--;
	return obj;
}

void kube_cache_each(const struct kube_cache *c, void (*fn)(void *ctx, const char *key, json_t *obj), void *ctx)
{
	struct kube_cache_entry *e;
	size_t i;

	for (i = 0; i < c->nslots; i++)
		for (e = c->slots[i]; e; e = e->next)
			fn(ctx, e->key, e->obj);
}
