/* test_audit_query.c — the library under `trove audit query/consumers`:
 * filter parsing (errors name the flag), globs, CIDRs, times and
 * durations, prefixes and malformed lines, matching against hand-written
 * entries in Vault's shape, one-entry-per-request selection, consumer
 * grouping, reading rotated and gzip logs in order, and reading kept
 * entries again from their files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "buf.h"
#include "cli/audit_query.h"

#include "banned.h"

#define NOW INT64_C(1714564800) /* 2024-05-01T12:00:00Z */

/* ---- sample entries --------------------------------------------------- */

/* An auth block: token hash, display name, entity, role, allowed, the
 * granting policy (or NULL for none). */
static void auth_json(struct buf *b, const char *token, const char *name, const char *entity,
                      const char *role, bool allowed, const char *policy)
{
	(void)buf_printf(b, "{\"client_token\":\"%s\",\"display_name\":\"%s\"", token, name);
	if (entity)
		(void)buf_printf(b, ",\"entity_id\":\"%s\"", entity);
	if (role)
		(void)buf_printf(b, ",\"metadata\":{\"role\":\"%s\"}", role);
	(void)buf_printf(b, ",\"policy_results\":{\"allowed\":%s", allowed ? "true" : "false");
	if (policy)
		(void)buf_printf(
		    b,
		    ",\"granting_policies\":[{\"name\":\"%s\",\"namespace_id\":\"root\",\"type\":\"acl\"}]",
		    policy);
	(void)buf_append_str(b, "}}");
}

/* One log line (heap string): type, time, request id, operation, path,
 * auth block (JSON or NULL), and more top-level members ("" or ",..."). */
static char *entry(const char *type, const char *time, const char *id, const char *op, const char *path,
                   const char *auth, const char *more)
{
	struct buf b;
	char *out;

	buf_init(&b, BUF_CAP_DEFAULT);
	(void)buf_printf(&b, "{\"time\":\"%s\",\"type\":\"%s\"", time, type);
	if (auth)
		(void)buf_printf(&b, ",\"auth\":%s", auth);
	(void)buf_printf(
	    &b,
	    ",\"request\":{\"id\":\"%s\",\"operation\":\"%s\",\"mount_point\":\"secret/\","
	    "\"path\":\"%s\",\"remote_address\":\"10.1.2.3\",\"client_token\":\"hmac-sha256:7e57\"}%s}",
	    id, op, path, more);
	out = buf_take(&b);
	buf_release(&b);
	return out;
}

/* Allowed read of secret/data/app/db by kubernetes-ns-web (entity e-1). */
static char *allowed_read(const char *type, const char *time, const char *id)
{
	struct buf a;
	char *out;

	buf_init(&a, BUF_CAP_DEFAULT);
	auth_json(&a, "hmac-sha256:aa", "kubernetes-ns-web", "e-1", "web", true, "web");
	out =
	    entry(type, time, id, "read", "secret/data/app/db", a.data,
	          strcmp(type, "response") == 0 ? ",\"response\":{\"data\":{\"password\":\"hmac-sha256:99\"}}"
	                                        : "");
	buf_release(&a);
	return out;
}

/* Denied read: no policy_results.allowed, only the error tells. */
static const char denied_read[] =
    "{\"time\":\"2024-05-01T10:05:00Z\",\"type\":\"response\",\"auth\":{\"client_token\":\"hmac-sha256:bb\","
    "\"display_name\":\"userpass-bob\",\"policies\":[\"default\"]},\"request\":{\"id\":\"r2\",\"operation\":"
    "\"read\",\"mount_point\":\"secret/\",\"path\":\"secret/data/app/db\",\"remote_address\":"
    "\"2001:db8::5\"},\"error\":\"permission denied\"}";

/* List of secret/metadata/ by the root token. */
static const char list_resp[] =
    "{\"time\":\"2024-05-01T10:10:00.25Z\",\"type\":\"response\",\"auth\":{\"client_token\":\"hmac-sha256:"
    "cc\","
    "\"display_name\":\"root\",\"policies\":[\"root\"],\"policy_results\":{\"allowed\":true,"
    "\"granting_policies\":[{\"name\":\"root\",\"type\":\"acl\"}]}},\"request\":{\"id\":\"r3\",\"operation\":"
    "\"list\",\"mount_point\":\"secret\",\"path\":\"secret/metadata/"
    "\",\"remote_address\":\"::ffff:192.168.7.7\"},"
    "\"response\":{\"data\":{\"keys\":[\"hmac-sha256:01\"]}}}";

/* A kubernetes login: no token on the request, the auth it issued in
 * response.auth (service_account_name, no role key). */
static const char login_resp[] =
    "{\"time\":\"2024-05-01T09:00:00Z\",\"type\":\"response\",\"auth\":{\"policy_results\":{\"allowed\":true}"
    "},"
    "\"request\":{\"id\":\"l1\",\"operation\":\"update\",\"mount_point\":\"auth/kubernetes/\",\"path\":"
    "\"auth/kubernetes/login\",\"remote_address\":\"10.9.0.1\"},\"response\":{\"mount_point\":"
    "\"auth/kubernetes/\",\"auth\":{\"client_token\":\"hmac-sha256:dd\",\"accessor\":\"hmac-sha256:de\","
    "\"display_name\":\"kubernetes-ns-app\",\"policies\":[\"app\"],\"metadata\":{\"service_account_name\":"
    "\"app\",\"service_account_namespace\":\"ns\"}}}}";

/* ---- helpers ---------------------------------------------------------- */

static void filter_ok(struct aq_filter *f, const char *name, const char *value)
{
	struct buf err;

	buf_init(&err, BUF_CAP_DEFAULT);
	if (aq_filter_add(f, name, value, &err) != 0)
		fail_msg("-%s=%s rejected: %s", name, value ? value : "(null)", err.data);
	buf_release(&err);
}

