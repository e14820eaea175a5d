/* test_ha.c — the HA role (core/ha.h) over a fake lock: who acquires,
 * what a lost lock, a seal and a step-down do, the hooks, what a request
 * is told, and the redirect URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/expiration.h"
#include "core/ha.h"
#include "core/scheduler.h"
#include "err.h"

#include "server/standby.h"

#include "core_fixture.h"

/* An in-memory lock: held by "me" or by the node named in `other`. */
struct fake {
	struct ha_lock lock;
	pthread_mutex_t mu;
	char holder[HA_ID_MAX]; /* "" free */
	char other_api[HA_ADDR_MAX];
	uint64_t epoch, fenced;
	bool down;     /* the database is out of reach */
	volatile bool stall; /* renew hangs (a database that answers nothing) */
	int acquires, releases, heartbeats;
};

static struct fake *F(struct ha_lock *l)
{
	return l->impl;
}

static int f_acquire(struct ha_lock *l, const struct ha_self *me, int64_t ttl, uint64_t *epoch)
{
	(void)ttl;
	struct fake *f = F(l);
	int r = TROVE_ERR_CONFLICT;
	pthread_mutex_lock(&f->mu);
	if (f->down)
		r = TROVE_ERR_UNAVAILABLE;
	else if (!f->holder[0]) {
		snprintf(f->holder, sizeof(f->holder), "%s", me->node_id);
		*epoch = ++f->epoch;
		f->acquires++;
		r = 0;
	}
	pthread_mutex_unlock(&f->mu);
	return r;
}

static int f_renew(struct ha_lock *l, const struct ha_self *me, uint64_t epoch, int64_t ttl)
{
	(void)ttl;
	struct fake *f = F(l);
	while (f->stall) {
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&f->mu);
	int r = f->down ? TROVE_ERR_UNAVAILABLE
	        : strcmp(f->holder, me->node_id) == 0 && f->epoch == epoch ? 0 : TROVE_ERR_CONFLICT;
	pthread_mutex_unlock(&f->mu);
	return r;
}

