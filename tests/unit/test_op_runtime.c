/* test_op_runtime.c — the operator's runtime over a fake Kubernetes client
 * and fake reconcilers (both defined here): the namespace and identity it
 * picks; informer events becoming keys; nothing reconciled before the
 * caches sync and work begins, or before this replica leads; a failed
 * reconcile retried with backoff and a requeue honoured; a VaultAuth spec
 * change queueing every secret resource, a status-only change nothing at
 * all (VSO's predicates, op_predicate.c);
 * Secret events handed to op_secret_event; leadership lost calling the
 * lost hook; stopping joins the workers before releasing the Lease; and
 * the command's flags (-h lists them, bad ones exit 1). */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "operator/operator.h"

#include "banned.h"

/* ---- the fake Kubernetes client ------------------------------------------ */

const struct kube_resource KUBE_SECRETS = { "", "v1", "secrets", true };

struct kube_client {
	int unused;
};

struct kube_informer {
	const struct kube_resource *res;
	kube_event_fn fn;
	void *ctx;
	json_t *objects; /* what kube_informer_list returns */
	char *selector;
	unsigned flags;
};

struct kube_leader {
	struct kube_leader_opts o;
};

static struct {
	pthread_mutex_t mu;
	struct kube_informer *inf[8];
	int ninf;
	atomic_bool synced;
	struct kube_leader *leader;
	atomic_int leader_stopped;
	atomic_int workers_busy_at_release; /* reconciles running when the Lease was released */
	char *cfg_namespace;
} K = { .mu = PTHREAD_MUTEX_INITIALIZER };

int kube_config_load(const char *flag, struct kube_config *out, char **err)
{
	(void)flag;
	(void)err;
	memset(out, 0, sizeof(*out));
	out->server = xstrdup("https://127.0.0.1:6443");
	out->namespace = K.cfg_namespace ? xstrdup(K.cfg_namespace) : NULL;
	return 0;
}

void kube_config_release(struct kube_config *c)
{
	free(c->server);
	free(c->namespace);
	memset(c, 0, sizeof(*c));
}

int kube_client_new(const struct kube_config *cfg, struct kube_client **out, char **err)
{
	(void)cfg;
	(void)err;
	*out = xcalloc(1, sizeof(**out));
	return 0;
}

void kube_client_free(struct kube_client *k)
{
	free(k);
}

int kube_informer_start(struct kube_client *k, const struct kube_resource *res, const char *ns,
                        const char *label_selector, unsigned flags, kube_event_fn fn, void *ctx,
                        struct kube_informer **out, char **err)
{
	struct kube_informer *i = xcalloc(1, sizeof(*i));

	(void)k;
	(void)ns;
	(void)err;
	i->res = res;
	i->fn = fn;
	i->ctx = ctx;
	i->objects = json_array();
	i->selector = label_selector ? xstrdup(label_selector) : NULL;
	i->flags = flags;
	pthread_mutex_lock(&K.mu);
	K.inf[K.ninf++] = i;
	pthread_mutex_unlock(&K.mu);
	*out = i;
	return 0;
}

json_t *kube_informer_list(struct kube_informer *inf)
{
	return json_deep_copy(inf->objects);
}

bool kube_informer_synced(struct kube_informer *inf)
{
	(void)inf;
	return atomic_load(&K.synced);
}

void kube_informer_stop(struct kube_informer *inf)
{
	int i;

	if (inf == NULL)
		return;
	pthread_mutex_lock(&K.mu);
	for (i = 0; i < K.ninf; i++)
		if (K.inf[i] == inf)
			K.inf[i] = K.inf[--K.ninf];
	pthread_mutex_unlock(&K.mu);
	json_decref(inf->objects);
	free(inf->selector);
	free(inf);
}

int kube_leader_start(struct kube_client *k, const struct kube_leader_opts *o, struct kube_leader **out,
                      char **err)
{
	(void)k;
	(void)err;
	K.leader = xcalloc(1, sizeof(*K.leader));
	K.leader->o = *o;
	*out = K.leader;
	return 0;
}

/* ---- the fake reconcilers ------------------------------------------------ */

struct op_sync {
	int unused;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	char log[64][128]; /* "VaultStaticSecret/ns/name" per reconcile */
	int n;
	int fail_first;        /* fail this many reconciles */
	long requeue_ms;       /* the outcome's requeue_after_ms */
	int secret_events;
	atomic_int busy;
	long hold_ms; /* each reconcile sleeps this long */
} R = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

