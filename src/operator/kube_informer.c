/* kube_informer.c — list, then watch, keeping a copy of every object
 * (kube_informer_start in kube.h).
 *
 * One thread per informer, on connections of its own: a list (in pages
 * of LIST_LIMIT), then a watch from the list's resourceVersion whose
 * chunked answer is read as it arrives and split into events
 * (kube_watch.c). A watch ends when the server's timeoutSeconds (five to
 * ten minutes, drawn at random so replicas do not watch in step) runs
 * out and is resumed from the last resourceVersion seen (bookmarks
 * included). A 410 Gone, an ERROR event or an event that cannot be read
 * brings a new list, and the difference from the cache is delivered as
 * events. Failures wait a jittered, doubling delay (up to 30 s).
 * kube_informer_stop shuts the socket down, which wakes the thread at
 * once, and a condition variable cuts a wait short. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/http_response.h"
#include "api/net_conn.h"
#include "err.h"
#include "heap_trim.h"
#include "json_items.h"
#include "operator/kube.h"
#include "operator/kube_int.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

#define LIST_LIMIT 500
#define WATCH_MIN_S 300 /* server-side timeoutSeconds: 300 to 599 */
#define WATCH_GRACE_MS 30000L /* the client's read deadline past it */
#define CONNECT_MS 10000L
#define BACKOFF_START_MS 250L
#define BACKOFF_MAX_MS 30000L
#define READ_CHUNK 16384

struct kube_informer {
	struct kube_client *k;
	struct kube_resource res; /* its strings owned below */
	char *group, *version, *plural;
	char *ns, *selector;
	unsigned flags;
	kube_event_fn fn;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t mu; /* cache, synced, stop, live_fd */
	pthread_cond_t cv;
	struct kube_cache cache;
	bool synced, stop;
	int live_fd;
	char rv[256];
	long backoff_ms;
	unsigned long events; /* watch events seen, bookmarks included */
};

static bool stopping(struct kube_informer *inf)
{
	return kube_stopped(&inf->mu, &inf->stop);
}

/* Waits the next jittered backoff, or less when stopped meanwhile. */
static void backoff(struct kube_informer *inf)
{
	unsigned char rnd[2] = {0, 0};
	long ms;

	inf->backoff_ms = inf->backoff_ms ? inf->backoff_ms * 2 : BACKOFF_START_MS;
	if (inf->backoff_ms > BACKOFF_MAX_MS)
		inf->backoff_ms = BACKOFF_MAX_MS;
	(void)rand_bytes(rnd, sizeof(rnd));
	/* between half and the whole delay */
	ms = inf->backoff_ms / 2 + (long)((rnd[0] << 8 | rnd[1]) % (unsigned)(inf->backoff_ms / 2 + 1));
	kube_wait(&inf->mu, &inf->cv, &inf->stop, ms);
}

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

/* A shallow copy of md without managedFields and the last-applied
 * annotation (a new reference). */
static json_t *trimmed_metadata(const json_t *md)
{
	json_t *t = json_is_object(md) ? json_copy((json_t *)md) : json_object();
	json_t *ann = json_object_get(t, "annotations");

	(void)json_object_del(t, "managedFields");
	if (json_object_get(ann, LAST_APPLIED)) {
		ann = json_copy(ann);
		(void)json_object_del(ann, LAST_APPLIED);
		if (json_object_size(ann) == 0)
			(void)json_object_del(t, "annotations");
		else
			(void)json_object_set(t, "annotations", ann);
		json_decref(ann);
	}
	return t;
}

/* What the cache keeps of obj (a new reference): never metadata's
 * managedFields nor kubectl's last-applied-configuration annotation (the
 * API server's and kubectl's bookkeeping, often larger than the object;
 * nothing in the operator reads them), and with KEEP_METADATA only
 * apiVersion, kind and metadata. Values are shared with obj, not copied. */
