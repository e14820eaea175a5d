/* op_runtime.c — the operator's runtime: informers → work queue →
 * workers → op_reconcile, under leader election (operator.h, op.h).
 *
 * Threads: one per informer (six: the five kinds and the managed
 * Secrets), the elector's, the probe/metrics listener's, and the workers;
 * nothing per object. Every informer runs on every replica, so a standby
 * has warm caches and takes over at once; the workers start only when the
 * replica leads. Events become keys on the one work queue
 * ("<kind digit>/<namespace>/<name>"; neither a namespace nor a name can
 * hold '/'), so a burst of events for one object is one reconcile. Events
 * pass VSO's predicates first (op_predicate.h): an update of status alone
 * (the operator's own status writes) queues nothing. A change to a
 * VaultConnection's or VaultAuth's spec (its generation) also queues every
 * secret resource, as any of them may use it; the queue's dedup makes
 * that one reconcile each.
 *
 * Leadership lost while running ends the process at once with status 1,
 * as controller-runtime does: a replica that cannot renew its Lease must
 * stop writing before another replica's Lease starts, and in-flight
 * reconciles cannot be recalled any faster. Kubernetes restarts the pod,
 * which then stands by with fresh state. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "operator/op_http.h"
#include "operator/op_predicate.h"
#include "operator/op_queue.h"
#include "operator/operator.h"
#include "rand.h"

#include "banned.h"

#define KEY_MAX 512

const struct kube_resource OP_RESOURCES[OP_NKINDS] = {
	[OP_VAULT_CONNECTION] = { "secrets.hashicorp.com", "v1beta1", "vaultconnections", true },
	[OP_VAULT_AUTH] = { "secrets.hashicorp.com", "v1beta1", "vaultauths", true },
	[OP_STATIC_SECRET] = { "secrets.hashicorp.com", "v1beta1", "vaultstaticsecrets", true },
	[OP_DYNAMIC_SECRET] = { "secrets.hashicorp.com", "v1beta1", "vaultdynamicsecrets", true },
	[OP_PKI_SECRET] = { "secrets.hashicorp.com", "v1beta1", "vaultpkisecrets", true },
};

const char *const OP_KIND_NAMES[OP_NKINDS] = {
	[OP_VAULT_CONNECTION] = "VaultConnection",
	[OP_VAULT_AUTH] = "VaultAuth",
	[OP_STATIC_SECRET] = "VaultStaticSecret",
	[OP_DYNAMIC_SECRET] = "VaultDynamicSecret",
	[OP_PKI_SECRET] = "VaultPKISecret",
};

struct inf_ctx {
	struct op *o;
	enum op_kind kind;
};

struct op_runtime {
	struct op_options opt;
	struct kube_config cfg;
	struct op_queue *q;
	struct op_metrics *m;
	struct op_http *http;
	struct kube_leader *leader;
	struct inf_ctx ctx[OP_NKINDS];

	pthread_mutex_t mu; /* guards the workers' start */
	struct op_predicate *pred; /* what each event asks for */
	pthread_t *workers;
	int nworkers; /* started */
	atomic_bool working;
	atomic_bool stopping;
	bool begun;
};

/* ---- keys ---------------------------------------------------------------- */

static bool make_key(char *out, size_t n, enum op_kind kind, const char *ns, const char *name)
{
	int w = snprintf(out, n, "%d/%s/%s", (int)kind, ns ? ns : "", name);

	return w > 0 && (size_t)w < n && strchr(ns ? ns : "", '/') == NULL && strchr(name, '/') == NULL;
}

/* Splits a key into kind, namespace and name (pointers into buf). */
static bool split_key(const char *key, char *buf, size_t n, enum op_kind *kind, const char **ns,
                      const char **name)
{
	char *slash;

	if (strlen(key) >= n || key[0] < '0' || key[0] >= '0' + OP_NKINDS || key[1] != '/')
		return false;
	memcpy(buf, key, strlen(key) + 1);
	*kind = (enum op_kind)(key[0] - '0');
	slash = strchr(buf + 2, '/');
	if (slash == NULL)
		return false;
	*slash = '\0';
	*ns = buf + 2;
	*name = slash + 1;
	return true;
}