void kube_leader_stop(struct kube_leader *l)
{
	if (l == NULL)
		return;
	atomic_store(&K.workers_busy_at_release, atomic_load(&R.busy));
	atomic_fetch_add(&K.leader_stopped, 1);
	if (l->o.on_stopped)
		l->o.on_stopped(l->o.ctx);
	free(l);
	K.leader = NULL;
}

int op_sync_new(struct op *o, struct op_sync **out, char **err)
{
	(void)o;
	(void)err;
	*out = xcalloc(1, sizeof(**out));
	return 0;
}

void op_sync_free(struct op_sync *s)
{
	free(s);
}

void op_reconcile(struct op *o, enum op_kind kind, const char *ns, const char *name, struct op_outcome *out)
{
	(void)o;
	atomic_fetch_add(&R.busy, 1);
	if (R.hold_ms)
		usleep((useconds_t)R.hold_ms * 1000);
	pthread_mutex_lock(&R.mu);
	if (R.n < 64)
		snprintf(R.log[R.n], sizeof(R.log[0]), "%s/%s/%s", OP_KIND_NAMES[kind], ns, name);
	R.n++;
	out->failed = R.fail_first > 0;
	if (R.fail_first > 0)
		R.fail_first--;
	out->requeue_after_ms = R.requeue_ms;
	pthread_cond_broadcast(&R.cond);
	pthread_mutex_unlock(&R.mu);
	atomic_fetch_sub(&R.busy, 1);
}

void op_secret_event(struct op *o, enum kube_event ev, const json_t *secret)
{
	(void)o;
	(void)ev;
	(void)secret;
	pthread_mutex_lock(&R.mu);
	R.secret_events++;
	pthread_mutex_unlock(&R.mu);
}

/* Waits up to ms for at least n reconciles; returns how many there were. */
static int wait_reconciles(int n, long ms)
{
	struct timespec ts;
	int got;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&R.mu);
	while (R.n < n && pthread_cond_timedwait(&R.cond, &R.mu, &ts) == 0)
		;
	got = R.n;
	pthread_mutex_unlock(&R.mu);
	return got;
}

static void reset(void)
{
	pthread_mutex_lock(&R.mu);
	R.n = 0;
	R.fail_first = 0;
	R.requeue_ms = 0;
	R.secret_events = 0;
	R.hold_ms = 0;
	pthread_mutex_unlock(&R.mu);
	atomic_store(&K.synced, false);
	atomic_store(&K.leader_stopped, 0);
	atomic_store(&K.workers_busy_at_release, -1);
	K.cfg_namespace = NULL;
	unsetenv("OPERATOR_NAMESPACE");
}

static struct kube_informer *informer_of(const char *plural)
{
	struct kube_informer *found = NULL;
	int i;

	pthread_mutex_lock(&K.mu);
	for (i = 0; i < K.ninf; i++)
		if (strcmp(K.inf[i]->res->plural, plural) == 0)
			found = K.inf[i];
	pthread_mutex_unlock(&K.mu);
	assert_non_null(found);
	return found;
}

static json_t *object(const char *ns, const char *name, long generation)
{
	return json_pack("{s:{s:s, s:s, s:I}}", "metadata", "namespace", ns, "name", name, "generation",
	                 (json_int_t)generation);
}

/* Delivers ev for obj on plural's informer (and keeps it in its list). */
static void deliver(const char *plural, enum kube_event ev, json_t *obj)
{
	struct kube_informer *i = informer_of(plural);

	if (ev == KUBE_ADDED)
		json_array_append(i->objects, obj);
	i->fn(i->ctx, ev, obj);
	json_decref(obj);
}

static struct op_options options(void)
{
	struct op_options o;

	memset(&o, 0, sizeof(o));
	o.metrics_addr = "0";
	o.probe_addr = "0";
	o.workers = 2;
	return o;
}

