/* Unit tests for the template language (agent/tmpl.h): a table of
 * (template, data, expected output) whose expectations follow what Go's
 * text/template and consul-template print for the same input, and the
 * errors, positions and bounds. The Vault sources are a recording fake. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent/tmpl.h"
#include "buf.h"
#include "err.h"

/* ---- the fake Vault sources ---- */

struct fake {
	int calls;
	char path[256];
	char args[8][256];
	size_t nargs;
	int fail; /* an error code to answer with */
};

static void record(struct fake *f, const char *path, const char *const *args, size_t nargs)
{
	f->calls++;
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->nargs = nargs;
	for (size_t i = 0; i < nargs && i < 8; i++)
		snprintf(f->args[i], sizeof(f->args[i]), "%s", args[i]);
}

static int fake_secret(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out, char **err)
{
	struct fake *f = ctx;
	record(f, path, args, nargs);
	if (f->fail) {
		*err = strdup("permission denied by the fake");
		return f->fail;
	}
	if (strcmp(path, "kv/data/app") == 0)
		*out = json_pack("{s:s, s:s, s:i, s:b, s:{s:{s:s, s:s}, s:{s:i}}, s:n}", "RequestID", "r-1", "LeaseID", "",
		                 "LeaseDuration", 0, "Renewable", 0, "Data", "data", "password", "s3cret", "user", "app",
		                 "metadata", "version", 3, "Warnings");
	else if (strcmp(path, "secret/old") == 0)
		*out = json_pack("{s:{s:s, s:i}, s:i}", "Data", "password", "v1pass", "ttl", 60, "LeaseDuration", 2764800);
	else if (strncmp(path, "pki/issue/", 10) == 0)
		*out = json_pack("{s:{s:s, s:s, s:[s]}}", "Data", "certificate", "-----CERT-----", "private_key",
		                 "-----KEY-----", "ca_chain", "-----CA-----");
	else
		*out = json_pack("{s:{s:s}}", "Data", "value", "v");
	return 0;
}

static int fake_pki(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out, char **err)
{
	struct fake *f = ctx;
	(void)err;
	record(f, path, args, nargs);
	*out = json_pack("{s:{s:s, s:s, s:s}}", "Data", "Cert", "-----LEAF-----", "Key", "-----LEAFKEY-----", "CA",
	                 "-----CA-----");
	return 0;
}

static struct fake fake;
static const struct tmpl_funcs funcs = { &fake, fake_secret, fake_pki };

/* 2026-12-06T16:20:05.123456789Z, a Sunday */
#define NOW_NS (INT64_C(1796574005) * 1000000000 + 123456789)

static const char *data_json =
	"{\"a\":\"x\",\"n\":3,\"f\":1.5,\"b\":true,\"z\":0,\"e\":\"\",\"l\":[\"p\",\"q\"],"
	"\"m\":{\"k2\":\"v2\",\"k1\":\"v1\"},\"nil\":null,\"nested\":{\"x\":{\"y\":\"deep\"}},"
	"\"big\":1000000.0,\"small\":0.0001,\"tiny\":0.00001,\"empty\":[],\"em\":{},"
	"\"mixed\":{\"z\":1,\"a\":{\"y\":[1,2.5,\"<&>\"],\"b\":null}},\"nums\":[3,1,2]}";

/* Renders text over data (JSON text, or NULL for none). 0 and *out, or an
 * error code and *err. */
static int run(const char *text, const char *data, bool missing_err, char **out, char **err)
{
	struct tmpl *t = NULL;
	struct buf b;
	json_t *d = NULL;
	int r;

	*out = NULL;
	*err = NULL;
	r = tmpl_parse("t", text, strlen(text), NULL, NULL, &t, err);
	if (r)
		return r;
	if (data) {
		d = json_loads(data, JSON_DECODE_ANY, NULL);
		assert_non_null(d);
	}
	buf_init(&b, (size_t)128 << 20);
	struct tmpl_render_opts o = { .data = d, .error_on_missing_key = missing_err, .now_unix_ns = NOW_NS };
	r = tmpl_render_opts(t, &funcs, &o, &b, err);
	if (r == 0)
		*out = buf_take(&b);
	buf_release(&b);
	json_decref(d);
	tmpl_free(t);
	return r;
}

struct tcase {
	const char *text;
	const char *want; /* NULL: an error containing err */
	const char *err;
};

static void check_table(const struct tcase *cases, size_t n, const char *data, bool missing_err)
{
	for (size_t i = 0; i < n; i++) {
		char *out = NULL, *err = NULL;
		int r = run(cases[i].text, data, missing_err, &out, &err);
		if (cases[i].want) {
			if (r != 0 || strcmp(out, cases[i].want) != 0) {
				print_error("case %zu: %s\n  want: [%s]\n  got:  [%s] (%d: %s)\n", i, cases[i].text, cases[i].want,
				            out ? out : "", r, err ? err : "");
				fail();
			}
		} else {
			if (r == 0 || !err || !strstr(err, cases[i].err)) {
				print_error("case %zu: %s\n  want error containing: [%s]\n  got: %d [%s] out [%s]\n", i,
				            cases[i].text, cases[i].err, r, err ? err : "", out ? out : "");
				fail();
			}
		}
		free(out);
		free(err);
	}
}

#define TABLE(cases, data, missing) check_table(cases, sizeof(cases) / sizeof(cases[0]), data, missing)

