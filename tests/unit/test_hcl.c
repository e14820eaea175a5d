/* test_hcl.c — the HCL1/JSON parser on Vault config and policy samples,
 * and on broken input. */
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
#include "hcl.h"

static struct hcl_value *parse_ok(const char *text)
{
	struct hcl_value *v = NULL;
	struct hcl_error err;
	int r = hcl_parse(text, strlen(text), &v, &err);

	if (r != 0)
		fail_msg("parse failed at %d:%d: %s\n--- input:\n%s", err.line, err.column, err.message,
		         text);
	assert_non_null(v);
	assert_int_equal(v->type, HCL_OBJECT);
	return v;
}

static struct hcl_value *parse_json_ok(const char *text)
{
	struct hcl_value *v = NULL;
	struct hcl_error err;
	int r = hcl_parse_json(text, strlen(text), &v, &err);

	if (r != 0)
		fail_msg("json parse failed at %d:%d: %s", err.line, err.column, err.message);
	assert_non_null(v);
	assert_int_equal(v->type, HCL_OBJECT);
	return v;
}

/* Parses text expecting failure at line; returns the message (static). */
static const char *parse_err(const char *text, size_t len, int line)
{
	static struct hcl_error err;
	struct hcl_value *v = (struct hcl_value *)1;
	int r = hcl_parse(text, len, &v, &err);

	if (r == 0)
		fail_msg("parse unexpectedly succeeded:\n%s", text);
	assert_int_equal(r, TROVE_ERR_INVALID);
	assert_null(v);
	if (err.line != line)
		fail_msg("error at line %d, want %d: %s", err.line, line, err.message);
	assert_true(err.message[0] != '\0');
	return err.message;
}

static const struct hcl_member *member(const struct hcl_value *obj, size_t i)
{
	assert_int_equal(obj->type, HCL_OBJECT);
	assert_true(i < obj->u.object.len);
	return &obj->u.object.members[i];
}

/* First member named key. */
static const struct hcl_value *get(const struct hcl_value *obj, const char *key)
{
	size_t i;

	assert_int_equal(obj->type, HCL_OBJECT);
	for (i = 0; i < obj->u.object.len; i++)
		if (strcmp(obj->u.object.members[i].key, key) == 0)
			return obj->u.object.members[i].value;
	fail_msg("no key %s", key);
	return NULL;
}

static void assert_str(const struct hcl_value *v, const char *s)
{
	assert_non_null(v);
	assert_int_equal(v->type, HCL_STRING);
	assert_string_equal(v->u.string.ptr, s);
	assert_int_equal(v->u.string.len, strlen(s));
}

static void assert_int(const struct hcl_value *v, int64_t i)
{
	assert_non_null(v);
	assert_int_equal(v->type, HCL_INT);
	assert_true(v->u.i == i);
}

