/* Unit tests for weak field typing and the HTTP <-> request edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/router.h"
#include "buf.h"
#include "err.h"
#include "server/http.h"

static json_t *coerce(enum field_type t, const char *json_text)
{
	json_t *in = json_loads(json_text, JSON_DECODE_ANY, NULL);
	const char *why = NULL;
	assert_non_null(in);
	json_t *out = field_coerce(t, in, &why);
	json_decref(in);
	return out;
}

static void test_coercion(void **state)
{
	(void)state;
	json_t *v;
	v = coerce(FIELD_INT, "\"42\"");
	assert_int_equal(json_integer_value(v), 42);
	json_decref(v);
	v = coerce(FIELD_INT, "7.0");
	assert_int_equal(json_integer_value(v), 7);
	json_decref(v);
	assert_null(coerce(FIELD_INT, "\"4x\""));
	assert_null(coerce(FIELD_INT, "7.5"));
	assert_null(coerce(FIELD_INT, "[1]"));

	v = coerce(FIELD_BOOL, "\"True\"");
	assert_true(json_is_true(v));
	json_decref(v);
	v = coerce(FIELD_BOOL, "0");
	assert_true(json_is_false(v));
	json_decref(v);
	assert_null(coerce(FIELD_BOOL, "\"yes please\""));

	v = coerce(FIELD_DURATION, "\"2160h0m0s\"");
	assert_int_equal(json_integer_value(v), 2160 * 3600);
	json_decref(v);
	v = coerce(FIELD_DURATION, "300");
	assert_int_equal(json_integer_value(v), 300);
	json_decref(v);
	v = coerce(FIELD_DURATION, "\"90\"");
	assert_int_equal(json_integer_value(v), 90);
	json_decref(v);
	assert_null(coerce(FIELD_DURATION, "-5"));
	assert_null(coerce(FIELD_DURATION, "\"soon\""));
	/* Bounded at 100 years: past it an expiry sum could overflow. */
	static const char *const too_long[] = {
	    "9223372036854775807", "\"9223372036854775807s\"", "1e300", "3153600001",
	    "\"2562047h\"",        "\"876001h\"",              "-1.5",  "-9223372036854775808",
	};
	for (size_t i = 0; i < sizeof(too_long) / sizeof(too_long[0]); i++)
		if (coerce(FIELD_DURATION, too_long[i]))
			fail_msg("accepted duration %s", too_long[i]);
	v = coerce(FIELD_DURATION, "\"876000h\"");
	assert_int_equal(json_integer_value(v), 3153600000);
	json_decref(v);
	v = coerce(FIELD_DURATION, "3153600000.9");
	assert_int_equal(json_integer_value(v), 3153600000);
	json_decref(v);

	v = coerce(FIELD_STRLIST, "\"a, b,,c \"");
	assert_int_equal(json_array_size(v), 3);
	assert_string_equal(json_string_value(json_array_get(v, 2)), "c");
	json_decref(v);
	v = coerce(FIELD_STRLIST, "[\"x\", 5]");
	assert_string_equal(json_string_value(json_array_get(v, 1)), "5");
	json_decref(v);
	assert_null(coerce(FIELD_STRLIST, "{}"));

	v = coerce(FIELD_STRING, "12");
	assert_string_equal(json_string_value(v), "12");
	json_decref(v);
	assert_null(coerce(FIELD_STRING, "{}"));
	assert_null(coerce(FIELD_MAP, "\"x\""));
}