static json_t *kept(const struct kube_informer *inf, json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	json_t *t;

	if (!(inf->flags & KUBE_INFORMER_KEEP_METADATA)) {
		if (!json_object_get(md, "managedFields") &&
		    !json_object_get(json_object_get(md, "annotations"), LAST_APPLIED))
			return json_incref(obj);
		t = json_copy(obj);
	} else {
		t = json_object();
		if (json_object_get(obj, "apiVersion"))
			json_object_set(t, "apiVersion", json_object_get(obj, "apiVersion"));
		if (json_object_get(obj, "kind"))
			json_object_set(t, "kind", json_object_get(obj, "kind"));
	}
	json_object_set_new(t, "metadata", trimmed_metadata(md));
	return t;
}

/* What the cache keeps of obj, into c under key. 0, or the cache's error. */
static int keep(const struct kube_informer *inf, struct kube_cache *c, const char *key, json_t *obj)
{
	json_t *t = kept(inf, obj);
	int r = kube_cache_put(c, key, t);

	json_decref(t);
	return r;
}

static const char *rv_of(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static void set_rv(struct kube_informer *inf, const json_t *obj)
{
	const char *rv = rv_of(obj);

	if (rv && strlen(rv) < sizeof(inf->rv))
		memcpy(inf->rv, rv, strlen(rv) + 1);
}

/* ---- one GET on a connection of the informer's own ---------------------- */

struct stream {
	struct kube_watch_dec dec;
	kube_watch_fn fn;
	void *ctx;
	int stopped; /* what fn returned to stop the stream */
	const char *why;
};

static int register_fd(struct kube_informer *inf, int fd)
{
	int r = 0;

	pthread_mutex_lock(&inf->mu);
	if (inf->stop)
		r = TROVE_ERR_UNAVAILABLE;
	else
		inf->live_fd = fd;
	pthread_mutex_unlock(&inf->mu);
	return r;
}

/* GETs path by deadline. *status is the answer's status (0: none). With
 * st and a 200, the body goes to st's decoder as it arrives (body only
 * passes it through); otherwise the whole body lands in body. 0 when the
 * answer ended (or st stopped it: st->stopped), else a failure with *why. */
static int get(struct kube_informer *inf, const char *path, long deadline, struct stream *st, struct buf *body,
               int *status, char *why, size_t why_n)
{
	struct api_conn c;
	struct api_http_reader rd;
	struct kube_sigpipe sp;
	struct buf head;
	char chunk[READ_CHUNK];
	size_t got, used;
	long cd = api_conn_now_ms() + CONNECT_MS;
	int r, fr = API_HTTP_MORE;

	*status = 0;
	api_conn_init(&c);
	buf_init_secret(&head, (size_t)1 << 20);
	api_http_reader_init(&rd, false, body);
	kube_sigpipe_block(&sp);
	r = kube_conn_open(inf->k, &c, cd < deadline ? cd : deadline);
	if (r == 0)
		r = register_fd(inf, c.fd);
	if (r == 0 && (r = kube_write_head(inf->k, "GET", path, NULL, (size_t)-1, &head)) == 0)
		r = api_conn_write(&c, head.data, head.len, deadline);
	while (r == 0 && fr == API_HTTP_MORE) {
		if ((r = api_conn_read(&c, chunk, sizeof(chunk), &got, deadline)) != 0)
			break;
		if (got == 0) {
			if ((fr = api_http_reader_eof(&rd)) != 0) {
				(void)snprintf(c.why, sizeof(c.why), "%s", rd.why);
				r = TROVE_ERR_UPSTREAM;
			}
			break;
		}
		fr = api_http_reader_feed(&rd, chunk, got, &used);
		if (fr != 0 && fr != API_HTTP_MORE) {
			(void)snprintf(c.why, sizeof(c.why), "%s", rd.why);
			r = TROVE_ERR_UPSTREAM;
			break;
		}
		if (st && rd.have_head && rd.status == 200 && body->len > 0) {
			st->stopped = kube_watch_feed(&st->dec, body->data, body->len, st->fn, st->ctx, &st->why);
			buf_reset(body);
			api_http_reader_drained(&rd);
			if (st->stopped != 0)
				break;
		}
	}
	*status = rd.have_head ? rd.status : 0;
	pthread_mutex_lock(&inf->mu);
	inf->live_fd = -1;
	pthread_mutex_unlock(&inf->mu);
	if (r != 0)
		(void)snprintf(why, why_n, "%s", c.why[0] ? c.why : "stopped");
	api_conn_close(&c); /* TLS close_notify may meet a closed socket */
	kube_sigpipe_restore(&sp);
	api_http_reader_release(&rd);
	buf_release_secret(&head);
	secure_wipe(chunk, sizeof(chunk));
	return r;
}

/* ---- list ------------------------------------------------------------------ */

/* A re-list: every listed object, whole (what fn sees) and as the cache
 * keeps it, both as text so that no more than a page is ever a tree. */
struct listing {
	struct kube_cache whole, kept;
};

static void listing_init(struct listing *l)
{
	kube_cache_init(&l->whole);
	kube_cache_init(&l->kept);
}

static void listing_release(struct listing *l)
{
	kube_cache_release(&l->whole);
	kube_cache_release(&l->kept);
}

struct change {
	enum kube_event ev;
	const char *key; /* ADDED, MODIFIED: the object is the listing's */
	json_t *obj;     /* DELETED: the cache's last copy (owned) */
};

struct diff {
	struct kube_informer *inf;
	struct listing *l;
	struct change *v;
	size_t n, cap;
};

static void push(struct diff *d, enum kube_event ev, const char *key, json_t *obj)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	d->v[d->n].ev = ev;
	d->v[d->n].key = key;
	d->v[d->n++].obj = obj;
}