static void test_text_trim_comments(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
		{ "hello", "hello", NULL },
		{ "", "", NULL },
		{ "a {{- \" b \" -}} c", "a b c", NULL },
		{ "x  \n {{- 3 }}  y", "x3  y", NULL },
		{ "{{ 3 -}}\n\n  z", "3z", NULL },
		{ "{{-3}}", "-3", NULL },
		{ "{{3 -}} z", "3z", NULL },
		{ "a{{/* a comment */}}b", "ab", NULL },
		{ "a {{- /* c */ -}} \n b", "ab", NULL },
		{ "{{/* one */}}{{/* two */}}", "", NULL },
		{ "{{ `raw\\n` }}", "raw\\n", NULL },
		{ "{{ \"tab\\there\\u00e9\\x41\\101\" }}", "tab\there\xc3\xa9" "AA", NULL },
		{ "{{ 'a' }} {{ '\\n' }}", "97 10", NULL },
		{ "{{ \"a\xff" "b\" }}|{{ `a\xff" "b` }}|{{ '\xc3\xa9' }}|{{ '\xff' }}", "a\xef\xbf\xbd" "b|a\xff" "b|233|65533", NULL },
		{ "{{ 0x1F }} {{ 1_000 }} {{ 017 }} {{ 0b101 }} {{ -5 }} {{ +7 }}", "31 1000 15 5 -5 7", NULL },
		{ "{{ 1.5 }} {{ 1e3 }} {{ 2.0 }} {{ .5 }}", "1.5 1000 2 0.5", NULL },
		{ "{{ true }} {{ false }}", "true false", NULL },
		{ "{{/* unclosed", NULL, "t:1:1: unclosed comment" },
		{ "{{/* c */ x}}", NULL, "comment ends before closing delimiter" },
		{ "{{ .a", NULL, "unclosed action" },
		{ "{{ \"abc }}", NULL, "unterminated quoted string" },
		{ "{{ \"\\q\" }}", NULL, "invalid escape" },
		{ "{{ 12ab }}", NULL, "bad number syntax" },
		{ "{{ .a\xff }}", NULL, "t:1:4: bad character" },
		{ "{{ $\xc3\xa9 := 1 }}{{ $\xc3\xa9 }}", "1", NULL },
		{ "{{ 9223372036854775808 }}", NULL, "illegal number syntax" },
	};
	TABLE(cases, data_json, false);
}

static void test_delimiters(void **state)
{
	struct tmpl *t = NULL;
	char *err = NULL;
	struct buf b;
	const char *text = "[[ .a ]] {{ .a }} [[- \" y \" -]] !";
	json_t *d = json_pack("{s:s}", "a", "x");
	(void)state;

	assert_int_equal(tmpl_parse("d", text, strlen(text), "[[", "]]", &t, &err), 0);
	buf_init(&b, 1 << 20);
	struct tmpl_render_opts o = { .data = d };
	assert_int_equal(tmpl_render_opts(t, NULL, &o, &b, &err), 0);
	assert_string_equal(b.data, "x {{ .a }} y !");
	buf_release(&b);
	tmpl_free(t);
	/* text need not be NUL-terminated: only len bytes are read */
	assert_int_equal(tmpl_parse("d", "{{ 1 }}{{", 7, NULL, NULL, &t, &err), 0);
	buf_init(&b, 1 << 20);
	assert_int_equal(tmpl_render(t, NULL, false, &b, &err), 0);
	assert_string_equal(b.data, "1");
	buf_release(&b);
	tmpl_free(t);
	/* NUL bytes in text are kept */
	assert_int_equal(tmpl_parse("d", "a\0b{{ 2 }}\0", 11, NULL, NULL, &t, &err), 0);
	buf_init(&b, 1 << 20);
	assert_int_equal(tmpl_render(t, NULL, false, &b, &err), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "a\0b2\0", 5);
	buf_release(&b);
	tmpl_free(t);
	json_decref(d);
}

static void test_fields_and_printing(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
		{ "{{ .a }}", "x", NULL },
		{ "{{ .n }}|{{ .f }}|{{ .b }}|{{ .z }}|{{ .e }}|", "3|1.5|true|0||", NULL },
		{ "{{ .big }} {{ .small }} {{ .tiny }}", "1e+06 0.0001 1e-05", NULL },
		{ "{{ .l }} {{ .m }} {{ .empty }} {{ .em }}", "[p q] map[k1:v1 k2:v2] [] map[]", NULL },
		{ "{{ .mixed }}", "map[a:map[b:<nil> y:[1 2.5 <&>]] z:1]", NULL },
		{ "{{ .nil }}", "<no value>", NULL },
		{ "{{ .missing }}", "<no value>", NULL },
		{ "{{ .missing.deeper }}", "<no value>", NULL },
		{ "{{ .nested.x.y }}", "deep", NULL },
		{ "{{ .nested.x }}", "map[y:deep]", NULL },
		{ "{{ $.a }}", "x", NULL },
		{ "{{ .a.y }}", NULL, "t:1:4: field y: type string has no fields" },
		{ "{{ .l.y }}", NULL, "field y: type []interface {} has no fields" },
		{ "{{ .nil.y }}", NULL, "field y of null" },
		{ "{{ .a 1 }}", NULL, "field a given arguments" },
		{ "{{ 1 | .a }}", NULL, "field a given arguments" },
		{ "{{ nil }}", NULL, "nil alone is neither a value" },
		{ "{{ \"a\" 1 }}", NULL, "which is not a function" },
		{ "{{ .a | 3 }}", NULL, "stage 2 of the pipeline is a constant" },
		{ "{{ \"H\" | }}", "H", NULL },
		{ "{{ 1.a }}", NULL, "bad number syntax" },
		{ "{{ \"s\".a }}", NULL, "unexpected . after term" },
	};
	TABLE(cases, data_json, false);
}

static void test_missing_keys(void **state)
{
	(void)state;
	static const struct tcase strict[] = {
		{ "{{ .missing }}", NULL, "t:1:4: no key \"missing\" in the map (error_on_missing_key)" },
		{ "{{ .nested.x.nope }}", NULL, "no key \"nope\" in the map" },
		{ "{{ .nil }}", "<no value>", NULL }, /* present, though null */
		{ "{{ index .m \"nope\" }}", "<no value>", NULL }, /* index is not a field */
		{ "{{ with .m }}{{ .k1 }}{{ end }}", "v1", NULL },
	};
	TABLE(strict, data_json, true);
	static const struct tcase nodata[] = {
		{ "{{ . }}", "<no value>", NULL },
		{ "{{ .x }}", "<no value>", NULL },
		{ "{{ .x.y }}", "<no value>", NULL },
	};
	TABLE(nodata, NULL, false);
	static const struct tcase nodata_strict[] = {
		{ "{{ .x }}", NULL, "no key \"x\": there is no data" },
	};
	TABLE(nodata_strict, NULL, true);
}

