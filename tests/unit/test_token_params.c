/* test_token_params.c — token_params (parse, read form, storage form) and
 * login_issue / token_auth_json.
 *
 * Requests are built as the router would hand them over: the body coerced
 * field by field with field_coerce against a role's field table holding
 * TOKEN_PARAM_FIELDS (nulls dropped); some cases skip the coercion to
 * reach the checks token_params_parse makes itself. login_issue runs
 * against a real core (inmem storage, initialised and unsealed) with a
 * fake auth mount whose TTLs and token_type each test sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/engines.h"
#include "audit/device.h"
#include "buf.h"
#include "core/core.h"
#include "core/login.h"
#include "core/mount.h"
#include "core/policy_store.h"
#include "core/request.h"
#include "core/router.h"
#include "core/token.h"
#include "core/token_params.h"
#include "err.h"
#include "secure.h"
#include "storage/storage.h"

#include "banned.h"

/* --- harness ---------------------------------------------------------------- */

static const struct field role_fields[] = {
    {.name = "bind_secret_id", .type = FIELD_BOOL, .def = "true", .description = "an engine's own field"},
    TOKEN_PARAM_FIELDS,
    {0},
};
static const struct route role_route = {.pattern = "role/:name", .fields = role_fields};

static const struct field *find_field(const char *name)
{
	for (const struct field *f = role_fields; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* Parses body onto p. coerce: run the router's field coercion first.
 * resp is initialised here; the caller releases it. */
static int parse_ex(const char *body, bool coerce, struct token_params *p, struct response *resp)
{
	struct request req;
	const char *k;
	json_t *v, *tmp;
	int r;

	response_init(resp);
	request_init(&req);
	req.op = OP_UPDATE;
	req.route = &role_route;
	req.data = json_loads(body, 0, NULL);
	if (!req.data)
		fail_msg("bad test JSON: %s", body);
	json_object_foreach_safe(req.data, tmp, k, v)
	{
		const struct field *f = find_field(k);
		if (json_is_null(v)) {
			json_object_del(req.data, k);
			continue;
		}
		if (!coerce || !f)
			continue;
		const char *why = "invalid";
		json_t *cv = field_coerce(f->type, v, &why);
		if (!cv)
			fail_msg("router coercion refused %s in %s: %s", k, body, why);
		json_object_set_new(req.data, k, cv);
	}
	r = token_params_parse(&req, resp, p);
	request_release(&req);
	return r;
}

static int parse(const char *body, struct token_params *p, struct response *resp)
{
	return parse_ex(body, true, p, resp);
}

static void parse_ok(const char *body, struct token_params *p)
{
	struct response resp;
	int r = parse(body, p, &resp);
	if (r != 0) {
		char *e = resp.errors ? json_dumps(resp.errors, 0) : NULL;
		fail_msg("parse %s failed %d: %s", body, r, e ? e : "(no message)");
	}
	response_release(&resp);
}

/* The single error message of resp, which must be exactly want. */
static void error_is(const struct response *resp, const char *want)
{
	assert_non_null(resp->errors);
	assert_int_equal(json_array_size(resp->errors), 1);
	const char *got = json_string_value(json_array_get(resp->errors, 0));
	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("error \"%s\", want \"%s\"", got, want);
}

/* Expects parse (with or without coercion) to fail with want. */
static void parse_fails(const char *body, bool coerce, const char *want)
{
	struct token_params p;
	struct response resp;
	token_params_init(&p);
	assert_int_equal(parse_ex(body, coerce, &p, &resp), TROVE_ERR_INVALID);
	error_is(&resp, want);
	response_release(&resp);
	token_params_release(&p);
}

static void json_eq(const json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
	assert_non_null(want);
	if (!json_equal((json_t *)got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY);
		fail_msg("got %s, want %s", g ? g : "NULL", want_text);
	}
	json_decref(want);
}

static void list_is(const struct strlist *l, size_t n, ...)
{
	va_list ap;
	if (l->len != n)
		fail_msg("list has %zu items, want %zu", l->len, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		const char *want = va_arg(ap, const char *);
		if (strcmp(l->items[i], want) != 0) {
			va_end(ap);
			fail_msg("item %zu is \"%s\", want \"%s\"", i, l->items[i], want);
		}
	}
	va_end(ap);
}

/* --- parse ---------------------------------------------------------------- */

static void test_init_defaults(void **state)
{
	(void)state;
	struct token_params p;
	token_params_init(&p);
	assert_int_equal(p.ttl, 0);
	assert_int_equal(p.max_ttl, 0);
	assert_int_equal(p.explicit_max_ttl, 0);
	assert_int_equal(p.period, 0);
	assert_int_equal(p.num_uses, 0);
	assert_false(p.no_default_policy);
	assert_int_equal(p.policies.len, 0);
	assert_int_equal(p.bound_cidrs.len, 0);
	assert_string_equal(p.type, "default");
	token_params_release(&p);
	token_params_release(&p); /* released twice is fine */
}

static void test_parse_present_and_absent(void **state)
{
	(void)state;
	struct token_params p;
	token_params_init(&p);

	/* Nothing given: nothing changes. */
	parse_ok("{\"bind_secret_id\": false}", &p);
	assert_int_equal(p.ttl, 0);
	assert_string_equal(p.type, "default");

	parse_ok("{\"token_ttl\": \"1h\", \"token_max_ttl\": 7200, \"token_explicit_max_ttl\": \"3h\","
	         " \"token_period\": 0, \"token_policies\": \"web, Ops ,web,,default\","
	         " \"token_bound_cidrs\": [\"10.0.0.0/8\", \" 127.0.0.1 \", \"::1/128\"],"
	         " \"token_no_default_policy\": \"true\", \"token_num_uses\": \"3\","
	         " \"token_type\": \"service\"}",
	         &p);
	assert_int_equal(p.ttl, 3600);
	assert_int_equal(p.max_ttl, 7200);
	assert_int_equal(p.explicit_max_ttl, 3 * 3600);
	assert_int_equal(p.period, 0);
	/* Policies normalised, sorted, unique; CIDRs trimmed, in order. */
	list_is(&p.policies, 3, "default", "ops", "web");
	list_is(&p.bound_cidrs, 3, "10.0.0.0/8", "127.0.0.1", "::1/128");
	assert_true(p.no_default_policy);
	assert_int_equal(p.num_uses, 3);
	assert_string_equal(p.type, "service");

	/* An update touches only what it names. */
	parse_ok("{\"token_ttl\": 60, \"token_type\": \"\"}", &p);
	assert_int_equal(p.ttl, 60);
	assert_string_equal(p.type, "default"); /* "" is Vault's default */
	assert_int_equal(p.max_ttl, 7200);
	assert_int_equal(p.num_uses, 3);
	list_is(&p.policies, 3, "default", "ops", "web");
	assert_true(p.no_default_policy);

	/* Lists are replaced, and may be emptied; null means absent. */
	parse_ok("{\"token_policies\": [], \"token_bound_cidrs\": \"\", \"token_ttl\": null}", &p);
	assert_int_equal(p.policies.len, 0);
	assert_int_equal(p.bound_cidrs.len, 0);
	assert_int_equal(p.ttl, 60);
	parse_ok("{\"token_no_default_policy\": false}", &p);
	assert_false(p.no_default_policy);
	token_params_release(&p);
}

static void test_parse_legacy_names(void **state)
{
	(void)state;
	struct token_params p;
	token_params_init(&p);
	parse_ok("{\"policies\": [\"a\", \"b\"], \"period\": \"30m\", \"bound_cidrs\": \"192.168.0.0/16\","
	         " \"ttl\": 10, \"max_ttl\": \"20s\", \"num_uses\": 2}",
	         &p);
	list_is(&p.policies, 2, "a", "b");
	assert_int_equal(p.period, 1800);
	list_is(&p.bound_cidrs, 1, "192.168.0.0/16");
	assert_int_equal(p.ttl, 10);
	assert_int_equal(p.max_ttl, 20);
	assert_int_equal(p.num_uses, 2);

	/* The token_ name wins when both are given. */
	parse_ok("{\"token_ttl\": 5, \"ttl\": 15, \"token_policies\": \"x\", \"policies\": \"y\","
	         " \"token_period\": 7, \"period\": 8, \"token_num_uses\": 4, \"num_uses\": 9}",
	         &p);
	assert_int_equal(p.ttl, 5);
	list_is(&p.policies, 1, "x");
	assert_int_equal(p.period, 7);
	assert_int_equal(p.num_uses, 4);
	token_params_release(&p);
}

static void test_parse_errors_name_the_field(void **state)
{
	(void)state;
	parse_fails("{\"token_type\": \"bogus\"}", true,
	            "token_type: must be one of service, batch, default-service, default-batch, default");
	parse_fails("{\"token_type\": 5}", false,
	            "token_type: must be one of service, batch, default-service, default-batch, default");
	parse_fails("{\"token_num_uses\": -1}", true, "token_num_uses: cannot be negative");
	parse_fails("{\"num_uses\": \"-2\"}", true, "num_uses: cannot be negative");
	parse_fails("{\"token_num_uses\": \"lots\"}", false, "token_num_uses: expected an integer");
	/* Durations the router would have refused are refused here too. */
	parse_fails("{\"token_ttl\": -5}", false, "token_ttl: cannot be negative");
	parse_fails("{\"ttl\": -5}", false, "ttl: cannot be negative");
	parse_fails("{\"token_max_ttl\": -1}", false, "token_max_ttl: cannot be negative");
	parse_fails("{\"max_ttl\": -1}", false, "max_ttl: cannot be negative");
	parse_fails("{\"token_explicit_max_ttl\": -1}", false, "token_explicit_max_ttl: cannot be negative");
	parse_fails("{\"token_period\": -1}", false, "token_period: cannot be negative");
	parse_fails("{\"period\": -1}", false, "period: cannot be negative");
	parse_fails("{\"token_period\": \"soon\"}", false,
	            "token_period: expected a duration (seconds or a string such as \"30s\" or \"1h\")");
	parse_fails("{\"token_no_default_policy\": \"maybe\"}", false,
	            "token_no_default_policy: expected a boolean");
	parse_fails("{\"token_policies\": {\"a\": 1}}", false, "token_policies: expected a list of strings");
	parse_fails("{\"token_policies\": [\"ok\", \"bad name!\"]}", true,
	            "token_policies: invalid policy name \"bad name!\"");
	parse_fails("{\"policies\": \"a/b\"}", true, "policies: invalid policy name \"a/b\"");
	parse_fails("{\"token_bound_cidrs\": [\"10.0.0.0/8\", \"10.0.0.0/33\"]}", true,
	            "token_bound_cidrs: invalid CIDR block or IP address \"10.0.0.0/33\"");
	parse_fails("{\"bound_cidrs\": \"not-an-ip\"}", true,
	            "bound_cidrs: invalid CIDR block or IP address \"not-an-ip\"");
	parse_fails("{\"token_bound_cidrs\": \"::1/129\"}", true,
	            "token_bound_cidrs: invalid CIDR block or IP address \"::1/129\"");
	parse_fails("{\"token_ttl\": 100, \"token_max_ttl\": 50}", true,
	            "token_ttl: cannot be greater than token_max_ttl");
	parse_fails("{\"ttl\": 100, \"max_ttl\": 50}", true, "ttl: cannot be greater than max_ttl");
	parse_fails("{\"token_type\": \"batch\", \"token_period\": 60}", true,
	            "token_type: cannot be batch when token_period is set");
	parse_fails("{\"token_type\": \"default-batch\", \"period\": 60}", true,
	            "token_type: cannot be default-batch when period is set");
	parse_fails("{\"token_type\": \"batch\", \"token_num_uses\": 1}", true,
	            "token_type: cannot be batch when token_num_uses is set");
}

/* A refused update leaves p as it was; cross-field rules see p's values. */
static void test_parse_refused_update_keeps_params(void **state)
{
	(void)state;
	struct token_params p;
	struct response resp;
	token_params_init(&p);
	parse_ok("{\"token_ttl\": 30, \"token_max_ttl\": 50, \"token_policies\": \"a\","
	         " \"token_bound_cidrs\": \"10.0.0.1\"}",
	         &p);

	assert_int_equal(parse("{\"token_policies\": \"b\", \"token_ttl\": 100}", &p, &resp),
	                 TROVE_ERR_INVALID);
	error_is(&resp, "token_ttl: cannot be greater than token_max_ttl");
	response_release(&resp);
	assert_int_equal(parse("{\"token_bound_cidrs\": \"x\", \"token_ttl\": 40}", &p, &resp),
	                 TROVE_ERR_INVALID);
	response_release(&resp);
	assert_int_equal(parse("{\"token_num_uses\": 2, \"token_type\": \"batch\"}", &p, &resp),
	                 TROVE_ERR_INVALID);
	error_is(&resp, "token_type: cannot be batch when token_num_uses is set");
	response_release(&resp);
	assert_int_equal(p.ttl, 30);
	assert_int_equal(p.num_uses, 0);
	assert_string_equal(p.type, "default");
	list_is(&p.policies, 1, "a");
	list_is(&p.bound_cidrs, 1, "10.0.0.1");

	/* Raising the max in the same update makes the TTL valid. */
	parse_ok("{\"token_ttl\": 100, \"token_max_ttl\": 0}", &p);
	assert_int_equal(p.ttl, 100);
	token_params_release(&p);
}

/* --- read and storage forms -------------------------------------------------- */

static void test_to_json_shape(void **state)
{
	(void)state;
	struct token_params p;
	json_t *o = json_object();
	token_params_init(&p);
	token_params_to_json(&p, o);
	json_eq(o, "{\"token_ttl\":0,\"token_max_ttl\":0,\"token_explicit_max_ttl\":0,\"token_period\":0,"
	           "\"token_policies\":[],\"token_bound_cidrs\":[],\"token_no_default_policy\":false,"
	           "\"token_num_uses\":0,\"token_type\":\"default\"}");
	json_decref(o);

	parse_ok("{\"token_ttl\": \"1m\", \"max_ttl\": 120, \"token_period\": 30, \"policies\": \"p\","
	         " \"token_bound_cidrs\": \"::1\", \"token_num_uses\": 5, \"token_explicit_max_ttl\": 600,"
	         " \"token_type\": \"default-service\"}",
	         &p);
	o = json_object();
	json_object_set_new(o, "bind_secret_id", json_true()); /* the engine's own keys stay */
	token_params_to_json(&p, o);
	json_eq(
	    o, "{\"bind_secret_id\":true,"
	       "\"token_ttl\":60,\"token_max_ttl\":120,\"token_explicit_max_ttl\":600,\"token_period\":30,"
	       "\"token_policies\":[\"p\"],\"token_bound_cidrs\":[\"::1\"],\"token_no_default_policy\":false,"
	       "\"token_num_uses\":5,\"token_type\":\"default-service\","
	       "\"policies\":[\"p\"],\"period\":30,\"bound_cidrs\":[\"::1\"],\"ttl\":60,\"max_ttl\":120,"
	       "\"num_uses\":5}");
	assert_true(json_is_integer(json_object_get(o, "token_ttl")));
	json_decref(o);
	token_params_release(&p);
}

static void test_store_load_round_trip(void **state)
{
	(void)state;
	struct token_params p, q;
	token_params_init(&p);
	parse_ok(
	    "{\"token_ttl\": 61, \"token_max_ttl\": 62, \"token_explicit_max_ttl\": 63,"
	    " \"token_period\": 64, \"token_policies\": \"b,a\","
	    " \"token_bound_cidrs\": [\"10.1.0.0/16\", \"fe80::/10\"], \"token_no_default_policy\": true,"
	    " \"token_num_uses\": 65, \"token_type\": \"service\"}",
	    &p);
	json_t *s = token_params_store(&p);
	/* Through text, as engines keep it. */
	char *text = json_dumps(s, JSON_COMPACT);
	json_t *back = json_loads(text, 0, NULL);
	free(text);
	token_params_init(&q);
	assert_int_equal(token_params_load(back, &q), 0);
	assert_int_equal(q.ttl, 61);
	assert_int_equal(q.max_ttl, 62);
	assert_int_equal(q.explicit_max_ttl, 63);
	assert_int_equal(q.period, 64);
	list_is(&q.policies, 2, "a", "b");
	list_is(&q.bound_cidrs, 2, "10.1.0.0/16", "fe80::/10");
	assert_true(q.no_default_policy);
	assert_int_equal(q.num_uses, 65);
	assert_string_equal(q.type, "service");
	json_t *s2 = token_params_store(&q);
	assert_true(json_equal(s, s2));
	/* The storage form has the token_ keys only. */
	assert_int_equal(json_object_size(s), 9);
	json_decref(s);
	json_decref(s2);
	json_decref(back);
	token_params_release(&q);

	/* Absent keys are defaults; unknown keys are ignored. */
	json_t *partial = json_loads("{\"token_ttl\": 5, \"password_hash\": \"x\"}", 0, NULL);
	assert_int_equal(token_params_load(partial, &q), 0);
	assert_int_equal(q.ttl, 5);
	assert_string_equal(q.type, "default");
	assert_int_equal(q.policies.len, 0);
	json_decref(partial);
	token_params_release(&q);

	/* Loaded policies keep the invariant: sorted, unique. */
	json_t *unsorted = json_loads("{\"token_policies\": [\"b\", \"a\", \"b\"]}", 0, NULL);
	assert_int_equal(token_params_load(unsorted, &q), 0);
	list_is(&q.policies, 2, "a", "b");
	json_decref(unsorted);
	token_params_release(&q);
	token_params_release(&p);
}

static void test_load_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "[]",
	    "\"token_ttl\"",
	    "{\"token_ttl\": \"1h\"}",
	    "{\"token_max_ttl\": -1}",
	    "{\"token_explicit_max_ttl\": 1.5}",
	    "{\"token_period\": null}",
	    "{\"token_num_uses\": true}",
	    "{\"token_policies\": \"a\"}",
	    "{\"token_policies\": [\"a\", 1]}",
	    "{\"token_bound_cidrs\": [\"10.0.0.0/99\"]}",
	    "{\"token_bound_cidrs\": {}}",
	    "{\"token_no_default_policy\": \"true\"}",
	    "{\"token_type\": \"sometimes\"}",
	    "{\"token_type\": 1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct token_params p;
		json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		token_params_init(&p);
		if (token_params_load(j, &p) != TROVE_ERR_INTEGRITY)
			fail_msg("loading %s should fail with TROVE_ERR_INTEGRITY", bad[i]);
		/* p is left empty and safe to release */
		assert_int_equal(p.policies.len, 0);
		assert_string_equal(p.type, "default");
		token_params_release(&p);
		json_decref(j);
	}
	struct token_params p;
	token_params_init(&p);
	assert_int_equal(token_params_load(NULL, &p), TROVE_ERR_INTEGRITY);
	token_params_release(&p);
}

