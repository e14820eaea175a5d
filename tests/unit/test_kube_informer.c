/* test_kube_informer.c — informers (src/operator/kube_informer.c,
 * kube_watch.c, kube_cache.c) against a loopback fake API server
 * (kube_fake.c) that plays a script: a list in two pages, a chunked watch
 * whose events are cut mid-line and which is dropped without its last
 * chunk, a resumed watch that gets a 410 ERROR event, an event that is
 * not JSON, a 410 answer, and a watch that hangs until the informer is
 * stopped. Also the watch decoder alone and the cache. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/net_conn.h"
#include "err.h"
#include "json_items.h"
#include "kube_fake.h"
#include "operator/kube.h"
#include "operator/kube_int.h"

/* ---- the decoder alone ---------------------------------------------------- */

struct seen {
	char types[64];
	int n;
	int stop_at; /* return 7 at this event (0: never) */
};

static int note(void *ctx, enum kube_watch_type type, json_t *obj)
{
	struct seen *s = ctx;

	assert_true(json_is_object(obj));
	s->types[s->n++] = "AMDBE"[type];
	return s->stop_at && s->n == s->stop_at ? 7 : 0;
}

static void test_watch_decoder(void **state)
{
	static const char stream[] = "{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n"
	                             "\n"
	                             "{\"type\":\"MODIFIED\",\"object\":{}}\r\n"
	                             "{\"type\":\"DELETED\",\"object\":{}}\n"
	                             "{\"type\":\"BOOKMARK\",\"object\":{}}\n"
	                             "{\"type\":\"ERROR\",\"object\":{\"code\":410}}\n";
	struct kube_watch_dec d;
	struct seen s;
	const char *why = NULL;
	size_t step, i;
	(void)state;

	/* In every piece size, the same events. */
	for (step = 1; step <= sizeof(stream); step++) {
		memset(&s, 0, sizeof(s));
		kube_watch_init(&d);
		for (i = 0; i < sizeof(stream) - 1; i += step)
			assert_int_equal(kube_watch_feed(&d, stream + i, i + step < sizeof(stream) - 1 ? step : sizeof(stream) - 1 - i,
			                                 note, &s, &why),
			                 0);
		assert_string_equal(s.types, "AMDBE");
		kube_watch_release(&d);
	}
	kube_watch_init(&d);
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(kube_watch_feed(&d, stream, sizeof(stream) - 1, note, &s, &why), 7);
	assert_int_equal(s.n, 2);
	kube_watch_release(&d);

	kube_watch_init(&d);
	memset(&s, 0, sizeof(s));
	assert_int_equal(kube_watch_feed(&d, "not json\n", 9, note, &s, &why), TROVE_ERR_INVALID);
	assert_non_null(why);
	assert_int_equal(kube_watch_feed(&d, "{\"type\":\"RENAMED\",\"object\":{}}\n", 32, note, &s, &why),
	                 TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "unknown type"));
	assert_int_equal(kube_watch_feed(&d, "{\"type\":\"ADDED\",\"object\":[]}\n", 29, note, &s, &why),
	                 TROVE_ERR_INVALID);
	assert_int_equal(kube_watch_feed(&d, "{\"type\":\"ADDED\"}\n", 17, note, &s, &why), TROVE_ERR_INVALID);
	assert_int_equal(s.n, 0);
	kube_watch_release(&d);

	/* A line that never ends stops at the cap. */
	{
		size_t big = (size_t)1 << 20, total = 0;
		char *junk = malloc(big);
		int r = 0;
		memset(junk, 'x', big);
		kube_watch_init(&d);
		while (r == 0 && total <= KUBE_MAX_EVENT) {
			r = kube_watch_feed(&d, junk, big, note, &s, &why);
			total += big;
		}
		assert_int_equal(r, TROVE_ERR_TOO_LARGE);
		kube_watch_release(&d);
		free(junk);
	}
}

static void count_entry(void *ctx, const char *key, const char *rv)
{
	(void)key;
	(void)rv;
	++*(int *)ctx;
}

