/* Unit tests for the template language's sprig dialect (agent/tmpl.h,
 * TMPL_SPRIG): the functions Vault Secrets Operator's transformation
 * templates have, each with its edge cases and errors, as sprig and Go's
 * text/template give them; what the dialect refuses; and the bounds that
 * keep maps changed in place, huge repeats and deep nests harmless. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent/tmpl.h"
#include "buf.h"
#include "err.h"

static const char *data_json =
    "{\"s\":\" hi \",\"n\":3,\"f\":1.5,\"b\":true,\"z\":0,\"e\":\"\",\"l\":[\"b\",\"a\",\"c\",\"a\"],"
    "\"m\":{\"k2\":\"v2\",\"k1\":\"v1\"},\"nil\":null,\"nested\":{\"x\":{\"y\":\"deep\"}},\"nums\":[3,1,2]}";

static int run_in(enum tmpl_dialect d, const char *text, char **out, char **err)
{
	struct tmpl_parse_opts po = {.dialect = d};
	struct tmpl *t = NULL;
	struct buf b;
	int r;

	*out = NULL;
	*err = NULL;
	r = tmpl_parse_opts("t", text, strlen(text), &po, &t, err);
	if (r)
		return r;
	json_t *data = json_loads(data_json, 0, NULL);
	assert_non_null(data);
	buf_init(&b, (size_t)128 << 20);
	struct tmpl_render_opts o = {.data = data};
	r = tmpl_render_opts(t, NULL, &o, &b, err);
	if (r == 0)
		*out = buf_take(&b);
	buf_release(&b);
	/* the caller's data is never changed, whatever the template sets */
	json_t *again = json_loads(data_json, 0, NULL);
	assert_true(json_equal(data, again));
	json_decref(again);
	json_decref(data);
	tmpl_free(t);
	return r;
}

struct tcase {
	const char *text;
	const char *want; /* NULL: an error containing err */
	const char *err;
};

static void check_table(const struct tcase *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *out = NULL, *err = NULL;
		int r = run_in(TMPL_SPRIG, cases[i].text, &out, &err);
		if (cases[i].want) {
			if (r != 0 || strcmp(out, cases[i].want) != 0) {
				print_error("case %zu: %s\n  want: [%s]\n  got:  [%s] (%d: %s)\n", i,
				            cases[i].text, cases[i].want, out ? out : "", r, err ? err : "");
				fail();
			}
		} else if (r == 0 || !err || !strstr(err, cases[i].err) || strncmp(err, "t:", 2) != 0) {
			print_error("case %zu: %s\n  want error containing: [%s]\n  got: %d [%s] out [%s]\n",
			            i, cases[i].text, cases[i].err, r, err ? err : "", out ? out : "");
			fail();
		}
		free(out);
		free(err);
	}
}

#define TABLE(cases) check_table(cases, sizeof(cases) / sizeof(cases[0]))

