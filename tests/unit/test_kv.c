/* test_kv.c — the kv v1, kv v2 and cubbyhole engines, driven through their
 * route tables against inmem storage.
 *
 * A small harness stands in for the router: it finds the engine's route
 * for a relative path (literal segments, ":name", trailing "*"), coerces
 * the body with field_coerce as the router does (nulls dropped), runs the
 * existence check for writes, and calls the handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/device.h"
#include "buf.h"
#include "core/core.h"
#include "core/mount.h"
#include "core/request.h"
#include "core/router.h"
#include "core/token.h"
#include "engines/engines.h"
#include "err.h"
#include "secure.h"
#include "storage/storage.h"

#include "route_call.h"

#include "banned.h"

/* --- harness -------------------------------------------------------------- */

static bool pattern_match(const char *pat, const char *rel, size_t len)
{
	for (;;) {
		const char *pe = strchr(pat, '/');
		size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
		if (pl == 1 && pat[0] == '*' && !pe)
			return true;
		const char *se = memchr(rel, '/', len);
		size_t sl = se ? (size_t)(se - rel) : len;
		if (pat[0] == ':') {
			if (sl == 0)
				return false;
		} else if (pl != sl || memcmp(pat, rel, pl) != 0) {
			return false;
		}
		if (!pe && !se)
			return true;
		if (!pe || !se)
			return false;
		len -= sl + 1;
		rel = se + 1;
		pat = pe + 1;
	}
}

static const struct route *find_route(const struct engine *e, const char *rel)
{
	size_t len = strlen(rel);
	if (len > 0 && rel[len - 1] == '/')
		len--;
	for (const struct route *const *t = e->tables; *t; t++)
		for (const struct route *r = *t; r->pattern; r++)
			if (pattern_match(r->pattern, rel, len))
				return r;
	return NULL;
}

struct ctx {
	struct storage *s;
	struct token_entry *tok;
};

/* Runs op on rel with a JSON body (or NULL); fills resp (response_init'd
 * here). Returns the handler's result, like router_dispatch. */
static int run(const struct engine *e, struct ctx *c, enum op op, const char *rel, const char *body,
	       struct response *resp)
{
	struct request req;
	int r;

	response_init(resp);
	request_init(&req);
	req.op = op;
	req.path = xstrdup(rel);
	req.rel = req.path;
	req.storage = c->s;
	req.token = c->tok;
	req.data = body ? json_loads(body, 0, NULL) : json_object();
	assert_non_null(req.data);
	const struct route *route = find_route(e, rel);
	assert_non_null(route);
	req.route = route;

	r = route_call(&req, resp);
	req.token = NULL;
	request_release(&req);
	return r;
}

static void setup_ctx(struct ctx *c)
{
	c->s = storage_inmem_new();
	c->tok = NULL;
	assert_non_null(c->s);
}

static void teardown_ctx(struct ctx *c)
{
	storage_free(c->s);
}

/* Expects success; returns resp->data (borrowed from resp). */
static json_t *ok(int r, struct response *resp)
{
	if (r != 0) {
		char *e = resp->errors ? json_dumps(resp->errors, 0) : NULL;
		fail_msg("handler failed %d: %s", r, e ? e : "(no message)");
	}
	return resp->data;
}

static void expect_error(int r, struct response *resp, int want, const char *needle)
{
	assert_int_equal(r, want);
	if (needle) {
		assert_non_null(resp->errors);
		char *e = json_dumps(resp->errors, 0);
		if (!strstr(e, needle))
			fail_msg("error %s should mention %s", e, needle);
		free(e);
	}
}

static const char *str_at(json_t *o, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	json_t *cur = o;
	for (char *p = buf, *dot; p; p = dot ? dot + 1 : NULL) {
		dot = strchr(p, '.');
		if (dot)
			*dot = '\0';
		cur = json_object_get(cur, p);
	}
	return json_string_value(cur);
}

static json_t *at(json_t *o, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	json_t *cur = o;
	for (char *p = buf, *dot; p; p = dot ? dot + 1 : NULL) {
		dot = strchr(p, '.');
		if (dot)
			*dot = '\0';
		cur = json_object_get(cur, p);
	}
	return cur;
}

static void json_eq(json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
	assert_non_null(want);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY);
		fail_msg("got %s, want %s", g ? g : "NULL", want_text);
	}
	json_decref(want);
}

/* --- kv v1 ---------------------------------------------------------------- */

static const struct engine *v1 = &kv_v1_engine;
static const struct engine *v2 = &kv_v2_engine;

