/* test_policy_store.c — named policies over the inmem backend: CRUD,
 * byte-identical text, the built-in policies, and cache invalidation. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "core/policy_store.h"
#include "err.h"
#include "storage/storage.h"

struct fixture {
	struct storage *s;
	struct policy_store *ps;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->s = storage_inmem_new();
	f->ps = policy_store_new();
	assert_int_equal(policy_store_open(f->ps, f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	policy_store_free(f->ps);
	storage_free(f->s);
	free(f);
	return 0;
}

static bool check(struct policy_store *ps, const char *name, const char *path, enum op op)
{
	struct strlist names;
	struct acl *a = NULL;
	struct acl_result res;
	strlist_init(&names);
	strlist_push(&names, name);
	assert_int_equal(policy_store_acl(ps, &names, &a), 0);
	acl_result_init(&res);
	acl_check(a, path, op, NULL, &res);
	bool ok = res.allowed;
	acl_result_release(&res);
	acl_release(a);
	strlist_release(&names);
	return ok;
}

static void put_ok(struct policy_store *ps, const char *name, const char *text)
{
	struct buf err;
	buf_init(&err, 4096);
	if (policy_store_put(ps, name, text, strlen(text), &err) != 0)
		fail_msg("put %s: %s", name, err.data);
	buf_release(&err);
}

static void test_default_created(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(policy_store_get(f->ps, "default", &text, &len), 0);
	assert_non_null(strstr(text, "auth/token/lookup-self"));
	assert_non_null(strstr(text, "sys/capabilities-self"));
	free(text);
	assert_true(policy_store_exists(f->ps, "default"));
	assert_true(policy_store_exists(f->ps, "root"));
	assert_false(policy_store_exists(f->ps, "nope"));
	/* what it grants */
	assert_true(check(f->ps, "default", "auth/token/lookup-self", OP_READ));
	assert_true(check(f->ps, "default", "auth/token/renew-self", OP_UPDATE));
	assert_true(check(f->ps, "default", "sys/capabilities-self", OP_UPDATE));
	assert_true(check(f->ps, "default", "cubbyhole/x", OP_CREATE));
	assert_true(check(f->ps, "default", "cubbyhole/", OP_LIST));
	assert_true(check(f->ps, "default", "sys/tools/hash/sha2-256", OP_UPDATE));
	assert_false(check(f->ps, "default", "secret/x", OP_READ));
	assert_false(check(f->ps, "default", "sys/policy/default", OP_UPDATE));

	/* an edited default survives a reopen */
	put_ok(f->ps, "default", "path \"x\" { capabilities = [\"read\"] }\n");
	policy_store_close(f->ps);
	assert_int_equal(policy_store_open(f->ps, f->s), 0);
	assert_int_equal(policy_store_get(f->ps, "default", &text, &len), 0);
	assert_string_equal(text, "path \"x\" { capabilities = [\"read\"] }\n");
	free(text);
}

