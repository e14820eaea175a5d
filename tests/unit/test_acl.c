/* test_acl.c — policy parsing (HCL and JSON), matching and precedence,
 * merging across policies, parameter constraints, root, and the cost of a
 * check on a large ACL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "buf.h"
#include "core/acl.h"
#include "core/router.h"
#include "err.h"

static struct policy *parse_ok(const char *name, const char *text)
{
	struct policy *p = NULL;
	struct buf err;
	buf_init(&err, 4096);
	int r = policy_parse(name, text, strlen(text), &p, &err);
	if (r != 0)
		fail_msg("parse failed: %s\n--- input:\n%s", err.data, text);
	buf_release(&err);
	assert_non_null(p);
	return p;
}

/* Expects failure; returns the message (static storage). */
static const char *parse_err(const char *text)
{
	static char msg[512];
	struct policy *p = NULL;
	struct buf err;
	buf_init(&err, 4096);
	int r = policy_parse("t", text, strlen(text), &p, &err);
	assert_int_equal(r, TROVE_ERR_INVALID);
	assert_null(p);
	snprintf(msg, sizeof(msg), "%s", err.data);
	buf_release(&err);
	return msg;
}

/* An ACL from up to 4 policy texts named p0, p1, ... */
static struct acl *acl_of(const char *t0, const char *t1, const char *t2)
{
	const char *texts[3] = { t0, t1, t2 };
	struct policy *ps[3] = { NULL };
	const struct policy *cps[3];
	size_t n = 0;
	for (size_t i = 0; i < 3; i++) {
		if (!texts[i])
			continue;
		char name[8];
		snprintf(name, sizeof(name), "p%zu", i);
		ps[n] = parse_ok(name, texts[i]);
		cps[n] = ps[n];
		n++;
	}
	struct acl *a = acl_new(cps, n);
	for (size_t i = 0; i < n; i++)
		policy_free(ps[i]);
	return a;
}

static bool allowed(const struct acl *a, const char *path, enum op op, const char *data_json)
{
	struct acl_result res;
	json_t *data = data_json ? json_loads(data_json, 0, NULL) : NULL;
	acl_result_init(&res);
	acl_check(a, path, op, data, &res);
	bool ok = res.allowed;
	acl_result_release(&res);
	json_decref(data);
	return ok;
}

static bool can_read(const struct acl *a, const char *path)
{
	return allowed(a, path, OP_READ, NULL);
}

/* --- parsing --- */

static void test_parse_hcl(void **state)
{
	(void)state;
	struct acl *a = acl_of("# comment\n"
			       "path \"secret/foo\" {\n"
			       "  capabilities = [\"read\", \"list\"]\n"
			       "}\n"
			       "path \"/secret/bar/*\" {\n"
			       "  capabilities = [\"create\", \"update\"]\n"
			       "  comment = \"leading slash is stripped\"\n"
			       "}\n"
			       "path \"auth/approle/role/r/secret-id\" {\n"
			       "  capabilities = [\"update\"]\n"
			       "  min_wrapping_ttl = \"1s\"\n"
			       "  max_wrapping_ttl = 90\n"
			       "}\n",
			       NULL, NULL);
	assert_true(can_read(a, "secret/foo"));
	assert_true(allowed(a, "secret/foo", OP_LIST, NULL));
	assert_false(allowed(a, "secret/foo", OP_UPDATE, NULL));
	assert_true(allowed(a, "secret/bar/x", OP_UPDATE, NULL));
	assert_true(allowed(a, "secret/bar/x", OP_CREATE, NULL));
	assert_false(can_read(a, "secret/bar/x"));

	struct acl_result res;
	acl_result_init(&res);
	acl_check(a, "auth/approle/role/r/secret-id", OP_UPDATE, NULL, &res);
	assert_true(res.allowed);
	assert_int_equal(res.min_wrapping_ttl, 1);
	assert_int_equal(res.max_wrapping_ttl, 90);
	acl_result_release(&res);
	acl_release(a);
}

static void test_parse_json(void **state)
{
	(void)state;
	struct acl *a = acl_of("{\"path\": {\n"
			       "  \"secret/a/*\": {\"capabilities\": [\"read\"]},\n"
			       "  \"secret/b\": {\"capabilities\": [\"update\"],\n"
			       "     \"allowed_parameters\": {\"x\": [\"1\", \"2\"]}},\n"
			       "  \"secret/c\": {\"policy\": \"write\"}\n"
			       "}}",
			       "{\"path\": [{\"other/x\": {\"capabilities\": [\"delete\"]}}]}", NULL);
	assert_true(can_read(a, "secret/a/q"));
	assert_true(allowed(a, "secret/b", OP_UPDATE, "{\"x\": \"2\"}"));
	assert_false(allowed(a, "secret/b", OP_UPDATE, "{\"x\": \"3\"}"));
	assert_true(allowed(a, "secret/c", OP_CREATE, NULL));
	assert_true(allowed(a, "other/x", OP_DELETE, NULL));
	acl_release(a);
}