/* Whether line passes a filter of one flag. */
static bool matches(const char *line, const char *name, const char *value)
{
	struct aq_filter f;
	struct aq_entry e;
	bool ok;

	aq_filter_init(&f, NOW);
	filter_ok(&f, name, value);
	assert_int_equal(aq_entry_parse(line, strlen(line), &e), AQ_PARSE_OK);
	ok = aq_entry_match(&f, &e);
	aq_entry_release(&e);
	aq_filter_release(&f);
	return ok;
}

static void scan_lines(struct aq_scan *s, const char *const *lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		aq_scan_line(s, lines[i], strlen(lines[i]));
}

/* The request ids and types of an entries answer, "id/t id/t". */
static char *ids_of(const json_t *arr)
{
	struct buf b;
	char *out;
	size_t i;

	buf_init(&b, BUF_CAP_DEFAULT);
	for (i = 0; i < json_array_size(arr); i++) {
		const json_t *e = json_array_get(arr, i);

		(void)buf_printf(&b, "%s%s/%c", i ? " " : "",
		                 json_string_value(json_object_get(json_object_get(e, "request"), "id")),
		                 json_string_value(json_object_get(e, "type"))[2]);
	}
	out = buf_take(&b);
	buf_release(&b);
	return out;
}

/* ---- filters ---------------------------------------------------------- */

static void test_filter_errors_name_flag(void **state)
{
	static const struct {
		const char *name, *value, *want;
	} bad[] = {
	    {"op", "write", "-op"},
	    {"op", NULL, "-op"},
	    {"remote", "10.0.0.0/33", "-remote"},
	    {"remote", "10.0.0/8", "-remote"},
	    {"remote", "2001:db8::/129", "-remote"},
	    {"remote", "10.0.0.0/-1", "-remote"},
	    {"remote", "host.example", "-remote"},
	    {"since", "yesterday", "-since"},
	    {"since", "", "-since"},
	    {"since", "2024-02-30", "-since"},
	    {"until", "2024-05-01T24:00:00Z", "-until"},
	    {"until", "-5m", "-until"},
	    {"type", "both", "-type"},
	    {"token-hash", "abc", "-token-hash"},
	    {"token-hash", "hmac-sha256:", "-token-hash"},
	    {"token-hash", "hmac-sha256:xyz", "-token-hash"},
	    {"mount", "/", "-mount"},
	    {"path", "", "-path"},
	    {"display-name", NULL, "-display-name"},
	    {"allowed", "maybe", "-allowed"},
	    {"colour", "red", "-colour"},
	};
	struct aq_filter f;
	struct buf err;
	size_t i;

	(void)state;
	buf_init(&err, BUF_CAP_DEFAULT);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aq_filter_init(&f, NOW);
		buf_reset(&err);
		if (aq_filter_add(&f, bad[i].name, bad[i].value, &err) == 0)
			fail_msg("-%s=%s accepted", bad[i].name, bad[i].value ? bad[i].value : "(null)");
		if (strstr(err.data, bad[i].want) == NULL)
			fail_msg("error for -%s does not name it: %s", bad[i].name, err.data);
		aq_filter_release(&f);
	}
	buf_release(&err);
}

static void test_filter_conflicts(void **state)
{
	struct aq_filter f;
	struct buf err;

	(void)state;
	buf_init(&err, BUF_CAP_DEFAULT);
	aq_filter_init(&f, NOW);
	filter_ok(&f, "allowed", NULL);
	assert_int_equal(aq_filter_add(&f, "denied", "true", &err), -1);
	assert_non_null(strstr(err.data, "-allowed and -denied"));
	filter_ok(&f, "denied", "false"); /* false adds nothing: no conflict */
	filter_ok(&f, "since", "1h");
	assert_int_equal(aq_filter_add(&f, "since", "2h", &err), -1);
	assert_non_null(strstr(err.data, "-since"));
	aq_filter_release(&f);
	buf_release(&err);
}

static void test_filter_values(void **state)
{
	struct aq_filter f;

	(void)state;
	aq_filter_init(&f, NOW);
	filter_ok(&f, "op", "read");
	filter_ok(&f, "op", "list");
	assert_int_equal(f.ops, AQ_OP_READ | AQ_OP_LIST);
	assert_false(f.any_op);
	filter_ok(&f, "op", "any");
	assert_true(f.any_op);
	filter_ok(&f, "mount", "/kv/team/");
	assert_string_equal(f.mounts.items[0], "kv/team");
	filter_ok(&f, "type", "all");
	assert_int_equal(f.show, AQ_SHOW_ALL);
	filter_ok(&f, "error", "");
	assert_int_equal(f.error, AQ_YES);
	filter_ok(&f, "remote", "10.0.0.0/8");
	filter_ok(&f, "remote", "fd00::/8");
	assert_int_equal(f.nremotes, 2);
	filter_ok(&f, "token-hash", "hmac-sha256:0123abcdef");
	aq_filter_release(&f);
}

/* ---- globs, paths, addresses ------------------------------------------ */