static json_t *coerce_why(enum field_type t, const char *json_text, const char **why)
{
	json_t *in = json_loads(json_text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	assert_non_null(in);
	json_t *out = field_coerce(t, in, why);
	json_decref(in);
	return out;
}

static void assert_list(const json_t *v, const char *const *want, size_t n)
{
	assert_true(json_is_array(v));
	assert_int_equal(json_array_size(v), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(json_string_value(json_array_get(v, i)), want[i]);
}

/* Policy lists take the one form the handlers act on, and no string of a
 * declared field may hide a NUL from the C code behind it. */
static void test_canonical_coercion(void **state)
{
	(void)state;
	static const char *const ad[] = { "admin", "default" };
	const char *why = NULL;
	json_t *v = coerce(FIELD_POLICIES, "\"default, Admin ,admin,\"");
	assert_list(v, ad, 2);
	json_t *again = field_coerce(FIELD_POLICIES, v, &why);
	assert_list(again, ad, 2);
	json_decref(again);
	json_decref(v);
	v = coerce(FIELD_POLICIES, "[\" ADMIN\", \"Default\\t\", \"  \"]");
	assert_list(v, ad, 2);
	json_decref(v);
	assert_null(coerce(FIELD_POLICIES, "{}"));

	assert_null(coerce_why(FIELD_STRING, "\"admin\\u0000\"", &why));
	assert_non_null(strstr(why, "NUL"));
	why = NULL;
	assert_null(coerce_why(FIELD_STRLIST, "\"a,admin\\u0000\"", &why));
	assert_non_null(strstr(why, "NUL"));
	why = NULL;
	assert_null(coerce_why(FIELD_STRLIST, "[\"a\", \"admin\\u0000x\"]", &why));
	assert_non_null(strstr(why, "NUL"));
	why = NULL;
	assert_null(coerce_why(FIELD_POLICIES, "[\"admin\\u0000\"]", &why));
	assert_non_null(strstr(why, "NUL"));
	why = NULL;
	assert_null(coerce_why(FIELD_STRMAP, "{\"k\": \"v\\u0000\"}", &why));
	assert_non_null(strstr(why, "NUL"));
	v = coerce_why(FIELD_MAP, "{\"k\": \"v\\u0000\"}", &why); /* free-form (kv data): as sent */
	assert_non_null(v);
	json_decref(v);
	v = coerce_why(FIELD_ANY, "\"a\\u0000\"", &why); /* free-form: kept as sent */
	assert_non_null(v);
	json_decref(v);
}

/* Maps of strings take numbers and booleans as Vault does (sys/mounts
 * options.version = 1); nested values are refused. */
static void test_string_maps(void **state)
{
	(void)state;
	const char *why = NULL;
	json_t *v = coerce(FIELD_STRMAP, "{\"version\": 2, \"b\": true, \"f\": false, \"r\": 1.5, \"n\": null, \"s\": \"x\"}");
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "version")), "2");
	assert_string_equal(json_string_value(json_object_get(v, "b")), "true");
	assert_string_equal(json_string_value(json_object_get(v, "f")), "false");
	assert_string_equal(json_string_value(json_object_get(v, "r")), "1.5");
	assert_true(json_is_null(json_object_get(v, "n")));
	assert_string_equal(json_string_value(json_object_get(v, "s")), "x");
	json_t *again = field_coerce(FIELD_STRMAP, v, &why);
	assert_true(json_equal(again, v));
	json_decref(again);
	json_decref(v);
	assert_null(coerce_why(FIELD_STRMAP, "{\"version\": {\"a\": 1}}", &why));
	assert_non_null(strstr(why, "strings"));
	assert_null(coerce_why(FIELD_STRMAP, "{\"version\": [2]}", &why));
	assert_null(coerce_why(FIELD_STRMAP, "\"version=2\"", &why));
}

/* Names in paths: one spelling for the ACL and the handler, or 400. */
static int canon(const char *path, size_t mount_len, const char *param, enum op op, unsigned flags,
		 char **path_out, char **param_out)
{
	static const struct field nf[] = {{0}};
	struct route route = { .pattern = "users/:username", .fields = nf, .flags = flags };
	struct request req;
	struct response resp;
	request_init(&req);
	response_init(&resp);
	req.path = strdup(path);
	req.rel = req.path + mount_len;
	req.op = op;
	if (param) {
		req.param_names[0] = strdup("username");
		req.params[0] = strdup(param);
		req.nparams = 1;
	}
	int r = router_canon_path(&req, &route, &resp);
	if (r != 0)
		assert_non_null(strstr(json_string_value(json_array_get(resp.errors, 0)), "invalid path"));
	*path_out = strdup(req.path);
	*param_out = param ? strdup(req.params[0]) : NULL;
	response_release(&resp);
	request_release(&req);
	return r;
}

