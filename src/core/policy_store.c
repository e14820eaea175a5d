/* policy_store.c — named policies in the barrier, with two caches.
 *
 * A policy is stored at POLICY_PATH_PREFIX<name> as the raw text the
 * caller wrote (no envelope), so reads return it byte for byte. Two caches
 * sit in front of storage: parsed policies by name, and compiled ACLs by
 * the sorted, newline-joined set of policy names. Any write or delete
 * drops the whole ACL cache and the one parsed entry: policy writes are
 * rare, and an ACL may combine any policies.
 *
 * Locking: one rwlock. Cache hits take it shared. A miss takes it
 * exclusively for the whole build (storage reads, parsing, compiling), so a
 * build can never insert an ACL made from text that a concurrent write has
 * already replaced: the writer's invalidation runs strictly after its
 * storage write, and takes the lock exclusively too. Storage writes
 * themselves run under the shared lock, which only keeps close() away. */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy_store.h"
#include "strhash.h"

#include "err.h"
#include "identity.h"

#include "banned.h"

#define NAME_MAX_LEN 128
#define ACL_CACHE_MAX 4096

/* The default policy: what every ordinary token may do with itself. */
static const char default_policy[] =
	"# The default policy: attached to every token unless it was created\n"
	"# without it. Edit it to suit; it is never overwritten.\n"
	"\n"
	"# Look the token itself up, renew it and revoke it.\n"
	"path \"auth/token/lookup-self\" {\n"
	"    capabilities = [\"read\"]\n"
	"}\n"
	"\n"
	"path \"auth/token/renew-self\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"path \"auth/token/revoke-self\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Ask what the token may do on given paths.\n"
	"path \"sys/capabilities-self\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Read its own identity entity.\n"
	"path \"identity/entity/id/{{identity.entity.id}}\" {\n"
	"    capabilities = [\"read\"]\n"
	"}\n"
	"\n"
	"path \"identity/entity/name/{{identity.entity.name}}\" {\n"
	"    capabilities = [\"read\"]\n"
	"}\n"
	"\n"
	"# The UI's view of the token's own permissions.\n"
	"path \"sys/internal/ui/resultant-acl\" {\n"
	"    capabilities = [\"read\"]\n"
	"}\n"
	"\n"
	"# Renew and look up leases (the lease id is the secret).\n"
	"path \"sys/renew\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"path \"sys/leases/renew\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"path \"sys/leases/lookup\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# The token's private cubbyhole.\n"
	"path \"cubbyhole/*\" {\n"
	"    capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"]\n"
	"}\n"
	"\n"
	"# Response wrapping.\n"
	"path \"sys/wrapping/wrap\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"path \"sys/wrapping/lookup\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"path \"sys/wrapping/unwrap\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"# Hashing helpers.\n"
	"path \"sys/tools/hash\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n"
	"\n"
	"path \"sys/tools/hash/*\" {\n"
	"    capabilities = [\"update\"]\n"
	"}\n";

/* What a response-wrapping token may do: read its one response. Built in,
 * never stored, immutable. */
static const char wrapping_policy[] = "path \"cubbyhole/response\" {\n"
				      "    capabilities = [\"create\", \"read\"]\n"
				      "}\n"
				      "\n"
				      "path \"sys/wrapping/unwrap\" {\n"
				      "    capabilities = [\"update\"]\n"
				      "}\n";

/* --- a small string-keyed hash map --- */

struct ment {
	char *key;
	void *val;
	struct ment *next;
};

struct smap {
	struct ment **b;
	size_t nb;
	size_t n;
};

