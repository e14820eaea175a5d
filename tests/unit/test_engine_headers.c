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

#include "core_fixture.h"
#include "core/router.h"
#include "engines/engines.h"
#include "err.h"

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

static int call_json(struct core *core, const char *method, const char *path, const char *json, json_t **headers)
{
	struct fixture_request rq = {.method = method, .path = path, .body = json, .len = json ? strlen(json) : 0};
	return fixture_send(core, &rq, NULL, headers);
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
	struct core_fixture f;
	json_t *h = NULL;
	core_fixture_start(&f, &with_echo, 600, 7200);
	struct core *core = f.core;
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
	struct fixture_request rq = {.method = "POST", .path = "/v1/echo/raw", .body = der, .len = sizeof(der),
				     .type = "application/ocsp-request", .token = ""};
	json_t *b = NULL;
	assert_int_equal(fixture_send(core, &rq, &b, NULL), 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "data"), "len")), sizeof(der));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "data"), "first")), 0x30);
	json_decref(b);

	core_fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_syntax),
		cmocka_unit_test(test_engine_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
