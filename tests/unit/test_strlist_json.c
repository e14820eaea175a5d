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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_list_is_empty_array),
	    cmocka_unit_test(test_items_copied_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
