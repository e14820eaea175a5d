/* test_strlist_json.c — a string list as a JSON array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strlist_json.h"

static void test_empty_list_is_empty_array(void **state)
{
	struct strlist l;
	json_t *a;

	(void)state;
	strlist_init(&l);
	a = strlist_json(&l);
	assert_non_null(a);
	assert_true(json_is_array(a));
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	strlist_release(&l);
}

static void test_items_copied_in_order(void **state)
{
	struct strlist l;
	json_t *a;
	char *text;

	(void)state;
	strlist_init(&l);
	assert_int_equal(strlist_push(&l, "zeta"), 0);
	assert_int_equal(strlist_push(&l, "alpha"), 0);
	assert_int_equal(strlist_push(&l, "with \"quote\""), 0);
	a = strlist_json(&l);
	strlist_release(&l); /* the array holds copies */
	text = json_dumps(a, JSON_COMPACT);
	assert_string_equal(text, "[\"zeta\",\"alpha\",\"with \\\"quote\\\"\"]");
	free(text);
	json_decref(a);
}

static void test_push_json(void **state)
{
	struct strlist l;
	json_t *ok = json_pack("[s,s]", "b", "a"), *mixed = json_pack("[s,i,s]", "x", 1, "y");
	json_t *obj = json_object();

	(void)state;
	strlist_init(&l);
	assert_true(strlist_push_json(&l, ok));
	assert_int_equal(l.len, 2);
	assert_string_equal(l.items[0], "b"); /* order kept */
	assert_string_equal(l.items[1], "a");
	assert_false(strlist_push_json(&l, mixed)); /* a non-string member */
	assert_int_equal(l.len, 3);                  /* the strings before it */
	assert_false(strlist_push_json(&l, obj));    /* not an array */
	assert_false(strlist_push_json(&l, NULL));
	assert_int_equal(l.len, 3);
	strlist_release(&l);
	json_decref(ok);
	json_decref(mixed);
	json_decref(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_list_is_empty_array),
	    cmocka_unit_test(test_items_copied_in_order),
	    cmocka_unit_test(test_push_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