static void *smap_get(const struct smap *m, const char *key)
{
	if (!m->nb)
		return NULL;
	for (struct ment *e = m->b[(size_t)str_hash(key) % m->nb]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e->val;
	return NULL;
}

/* Inserts (key must be absent). */
static void smap_put(struct smap *m, const char *key, void *val)
{
	if (m->n >= m->nb) {
		size_t nb = m->nb ? m->nb * 2 : 64;
		struct ment **b = xcalloc(nb, sizeof(*b));
		for (size_t i = 0; i < m->nb; i++) {
			struct ment *e = m->b[i], *next;
			for (; e; e = next) {
				next = e->next;
				size_t h = (size_t)str_hash(e->key) % nb;
				e->next = b[h];
				b[h] = e;
			}
		}
		free(m->b);
		m->b = b;
		m->nb = nb;
	}
	struct ment *e = xmalloc(sizeof(*e));
	size_t h = (size_t)str_hash(key) % m->nb;
	e->key = xstrdup(key);
	e->val = val;
	e->next = m->b[h];
	m->b[h] = e;
	m->n++;
}

/* Removes key and returns its value (or NULL). */
static void *smap_take(struct smap *m, const char *key)
{
	if (!m->nb)
		return NULL;
	for (struct ment **pe = &m->b[(size_t)str_hash(key) % m->nb]; *pe; pe = &(*pe)->next) {
		struct ment *e = *pe;
		if (strcmp(e->key, key) == 0) {
			void *v = e->val;
			*pe = e->next;
			free(e->key);
			free(e);
			m->n--;
			return v;
		}
	}
	return NULL;
}

static void smap_clear(struct smap *m, void (*free_val)(void *))
{
	for (size_t i = 0; i < m->nb; i++) {
		struct ment *e = m->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			free_val(e->val);
			free(e->key);
			free(e);
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

static void free_policy_val(void *v)
{
	policy_free(v);
}

static void free_acl_val(void *v)
{
	acl_release(v);
}

/* --- the store --- */

struct policy_store {
	pthread_rwlock_t lock;
	struct storage *logical; /* borrowed; NULL while closed */
	struct acl *root_acl;
	struct policy *wrapping; /* the built-in response-wrapping policy */
	struct smap policies;    /* name -> struct policy */
	struct smap acls;        /* set key -> struct acl (one reference) */
};

struct policy_store *policy_store_new(void)
{
	struct policy_store *ps = xcalloc(1, sizeof(*ps));
	struct policy *root = NULL;
	const struct policy *one;
	struct buf err;

	pthread_rwlock_init(&ps->lock, NULL);
	/* A policy named "root" makes a root ACL whatever its rules. */
	buf_init(&err, 256);
	if (policy_parse("root", "", 0, &root, &err) != 0)
		abort();
	one = root;
	ps->root_acl = acl_new(&one, 1);
	policy_free(root);
	if (policy_parse("response-wrapping", wrapping_policy, sizeof(wrapping_policy) - 1, &ps->wrapping, &err) != 0)
		abort();
	buf_release(&err);
	return ps;
}

static void drop_caches(struct policy_store *ps)
{
	smap_clear(&ps->policies, free_policy_val);
	smap_clear(&ps->acls, free_acl_val);
}

void policy_store_free(struct policy_store *ps)
{
	if (!ps)
		return;
	policy_store_close(ps);
	acl_release(ps->root_acl);
	policy_free(ps->wrapping);
	pthread_rwlock_destroy(&ps->lock);
	free(ps);
}

int policy_store_open(struct policy_store *ps, struct storage *logical)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r;

	pthread_rwlock_wrlock(&ps->lock);
	drop_caches(ps);
	r = storage_get(logical, POLICY_PATH_PREFIX "default", &raw, &len);
	if (r == TROVE_ERR_NOT_FOUND)
		r = storage_put(logical, POLICY_PATH_PREFIX "default", default_policy, sizeof(default_policy) - 1);
	if (r != 0)
		goto out;
	ps->logical = logical;
	r = 0;
out:
	free(raw);
	pthread_rwlock_unlock(&ps->lock);
	return r;
}

void policy_store_close(struct policy_store *ps)
{
	pthread_rwlock_wrlock(&ps->lock);
	drop_caches(ps);
	ps->logical = NULL;
	pthread_rwlock_unlock(&ps->lock);
}

char *policy_name_canon(const char *s, size_t n, size_t *out_len)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return NULL;
	char *out = xmalloc(n + 1); /* n bytes, NULs included */
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	if (out_len)
		*out_len = n;
	return out;
}

void policy_names_canon(struct strlist *l)
{
	size_t w = 0;

	for (size_t i = 0; i < l->len; i++) {
		char *c = policy_name_canon(l->items[i], strlen(l->items[i]), NULL);
		free(l->items[i]);
		if (c)
			l->items[w++] = c;
	}
	l->len = w;
	strlist_sort_unique(l);
}

char *policy_name_normalize(const char *name)
{
	size_t n = 0;
	char *out = name ? policy_name_canon(name, strlen(name), &n) : NULL;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		if (n > NAME_MAX_LEN || !(isdigit(c) || (c >= 'a' && c <= 'z') || strchr("-_.@:=,", c))) {
			free(out);
			return NULL;
		}
	}
	if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
		free(out);
		return NULL;
	}
	return out;
}