/* ---- provided to the reconcilers (op.h) ---------------------------------- */

void op_enqueue(struct op *o, enum op_kind kind, const char *ns, const char *name, long delay_ms)
{
	char key[KEY_MAX];

	if (kind >= OP_NKINDS || name == NULL || !make_key(key, sizeof(key), kind, ns, name)) {
		log_warn("cannot queue an object with this name", "kind", kind < OP_NKINDS ? OP_KIND_NAMES[kind] : "?");
		return;
	}
	op_queue_add(o->rt->q, key, delay_ms);
	(void)op_metrics_add(o->rt->m, OP_M_QUEUE_ADDS, NULL, 1);
}

void op_metric_add(struct op *o, const char *name, const char *labels, double v)
{
	int r = op_metrics_add(o->rt->m, name, labels, v);

	if (r == TROVE_ERR_NOT_FOUND) {
		log_error("a metric name not in op_http.c's table", "name", name);
		abort(); /* a programming error */
	}
}

/* ---- informer events ----------------------------------------------------- */

static const char *meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static void enqueue_all_secret_resources(struct op *o)
{
	enum op_kind k;
	size_t i;

	for (k = OP_STATIC_SECRET; k <= OP_PKI_SECRET; k++) {
		json_t *all = kube_informer_list(o->inf[k]), *obj;

		json_array_foreach(all, i, obj)
		{
			const char *name = meta_str(obj, "name");

			if (name)
				op_enqueue(o, k, meta_str(obj, "namespace"), name, 0);
		}
		json_decref(all);
	}
}

static void on_resource_event(void *arg, enum kube_event ev, const json_t *obj)
{
	struct inf_ctx *c = arg;
	const char *ns = meta_str(obj, "namespace"), *name = meta_str(obj, "name");
	struct op_verdict v;
	char key[KEY_MAX];

	if (name == NULL || !make_key(key, sizeof(key), c->kind, ns, name))
		return;
	v = op_predicate_event(c->o->rt->pred, c->kind, key, ev, obj);
	if (v.reconcile)
		op_enqueue(c->o, c->kind, ns, name, 0);
	if ((c->kind == OP_VAULT_CONNECTION || c->kind == OP_VAULT_AUTH) && v.generation_changed)
		enqueue_all_secret_resources(c->o);
}

static void on_secret_event(void *arg, enum kube_event ev, const json_t *obj)
{
	op_secret_event(arg, ev, obj);
}

/* ---- workers ------------------------------------------------------------- */

static void reconcile_key(struct op *o, const char *key)
{
	struct op_runtime *rt = o->rt;
	struct op_outcome out = { 0, false };
	char buf[KEY_MAX], labels[64];
	const char *ns, *name;
	enum op_kind kind;

	if (!split_key(key, buf, sizeof(buf), &kind, &ns, &name)) {
		op_queue_forget(rt->q, key);
		return;
	}
	snprintf(labels, sizeof(labels), "kind=\"%s\"", OP_KIND_NAMES[kind]);
	op_reconcile(o, kind, ns, name, &out);
	(void)op_metrics_add(rt->m, OP_M_RECONCILES, labels, 1);
	if (out.failed) {
		long d = op_queue_add_rate_limited(rt->q, key);
		char ms[32];

		(void)op_metrics_add(rt->m, OP_M_RECONCILE_ERRORS, labels, 1);
		(void)op_metrics_add(rt->m, OP_M_QUEUE_RETRIES, NULL, 1);
		snprintf(ms, sizeof(ms), "%ld", d);
		log_debug("reconcile failed; retrying", "kind", OP_KIND_NAMES[kind], "namespace", ns, "name", name,
		          "retry_in_ms", ms);
		return;
	}
	op_queue_forget(rt->q, key);
	if (out.requeue_after_ms > 0)
		op_queue_add(rt->q, key, out.requeue_after_ms);
}