static void test_strings(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
	    {"{{ trim .s }}", "hi", NULL},
	    {"{{ trim \"\\u00a0x\\u3000\\n\" }}", "x", NULL},
	    {"{{ trimAll \"-\" \"--a-b--\" }}", "a-b", NULL},
	    {"{{ \"--a--\" | trimAll \"-\" }}", "a", NULL},
	    {"{{ trimAll \"\\u00e9\" \"\\u00e9a\\u00e9\" }}", "a", NULL},
	    {"{{ trimall \"$\" \"$5$\" }}", "5", NULL},
	    {"{{ trimPrefix \"pre-\" \"pre-fix\" }}", "fix", NULL},
	    {"{{ trimSuffix \"-x\" \"a-x\" }}", "a", NULL},
	    {"{{ upper \"abc\" }}{{ lower \"AbC\" }}", "ABCabc", NULL},
	    {"{{ title \"hello world-wide don't\" }}", "Hello World-Wide Don'T", NULL},
	    {"{{ untitle \"Hello World\" }}", "hello world", NULL},
	    {"{{ swapcase \"Hello wORLD 42\" }}", "hELLO World 42", NULL},
	    {"{{ initials \"hello big  world\" }}", "hbw", NULL},
	    {"{{ nospace \" a b\\tc\\n\" }}", "abc", NULL},
	    {"{{ repeat 3 \"ab\" }}", "ababab", NULL},
	    {"{{ \"x\" | repeat 2 }}", "xx", NULL},
	    {"{{ repeat 0 \"x\" }}", "", NULL},
	    {"{{ repeat -1 \"x\" }}", NULL, "repeat: negative count"},
	    {"{{ repeat 1000000000 \"abc\" }}", NULL, "repeat: the result would be over"},
	    {"{{ repeat \"3\" \"x\" }}", NULL, "repeat: argument 1 is of type string, not int"},
	    {"{{ substr 1 3 \"hello\" }}", "el", NULL},
	    {"{{ substr -1 2 \"hello\" }}", "he", NULL},
	    {"{{ substr 2 -1 \"hello\" }}", "llo", NULL},
	    {"{{ substr 2 99 \"hello\" }}", "llo", NULL},
	    {"{{ substr 3 1 \"hello\" }}", NULL, "substr: slice bounds out of range"},
	    {"{{ substr 9 10 \"hi\" }}", NULL, "substr: slice bounds out of range"},
	    {"{{ trunc 3 \"hello\" }}|{{ trunc -2 \"hello\" }}|{{ trunc 10 \"hi\" }}|{{ trunc -10 \"hi\" }}",
	     "hel|lo|hi|hi", NULL},
	    {"{{ abbrev 5 \"hello world\" }}|{{ abbrev 3 \"hello\" }}|{{ abbrev 20 \"hi\" }}",
	     "he...|hello|hi", NULL},
	    {"{{ contains \"ell\" \"hello\" }} {{ hasPrefix \"he\" \"hello\" }} {{ hasSuffix \"x\" \"hello\" "
	     "}}",
	     "true true false", NULL},
	    {"{{ \"hello\" | contains \"lo\" }}", "true", NULL},
	    {"{{ contains 1 \"a\" }}", NULL, "contains: argument 1 is of type int, not string"},
	    {"{{ quote \"a\\\"b\" 1 nil }}", "\"a\\\"b\" \"1\"", NULL},
	    {"{{ squote \"a\" 2 }}", "'a' '2'", NULL},
	    {"{{ cat \"a\" 1 nil \"b\" }}", "a 1 b", NULL},
	    {"{{ indent 2 \"a\\nb\" }}", "  a\n  b", NULL},
	    {"{{ indent 2 \"a\\n\\nb\" }}", "  a\n  \n  b", NULL},
	    {"{{ indent 2 \"\" }}", "  ", NULL},
	    {"{{ nindent 2 \"a\" }}", "\n  a", NULL},
	    {"{{ indent -1 \"a\" }}", NULL, "indent: negative count"},
	    {"{{ indent 100000000 \"a\\na\" }}", NULL, "indent: the result would be over"},
	    {"{{ replace \"a\" \"b\" \"banana\" }}", "bbnbnb", NULL},
	    {"{{ plural \"one\" \"many\" 1 }} {{ plural \"one\" \"many\" 2 }}", "one many", NULL},
	    {"{{ splitList \",\" \"a,b,,c\" }}", "[a b  c]", NULL},
	    {"{{ splitList \",\" \"\" | len }}", "1", NULL},
	    {"{{ splitList \"\" \"h\\u00e9j\" }}", "[h \xc3\xa9 j]", NULL},
	    {"{{ $p := split \"$\" \"foo$bar$baz\" }}{{ $p._0 }}-{{ $p._2 }}", "foo-baz", NULL},
	    {"{{ splitn \"$\" 2 \"foo$bar$baz\" }}", "map[_0:foo _1:bar$baz]", NULL},
	    {"{{ join \"-\" (list \"a\" 1 nil true) }}", "a-1-true", NULL},
	    {"{{ join \",\" .l }}|{{ join \",\" \"one\" }}|{{ join \",\" .nil }}", "b,a,c,a|one|", NULL},
	    {"{{ toStrings (list 1 \"a\" 2.5) }}", "[1 a 2.5]", NULL},
	    {"{{ sortAlpha .l }}|{{ sortAlpha (list 3 1 2) }}", "[a a b c]|[1 2 3]", NULL},
	};
	TABLE(cases);
}

