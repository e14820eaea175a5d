/* test_password_policy.c — password policies: the HCL reader (keys, rule
 * types, bounds, refusals naming what is wrong), and the sys/ API through
 * the router (write, read, list, delete, generate, base64, ACL denial),
 * and password_policy_generate for engines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core_fixture.h"

#include "core/password_policy.h"
#include "encoding.h"
#include "err.h"
#include "secure.h"

#define POLICY_HCL                                                                                           \
	"length = 12\n"                                                                                      \
	"rule \"charset\" {\n  charset = \"abcdefghijklmnopqrstuvwxyz\"\n  min-chars = 2\n}\n"               \
	"rule \"charset\" {\n  charset = \"0123456789\"\n  min-chars = 3\n}\n"                               \
	"rule \"charset\" {\n  charset = \"!@#\"\n  min-chars = 1\n}\n"

static size_t count_in(const char *pw, const char *set)
{
	size_t n = 0;

	for (; *pw; pw++)
		n += strchr(set, *pw) != NULL;
	return n;
}

static void parses(const char *text, size_t length, size_t n_rules)
{
	struct password_policy *p = NULL;
	char *why = NULL;

	if (password_policy_parse(text, strlen(text), &p, &why) != 0)
		fail_msg("refused: %s", why);
	assert_int_equal(p->spec.length, length);
	assert_int_equal(p->spec.n_rules, n_rules);
	password_policy_free(p);
}

static void refused(const char *text, const char *frag)
{
	struct password_policy *p = NULL;
	char *why = NULL;

	assert_int_equal(password_policy_parse(text, strlen(text), &p, &why), TROVE_ERR_INVALID);
	assert_null(p);
	assert_non_null(why);
	if (!strstr(why, frag) || strncmp(why, "invalid password policy: ", 25) != 0)
		fail_msg("%s: reason \"%s\" lacks \"%s\"", text, why, frag);
	free(why);
}

static void test_parse(void **state)
{
	struct password_policy *p = NULL;

	(void)state;
	parses(POLICY_HCL, 12, 3);
	parses("length = 20\nrule \"charset\" { charset = \"abcde\" }\n", 20, 1);
	parses("{\"length\": 8, \"rule\": [{\"charset\": {\"charset\": \"ab\", \"min-chars\": 1}}, "
	       "{\"charset\": {\"charset\": \"01\"}}]}",
	       8, 2);
	assert_int_equal(password_policy_parse(POLICY_HCL, strlen(POLICY_HCL), &p, NULL), 0);
	assert_string_equal(p->spec.rules[1].charset, "0123456789");
	assert_int_equal(p->spec.rules[1].min_chars, 3);
	password_policy_free(p);

	refused("length = 20\n", "at least one rule \"charset\" is required");
	refused("rule \"charset\" { charset = \"ab\" }\n", "length is required");
	refused("length = 3\nrule \"charset\" { charset = \"ab\" }\n", "between 4 and 100");
	refused("length = 101\nrule \"charset\" { charset = \"ab\" }\n", "between 4 and 100");
	refused("length = \"20\"\nrule \"charset\" { charset = \"ab\" }\n", "length must be an integer");
	refused("length = 20\nlength = 21\nrule \"charset\" { charset = \"ab\" }\n", "length is given twice");
	refused("length = 20\nsize = 3\nrule \"charset\" { charset = \"ab\" }\n",
	        "line 2: unknown key \"size\"");
	refused("length = 20\nrule \"regex\" { charset = \"ab\" }\n", "unknown rule type \"regex\"");
	refused("length = 20\nrule \"charset\" { charset = \"ab\"\n min_chars = 1 }\n",
	        "unknown key \"min_chars\"");
	refused("length = 20\nrule \"charset\" { min-chars = 1 }\n", "charset is required");
	refused("length = 20\nrule \"charset\" { charset = \"\" }\n", "charset is empty");
	refused("length = 20\nrule \"charset\" { charset = 5 }\n", "charset must be a string");
	refused("length = 20\nrule \"charset\" { charset = \"ab\"\n min-chars = -1 }\n", "min-chars must be");
	refused("length = 20\nrule \"charset\" { charset = \"a b\" }\n", "byte 0x20 at offset 1");
	refused("length = 20\nrule \"charset\" { charset = \"a\xc3\xa9\" }\n", "printable ASCII");
	refused("length = 8\nrule \"charset\" { charset = \"ab\"\n min-chars = 5 }\n"
	        "rule \"charset\" { charset = \"01\"\n min-chars = 4 }\n",
	        "invalid password policy: ");
	refused("length = 20\nrule \"charset\" {\n", "line ");
	refused("", "length is required");
}

/* A policy whose minimums exceed its length: refused by the spec check,
 * with the reason (the minimum check's own words). */