static void test_server_config(void **state)
{
	const char *text = "# Trove server config\n"
	                   "storage \"lmdb\" { path = \"/x\" max_size = 1073741824 }\n"
	                   "\n"
	                   "listener \"tcp\" {\n"
	                   "  address     = \"127.0.0.1:8200\"\n"
	                   "  tls_disable = 1 // plain HTTP for tests\n"
	                   "}\n"
	                   "/* a second\n"
	                   "   listener */\n"
	                   "listener \"tcp\" {\n"
	                   "  address = \"0.0.0.0:8201\"\n"
	                   "  tls_cert_file = \"/etc/cert.pem\"\n"
	                   "}\n"
	                   "ui = true\n"
	                   "disable_mlock = false\n"
	                   "default_lease_ttl = \"768h\"\n"
	                   "api_addr = \"http://127.0.0.1:8200\"\n"
	                   "ratio = 0.75\n"
	                   "neg = -12\n";
	struct hcl_value *v = parse_ok(text);
	const struct hcl_member *m;
	const struct hcl_value *body;
	const char *label;
	struct hcl_error err;

	(void)state;
	assert_int_equal(v->u.object.len, 9);
	m = member(v, 0);
	assert_string_equal(m->key, "storage");
	assert_int_equal(m->line, 2);
	assert_int_equal(m->nlabels, 1);
	assert_string_equal(m->labels[0], "lmdb");
	assert_int_equal(hcl_member_block(m, &label, &body, &err), 0);
	assert_string_equal(label, "lmdb");
	assert_int_equal(body->u.object.len, 2);
	assert_str(get(body, "path"), "/x");
	assert_int(get(body, "max_size"), 1073741824);

	m = member(v, 1);
	assert_string_equal(m->key, "listener");
	assert_int_equal(m->line, 4);
	assert_string_equal(m->labels[0], "tcp");
	assert_str(get(m->value, "address"), "127.0.0.1:8200");
	assert_int(get(m->value, "tls_disable"), 1);
	assert_int_equal(member(m->value, 1)->line, 6);

	m = member(v, 2);
	assert_string_equal(m->key, "listener");
	assert_int_equal(m->line, 10);
	assert_str(get(m->value, "address"), "0.0.0.0:8201");
	assert_str(get(m->value, "tls_cert_file"), "/etc/cert.pem");

	assert_int_equal(get(v, "ui")->type, HCL_BOOL);
	assert_true(get(v, "ui")->u.b);
	assert_false(get(v, "disable_mlock")->u.b);
	assert_int_equal(member(v, 3)->line, 14);
	assert_str(get(v, "default_lease_ttl"), "768h");
	assert_int_equal(get(v, "ratio")->type, HCL_FLOAT);
	assert_true(get(v, "ratio")->u.f == 0.75);
	assert_int(get(v, "neg"), -12);
	hcl_free(v);

	v = parse_ok("backend \"inmem\" {}\n");
	m = member(v, 0);
	assert_string_equal(m->key, "backend");
	assert_int_equal(hcl_member_block(m, &label, &body, &err), 0);
	assert_string_equal(label, "inmem");
	assert_int_equal(body->type, HCL_OBJECT);
	assert_int_equal(body->u.object.len, 0);
	hcl_free(v);

	/* Empty input and only comments are empty objects. */
	v = parse_ok("");
	assert_int_equal(v->u.object.len, 0);
	hcl_free(v);
	v = parse_ok("# nothing\n// here\n/* at all */");
	assert_int_equal(v->u.object.len, 0);
	hcl_free(v);
}

static void test_policy(void **state)
{
	const char *text = "# Read-only access to secrets\n"
	                   "path \"secret/*\" {\n"
	                   "  capabilities = [\"read\", \"list\"]\n"
	                   "}\n"
	                   "\n"
	                   "path \"secret/data/{{identity.entity.id}}/*\" {\n"
	                   "  capabilities = [\n"
	                   "    \"create\",  # inline comment\n"
	                   "    \"update\",\n"
	                   "  ]\n"
	                   "  allowed_parameters = {\n"
	                   "    \"ttl\" = [\"1h\", \"2h\"]\n"
	                   "    \"*\"   = []\n"
	                   "  }\n"
	                   "  required_parameters = [\"ttl\"]\n"
	                   "  min_wrapping_ttl = \"1m\"\n"
	                   "}\n"
	                   "path \"sys/*\" { capabilities = [\"deny\"] }\n";
	struct hcl_value *v = parse_ok(text);
	const struct hcl_member *m;
	const struct hcl_value *caps, *ap;
	const char *label;
	const struct hcl_value *body;
	struct hcl_error err;

	(void)state;
	assert_int_equal(v->u.object.len, 3);
	m = member(v, 0);
	assert_string_equal(m->key, "path");
	assert_string_equal(m->labels[0], "secret/*");
	caps = get(m->value, "capabilities");
	assert_int_equal(caps->type, HCL_LIST);
	assert_int_equal(caps->u.list.len, 2);
	assert_str(caps->u.list.items[0], "read");
	assert_str(caps->u.list.items[1], "list");

	m = member(v, 1);
	assert_int_equal(m->line, 6);
	assert_int_equal(hcl_member_block(m, &label, &body, &err), 0);
	assert_string_equal(label, "secret/data/{{identity.entity.id}}/*");
	caps = get(body, "capabilities");
	assert_int_equal(caps->u.list.len, 2);
	assert_str(caps->u.list.items[1], "update");
	ap = get(body, "allowed_parameters");
	assert_int_equal(ap->type, HCL_OBJECT);
	assert_int_equal(ap->u.object.len, 2);
	assert_string_equal(member(ap, 0)->key, "ttl");
	assert_int_equal(member(ap, 0)->line, 12);
	assert_int_equal(member(ap, 0)->value->u.list.len, 2);
	assert_string_equal(member(ap, 1)->key, "*");
	assert_int_equal(member(ap, 1)->value->type, HCL_LIST);
	assert_int_equal(member(ap, 1)->value->u.list.len, 0);
	assert_str(get(body, "min_wrapping_ttl"), "1m");

	m = member(v, 2);
	assert_string_equal(m->labels[0], "sys/*");
	assert_str(get(m->value, "capabilities")->u.list.items[0], "deny");
	hcl_free(v);
}