static void test_encodings(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
	    {"{{ b64enc \"hello\" }}|{{ b64dec \"aGVsbG8=\" }}", "aGVsbG8=|hello", NULL},
	    {"{{ b64dec \"*bad\" }}", "illegal base64 data at input byte 0", NULL},
	    {"{{ b64enc 5 }}", NULL, "b64enc: argument 1 is of type int, not string"},
	    {"{{ b32enc \"hello\" }}|{{ b32enc \"a\" }}|{{ b32enc \"\" }}", "NBSWY3DP|ME======|", NULL},
	    {"{{ b32dec \"NBSWY3DP\" }}|{{ b32dec \"ME======\" }}", "hello|a", NULL},
	    {"{{ b32dec \"M1\" }}", "illegal base32 data at input byte 1", NULL},
	    {"{{ toJson (dict \"b\" 1 \"a\" \"<x>\") }}", "{\"a\":\"\\u003cx\\u003e\",\"b\":1}", NULL},
	    {"{{ toRawJson (dict \"b\" 1 \"a\" \"<x>\") }}", "{\"a\":\"<x>\",\"b\":1}", NULL},
	    {"{{ toPrettyJson (dict \"a\" (list 1 2)) }}", "{\n  \"a\": [\n    1,\n    2\n  ]\n}", NULL},
	    {"{{ mustToJson .m }}", "{\"k1\":\"v1\",\"k2\":\"v2\"}", NULL},
	    {"{{ fromJson \"{\\\"a\\\":1,\\\"b\\\":[true]}\" }}", "map[a:1 b:[true]]", NULL},
	    {"{{ (fromJson \"{\\\"big\\\":10000000}\").big }}", "1e+07", NULL},
	    {"{{ fromJson \"bad\" }}", "<no value>", NULL},
	    {"{{ mustFromJson \"bad\" }}", NULL, "error calling mustFromJson"},
	    {"{{ sha256sum \"abc\" }}", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	     NULL},
	    {"{{ sha1sum \"abc\" }}", "a9993e364706816aba3e25717850c26c9cd0d89d", NULL},
	    {"{{ sha512sum \"\" }}",
	     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2"
	     "f63b931bd47"
	     "417a81a538327af927da3e",
	     NULL},
	    {"{{ adler32sum \"Wikipedia\" }}", "300286872", NULL},
	};
	TABLE(cases);
}

static void test_defaults_and_types(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
	    {"{{ .missing | default \"d\" }}|{{ \"\" | default \"d\" }}|{{ 0 | default 5 }}|{{ \"x\" | "
	     "default \"d\" }}",
	     "d|d|5|x", NULL},
	    {"{{ default \"d\" }}|{{ .l | default \"d\" }}", "d|[b a c a]", NULL},
	    {"{{ empty \"\" }} {{ empty .l }} {{ empty (dict) }} {{ empty 0 }} {{ empty .nil }}",
	     "true false true true true", NULL},
	    {"{{ coalesce \"\" 0 \"x\" \"y\" }}|{{ coalesce \"\" }}", "x|<no value>", NULL},
	    {"{{ all 1 \"a\" true }} {{ all 1 \"\" }} {{ any 0 \"\" \"x\" }} {{ any }}",
	     "true false true false", NULL},
	    {"{{ ternary \"y\" \"n\" true }}{{ ternary \"y\" \"n\" false }}{{ true | ternary \"Y\" \"N\" }}",
	     "ynY", NULL},
	    {"{{ ternary \"y\" \"n\" 1 }}", NULL, "ternary: argument 3 is of type int, not bool"},
	    {"before {{ fail \"stop here\" }}", NULL, "error calling fail: stop here"},
	    {"{{ toString 5 }}|{{ toString 1.5 }}|{{ toString nil }}|{{ toString .l }}",
	     "5|1.5|<nil>|[b a c a]", NULL},
	    {"{{ kindOf .l }} {{ kindOf .m }} {{ kindOf 1 }} {{ kindOf nil }} {{ kindIs \"string\" \"a\" }}",
	     "slice map int invalid true", NULL},
	    {"{{ typeOf 1.5 }}|{{ typeOf .m }}|{{ typeIs \"int\" 1 }}|{{ typeIsLike \"*int\" 1 }}",
	     "float64|map[string]interface {}|true|true", NULL},
	    {"{{ deepEqual (list 1 \"a\" (dict \"k\" nil)) (list 1 \"a\" (dict \"k\" nil)) }} {{ deepEqual 1 "
	     "1.0 }}",
	     "true false", NULL},
	};
	TABLE(cases);
}

