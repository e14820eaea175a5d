/* kube_leader.c — leader election over a coordination.k8s.io/v1 Lease
 * (kube_leader_start in kube.h), with client-go's leaderelection rules:
 *
 *   - every retry period, read the Lease; create it when there is none;
 *   - a Lease whose spec changed since it was last read is "observed"
 *     again at the local monotonic clock; one held by another identity is
 *     taken only when leaseDurationSeconds passed since that observation
 *     (the holder's clock is never compared with ours);
 *   - taking or renewing is a PUT with the resourceVersion read, so of
 *     two replicas trying at once one gets 409 and reads again;
 *   - a leader that has not renewed within the renew deadline stops
 *     leading (each request is bounded by that deadline too);
 *   - on stop a leader releases: holderIdentity cleared and
 *     leaseDurationSeconds 1, so another replica takes over at once.
 * acquireTime and renewTime are MicroTime (six fractional digits). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/net_conn.h"
#include "clock.h"
#include "err.h"
#include "operator/kube.h"
#include "operator/kube_int.h"
#include "rand.h"

#include "banned.h"

struct kube_leader {
	struct kube_client *k;
	struct kube_leader_opts o;
	char *ns, *name, *identity;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, leading;
	json_t *observed; /* the Lease's spec as last read */
	long observed_ms; /* when it last changed, monotonic */
	long renewed_ms;  /* when this replica last renewed */
};

static void now_micro(char t[32])
{
	kube_micro_time((long long)(clock_realtime_ns() / 1000), t);
}

static char *lease_path(struct kube_leader *l, bool item)
{
	return kube_path(&KUBE_LEASES, l->ns, item ? l->name : NULL, NULL, NULL);
}

/* The spec this replica writes, from the one read (NULL: none yet). */
static json_t *our_spec(struct kube_leader *l, const json_t *old, bool release)
{
	char now[32];
	const char *holder = json_string_value(json_object_get(old, "holderIdentity"));
	json_int_t transitions = json_integer_value(json_object_get(old, "leaseTransitions"));
	const json_t *acquired = json_object_get(old, "acquireTime");
	bool ours = holder && strcmp(holder, l->identity) == 0;
	json_t *spec;

	now_micro(now);
	spec = json_pack("{s:s, s:i, s:s, s:I}", "holderIdentity", release ? "" : l->identity, "leaseDurationSeconds",
	                 release ? 1 : l->o.lease_seconds, "renewTime", now, "leaseTransitions",
	                 (json_int_t)(old && !ours && !release ? transitions + 1 : transitions));
	if (ours && json_is_string(acquired))
		json_object_set(spec, "acquireTime", (json_t *)acquired);
	else
		json_object_set_new(spec, "acquireTime", json_string(now));
	return spec;
}

/* One attempt to acquire or renew. true when this replica holds the
 * Lease now. */
static bool try_acquire_or_renew(struct kube_leader *l, long timeout_ms)
{
	struct kube_resp r;
	json_t *lease = NULL, *spec, *obj = NULL;
	const char *holder;
	char *path = lease_path(l, true);
	long now = api_conn_now_ms(), dur;
	bool ok = false;

	kube_resp_init(&r);
	if (kube_request_within(l->k, "GET", path, NULL, NULL, timeout_ms, &r) != 0)
		goto out;
	if (r.status == 404) {
		spec = our_spec(l, NULL, false);
		obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
		                "metadata", "name", l->name, "namespace", l->ns, "spec", spec);
		free(path);
		path = lease_path(l, false);
		ok = kube_request_within(l->k, "POST", path, obj, NULL, timeout_ms, &r) == 0 && r.status / 100 == 2;
		if (ok) {
			json_decref(l->observed);
			l->observed = json_incref(spec);
			l->observed_ms = now;
		}
		goto out;
	}
	if (r.status != 200 || !json_is_object(r.body))
		goto out;
	lease = json_incref(r.body);
	spec = json_object_get(lease, "spec");
	if (!json_is_object(spec)) {
		json_object_set_new(lease, "spec", json_object());
		spec = json_object_get(lease, "spec");
	}
	if (l->observed == NULL || !json_equal(spec, l->observed)) {
		json_decref(l->observed);
		l->observed = json_deep_copy(spec);
		l->observed_ms = now;
	}
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	dur = (long)json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	if (dur <= 0)
		dur = l->o.lease_seconds;
	if (holder && *holder && strcmp(holder, l->identity) != 0 && l->observed_ms + dur * 1000 > now)
		goto out; /* held by another, not expired by our clock */
	json_object_set_new(lease, "spec", our_spec(l, spec, false));
	ok = kube_request_within(l->k, "PUT", path, lease, NULL, timeout_ms, &r) == 0 && r.status == 200;
	if (ok) { /* what we wrote is what we observe */
		json_decref(l->observed);
		l->observed = json_deep_copy(json_object_get(lease, "spec"));
		l->observed_ms = now;
	}
