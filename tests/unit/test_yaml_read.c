/* test_yaml_read.c — the YAML reader (src/lib/yaml_read.c): every
 * construct it reads, compared with the JSON it must equal, and every
 * refusal with the reason and position it gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "yaml_read.h"

#define CAP ((size_t)1 << 20)

static void same_flags(const char *yaml, const char *json, unsigned flags)
{
	json_error_t je;
	json_t *want = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je), *got = NULL;
	char *err = NULL, *dump;
	int r;

	if (want == NULL)
		fail_msg("bad expected JSON %s: %s", json, je.text);
	r = yaml_read(yaml, strlen(yaml), CAP, flags, &got, &err);
	if (r != 0)
		fail_msg("refused %s: %s", yaml, err);
	if (!json_equal(want, got)) {
		dump = json_dumps(got, JSON_ENCODE_ANY);
		fail_msg("%s\n  read as %s\n  expected %s", yaml, dump, json);
	}
	json_decref(want);
	json_decref(got);
}

static void same(const char *yaml, const char *json)
{
	same_flags(yaml, json, 0);
}

static void refused(const char *yaml, const char *why)
{
	json_t *got = NULL;
	char *err = NULL;
	int r = yaml_read(yaml, strlen(yaml), CAP, 0, &got, &err);

	if (r == 0)
		fail_msg("accepted %s", yaml);
	assert_int_equal(r, TROVE_ERR_INVALID);
	assert_null(got);
	assert_non_null(err);
	if (strstr(err, why) == NULL)
		fail_msg("%s: reason \"%s\" lacks \"%s\"", yaml, err, why);
	free(err);
}

static void test_block_collections(void **state)
{
	(void)state;
	same("a: 1\nb: two\n", "{\"a\":1,\"b\":\"two\"}");
	same("a:\n  b:\n    c: d\n  e: f\ng: h", "{\"a\":{\"b\":{\"c\":\"d\"},\"e\":\"f\"},\"g\":\"h\"}");
	same("- a\n- b\n-   c\n", "[\"a\",\"b\",\"c\"]");
	same("k:\n- a\n- b\nn: 1\n", "{\"k\":[\"a\",\"b\"],\"n\":1}");
	same("k:\n  - a\n  - b\n", "{\"k\":[\"a\",\"b\"]}");
	same("- name: x\n  cluster:\n    server: s\n- name: y\n", "[{\"name\":\"x\",\"cluster\":{\"server\":\"s\"}},{\"name\":\"y\"}]");
	same("- - a\n  - b\n- c", "[[\"a\",\"b\"],\"c\"]");
	same("-\n  a: 1\n-\n- x", "[{\"a\":1},null,\"x\"]");
	same("a:\nb: ~\nc:", "{\"a\":null,\"b\":null,\"c\":null}");
	same("\"quoted key\": 1\n'single': 2\n", "{\"quoted key\":1,\"single\":2}");
	same("url: https://example.com:6443/x\nk:v: w", "{\"url\":\"https://example.com:6443/x\",\"k:v\":\"w\"}");
	same("a:    spaced   \nb:\tx", "{\"a\":\"spaced\",\"b\":\"x\"}");
	same("1: one\ntrue: yes\n0x1f: hex\n~: tilde", "{\"1\":\"one\",\"true\":\"yes\",\"0x1f\":\"hex\",\"~\":\"tilde\"}");
	same("false: a\nFalse: b", "{\"false\":\"a\",\"False\":\"b\"}");
	same("{1.0: x, 1: y, TRUE: z}", "{\"1.0\":\"x\",\"1\":\"y\",\"TRUE\":\"z\"}");
	same("a: 1\r\nb: 2\r\n", "{\"a\":1,\"b\":2}");
}

static void test_comments_documents(void **state)
{
	(void)state;
	same("# head\na: 1 # trailing\n\n  # indented\nb: x#not\n", "{\"a\":1,\"b\":\"x#not\"}");
	same("---\na: 1\n", "{\"a\":1}");
	same("--- \n- a\n---\n- b\n", "[\"a\"]");
	same("a: 1\n...\nrubbish: [", "{\"a\":1}");
	same("", "null");
	same("# only a comment\n", "null");
	same("\xEF\xBB\xBF" "a: b", "{\"a\":\"b\"}");
	same("plain", "\"plain\"");
}

static void test_scalars_typed(void **state)
{
	(void)state;
	same("[~, null, Null, NULL, true, True, TRUE, false, FALSE]", "[null,null,null,null,true,true,true,false,false]");
	same("[0, -12, +7, 0o17, 0x1f, 0xFF]", "[0,-12,7,15,31,255]");
	same("[1.5, -0.25, .5, 1e3, 2.5E-1, 1.]", "[1.5,-0.25,0.5,1000.0,0.25,1.0]");
	same("[yes, no, on, 1_000, 0b1, .inf, .nan, 12:30, 99999999999999999999, -, 0x]",
	     "[\"yes\",\"no\",\"on\",\"1_000\",\"0b1\",\".inf\",\".nan\",\"12:30\",\"99999999999999999999\",\"-\",\"0x\"]");
	same("['1', \"true\", 'null']", "[\"1\",\"true\",\"null\"]");
	same_flags("a: 1\nb: true\nc: ~\nd:\ne: [0x1, 2.5]", "{\"a\":\"1\",\"b\":\"true\",\"c\":\"~\",\"d\":null,\"e\":[\"0x1\",\"2.5\"]}",
	           YAML_READ_STRINGS);
}

static void test_plain_multiline(void **state)
{
	(void)state;
	same("a: one\n  two\n   three\nb: x", "{\"a\":\"one two three\",\"b\":\"x\"}");
	same("a: one\n\n  two", "{\"a\":\"one\\ntwo\"}");
	same("- one\n  two\n- three", "[\"one two\",\"three\"]");
	same("a: one # c\nb: two", "{\"a\":\"one\",\"b\":\"two\"}");
}

static void test_quoted(void **state)
{
	(void)state;
	same("'it''s'", "\"it's\"");
	same("\"\\\"q\\\" \\\\ \\/ \\t \\n \\r \\a \\b \\v \\f \\e \\ \"",
	     "\"\\\"q\\\" \\\\ / \\t \\n \\r \\u0007 \\b \\u000b \\f \\u001b  \"");
	refused("\"a\\0b\"", "NUL");
	refused("\"a\\u0000b\"", "NUL");
	same("\"\\x41\\u00e9\\U0001F600\\ud83d\\ude00\"", "\"A\\u00e9\\ud83d\\ude00\\ud83d\\ude00\"");
	same("\"\\N\\_\\L\\P\"", "\"\\u0085\\u00a0\\u2028\\u2029\"");
	same("\"one  \n   two\n\n  three\"", "\"one two\\nthree\"");
	same("\"long \\\n    joined\"", "\"long joined\"");
	same("'one\n  two'", "\"one two\"");
	same("a: \"x\" # c\nb: 'y'", "{\"a\":\"x\",\"b\":\"y\"}");
	same("\"\": empty", "{\"\":\"empty\"}");
}

static void test_flow(void **state)
{
	(void)state;
	same("[a, b, [c, d], {e: f}]", "[\"a\",\"b\",[\"c\",\"d\"],{\"e\":\"f\"}]");
	same("{a: 1, b: [x, y], c: {d: e}, }", "{\"a\":1,\"b\":[\"x\",\"y\"],\"c\":{\"d\":\"e\"}}");
	same("{\"a\":1,\"b\":\"c\"}", "{\"a\":1,\"b\":\"c\"}");
	same("k: [a,\n    b, # c\n    c]\nn: 2", "{\"k\":[\"a\",\"b\",\"c\"],\"n\":2}");
	same("{a, b: , c: d}", "{\"a\":null,\"b\":null,\"c\":\"d\"}");
	same("[]", "[]");
	same("{}", "{}");
	same("[a b, 'c, d', \"e]\"]", "[\"a b\",\"c, d\",\"e]\"]");
	same("[http://x:1/y]", "[\"http://x:1/y\"]");
}

static void test_block_scalars(void **state)
{
	(void)state;
	same("a: |\n  line one\n  line two\nb: x", "{\"a\":\"line one\\nline two\\n\",\"b\":\"x\"}");
	same("a: |-\n  x\n  y\n\n", "{\"a\":\"x\\ny\"}");
	same("a: |+\n  x\n\n\nb: 1", "{\"a\":\"x\\n\\n\\n\",\"b\":1}");
	same("a: >\n  folded\n  text\n\n  para\n    more\n  end\n", "{\"a\":\"folded text\\npara\\n  more\\nend\\n\"}");
	same("a: >-\n  x\n  y", "{\"a\":\"x y\"}");
	same("a: |2\n    indented\n  base\n", "{\"a\":\"  indented\\nbase\\n\"}");
	same("a: |\n\n  after blank\n", "{\"a\":\"\\nafter blank\\n\"}");
	same("a: | # comment\n  # not a comment\n", "{\"a\":\"# not a comment\\n\"}");
	same("a: |\nb: 1", "{\"a\":\"\",\"b\":1}");
	same("- |\n  in a list\n- next", "[\"in a list\\n\",\"next\"]");
	same("a: |\n  -----BEGIN X-----\n  abc\n  -----END X-----\n",
	     "{\"a\":\"-----BEGIN X-----\\nabc\\n-----END X-----\\n\"}");
}

static void test_refusals(void **state)
{
	(void)state;
	refused("a: &x 1", "anchors");
	refused("a: *x", "aliases");
	refused("a: !!str 1", "tags");
	refused("<<: {a: 1}", "merge keys");
	refused("? a\n: b", "explicit keys");
	refused("%YAML 1.2\n---\na: 1", "directives");
	refused("a:\n\tb: 1", "tab");
	refused("a: 1\na: 2", "line 2, column 5: the key \"a\" appears twice");
	refused("{a: 1, a: 2}", "appears twice");
	refused("a: b: c", "mapping values are not allowed");
	refused("a: - b", "sequence cannot start");
	refused("a:\n  - b\n - c", "bad indentation");
	same("a: 1\n - b", "{\"a\":\"1 - b\"}");
	refused("a:\n  b: 1\n c: 2", "bad indentation");
	refused("- a\nb: 1", "more content");
	refused("a: 1\n- b", "sequence entry where a key");
	refused("a: \"open", "not closed");
	refused("a: 'open\n\n", "not closed");
	refused("[a, b", "not closed");
	refused("[a b c", "not closed");
	refused("{a: 1 b: 2}", "expected ','");
	refused("[a, , b]", "empty entry");
	refused("[a: b]", "not supported");
	refused("{[a]: b}", "collection as a key");
	refused("\"\\q\"", "unknown escape");
	refused("\"\\x4\"", "hex digits");
	refused("\"\\ud800\"", "surrogate");
	refused("\"\\U00110000\"", "U+10FFFF");
	refused("a: \"x\" y", "unexpected text");
	refused("a: |x\n  b", "block scalar's header");
	refused("a: @x", "reserved");
	refused("a: one # c\n  two: x", "bad indentation");
	refused("a: x\nb", "expected a key");
	refused("a: b\xff", "line 1, column 5: bytes that are not UTF-8");
	refused("a: 1\nb: \xc3", "line 2, column 4");
	refused("[- a]", "block sequence inside");
	refused("{b: a}, [1]", "unexpected text after the value");
	refused("k: [a] b", "unexpected text after the value");
}

static void test_depth_and_size(void **state)
{
	char deep[400], *err = NULL;
	json_t *v = NULL;
	size_t i;
	(void)state;

	for (i = 0; i < 70; i++)
		deep[i] = '[';
	deep[i] = '\0';
	refused(deep, "nesting deeper than 64");
	memset(deep, 0, sizeof(deep));
	for (i = 0; i < 66; i++)
		memcpy(deep + i * 3, "- ", 2), deep[i * 3 + 2] = ' ';
	/* "- - - ..." all on one line: 66 nested sequences */
	for (i = 0; i < 66 * 3; i++)
		if (deep[i] == '\0')
			deep[i] = ' ';
	memcpy(deep + 66 * 3, "x", 2);
	refused(deep, "nesting deeper");
	assert_int_equal(yaml_read("a: 1", 4, 3, 0, &v, &err), TROVE_ERR_TOO_LARGE);
	assert_null(v);
	assert_non_null(strstr(err, "larger"));
	free(err);
	/* Not NUL-terminated: only n bytes are read. */
	assert_int_equal(yaml_read("a: 1zzz", 4, 100, 0, &v, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
	json_decref(v);
	assert_int_equal(yaml_read("a: \0", 4, 100, 0, &v, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err, "line 1, column 4: a NUL byte"));
	free(err);
}

/* Linear time: a long document of many keys, a long plain scalar of many
 * lines and a long flow list finish at once. */
static void test_large_inputs(void **state)
{
	struct buf b;
	json_t *v = NULL;
	char *err = NULL;
	int i;
	(void)state;

	buf_init(&b, (size_t)64 << 20);
	for (i = 0; i < 100000; i++)
		(void)buf_printf(&b, "k%d: v\n", i);
	assert_int_equal(yaml_read(b.data, b.len, b.len, 0, &v, &err), 0);
	assert_int_equal(json_object_size(v), 100000);
	json_decref(v);
	buf_reset(&b);
	(void)buf_append_str(&b, "a: x\n");
	for (i = 0; i < 100000; i++)
		(void)buf_append_str(&b, "  word\n");
	assert_int_equal(yaml_read(b.data, b.len, b.len, 0, &v, &err), 0);
	assert_int_equal(json_string_length(json_object_get(v, "a")), 1 + 100000 * 5);
	json_decref(v);
	buf_reset(&b);
	(void)buf_append_str(&b, "[");
	for (i = 0; i < 100000; i++)
		(void)buf_append_str(&b, "1,");
	(void)buf_append_str(&b, "]");
	assert_int_equal(yaml_read(b.data, b.len, b.len, 0, &v, &err), 0);
	assert_int_equal(json_array_size(v), 100000);
	json_decref(v);
	buf_release(&b);
}

static void test_kubeconfig_shape(void **state)
{
	(void)state;
	same("apiVersion: v1\n"
	     "kind: Config\n"
	     "clusters:\n"
	     "- cluster:\n"
	     "    certificate-authority-data: TFMwdExT\n"
	     "    server: https://127.0.0.1:6443\n"
	     "  name: kind\n"
	     "contexts:\n"
	     "- context:\n"
	     "    cluster: kind\n"
	     "    user: admin\n"
	     "    namespace: \"007\"\n"
	     "  name: kind\n"
	     "current-context: kind\n"
	     "preferences: {}\n"
	     "users:\n"
	     "- name: admin\n"
	     "  user:\n"
	     "    token: abc.def\n",
	     "{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"clusters\":[{\"cluster\":{\"certificate-authority-data\":"
	     "\"TFMwdExT\",\"server\":\"https://127.0.0.1:6443\"},\"name\":\"kind\"}],\"contexts\":[{\"context\":"
	     "{\"cluster\":\"kind\",\"user\":\"admin\",\"namespace\":\"007\"},\"name\":\"kind\"}],"
	     "\"current-context\":\"kind\",\"preferences\":{},\"users\":[{\"name\":\"admin\",\"user\":{\"token\":"
	     "\"abc.def\"}}]}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_block_collections), cmocka_unit_test(test_comments_documents),
	    cmocka_unit_test(test_scalars_typed),     cmocka_unit_test(test_plain_multiline),
	    cmocka_unit_test(test_quoted),            cmocka_unit_test(test_flow),
	    cmocka_unit_test(test_block_scalars),     cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_depth_and_size),    cmocka_unit_test(test_large_inputs),
	    cmocka_unit_test(test_kubeconfig_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