static void test_parse_errors_name_line(void **state)
{
	(void)state;
	const char *m;

	m = parse_err("path \"a\" {\n  capabilities = [\"read\"]\n  bogus = 1\n}\n");
	assert_non_null(strstr(m, "line 3:"));
	assert_non_null(strstr(m, "unknown key \"bogus\""));

	m = parse_err("\n\npath \"a\" {\n  capabilities = [\"raed\"]\n}\n");
	assert_non_null(strstr(m, "line 4:"));
	assert_non_null(strstr(m, "unknown capability \"raed\""));

	m = parse_err("path \"a\" { capabilities = [\"read\"] }\npath \"b/+*\" { capabilities = [\"read\"] }\n");
	assert_non_null(strstr(m, "line 2:"));
	assert_non_null(strstr(m, "+*"));

	m = parse_err("path \"a/*/b\" { capabilities = [\"read\"] }\n");
	assert_non_null(strstr(m, "line 1:"));

	m = parse_err("\npath \"a\" { policy = \"admin\" }\n");
	assert_non_null(strstr(m, "line 2:"));

	m = parse_err("path \"a\" {\n min_wrapping_ttl = \"10s\"\n max_wrapping_ttl = \"5s\"\n}\n");
	assert_non_null(strstr(m, "line 1:"));
	assert_non_null(strstr(m, "max_wrapping_ttl"));

	m = parse_err("path \"a\" { capabilities = [\"read\"] }\n\n\nfoo = 1\n");
	assert_non_null(strstr(m, "line 4:"));

	m = parse_err("path \"a\" {\n capabilities = [\"read\"\n");
	assert_non_null(strstr(m, "line "));

	m = parse_err("path \"a\" { capabilities = \"read\" }\n");
	assert_non_null(strstr(m, "line 1:"));

	m = parse_err("path \"a\" { allowed_parameters = { x = \"1\" } }\n");
	assert_non_null(strstr(m, "line 1:"));

	m = parse_err("path \"a\" { control_group = {} }\n");
	assert_non_null(strstr(m, "not supported"));

	/* JSON: the line of the offending rule is recovered from the text */
	m = parse_err("{\"path\": {\n  \"a\": {\"capabilities\": [\"read\"]},\n"
		      "  \"b\": {\"capabilities\": [\"nope\"]}\n}}");
	assert_non_null(strstr(m, "line 3:"));
	m = parse_err("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}},\n \"x\": 1}");
	assert_non_null(strstr(m, "line 2:"));
	m = parse_err("{\"path\": {\"a\": }}");
	assert_non_null(strstr(m, "line 1:"));
}

static void test_legacy_policy(void **state)
{
	(void)state;
	struct acl *a = acl_of("path \"r\" { policy = \"read\" }\n"
			       "path \"w\" { policy = \"write\" }\n"
			       "path \"s\" { policy = \"sudo\" }\n"
			       "path \"d\" { policy = \"deny\" }\n",
			       NULL, NULL);
	assert_int_equal(acl_capabilities(a, "r"), ACL_CAP_READ | ACL_CAP_LIST);
	assert_int_equal(acl_capabilities(a, "w"),
			 ACL_CAP_CREATE | ACL_CAP_READ | ACL_CAP_UPDATE | ACL_CAP_DELETE | ACL_CAP_LIST);
	assert_int_equal(acl_capabilities(a, "s"), ACL_CAP_CREATE | ACL_CAP_READ | ACL_CAP_UPDATE | ACL_CAP_DELETE |
							   ACL_CAP_LIST | ACL_CAP_SUDO);
	assert_int_equal(acl_capabilities(a, "d"), ACL_CAP_DENY);
	acl_release(a);
}

/* --- matching --- */

static void test_exact_prefix_plus(void **state)
{
	(void)state;
	struct acl *a = acl_of("path \"secret/foo\" { capabilities = [\"read\"] }\n"
			       "path \"secret/bar/*\" { capabilities = [\"read\"] }\n"
			       "path \"secret/zip-*\" { capabilities = [\"read\"] }\n"
			       "path \"team/+/teamb\" { capabilities = [\"read\"] }\n"
			       "path \"team/+/+/teamc\" { capabilities = [\"read\"] }\n"
			       "path \"kv/+/data/*\" { capabilities = [\"read\"] }\n",
			       NULL, NULL);
	assert_true(can_read(a, "secret/foo"));
	assert_false(can_read(a, "secret/food"));
	assert_false(can_read(a, "secret/foo/bar"));
	assert_true(can_read(a, "secret/bar/zip"));
	assert_true(can_read(a, "secret/bar/zip/zap"));
	assert_false(can_read(a, "secret/bars/zip"));
	assert_true(can_read(a, "secret/zip-zap"));
	assert_true(can_read(a, "secret/zip-zap/zong"));
	assert_false(can_read(a, "secret/zip/zap"));
	assert_true(can_read(a, "team/x/teamb"));
	assert_false(can_read(a, "team/x/y/teamb"));
	assert_false(can_read(a, "team/teamb"));
	assert_true(can_read(a, "team/x/y/teamc"));
	assert_false(can_read(a, "team/x/teamc"));
	assert_true(can_read(a, "kv/app/data/one/two"));
	assert_true(can_read(a, "kv/app/data/"));
	assert_false(can_read(a, "kv/app/data"));
	assert_false(can_read(a, "kv/app/meta/x"));
	assert_false(can_read(a, "other"));
	assert_true(can_read(a, "/secret/foo")); /* leading slash ignored */
	acl_release(a);
}