out:
	json_decref(lease);
	json_decref(obj);
	kube_resp_release(&r);
	free(path);
	return ok;
}

/* A leader's Lease handed back on stop. */
static void release(struct kube_leader *l)
{
	struct kube_resp r;
	json_t *lease;
	const char *holder;
	char *path = lease_path(l, true);

	kube_resp_init(&r);
	if (kube_request_within(l->k, "GET", path, NULL, NULL, l->o.renew_deadline_seconds * 1000L, &r) == 0 &&
	    r.status == 200 && json_is_object(r.body)) {
		holder = json_string_value(json_object_get(json_object_get(r.body, "spec"), "holderIdentity"));
		if (holder && strcmp(holder, l->identity) == 0) {
			lease = json_incref(r.body);
			json_object_set_new(lease, "spec", our_spec(l, json_object_get(lease, "spec"), true));
			(void)kube_request_within(l->k, "PUT", path, lease, NULL, l->o.renew_deadline_seconds * 1000L, &r);
			json_decref(lease);
		}
	}
	kube_resp_release(&r);
	free(path);
}

static bool stopping(struct kube_leader *l)
{
	return kube_stopped(&l->mu, &l->stop);
}

static void set_leading(struct kube_leader *l, bool on)
{
	pthread_mutex_lock(&l->mu);
	l->leading = on;
	pthread_mutex_unlock(&l->mu);
	if (on && l->o.on_started)
		l->o.on_started(l->o.ctx);
	if (!on && l->o.on_stopped)
		l->o.on_stopped(l->o.ctx);
}

static void *run(void *arg)
{
	struct kube_leader *l = arg;
	long retry_ms = l->o.retry_seconds * 1000L, deadline_ms = l->o.renew_deadline_seconds * 1000L, now, wait;
	unsigned char rnd = 0;
	bool ok, leading = false;

	while (!stopping(l)) {
		ok = try_acquire_or_renew(l, deadline_ms);
		now = api_conn_now_ms();
		if (ok)
			l->renewed_ms = now;
		if (!leading && ok)
			set_leading(l, leading = true);
		else if (leading && !ok && now - l->renewed_ms >= deadline_ms)
			set_leading(l, leading = false);
		/* Followers wait a little longer, at random (client-go's jitter
		 * of 1.2), so replicas do not ask in step. */
		(void)rand_bytes(&rnd, 1);
		wait = leading ? retry_ms : retry_ms + retry_ms * rnd / 1275;
		kube_wait(&l->mu, &l->cv, &l->stop, wait);
	}
	if (leading) {
		release(l);
		set_leading(l, false);
	}
	return NULL;
}

static void leader_free(struct kube_leader *l)
{
	json_decref(l->observed);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l);
}

int kube_leader_start(struct kube_client *k, const struct kube_leader_opts *o, struct kube_leader **out,
                      char **err)
{
	struct kube_leader *l;

	*out = NULL;
	*err = NULL;
	if (k == NULL || o == NULL || !o->ns || !*o->ns || !o->name || !*o->name || !o->identity || !*o->identity) {
		*err = xstrdup("leader election needs the Lease's namespace and name and this replica's identity");
		return TROVE_ERR_INVALID;
	}
	l = xcalloc(1, sizeof(*l));
	l->k = k;
	l->o = *o;
	if (l->o.lease_seconds <= 0)
		l->o.lease_seconds = 15;
	if (l->o.renew_deadline_seconds <= 0)
		l->o.renew_deadline_seconds = 10;
	if (l->o.retry_seconds <= 0)
		l->o.retry_seconds = 2;
	if (l->o.renew_deadline_seconds >= l->o.lease_seconds || l->o.retry_seconds >= l->o.renew_deadline_seconds) {
		free(l);
		*err = xstrdup("leader election needs retry < renew deadline < lease duration");
		return TROVE_ERR_INVALID;
	}
	l->ns = xstrdup(o->ns);
	l->name = xstrdup(o->name);
	l->identity = xstrdup(o->identity);
	l->o.ns = l->ns, l->o.name = l->name, l->o.identity = l->identity;
	pthread_mutex_init(&l->mu, NULL);
	kube_cond_init(&l->cv);
	if (pthread_create(&l->thread, NULL, run, l) != 0) {
		leader_free(l);
		*err = xstrdup("could not start the leader elector's thread");
		return TROVE_ERR_INTERNAL;
	}
	*out = l;
	return 0;
}

bool kube_leader_is_leader(struct kube_leader *l)
{
	bool on;

	if (l == NULL)
		return false;
	pthread_mutex_lock(&l->mu);
	on = l->leading;
	pthread_mutex_unlock(&l->mu);
	return on;
}

void kube_leader_stop(struct kube_leader *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	leader_free(l);
}