static void test_glob(void **state)
{
	static const struct {
		const char *pattern, *s;
		bool want;
	} cases[] = {
	    {"", "", true},
	    {"", "a", false},
	    {"*", "", true},
	    {"*", "secret/data/a/b", true},
	    {"secret/*", "secret/data/x", true},
	    {"secret/*", "secre", false},
	    {"secret/data/*/db", "secret/data/app/db", true},
	    {"secret/data/*/db", "secret/data/a/b/c/db", true},
	    {"secret/data/*/db", "secret/data/app/db2", false},
	    {"secret/?/x", "secret/a/x", true},
	    {"secret/?/x", "secret/ab/x", false},
	    {"secret/?/x", "secret//x", false},
	    {"*db*", "a/db/b", true},
	    {"a*b*c", "aXbYbZc", true},
	    {"a*b*c", "aXbYbZ", false},
	    {"**a", "bbba", true},
	    {"?", "", false},
	    {"a?", "a", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (aq_glob_match(cases[i].pattern, cases[i].s) != cases[i].want)
			fail_msg("glob \"%s\" on \"%s\": want %d", cases[i].pattern, cases[i].s,
			         cases[i].want);
}

static void test_path_match(void **state)
{
	(void)state;
	assert_true(aq_path_match("secret/data/app", "secret/data/app/db"));
	assert_true(aq_path_match("/secret/data/app", "secret/data/app/db"));
	assert_true(aq_path_match("secret/", "secret/data/app"));
	assert_false(aq_path_match("secret/data/app/", "secret/data/apple"));
	assert_false(aq_path_match("kv/", "secret/kv/"));
	assert_true(aq_path_match("secret/data/*/db", "secret/data/app/db"));
	assert_false(aq_path_match("secret/data/*/db", "secret/data/app/db/old")); /* globs are anchored */
	assert_true(aq_path_match("", "anything"));
}

static void test_cidr_v4(void **state)
{
	struct cidr n;

	(void)state;
	assert_true(aq_cidr_parse("10.0.0.0/8", &n));
	assert_int_equal(n.family, 4);
	assert_int_equal(n.bits, 8);
	assert_true(aq_cidr_contains(&n, "10.255.1.2"));
	assert_false(aq_cidr_contains(&n, "11.0.0.1"));
	assert_true(aq_cidr_contains(&n, "::ffff:10.1.1.1")); /* v4-mapped counts as v4 */
	assert_false(aq_cidr_contains(&n, "::1"));
	assert_false(aq_cidr_contains(&n, "not an address"));
	assert_false(aq_cidr_contains(&n, NULL));
	assert_true(aq_cidr_parse("192.168.1.77/24", &n)); /* host bits dropped */
	assert_true(aq_cidr_contains(&n, "192.168.1.1"));
	assert_false(aq_cidr_contains(&n, "192.168.2.1"));
	assert_true(aq_cidr_parse("203.0.113.9", &n)); /* one address */
	assert_int_equal(n.bits, 32);
	assert_true(aq_cidr_contains(&n, "203.0.113.9"));
	assert_false(aq_cidr_contains(&n, "203.0.113.8"));
	assert_true(aq_cidr_parse("0.0.0.0/0", &n));
	assert_true(aq_cidr_contains(&n, "1.2.3.4"));
	assert_false(aq_cidr_parse("10.0.0.0/", &n));
	assert_false(aq_cidr_parse("10.0.0.0/8x", &n));
	assert_false(aq_cidr_parse("", &n));
}

static void test_cidr_v6(void **state)
{
	struct cidr n;

	(void)state;
	assert_true(aq_cidr_parse("2001:db8::/32", &n));
	assert_int_equal(n.family, 6);
	assert_true(aq_cidr_contains(&n, "2001:db8:1::5"));
	assert_true(aq_cidr_contains(&n, "2001:0db8:0000::1"));
	assert_false(aq_cidr_contains(&n, "2001:db9::1"));
	assert_false(aq_cidr_contains(&n, "10.0.0.1"));
	assert_true(aq_cidr_parse("fe80::1%eth0", &n)); /* a zone is ignored */
	assert_true(aq_cidr_contains(&n, "fe80::1"));
	assert_true(aq_cidr_parse("2001:db8::1/127", &n));
	assert_true(aq_cidr_contains(&n, "2001:db8::"));
	assert_false(aq_cidr_contains(&n, "2001:db8::2"));
	assert_true(aq_cidr_parse("::ffff:10.0.0.0/104", &n)); /* mapped: a v4 /8 */
	assert_int_equal(n.family, 4);
	assert_int_equal(n.bits, 8);
	assert_true(aq_cidr_contains(&n, "10.3.2.1"));
	assert_false(aq_cidr_parse("::ffff:10.0.0.0/64", &n));
	assert_false(aq_cidr_parse("2001:db8::/200", &n));
	assert_false(aq_cidr_parse("2001:db8:::/32", &n));
}

/* ---- times ------------------------------------------------------------ */

static void test_time_parse(void **state)
{
	static const struct {
		const char *in;
		int64_t sec;
		int32_t nsec;
	} good[] = {
	    {"1970-01-01T00:00:00Z", 0, 0},
	    {"2024-05-01T12:00:00Z", NOW, 0},
	    {"2024-05-01t12:00:00z", NOW, 0},
	    {"2024-05-01 12:00:00Z", NOW, 0},
	    {"2024-05-01T14:30:00+02:30", NOW, 0},
	    {"2024-05-01T07:00:00-05:00", NOW, 0},
	    {"2024-05-01T12:00:00.5Z", NOW, 500000000},
	    {"2024-05-01T12:00:00.123456789123Z", NOW, 123456789},
	    {"2024-05-01", NOW - 12 * 3600, 0},
	    {"2024-02-29T00:00:00Z", INT64_C(1709164800), 0},
	    {"1969-12-31T23:59:59Z", -1, 0},
	};
	static const char *const bad[] = {
	    "",
	    "2024-5-01",
	    "2024-05-01T12:00Z",
	    "2024-05-01T12:00:00",
	    "2023-02-29",
	    "2024-13-01",
	    "2024-05-01T12:00:60Z",
	    "2024-05-01T12:00:00.Z",
	    "2024-05-01T12:00:00+2:00",
	    "2024-05-01T12:00:00Zjunk",
	    "2024-05-01X12:00:00Z",
	    "2024-04-31",
	};
	struct aq_time t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!aq_time_parse(good[i].in, &t))
			fail_msg("rejected %s", good[i].in);
		if (t.sec != good[i].sec || t.nsec != good[i].nsec)
			fail_msg("%s: got %lld.%09d", good[i].in, (long long)t.sec, (int)t.nsec);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (aq_time_parse(bad[i], &t))
			fail_msg("accepted %s", bad[i]);
	assert_false(aq_time_parse(NULL, &t));
}

static void test_time_format(void **state)
{
	static const struct {
		struct aq_time t;
		bool frac;
		const char *want;
	} cases[] = {
	    {{NOW, 0}, true, "2024-05-01T12:00:00Z"},
	    {{NOW, 500000000}, true, "2024-05-01T12:00:00.5Z"},
	    {{NOW, 123456789}, true, "2024-05-01T12:00:00.123456789Z"},
	    {{NOW, 123456789}, false, "2024-05-01T12:00:00Z"},
	    {{NOW, 1000}, true, "2024-05-01T12:00:00.000001Z"},
	    {{-1, 0}, false, "1969-12-31T23:59:59Z"},
	    {{INT64_C(951782400), 0}, false, "2000-02-29T00:00:00Z"},
	};
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, BUF_CAP_DEFAULT);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		aq_time_format(&cases[i].t, cases[i].frac, &b);
		assert_string_equal(b.data, cases[i].want);
	}
	buf_release(&b);
}

