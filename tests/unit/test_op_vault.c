/* test_op_vault.c — how a resource finds its VaultAuth and
 * VaultConnection, and who may use a VaultAuth
 * (src/operator/op_vault_spec.c). allowedNamespaces is a security
 * boundary: its denials are tested as carefully as its grants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "operator/op_vault.h"

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static void expect_ref(const char *ref, const char *ns, const char *name)
{
	struct op_ref r;
	char *err = NULL;

	assert_int_equal(op_ref_parse(ref, "app", "trove-system", &r, &err), 0);
	assert_string_equal(r.ns, ns);
	assert_string_equal(r.name, name);
	op_ref_release(&r);
}

static void test_refs(void **state)
{
	static const char *const bad[] = {"a/b/c", "/x", "x/", "/"};
	char longname[300];
	struct op_ref r;
	char *err = NULL;
	size_t i;

	(void)state;
	expect_ref(NULL, "trove-system", "default");
	expect_ref("", "trove-system", "default");
	expect_ref("mine", "app", "mine");
	expect_ref("other/theirs", "other", "theirs");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(op_ref_parse(bad[i], "app", "trove-system", &r, &err), 0);
		assert_non_null(err);
		free(err);
		err = NULL;
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_not_equal(op_ref_parse(longname, "app", "trove-system", &r, &err), 0);
	free(err);
}

static json_t *auth(const char *ns, const char *name, const char *allowed)
{
	char text[512];

	snprintf(text, sizeof(text), "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\"},\"spec\":{%s%s%s}}", ns, name,
	         allowed ? "\"allowedNamespaces\":" : "", allowed ? allowed : "", "");
	return parse(text);
}

static void test_allowed_namespaces(void **state)
{
	json_t *a;

	(void)state;
	/* Unset: its own namespace only. */
	a = auth("team-a", "va", NULL);
	assert_true(op_auth_allows_namespace(a, "trove-system", "team-a"));
	assert_false(op_auth_allows_namespace(a, "trove-system", "team-b"));
	assert_false(op_auth_allows_namespace(a, "trove-system", "trove-system"));
	json_decref(a);
	/* Empty list: the same. */
	a = auth("team-a", "va", "[]");
	assert_false(op_auth_allows_namespace(a, "trove-system", "team-b"));
	json_decref(a);
	/* Listed namespaces only; no prefix or glob matching. */
	a = auth("team-a", "va", "[\"team-b\",\"team-c\"]");
	assert_true(op_auth_allows_namespace(a, "trove-system", "team-b"));
	assert_true(op_auth_allows_namespace(a, "trove-system", "team-c"));
	assert_false(op_auth_allows_namespace(a, "trove-system", "team-bb"));
	assert_false(op_auth_allows_namespace(a, "trove-system", "team-"));
	assert_false(op_auth_allows_namespace(a, "trove-system", "*"));
	json_decref(a);
	/* "*" alone: every namespace; "*" among others is just a name. */
	a = auth("team-a", "va", "[\"*\"]");
	assert_true(op_auth_allows_namespace(a, "trove-system", "anything"));
	json_decref(a);
	a = auth("team-a", "va", "[\"*\",\"team-b\"]");
	assert_false(op_auth_allows_namespace(a, "trove-system", "anything"));
	json_decref(a);
	/* The "default" VaultAuth of the operator's namespace serves all (as
	 * VSO's); a "default" elsewhere does not. */
	a = auth("trove-system", "default", NULL);
	assert_true(op_auth_allows_namespace(a, "trove-system", "anything"));
	json_decref(a);
	a = auth("team-a", "default", NULL);
	assert_false(op_auth_allows_namespace(a, "trove-system", "team-b"));
	json_decref(a);
	/* Not a list: nothing. */
	a = auth("team-a", "va", "\"team-b\"");
	assert_false(op_auth_allows_namespace(a, "trove-system", "team-b"));
	json_decref(a);
}