static void test_priority(void **state)
{
	(void)state;
	/* Vault's own example: the first wildcard is at the same place, both
	 * end in '*', and the second has two '+': the broad glob wins. */
	struct acl *a = acl_of("path \"secret/*\" { capabilities = [\"read\"] }\n"
			       "path \"secret/+/+/foo/*\" { capabilities = [\"deny\"] }\n",
			       NULL, NULL);
	assert_true(can_read(a, "secret/a/b/foo/x"));
	acl_release(a);

	/* 1. a later first wildcard wins */
	a = acl_of("path \"secret/+/foo\" { capabilities = [\"deny\"] }\n"
		   "path \"secret/a/*\" { capabilities = [\"read\"] }\n"
		   "path \"x/a*\" { capabilities = [\"read\"] }\n"
		   "path \"x/+\" { capabilities = [\"deny\"] }\n",
		   NULL, NULL);
	assert_true(can_read(a, "secret/a/foo"));
	assert_false(can_read(a, "secret/b/foo"));
	assert_true(can_read(a, "x/ab"));
	assert_false(can_read(a, "x/b"));
	acl_release(a);

	/* 2. a non-glob beats a glob */
	a = acl_of("path \"a/+/x\" { capabilities = [\"read\"] }\n"
		   "path \"a/+/x*\" { capabilities = [\"deny\"] }\n",
		   NULL, NULL);
	assert_true(can_read(a, "a/q/x"));
	assert_false(can_read(a, "a/q/xy"));
	acl_release(a);

	/* 3. fewer '+' segments win */
	a = acl_of("path \"a/+/+/c\" { capabilities = [\"deny\"] }\n"
		   "path \"a/+/b/c\" { capabilities = [\"read\"] }\n",
		   NULL, NULL);
	assert_true(can_read(a, "a/x/b/c"));
	assert_false(can_read(a, "a/x/y/c"));
	acl_release(a);

	/* 4. longer wins */
	a = acl_of("path \"a/+/b*\" { capabilities = [\"deny\"] }\n"
		   "path \"a/+/bc*\" { capabilities = [\"read\"] }\n"
		   "path \"p/*\" { capabilities = [\"deny\"] }\n"
		   "path \"p/q/*\" { capabilities = [\"read\"] }\n",
		   NULL, NULL);
	assert_true(can_read(a, "a/x/bcd"));
	assert_false(can_read(a, "a/x/bd"));
	assert_true(can_read(a, "p/q/r"));
	assert_false(can_read(a, "p/r"));
	acl_release(a);

	/* an exact rule beats every glob */
	a = acl_of("path \"secret/*\" { capabilities = [\"deny\"] }\n"
		   "path \"secret/+\" { capabilities = [\"deny\"] }\n"
		   "path \"secret/x\" { capabilities = [\"read\"] }\n",
		   NULL, NULL);
	assert_true(can_read(a, "secret/x"));
	assert_false(can_read(a, "secret/y"));
	acl_release(a);

	/* only the winner counts: capabilities of different patterns are
	 * not merged */
	a = acl_of("path \"s/*\" { capabilities = [\"read\", \"update\"] }\n"
		   "path \"s/a/*\" { capabilities = [\"list\"] }\n",
		   NULL, NULL);
	assert_false(can_read(a, "s/a/b"));
	assert_true(allowed(a, "s/a/b", OP_LIST, NULL));
	acl_release(a);
}

static void test_deny_and_merge(void **state)
{
	(void)state;
	struct acl *a = acl_of("path \"secret/*\" { capabilities = [\"read\", \"sudo\"] }\n"
			       "path \"secret/super-secret\" { capabilities = [\"deny\", \"read\"] }\n",
			       NULL, NULL);
	assert_true(can_read(a, "secret/x"));
	assert_false(can_read(a, "secret/super-secret"));
	assert_int_equal(acl_capabilities(a, "secret/super-secret"), ACL_CAP_DENY);
	acl_release(a);

	/* the same pattern in several policies: union, and granting names
	 * the policies that gave the capability */
	a = acl_of("path \"s/x\" { capabilities = [\"read\"] }\n", "path \"s/x\" { capabilities = [\"update\"] }\n",
		   "path \"s/x\" { capabilities = [\"read\", \"list\"] }\n");
	struct acl_result res;
	acl_result_init(&res);
	acl_check(a, "s/x", OP_READ, NULL, &res);
	assert_true(res.allowed);
	assert_int_equal(res.caps, ACL_CAP_READ | ACL_CAP_UPDATE | ACL_CAP_LIST);
	assert_int_equal(res.granting.len, 2);
	assert_string_equal(res.granting.items[0], "p0");
	assert_string_equal(res.granting.items[1], "p2");
	acl_check(a, "s/x", OP_UPDATE, NULL, &res);
	assert_true(res.allowed);
	assert_int_equal(res.granting.len, 1);
	assert_string_equal(res.granting.items[0], "p1");
	acl_result_release(&res);
	acl_release(a);

	/* deny in any policy for the same pattern wins */
	a = acl_of("path \"s/x\" { capabilities = [\"read\", \"sudo\"] }\n",
		   "path \"s/x\" { capabilities = [\"deny\"] }\n", NULL);
	assert_false(can_read(a, "s/x"));
	acl_release(a);

	/* templated paths are dropped until identities exist */
	a = acl_of("path \"identity/entity/id/{{identity.entity.id}}\" { capabilities = [\"read\"] }\n", NULL, NULL);
	assert_false(can_read(a, "identity/entity/id/{{identity.entity.id}}"));
	acl_release(a);
}