static void test_variables(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
		{ "{{ $x := .a }}{{ $x }}", "x", NULL },
		{ "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2", NULL },
		{ "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", "21", NULL },
		{ "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2", NULL },
		{ "{{ $x := 1 }}{{ range .l }}{{ $x = . }}{{ end }}{{ $x }}", "q", NULL },
		{ "{{ with $v := .nested.x }}{{ $v.y }}{{ end }}", "deep", NULL },
		{ "{{ with .m }}{{ $.a }}{{ .k1 }}{{ end }}", "xv1", NULL },
		{ "{{ $m := .m }}{{ $m.k2 }}", "v2", NULL },
		{ "{{ $ }}", "map[a:x b:true big:1e+06 e: em:map[] empty:[] f:1.5 l:[p q] m:map[k1:v1 k2:v2] "
		             "mixed:map[a:map[b:<nil> y:[1 2.5 <&>]] z:1] n:3 nested:map[x:map[y:deep]] nil:<nil> "
		             "nums:[3 1 2] small:0.0001 tiny:1e-05 z:0]",
		  NULL },
		{ "{{ $y }}", NULL, "t:1:4: variable \"$y\" is not declared" },
		{ "{{ $y = 1 }}", NULL, "variable \"$y\" is not declared" },
		{ "{{ if true }}{{ $z := 1 }}{{ end }}{{ $z }}", NULL, "variable \"$z\" is not declared" },
		{ "{{ $a, $b := .l }}", NULL, "too many declarations in command" },
	};
	TABLE(cases, data_json, false);
}

static void test_control(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
		{ "{{ if .b }}y{{ else }}n{{ end }}", "y", NULL },
		{ "{{ if .z }}y{{ else if .e }}e{{ else }}n{{ end }}", "n", NULL },
		{ "{{ if .z }}y{{ else if .a }}a{{ end }}", "a", NULL },
		{ "{{ if .e }}1{{ end }}{{ if .z }}2{{ end }}{{ if .empty }}3{{ end }}{{ if .em }}4{{ end }}"
		  "{{ if .nil }}5{{ end }}{{ if .missing }}6{{ end }}{{ if .f }}7{{ end }}{{ if .l }}8{{ end }}",
		  "78", NULL },
		{ "{{ with .nested.x }}{{ .y }}{{ end }}", "deep", NULL },
		{ "{{ with .missing }}a{{ else with .m }}{{ .k2 }}{{ else }}c{{ end }}", "v2", NULL },
		{ "{{ with .e }}a{{ else }}b{{ end }}", "b", NULL },
		{ "{{ with .nested }}{{ with .x }}{{ .y }}{{ else }}none{{ end }}{{ end }}", "deep", NULL },
		{ "{{ range $i, $v := .l }}{{ $i }}={{ $v }};{{ end }}", "0=p;1=q;", NULL },
		{ "{{ range $k, $v := .m }}{{ $k }}={{ $v }},{{ end }}", "k1=v1,k2=v2,", NULL },
		{ "{{ range .m }}{{ . }}{{ end }}", "v1v2", NULL },
		{ "{{ range $v := .l }}{{ $v }}{{ end }}", "pq", NULL },
		{ "{{ range .empty }}x{{ else }}none{{ end }}", "none", NULL },
		{ "{{ range .missing }}x{{ else }}none{{ end }}", "none", NULL },
		{ "{{ range .l }}{{ if eq . \"q\" }}{{ break }}{{ end }}{{ . }}{{ end }}", "p", NULL },
		{ "{{ range .l }}{{ if eq . \"p\" }}{{ continue }}{{ end }}{{ . }}{{ end }}", "q", NULL },
		{ "{{ range 3 }}{{ . }}{{ end }}", "012", NULL },
		{ "{{ range .l }}{{ $.a }}{{ end }}", "xx", NULL },
		{ "{{ range $i, $e := .nums }}{{ if $i }},{{ end }}{{ $e }}{{ end }}", "3,1,2", NULL },
		{ "{{ range .l -}}\n  {{ . }}\n{{ end -}}", "p\nq\n", NULL },
		{ "{{ break }}", NULL, "{{break}} outside {{range}}" },
		{ "{{ range .a }}{{ end }}", NULL, "range over type string: only lists, maps and integers iterate" },
		{ "{{ if }}{{ end }}", NULL, "if needs a value" },
		{ "{{ if 1 }}", NULL, "missing {{end}}" },
		{ "ab\n{{ end }}", NULL, "t:2:1: unexpected {{end}}" },
		{ "{{ if 1 }}{{ else }}{{ else }}{{ end }}", NULL, "expected {{end}} after {{else}}" },
	};
	TABLE(cases, data_json, false);
}

static void test_templates(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
		{ "{{ define \"T\" }}[{{ . }}]{{ end }}{{ template \"T\" .a }}{{ template \"T\" }}", "[x][<no value>]", NULL },
		{ "{{ template \"T\" .m }}{{ define \"T\" }}{{ .k1 }}{{ $.k2 }}{{ end }}", "v1v2", NULL },
		{ "{{ block \"B\" .n }}<{{ . }}>{{ end }}", "<3>", NULL },
		{ "{{ define \"r\" }}{{ if . }}{{ template \"r\" (slice . 1) }}{{ . }}{{ end }}{{ end }}"
		  "{{ template \"r\" .nums }}",
		  "[2][1 2][3 1 2]", NULL },
		{ "{{ define \"r\" }}{{ template \"r\" }}{{ end }}{{ template \"r\" }}", NULL,
		  "template calls nest deeper than 100" },
		{ "{{ template \"nope\" }}", NULL, "no template \"nope\" defined" },
		{ "{{ define \"T\" }}a{{ end }}{{ define \"T\" }}b{{ end }}", NULL, "template \"T\" defined twice" },
		{ "{{ if 1 }}{{ define \"T\" }}{{ end }}{{ end }}", NULL, "{{define}} only at the top level" },
		{ "{{ $x := 1 }}{{ define \"T\" }}{{ $x }}{{ end }}", NULL, "variable \"$x\" is not declared" },
	};
	TABLE(cases, data_json, false);
}