static void test_syntax_forms(void **state)
{
	const char *text = "\"quoted key\" = \"v\"\n"
	                   "a = { b = { c = [1, 2.5, true, \"s\", [3], { d = 4 }] } }\n"
	                   "blk { x = 1, y = 2 }\n"
	                   "two \"l1\" l2 { }\n"
	                   "list = [\n"
	                   "  1,\n"
	                   "\n"
	                   "  2, # comment\n"
	                   "  /* c */ 3,\n"
	                   "]\n"
	                   "esc = \"q\\\" b\\\\ n\\n t\\t r\\r s\\/ u\\u00e9 \\U0001F600 \\ud83d\\ude00\"\n"
	                   "num = 0x1F\n"
	                   "oct = 0755\n"
	                   "exp = 1e3\n"
	                   "big = 9223372036854775807\n"
	                   "small = -9223372036854775808\n"
	                   "dup = 1\n"
	                   "dup = 2\n"
	                   "interp = \"${var.x} {{x}}\"\n"
	                   "empty = \"\"\n"
	                   "dotted.key-name_1 = \"ok\"\n";
	struct hcl_value *v = parse_ok(text);
	const struct hcl_value *a, *c;
	const struct hcl_member *m;

	(void)state;
	assert_str(get(v, "quoted key"), "v");
	a = get(v, "a");
	c = get(get(a, "b"), "c");
	assert_int_equal(c->type, HCL_LIST);
	assert_int_equal(c->u.list.len, 6);
	assert_int(c->u.list.items[0], 1);
	assert_int_equal(c->u.list.items[1]->type, HCL_FLOAT);
	assert_true(c->u.list.items[1]->u.f == 2.5);
	assert_int_equal(c->u.list.items[2]->type, HCL_BOOL);
	assert_str(c->u.list.items[3], "s");
	assert_int_equal(c->u.list.items[4]->type, HCL_LIST);
	assert_int(c->u.list.items[4]->u.list.items[0], 3);
	assert_int(get(c->u.list.items[5], "d"), 4);

	m = member(v, 2);
	assert_string_equal(m->key, "blk");
	assert_int_equal(m->nlabels, 0);
	assert_int(get(m->value, "x"), 1);
	assert_int(get(m->value, "y"), 2);

	m = member(v, 3);
	assert_int_equal(m->nlabels, 2);
	assert_string_equal(m->labels[0], "l1");
	assert_string_equal(m->labels[1], "l2");

	a = get(v, "list");
	assert_int_equal(a->u.list.len, 3);
	assert_int(a->u.list.items[2], 3);
	assert_str(get(v, "esc"), "q\" b\\ n\n t\t r\r s/ u\xc3\xa9 \xf0\x9f\x98\x80 \xf0\x9f\x98\x80");
	assert_int(get(v, "num"), 31);
	assert_int(get(v, "oct"), 0755);
	assert_int_equal(get(v, "exp")->type, HCL_FLOAT);
	assert_true(get(v, "exp")->u.f == 1000.0);
	assert_int(get(v, "big"), INT64_MAX);
	assert_int(get(v, "small"), INT64_MIN);
	assert_int(member(v, 11)->value, 1);
	assert_string_equal(member(v, 12)->key, "dup");
	assert_int(member(v, 12)->value, 2);
	assert_str(get(v, "interp"), "${var.x} {{x}}");
	assert_str(get(v, "empty"), "");
	assert_str(get(v, "dotted.key-name_1"), "ok");
	hcl_free(v);

	/* One-line forms, CRLF line ends, BOM, commas between members. */
	v = parse_ok("\xef\xbb\xbf"
	             "a = 1, b = \"x\"\r\n"
	             "c = [ ]\r\n"
	             "d {}\r\n");
	assert_int_equal(v->u.object.len, 4);
	assert_int_equal(member(v, 3)->line, 3);
	hcl_free(v);
}