static void test_ops_and_list(void **state)
{
	(void)state;
	struct acl *a = acl_of("path \"k/x\" { capabilities = [\"read\", \"patch\", \"delete\"] }\n"
			       "path \"k/meta\" { capabilities = [\"list\"] }\n",
			       NULL, NULL);
	assert_true(allowed(a, "k/x", OP_HEAD, NULL));
	assert_true(allowed(a, "k/x", OP_PATCH, NULL));
	assert_true(allowed(a, "k/x", OP_DELETE, NULL));
	assert_false(allowed(a, "k/x", OP_CREATE, NULL));
	assert_false(allowed(a, "k/x", OP_LIST, NULL));
	/* an exact rule for "k/meta" covers LIST "k/meta/" */
	assert_true(allowed(a, "k/meta/", OP_LIST, NULL));
	assert_false(allowed(a, "k/meta/", OP_READ, NULL));
	acl_release(a);
}

static void test_parameters(void **state)
{
	(void)state;
	struct acl *a = acl_of("path \"req\" {\n"
			       "  capabilities = [\"create\", \"update\", \"read\"]\n"
			       "  required_parameters = [\"name\", \"ID\"]\n"
			       "}\n"
			       "path \"allow\" {\n"
			       "  capabilities = [\"create\", \"update\", \"patch\"]\n"
			       "  allowed_parameters = {\n"
			       "    \"foo\" = []\n"
			       "    \"bar\" = [\"zip\", \"zap\"]\n"
			       "    \"pre\" = [\"foo-*\"]\n"
			       "    \"suf\" = [\"*-foo\"]\n"
			       "    \"mid\" = [\"*mid*\"]\n"
			       "    \"num\" = [8, true]\n"
			       "  }\n"
			       "}\n"
			       "path \"allowstar\" {\n"
			       "  capabilities = [\"update\"]\n"
			       "  allowed_parameters = { \"bar\" = [\"zip\"], \"*\" = [] }\n"
			       "}\n"
			       "path \"deny\" {\n"
			       "  capabilities = [\"update\"]\n"
			       "  denied_parameters = { \"policies\" = [], \"allowed_policies\" = [\"admin\", \"root*\"] }\n"
			       "}\n"
			       "path \"denyall\" {\n"
			       "  capabilities = [\"update\"]\n"
			       "  denied_parameters = { \"*\" = [] }\n"
			       "}\n"
			       "path \"both\" {\n"
			       "  capabilities = [\"update\"]\n"
			       "  allowed_parameters = { \"x\" = [] }\n"
			       "  denied_parameters = { \"x\" = [\"bad\"] }\n"
			       "}\n",
			       NULL, NULL);
	/* required */
	assert_true(allowed(a, "req", OP_CREATE, "{\"name\": 1, \"id\": 2}"));
	assert_true(allowed(a, "req", OP_UPDATE, "{\"Name\": 1, \"id\": 2, \"other\": 3}"));
	assert_false(allowed(a, "req", OP_CREATE, "{\"name\": 1}"));
	assert_false(allowed(a, "req", OP_CREATE, NULL));
	assert_true(allowed(a, "req", OP_READ, NULL)); /* reads are not constrained */

	/* allowed */
	assert_true(allowed(a, "allow", OP_UPDATE, "{\"foo\": \"anything\"}"));
	assert_true(allowed(a, "allow", OP_UPDATE, "{\"bar\": \"zap\", \"foo\": 1}"));
	assert_false(allowed(a, "allow", OP_UPDATE, "{\"bar\": \"zop\"}"));
	assert_false(allowed(a, "allow", OP_UPDATE, "{\"other\": \"x\"}"));
	assert_true(allowed(a, "allow", OP_PATCH, "{\"pre\": \"foo-bar\"}"));
	assert_false(allowed(a, "allow", OP_PATCH, "{\"pre\": \"bar-foo\"}"));
	assert_true(allowed(a, "allow", OP_CREATE, "{\"suf\": \"bar-foo\"}"));
	assert_false(allowed(a, "allow", OP_CREATE, "{\"suf\": \"foo-bar\"}"));
	assert_true(allowed(a, "allow", OP_CREATE, "{\"mid\": \"a-mid-b\"}"));
	assert_false(allowed(a, "allow", OP_CREATE, "{\"mid\": \"mi\"}"));
	assert_true(allowed(a, "allow", OP_CREATE, "{\"num\": 8}"));
	assert_true(allowed(a, "allow", OP_CREATE, "{\"num\": true}"));
	assert_false(allowed(a, "allow", OP_CREATE, "{\"num\": \"8\"}"));
	assert_true(allowed(a, "allow", OP_CREATE, "{\"BAR\": \"zip\"}")); /* keys compare lowercased */
	assert_true(allowed(a, "allow", OP_CREATE, "{\"bar\": [\"zip\", \"zap\"]}"));
	assert_false(allowed(a, "allow", OP_CREATE, "{\"bar\": [\"zip\", \"nope\"]}"));
	assert_true(allowed(a, "allow", OP_CREATE, "{}")); /* no data: allowed */
	assert_true(allowed(a, "allowstar", OP_UPDATE, "{\"bar\": \"zip\", \"any\": 1}"));
	assert_false(allowed(a, "allowstar", OP_UPDATE, "{\"bar\": \"zap\"}"));

	/* denied */
	assert_true(allowed(a, "deny", OP_UPDATE, "{\"password\": \"x\"}"));
	assert_false(allowed(a, "deny", OP_UPDATE, "{\"policies\": \"x\"}"));
	assert_false(allowed(a, "deny", OP_UPDATE, "{\"allowed_policies\": \"admin\"}"));
	assert_false(allowed(a, "deny", OP_UPDATE, "{\"allowed_policies\": \"rootish\"}"));
	assert_false(allowed(a, "deny", OP_UPDATE, "{\"allowed_policies\": [\"dev\", \"admin\"]}"));
	assert_true(allowed(a, "deny", OP_UPDATE, "{\"allowed_policies\": [\"dev\"]}"));
	assert_false(allowed(a, "denyall", OP_UPDATE, "{\"a\": 1}"));
	assert_true(allowed(a, "denyall", OP_UPDATE, NULL));
	/* denied wins over allowed */
	assert_true(allowed(a, "both", OP_UPDATE, "{\"x\": \"good\"}"));
	assert_false(allowed(a, "both", OP_UPDATE, "{\"x\": \"bad\"}"));
	acl_release(a);

	/* merged constraints: an open list on either side opens the key */
	a = acl_of("path \"m\" { capabilities = [\"update\"]\n allowed_parameters = { a = [\"1\"], b = [\"1\"] } }\n",
		   "path \"m\" { capabilities = [\"update\"]\n allowed_parameters = { a = [], b = [\"2\"] } }\n", NULL);
	assert_true(allowed(a, "m", OP_UPDATE, "{\"a\": \"9\"}"));
	assert_true(allowed(a, "m", OP_UPDATE, "{\"b\": \"2\"}"));
	assert_true(allowed(a, "m", OP_UPDATE, "{\"b\": \"1\"}"));
	assert_false(allowed(a, "m", OP_UPDATE, "{\"b\": \"3\"}"));
	acl_release(a);
}