static void test_builtins(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
		{ "{{ len .l }}{{ len .a }}{{ len .m }}", "212", NULL },
		{ "{{ index .l 1 }} {{ index .m \"k1\" }} {{ index .m \"zz\" }} {{ index .nested \"x\" \"y\" }}",
		  "q v1 <no value> deep", NULL },
		{ "{{ index .a 0 }}", "120", NULL },
		{ "{{ index .l 5 }}", NULL, "index: index 5 out of range" },
		{ "{{ index .l \"a\" }}", NULL, "a list is indexed by an integer, not by type string" },
		{ "{{ slice .a 0 1 }} {{ slice .l 1 }} {{ slice .nums 0 2 }}", "x [q] [3 1]", NULL },
		{ "{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 \"\" \"z\" }} {{ or 0 \"\" }} {{ or .missing \"dflt\" }}",
		  "0 2 z  dflt", NULL },
		{ "{{ and false (index .l 9) }}", "false", NULL },
		{ "{{ not .b }} {{ not .e }}", "false true", NULL },
		{ "{{ eq 1 1 }} {{ eq \"a\" \"b\" \"a\" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} "
		  "{{ ge 1 2 }} {{ eq .nil nil }} {{ eq .a nil }} {{ lt 1.5 2 }}",
		  "true true true true true true false true false true", NULL },
		{ "{{ eq 1 \"1\" }}", NULL, "cannot compare values of different types" },
		{ "{{ lt true false }}", NULL, "only numbers and strings have an order" },
		{ "{{ eq .l .l }}", NULL, "cannot be compared" },
		{ "{{ print 1 2 \"a\" \"b\" 3 }}|{{ println 1 \"a\" }}|", "1 2ab3|1 a\n|", NULL },
		{ "{{ print .l .nil }}", "[p q] <nil>", NULL },
		{ "{{ html \"<a href='x'>&\\\"\" }}", "&lt;a href=&#39;x&#39;&gt;&amp;&#34;", NULL },
		{ "{{ html .missing }}{{ js .missing 1 }}", "&lt;no value&gt;\\u003Cno value\\u003E1", NULL },
		{ "{{ js \"a'b<\\\"=\\n\" }}", "a\\'b\\u003C\\\"\\u003D\\u000A", NULL },
		{ "{{ urlquery \"a b&c=d/\\u00e9\" }}", "a+b%26c%3Dd%2F%C3%A9", NULL },
		{ "{{ len 3 }}", NULL, "len: type int has no length" },
		{ "{{ not }}", NULL, "not takes 1 argument(s), not 0" },
		{ "{{ foo }}", NULL, "t:1:4: unknown function \"foo\"" },
	};
	TABLE(cases, data_json, false);
}

static void test_printf(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
		{ "{{ printf \"%s|%d|%v|%q|%x|%f|%.2f|%05d|%-4s|%t|%%\" \"s\" 42 1.5 \"q\" 255 3.14159 3.14159 42 \"ab\" true }}",
		  "s|42|1.5|\"q\"|ff|3.141590|3.14|00042|ab  |true|%", NULL },
		{ "{{ printf \"%5.1f|%+d|%c|%X|%x|%8.3s|%e|%g|%v\" 3.14159 5 65 255 \"hi\" \"abcdef\" 1234.5678 0.000012 .l }}",
		  "  3.1|+5|A|FF|6869|     abc|1.234568e+03|1.2e-05|[p q]", NULL },
		{ "{{ printf \"%v %v %v\" .m .nil .missing }}", "map[k1:v1 k2:v2] <nil> <nil>", NULL },
		{ "{{ printf \"%d\" \"x\" }}", "%!d(string=x)", NULL },
		{ "{{ printf \"%d %d\" 1 }}", "1 %!d(MISSING)", NULL },
		{ "{{ printf \"%d\" 1 2 }}", "1%!(EXTRA int=2)", NULL },
		{ "{{ printf \"%z\" 1 }}", "%!z(int=1)", NULL },
		{ "{{ printf \"%s\" .nil }}", "%!s(<nil>)", NULL },
		{ "{{ printf \"%q\" \"a\\\"b\\n\" }}", "\"a\\\"b\\n\"", NULL },
		{ "{{ printf \"%6.2f%%\" 99.5 }}", " 99.50%", NULL },
		{ "{{ printf \"%x\" -255 }} {{ printf \"%#x\" 255 }} {{ printf \"%o\" 8 }} {{ printf \"%b\" 5 }}",
		  "-ff 0xff 10 101", NULL },
		{ "{{ printf \"%*d|%-*d|\" 4 1 3 2 }}", "   1|2  |", NULL },
		{ "{{ printf \"%d\" .nums }}", "[3 1 2]", NULL },
		{ "{{ printf \"%T %T\" 1 .l }}", "int []interface {}", NULL },
		{ "{{ printf \"%99999999d\" 1 }}", "%!(NOVERB)%!(EXTRA int=1)", NULL },
		{ "{{ printf \"%.99999999d\" 1 }}", "%!(NOVERB)%!(EXTRA int=1)", NULL },
		{ "{{ printf \"%*d\" \"x\" 1 }}", "%!(BADWIDTH)1", NULL },
		{ "{{ printf 3 }}", NULL, "an argument of type int, not a string" },
		{ "{{ .a | printf \"%s-%s\" \"y\" }}", "y-x", NULL },
		{ "{{ printf \"%[2]s %[1]s|%[3]d|%[1]d %d\" \"a\" \"b\" }}", "b a|%!d(BADINDEX)|%!d(string=a) %!d(string=b)", NULL },
		{ "{{ printf \"%x %b %X|% b|%+x\" 1.5 1.5 -0.1 1.0 2.0 }}",
		  "0x1.8p+00 6755399441055744p-52 -0X1.999999999999AP-04| 4503599627370496p-52|+0x1p+01", NULL },
		{ "{{ printf \"%#g|%#.3e|%#v|%#.4g\" 1.5 1.0 2.0 100.0 }}", "1.50000|1.000e+00|2|100.0", NULL },
		{ "{{ printf \"%#v|%#v|%#v\" \"s\" .l .mixed.a }}",
		  "\"s\"|[]interface {}{\"p\", \"q\"}|map[string]interface {}{\"b\":interface {}(nil), \"y\":[]interface {}{1, 2.5, "
		  "\"<&>\"}}", NULL },
		{ "{{ printf \"%q|%c|%c|%.\" -1 1114112 -5 true }}", "'\xef\xbf\xbd'|\xef\xbf\xbd|\xef\xbf\xbd|%!.(bool=true)", NULL },
		{ "{{ printf \"%t\" .m }}", "map[%!t(string=k1):%!t(string=v1) %!t(string=k2):%!t(string=v2)]", NULL },
		{ "{{ printf \"%05d|%-6s|\" \"x\" .nil }}", "%!d(string=0000x)|%!s(<nil>)|", NULL },
		{ "{{ printf \"%08.3f|%-8.2e|%+.0f\" -3.14159 1234.5 2.5 }}", "-003.142|1.23e+03|+2", NULL },
		{ "{{ printf \"%+v|%+q|%#x|%#q|%#q|% #x|%#d\" 5 \"\xc3\xa9\" \"hi\" \"a`b\" \"ab\" \"hi\" 1.5 }}",
		  "5|\"\\u00e9\"|0x6869|\"a`b\"|`ab`|0x68 0x69|%!d(float64=1.50000)", NULL },
	};
	TABLE(cases, data_json, false);
}