static void test_v1_crud(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	setup_ctx(&c);

	expect_error(run(v1, &c, OP_READ, "foo", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);

	const char *val = "{\"a\":\"b\",\"n\":3,\"nested\":{\"x\":[1,2,{\"y\":true}]},\"f\":1.5}";
	assert_int_equal(run(v1, &c, OP_UPDATE, "foo", val, &resp), 0);
	assert_null(resp.data);
	response_release(&resp);
	json_eq(ok(run(v1, &c, OP_READ, "foo", NULL, &resp), &resp), val);
	response_release(&resp);

	/* A write replaces the whole value. */
	ok(run(v1, &c, OP_UPDATE, "foo", "{\"only\":\"this\"}", &resp), &resp);
	response_release(&resp);
	json_eq(ok(run(v1, &c, OP_READ, "foo", NULL, &resp), &resp), "{\"only\":\"this\"}");
	response_release(&resp);

	ok(run(v1, &c, OP_UPDATE, "foo/bar", "{\"k\":\"v\"}", &resp), &resp);
	response_release(&resp);
	ok(run(v1, &c, OP_UPDATE, "foo/baz/deep", "{\"k\":\"v\"}", &resp), &resp);
	response_release(&resp);
	json_eq(ok(run(v1, &c, OP_LIST, "", NULL, &resp), &resp), "{\"keys\":[\"foo\",\"foo/\"]}");
	response_release(&resp);
	json_eq(ok(run(v1, &c, OP_LIST, "foo/", NULL, &resp), &resp), "{\"keys\":[\"bar\",\"baz/\"]}");
	response_release(&resp);
	expect_error(run(v1, &c, OP_LIST, "nothing/", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);

	ok(run(v1, &c, OP_DELETE, "foo", NULL, &resp), &resp);
	response_release(&resp);
	expect_error(run(v1, &c, OP_READ, "foo", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	/* Deleting what is not there is fine. */
	ok(run(v1, &c, OP_DELETE, "foo", NULL, &resp), &resp);
	response_release(&resp);

	teardown_ctx(&c);
}

static void test_v1_validation_and_ttl(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	setup_ctx(&c);

	expect_error(run(v1, &c, OP_UPDATE, "", "{\"a\":1}", &resp), &resp, TROVE_ERR_INVALID, "path");
	response_release(&resp);
	expect_error(run(v1, &c, OP_UPDATE, "a/../b", "{\"a\":1}", &resp), &resp, TROVE_ERR_INVALID, "path");
	response_release(&resp);
	expect_error(run(v1, &c, OP_UPDATE, "x", "{}", &resp), &resp, TROVE_ERR_INVALID, "missing data");
	response_release(&resp);
	expect_error(run(v1, &c, OP_UPDATE, "x", "{\"ttl\":\"soon\"}", &resp), &resp, TROVE_ERR_INVALID, "ttl");
	response_release(&resp);

	ok(run(v1, &c, OP_UPDATE, "t", "{\"v\":\"1\",\"ttl\":\"1h\"}", &resp), &resp);
	response_release(&resp);
	ok(run(v1, &c, OP_READ, "t", NULL, &resp), &resp);
	assert_int_equal(resp.lease_duration, 3600);
	assert_string_equal(str_at(resp.data, "ttl"), "1h");
	response_release(&resp);
	ok(run(v1, &c, OP_UPDATE, "t2", "{\"ttl\":90}", &resp), &resp);
	response_release(&resp);
	ok(run(v1, &c, OP_READ, "t2", NULL, &resp), &resp);
	assert_int_equal(resp.lease_duration, 90);
	response_release(&resp);

	teardown_ctx(&c);
}

static void test_v1_existence(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	struct request req;
	bool ex = true;
	setup_ctx(&c);
	const struct route *r = find_route(v1, "e");
	assert_non_null(r->exists);

	request_init(&req);
	req.path = xstrdup("e");
	req.rel = req.path;
	req.storage = c.s;
	assert_int_equal(r->exists(&req, &ex), 0);
	assert_false(ex);
	ok(run(v1, &c, OP_UPDATE, "e", "{\"a\":1}", &resp), &resp);
	response_release(&resp);
	assert_int_equal(r->exists(&req, &ex), 0);
	assert_true(ex);
	request_release(&req);
	teardown_ctx(&c);
}

/* --- kv v2 ---------------------------------------------------------------- */

static void write_secret(struct ctx *c, const char *path, const char *body)
{
	struct response resp;
	char rel[256];
	snprintf(rel, sizeof(rel), "data/%s", path);
	ok(run(v2, c, OP_UPDATE, rel, body, &resp), &resp);
	response_release(&resp);
}

static void test_v2_config(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	setup_ctx(&c);

	json_eq(ok(run(v2, &c, OP_READ, "config", NULL, &resp), &resp),
		"{\"max_versions\":0,\"cas_required\":false,\"delete_version_after\":\"0s\"}");
	response_release(&resp);
	ok(run(v2, &c, OP_UPDATE, "config",
	       "{\"max_versions\":\"5\",\"cas_required\":true,\"delete_version_after\":\"3h25m19s\"}", &resp),
	   &resp);
	assert_null(resp.data);
	response_release(&resp);
	json_eq(ok(run(v2, &c, OP_READ, "config", NULL, &resp), &resp),
		"{\"max_versions\":5,\"cas_required\":true,\"delete_version_after\":\"3h25m19s\"}");
	response_release(&resp);
	/* Partial update keeps the rest. */
	ok(run(v2, &c, OP_UPDATE, "config", "{\"cas_required\":false}", &resp), &resp);
	response_release(&resp);
	json_eq(ok(run(v2, &c, OP_READ, "config", NULL, &resp), &resp),
		"{\"max_versions\":5,\"cas_required\":false,\"delete_version_after\":\"3h25m19s\"}");
	response_release(&resp);
	expect_error(run(v2, &c, OP_UPDATE, "config", "{\"max_versions\":-1}", &resp), &resp, TROVE_ERR_INVALID,
		     "max_versions");
	response_release(&resp);
	expect_error(run(v2, &c, OP_UPDATE, "config", "{\"delete_version_after\":\"forever\"}", &resp), &resp,
		     TROVE_ERR_INVALID, "delete_version_after");
	response_release(&resp);
	teardown_ctx(&c);
}

static bool is_rfc3339_utc(const char *s)
{
	/* 2006-01-02T15:04:05[.fraction]Z */
	size_t n = s ? strlen(s) : 0;
	if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[n - 1] != 'Z')
		return false;
	if (n > 20 && s[19] != '.')
		return false;
	if (n > 20 && s[n - 2] == '0')
		return false; /* trailing zeros are trimmed */
	return true;
}

static void test_v2_write_read_versions(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	json_t *d;
	setup_ctx(&c);

	expect_error(run(v2, &c, OP_READ, "data/app", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	assert_null(resp.data);
	response_release(&resp);

	d = ok(run(v2, &c, OP_UPDATE, "data/app", "{\"data\":{\"foo\":\"bar\"},\"options\":{}}", &resp), &resp);
	assert_int_equal(resp.status, 0);
	assert_int_equal(json_integer_value(json_object_get(d, "version")), 1);
	assert_true(is_rfc3339_utc(str_at(d, "created_time")));
	assert_string_equal(str_at(d, "deletion_time"), "");
	assert_true(json_is_false(json_object_get(d, "destroyed")));
	assert_true(json_is_null(json_object_get(d, "custom_metadata")));
	assert_int_equal(json_object_size(d), 5);
	response_release(&resp);

	write_secret(&c, "app", "{\"data\":{\"foo\":\"baz\",\"n\":{\"deep\":[1]}}}");

	d = ok(run(v2, &c, OP_READ, "data/app", NULL, &resp), &resp);
	json_eq(json_object_get(d, "data"), "{\"foo\":\"baz\",\"n\":{\"deep\":[1]}}");
	assert_int_equal(json_integer_value(at(d, "metadata.version")), 2);
	assert_string_equal(str_at(d, "metadata.deletion_time"), "");
	assert_true(json_is_false(at(d, "metadata.destroyed")));
	assert_true(json_is_null(at(d, "metadata.custom_metadata")));
	assert_true(is_rfc3339_utc(str_at(d, "metadata.created_time")));
	assert_int_equal(json_object_size(json_object_get(d, "metadata")), 5);
	response_release(&resp);

	d = ok(run(v2, &c, OP_READ, "data/app", "{\"version\":\"1\"}", &resp), &resp);
	json_eq(json_object_get(d, "data"), "{\"foo\":\"bar\"}");
	assert_int_equal(json_integer_value(at(d, "metadata.version")), 1);
	response_release(&resp);

	expect_error(run(v2, &c, OP_READ, "data/app", "{\"version\":7}", &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	expect_error(run(v2, &c, OP_READ, "data/app", "{\"version\":\"x\"}", &resp), &resp, TROVE_ERR_INVALID,
		     "version");
	response_release(&resp);

	expect_error(run(v2, &c, OP_UPDATE, "data/app", "{\"options\":{}}", &resp), &resp, TROVE_ERR_INVALID,
		     "no data provided");
	response_release(&resp);
	expect_error(run(v2, &c, OP_UPDATE, "data/app", "{\"data\":\"str\"}", &resp), &resp, TROVE_ERR_INVALID,
		     "data");
	response_release(&resp);
	/* "data/" names no secret: the router strips the '/', and the v2
	 * catch-all answers 404. */
	assert_int_equal(run(v2, &c, OP_UPDATE, "data/", "{\"data\":{}}", &resp), 0);
	assert_int_equal(resp.status, 404);
	response_release(&resp);
	expect_error(run(v2, &c, OP_UPDATE, "data/a//b", "{\"data\":{}}", &resp), &resp, TROVE_ERR_INVALID, "path");
	response_release(&resp);

	teardown_ctx(&c);
}

static void test_v2_cas(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	setup_ctx(&c);

	/* cas 0: only when absent. */
	write_secret(&c, "k", "{\"data\":{\"a\":1},\"options\":{\"cas\":0}}");
	expect_error(run(v2, &c, OP_UPDATE, "data/k", "{\"data\":{\"a\":2},\"options\":{\"cas\":0}}", &resp), &resp,
		     TROVE_ERR_INVALID, "check-and-set parameter did not match the current version");
	response_release(&resp);
	expect_error(run(v2, &c, OP_UPDATE, "data/k", "{\"data\":{\"a\":2},\"options\":{\"cas\":2}}", &resp), &resp,
		     TROVE_ERR_INVALID, "did not match");
	response_release(&resp);
	write_secret(&c, "k", "{\"data\":{\"a\":2},\"options\":{\"cas\":1}}");
	write_secret(&c, "k", "{\"data\":{\"a\":3},\"options\":{\"cas\":\"2\"}}");
	expect_error(run(v2, &c, OP_UPDATE, "data/k", "{\"data\":{\"a\":2},\"options\":{\"cas\":\"x\"}}", &resp),
		     &resp, TROVE_ERR_INVALID, "cas");
	response_release(&resp);

	/* Mount-wide cas_required. */
	ok(run(v2, &c, OP_UPDATE, "config", "{\"cas_required\":true}", &resp), &resp);
	response_release(&resp);
	expect_error(run(v2, &c, OP_UPDATE, "data/k", "{\"data\":{\"a\":4}}", &resp), &resp, TROVE_ERR_INVALID,
		     "check-and-set parameter required for this call");
	response_release(&resp);
	write_secret(&c, "k", "{\"data\":{\"a\":4},\"options\":{\"cas\":3}}");
	ok(run(v2, &c, OP_UPDATE, "config", "{\"cas_required\":false}", &resp), &resp);
	response_release(&resp);

	/* Per-key cas_required. */
	ok(run(v2, &c, OP_UPDATE, "metadata/k", "{\"cas_required\":true}", &resp), &resp);
	response_release(&resp);
	expect_error(run(v2, &c, OP_UPDATE, "data/k", "{\"data\":{\"a\":5}}", &resp), &resp, TROVE_ERR_INVALID,
		     "required");
	response_release(&resp);
	write_secret(&c, "k", "{\"data\":{\"a\":5},\"options\":{\"cas\":4}}");
	write_secret(&c, "other", "{\"data\":{\"a\":1}}");

	teardown_ctx(&c);
}

static void test_v2_max_versions(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	json_t *d;
	setup_ctx(&c);

	ok(run(v2, &c, OP_UPDATE, "config", "{\"max_versions\":3}", &resp), &resp);
	response_release(&resp);
	for (int i = 1; i <= 5; i++) {
		char body[64];
		snprintf(body, sizeof(body), "{\"data\":{\"i\":%d}}", i);
		write_secret(&c, "p", body);
	}
	d = ok(run(v2, &c, OP_READ, "metadata/p", NULL, &resp), &resp);
	assert_int_equal(json_integer_value(json_object_get(d, "current_version")), 5);
	assert_int_equal(json_integer_value(json_object_get(d, "oldest_version")), 3);
	assert_int_equal(json_object_size(json_object_get(d, "versions")), 3);
	assert_non_null(at(d, "versions.3"));
	assert_null(at(d, "versions.2"));
	response_release(&resp);
	expect_error(run(v2, &c, OP_READ, "data/p", "{\"version\":2}", &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	assert_null(resp.data);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "data/p", "{\"version\":3}", &resp), &resp);
	json_eq(json_object_get(d, "data"), "{\"i\":3}");
	response_release(&resp);

	/* A key-level limit wins, and lowering it prunes at once. */
	ok(run(v2, &c, OP_UPDATE, "metadata/p", "{\"max_versions\":1}", &resp), &resp);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "metadata/p", NULL, &resp), &resp);
	assert_int_equal(json_object_size(json_object_get(d, "versions")), 1);
	assert_int_equal(json_integer_value(json_object_get(d, "oldest_version")), 5);
	assert_int_equal(json_integer_value(json_object_get(d, "max_versions")), 1);
	response_release(&resp);

	/* Default of 10 when nothing is set. */
	ok(run(v2, &c, OP_UPDATE, "config", "{\"max_versions\":0}", &resp), &resp);
	response_release(&resp);
	for (int i = 1; i <= 12; i++)
		write_secret(&c, "q", "{\"data\":{\"x\":1}}");
	d = ok(run(v2, &c, OP_READ, "metadata/q", NULL, &resp), &resp);
	assert_int_equal(json_object_size(json_object_get(d, "versions")), 10);
	assert_int_equal(json_integer_value(json_object_get(d, "oldest_version")), 3);
	response_release(&resp);

	teardown_ctx(&c);
}

static void test_v2_delete_undelete_destroy(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	json_t *d;
	setup_ctx(&c);

	write_secret(&c, "s", "{\"data\":{\"v\":1}}");
	write_secret(&c, "s", "{\"data\":{\"v\":2}}");

	ok(run(v2, &c, OP_DELETE, "data/s", NULL, &resp), &resp);
	response_release(&resp);
	/* 404 but with the version's metadata. */
	d = ok(run(v2, &c, OP_READ, "data/s", NULL, &resp), &resp);
	assert_int_equal(resp.status, 404);
	assert_true(json_is_null(json_object_get(d, "data")));
	assert_int_equal(json_integer_value(at(d, "metadata.version")), 2);
	assert_true(is_rfc3339_utc(str_at(d, "metadata.deletion_time")));
	assert_true(json_is_false(at(d, "metadata.destroyed")));
	response_release(&resp);
	/* Older versions still read. */
	d = ok(run(v2, &c, OP_READ, "data/s", "{\"version\":1}", &resp), &resp);
	json_eq(json_object_get(d, "data"), "{\"v\":1}");
	response_release(&resp);
	/* Patch needs an undeleted latest version. */
	expect_error(run(v2, &c, OP_PATCH, "data/s", "{\"data\":{\"v\":3}}", &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);

	ok(run(v2, &c, OP_UPDATE, "undelete/s", "{\"versions\":[2]}", &resp), &resp);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "data/s", NULL, &resp), &resp);
	assert_int_equal(resp.status, 0);
	json_eq(json_object_get(d, "data"), "{\"v\":2}");
	response_release(&resp);

	ok(run(v2, &c, OP_UPDATE, "delete/s", "{\"versions\":\"1,2\"}", &resp), &resp);
	response_release(&resp);
	ok(run(v2, &c, OP_READ, "data/s", "{\"version\":1}", &resp), &resp);
	assert_int_equal(resp.status, 404);
	response_release(&resp);
	ok(run(v2, &c, OP_UPDATE, "undelete/s", "{\"versions\":[1,2,99]}", &resp), &resp);
	response_release(&resp);

	ok(run(v2, &c, OP_UPDATE, "destroy/s", "{\"versions\":[1]}", &resp), &resp);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "data/s", "{\"version\":1}", &resp), &resp);
	assert_int_equal(resp.status, 404);
	assert_true(json_is_null(json_object_get(d, "data")));
	assert_true(json_is_true(at(d, "metadata.destroyed")));
	assert_string_equal(str_at(d, "metadata.deletion_time"), "");
	response_release(&resp);
	/* Undelete cannot bring back destroyed data. */
	ok(run(v2, &c, OP_UPDATE, "undelete/s", "{\"versions\":[1]}", &resp), &resp);
	response_release(&resp);
	ok(run(v2, &c, OP_READ, "data/s", "{\"version\":1}", &resp), &resp);
	assert_int_equal(resp.status, 404);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "metadata/s", NULL, &resp), &resp);
	assert_true(json_is_true(at(d, "versions.1.destroyed")));
	assert_true(json_is_false(at(d, "versions.2.destroyed")));
	response_release(&resp);

	expect_error(run(v2, &c, OP_UPDATE, "destroy/s", "{\"versions\":[]}", &resp), &resp, TROVE_ERR_INVALID,
		     "no version number provided");
	response_release(&resp);
	expect_error(run(v2, &c, OP_UPDATE, "destroy/s", "{}", &resp), &resp, TROVE_ERR_INVALID,
		     "no version number provided");
	response_release(&resp);
	expect_error(run(v2, &c, OP_UPDATE, "delete/s", "{}", &resp), &resp, TROVE_ERR_INVALID,
		     "no version number provided");
	response_release(&resp);
	expect_error(run(v2, &c, OP_UPDATE, "delete/s", "{\"versions\":[\"x\"]}", &resp), &resp,
		     TROVE_ERR_INVALID, "versions");
	response_release(&resp);
	/* On a missing secret these are no-ops. */
	ok(run(v2, &c, OP_UPDATE, "delete/none", "{\"versions\":[1]}", &resp), &resp);
	response_release(&resp);
	ok(run(v2, &c, OP_DELETE, "data/none", NULL, &resp), &resp);
	response_release(&resp);

	teardown_ctx(&c);
}