static void test_namespace_and_identity(void **state)
{
	struct op_options opt = options();
	struct op *o = NULL;
	char *err = NULL;

	(void)state;
	reset();
	assert_int_equal(op_runtime_new(&opt, &o, &err), 0);
	assert_string_equal(o->namespace, "default");
	assert_non_null(strchr(o->identity, '_'));
	assert_true(op_runtime_stop(o, 1000));

	K.cfg_namespace = "from-context";
	assert_int_equal(op_runtime_new(&opt, &o, &err), 0);
	assert_string_equal(o->namespace, "from-context");
	assert_true(op_runtime_stop(o, 1000));

	setenv("OPERATOR_NAMESPACE", "from-env", 1);
	assert_int_equal(op_runtime_new(&opt, &o, &err), 0);
	assert_string_equal(o->namespace, "from-env");
	assert_true(op_runtime_stop(o, 1000));

	opt.namespace = "from-flag";
	setenv("OPERATOR_POD_NAME", "trove-operator-abc", 1);
	assert_int_equal(op_runtime_new(&opt, &o, &err), 0);
	assert_string_equal(o->namespace, "from-flag");
	assert_true(strncmp(o->identity, "trove-operator-abc_", 19) == 0);
	assert_int_equal(strlen(o->identity), 19 + 36);
	/* Six informers: the five kinds and the managed Secrets' metadata. */
	assert_int_equal(K.ninf, 6);
	assert_string_equal(informer_of("secrets")->selector, OP_SECRET_SELECTOR);
	assert_int_equal(informer_of("secrets")->flags, KUBE_INFORMER_KEEP_METADATA);
	assert_true(op_runtime_stop(o, 1000));
	unsetenv("OPERATOR_POD_NAME");
	assert_int_equal(K.ninf, 0);
}

static void test_events_to_reconciles(void **state)
{
	struct op_options opt = options();
	struct op *o = NULL;
	char *err = NULL;

	(void)state;
	reset();
	assert_int_equal(op_runtime_new(&opt, &o, &err), 0);
	deliver("vaultstaticsecrets", KUBE_ADDED, object("app", "db", 1));
	deliver("vaultstaticsecrets", KUBE_MODIFIED, object("app", "db", 2));
	deliver("vaultpkisecrets", KUBE_ADDED, object("web", "tls", 1));
	/* Not synced, not begun: nothing runs. */
	assert_false(op_runtime_synced(o));
	assert_int_equal(wait_reconciles(1, 100), 0);
	atomic_store(&K.synced, true);
	assert_true(op_runtime_synced(o));
	assert_int_equal(op_runtime_begin(o, &err), 0);
	assert_true(op_runtime_leading(o));
	/* Two events for app/db were one key. */
	assert_int_equal(wait_reconciles(2, 2000), 2);
	assert_int_equal(wait_reconciles(3, 150), 2);
	pthread_mutex_lock(&R.mu);
	assert_true((strcmp(R.log[0], "VaultStaticSecret/app/db") == 0 && strcmp(R.log[1], "VaultPKISecret/web/tls") == 0) ||
	            (strcmp(R.log[1], "VaultStaticSecret/app/db") == 0 && strcmp(R.log[0], "VaultPKISecret/web/tls") == 0));
	pthread_mutex_unlock(&R.mu);

	/* Secret events go to the reconcilers' handler. */
	deliver("secrets", KUBE_MODIFIED, object("app", "db-secret", 1));
	assert_int_equal(R.secret_events, 1);

	/* A failure is retried (5 ms backoff), then a requeue is honoured. */
	R.fail_first = 2;
	R.requeue_ms = 100;
	deliver("vaultdynamicsecrets", KUBE_ADDED, object("app", "pg", 1));
	assert_int_equal(wait_reconciles(5, 2000), 5); /* fail, fail, ok */
	R.requeue_ms = 0;
	assert_int_equal(wait_reconciles(6, 2000), 6); /* the requeue */
	pthread_mutex_lock(&R.mu);
	assert_string_equal(R.log[5], "VaultDynamicSecret/app/pg");
	pthread_mutex_unlock(&R.mu);
	assert_true(op_runtime_stop(o, 1000));
}