static void test_heredoc(void **state)
{
	const char *text = "policy = <<EOF\n"
	                   "path \"a\" {\n"
	                   "  capabilities = [\"read\"]\n"
	                   "}\n"
	                   "EOF\n"
	                   "indented = <<-EOT\n"
	                   "    line one\n"
	                   "      line two\n"
	                   "\n"
	                   "    EOT\n"
	                   "empty = <<X\n"
	                   "X\n"
	                   "notall = <<-EOT\n"
	                   "  a\n"
	                   " b\n"
	                   "  EOT\n"
	                   "after = 1\n"
	                   "list = [<<A\n"
	                   "x\n"
	                   "A\n"
	                   ", \"y\"]\n";
	struct hcl_value *v = parse_ok(text);

	(void)state;
	assert_str(get(v, "policy"), "path \"a\" {\n  capabilities = [\"read\"]\n}\n");
	assert_str(get(v, "indented"), "line one\n  line two\n\n");
	assert_str(get(v, "empty"), "");
	assert_str(get(v, "notall"), "  a\n b\n");
	assert_int(get(v, "after"), 1);
	assert_int_equal(member(v, 4)->line, 17);
	assert_int_equal(get(v, "list")->u.list.len, 2);
	assert_str(get(v, "list")->u.list.items[0], "x\n");
	hcl_free(v);

	parse_err("a = <<EOF\nabc\nEOFX\n", 19, 1);
	parse_err("a = 1\nb = <<EOF\nabc\n", 20, 2);
	parse_err("a = <<\nx\n", 9, 1);
	parse_err("a = <<EOF x\nEOF\n", 16, 1);
	parse_err("a = <<EOF", 9, 1);
}