static void test_canonical_path_names(void **state)
{
	(void)state;
	char *p, *v;
	const size_t m = strlen("auth/userpass/");
	assert_int_equal(canon("auth/userpass/users/ADMIN", m, "ADMIN", OP_UPDATE, ROUTE_NAMES_CI, &p, &v), 0);
	assert_string_equal(p, "auth/userpass/users/admin"); /* the mount keeps its case */
	assert_string_equal(v, "admin");
	free(p);
	free(v);
	assert_int_equal(canon("AUTH/Up/users/Ann/password", strlen("AUTH/Up/"), "Ann", OP_UPDATE, ROUTE_NAMES_CI,
			       &p, &v),
			 0);
	assert_string_equal(p, "AUTH/Up/users/ann/password");
	free(p);
	free(v);
	/* Without the flag the case is kept. */
	assert_int_equal(canon("auth/userpass/users/ADMIN", m, "ADMIN", OP_UPDATE, 0, &p, &v), 0);
	assert_string_equal(p, "auth/userpass/users/ADMIN");
	free(p);
	free(v);
	const char *bad[] = { "auth/userpass/users/admin ", "auth/userpass/users/ admin", "auth/userpass/users/admin\t",
			      "auth/userpass/users/admin /password", "auth/userpass/users/admin/" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(canon(bad[i], m, "admin", OP_UPDATE, ROUTE_NAMES_CI, &p, &v), TROVE_ERR_INVALID);
		free(p);
		free(v);
	}
	/* A trailing '/' is refused on any route binding a name, but for a LIST. */
	assert_int_equal(canon("auth/userpass/users/admin/", m, "admin", OP_READ, 0, &p, &v), TROVE_ERR_INVALID);
	free(p);
	free(v);
	assert_int_equal(canon("auth/userpass/users/admin/", m, "admin", OP_LIST, ROUTE_NAMES_CI, &p, &v), 0);
	free(p);
	free(v);
	assert_int_equal(canon("auth/userpass/users/", m, NULL, OP_READ, 0, &p, &v), 0); /* binds nothing */
	free(p);
	/* A blank inside a name is not at its edge. */
	assert_int_equal(canon("auth/userpass/users/a b", m, "a b", OP_UPDATE, ROUTE_NAMES_CI, &p, &v), 0);
	free(p);
	free(v);
}

/* A policy's parameter values are put in the field's form before they are
 * compared with the coerced request. */
static void test_canonical_policy_values(void **state)
{
	(void)state;
	static const struct field fields[] = {
	    {.name = "ttl", .type = FIELD_DURATION, .description = ""},
	    {.name = "pols", .type = FIELD_POLICIES, .description = ""},
	    {.name = "tags", .type = FIELD_STRLIST, .description = ""},
	    {.name = "name", .type = FIELD_STRING, .description = ""},
	    {.name = "meta", .type = FIELD_MAP, .description = ""},
	    {0},
	};
	static const struct route route = { .pattern = "x", .fields = fields };
	json_t *in, *c;

	in = json_string("1h");
	c = field_canon_param("ttl", in, &route);
	assert_int_equal(json_integer_value(c), 3600);
	json_decref(c);
	assert_null(field_canon_param("other", in, &route)); /* undeclared: as written */
	assert_null(field_canon_param("meta", in, &route));
	json_decref(in);
	in = json_string("1*"); /* a glob is no duration: compared as written */
	assert_null(field_canon_param("ttl", in, &route));
	json_decref(in);
	in = json_string(" ADM* ");
	c = field_canon_param("pols", in, &route);
	assert_string_equal(json_string_value(c), "adm*");
	json_decref(c);
	c = field_canon_param("tags", in, &route); /* one element, not split */
	assert_string_equal(json_string_value(c), " ADM* ");
	json_decref(c);
	json_decref(in);
	in = json_integer(5);
	c = field_canon_param("name", in, &route);
	assert_string_equal(json_string_value(c), "5");
	json_decref(c);
	json_decref(in);
}

struct built {
	struct request req;
	struct response resp;
	int r;
};

static void build(struct built *b, const char *method, const char *path, const char *body, const char *ct)
{
	request_init(&b->req);
	response_init(&b->resp);
	b->r = http_build_request(&b->req, method, strlen(method), path, strlen(path), body, body ? strlen(body) : 0,
				  ct, ct ? strlen(ct) : 0, &b->resp);
	/* What the router does once the request is allowed. */
	if (b->r == 0)
		b->r = request_body_load(&b->req, &b->resp);
}

static void done(struct built *b)
{
	request_release(&b->req);
	response_release(&b->resp);
}

static const char *first_error(struct built *b)
{
	return json_string_value(json_array_get(b->resp.errors, 0));
}

