/* test_jsonw.c — lib/jsonw writes what jansson's compact dumper writes,
 * repairs invalid UTF-8, and fails once, quietly, at its cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonw.h"

/* The writer's text of v next to jansson's. */
static void same_as_jansson(json_t *v)
{
	struct jsonw o = {.ok = true};
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	buf_init(&o.b, 1 << 20);
	jsonw_scalar(&o, v);
	assert_true(o.ok);
	assert_string_equal(o.b.data, want);
	free(want);
	buf_release(&o.b);
	json_decref(v);
}

static void test_scalars_match_jansson(void **state)
{
	static const double reals[] = {0.1, 1.0, -0.0, 2.5, 1e100, 1.5e-7, 123456789.0, -3.25e21};

	(void)state;
	same_as_jansson(json_string("plain"));
	same_as_jansson(json_string(""));
	same_as_jansson(json_string("quote \" backslash \\ slash /"));
	same_as_jansson(json_string("\b\f\n\r\t \x01\x1f"));
	same_as_jansson(json_string("caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x94\x91")); /* UTF-8 as it is */
	same_as_jansson(json_string("a long run of plain text, longer than eight bytes, then \"q\""));
	same_as_jansson(json_stringn("nul\0inside", 10));
	same_as_jansson(json_integer(0));
	same_as_jansson(json_integer(-7));
	same_as_jansson(json_integer(INT64_MIN));
	same_as_jansson(json_integer(INT64_MAX));
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
		same_as_jansson(json_real(reals[i]));
	same_as_jansson(json_true());
	same_as_jansson(json_false());
	same_as_jansson(json_null());
}

static void test_invalid_utf8_repaired(void **state)
{
	struct jsonw o = {.ok = true};

	(void)state;
	buf_init(&o.b, 1 << 10);
	jsonw_str(&o, "a\xff" "b\xc0\xaf" "c", 6); /* a stray byte, an overlong '/' */
	assert_true(o.ok);
	assert_string_equal(o.b.data, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\"");
	buf_release(&o.b);
}

static void test_cap_fails_once(void **state)
{
	struct jsonw o = {.ok = true};

	(void)state;
	buf_init(&o.b, 8);
	jsonw_lit(&o, "[1,");
	assert_true(o.ok);
	jsonw_cstr(&o, "too long for the cap");
	assert_false(o.ok);
	jsonw_lit(&o, "2]"); /* the writer stays failed */
	assert_false(o.ok);
	assert_int_equal(strncmp(o.b.data, "[1,", 3), 0); /* never past the cap */
	assert_true(o.b.len <= 8);
	buf_release(&o.b);

	o.ok = true;
	buf_init(&o.b, 64);
	json_t *arr = json_array();
	jsonw_scalar(&o, arr); /* not a scalar */
	assert_false(o.ok);
	json_decref(arr);
	buf_release(&o.b);
}

static void test_first_allocation(void **state)
{
	struct jsonw o = {.ok = true};
	char num[JSONW_NUM_MAX];

	(void)state;
	buf_init(&o.b, 1 << 20);
	jsonw_int(&o, 42);
	assert_string_equal(o.b.data, "42");
	assert_int_equal(o.b.size, JSONW_INITIAL); /* one allocation for a typical entry */
	assert_int_equal(jsonw_int_text(-1234, num), 5);
	assert_string_equal(num, "-1234");
	assert_int_equal(jsonw_real_text(1e100, num, sizeof(num)), 5);
	assert_string_equal(num, "1e100");
	assert_int_equal(jsonw_real_text(1.0 / 0.0, num, sizeof(num)), 0);
	buf_release(&o.b);
}

/* Whole values, objects and arrays included, as json_dumps writes them:
 * what an HTTP response body is. */
static void test_values_match_jansson(void **state)
{
	(void)state;
	const char *texts[] = {
	    "{}",
	    "[]",
	    "{\"request_id\":\"r\",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,"
	    "\"data\":{\"data\":{\"password\":\"p\\\"w\",\"n\":[1,2.5,null,true,{\"x\":[]}]},"
	    "\"metadata\":{\"version\":3}},\"wrap_info\":null,\"warnings\":[\"w\"],\"auth\":null}",
	    "[[[[[\"deep\"]]]],{\"k\\u0001\":\"\\u2028\"}]",
	    "{\"z\":1,\"a\":2,\"m\":{\"b\":1,\"a\":0}}", /* insertion order kept */
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *v = json_loads(texts[i], 0, NULL);
		assert_non_null(v);
		struct jsonw o = {.ok = true};
		char *want = json_dumps(v, JSON_COMPACT);
		buf_init(&o.b, 1 << 20);
		jsonw_value(&o, v);
		assert_true(o.ok);
		assert_string_equal(o.b.data, want);
		free(want);
		buf_release(&o.b);
		json_decref(v);
	}
	/* Past the depth jansson dumps, the writer fails rather than recurse. */
	json_t *deep = json_array(), *cur = deep;
	for (int i = 0; i < 3000; i++) {
		json_t *n = json_array();
		json_array_append_new(cur, n);
		cur = n;
	}
	struct jsonw o = {.ok = true};
	buf_init(&o.b, 1 << 20);
	jsonw_value(&o, deep);
	assert_false(o.ok);
	buf_release(&o.b);
	json_decref(deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scalars_match_jansson),
	    cmocka_unit_test(test_values_match_jansson),
	    cmocka_unit_test(test_invalid_utf8_repaired),
	    cmocka_unit_test(test_cap_fails_once),
	    cmocka_unit_test(test_first_allocation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