static void diff_fresh(void *ctx, const char *key, const char *rv)
{
	struct diff *d = ctx;
	const char *old;

	if (!kube_cache_find(&d->inf->cache, key, &old))
		push(d, KUBE_ADDED, key, NULL);
	else if (!old || !rv || strcmp(old, rv) != 0)
		push(d, KUBE_MODIFIED, key, NULL);
}

static void diff_gone(void *ctx, const char *key, const char *rv)
{
	struct diff *d = ctx;
	json_t *obj;

	(void)rv;
	if (!kube_cache_find(&d->l->whole, key, NULL) && (obj = kube_cache_get(&d->inf->cache, key)) != NULL)
		push(d, KUBE_DELETED, NULL, obj);
}

struct page {
	const struct kube_informer *inf;
	struct listing *l;
	char item_kind[256]; /* "Secret" of "SecretList" */
	const json_t *av;
};

static int take_item(void *ctx, json_t *item)
{
	struct page *pg = ctx;
	char key[KUBE_KEY_MAX];

	if (!json_is_object(item) || !kube_obj_key(item, key))
		return TROVE_ERR_INVALID;
	if (!json_object_get(item, "kind") && pg->item_kind[0])
		json_object_set_new(item, "kind", json_string(pg->item_kind));
	if (!json_object_get(item, "apiVersion") && json_is_string(pg->av))
		json_object_set(item, "apiVersion", (json_t *)pg->av);
	if (kube_cache_put(&pg->l->whole, key, item) != 0 || keep(pg->inf, &pg->l->kept, key, item) != 0)
		return TROVE_ERR_INVALID;
	return 0;
}

/* The items of one page (the answer's bytes) into l, kind and apiVersion
 * filled from the list's own (the API server leaves them out of items);
 * *head the list's other members (a new reference, or NULL). The page is
 * read item by item (json_items.h), never as one tree: a first pass for
 * the list's kind, wherever it stands, then the items. */
static int take_page(const struct kube_informer *inf, const struct buf *body, struct listing *l, json_t **head)
{
	struct page pg = {.inf = inf, .l = l};
	const char *kind;
	size_t n;

	if (json_items_read(body->data, body->len, "items", 0, NULL, NULL, head) != 0)
		return TROVE_ERR_INVALID;
	kind = json_string_value(json_object_get(*head, "kind"));
	pg.av = json_object_get(*head, "apiVersion");
	if (kind && (n = strlen(kind)) > 4 && n < sizeof(pg.item_kind) && strcmp(kind + n - 4, "List") == 0) {
		memcpy(pg.item_kind, kind, n - 4);
		pg.item_kind[n - 4] = '\0';
	}
	return json_items_read(body->data, body->len, "items", 0, take_item, &pg, NULL) == 0 ? 0
	                                                                                    : TROVE_ERR_INVALID;
}