static char *storage_key(const char *name)
{
	size_t n = sizeof(POLICY_PATH_PREFIX) - 1 + strlen(name) + 1;
	char *k = xmalloc(n);
	memcpy(k, POLICY_PATH_PREFIX, sizeof(POLICY_PATH_PREFIX) - 1);
	memcpy(k + sizeof(POLICY_PATH_PREFIX) - 1, name, strlen(name) + 1);
	return k;
}

/* Called with the lock held exclusively. *out is borrowed from the cache,
 * or NULL when no such policy exists. */
static int load_policy(struct policy_store *ps, const char *name, const struct policy **out)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	struct policy *p = NULL;
	char *key = NULL;
	struct buf err;
	int r;

	*out = NULL;
	if (strcmp(name, "response-wrapping") == 0) {
		*out = ps->wrapping;
		return 0;
	}
	if ((*out = smap_get(&ps->policies, name)) != NULL)
		return 0;
	key = storage_key(name);
	r = storage_get(ps->logical, key, &raw, &len);
	free(key);
	if (r == TROVE_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	buf_init(&err, 1024);
	r = policy_parse(name, (const char *)raw, len, &p, &err);
	buf_release(&err);
	free(raw);
	if (r != 0)
		return TROVE_ERR_INTERNAL; /* stored text that no longer parses: fail closed */
	smap_put(&ps->policies, name, p);
	*out = p;
	return 0;
}

/* The ACL cached under key, compiled from the policies in set (with
 * identity data for templated rules, or NULL) when it is not there yet.
 * Caller holds ps->lock for writing. */
static int cached_acl_locked(struct policy_store *ps, const char *key, const struct strlist *set,
                             const json_t *data, struct acl **out)
{
	struct acl *a = smap_get(&ps->acls, key);
	if (!a) {
		const struct policy **pols = xcalloc(set->len ? set->len : 1, sizeof(*pols));
		size_t n = 0;
		for (size_t i = 0; i < set->len; i++) {
			const struct policy *p;
			int r = load_policy(ps, set->items[i], &p);
			if (r != 0) {
				free(pols);
				return r;
			}
			if (p)
				pols[n++] = p;
		}
		a = acl_new_templated(pols, n, data);
		free(pols);
		if (ps->acls.n >= ACL_CACHE_MAX)
			smap_clear(&ps->acls, free_acl_val);
		smap_put(&ps->acls, key, a);
	}
	acl_ref(a);
	*out = a;
	return 0;
}

int policy_store_acl(struct policy_store *ps, const struct strlist *names, struct acl **out)
{
	struct strlist set;
	struct buf key;
	struct acl *a;
	int r;

	*out = NULL;
	strlist_init(&set);
	buf_init(&key, BUF_CAP_DEFAULT);
	for (size_t i = 0; names && i < names->len; i++) {
		char *nm = policy_name_normalize(names->items[i]);
		if (!nm)
			continue; /* cannot name a stored policy */
		if (strcmp(nm, "root") == 0) {
			free(nm);
			acl_ref(ps->root_acl);
			*out = ps->root_acl;
			r = 0;
			goto out;
		}
		strlist_push_owned(&set, nm);
	}
	strlist_sort_unique(&set);
	for (size_t i = 0; i < set.len; i++)
		if ((r = buf_printf(&key, "%s\n", set.items[i])) != 0)
			goto out;

	pthread_rwlock_rdlock(&ps->lock);
	if (!ps->logical) {
		pthread_rwlock_unlock(&ps->lock);
		r = TROVE_ERR_SEALED;
		goto out;
	}
	if ((a = smap_get(&ps->acls, key.data)) != NULL) {
		acl_ref(a);
		pthread_rwlock_unlock(&ps->lock);
		*out = a;
		r = 0;
		goto out;
	}
	pthread_rwlock_unlock(&ps->lock);

	pthread_rwlock_wrlock(&ps->lock);
	if (!ps->logical) {
		r = TROVE_ERR_SEALED;
		goto unlock;
	}
	r = cached_acl_locked(ps, key.data, &set, NULL, out);
unlock:
	pthread_rwlock_unlock(&ps->lock);
out:
	buf_release(&key);
	strlist_release(&set);
	return r;
}