static void test_numbers(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
	    {"{{ add 1 2 3 }} {{ add \"4\" 1 }} {{ add }} {{ add1 9 }} {{ sub 10 4 }} {{ mul 2 3 4 }}",
	     "6 5 0 10 6 24", NULL},
	    {"{{ div 7 2 }} {{ mod 7 2 }} {{ div -7 2 }} {{ max 1 5 3 }} {{ min 4 2 8 }} {{ biggest 1 9 }}",
	     "3 1 -3 5 2 9", NULL},
	    {"{{ div 1 0 }}", NULL, "integer divide by zero"},
	    {"{{ mod 1 0 }}", NULL, "integer divide by zero"},
	    {"{{ add 9223372036854775807 1 }}", "-9223372036854775808", NULL},
	    {"{{ int \"42\" }} {{ int64 3.9 }} {{ int \"0x1f\" }} {{ int \"abc\" }} {{ int \"12.00\" }} {{ "
	     "int true }}",
	     "42 3 31 0 12 1", NULL},
	    {"{{ float64 \"1.5\" }} {{ float64 2 }} {{ float64 \"x\" }}", "1.5 2 0", NULL},
	    {"{{ atoi \"12\" }} {{ atoi \"-3\" }} {{ atoi \"1x\" }} {{ atoi \"\" }}", "12 -3 0 0", NULL},
	    {"{{ atoi 12 }}", NULL, "atoi: argument 1 is of type int, not string"},
	    {"{{ addf 0.1 0.2 }} {{ mulf 1.5 2 }} {{ divf 1 3 }} {{ subf 1 0.9 }} {{ add1f 1.5 }} {{ divf 10 "
	     "3 }}",
	     "0.3 3 0.3333333333333333 0.1 2.5 3.3333333333333335", NULL},
	    {"{{ divf 1 0 }}", NULL, "division by 0"},
	    {"{{ maxf 1 2.5 }} {{ minf 1 2.5 }} {{ floor 1.7 }} {{ ceil 1.2 }} {{ round 3.14159 2 }} {{ "
	     "round 2.5 0 }}",
	     "2.5 1 1 2 3.14 3", NULL},
	    {"{{ until 3 }} {{ until -2 }} {{ untilStep 0 10 4 }} {{ untilStep 5 0 -2 }} {{ untilStep 0 5 0 "
	     "}}",
	     "[0 1 2] [0 -1] [0 4 8] [5 3 1] []", NULL},
	    {"{{ seq 3 }}|{{ seq 2 -1 }}|{{ seq 0 2 6 }}|{{ seq 5 1 2 }}|{{ seq }}|{{ seq 1 2 3 4 }}",
	     "1 2 3|2 1 0 -1|0 2 4 6|||", NULL},
	    {"{{ until 2000000 }}", NULL, "until: more than"},
	    {"{{ untilStep 0 9223372036854775807 1 }}", NULL, "untilStep: more than"},
	    {"{{ toDecimal \"0777\" }} {{ toDecimal \"9\" }}", "511 0", NULL},
	};
	TABLE(cases);
}

