/* agent_cache.c — the lease cache's store and rules (agent_cache.h).
 *
 * Entries sit on one list in least-recently-used order; at most a few
 * thousand of them, so lookups are linear scans under the mutex (no index
 * to keep consistent, nothing allocated per lookup). An entry is either a
 * lease (owner: the token it was made with) or a token (owner: its parent
 * when it is not an orphan); evicting a token evicts every entry it owns,
 * recursively, as Vault Agent cancels the renewal contexts derived from a
 * token's. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_cache.h"
#include "encoding.h"
#include "err.h"
#include "hmac.h"
#include "secure.h"

#include "banned.h"

#define ROOT_NAMESPACE "root/" /* Vault Agent's name for "no namespace" */

struct entry {
	struct entry *prev, *next; /* LRU order: head is the most recent */
	char key[AGENT_CACHE_KEY_LEN + 1];
	char *owner;          /* a lease's token, a child token's parent; NULL for an orphan */
	char *token;          /* a token entry: the token it holds */
	char *accessor;       /* its accessor */
	char *lease_id;       /* a lease entry: the lease */
	char *namespace_name; /* the request's namespace, ROOT_NAMESPACE when none */
	char *request_path;   /* "/v1/..." */
	int status;
	char *content_type;
	struct buf body; /* secret */
	int64_t stored;
	int64_t increment;   /* the duration asked for at each renewal */
	int64_t renew_at;    /* when to renew; INT64_MAX when renewals ended */
	int64_t expire_at;   /* when the lease or token ends */
	bool renewing;       /* handed out by agent_cache_take_due */
};

struct agent_cache {
	pthread_mutex_t mu;
	struct entry *head, *tail;
	size_t count, cap;
	double fraction;
};

static void str_wipe_free(char *s)
{
	secure_free_str(s);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

struct agent_cache *agent_cache_new(size_t cap, double renew_fraction)
{
	struct agent_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->mu, NULL);
	c->cap = cap ? cap : AGENT_CACHE_MAX_ENTRIES;
	c->fraction = renew_fraction > 0 && renew_fraction <= 1 ? renew_fraction : 2.0 / 3.0;
	return c;
}

static void entry_free(struct entry *e)
{
	str_wipe_free(e->owner);
	str_wipe_free(e->token);
	free(e->accessor);
	free(e->lease_id);
	free(e->namespace_name);
	free(e->request_path);
	free(e->content_type);
	buf_release_secret(&e->body);
	free(e);
}

static void unlink_entry(struct agent_cache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
	c->count--;
}

static void push_front(struct agent_cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
	c->count++;
}

/* Evicts e and, when it holds a token, everything that token owns.
 * Returns how many entries went. */
static size_t evict(struct agent_cache *c, struct entry *e);

/* Evicts every entry owned by token. */
static size_t evict_owned_by(struct agent_cache *c, const char *token)
{
	size_t n = 0;
	struct entry *e;
	bool again = true;

	/* A cascade may free any entry of the list: start over after each. */
	while (again) {
		again = false;
		for (e = c->head; e; e = e->next)
			if (str_eq(e->owner, token)) {
				n += evict(c, e);
				again = true;
				break;
			}
	}
	return n;
}

static size_t evict(struct agent_cache *c, struct entry *e)
{
	char *token = e->token;
	size_t n = 1;

	e->token = NULL;
	unlink_entry(c, e);
	entry_free(e);
	if (token) {
		n += evict_owned_by(c, token);
		str_wipe_free(token);
	}
	return n;
}