/* --- login_issue ----------------------------------------------------------------- */

struct fx {
	struct storage *phys;
	struct core *core;
	struct mount mount; /* a fake auth mount: path, config */
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 2764800, .max_lease_ttl = 2764800, .expiration_manual = true,
				   .engines = &builtin_engines, .audit_devices = &audit_device_types};
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	int r = -1;

	buf_init(&err, 1024);
	f->phys = storage_inmem_new();
	f->core = core_new(f->phys, &cc);
	if (core_initialize(f->core, 1, 1, NULL, &res, &err) != 0)
		goto out;
	if (core_unseal(f->core, res.keys[0], res.key_len, &st, &err) == 0 && !st.sealed)
		r = 0;
	core_init_result_release(&res);
	f->mount.path = "auth/userpass/";
	f->mount.type = "userpass";
	f->mount.auth = true;
	f->mount.core = f->core;
	f->mount.config.default_lease_ttl = 3600;
	f->mount.config.max_lease_ttl = 7200;
out:
	buf_release(&err);
	*state = f;
	return r;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	core_free(f->core);
	storage_free(f->phys);
	free(f);
	return 0;
}

struct issued {
	int r;
	struct response resp;
	struct token_entry *e; /* the stored entry (looked up without a use) */
};

/* Runs login_issue for user ann on the fake mount. */
static void issue(struct fx *f, const struct login_grant *g, struct issued *out)
{
	struct request req;

	memset(out, 0, sizeof(*out));
	response_init(&out->resp);
	request_init(&req);
	req.op = OP_UPDATE;
	req.core = f->core;
	req.path = xstrdup("auth/userpass/login/ann");
	req.rel = req.path + strlen("auth/userpass/");
	req.mount = &f->mount;
	req.data = json_object();
	out->r = login_issue(&req, &out->resp, g);
	req.mount = NULL; /* not a reference */
	request_release(&req);
	if (out->r == 0) {
		const char *tok = json_string_value(json_object_get(out->resp.auth, "client_token"));
		assert_non_null(tok);
		assert_int_equal(
		    token_lookup_ex(core_tokens(f->core), tok, NULL, TOKEN_LOOKUP_NO_USE, &out->e), 0);
	}
}