static void test_auth_change_fans_out(void **state)
{
	struct op_options opt = options();
	struct op *o = NULL;
	char *err = NULL;

	(void)state;
	reset();
	assert_int_equal(op_runtime_new(&opt, &o, &err), 0);
	/* The informers' first lists, reconciled once work begins. */
	deliver("vaultstaticsecrets", KUBE_ADDED, object("a", "s1", 1));
	deliver("vaultstaticsecrets", KUBE_ADDED, object("b", "s2", 1));
	deliver("vaultpkisecrets", KUBE_ADDED, object("c", "p1", 1));
	atomic_store(&K.synced, true);
	assert_int_equal(op_runtime_begin(o, &err), 0);
	assert_int_equal(wait_reconciles(3, 2000), 3);
	/* The VaultAuth itself and the three secret resources. */
	deliver("vaultauths", KUBE_ADDED, object("default", "default", 1));
	assert_int_equal(wait_reconciles(7, 2000), 7);
	assert_int_equal(wait_reconciles(8, 150), 7);
	/* A status update (same generation): nothing, not even the VaultAuth
	 * (VSO's GenerationChangedPredicate); nor of a secret resource. */
	deliver("vaultauths", KUBE_MODIFIED, object("default", "default", 1));
	deliver("vaultstaticsecrets", KUBE_MODIFIED, object("a", "s1", 1));
	assert_int_equal(wait_reconciles(8, 150), 7);
	/* A secret resource's own spec change: that one. */
	deliver("vaultstaticsecrets", KUBE_MODIFIED, object("a", "s1", 2));
	assert_int_equal(wait_reconciles(8, 2000), 8);
	assert_int_equal(wait_reconciles(9, 150), 8);
	/* A connection's spec change: all again. */
	deliver("vaultconnections", KUBE_ADDED, object("default", "default", 1));
	assert_int_equal(wait_reconciles(12, 2000), 12);
	deliver("vaultconnections", KUBE_MODIFIED, object("default", "default", 2));
	assert_int_equal(wait_reconciles(16, 2000), 16);
	assert_true(op_runtime_stop(o, 1000));
}

static atomic_int lost_calls;

static void on_lost(void)
{
	atomic_fetch_add(&lost_calls, 1);
}

static void test_leader_election(void **state)
{
	struct op_options opt = options();
	struct op *o = NULL;
	char *err = NULL;

	(void)state;
	reset();
	opt.leader_elect = true;
	opt.lost = on_lost;
	assert_int_equal(op_runtime_new(&opt, &o, &err), 0);
	deliver("vaultstaticsecrets", KUBE_ADDED, object("app", "db", 1));
	atomic_store(&K.synced, true);
	assert_int_equal(op_runtime_begin(o, &err), 0);
	assert_non_null(K.leader);
	assert_string_equal(K.leader->o.name, OP_DEFAULT_LEASE_NAME);
	assert_string_equal(K.leader->o.ns, "default");
	assert_string_equal(K.leader->o.identity, o->identity);
	assert_int_equal(K.leader->o.lease_seconds, 15);
	assert_int_equal(K.leader->o.renew_deadline_seconds, 10);
	assert_int_equal(K.leader->o.retry_seconds, 2);
	/* Standing by: no work. */
	assert_false(op_runtime_leading(o));
	assert_int_equal(wait_reconciles(1, 150), 0);
	K.leader->o.on_started(K.leader->o.ctx);
	assert_true(op_runtime_leading(o));
	assert_int_equal(wait_reconciles(1, 2000), 1);
	/* Lost while running: the hook, once. */
	K.leader->o.on_stopped(K.leader->o.ctx);
	assert_int_equal(atomic_load(&lost_calls), 1);
	assert_false(op_runtime_leading(o));
	assert_true(op_runtime_stop(o, 1000));
	assert_int_equal(atomic_load(&lost_calls), 1);
	assert_int_equal(atomic_load(&K.leader_stopped), 1);
}

static void test_stop_waits_for_in_flight_then_releases(void **state)
{
	struct op_options opt = options();
	struct op *o = NULL;
	char *err = NULL;

	(void)state;
	reset();
	opt.leader_elect = true;
	opt.lost = on_lost;
	atomic_store(&lost_calls, 0);
	assert_int_equal(op_runtime_new(&opt, &o, &err), 0);
	atomic_store(&K.synced, true);
	assert_int_equal(op_runtime_begin(o, &err), 0);
	K.leader->o.on_started(K.leader->o.ctx);
	R.hold_ms = 300;
	deliver("vaultstaticsecrets", KUBE_ADDED, object("app", "slow", 1));
	usleep(50000); /* the reconcile is running */
	assert_true(op_runtime_stop(o, 5000));
	assert_int_equal(R.n, 1);
	/* The Lease went only after the reconcile ended; no lost hook. */
	assert_int_equal(atomic_load(&K.leader_stopped), 1);
	assert_int_equal(atomic_load(&K.workers_busy_at_release), 0);
	assert_int_equal(atomic_load(&lost_calls), 0);
}

