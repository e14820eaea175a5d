/* test_lease_timeout.c — a slow engine cannot hold up token expiry: the
 * time limit on one lease_revoke call (lease_call.h, timed_call.h) and
 * the expiration manager's real threads, on the real clock. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/device.h"
#include "engines/engines.h"
#include "core/core.h"
#include "core/expiration.h"
#include "core/mount.h"
#include "core/request.h"
#include "core/router.h"
#include "core/token.h"
#include "err.h"
#include "timed_call.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- timed_call ------------------------------------------------------------------ */

static atomic_int done_calls, done_rc;

static int quick(void *arg)
{
	return *(int *)arg;
}

static int slow(void *arg)
{
	usleep(300 * 1000);
	return *(int *)arg;
}

static void on_done(void *arg, int rc)
{
	atomic_store(&done_rc, rc);
	atomic_fetch_add(&done_calls, 1);
	free(arg);
}

static void test_timed_call_in_time(void **state)
{
	int v = 7, rc = 0;
	atomic_store(&done_calls, 0);
	assert_int_equal(timed_call(quick, &v, on_done, 1000, &rc), 0);
	assert_int_equal(rc, 7);
	usleep(20 * 1000);
	assert_int_equal(atomic_load(&done_calls), 0); /* the caller kept arg */
}

static void test_timed_call_overrun(void **state)
{
	int *v = malloc(sizeof(*v));
	int rc = -1;
	*v = 9;
	atomic_store(&done_calls, 0);
	int64_t t0 = now_ms();
	assert_int_equal(timed_call(slow, v, on_done, 50, &rc), TROVE_ERR_TIMEOUT);
	assert_true(now_ms() - t0 < 250);
	assert_int_equal(rc, -1);
	for (int i = 0; i < 100 && atomic_load(&done_calls) == 0; i++)
		usleep(10 * 1000);
	assert_int_equal(atomic_load(&done_calls), 1); /* done freed v */
	assert_int_equal(atomic_load(&done_rc), 9);
}

/* --- a database that stopped answering ------------------------------------------- */

static pthread_mutex_t eng_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t eng_cv = PTHREAD_COND_INITIALIZER;
static bool eng_released;
static atomic_int eng_calls;

static int blocking_revoke(struct mount *m, const struct lease *l, struct buf *err)
{
	atomic_fetch_add(&eng_calls, 1);
	pthread_mutex_lock(&eng_mu);
	while (!eng_released)
		pthread_cond_wait(&eng_cv, &eng_mu);
	pthread_mutex_unlock(&eng_mu);
	return 0;
}

static const struct route *const no_tables[] = {NULL};
static const struct engine blocking_engine = {
    .type = "kv",
    .tables = no_tables,
    .lease_revoke = blocking_revoke,
};

static char *issue(struct core *c, const char *path, int64_t ttl)
{
	struct request req;
	struct response resp;
	request_init(&req);
	response_init(&resp);
	req.core = c;
	req.path = strdup(path);
	req.mount = mount_match(core_mounts(c), path);
	resp.secret.set = true;
	resp.secret.ttl = ttl;
	resp.secret.internal = json_pack("{s:s}", "user", "u");
	assert_int_equal(expiration_register(core_expiration(c), &req, &resp), 0);
	char *id = strdup(resp.lease_id);
	response_release(&resp);
	request_release(&req);
	return id;
}

/* One revocation worker, a limit of 200 ms per engine call, five secret
 * leases whose engine never answers, due before a token: the token still
 * expires within a second or two of its time. Without the limit the one
 * worker waits on the engine for ever and the token never expires. */
static void test_blocked_engine_does_not_hold_token_expiry(void **state)
{
	struct core_config cc = {.storage_type = "inmem",
	                         .default_lease_ttl = 600,
	                         .max_lease_ttl = 7200,
	                         .lease_revocation_workers = 1,
	                         .lease_revocation_timeout_ms = 200,
	                         .engines = &builtin_engines,
	                         .audit_devices = &audit_device_types};
	struct storage *phys = storage_inmem_new();
	struct core *c = core_new(phys, &cc);
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	buf_init(&err, 1024);
	eng_released = false;
	atomic_store(&eng_calls, 0);
	assert_int_equal(core_initialize(c, 1, 1, "root-id", &res, &err), 0);
	assert_int_equal(core_unseal(c, res.keys[0], res.key_len, &st, &err), 0);
	core_init_result_release(&res);
	struct mount_enable_params p = {.path = "db", .type = "kv"};
	assert_int_equal(mount_enable(core_mounts(c), &p, &err), 0);
	struct mount *m = mount_match(core_mounts(c), "db/creds/x");
	m->engine = &blocking_engine;
	mount_release(m);

	char *ids[5];
	for (size_t i = 0; i < 5; i++)
		ids[i] = issue(c, "db/creds/ro", 1);
	struct token_entry *e = token_entry_new();
	char *token = NULL;
	strlist_push(&e->policies, "default");
	token_entry_set(&e->path, "auth/token/create");
	e->ttl = 2;
	assert_int_equal(token_create(core_tokens(c), e, NULL, &token), 0);
	char *locator = strdup(e->id_hash);
	token_entry_free(e);
	int64_t expires = (int64_t)time(NULL) + 2;

	/* Gone by two seconds past its expiry at the latest. */
	int64_t exp = 0;
	int r = 0;
	while ((int64_t)time(NULL) <= expires + 2) {
		if ((r = token_expire_time(core_tokens(c), locator, &exp)) == TROVE_ERR_NOT_FOUND)
			break;
		usleep(50 * 1000);
	}
	assert_int_equal(r, TROVE_ERR_NOT_FOUND);
	assert_true(atomic_load(&eng_calls) >= 1); /* the engine was called, and blocked */

	/* The engine answers again: the overrunning calls return and the
	 * core can be freed (it waits for them). */
	pthread_mutex_lock(&eng_mu);
	eng_released = true;
	pthread_cond_broadcast(&eng_cv);
	pthread_mutex_unlock(&eng_mu);
	core_free(c);
	storage_free(phys);
	for (size_t i = 0; i < 5; i++)
		free(ids[i]);
	free(token);
	free(locator);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timed_call_in_time),
	    cmocka_unit_test(test_timed_call_overrun),
	    cmocka_unit_test(test_blocked_engine_does_not_hold_token_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