static void issued_release(struct issued *i)
{
	response_release(&i->resp);
	token_entry_free(i->e);
}

static json_t *auth_of(struct issued *i)
{
	if (i->r != 0) {
		char *e = i->resp.errors ? json_dumps(i->resp.errors, 0) : NULL;
		fail_msg("login_issue failed %d: %s", i->r, e ? e : "(no message)");
	}
	return i->resp.auth;
}

static int64_t auth_int(struct issued *i, const char *k)
{
	json_t *v = json_object_get(auth_of(i), k);
	assert_true(json_is_integer(v));
	return (int64_t)json_integer_value(v);
}

static size_t nwarnings(const struct response *resp)
{
	return resp->warnings ? json_array_size(resp->warnings) : 0;
}

static void warning_has(const struct response *resp, const char *needle)
{
	char *w = resp->warnings ? json_dumps(resp->warnings, 0) : NULL;
	if (!w || !strstr(w, needle))
		fail_msg("warnings %s should mention %s", w ? w : "(none)", needle);
	free(w);
}

static void test_login_defaults_and_auth_shape(void **state)
{
	struct fx *f = *state;
	struct token_params p;
	struct issued i;
	json_t *meta = json_pack("{s:s}", "username", "ann");
	token_params_init(&p);
	struct login_grant g = {.params = &p, .display_name = "userpass-ann", .metadata = meta};

	issue(f, &g, &i);
	json_t *a = auth_of(&i);
	static const char *const keys[] = {
	    "client_token", "accessor",        "policies",  "token_policies", "identity_policies",
	    "metadata",     "lease_duration",  "renewable", "entity_id",      "token_type",
	    "orphan",       "mfa_requirement", "num_uses"};
	assert_int_equal(json_object_size(a), sizeof(keys) / sizeof(keys[0]));
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (!json_object_get(a, keys[k]))
			fail_msg("auth block lacks %s", keys[k]);
	assert_int_equal(strncmp(json_string_value(json_object_get(a, "client_token")), "hvs.", 4), 0);
	assert_int_equal(strlen(json_string_value(json_object_get(a, "accessor"))), TOKEN_ACCESSOR_LEN);
	json_eq(json_object_get(a, "policies"), "[\"default\"]");
	json_eq(json_object_get(a, "token_policies"), "[\"default\"]");
	assert_true(json_is_null(json_object_get(a, "identity_policies")));
	json_eq(json_object_get(a, "metadata"), "{\"username\":\"ann\"}");
	assert_int_equal(auth_int(&i, "lease_duration"), 3600); /* the mount's default */
	assert_true(json_is_true(json_object_get(a, "renewable")));
	assert_string_equal(json_string_value(json_object_get(a, "entity_id")), "");
	assert_string_equal(json_string_value(json_object_get(a, "token_type")), "service");
	assert_true(json_is_true(json_object_get(a, "orphan")));
	assert_true(json_is_null(json_object_get(a, "mfa_requirement")));
	assert_int_equal(auth_int(&i, "num_uses"), 0);
	assert_int_equal(nwarnings(&i.resp), 0);

	/* The entry. */
	assert_true(i.e->orphan);
	assert_string_equal(i.e->parent_hash, "");
	assert_string_equal(i.e->path, "auth/userpass/login/ann");
	assert_string_equal(i.e->display_name, "userpass-ann");
	assert_string_equal(i.e->role, "");
	json_eq(i.e->meta, "{\"username\":\"ann\"}");
	assert_int_equal(i.e->ttl, 3600);
	assert_int_equal(i.e->period, 0);
	assert_int_equal(i.e->explicit_max_ttl, 0);
	assert_true(i.e->renewable);
	assert_int_equal(i.e->type, TOKEN_TYPE_SERVICE);
	issued_release(&i);

	/* No display name: the mount's path; a role and no metadata. */
	g.display_name = NULL;
	g.metadata = NULL;
	g.role = "builders";
	issue(f, &g, &i);
	assert_true(json_is_null(json_object_get(auth_of(&i), "metadata")));
	assert_string_equal(i.e->display_name, "userpass");
	assert_string_equal(i.e->role, "builders");
	assert_null(i.e->meta);
	issued_release(&i);

	/* Metadata must be strings. */
	json_t *badmeta = json_pack("{s:i}", "n", 1);
	g.metadata = badmeta;
	issue(f, &g, &i);
	assert_int_equal(i.r, TROVE_ERR_INVALID);
	issued_release(&i);
	json_decref(badmeta);

	json_decref(meta);
	token_params_release(&p);
}

