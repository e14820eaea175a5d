/* test_op_dest.c — a destination Secret's data, MAC and object as Vault
 * Secrets Operator makes them (src/operator/op_dest_data.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "operator/op_dest.h"
#include "operator/op_sync.h"

/* The runtime's (op.h); defined here as the test links no runtime. */
const char *const OP_KIND_NAMES[OP_NKINDS] = {"VaultConnection", "VaultAuth", "VaultStaticSecret",
                                              "VaultDynamicSecret", "VaultPKISecret"};

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static const char *val(const json_t *data, const char *key)
{
	return json_string_value(json_object_get(data, key));
}

static json_t *transform(const char *dest_json, struct op_transform *t)
{
	json_t *dest = parse(dest_json);
	char *err = NULL;

	assert_int_equal(op_transform_parse(dest, t, &err), 0);
	assert_null(err);
	return dest;
}

/* kv-v2: the values, plus _raw with the whole data (data and metadata)
 * as Go writes JSON: keys sorted, no spaces, <>& escaped. */
static void test_kv2_data(void **state)
{
	json_t *answer = parse("{\"metadata\":{\"version\":3},\"data\":{\"user\":\"app\",\"n\":5,\"html\":\"<a&b>\","
	                       "\"obj\":{\"z\":1,\"a\":[true,null]}}}");
	json_t *data = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(op_dest_data(json_object_get(answer, "data"), answer, json_object_get(answer, "metadata"),
	                              NULL, NULL, &data, &err),
	                 0);
	assert_string_equal(val(data, "user"), "app");
	assert_string_equal(val(data, "n"), "5");
	assert_string_equal(val(data, "html"), "<a&b>"); /* a string is kept as it is */
	assert_string_equal(val(data, "obj"), "{\"a\":[true,null],\"z\":1}");
	assert_string_equal(val(data, "_raw"), "{\"data\":{\"html\":\"\\u003ca\\u0026b\\u003e\",\"n\":5,"
	                                       "\"obj\":{\"a\":[true,null],\"z\":1},\"user\":\"app\"},"
	                                       "\"metadata\":{\"version\":3}}");
	assert_int_equal(json_object_size(data), 5);
	json_decref(data);
	json_decref(answer);
}

/* A secret holding a "_raw" key of its own is refused, unless excludeRaw. */
static void test_raw_collision(void **state)
{
	json_t *secrets = parse("{\"_raw\":\"x\"}"), *data = NULL, *dest;
	struct op_transform t;
	char *err = NULL;

	(void)state;
	assert_int_not_equal(op_dest_data(secrets, secrets, NULL, NULL, NULL, &data, &err), 0);
	assert_non_null(strstr(err, "_raw"));
	free(err);
	dest = transform("{\"transformation\":{\"excludeRaw\":true}}", &t);
	assert_int_equal(op_dest_data(secrets, secrets, NULL, NULL, &t, &data, &err), 0);
	assert_string_equal(val(data, "_raw"), "x");
	json_decref(data);
	op_transform_release(&t);
	json_decref(dest);
	json_decref(secrets);
}

/* excludes first, then includes; templates see .Secrets, .Metadata,
 * .Annotations, .Labels and are never filtered. */
static void test_transformation(void **state)
{
	json_t *secrets = parse("{\"user\":\"app\",\"password\":\"pw\",\"api_key\":\"k\",\"api_url\":\"u\"}");
	json_t *meta = parse("{\"version\":7}");
	json_t *obj = parse("{\"metadata\":{\"annotations\":{\"team\":\"blue\"},\"labels\":{\"env\":\"prod\"}}}");
	json_t *dest, *data = NULL;
	struct op_transform t;
	char *err = NULL;

	(void)state;
	dest = transform("{\"transformation\":{\"excludeRaw\":true,\"excludes\":[\"^api_url$\"],"
	                 "\"includes\":[\"^api_\",\"user\"],\"templates\":{\"dsn\":{\"text\":"
	                 "\"{{ .Secrets.user }}:{{ .Secrets.password }}@v{{ .Metadata.version }}/"
	                 "{{ .Annotations.team }}/{{ .Labels.env }}\"}}}}",
	                 &t);
	assert_int_equal(op_dest_data(secrets, secrets, meta, obj, &t, &data, &err), 0);
	assert_string_equal(val(data, "dsn"), "app:pw@v7/blue/prod");
	assert_string_equal(val(data, "api_key"), "k");
	assert_string_equal(val(data, "user"), "app");
	assert_null(json_object_get(data, "api_url"));  /* excluded */
	assert_null(json_object_get(data, "password")); /* not included */
	assert_null(json_object_get(data, "_raw"));
	json_decref(data);
	op_transform_release(&t);
	json_decref(dest);
	json_decref(secrets);
	json_decref(meta);
	json_decref(obj);
}

/* What cannot be honoured is refused, naming the field. */
static void test_transformation_refused(void **state)
{
	static const char *const bad[] = {
		"{\"transformation\":{\"transformationRefs\":[{\"name\":\"st\"}]}}",
		"{\"transformation\":{\"includes\":[\"(\"]}}",
		"{\"transformation\":{\"templates\":{\"k\":{\"text\":\"{{ .Secrets.x \"}}}}",
		"{\"transformation\":{\"templates\":{\"_raw\":{\"text\":\"x\"}}}}",
		"{\"transformation\":{\"templates\":{\"k\":{}}}}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *dest = parse(bad[i]);
		struct op_transform t;
		char *err = NULL;

		assert_int_not_equal(op_transform_parse(dest, &t, &err), 0);
		assert_non_null(strstr(err, "spec.destination.transformation"));
		free(err);
		op_transform_release(&t);
		json_decref(dest);
	}
}