static void test_durations(void **state)
{
	static const struct {
		const char *value;
		int64_t ago;
	} cases[] = {
	    {"30m", 1800}, {"24h", 86400}, {"7d", 7 * 86400}, {"1h30m", 5400}, {"90", 90}, {"0s", 0},
	};
	struct aq_filter f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		aq_filter_init(&f, NOW);
		filter_ok(&f, "since", cases[i].value);
		filter_ok(&f, "until", cases[i].value);
		assert_true(f.has_since && f.has_until);
		assert_int_equal(f.since.sec, NOW - cases[i].ago);
		assert_int_equal(f.until.sec, NOW - cases[i].ago);
		aq_filter_release(&f);
	}
}

/* ---- parsing lines ---------------------------------------------------- */

static void test_prefix_and_malformed(void **state)
{
	static const char *const malformed[] = {
	    "garbage",
	    "{",
	    "{\"time\":\"2024-05-01T10:00:00Z\"}",                    /* no type */
	    "{\"time\":\"2024-05-01T10:00:00Z\",\"type\":\"event\"}", /* unknown type */
	    "{\"type\":\"request\"}",                                 /* no time */
	    "{\"time\":\"yesterday\",\"type\":\"request\"}",          /* bad time */
	    "[1,2]",
	    "{\"time\":\"2024-05-01T10:00:00Z\",\"type\":\"request\"} trailing",
	    "prefix {\"time\":1,\"type\":\"request\"}",
	};
	struct aq_entry e;
	struct buf line;
	char *one = allowed_read("response", "2024-05-01T10:00:00.2Z", "r1");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		if (aq_entry_parse(malformed[i], strlen(malformed[i]), &e) != AQ_PARSE_MALFORMED)
			fail_msg("not malformed: %s", malformed[i]);
	assert_int_equal(aq_entry_parse("", 0, &e), AQ_PARSE_BLANK);
	assert_int_equal(aq_entry_parse(" \t\r\n", 4, &e), AQ_PARSE_BLANK);
	/* a prefix (which may hold anything but '{') and a CRLF ending */
	buf_init(&line, BUF_CAP_DEFAULT);
	(void)buf_printf(&line, "trove-audit: [prod] %s\r\n", one);
	assert_int_equal(aq_entry_parse(line.data, line.len, &e), AQ_PARSE_OK);
	assert_int_equal(e.kind, AQ_RESPONSE);
	assert_string_equal(e.path, "secret/data/app/db");
	assert_string_equal(e.op, "read");
	assert_string_equal(e.id, "r1");
	assert_int_equal(e.time.nsec, 200000000);
	aq_entry_release(&e);
	/* only len bytes count: a line cut short is malformed */
	assert_int_equal(aq_entry_parse(one, strlen(one) - 1, &e), AQ_PARSE_MALFORMED);
	buf_release(&line);
	free(one);
}

static void test_scan_counts_malformed(void **state)
{
	char *req = allowed_read("request", "2024-05-01T10:00:00.1Z", "r1");
	const char *const lines[] = {req, "", "not json", "{\"broken\":", "{}", "\x01\x02{\x00}"};
	struct aq_filter f;
	struct aq_scan s;
	json_t *out;

	(void)state;
	aq_filter_init(&f, NOW);
	aq_scan_init(&s, &f, AQ_MODE_ENTRIES);
	scan_lines(&s, lines, sizeof(lines) / sizeof(lines[0]));
	assert_int_equal(s.lines, 6);
	assert_int_equal(s.malformed, 4);
	out = aq_scan_entries(&s);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	aq_scan_release(&s);
	aq_filter_release(&f);
	free(req);
}

/* ---- matching --------------------------------------------------------- */