static void test_login_ttl(void **state)
{
	struct fx *f = *state;
	struct token_params p;
	struct issued i;
	token_params_init(&p);
	struct login_grant g = {.params = &p, .display_name = "userpass-ann"};

	p.ttl = 600;
	issue(f, &g, &i);
	assert_int_equal(auth_int(&i, "lease_duration"), 600);
	assert_int_equal(i.e->ttl, 600);
	assert_int_equal(nwarnings(&i.resp), 0);
	issued_release(&i);

	/* Over the mount's max (7200): capped, with Vault's warning. */
	p.ttl = 9000;
	issue(f, &g, &i);
	assert_int_equal(auth_int(&i, "lease_duration"), 7200);
	warning_has(
	    &i.resp,
	    "TTL of 2h30m0s exceeded the effective max_ttl of 2h0m0s; TTL value is capped accordingly");
	issued_release(&i);

	/* The role's max cannot raise the mount's. */
	p.max_ttl = 10000;
	issue(f, &g, &i);
	assert_int_equal(auth_int(&i, "lease_duration"), 7200);
	assert_int_equal(nwarnings(&i.resp), 1);
	issued_release(&i);

	/* The role's max caps the mount's default. */
	p.ttl = 0;
	p.max_ttl = 1800;
	issue(f, &g, &i);
	assert_int_equal(auth_int(&i, "lease_duration"), 1800);
	warning_has(&i.resp, "TTL of 1h0m0s exceeded the effective max_ttl of 30m0s");
	issued_release(&i);

	/* The explicit max caps too, and is recorded. */
	p.max_ttl = 0;
	p.ttl = 1000;
	p.explicit_max_ttl = 900;
	issue(f, &g, &i);
	assert_int_equal(auth_int(&i, "lease_duration"), 900);
	assert_int_equal(i.e->explicit_max_ttl, 900);
	assert_int_equal(nwarnings(&i.resp), 1);
	issued_release(&i);

	/* The mount's tune moves the default. */
	p.explicit_max_ttl = 0;
	p.ttl = 0;
	f->mount.config.default_lease_ttl = 120;
	issue(f, &g, &i);
	assert_int_equal(auth_int(&i, "lease_duration"), 120);
	issued_release(&i);
	f->mount.config.default_lease_ttl = 3600;
	token_params_release(&p);
}

