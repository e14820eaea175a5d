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

/* includes and excludes are Go's expressions: Go's syntax, and none that
 * would be huge or slow to match (the C library's regcomp took gigabytes
 * for the nested counts). */
static void test_transformation_regex(void **state)
{
	json_t *secrets = parse("{\"db1_user\":\"a\",\"DB2_USER\":\"b\",\"dbx_user\":\"c\",\"other\":\"d\"}");
	json_t *dest, *data = NULL;
	struct op_transform t;
	char *err = NULL;

	(void)state;
	dest = transform("{\"transformation\":{\"excludeRaw\":true,\"includes\":[\"(?i)^db\\\\d+_(?:user|pass)$\"]}}", &t);
	assert_int_equal(op_dest_data(secrets, secrets, NULL, NULL, &t, &data, &err), 0);
	assert_string_equal(val(data, "db1_user"), "a");
	assert_string_equal(val(data, "DB2_USER"), "b");
	assert_int_equal(json_object_size(data), 2);
	json_decref(data);
	op_transform_release(&t);
	json_decref(dest);
	json_decref(secrets);

	/* matching a huge key stops at the work bound, with a reason */
	char *key = malloc(100001);
	memset(key, 'a', 100000);
	key[100000] = '\0';
	secrets = json_pack("{s:s}", key, "v");
	free(key);
	dest = transform("{\"transformation\":{\"includes\":[\"[ab]{1000}c\"]}}", &t);
	assert_int_not_equal(op_dest_data(secrets, secrets, NULL, NULL, &t, &data, &err), 0);
	assert_null(data);
	assert_non_null(strstr(err, "too much work"));
	free(err);
	err = NULL;
	op_transform_release(&t);
	json_decref(dest);
	json_decref(secrets);

	static const char *const big[] = {
		"{\"transformation\":{\"includes\":[\".\",\"((a{255}){255}){255}\"]}}",
		"{\"transformation\":{\"excludes\":[\"(a|(b|(c|(d|()))))*{1000}\"]}}",
		"{\"transformation\":{\"excludes\":[\"(a)\\\\1\"]}}",
	};
	static const char *const why[] = {
		"spec.destination.transformation.includes[1]: error parsing regexp: expression too large",
		"spec.destination.transformation.excludes[0]: error parsing regexp: invalid nested repetition operator",
		"spec.destination.transformation.excludes[0]: error parsing regexp: invalid escape sequence",
	};
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		dest = parse(big[i]);
		assert_int_not_equal(op_transform_parse(dest, &t, &err), 0);
		assert_string_equal(err, why[i]);
		free(err);
		op_transform_release(&t);
		json_decref(dest);
	}
}

/* A destination whose transformation has these templates (key, text
 * pairs, NULL-ended) and excludes everything else, parsed into t. */
static json_t *templates(const char *const *kv, struct op_transform *t)
{
	json_t *tmpls = json_object(), *dest;
	char *err = NULL;

	for (; kv[0]; kv += 2)
		json_object_set_new(tmpls, kv[0], json_pack("{s:s}", "text", kv[1]));
	dest = json_pack("{s:{s:b, s:[s], s:o}}", "transformation", "excludeRaw", 1, "excludes", ".*", "templates",
	                 tmpls);
	assert_int_equal(op_transform_parse(dest, t, &err), 0);
	assert_null(err);
	return dest;
}

/* The transformations VSO documents and tests, in other words and values:
 * they render in Trove's sprig dialect exactly as VSO renders them. */
