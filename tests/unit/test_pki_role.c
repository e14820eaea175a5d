/* The PKI role model (src/engines/pki/role.c) and the roles API
 * (role_routes.c): Vault's defaults, the checks a role write makes, the
 * stored and read shape, the key usages a role asks for; and roles/:name
 * and roles driven through the router of an in-memory core, on a mount of
 * a small engine that serves pki_role_routes alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "core_fixture.h"
#include "core/core.h"
#include "core/router.h"
#include "engines/engines.h"
#include "engines/pki/role.h"
#include "err.h"

/* --- the model ---------------------------------------------------------------------- */

/* Lays json over the defaults and validates; the result, and the message
 * in why (at least 512 bytes). */
static int make(struct pki_role *r, const char *json, char *why)
{
	struct buf b;
	json_t *o = json_loads(json, 0, NULL);
	assert_non_null(o);
	buf_init(&b, 1024);
	pki_role_init(r);
	int rc = pki_role_apply_json(r, o, &b);
	if (rc == 0)
		rc = pki_role_validate(r, &b);
	why[0] = '\0';
	if (b.data)
		strncpy(why, b.data, 511);
	buf_release(&b);
	json_decref(o);
	return rc;
}

/* Whether json makes a valid role; when not, the message must start with
 * field. */
static bool valid(const char *json, const char *field)
{
	struct pki_role r;
	char why[512];
	int rc = make(&r, json, why);
	pki_role_release(&r);
	if (rc != 0 && field)
		assert_int_equal(strncmp(why, field, strlen(field)), 0);
	return rc == 0;
}

static void test_defaults(void **state)
{
	(void)state;
	struct pki_role r;
	char why[512];
	assert_int_equal(make(&r, "{}", why), 0);
	assert_string_equal(r.key_type, "rsa");
	assert_int_equal(r.key_bits, 2048);
	assert_int_equal(r.signature_bits, 256);
	assert_int_equal(r.ttl, 0);
	assert_int_equal(r.max_ttl, 0);
	assert_int_equal(r.not_before_duration, 30);
	assert_true(r.allow_localhost && r.server_flag && r.client_flag && r.enforce_hostnames &&
	            r.require_cn);
	assert_true(r.use_csr_common_name && r.use_csr_sans && r.allow_ip_sans &&
	            r.allow_wildcard_certificates);
	assert_false(r.allow_any_name || r.allow_subdomains || r.allow_bare_domains || r.allow_glob_domains);
	assert_false(r.code_signing_flag || r.email_protection_flag || r.no_store || r.generate_lease);
	assert_int_equal(r.key_usage.len, 3);
	assert_string_equal(r.key_usage.items[0], "DigitalSignature");
	assert_int_equal(pki_role_key_usage_bits(&r),
	                 KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT | KU_KEY_ENCIPHERMENT);
	assert_int_equal(r.cn_validations.len, 2);
	assert_string_equal(r.issuer_ref, "default");
	assert_string_equal(r.serial_number_source, "json-csr");
	assert_int_equal(r.allowed_domains.len, 0);

	/* the read shape: Vault's names and types */
	json_t *j = pki_role_to_json(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "key_bits")), 2048);
	assert_true(json_is_integer(json_object_get(j, "ttl")));
	assert_true(json_is_array(json_object_get(j, "allowed_domains")));
	assert_true(json_is_true(json_object_get(j, "allow_localhost")));
	assert_string_equal(json_string_value(json_object_get(j, "key_type")), "rsa");
	assert_non_null(json_object_get(j, "allowed_uri_sans_template"));
	assert_non_null(json_object_get(j, "basic_constraints_valid_for_non_ca"));

	/* stored and loaded again: the same role */
	struct pki_role back;
	struct buf b;
	buf_init(&b, 256);
	pki_role_init(&back);
	assert_int_equal(pki_role_apply_json(&back, j, &b), 0);
	json_t *j2 = pki_role_to_json(&back);
	assert_true(json_equal(j, j2));
	json_decref(j);
	json_decref(j2);
	pki_role_release(&back);
	pki_role_release(&r);
	buf_release(&b);
}

