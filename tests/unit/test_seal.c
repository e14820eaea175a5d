/* Unit tests for initialisation, the Shamir seal, the root token and the
 * sys/ routes, in process against inmem storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/engines.h"
#include "audit/device.h"
#include "core/barrier.h"
#include "core/core.h"
#include "core/router.h"
#include "core/token.h"
#include "err.h"
#include "secure.h"
#include "server/http.h"
#include "storage/storage.h"

struct fixture {
	struct storage *phys;
	struct core *core;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 2764800, .max_lease_ttl = 2764800, .expiration_manual = true,
				   .engines = &builtin_engines, .audit_devices = &audit_device_types};
	f->phys = storage_inmem_new();
	f->core = core_new(f->phys, &cc);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	core_free(f->core);
	storage_free(f->phys);
	free(f);
	return 0;
}

static void test_init_unseal_every_subset(void **state)
{
	struct fixture *f = *state;
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	bool init = true;
	buf_init(&err, 1024);

	assert_int_equal(core_initialized(f->core, &init), 0);
	assert_false(init);
	assert_int_equal(core_initialize(f->core, 4, 3, NULL, &res, &err), 0);
	assert_int_equal(res.nkeys, 4);
	assert_int_equal(strncmp(res.root_token, "hvs.", 4), 0);
	assert_int_equal(strlen(res.root_token), 4 + TOKEN_SEQ_HEX + 24);
	assert_true(core_sealed(f->core));

	/* Initialising twice is refused. */
	struct core_init_result again;
	buf_reset(&err);
	assert_int_equal(core_initialize(f->core, 1, 1, NULL, &again, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "already initialized"));

	/* Every 3-of-4 subset unseals. */
	for (unsigned skip = 0; skip < 4; skip++) {
		for (unsigned i = 0; i < 4; i++) {
			if (i == skip)
				continue;
			assert_int_equal(core_unseal(f->core, res.keys[i], res.key_len, &st, &err), 0);
		}
		assert_false(st.sealed);
		assert_int_equal(st.progress, 0);
		assert_int_equal(core_seal(f->core), 0);
		assert_true(core_sealed(f->core));
	}

	/* Two shares are progress, not an unseal; the nonce is set. */
	assert_int_equal(core_unseal(f->core, res.keys[0], res.key_len, &st, &err), 0);
	assert_int_equal(st.progress, 1);
	assert_int_equal(strlen(st.nonce), 36);
	/* A duplicate is refused and does not count. */
	buf_reset(&err);
	assert_int_equal(core_unseal(f->core, res.keys[0], res.key_len, &st, &err), TROVE_ERR_INVALID);
	assert_int_equal(st.progress, 1);
	/* A short share is refused. */
	assert_int_equal(core_unseal(f->core, res.keys[1], 10, &st, &err), TROVE_ERR_INVALID);
	assert_int_equal(st.progress, 1);
	/* Reset clears. */
	assert_int_equal(core_unseal_reset(f->core), 0);
	assert_int_equal(core_seal_status(f->core, &st), 0);
	assert_int_equal(st.progress, 0);
	assert_string_equal(st.nonce, "");

	/* A wrong share in the set fails as a whole and resets progress. */
	unsigned char bogus[33];
	memcpy(bogus, res.keys[2], 33);
	bogus[5] ^= 0x40;
	assert_int_equal(core_unseal(f->core, res.keys[0], res.key_len, &st, &err), 0);
	assert_int_equal(core_unseal(f->core, res.keys[1], res.key_len, &st, &err), 0);
	buf_reset(&err);
	assert_int_equal(core_unseal(f->core, bogus, 33, &st, &err), TROVE_ERR_INVALID);
	assert_true(st.sealed);
	assert_int_equal(st.progress, 0);
	assert_null(strstr(err.data, "share 3"));

	core_init_result_release(&res);
	buf_release(&err);
}