static void test_login_periodic(void **state)
{
	struct fx *f = *state;
	struct token_params p;
	struct issued i;
	token_params_init(&p);
	struct login_grant g = {.params = &p};

	p.period = 1200;
	p.ttl = 60; /* ignored for a periodic token */
	issue(f, &g, &i);
	assert_int_equal(auth_int(&i, "lease_duration"), 1200);
	assert_int_equal(i.e->period, 1200);
	assert_int_equal(i.e->ttl, 1200);
	assert_true(json_is_true(json_object_get(auth_of(&i), "renewable")));
	assert_int_equal(nwarnings(&i.resp), 0);
	issued_release(&i);

	p.period = 8000; /* over the mount's max */
	issue(f, &g, &i);
	assert_int_equal(auth_int(&i, "lease_duration"), 7200);
	assert_int_equal(i.e->period, 7200);
	warning_has(&i.resp,
	            "period of 2h13m20s exceeded the effective max_ttl of 2h0m0s; period value is capped");
	issued_release(&i);
	token_params_release(&p);
}

static void test_login_batch(void **state)
{
	struct fx *f = *state;
	struct token_params p;
	struct issued i;
	token_params_init(&p);
	struct login_grant g = {.params = &p, .display_name = "userpass-ann"};

	snprintf(p.type, sizeof(p.type), "%s", "batch");
	issue(f, &g, &i);
	json_t *a = auth_of(&i);
	assert_int_equal(strncmp(json_string_value(json_object_get(a, "client_token")), "hvb.", 4), 0);
	assert_string_equal(json_string_value(json_object_get(a, "accessor")), "");
	assert_string_equal(json_string_value(json_object_get(a, "token_type")), "batch");
	assert_true(json_is_false(json_object_get(a, "renewable")));
	assert_true(json_is_true(json_object_get(a, "orphan")));
	assert_int_equal(auth_int(&i, "lease_duration"), 3600);
	assert_int_equal(i.e->type, TOKEN_TYPE_BATCH);
	assert_string_equal(i.e->path, "auth/userpass/login/ann");
	issued_release(&i);

	/* "default" follows the mount's tune... */
	snprintf(p.type, sizeof(p.type), "%s", "default");
	f->mount.config.token_type = "default-batch";
	issue(f, &g, &i);
	assert_string_equal(json_string_value(json_object_get(auth_of(&i), "token_type")), "batch");
	issued_release(&i);
	/* ... which may itself say "default" (= default-service) */
	f->mount.config.token_type = "default";
	issue(f, &g, &i);
	assert_string_equal(json_string_value(json_object_get(auth_of(&i), "token_type")), "service");
	issued_release(&i);
	/* an explicit type wins over the tune */
	f->mount.config.token_type = "default-batch";
	snprintf(p.type, sizeof(p.type), "%s", "default-service");
	issue(f, &g, &i);
	assert_string_equal(json_string_value(json_object_get(auth_of(&i), "token_type")), "service");
	issued_release(&i);

	/* A tune of "service" or "batch" overrides the role. */
	f->mount.config.token_type = "service";
	snprintf(p.type, sizeof(p.type), "%s", "batch");
	issue(f, &g, &i);
	assert_string_equal(json_string_value(json_object_get(auth_of(&i), "token_type")), "service");
	issued_release(&i);
	f->mount.config.token_type = "batch";
	snprintf(p.type, sizeof(p.type), "%s", "service");
	issue(f, &g, &i);
	assert_string_equal(json_string_value(json_object_get(auth_of(&i), "token_type")), "batch");
	issued_release(&i);

	/* A batch token by tune cannot be periodic or have limited uses. */
	snprintf(p.type, sizeof(p.type), "%s", "default");
	p.period = 60;
	issue(f, &g, &i);
	assert_int_equal(i.r, TROVE_ERR_INVALID);
	issued_release(&i);
	p.period = 0;
	p.num_uses = 2;
	issue(f, &g, &i);
	assert_int_equal(i.r, TROVE_ERR_INVALID);
	issued_release(&i);
	f->mount.config.token_type = NULL;
	token_params_release(&p);
}