static void test_key_sizes(void **state)
{
	(void)state;
	struct pki_role r;
	char why[512];
	assert_true(valid("{\"key_bits\": 4096}", NULL));
	assert_true(valid("{\"key_bits\": 8192}", NULL));
	assert_false(valid("{\"key_bits\": 1024}", "key_bits: "));
	assert_false(valid("{\"key_bits\": 256}", "key_bits: "));
	assert_true(valid("{\"key_type\": \"ec\", \"key_bits\": 384}", NULL));
	assert_false(valid("{\"key_type\": \"ec\", \"key_bits\": 2048}", "key_bits: "));
	assert_false(valid("{\"key_type\": \"ec\", \"key_bits\": 255}", "key_bits: "));
	assert_false(valid("{\"key_type\": \"RSA\"}", "key_type: "));
	assert_false(valid("{\"key_type\": \"dsa\"}", "key_type: "));
	assert_true(valid("{\"key_type\": \"ed25519\"}", NULL));
	assert_true(valid("{\"key_type\": \"any\"}", NULL));
	assert_false(valid("{\"signature_bits\": 128}", "signature_bits: "));
	assert_true(valid("{\"signature_bits\": 512}", NULL));
	assert_false(valid("{\"key_bits\": \"lots\"}", "key_bits: "));
	/* defaults by type */
	assert_int_equal(make(&r, "{\"key_type\": \"ec\"}", why), 0);
	assert_int_equal(r.key_bits, 256);
	assert_int_equal(r.signature_bits, 256);
	pki_role_release(&r);
	assert_int_equal(make(&r, "{\"key_type\": \"ec\", \"key_bits\": 521}", why), 0);
	assert_int_equal(r.signature_bits, 512);
	pki_role_release(&r);
	assert_int_equal(make(&r, "{\"key_type\": \"ed25519\"}", why), 0);
	assert_int_equal(r.key_bits, 0);
	assert_int_equal(r.signature_bits, 0);
	pki_role_release(&r);
}