static void test_crud_byte_identical(void **state)
{
	struct fixture *f = *state;
	const char *hcl = "# my policy\r\n\npath  \"secret/*\"   {\n\tcapabilities = [\"read\",\"list\" ,]\n}\n\n\n";
	const char *json = "{\"path\":{\"kv/x\":{\"capabilities\":[\"update\"]}}}";
	char *text = NULL;
	size_t len = 0;
	struct strlist names;

	put_ok(f->ps, "  MyPolicy ", hcl);
	assert_int_equal(policy_store_get(f->ps, "mypolicy", &text, &len), 0);
	assert_int_equal(len, strlen(hcl));
	assert_memory_equal(text, hcl, len);
	free(text);
	put_ok(f->ps, "j", json);
	assert_int_equal(policy_store_get(f->ps, "J", &text, &len), 0);
	assert_string_equal(text, json);
	free(text);

	strlist_init(&names);
	assert_int_equal(policy_store_list(f->ps, &names), 0);
	assert_int_equal(names.len, 3);
	assert_string_equal(names.items[0], "default");
	assert_string_equal(names.items[1], "j");
	assert_string_equal(names.items[2], "mypolicy");
	strlist_release(&names);

	struct buf err;
	buf_init(&err, 1024);
	assert_int_equal(policy_store_delete(f->ps, "MyPolicy", &err), 0);
	assert_int_equal(policy_store_get(f->ps, "mypolicy", &text, &len), TROVE_ERR_NOT_FOUND);
	assert_int_equal(policy_store_delete(f->ps, "mypolicy", &err), 0); /* missing: fine */

	/* bad text is refused with the line */
	const char *bad = "path \"a\" {\n  capabilites = [\"read\"]\n}\n";
	assert_int_equal(policy_store_put(f->ps, "bad", bad, strlen(bad), &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "failed to parse policy: line 2:"));
	assert_int_equal(policy_store_get(f->ps, "bad", &text, &len), TROVE_ERR_NOT_FOUND);
	/* bad names */
	assert_int_equal(policy_store_put(f->ps, "a/b", "", 0, &err), TROVE_ERR_INVALID);
	assert_int_equal(policy_store_put(f->ps, "  ", "", 0, &err), TROVE_ERR_INVALID);
	assert_int_equal(policy_store_put(f->ps, "..", "", 0, &err), TROVE_ERR_INVALID);
	buf_release(&err);
}

static void test_builtins_protected(void **state)
{
	struct fixture *f = *state;
	struct buf err;
	char *text = NULL;
	size_t len = 0;

	buf_init(&err, 1024);
	assert_int_equal(policy_store_put(f->ps, "root", "", 0, &err), TROVE_ERR_INVALID);
	assert_string_equal(err.data, "cannot update root policy");
	assert_int_equal(policy_store_put(f->ps, " ROOT", "", 0, &err), TROVE_ERR_INVALID);
	assert_string_equal(err.data, "cannot update root policy");
	assert_int_equal(policy_store_delete(f->ps, "root", &err), TROVE_ERR_INVALID);
	assert_string_equal(err.data, "cannot delete root policy");
	assert_int_equal(policy_store_delete(f->ps, "default", &err), TROVE_ERR_INVALID);
	assert_string_equal(err.data, "cannot delete default policy");
	assert_int_equal(policy_store_put(f->ps, "response-wrapping", "", 0, &err), TROVE_ERR_INVALID);
	assert_int_equal(policy_store_delete(f->ps, "response-wrapping", &err), TROVE_ERR_INVALID);
	assert_int_equal(policy_store_get(f->ps, "root", &text, &len), TROVE_ERR_NOT_FOUND);
	assert_int_equal(policy_store_get(f->ps, "default", &text, &len), 0);
	free(text);
	buf_release(&err);

	/* any set holding root is the root ACL */
	struct strlist names;
	struct acl *a = NULL;
	strlist_init(&names);
	strlist_push(&names, "default");
	strlist_push(&names, "root");
	assert_int_equal(policy_store_acl(f->ps, &names, &a), 0);
	assert_true(acl_is_root(a));
	acl_release(a);
	strlist_release(&names);
	assert_true(check(f->ps, "response-wrapping", "cubbyhole/response", OP_READ));
}