static int f_release(struct ha_lock *l, const struct ha_self *me, uint64_t epoch)
{
	struct fake *f = F(l);
	pthread_mutex_lock(&f->mu);
	if (strcmp(f->holder, me->node_id) == 0 && f->epoch == epoch) {
		f->holder[0] = '\0';
		f->releases++;
	}
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_holder(struct ha_lock *l, struct ha_holder *out)
{
	struct fake *f = F(l);
	int r = TROVE_ERR_NOT_FOUND;
	pthread_mutex_lock(&f->mu);
	memset(out, 0, sizeof(*out));
	if (f->down)
		r = TROVE_ERR_UNAVAILABLE;
	else if (f->holder[0]) {
		snprintf(out->node.node_id, sizeof(out->node.node_id), "%s", f->holder);
		snprintf(out->node.api_addr, sizeof(out->node.api_addr), "%s", f->other_api);
		out->epoch = f->epoch;
		r = 0;
	}
	pthread_mutex_unlock(&f->mu);
	return r;
}

static int f_heartbeat(struct ha_lock *l, const struct ha_self *me)
{
	(void)me;
	struct fake *f = F(l);
	pthread_mutex_lock(&f->mu);
	f->heartbeats++;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_nodes(struct ha_lock *l, int64_t max_age, struct ha_node **out, size_t *n)
{
	(void)l;
	(void)max_age;
	*out = NULL;
	*n = 0;
	return 0;
}

static void f_fence(struct ha_lock *l, uint64_t epoch)
{
	struct fake *f = F(l);
	pthread_mutex_lock(&f->mu);
	f->fenced = epoch;
	pthread_mutex_unlock(&f->mu);
}

static const struct ha_lock_ops fake_ops = {f_acquire, f_renew, f_release, f_holder, f_heartbeat, f_nodes, f_fence};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->lock.ops = &fake_ops;
	f->lock.impl = f;
}

static void take_by_other(struct fake *f, const char *api)
{
	pthread_mutex_lock(&f->mu);
	snprintf(f->holder, sizeof(f->holder), "other");
	snprintf(f->other_api, sizeof(f->other_api), "%s", api);
	f->epoch++;
	pthread_mutex_unlock(&f->mu);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Waits up to 2 s for the role. */
static bool wait_role(struct ha *h, enum ha_role want)
{
	for (int i = 0; i < 200; i++) {
		if (ha_role(h) == want)
			return true;
		sleep_ms(10);
	}
	return ha_role(h) == want;
}

static struct ha_config config(void)
{
	struct ha_config c;
	memset(&c, 0, sizeof(c));
	snprintf(c.self.node_id, sizeof(c.self.node_id), "me");
	snprintf(c.self.api_addr, sizeof(c.self.api_addr), "http://127.0.0.1:8200");
	snprintf(c.self.cluster_addr, sizeof(c.self.cluster_addr), "https://127.0.0.1:8201");
	c.lock_ttl_ms = 300;
	c.retry_ms = 20;
	c.step_down_wait_ms = 200;
	return c;
}

struct counts {
	int up, down;
	enum ha_role role_seen_up;
};

static void on_up(void *ctx, struct core *c)
{
	struct counts *k = ctx;
	k->up++;
	k->role_seen_up = ha_role(core_ha(c));
}

static void on_down(void *ctx, struct core *c)
{
	struct counts *k = ctx;
	k->down++;
	assert_int_equal(ha_role(core_ha(c)), HA_ROLE_STEPPING_DOWN);
}

static void t_disabled_serves_everything(void **state)
{
	(void)state;
	struct core_fixture fx;
	core_fixture_start(&fx, NULL, 3600, 3600);
	struct ha *h = core_ha(fx.core);
	assert_int_equal(ha_role(h), HA_ROLE_DISABLED);
	assert_false(ha_enabled(h));
	assert_int_equal(ha_may_serve(h), HA_SERVE_HERE);
	assert_true(ha_may_run_background(h));
	assert_int_equal(ha_step_down(h), TROVE_ERR_INVALID);
	assert_int_equal(ha_role(NULL), HA_ROLE_DISABLED);
	core_fixture_stop(&fx);
}

static void t_acquire_lose_and_step_down(void **state)
{
	(void)state;
	struct core_fixture fx;
	struct fake f;
	struct counts k = {0};
	core_fixture_start(&fx, NULL, 3600, 3600);
	fake_init(&f);
	struct ha *h = core_ha(fx.core);
	struct ha_hooks hooks = {on_up, on_down, &k};
	assert_int_equal(ha_register_hooks(h, &hooks), 0);
	struct ha_config cfg = config();
	assert_int_equal(ha_start(h, &f.lock, &cfg), 0);
	assert_int_equal(ha_start(h, &f.lock, &cfg), TROVE_ERR_CONFLICT);

	/* unsealed and the lock free: active, hooks run before the role */
	assert_true(wait_role(h, HA_ROLE_ACTIVE));
	assert_int_equal(k.up, 1);
	assert_int_equal(k.role_seen_up, HA_ROLE_STANDBY);
	assert_int_equal(f.fenced, f.epoch);
	assert_int_equal(ha_may_serve(h), HA_SERVE_HERE);
	assert_true(ha_may_run_background(h));
	struct ha_leader ld;
	ha_leader(h, &ld);
	assert_true(ld.known && ld.is_self);
	assert_string_equal(ld.api_addr, "http://127.0.0.1:8200");

	/* the expiration manager runs on the active node */
	assert_int_equal(expiration_tick(core_expiration(fx.core), NULL), 0);

	/* another node takes it (our lease ran out in the database) */
	uint64_t mine = f.epoch;
	take_by_other(&f, "http://10.0.0.2:8200/");
	assert_true(wait_role(h, HA_ROLE_STANDBY));
	assert_int_equal(k.down, 1);
	assert_int_equal(f.fenced, mine); /* in-flight writes keep failing */
	assert_false(ha_may_run_background(h));
	/* ... and not on a standby */
	assert_int_equal(expiration_tick(core_expiration(fx.core), NULL), TROVE_ERR_SEALED);
	for (int i = 0; i < 100 && ha_may_serve(h) != HA_SERVE_REDIRECT; i++)
		sleep_ms(10);
	assert_int_equal(ha_may_serve(h), HA_SERVE_REDIRECT);
	ha_leader(h, &ld);
	assert_true(ld.known && !ld.is_self);
	assert_string_equal(ld.api_addr, "http://10.0.0.2:8200/");

	/* the other releases: we take it again */
	pthread_mutex_lock(&f.mu);
	f.holder[0] = '\0';
	pthread_mutex_unlock(&f.mu);
	assert_true(wait_role(h, HA_ROLE_ACTIVE));
	assert_int_equal(k.up, 2);

	/* step-down: released at once, no attempt for step_down_wait_ms */
	int releases = f.releases;
	assert_int_equal(ha_step_down(h), 0);
	assert_int_not_equal(ha_role(h), HA_ROLE_ACTIVE);
	assert_int_equal(f.releases, releases + 1);
	sleep_ms(100);
	assert_int_equal(ha_role(h), HA_ROLE_STANDBY);
	assert_int_equal(ha_may_serve(h), HA_SERVE_UNAVAILABLE); /* nobody holds it */
	assert_true(wait_role(h, HA_ROLE_ACTIVE));

	/* the database goes away: the lease cannot be renewed in time */
	pthread_mutex_lock(&f.mu);
	f.down = true;
	pthread_mutex_unlock(&f.mu);
	assert_true(wait_role(h, HA_ROLE_STANDBY));
	assert_int_equal(ha_may_serve(h), HA_SERVE_UNAVAILABLE);
	pthread_mutex_lock(&f.mu);
	f.down = false;
	pthread_mutex_unlock(&f.mu);
	assert_true(wait_role(h, HA_ROLE_ACTIVE));

	/* a renewal that never returns: the role still reads active, but
	 * past the lease nothing is served here */
	f.stall = true;
	for (int i = 0; i < 200 && ha_may_serve(h) == HA_SERVE_HERE; i++)
		sleep_ms(10);
	assert_int_equal(ha_role(h), HA_ROLE_ACTIVE);
	assert_int_equal(ha_may_serve(h), HA_SERVE_UNAVAILABLE);
	f.stall = false;
	assert_true(wait_role(h, HA_ROLE_ACTIVE));
	for (int i = 0; i < 100 && ha_may_serve(h) != HA_SERVE_HERE; i++)
		sleep_ms(10);
	assert_int_equal(ha_may_serve(h), HA_SERVE_HERE);

	/* sealed: never holds the lock */
	core_seal(fx.core);
	assert_true(wait_role(h, HA_ROLE_STANDBY));
	sleep_ms(100);
	assert_int_equal(ha_role(h), HA_ROLE_STANDBY);
	assert_string_equal(f.holder, "");
	assert_int_equal(f.fenced, 0);
	/* unsealed again while the database is out of reach: a standby, and
	 * the unseal did not start the expiration manager */
	pthread_mutex_lock(&f.mu);
	f.down = true;
	pthread_mutex_unlock(&f.mu);
	struct seal_status st;
	struct buf err;
	buf_init(&err, 256);
	assert_int_equal(core_unseal(fx.core, fx.res.keys[0], fx.res.key_len, &st, &err), 0);
	assert_false(st.sealed);
	buf_release(&err);
	sleep_ms(100);
	assert_int_equal(ha_role(h), HA_ROLE_STANDBY);
	assert_int_equal(expiration_tick(core_expiration(fx.core), NULL), TROVE_ERR_SEALED);
	pthread_mutex_lock(&f.mu);
	f.down = false;
	pthread_mutex_unlock(&f.mu);
	assert_true(wait_role(h, HA_ROLE_ACTIVE));
	assert_int_equal(expiration_tick(core_expiration(fx.core), NULL), 0);

	ha_stop(h);
	assert_int_equal(ha_role(h), HA_ROLE_STANDBY);
	assert_int_equal(ha_may_serve(h), HA_SERVE_UNAVAILABLE);
	assert_true(f.heartbeats > 0);
	core_fixture_stop(&fx);
}

static void t_redirect_url(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1024);
	assert_int_equal(ha_redirect_url("http://10.0.0.2:8200", "/v1/secret/data/a?version=2", &b), 0);
	assert_string_equal(b.data, "http://10.0.0.2:8200/v1/secret/data/a?version=2");
	buf_reset(&b);
	assert_int_equal(ha_redirect_url("https://vault.example//", "/v1/sys/mounts", &b), 0);
	assert_string_equal(b.data, "https://vault.example/v1/sys/mounts");
	buf_reset(&b);
	assert_int_equal(ha_redirect_url("", "/v1/x", &b), TROVE_ERR_INVALID);
	assert_int_equal(ha_redirect_url(NULL, "/v1/x", &b), TROVE_ERR_INVALID);
	assert_int_equal(ha_redirect_url("http://a", "v1/x", &b), TROVE_ERR_INVALID);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static void t_standby_answers_itself(void **state)
{
	(void)state;
	assert_true(standby_answers_itself("sys/health"));
	assert_true(standby_answers_itself("sys/leader"));
	assert_true(standby_answers_itself("sys/seal-status"));
	assert_true(standby_answers_itself("sys/unseal"));
	assert_false(standby_answers_itself("sys/step-down"));
	assert_false(standby_answers_itself("sys/ha-status"));
	assert_false(standby_answers_itself("sys/healthx"));
	assert_false(standby_answers_itself("secret/data/sys/health"));
	assert_false(standby_answers_itself("auth/token/lookup-self"));
}

/* What the listener is told for a request on a standby. */
static void t_standby_decision(void **state)
{
	(void)state;
	struct core_fixture fx;
	struct fake f;
	struct buf loc;
	const char *raw = "/v1/secret/data/a?version=2";
	core_fixture_start(&fx, NULL, 3600, 3600);
	fake_init(&f);
	buf_init(&loc, 1024);
	struct ha *h = core_ha(fx.core);
	assert_int_equal(standby_decision(fx.core, "secret/data/a", raw, strlen(raw), &loc), 0); /* no HA */
	take_by_other(&f, "https://10.0.0.2:8200");
	struct ha_config cfg = config();
	assert_int_equal(ha_start(h, &f.lock, &cfg), 0);
	for (int i = 0; i < 200 && ha_may_serve(h) != HA_SERVE_REDIRECT; i++)
		sleep_ms(10);
	assert_int_equal(standby_decision(fx.core, "secret/data/a", raw, strlen(raw), &loc), 307);
	assert_string_equal(loc.data, "https://10.0.0.2:8200/v1/secret/data/a?version=2");
	buf_reset(&loc);
	assert_int_equal(standby_decision(fx.core, "sys/health", "/v1/sys/health", 14, &loc), 0);
	/* nobody holds the lock (and we may not take it: sealed) */
	core_seal(fx.core);
	assert_int_equal(standby_decision(fx.core, "secret/data/a", raw, strlen(raw), &loc), 0); /* sealed: 503 sealed */
	pthread_mutex_lock(&f.mu);
	f.holder[0] = '\0';
	pthread_mutex_unlock(&f.mu);
	sleep_ms(100);
	assert_int_equal(ha_may_serve(h), HA_SERVE_UNAVAILABLE);
	assert_int_equal(loc.len, 0);
	ha_stop(h);
	buf_release(&loc);
	core_fixture_stop(&fx);
}

static void t_role_names(void **state)
{
	(void)state;
	assert_string_equal(ha_role_name(HA_ROLE_DISABLED), "disabled");
	assert_string_equal(ha_role_name(HA_ROLE_STANDBY), "standby");
	assert_string_equal(ha_role_name(HA_ROLE_ACTIVE), "active");
	assert_string_equal(ha_role_name(HA_ROLE_STEPPING_DOWN), "stepping_down");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_disabled_serves_everything),
	    cmocka_unit_test(t_acquire_lose_and_step_down),
	    cmocka_unit_test(t_redirect_url),
	    cmocka_unit_test(t_role_names),
	    cmocka_unit_test(t_standby_answers_itself),
	    cmocka_unit_test(t_standby_decision),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