static void test_methods_and_list(void **state)
{
	(void)state;
	struct built b;
	build(&b, "GET", "/v1/secret/foo?list=true", NULL, NULL);
	assert_int_equal(b.r, 0);
	assert_int_equal(b.req.op, OP_LIST);
	assert_string_equal(b.req.path, "secret/foo/");
	assert_null(json_object_get(b.req.data, "list"));
	done(&b);

	build(&b, "GET", "/v1/secret/foo?list=1", NULL, NULL);
	assert_int_equal(b.req.op, OP_LIST);
	done(&b);

	build(&b, "GET", "/v1/secret/foo?list=maybe", NULL, NULL);
	assert_int_equal(b.r, TROVE_ERR_INVALID);
	done(&b);

	build(&b, "LIST", "/v1/secret/", NULL, NULL);
	assert_int_equal(b.r, 0);
	assert_int_equal(b.req.op, OP_LIST);
	assert_string_equal(b.req.path, "secret/");
	done(&b);

	build(&b, "PUT", "/v1/sys/init", "{\"secret_shares\": 1}", NULL);
	assert_int_equal(b.r, 0);
	assert_int_equal(b.req.op, OP_UPDATE);
	assert_int_equal(json_integer_value(json_object_get(b.req.data, "secret_shares")), 1);
	done(&b);

	build(&b, "BREW", "/v1/sys/health", NULL, NULL);
	assert_int_equal(b.r, TROVE_ERR_UNSUPPORTED_OP);
	done(&b);

	build(&b, "PATCH", "/v1/secret/data/x", "{}", "application/json");
	assert_int_equal(b.r, TROVE_ERR_MEDIA_TYPE);
	done(&b);
	build(&b, "PATCH", "/v1/secret/data/x", "{}", "application/merge-patch+json");
	assert_int_equal(b.r, 0);
	assert_int_equal(b.req.op, OP_PATCH);
	done(&b);
}

static void test_query_and_form(void **state)
{
	(void)state;
	struct built b;
	build(&b, "GET", "/v1/sys/health?standbyok=true&a=1&a=2&sp=x+y%21", NULL, NULL);
	assert_int_equal(b.r, 0);
	assert_string_equal(json_string_value(json_object_get(b.req.data, "standbyok")), "true");
	assert_int_equal(json_array_size(json_object_get(b.req.data, "a")), 2);
	assert_string_equal(json_string_value(json_object_get(b.req.data, "sp")), "x y!");
	done(&b);

	build(&b, "POST", "/v1/sys/init", "a=1&a=2&b=z", "application/x-www-form-urlencoded");
	assert_int_equal(b.r, 0);
	assert_string_equal(json_string_value(json_object_get(b.req.data, "a")), "1,2");
	done(&b);

	/* A JSON body with a form content type is still JSON. */
	build(&b, "POST", "/v1/sys/init", " {\"a\": 1}", "application/x-www-form-urlencoded");
	assert_int_equal(b.r, 0);
	assert_int_equal(json_integer_value(json_object_get(b.req.data, "a")), 1);
	done(&b);
}

static void test_bad_bodies(void **state)
{
	(void)state;
	struct built b;
	build(&b, "PUT", "/v1/sys/init", "{\"secret_shares\": ", NULL);
	assert_int_equal(b.r, TROVE_ERR_INVALID);
	assert_non_null(strstr(first_error(&b), "failed to parse JSON input"));
	done(&b);

	build(&b, "PUT", "/v1/sys/init", "[1,2]", NULL);
	assert_int_equal(b.r, TROVE_ERR_INVALID);
	assert_non_null(strstr(first_error(&b), "JSON object"));
	done(&b);

	build(&b, "PUT", "/v1/sys/init", "   \n", NULL);
	assert_int_equal(b.r, 0);
	assert_int_equal(json_object_size(b.req.data), 0);
	done(&b);

	build(&b, "PUT", "/v1/sys/init", "null", NULL);
	assert_int_equal(b.r, 0);
	done(&b);
}

/* The body stays bytes until the router asks for it, and the limits
 * refuse a flood before jansson builds anything. */
static void test_body_is_loaded_late(void **state)
{
	(void)state;
	struct request req;
	struct response resp;
	const char *body = "{\"a\": 1}";
	request_init(&req);
	response_init(&resp);
	assert_int_equal(http_build_request(&req, "PUT", 3, "/v1/secret/x", 12, body, strlen(body), NULL, 0, &resp), 0);
	assert_int_equal(json_object_size(req.data), 0);
	assert_int_equal(request_body_pending(&req), strlen(body));
	request_body_own(&req);
	assert_ptr_not_equal(req.body.ptr, body);
	assert_int_equal(request_body_load(&req, &resp), 0);
	assert_int_equal(request_body_pending(&req), 0);
	assert_int_equal(json_integer_value(json_object_get(req.data, "a")), 1);
	assert_int_equal(request_body_load(&req, &resp), 0); /* once */
	request_release(&req);
	response_release(&resp);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1);
	memcpy(s, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(s + hl + i * ul, unit, ul);
	memcpy(s + hl + ul * n, tail, tl + 1);
	return s;
}