static void test_encoders(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
		{ "{{ .m | toJSON }}", "{\"k1\":\"v1\",\"k2\":\"v2\"}", NULL },
		{ "{{ toJSON .mixed }}", "{\"a\":{\"b\":null,\"y\":[1,2.5,\"\\u003c\\u0026\\u003e\"]},\"z\":1}", NULL },
		{ "{{ toUnescapedJSON .mixed }}", "{\"a\":{\"b\":null,\"y\":[1,2.5,\"<&>\"]},\"z\":1}", NULL },
		{ "{{ .m | toJSONPretty }}", "{\n  \"k1\": \"v1\",\n  \"k2\": \"v2\"\n}", NULL },
		{ "{{ toJSONPretty .mixed }}",
		  "{\n  \"a\": {\n    \"b\": null,\n    \"y\": [\n      1,\n      2.5,\n      \"\\u003c\\u0026\\u003e\"\n    ]\n  "
		  "},\n  \"z\": 1\n}",
		  NULL },
		{ "{{ toJSONPretty .em }} {{ toJSON .empty }} {{ toJSON .missing }} {{ toJSON \"a\\tb\\u2028\" }}",
		  "{} [] null \"a\\tb\\u2028\"", NULL },
		{ "{{ toJSON .big }} {{ toJSON 1e21 }} {{ toJSON 1e-7 }} {{ toJSON 0.5 }} {{ toJSON -2.0 }}",
		  "1000000 1e+21 1e-7 0.5 -2", NULL },
		{ "{{ (parseJSON \"{\\\"a\\\":[1,2],\\\"b\\\":{\\\"c\\\":true}}\").a }}", "[1 2]", NULL },
		{ "{{ (parseJSON \"\").x }}", "<no value>", NULL },
		{ "{{ parseJSON \"{\" }}", NULL, "parseJSON: " },
		{ "{{ base64Encode \"hello\" }} {{ \"aGVsbG8=\" | base64Decode }}", "aGVsbG8= hello", NULL },
		{ "{{ base64URLEncode \"\\xff\\xfe\" }} {{ base64URLDecode \"__4=\" | base64Encode }}", "__4= //4=", NULL },
		{ "{{ base64Decode \"!!\" }}", NULL, "base64Decode: illegal base64 data" },
		{ "{{ base64Decode \"aGVsbG8\" }}", NULL, "base64Decode: illegal base64 data" },
		{ "{{ base64Decode \"aGVs\\nbG8=\" }}", "hello", NULL },
		{ "{{ base64URLDecode \"//4=\" }}", NULL, "illegal base64 data" },
		{ "{{ sha256Hex \"abc\" }}", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", NULL },
		{ "{{ hmacSHA256Hex \"msg\" \"key\" | len }}", "64", NULL },
	};
	TABLE(cases, data_json, false);
}

static void test_yaml(void **state)
{
	(void)state;
	static const char *data =
		"{\"b\":{\"y\":[1,2.5,\"x\"],\"a\":null},\"a\":\"hello\",\"t\":\"true\",\"n\":\"123\",\"e\":\"\","
		"\"ml\":\"line1\\nline2\\n\",\"sp\":\" lead\",\"colon\":\"a: b\",\"hash\":\"a #b\","
		"\"nested\":[{\"k\":\"v\",\"j\":1},[1,2]],\"em\":{},\"el\":[],"
		"\"keys\":{\"a10\":1,\"a2\":2,\"B\":3,\"_x\":4},\"tab\":\"a\\tb\",\"big\":1000000.0,"
		"\"long\":\"aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa\","
		"\"words\":[\"yes\",\"No\",\"~\",\"0x1F\",\"1.5e3\",\".5\",\"2026-12-06\",\"1:20\",\"- x\",\"-x\",\"{a\",\"ok?\",\"1_000\"],"
		"\"keep\":\"x\\n\\n\",\"nonl\":\"x\\ny\",\"emoji\":\"\\ud83d\\ude00\"}";
	static const struct tcase cases[] = {
		{ "{{ toYAML .a }}", "hello", NULL },
		{ "{{ toYAML (index . \"b\") }}", "a: null\n\"y\":\n- 1\n- 2.5\n- x", NULL },
		{ "{{ toYAML .nested }}", "- j: 1\n  k: v\n- - 1\n  - 2", NULL },
		{ "{{ toYAML .keys }}", "_x: 4\nB: 3\na2: 2\na10: 1", NULL },
		{ "{{ toYAML .words }}",
		  "- \"yes\"\n- \"No\"\n- \"~\"\n- \"0x1F\"\n- \"1.5e3\"\n- \".5\"\n- \"2026-12-06\"\n- \"1:20\"\n- '- x'\n- -x\n"
		  "- '{a'\n- ok?\n- \"1_000\"",
		  NULL },
		{ "{{ toYAML .keep }}|{{ toYAML .nonl }}", "|+\n  x||-\n  x\n  y", NULL },
		{ "{{ toYAML .emoji }} {{ toYAML .big }} {{ toYAML .em }} {{ toYAML .el }}", "\"\\U0001F600\" 1e+06 {} []", NULL },
		{ "{{ toYAML \"\\xff\\xfe\" }}", "!!binary //4=", NULL },
	};
	TABLE(cases, data, false);
	char *out = NULL, *err = NULL;
	assert_int_equal(run("{{ toYAML . }}", data, false, &out, &err), 0);
	static const char want[] = "a: hello\n"
	                         "b:\n"
	                         "  a: null\n"
	                         "  \"y\":\n"
	                         "  - 1\n"
	                         "  - 2.5\n"
	                         "  - x\n"
	                         "big: 1e+06\n"
	                         "colon: 'a: b'\n"
	                         "e: \"\"\n"
	                         "el: []\n"
	                         "em: {}\n"
	                         "emoji: \"\\U0001F600\"\n"
	                         "hash: 'a #b'\n"
	                         "keep: |+\n"
	                         "  x\n"
	                         "\n"
	                         "keys:\n"
	                         "  _x: 4\n"
	                         "  B: 3\n"
	                         "  a2: 2\n"
	                         "  a10: 1\n"
	                         "long: aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa\n"
	                         "  aaaaaaaaa aaaaaaaaa\n"
	                         "ml: |\n"
	                         "  line1\n"
	                         "  line2\n"
	                         "\"n\": \"123\"\n" /* "n" reads back as false in YAML 1.1 */
	                         "nested:\n"
	                         "- j: 1\n"
	                         "  k: v\n"
	                         "- - 1\n"
	                         "  - 2\n"
	                         "nonl: |-\n"
	                         "  x\n"
	                         "  y\n"
	                         "sp: ' lead'\n"
	                         "t: \"true\"\n"
	                         "tab: \"a\\tb\"\n"
	                         "words:\n"
	                         "- \"yes\"\n";
	if (strncmp(out, want, sizeof(want) - 1) != 0) {
		print_error("toYAML of the whole data:\n%s\n", out);
		fail();
	}
	free(out);
}