static void test_match_allowed_denied(void **state)
{
	char *ok = allowed_read("response", "2024-05-01T10:00:00.2Z", "r1");
	struct aq_entry e;
	struct buf pol;

	(void)state;
	assert_true(matches(ok, "allowed", NULL));
	assert_false(matches(ok, "denied", NULL));
	assert_false(matches(denied_read, "allowed", NULL));
	assert_true(matches(denied_read, "denied", NULL));
	assert_true(matches(denied_read, "error", NULL));
	assert_false(matches(ok, "error", NULL));
	assert_true(matches(list_resp, "allowed", NULL));
	/* the fields the table shows */
	buf_init(&pol, BUF_CAP_DEFAULT);
	assert_int_equal(aq_entry_parse(ok, strlen(ok), &e), AQ_PARSE_OK);
	assert_true(aq_entry_allowed(&e));
	aq_entry_policies(&e, &pol);
	assert_string_equal(pol.data, "web");
	assert_string_equal(aq_entry_role(&e), "web");
	aq_entry_release(&e);
	buf_reset(&pol);
	assert_int_equal(aq_entry_parse(denied_read, strlen(denied_read), &e), AQ_PARSE_OK);
	assert_false(aq_entry_allowed(&e));
	aq_entry_policies(&e, &pol);
	assert_string_equal(pol.data, "");
	assert_null(aq_entry_role(&e));
	aq_entry_release(&e);
	buf_release(&pol);
	free(ok);
}

static void test_match_fields(void **state)
{
	char *ok = allowed_read("response", "2024-05-01T10:00:00.2Z", "r1");

	(void)state;
	assert_true(matches(ok, "path", "secret/data/app"));
	assert_true(matches(ok, "path", "secret/*/db"));
	assert_false(matches(ok, "path", "secret/metadata"));
	assert_true(matches(ok, "op", "read"));
	assert_false(matches(ok, "op", "list"));
	assert_true(matches(list_resp, "op", "list"));
	assert_true(matches(list_resp, "op", "any"));
	assert_true(matches(ok, "display-name", "kubernetes-ns-web"));
	assert_false(matches(ok, "display-name", "kubernetes-ns"));
	assert_true(matches(ok, "entity", "e-1"));
	assert_false(matches(denied_read, "entity", "e-1"));
	assert_true(matches(ok, "role", "web"));
	assert_true(matches(ok, "mount", "secret"));
	assert_true(matches(list_resp, "mount", "secret/")); /* logged without the slash */
	assert_false(matches(ok, "mount", "kv"));
	assert_true(matches(ok, "remote", "10.0.0.0/8"));
	assert_true(matches(ok, "remote", "10.1.2.3"));
	assert_false(matches(ok, "remote", "10.1.2.4"));
	assert_true(matches(denied_read, "remote", "2001:db8::/32"));
	assert_true(matches(list_resp, "remote", "192.168.0.0/16"));
	assert_true(matches(ok, "token-hash", "hmac-sha256:aa"));
	assert_true(matches(ok, "token-hash", "hmac-sha256:7e57")); /* request.client_token */
	assert_false(matches(ok, "token-hash", "hmac-sha256:bb"));
	assert_true(matches(ok, "since", "2024-05-01T10:00:00.2Z")); /* since is inclusive */
	assert_false(matches(ok, "since", "2024-05-01T10:00:00.3Z"));
	assert_false(matches(ok, "until", "2024-05-01T10:00:00.2Z")); /* until is exclusive */
	assert_true(matches(ok, "until", "2024-05-01T10:00:00.200000001Z"));
	assert_true(matches(ok, "since", "3h"));  /* 09:00 */
	assert_false(matches(ok, "since", "1h")); /* 11:00 */
	assert_true(matches(ok, "until", "1h"));
	free(ok);
}

static void test_match_login(void **state)
{
	(void)state;
	/* a login speaks with the auth it issued */
	assert_true(matches(login_resp, "display-name", "kubernetes-ns-app"));
	assert_true(matches(login_resp, "role", "app")); /* service_account_name */
	assert_true(matches(login_resp, "token-hash", "hmac-sha256:dd"));
	assert_true(matches(login_resp, "mount", "auth/kubernetes"));
	assert_true(matches(login_resp, "op", "update"));
	assert_true(matches(login_resp, "allowed", NULL));
	assert_false(matches(login_resp, "role", "web"));
}

static void test_match_anded_ored(void **state)
{
	char *ok = allowed_read("response", "2024-05-01T10:00:00.2Z", "r1");
	struct aq_filter f;
	struct aq_entry a, d;

	(void)state;
	assert_int_equal(aq_entry_parse(ok, strlen(ok), &a), AQ_PARSE_OK);
	assert_int_equal(aq_entry_parse(denied_read, strlen(denied_read), &d), AQ_PARSE_OK);
	aq_filter_init(&f, NOW);
	filter_ok(&f, "display-name", "userpass-bob");
	filter_ok(&f, "display-name", "kubernetes-ns-web");
	assert_true(aq_entry_match(&f, &a)); /* ORed within a flag */
	assert_true(aq_entry_match(&f, &d));
	filter_ok(&f, "remote", "2001:db8::/32");
	assert_false(aq_entry_match(&f, &a)); /* ANDed across flags */
	assert_true(aq_entry_match(&f, &d));
	aq_filter_release(&f);
	aq_entry_release(&a);
	aq_entry_release(&d);
	free(ok);
}

/* ---- selecting entries ------------------------------------------------ */