static void test_v2_metadata(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	json_t *d;
	setup_ctx(&c);

	expect_error(run(v2, &c, OP_READ, "metadata/m", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	/* Metadata may exist before any version. */
	ok(run(v2, &c, OP_UPDATE, "metadata/m",
	       "{\"max_versions\":5,\"delete_version_after\":\"0s\",\"custom_metadata\":{\"owner\":\"jdoe\",\"n\":7}}",
	       &resp),
	   &resp);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "metadata/m", NULL, &resp), &resp);
	json_eq(json_object_get(d, "custom_metadata"), "{\"owner\":\"jdoe\",\"n\":\"7\"}");
	assert_int_equal(json_integer_value(json_object_get(d, "current_version")), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "max_versions")), 5);
	assert_string_equal(str_at(d, "delete_version_after"), "0s");
	assert_true(json_is_false(json_object_get(d, "cas_required")));
	assert_true(is_rfc3339_utc(str_at(d, "created_time")));
	assert_true(is_rfc3339_utc(str_at(d, "updated_time")));
	json_eq(json_object_get(d, "versions"), "{}");
	response_release(&resp);
	expect_error(run(v2, &c, OP_READ, "data/m", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);

	/* Data reads and writes carry the key's custom metadata. */
	d = ok(run(v2, &c, OP_UPDATE, "data/m", "{\"data\":{\"a\":\"b\"}}", &resp), &resp);
	assert_string_equal(str_at(d, "custom_metadata.owner"), "jdoe");
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "data/m", NULL, &resp), &resp);
	assert_string_equal(str_at(d, "metadata.custom_metadata.owner"), "jdoe");
	response_release(&resp);

	/* Write replaces custom_metadata; fields not given stay. */
	ok(run(v2, &c, OP_UPDATE, "metadata/m", "{\"custom_metadata\":{\"a\":\"1\",\"b\":\"2\"}}", &resp), &resp);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "metadata/m", NULL, &resp), &resp);
	json_eq(json_object_get(d, "custom_metadata"), "{\"a\":\"1\",\"b\":\"2\"}");
	assert_int_equal(json_integer_value(json_object_get(d, "max_versions")), 5);
	response_release(&resp);

	/* Patch merges: null removes a key. */
	ok(run(v2, &c, OP_PATCH, "metadata/m",
	       "{\"custom_metadata\":{\"a\":null,\"c\":\"3\"},\"delete_version_after\":\"1h\"}", &resp),
	   &resp);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "metadata/m", NULL, &resp), &resp);
	json_eq(json_object_get(d, "custom_metadata"), "{\"b\":\"2\",\"c\":\"3\"}");
	assert_string_equal(str_at(d, "delete_version_after"), "1h0m0s");
	response_release(&resp);
	expect_error(run(v2, &c, OP_PATCH, "metadata/absent", "{\"max_versions\":1}", &resp), &resp,
		     TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);

	/* Limits: 64 keys, 128-byte keys, 512-byte string values. */
	struct buf b;
	buf_init(&b, 1 << 16);
	buf_append_str(&b, "{\"custom_metadata\":{");
	for (int i = 0; i < 65; i++)
		buf_printf(&b, "%s\"k%d\":\"v\"", i ? "," : "", i);
	buf_append_str(&b, "}}");
	expect_error(run(v2, &c, OP_UPDATE, "metadata/m", b.data, &resp), &resp, TROVE_ERR_INVALID, "64");
	response_release(&resp);
	buf_reset(&b);
	buf_append_str(&b, "{\"custom_metadata\":{\"");
	for (int i = 0; i < 129; i++)
		buf_append_byte(&b, 'k');
	buf_append_str(&b, "\":\"v\"}}");
	expect_error(run(v2, &c, OP_UPDATE, "metadata/m", b.data, &resp), &resp, TROVE_ERR_INVALID, "128");
	response_release(&resp);
	buf_reset(&b);
	buf_append_str(&b, "{\"custom_metadata\":{\"k\":\"");
	for (int i = 0; i < 513; i++)
		buf_append_byte(&b, 'v');
	buf_append_str(&b, "\"}}");
	expect_error(run(v2, &c, OP_UPDATE, "metadata/m", b.data, &resp), &resp, TROVE_ERR_INVALID, "512");
	response_release(&resp);
	buf_release(&b);
	expect_error(run(v2, &c, OP_UPDATE, "metadata/m", "{\"custom_metadata\":{\"k\":{\"x\":1}}}", &resp), &resp,
		     TROVE_ERR_INVALID, "custom_metadata");
	response_release(&resp);
	expect_error(run(v2, &c, OP_UPDATE, "metadata/m", "{\"custom_metadata\":\"nope\"}", &resp), &resp,
		     TROVE_ERR_INVALID, "custom_metadata");
	response_release(&resp);
	/* Exactly at the limits is fine. */
	buf_init(&b, 1 << 16);
	buf_append_str(&b, "{\"custom_metadata\":{");
	for (int i = 0; i < 64; i++)
		buf_printf(&b, "%s\"k%d\":\"v\"", i ? "," : "", i);
	buf_append_str(&b, "}}");
	ok(run(v2, &c, OP_UPDATE, "metadata/m", b.data, &resp), &resp);
	response_release(&resp);
	buf_release(&b);

	/* Listing is served from metadata alone. */
	write_secret(&c, "dir/a", "{\"data\":{\"x\":1}}");
	write_secret(&c, "dir/sub/b", "{\"data\":{\"x\":1}}");
	json_eq(ok(run(v2, &c, OP_LIST, "metadata/", NULL, &resp), &resp), "{\"keys\":[\"dir/\",\"m\"]}");
	response_release(&resp);
	json_eq(ok(run(v2, &c, OP_LIST, "metadata/dir/", NULL, &resp), &resp), "{\"keys\":[\"a\",\"sub/\"]}");
	response_release(&resp);
	json_eq(ok(run(v2, &c, OP_LIST, "metadata/dir/", "{\"limit\":\"1\"}", &resp), &resp), "{\"keys\":[\"a\"]}");
	response_release(&resp);
	json_eq(ok(run(v2, &c, OP_LIST, "metadata/dir/", "{\"after\":\"a\"}", &resp), &resp),
		"{\"keys\":[\"sub/\"]}");
	response_release(&resp);
	expect_error(run(v2, &c, OP_LIST, "metadata/none/", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);

	/* Delete removes every version and the metadata. */
	ok(run(v2, &c, OP_DELETE, "metadata/dir/a", NULL, &resp), &resp);
	response_release(&resp);
	expect_error(run(v2, &c, OP_READ, "data/dir/a", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	expect_error(run(v2, &c, OP_READ, "metadata/dir/a", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	json_eq(ok(run(v2, &c, OP_LIST, "metadata/dir/", NULL, &resp), &resp), "{\"keys\":[\"sub/\"]}");
	response_release(&resp);
	/* Nothing but metadata/ and versions/ of the remaining secrets is left. */
	struct strlist l;
	strlist_init(&l);
	assert_int_equal(storage_list(c.s, "", &l), 0);
	for (size_t i = 0; i < l.len; i++)
		assert_true(strcmp(l.items[i], "metadata/") == 0 || strcmp(l.items[i], "versions/") == 0 ||
			    strcmp(l.items[i], "config") == 0);
	strlist_release(&l);
	strlist_init(&l);
	assert_int_equal(storage_list(c.s, "versions/", &l), 0);
	assert_int_equal(l.len, 2); /* m and dir/sub/b */
	strlist_release(&l);

	teardown_ctx(&c);
}

static void test_v2_patch(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	json_t *d;
	setup_ctx(&c);

	expect_error(run(v2, &c, OP_PATCH, "data/p", "{\"data\":{\"a\":1}}", &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	write_secret(&c, "p", "{\"data\":{\"keep\":\"k\",\"drop\":\"d\",\"nest\":{\"x\":1,\"y\":2},\"arr\":[1,2]}}");
	d = ok(run(v2, &c, OP_PATCH, "data/p",
		   "{\"data\":{\"drop\":null,\"nest\":{\"y\":null,\"z\":3},\"arr\":[3],\"new\":\"n\"}}", &resp),
	       &resp);
	assert_int_equal(json_integer_value(json_object_get(d, "version")), 2);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "data/p", NULL, &resp), &resp);
	json_eq(json_object_get(d, "data"), "{\"keep\":\"k\",\"nest\":{\"x\":1,\"z\":3},\"arr\":[3],\"new\":\"n\"}");
	response_release(&resp);
	/* The old version is untouched. */
	d = ok(run(v2, &c, OP_READ, "data/p", "{\"version\":1}", &resp), &resp);
	json_eq(json_object_get(d, "data"), "{\"keep\":\"k\",\"drop\":\"d\",\"nest\":{\"x\":1,\"y\":2},\"arr\":[1,2]}");
	response_release(&resp);

	/* cas on patch. */
	expect_error(run(v2, &c, OP_PATCH, "data/p", "{\"data\":{\"a\":1},\"options\":{\"cas\":1}}", &resp), &resp,
		     TROVE_ERR_INVALID, "did not match");
	response_release(&resp);
	ok(run(v2, &c, OP_PATCH, "data/p", "{\"data\":{\"a\":1},\"options\":{\"cas\":2}}", &resp), &resp);
	response_release(&resp);
	expect_error(run(v2, &c, OP_PATCH, "data/p", "{\"options\":{}}", &resp), &resp, TROVE_ERR_INVALID,
		     "no data provided");
	response_release(&resp);
	/* A destroyed latest version cannot be patched. */
	ok(run(v2, &c, OP_UPDATE, "destroy/p", "{\"versions\":[3]}", &resp), &resp);
	response_release(&resp);
	expect_error(run(v2, &c, OP_PATCH, "data/p", "{\"data\":{\"a\":2}}", &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);

	teardown_ctx(&c);
}

static void test_v2_subkeys(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	json_t *d;
	setup_ctx(&c);

	write_secret(&c, "s", "{\"data\":{\"foo\":\"abc\",\"bar\":{\"baz\":\"def\",\"q\":{\"r\":1}},\"quux\":{}}}");
	d = ok(run(v2, &c, OP_READ, "subkeys/s", NULL, &resp), &resp);
	json_eq(json_object_get(d, "subkeys"), "{\"foo\":null,\"bar\":{\"baz\":null,\"q\":{\"r\":null}},\"quux\":null}");
	assert_int_equal(json_integer_value(at(d, "metadata.version")), 1);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "subkeys/s", "{\"depth\":\"1\"}", &resp), &resp);
	json_eq(json_object_get(d, "subkeys"), "{\"foo\":null,\"bar\":null,\"quux\":null}");
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "subkeys/s", "{\"depth\":2}", &resp), &resp);
	json_eq(json_object_get(d, "subkeys"), "{\"foo\":null,\"bar\":{\"baz\":null,\"q\":null},\"quux\":null}");
	response_release(&resp);
	write_secret(&c, "s", "{\"data\":{\"only\":1}}");
	d = ok(run(v2, &c, OP_READ, "subkeys/s", "{\"version\":1,\"depth\":1}", &resp), &resp);
	json_eq(json_object_get(d, "subkeys"), "{\"foo\":null,\"bar\":null,\"quux\":null}");
	response_release(&resp);
	expect_error(run(v2, &c, OP_READ, "subkeys/s", "{\"depth\":-1}", &resp), &resp, TROVE_ERR_INVALID, "depth");
	response_release(&resp);
	expect_error(run(v2, &c, OP_READ, "subkeys/none", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	ok(run(v2, &c, OP_DELETE, "data/s", NULL, &resp), &resp);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "subkeys/s", NULL, &resp), &resp);
	assert_int_equal(resp.status, 404);
	assert_true(json_is_null(json_object_get(d, "subkeys")));
	assert_int_equal(json_integer_value(at(d, "metadata.version")), 2);
	response_release(&resp);

	teardown_ctx(&c);
}

static void test_v2_delete_version_after(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	json_t *d;
	setup_ctx(&c);

	ok(run(v2, &c, OP_UPDATE, "config", "{\"delete_version_after\":\"1s\"}", &resp), &resp);
	response_release(&resp);
	d = ok(run(v2, &c, OP_UPDATE, "data/t", "{\"data\":{\"a\":1}}", &resp), &resp);
	assert_true(is_rfc3339_utc(str_at(d, "deletion_time")));
	response_release(&resp);
	/* A key may shorten it but not lengthen it. */
	ok(run(v2, &c, OP_UPDATE, "metadata/long", "{\"delete_version_after\":\"1h\"}", &resp), &resp);
	response_release(&resp);
	write_secret(&c, "long", "{\"data\":{\"a\":1}}");

	d = ok(run(v2, &c, OP_READ, "data/t", NULL, &resp), &resp);
	assert_int_equal(resp.status, 0);
	json_eq(json_object_get(d, "data"), "{\"a\":1}");
	response_release(&resp);

	struct timespec ts = { 1, 200 * 1000 * 1000 };
	nanosleep(&ts, NULL);

	d = ok(run(v2, &c, OP_READ, "data/t", NULL, &resp), &resp);
	assert_int_equal(resp.status, 404);
	assert_true(json_is_null(json_object_get(d, "data")));
	response_release(&resp);
	ok(run(v2, &c, OP_READ, "data/long", NULL, &resp), &resp);
	assert_int_equal(resp.status, 404);
	response_release(&resp);
	/* Undelete clears the scheduled deletion. */
	ok(run(v2, &c, OP_UPDATE, "undelete/t", "{\"versions\":[1]}", &resp), &resp);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "data/t", NULL, &resp), &resp);
	assert_int_equal(resp.status, 0);
	assert_string_equal(str_at(d, "metadata.deletion_time"), "");
	response_release(&resp);

	teardown_ctx(&c);
}

