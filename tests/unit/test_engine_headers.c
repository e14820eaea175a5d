/* What an engine may add to the HTTP exchange beyond JSON: response
 * headers, passed only when the mount's allowed_response_headers tune names
 * them (as Vault), checked so that no header can be injected; and a raw
 * request body (ROUTE_RAW_BODY) that the router never parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/device.h"
#include "core/core.h"
#include "core/router.h"
#include "engines/engines.h"
#include "err.h"
#include "server/http.h"

static int say(struct request *req, struct response *resp)
{
	(void)req;
	response_header_add(resp, "Replay-Nonce", "n0nce");
	response_header_add(resp, "Location", "/v1/echo/thing/1");
	response_header_add(resp, "Link", "<a>;rel=\"up\"");
	response_header_add(resp, "Link", "<b>;rel=\"index\"");
	response_header_add(resp, "X-Other", "x");
	response_set_data(resp, json_pack("{s:b}", "said", 1));
	return 0;
}

/* Answers the raw body's length and its first byte. */
static int raw(struct request *req, struct response *resp)
{
	size_t n = 0;
	const char *p = request_body_bytes(req, &n);
	response_set_data(resp, json_pack("{s:I, s:i}", "len", (json_int_t)n, "first", p ? (unsigned char)p[0] : -1));
	return 0;
}

static const struct route echo_routes[] = {
    {.pattern = "say", .ops = {[OP_UPDATE] = say}},
    {.pattern = "raw", .ops = {[OP_UPDATE] = raw}, .flags = ROUTE_UNAUTH | ROUTE_RAW_BODY},
    {0},
};
static const struct route *const echo_tables[] = {echo_routes, NULL};
static const struct engine echo_engine = {.type = "echo", .tables = echo_tables};

static const struct engine *lookup(const char *type, const json_t *options, bool auth)
{
	if (!auth && strcmp(type, "echo") == 0)
		return &echo_engine;
	return builtin_engines.lookup(type, options, auth);
}
static const struct engine_registry with_echo = {.lookup = lookup};

/* One request through the HTTP edge and the router: the status; the
 * response headers the router kept in *headers (may be NULL). */
static int call(struct core *core, const char *method, const char *path, const char *body, size_t len,
		const char *type, json_t **headers)
{
	struct request req;
	struct response resp;
	struct route_match m;
	struct buf out;
	int status = 0;
	request_init(&req);
	response_init(&resp);
	buf_init(&out, 1 << 16);
	req.core = core;
	req.client_token = strdup("root-id");
	int r = http_build_request(&req, method, strlen(method), path, strlen(path), body, len, type, strlen(type),
				   &resp);
	if (r == 0) {
		router_match(&req, &m);
		r = router_dispatch(&req, &m, &resp);
	}
	assert_int_equal(http_render(&req, &resp, r, &status, &out), 0);
	if (headers)
		*headers = json_incref(resp.headers);
	buf_release(&out);
	request_release(&req);
	response_release(&resp);
	return status;
}

static int call_json(struct core *core, const char *method, const char *path, const char *json, json_t **headers)
{
	return call(core, method, path, json, json ? strlen(json) : 0, "application/json", headers);
}

static void test_header_syntax(void **state)
{
	(void)state;
	struct response resp;
	response_init(&resp);
	assert_int_equal(response_header_add(&resp, "Location", "a\r\nSet-Cookie: x=1"), TROVE_ERR_INVALID);
	assert_int_equal(response_header_add(&resp, "Location", "a\nb"), TROVE_ERR_INVALID);
	assert_int_equal(response_header_add(&resp, "Bad Name", "v"), TROVE_ERR_INVALID);
	assert_int_equal(response_header_add(&resp, "", "v"), TROVE_ERR_INVALID);
	assert_int_equal(response_header_add(&resp, "X-Ok:", "v"), TROVE_ERR_INVALID);
	assert_null(resp.headers);
	assert_int_equal(response_header_add(&resp, "Link", "<x>;rel=\"up\"\t"), 0);
	assert_int_equal(json_array_size(json_object_get(resp.headers, "Link")), 1);
	response_release(&resp);
}

static void test_engine_headers(void **state)
{
	(void)state;
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 600, .max_lease_ttl = 7200,
				 .expiration_manual = true, .engines = &with_echo,
				 .audit_devices = &audit_device_types};
	struct storage *phys = storage_inmem_new();
	struct core *core = core_new(phys, &cc);
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	json_t *h = NULL;
	buf_init(&err, 1024);
	assert_int_equal(core_initialize(core, 1, 1, "root-id", &res, &err), 0);
	assert_int_equal(core_unseal(core, res.keys[0], res.key_len, &st, &err), 0);
	assert_int_equal(call_json(core, "POST", "/v1/sys/mounts/echo", "{\"type\": \"echo\"}", NULL), 204);

	/* Untuned: nothing passes. */
	assert_int_equal(call_json(core, "POST", "/v1/echo/say", "{}", &h), 200);
	assert_null(h);

	/* Tuned: only the named headers, matched without regard to case,
	 * every value of each. */
	assert_int_equal(call_json(core, "POST", "/v1/sys/mounts/echo/tune",
				   "{\"allowed_response_headers\": [\"replay-nonce\", \"LINK\"]}", NULL),
			 204);
	assert_int_equal(call_json(core, "POST", "/v1/echo/say", "{}", &h), 200);
	assert_non_null(h);
	assert_int_equal(json_object_size(h), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(h, "Replay-Nonce"), 0)), "n0nce");
	json_t *link = json_object_get(h, "Link");
	assert_int_equal(json_array_size(link), 2);
	assert_string_equal(json_string_value(json_array_get(link, 1)), "<b>;rel=\"index\"");
	assert_null(json_object_get(h, "Location"));
	assert_null(json_object_get(h, "X-Other"));
	json_decref(h);

	/* A raw body is handed over as bytes, NULs and all, never parsed. */
	const char der[] = {0x30, 0x03, 0x00, 0x01, '{'};
	assert_int_equal(call(core, "POST", "/v1/echo/raw", der, sizeof(der), "application/ocsp-request", NULL), 200);
	struct request req;
	struct response resp;
	struct route_match m;
	request_init(&req);
	response_init(&resp);
	req.core = core;
	assert_int_equal(http_build_request(&req, "POST", 4, "/v1/echo/raw", 12, der, sizeof(der),
					    "application/ocsp-request", 24, &resp),
			 0);
	router_match(&req, &m);
	assert_int_equal(router_dispatch(&req, &m, &resp), 0);
	assert_int_equal(json_integer_value(json_object_get(resp.data, "len")), sizeof(der));
	assert_int_equal(json_integer_value(json_object_get(resp.data, "first")), 0x30);
	request_release(&req);
	response_release(&resp);

	core_init_result_release(&res);
	core_free(core);
	storage_free(phys);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_syntax),
		cmocka_unit_test(test_engine_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