static char *list_path(struct kube_informer *inf, const char *cont)
{
	struct buf q;
	char *p;

	buf_init(&q, (size_t)1 << 16);
	(void)buf_printf(&q, "limit=%d", LIST_LIMIT);
	if (inf->selector && (buf_append_str(&q, "&labelSelector=") || kube_escape(&q, inf->selector)))
		goto fail;
	if (cont && (buf_append_str(&q, "&continue=") || kube_escape(&q, cont)))
		goto fail;
	p = kube_path(&inf->res, inf->ns, NULL, NULL, q.data);
	buf_release(&q);
	return p;
fail:
	buf_release(&q);
	return NULL;
}

/* Lists every page into l; *rv the list's resourceVersion. */
static int list_all(struct kube_informer *inf, struct listing *l, char *rv, size_t rv_n)
{
	struct buf body;
	char *path, *cont = NULL, why[512];
	json_t *page = NULL;
	const char *next, *lrv;
	int status, r, restarts = 0;

	for (;;) {
		if ((path = list_path(inf, cont)) == NULL) {
			r = TROVE_ERR_INVALID;
			break;
		}
		buf_init_secret(&body, KUBE_MAX_BODY);
		r = get(inf, path, api_conn_now_ms() + KUBE_REQUEST_TIMEOUT_MS, NULL, &body, &status, why, sizeof(why));
		free(path);
		if (r != 0) {
			buf_release_secret(&body);
			break;
		}
		if (status == 410 && cont && restarts++ < 3) { /* the continue token expired: from the top */
			buf_release_secret(&body);
			free(cont);
			cont = NULL;
			listing_release(l);
			listing_init(l);
			continue;
		}
		r = status == 200 ? take_page(inf, &body, l, &page) : TROVE_ERR_UPSTREAM;
		buf_release_secret(&body);
		if (r != 0) {
			r = TROVE_ERR_UPSTREAM;
			break;
		}
		lrv = json_string_value(json_object_get(json_object_get(page, "metadata"), "resourceVersion"));
		next = json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
		if (cont == NULL && lrv)
			(void)snprintf(rv, rv_n, "%s", lrv);
		free(cont);
		cont = next && *next ? xstrdup(next) : NULL;
		json_decref(page);
		page = NULL;
		if (cont == NULL)
			break;
	}
	json_decref(page);
	free(cont);
	return r;
}

/* Lists, replaces the cache and delivers the difference. Only this
 * thread changes the cache, so it reads it without the mutex. */
static int relist(struct kube_informer *inf)
{
	struct listing l;
	struct diff d = {.inf = inf, .l = &l};
	char rv[sizeof(inf->rv)] = "";
	json_t *obj;
	size_t i;
	int r;

	listing_init(&l);
	if ((r = list_all(inf, &l, rv, sizeof(rv))) != 0) {
		listing_release(&l);
		return r;
	}
	kube_cache_each(&l.whole, diff_fresh, &d);
	kube_cache_each(&inf->cache, diff_gone, &d);
	pthread_mutex_lock(&inf->mu);
	kube_cache_release(&inf->cache);
	inf->cache = l.kept;
	kube_cache_init(&l.kept);
	memcpy(inf->rv, rv, sizeof(rv));
	pthread_mutex_unlock(&inf->mu);
	for (i = 0; i < d.n; i++) {
		obj = d.v[i].obj ? d.v[i].obj : kube_cache_get(&l.whole, d.v[i].key);
		if (obj)
			inf->fn(inf->ctx, d.v[i].ev, obj);
		json_decref(obj);
	}
	free(d.v);
	listing_release(&l);
	/* A list's pages and trees were freed in the middle of the heap,
	 * where glibc keeps them: give them back (docs/performance.md). */
	heap_trim();
	/* Synced once the first list's objects were all handed over, as
	 * client-go's HasSynced: a caller waiting for it has them queued. */
	pthread_mutex_lock(&inf->mu);
	inf->synced = true;
	pthread_mutex_unlock(&inf->mu);
	return 0;
}