static void test_strings_and_math(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
		{ "[{{ trimSpace \"  a b \\n\" }}]", "[a b]", NULL },
		{ "{{ \" a,b \" | split \",\" | join \"-\" }}", "a-b", NULL },
		{ "{{ split \",\" \"\" }} {{ split \",\" \"a,,b\" }} {{ split \"\" \"ab\" | len }}", "[] [a  b] 2", NULL },
		{ "{{ join \",\" .l }}", "p,q", NULL },
		{ "{{ join \",\" .nums }}", NULL, "element 0 is int, not a string" },
		{ "{{ \"banana\" | replaceAll \"a\" \"o\" }}", "bonono", NULL },
		{ "{{ if .l | contains \"q\" }}y{{ end }} {{ contains \"an\" \"banana\" }} {{ contains \"z\" .l }}",
		  "y true false", NULL },
		{ "{{ containsAll .l .l }} {{ containsAny (split \",\" \"z,q\") .l }} {{ containsAll (split \",\" \"z,q\") .l }} "
		  "{{ containsNone (split \",\" \"z\") .l }} {{ containsNotAll .l .l }}",
		  "true true false true false", NULL },
		{ "{{ containsAll .missing .l }} {{ containsAny .missing .l }}", "true false", NULL },
		{ "{{ toLower \"AbC\" }} {{ toUpper \"AbC\" }} {{ toTitle \"hello wide world\" }}", "abc ABC Hello Wide World",
		  NULL },
		{ "{{ toTitle \"don't 'a' x-y 2nd\" }}", "Don't 'A' X-Y 2nd", NULL },
		{ "{{ trim \"xy\" \"xxaxy\" }} {{ trimPrefix \"ab\" \"abc\" }} {{ trimSuffix \"bc\" \"abc\" }}", "a c a", NULL },
		{ "{{ indent 2 \"a\\nb\\n\\nc\" }}", "  a\n  b\n\n  c", NULL },
		{ "{{ parseInt \"42\" | add 1 }} {{ parseBool \"true\" }} {{ parseFloat \"1.5\" }} {{ parseInt \"\" }}",
		  "43 true 1.5 0", NULL },
		{ "{{ parseInt \"4x\" }}", NULL, "parseInt: parsing \"4x\": invalid syntax" },
		{ "{{ add 1 2 }} {{ subtract 1 5 }} {{ multiply 2 3 }} {{ divide 2 10 }} {{ modulo 3 10 }} "
		  "{{ minimum 2 5 }} {{ maximum 2 5 }} {{ add 1.5 1 }} {{ 7 | subtract 2 }} {{ divide 4 10.0 }}",
		  "3 4 6 5 1 2 5 2.5 5 2.5", NULL },
		{ "{{ divide 0 1 }}", NULL, "integer divide by zero" },
		{ "{{ add \"a\" 1 }}", NULL, "add: unknown type string" },
		{ "{{ range loop 3 }}{{ . }}{{ end }} {{ range loop 2 4 }}{{ . }}{{ end }}", "012 23", NULL },
		{ "{{ toUpper 3 }}", NULL, "toUpper: an argument of type int, not a string" },
	};
	TABLE(cases, data_json, false);
}

static void test_env_file_timestamp(void **state)
{
	char path[] = "/tmp/test_tmpl_fileXXXXXX";
	int fd = mkstemp(path);
	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "file-content\n", 13), 13);
	close(fd);
	setenv("TMPL_TEST_ENV", "val", 1);
	unsetenv("TMPL_TEST_UNSET");

	char data[512];
	snprintf(data, sizeof(data), "{\"path\":\"%s\"}", path);
	const struct tcase cases[] = {
		{ "{{ env \"TMPL_TEST_ENV\" }}[{{ env \"TMPL_TEST_UNSET\" }}]", "val[]", NULL },
		{ "{{ envOrDefault \"TMPL_TEST_UNSET\" \"d\" }}", "d", NULL },
		{ "{{ mustEnv \"TMPL_TEST_UNSET\" }}", NULL, "required environment variable TMPL_TEST_UNSET is empty" },
		{ "{{ file .path }}", "file-content\n", NULL },
		{ "{{ file \"/nonexistent/trove/tmpl\" }}", NULL, "file: /nonexistent/trove/tmpl" },
		{ "{{ file \"/\" }}", NULL, "not a readable file" },
		{ "{{ timestamp }}", "2026-12-06T16:20:05Z", NULL },
		{ "{{ timestamp \"2006-01-02\" }} {{ timestamp \"15:04:05\" }} {{ timestamp \"unix\" }}",
		  "2026-12-06 16:20:05 1796574005", NULL },
		{ "{{ timestamp \"Jan _2 3:04PM .000 .999999999 MST Monday 002 06 -0700 Z07:00\" }}",
		  "Dec  6 4:20PM .123 .123456789 UTC Sunday 340 26 +0000 Z", NULL },
		{ "{{ timestamp \"January 2, 2006 15:04:05.000000\" }}", "December 6, 2026 16:20:05.123456", NULL },
		{ "{{ timestamp \"Monday Jan Mon Janet Monk\" }}", "Sunday Dec Sun Janet Monk", NULL },
	};
	TABLE(cases, data, false);
	unlink(path);
}