static void test_dicts(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
	    {"{{ $d := dict \"a\" 1 \"b\" \"x\" }}{{ $d.a }}{{ $d.b }}", "1x", NULL},
	    {"{{ dict \"k\" }}|{{ dict 1 2 }}|{{ dict }}", "map[k:]|map[1:2]|map[]", NULL},
	    {"{{ get .m \"k1\" }}|{{ get .m \"zz\" }}|{{ get (get .nested \"x\") \"y\" }}", "v1||deep", NULL},
	    {"{{ get .l \"a\" }}", NULL,
	     "get: argument 1 is of type []interface {}, not map[string]interface {}"},
	    {"{{ get .missing \"a\" }}", NULL, "get: argument 1 is of type <nil>"},
	    {"{{ $d := dict }}{{ $_ := set $d \"k\" \"v\" }}{{ $d.k }}", "v", NULL},
	    {"{{ $d := dict }}{{ set $d \"k\" 1 | toJson }}", "{\"k\":1}", NULL},
	    {"{{ $d := dict \"a\" 1 \"b\" 2 }}{{ $_ := unset $d \"a\" }}{{ keys $d }}", "[b]", NULL},
	    {"{{ $_ := set .m \"k3\" \"v3\" }}{{ len .m }}", "3", NULL},
	    {"{{ $d := dict }}{{ set $d \"self\" $d }}", NULL, "set: a map cannot hold itself"},
	    {"{{ hasKey .m \"k1\" }} {{ hasKey .m \"x\" }}", "true false", NULL},
	    {"{{ keys .m }}|{{ keys .m (dict \"z\" 1) }}|{{ values .m }}", "[k1 k2]|[k1 k2 z]|[v1 v2]", NULL},
	    {"{{ pick .m \"k1\" \"nope\" }}|{{ omit .m \"k1\" }}", "map[k1:v1]|map[k2:v2]", NULL},
	    {"{{ pluck \"a\" (dict \"a\" 1) (dict \"b\" 2) (dict \"a\" 3) }}", "[1 3]", NULL},
	    {"{{ $a := dict \"x\" 1 \"e\" \"\" \"n\" (dict \"p\" 1) }}"
	     "{{ $b := dict \"x\" 2 \"e\" \"f\" \"y\" 3 \"n\" (dict \"q\" 2) \"z\" nil }}{{ merge $a $b }}",
	     "map[e:f n:map[p:1 q:2] x:1 y:3]", NULL},
	    {"{{ $a := dict \"x\" 1 \"e\" \"\" \"n\" (dict \"p\" 1) }}"
	     "{{ $b := dict \"x\" 2 \"e\" \"f\" \"y\" 3 \"n\" (dict \"q\" 2) }}{{ $_ := mergeOverwrite $a $b "
	     "}}{{ $a }}",
	     "map[e:f n:map[p:1 q:2] x:2 y:3]", NULL},
	    {"{{ merge (dict \"a\" 1) \"x\" }}", NULL, "merge: argument 2 is of type string"},
	    {"{{ dig \"nested\" \"x\" \"y\" \"none\" . }}|{{ dig \"nested\" \"q\" \"none\" . }}", "deep|none",
	     NULL},
	    {"{{ dig \"nested\" \"x\" \"y\" \"z\" \"none\" . }}", NULL, "dig: \"y\" holds string, not a map"},
	    {"{{ $c := deepCopy .m }}{{ $_ := set $c \"k1\" \"changed\" }}{{ .m.k1 }}/{{ $c.k1 }}",
	     "v1/changed", NULL},
	    {"{{ $c := .m | mustDeepCopy }}{{ $_ := set $c \"host\" \"db\" }}{{ mustToPrettyJson $c }}",
	     "{\n  \"host\": \"db\",\n  \"k1\": \"v1\",\n  \"k2\": \"v2\"\n}", NULL},
	    /* a map changed while ranged over: Go's sorted keys, no value for a removed one */
	    {"{{ $d := dict \"a\" 1 \"b\" 2 \"c\" 3 }}{{ range $k, $v := $d }}{{ $_ := unset $d \"b\" }}{{ "
	     "$k }}={{ $v }};"
	     "{{ end }}",
	     "a=1;b=<no value>;c=3;", NULL},
	};
	TABLE(cases);
}

static void test_lists(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
	    {"{{ list 1 \"a\" nil }}|{{ tuple }}", "[1 a <nil>]|[]", NULL},
	    {"{{ first .l }} {{ last .l }} {{ rest .l }} {{ initial .l }}", "b a [a c a] [b a c]", NULL},
	    {"{{ first (list) }}|{{ rest (list) }}", "<no value>|<no value>", NULL},
	    {"{{ first \"str\" }}", NULL, "first: argument 1 is of type string, not a list"},
	    {"{{ append .l \"d\" }} {{ push .l \"d\" }} {{ prepend .l \"z\" }}",
	     "[b a c a d] [b a c a d] [z b a c a]", NULL},
	    {"{{ $x := append .l \"d\" }}{{ len .l }}", "4", NULL},
	    {"{{ reverse .nums }} {{ uniq .l }} {{ without .l \"a\" }} {{ without .nums 3 1 }}",
	     "[2 1 3] [b a c] [b c] [2]", NULL},
	    {"{{ compact (list \"\" 0 \"x\" nil false 1 (list)) }}", "[x 1]", NULL},
	    {"{{ has \"c\" .l }} {{ has 4 .nums }} {{ has 1 nil }} {{ .l | has \"a\" }}",
	     "true false false true", NULL},
	    {"{{ has 1 \"abc\" }}", NULL, "has: argument 2 is of type string, not a list"},
	    {"{{ slice .nums 1 }} {{ slice .nums 0 2 }} {{ slice .nums }} {{ slice (list) }} {{ slice .nums "
	     "0 1 9 }}",
	     "[1 2] [3 1] [3 1 2] <no value> [3]", NULL},
	    {"{{ slice .nums 2 1 }}", NULL, "slice: slice bounds out of range"},
	    {"{{ slice \"abc\" 1 }}", NULL, "slice: argument 1 is of type string, not a list"},
	    {"{{ concat .nums (list 4) (list) }}", "[3 1 2 4]", NULL},
	    {"{{ chunk 2 .nums }} {{ chunk 5 (list) }}", "[[3 1] [2]] []", NULL},
	    {"{{ chunk 0 .nums }}", NULL, "chunk: a size of 0"},
	    {"{{ mustFirst .nums }} {{ mustLast .nums }} {{ mustUniq .nums }}", "3 2 [3 1 2]", NULL},
	};
	TABLE(cases);
}

