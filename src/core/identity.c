/* identity.c — the identity store (see identity.h for the contract).
 *
 * Records are kept as JSON objects in four tables (struct kind), each
 * indexed by id and by a unique key: the lower-cased name for entities
 * and groups, "<mount_accessor>\n<name>" for aliases. Jansson objects are
 * the hash maps. A write builds the new record, persists it, and only
 * then swaps it into the indexes, all under the write lock. */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity.h"

#include "core.h"
#include "encoding.h"
#include "err.h"
#include "mount.h"
#include "rand.h"
#include "timefmt.h"

#include "banned.h"

struct kind {
	const char *prefix; /* storage prefix, "entity/" */
	json_t *by_id;      /* id -> record */
	json_t *by_key;     /* unique key -> id */
};

struct identity_store {
	pthread_rwlock_t lock;
	struct core *core;
	struct storage *view;
	atomic_bool loaded;
	struct kind entities, aliases, groups, galiases;
	atomic_uint_fast64_t generation;
	/* identity_policies' cache: entity id -> {"p":[...], "d":disabled},
	 * valid for generation cache_gen only. */
	pthread_mutex_t cache_lock;
	json_t *cache;
	uint64_t cache_gen;
	pthread_mutex_t oidc_lock; /* identity_oidc_lock */
};

/* ---- helpers -------------------------------------------------------------- */