/* The MAC is VSO's: HMAC-SHA256 of Go's JSON of map[string][]byte,
 * checked against Python's hmac over the same text. */
static void test_mac(void **state)
{
	json_t *data = json_pack("{s:s, s:s, s:s}", "password", "s3cr3t", "_raw", "{\"password\":\"s3cr3t\"}", "n",
	                         "<a&b>");
	char *canon = op_dest_canonical(data), mac[64];
	json_t *other;

	(void)state;
	assert_string_equal(canon, "{\"_raw\":\"eyJwYXNzd29yZCI6InMzY3IzdCJ9\",\"n\":\"PGEmYj4=\","
	                           "\"password\":\"czNjcjN0\"}");
	free(canon);
	assert_int_equal(op_dest_mac((const unsigned char *)"0123456789abcdef", 16, data, mac), 0);
	assert_string_equal(mac, "k773ki6mV3KeHB6rd1ULvStUUkwhinJxA3GpVkGJTLA=");
	/* Order of insertion does not matter; one byte does. */
	other = json_pack("{s:s, s:s, s:s}", "n", "<a&b>", "_raw", "{\"password\":\"s3cr3t\"}", "password", "s3cr3t");
	assert_int_equal(op_dest_mac((const unsigned char *)"0123456789abcdef", 16, other, mac), 0);
	assert_string_equal(mac, "k773ki6mV3KeHB6rd1ULvStUUkwhinJxA3GpVkGJTLA=");
	json_object_set_new(other, "password", json_string("s3cr3T"));
	assert_int_equal(op_dest_mac((const unsigned char *)"0123456789abcdef", 16, other, mac), 0);
	assert_string_not_equal(mac, "k773ki6mV3KeHB6rd1ULvStUUkwhinJxA3GpVkGJTLA=");
	json_decref(other);
	json_decref(data);
}

/* A Secret's base64 data decodes back to the same bytes (and MAC). */
static void test_secret_roundtrip(void **state)
{
	json_t *obj = parse("{\"metadata\":{\"name\":\"vss\",\"namespace\":\"app\",\"uid\":\"u-1\"}}");
	json_t *dest = parse("{\"name\":\"creds\",\"labels\":{\"team\":\"blue\",\"app.kubernetes.io/managed-by\":\"me\"},"
	                     "\"annotations\":{\"a\":\"b\"},\"type\":\"kubernetes.io/tls\"}");
	json_t *data = json_pack("{s:s%}", "bin", "a\0b", (size_t)3);
	json_t *s = op_dest_secret(obj, OP_STATIC_SECRET, dest, data, NULL), *back;
	const json_t *ref;

	(void)state;
	assert_string_equal(op_json_str0(s, "metadata.name"), "creds");
	assert_string_equal(op_json_str0(s, "metadata.namespace"), "app");
	assert_string_equal(op_json_str0(s, "type"), "kubernetes.io/tls");
	assert_string_equal(op_json_str0(s, "data.bin"), "YQBi");
	/* VSO's owner labels win over the destination's. */
	assert_string_equal(json_string_value(json_object_get(op_json_at(s, "metadata.labels"),
	                                                      "app.kubernetes.io/managed-by")),
	                    "hashicorp-vso");
	assert_string_equal(json_string_value(json_object_get(op_json_at(s, "metadata.labels"), "team")), "blue");
	assert_string_equal(json_string_value(json_object_get(op_json_at(s, "metadata.labels"), OP_OWNER_UID_LABEL)),
	                    "u-1");
	assert_string_equal(json_string_value(json_object_get(op_json_at(s, "metadata.annotations"), "a")), "b");
	ref = json_array_get(op_json_at(s, "metadata.ownerReferences"), 0);
	assert_string_equal(op_json_str0(ref, "kind"), "VaultStaticSecret");
	assert_string_equal(op_json_str0(ref, "apiVersion"), "secrets.hashicorp.com/v1beta1");
	assert_string_equal(op_json_str0(ref, "uid"), "u-1");
	assert_true(op_json_bool(ref, "controller", false));
	assert_true(op_dest_owned_by(s, obj));
	back = op_secret_data(s);
	assert_true(json_equal(back, data));
	json_decref(back);
	/* Another resource's Secret, or one without owner labels, is not ours. */
	json_object_set_new(json_object_get(obj, "metadata"), "uid", json_string("u-2"));
	assert_false(op_dest_owned_by(s, obj));
	json_object_del(json_object_get(s, "metadata"), "labels");
	assert_false(op_dest_has_owner_labels(s));
	json_decref(s);
	json_decref(obj);
	json_decref(dest);
	json_decref(data);
}

static void test_secret_bad_base64(void **state)
{
	json_t *s = parse("{\"data\":{\"k\":\"not base64!\"}}");

	(void)state;
	assert_null(op_secret_data(s));
	json_decref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv2_data),
		cmocka_unit_test(test_raw_collision),
		cmocka_unit_test(test_transformation),
		cmocka_unit_test(test_transformation_refused),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_secret_roundtrip),
		cmocka_unit_test(test_secret_bad_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