static void test_root(void **state)
{
	(void)state;
	struct policy *root = parse_ok("root", "");
	const struct policy *one = root;
	struct acl *a = acl_new(&one, 1);
	policy_free(root);
	assert_true(acl_is_root(a));
	struct acl_result res;
	acl_result_init(&res);
	acl_check(a, "sys/audit/x", OP_DELETE, NULL, &res);
	assert_true(res.allowed);
	assert_true(res.sudo);
	assert_string_equal(res.granting.items[0], "root");
	acl_result_release(&res);
	json_t *j = acl_caps_json(a, acl_capabilities(a, "anything"));
	assert_string_equal(json_string_value(json_array_get(j, 0)), "root");
	json_decref(j);
	assert_true(acl_any_under(a, "secret/"));
	j = acl_resultant_json(a);
	assert_true(json_is_true(json_object_get(j, "root")));
	json_decref(j);
	acl_release(a);
}

static void test_capabilities(void **state)
{
	(void)state;
	struct acl *a = acl_of("path \"s/*\" { capabilities = [\"update\", \"read\", \"sudo\", \"create\"] }\n"
			       "path \"e\" { capabilities = [] }\n",
			       NULL, NULL);
	unsigned c = acl_capabilities(a, "s/x");
	assert_int_equal(c, ACL_CAP_UPDATE | ACL_CAP_READ | ACL_CAP_SUDO | ACL_CAP_CREATE);
	json_t *j = acl_caps_json(a, c);
	char *s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "[\"create\",\"read\",\"sudo\",\"update\"]");
	free(s);
	json_decref(j);
	assert_int_equal(acl_capabilities(a, "nothing"), ACL_CAP_DENY);
	assert_int_equal(acl_capabilities(a, "e"), ACL_CAP_DENY);
	j = acl_caps_json(a, ACL_CAP_DENY);
	assert_string_equal(json_string_value(json_array_get(j, 0)), "deny");
	json_decref(j);
	struct acl_result res;
	acl_result_init(&res);
	acl_check(a, "s/x", OP_READ, NULL, &res);
	assert_true(res.sudo);
	acl_result_release(&res);
	acl_release(a);
}