static void test_secret_sources(void **state)
{
	char *out = NULL, *err = NULL;
	(void)state;

	memset(&fake, 0, sizeof(fake));
	assert_int_equal(run("{{ with secret \"kv/data/app\" }}{{ .Data.data.password }}/{{ .Data.metadata.version }}"
	                     "{{ end }}",
	                     NULL, true, &out, &err),
	                 0);
	assert_string_equal(out, "s3cret/3");
	assert_int_equal(fake.calls, 1);
	assert_string_equal(fake.path, "kv/data/app");
	assert_int_equal(fake.nargs, 0);
	free(out);

	memset(&fake, 0, sizeof(fake));
	assert_int_equal(run("{{ with secret \"pki/issue/x\" \"common_name=a.example.com\" \"ttl=1h\" }}"
	                     "{{ .Data.certificate }}{{ range .Data.ca_chain }}{{ . }}{{ end }}{{ end }}",
	                     NULL, false, &out, &err),
	                 0);
	assert_string_equal(out, "-----CERT----------CA-----");
	assert_string_equal(fake.path, "pki/issue/x");
	assert_int_equal(fake.nargs, 2);
	assert_string_equal(fake.args[0], "common_name=a.example.com");
	assert_string_equal(fake.args[1], "ttl=1h");
	free(out);

	memset(&fake, 0, sizeof(fake));
	assert_int_equal(run("{{ (secret \"kv/data/app\").Data.data.user }} {{ $s := secret \"secret/old\" }}"
	                     "{{ $s.Data.password }} {{ $s.LeaseDuration }} {{ printf \"%s\" (print \"p=\" \"a\") }}",
	                     NULL, false, &out, &err),
	                 0);
	assert_string_equal(out, "app v1pass 2764800 p=a");
	assert_int_equal(fake.calls, 2);
	free(out);

	memset(&fake, 0, sizeof(fake));
	assert_int_equal(run("{{ with pkiCert \"pki/issue/r\" \"common_name=x\" }}{{ .Data.Cert }}{{ .Data.Key }}{{ end }}",
	                     NULL, false, &out, &err),
	                 0);
	assert_string_equal(out, "-----LEAF----------LEAFKEY-----");
	assert_string_equal(fake.path, "pki/issue/r");
	assert_string_equal(fake.args[0], "common_name=x");
	free(out);

	/* the runner's path and args are evaluated strings */
	memset(&fake, 0, sizeof(fake));
	assert_int_equal(run("{{ $p := printf \"kv/data/%s\" \"app\" }}{{ (secret $p (printf \"k=%d\" 1)).Data.data.user }}",
	                     NULL, false, &out, &err),
	                 0);
	assert_string_equal(out, "app");
	assert_string_equal(fake.path, "kv/data/app");
	assert_string_equal(fake.args[0], "k=1");
	free(out);

	/* a refusal from the source ends the rendering with its code and words */
	memset(&fake, 0, sizeof(fake));
	fake.fail = TROVE_ERR_PERMISSION;
	assert_int_equal(run("line\n {{ secret \"kv/data/app\" }}", NULL, false, &out, &err), TROVE_ERR_PERMISSION);
	assert_non_null(strstr(err, "t:2:5: secret \"kv/data/app\": permission denied by the fake"));
	free(err);
	fake.fail = 0;

	assert_int_equal(run("{{ secret 1 }}", NULL, false, &out, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err, "an argument of type int, not a string"));
	free(err);
	assert_int_equal(run("{{ secret }}", NULL, false, &out, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err, "secret takes 1 or more arguments, not 0"));
	free(err);

	/* no sources: refused, naming the function */
	struct tmpl *t = NULL;
	struct buf b;
	assert_int_equal(tmpl_parse("n", "{{ secret \"a\" }}", 16, NULL, NULL, &t, &err), 0);
	buf_init(&b, 1 << 20);
	assert_int_equal(tmpl_render(t, NULL, false, &b, &err), TROVE_ERR_UNSUPPORTED_OP);
	assert_non_null(strstr(err, "function secret is not available here"));
	free(err);
	struct tmpl_funcs only_secret = { &fake, fake_secret, NULL };
	tmpl_free(t);
	assert_int_equal(tmpl_parse("n", "{{ pkiCert \"a\" }}", 17, NULL, NULL, &t, &err), 0);
	assert_int_equal(tmpl_render(t, &only_secret, false, &b, &err), TROVE_ERR_UNSUPPORTED_OP);
	assert_non_null(strstr(err, "function pkiCert is not available here"));
	free(err);
	buf_release(&b);
	tmpl_free(t);
}

static void test_refused_functions(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
		{ "{{ key \"service/x\" }}", NULL, "t:1:4: function \"key\" is not supported by trove agent (reads Consul)" },
		{ "{{ range service \"web\" }}{{ end }}", NULL, "function \"service\" is not supported by trove agent" },
		{ "{{ nomadVar \"x\" }}", NULL, "(reads Nomad)" },
		{ "{{ plugin \"x\" }}", NULL, "(runs programs)" },
		{ "{{ sprig_upper \"x\" }}", NULL, "sprig functions are not offered" },
	};
	TABLE(cases, NULL, false);
}