static void test_cache(void **state)
{
	struct kube_cache c;
	char key[KUBE_KEY_MAX], name[32];
	const char *rv;
	json_t *o;
	int i, seen;
	(void)state;

	o = json_pack("{s:{s:s, s:s}}", "metadata", "namespace", "ns", "name", "n");
	assert_true(kube_obj_key(o, key));
	assert_string_equal(key, "ns/n");
	json_decref(o);
	o = json_pack("{s:{s:s}}", "metadata", "name", "cluster-wide");
	assert_true(kube_obj_key(o, key));
	assert_string_equal(key, "cluster-wide");
	json_decref(o);
	o = json_pack("{s:{s:s}}", "metadata", "namespace", "ns");
	assert_false(kube_obj_key(o, key));
	json_decref(o);
	o = json_pack("{s:{s:s}}", "metadata", "name", "a/b");
	assert_false(kube_obj_key(o, key));
	json_decref(o);

	kube_cache_init(&c);
	for (i = 0; i < 1000; i++) {
		(void)snprintf(name, sizeof(name), "ns/o%d", i);
		o = json_pack("{s:{s:s, s:s}, s:i}", "metadata", "name", name + 3, "resourceVersion", name + 4, "n", i);
		assert_int_equal(kube_cache_put(&c, name, o), 0);
		json_decref(o);
	}
	o = json_pack("{s:i}", "n", -5); /* no metadata: no resourceVersion */
	assert_int_equal(kube_cache_put(&c, "ns/o5", o), 0);
	json_decref(o);
	assert_int_equal(c.n, 1000);
	o = kube_cache_get(&c, "ns/o5");
	assert_int_equal(json_integer_value(json_object_get(o, "n")), -5);
	json_decref(o);
	assert_true(kube_cache_find(&c, "ns/o5", &rv));
	assert_null(rv);
	assert_true(kube_cache_find(&c, "ns/o999", &rv));
	assert_string_equal(rv, "999");
	o = kube_cache_get(&c, "ns/o999");
	assert_int_equal(json_integer_value(json_object_get(o, "n")), 999);
	/* each get is the caller's own copy */
	json_object_set_new(o, "n", json_integer(0));
	json_decref(o);
	o = kube_cache_get(&c, "ns/o999");
	assert_int_equal(json_integer_value(json_object_get(o, "n")), 999);
	json_decref(o);
	assert_true(kube_cache_remove(&c, "ns/o7"));
	assert_false(kube_cache_remove(&c, "ns/o7"));
	assert_null(kube_cache_get(&c, "ns/o7"));
	assert_false(kube_cache_find(&c, "ns/o7", &rv));
	assert_null(rv);
	assert_int_equal(c.n, 999);
	seen = 0;
	kube_cache_each(&c, count_entry, &seen);
	assert_int_equal(seen, 999);
	kube_cache_release(&c);
}

/* What goes in comes out: nesting, order, numbers, escapes and UTF-8. */
static void test_cache_round_trip(void **state)
{
	static const char *text = "{\"metadata\":{\"name\":\"n\",\"namespace\":\"ns\",\"resourceVersion\":\"42\","
	                          "\"labels\":{\"b\":\"1\",\"a\":\"\u00e9\\\"\\n\"}},\"spec\":{\"z\":[1,-2.5,1e300,"
	                          "true,null,{}],\"big\":9007199254740993,\"s\":\"\\ud83d\\ude00 </script>\"}}";
	struct kube_cache c;
	json_t *in = json_loads(text, 0, NULL), *out;
	char *a, *b;
	(void)state;

	assert_non_null(in);
	kube_cache_init(&c);
	assert_int_equal(kube_cache_put(&c, "ns/n", in), 0);
	out = kube_cache_get(&c, "ns/n");
	assert_non_null(out);
	assert_true(json_equal(in, out));
	a = json_dumps(in, 0);
	b = json_dumps(out, 0);
	assert_string_equal(a, b); /* keys in the same order */
	free(a);
	free(b);
	json_decref(out);
	/* a replacement takes the old one's place */
	json_object_set_new(json_object_get(in, "metadata"), "resourceVersion", json_string("43"));
	assert_int_equal(kube_cache_put(&c, "ns/n", in), 0);
	assert_int_equal(c.n, 1);
	out = kube_cache_get(&c, "ns/n");
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion")), "43");
	json_decref(out);
	json_decref(in);
	kube_cache_release(&c);
}

/* ---- a list page read item by item (src/lib/json_items.c) ------------- */

struct items_seen {
	char names[8][32];
	int n, stop_at;
};