static void *worker(void *arg)
{
	struct op *o = arg;
	const char *key;

	while ((key = op_queue_get(o->rt->q)) != NULL) {
		reconcile_key(o, key);
		op_queue_done(o->rt->q, key);
	}
	return NULL;
}

static void start_workers(struct op *o)
{
	struct op_runtime *rt = o->rt;
	int i;

	pthread_mutex_lock(&rt->mu);
	if (rt->workers == NULL && !atomic_load(&rt->stopping)) {
		rt->workers = xcalloc((size_t)rt->opt.workers, sizeof(*rt->workers));
		for (i = 0; i < rt->opt.workers; i++) {
			if (pthread_create(&rt->workers[i], NULL, worker, o) != 0) {
				log_error("cannot start a worker thread");
				break;
			}
			rt->nworkers++;
		}
		atomic_store(&rt->working, true);
		(void)op_metrics_set(rt->m, OP_M_LEADER, NULL, 1);
	}
	pthread_mutex_unlock(&rt->mu);
}

/* ---- leader election ----------------------------------------------------- */

static void on_started_leading(void *arg)
{
	struct op *o = arg;

	log_info("leading: starting the workers", "identity", o->identity, "lease", o->rt->opt.lease_name);
	start_workers(o);
}

static void on_stopped_leading(void *arg)
{
	struct op *o = arg;

	(void)op_metrics_set(o->rt->m, OP_M_LEADER, NULL, 0);
	if (atomic_load(&o->rt->stopping) || !atomic_load(&o->rt->working))
		return;
	atomic_store(&o->rt->working, false);
	if (o->rt->opt.lost) {
		o->rt->opt.lost();
		return;
	}
	log_error("leader election lost; exiting", "identity", o->identity);
	_exit(1);
}

/* ---- probes and metrics -------------------------------------------------- */

static bool healthy(void *arg, struct buf *why)
{
	(void)arg;
	(void)why;
	return true;
}

static bool ready(void *arg, struct buf *why)
{
	struct op *o = arg;
	enum op_kind k;

	if (atomic_load(&o->rt->stopping)) {
		(void)buf_append_str(why, "shutting down");
		return false;
	}
	for (k = 0; k < OP_NKINDS; k++)
		if (!kube_informer_synced(o->inf[k])) {
			(void)buf_printf(why, "informer %s not synced", OP_RESOURCES[k].plural);
			return false;
		}
	if (!kube_informer_synced(o->secrets)) {
		(void)buf_append_str(why, "informer secrets not synced");
		return false;
	}
	return true;
}

static void metrics(void *arg, struct buf *out)
{
	struct op *o = arg;
	struct buf why;

	buf_init(&why, 1024);
	(void)op_metrics_set(o->rt->m, OP_M_QUEUE_DEPTH, NULL, (double)op_queue_len(o->rt->q));
	(void)op_metrics_set(o->rt->m, OP_M_QUEUE_DELAYED, NULL, (double)op_queue_delayed(o->rt->q));
	(void)op_metrics_set(o->rt->m, OP_M_READY, NULL, ready(o, &why) ? 1 : 0);
	(void)op_metrics_set(o->rt->m, OP_M_LEADER, NULL, atomic_load(&o->rt->working) ? 1 : 0);
	buf_release(&why);
	(void)op_metrics_render(o->rt->m, out);
}

/* ---- life ---------------------------------------------------------------- */