static void test_any_under_and_resultant(void **state)
{
	(void)state;
	struct acl *a = acl_of("path \"secret/data/app/*\" { capabilities = [\"read\"] }\n"
			       "path \"kv/+/x\" { capabilities = [\"read\"] }\n"
			       "path \"gone/*\" { capabilities = [\"deny\"] }\n"
			       "path \"p/q\" { capabilities = [\"update\"], allowed_parameters = { a = [] } }\n",
			       NULL, NULL);
	assert_true(acl_any_under(a, "secret/"));
	assert_true(acl_any_under(a, "kv/"));
	assert_true(acl_any_under(a, "p/"));
	assert_false(acl_any_under(a, "gone/"));
	assert_false(acl_any_under(a, "other/"));
	json_t *j = acl_resultant_json(a);
	assert_true(json_is_false(json_object_get(j, "root")));
	json_t *glob = json_object_get(j, "glob_paths"), *exact = json_object_get(j, "exact_paths");
	assert_non_null(json_object_get(glob, "secret/data/app/"));
	assert_non_null(json_object_get(exact, "kv/+/x"));
	assert_non_null(json_object_get(json_object_get(exact, "p/q"), "allowed_parameters"));
	json_t *caps = json_object_get(json_object_get(glob, "gone/"), "capabilities");
	assert_string_equal(json_string_value(json_array_get(caps, 0)), "deny");
	json_decref(j);
	acl_release(a);
}

/* --- scale --- */

static double time_checks(const struct acl *a, const char *const *paths, size_t npaths, size_t n)
{
	struct timespec t0, t1;
	struct acl_result res;
	size_t hits = 0;
	acl_result_init(&res);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < n; i++) {
		acl_check(a, paths[i % npaths], OP_READ, NULL, &res);
		hits += res.allowed;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	acl_result_release(&res);
	assert_true(hits > 0);
	return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static struct acl *big_acl(size_t nrules)
{
	struct buf b;
	struct buf err;
	struct policy *p = NULL;
	buf_init(&b, (size_t)64 << 20);
	buf_init(&err, 4096);
	for (size_t i = 0; i < nrules; i++) {
		switch (i % 4) {
		case 0:
			buf_printf(&b, "path \"secret/app%zu/config\" { capabilities = [\"read\"] }\n", i);
			break;
		case 1:
			buf_printf(&b, "path \"secret/app%zu/*\" { capabilities = [\"read\", \"list\"] }\n", i);
			break;
		case 2:
			buf_printf(&b, "path \"kv/+/team%zu\" { capabilities = [\"read\"] }\n", i);
			break;
		default:
			buf_printf(&b, "path \"db/creds/role%zu\" { capabilities = [\"deny\"] }\n", i);
			break;
		}
	}
	if (policy_parse("big", b.data, b.len, &p, &err) != 0)
		fail_msg("%s", err.data);
	const struct policy *one = p;
	struct acl *a = acl_new(&one, 1);
	policy_free(p);
	buf_release(&b);
	buf_release(&err);
	return a;
}

static void test_scale(void **state)
{
	(void)state;
	static const char *const paths[] = {
		"secret/app8/config", "secret/app9/x/y", "kv/foo/team10", "db/creds/role11",
		"nothing/here",       "secret/app13/a",  "kv/a/b/c",      "secret/app12/config",
	};
	struct acl *small = big_acl(20), *large = big_acl(10000);
	const size_t n = 10000;
	/* warm up, then take the best of three to damp scheduler noise */
	(void)time_checks(small, paths, 8, n);
	(void)time_checks(large, paths, 8, n);
	double ts = 1e9, tl = 1e9;
	for (int k = 0; k < 3; k++) {
		double s = time_checks(small, paths, 8, n), l = time_checks(large, paths, 8, n);
		ts = s < ts ? s : ts;
		tl = l < tl ? l : tl;
	}
	print_message("10k checks: 20 rules %.3f ms, 10000 rules %.3f ms\n", ts * 1e3, tl * 1e3);
	/* 500x the rules; a linear scan would cost ~500x. Allow 10x plus a
	 * fixed slack for sanitizer builds and noisy machines. */
	if (!(tl < ts * 10 + 0.05))
		fail_msg("10k checks: 20 rules %.6fs, 10000 rules %.6fs", ts, tl);
	/* microseconds per check, generously */
	assert_true(tl / (double)n < 50e-6);
	acl_release(small);
	acl_release(large);
}

/* --- templated policies --- */

/* An ACL from one policy text, templated with ident (JSON text or NULL). */
static struct acl *tacl_of(const char *text, const char *ident_json)
{
	struct policy *p = parse_ok("t", text);
	const struct policy *cp = p;
	json_t *ident = ident_json ? json_loads(ident_json, 0, NULL) : NULL;
	if (ident_json)
		assert_non_null(ident);
	struct acl *a = acl_new_templated(&cp, 1, ident);
	json_decref(ident);
	policy_free(p);
	return a;
}

#define APP_POLICY "path \"secret/data/{{identity.entity.metadata.app}}/*\" { capabilities = [\"read\"] }\n"

/* The constraints of a policy see the request as the router coerced it,
 * with the policy's own values put in the same form: a policy name list
 * element by element, a duration as seconds, a glob as written. */
static bool allowed_canon(const struct acl *a, const struct route *route, const char *data_json)
{
	struct acl_result res;
	json_t *data = json_loads(data_json, 0, NULL);
	const char *key;
	json_t *v;
	json_object_foreach(data, key, v) {
		const char *why;
		for (const struct field *f = route->fields; f->name; f++)
			if (strcmp(f->name, key) == 0)
				json_object_set_new(data, key, field_coerce(f->type, v, &why));
	}
	acl_result_init(&res);
	acl_check_ex(a, "auth/token/roles/r", OP_UPDATE, data, field_canon_param, route, &res);
	bool ok = res.allowed;
	acl_result_release(&res);
	json_decref(data);
	return ok;
}

static void test_params_canonical(void **state)
{
	(void)state;
	static const struct field fields[] = {
	    {.name = "allowed_policies", .type = FIELD_POLICIES, .description = ""},
	    {.name = "token_ttl", .type = FIELD_DURATION, .description = ""},
	    {0},
	};
	static const struct route route = { .pattern = "roles/:name", .fields = fields };
	struct acl *deny = acl_of("path \"auth/token/roles/*\" {\n"
				  "  capabilities = [\"update\"]\n"
				  "  denied_parameters = { allowed_policies = [\"Admin\", \"root*\"], token_ttl = [\"1h\"] }\n"
				  "}\n",
				  NULL, NULL);
	/* Raw, every one of these slips past the list. */
	assert_true(allowed(deny, "auth/token/roles/r", OP_UPDATE, "{\"allowed_policies\": \"default,admin\"}"));
	assert_true(allowed(deny, "auth/token/roles/r", OP_UPDATE, "{\"token_ttl\": \"60m\"}"));
	const char *denied[] = {
		"{\"allowed_policies\": \"default,admin\"}", "{\"allowed_policies\": [\"ADMIN\"]}",
		"{\"allowed_policies\": [\" admin\"]}",      "{\"allowed_policies\": \"x, Root-ish\"}",
		"{\"token_ttl\": \"60m\"}",                   "{\"token_ttl\": 3600}",
		"{\"Allowed_Policies\": \"Admin\"}",          /* undeclared spelling: as sent */
	};
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		print_message("%s\n", denied[i]);
		assert_false(allowed_canon(deny, &route, denied[i]));
	}
	assert_true(allowed_canon(deny, &route, "{\"allowed_policies\": \"default, dev\", \"token_ttl\": \"2h\"}"));
	acl_release(deny);

	struct acl *allow = acl_of("path \"auth/token/roles/*\" {\n"
				   "  capabilities = [\"update\"]\n"
				   "  allowed_parameters = { allowed_policies = [\"dev\", \"default\"], token_ttl = [\"1h\"] }\n"
				   "}\n",
				   NULL, NULL);
	assert_true(allowed_canon(allow, &route, "{\"allowed_policies\": \"Dev, default\", \"token_ttl\": 3600}"));
	assert_false(allowed_canon(allow, &route, "{\"allowed_policies\": \"dev,admin\"}"));
	assert_false(allowed_canon(allow, &route, "{\"token_ttl\": \"2h\"}"));
	acl_release(allow);
}