static void test_one_entry_per_request(void **state)
{
	char *q1 = allowed_read("request", "2024-05-01T10:00:00.1Z", "r1");
	char *p1 = allowed_read("response", "2024-05-01T10:00:00.2Z", "r1");
	char *q4 = allowed_read("request", "2024-05-01T10:20:00Z", "r4"); /* no response: the server died */
	char *p5 =
	    allowed_read("response", "2024-05-01T10:30:00Z", "r5"); /* its request is in a later file */
	char *q5 = allowed_read("request", "2024-05-01T10:29:59Z", "r5");
	const char *const lines[] = {q1, p1, denied_read, list_resp, q4, p5, q5};
	static const struct {
		const char *type, *want;
	} cases[] = {
	    {"response", "r1/s r2/s r3/s r4/q r5/s"},
	    {"request", "r1/q r4/q r5/q"},
	    {"all", "r1/q r1/s r2/s r3/s r4/q r5/q r5/s"},
	};
	struct aq_filter f;
	struct aq_scan s;
	json_t *out;
	char *got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		aq_filter_init(&f, NOW);
		filter_ok(&f, "type", cases[i].type);
		aq_scan_init(&s, &f, AQ_MODE_ENTRIES);
		scan_lines(&s, lines, sizeof(lines) / sizeof(lines[0]));
		out = aq_scan_entries(&s);
		got = ids_of(out);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("-type=%s: got \"%s\", want \"%s\"", cases[i].type, got, cases[i].want);
		free(got);
		json_decref(out);
		aq_scan_release(&s);
		aq_filter_release(&f);
	}
	/* a response that fails the filter still hides its request */
	aq_filter_init(&f, NOW);
	filter_ok(&f, "until", "2024-05-01T10:00:00.15Z");
	aq_scan_init(&s, &f, AQ_MODE_ENTRIES);
	scan_lines(&s, lines, 2);
	out = aq_scan_entries(&s);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	aq_scan_release(&s);
	aq_filter_release(&f);
	free(q1);
	free(p1);
	free(q4);
	free(p5);
	free(q5);
}

/* ---- consumers -------------------------------------------------------- */

/* A read response of secret/data/app/db at time by token with display
 * name, entity, role and granting policy; error "" for none. */
static char *access_line(const char *time, const char *token, const char *name, const char *entity,
                         const char *op, const char *policy, bool allowed, const char *error)
{
	struct buf a, more;
	char *out;

	buf_init(&a, BUF_CAP_DEFAULT);
	buf_init(&more, BUF_CAP_DEFAULT);
	auth_json(&a, token, name, entity, entity ? "svc" : "app", allowed, policy);
	if (*error)
		(void)buf_printf(&more, ",\"error\":\"%s\"", error);
	out = entry("response", time, "x", op, "secret/data/app/db", a.data, more.data);
	buf_release(&a);
	buf_release(&more);
	return out;
}

static void consumers_of(const char *const *lines, size_t n, const char *op, json_t **out)
{
	struct aq_filter f;
	struct aq_scan s;

	aq_filter_init(&f, NOW);
	f.allowed = AQ_YES;
	f.error = AQ_NO;
	filter_ok(&f, "path", "secret/data/app/db");
	filter_ok(&f, "op", op);
	aq_scan_init(&s, &f, AQ_MODE_CONSUMERS);
	scan_lines(&s, lines, n);
	*out = aq_scan_consumers(&s);
	aq_scan_release(&s);
	aq_filter_release(&f);
}

static const char *field(const json_t *arr, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(arr, i), key));
}

static long long count_of(const json_t *arr, size_t i)
{
	return (long long)json_integer_value(json_object_get(json_array_get(arr, i), "count"));
}

static void test_consumers_grouping(void **state)
{
	char *l[] = {
	    /* token dd (issued by the kubernetes login) at 10:00 and 10:30 */
	    access_line("2024-05-01T10:00:00Z", "hmac-sha256:dd", "kubernetes-ns-app", NULL, "read", "app",
	                true, ""),
	    access_line("2024-05-01T10:30:00Z", "hmac-sha256:dd", "kubernetes-ns-app", NULL, "read", "app",
	                true, ""),
	    /* token ee, same name and role, its login not in the logs: joins */
	    access_line("2024-05-01T09:30:00Z", "hmac-sha256:ee", "kubernetes-ns-app", NULL, "list", "app2",
	                true, ""),
	    /* entity e-9 through two tokens and policies */
	    access_line("2024-05-01T11:00:00Z", "hmac-sha256:f1", "oidc-carol", "e-9", "read", "p1", true,
	                ""),
	    access_line("2024-05-01T11:40:00.5Z", "hmac-sha256:f2", "oidc-carol2", "e-9", "read", "p2", true,
	                ""),
	    /* not counted: denied, failed, an update, another path */
	    access_line("2024-05-01T11:50:00Z", "hmac-sha256:f3", "userpass-eve", NULL, "read", NULL, false,
	                "permission denied"),
	    access_line("2024-05-01T11:51:00Z", "hmac-sha256:f4", "userpass-dan", NULL, "read", "p", true,
	                "internal error"),
	    access_line("2024-05-01T11:52:00Z", "hmac-sha256:f1", "oidc-carol", "e-9", "update", "p1", true,
	                ""),
	};
	const char *lines[sizeof(l) / sizeof(l[0]) + 2];
	json_t *out;
	size_t i, n = 0;

	(void)state;
	lines[n++] = login_resp;
	for (i = 0; i < sizeof(l) / sizeof(l[0]); i++)
		lines[n++] = l[i];
	lines[n++] = list_resp; /* another path */
	consumers_of(lines, n, "read", &out);
	assert_int_equal(json_array_size(out), 2);
	/* latest last access first */
	assert_string_equal(field(out, 0, "entity_id"), "e-9");
	assert_string_equal(field(out, 0, "display_name"), "oidc-carol2"); /* the latest name */
	assert_string_equal(field(out, 0, "first"), "2024-05-01T11:00:00Z");
	assert_string_equal(field(out, 0, "last"), "2024-05-01T11:40:00.5Z");
	assert_int_equal(count_of(out, 0), 2);
	assert_int_equal(json_array_size(json_object_get(json_array_get(out, 0), "policies")), 2);
	assert_null(json_object_get(json_array_get(out, 0), "auth_mount"));
	assert_string_equal(field(out, 1, "entity_id"), "");
	assert_string_equal(field(out, 1, "display_name"), "kubernetes-ns-app");
	assert_string_equal(field(out, 1, "role"), "app");
	assert_string_equal(field(out, 1, "auth_mount"), "auth/kubernetes/");
	assert_int_equal(count_of(out, 1), 2); /* the list is not a read */
	json_decref(out);

	lines[n - 1] = l[0]; /* drop list_resp: only app/db paths */
	consumers_of(lines, n, "any", &out);
	assert_int_equal(json_array_size(out), 2);
	assert_int_equal(count_of(out, 0), 3); /* e-9 with its update */
	assert_string_equal(field(out, 0, "last"), "2024-05-01T11:52:00Z");
	assert_int_equal(count_of(out, 1), 4); /* dd twice (+l[0] again), ee's list */
	assert_string_equal(field(out, 1, "first"), "2024-05-01T09:30:00Z");
	assert_int_equal(json_array_size(json_object_get(json_array_get(out, 1), "policies")), 2);
	json_decref(out);
	for (i = 0; i < sizeof(l) / sizeof(l[0]); i++)
		free(l[i]);
}