static int see_item(void *ctx, json_t *item)
{
	struct items_seen *s = ctx;

	if (s->n < 8)
		(void)snprintf(s->names[s->n], sizeof(s->names[0]), "%s", json_string_value(json_object_get(item, "n")));
	return ++s->n == s->stop_at ? 7 : 0;
}

static int read_items(const char *text, struct items_seen *s, json_t **rest)
{
	memset(s, 0, sizeof(*s));
	return json_items_read(text, strlen(text), "items", 0, see_item, s, rest);
}

static void test_list_items(void **state)
{
	static const char *bad[] = {
	    "", "[]", "{", "{\"items\":[{\"n\":\"a\"}", "{\"items\":[{\"n\":\"a\"},]}", "{\"items\":{}}",
	    "{\"items\":[1 2]}", "{\"a\":1 \"items\":[]}", "{\"a\":1,}", "{1:2}", "{\"a\" 1}", "{} x",
	    "{\"items\":[]}{}", "{\"a\":tru}", "{\"items\":[\"\\u0000\"]}",
	};
	struct items_seen s;
	json_t *rest;
	size_t i;
	(void)state;

	assert_int_equal(read_items(" {\"kind\":\"ThingList\",\"apiVersion\":\"x/v1\",\"metadata\":{\"resourceVersion\":\"9\"},"
	                            "\"items\" : [ {\"n\":\"a\"} , {\"n\":\"b\",\"x\":[1,{\"y\":null}]},{\"n\":\"c\"}]}\n",
	                            &s, &rest),
	                 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[0], "a");
	assert_string_equal(s.names[1], "b");
	assert_string_equal(s.names[2], "c");
	assert_string_equal(json_string_value(json_object_get(rest, "kind")), "ThingList");
	assert_string_equal(json_string_value(json_object_get(json_object_get(rest, "metadata"), "resourceVersion")),
	                    "9");
	assert_null(json_object_get(rest, "items"));
	assert_int_equal(json_object_size(rest), 3);
	json_decref(rest);
	/* items first, an escaped key, numbers and literals beside it */
	assert_int_equal(read_items("{\"it\\u0065ms\":[{\"n\":\"z\"}],\"kind\":\"L\",\"a\":-1.5e2,\"b\":true,\"c\":null}",
	                            &s, &rest),
	                 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "z");
	assert_string_equal(json_string_value(json_object_get(rest, "kind")), "L");
	assert_int_equal(json_object_size(rest), 4);
	json_decref(rest);
	/* empty, null or absent items */
	assert_int_equal(read_items("{\"items\":[]}", &s, NULL), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(read_items("{\"items\":null}", &s, NULL), 0);
	assert_int_equal(read_items("{}", &s, NULL), 0);
	assert_int_equal(read_items("{\"kind\":\"L\"}", &s, NULL), 0);
	assert_int_equal(s.n, 0);
	/* the function's non-zero return stops the read */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(json_items_read("{\"items\":[{},{},{}]}", 20, "items", 0, see_item, &s, NULL), 7);
	assert_int_equal(s.n, 2);
	/* no function: the items are read and dropped */
	assert_int_equal(json_items_read("{\"items\":[{},{}],\"k\":1}", 23, "items", 0, NULL, NULL, &rest), 0);
	assert_int_equal(json_integer_value(json_object_get(rest, "k")), 1);
	json_decref(rest);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rest = json_true();
		assert_int_equal(read_items(bad[i], &s, &rest), TROVE_ERR_INVALID);
		assert_null(rest);
	}
}

/* ---- the scripted server -------------------------------------------------- */

struct world {
	struct kube_fake *f;
	pthread_mutex_t mu;
	int phase, lists, watches;
	char watch_paths[16][2048];
	char list_paths[16][2048];
	bool secrets;
};

#define OBJ(name, rv) "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"" name "\",\"resourceVersion\":\"" rv "\"}}"
#define EV(type, name, rv) "{\"type\":\"" type "\",\"object\":" OBJ(name, rv) "}\n"