/* Runs operator_main with args, capturing stdout and stderr. */
static int run_cmd(const char *const *args, int n, struct buf *out, struct buf *errout)
{
	char *argv[16];
	char tmp_out[] = "/tmp/op_rt_outXXXXXX", tmp_err[] = "/tmp/op_rt_errXXXXXX", chunk[4096];
	int fo = mkstemp(tmp_out), fe = mkstemp(tmp_err), so = dup(1), se = dup(2), r, i;
	ssize_t k;

	argv[0] = (char *)"secrets-operator";
	for (i = 0; i < n; i++)
		argv[i + 1] = (char *)args[i];
	argv[n + 1] = NULL;
	fflush(stdout);
	fflush(stderr);
	dup2(fo, 1);
	dup2(fe, 2);
	r = operator_main(n + 1, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	lseek(fo, 0, SEEK_SET);
	while ((k = read(fo, chunk, sizeof(chunk))) > 0)
		(void)buf_append(out, chunk, (size_t)k);
	lseek(fe, 0, SEEK_SET);
	while ((k = read(fe, chunk, sizeof(chunk))) > 0)
		(void)buf_append(errout, chunk, (size_t)k);
	close(fo);
	close(fe);
	unlink(tmp_out);
	unlink(tmp_err);
	return r;
}

static void test_flags(void **state)
{
	static const char *const flags[] = { "-kubeconfig", "-leader-elect", "-leader-election-id",
		                             "-metrics-bind-address", "-health-probe-bind-address",
		                             "-max-concurrent-reconciles", "-operator-namespace", "-log-level",
		                             "-log-format", "-zap-log-level", "-zap-encoder", "-version" };
	static const char *const help[] = { "-h" }, *const help2[] = { "--help" }, *const bad[] = { "-nope" },
	                         *const zero[] = { "-max-concurrent-reconciles=0" },
	                         *const fmt[] = { "-log-format", "xml" }, *const lvl[] = { "-zap-log-level=loud" },
	                         *const b[] = { "-leader-elect=maybe" }, *const extra[] = { "extra" },
	                         *const noarg[] = { "-kubeconfig" }, *const ver[] = { "-version" };
	struct buf out, errout;
	size_t i;

	(void)state;
	buf_init(&out, 1 << 20);
	buf_init(&errout, 1 << 20);
	assert_int_equal(run_cmd(help, 1, &out, &errout), 0);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		assert_non_null(strstr(out.data, flags[i]));
	assert_int_equal(errout.len, 0);
	buf_reset(&out);
	assert_int_equal(run_cmd(help2, 1, &out, &errout), 0);
	assert_non_null(strstr(out.data, "-metrics-bind-address"));

	buf_reset(&out);
	assert_int_equal(run_cmd(bad, 1, &out, &errout), 1);
	assert_int_equal(out.len, 0);
	assert_non_null(strstr(errout.data, "-nope"));
	assert_non_null(strstr(errout.data, "Usage: trove secrets-operator"));
	buf_reset(&errout);
	assert_int_equal(run_cmd(zero, 1, &out, &errout), 1);
	assert_non_null(strstr(errout.data, "max-concurrent-reconciles"));
	assert_int_equal(run_cmd(fmt, 2, &out, &errout), 1);
	assert_int_equal(run_cmd(lvl, 1, &out, &errout), 1);
	assert_int_equal(run_cmd(b, 1, &out, &errout), 1);
	assert_int_equal(run_cmd(extra, 1, &out, &errout), 1);
	assert_int_equal(run_cmd(noarg, 1, &out, &errout), 1);
	buf_reset(&out);
	assert_int_equal(run_cmd(ver, 1, &out, &errout), 0);
	assert_true(strncmp(out.data, "Trove v", 7) == 0);
	buf_release(&out);
	buf_release(&errout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_namespace_and_identity),
		cmocka_unit_test(test_events_to_reconciles),
		cmocka_unit_test(test_auth_change_fans_out),
		cmocka_unit_test(test_leader_election),
		cmocka_unit_test(test_stop_waits_for_in_flight_then_releases),
		cmocka_unit_test(test_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