static void test_consumers_unknown_mounts(void **state)
{
	/* two tokens of one name and role, neither login logged: one identity;
	 * a third of another name: its own */
	char *l[] = {
	    access_line("2024-05-01T10:00:00Z", "hmac-sha256:01", "token", NULL, "read", "a", true, ""),
	    access_line("2024-05-01T10:05:00Z", "hmac-sha256:02", "token", NULL, "read", "b", true, ""),
	    access_line("2024-05-01T10:01:00Z", "hmac-sha256:03", "approle", NULL, "read", "c", true, ""),
	};
	json_t *out;

	(void)state;
	consumers_of((const char *const *)l, 3, "read", &out);
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(field(out, 0, "display_name"), "token");
	assert_int_equal(count_of(out, 0), 2);
	assert_null(json_object_get(json_array_get(out, 0), "auth_mount"));
	assert_string_equal(field(out, 1, "display_name"), "approle");
	json_decref(out);
	free(l[0]);
	free(l[1]);
	free(l[2]);
}

/* ---- files ------------------------------------------------------------ */

static void write_bytes(const char *dir, const char *name, const char *data, size_t len)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_plain(const char *dir, const char *name, const char *text)
{
	write_bytes(dir, name, text, strlen(text));
}

static void write_gz(const char *dir, const char *name, const char *text)
{
	char p[256];
	gzFile gz;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	gz = gzopen(p, "wb");
	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, text, (unsigned)strlen(text)), (int)strlen(text));
	assert_int_equal(gzclose(gz), Z_OK);
}

/* A log line whose request id and time tell which file it came from. */
static char *line_for(const char *id, int hour)
{
	char time[32], *e, *out;
	struct buf b;

	snprintf(time, sizeof(time), "2024-04-%02dT10:00:00Z", hour);
	e = allowed_read("response", time, id);
	buf_init(&b, BUF_CAP_DEFAULT);
	(void)buf_printf(&b, "audit: %s\n", e);
	out = buf_take(&b);
	buf_release(&b);
	free(e);
	return out;
}

static void remove_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_rotated_files(void **state)
{
	static const struct {
		const char *name, *id;
		int day;
		bool gz;
	} files[] = {
	    {"audit.log", "now", 20, false},          {"audit.log.1", "one", 19, false},
	    {"audit.log.2.gz", "two", 18, true},      {"audit.log.10.gz", "ten", 10, true},
	    {"audit.log-20240101.gz", "d1", 1, true}, {"audit.log-20240102", "d2", 2, false},
	};
	char dir[] = "/tmp/test_audit_query.XXXXXX";
	struct strlist got;
	struct aq_filter f;
	struct aq_scan s;
	struct buf err, p;
	json_t *out;
	char *ids;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *text = line_for(files[i].id, files[i].day);

		if (files[i].gz)
			write_gz(dir, files[i].name, text);
		else
			write_plain(dir, files[i].name, text);
		free(text);
	}
	write_plain(dir, "audit.log.bak", "not a sibling\n");
	write_plain(dir, "audit.log.1.gz.tmp", "not a sibling\n");
	write_plain(dir, "audit.logs", "not a sibling\n");
	buf_init(&err, BUF_CAP_DEFAULT);
	buf_init(&p, BUF_CAP_DEFAULT);
	strlist_init(&got);
	(void)buf_printf(&p, "%s/audit.log", dir);
	assert_int_equal(aq_log_files(p.data, &got, &err), 0);
	assert_int_equal(got.len, 6);
	assert_non_null(strstr(got.items[0], "/audit.log-20240101.gz"));
	assert_non_null(strstr(got.items[1], "/audit.log-20240102"));
	assert_non_null(strstr(got.items[2], "/audit.log.10.gz"));
	assert_non_null(strstr(got.items[3], "/audit.log.2.gz"));
	assert_non_null(strstr(got.items[4], "/audit.log.1"));
	assert_string_equal(got.items[5], p.data);
	strlist_release(&got);

	/* read: every file once, even when named twice */
	aq_filter_init(&f, NOW);
	filter_ok(&f, "type", "all");
	aq_scan_init(&s, &f, AQ_MODE_ENTRIES);
	assert_int_equal(aq_scan_log(&s, p.data, &err), 0);
	assert_int_equal(aq_scan_file(&s, p.data, &err), 0);
	assert_int_equal(s.malformed, 0);
	out = aq_scan_entries(&s);
	ids = ids_of(out);
	assert_string_equal(ids, "d1/s d2/s ten/s two/s one/s now/s");
	free(ids);
	json_decref(out);
	aq_scan_release(&s);
	aq_filter_release(&f);
	remove_dir(dir);
	buf_release(&err);
	buf_release(&p);
}

