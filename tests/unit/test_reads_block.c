/* Unit tests for storage whose reads block (postgresql): the router sends
 * their reads to the worker pool, except the routes served while sealed,
 * which read memory only and stay on the event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/router.h"
#include "core_fixture.h"
#include "server/http.h"
#include "storage/storage.h"

/* router_is_slow's answer for method on path, with the root token. */
static bool slow(struct core *core, const char *method, const char *path)
{
	struct request req;
	struct response resp;
	struct route_match m;
	bool r;

	request_init(&req);
	response_init(&resp);
	req.core = core;
	req.client_token = strdup(FIXTURE_ROOT_TOKEN);
	assert_int_equal(http_build_request(&req, method, strlen(method), path, strlen(path), NULL, 0, NULL, 0, &resp),
	                 0);
	router_match(&req, &m);
	r = router_is_slow(&req, &m);
	request_release(&req);
	response_release(&resp);
	return r;
}

static void test_reads_stay_on_loop_for_local_storage(void **state)
{
	struct core_fixture f;
	(void)state;

	core_fixture_start(&f, NULL, 3600, 3600);
	assert_false(core_storage(f.core)->reads_block);
	assert_false(slow(f.core, "GET", "/v1/sys/health"));
	assert_false(slow(f.core, "GET", "/v1/sys/mounts"));
	assert_false(slow(f.core, "GET", "/v1/sys/policy/default"));
	assert_false(slow(f.core, "GET", "/v1/no/such/mount"));
	core_fixture_stop(&f);
}

static void test_blocking_reads_go_to_pool(void **state)
{
	struct core_fixture f;
	(void)state;

	core_fixture_start(&f, NULL, 3600, 3600);
	/* as the barrier takes it from a postgresql backend */
	core_storage(f.core)->reads_block = true;
	/* served while sealed: memory only, kept on the loop */
	assert_false(slow(f.core, "GET", "/v1/sys/health"));
	assert_false(slow(f.core, "HEAD", "/v1/sys/health"));
	assert_false(slow(f.core, "GET", "/v1/sys/seal-status"));
	assert_false(slow(f.core, "GET", "/v1/sys/leader"));
	/* reads that may reach storage (the token, the policy, the data) */
	assert_true(slow(f.core, "GET", "/v1/sys/mounts"));
	assert_true(slow(f.core, "GET", "/v1/sys/policy/default"));
	assert_true(slow(f.core, "LIST", "/v1/sys/policy"));
	assert_true(slow(f.core, "GET", "/v1/no/such/mount"));
	core_storage(f.core)->reads_block = false;
	core_fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reads_stay_on_loop_for_local_storage),
	    cmocka_unit_test(test_blocking_reads_go_to_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