static void test_root_token_hashed(void **state)
{
	struct fixture *f = *state;
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	struct token_entry *e = NULL;
	buf_init(&err, 1024);
	assert_int_equal(core_initialize(f->core, 1, 1, "my-root", &res, &err), 0);
	assert_string_equal(res.root_token, "my-root");
	assert_int_equal(core_unseal(f->core, res.keys[0], res.key_len, &st, &err), 0);
	assert_false(st.sealed);
	assert_int_equal(token_lookup(core_tokens(f->core), "my-root", &e), 0);
	assert_true(token_has_policy(e, "root"));
	token_entry_free(e);
	assert_int_equal(token_lookup(core_tokens(f->core), "my-roo", &e), TROVE_ERR_PERMISSION);
	assert_int_equal(token_lookup(core_tokens(f->core), "", &e), TROVE_ERR_PERMISSION);

	/* The token appears nowhere in physical storage. */
	struct strlist keys;
	strlist_init(&keys);
	assert_int_equal(storage_list(f->phys, "sys/token/id/", &keys), 0);
	assert_int_equal(keys.len, 1);
	assert_null(strstr(keys.items[0], "my-root"));
	strlist_release(&keys);

	core_seal(f->core);
	assert_int_equal(token_lookup(core_tokens(f->core), "my-root", &e), TROVE_ERR_SEALED);
	core_init_result_release(&res);
	buf_release(&err);
}

/* Drives a request through the HTTP edge and the router, as a listener
 * would, with no_block as an event loop sets it; *slow (may be NULL) gets
 * router_is_slow's answer, *status the HTTP status and *body the rendered
 * reply (neither rendered when the router asks for the pool). Returns the
 * router's result. */
static int drive(struct core *core, const char *method, const char *path, const char *token, const char *json,
		 bool no_block, bool *slow, int *status, json_t **body)
{
	struct request req;
	struct response resp;
	struct route_match m;
	struct buf out;
	request_init(&req);
	response_init(&resp);
	buf_init(&out, 1 << 20);
	req.core = core;
	if (token)
		req.client_token = strdup(token);
	*status = 0;
	*body = NULL;
	int r = http_build_request(&req, method, strlen(method), path, strlen(path), json, json ? strlen(json) : 0,
				   NULL, 0, &resp);
	if (r == 0) {
		router_match(&req, &m);
		if (slow)
			*slow = router_is_slow(&req, &m);
		req.no_block = no_block;
		r = router_dispatch(&req, &m, &resp);
	}
	if (r != TROVE_ERR_WOULD_BLOCK) {
		assert_int_equal(http_render(&req, &resp, r, status, &out), 0);
		*body = out.len ? json_loads(out.data, 0, NULL) : NULL;
	}
	buf_release(&out);
	request_release(&req);
	response_release(&resp);
	return r;
}

/* A request as the pool runs it. Returns the HTTP status; the body lands
 * in *body. */
static int call(struct core *core, const char *method, const char *path, const char *token, const char *json,
		json_t **body)
{
	int status;
	drive(core, method, path, token, json, false, NULL, &status, body);
	return status;
}