static void test_paths(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
	    {"{{ base \"/a/b.txt\" }}|{{ base \"\" }}|{{ base \"///\" }}|{{ base \"a/b/\" }}", "b.txt|.|/|b",
	     NULL},
	    {"{{ dir \"/a/b/c\" }}|{{ dir \"x\" }}|{{ dir \"/x\" }}|{{ dir \"a/b//c\" }}", "/a/b|.|/|a/b",
	     NULL},
	    {"{{ clean \"a//b/../c/.\" }}|{{ clean \"/../a\" }}|{{ clean \"../../x/..\" }}|{{ clean \"\" "
	     "}}|{{ clean \"/\" }}",
	     "a/c|/a|../..|.|/", NULL},
	    {"{{ ext \"f.tar.gz\" }}|{{ ext \"a.b/c\" }}|{{ isAbs \"/x\" }}|{{ isAbs \"x\" }}",
	     ".gz||true|false", NULL},
	    {"{{ osBase \"/a/b\" }}|{{ osDir \"/a/b\" }}|{{ osClean \"a/./b\" }}|{{ osExt \"x.y\" }}|{{ "
	     "osIsAbs \"/\" }}",
	     "b|/a|a/b|.y|true", NULL},
	    {"{{ base 1 }}", NULL, "base: argument 1 is of type int, not string"},
	};
	TABLE(cases);
}

static void test_regex(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
	    {"{{ regexMatch \"^[a-z]+\\\\d$\" \"abc1\" }} {{ regexMatch \"^\\\\d+$\" \"12a\" }}",
	     "true false", NULL},
	    {"{{ regexMatch \"(?i)^ABC$\" \"abc\" }}", "true", NULL},
	    {"{{ regexMatch \"(\" \"x\" }}", "false", NULL},
	    {"{{ mustRegexMatch \"(\" \"x\" }}", NULL, "mustRegexMatch: error parsing regexp"},
	    {"{{ regexMatch \"(a)\\\\1\" \"aa\" }}", "false", NULL},
	    {"{{ mustRegexMatch \"(a)\\\\1\" \"aa\" }}", NULL, "invalid escape sequence"},
	    {"{{ mustRegexMatch \"(a{1000}){1000}\" \"a\" }}", NULL, "expression too large"},
	    {"{{ mustRegexMatch \"\\\\pL\" \"a\" }}", NULL, "Unicode classes"},
	    {"{{ regexFind \"[0-9]+\" \"ab12cd345\" }}|{{ regexFind \"z\" \"ab\" }}", "12|", NULL},
	    {"{{ regexFind \"\\\\d{2}\" \"a123\" }}", "12", NULL},
	    {"{{ regexFindAll \"[0-9]+\" \"ab12cd345\" -1 }} {{ regexFindAll \"[0-9]+\" \"ab12cd345\" 1 }}",
	     "[12 345] [12]", NULL},
	    {"{{ regexFindAll \"a*\" \"baaab\" -1 }}", "[ aaa ]", NULL},
	    {"{{ regexFind \"(\" \"x\" }}", NULL, "regexFind: error parsing regexp"},
	    {"{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }}", "-W-xxW-", NULL},
	    {"{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"$1W\" }}", "---", NULL},
	    {"{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"<$1$$>\" }}", "-<$>-<xx$>-", NULL},
	    {"{{ regexReplaceAllLiteral \"a(x*)b\" \"-ab-axxb-\" \"${1}\" }}", "-${1}-${1}-", NULL},
	    {"{{ regexReplaceAll \"^\" \"ab\" \"-\" }}|{{ regexReplaceAll \"x*\" \"ab\" \"-\" }}",
	     "-ab|-a-b-", NULL},
	    {"{{ regexSplit \"a*\" \"abaabaccadaaae\" 5 }}", "[ b b c cadaaae]", NULL},
	    {"{{ regexSplit \",\" \"a,b,c\" -1 }} {{ regexSplit \",\" \"a,b,c\" 0 }} {{ regexSplit \",\" "
	     "\"\" -1 | len }}",
	     "[a b c] [] 1", NULL},
	    {"{{ regexQuoteMeta \"1.5+x\" }}", "1\\.5\\+x", NULL},
	    {"{{ regexMatch \"^\\\\w+\\\\s\\\\S$\" \"ab_1 x\" }} {{ regexFind \"\\\\bcat\\\\b\" \"cats a "
	     "cat!\" }}"
	     "{{ regexFind \"[\\\\d.]+\" \"v1.25x\" }} {{ regexMatch \"a\\\\tb\" \"a\\tb\" }}",
	     "true cat1.25 true", NULL},
	    {"{{ regexFind \"a|ab\" \"ab\" }}", "a", NULL}, /* leftmost-first, as Go */
	    {"{{ mustRegexMatch \"\\\\x41\" \"A\" }}", "true", NULL},
	    {"{{ regexReplaceAll \"(?P<k>\\\\w+)=(?P<v>\\\\w+)\" \"a=1 b=2\" \"${v}:${k}$k\" }}", "1:aa 2:bb", NULL},
	    {"{{ regexReplaceAll \"(?:x)(y)\" \"xy\" \"[$1$2${nope}]\" }}", "[y]", NULL},
	    {"{{ regexMatch \"^a\\\\.b\\\\/c$\" \"a.b/c\" }}", "true", NULL},
	    {"{{ regexFind \"[]a-]+\" \"x-]a\" }}", "-]a", NULL},
	    {"{{ mustRegexFind \"[a\\\\-z]\" \"-\" }}", "-", NULL},
	};
	TABLE(cases);
}