static void list_answer(struct world *w, int fd, const char *path)
{
	bool second = strstr(path, "continue=") != NULL;

	if (w->secrets) {
		kube_fake_reply(fd, 200, "{\"kind\":\"SecretList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"3\"},"
		                         "\"items\":[{\"metadata\":{\"namespace\":\"ns\",\"name\":\"s\",\"resourceVersion\":\"2\","
		                         "\"managedFields\":[{\"manager\":\"kubectl\"}],\"annotations\":{\"keep\":\"me\","
		                         "\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\"}},"
		                         "\"data\":{\"k\":\"c2VjcmV0\"}}]}");
		return;
	}
	if (w->phase == 0 && !second)
		kube_fake_reply(fd, 200, "{\"kind\":\"ThingList\",\"apiVersion\":\"x/v1\",\"metadata\":{\"resourceVersion\":\"10\","
		                         "\"continue\":\"tok/1\"},\"items\":[" OBJ("a", "5") "]}");
	else if (w->phase == 0)
		kube_fake_reply(fd, 200, "{\"kind\":\"ThingList\",\"apiVersion\":\"x/v1\",\"metadata\":{\"resourceVersion\":\"99\"},"
		                         "\"items\":[" OBJ("b", "6") "]}");
	else
		kube_fake_reply(fd, 200, "{\"kind\":\"ThingList\",\"apiVersion\":\"x/v1\",\"metadata\":{\"resourceVersion\":\"30\"},"
		                         "\"items\":[" OBJ("a", "20") "," OBJ("c", "21") "]}");
}

/* Holds the watch open until the fake stops. */
static bool hang(struct world *w)
{
	while (!kube_fake_stopping(w->f))
		usleep(10 * 1000);
	return false;
}