static void test_v2_invalid_path(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	setup_ctx(&c);
	static const struct {
		enum op op;
		const char *verb;
	} cases[] = { { OP_READ, "get" }, { OP_UPDATE, "put" }, { OP_DELETE, "delete" }, { OP_LIST, "list" } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run(v2, &c, cases[i].op, "foo", "{\"a\":\"b\"}", &resp), 0);
		assert_int_equal(resp.status, 404);
		assert_null(resp.data);
		assert_int_equal(json_array_size(resp.warnings), 1);
		const char *w = json_string_value(json_array_get(resp.warnings, 0));
		assert_non_null(strstr(w, "Invalid path for a versioned K/V secrets engine"));
		char want[64];
		snprintf(want, sizeof(want), "'trove kv %s'", cases[i].verb);
		assert_non_null(strstr(w, want));
		response_release(&resp);
	}
	/* "data" alone is not a secret path either. */
	assert_int_equal(run(v2, &c, OP_READ, "data", NULL, &resp), 0);
	assert_int_equal(resp.status, 404);
	response_release(&resp);
	teardown_ctx(&c);
}

static void test_v2_existence(void **state)
{
	(void)state;
	struct ctx c;
	struct request req;
	bool ex = true;
	setup_ctx(&c);
	const struct route *r = find_route(v2, "data/e");
	assert_non_null(r->exists);
	request_init(&req);
	req.path = xstrdup("data/e");
	req.rel = req.path;
	req.storage = c.s;
	assert_int_equal(r->exists(&req, &ex), 0);
	assert_false(ex);
	write_secret(&c, "e", "{\"data\":{\"a\":1}}");
	assert_int_equal(r->exists(&req, &ex), 0);
	assert_true(ex);
	request_release(&req);
	teardown_ctx(&c);
}