static void test_templated_substitution(void **state)
{
	(void)state;
	static const char *ident =
		"{\"entity\": {\"id\": \"e-1\", \"name\": \"alice\", \"metadata\": {\"app\": \"web\", \"team\": \"t1\"},"
		" \"aliases\": [{\"id\": \"al-1\", \"name\": \"alice-up\", \"mount_accessor\": \"auth_userpass_1\","
		" \"metadata\": {\"region\": \"eu\"}}]},"
		" \"groups\": [{\"id\": \"g-1\", \"name\": \"ops\"}]}";
	struct policy *p = parse_ok("t", APP_POLICY);
	assert_true(policy_has_templates(p));
	policy_free(p);
	p = parse_ok("t", "path \"secret/*\" { capabilities = [\"read\"] }\n");
	assert_false(policy_has_templates(p));
	policy_free(p);

	struct acl *a = tacl_of(APP_POLICY, ident);
	assert_true(acl_has_templates(a));
	assert_true(can_read(a, "secret/data/web/config"));
	assert_false(can_read(a, "secret/data/other/config"));
	assert_false(can_read(a, "secret/data/{{identity.entity.metadata.app}}/config"));
	acl_release(a);

	/* without an entity the rule grants nothing */
	a = tacl_of(APP_POLICY, NULL);
	assert_true(acl_has_templates(a));
	assert_false(can_read(a, "secret/data/web/config"));
	acl_release(a);

	a = tacl_of("path \"e/{{identity.entity.id}}/{{ identity.entity.name }}\" { capabilities = [\"read\"] }\n"
		    "path \"al/{{identity.entity.aliases.auth_userpass_1.id}}\" { capabilities = [\"read\"] }\n"
		    "path \"an/{{identity.entity.aliases.auth_userpass_1.name}}\" { capabilities = [\"read\"] }\n"
		    "path \"am/{{identity.entity.aliases.auth_userpass_1.metadata.region}}/*\" { capabilities = [\"read\"] }\n"
		    "path \"gi/{{identity.groups.ids.g-1.name}}\" { capabilities = [\"read\"] }\n"
		    "path \"gn/{{identity.groups.names.ops.id}}\" { capabilities = [\"read\"] }\n"
		    "path \"t/{{identity.entity.metadata.team}}-{{identity.entity.metadata.app}}\" { capabilities = [\"read\"] }\n"
		    "path \"plain/x\" { capabilities = [\"read\"] }\n",
		    ident);
	assert_true(can_read(a, "e/e-1/alice"));
	assert_true(can_read(a, "al/al-1"));
	assert_true(can_read(a, "an/alice-up"));
	assert_true(can_read(a, "am/eu/x"));
	assert_true(can_read(a, "gi/ops"));
	assert_true(can_read(a, "gn/g-1"));
	assert_true(can_read(a, "t/t1-web"));
	assert_true(can_read(a, "plain/x"));
	assert_false(can_read(a, "e/e-1/bob"));
	acl_release(a);

	/* unresolvable expressions drop only their rule */
	a = tacl_of("path \"m/{{identity.entity.metadata.missing}}\" { capabilities = [\"read\"] }\n"
		    "path \"a/{{identity.entity.aliases.auth_other.name}}\" { capabilities = [\"read\"] }\n"
		    "path \"g/{{identity.groups.ids.g-2.name}}\" { capabilities = [\"read\"] }\n"
		    "path \"u/{{identity.entity.bogus}}\" { capabilities = [\"read\"] }\n"
		    "path \"o/{{identity.entity.id\" { capabilities = [\"read\"] }\n"
		    "path \"plain/x\" { capabilities = [\"read\"] }\n",
		    ident);
	assert_false(can_read(a, "m/"));
	assert_false(can_read(a, "m/x"));
	assert_false(can_read(a, "a/alice-up"));
	assert_false(can_read(a, "g/ops"));
	assert_false(can_read(a, "u/"));
	assert_false(can_read(a, "o/e-1"));
	assert_true(can_read(a, "plain/x"));
	acl_release(a);
}