void agent_cache_free(struct agent_cache *c)
{
	struct entry *e, *next;

	if (c == NULL)
		return;
	for (e = c->head; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* ---- keys ------------------------------------------------------------- */

/* The key is SHA-256 over the request's fields, each prefixed with its
 * length. Think of a client on the node that wants another client's cached
 * answer (a leased secret, a token): the lookup comes before the server
 * sees the request, and the client chooses every field it sends, its
 * token included, so it needs a request whose key equals the victim's.
 * The length prefixes make the encoding injective (no two field lists give
 * the same bytes, whatever the fields hold): equal keys mean the same
 * fields, the victim's token among them, which a client holding it needs
 * no cache to use, or a SHA-256 collision or second preimage, out of reach
 * of any search. A non-cryptographic or short hash (strhash.h's 64-bit
 * FNV-1a) gives no such bound: its outputs can be steered, and 64 bits
 * are a guessing margin counted in requests rather than in work no one can
 * do. A keyed hash would add a secret to keep for the bound to hold. So
 * the hash stays SHA-256, computed without an algorithm fetch
 * (sha256_stream, hmac.h): over HTTP nothing else in the agent fetches
 * from OpenSSL, and the first fetch alone costs about 2 MiB of resident
 * memory. */
static void hash_field(struct sha256_stream *h, const char *s, size_t n)
{
	unsigned char len[8];
	uint64_t v = n;

	for (int i = 7; i >= 0; i--, v >>= 8)
		len[i] = (unsigned char)(v & 0xff);
	sha256_stream_update(h, len, sizeof(len));
	sha256_stream_update(h, s, n);
}

static void hash_str(struct sha256_stream *h, const char *s)
{
	hash_field(h, s ? s : "", s ? strlen(s) : 0);
}

bool agent_cache_key(const struct agent_cache_req *r, char out[AGENT_CACHE_KEY_LEN + 1])
{
	unsigned char d[SHA256_LEN];
	struct sha256_stream h;
	bool ok;

	sha256_stream_init(&h);
	hash_str(&h, r->token);
	hash_str(&h, r->namespace_name);
	hash_str(&h, r->method);
	hash_str(&h, r->path);
	hash_str(&h, r->query);
	hash_field(&h, r->body ? r->body : "", r->body ? r->body_len : 0);
	ok = sha256_stream_final(&h, d);
	if (ok)
		hex_encode(d, sizeof(d), out);
	else
		memset(out, 0, AGENT_CACHE_KEY_LEN);
	out[AGENT_CACHE_KEY_LEN] = '\0';
	return ok;
}

/* ---- lookups ----------------------------------------------------------- */

static struct entry *find_key(struct agent_cache *c, const char *key)
{
	for (struct entry *e = c->head; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static struct entry *find_token(struct agent_cache *c, const char *token)
{
	for (struct entry *e = c->head; e; e = e->next)
		if (str_eq(e->token, token))
			return e;
	return NULL;
}

bool agent_cache_get(struct agent_cache *c, const char *key, int64_t now, struct agent_cache_hit *hit)
{
	struct entry *e;
	bool found = false;

	memset(hit, 0, sizeof(*hit));
	buf_init_secret(&hit->body, AGENT_CACHE_MAX_BODY);
	pthread_mutex_lock(&c->mu);
	e = find_key(c, key);
	if (e && e->expire_at <= now && !e->renewing) {
		evict(c, e); /* its lease or token is over */
		e = NULL;
	}
	if (e && buf_append(&hit->body, e->body.data, e->body.len) == 0) {
		hit->status = e->status;
		hit->content_type = xstrdup(e->content_type);
		hit->age = now - e->stored;
		unlink_entry(c, e);
		push_front(c, e);
		found = true;
	}
	pthread_mutex_unlock(&c->mu);
	return found;
}

void agent_cache_hit_release(struct agent_cache_hit *hit)
{
	free(hit->content_type);
	buf_release_secret(&hit->body);
	memset(hit, 0, sizeof(*hit));
}

/* ---- keeping answers ---------------------------------------------------- */

static bool managed(struct agent_cache *c, const char *token, const char *auto_token)
{
	return token && *token && (str_eq(token, auto_token) || find_token(c, token) != NULL);
}

static int64_t json_int(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *json_str(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void schedule(struct agent_cache *c, struct entry *e, int64_t ttl, int64_t now)
{
	int64_t wait = (int64_t)((double)ttl * c->fraction);

	e->expire_at = now + ttl;
	e->renew_at = now + (wait > 0 ? wait : 1);
}

bool agent_cache_offer(struct agent_cache *c, const char *key, const struct agent_cache_req *r,
                       const char *auto_token, int status, const char *content_type, const char *body, size_t len,
                       const json_t *json, int64_t now)
{
	const json_t *auth = json_object_get(json, "auth");
	const json_t *wrap = json_object_get(json, "wrap_info");
	const char *lease = json_str(json, "lease_id");
	struct entry *e, *old;
	int64_t ttl;
	bool kept = false;

	if (status < 200 || status >= 300 || !str_eq(content_type, "application/json") || !json_is_object(json) ||
	    (wrap && !json_is_null(wrap)) || len > AGENT_CACHE_MAX_BODY)
		return false;
	if (lease && *lease) {
		if (!json_is_true(json_object_get(json, "renewable")))
			return false;
		ttl = json_int(json, "lease_duration");
	} else if (json_is_object(auth) && json_str(auth, "client_token")) {
		if (!json_is_true(json_object_get(auth, "renewable")))
			return false;
		ttl = json_int(auth, "lease_duration");
		lease = NULL;
	} else {
		return false; /* a static secret, or nothing to renew */
	}
	if (ttl <= 0)
		return false;

	pthread_mutex_lock(&c->mu);
	if (lease) {
		if (!managed(c, r->token, auto_token))
			goto out;
	} else if (!json_is_true(json_object_get(auth, "orphan")) && !managed(c, r->token, auto_token)) {
		goto out;
	}
	if ((old = find_key(c, key)) != NULL)
		evict(c, old);
	while (c->count >= c->cap && c->tail)
		evict(c, c->tail);

	e = xcalloc(1, sizeof(*e));
	memcpy(e->key, key, AGENT_CACHE_KEY_LEN + 1);
	buf_init_secret(&e->body, AGENT_CACHE_MAX_BODY);
	if (buf_append(&e->body, body, len) != 0) {
		entry_free(e);
		goto out;
	}
	if (lease) {
		e->lease_id = xstrdup(lease);
		e->owner = dup_or_null(r->token);
	} else {
		e->token = xstrdup(json_str(auth, "client_token"));
		e->accessor = dup_or_null(json_str(auth, "accessor"));
		e->owner = json_is_true(json_object_get(auth, "orphan")) ? NULL : dup_or_null(r->token);
	}
	e->namespace_name = xstrdup(r->namespace_name && *r->namespace_name ? r->namespace_name : ROOT_NAMESPACE);
	e->request_path = xstrdup(r->path ? r->path : "");
	e->status = status;
	e->content_type = xstrdup(content_type);
	e->stored = now;
	e->increment = ttl;
	schedule(c, e, ttl, now);
	push_front(c, e);
	kept = true;
out:
	pthread_mutex_unlock(&c->mu);
	return kept;
}

/* ---- evictions ------------------------------------------------------------ */

static size_t clear_token(struct agent_cache *c, const char *token)
{
	struct entry *e = find_token(c, token);

	return e ? evict(c, e) : evict_owned_by(c, token);
}

/* revoke-orphan: the token and its leases go, its child tokens stay (as
 * orphans now). */
static size_t clear_orphan(struct agent_cache *c, const char *token)
{
	struct entry *e, *next;
	size_t n = 0;

	for (e = c->head; e; e = next) {
		next = e->next;
		if (e->lease_id && str_eq(e->owner, token)) {
			unlink_entry(c, e);
			entry_free(e);
			n++;
		}
	}
	for (e = c->head; e; e = e->next)
		if (e->token && str_eq(e->owner, token)) {
			str_wipe_free(e->owner);
			e->owner = NULL;
		}
	if ((e = find_token(c, token)) != NULL) {
		unlink_entry(c, e);
		entry_free(e);
		n++;
	}
	return n;
}

/* Leases matching id exactly, or starting with it when prefix. */
static size_t clear_leases(struct agent_cache *c, const char *id, bool prefix)
{
	size_t n = 0, l = strlen(id);
	bool again = true;

	while (again) {
		again = false;
		for (struct entry *e = c->head; e; e = e->next)
			if (e->lease_id && (prefix ? strncmp(e->lease_id, id, l) == 0 : strcmp(e->lease_id, id) == 0)) {
				n += evict(c, e);
				again = true;
				break;
			}
	}
	return n;
}

static size_t clear_request_path(struct agent_cache *c, const char *path, const char *ns)
{
	size_t n = 0, l = strlen(path);
	bool again = true;

	while (again) {
		again = false;
		for (struct entry *e = c->head; e; e = e->next)
			if (strcmp(e->namespace_name, ns) == 0 && strncmp(e->request_path, path, l) == 0) {
				n += evict(c, e);
				again = true;
				break;
			}
	}
	return n;
}

static size_t clear_all(struct agent_cache *c)
{
	size_t n = 0;

	while (c->head) {
		struct entry *e = c->head;
		unlink_entry(c, e);
		entry_free(e);
		n++;
	}
	return n;
}

int agent_cache_clear(struct agent_cache *c, const char *type, const char *value, const char *namespace_name,
                      size_t *evicted, const char **why)
{
	size_t n = 0;
	struct entry *e;

	*evicted = 0;
	*why = NULL;
	if (type == NULL || *type == '\0') {
		*why = "type is required";
		return TROVE_ERR_INVALID;
	}
	if (strcmp(type, "all") != 0 && strcmp(type, "request_path") != 0 && strcmp(type, "lease") != 0 &&
	    strcmp(type, "token") != 0 && strcmp(type, "token_accessor") != 0) {
		*why = "invalid type provided: want request_path, lease, token, token_accessor or all";
		return TROVE_ERR_INVALID;
	}
	if (strcmp(type, "all") != 0 && (value == NULL || *value == '\0')) {
		*why = "value is required for this type";
		return TROVE_ERR_INVALID;
	}
	pthread_mutex_lock(&c->mu);
	if (strcmp(type, "all") == 0) {
		n = clear_all(c);
	} else if (strcmp(type, "request_path") == 0) {
		n = clear_request_path(c, value, namespace_name && *namespace_name ? namespace_name : ROOT_NAMESPACE);
	} else if (strcmp(type, "lease") == 0) {
		n = clear_leases(c, value, false);
	} else if (strcmp(type, "token") == 0) {
		n = clear_token(c, value);
	} else {
		for (e = c->head; e; e = e->next)
			if (str_eq(e->accessor, value))
				break;
		n = e ? evict(c, e) : 0;
	}
	pthread_mutex_unlock(&c->mu);
	*evicted = n;
	return 0;
}

/* The path after "/v1/" and any namespace given in the path itself is
 * not stripped: Trove has one namespace. */
static const char *api_path(const char *p)
{
	if (p == NULL)
		return "";
	if (strncmp(p, "/v1/", 4) == 0)
		return p + 4;
	return p;
}

static const char *after_prefix(const char *p, const char *prefix)
{
	size_t l = strlen(prefix);

	if (strncmp(p, prefix, l) != 0)
		return NULL;
	if (p[l] == '\0')
		return p + l;
	return p[l] == '/' ? p + l + 1 : NULL;
}

bool agent_cache_on_revocation(struct agent_cache *c, const struct agent_cache_req *r, const json_t *body)
{
	const char *p = api_path(r->path), *rest;
	const char *v;
	bool rev = true;

	pthread_mutex_lock(&c->mu);
	if (strcmp(p, "auth/token/revoke") == 0) {
		if ((v = json_str(body, "token")) != NULL)
			clear_token(c, v);
	} else if (strcmp(p, "auth/token/revoke-self") == 0) {
		if (r->token && *r->token)
			clear_token(c, r->token);
	} else if (strcmp(p, "auth/token/revoke-accessor") == 0) {
		if ((v = json_str(body, "accessor")) != NULL)
			for (struct entry *e = c->head; e; e = e->next)
				if (str_eq(e->accessor, v)) {
					evict(c, e);
					break;
				}
	} else if (strcmp(p, "auth/token/revoke-orphan") == 0) {
		if ((v = json_str(body, "token")) != NULL)
			clear_orphan(c, v);
	} else if ((rest = after_prefix(p, "sys/leases/revoke-prefix")) != NULL ||
	           (rest = after_prefix(p, "sys/leases/revoke-force")) != NULL ||
	           (rest = after_prefix(p, "sys/revoke-prefix")) != NULL ||
	           (rest = after_prefix(p, "sys/revoke-force")) != NULL) {
		if (*rest)
			clear_leases(c, rest, true);
	} else if ((rest = after_prefix(p, "sys/leases/revoke")) != NULL ||
	           (rest = after_prefix(p, "sys/revoke")) != NULL) {
		v = *rest ? rest : json_str(body, "lease_id");
		if (v && *v)
			clear_leases(c, v, false);
	} else {
		rev = false;
	}
	pthread_mutex_unlock(&c->mu);
	return rev;
}

/* ---- renewals ------------------------------------------------------------ */

static int64_t due_of(const struct entry *e)
{
	if (e->renewing)
		return INT64_MAX;
	return e->renew_at < e->expire_at ? e->renew_at : e->expire_at;
}

int64_t agent_cache_next_due(struct agent_cache *c)
{
	int64_t due = INT64_MAX, d;

	pthread_mutex_lock(&c->mu);
	for (struct entry *e = c->head; e; e = e->next)
		if ((d = due_of(e)) < due)
			due = d;
	pthread_mutex_unlock(&c->mu);
	return due;
}

bool agent_cache_take_due(struct agent_cache *c, int64_t now, struct agent_cache_renewal *out)
{
	struct entry *e, *best;
	bool found = false;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->mu);
	for (;;) {
		best = NULL;
		for (e = c->head; e; e = e->next)
			if (due_of(e) <= now && (best == NULL || due_of(e) < due_of(best)))
				best = e;
		if (best == NULL)
			break;
		if (best->expire_at <= now) { /* over: nothing left to renew */
			evict(c, best);
			continue;
		}
		best->renewing = true;
		memcpy(out->key, best->key, sizeof(out->key));
		out->is_token = best->token != NULL;
		out->token = xstrdup(best->token ? best->token : best->owner ? best->owner : "");
		out->lease_id = best->lease_id ? xstrdup(best->lease_id) : NULL;
		out->namespace_name =
			strcmp(best->namespace_name, ROOT_NAMESPACE) != 0 ? xstrdup(best->namespace_name) : NULL;
		out->increment = best->increment;
		found = true;
		break;
	}
	pthread_mutex_unlock(&c->mu);
	return found;
}

void agent_cache_renewed(struct agent_cache *c, const struct agent_cache_renewal *r, bool ok, int64_t ttl,
                         int64_t now)
{
	struct entry *e;

	pthread_mutex_lock(&c->mu);
	e = find_key(c, r->key);
	if (e && e->renewing) {
		e->renewing = false;
		if (!ok || ttl <= 0) {
			evict(c, e);
		} else if (ttl < e->increment) {
			/* The max TTL is near: no more renewals, gone at the end. */
			e->expire_at = now + ttl;
			e->renew_at = INT64_MAX;
		} else {
			schedule(c, e, ttl, now);
		}
	}
	pthread_mutex_unlock(&c->mu);
}

void agent_cache_renewal_release(struct agent_cache_renewal *r)
{
	str_wipe_free(r->token);
	free(r->lease_id);
	free(r->namespace_name);
	memset(r, 0, sizeof(*r));
}

size_t agent_cache_count(struct agent_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->mu);
	n = c->count;
	pthread_mutex_unlock(&c->mu);
	return n;
}