/* --- v1 -> v2 upgrade ------------------------------------------------------ */

static void test_upgrade(void **state)
{
	(void)state;
	struct ctx c;
	struct response resp;
	json_t *d;
	struct buf err;
	setup_ctx(&c);

	ok(run(v1, &c, OP_UPDATE, "app/db", "{\"user\":\"u\",\"pass\":\"p\"}", &resp), &resp);
	response_release(&resp);
	ok(run(v1, &c, OP_UPDATE, "top", "{\"n\":1,\"nested\":{\"x\":[1]}}", &resp), &resp);
	response_release(&resp);
	/* Names that collide with the v2 layout must survive too. */
	ok(run(v1, &c, OP_UPDATE, "metadata/top", "{\"tricky\":true}", &resp), &resp);
	response_release(&resp);
	ok(run(v1, &c, OP_UPDATE, "config", "{\"max_versions\":1}", &resp), &resp);
	response_release(&resp);

	struct mount m;
	memset(&m, 0, sizeof(m));
	m.view = c.s;
	m.options = json_pack("{s:s}", "version", "2");
	json_t *old = json_pack("{s:s}", "version", "1");
	buf_init(&err, 1024);
	assert_non_null(kv_v2_engine.options_changed);
	assert_int_equal(kv_v2_engine.options_changed(&m, old, &err), 0);

	d = ok(run(v2, &c, OP_READ, "data/app/db", NULL, &resp), &resp);
	json_eq(json_object_get(d, "data"), "{\"user\":\"u\",\"pass\":\"p\"}");
	assert_int_equal(json_integer_value(at(d, "metadata.version")), 1);
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "data/top", NULL, &resp), &resp);
	json_eq(json_object_get(d, "data"), "{\"n\":1,\"nested\":{\"x\":[1]}}");
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "data/metadata/top", NULL, &resp), &resp);
	json_eq(json_object_get(d, "data"), "{\"tricky\":true}");
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "data/config", NULL, &resp), &resp);
	json_eq(json_object_get(d, "data"), "{\"max_versions\":1}");
	response_release(&resp);
	/* The mount config is the default, not the old secret called config. */
	json_eq(ok(run(v2, &c, OP_READ, "config", NULL, &resp), &resp),
		"{\"max_versions\":0,\"cas_required\":false,\"delete_version_after\":\"0s\"}");
	response_release(&resp);
	json_eq(ok(run(v2, &c, OP_LIST, "metadata/", NULL, &resp), &resp),
		"{\"keys\":[\"app/\",\"config\",\"metadata/\",\"top\"]}");
	response_release(&resp);
	d = ok(run(v2, &c, OP_READ, "metadata/top", NULL, &resp), &resp);
	assert_int_equal(json_integer_value(json_object_get(d, "current_version")), 1);
	response_release(&resp);
	/* A new write continues at version 2. */
	d = ok(run(v2, &c, OP_UPDATE, "data/top", "{\"data\":{\"n\":2},\"options\":{\"cas\":1}}", &resp), &resp);
	assert_int_equal(json_integer_value(json_object_get(d, "version")), 2);
	response_release(&resp);

	/* 2 -> 1 is refused, by either engine's hook. */
	buf_reset(&err);
	json_t *newopts = json_pack("{s:s}", "version", "1");
	json_decref(m.options);
	m.options = newopts;
	json_t *old2 = json_pack("{s:s}", "version", "2");
	assert_int_equal(kv_v1_engine.options_changed(&m, old2, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "downgrade"));
	/* Same version: nothing happens. */
	assert_int_equal(kv_v1_engine.options_changed(&m, newopts, &err), 0);

	json_decref(old);
	json_decref(old2);
	json_decref(m.options);
	buf_release(&err);
	teardown_ctx(&c);
}

