/* test_pki_inline.c — pki/issue and pki/sign tried on an event loop
 * (route.try_inline, request.no_block), as the listener runs them: a
 * role that stores nothing and makes an EC or Ed25519 key is served
 * there; a storing, leasing or RSA role, and a limited-use token, answer
 * TROVE_ERR_WOULD_BLOCK having stored or spent nothing, and the same
 * request then runs on the pool (the router drops the token and ACL the
 * first run looked up: ASan checks nothing leaks). The try_inline hint
 * follows the kept role. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/router.h"
#include "core/token.h"
#include "core_fixture.h"
#include "err.h"
#include "server/http.h"

struct fx {
	struct core_fixture cf;
	struct core *core;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	core_fixture_start(&f->cf, NULL, 3600, 86400 * 365);
	f->core = f->cf.core;
	assert_int_equal(fixture_call(f->core, "POST", "/v1/sys/mounts/pki", "{\"type\": \"pki\"}", NULL), 204);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/root/generate/internal",
				      "{\"common_name\": \"Inline Root\", \"key_type\": \"ec\", \"ttl\": \"8760h\"}", NULL),
			 200);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	core_fixture_stop(&f->cf);
	free(f);
	return 0;
}

struct where {
	bool slow;      /* router_is_slow: the pool from the start */
	int first;      /* the loop's result (no_block), when tried there */
	int status;     /* the HTTP status of the answer, wherever it ran */
};

/* Runs a request as the listener does: on the pool when router_is_slow
 * says so, else on the loop with no_block and, on WOULD_BLOCK, again on
 * the pool with the same request. */
static struct where run(struct fx *f, const char *path, const char *token, const char *json, json_t **body)
{
	struct where w = {0};
	struct request req;
	struct response resp;
	struct route_match m;
	struct buf out;
	request_init(&req);
	response_init(&resp);
	buf_init(&out, 1 << 20);
	req.core = f->core;
	req.client_token = strdup(token);
	assert_int_equal(http_build_request(&req, "POST", 4, path, strlen(path), json, strlen(json), NULL, 0, &resp), 0);
	router_match(&req, &m);
	w.slow = router_is_slow(&req, &m);
	req.no_block = !w.slow;
	int r = w.first = router_dispatch(&req, &m, &resp);
	if (r == TROVE_ERR_WOULD_BLOCK) {
		req.no_block = false;
		response_release(&resp);
		response_init(&resp);
		r = router_dispatch(&req, &m, &resp);
	}
	assert_int_equal(http_render(&req, &resp, r, &w.status, &out), 0);
	*body = out.len ? json_loads(out.data, 0, NULL) : NULL;
	buf_release(&out);
	request_release(&req);
	response_release(&resp);
	return w;
}

static void put_role(struct fx *f, const char *name, const char *json)
{
	char path[128];
	snprintf(path, sizeof(path), "/v1/pki/roles/%s", name);
	assert_in_range(fixture_call(f->core, "POST", path, json, NULL), 200, 204);
}

static size_t stored_certs(struct fx *f)
{
	json_t *b = NULL;
	int st = fixture_call(f->core, "LIST", "/v1/pki/certs", NULL, &b);
	size_t n = st == 200 ? json_array_size(json_object_get(json_object_get(b, "data"), "keys")) : 0;
	json_decref(b);
	return n;
}

enum ran { INLINE, POOL, POOL_AT_ONCE };

/* The request answers 200 with a certificate, having run on the loop
 * (INLINE), on the pool (POOL: sent there at once or after
 * WOULD_BLOCK) or sent there at once by the hint (POOL_AT_ONCE). */
static void expect(struct fx *f, const char *path, const char *json, enum ran want)
{
	json_t *b = NULL;
	struct where w = run(f, path, FIXTURE_ROOT_TOKEN, json, &b);
	if (want == INLINE)
		assert_true(!w.slow && w.first == 0);
	else if (want == POOL)
		assert_true(w.slow || w.first == TROVE_ERR_WOULD_BLOCK);
	else
		assert_true(w.slow);
	assert_int_equal(w.status, 200);
	const char *pem = json_string_value(json_object_get(json_object_get(b, "data"), "certificate"));
	assert_non_null(pem);
	assert_non_null(strstr(pem, "BEGIN CERTIFICATE"));
	json_decref(b);
}

static const char ISSUE[] = "{\"common_name\": \"a.example.com\"}";

/* A no_store EC or Ed25519 role: served on the loop, nothing stored. */
static void test_no_store_served_inline(void **state)
{
	struct fx *f = *state;
	put_role(f, "ec", "{\"allow_any_name\": true, \"key_type\": \"ec\", \"no_store\": true}");
	put_role(f, "ed", "{\"allow_any_name\": true, \"key_type\": \"ed25519\", \"no_store\": true}");
	size_t base = stored_certs(f); /* the root's */
	expect(f, "/v1/pki/issue/ec", ISSUE, INLINE); /* not kept yet: tried */
	expect(f, "/v1/pki/issue/ec", ISSUE, INLINE); /* kept: no_store */
	expect(f, "/v1/pki/issue/ed", ISSUE, INLINE);
	expect(f, "/v1/pki/issuer/default/issue/ec", ISSUE, INLINE);
	assert_int_equal(stored_certs(f), base);
}