static void test_templated_forbidden_values(void **state)
{
	(void)state;
	static const char *const bad[] = { "*", "+", "..", "../other", "a/b", "x\ny",
					   "", "x\ty", "x\x7fy", "we*", "{{identity.entity.id}}" };
	static const char *const probes[] = { "secret/data/other/config", "secret/data/a/b/c", "secret/data/a/config",
					      "secret/data/web/config", "secret/data/x/config", "secret/data/+/config",
					      "secret/data/*/config", "secret/data/../other/config", "secret/data//config",
					      "secret/data/e-1/config", "secret/other/config" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *ident = json_pack("{s:{s:s, s:s, s:{s:s}, s:[]}, s:[]}", "entity", "id", "e-1", "name", "alice",
					  "metadata", "app", bad[i], "aliases", "groups");
		assert_non_null(ident);
		/* alone, and next to a wider deny and a narrower grant */
		struct policy *p = parse_ok("t", APP_POLICY "path \"secret/data/mine/*\" { capabilities = [\"read\"] }\n");
		const struct policy *cp = p;
		struct acl *a = acl_new_templated(&cp, 1, ident);
		for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++)
			if (can_read(a, probes[k]))
				fail_msg("value %zu grants %s", i, probes[k]);
		char lit[64];
		snprintf(lit, sizeof(lit), "secret/data/%s/config", bad[i]);
		assert_false(can_read(a, lit));
		assert_true(can_read(a, "secret/data/mine/x"));
		assert_int_equal(acl_capabilities(a, "secret/data/other/config"), ACL_CAP_DENY);
		assert_false(acl_any_under(a, "secret/data/other"));
		acl_release(a);
		policy_free(p);
		json_decref(ident);
	}
}

static void test_untemplated_unaffected(void **state)
{
	(void)state;
	static const char *text = "path \"secret/*\" { capabilities = [\"read\"] }\n"
				  "path \"secret/deny/*\" { capabilities = [\"deny\"] }\n";
	struct acl *a = tacl_of(text, "{\"entity\": {\"id\": \"e\", \"metadata\": {\"app\": \"*\"}}, \"groups\": []}");
	struct acl *b = tacl_of(text, NULL);
	assert_false(acl_has_templates(a));
	assert_false(acl_has_templates(b));
	const char *probes[] = { "secret/x", "secret/deny/x", "other" };
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(acl_capabilities(a, probes[i]), acl_capabilities(b, probes[i]));
	json_t *ja = acl_resultant_json(a), *jb = acl_resultant_json(b);
	assert_true(json_equal(ja, jb));
	json_decref(ja);
	json_decref(jb);
	acl_release(a);
	acl_release(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_hcl),
		cmocka_unit_test(test_parse_json),
		cmocka_unit_test(test_parse_errors_name_line),
		cmocka_unit_test(test_legacy_policy),
		cmocka_unit_test(test_exact_prefix_plus),
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_deny_and_merge),
		cmocka_unit_test(test_ops_and_list),
		cmocka_unit_test(test_parameters),
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_any_under_and_resultant),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_params_canonical),
		cmocka_unit_test(test_templated_substitution),
		cmocka_unit_test(test_templated_forbidden_values),
		cmocka_unit_test(test_untemplated_unaffected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