static void test_bounds(void **state)
{
	struct tmpl *t = NULL;
	char *err = NULL, *out = NULL;
	struct buf b;
	(void)state;

	/* text over 1 MiB */
	size_t big = TMPL_TEXT_MAX + 1;
	char *text = malloc(big);
	memset(text, 'a', big);
	assert_int_equal(tmpl_parse("big", text, big, NULL, NULL, &t, &err), TROVE_ERR_TOO_LARGE);
	assert_null(t);
	free(err);
	free(text);

	/* nesting: 100 levels parse, 101 do not */
	for (int depth = 100; depth <= 101; depth++) {
		buf_init(&b, 1 << 20);
		for (int i = 0; i < depth; i++)
			buf_append_str(&b, "{{ if 1 }}");
		buf_append_str(&b, "x");
		for (int i = 0; i < depth; i++)
			buf_append_str(&b, "{{ end }}");
		int r = run(b.data, NULL, false, &out, &err);
		if (depth == 100) {
			assert_int_equal(r, 0);
			assert_string_equal(out, "x");
			free(out);
		} else {
			assert_int_equal(r, TROVE_ERR_INVALID);
			assert_non_null(strstr(err, "nesting deeper than 100"));
			free(err);
		}
		buf_release(&b);
	}
	buf_init(&b, 1 << 20);
	buf_append_str(&b, "{{ ");
	for (int i = 0; i < 200; i++)
		buf_append_str(&b, "(");
	assert_int_equal(run(b.data, NULL, false, &out, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err, "nesting deeper than 100"));
	free(err);
	buf_release(&b);

	/* many comments in a row: no recursion per comment */
	buf_init(&b, 4 << 20);
	for (int i = 0; i < 100000; i++)
		buf_append_str(&b, "{{/**/}}");
	assert_int_equal(run(b.data, NULL, false, &out, &err), 0);
	assert_string_equal(out, "");
	free(out);
	buf_release(&b);

	/* a range over more than 1e6 items */
	buf_init(&b, 4 << 20);
	buf_append_str(&b, "{\"s\":\"");
	for (int i = 0; i < TMPL_RANGE_MAX; i++)
		buf_append_byte(&b, ',');
	buf_append_str(&b, "\"}");
	assert_int_equal(run("{{ range split \",\" .s }}{{ end }}", b.data, false, &out, &err), TROVE_ERR_TOO_LARGE);
	assert_non_null(strstr(err, "range over more than 1000000 items"));
	free(err);
	buf_release(&b);
	assert_int_equal(run("{{ loop 1000001 }}", NULL, false, &out, &err), TROVE_ERR_TOO_LARGE);
	free(err);

	/* output over 64 MiB */
	assert_int_equal(run("{{ $s := printf \"%65536d\" 1 }}{{ range loop 1100 }}{{ $s }}{{ end }}", NULL, false, &out,
	                     &err),
	                 TROVE_ERR_TOO_LARGE);
	assert_non_null(strstr(err, "output over 67108864 bytes"));
	free(err);

	/* a string doubling itself, and loops in loops: the work bound */
	assert_int_equal(run("{{ $s := \"0123456789abcdef\" }}{{ range loop 100 }}{{ $s = printf \"%s%s\" $s $s }}"
	                     "{{ end }}",
	                     NULL, false, &out, &err),
	                 TROVE_ERR_TOO_LARGE);
	free(err);
	assert_int_equal(run("{{ range loop 1000000 }}{{ range loop 1000000 }}{{ end }}{{ end }}", NULL, false, &out,
	                     &err),
	                 TROVE_ERR_TOO_LARGE);
	assert_non_null(strstr(err, "too much work"));
	free(err);
	/* comparing or scanning a long string over and over */
	assert_int_equal(run("{{ $s := printf \"%1000000d\" 1 }}{{ range loop 1000000 }}{{ if eq $s $s }}{{ end }}"
	                     "{{ sha256Hex $s }}{{ end }}",
	                     NULL, false, &out, &err),
	                 TROVE_ERR_TOO_LARGE);
	assert_non_null(strstr(err, "too much work"));
	free(err);
}

static void test_render_many_times(void **state)
{
	struct tmpl *t = NULL;
	char *err = NULL;
	struct buf b;
	const char *text = "{{ with secret \"kv/data/app\" }}{{ .Data.data.password }}{{ end }}";
	(void)state;

	assert_int_equal(tmpl_parse("m", text, strlen(text), NULL, NULL, &t, &err), 0);
	buf_init(&b, 1 << 20);
	buf_append_str(&b, "prefix:");
	for (int i = 0; i < 3; i++)
		assert_int_equal(tmpl_render(t, &funcs, true, &b, &err), 0);
	assert_string_equal(b.data, "prefix:s3crets3crets3cret");
	buf_release(&b);
	tmpl_free(t);
	tmpl_free(NULL);
}

/* One template rendered by four threads at once, each into its own buffer:
 * the same text every time (literals and the tree are shared). */
static struct tmpl *shared_tmpl;

static int plain_source(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out, char **err)
{
	(void)ctx, (void)args, (void)nargs, (void)err;
	*out = json_pack("{s:{s:{s:s}}}", "Data", "data", "password", path);
	return 0;
}

static void *render_many(void *arg)
{
	static const struct tmpl_funcs f = { NULL, plain_source, plain_source };
	struct buf b;
	char *err = NULL;
	long bad = 0;
	(void)arg;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 2000; i++) {
		buf_reset(&b);
		if (tmpl_render(shared_tmpl, &f, true, &b, &err) != 0 ||
		    strcmp(b.data, "[kv/x] 1.5 a-b {\"k\":[1,\"v\"]} x=kv/x;y=kv/x;") != 0)
			bad++;
		free(err);
		err = NULL;
	}
	buf_release(&b);
	return (void *)bad;
}

static void test_threads(void **state)
{
	const char *text = "[{{ (secret \"kv/x\").Data.data.password }}] {{ 1.5 }} {{ \"a,b\" | split \",\" | join \"-\" }} "
	                   "{{ parseJSON `{\"k\":[1,\"v\"]}` | toJSON }} "
	                   "{{ range $k := split \",\" \"x,y\" }}{{ $k }}={{ with secret \"kv/x\" }}{{ .Data.data.password }}"
	                   "{{ end }};{{ end }}";
	char *err = NULL;
	pthread_t th[4];
	(void)state;
	assert_int_equal(tmpl_parse("th", text, strlen(text), NULL, NULL, &shared_tmpl, &err), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, render_many, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *bad = NULL;
		pthread_join(th[i], &bad);
		assert_int_equal((long)bad, 0);
	}
	tmpl_free(shared_tmpl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_trim_comments),
		cmocka_unit_test(test_delimiters),
		cmocka_unit_test(test_fields_and_printing),
		cmocka_unit_test(test_missing_keys),
		cmocka_unit_test(test_variables),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_builtins),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_encoders),
		cmocka_unit_test(test_yaml),
		cmocka_unit_test(test_strings_and_math),
		cmocka_unit_test(test_env_file_timestamp),
		cmocka_unit_test(test_secret_sources),
		cmocka_unit_test(test_refused_functions),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_render_many_times),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