static void test_errors(void **state)
{
	const char *m;
	char *bomb;
	size_t i, n;

	(void)state;
	m = parse_err("a = 1\nb = \"unterminated\nc = 2\n", 30, 2);
	assert_non_null(strstr(m, "unterminated string"));
	parse_err("a = 1\n\n\nb = \"abc", 16, 4);
	m = parse_err("a = 1\nb 2\n", 10, 2);
	assert_non_null(strstr(m, "expected '=' or '{'"));
	m = parse_err("x = 1\ny\n", 8, 3);
	m = parse_err("storage \"lmdb\" {\n  path = \"/x\"\n", 31, 3);
	assert_non_null(strstr(m, "line 1"));
	m = parse_err("a = 1\n}\n", 8, 2);
	assert_non_null(strstr(m, "'}'"));
	parse_err("a { b { c = 1 }\n", 16, 2);
	m = parse_err("a = 1\nb = \"x\\qy\"\n", 17, 2);
	assert_non_null(strstr(m, "escape"));
	parse_err("a = \"\\u12\"", 10, 1);
	parse_err("a = \"\\u0000\"", 12, 1);
	parse_err("a = \"\\ud800\"", 12, 1);
	parse_err("a = \"\\udc00\\ud800\"", 18, 1);
	parse_err("a = \"\\U00110000\"", 16, 1);
	parse_err("a = \"x\\", 7, 1);
	parse_err("a = bare\n", 9, 1);
	parse_err("a = [1, 2\n\nb = 3", 16, 3);
	parse_err("a = [1 2]", 9, 1);
	parse_err("a = [1,,2]", 10, 1);
	parse_err("a = [", 5, 1);
	parse_err("a =", 3, 1);
	parse_err("a = =", 5, 1);
	parse_err("= 1", 3, 1);
	parse_err("a \"b\" = 1", 9, 1);
	parse_err("a = 1\n\n/* open comment\n", 22, 3);
	parse_err("a = 99999999999999999999", 24, 1);
	parse_err("a = 1.5e999", 11, 1);
	parse_err("a = 12abc", 9, 1);
	parse_err("a = 1.", 6, 1);
	parse_err("a = 0x", 6, 1);
	parse_err("a = 089", 7, 1);
	parse_err("a = 1e", 6, 1);
	parse_err("a = @", 5, 1);
	parse_err("a = 1 / 2", 9, 1);
	parse_err("a = \"x\" \"y\"", 11, 1);
	parse_err("a = <", 5, 1);
	parse_err("a = \"nul\0here\"", 14, 1);
	parse_err("a = 1\n\x80 = 2", 9, 2);
	parse_err("a = {\n b = [\n {c = }\n ]\n}\n", 25, 3);

	/* The column points at the offending token. */
	{
		struct hcl_error err;
		struct hcl_value *v;

		assert_int_equal(hcl_parse("a = 1\n  b   2", 13, &v, &err), TROVE_ERR_INVALID);
		assert_int_equal(err.line, 2);
		assert_int_equal(err.column, 7);
		assert_int_equal(hcl_parse("x = \"abc\\z\"", 11, &v, &err), TROVE_ERR_INVALID);
		assert_int_equal(err.column, 9);
	}

	/* Depth bomb: nested lists and objects over the limit fail cleanly. */
	n = 100000;
	bomb = malloc(n);
	assert_non_null(bomb);
	bomb[0] = 'a';
	bomb[1] = '=';
	for (i = 2; i < n; i++)
		bomb[i] = '[';
	m = parse_err(bomb, n, 1);
	assert_non_null(strstr(m, "too deep"));
	for (i = 0; i < n / 2; i++) {
		bomb[2 * i] = 'a';
		bomb[2 * i + 1] = '{';
	}
	m = parse_err(bomb, n, 1);
	assert_non_null(strstr(m, "too deep"));
	free(bomb);
}

/* Nesting right at the limit parses; one more level does not. */
static void test_depth_limit(void **state)
{
	struct buf b;
	struct hcl_value *v;
	struct hcl_error err;
	int i;

	(void)state;
	buf_init(&b, BUF_CAP_DEFAULT);
	/* The top-level object is level 1: HCL_MAX_DEPTH - 1 nested blocks. */
	for (i = 0; i < HCL_MAX_DEPTH - 1; i++)
		assert_int_equal(buf_append_str(&b, "a {"), 0);
	for (i = 0; i < HCL_MAX_DEPTH - 1; i++)
		assert_int_equal(buf_append_str(&b, "}"), 0);
	assert_int_equal(hcl_parse(b.data, b.len, &v, &err), 0);
	hcl_free(v);
	buf_reset(&b);
	for (i = 0; i < HCL_MAX_DEPTH; i++)
		assert_int_equal(buf_append_str(&b, "a {"), 0);
	for (i = 0; i < HCL_MAX_DEPTH; i++)
		assert_int_equal(buf_append_str(&b, "}"), 0);
	assert_int_equal(hcl_parse(b.data, b.len, &v, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.message, "too deep"));
	buf_release(&b);
}

static void test_huge_input(void **state)
{
	size_t n = HCL_MAX_INPUT + 1;
	char *big = malloc(n);
	struct hcl_value *v = (struct hcl_value *)1;
	struct hcl_error err;

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	assert_int_equal(hcl_parse(big, n, &v, &err), TROVE_ERR_TOO_LARGE);
	assert_null(v);
	assert_non_null(strstr(err.message, "too large"));
	assert_int_equal(hcl_parse_json(big, n, &v, &err), TROVE_ERR_TOO_LARGE);
	/* Exactly at the limit is accepted (all whitespace: empty object). */
	assert_int_equal(hcl_parse(big, n - 1, &v, &err), 0);
	assert_int_equal(v->u.object.len, 0);
	hcl_free(v);
	free(big);
}