static void test_minimums_over_length(void **state)
{
	struct password_policy *p = NULL;
	char *why = NULL;

	(void)state;
	const char *text = "length = 4\nrule \"charset\" { charset = \"ab\"\n min-chars = 5 }\n";

	assert_int_equal(password_policy_parse(text, strlen(text), &p, &why), TROVE_ERR_INVALID);
	assert_string_equal(why,
	                    "invalid password policy: the rules' min-chars add up to more than the length");
	free(why);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(password_policy_name_valid("my-policy"));
	assert_true(password_policy_name_valid("MyPolicy.v2"));
	assert_false(password_policy_name_valid(""));
	assert_false(password_policy_name_valid(NULL));
	assert_false(password_policy_name_valid("a/b"));
	assert_false(password_policy_name_valid("a b"));
	assert_false(password_policy_name_valid(".."));
	assert_false(password_policy_name_valid("a\x01"));
}

static char *policy_body(const char *text)
{
	json_t *j = json_pack("{s:s}", "policy", text);
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return s;
}

static void test_api(void **state)
{
	struct core_fixture f;
	json_t *b = NULL;
	char *body = policy_body(POLICY_HCL), *pw = NULL;

	(void)state;
	core_fixture_start(&f, NULL, 600, 7200);

	assert_int_equal(fixture_call(f.core, "LIST", "/v1/sys/policies/password", NULL, NULL), 404);
	assert_int_equal(fixture_call(f.core, "GET", "/v1/sys/policies/password/p1", NULL, &b), 404);
	assert_string_equal(fixture_first_error(b), "policy does not exist");
	json_decref(b);
	assert_int_equal(password_policy_generate(f.core, "p1", &pw), TROVE_ERR_NOT_FOUND);
	assert_null(pw);

	assert_int_equal(fixture_call(f.core, "PUT", "/v1/sys/policies/password/p1", body, NULL), 204);
	assert_int_equal(fixture_call(f.core, "POST", "/v1/sys/policies/password/Second", body, NULL), 204);

	assert_int_equal(fixture_call(f.core, "GET", "/v1/sys/policies/password/p1", NULL, &b), 200);
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "data"), "policy")),
	                    POLICY_HCL);
	json_decref(b);

	assert_int_equal(fixture_call(f.core, "LIST", "/v1/sys/policies/password", NULL, &b), 200);
	json_t *keys = json_object_get(json_object_get(b, "data"), "keys");
	assert_int_equal(json_array_size(keys), 2);
	assert_string_equal(json_string_value(json_array_get(keys, 0)), "Second");
	assert_string_equal(json_string_value(json_array_get(keys, 1)), "p1");
	json_decref(b);
	b = NULL;
	assert_int_equal(fixture_call(f.core, "GET", "/v1/sys/policies/password?list=true", NULL, NULL), 200);
	assert_int_equal(fixture_call(f.core, "LIST", "/v1/sys/policies/password/", NULL, NULL), 200);
	/* names are case-sensitive, as in Vault */
	assert_int_equal(fixture_call(f.core, "GET", "/v1/sys/policies/password/second", NULL, NULL), 404);

	/* Generated passwords obey every rule, over many draws, through the
	 * API and for engines. */
	for (int i = 0; i < 300; i++) {
		const char *s;
		if (i % 2) {
			assert_int_equal(
			    fixture_call(f.core, "GET", "/v1/sys/policies/password/p1/generate", NULL, &b),
			    200);
			s = json_string_value(json_object_get(json_object_get(b, "data"), "password"));
		} else {
			assert_int_equal(password_policy_generate(f.core, "p1", &pw), 0);
			s = pw;
		}
		assert_non_null(s);
		assert_int_equal(strlen(s), 12);
		assert_true(count_in(s, "abcdefghijklmnopqrstuvwxyz") >= 2);
		assert_true(count_in(s, "0123456789") >= 3);
		assert_true(count_in(s, "!@#") >= 1);
		assert_int_equal(strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789!@#"), 12);
		json_decref(b);
		b = NULL;
		secure_free_str(pw);
		pw = NULL;
	}

	/* base64, as Vault takes it: stored and returned decoded */
	{
		const char *t = "length = 6\nrule \"charset\" { charset = \"xyz\" }\n";
		char enc[256], *eb;
		base64_encode((const unsigned char *)t, strlen(t), enc);
		eb = policy_body(enc);
		assert_int_equal(fixture_call(f.core, "PUT", "/v1/sys/policies/password/b64", eb, NULL), 204);
		free(eb);
		assert_int_equal(fixture_call(f.core, "GET", "/v1/sys/policies/password/b64", NULL, &b), 200);
		assert_string_equal(json_string_value(json_object_get(json_object_get(b, "data"), "policy")),
		                    t);
		json_decref(b);
		assert_int_equal(password_policy_generate(f.core, "b64", &pw), 0);
		assert_int_equal(strspn(pw, "xyz"), 6);
		secure_free_str(pw);
		pw = NULL;
	}

	/* Bad policies are refused with the reason; nothing is stored. */
	char *bad = policy_body("length = 20\nrule \"charset\" { charset = \"ab\"\n colour = 1 }\n");
	assert_int_equal(fixture_call(f.core, "PUT", "/v1/sys/policies/password/bad", bad, &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "unknown key \"colour\""));
	json_decref(b);
	free(bad);
	assert_int_equal(fixture_call(f.core, "PUT", "/v1/sys/policies/password/bad", "{}", &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "missing policy"));
	json_decref(b);
	bad = policy_body("length = 20\nrule \"charset\" {");
	assert_int_equal(fixture_call(f.core, "PUT", "/v1/sys/policies/password/bad", bad, NULL), 400);
	free(bad);
	assert_int_equal(fixture_call(f.core, "GET", "/v1/sys/policies/password/bad", NULL, NULL), 404);

	/* Delete: gone, and deleting again is fine. */
	assert_int_equal(fixture_call(f.core, "DELETE", "/v1/sys/policies/password/p1", NULL, NULL), 204);
	assert_int_equal(fixture_call(f.core, "DELETE", "/v1/sys/policies/password/p1", NULL, NULL), 204);
	assert_int_equal(fixture_call(f.core, "GET", "/v1/sys/policies/password/p1/generate", NULL, NULL),
	                 404);
	assert_int_equal(password_policy_generate(f.core, "p1", &pw), TROVE_ERR_NOT_FOUND);

	free(body);
	core_fixture_stop(&f);
}