static void test_login_policies(void **state)
{
	struct fx *f = *state;
	struct token_params p;
	struct strlist extra;
	struct issued i;
	struct buf err;
	token_params_init(&p);
	strlist_init(&extra);
	buf_init(&err, 1024);
	struct login_grant g = {.params = &p, .display_name = "userpass-ann"};

	strlist_push(&p.policies, "dev");
	strlist_push(&extra, " Ops ");
	strlist_push(&extra, "dev");
	g.extra_policies = &extra;
	issue(f, &g, &i);
	json_eq(json_object_get(auth_of(&i), "policies"), "[\"default\",\"dev\",\"ops\"]");
	json_eq(json_object_get(auth_of(&i), "token_policies"), "[\"default\",\"dev\",\"ops\"]");
	assert_int_equal(nwarnings(&i.resp), 2);
	warning_has(&i.resp, "Policy \\\"dev\\\" does not exist");
	warning_has(&i.resp, "Policy \\\"ops\\\" does not exist");
	issued_release(&i);

	/* no_default_policy; an existing policy gets no warning. */
	assert_int_equal(policy_store_put(core_policies(f->core), "dev",
	                                  "path \"x\" {capabilities=[\"read\"]}",
	                                  strlen("path \"x\" {capabilities=[\"read\"]}"), &err),
	                 0);
	p.no_default_policy = true;
	g.extra_policies = NULL;
	issue(f, &g, &i);
	json_eq(json_object_get(auth_of(&i), "policies"), "[\"dev\"]");
	assert_int_equal(nwarnings(&i.resp), 0);
	assert_false(token_has_policy(i.e, "default"));
	issued_release(&i);

	/* No root through a login, from the role or from the method. */
	strlist_push(&p.policies, "root");
	issue(f, &g, &i);
	assert_int_equal(i.r, TROVE_ERR_INVALID);
	error_is(&i.resp, "auth methods cannot create root tokens");
	assert_null(i.resp.auth);
	issued_release(&i);
	strlist_release(&p.policies);
	strlist_release(&extra);
	strlist_push(&extra, "ROOT");
	g.extra_policies = &extra;
	issue(f, &g, &i);
	assert_int_equal(i.r, TROVE_ERR_INVALID);
	issued_release(&i);

	strlist_release(&extra);
	buf_release(&err);
	token_params_release(&p);
}