static void test_json(void **state)
{
	const char *cfg = "{\n"
	                  "  \"storage\": {\"lmdb\": {\"path\": \"/x\", \"max_size\": 1073741824}},\n"
	                  "  \"listener\": [\n"
	                  "    {\"tcp\": {\"address\": \"127.0.0.1:8200\", \"tls_disable\": true}},\n"
	                  "    {\"tcp\": {\"address\": \"0.0.0.0:8201\"}}\n"
	                  "  ],\n"
	                  "  \"ui\": true,\n"
	                  "  \"ratio\": 0.5,\n"
	                  "  \"tags\": [\"a\", \"b\"],\n"
	                  "  \"empty\": []\n"
	                  "}\n";
	const char *pol = "{\"path\": {\"secret/*\": {\"capabilities\": [\"read\", \"list\"]}}}";
	struct hcl_value *v = parse_json_ok(cfg);
	const struct hcl_member *m;
	const struct hcl_value *body;
	const char *label;
	struct hcl_error err;

	(void)state;
	assert_int_equal(v->u.object.len, 7);
	m = member(v, 0);
	assert_string_equal(m->key, "storage");
	assert_int_equal(m->nlabels, 0);
	assert_int_equal(hcl_member_block(m, &label, &body, &err), 0);
	assert_string_equal(label, "lmdb");
	assert_str(get(body, "path"), "/x");
	assert_int(get(body, "max_size"), 1073741824);
	/* The listener array became two listener members. */
	m = member(v, 1);
	assert_string_equal(m->key, "listener");
	assert_int_equal(hcl_member_block(m, &label, &body, &err), 0);
	assert_string_equal(label, "tcp");
	assert_str(get(body, "address"), "127.0.0.1:8200");
	assert_true(get(body, "tls_disable")->u.b);
	m = member(v, 2);
	assert_string_equal(m->key, "listener");
	assert_int_equal(hcl_member_block(m, &label, &body, &err), 0);
	assert_str(get(body, "address"), "0.0.0.0:8201");
	assert_true(get(v, "ui")->u.b);
	assert_int_equal(get(v, "ratio")->type, HCL_FLOAT);
	assert_int_equal(get(v, "tags")->u.list.len, 2);
	assert_int_equal(get(v, "empty")->type, HCL_LIST);
	hcl_free(v);

	v = parse_json_ok(pol);
	m = member(v, 0);
	assert_int_equal(hcl_member_block(m, &label, &body, &err), 0);
	assert_string_equal(label, "secret/*");
	assert_str(get(body, "capabilities")->u.list.items[1], "list");
	hcl_free(v);

	/* JSON escapes reach the tree decoded. */
	v = parse_json_ok("{\"k\": \"a\\u00e9\\n\"}");
	assert_str(get(v, "k"), "a\xc3\xa9\n");
	hcl_free(v);
}

static void json_err(const char *text, int line)
{
	struct hcl_value *v = (struct hcl_value *)1;
	struct hcl_error err;

	if (hcl_parse_json(text, strlen(text), &v, &err) != TROVE_ERR_INVALID)
		fail_msg("accepted JSON: %s", text);
	assert_null(v);
	assert_true(err.message[0] != '\0');
	if (line >= 0 && err.line != line)
		fail_msg("JSON error at line %d, want %d: %s", err.line, line, err.message);
}

static void test_json_errors(void **state)
{
	struct buf b;
	int i;

	(void)state;
	json_err("", -1);
	json_err("[1, 2]", -1);
	json_err("\"str\"", -1);
	json_err("{\"a\": 1,\n\"b\": }", 2);
	json_err("{\"a\": 1, \"a\": 2}", -1);
	json_err("{\"a\": null}", -1);
	json_err("{\"a\": \"x\\u0000y\"}", -1);
	json_err("{\"a\": 1} trailing", -1);
	buf_init(&b, BUF_CAP_DEFAULT);
	for (i = 0; i < HCL_MAX_DEPTH + 1; i++)
		assert_int_equal(buf_append_str(&b, "{\"a\":"), 0);
	assert_int_equal(buf_append_str(&b, "1"), 0);
	for (i = 0; i < HCL_MAX_DEPTH + 1; i++)
		assert_int_equal(buf_append_str(&b, "}"), 0);
	json_err(b.data, -1);
	buf_reset(&b);
	for (i = 0; i < 5000; i++)
		assert_int_equal(buf_append_str(&b, "["), 0);
	json_err(b.data, -1);
	buf_release(&b);
}