static bool play(void *ctx, int fd, const struct kube_fake_req *rq)
{
	struct world *w = ctx;
	int n;

	pthread_mutex_lock(&w->mu);
	if (!strstr(rq->path, "watch=1")) {
		n = w->lists++;
		if (n < 16)
			(void)snprintf(w->list_paths[n], sizeof(w->list_paths[n]), "%s", rq->path);
		list_answer(w, fd, rq->path);
		pthread_mutex_unlock(&w->mu);
		return true;
	}
	n = w->watches++;
	if (n < 16)
		(void)snprintf(w->watch_paths[n], sizeof(w->watch_paths[n]), "%s", rq->path);
	pthread_mutex_unlock(&w->mu);
	if (w->secrets) {
		kube_fake_chunked_head(fd);
		return hang(w);
	}
	switch (n) {
	case 0: /* events cut anywhere, then the connection drops without the last chunk */
		kube_fake_chunked_head(fd);
		kube_fake_chunk(fd, EV("ADDED", "x", "11") "{\"type\":\"MODIF");
		kube_fake_chunk(fd, "IED\",\"object\":" OBJ("a", "12") "}\n" EV("BOOKMARK", "", "13"));
		kube_fake_chunk(fd, EV("DELETED", "b", "14") "{\"type\":\"ADDED\",\"obj");
		return false;
	case 1: /* history compacted */
		pthread_mutex_lock(&w->mu);
		w->phase = 1;
		pthread_mutex_unlock(&w->mu);
		kube_fake_chunked_head(fd);
		kube_fake_chunk(fd, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n");
		kube_fake_chunk_end(fd);
		return true;
	case 2: /* an event that cannot be read */
		kube_fake_chunked_head(fd);
		kube_fake_chunk(fd, "this is not an event\n");
		kube_fake_chunk_end(fd);
		return true;
	case 3:
		kube_fake_reply(fd, 410, "{\"kind\":\"Status\",\"code\":410,\"message\":\"too old resource version\"}");
		return true;
	default:
		kube_fake_chunked_head(fd);
		kube_fake_chunk(fd, EV("BOOKMARK", "", "31"));
		return hang(w);
	}
}

struct log {
	pthread_mutex_t mu;
	char lines[64][128];
	int n;
	bool saw_data, saw_managed;
};

static void record(void *ctx, enum kube_event ev, const json_t *obj)
{
	struct log *l = ctx;
	const json_t *md = json_object_get(obj, "metadata");

	pthread_mutex_lock(&l->mu);
	if (l->n < 64)
		(void)snprintf(l->lines[l->n++], 128, "%s %s/%s %s", ev == KUBE_ADDED ? "ADDED" : ev == KUBE_MODIFIED ? "MODIFIED" : "DELETED",
		               json_string_value(json_object_get(md, "namespace")), json_string_value(json_object_get(md, "name")),
		               json_string_value(json_object_get(md, "resourceVersion")));
	if (json_object_get(obj, "data"))
		l->saw_data = true;
	if (json_object_get(md, "managedFields"))
		l->saw_managed = true;
	pthread_mutex_unlock(&l->mu);
}

static int count(struct log *l)
{
	int n;

	pthread_mutex_lock(&l->mu);
	n = l->n;
	pthread_mutex_unlock(&l->mu);
	return n;
}

static bool logged(struct log *l, const char *line, int from, int to)
{
	int i;

	for (i = from; i < to; i++)
		if (strcmp(l->lines[i], line) == 0)
			return true;
	return false;
}

static int watches(struct world *w)
{
	int n;

	pthread_mutex_lock(&w->mu);
	n = w->watches;
	pthread_mutex_unlock(&w->mu);
	return n;
}

static void test_list_watch_relist(void **state)
{
	static const struct kube_resource things = {"x.test", "v1", "things", true};
	struct world w = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct log l = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct kube_informer *inf = NULL;
	struct kube_client *k;
	char *err = NULL;
	json_t *o;
	long t0;
	int port, i;
	(void)state;

	w.f = kube_fake_start(play, &w, &port);
	k = kube_fake_client(port, NULL, NULL);
	assert_int_equal(kube_informer_start(k, &things, "ns", "app=web", 0, record, &l, &inf, &err), 0);
	for (i = 0; i < 500 && (watches(&w) < 5 || count(&l) < 8); i++)
		usleep(20 * 1000);
	assert_true(kube_informer_synced(inf));
	assert_int_equal(count(&l), 8);
	/* The first list, in two pages, delivered as ADDED. */
	assert_true(logged(&l, "ADDED ns/a 5", 0, 2));
	assert_true(logged(&l, "ADDED ns/b 6", 0, 2));
	/* The watch's events, in order, a line cut across chunks included. */
	assert_string_equal(l.lines[2], "ADDED ns/x 11");
	assert_string_equal(l.lines[3], "MODIFIED ns/a 12");
	assert_string_equal(l.lines[4], "DELETED ns/b 14");
	/* After the 410 ERROR event: the difference of a new list. */
	assert_true(logged(&l, "MODIFIED ns/a 20", 5, 8));
	assert_true(logged(&l, "ADDED ns/c 21", 5, 8));
	assert_true(logged(&l, "DELETED ns/x 11", 5, 8));

	/* The requests made. */
	assert_non_null(strstr(w.list_paths[0], "/apis/x.test/v1/namespaces/ns/things?limit=500&labelSelector=app%3Dweb"));
	assert_non_null(strstr(w.list_paths[1], "&continue=tok%2F1"));
	assert_non_null(strstr(w.watch_paths[0], "watch=1&allowWatchBookmarks=true&timeoutSeconds="));
	assert_non_null(strstr(w.watch_paths[0], "&resourceVersion=10&labelSelector=app%3Dweb"));
	i = atoi(strstr(w.watch_paths[0], "timeoutSeconds=") + 15);
	assert_true(i >= 300 && i < 600);
	/* Resumed after the drop from the last event's version. */
	assert_non_null(strstr(w.watch_paths[1], "resourceVersion=14&"));
	assert_non_null(strstr(w.watch_paths[2], "resourceVersion=30&"));
	/* The unreadable event and the 410 answer each brought a list. */
	assert_non_null(strstr(w.watch_paths[3], "resourceVersion=30&"));
	assert_non_null(strstr(w.watch_paths[4], "resourceVersion=30&"));
	assert_int_equal(w.lists, 2 + 3);

	o = kube_informer_get(inf, "ns", "a");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion")), "20");
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "Thing");
	assert_string_equal(json_string_value(json_object_get(o, "apiVersion")), "x/v1");
	json_decref(o);
	assert_null(kube_informer_get(inf, "ns", "x"));
	o = kube_informer_list(inf);
	assert_int_equal(json_array_size(o), 2);
	json_decref(o);

	/* Stopping wakes the thread out of its hanging watch at once. */
	t0 = api_conn_now_ms();
	kube_informer_stop(inf);
	assert_true(api_conn_now_ms() - t0 < 1000);
	kube_fake_stop(w.f);
	kube_client_free(k);
}