static void test_body_limits(void **state)
{
	(void)state;
	struct built b;
	/* 64 levels pass; 65 are refused, naming the reason. */
	char *deep = repeat("{\"a\":", "[", 63, "");
	char *s = repeat(deep, "]", 63, "}");
	build(&b, "PUT", "/v1/secret/x", s, NULL);
	assert_int_equal(b.r, 0);
	done(&b);
	free(s);
	free(deep);
	deep = repeat("{\"a\":", "[", 64, "");
	s = repeat(deep, "]", 64, "}");
	build(&b, "PUT", "/v1/secret/x", s, NULL);
	assert_int_equal(b.r, TROVE_ERR_INVALID);
	assert_non_null(strstr(first_error(&b), "nesting deeper than 64 levels"));
	done(&b);
	free(s);
	free(deep);
	/* 10,000 members of one array pass; 10,001 do not. */
	s = repeat("{\"a\":[0", ",0", 9999, "]}");
	build(&b, "PUT", "/v1/secret/x", s, NULL);
	assert_int_equal(b.r, 0);
	assert_int_equal(json_array_size(json_object_get(b.req.data, "a")), 10000);
	done(&b);
	free(s);
	s = repeat("{\"a\":[0", ",0", 10000, "]}");
	build(&b, "PUT", "/v1/secret/x", s, NULL);
	assert_int_equal(b.r, TROVE_ERR_INVALID);
	assert_non_null(strstr(first_error(&b), "more than 10000 members"));
	done(&b);
	free(s);
	/* Commas and brackets inside strings are not structure. */
	s = repeat("{\"a\":\"", ",[{\\\"", 20000, "\"}");
	build(&b, "PUT", "/v1/secret/x", s, NULL);
	assert_int_equal(b.r, 0);
	done(&b);
	free(s);
	/* Many small containers: the total. */
	s = repeat("{\"a\":[[0]", ",[0,0,0,0,0,0,0,0,0,0]", 9999, "]}");
	build(&b, "PUT", "/v1/secret/x", s, NULL);
	assert_int_equal(b.r, TROVE_ERR_INVALID);
	assert_non_null(strstr(first_error(&b), "more than 100000 values"));
	done(&b);
	free(s);
	/* A form repeating one key: the pair count is bounded too, and the
	 * joined value is built once. */
	s = repeat("a=1", "&a=1", 5000, "");
	build(&b, "POST", "/v1/secret/x", s, "application/x-www-form-urlencoded");
	assert_int_equal(b.r, 0);
	assert_int_equal(json_string_length(json_object_get(b.req.data, "a")), 5001 * 2 - 1);
	done(&b);
	free(s);
	s = repeat("a=1", "&a=1", 100000, "");
	build(&b, "POST", "/v1/secret/x", s, "application/x-www-form-urlencoded");
	assert_int_equal(b.r, TROVE_ERR_INVALID);
	assert_non_null(strstr(first_error(&b), "too many parameters"));
	done(&b);
	free(s);
}

/* router_path_allowed: a path with "//" goes on only to a read of an
 * unauthenticated ROUTE_TAIL_DATA route, with the "//" inside its tail. */
static bool tail_allowed(const char *path, size_t mount_len, const char *pattern, unsigned flags, enum op op)
{
	struct built b;
	char url[256];
	snprintf(url, sizeof(url), "/v1/%s", path);
	build(&b, op == OP_READ ? "GET" : "POST", url, NULL, NULL);
	assert_int_equal(b.r, 0);
	b.req.rel = b.req.path + mount_len;
	struct route route = {.pattern = pattern, .flags = flags};
	bool ok = router_path_allowed(&b.req, &route);
	done(&b);
	return ok;
}

static void test_empty_segment_only_in_data_tails(void **state)
{
	(void)state;
	const unsigned data = ROUTE_UNAUTH | ROUTE_TAIL_DATA;
	const size_t m = strlen("pki/");
	assert_true(tail_allowed("pki/ocsp/MEow//ab+c=", m, "ocsp/*", data, OP_READ));
	assert_true(tail_allowed("pki/ocsp/MEow%2F%2Fab", m, "ocsp/*", data, OP_READ));
	assert_true(tail_allowed("pki/ocsp/MEow", m, "ocsp/*", ROUTE_UNAUTH, OP_READ)); /* no "//" */
	/* the "//" before the tail, or in the mount's part */
	assert_false(tail_allowed("pki/ocsp//MEow", m, "ocsp/*", data, OP_READ));
	assert_false(tail_allowed("pki//ocsp/MEow", m, "ocsp/*", data, OP_READ));
	/* not a data tail, not unauthenticated, not a read */
	assert_false(tail_allowed("pki/ocsp/MEow//ab", m, "ocsp/*", ROUTE_UNAUTH, OP_READ));
	assert_false(tail_allowed("pki/ocsp/MEow//ab", m, "ocsp/*", ROUTE_TAIL_DATA, OP_READ));
	assert_false(tail_allowed("pki/ocsp/MEow//ab", m, "ocsp/*", data, OP_UPDATE));
	assert_false(tail_allowed("secret/a//b", strlen("secret/"), "*", ROUTE_UNAUTH, OP_READ));
	assert_false(tail_allowed("pki/ocsp/MEow//ab", m, "ocsp/:req", data, OP_READ)); /* no glob */
	/* no route */
	struct built b;
	build(&b, "GET", "/v1/secret/a//b", NULL, NULL);
	assert_false(router_path_allowed(&b.req, NULL));
	done(&b);
}

