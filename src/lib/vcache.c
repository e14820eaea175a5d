/* vcache.c — see vcache.h. One mutex per group of slots keeps contention
 * low; copies in and out happen under it (values are small). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vcache.h"
#include "strhash.h"

#include "buf.h"

#include "banned.h"

#define LOCKS 64

struct slot {
	uint64_t gen;
	char *key;   /* NULL: empty */
	void *value;
};

struct vcache {
	pthread_mutex_t locks[LOCKS];
	struct slot *slots;
	size_t nslots;
	void *(*copy)(const void *v);
	void (*release)(void *v);
};

static size_t slot_of(const struct vcache *c, const char *key)
{
	return (size_t)(str_hash(key) % c->nslots);
}

static pthread_mutex_t *lock_of(struct vcache *c, size_t i)
{
	return &c->locks[i % LOCKS];
}

struct vcache *vcache_new(size_t slots, void *(*copy)(const void *v), void (*release)(void *v))
{
	struct vcache *c = xcalloc(1, sizeof(*c));
	c->nslots = slots ? slots : 1;
	c->slots = xcalloc(c->nslots, sizeof(*c->slots));
	c->copy = copy;
	c->release = release;
	for (size_t i = 0; i < LOCKS; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	return c;
}

void vcache_free(struct vcache *c)
{
	if (!c)
		return;
	vcache_clear(c);
	for (size_t i = 0; i < LOCKS; i++)
		pthread_mutex_destroy(&c->locks[i]);
	free(c->slots);
	free(c);
}

uint64_t vcache_generation(struct vcache *c, const char *key)
{
	size_t i = slot_of(c, key);
	pthread_mutex_lock(lock_of(c, i));
	uint64_t gen = c->slots[i].gen;
	pthread_mutex_unlock(lock_of(c, i));
	return gen;
}

void *vcache_get(struct vcache *c, const char *key)
{
	size_t i = slot_of(c, key);
	void *out = NULL;
	pthread_mutex_lock(lock_of(c, i));
	struct slot *s = &c->slots[i];
	if (s->key && strcmp(s->key, key) == 0)
		out = c->copy(s->value);
	pthread_mutex_unlock(lock_of(c, i));
	return out;
}

/* Empties a slot; returns what the caller must free outside the lock. */
static void take(struct slot *s, char **key, void **value)
{
	*key = s->key;
	*value = s->value;
	s->key = NULL;
	s->value = NULL;
}

void vcache_put(struct vcache *c, const char *key, uint64_t gen, const void *v)
{
	size_t i = slot_of(c, key);
	char *k = xstrdup(key), *old_key = NULL;
	void *copy = c->copy(v), *old = NULL;
	pthread_mutex_lock(lock_of(c, i));
	struct slot *s = &c->slots[i];
	if (s->gen == gen) {
		take(s, &old_key, &old);
		s->key = k;
		s->value = copy;
		k = NULL;
		copy = NULL;
	}
	pthread_mutex_unlock(lock_of(c, i));
	free(old_key);
	free(k);
	if (old)
		c->release(old);
	if (copy)
		c->release(copy);
}

void vcache_forget(struct vcache *c, const char *key)
{
	size_t i = slot_of(c, key);
	char *old_key = NULL;
	void *old = NULL;
	pthread_mutex_lock(lock_of(c, i));
	struct slot *s = &c->slots[i];
	s->gen++;
	if (s->key && strcmp(s->key, key) == 0)
		take(s, &old_key, &old);
	pthread_mutex_unlock(lock_of(c, i));
	free(old_key);
	if (old)
		c->release(old);
}

void vcache_clear(struct vcache *c)
{
	for (size_t i = 0; i < c->nslots; i++) {
		char *old_key = NULL;
		void *old = NULL;
		pthread_mutex_lock(lock_of(c, i));
		c->slots[i].gen++;
		take(&c->slots[i], &old_key, &old);
		pthread_mutex_unlock(lock_of(c, i));
		free(old_key);
		if (old)
			c->release(old);
	}
}