static void test_file_errors(void **state)
{
	/* a gzip header, then bytes that are no deflate stream */
	static const char corrupt_gz[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xffgarbage";
	char dir[] = "/tmp/test_audit_query.XXXXXX";
	struct strlist got;
	struct aq_filter f;
	struct aq_scan s;
	struct buf err, p;
	json_t *out;

	(void)state;
	assert_non_null(mkdtemp(dir));
	buf_init(&err, BUF_CAP_DEFAULT);
	buf_init(&p, BUF_CAP_DEFAULT);
	strlist_init(&got);
	aq_filter_init(&f, NOW);
	aq_scan_init(&s, &f, AQ_MODE_ENTRIES);

	/* nothing of the log exists */
	(void)buf_printf(&p, "%s/audit.log", dir);
	assert_int_equal(aq_log_files(p.data, &got, &err), -1);
	assert_non_null(strstr(err.data, "audit.log"));
	/* only a rotated file: read it */
	write_gz(dir, "audit.log.1.gz", denied_read);
	assert_int_equal(aq_log_files(p.data, &got, &err), 0);
	assert_int_equal(got.len, 1);
	assert_int_equal(aq_scan_log(&s, p.data, &err), 0);
	out = aq_scan_entries(&s);
	assert_int_equal(json_array_size(out), 1); /* the last line had no newline */
	json_decref(out);
	/* a corrupt gzip file is an error that names it */
	write_bytes(dir, "audit.log.2.gz", corrupt_gz, sizeof(corrupt_gz) - 1);
	assert_int_equal(aq_scan_log(&s, p.data, &err), -1);
	assert_non_null(strstr(err.data, "audit.log.2.gz"));
	/* a directory is not a log */
	assert_int_equal(aq_scan_file(&s, dir, &err), -1);
	assert_non_null(strstr(err.data, "directory"));
	strlist_release(&got);
	aq_scan_release(&s);
	aq_filter_release(&f);
	remove_dir(dir);
	buf_release(&err);
	buf_release(&p);
}

static bool stop_at_two(void *arg, const struct aq_entry *e)
{
	size_t *n = arg;

	(void)e;
	return ++*n < 2;
}

/* Kept entries are read again from their files, in time order across
 * files and lines fed from memory, as often as asked; a file changed in
 * place since is an error that names it. */
static void test_entries_read_again(void **state)
{
	/* the days of the lines of a gzip sibling and of the live file: out
	 * of order in each, and overlapping */
	static const int gz_days[] = {5, 3, 9}, plain_days[] = {4, 8, 1};
	char dir[] = "/tmp/test_audit_query.XXXXXX", id[8];
	struct buf err, p, gz, plain;
	struct aq_filter f;
	struct aq_scan s;
	json_t *out;
	char *ids, *text, *mem = line_for("m2", 2);
	size_t i, n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	buf_init(&err, BUF_CAP_DEFAULT);
	buf_init(&p, BUF_CAP_DEFAULT);
	buf_init(&gz, BUF_CAP_DEFAULT);
	buf_init(&plain, BUF_CAP_DEFAULT);
	for (i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "d%d", gz_days[i]);
		text = line_for(id, gz_days[i]);
		(void)buf_append_str(&gz, text);
		free(text);
		snprintf(id, sizeof(id), "d%d", plain_days[i]);
		text = line_for(id, plain_days[i]);
		(void)buf_append_str(&plain, text);
		free(text);
	}
	write_gz(dir, "audit.log.1.gz", gz.data);
	write_plain(dir, "audit.log", plain.data);
	(void)buf_printf(&p, "%s/audit.log", dir);

	aq_filter_init(&f, NOW);
	aq_scan_init(&s, &f, AQ_MODE_ENTRIES);
	aq_scan_line(&s, mem, strlen(mem));
	assert_int_equal(aq_scan_log(&s, p.data, &err), 0);
	assert_int_equal(aq_scan_count(&s), 7);
	for (i = 0; i < 2; i++) {
		out = aq_scan_entries(&s);
		assert_non_null(out);
		ids = ids_of(out);
		assert_string_equal(ids, "d1/s m2/s d3/s d4/s d5/s d8/s d9/s");
		free(ids);
		json_decref(out);
	}
	/* stopped early, then read whole again */
	assert_int_equal(aq_scan_each(&s, stop_at_two, &n, &err), 1);
	assert_int_equal(n, 2);
	out = aq_scan_entries(&s);
	assert_int_equal(json_array_size(out), 7);
	json_decref(out);
	/* the live file rewritten in place: its lines are not those kept */
	write_plain(dir, "audit.log", "{}\n");
	assert_int_equal(aq_scan_each(&s, stop_at_two, &n, &err), -1);
	assert_non_null(strstr(err.data, "audit.log: changed"));
	assert_null(aq_scan_entries(&s));
	aq_scan_release(&s);
	aq_filter_release(&f);
	remove_dir(dir);
	free(mem);
	buf_release(&err);
	buf_release(&p);
	buf_release(&gz);
	buf_release(&plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_filter_errors_name_flag),
	    cmocka_unit_test(test_filter_conflicts),
	    cmocka_unit_test(test_filter_values),
	    cmocka_unit_test(test_glob),
	    cmocka_unit_test(test_path_match),
	    cmocka_unit_test(test_cidr_v4),
	    cmocka_unit_test(test_cidr_v6),
	    cmocka_unit_test(test_time_parse),
	    cmocka_unit_test(test_time_format),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_prefix_and_malformed),
	    cmocka_unit_test(test_scan_counts_malformed),
	    cmocka_unit_test(test_match_allowed_denied),
	    cmocka_unit_test(test_match_fields),
	    cmocka_unit_test(test_match_login),
	    cmocka_unit_test(test_match_anded_ored),
	    cmocka_unit_test(test_one_entry_per_request),
	    cmocka_unit_test(test_consumers_grouping),
	    cmocka_unit_test(test_consumers_unknown_mounts),
	    cmocka_unit_test(test_rotated_files),
	    cmocka_unit_test(test_file_errors),
	    cmocka_unit_test(test_entries_read_again),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