/* ---- watch ---------------------------------------------------------------- */

#define STOP_RELIST 1     /* a 410: list again at once */
#define STOP_RELIST_WAIT 2 /* another error: list again after a wait */

static int on_event(void *ctx, enum kube_watch_type type, json_t *obj)
{
	struct kube_informer *inf = ctx;
	char key[KUBE_KEY_MAX];
	bool had = false;
	int r = 0;

	inf->events++;
	if (type == KUBE_W_ERROR)
		return json_integer_value(json_object_get(obj, "code")) == 410 ? STOP_RELIST : STOP_RELIST_WAIT;
	if (type == KUBE_W_BOOKMARK) {
		set_rv(inf, obj);
		return 0;
	}
	if (!kube_obj_key(obj, key))
		return STOP_RELIST_WAIT;
	pthread_mutex_lock(&inf->mu);
	if (type == KUBE_W_DELETED) {
		(void)kube_cache_remove(&inf->cache, key);
	} else {
		had = kube_cache_find(&inf->cache, key, NULL);
		r = keep(inf, &inf->cache, key, obj);
	}
	if (r == 0)
		set_rv(inf, obj);
	pthread_mutex_unlock(&inf->mu);
	if (r != 0)
		return STOP_RELIST_WAIT; /* not kept: list again */
	inf->backoff_ms = 0;
	inf->fn(inf->ctx, type == KUBE_W_DELETED ? KUBE_DELETED : had ? KUBE_MODIFIED : KUBE_ADDED, obj);
	return 0;
}

static char *watch_path(struct kube_informer *inf, int timeout_s)
{
	struct buf q;
	char *p = NULL;

	buf_init(&q, (size_t)1 << 16);
	if (buf_printf(&q, "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=", timeout_s) == 0 &&
	    kube_escape(&q, inf->rv) == 0 &&
	    (!inf->selector || (buf_append_str(&q, "&labelSelector=") == 0 && kube_escape(&q, inf->selector) == 0)))
		p = kube_path(&inf->res, inf->ns, NULL, NULL, q.data);
	buf_release(&q);
	return p;
}

/* One watch. 0 when it ended as watches do (re-watch at once); else
 * *again says whether to list again, and the caller waits first unless
 * it was a 410. */
static int watch(struct kube_informer *inf, bool *again, bool *at_once)
{
	struct stream st = {.fn = on_event, .ctx = inf};
	struct buf body;
	unsigned char rnd[2] = {0, 0};
	char why[512], *path;
	int timeout_s, status, r;
	long started = api_conn_now_ms();
	unsigned long seen = inf->events;

	(void)rand_bytes(rnd, sizeof(rnd));
	timeout_s = WATCH_MIN_S + (rnd[0] << 8 | rnd[1]) % WATCH_MIN_S;
	if ((path = watch_path(inf, timeout_s)) == NULL)
		return TROVE_ERR_INVALID;
	kube_watch_init(&st.dec);
	buf_init_secret(&body, KUBE_MAX_EVENT + READ_CHUNK);
	r = get(inf, path, started + timeout_s * 1000L + WATCH_GRACE_MS, &st, &body, &status, why, sizeof(why));
	free(path);
	*again = *at_once = false;
	if (status == 410 || st.stopped == STOP_RELIST) {
		*again = *at_once = true;
		r = TROVE_ERR_UPSTREAM;
	} else if (st.stopped != 0 || (status != 0 && status != 200)) {
		*again = true; /* an ERROR event, an unreadable one, or a refusal */
		r = TROVE_ERR_UPSTREAM;
	} else if (r == 0 && api_conn_now_ms() - started < 1000 && inf->events == seen) {
		r = TROVE_ERR_UPSTREAM; /* ended at once with nothing: do not spin */
	}
	kube_watch_release(&st.dec);
	buf_release_secret(&body);
	return r;
}

