/* test_login_oidc_http.c — the requests the OIDC login's callback listener
 * accepts (src/cli/login_oidc_http.c): the two callback shapes, and every
 * other request answered with its status without a callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "cli/login_oidc_http.h"

static int parse(const char *req, struct oidc_callback *cb)
{
	return oidc_http_parse(req, strlen(req), cb);
}

static void get_callback(void **st)
{
	struct oidc_callback cb;
	(void)st;
	assert_int_equal(
	    parse("GET /oidc/callback?state=st%2B1&code=a+b&x=y HTTP/1.1\r\nHost: l\r\n\r\n", &cb), 200);
	assert_string_equal(cb.state, "st+1");
	assert_string_equal(cb.code, "a b");
	assert_null(cb.id_token);
	oidc_callback_release(&cb);
	assert_null(cb.state);
	assert_int_equal(
	    parse("GET /oidc/callback?state=s&error=access_denied&error_description=no HTTP/1.0\r\n\r\n",
	          &cb),
	    200);
	assert_string_equal(cb.error, "access_denied");
	assert_string_equal(cb.error_description, "no");
	oidc_callback_release(&cb);
	/* No query at all: a callback with nothing (the state check refuses it). */
	assert_int_equal(parse("GET /oidc/callback HTTP/1.1\r\n\r\n", &cb), 200);
	assert_null(cb.state);
	oidc_callback_release(&cb);
}

static void form_post_callback(void **st)
{
	const char *req = "POST /oidc/callback HTTP/1.1\r\nHost: l\r\n"
	                  "content-type: application/x-www-form-urlencoded; charset=utf-8\r\n"
	                  "Content-Length: 31\r\n\r\nstate=s1&code=c1&id_token=a.b.c";
	struct oidc_callback cb;
	size_t n = strlen(req);
	(void)st;
	/* Every prefix is incomplete; the whole is a callback. */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(oidc_http_parse(req, i, &cb), 0);
	assert_int_equal(oidc_http_parse(req, n, &cb), 200);
	assert_string_equal(cb.state, "s1");
	assert_string_equal(cb.code, "c1");
	assert_string_equal(cb.id_token, "a.b.c");
	oidc_callback_release(&cb);
}

static void refusals(void **st)
{
	struct {
		const char *req;
		int want;
	} cases[] = {
	    {"GET /oidc/callbackx?state=s HTTP/1.1\r\n\r\n", 404},
	    {"GET /oidc/callback/ HTTP/1.1\r\n\r\n", 404},
	    {"GET / HTTP/1.1\r\n\r\n", 404},
	    {"GET http://evil/oidc/callback HTTP/1.1\r\n\r\n", 404},
	    {"PUT /oidc/callback HTTP/1.1\r\n\r\n", 405},
	    {"CONNECT evil:443 HTTP/1.1\r\n\r\n", 405},
	    {"GET /oidc/callback\r\n\r\n", 400},
	    {"GET /oidc/callback HTTP/2.0x\r\n\r\n", 400},
	    {"garbage\r\n\r\n", 400},
	    {"GET /oidc/callback?state=a&state=b HTTP/1.1\r\n\r\n", 400},
	    {"GET /oidc/callback?state=%zz HTTP/1.1\r\n\r\n", 400},
	    {"GET /oidc/callback?state=%00 HTTP/1.1\r\n\r\n", 400},
	    {"POST /oidc/callback HTTP/1.1\r\n\r\n", 411},
	    {"POST /oidc/callback HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 411},
	    {"POST /oidc/callback HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
	    {"POST /oidc/callback HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", 413},
	    {"POST /oidc/callback HTTP/1.1\r\nContent-Length: 70000\r\n\r\n", 413},
	    {"POST /oidc/callback HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
	     415},
	    {"POST /oidc/callback HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 415},
	};
	struct oidc_callback cb;
	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = parse(cases[i].req, &cb);
		if (got != cases[i].want)
			fail_msg("case %zu (%s): got %d, want %d", i, cases[i].req, got, cases[i].want);
		assert_null(cb.state);
	}
}

static void size_bound(void **st)
{
	struct oidc_callback cb;
	char *big = malloc(OIDC_HTTP_MAX_REQUEST + 2);
	(void)st;
	memset(big, 'a', OIDC_HTTP_MAX_REQUEST + 1);
	big[OIDC_HTTP_MAX_REQUEST + 1] = '\0';
	/* A head that never ends is refused at the bound, not read for ever. */
	assert_int_equal(oidc_http_parse(big, OIDC_HTTP_MAX_REQUEST - 1, &cb), 0);
	assert_int_equal(oidc_http_parse(big, OIDC_HTTP_MAX_REQUEST, &cb), 413);
	assert_int_equal(oidc_http_parse(big, OIDC_HTTP_MAX_REQUEST + 1, &cb), 413);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(get_callback),
	    cmocka_unit_test(form_post_callback),
	    cmocka_unit_test(refusals),
	    cmocka_unit_test(size_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