static void test_paths(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"/v1/secret/../sys/seal", "/v1/secret/./x", "/v1/secret/%2e%2e/x", "/v1/secret/a%00b",
		"/v1/secret/%zz",         "/v1/secret/%0a", "/v1//sys",
	};
	struct built b;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		build(&b, "GET", bad[i], NULL, NULL);
		if (b.r != TROVE_ERR_INVALID)
			fail_msg("path %s was accepted", bad[i]);
		done(&b);
	}
	/* An empty segment is marked for the router (router_path_allowed),
	 * plain or percent-encoded: where its first "//" is. */
	static const char *const empty[] = {"/v1/secret//x", "/v1/secret/%2F/x", "/v1/secret%2f%2Fx/y//z"};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		build(&b, "GET", empty[i], NULL, NULL);
		assert_int_equal(b.r, 0);
		assert_int_equal(b.req.empty_segment, 7);
		done(&b);
	}
	build(&b, "GET", "/v1/secret/x/", NULL, NULL);
	assert_int_equal(b.r, 0);
	assert_int_equal(b.req.empty_segment, 0);
	done(&b);
	build(&b, "GET", "/v2/sys/health", NULL, NULL);
	assert_int_equal(b.r, TROVE_ERR_NOT_FOUND);
	done(&b);
	build(&b, "GET", "/v1/", NULL, NULL);
	assert_int_equal(b.r, TROVE_ERR_NOT_FOUND);
	done(&b);
	build(&b, "GET", "/v1/secret/a%2Fb", NULL, NULL);
	assert_int_equal(b.r, 0);
	assert_string_equal(b.req.path, "secret/a/b");
	done(&b);
}

static void test_render(void **state)
{
	(void)state;
	struct built b;
	struct buf out;
	int status = 0;
	build(&b, "GET", "/v1/sys/key-status", NULL, NULL);
	buf_init(&out, 1 << 16);

	b.resp.data = json_pack("{s:i}", "term", 3);
	b.resp.inject_data = true;
	assert_int_equal(http_render(&b.req, &b.resp, 0, &status, &out), 0);
	assert_int_equal(status, 200);
	json_t *j = json_loads(out.data, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "request_id")), b.req.id);
	assert_true(json_is_null(json_object_get(j, "wrap_info")));
	assert_true(json_is_null(json_object_get(j, "auth")));
	assert_true(json_is_null(json_object_get(j, "warnings")));
	assert_int_equal(json_integer_value(json_object_get(j, "term")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "data"), "term")), 3);
	assert_string_equal(json_string_value(json_object_get(j, "lease_id")), "");
	json_decref(j);

	buf_reset(&out);
	response_release(&b.resp);
	response_init(&b.resp);
	assert_int_equal(http_render(&b.req, &b.resp, 0, &status, &out), 0);
	assert_int_equal(status, 204);
	assert_int_equal(out.len, 0);

	buf_reset(&out);
	response_error(&b.resp, TROVE_ERR_PERMISSION, "permission denied");
	assert_int_equal(http_render(&b.req, &b.resp, TROVE_ERR_PERMISSION, &status, &out), 0);
	assert_int_equal(status, 403);
	assert_non_null(strstr(out.data, "{\"errors\":[\"permission denied\"]}"));

	buf_reset(&out);
	response_release(&b.resp);
	response_init(&b.resp);
	assert_int_equal(http_render(&b.req, &b.resp, TROVE_ERR_NOT_FOUND, &status, &out), 0);
	assert_int_equal(status, 404);
	assert_non_null(strstr(out.data, "{\"errors\":[]}"));
	buf_release(&out);
	done(&b);
}