static void test_keep_metadata(void **state)
{
	struct world w = {.mu = PTHREAD_MUTEX_INITIALIZER, .secrets = true};
	struct log l = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct kube_informer *inf = NULL;
	struct kube_client *k;
	char *err = NULL;
	json_t *o;
	int port, i;
	(void)state;

	w.f = kube_fake_start(play, &w, &port);
	k = kube_fake_client(port, NULL, NULL);
	assert_int_equal(kube_informer_start(k, &KUBE_SECRETS, NULL, NULL, KUBE_INFORMER_KEEP_METADATA, record, &l, &inf,
	                                     &err),
	                 0);
	for (i = 0; i < 250 && (count(&l) < 1 || watches(&w) < 1); i++)
		usleep(20 * 1000);
	assert_string_equal(l.lines[0], "ADDED ns/s 2");
	assert_true(l.saw_data);
	assert_non_null(strstr(w.list_paths[0], "/api/v1/secrets?limit=500"));
	o = kube_informer_get(inf, "ns", "s");
	assert_non_null(o);
	assert_null(json_object_get(o, "data"));
	assert_null(json_object_get(json_object_get(o, "metadata"), "managedFields"));
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "Secret");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")), "s");
	json_decref(o);
	kube_informer_stop(inf);
	kube_fake_stop(w.f);
	kube_client_free(k);
}

/* Every informer's cache leaves out managedFields and kubectl's
 * last-applied-configuration annotation; the function sees them. */
static void test_cache_drops_bookkeeping(void **state)
{
	struct world w = {.mu = PTHREAD_MUTEX_INITIALIZER, .secrets = true};
	struct log l = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct kube_informer *inf = NULL;
	struct kube_client *k;
	char *err = NULL;
	json_t *o, *md;
	int port, i;
	(void)state;

	w.f = kube_fake_start(play, &w, &port);
	k = kube_fake_client(port, NULL, NULL);
	assert_int_equal(kube_informer_start(k, &KUBE_SECRETS, NULL, NULL, 0, record, &l, &inf, &err), 0);
	for (i = 0; i < 250 && (count(&l) < 1 || watches(&w) < 1); i++)
		usleep(20 * 1000);
	assert_string_equal(l.lines[0], "ADDED ns/s 2");
	assert_true(l.saw_managed);
	o = kube_informer_get(inf, "ns", "s");
	assert_non_null(o);
	md = json_object_get(o, "metadata");
	assert_null(json_object_get(md, "managedFields"));
	assert_null(json_object_get(json_object_get(md, "annotations"), "kubectl.kubernetes.io/last-applied-configuration"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(md, "annotations"), "keep")), "me");
	assert_string_equal(json_string_value(json_object_get(md, "resourceVersion")), "2");
	assert_non_null(json_object_get(o, "data"));
	json_decref(o);
	kube_informer_stop(inf);
	kube_fake_stop(w.f);
	kube_client_free(k);
}

/* Nothing listening: the informer keeps trying (backing off) and stops
 * at once when told. */
static void test_unreachable(void **state)
{
	struct log l = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct kube_informer *inf = NULL;
	struct kube_client *k = kube_fake_client(1, NULL, NULL);
	char *err = NULL;
	long t0;
	(void)state;

	assert_int_equal(kube_informer_start(k, &KUBE_SECRETS, "ns", NULL, 0, record, &l, &inf, &err), 0);
	usleep(600 * 1000);
	assert_false(kube_informer_synced(inf));
	assert_int_equal(count(&l), 0);
	t0 = api_conn_now_ms();
	kube_informer_stop(inf);
	assert_true(api_conn_now_ms() - t0 < 1000);
	kube_informer_stop(NULL);
	assert_int_equal(kube_informer_start(k, &(struct kube_resource){"", NULL, NULL, true}, NULL, NULL, 0, record, &l,
	                                     &inf, &err),
	                 TROVE_ERR_INVALID);
	free(err);
	kube_client_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_watch_decoder),     cmocka_unit_test(test_cache), cmocka_unit_test(test_cache_round_trip),
	    cmocka_unit_test(test_list_items),
	    cmocka_unit_test(test_list_watch_relist), cmocka_unit_test(test_keep_metadata),
	    cmocka_unit_test(test_cache_drops_bookkeeping),
	    cmocka_unit_test(test_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