/* Storing, leasing, RSA and P-384 roles leave the loop before anything is
 * made or stored; then the hint sends them to the pool at once. */
static void test_others_leave_the_loop(void **state)
{
	struct fx *f = *state;
	put_role(f, "store", "{\"allow_any_name\": true, \"key_type\": \"ec\"}");
	put_role(f, "lease", "{\"allow_any_name\": true, \"key_type\": \"ec\", \"generate_lease\": true}");
	put_role(f, "rsa", "{\"allow_any_name\": true, \"key_type\": \"rsa\", \"no_store\": true}");
	put_role(f, "p384", "{\"allow_any_name\": true, \"key_type\": \"ec\", \"key_bits\": 384, \"no_store\": true}");
	put_role(f, "any", "{\"allow_any_name\": true, \"key_type\": \"any\", \"no_store\": true}");
	size_t base = stored_certs(f); /* the root's */
	expect(f, "/v1/pki/issue/store", ISSUE, POOL);
	assert_int_equal(stored_certs(f), base + 1); /* once, by the pool */
	expect(f, "/v1/pki/issue/store", ISSUE, POOL_AT_ONCE);
	assert_int_equal(stored_certs(f), base + 2);
	expect(f, "/v1/pki/issue/lease", ISSUE, POOL);
	expect(f, "/v1/pki/issue/lease", ISSUE, POOL_AT_ONCE);
	expect(f, "/v1/pki/issue/rsa", ISSUE, POOL);
	expect(f, "/v1/pki/issue/rsa", ISSUE, POOL_AT_ONCE);
	expect(f, "/v1/pki/issue/p384", ISSUE, POOL);
	/* key_type any: the request's key type decides */
	expect(f, "/v1/pki/issue/any", "{\"common_name\": \"a.example.com\", \"key_type\": \"rsa\"}", POOL);
	expect(f, "/v1/pki/issue/any", "{\"common_name\": \"a.example.com\", \"key_type\": \"ec\"}", INLINE);
	assert_int_equal(stored_certs(f), base + 4);
}

/* A role changed under its kept copy: the hint is only a hint, the
 * handler reads the role and decides. */
static void test_changed_role(void **state)
{
	struct fx *f = *state;
	put_role(f, "r", "{\"allow_any_name\": true, \"key_type\": \"ec\", \"no_store\": true}");
	size_t base = stored_certs(f); /* the root's */
	expect(f, "/v1/pki/issue/r", ISSUE, INLINE);
	put_role(f, "r", "{\"allow_any_name\": true, \"key_type\": \"ec\"}");
	expect(f, "/v1/pki/issue/r", ISSUE, POOL);
	assert_int_equal(stored_certs(f), base + 1);
}

/* A limited-use token: the loop spends nothing, the pool one use. */
static void test_limited_token(void **state)
{
	struct fx *f = *state;
	json_t *b = NULL;
	put_role(f, "ec", "{\"allow_any_name\": true, \"key_type\": \"ec\", \"no_store\": true}");
	assert_int_equal(fixture_call(f->core, "POST", "/v1/auth/token/create",
				      "{\"policies\": [\"root\"], \"num_uses\": 3}", &b),
			 200);
	char *tok = strdup(json_string_value(json_object_get(json_object_get(b, "auth"), "client_token")));
	json_decref(b);
	struct where w = run(f, "/v1/pki/issue/ec", tok, ISSUE, &b);
	assert_false(w.slow);
	assert_int_equal(w.first, TROVE_ERR_WOULD_BLOCK);
	assert_int_equal(w.status, 200);
	json_decref(b);
	struct token_entry *e = NULL;
	assert_int_equal(token_lookup_ex(core_tokens(f->core), tok, NULL, TOKEN_LOOKUP_NO_USE, &e), 0);
	assert_int_equal(e->num_uses, 2);
	token_entry_free(e);
	free(tok);
}

/* sign under a no_store role: on the loop. */
static void test_sign_inline(void **state)
{
	struct fx *f = *state;
	json_t *b = NULL;
	put_role(f, "any", "{\"allow_any_name\": true, \"key_type\": \"any\", \"no_store\": true}");
	size_t base = stored_certs(f); /* the root's */
	/* a CSR from the engine's own issue: any EC key will do */
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/intermediate/generate/exported",
				      "{\"common_name\": \"csr.example.com\", \"key_type\": \"ec\"}", &b),
			 200);
	json_t *body = json_pack("{s:s, s:s}", "csr",
				 json_string_value(json_object_get(json_object_get(b, "data"), "csr")), "common_name",
				 "csr.example.com");
	char *text = json_dumps(body, JSON_COMPACT);
	expect(f, "/v1/pki/sign/any", text, INLINE);
	free(text);
	json_decref(body);
	json_decref(b);
	assert_int_equal(stored_certs(f), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_store_served_inline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_others_leave_the_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changed_role, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limited_token, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_inline, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