static void test_member_block(void **state)
{
	struct hcl_value *v;
	const struct hcl_value *body;
	const char *label;
	struct hcl_error err;

	(void)state;
	/* HCL written JSON-style: storage = { lmdb = {...} } */
	v = parse_ok("storage = {\n  lmdb = { path = \"/y\" }\n}\n"
	             "two \"a\" \"b\" {}\n"
	             "scalar = 1\n"
	             "multi = { a = {} b = {} }\n"
	             "notobj = { a = 1 }\n"
	             "labelled_inner { tcp \"x\" {} }\n"
	             "bare_label lmdb {}\n");
	assert_int_equal(hcl_member_block(member(v, 0), &label, &body, &err), 0);
	assert_string_equal(label, "lmdb");
	assert_str(get(body, "path"), "/y");
	assert_int_equal(hcl_member_block(member(v, 1), &label, &body, &err), TROVE_ERR_INVALID);
	assert_int_equal(err.line, 4);
	assert_non_null(strstr(err.message, "two"));
	assert_int_equal(hcl_member_block(member(v, 2), &label, &body, &err), TROVE_ERR_INVALID);
	assert_int_equal(err.line, 5);
	assert_int_equal(hcl_member_block(member(v, 3), &label, &body, &err), TROVE_ERR_INVALID);
	assert_int_equal(hcl_member_block(member(v, 4), &label, &body, &err), TROVE_ERR_INVALID);
	assert_int_equal(hcl_member_block(member(v, 5), &label, &body, &err), TROVE_ERR_INVALID);
	assert_int_equal(hcl_member_block(member(v, 6), &label, &body, &err), 0);
	assert_string_equal(label, "lmdb");
	hcl_free(v);

	v = parse_json_ok("{\"storage\": {\"a\": {}, \"b\": {}}, \"s\": {\"x\": 1}}");
	assert_int_equal(hcl_member_block(member(v, 0), &label, &body, &err), TROVE_ERR_INVALID);
	assert_int_equal(hcl_member_block(member(v, 1), &label, &body, &err), TROVE_ERR_INVALID);
	hcl_free(v);

	assert_string_equal(hcl_type_name(HCL_OBJECT), "object");
	assert_string_equal(hcl_type_name(HCL_LIST), "list");
	assert_string_equal(hcl_type_name(HCL_STRING), "string");
	assert_string_equal(hcl_type_name(HCL_INT), "int");
	assert_string_equal(hcl_type_name(HCL_FLOAT), "float");
	assert_string_equal(hcl_type_name(HCL_BOOL), "bool");
	hcl_free(NULL);
}

/* Every prefix of a valid document either parses or fails cleanly, and
 * never reads past the given length (ASan checks the heap copies). */
static void test_prefixes(void **state)
{
	const char *text = "storage \"lmdb\" {\n path = \"/x\\u00e9\"\n max = 0x10\n}\n"
	                   "l = [1, 2.5e3, true, { a = <<-EOF\n   x\n   EOF\n }]\n/* c */ # d\n// e\n";
	size_t n = strlen(text), i;
	struct hcl_value *v;
	struct hcl_error err;

	(void)state;
	for (i = 0; i <= n; i++) {
		char *copy = malloc(i ? i : 1);

		assert_non_null(copy);
		memcpy(copy, text, i);
		if (hcl_parse(copy, i, &v, &err) == 0)
			hcl_free(v);
		else
			assert_true(err.line >= 1);
		if (hcl_parse_json(copy, i, &v, &err) == 0)
			hcl_free(v);
		free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_config), cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_syntax_forms),  cmocka_unit_test(test_heredoc),
	    cmocka_unit_test(test_errors),        cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_huge_input),    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_json_errors),   cmocka_unit_test(test_member_block),
	    cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