static char *pick_namespace(const struct op_options *opt, const struct kube_config *cfg)
{
	const char *env = getenv("OPERATOR_NAMESPACE");

	if (opt->namespace && *opt->namespace)
		return xstrdup(opt->namespace);
	if (env && *env)
		return xstrdup(env);
	if (cfg->namespace && *cfg->namespace)
		return xstrdup(cfg->namespace);
	return xstrdup("default");
}

static char *pick_identity(void)
{
	const char *pod = getenv("OPERATOR_POD_NAME");
	char host[256] = "trove-operator", uuid[37] = "0", out[320];

	if (pod && *pod)
		snprintf(host, sizeof(host), "%s", pod);
	else if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "trove-operator");
	host[sizeof(host) - 1] = '\0';
	(void)rand_uuid(uuid);
	snprintf(out, sizeof(out), "%s_%s", host, uuid);
	return xstrdup(out);
}

static int fail(char **err, const char *what, char *detail)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
	free(detail);
	*err = xstrdup(msg);
	return TROVE_ERR_INVALID;
}

/* Frees what op_runtime_new made; workers must have stopped. */
static void destroy(struct op *o)
{
	struct op_runtime *rt = o->rt;
	enum op_kind k;

	kube_informer_stop(o->secrets);
	for (k = 0; k < OP_NKINDS; k++)
		kube_informer_stop(o->inf[k]);
	op_http_stop(rt->http);
	op_sync_free(o->sync);
	kube_client_free(o->kube);
	kube_config_release(&rt->cfg);
	op_queue_free(rt->q);
	op_metrics_free(rt->m);
	op_predicate_free(rt->pred);
	free(rt->workers);
	pthread_mutex_destroy(&rt->mu);
	free(rt);
	free(o->namespace);
	free(o->identity);
	free(o);
}

int op_runtime_new(const struct op_options *opt, struct op **out, char **err)
{
	struct op *o = xcalloc(1, sizeof(*o));
	struct op_runtime *rt = xcalloc(1, sizeof(*rt));
	struct op_http_handlers h = { healthy, ready, metrics, o };
	static const enum op_kind start_order[OP_NKINDS] = { OP_STATIC_SECRET, OP_DYNAMIC_SECRET, OP_PKI_SECRET,
		                                             OP_VAULT_CONNECTION, OP_VAULT_AUTH };
	char *detail = NULL;
	enum op_kind k;
	size_t i;
	int r;

	*out = NULL;
	*err = NULL;
	o->rt = rt;
	rt->opt = *opt;
	if (rt->opt.lease_name == NULL || *rt->opt.lease_name == '\0')
		rt->opt.lease_name = OP_DEFAULT_LEASE_NAME;
	if (rt->opt.lease_seconds <= 0)
		rt->opt.lease_seconds = 15;
	if (rt->opt.workers < 1)
		rt->opt.workers = 1;
	pthread_mutex_init(&rt->mu, NULL);
	rt->pred = op_predicate_new();
	rt->q = op_queue_new(NULL);
	rt->m = op_metrics_new();
	if (rt->q == NULL || rt->m == NULL) {
		r = fail(err, "out of memory", NULL);
		goto out;
	}
	(void)op_metrics_set(rt->m, OP_M_LEADER, NULL, 0);
	if ((r = kube_config_load(opt->kubeconfig, &rt->cfg, &detail)) != 0) {
		fail(err, "cannot find the Kubernetes API server", detail);
		goto out;
	}
	o->namespace = pick_namespace(opt, &rt->cfg);
	o->identity = pick_identity();
	if ((r = kube_client_new(&rt->cfg, &o->kube, &detail)) != 0) {
		fail(err, "cannot make the Kubernetes client", detail);
		goto out;
	}
	if ((r = op_sync_new(o, &o->sync, &detail)) != 0) {
		fail(err, "cannot set up the reconcilers", detail);
		goto out;
	}
	if ((r = op_http_start(opt->metrics_addr, opt->probe_addr, &h, &rt->http, &detail)) != 0) {
		fail(err, "cannot listen", detail);
		goto out;
	}
	/* The secret resources' informers first: a VaultConnection or
	 * VaultAuth event reads their caches (enqueue_all_secret_resources),
	 * and starting a thread publishes the pointers made before it. */
	for (i = 0; i < OP_NKINDS; i++) {
		k = start_order[i];
		rt->ctx[k].o = o;
		rt->ctx[k].kind = k;
		r = kube_informer_start(o->kube, &OP_RESOURCES[k], NULL, NULL, 0, on_resource_event, &rt->ctx[k],
		                        &o->inf[k], &detail);
		if (r != 0) {
			fail(err, OP_RESOURCES[k].plural, detail);
			goto out;
		}
	}
	r = kube_informer_start(o->kube, &KUBE_SECRETS, NULL, OP_SECRET_SELECTOR, KUBE_INFORMER_KEEP_METADATA,
	                        on_secret_event, o, &o->secrets, &detail);
	if (r != 0) {
		fail(err, "secrets", detail);
		goto out;
	}
	*out = o;
	r = 0;
out:
	if (r != 0)
		destroy(o);
	return r;
}