static void test_login_cidrs_and_uses(void **state)
{
	struct fx *f = *state;
	struct token_params p;
	struct issued i;
	struct token_entry *e = NULL;
	token_params_init(&p);
	struct login_grant g = {.params = &p, .display_name = "userpass-ann"};

	strlist_push(&p.bound_cidrs, "10.0.0.0/8");
	strlist_push(&p.bound_cidrs, "::1");
	p.num_uses = 3;
	issue(f, &g, &i);
	assert_int_equal(auth_int(&i, "num_uses"), 3);
	list_is(&i.e->bound_cidrs, 2, "10.0.0.0/8", "::1");
	assert_int_equal(i.e->num_uses, 3);

	const char *tok = json_string_value(json_object_get(auth_of(&i), "client_token"));
	struct token_store *ts = core_tokens(f->core);
	assert_int_equal(token_lookup_ex(ts, tok, "192.168.1.1", TOKEN_LOOKUP_NO_USE, &e),
	                 TROVE_ERR_PERMISSION);
	assert_int_equal(token_lookup_ex(ts, tok, "10.1.2.3", 0, &e), 0);
	assert_int_equal(e->num_uses, 2); /* one use consumed */
	token_entry_free(e);
	e = NULL;
	assert_int_equal(token_lookup_ex(ts, tok, "::1", TOKEN_LOOKUP_NO_USE, &e), 0);
	token_entry_free(e);
	issued_release(&i);
	token_params_release(&p);
}