/* The dialect has sprig's functions and Go's, none of consul-template's
 * data sources; the consul dialect is unchanged. */
static void test_dialects(void **state)
{
	(void)state;
	static const struct {
		const char *text, *err;
	} refused[] = {
	    {"{{ secret \"kv/x\" }}",
	     "not supported in transformation templates (a consul-template data source"},
	    {"{{ pkiCert \"pki/issue/r\" }}", "consul-template data source"},
	    {"{{ toJSON . }}", "a consul-template function"},
	    {"{{ file \"/etc/passwd\" }}", "reads files"},
	    {"{{ env \"HOME\" }}", "reads the environment"},
	    {"{{ now }}", "not repeatable"},
	    {"{{ randAlpha 5 }}", "not repeatable"},
	    {"{{ nosuchfunction }}", "unknown function \"nosuchfunction\""},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char *out = NULL, *err = NULL;
		assert_int_equal(run_in(TMPL_SPRIG, refused[i].text, &out, &err), TROVE_ERR_INVALID);
		if (!err || !strstr(err, refused[i].err)) {
			print_error("%s: [%s]\n", refused[i].text, err ? err : "");
			fail();
		}
		free(err);
	}
	/* Go's builtins are there; the consul dialect has no sprig */
	char *out = NULL, *err = NULL;
	assert_int_equal(run_in(TMPL_SPRIG,
	                        "{{ printf \"%s-%d\" (index .l 0) (len .nums) }}{{ if eq .n 3 }}!{{ end }}",
	                        &out, &err),
	                 0);
	assert_string_equal(out, "b-3!");
	free(out);
	assert_int_equal(run_in(TMPL_CONSUL, "{{ dict \"a\" 1 }}", &out, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err, "unknown function \"dict\""));
	free(err);
	assert_int_equal(
	    run_in(TMPL_CONSUL, "{{ \"a,b\" | split \",\" }}|{{ trim \"x\" \"xax\" }}", &out, &err), 0);
	assert_string_equal(out, "[a b]|a"); /* consul-template's split and trim */
	free(out);
}

/* Bounds: a map changed in place can nest without end or hold itself; the
 * renderer refuses to walk it past TVAL_DEPTH_MAX and frees it without a
 * deep recursion (ASan and LSan watch). Work is bounded as everywhere. */