bool policy_store_exists(struct policy_store *ps, const char *name)
{
	char *nm = policy_name_normalize(name);
	bool found = false;
	if (!nm)
		return false;
	if (strcmp(nm, "root") == 0 || strcmp(nm, "response-wrapping") == 0) {
		free(nm);
		return true;
	}
	pthread_rwlock_rdlock(&ps->lock);
	if (ps->logical) {
		if (smap_get(&ps->policies, nm)) {
			found = true;
		} else {
			unsigned char *raw = NULL;
			size_t len = 0;
			char *key = storage_key(nm);
			found = storage_get(ps->logical, key, &raw, &len) == 0;
			free(raw);
			free(key);
		}
	}
	pthread_rwlock_unlock(&ps->lock);
	free(nm);
	return found;
}

int policy_store_get(struct policy_store *ps, const char *name, char **text, size_t *len)
{
	unsigned char *raw = NULL;
	size_t n = 0;
	char *nm = policy_name_normalize(name), *key = NULL;
	int r;

	*text = NULL;
	*len = 0;
	if (!nm)
		return TROVE_ERR_INVALID;
	if (strcmp(nm, "root") == 0) {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	if (strcmp(nm, "response-wrapping") == 0) {
		*text = xstrdup(wrapping_policy);
		*len = sizeof(wrapping_policy) - 1;
		r = 0;
		goto out;
	}
	key = storage_key(nm);
	pthread_rwlock_rdlock(&ps->lock);
	r = ps->logical ? storage_get(ps->logical, key, &raw, &n) : TROVE_ERR_SEALED;
	pthread_rwlock_unlock(&ps->lock);
	if (r != 0)
		goto out;
	*text = xmalloc(n + 1);
	memcpy(*text, raw, n);
	(*text)[n] = '\0';
	*len = n;
	r = 0;
out:
	free(raw);
	free(key);
	free(nm);
	return r;
}

/* After a storage change: the parsed entry and every ACL may be stale. */
static void invalidate(struct policy_store *ps, const char *name)
{
	pthread_rwlock_wrlock(&ps->lock);
	policy_free(smap_take(&ps->policies, name));
	smap_clear(&ps->acls, free_acl_val);
	pthread_rwlock_unlock(&ps->lock);
}

void policy_store_invalidate(struct policy_store *ps, const char *key)
{
	if (strncmp(key, POLICY_PATH_PREFIX, sizeof(POLICY_PATH_PREFIX) - 1) == 0)
		invalidate(ps, key + sizeof(POLICY_PATH_PREFIX) - 1);
}

void policy_store_invalidate_all(struct policy_store *ps)
{
	pthread_rwlock_wrlock(&ps->lock);
	drop_caches(ps);
	pthread_rwlock_unlock(&ps->lock);
}

static int name_error(struct buf *err, const char *msg)
{
	if (err) {
		buf_reset(err);
		buf_append_str(err, msg);
	}
	return TROVE_ERR_INVALID;
}

int policy_store_put(struct policy_store *ps, const char *name, const char *text, size_t len, struct buf *err)
{
	char *nm = policy_name_normalize(name), *key = NULL;
	struct policy *p = NULL;
	struct buf perr;
	int r;

	buf_init(&perr, 4096);
	if (!nm) {
		r = name_error(err, "invalid policy name");
		goto out;
	}
	if (strcmp(nm, "root") == 0) {
		r = name_error(err, "cannot update root policy");
		goto out;
	}
	if (strcmp(nm, "response-wrapping") == 0) {
		r = name_error(err, "cannot update response-wrapping policy");
		goto out;
	}
	if ((r = policy_parse(nm, text, len, &p, &perr)) != 0) {
		if (err) {
			buf_reset(err);
			buf_printf(err, "failed to parse policy: %s", perr.data);
		}
		r = TROVE_ERR_INVALID;
		goto out;
	}
	key = storage_key(nm);
	pthread_rwlock_rdlock(&ps->lock);
	r = ps->logical ? storage_put(ps->logical, key, text, len) : TROVE_ERR_SEALED;
	pthread_rwlock_unlock(&ps->lock);
	if (r != 0)
		goto out;
	invalidate(ps, nm);
	r = 0;
out:
	policy_free(p);
	buf_release(&perr);
	free(key);
	free(nm);
	return r;
}

int policy_store_delete(struct policy_store *ps, const char *name, struct buf *err)
{
	char *nm = policy_name_normalize(name), *key = NULL;
	int r;

	if (!nm)
		return name_error(err, "invalid policy name");
	if (strcmp(nm, "root") == 0 || strcmp(nm, "default") == 0 || strcmp(nm, "response-wrapping") == 0) {
		if (err) {
			buf_reset(err);
			buf_printf(err, "cannot delete %s policy", nm);
		}
		r = TROVE_ERR_INVALID;
		goto out;
	}
	key = storage_key(nm);
	pthread_rwlock_rdlock(&ps->lock);
	r = ps->logical ? storage_delete(ps->logical, key) : TROVE_ERR_SEALED;
	pthread_rwlock_unlock(&ps->lock);
	if (r != 0)
		goto out;
	invalidate(ps, nm);
	r = 0;
out:
	free(key);
	free(nm);
	return r;
}

int policy_store_list(struct policy_store *ps, struct strlist *out)
{
	struct strlist tmp;
	int r;

	strlist_init(&tmp);
	pthread_rwlock_rdlock(&ps->lock);
	r = ps->logical ? storage_list(ps->logical, POLICY_PATH_PREFIX, &tmp) : TROVE_ERR_SEALED;
	pthread_rwlock_unlock(&ps->lock);
	if (r != 0)
		goto out;
	strlist_sort(&tmp);
	for (size_t i = 0; i < tmp.len; i++) {
		size_t n = strlen(tmp.items[i]);
		if (n == 0 || tmp.items[i][n - 1] == '/')
			continue; /* not a policy */
		strlist_push(out, tmp.items[i]);
	}
	r = 0;
out:
	strlist_release(&tmp);
	return r;
}

/* Templated sets: the base ACL (templated rules dropped) comes from
 * policy_store_acl; when it saw templated rules, the full ACL is compiled
 * with the entity's values and cached under "<set>\x1f<entity id>\x1f
 * <identity generation>", so identity writes (which bump the generation)
 * and policy writes (which clear the cache) both take effect on the next
 * request. Untemplated sets never get here. */
int policy_store_acl_entity(struct policy_store *ps, const struct strlist *names, struct identity_store *ids,
			    const char *entity_id, struct acl **out)
{
	struct strlist set;
	struct buf key;
	json_t *data = NULL;
	struct acl *base, *a;
	int r;

	if ((r = policy_store_acl(ps, names, &base)) != 0 || !acl_has_templates(base) || !ids || !entity_id ||
	    !entity_id[0]) {
		*out = base;
		return r;
	}
	*out = NULL;
	strlist_init(&set);
	buf_init(&key, BUF_CAP_DEFAULT);
	for (size_t i = 0; i < names->len; i++) {
		char *nm = policy_name_normalize(names->items[i]);
		if (nm)
			strlist_push_owned(&set, nm);
	}
	strlist_sort_unique(&set);
	for (size_t i = 0; i < set.len; i++)
		if ((r = buf_printf(&key, "%s\n", set.items[i])) != 0)
			goto out;
	/* the generation first: data read after it is at least as new */
	if ((r = buf_printf(&key, "\x1f%s\x1f%llu", entity_id,
			    (unsigned long long)identity_generation(ids))) != 0)
		goto out;

	pthread_rwlock_rdlock(&ps->lock);
	if (ps->logical && (a = smap_get(&ps->acls, key.data)) != NULL) {
		acl_ref(a);
		pthread_rwlock_unlock(&ps->lock);
		*out = a;
		r = 0;
		goto out;
	}
	pthread_rwlock_unlock(&ps->lock);

	data = identity_template_data(ids, entity_id);
	if (!data) { /* no such entity: nothing to substitute */
		acl_ref(base);
		*out = base;
		r = 0;
		goto out;
	}
	pthread_rwlock_wrlock(&ps->lock);
	if (!ps->logical) {
		r = TROVE_ERR_SEALED;
		goto unlock;
	}
	r = cached_acl_locked(ps, key.data, &set, data, out);
unlock:
	pthread_rwlock_unlock(&ps->lock);
out:
	acl_release(base);
	json_decref(data);
	buf_release(&key);
	strlist_release(&set);
	return r;
}