static void test_auth_spec(void **state)
{
	static const char *const bad[][2] = {
		{"{\"spec\":{}}", "spec.method"},
		{"{\"spec\":{\"method\":\"aws\"}}", "spec.method"},
		{"{\"spec\":{\"method\":\"kubernetes\"}}", "spec.kubernetes"},
		{"{\"spec\":{\"method\":\"kubernetes\",\"kubernetes\":{\"role\":\"r\"}}}", "serviceAccount"},
		{"{\"spec\":{\"method\":\"kubernetes\",\"kubernetes\":{\"serviceAccount\":\"s\"}}}", "role"},
		{"{\"spec\":{\"method\":\"kubernetes\",\"kubernetes\":{\"role\":\"r\",\"serviceAccount\":\"s\","
		 "\"tokenExpirationSeconds\":60}}}",
		 "tokenExpirationSeconds"},
		{"{\"spec\":{\"method\":\"appRole\",\"appRole\":{\"roleId\":\"x\"}}}", "secretRef"},
		{"{\"spec\":{\"method\":\"jwt\",\"jwt\":{\"role\":\"r\"}}}", "secretRef or serviceAccount"},
		{"{\"spec\":{\"method\":\"kubernetes\",\"headers\":{\"X\":\"a\\nb\"},\"kubernetes\":{\"role\":\"r\","
		 "\"serviceAccount\":\"s\"}}}",
		 "spec.headers"},
		{"{\"spec\":{\"method\":\"kubernetes\",\"mount\":\"../x\",\"kubernetes\":{\"role\":\"r\","
		 "\"serviceAccount\":\"s\"}}}",
		 "spec.mount"},
	};
	struct op_auth_spec a;
	json_t *j;
	char *err = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = parse(bad[i][0]);
		assert_int_not_equal(op_auth_spec_parse(j, &a, &err), 0);
		assert_non_null(strstr(err, bad[i][1]));
		free(err);
		err = NULL;
		op_auth_spec_release(&a);
		json_decref(j);
	}
	j = parse("{\"spec\":{\"method\":\"kubernetes\",\"namespace\":\"ns1\",\"vaultConnectionRef\":\"c\","
	          "\"headers\":{\"X-Team\":\"blue\"},\"params\":{\"extra\":\"1\"},"
	          "\"kubernetes\":{\"role\":\"app\",\"serviceAccount\":\"sa\",\"audiences\":[\"trove\"]}}}");
	assert_int_equal(op_auth_spec_parse(j, &a, &err), 0);
	assert_int_equal(a.method, OP_AUTH_KUBERNETES);
	assert_string_equal(a.mount, "kubernetes");
	assert_string_equal(a.vault_ns, "ns1");
	assert_string_equal(a.conn_ref, "c");
	assert_string_equal(a.role, "app");
	assert_string_equal(a.sa, "sa");
	assert_int_equal(a.expiration_s, 600);
	assert_int_equal(a.audiences.len, 1);
	assert_string_equal(a.headers.items[0], "X-Team: blue");
	assert_string_equal(json_string_value(json_object_get(a.params, "extra")), "1");
	op_auth_spec_release(&a);
	json_decref(j);
	j = parse("{\"spec\":{\"method\":\"appRole\",\"appRole\":{\"roleId\":\"rid\",\"secretRef\":\"sid\"}}}");
	assert_int_equal(op_auth_spec_parse(j, &a, &err), 0);
	assert_string_equal(a.mount, "approle");
	op_auth_spec_release(&a);
	json_decref(j);
}

static void test_conn_spec(void **state)
{
	struct op_conn_spec c;
	json_t *j;
	char *err = NULL;

	(void)state;
	j = parse("{\"spec\":{\"address\":\"https://trove:8200\",\"skipTLSVerify\":true,\"tlsServerName\":\"t\","
	          "\"caCertSecretRef\":\"ca\",\"timeout\":\"30s\",\"headers\":{\"A\":\"b\"}}}");
	assert_int_equal(op_conn_spec_parse(j, &c, &err), 0);
	assert_string_equal(c.address, "https://trove:8200");
	assert_true(c.skip_verify);
	assert_string_equal(c.tls_server_name, "t");
	assert_string_equal(c.ca_secret, "ca");
	assert_int_equal(c.timeout_ms, 30000);
	assert_string_equal(c.headers.items[0], "A: b");
	op_conn_spec_release(&c);
	json_decref(j);
	j = parse("{\"spec\":{\"address\":\"ftp://x\"}}");
	assert_int_not_equal(op_conn_spec_parse(j, &c, &err), 0);
	assert_non_null(strstr(err, "spec.address"));
	free(err);
	op_conn_spec_release(&c);
	json_decref(j);
	j = parse("{\"spec\":{\"address\":\"http://x\",\"timeout\":\"soon\"}}");
	assert_int_not_equal(op_conn_spec_parse(j, &c, &err), 0);
	assert_non_null(strstr(err, "spec.timeout"));
	free(err);
	op_conn_spec_release(&c);
	json_decref(j);
}

static void test_token_renewal(void **state)
{
	(void)state;
	assert_int_equal(op_token_renew_after(0), 0);
	assert_int_equal(op_token_renew_after(3600), 2400);
	assert_int_equal(op_token_renew_after(1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_allowed_namespaces),
		cmocka_unit_test(test_auth_spec),
		cmocka_unit_test(test_conn_spec),
		cmocka_unit_test(test_token_renewal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