static void test_usages_and_oids(void **state)
{
	(void)state;
	struct pki_role r;
	struct strlist oids;
	char why[512];
	assert_true(valid("{\"key_usage\": \"certsign, CRLSign,KeyUsageDigitalSignature\"}", NULL));
	assert_false(valid("{\"key_usage\": [\"DigitalSignature\", \"Telepathy\"]}", "key_usage: "));
	assert_true(valid("{\"key_usage\": []}", NULL));
	assert_true(valid(
	    "{\"ext_key_usage\": [\"ServerAuth\", \"ExtKeyUsageTimeStamping\", \"ocspsigning\"]}", NULL));
	assert_false(valid("{\"ext_key_usage\": \"ServerAuthentication\"}", "ext_key_usage: "));
	assert_true(valid("{\"ext_key_usage_oids\": \"1.3.6.1.4.1.311.20.2.2,2.999\"}", NULL));
	const char *bad[] = {"1", "1.2.x", "3.1", "1.40", "01.2", "1..2", "1.2.", "-1.2", "1.+2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(pki_oid_ok(bad[i]));
	assert_true(pki_oid_ok("0.39"));
	assert_false(valid("{\"ext_key_usage_oids\": [\"1.2.x\"]}", "ext_key_usage_oids: "));
	assert_false(valid("{\"policy_identifiers\": [\"nope\"]}", "policy_identifiers: "));

	assert_int_equal(
	    make(&r,
	         "{\"client_flag\": false, \"code_signing_flag\": true, \"key_usage\": \"CertSign\", "
	         "\"ext_key_usage\": [\"ServerAuth\", \"TimeStamping\"], \"ext_key_usage_oids\": \"1.2.3\"}",
	         why),
	    0);
	assert_int_equal(pki_role_key_usage_bits(&r), KU_KEY_CERT_SIGN);
	strlist_init(&oids);
	pki_role_ext_key_usage_oids(&r, &oids);
	assert_int_equal(oids.len, 4); /* serverAuth once */
	assert_string_equal(oids.items[0], "1.3.6.1.5.5.7.3.1");
	assert_string_equal(oids.items[1], "1.3.6.1.5.5.7.3.3");
	assert_string_equal(oids.items[2], "1.3.6.1.5.5.7.3.8");
	assert_string_equal(oids.items[3], "1.2.3");
	strlist_release(&oids);
	pki_role_release(&r);
}

static void test_other_checks(void **state)
{
	(void)state;
	struct pki_role r;
	char why[512];
	assert_true(valid("{\"allowed_other_sans\": \"*\"}", NULL));
	assert_true(valid("{\"allowed_other_sans\": [\"1.2.3;UTF8:*\", \"1.2.4;utf-8:x\"]}", NULL));
	assert_false(valid("{\"allowed_other_sans\": [\"*\", \"1.2.3;UTF8:x\"]}", "allowed_other_sans: "));
	assert_false(valid("{\"allowed_other_sans\": \"1.2.3:UTF8:x\"}", "allowed_other_sans: "));
	assert_false(valid("{\"allowed_other_sans\": \"1.2.3;IA5:x\"}", "allowed_other_sans: "));
	assert_false(valid("{\"allowed_other_sans\": \"x.y;UTF8:x\"}", "allowed_other_sans: "));
	assert_false(valid("{\"cn_validations\": \"dns\"}", "cn_validations: "));
	assert_false(valid("{\"cn_validations\": \"email,email\"}", "cn_validations: "));
	assert_false(valid("{\"cn_validations\": \"disabled,hostname\"}", "cn_validations: "));
	assert_true(valid("{\"cn_validations\": \"Disabled\"}", NULL));
	assert_int_equal(make(&r, "{\"cn_validations\": []}", why), 0); /* empty: the default */
	assert_int_equal(r.cn_validations.len, 2);
	pki_role_release(&r);
	assert_false(valid("{\"serial_number_source\": \"csr\"}", "serial_number_source: "));
	assert_true(valid("{\"not_after\": \"9999-12-31T23:59:59Z\"}", NULL));
	assert_true(valid("{\"not_after\": \"2030-06-30T12:00:00.5+02:00\"}", NULL));
	assert_true(valid("{\"not_after\": \"2028-02-29T00:00:00Z\"}", NULL));
	assert_false(valid("{\"not_after\": \"2027-02-29T00:00:00Z\"}", "not_after: "));
	assert_false(valid("{\"not_after\": \"2030-12-31\"}", "not_after: "));
	assert_false(valid("{\"not_after\": \"2030-13-01T00:00:00Z\"}", "not_after: "));
	assert_false(valid("{\"not_after\": \"2030-12-31T24:00:00Z\"}", "not_after: "));
	assert_false(valid("{\"not_after\": \"2030-12-31T23:59:59\"}", "not_after: "));
	/* ttl and max_ttl, as Vault */
	assert_true(valid("{\"ttl\": \"2h\", \"max_ttl\": 0}", NULL));
	assert_true(valid("{\"ttl\": \"1h\", \"max_ttl\": \"1h\"}", NULL));
	assert_false(valid("{\"ttl\": \"2h\", \"max_ttl\": \"1h\"}", "\"ttl\""));
	assert_false(valid("{\"ttl\": \"forever\"}", "ttl: "));
	assert_false(valid("{\"ttl\": -5}", "ttl: "));
	assert_false(valid("{\"allow_localhost\": \"maybe\"}", "allow_localhost: "));
	/* no_store turns generate_lease off; an empty issuer_ref is the default */
	assert_int_equal(
	    make(&r, "{\"no_store\": true, \"generate_lease\": true, \"issuer_ref\": \"\"}", why), 0);
	assert_false(r.generate_lease);
	assert_string_equal(r.issuer_ref, "default");
	pki_role_release(&r);
	assert_int_equal(make(&r, "{\"ttl\": \"1h30m\", \"not_before_duration\": 60}", why), 0);
	assert_int_equal(r.ttl, 5400);
	assert_int_equal(r.not_before_duration, 60);
	pki_role_release(&r);
	/* names */
	assert_true(pki_role_name_ok("web"));
	assert_true(pki_role_name_ok("web-server.prod_1"));
	assert_false(pki_role_name_ok("-web"));
	assert_false(pki_role_name_ok("web."));
	assert_false(pki_role_name_ok("we b"));
	assert_false(pki_role_name_ok(""));
}

/* --- the routes, through an in-memory core ----------------------------------------------- */

static const struct route *const role_tables[] = {pki_role_routes, NULL};
static const struct engine roles_engine = {.type = "pki", .tables = role_tables};

static const struct engine *lookup(const char *type, const json_t *options, bool auth)
{
	if (!auth && strcmp(type, "pki") == 0)
		return &roles_engine;
	return builtin_engines.lookup(type, options, auth);
}
static const struct engine_registry with_roles = {.lookup = lookup};

static json_t *data_of(const json_t *b, const char *k)
{
	return json_object_get(json_object_get(b, "data"), k);
}

static void test_routes(void **state)
{
	(void)state;
	struct core_fixture f;
	core_fixture_start(&f, &with_roles, 600, 7200);
	struct core *core = f.core;
	json_t *b;
	assert_int_equal(fixture_call(core, "POST", "/v1/sys/mounts/pki", "{\"type\": \"pki\"}", NULL), 204);

	/* no roles yet */
	assert_int_equal(fixture_call(core, "LIST", "/v1/pki/roles", NULL, NULL), 404);
	assert_int_equal(fixture_call(core, "GET", "/v1/pki/roles/web", NULL, NULL), 404);

	/* create: the answer is the role, as a read gives it */
	assert_int_equal(
	    fixture_call(core, "POST", "/v1/pki/roles/web",
	         "{\"allowed_domains\": \"example.com\", \"allow_subdomains\": true, \"ttl\": \"1h\", "
	         "\"ext_key_usage\": [\"ServerAuth\"]}",
	         &b),
	    200);
	assert_int_equal(json_integer_value(data_of(b, "ttl")), 3600);
	json_decref(b);
	assert_int_equal(fixture_call(core, "GET", "/v1/pki/roles/web", NULL, &b), 200);
	assert_string_equal(json_string_value(json_array_get(data_of(b, "allowed_domains"), 0)),
	                    "example.com");
	assert_true(json_is_true(data_of(b, "allow_subdomains")));
	assert_int_equal(json_integer_value(data_of(b, "key_bits")), 2048); /* defaults */
	assert_string_equal(json_string_value(data_of(b, "key_type")), "rsa");
	assert_int_equal(json_array_size(data_of(b, "key_usage")), 3);
	assert_int_equal(json_integer_value(data_of(b, "not_before_duration")), 30);
	assert_string_equal(json_string_value(data_of(b, "issuer_ref")), "default");
	json_decref(b);

	/* PATCH merges: fields not sent keep their stored value */
	assert_int_equal(fixture_call(core, "PATCH", "/v1/pki/roles/web", "{\"key_type\": \"ec\"}", &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "key_bits: 2048")); /* the stored size is kept */
	json_decref(b);
	assert_int_equal(fixture_call(core, "PATCH", "/v1/pki/roles/web",
	                      "{\"max_ttl\": \"2h\", \"key_type\": \"ec\", \"key_bits\": 0}", &b),
	                 200);
	json_decref(b);
	assert_int_equal(fixture_call(core, "GET", "/v1/pki/roles/web", NULL, &b), 200);
	assert_int_equal(json_integer_value(data_of(b, "max_ttl")), 7200);
	assert_int_equal(json_integer_value(data_of(b, "ttl")), 3600);
	assert_int_equal(json_integer_value(data_of(b, "key_bits")), 256);
	assert_string_equal(json_string_value(json_array_get(data_of(b, "allowed_domains"), 0)),
	                    "example.com");
	assert_string_equal(json_string_value(json_array_get(data_of(b, "ext_key_usage"), 0)), "ServerAuth");
	json_decref(b);
	/* a PATCH that breaks a rule changes nothing */
	assert_int_equal(fixture_call(core, "PATCH", "/v1/pki/roles/web", "{\"ttl\": \"3h\"}", &b), 400);
	json_decref(b);
	assert_int_equal(fixture_call(core, "GET", "/v1/pki/roles/web", NULL, &b), 200);
	assert_int_equal(json_integer_value(data_of(b, "ttl")), 3600);
	json_decref(b);
	assert_int_equal(fixture_call(core, "PATCH", "/v1/pki/roles/nothing", "{\"ttl\": 5}", NULL), 404);

	/* POST replaces, as Vault's role write: fields not sent are defaults */
	assert_int_equal(fixture_call(core, "POST", "/v1/pki/roles/web", "{\"allow_any_name\": true}", NULL), 200);
	assert_int_equal(fixture_call(core, "GET", "/v1/pki/roles/web", NULL, &b), 200);
	assert_int_equal(json_array_size(data_of(b, "allowed_domains")), 0);
	assert_int_equal(json_integer_value(data_of(b, "ttl")), 0);
	assert_true(json_is_true(data_of(b, "allow_any_name")));
	json_decref(b);

	/* bad input: 400 naming the field, nothing stored */
	assert_int_equal(fixture_call(core, "POST", "/v1/pki/roles/bad", "{\"key_bits\": 1024}", &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "key_bits"));
	json_decref(b);
	assert_int_equal(fixture_call(core, "POST", "/v1/pki/roles/bad", "{\"key_bits\": 9000}", &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "key_bits"));
	json_decref(b);
	assert_int_equal(fixture_call(core, "POST", "/v1/pki/roles/bad", "{\"key_usage\": \"Everything\"}", &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "key_usage"));
	json_decref(b);
	assert_int_equal(fixture_call(core, "POST", "/v1/pki/roles/bad", "{\"ttl\": \"soon\"}", &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "ttl"));
	json_decref(b);
	assert_int_equal(fixture_call(core, "GET", "/v1/pki/roles/bad", NULL, NULL), 404);
	assert_int_equal(fixture_call(core, "POST", "/v1/pki/roles/-bad", "{}", &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "name"));
	json_decref(b);

	/* list, delete */
	assert_int_equal(fixture_call(core, "POST", "/v1/pki/roles/api", "{}", NULL), 200);
	assert_int_equal(fixture_call(core, "LIST", "/v1/pki/roles", NULL, &b), 200);
	json_t *keys = data_of(b, "keys");
	assert_int_equal(json_array_size(keys), 2);
	assert_string_equal(json_string_value(json_array_get(keys, 0)), "api");
	assert_string_equal(json_string_value(json_array_get(keys, 1)), "web");
	json_decref(b);
	assert_int_equal(fixture_call(core, "DELETE", "/v1/pki/roles/web", NULL, NULL), 204);
	assert_int_equal(fixture_call(core, "DELETE", "/v1/pki/roles/web", NULL, NULL),
	                 204); /* again: not an error */
	assert_int_equal(fixture_call(core, "GET", "/v1/pki/roles/web", NULL, NULL), 404);
	assert_int_equal(fixture_call(core, "LIST", "/v1/pki/roles/", NULL, NULL), 200); /* the CLI's spelling */
	assert_int_equal(fixture_call(core, "GET", "/v1/pki/roles?list=true", NULL, &b), 200);
	assert_int_equal(json_array_size(data_of(b, "keys")), 1);
	json_decref(b);

	/* the OpenAPI document lists every field of the role with its default */
	assert_int_equal(fixture_call(core, "GET", "/v1/sys/internal/specs/openapi", NULL, &b), 200);
	json_t *item = json_object_get(json_object_get(b, "paths"), "/pki/roles/{name}");
	assert_non_null(item);
	json_t *props = json_object_get(
	    json_object_get(
	        json_object_get(
	            json_object_get(
	                json_object_get(
	                    json_object_get(json_object_get(json_object_get(item, "post"), "requestBody"),
	                                    "content"),
	                    "application/json"),
	                "schema"),
	            "properties"),
	        "key_usage"),
	    "default");
	assert_int_equal(json_array_size(props), 3);
	json_decref(b);

	core_fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),        cmocka_unit_test(test_key_sizes),
	    cmocka_unit_test(test_usages_and_oids), cmocka_unit_test(test_other_checks),
	    cmocka_unit_test(test_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