/* A token with only read on one policy's generate path may generate from
 * it and do nothing else: not sudo-protected (as Vault), but governed by
 * ordinary capabilities. */
static void test_acl(void **state)
{
	struct core_fixture f;
	json_t *b = NULL;
	char *body = policy_body(POLICY_HCL), *acl;
	char tok[128];

	(void)state;
	core_fixture_start(&f, NULL, 600, 7200);
	assert_int_equal(fixture_call(f.core, "PUT", "/v1/sys/policies/password/p1", body, NULL), 204);
	acl = policy_body("path \"sys/policies/password/p1/generate\" { capabilities = [\"read\"] }\n");
	assert_int_equal(fixture_call(f.core, "PUT", "/v1/sys/policies/acl/gen", acl, NULL), 204);
	free(acl);
	assert_int_equal(fixture_call(f.core, "POST", "/v1/auth/token/create",
	                              "{\"policies\": [\"gen\"], \"no_default_policy\": true}", &b),
	                 200);
	snprintf(tok, sizeof(tok), "%s",
	         json_string_value(json_object_get(json_object_get(b, "auth"), "client_token")));
	json_decref(b);

	struct fixture_request rq = {
	    .method = "GET", .path = "/v1/sys/policies/password/p1/generate", .token = tok};
	assert_int_equal(fixture_send(f.core, &rq, NULL, NULL), 200);
	rq.path = "/v1/sys/policies/password/p1";
	assert_int_equal(fixture_send(f.core, &rq, NULL, NULL), 403);
	rq.method = "PUT";
	rq.body = body;
	rq.len = strlen(body);
	assert_int_equal(fixture_send(f.core, &rq, NULL, NULL), 403);
	rq.method = "DELETE";
	rq.body = NULL;
	rq.len = 0;
	assert_int_equal(fixture_send(f.core, &rq, NULL, NULL), 403);
	rq.method = "LIST";
	rq.path = "/v1/sys/policies/password";
	assert_int_equal(fixture_send(f.core, &rq, NULL, NULL), 403);
	rq.method = "GET";
	rq.path = "/v1/sys/policies/password/other/generate";
	assert_int_equal(fixture_send(f.core, &rq, NULL, NULL), 403);
	/* the policy is unchanged */
	assert_int_equal(fixture_call(f.core, "GET", "/v1/sys/policies/password/p1", NULL, &b), 200);
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "data"), "policy")),
	                    POLICY_HCL);
	json_decref(b);

	free(body);
	core_fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse), cmocka_unit_test(test_minimums_over_length),
	    cmocka_unit_test(test_names), cmocka_unit_test(test_api),
	    cmocka_unit_test(test_acl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