static void test_bounds(void **state)
{
	(void)state;
	static const struct tcase cases[] = {
	    {"{{ $top := dict }}{{ $cur := $top }}{{ range until 100000 }}{{ $n := dict }}{{ $_ := set $cur "
	     "\"k\" $n }}"
	     "{{ $cur = $n }}{{ end }}{{ len $top }}",
	     "1", NULL},
	    {"{{ $top := dict }}{{ $cur := $top }}{{ range until 10000 }}{{ $n := dict }}{{ $_ := set $cur "
	     "\"k\" $n }}"
	     "{{ $cur = $n }}{{ end }}{{ toJson $top }}",
	     NULL, "values nest deeper than 4096"},
	    {"{{ $top := dict }}{{ $cur := $top }}{{ range until 10000 }}{{ $n := dict }}{{ $_ := set $cur "
	     "\"k\" $n }}"
	     "{{ $cur = $n }}{{ end }}{{ mustToJson $top }}",
	     NULL, "values nest deeper than 4096"},
	    {"{{ $top := dict }}{{ $cur := $top }}{{ range until 10000 }}{{ $n := dict }}{{ $_ := set $cur "
	     "\"k\" $n }}"
	     "{{ $cur = $n }}{{ end }}{{ $top }}",
	     NULL, "values nest deeper than 4096"},
	    {"{{ $top := dict }}{{ $cur := $top }}{{ range until 10000 }}{{ $n := dict }}{{ $_ := set $cur "
	     "\"k\" $n }}"
	     "{{ $cur = $n }}{{ end }}{{ deepCopy $top }}",
	     NULL, "deepCopy: values nest deeper than"},
	    {"{{ $a := dict }}{{ $b := dict \"a\" $a }}{{ $_ := set $a \"b\" $b }}{{ mustToJson $a }}", NULL,
	     "values nest deeper than 4096"},
	    {"{{ $a := dict }}{{ $b := dict \"a\" $a }}{{ $_ := set $a \"b\" $b }}{{ $c := dict }}{{ $d := "
	     "dict \"a\" $c }}"
	     "{{ $_ := set $c \"b\" $d }}{{ deepEqual $a $c }}",
	     NULL, "nest deeper than"},
	    {"{{ $a := dict }}{{ $b := dict \"a\" $a }}{{ $_ := set $a \"b\" $b }}{{ deepEqual $a $a }}",
	     "true", NULL},
	    {"{{ $a := dict }}{{ $b := dict \"a\" $a }}{{ $_ := set $a \"b\" $b }}{{ $_ := merge (dict) $a }}"
	     "{{ $_ := mergeOverwrite $a $a }}",
	     "", NULL},
	    {"{{ $d := dict }}{{ range until 1000000 }}{{ $d = dict \"k\" $d }}{{ end }}", NULL, "hold over"},
	    {"{{ $d := dict }}{{ range until 100000 }}{{ $d = dict \"k\" $d }}{{ end }}{{ len $d }}", "1",
	     NULL},
	    {"{{ range until 1000000 }}{{ $x := repeat 100 \"a\" }}{{ end }}", NULL, "too much work"},
	    {"{{ $l := list }}{{ range until 100000 }}{{ $l = append $l 1 }}{{ end }}", NULL, "hold over"},
	    {"{{ regexFindAll \"a*\" (repeat 60000 \"b\") -1 | len }}", "60001", NULL},
	    {"{{ regexMatch \"[ab]{1000}c\" (repeat 100000 \"a\") }}", NULL, "too much work"},
	    /* one map reached down 2^100 paths: walking it is bounded by work, not by its size */
	    {"{{ $top := dict }}{{ $cur := $top }}{{ range until 100 }}{{ $n := dict }}{{ $_ := set $cur "
	     "\"a\" $n }}"
	     "{{ $_ := set $cur \"b\" $n }}{{ $cur = $n }}{{ end }}{{ toJson $top }}",
	     NULL, "too much work"},
	    {"{{ $top := dict }}{{ $cur := $top }}{{ range until 100 }}{{ $n := dict }}{{ $_ := set $cur "
	     "\"a\" $n }}"
	     "{{ $_ := set $cur \"b\" $n }}{{ $cur = $n }}{{ end }}{{ printf \"%v\" $top }}",
	     NULL, "too much work"},
	    {"{{ $top := dict }}{{ $cur := $top }}{{ range until 100 }}{{ $n := dict }}{{ $_ := set $cur "
	     "\"a\" $n }}"
	     "{{ $_ := set $cur \"b\" $n }}{{ $cur = $n }}{{ end }}{{ $top }}",
	     NULL, "too much work"},
	    {"{{ $top := dict }}{{ $cur := $top }}{{ range until 100 }}{{ $n := dict }}{{ $_ := set $cur "
	     "\"a\" $n }}"
	     "{{ $_ := set $cur \"b\" $n }}{{ $cur = $n }}{{ end }}{{ quote $top | len }}",
	     NULL, "too much work"},
	};
	TABLE(cases);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_encodings),
	    cmocka_unit_test(test_defaults_and_types),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_dicts),
	    cmocka_unit_test(test_lists),
	    cmocka_unit_test(test_regex),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_dialects),
	    cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
