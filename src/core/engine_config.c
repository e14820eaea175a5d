/* engine_config.c — typed per-mount engine settings (engine_config.h).
 *
 * The cache is the parsed struct plus a flag saying it is loaded, behind
 * one mutex; a write holds the mutex across its read-modify-write and the
 * storage put, so two writers cannot lose each other's change and a
 * reload cannot interleave with a write. The reload hook runs after the
 * mutex is released, on a copy. */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine_config.h"

#include "err.h"
#include "secure.h"

#include "banned.h"

struct engine_config {
	const struct config_decl *d;
	void *arg;
	pthread_mutex_t mu;
	bool loaded;
	_Alignas(max_align_t) unsigned char cur[ENGINE_CONFIG_MAX];
};

static int64_t *int_at(void *cfg, const struct config_field *f)
{
	return (int64_t *)((unsigned char *)cfg + f->offset);
}

static bool *bool_at(void *cfg, const struct config_field *f)
{
	return (bool *)((unsigned char *)cfg + f->offset);
}

/* Checks one value of field f and stores it in cfg. why: the reason when
 * it is refused. */
static bool set_field(const struct config_field *f, void *cfg, const json_t *v, const char **why)
{
	if (f->type == FIELD_BOOL) {
		if (!json_is_boolean(v)) {
			*why = "expected a boolean";
			return false;
		}
		*bool_at(cfg, f) = json_is_true(v);
		return true;
	}
	if (!json_is_integer(v)) {
		*why = f->type == FIELD_DURATION ? "expected a duration" : "expected an integer";
		return false;
	}
	int64_t n = json_integer_value(v);
	if (n != 0 && n < f->min) {
		*why = f->min == 0 ? "must not be negative" : "below the minimum";
		return false;
	}
	if (n != 0 && n > f->max) {
		*why = "above the maximum";
		return false;
	}
	*int_at(cfg, f) = n;
	return true;
}

int engine_config_apply(const struct config_decl *d, void *cfg, const json_t *changes, struct buf *err)
{
	for (const struct config_field *f = d->fields; f->name; f++) {
		const json_t *v = json_object_get(changes, f->name);
		const char *why = NULL;
		if (!v || json_is_null(v))
			continue;
		if (!set_field(f, cfg, v, &why)) {
			buf_printf(err, "%s: %s", f->name, why);
			return TROVE_ERR_INVALID;
		}
	}
	return 0;
}

json_t *engine_config_json(const struct config_decl *d, const void *cfg)
{
	json_t *j = json_object();
	for (const struct config_field *f = d->fields; f->name; f++) {
		void *p = (void *)cfg;
		json_object_set_new(j, f->name,
		                    f->type == FIELD_BOOL ? json_boolean(*bool_at(p, f)) : json_integer(*int_at(p, f)));
	}
	return j;
}

int engine_config_load(const struct config_decl *d, struct storage *view, void *out)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	json_t *j = NULL;
	int r;
	memset(out, 0, d->size);
	r = storage_get(view, d->key, &raw, &len);
	if (r == TROVE_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	j = json_loadb((const char *)raw, len, 0, NULL);
	secure_free(raw, len);
	r = TROVE_ERR_INTEGRITY;
	if (!json_is_object(j))
		goto out;
	for (const struct config_field *f = d->fields; f->name; f++) {
		const json_t *v = json_object_get(j, f->name);
		const char *why;
		if (v && !set_field(f, out, v, &why))
			goto out;
	}
	r = 0;
out:
	if (r != 0)
		memset(out, 0, d->size);
	json_decref(j);
	return r;
}

static int store(const struct config_decl *d, struct storage *view, const void *cfg)
{
	json_t *j = engine_config_json(d, cfg);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		return TROVE_ERR_NOMEM;
	int r = storage_put(view, d->key, text, strlen(text));
	free(text);
	return r;
}

struct engine_config *engine_config_new(const struct config_decl *d, void *arg)
{
	if (d->size > ENGINE_CONFIG_MAX)
		abort(); /* a declaration error, found by the first mount */
	struct engine_config *c = xcalloc(1, sizeof(*c));
	c->d = d;
	c->arg = arg;
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void engine_config_free(struct engine_config *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Called with c->mu held. */
static int ensure_loaded(struct engine_config *c, struct storage *view)
{
	int r = 0;
	if (!c->loaded && (r = engine_config_load(c->d, view, c->cur)) == 0)
		c->loaded = true;
	return r;
}

int engine_config_get(struct engine_config *c, struct storage *view, void *out)
{
	pthread_mutex_lock(&c->mu);
	int r = ensure_loaded(c, view);
	memcpy(out, c->cur, c->d->size);
	pthread_mutex_unlock(&c->mu);
	return r;
}

int engine_config_write(struct engine_config *c, struct storage *view, const json_t *changes, struct buf *err)
{
	_Alignas(max_align_t) unsigned char next[ENGINE_CONFIG_MAX];
	pthread_mutex_lock(&c->mu);
	int r = ensure_loaded(c, view);
	if (r == 0) {
		memcpy(next, c->cur, c->d->size);
		if ((r = engine_config_apply(c->d, next, changes, err)) == 0 && (r = store(c->d, view, next)) == 0)
			memcpy(c->cur, next, c->d->size);
		else if (r != TROVE_ERR_INVALID)
			c->loaded = false; /* the put may or may not have landed */
	}
	pthread_mutex_unlock(&c->mu);
	if (r == 0 && c->d->reload)
		c->d->reload(c->arg, next);
	return r;
}

void engine_config_invalidate(struct engine_config *c, struct storage *view)
{
	_Alignas(max_align_t) unsigned char next[ENGINE_CONFIG_MAX];
	bool changed = false;
	pthread_mutex_lock(&c->mu);
	int r = engine_config_load(c->d, view, next);
	if (r == 0) {
		changed = !c->loaded || memcmp(next, c->cur, c->d->size) != 0;
		memcpy(c->cur, next, c->d->size);
		c->loaded = true;
	} else {
		c->loaded = false;
	}
	pthread_mutex_unlock(&c->mu);
	if (changed && c->d->reload)
		c->d->reload(c->arg, next);
}