static char *lower(const char *s)
{
	char *o = xstrdup(s);
	for (char *p = o; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return o;
}

static const char *rstr(const json_t *rec, const char *k)
{
	const char *v = json_string_value(json_object_get(rec, k));
	return v ? v : "";
}

static void kind_init(struct kind *k, const char *prefix)
{
	k->prefix = prefix;
	k->by_id = json_object();
	k->by_key = json_object();
}

static void kind_clear(struct kind *k)
{
	json_decref(k->by_id);
	json_decref(k->by_key);
}

/* The unique key of a record of kind k (caller frees). */
static char *rec_key(const struct identity_store *s, const struct kind *k, const json_t *rec)
{
	if (k == &s->entities || k == &s->groups)
		return lower(rstr(rec, "name"));
	size_t n = strlen(rstr(rec, "mount_accessor")) + strlen(rstr(rec, "name")) + 2;
	char *o = xmalloc(n);
	snprintf(o, n, "%s\n%s", rstr(rec, "mount_accessor"), rstr(rec, "name"));
	return o;
}

static json_t *rec_get(const struct kind *k, const char *id)
{
	return id ? json_object_get(k->by_id, id) : NULL;
}

static json_t *rec_by_key(const struct kind *k, const char *key)
{
	const char *id = json_string_value(json_object_get(k->by_key, key));
	return id ? json_object_get(k->by_id, id) : NULL;
}

static json_t *rec_by_name(const struct kind *k, const char *name)
{
	char *l = lower(name);
	json_t *r = rec_by_key(k, l);
	free(l);
	return r;
}

static void index_remove(struct identity_store *s, struct kind *k, const char *id)
{
	json_t *old = json_object_get(k->by_id, id);
	if (!old)
		return;
	char *key = rec_key(s, k, old);
	const char *kid = json_string_value(json_object_get(k->by_key, key));
	if (kid && strcmp(kid, id) == 0)
		json_object_del(k->by_key, key);
	free(key);
	json_object_del(k->by_id, id);
}

static void index_add(struct identity_store *s, struct kind *k, json_t *rec)
{
	const char *id = rstr(rec, "id");
	char *key = rec_key(s, k, rec);
	json_object_set_new(k->by_key, key, json_string(id));
	free(key);
	json_object_set(k->by_id, id, rec);
}

/* Persists rec (a new reference is taken) and indexes it. */
static int rec_put(struct identity_store *s, struct kind *k, json_t *rec)
{
	char key[128];
	char *text;
	int r;
	snprintf(key, sizeof(key), "%s%s", k->prefix, rstr(rec, "id"));
	text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return TROVE_ERR_NOMEM;
	r = storage_put(s->view, key, text, strlen(text));
	free(text);
	if (r != 0)
		return r;
	json_incref(rec);
	index_remove(s, k, rstr(rec, "id"));
	index_add(s, k, rec);
	json_decref(rec);
	atomic_fetch_add(&s->generation, 1);
	return 0;
}

static int rec_del(struct identity_store *s, struct kind *k, const char *id_in)
{
	char key[128];
	char *id = xstrdup(id_in);
	int r;
	snprintf(key, sizeof(key), "%s%s", k->prefix, id);
	r = storage_delete(s->view, key);
	if (r == TROVE_ERR_NOT_FOUND)
		r = 0;
	if (r == 0) {
		index_remove(s, k, id);
		atomic_fetch_add(&s->generation, 1);
	}
	free(id);
	return r;
}

static int load_kind(struct identity_store *s, struct kind *k)
{
	struct strlist l;
	int r;
	strlist_init(&l);
	r = storage_list(s->view, k->prefix, &l);
	for (size_t i = 0; r == 0 && i < l.len; i++) {
		char key[128];
		unsigned char *raw = NULL;
		size_t len = 0;
		json_t *rec;
		snprintf(key, sizeof(key), "%s%s", k->prefix, l.items[i]);
		if ((r = storage_get(s->view, key, &raw, &len)) != 0)
			break;
		rec = json_loadb((const char *)raw, len, 0, NULL);
		free(raw);
		if (!json_is_object(rec) || !json_is_string(json_object_get(rec, "id"))) {
			json_decref(rec);
			r = TROVE_ERR_INTEGRITY;
			break;
		}
		index_add(s, k, rec);
		json_decref(rec);
	}
	strlist_release(&l);
	return r;
}

/* Forgets every record: the next lock_store loads them all again.
 * Called with the write lock held. */
static void reset_locked(struct identity_store *s)
{
	struct kind *ks[] = {&s->entities, &s->aliases, &s->groups, &s->galiases};
	for (size_t i = 0; i < 4; i++) {
		json_object_clear(ks[i]->by_id);
		json_object_clear(ks[i]->by_key);
	}
	atomic_store(&s->loaded, false);
}

/* Takes the lock (write or read), loading the records the first time. */
static int lock_store(struct identity_store *s, bool write)
{
	int r = 0;
	if (!atomic_load(&s->loaded)) {
		pthread_rwlock_wrlock(&s->lock);
		if (!atomic_load(&s->loaded)) {
			struct kind *ks[] = {&s->entities, &s->aliases, &s->groups, &s->galiases};
			for (size_t i = 0; r == 0 && i < 4; i++)
				r = load_kind(s, ks[i]);
			if (r == 0)
				atomic_store(&s->loaded, true);
			else
				reset_locked(s);
		}
		pthread_rwlock_unlock(&s->lock);
		if (r != 0)
			return r;
	}
	if (write)
		pthread_rwlock_wrlock(&s->lock);
	else
		pthread_rwlock_rdlock(&s->lock);
	return 0;
}

static void unlock_store(struct identity_store *s)
{
	pthread_rwlock_unlock(&s->lock);
}

struct identity_store *identity_store_new(struct core *core, struct storage *view)
{
	struct identity_store *s = xcalloc(1, sizeof(*s));
	pthread_rwlock_init(&s->lock, NULL);
	s->core = core;
	s->view = view;
	atomic_init(&s->loaded, false);
	atomic_init(&s->generation, 1);
	pthread_mutex_init(&s->cache_lock, NULL);
	pthread_mutex_init(&s->oidc_lock, NULL);
	s->cache = json_object();
	kind_init(&s->entities, "entity/");
	kind_init(&s->aliases, "alias/");
	kind_init(&s->groups, "group/");
	kind_init(&s->galiases, "group-alias/");
	return s;
}

void identity_store_free(struct identity_store *s)
{
	if (!s)
		return;
	kind_clear(&s->entities);
	kind_clear(&s->aliases);
	kind_clear(&s->groups);
	kind_clear(&s->galiases);
	json_decref(s->cache);
	pthread_mutex_destroy(&s->cache_lock);
	pthread_mutex_destroy(&s->oidc_lock);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

pthread_mutex_t *identity_oidc_lock(struct identity_store *s)
{
	return &s->oidc_lock;
}

uint64_t identity_generation(struct identity_store *s)
{
	return (uint64_t)atomic_load(&s->generation);
}

/* ---- auth mounts by accessor ------------------------------------------- */

struct acc_find {
	const char *accessor;
	char path[256];
	char type[64];
	bool found;
};

static void acc_cb(struct mount *m, void *arg)
{
	struct acc_find *f = arg;
	if (!f->found && strcmp(m->accessor, f->accessor) == 0) {
		f->found = true;
		snprintf(f->path, sizeof(f->path), "%s", m->path);
		snprintf(f->type, sizeof(f->type), "%s", m->type);
	}
}

static bool find_accessor(struct identity_store *s, const char *accessor, struct acc_find *f)
{
	memset(f, 0, sizeof(*f));
	f->accessor = accessor;
	if (s->core && core_mounts(s->core))
		mount_table_foreach(core_mounts(s->core), true, acc_cb, f);
	return f->found;
}

/* ---- record building ------------------------------------------------------ */

static json_t *new_record(const char *id)
{
	char now[TIME_TEXT_MAX];
	time_rfc3339((int64_t)time(NULL), now);
	return json_pack("{s:s, s:s, s:s}", "id", id, "creation_time", now, "last_update_time", now);
}

static void touch(json_t *rec)
{
	char now[TIME_TEXT_MAX];
	time_rfc3339((int64_t)time(NULL), now);
	json_object_set_new(rec, "last_update_time", json_string(now));
}

/* Copies fields[k] into rec when present (and not null). */
static void copy_field(json_t *rec, const json_t *fields, const char *k, json_t *def)
{
	json_t *v = json_object_get(fields, k);
	if (v && !json_is_null(v))
		json_object_set_new(rec, k, json_deep_copy(v));
	else if (!json_object_get(rec, k) && def)
		json_object_set(rec, k, def);
	json_decref(def);
}

static bool arr_has(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i,
	                   v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
	return false;
}

static void arr_remove(json_t *arr, const char *s)
{
	for (size_t i = json_array_size(arr); i-- > 0;) {
		const char *v = json_string_value(json_array_get(arr, i));
		if (v && strcmp(v, s) == 0)
			json_array_remove(arr, i);
	}
}

static const char *gen_name(char *buf, size_t n, const char *what, const char *id)
{
	snprintf(buf, n, "%s_%.8s", what, id);
	return buf;
}

/* ---- rendering ------------------------------------------------------------ */

static json_t *alias_json(struct identity_store *s, const json_t *a)
{
	json_t *o = json_deep_copy(a);
	struct acc_find f;
	find_accessor(s, rstr(a, "mount_accessor"), &f);
	json_object_set_new(o, "mount_path", json_string(f.found ? f.path : ""));
	json_object_set_new(o, "mount_type", json_string(f.found ? f.type : ""));
	json_object_set_new(o, "namespace_id", json_string("root"));
	json_object_set_new(o, "local", json_false());
	if (!json_object_get(o, "merged_from_canonical_ids"))
		json_object_set_new(o, "merged_from_canonical_ids", json_null());
	if (!json_object_get(o, "custom_metadata"))
		json_object_set_new(o, "custom_metadata", json_object());
	return o;
}

static void sorted_append(json_t *arr, const char *id)
{
	if (!arr_has(arr, id))
		json_array_append_new(arr, json_string(id));
}

/* Adds to out every group that has group `gid` as a member, transitively. */
static void parents_of(struct identity_store *s, const char *gid, json_t *out)
{
	const char *id;
	json_t *g;
	json_object_foreach(s->groups.by_id, id, g)
	{
		if (arr_has(json_object_get(g, "member_group_ids"), gid) && !arr_has(out, id)) {
			json_array_append_new(out, json_string(id));
			parents_of(s, id, out);
		}
	}
}

static json_t *entity_json(struct identity_store *s, const json_t *e)
{
	json_t *o = json_deep_copy(e);
	json_t *aliases = json_array(), *direct = json_array(), *inherited = json_array(), *all;
	const char *eid = rstr(e, "id"), *id;
	json_t *v;
	json_object_foreach(s->aliases.by_id, id, v) if (strcmp(rstr(v, "canonical_id"), eid) == 0)
	    json_array_append_new(aliases, alias_json(s, v));
	json_object_foreach(s->groups.by_id, id, v) if (arr_has(json_object_get(v, "member_entity_ids"), eid))
	    json_array_append_new(direct, json_string(id));
	for (size_t i = 0; i < json_array_size(direct); i++)
		parents_of(s, json_string_value(json_array_get(direct, i)), inherited);
	for (size_t i = json_array_size(inherited); i-- > 0;)
		if (arr_has(direct, json_string_value(json_array_get(inherited, i))))
			json_array_remove(inherited, i);
	all = json_deep_copy(direct);
	for (size_t i = 0; i < json_array_size(inherited); i++)
		sorted_append(all, json_string_value(json_array_get(inherited, i)));
	json_object_set_new(o, "aliases", aliases);
	json_object_set_new(o, "direct_group_ids", direct);
	json_object_set_new(o, "inherited_group_ids", inherited);
	json_object_set_new(o, "group_ids", all);
	json_object_set_new(o, "namespace_id", json_string("root"));
	json_object_set_new(o, "mfa_secrets", json_object());
	if (!json_object_get(o, "merged_entity_ids"))
		json_object_set_new(o, "merged_entity_ids", json_null());
	return o;
}

static json_t *group_json(struct identity_store *s, const json_t *g)
{
	json_t *o = json_deep_copy(g), *parents = json_array(), *alias = NULL;
	const char *gid = rstr(g, "id"), *id;
	json_t *v;
	json_object_foreach(s->groups.by_id, id, v) if (arr_has(json_object_get(v, "member_group_ids"), gid))
	    json_array_append_new(parents, json_string(id));
	json_object_foreach(s->galiases.by_id, id, v) if (!alias && strcmp(rstr(v, "canonical_id"), gid) == 0)
	    alias = alias_json(s, v);
	json_object_set_new(o, "parent_group_ids", parents);
	json_object_set_new(o, "alias", alias ? alias : json_object());
	json_object_set_new(o, "namespace_id", json_string("root"));
	return o;
}

static int list_json(struct identity_store *s, struct kind *k, bool by_name, json_t **out)
{
	json_t *keys = json_array(), *info = json_object();
	const char *id;
	json_t *v;
	json_object_foreach(k->by_id, id, v)
	{
		const char *key = by_name ? rstr(v, "name") : id;
		json_t *ki = json_pack("{s:s}", "name", rstr(v, "name"));
		if (k == &s->entities || k == &s->groups) {
			if (k == &s->groups)
				json_object_set_new(ki, "type", json_string(rstr(v, "type")));
		} else {
			json_object_set_new(ki, "canonical_id", json_string(rstr(v, "canonical_id")));
			json_object_set_new(ki, "mount_accessor", json_string(rstr(v, "mount_accessor")));
		}
		json_array_append_new(keys, json_string(key));
		json_object_set_new(info, key, ki);
	}
	if (json_array_size(keys) == 0) {
		json_decref(keys);
		json_decref(info);
		return TROVE_ERR_NOT_FOUND;
	}
	*out = json_pack("{s:o, s:o}", "keys", keys, "key_info", info);
	return 0;
}

/* ---- entities ------------------------------------------------------------- */

int identity_entity_write(struct identity_store *s, const char *id, const char *name_key,
                          const json_t *fields, json_t **out, struct buf *err)
{
	json_t *cur = NULL, *rec, *other;
	const char *name;
	char nbuf[64], uuid[37];
	int r;

	if ((r = lock_store(s, true)) != 0)
		return r;
	if (!id && !name_key) {
		const char *fid = json_string_value(json_object_get(fields, "id"));
		if (fid && fid[0])
			id = fid;
	}
	if (id) {
		if (!(cur = rec_get(&s->entities, id))) {
			buf_printf(err, "entity not found from id");
			r = TROVE_ERR_INVALID;
			goto out;
		}
	} else if (name_key) {
		cur = rec_by_name(&s->entities, name_key);
	}
	if (cur) {
		rec = json_deep_copy(cur);
		touch(rec);
	} else {
		if ((r = rand_uuid(uuid)) != 0)
			goto out;
		rec = new_record(uuid);
	}
	name = json_string_value(json_object_get(fields, "name"));
	if (name_key && (!name || !name[0]))
		name = name_key;
	if (name && name[0])
		json_object_set_new(rec, "name", json_string(name));
	else if (!cur)
		json_object_set_new(rec, "name",
		                    json_string(gen_name(nbuf, sizeof(nbuf), "entity", rstr(rec, "id"))));
	other = rec_by_name(&s->entities, rstr(rec, "name"));
	if (other && other != cur) {
		buf_printf(err, "entity name is already in use");
		json_decref(rec);
		r = TROVE_ERR_INVALID;
		goto out;
	}
	copy_field(rec, fields, "metadata", json_object());
	copy_field(rec, fields, "policies", json_array());
	copy_field(rec, fields, "disabled", json_false());
	if ((r = rec_put(s, &s->entities, rec)) == 0)
		*out = json_pack("{s:s, s:s}", "id", rstr(rec, "id"), "name", rstr(rec, "name"));
	json_decref(rec);
out:
	unlock_store(s);
	return r;
}

static json_t *entity_find(struct identity_store *s, const char *id, const char *name)
{
	return id ? rec_get(&s->entities, id) : name ? rec_by_name(&s->entities, name) : NULL;
}

int identity_entity_read(struct identity_store *s, const char *id, const char *name, json_t **out)
{
	json_t *e;
	int r;
	if ((r = lock_store(s, false)) != 0)
		return r;
	e = entity_find(s, id, name);
	if (e)
		*out = entity_json(s, e);
	else
		r = TROVE_ERR_NOT_FOUND;
	unlock_store(s);
	return r;
}

/* Removes member `id` from every group's `field` list. */
static int drop_membership(struct identity_store *s, const char *field, const char *id)
{
	const char *gid;
	json_t *g;
	struct strlist touched;
	int r = 0;
	strlist_init(&touched);
	json_object_foreach(s->groups.by_id, gid, g) if (arr_has(json_object_get(g, field), id))
	    strlist_push(&touched, gid);
	for (size_t i = 0; r == 0 && i < touched.len; i++) {
		json_t *c = json_deep_copy(rec_get(&s->groups, touched.items[i]));
		arr_remove(json_object_get(c, field), id);
		touch(c);
		json_object_set_new(c, "modify_index",
		                    json_integer(json_integer_value(json_object_get(c, "modify_index")) + 1));
		r = rec_put(s, &s->groups, c);
		json_decref(c);
	}
	strlist_release(&touched);
	return r;
}

static int entity_delete_locked(struct identity_store *s, const char *eid_in)
{
	char *eid = xstrdup(eid_in);
	struct strlist al;
	const char *aid;
	json_t *a;
	int r = 0;
	strlist_init(&al);
	json_object_foreach(s->aliases.by_id, aid, a) if (strcmp(rstr(a, "canonical_id"), eid) == 0)
	    strlist_push(&al, aid);
	for (size_t i = 0; r == 0 && i < al.len; i++)
		r = rec_del(s, &s->aliases, al.items[i]);
	if (r == 0)
		r = drop_membership(s, "member_entity_ids", eid);
	if (r == 0)
		r = rec_del(s, &s->entities, eid);
	strlist_release(&al);
	free(eid);
	return r;
}

int identity_entity_delete(struct identity_store *s, const char *id, const char *name)
{
	json_t *e;
	int r;
	if ((r = lock_store(s, true)) != 0)
		return r;
	if ((e = entity_find(s, id, name)) != NULL)
		r = entity_delete_locked(s, rstr(e, "id"));
	unlock_store(s);
	return r;
}

int identity_entity_list(struct identity_store *s, bool by_name, json_t **out)
{
	int r;
	if ((r = lock_store(s, false)) != 0)
		return r;
	r = list_json(s, &s->entities, by_name, out);
	unlock_store(s);
	return r;
}

int identity_entity_merge(struct identity_store *s, const struct strlist *from, const char *to, bool force,
                          const struct strlist *keep, struct buf *err)
{
	json_t *dst, *acc = NULL, *moves = NULL, *drops = NULL;
	int r;
	if ((r = lock_store(s, true)) != 0)
		return r;
	if (!to || !(dst = rec_get(&s->entities, to))) {
		buf_printf(err, "entity id to merge to is invalid");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	if (!from || from->len == 0) {
		buf_printf(err, "missing entity ids to merge from");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	/* accessor -> alias id currently owned by the merged entity */
	acc = json_object();
	moves = json_array();
	drops = json_array();
	{
		const char *aid;
		json_t *a;
		json_object_foreach(s->aliases.by_id, aid, a) if (strcmp(rstr(a, "canonical_id"), to) == 0)
		    json_object_set_new(acc, rstr(a, "mount_accessor"), json_string(aid));
	}
	for (size_t i = 0; i < from->len; i++) {
		const char *fid = from->items[i], *aid;
		json_t *a;
		if (strcmp(fid, to) == 0)
			continue;
		if (!rec_get(&s->entities, fid)) {
			buf_printf(err, "entity id to merge from is invalid: %s", fid);
			r = TROVE_ERR_INVALID;
			goto out;
		}
		json_object_foreach(s->aliases.by_id, aid, a)
		{
			if (strcmp(rstr(a, "canonical_id"), fid) != 0)
				continue;
			const char *held = json_string_value(json_object_get(acc, rstr(a, "mount_accessor")));
			if (!held) {
				json_object_set_new(acc, rstr(a, "mount_accessor"), json_string(aid));
				json_array_append_new(moves, json_string(aid));
			} else if (keep && strlist_contains(keep, aid)) {
				char *h = xstrdup(held);
				json_array_append_new(drops, json_string(h));
				arr_remove(moves, h);
				free(h);
				json_object_set_new(acc, rstr(a, "mount_accessor"), json_string(aid));
				json_array_append_new(moves, json_string(aid));
			} else if (force || (keep && strlist_contains(keep, held))) {
				json_array_append_new(drops, json_string(aid));
			} else {
				buf_printf(
				    err,
				    "toEntity and at least one fromEntity have aliases with the same mount "
				    "accessor, repeat with force=true or conflicting_alias_ids_to_keep: "
				    "alias %s conflicts with alias %s",
				    aid, held);
				r = TROVE_ERR_INVALID;
				goto out;
			}
		}
	}
	{
		size_t i;
		json_t *v;
		json_array_foreach(drops, i, v) if (r == 0) r = rec_del(s, &s->aliases, json_string_value(v));
		json_array_foreach(moves, i, v) if (r == 0)
		{
			json_t *a = json_deep_copy(rec_get(&s->aliases, json_string_value(v)));
			if (!a)
				continue;
			json_t *mf = json_object_get(a, "merged_from_canonical_ids");
			if (!json_is_array(mf))
				json_object_set_new(a, "merged_from_canonical_ids", mf = json_array());
			sorted_append(mf, rstr(a, "canonical_id"));
			json_object_set_new(a, "canonical_id", json_string(to));
			touch(a);
			r = rec_put(s, &s->aliases, a);
			json_decref(a);
		}
	}
	if (r != 0)
		goto out;
	{
		json_t *d = json_deep_copy(dst);
		json_t *pol = json_object_get(d, "policies"),
		       *merged = json_object_get(d, "merged_entity_ids");
		if (!json_is_array(merged))
			json_object_set_new(d, "merged_entity_ids", merged = json_array());
		for (size_t i = 0; r == 0 && i < from->len; i++) {
			const char *fid = from->items[i];
			json_t *f = rec_get(&s->entities, fid), *p;
			size_t j;
			const char *gid;
			json_t *g;
			struct strlist gl;
			if (!f || strcmp(fid, to) == 0)
				continue;
			json_array_foreach(json_object_get(f, "policies"), j, p) if (json_is_array(pol))
			    sorted_append(pol, json_string_value(p));
			sorted_append(merged, fid);
			strlist_init(&gl);
			json_object_foreach(s->groups.by_id, gid,
			                    g) if (arr_has(json_object_get(g, "member_entity_ids"), fid))
			    strlist_push(&gl, gid);
			for (j = 0; r == 0 && j < gl.len; j++) {
				json_t *c = json_deep_copy(rec_get(&s->groups, gl.items[j]));
				json_t *m = json_object_get(c, "member_entity_ids");
				arr_remove(m, fid);
				sorted_append(m, to);
				touch(c);
				r = rec_put(s, &s->groups, c);
				json_decref(c);
			}
			strlist_release(&gl);
			if (r == 0)
				r = entity_delete_locked(s, fid);
		}
		touch(d);
		if (r == 0)
			r = rec_put(s, &s->entities, d);
		json_decref(d);
	}
out:
	json_decref(acc);
	json_decref(moves);
	json_decref(drops);
	unlock_store(s);
	return r;
}

/* ---- aliases (entity and group) ------------------------------------------- */

/* Stores the record an alias created without canonical_id hangs on: an
 * entity, or for a group alias an external group, with a generated name. */
static int parent_put(struct identity_store *s, bool group, const char *id)
{
	char nbuf[64];
	json_t *p = new_record(id);
	int r;

	json_object_set_new(p, "name", json_string(gen_name(nbuf, sizeof(nbuf), group ? "group" : "entity", id)));
	json_object_set_new(p, "metadata", json_object());
	json_object_set_new(p, "policies", json_array());
	if (group) {
		json_object_set_new(p, "type", json_string("external"));
		json_object_set_new(p, "modify_index", json_integer(1));
		json_object_set_new(p, "member_entity_ids", json_array());
		json_object_set_new(p, "member_group_ids", json_array());
	} else {
		json_object_set_new(p, "disabled", json_false());
	}
	r = rec_put(s, group ? &s->groups : &s->entities, p);
	json_decref(p);
	return r;
}

static int alias_write(struct identity_store *s, bool group, const char *id, const json_t *fields,
                       json_t **out, struct buf *err)
{
	struct kind *k = group ? &s->galiases : &s->aliases;
	json_t *cur = NULL, *rec = NULL, *other;
	const char *name = json_string_value(json_object_get(fields, "name"));
	const char *accessor = json_string_value(json_object_get(fields, "mount_accessor"));
	const char *canon = json_string_value(json_object_get(fields, "canonical_id"));
	char uuid[37], parent_id[37] = "";
	struct acc_find f;
	int r;

	if ((r = lock_store(s, true)) != 0)
		return r;
	if (!id) {
		const char *fid = json_string_value(json_object_get(fields, "id"));
		if (fid && fid[0])
			id = fid;
	}
	if (id && !(cur = rec_get(k, id))) {
		buf_printf(err, "%s not found from id", group ? "group alias" : "entity alias");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	if (cur) {
		rec = json_deep_copy(cur);
		touch(rec);
	} else {
		if ((!name || !name[0])) {
			buf_printf(err, "missing alias name");
			r = TROVE_ERR_INVALID;
			goto out;
		}
		if (!accessor || !accessor[0]) {
			buf_printf(err, "missing mount_accessor");
			r = TROVE_ERR_INVALID;
			goto out;
		}
		if ((r = rand_uuid(uuid)) != 0)
			goto out;
		rec = new_record(uuid);
	}
	if (name && name[0])
		json_object_set_new(rec, "name", json_string(name));
	if (accessor && accessor[0]) {
		if (!find_accessor(s, accessor, &f)) {
			buf_printf(err, "invalid mount accessor \"%s\"", accessor);
			r = TROVE_ERR_INVALID;
			goto out;
		}
		json_object_set_new(rec, "mount_accessor", json_string(accessor));
	}
	if (canon && canon[0]) {
		json_t *target = rec_get(group ? &s->groups : &s->entities, canon);
		if (!target) {
			buf_printf(err, "invalid canonical ID \"%s\"", canon);
			r = TROVE_ERR_INVALID;
			goto out;
		}
		if (group && strcmp(rstr(target, "type"), "external") != 0) {
			buf_printf(err, "alias can't be set on an internal group");
			r = TROVE_ERR_INVALID;
			goto out;
		}
		json_object_set_new(rec, "canonical_id", json_string(canon));
	}
	if (!json_object_get(rec, "canonical_id")) {
		/* Vault creates an entity (or an external group) for a new alias
		 * given without one; it is stored only once the alias passes
		 * every check below, so a refused alias leaves no orphan. */
		if ((r = rand_uuid(parent_id)) != 0)
			goto out;
		json_object_set_new(rec, "canonical_id", json_string(parent_id));
	}
	if (!group) {
		copy_field(rec, fields, "metadata", json_object());
		copy_field(rec, fields, "custom_metadata", json_object());
	}
	{
		char *key = rec_key(s, k, rec);
		other = rec_by_key(k, key);
		free(key);
	}
	if (other && other != cur) {
		buf_printf(err, "alias with combination of mount accessor and name already exists");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	if (group) {
		const char *aid;
		json_t *a;
		json_object_foreach(s->galiases.by_id, aid,
		                    a) if (a != cur &&
		                           strcmp(rstr(a, "canonical_id"), rstr(rec, "canonical_id")) == 0)
		{
			buf_printf(err, "group already has an alias");
			r = TROVE_ERR_INVALID;
			goto out;
		}
	} else if (!cur || strcmp(rstr(cur, "canonical_id"), rstr(rec, "canonical_id")) != 0 ||
	           strcmp(rstr(cur, "mount_accessor"), rstr(rec, "mount_accessor")) != 0) {
		/* one alias per mount accessor per entity */
		const char *aid;
		json_t *a;
		json_object_foreach(
		    s->aliases.by_id, aid,
		    a) if (a != cur && strcmp(rstr(a, "canonical_id"), rstr(rec, "canonical_id")) == 0 &&
		           strcmp(rstr(a, "mount_accessor"), rstr(rec, "mount_accessor")) == 0)
		{
			buf_printf(err, "entity already has an alias on mount accessor \"%s\"",
			           rstr(rec, "mount_accessor"));
			r = TROVE_ERR_INVALID;
			goto out;
		}
	}
	if (parent_id[0] && (r = parent_put(s, group, parent_id)) != 0)
		goto out;
	if ((r = rec_put(s, k, rec)) == 0)
		*out =
		    json_pack("{s:s, s:s}", "id", rstr(rec, "id"), "canonical_id", rstr(rec, "canonical_id"));
out:
	json_decref(rec);
	unlock_store(s);
	return r;
}

static int alias_read(struct identity_store *s, struct kind *k, const char *id, json_t **out)
{
	json_t *a;
	int r;
	if ((r = lock_store(s, false)) != 0)
		return r;
	if ((a = rec_get(k, id)) != NULL)
		*out = alias_json(s, a);
	else
		r = TROVE_ERR_NOT_FOUND;
	unlock_store(s);
	return r;
}

static int alias_delete(struct identity_store *s, struct kind *k, const char *id)
{
	int r;
	if ((r = lock_store(s, true)) != 0)
		return r;
	if (rec_get(k, id))
		r = rec_del(s, k, id);
	unlock_store(s);
	return r;
}

static int alias_list(struct identity_store *s, struct kind *k, json_t **out)
{
	int r;
	if ((r = lock_store(s, false)) != 0)
		return r;
	r = list_json(s, k, false, out);
	unlock_store(s);
	return r;
}

int identity_alias_write(struct identity_store *s, const char *id, const json_t *fields, json_t **out,
                         struct buf *err)
{
	return alias_write(s, false, id, fields, out, err);
}

int identity_alias_read(struct identity_store *s, const char *id, json_t **out)
{
	return alias_read(s, &s->aliases, id, out);
}

int identity_alias_delete(struct identity_store *s, const char *id)
{
	return alias_delete(s, &s->aliases, id);
}

int identity_alias_list(struct identity_store *s, json_t **out)
{
	return alias_list(s, &s->aliases, out);
}

int identity_group_alias_write(struct identity_store *s, const char *id, const json_t *fields, json_t **out,
                               struct buf *err)
{
	return alias_write(s, true, id, fields, out, err);
}

int identity_group_alias_read(struct identity_store *s, const char *id, json_t **out)
{
	return alias_read(s, &s->galiases, id, out);
}

int identity_group_alias_delete(struct identity_store *s, const char *id)
{
	return alias_delete(s, &s->galiases, id);
}

int identity_group_alias_list(struct identity_store *s, json_t **out)
{
	return alias_list(s, &s->galiases, out);
}

/* ---- groups ---------------------------------------------------------------- */

/* Whether `target` is reachable from group `from` through member_group_ids
 * (from itself included). */
static bool reaches(struct identity_store *s, const char *from, const char *target, json_t *seen)
{
	size_t i;
	json_t *v;
	if (strcmp(from, target) == 0)
		return true;
	if (json_object_get(seen, from))
		return false;
	json_object_set_new(seen, from, json_true());
	json_array_foreach(json_object_get(rec_get(&s->groups, from), "member_group_ids"), i, v)
	{
		if (json_is_string(v) && reaches(s, json_string_value(v), target, seen))
			return true;
	}
	return false;
}

int identity_group_write(struct identity_store *s, const char *id, const char *name_key, const json_t *fields,
                         json_t **out, struct buf *err)
{
	json_t *cur = NULL, *rec = NULL, *other, *v;
	const char *name, *type = json_string_value(json_object_get(fields, "type"));
	char nbuf[64], uuid[37];
	size_t i;
	int r;

	if ((r = lock_store(s, true)) != 0)
		return r;
	if (!id && !name_key) {
		const char *fid = json_string_value(json_object_get(fields, "id"));
		if (fid && fid[0])
			id = fid;
	}
	if (id) {
		if (!(cur = rec_get(&s->groups, id))) {
			buf_printf(err, "group not found from id");
			r = TROVE_ERR_INVALID;
			goto out;
		}
	} else if (name_key) {
		cur = rec_by_name(&s->groups, name_key);
	}
	if (type && type[0] && strcmp(type, "internal") != 0 && strcmp(type, "external") != 0) {
		buf_printf(err, "invalid group type \"%s\"", type);
		r = TROVE_ERR_INVALID;
		goto out;
	}
	if (cur) {
		if (type && type[0] && strcmp(type, rstr(cur, "type")) != 0) {
			buf_printf(err, "group type cannot be changed");
			r = TROVE_ERR_INVALID;
			goto out;
		}
		rec = json_deep_copy(cur);
		touch(rec);
		json_object_set_new(
		    rec, "modify_index",
		    json_integer(json_integer_value(json_object_get(rec, "modify_index")) + 1));
	} else {
		if ((r = rand_uuid(uuid)) != 0)
			goto out;
		rec = new_record(uuid);
		json_object_set_new(rec, "type", json_string(type && type[0] ? type : "internal"));
		json_object_set_new(rec, "modify_index", json_integer(1));
	}
	name = json_string_value(json_object_get(fields, "name"));
	if (name_key && (!name || !name[0]))
		name = name_key;
	if (name && name[0])
		json_object_set_new(rec, "name", json_string(name));
	else if (!cur)
		json_object_set_new(rec, "name",
		                    json_string(gen_name(nbuf, sizeof(nbuf), "group", rstr(rec, "id"))));
	other = rec_by_name(&s->groups, rstr(rec, "name"));
	if (other && other != cur) {
		buf_printf(err, "group name is already in use");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	bool external = strcmp(rstr(rec, "type"), "external") == 0;
	json_t *me = json_object_get(fields, "member_entity_ids"),
	       *mg = json_object_get(fields, "member_group_ids");
	if (external && ((me && json_array_size(me)) || (mg && json_array_size(mg)))) {
		buf_printf(err, "member entities and groups can't be set manually for external groups");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	json_array_foreach(me, i, v) if (!rec_get(&s->entities, json_string_value(v)))
	{
		buf_printf(err, "invalid member entity id \"%s\"", json_string_value(v));
		r = TROVE_ERR_INVALID;
		goto out;
	}
	json_array_foreach(mg, i, v)
	{
		const char *m = json_string_value(v);
		json_t *seen;
		bool cyc;
		if (!rec_get(&s->groups, m)) {
			buf_printf(err, "invalid member group id \"%s\"", m);
			r = TROVE_ERR_INVALID;
			goto out;
		}
		seen = json_object();
		cyc = reaches(s, m, rstr(rec, "id"), seen);
		json_decref(seen);
		if (cyc) {
			buf_printf(err, "member group id \"%s\" is already in the group hierarchy (a cycle)",
			           m);
			r = TROVE_ERR_INVALID;
			goto out;
		}
	}
	copy_field(rec, fields, "metadata", json_object());
	copy_field(rec, fields, "policies", json_array());
	copy_field(rec, fields, "member_entity_ids", json_array());
	copy_field(rec, fields, "member_group_ids", json_array());
	if ((r = rec_put(s, &s->groups, rec)) == 0)
		*out = json_pack("{s:s, s:s}", "id", rstr(rec, "id"), "name", rstr(rec, "name"));
out:
	json_decref(rec);
	unlock_store(s);
	return r;
}

static json_t *group_find(struct identity_store *s, const char *id, const char *name)
{
	return id ? rec_get(&s->groups, id) : name ? rec_by_name(&s->groups, name) : NULL;
}

int identity_group_read(struct identity_store *s, const char *id, const char *name, json_t **out)
{
	json_t *g;
	int r;
	if ((r = lock_store(s, false)) != 0)
		return r;
	if ((g = group_find(s, id, name)) != NULL)
		*out = group_json(s, g);
	else
		r = TROVE_ERR_NOT_FOUND;
	unlock_store(s);
	return r;
}

int identity_group_delete(struct identity_store *s, const char *id, const char *name)
{
	json_t *g;
	int r;
	if ((r = lock_store(s, true)) != 0)
		return r;
	if ((g = group_find(s, id, name)) != NULL) {
		char *gid = xstrdup(rstr(g, "id"));
		struct strlist al;
		const char *aid;
		json_t *a;
		strlist_init(&al);
		json_object_foreach(s->galiases.by_id, aid, a) if (strcmp(rstr(a, "canonical_id"), gid) == 0)
		    strlist_push(&al, aid);
		for (size_t i = 0; r == 0 && i < al.len; i++)
			r = rec_del(s, &s->galiases, al.items[i]);
		if (r == 0)
			r = drop_membership(s, "member_group_ids", gid);
		if (r == 0)
			r = rec_del(s, &s->groups, gid);
		strlist_release(&al);
		free(gid);
	}
	unlock_store(s);
	return r;
}

int identity_group_list(struct identity_store *s, bool by_name, json_t **out)
{
	int r;
	if ((r = lock_store(s, false)) != 0)
		return r;
	r = list_json(s, &s->groups, by_name, out);
	unlock_store(s);
	return r;
}

/* ---- lookups -------------------------------------------------------------- */

static int lookup_args(const json_t *fields, const char **name, const char **id, const char **alias_id,
                       const char **alias_name, const char **alias_acc, struct buf *err)
{
	int n = 0;
	*name = json_string_value(json_object_get(fields, "name"));
	*id = json_string_value(json_object_get(fields, "id"));
	*alias_id = json_string_value(json_object_get(fields, "alias_id"));
	*alias_name = json_string_value(json_object_get(fields, "alias_name"));
	*alias_acc = json_string_value(json_object_get(fields, "alias_mount_accessor"));
	if (*name && !**name)
		*name = NULL;
	if (*id && !**id)
		*id = NULL;
	if (*alias_id && !**alias_id)
		*alias_id = NULL;
	if (*alias_name && !**alias_name)
		*alias_name = NULL;
	if (*alias_acc && !**alias_acc)
		*alias_acc = NULL;
	n = (*name != NULL) + (*id != NULL) + (*alias_id != NULL) +
	    (*alias_name != NULL || *alias_acc != NULL);
	if (n == 0) {
		buf_printf(
		    err,
		    "one of name, id, alias_id, or alias_name and alias_mount_accessor must be supplied");
		return TROVE_ERR_INVALID;
	}
	if (n > 1) {
		buf_printf(
		    err,
		    "only one of name, id, alias_id, or alias_name and alias_mount_accessor may be supplied");
		return TROVE_ERR_INVALID;
	}
	if ((*alias_name != NULL) != (*alias_acc != NULL)) {
		buf_printf(err, "both alias_name and alias_mount_accessor must be supplied");
		return TROVE_ERR_INVALID;
	}
	return 0;
}

static int lookup(struct identity_store *s, bool group, const json_t *fields, json_t **out, struct buf *err)
{
	const char *name, *id, *alias_id, *alias_name, *alias_acc;
	struct kind *k = group ? &s->groups : &s->entities, *ak = group ? &s->galiases : &s->aliases;
	json_t *rec = NULL;
	int r;
	if ((r = lookup_args(fields, &name, &id, &alias_id, &alias_name, &alias_acc, err)) != 0)
		return r;
	if ((r = lock_store(s, false)) != 0)
		return r;
	if (name)
		rec = rec_by_name(k, name);
	else if (id)
		rec = rec_get(k, id);
	else {
		json_t *a;
		if (alias_id) {
			a = rec_get(ak, alias_id);
		} else {
			size_t n = strlen(alias_acc) + strlen(alias_name) + 2;
			char *key = xmalloc(n);
			snprintf(key, n, "%s\n%s", alias_acc, alias_name);
			a = rec_by_key(ak, key);
			free(key);
		}
		if (a)
			rec = rec_get(k, rstr(a, "canonical_id"));
	}
	if (rec)
		*out = group ? group_json(s, rec) : entity_json(s, rec);
	else
		r = TROVE_ERR_NOT_FOUND;
	unlock_store(s);
	return r;
}

int identity_lookup_entity(struct identity_store *s, const json_t *fields, json_t **out, struct buf *err)
{
	return lookup(s, false, fields, out, err);
}

int identity_lookup_group(struct identity_store *s, const json_t *fields, json_t **out, struct buf *err)
{
	return lookup(s, true, fields, out, err);
}

/* ---- the core's store and logins ---------------------------------------- */

struct identity_store *identity_of_core(struct core *c, struct mount **holder)
{
	struct mount *m;
	*holder = NULL;
	if (!c || !core_mounts(c) || !(m = mount_match(core_mounts(c), "identity/")))
		return NULL;
	if (strcmp(m->path, "identity/") != 0 || strcmp(m->type, "identity") != 0 || !m->engine_state) {
		mount_release(m);
		return NULL;
	}
	*holder = m;
	return m->engine_state;
}

int identity_login_entity(struct identity_store *s, const char *mount_accessor, const char *alias_name,
                          const json_t *alias_meta, bool may_write, char entity_id[37], struct buf *err)
{
	json_t *a, *e, *rec = NULL;
	size_t n = strlen(mount_accessor) + strlen(alias_name) + 2;
	char *key = xmalloc(n);
	int r;

	snprintf(key, n, "%s\n%s", mount_accessor, alias_name);
	/* A returning login (alias and entity in place, metadata unchanged)
	 * only reads: it takes the read lock, so logins do not serialise. */
	if ((r = lock_store(s, false)) != 0) {
		free(key);
		return r;
	}
	a = rec_by_key(&s->aliases, key);
	e = a ? rec_get(&s->entities, rstr(a, "canonical_id")) : NULL;
	if (e && (!json_is_object(alias_meta) || json_equal(json_object_get(a, "metadata"), alias_meta))) {
		r = 0;
		if (json_is_true(json_object_get(e, "disabled"))) {
			buf_printf(err, "entity is disabled");
			r = TROVE_ERR_PERMISSION;
		} else {
			snprintf(entity_id, 37, "%s", rstr(e, "id"));
		}
		unlock_store(s);
		free(key);
		return r;
	}
	unlock_store(s);
	if (!may_write) {
		free(key);
		return TROVE_ERR_WOULD_BLOCK; /* a new entity or alias is a write */
	}
	if ((r = lock_store(s, true)) != 0) {
		free(key);
		return r;
	}
	a = rec_by_key(&s->aliases, key);
	e = a ? rec_get(&s->entities, rstr(a, "canonical_id")) : NULL;
	if (!e) {
		char eid[37], nbuf[64];
		if ((r = rand_uuid(eid)) != 0)
			goto out;
		rec = new_record(eid);
		json_object_set_new(rec, "name", json_string(gen_name(nbuf, sizeof(nbuf), "entity", eid)));
		json_object_set_new(rec, "metadata", json_object());
		json_object_set_new(rec, "policies", json_array());
		json_object_set_new(rec, "disabled", json_false());
		if ((r = rec_put(s, &s->entities, rec)) != 0)
			goto out;
		e = rec_get(&s->entities, eid);
	}
	if (json_is_true(json_object_get(e, "disabled"))) {
		buf_printf(err, "entity is disabled");
		r = TROVE_ERR_PERMISSION;
		goto out;
	}
	snprintf(entity_id, 37, "%s", rstr(e, "id"));
	if (!a || strcmp(rstr(a, "canonical_id"), entity_id) != 0 ||
	    (json_is_object(alias_meta) && !json_equal(json_object_get(a, "metadata"), alias_meta))) {
		char aid[37];
		json_t *ar;
		if (a) {
			ar = json_deep_copy(a);
			touch(ar);
		} else {
			if ((r = rand_uuid(aid)) != 0)
				goto out;
			ar = new_record(aid);
			json_object_set_new(ar, "name", json_string(alias_name));
			json_object_set_new(ar, "mount_accessor", json_string(mount_accessor));
		}
		json_object_set_new(ar, "canonical_id", json_string(entity_id));
		json_object_set_new(ar, "metadata",
		                    json_is_object(alias_meta) ? json_deep_copy(alias_meta) : json_object());
		r = rec_put(s, &s->aliases, ar);
		json_decref(ar);
	}
out:
	json_decref(rec);
	unlock_store(s);
	free(key);
	return r;
}

/* ---- a removed auth mount ------------------------------------------------------- */

/* Deletes the records of kind k whose mount_accessor is acc (write lock
 * held). */
static int drop_by_accessor(struct identity_store *s, struct kind *k, const char *acc, size_t *n)
{
	struct strlist ids;
	const char *id;
	json_t *rec;
	int r = 0;
	strlist_init(&ids);
	json_object_foreach(k->by_id, id, rec)
	{
		if (strcmp(rstr(rec, "mount_accessor"), acc) == 0)
			strlist_push(&ids, id);
	}
	for (size_t i = 0; i < ids.len && r == 0; i++)
		if ((r = rec_del(s, k, ids.items[i])) == 0)
			(*n)++;
	strlist_release(&ids);
	return r;
}

int identity_mount_removed(struct identity_store *s, const char *mount_accessor, size_t *removed)
{
	size_t n = 0;
	int r;
	if ((r = lock_store(s, true)) != 0)
		return r;
	r = drop_by_accessor(s, &s->aliases, mount_accessor, &n);
	if (r == 0)
		r = drop_by_accessor(s, &s->galiases, mount_accessor, &n);
	unlock_store(s);
	if (removed)
		*removed = n;
	return r;
}

/* ---- external group membership ------------------------------------------------ */

/* Whether entity eid's membership of the groups whose aliases live on
 * mount_accessor differs from `names` (the group names the auth method
 * reported). Under a lock. When apply, fixes it (write lock held). */
static int sync_groups(struct identity_store *s, const char *mount_accessor, const char *eid,
                       const struct strlist *names, bool apply, bool *changed)
{
	const char *id;
	json_t *ga;
	*changed = false;
	json_object_foreach(s->galiases.by_id, id, ga)
	{
		if (strcmp(rstr(ga, "mount_accessor"), mount_accessor) != 0)
			continue;
		json_t *g = rec_get(&s->groups, rstr(ga, "canonical_id"));
		if (!g || strcmp(rstr(g, "type"), "external") != 0)
			continue;
		bool want = strlist_contains(names, rstr(ga, "name"));
		bool have = arr_has(json_object_get(g, "member_entity_ids"), eid);
		if (want == have)
			continue;
		*changed = true;
		if (!apply)
			return 0;
		json_t *c = json_deep_copy(g);
		json_t *members = json_object_get(c, "member_entity_ids");
		if (!json_is_array(members)) {
			members = json_array();
			json_object_set_new(c, "member_entity_ids", members);
		}
		if (want)
			sorted_append(members, eid);
		else
			arr_remove(members, eid);
		touch(c);
		int r = rec_put(s, &s->groups, c);
		json_decref(c);
		if (r != 0)
			return r;
	}
	return 0;
}

int identity_login_groups(struct identity_store *s, const char *mount_accessor, const char *entity_id,
                          const struct strlist *names, bool may_write)
{
	bool changed = false;
	int r;
	/* Unchanged membership (the usual login) only reads. */
	if ((r = lock_store(s, false)) != 0)
		return r;
	r = sync_groups(s, mount_accessor, entity_id, names, false, &changed);
	unlock_store(s);
	if (r != 0 || !changed)
		return r;
	if (!may_write)
		return TROVE_ERR_WOULD_BLOCK;
	if ((r = lock_store(s, true)) != 0)
		return r;
	r = sync_groups(s, mount_accessor, entity_id, names, true, &changed);
	unlock_store(s);
	return r;
}

/* ---- identity policies ---------------------------------------------------- */

#define POLICY_CACHE_MAX 10000

/* {"p": [policies], "d": disabled} for entity eid; NULL when unknown. Under
 * the read lock. */
static json_t *compute_policies(struct identity_store *s, const char *eid)
{
	json_t *e = rec_get(&s->entities, eid), *groups, *pol, *v;
	const char *gid;
	size_t i;
	if (!e)
		return NULL;
	pol = json_array();
	json_array_foreach(json_object_get(e, "policies"), i, v) sorted_append(pol, json_string_value(v));
	groups = json_array();
	json_object_foreach(s->groups.by_id, gid,
	                    v) if (arr_has(json_object_get(v, "member_entity_ids"), eid))
	{
		sorted_append(groups, gid);
		parents_of(s, gid, groups);
	}
	for (i = 0; i < json_array_size(groups); i++) {
		json_t *g = rec_get(&s->groups, json_string_value(json_array_get(groups, i))), *p;
		size_t j;
		json_array_foreach(json_object_get(g, "policies"), j, p)
		    sorted_append(pol, json_string_value(p));
	}
	json_decref(groups);
	return json_pack("{s:o, s:b}", "p", pol, "d", json_is_true(json_object_get(e, "disabled")));
}

int identity_policies(struct identity_store *s, const char *entity_id, struct strlist *out)
{
	uint64_t gen = identity_generation(s);
	json_t *hit;
	int r;
	size_t i;
	json_t *v;

	if (!entity_id || !entity_id[0])
		return 0;
	pthread_mutex_lock(&s->cache_lock);
	if (s->cache_gen != gen) {
		json_object_clear(s->cache);
		s->cache_gen = gen;
	}
	hit = json_incref(json_object_get(s->cache, entity_id));
	pthread_mutex_unlock(&s->cache_lock);
	if (!hit) {
		if ((r = lock_store(s, false)) != 0)
			return r;
		hit = compute_policies(s, entity_id);
		unlock_store(s);
		if (!hit)
			hit = json_pack("{s:[], s:b}", "p", "d", 0);
		pthread_mutex_lock(&s->cache_lock);
		if (s->cache_gen == gen) {
			if (json_object_size(s->cache) >= POLICY_CACHE_MAX)
				json_object_clear(s->cache);
			json_object_set(s->cache, entity_id, hit);
		}
		pthread_mutex_unlock(&s->cache_lock);
	}
	r = json_is_true(json_object_get(hit, "d")) ? TROVE_ERR_PERMISSION : 0;
	if (r == 0) {
		json_array_foreach(json_object_get(hit, "p"), i, v) strlist_push(out, json_string_value(v));
		strlist_sort_unique(out);
	}
	json_decref(hit);
	return r;
}

json_t *identity_template_data(struct identity_store *s, const char *entity_id)
{
	json_t *e, *out = NULL, *groups, *v;
	size_t i;

	if (!entity_id || !entity_id[0] || lock_store(s, false) != 0)
		return NULL;
	e = entity_find(s, entity_id, NULL);
	if (e) {
		json_t *ent = entity_json(s, e);
		groups = json_array();
		json_array_foreach(json_object_get(ent, "group_ids"), i, v)
		{
			json_t *g = group_find(s, json_string_value(v), NULL);
			if (g)
				json_array_append_new(groups, json_pack("{s:s, s:s}", "id", rstr(g, "id"),
									"name", rstr(g, "name")));
		}
		out = json_pack("{s:o, s:o}", "entity", ent, "groups", groups);
	}
	unlock_store(s);
	return out;
}

void identity_store_invalidate(struct identity_store *s, const char *key)
{
	struct kind *ks[] = {&s->entities, &s->aliases, &s->groups, &s->galiases}, *k = NULL;
	unsigned char *raw = NULL;
	size_t len = 0;
	json_t *rec = NULL;
	for (size_t i = 0; i < 4 && !k; i++)
		if (strncmp(key, ks[i]->prefix, strlen(ks[i]->prefix)) == 0)
			k = ks[i];
	if (!k)
		return;
	const char *id = key + strlen(k->prefix);
	pthread_rwlock_wrlock(&s->lock);
	if (!atomic_load(&s->loaded))
		goto out; /* the next use loads everything anyway */
	int r = storage_get(s->view, key, &raw, &len);
	if (r == TROVE_ERR_NOT_FOUND) {
		index_remove(s, k, id);
		goto out;
	}
	if (r == 0)
		rec = json_loadb((const char *)raw, len, 0, NULL);
	if (!json_is_object(rec) || strcmp(rstr(rec, "id"), id) != 0) {
		reset_locked(s);
		goto out;
	}
	index_remove(s, k, id);
	index_add(s, k, rec);
out:
	atomic_fetch_add(&s->generation, 1);
	pthread_rwlock_unlock(&s->lock);
	json_decref(rec);
	free(raw);
}