static void test_sys_routes(void **state)
{
	struct fixture *f = *state;
	json_t *b = NULL;

	assert_int_equal(call(f->core, "GET", "/v1/sys/health", NULL, NULL, &b), 501);
	json_decref(b);
	assert_int_equal(call(f->core, "GET", "/v1/sys/health?uninitcode=299", NULL, NULL, &b), 299);
	json_decref(b);
	assert_int_equal(call(f->core, "GET", "/v1/sys/health?uninitcode=abc", NULL, NULL, &b), 400);
	json_decref(b);
	assert_int_equal(call(f->core, "GET", "/v1/sys/init", NULL, NULL, &b), 200);
	assert_true(json_is_false(json_object_get(b, "initialized")));
	json_decref(b);
	assert_int_equal(call(f->core, "PUT", "/v1/sys/init", NULL, "{\"secret_shares\": \"two\"}", &b), 400);
	assert_non_null(strstr(json_string_value(json_array_get(json_object_get(b, "errors"), 0)), "secret_shares"));
	json_decref(b);
	assert_int_equal(call(f->core, "PUT", "/v1/sys/init", NULL, "{\"secret_shares\": 1, \"secret_threshold\": 1}", &b),
			 200);
	const char *key = json_string_value(json_array_get(json_object_get(b, "keys_base64"), 0));
	const char *hexkey = json_string_value(json_array_get(json_object_get(b, "keys"), 0));
	const char *root = json_string_value(json_object_get(b, "root_token"));
	char *key_copy = strdup(key), *hex_copy = strdup(hexkey), *root_copy = strdup(root);
	char body[256];
	json_decref(b);

	/* Sealed: only the special paths answer. */
	assert_int_equal(call(f->core, "GET", "/v1/sys/health", NULL, NULL, &b), 503);
	json_decref(b);
	assert_int_equal(call(f->core, "GET", "/v1/sys/key-status", root_copy, NULL, &b), 503);
	assert_string_equal(json_string_value(json_array_get(json_object_get(b, "errors"), 0)), "Vault is sealed");
	json_decref(b);
	assert_int_equal(call(f->core, "GET", "/v1/sys/leader", NULL, NULL, &b), 200);
	json_decref(b);
	assert_int_equal(call(f->core, "PUT", "/v1/sys/unseal", NULL, "{}", &b), 400);
	json_decref(b);
	assert_int_equal(call(f->core, "PUT", "/v1/sys/unseal", NULL, "{\"key\": \"!!!\"}", &b), 400);
	json_decref(b);
	snprintf(body, sizeof(body), "{\"key\": \"%s\"}", hex_copy);
	assert_int_equal(call(f->core, "PUT", "/v1/sys/unseal", NULL, body, &b), 200);
	assert_true(json_is_false(json_object_get(b, "sealed")));
	json_decref(b);

	assert_int_equal(call(f->core, "GET", "/v1/sys/health", NULL, NULL, &b), 200);
	assert_non_null(json_object_get(b, "cluster_id"));
	json_decref(b);
	assert_int_equal(call(f->core, "PUT", "/v1/sys/unseal", NULL, "{\"reset\": true}", &b), 400);
	json_decref(b);

	/* Token checks: none, wrong, Bearer-equivalent, root. */
	assert_int_equal(call(f->core, "GET", "/v1/sys/key-status", NULL, NULL, &b), 403);
	json_decref(b);
	assert_int_equal(call(f->core, "GET", "/v1/sys/key-status", "hvs.nope", NULL, &b), 403);
	json_decref(b);
	assert_int_equal(call(f->core, "GET", "/v1/sys/key-status", root_copy, NULL, &b), 200);
	assert_int_equal(json_integer_value(json_object_get(b, "term")), 1);
	json_decref(b);
	assert_int_equal(call(f->core, "PUT", "/v1/sys/rotate", "hvs.nope", NULL, &b), 403);
	json_decref(b);
	assert_int_equal(call(f->core, "PUT", "/v1/sys/rotate", root_copy, NULL, &b), 204);
	assert_int_equal(call(f->core, "GET", "/v1/sys/key-status", root_copy, NULL, &b), 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "data"), "term")), 2);
	json_decref(b);

	/* Unknown path: 403 without a token, 404 with root; bad verb 405. */
	assert_int_equal(call(f->core, "GET", "/v1/sys/nothing-here", NULL, NULL, &b), 403);
	json_decref(b);
	assert_int_equal(call(f->core, "GET", "/v1/sys/nothing-here", root_copy, NULL, &b), 404);
	json_decref(b);
	assert_int_equal(call(f->core, "LIST", "/v1/nowhere/", root_copy, NULL, &b), 404);
	json_decref(b);
	assert_int_equal(call(f->core, "DELETE", "/v1/sys/rotate", root_copy, NULL, &b), 405);
	json_decref(b);

	assert_int_equal(call(f->core, "PUT", "/v1/sys/seal", NULL, NULL, &b), 403);
	json_decref(b);
	assert_int_equal(call(f->core, "PUT", "/v1/sys/seal", root_copy, NULL, &b), 204);
	assert_true(core_sealed(f->core));
	snprintf(body, sizeof(body), "{\"key\": \"%s\"}", key_copy);
	assert_int_equal(call(f->core, "PUT", "/v1/sys/unseal", NULL, body, &b), 200);
	json_decref(b);
	assert_false(core_sealed(f->core));
	free(key_copy);
	free(hex_copy);
	free(root_copy);
}

/* A bodiless request with no_block as given; *slow gets where the
 * listener would run it. Returns the router's result. */
static int call_where(struct core *core, const char *method, const char *path, const char *token, bool no_block,
		      bool *slow, json_t **body)
{
	int status;
	return drive(core, method, path, token, NULL, no_block, slow, &status, body);
}

static int64_t uses_left(struct core *core, const char *token)
{
	struct token_entry *e = NULL;
	assert_int_equal(token_lookup_ex(core_tokens(core), token, NULL, TOKEN_LOOKUP_NO_USE, &e), 0);
	int64_t n = e->num_uses;
	token_entry_free(e);
	return n;
}

/* Where requests run: reads on the loop only where the route declares them
 * safe there; writes and undeclared reads on the pool; and a read with a
 * limited-use token leaves the loop before it spends the use. */