static void test_token_auth_json(void **state)
{
	(void)state;
	struct token_entry *e = token_entry_new();
	strlist_push(&e->policies, "default");
	snprintf(e->accessor, sizeof(e->accessor), "%s", "acc");
	e->expire_time = 0;
	e->renewable = true;
	e->orphan = false;
	e->num_uses = -1;
	json_t *a = token_auth_json(e, "hvs.x", 0);
	json_eq(a, "{\"client_token\":\"hvs.x\",\"accessor\":\"acc\",\"policies\":[\"default\"],"
	           "\"token_policies\":[\"default\"],\"identity_policies\":null,\"metadata\":null,"
	           "\"lease_duration\":0,\"renewable\":false,\"entity_id\":\"\",\"token_type\":\"service\","
	           "\"orphan\":false,\"mfa_requirement\":null,\"num_uses\":0}");
	json_decref(a);

	e->expire_time = 12345;
	e->type = TOKEN_TYPE_BATCH;
	e->meta = json_pack("{s:s}", "k", "v");
	strlist_release(&e->policies);
	a = token_auth_json(e, NULL, 77);
	json_eq(
	    a,
	    "{\"client_token\":\"\",\"accessor\":\"\",\"policies\":[],\"token_policies\":[],"
	    "\"identity_policies\":null,\"metadata\":{\"k\":\"v\"},\"lease_duration\":77,\"renewable\":true,"
	    "\"entity_id\":\"\",\"token_type\":\"batch\",\"orphan\":false,\"mfa_requirement\":null,"
	    "\"num_uses\":0}");
	json_decref(a);
	token_entry_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_defaults),
	    cmocka_unit_test(test_parse_present_and_absent),
	    cmocka_unit_test(test_parse_legacy_names),
	    cmocka_unit_test(test_parse_errors_name_the_field),
	    cmocka_unit_test(test_parse_refused_update_keeps_params),
	    cmocka_unit_test(test_to_json_shape),
	    cmocka_unit_test(test_store_load_round_trip),
	    cmocka_unit_test(test_load_malformed),
	    cmocka_unit_test(test_token_auth_json),
	    cmocka_unit_test_setup_teardown(test_login_defaults_and_auth_shape, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_login_ttl, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_login_periodic, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_login_batch, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_login_policies, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_login_cidrs_and_uses, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
