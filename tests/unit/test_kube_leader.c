/* test_kube_leader.c — leader election (src/operator/kube_leader.c)
 * against a Lease kept by a loopback fake API server (kube_fake.c) with
 * the API server's optimistic concurrency: two electors, one leader; a
 * 409 on the take-over answered by reading again; release on stop and
 * the other taking over at once; a dead holder's Lease taken only after
 * its duration passed on the local clock; a leader that cannot renew
 * stepping down after the renew deadline; MicroTime in what is written. */
#include <pthread.h>
#include <regex.h>
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
#include "kube_fake.h"
#include "operator/kube.h"

#define LEASE_PATH "/apis/coordination.k8s.io/v1/namespaces/ops/leases/trove-operator"

struct store {
	pthread_mutex_t mu;
	json_t *lease; /* NULL: none */
	int rv;
	int conflicts_to_give; /* PUTs answered 409 although current */
	int conflicts_given;
	bool failing;          /* every request 500 */
	int puts, posts;
	char last_put[4096];
};

static __attribute__((noinline)) bool same(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static bool serve(void *ctx, int fd, const struct kube_fake_req *rq)
{
	struct store *s = ctx;
	json_t *body = NULL;
	const char *rv;
	char *text, num[16];

	pthread_mutex_lock(&s->mu);
	if (s->failing) {
		kube_fake_reply(fd, 500, "{\"kind\":\"Status\",\"message\":\"etcd is down\"}");
	} else if (same(rq->method, "GET") && same(rq->path, LEASE_PATH)) {
		text = s->lease ? json_dumps(s->lease, JSON_COMPACT) : NULL;
		kube_fake_reply(fd, s->lease ? 200 : 404, text ? text : "{\"kind\":\"Status\",\"code\":404,\"message\":\"not found\"}");
		free(text);
	} else if (same(rq->method, "POST") && same(rq->path, "/apis/coordination.k8s.io/v1/namespaces/ops/leases")) {
		s->posts++;
		if (s->lease) {
			kube_fake_reply(fd, 409, "{\"kind\":\"Status\",\"code\":409,\"message\":\"already exists\"}");
		} else {
			s->lease = json_loads(rq->body, 0, NULL);
			(void)snprintf(num, sizeof(num), "%d", ++s->rv);
			json_object_set_new(json_object_get(s->lease, "metadata"), "resourceVersion", json_string(num));
			text = json_dumps(s->lease, JSON_COMPACT);
			kube_fake_reply(fd, 201, text);
			free(text);
		}
	} else if (same(rq->method, "PUT") && same(rq->path, LEASE_PATH)) {
		s->puts++;
		(void)snprintf(s->last_put, sizeof(s->last_put), "%s", rq->body);
		body = json_loads(rq->body, 0, NULL);
		rv = json_string_value(json_object_get(json_object_get(body, "metadata"), "resourceVersion"));
		(void)snprintf(num, sizeof(num), "%d", s->rv);
		if (!rv) {
			kube_fake_reply(fd, 422, "{\"kind\":\"Status\",\"code\":422,\"message\":\"resourceVersion required\"}");
		} else if (strcmp(rv, num) != 0 || s->conflicts_to_give > 0) {
			if (s->conflicts_to_give > 0)
				s->conflicts_to_give--, s->conflicts_given++;
			kube_fake_reply(fd, 409, "{\"kind\":\"Status\",\"code\":409,\"message\":\"the object has been modified\"}");
		} else {
			json_decref(s->lease);
			s->lease = json_incref(body);
			(void)snprintf(num, sizeof(num), "%d", ++s->rv);
			json_object_set_new(json_object_get(s->lease, "metadata"), "resourceVersion", json_string(num));
			text = json_dumps(s->lease, JSON_COMPACT);
			kube_fake_reply(fd, 200, text);
			free(text);
		}
	} else {
		kube_fake_reply(fd, 404, "{}");
	}
	pthread_mutex_unlock(&s->mu);
	json_decref(body);
	return true;
}

static const char *holder(struct store *s, char *into, size_t n)
{
	pthread_mutex_lock(&s->mu);
	(void)snprintf(into, n, "%s",
	               s->lease ? json_string_value(json_object_get(json_object_get(s->lease, "spec"), "holderIdentity")) : "(none)");
	pthread_mutex_unlock(&s->mu);
	return into;
}

static long long spec_int(struct store *s, const char *key)
{
	long long v;

	pthread_mutex_lock(&s->mu);
	v = json_integer_value(json_object_get(json_object_get(s->lease, "spec"), key));
	pthread_mutex_unlock(&s->mu);
	return v;
}

struct replica {
	pthread_mutex_t mu;
	int started, stopped;
};

static void on_started(void *ctx)
{
	struct replica *r = ctx;

	pthread_mutex_lock(&r->mu);
	r->started++;
	pthread_mutex_unlock(&r->mu);
}

static void on_stopped(void *ctx)
{
	struct replica *r = ctx;

	pthread_mutex_lock(&r->mu);
	r->stopped++;
	pthread_mutex_unlock(&r->mu);
}

static struct kube_leader *elect(struct kube_client *k, const char *id, struct replica *r)
{
	struct kube_leader_opts o = {.ns = "ops",
	                             .name = "trove-operator",
	                             .identity = id,
	                             .lease_seconds = 3,
	                             .renew_deadline_seconds = 2,
	                             .retry_seconds = 1,
	                             .on_started = on_started,
	                             .on_stopped = on_stopped,
	                             .ctx = r};
	struct kube_leader *l = NULL;
	char *err = NULL;

	assert_int_equal(kube_leader_start(k, &o, &l, &err), 0);
	return l;
}

static bool wait_for(struct kube_leader *l, bool want, long ms)
{
	long until = api_conn_now_ms() + ms;

	while (api_conn_now_ms() < until) {
		if (kube_leader_is_leader(l) == want)
			return true;
		usleep(20 * 1000);
	}
	return kube_leader_is_leader(l) == want;
}

static void expect_micro_time(const char *json, const char *key)
{
	regex_t re;
	char pat[128];

	(void)snprintf(pat, sizeof(pat), "\"%s\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z\"", key);
	assert_int_equal(regcomp(&re, pat, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, json, 0, NULL, 0) != 0)
		fail_msg("%s has no MicroTime %s", json, key);
	regfree(&re);
}

static void test_two_replicas(void **state)
{
	struct store s = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct replica ra = {.mu = PTHREAD_MUTEX_INITIALIZER}, rb = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct kube_leader *a, *b;
	struct kube_client *k;
	struct kube_fake *f;
	char h[128];
	long t0;
	int port;
	(void)state;

	f = kube_fake_start(serve, &s, &port);
	k = kube_fake_client(port, NULL, NULL);
	a = elect(k, "pod-a_1", &ra);
	assert_true(wait_for(a, true, 3000));
	assert_string_equal(holder(&s, h, sizeof(h)), "pod-a_1");
	assert_int_equal(s.posts, 1);
	assert_int_equal(spec_int(&s, "leaseDurationSeconds"), 3);
	assert_int_equal(spec_int(&s, "leaseTransitions"), 0);

	b = elect(k, "pod-b_2", &rb);
	/* A renews (PUT with the resourceVersion read, MicroTime); B waits. */
	usleep(3500 * 1000);
	assert_true(kube_leader_is_leader(a));
	assert_false(kube_leader_is_leader(b));
	assert_string_equal(holder(&s, h, sizeof(h)), "pod-a_1");
	assert_true(s.puts >= 2);
	expect_micro_time(s.last_put, "renewTime");
	expect_micro_time(s.last_put, "acquireTime");
	assert_non_null(strstr(s.last_put, "\"resourceVersion\""));

	/* A stops: it releases, and B takes over within a retry or two, its
	 * first attempt answered 409 although current: B reads again. */
	pthread_mutex_lock(&s.mu);
	s.conflicts_to_give = 1;
	pthread_mutex_unlock(&s.mu);
	t0 = api_conn_now_ms();
	kube_leader_stop(a);
	assert_int_equal(ra.started, 1);
	assert_int_equal(ra.stopped, 1);
	assert_true(wait_for(b, true, 4000));
	assert_true(api_conn_now_ms() - t0 < 4000);
	assert_int_equal(s.conflicts_given, 1);
	assert_string_equal(holder(&s, h, sizeof(h)), "pod-b_2");
	assert_int_equal(spec_int(&s, "leaseTransitions"), 1);
	assert_int_equal(rb.started, 1);

	/* The API server fails: B steps down after its renew deadline. */
	pthread_mutex_lock(&s.mu);
	s.failing = true;
	pthread_mutex_unlock(&s.mu);
	assert_true(wait_for(b, false, 5000));
	assert_int_equal(rb.stopped, 1);
	pthread_mutex_lock(&s.mu);
	s.failing = false;
	pthread_mutex_unlock(&s.mu);
	/* and, the server back, leads again (its own Lease, not expired). */
	assert_true(wait_for(b, true, 4000));
	assert_int_equal(rb.started, 2);
	kube_leader_stop(b);
	assert_string_equal(holder(&s, h, sizeof(h)), "");
	assert_int_equal(spec_int(&s, "leaseDurationSeconds"), 1);
	kube_client_free(k);
	kube_fake_stop(f);
	json_decref(s.lease);
}

/* A Lease held by a replica that died: taken only once its duration
 * passed since it was first seen, whatever its renewTime says. */
static void test_dead_holder(void **state)
{
	struct store s = {.mu = PTHREAD_MUTEX_INITIALIZER, .rv = 7};
	struct replica rc = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct kube_leader *c;
	struct kube_client *k;
	struct kube_fake *f;
	char h[128], *err = NULL;
	long t0, took;
	int port;
	(void)state;

	s.lease = json_loads("{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"trove-operator\","
	                     "\"namespace\":\"ops\",\"resourceVersion\":\"7\"},\"spec\":{\"holderIdentity\":\"ghost\","
	                     "\"leaseDurationSeconds\":2,\"acquireTime\":\"2030-01-01T00:00:00.000000Z\","
	                     "\"renewTime\":\"2030-01-01T00:00:00.000000Z\",\"leaseTransitions\":4}}",
	                     0, NULL);
	f = kube_fake_start(serve, &s, &port);
	k = kube_fake_client(port, NULL, NULL);
	t0 = api_conn_now_ms();
	c = elect(k, "pod-c_3", &rc);
	usleep(1200 * 1000);
	assert_false(kube_leader_is_leader(c));
	assert_true(wait_for(c, true, 4000));
	took = api_conn_now_ms() - t0;
	assert_true(took >= 2000);
	assert_string_equal(holder(&s, h, sizeof(h)), "pod-c_3");
	assert_int_equal(spec_int(&s, "leaseTransitions"), 5);
	assert_int_equal(spec_int(&s, "leaseDurationSeconds"), 3);
	kube_leader_stop(c);
	kube_client_free(k);
	kube_fake_stop(f);
	json_decref(s.lease);

	/* Options that cannot work are refused. */
	k = kube_fake_client(1, NULL, NULL);
	{
		struct kube_leader_opts o = {.ns = "ops", .name = "x", .identity = "me", .lease_seconds = 5,
		                             .renew_deadline_seconds = 6, .retry_seconds = 1};
		assert_int_equal(kube_leader_start(k, &o, &c, &err), TROVE_ERR_INVALID);
		free(err);
		o.renew_deadline_seconds = 3;
		o.identity = "";
		assert_int_equal(kube_leader_start(k, &o, &c, &err), TROVE_ERR_INVALID);
		free(err);
	}
	assert_false(kube_leader_is_leader(NULL));
	kube_leader_stop(NULL);
	kube_client_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_replicas),
	    cmocka_unit_test(test_dead_holder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