/* Secret route parameters: the redacted path keeps everything else. */
static void test_path_redacted(void **state)
{
	(void)state;
	struct request req;
	request_init(&req);
	req.path = xstrdup("auth/token/lookup/hvs.SECRET/x/acc1");
	req.secret_spans[0] = (struct path_span){.off = 18, .len = 10};
	req.secret_spans[1] = (struct path_span){.off = 31, .len = 4};
	req.nsecret = 2;
	char *p = request_path_redacted(&req);
	assert_string_equal(p, "auth/token/lookup/" REQUEST_PATH_REDACTED "/x/" REQUEST_PATH_REDACTED);
	free(p);
	req.secret_spans[1] = (struct path_span){.off = 99, .len = 4}; /* outside: ignored */
	p = request_path_redacted(&req);
	assert_string_equal(p, "auth/token/lookup/" REQUEST_PATH_REDACTED "/x/acc1");
	free(p);
	req.nsecret = 0;
	p = request_path_redacted(&req);
	assert_string_equal(p, "auth/token/lookup/hvs.SECRET/x/acc1");
	free(p);
	request_release(&req);
	p = request_path_redacted(&req);
	assert_string_equal(p, "");
	free(p);
}

/* The declarations a route makes of its fields, applied before the ACL:
 * canonical form, bounds, required fields of a write, sensitivity. */
static const struct field declared_fields[] = {
    {.name = "role", .type = FIELD_STRING, .required = true, .canon = FIELD_CANON_LOWER},
    {.name = "tags", .type = FIELD_STRLIST, .canon = FIELD_CANON_TRIM},
    {.name = "uses", .type = FIELD_INT, .min = 1, .max = 10},
    {.name = "ttl", .type = FIELD_DURATION, .min = 60, .max = 3600},
    {.name = "count", .type = FIELD_INT},
    {.name = "secret", .type = FIELD_STRING, .sensitive = true},
    {0},
};
static const struct route declared_route = {.pattern = "things/:name", .fields = declared_fields};

/* Runs router_coerce_fields on body for op; *why_out (may be NULL) gets the
 * reason. Returns its result; *data_out (may be NULL) the coerced data. */
static int declared(const char *body, enum op op, char **why_out, json_t **data_out)
{
	struct request req;
	struct buf why;
	request_init(&req);
	buf_init(&why, 256);
	req.op = op;
	req.data = body ? json_loads(body, 0, NULL) : NULL;
	int r = router_coerce_fields(&req, &declared_route, &why);
	if (why_out)
		*why_out = strdup(why.len ? why.data : "");
	if (data_out)
		*data_out = json_incref(req.data);
	buf_release(&why);
	request_release(&req);
	return r;
}

static void test_declared_fields(void **state)
{
	(void)state;
	char *why;
	json_t *d;

	/* Canonical form before the ACL: a name lower-cased and trimmed, each
	 * string of a list trimmed. */
	assert_int_equal(declared("{\"role\": \"  Admin \", \"tags\": \" a , b\"}", OP_UPDATE, NULL, &d), 0);
	assert_string_equal(json_string_value(json_object_get(d, "role")), "admin");
	assert_string_equal(json_string_value(json_array_get(json_object_get(d, "tags"), 0)), "a");
	assert_string_equal(json_string_value(json_array_get(json_object_get(d, "tags"), 1)), "b");
	json_decref(d);

	/* Bounds, for ints and durations, in seconds; an undeclared bound is none. */
	assert_int_equal(declared("{\"role\": \"r\", \"uses\": 10, \"ttl\": \"1h\", \"count\": -7}", OP_UPDATE,
				  NULL, NULL),
			 0);
	assert_int_equal(declared("{\"role\": \"r\", \"uses\": 11}", OP_UPDATE, &why, NULL), TROVE_ERR_INVALID);
	assert_string_equal(why, "uses: above the maximum (1 to 10)");
	free(why);
	assert_int_equal(declared("{\"role\": \"r\", \"uses\": \"0\"}", OP_UPDATE, &why, NULL), TROVE_ERR_INVALID);
	assert_string_equal(why, "uses: below the minimum (1 to 10)");
	free(why);
	assert_int_equal(declared("{\"role\": \"r\", \"ttl\": \"59s\"}", OP_UPDATE, &why, NULL), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "ttl: below the minimum"));
	free(why);

	/* A write must give a required field; a read need not. */
	assert_int_equal(declared("{\"uses\": 2}", OP_UPDATE, &why, NULL), TROVE_ERR_INVALID);
	assert_string_equal(why, "role: missing");
	free(why);
	assert_int_equal(declared("{\"role\": null}", OP_CREATE, &why, NULL), TROVE_ERR_INVALID);
	assert_string_equal(why, "role: missing");
	free(why);
	assert_int_equal(declared(NULL, OP_CREATE, &why, NULL), TROVE_ERR_INVALID);
	free(why);
	assert_int_equal(declared(NULL, OP_READ, NULL, NULL), 0);
	assert_int_equal(declared(NULL, OP_DELETE, NULL, NULL), 0);

	/* A sensitive value is never echoed in the error. */
	assert_int_equal(declared("{\"role\": \"r\", \"secret\": [\"hunter2\"]}", OP_UPDATE, &why, NULL),
			 TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "secret"));
	assert_null(strstr(why, "hunter2"));
	free(why);
	assert_true(field_is_sensitive(&declared_route, "secret", 6));
	assert_false(field_is_sensitive(&declared_route, "secrets", 7));
	assert_false(field_is_sensitive(&declared_route, "secret", 5));
	assert_false(field_is_sensitive(&declared_route, "role", 4));
	assert_false(field_is_sensitive(NULL, "secret", 6));

	/* A policy's parameter values take the same canonical form. */
	json_t *v = json_string(" ADMIN ");
	json_t *c = field_canon_param("role", v, &declared_route);
	assert_string_equal(json_string_value(c), "admin");
	json_decref(c);
	c = field_canon_param("tags", v, &declared_route);
	assert_string_equal(json_string_value(c), "ADMIN");
	json_decref(c);
	json_decref(v);
}