static void test_cache_invalidation(void **state)
{
	struct fixture *f = *state;
	struct strlist names;
	struct acl *a1 = NULL, *a2 = NULL, *a3 = NULL;

	put_ok(f->ps, "a", "path \"secret/x\" { capabilities = [\"read\"] }\n");
	assert_true(check(f->ps, "a", "secret/x", OP_READ));

	strlist_init(&names);
	strlist_push(&names, "a");
	strlist_push(&names, "unknown"); /* contributes nothing */
	assert_int_equal(policy_store_acl(f->ps, &names, &a1), 0);
	assert_int_equal(policy_store_acl(f->ps, &names, &a2), 0);
	assert_ptr_equal(a1, a2); /* cached */

	put_ok(f->ps, "a", "path \"secret/x\" { capabilities = [\"deny\"] }\n");
	assert_int_equal(policy_store_acl(f->ps, &names, &a3), 0);
	assert_ptr_not_equal(a1, a3);
	assert_false(check(f->ps, "a", "secret/x", OP_READ));
	/* the old ACL stays valid for whoever still holds it */
	assert_int_equal(acl_capabilities(a1, "secret/x"), ACL_CAP_READ);
	assert_int_equal(acl_capabilities(a3, "secret/x"), ACL_CAP_DENY);
	acl_release(a1);
	acl_release(a2);
	acl_release(a3);

	put_ok(f->ps, "a", "path \"secret/x\" { capabilities = [\"update\"] }\n");
	assert_true(check(f->ps, "a", "secret/x", OP_UPDATE));
	struct buf err;
	buf_init(&err, 256);
	assert_int_equal(policy_store_delete(f->ps, "a", &err), 0);
	buf_release(&err);
	assert_false(check(f->ps, "a", "secret/x", OP_UPDATE));
	strlist_release(&names);

	/* sealed: no ACLs */
	policy_store_close(f->ps);
	strlist_init(&names);
	strlist_push(&names, "default");
	assert_int_equal(policy_store_acl(f->ps, &names, &a1), TROVE_ERR_SEALED);
	strlist_release(&names);
}

struct race {
	struct policy_store *ps;
	int iterations;
};

static void *reader(void *arg)
{
	struct race *rc = arg;
	struct strlist names;
	strlist_init(&names);
	strlist_push(&names, "r");
	strlist_push(&names, "default");
	for (int i = 0; i < rc->iterations; i++) {
		struct acl *a = NULL;
		if (policy_store_acl(rc->ps, &names, &a) != 0)
			abort();
		unsigned c = acl_capabilities(a, "secret/x");
		if (c != ACL_CAP_READ && c != ACL_CAP_UPDATE && c != ACL_CAP_DENY)
			abort();
		acl_release(a);
	}
	strlist_release(&names);
	return NULL;
}

/* Readers building and using ACLs while a writer keeps replacing the
 * policy: no crash, no leak, and the final answer is the last write. */
static void test_concurrent(void **state)
{
	struct fixture *f = *state;
	struct race rc = { f->ps, 2000 };
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &rc), 0);
	for (int i = 0; i < 200; i++)
		put_ok(f->ps, "r", i % 2 ? "path \"secret/x\" { capabilities = [\"read\"] }"
					 : "path \"secret/x\" { capabilities = [\"update\"] }");
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(check(f->ps, "r", "secret/x", OP_READ));
}

/* One rule for policy names: trimmed, lowercased, then (for the store)
 * checked. */
static void test_policy_name_canon(void **state)
{
	size_t n = 0;
	char *c;

	(void)state;
	c = policy_name_canon(" \tDev-Ops \n", 11, &n);
	assert_string_equal(c, "dev-ops");
	assert_int_equal(n, 7);
	free(c);
	assert_null(policy_name_canon(" \t\n", 3, &n));
	c = policy_name_canon("A B/C", 5, NULL); /* canonical, not validated */
	assert_string_equal(c, "a b/c");
	free(c);

	c = policy_name_normalize("  Admin ");
	assert_string_equal(c, "admin");
	free(c);
	assert_null(policy_name_normalize("a b"));
	assert_null(policy_name_normalize(" .. "));
	assert_null(policy_name_normalize("   "));
	assert_null(policy_name_normalize(NULL));
}

static void test_policy_names_canon(void **state)
{
	struct strlist l;

	(void)state;
	strlist_init(&l);
	strlist_push(&l, " Zed");
	strlist_push(&l, "");
	strlist_push(&l, "alpha ");
	strlist_push(&l, "ZED");
	strlist_push(&l, "  ");
	policy_names_canon(&l);
	assert_int_equal(l.len, 2);
	assert_string_equal(l.items[0], "alpha");
	assert_string_equal(l.items[1], "zed");
	strlist_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_name_canon),
		cmocka_unit_test(test_policy_names_canon),
		cmocka_unit_test_setup_teardown(test_default_created, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crud_byte_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_builtins_protected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_invalidation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