bool op_runtime_synced(struct op *o)
{
	struct buf why;
	bool ok;

	buf_init(&why, 1024);
	ok = ready(o, &why);
	buf_release(&why);
	return ok;
}

int op_runtime_begin(struct op *o, char **err)
{
	struct op_runtime *rt = o->rt;
	struct kube_leader_opts lo;
	char *detail = NULL;
	int r;

	*err = NULL;
	if (rt->begun)
		return 0;
	rt->begun = true;
	if (!rt->opt.leader_elect) {
		start_workers(o);
		return 0;
	}
	memset(&lo, 0, sizeof(lo));
	lo.ns = o->namespace;
	lo.name = rt->opt.lease_name;
	lo.identity = o->identity;
	lo.lease_seconds = rt->opt.lease_seconds;
	/* client-go's proportions: renew deadline 2/3 and retry 2/15 of the
	 * lease (10 s and 2 s of 15). */
	lo.renew_deadline_seconds = rt->opt.lease_seconds * 2 / 3;
	if (lo.renew_deadline_seconds < 1)
		lo.renew_deadline_seconds = 1;
	lo.retry_seconds = rt->opt.lease_seconds * 2 / 15;
	if (lo.retry_seconds < 1)
		lo.retry_seconds = 1;
	lo.on_started = on_started_leading;
	lo.on_stopped = on_stopped_leading;
	lo.ctx = o;
	r = kube_leader_start(o->kube, &lo, &rt->leader, &detail);
	if (r != 0)
		return fail(err, "cannot start leader election", detail);
	log_info("standing by for the leader Lease", "namespace", o->namespace, "lease", lo.name, "identity",
	         o->identity);
	return 0;
}

bool op_runtime_leading(struct op *o)
{
	return atomic_load(&o->rt->working);
}

bool op_runtime_stop(struct op *o, long grace_ms)
{
	struct op_runtime *rt;
	int i, n;

	if (o == NULL)
		return true;
	rt = o->rt;
	atomic_store(&rt->stopping, true);
	op_queue_shutdown(rt->q);
	if (!op_queue_wait_idle(rt->q, grace_ms)) {
		log_warn("in-flight reconciles did not finish in time; exiting without releasing the Lease");
		return false;
	}
	/* No worker starts after this (stopping is checked under mu); join
	 * outside mu, which informer callbacks take. */
	pthread_mutex_lock(&rt->mu);
	n = rt->nworkers;
	rt->nworkers = 0;
	pthread_mutex_unlock(&rt->mu);
	for (i = 0; i < n; i++)
		pthread_join(rt->workers[i], NULL);
	/* Released only now: no write of ours can follow the next leader's. */
	kube_leader_stop(rt->leader);
	rt->leader = NULL;
	atomic_store(&rt->working, false);
	destroy(o);
	return true;
}