static void test_transformation_vso_examples(void **state)
{
	static const char *const kv[] = {
		/* a connection URL from the resource's annotation and the credentials */
		"url",
		"{{- $host := get .Annotations \"shop.example/db-host\" -}}\n"
		"{{- printf \"postgresql://%s:%s@%s/orders?sslmode=verify-full\" (get .Secrets \"username\") "
		"(get .Secrets \"password\") $host -}}",
		/* helpers defined once and called, a properties file and JSON */
		"app.properties",
		"{{- define \"props\" -}}\n"
		"{{- printf \"db.host=%s\\n\" (get .Annotations \"shop.example/db-host\") -}}\n"
		"{{- range $k, $v := .Secrets -}}{{- if kindIs \"string\" $v }}{{ printf \"db.%s=%s\\n\" $k $v }}{{ end -}}"
		"{{- end -}}\n"
		"{{- end -}}\n"
		"{{- template \"props\" . -}}",
		"app.json",
		"{{- $copy := .Secrets | mustDeepCopy -}}\n"
		"{{- $_ := set $copy \"host\" (get .Annotations \"shop.example/db-host\") -}}\n"
		"{{- $_ := unset $copy \"nested\" -}}\n"
		"{{- mustToPrettyJson $copy -}}",
		/* every value base64-encoded, keys upper-cased, custom metadata too */
		"env",
		"{{- range $k, $v := .Secrets -}}{{- if kindIs \"string\" $v -}}\n"
		"{{- printf \"SEC_%s=%s\\n\" ($k | upper) ($v | b64enc) -}}{{- end }}{{ end -}}\n"
		"{{- range $k, $v := get .Metadata \"custom_metadata\" -}}\n"
		"{{- printf \"META_%s=%s\\n\" ($k | upper) $v -}}{{- end -}}",
		/* nested values: get, dig with a default, the resource's label */
		"nested",
		"{{ get (get .Secrets \"nested\") \"region\" }}/{{ dig \"nested\" \"zone\" \"any\" .Secrets }}/"
		"{{ get .Labels \"app\" | default \"none\" | quote }}/{{ .Secrets.username | trim | title }}",
		/* templates do not see each other's changes */
		"isolated",
		"{{ hasKey .Secrets \"host\" }}",
		NULL,
	};
	json_t *secrets = parse("{\"username\":\"v-orders-1\",\"password\":\"Xy<9&z\",\"nested\":{\"region\":\"eu\"}}");
	json_t *meta = parse("{\"custom_metadata\":{\"owner\":\"shop\",\"tier\":\"gold\"},\"version\":4}");
	json_t *obj = parse("{\"metadata\":{\"annotations\":{\"shop.example/db-host\":\"pg.db.svc:5432\"},"
	                    "\"labels\":{\"app\":\"orders\"}}}");
	json_t *dest, *data = NULL;
	struct op_transform t;
	char *err = NULL;

	(void)state;
	dest = templates(kv, &t);
	assert_int_equal(op_dest_data(secrets, secrets, meta, obj, &t, &data, &err), 0);
	assert_string_equal(val(data, "url"), "postgresql://v-orders-1:Xy<9&z@pg.db.svc:5432/orders?sslmode=verify-full");
	assert_string_equal(val(data, "app.properties"),
	                    "db.host=pg.db.svc:5432\ndb.password=Xy<9&z\ndb.username=v-orders-1\n");
	assert_string_equal(val(data, "app.json"), "{\n  \"host\": \"pg.db.svc:5432\",\n  \"password\": \"Xy\\u003c9\\u0026z\","
	                                           "\n  \"username\": \"v-orders-1\"\n}");
	assert_string_equal(val(data, "env"), "SEC_PASSWORD=WHk8OSZ6\nSEC_USERNAME=di1vcmRlcnMtMQ==\n"
	                                      "META_OWNER=shop\nMETA_TIER=gold\n");
	assert_string_equal(val(data, "nested"), "eu/any/\"orders\"/V-Orders-1");
	assert_string_equal(val(data, "isolated"), "false");
	assert_int_equal(json_object_size(data), 6); /* the templates only */
	json_decref(data);
	/* the secret the operator holds is untouched by set and unset */
	assert_non_null(json_object_get(secrets, "nested"));
	assert_null(json_object_get(secrets, "host"));
	op_transform_release(&t);
	json_decref(dest);
	json_decref(secrets);
	json_decref(meta);
	json_decref(obj);
}

/* A template in consul-template's language, or calling what VSO does not
 * offer, is refused when parsed, naming the field and the function; a
 * failure while rendering names the template. */
static void test_transformation_sprig_only(void **state)
{
	static const char *const secret_kv[] = { "k", "{{ with secret \"kv/data/x\" }}{{ .Data.data.a }}{{ end }}", NULL };
	static const char *const env_kv[] = { "k", "{{ env \"HOME\" }}", NULL };
	static const char *const fail_kv[] = { "k", "{{ required \"x\" .Secrets.y }}", NULL };
	const char *const *bad[] = { secret_kv, env_kv, fail_kv };
	static const char *const want[] = { "\"secret\"", "\"env\"", "\"required\"" };
	static const char *const boom_kv[] = { "boom", "{{ fail \"no password\" }}", NULL };
	json_t *secrets = parse("{\"a\":\"b\"}"), *data = NULL, *dest;
	struct op_transform t;
	char *err = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *tmpls = json_object();
		json_object_set_new(tmpls, bad[i][0], json_pack("{s:s}", "text", bad[i][1]));
		dest = json_pack("{s:{s:o}}", "transformation", "templates", tmpls);
		assert_int_not_equal(op_transform_parse(dest, &t, &err), 0);
		assert_non_null(strstr(err, "spec.destination.transformation.templates"));
		assert_non_null(strstr(err, want[i]));
		free(err);
		err = NULL;
		op_transform_release(&t);
		json_decref(dest);
	}
	dest = templates(boom_kv, &t);
	assert_int_not_equal(op_dest_data(secrets, secrets, NULL, NULL, &t, &data, &err), 0);
	assert_null(data);
	assert_non_null(strstr(err, "boom:1:"));
	assert_non_null(strstr(err, "no password"));
	free(err);
	op_transform_release(&t);
	json_decref(dest);
	json_decref(secrets);
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
		cmocka_unit_test(test_transformation_regex),
		cmocka_unit_test(test_transformation_vso_examples),
		cmocka_unit_test(test_transformation_sprig_only),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_secret_roundtrip),
		cmocka_unit_test(test_secret_bad_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