/* The envelope is written member by member; the bytes are those of the
 * tree Vault's envelope would be, dumped by jansson. */
static void test_render_envelope_bytes(void **state)
{
	(void)state;
	struct built b;
	struct buf out;
	int status = 0;
	build(&b, "GET", "/v1/sys/key-status", NULL, NULL);
	for (int variant = 0; variant < 3; variant++) {
		buf_init(&out, 1 << 16);
		response_release(&b.resp);
		response_init(&b.resp);
		b.resp.data = json_pack("{s:s, s:[i, f, b], s:{s:n}, s:s}", "password", "p\"w\u00e9", "list", 1, 2.5, 1,
					"nested", "x", "request_id", "shadowed");
		if (variant >= 1) {
			b.resp.warnings = json_pack("[s]", "careful");
			b.resp.auth = json_pack("{s:s, s:[s]}", "client_token", "hvs.x", "policies", "default");
			b.resp.lease_id = strdup("secret/data/x/abc");
			b.resp.lease_duration = 3600;
			b.resp.renewable = true;
		}
		b.resp.inject_data = variant == 2;
		assert_int_equal(http_render(&b.req, &b.resp, 0, &status, &out), 0);
		json_t *want = json_pack("{s:s, s:s, s:b, s:I, s:O?, s:n, s:O?, s:O?, s:s}", "request_id", b.req.id,
					 "lease_id", b.resp.lease_id ? b.resp.lease_id : "", "renewable",
					 b.resp.renewable, "lease_duration", (json_int_t)b.resp.lease_duration, "data",
					 b.resp.data, "wrap_info", "warnings", b.resp.warnings, "auth", b.resp.auth,
					 "mount_type", "");
		if (b.resp.inject_data) {
			const char *k;
			json_t *v;
			json_object_foreach(b.resp.data, k, v)
			{
				if (!json_object_get(want, k))
					json_object_set(want, k, v);
			}
		}
		char *text = json_dumps(want, JSON_COMPACT);
		assert_int_equal(out.len, strlen(text) + 1);
		assert_memory_equal(out.data, text, strlen(text));
		assert_int_equal(out.data[out.len - 1], '\n');
		free(text);
		json_decref(want);
		buf_release(&out);
	}
	done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coercion),     cmocka_unit_test(test_methods_and_list),
		cmocka_unit_test(test_query_and_form), cmocka_unit_test(test_bad_bodies),
		cmocka_unit_test(test_body_is_loaded_late), cmocka_unit_test(test_body_limits),
		cmocka_unit_test(test_paths),        cmocka_unit_test(test_render),
		cmocka_unit_test(test_empty_segment_only_in_data_tails),
		cmocka_unit_test(test_path_redacted),
		cmocka_unit_test(test_render_envelope_bytes),
		cmocka_unit_test(test_canonical_coercion), cmocka_unit_test(test_canonical_policy_values),
		cmocka_unit_test(test_string_maps),
		cmocka_unit_test(test_canonical_path_names),
		cmocka_unit_test(test_declared_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