static void test_upgrade_empty(void **state)
{
	(void)state;
	struct ctx c;
	struct buf err;
	struct mount m;
	setup_ctx(&c);
	memset(&m, 0, sizeof(m));
	m.view = c.s;
	m.options = json_pack("{s:s}", "version", "2");
	buf_init(&err, 1024);
	assert_int_equal(kv_v2_engine.options_changed(&m, NULL, &err), 0);
	json_decref(m.options);
	buf_release(&err);
	teardown_ctx(&c);
}

/* --- cubbyhole --------------------------------------------------------------- */

static void set_hash(struct token_entry *t, char ch)
{
	memset(t, 0, sizeof(*t));
	memset(t->id_hash, ch, TOKEN_HASH_HEX);
	t->id_hash[TOKEN_HASH_HEX] = '\0';
}

static void test_cubbyhole_isolation(void **state)
{
	(void)state;
	struct ctx a, b;
	struct response resp;
	struct token_entry ta, tb;
	const struct engine *cb = &cubbyhole_engine;

	setup_ctx(&a);
	b.s = a.s; /* one mount, two tokens */
	set_hash(&ta, 'a');
	set_hash(&tb, 'b');
	a.tok = &ta;
	b.tok = &tb;
	assert_true(cb->flags & ENGINE_BUILTIN);

	ok(run(cb, &a, OP_UPDATE, "x", "{\"secret\":\"A\"}", &resp), &resp);
	response_release(&resp);
	expect_error(run(cb, &b, OP_READ, "x", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	expect_error(run(cb, &b, OP_LIST, "", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	ok(run(cb, &b, OP_UPDATE, "x", "{\"secret\":\"B\"}", &resp), &resp);
	response_release(&resp);
	ok(run(cb, &b, OP_UPDATE, "dir/y", "{\"secret\":\"B2\"}", &resp), &resp);
	response_release(&resp);

	json_eq(ok(run(cb, &a, OP_READ, "x", NULL, &resp), &resp), "{\"secret\":\"A\"}");
	assert_int_equal(resp.lease_duration, 0);
	response_release(&resp);
	json_eq(ok(run(cb, &b, OP_READ, "x", NULL, &resp), &resp), "{\"secret\":\"B\"}");
	response_release(&resp);
	json_eq(ok(run(cb, &a, OP_LIST, "", NULL, &resp), &resp), "{\"keys\":[\"x\"]}");
	response_release(&resp);
	json_eq(ok(run(cb, &b, OP_LIST, "/", NULL, &resp), &resp), "{\"keys\":[\"dir/\",\"x\"]}");
	response_release(&resp);
	json_eq(ok(run(cb, &b, OP_LIST, "dir/", NULL, &resp), &resp), "{\"keys\":[\"y\"]}");
	response_release(&resp);

	/* A path cannot climb into another token's prefix. */
	char evil[128];
	snprintf(evil, sizeof(evil), "../%s/x", tb.id_hash);
	expect_error(run(cb, &a, OP_READ, evil, NULL, &resp), &resp, TROVE_ERR_INVALID, "path");
	response_release(&resp);

	/* Delete is per token as well. */
	ok(run(cb, &a, OP_DELETE, "x", NULL, &resp), &resp);
	response_release(&resp);
	json_eq(ok(run(cb, &b, OP_READ, "x", NULL, &resp), &resp), "{\"secret\":\"B\"}");
	response_release(&resp);

	/* Revocation purges only that token's entries. */
	ok(run(cb, &a, OP_UPDATE, "again", "{\"k\":\"v\"}", &resp), &resp);
	response_release(&resp);
	assert_int_equal(cubbyhole_purge(a.s, tb.id_hash), 0);
	expect_error(run(cb, &b, OP_READ, "x", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	expect_error(run(cb, &b, OP_READ, "dir/y", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	json_eq(ok(run(cb, &a, OP_READ, "again", NULL, &resp), &resp), "{\"k\":\"v\"}");
	response_release(&resp);
	assert_int_equal(cubbyhole_purge(a.s, ""), TROVE_ERR_INVALID);

	/* No token: refused. */
	struct ctx none = { .s = a.s, .tok = NULL };
	expect_error(run(cb, &none, OP_READ, "x", NULL, &resp), &resp, TROVE_ERR_INVALID, "client token empty");
	response_release(&resp);
	expect_error(run(cb, &a, OP_UPDATE, "", "{\"a\":1}", &resp), &resp, TROVE_ERR_INVALID, "path");
	response_release(&resp);
	expect_error(run(cb, &a, OP_UPDATE, "z", "{}", &resp), &resp, TROVE_ERR_INVALID, "missing data");
	response_release(&resp);

	teardown_ctx(&a);
}

/* The revoke hook, through a real core: revoking a token empties its
 * cubbyhole and nobody else's. Skipped until the registry serves the
 * built-in cubbyhole mount. */
static void test_cubbyhole_revoke_purges(void **state)
{
	(void)state;
	struct core_config cfg = { .storage_type = "inmem", .default_lease_ttl = 2764800, .max_lease_ttl = 2764800, .expiration_manual = true,
				   .engines = &builtin_engines, .audit_devices = &audit_device_types};
	struct storage *phys = storage_inmem_new();
	struct core *core = core_new(phys, &cfg);
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	struct response resp;
	char *id1 = NULL, *id2 = NULL;

	buf_init(&err, 1024);
	assert_int_equal(core_initialize(core, 1, 1, NULL, &res, &err), 0);
	assert_int_equal(core_unseal(core, res.keys[0], res.key_len, &st, &err), 0);
	assert_false(st.sealed);
	struct mount *m = mount_match(core_mounts(core), "cubbyhole/x");
	if (!m || m->engine != &cubbyhole_engine) {
		mount_release(m);
		core_init_result_release(&res);
		core_free(core);
		storage_free(phys);
		buf_release(&err);
		skip();
		return;
	}
	assert_int_equal(cubbyhole_register(core), 0);
	assert_int_equal(cubbyhole_register(core), 0); /* idempotent */

	struct token_entry *e1 = token_entry_new(), *e2 = token_entry_new();
	strlist_push(&e1->policies, "default");
	strlist_push(&e2->policies, "default");
	assert_int_equal(token_create(core_tokens(core), e1, NULL, &id1), 0);
	assert_int_equal(token_create(core_tokens(core), e2, NULL, &id2), 0);
	assert_int_equal(strlen(e1->id_hash), TOKEN_LOCATOR_MAX);

	struct ctx c1 = { .s = m->view, .tok = e1 }, c2 = { .s = m->view, .tok = e2 };
	ok(run(&cubbyhole_engine, &c1, OP_UPDATE, "a/b", "{\"k\":\"1\"}", &resp), &resp);
	response_release(&resp);
	ok(run(&cubbyhole_engine, &c2, OP_UPDATE, "a/b", "{\"k\":\"2\"}", &resp), &resp);
	response_release(&resp);

	assert_int_equal(token_revoke(core_tokens(core), e1->id_hash, false), 0);
	expect_error(run(&cubbyhole_engine, &c1, OP_READ, "a/b", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	expect_error(run(&cubbyhole_engine, &c1, OP_LIST, "", NULL, &resp), &resp, TROVE_ERR_NOT_FOUND, NULL);
	response_release(&resp);
	json_eq(ok(run(&cubbyhole_engine, &c2, OP_READ, "a/b", NULL, &resp), &resp), "{\"k\":\"2\"}");
	response_release(&resp);

	secure_free_str(id1);
	secure_free_str(id2);
	token_entry_free(e1);
	token_entry_free(e2);
	mount_release(m);
	core_init_result_release(&res);
	core_free(core);
	storage_free(phys);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_crud),
		cmocka_unit_test(test_v1_validation_and_ttl),
		cmocka_unit_test(test_v1_existence),
		cmocka_unit_test(test_v2_config),
		cmocka_unit_test(test_v2_write_read_versions),
		cmocka_unit_test(test_v2_cas),
		cmocka_unit_test(test_v2_max_versions),
		cmocka_unit_test(test_v2_delete_undelete_destroy),
		cmocka_unit_test(test_v2_metadata),
		cmocka_unit_test(test_v2_patch),
		cmocka_unit_test(test_v2_subkeys),
		cmocka_unit_test(test_v2_delete_version_after),
		cmocka_unit_test(test_v2_invalid_path),
		cmocka_unit_test(test_v2_existence),
		cmocka_unit_test(test_upgrade),
		cmocka_unit_test(test_upgrade_empty),
		cmocka_unit_test(test_cubbyhole_isolation),
		cmocka_unit_test(test_cubbyhole_revoke_purges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