static void *run(void *arg)
{
	struct kube_informer *inf = arg;
	bool need_list = true, at_once = false;

	while (!stopping(inf)) {
		if (need_list) {
			if (relist(inf) != 0) {
				backoff(inf);
				continue;
			}
			need_list = false;
			inf->backoff_ms = 0;
		}
		if (watch(inf, &need_list, &at_once) != 0 && !at_once)
			backoff(inf);
	}
	return NULL;
}

/* ---- the contract ------------------------------------------------------- */

static void informer_free(struct kube_informer *inf)
{
	kube_cache_release(&inf->cache);
	pthread_mutex_destroy(&inf->mu);
	pthread_cond_destroy(&inf->cv);
	free(inf->group);
	free(inf->version);
	free(inf->plural);
	free(inf->ns);
	free(inf->selector);
	free(inf);
}

int kube_informer_start(struct kube_client *k, const struct kube_resource *res, const char *ns,
                        const char *label_selector, unsigned flags, kube_event_fn fn, void *ctx,
                        struct kube_informer **out, char **err)
{
	struct kube_informer *inf;

	*out = NULL;
	*err = NULL;
	if (k == NULL || res == NULL || fn == NULL || res->plural == NULL || res->version == NULL) {
		*err = xstrdup("an informer needs a client, a kind of resource and a function");
		return TROVE_ERR_INVALID;
	}
	inf = xcalloc(1, sizeof(*inf));
	inf->k = k;
	inf->group = xstrdup(res->group ? res->group : "");
	inf->version = xstrdup(res->version);
	inf->plural = xstrdup(res->plural);
	inf->res = (struct kube_resource){inf->group, inf->version, inf->plural, res->namespaced};
	inf->ns = ns && *ns && res->namespaced ? xstrdup(ns) : NULL;
	inf->selector = label_selector && *label_selector ? xstrdup(label_selector) : NULL;
	inf->flags = flags;
	inf->fn = fn;
	inf->ctx = ctx;
	inf->live_fd = -1;
	kube_cache_init(&inf->cache);
	pthread_mutex_init(&inf->mu, NULL);
	kube_cond_init(&inf->cv);
	if (pthread_create(&inf->thread, NULL, run, inf) != 0) {
		informer_free(inf);
		*err = xstrdup("could not start the informer's thread");
		return TROVE_ERR_INTERNAL;
	}
	*out = inf;
	return 0;
}

json_t *kube_informer_get(struct kube_informer *inf, const char *ns, const char *name)
{
	char key[KUBE_KEY_MAX];
	json_t *o;
	int n;

	n = ns && *ns ? snprintf(key, sizeof(key), "%s/%s", ns, name) : snprintf(key, sizeof(key), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(key))
		return NULL;
	pthread_mutex_lock(&inf->mu);
	o = kube_cache_get(&inf->cache, key);
	pthread_mutex_unlock(&inf->mu);
	return o;
}

struct list_ctx {
	const struct kube_cache *c;
	json_t *a;
};

static void add_to(void *ctx, const char *key, const char *rv)
{
	struct list_ctx *l = ctx;
	json_t *o = kube_cache_get(l->c, key);

	(void)rv;
	if (o)
		(void)json_array_append_new(l->a, o);
}

json_t *kube_informer_list(struct kube_informer *inf)
{
	struct list_ctx l = {&inf->cache, json_array()};

	pthread_mutex_lock(&inf->mu);
	kube_cache_each(&inf->cache, add_to, &l);
	pthread_mutex_unlock(&inf->mu);
	return l.a;
}

bool kube_informer_synced(struct kube_informer *inf)
{
	bool s;

	pthread_mutex_lock(&inf->mu);
	s = inf->synced;
	pthread_mutex_unlock(&inf->mu);
	return s;
}

void kube_informer_stop(struct kube_informer *inf)
{
	if (inf == NULL)
		return;
	pthread_mutex_lock(&inf->mu);
	inf->stop = true;
	if (inf->live_fd >= 0)
		(void)shutdown(inf->live_fd, SHUT_RDWR);
	pthread_cond_broadcast(&inf->cv);
	pthread_mutex_unlock(&inf->mu);
	pthread_join(inf->thread, NULL);
	informer_free(inf);
}