static void test_where_requests_run(void **state)
{
	struct fixture *f = *state;
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	json_t *b = NULL;
	bool slow;
	buf_init(&err, 1024);
	assert_int_equal(core_initialize(f->core, 1, 1, "my-root", &res, &err), 0);
	assert_int_equal(core_unseal(f->core, res.keys[0], res.key_len, &st, &err), 0);

	assert_int_equal(call_where(f->core, "GET", "/v1/sys/health", NULL, true, &slow, &b), 0);
	assert_false(slow); /* declared ROUTE_LOOP_READS */
	json_decref(b);
	assert_int_equal(call_where(f->core, "GET", "/v1/sys/init", NULL, false, &slow, &b), 0);
	assert_true(slow); /* a read that does not declare it */
	json_decref(b);
	call_where(f->core, "PUT", "/v1/sys/rotate", "my-root", false, &slow, &b);
	assert_true(slow); /* a write */
	json_decref(b);
	call_where(f->core, "GET", "/v1/sys/nothing-here", "my-root", true, &slow, &b);
	assert_false(slow); /* an unknown path: a 404 */
	json_decref(b);

	/* A token with two uses. */
	assert_int_equal(call(f->core, "POST", "/v1/auth/token/create", "my-root",
	                      "{\"policies\": [\"default\"], \"num_uses\": 2}", &b),
	                 200);
	char *limited =
	    strdup(json_string_value(json_object_get(json_object_get(b, "auth"), "client_token")));
	json_decref(b);
	assert_int_equal(uses_left(f->core, limited), 2);
	/* On the loop: the read is declared safe there, but spending the use
	 * is a write, so it asks for the pool and spends nothing. */
	assert_int_equal(call_where(f->core, "GET", "/v1/auth/token/lookup-self", limited, true, &slow, &b),
	                 TROVE_ERR_WOULD_BLOCK);
	assert_false(slow);
	assert_int_equal(uses_left(f->core, limited), 2);
	/* On the pool it runs and spends one. */
	assert_int_equal(call_where(f->core, "GET", "/v1/auth/token/lookup-self", limited, false, &slow, &b),
	                 0);
	json_decref(b);
	assert_int_equal(uses_left(f->core, limited), 1);
	/* An unlimited token is served on the loop. */
	assert_int_equal(call_where(f->core, "GET", "/v1/auth/token/lookup-self", "my-root", true, &slow, &b),
	                 0);
	json_decref(b);
	free(limited);
	core_init_result_release(&res);
	buf_release(&err);
}

/* A read an HA standby serves itself (standby_read, as the listener marks
 * it) with a token that has a use limit: sent back unserved for the
 * active node (send_to_active), nothing spent by the lookup; a token
 * without a limit is served. */
static int standby_read(struct core *core, const char *token, bool *to_active)
{
	struct request req;
	struct response resp;
	struct route_match m;
	const char *path = "/v1/auth/token/lookup-self";
	request_init(&req);
	response_init(&resp);
	req.core = core;
	req.client_token = strdup(token);
	int r = http_build_request(&req, "GET", 3, path, strlen(path), NULL, 0, NULL, 0, &resp);
	if (r == 0) {
		router_match(&req, &m);
		req.standby_read = true;
		r = router_dispatch(&req, &m, &resp);
	}
	*to_active = req.send_to_active;
	if (req.send_to_active)
		assert_null(req.token); /* nothing kept of the lookup */
	request_release(&req);
	response_release(&resp);
	return r;
}

static void test_standby_read_sends_limited_tokens_on(void **state)
{
	struct fixture *f = *state;
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	json_t *b = NULL;
	bool to_active = true;
	buf_init(&err, 1024);
	assert_int_equal(core_initialize(f->core, 1, 1, "my-root", &res, &err), 0);
	assert_int_equal(core_unseal(f->core, res.keys[0], res.key_len, &st, &err), 0);
	assert_int_equal(call(f->core, "POST", "/v1/auth/token/create", "my-root",
	                      "{\"policies\": [\"default\"], \"num_uses\": 2}", &b),
	                 200);
	char *limited = strdup(json_string_value(json_object_get(json_object_get(b, "auth"), "client_token")));
	json_decref(b);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(standby_read(f->core, limited, &to_active), TROVE_ERR_WOULD_BLOCK);
		assert_true(to_active);
	}
	assert_int_equal(uses_left(f->core, limited), 2);
	assert_int_equal(standby_read(f->core, "my-root", &to_active), 0);
	assert_false(to_active);
	free(limited);
	core_init_result_release(&res);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_init_unseal_every_subset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_token_hashed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sys_routes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_where_requests_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_standby_read_sends_limited_tokens_on, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
