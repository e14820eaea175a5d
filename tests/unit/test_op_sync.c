/* test_op_sync.c — the reconcilers of `trove secrets-operator` against an
 * in-memory API server and Trove (op_fake.c): what they write, when, and
 * what they leave alone. The pure parts (renewal times, PKI shaping,
 * restart decisions) first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "op_fake.h"
#include "operator/op_restart.h"
#include "operator/op_sync.h"

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static void test_times(void **state)
{
	(void)state;
	assert_int_equal(op_lease_renew_ms(300, 67), 201000);
	assert_int_equal(op_lease_renew_ms(300, 0), 201000); /* VSO's default */
	assert_int_equal(op_lease_renew_ms(300, 95), 270000); /* capped at 90 */
	assert_int_equal(op_lease_renew_ms(300, 50), 150000);
	assert_int_equal(op_lease_renew_ms(0, 50), 1000);
	assert_int_equal(op_pki_renew_ms(10000, 600, 6000), 3400000);
	assert_int_equal(op_pki_renew_ms(10000, 600, 9500), 1000); /* inside the offset: now */
	/* Spread: within a tenth below, stable per key, different across keys. */
	{
		long a = op_spread_ms(60000, "uid-a"), b = op_spread_ms(60000, "uid-b");

		assert_true(a > 54000 && a <= 60000 && b > 54000 && b <= 60000);
		assert_int_equal(a, op_spread_ms(60000, "uid-a"));
		assert_int_not_equal(a, b);
		assert_int_equal(op_spread_ms(5, "x"), 5);
	}
}

static void test_pki_shape(void **state)
{
	json_t *answer = parse("{\"certificate\":\"CERT\",\"private_key\":\"KEY\",\"issuing_ca\":\"CA\","
	                       "\"ca_chain\":[\"CA\",\"ROOT\"],\"serial_number\":\"01\"}");
	json_t *data = parse("{\"certificate\":\"CERT\",\"private_key\":\"KEY\",\"issuing_ca\":\"CA\","
	                     "\"ca_chain\":\"[\\\"CA\\\",\\\"ROOT\\\"]\"}");

	(void)state;
	op_pki_shape(data, answer, true);
	assert_string_equal(op_json_str0(data, "ca_chain"), "CA\nROOT");
	assert_string_equal(json_string_value(json_object_get(data, "tls.crt")), "CERT\nCA\nROOT");
	assert_string_equal(json_string_value(json_object_get(data, "tls.key")), "KEY");
	assert_null(json_object_get(data, "ca.crt"));
	json_decref(data);
	/* No chain: the issuing CA completes tls.crt and is ca.crt. */
	json_object_del(answer, "ca_chain");
	data = parse("{\"certificate\":\"CERT\",\"private_key\":\"KEY\",\"issuing_ca\":\"CA\"}");
	op_pki_shape(data, answer, true);
	assert_string_equal(json_string_value(json_object_get(data, "tls.crt")), "CERT\nCA");
	assert_string_equal(json_string_value(json_object_get(data, "ca.crt")), "CA");
	json_decref(data);
	/* Not a TLS Secret: VSO's keys only. */
	data = parse("{\"certificate\":\"CERT\"}");
	op_pki_shape(data, answer, false);
	assert_null(json_object_get(data, "tls.crt"));
	json_decref(data);
	json_decref(answer);
}

static void test_restart_decision(void **state)
{
	const struct kube_resource *res = NULL;
	const char *type = NULL;
	json_t *p;

	(void)state;
	assert_false(op_restart_needed(NULL, "m1")); /* first sync */
	assert_false(op_restart_needed("", "m1"));
	assert_false(op_restart_needed("m1", "m1")); /* unchanged */
	assert_true(op_restart_needed("m1", "m2"));
	p = op_restart_patch("Deployment", "2026-12-06T19:00:00Z", &res, &type);
	assert_ptr_equal(res, &KUBE_DEPLOYMENTS);
	assert_string_equal(type, KUBE_STRATEGIC_PATCH);
	assert_string_equal(json_string_value(json_object_get(op_json_at(p, "spec.template.metadata.annotations"),
	                                                      OP_RESTARTED_AT)),
	                    "2026-12-06T19:00:00Z");
	json_decref(p);
	p = op_restart_patch("argo.Rollout", "2026-12-06T19:00:00Z", &res, &type);
	assert_ptr_equal(res, &KUBE_ARGO_ROLLOUTS);
	assert_string_equal(type, KUBE_MERGE_PATCH);
	assert_string_equal(op_json_str0(p, "spec.restartAt"), "2026-12-06T19:00:00Z");
	json_decref(p);
	assert_null(op_restart_patch("CronJob", "x", &res, &type));
}

/* ---- Flows ------------------------------------------------------------------- */

static struct op O;

static int setup(void **state)
{
	(void)state;
	fake_setup(&O);
	fake_default_auth();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_teardown(&O);
	return 0;
}

static void reconcile(enum op_kind kind, const char *ns, const char *name, struct op_outcome *out)
{
	op_reconcile(&O, kind, ns, name, out);
}

static void kv_set(const char *path, const char *json)
{
	json_object_set_new(FT.kv, path, parse(json));
}

static void expect_secret(const char *ns, const char *name, const char *key, const char *want)
{
	char *v = fake_secret_value(ns, name, key);

	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

static int enqueued(const char *key)
{
	size_t i;
	json_t *v;
	int n = 0;

	json_array_foreach (FK.enqueued, i, v)
		n += strcmp(json_string_value(v), key) == 0;
	return n;
}

static bool has_event(const char *reason, const char *text)
{
	const char *k;
	json_t *v;

	json_object_foreach (FK.objects, k, v)
		if (strncmp(k, "events/", 7) == 0 && strcmp(op_json_str0(v, "reason"), reason) == 0 &&
		    (text == NULL || strstr(op_json_str0(v, "message"), text)))
			return true;
	return false;
}

static void put_static(void)
{
	fake_put(&KUBE_DEPLOYMENTS, parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"app\"},\"spec\":{}}"));
	fake_put(&OP_RESOURCES[OP_STATIC_SECRET],
	         parse("{\"apiVersion\":\"secrets.hashicorp.com/v1beta1\",\"kind\":\"VaultStaticSecret\","
	               "\"metadata\":{\"name\":\"vss\",\"namespace\":\"app\"},"
	               "\"spec\":{\"type\":\"kv-v2\",\"mount\":\"secret\",\"path\":\"app\",\"refreshAfter\":\"30s\","
	               "\"destination\":{\"name\":\"creds\",\"create\":true},"
	               "\"rolloutRestartTargets\":[{\"kind\":\"Deployment\",\"name\":\"web\"}]}}"));
}

/* Created, left alone while unchanged, updated with one restart per
 * change, put back when edited by hand, kept when Trove is away. */
static void test_static_lifecycle(void **state)
{
	struct op_outcome out;
	json_t *secret, *edited, *old_mac;
	int patches;

	(void)state;
	kv_set("secret/data/app", "{\"data\":{\"user\":\"app\",\"password\":\"p1\"},\"metadata\":{\"version\":1}}");
	put_static();
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_false(out.failed);
	assert_true(out.requeue_after_ms > 27000 && out.requeue_after_ms <= 30000);
	expect_secret("app", "creds", "password", "p1");
	expect_secret("app", "creds", "_raw",
	             "{\"data\":{\"password\":\"p1\",\"user\":\"app\"},\"metadata\":{\"version\":1}}");
	assert_int_equal(fake_writes("POST secrets/app/creds"), 1);
	assert_int_equal(fake_writes("PATCH deployments/"), 0); /* never on the first sync */
	assert_int_equal(op_json_int(fake_get(&OP_RESOURCES[OP_STATIC_SECRET], "app", "vss"), "status.lastGeneration", 0),
	                 1);
	assert_true(strlen(op_json_str0(fake_get(&OP_RESOURCES[OP_STATIC_SECRET], "app", "vss"), "status.secretMAC")) >
	            40);
	assert_true(has_event("SecretSynced", NULL));
	assert_int_equal(FT.logins, 1);

	/* The Secret's own watch event after the write is not drift. */
	op_secret_event(&O, KUBE_ADDED, fake_get(&KUBE_SECRETS, "app", "creds"));
	assert_int_equal(enqueued("VaultStaticSecret/app/vss"), 0);

	/* Unchanged: one read of Trove, no write anywhere, no new login. */
	patches = fake_writes("PATCH ");
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_false(out.failed);
	assert_int_equal(fake_writes("POST secrets/app/"), 1);
	assert_int_equal(fake_writes("PUT secrets/"), 0);
	assert_int_equal(fake_writes("GET "), 0);
	assert_int_equal(fake_writes("PATCH "), patches);
	assert_int_equal(FT.logins, 1);
	assert_int_equal(fake_trove_requests("GET secret/data/app"), 2);

	/* Changed in Trove: written, and exactly one restart. */
	kv_set("secret/data/app", "{\"data\":{\"user\":\"app\",\"password\":\"p2\"},\"metadata\":{\"version\":2}}");
	old_mac = json_deep_copy(op_json_at(fake_get(&OP_RESOURCES[OP_STATIC_SECRET], "app", "vss"), "status.secretMAC"));
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	expect_secret("app", "creds", "password", "p2");
	assert_int_equal(fake_writes("PUT secrets/app/creds"), 1);
	assert_int_equal(fake_writes("PATCH deployments/app/web"), 1);
	/* A reconcile reading a cache that does not hold that status yet
	 * (the old MAC) writes nothing and restarts nothing. */
	json_object_set(json_object_get(fake_get(&OP_RESOURCES[OP_STATIC_SECRET], "app", "vss"), "status"), "secretMAC",
	                old_mac);
	json_decref(old_mac);
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_int_equal(fake_writes("PUT secrets/app/creds"), 1);
	assert_int_equal(fake_writes("PATCH deployments/app/web"), 1);
	assert_non_null(json_object_get(op_json_at(fake_get(&KUBE_DEPLOYMENTS, "app", "web"),
	                                           "spec.template.metadata.annotations"),
	                                OP_RESTARTED_AT));
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_int_equal(fake_writes("PATCH deployments/app/web"), 1);
	assert_int_equal(fake_writes("PUT secrets/app/creds"), 1);

	/* Edited by hand: the event enqueues the owner, the reconcile puts
	 * the data back, and nothing restarts (the data is what it was). */
	secret = fake_get(&KUBE_SECRETS, "app", "creds");
	json_object_set_new(json_object_get(secret, "data"), "password", json_string("aGFja2Vk"));
	edited = json_deep_copy(secret);
	op_secret_event(&O, KUBE_MODIFIED, edited);
	json_decref(edited);
	assert_int_equal(enqueued("VaultStaticSecret/app/vss"), 1);
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	expect_secret("app", "creds", "password", "p2");
	assert_int_equal(fake_writes("PUT secrets/app/creds"), 2);
	assert_int_equal(fake_writes("PATCH deployments/app/web"), 1);

	/* Deleted by hand: made again. */
	edited = json_deep_copy(fake_get(&KUBE_SECRETS, "app", "creds"));
	json_object_del(FK.objects, "secrets/app/creds");
	op_secret_event(&O, KUBE_DELETED, edited);
	json_decref(edited);
	assert_int_equal(enqueued("VaultStaticSecret/app/vss"), 2);
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	expect_secret("app", "creds", "password", "p2");
	assert_int_equal(fake_writes("POST secrets/app/creds"), 2);

	/* Trove away: the Secret keeps its data, status and an event say why. */
	FT.down = true;
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_true(out.failed);
	expect_secret("app", "creds", "password", "p2");
	assert_true(has_event("VaultClientError", "connection refused"));
	secret = fake_get(&OP_RESOURCES[OP_STATIC_SECRET], "app", "vss");
	assert_string_equal(op_json_str0(json_array_get(op_json_at(secret, "status.conditions"), 0), "status"), "False");
	assert_int_equal(fake_writes("PUT secrets/app/creds"), 2);
}

/* A Secret someone else made is not taken over; create: false needs it. */
static void test_static_ownership(void **state)
{
	struct op_outcome out;
	json_t *obj;

	(void)state;
	kv_set("secret/data/app", "{\"data\":{\"password\":\"p1\"},\"metadata\":{}}");
	put_static();
	fake_put(&KUBE_SECRETS, parse("{\"metadata\":{\"name\":\"creds\",\"namespace\":\"app\"},\"data\":{\"x\":\"eA==\"}}"));
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_true(out.failed);
	assert_true(has_event("SecretSyncError", "not the owner"));
	assert_null(fake_secret_value("app", "creds", "password"));
	/* overwrite: true takes over a Secret without owner labels. */
	obj = fake_get(&OP_RESOURCES[OP_STATIC_SECRET], "app", "vss");
	json_object_set_new(op_json_at(obj, "spec.destination") ? (json_t *)op_json_at(obj, "spec.destination") : obj,
	                    "overwrite", json_true());
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_false(out.failed);
	expect_secret("app", "creds", "password", "p1");
	/* create: false and no Secret: an error, nothing made. */
	json_object_del(FK.objects, "secrets/app/creds");
	json_object_set_new((json_t *)op_json_at(obj, "spec.destination"), "create", json_false());
	json_object_set_new((json_t *)op_json_at(obj, "metadata"), "generation", json_integer(2));
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_true(out.failed);
	assert_null(fake_get(&KUBE_SECRETS, "app", "creds"));
}

/* allowedNamespaces is a boundary: a resource in a namespace its VaultAuth
 * does not allow gets no login, no read, no Secret. */
static void test_allowed_namespaces_denied(void **state)
{
	struct op_outcome out;
	json_t *auth;

	(void)state;
	kv_set("secret/data/app", "{\"data\":{\"password\":\"p1\"},\"metadata\":{}}");
	auth = fake_put(&OP_RESOURCES[OP_VAULT_AUTH],
	                parse("{\"metadata\":{\"name\":\"team-auth\",\"namespace\":\"team-a\"},\"spec\":{\"method\":"
	                      "\"kubernetes\",\"vaultConnectionRef\":\"trove-system/default\",\"kubernetes\":{\"role\":"
	                      "\"a\",\"serviceAccount\":\"default\"}}}"));
	fake_put(&OP_RESOURCES[OP_STATIC_SECRET],
	         parse("{\"metadata\":{\"name\":\"steal\",\"namespace\":\"team-b\"},\"spec\":{\"vaultAuthRef\":"
	               "\"team-a/team-auth\",\"type\":\"kv-v2\",\"mount\":\"secret\",\"path\":\"app\","
	               "\"destination\":{\"name\":\"loot\",\"create\":true}}}"));
	reconcile(OP_STATIC_SECRET, "team-b", "steal", &out);
	assert_true(out.failed);
	assert_int_equal(FT.logins, 0);
	assert_int_equal(fake_trove_requests(""), 0);
	assert_null(fake_get(&KUBE_SECRETS, "team-b", "loot"));
	assert_true(has_event("VaultClientConfigError", "does not allow namespace team-b"));
	/* The status says why, with the fields VSO's schema requires. */
	assert_non_null(op_json_at(fake_get(&OP_RESOURCES[OP_STATIC_SECRET], "team-b", "steal"), "status.lastGeneration"));
	assert_non_null(strstr(op_json_str0(json_array_get(op_json_at(fake_get(&OP_RESOURCES[OP_STATIC_SECRET], "team-b",
	                                                                        "steal"),
	                                                               "status.conditions"),
	                                                    0),
	                                    "message"),
	                       "allowedNamespaces"));
	/* Allowed by name: it works, logging in with team-b's service account. */
	json_object_set_new((json_t *)op_json_at(auth, "spec"), "allowedNamespaces", parse("[\"team-b\"]"));
	reconcile(OP_STATIC_SECRET, "team-b", "steal", &out);
	assert_false(out.failed);
	expect_secret("team-b", "loot", "password", "p1");
	assert_int_equal(FT.logins, 1);
}

static void put_dynamic(void)
{
	fake_put(&OP_RESOURCES[OP_DYNAMIC_SECRET],
	         parse("{\"metadata\":{\"name\":\"db\",\"namespace\":\"app\"},\"spec\":{\"mount\":\"database\","
	               "\"path\":\"creds/app\",\"renewalPercent\":50,\"revoke\":true,\"destination\":{\"name\":"
	               "\"db-creds\",\"create\":true},\"rolloutRestartTargets\":[{\"kind\":\"Deployment\","
	               "\"name\":\"web\"}]}}"));
	fake_put(&KUBE_DEPLOYMENTS, parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"app\"},\"spec\":{}}"));
}

static void age_renewal(const char *plural_kind_ns_name, long seconds)
{
	json_t *obj = json_object_get(FK.objects, plural_kind_ns_name);
	json_t *status = json_object_get(obj, "status");

	json_object_set_new(status, "lastRenewalTime",
	                    json_integer(json_integer_value(json_object_get(status, "lastRenewalTime")) - seconds));
}

/* Issued, renewed at renewalPercent, re-issued when renewal is refused,
 * revoked on deletion. */
static void test_dynamic_lifecycle(void **state)
{
	struct op_outcome out;
	json_t *obj;

	(void)state;
	put_dynamic();
	reconcile(OP_DYNAMIC_SECRET, "app", "db", &out);
	assert_false(out.failed);
	expect_secret("app", "db-creds", "username", "u1");
	assert_int_equal(out.requeue_after_ms, 150000);
	obj = fake_get(&OP_RESOURCES[OP_DYNAMIC_SECRET], "app", "db");
	assert_string_equal(op_json_str0(obj, "status.secretLease.id"), "database/creds/app/L1");
	assert_int_equal(op_json_int(obj, "status.secretLease.duration", 0), 300);
	assert_true(op_has_finalizer(obj, OP_DYNAMIC_SECRET));
	/* Before renewalPercent: nothing asked of Trove. */
	reconcile(OP_DYNAMIC_SECRET, "app", "db", &out);
	assert_int_equal(FT.issued, 1);
	assert_int_equal(FT.renewals, 0);
	assert_true(out.requeue_after_ms > 140000 && out.requeue_after_ms <= 150000);
	/* Past it: renewed, same credentials, no write. */
	age_renewal("vaultdynamicsecrets/app/db", 160);
	reconcile(OP_DYNAMIC_SECRET, "app", "db", &out);
	assert_int_equal(FT.renewals, 1);
	assert_int_equal(FT.issued, 1);
	assert_int_equal(fake_writes("PUT secrets/"), 0);
	assert_true(has_event("SecretLeaseRenewal", NULL));
	/* Renewal refused: new credentials, the Secret rewritten, one restart. */
	FT.renew_refused = true;
	age_renewal("vaultdynamicsecrets/app/db", 160);
	reconcile(OP_DYNAMIC_SECRET, "app", "db", &out);
	assert_int_equal(FT.issued, 2);
	expect_secret("app", "db-creds", "username", "u2");
	assert_int_equal(fake_writes("PATCH deployments/app/web"), 1);
	/* Deleted with revoke: true: the lease revoked, the finalizer gone. */
	obj = fake_get(&OP_RESOURCES[OP_DYNAMIC_SECRET], "app", "db");
	json_object_set_new(json_object_get(obj, "metadata"), "deletionTimestamp", json_string("2026-12-06T19:00:00Z"));
	reconcile(OP_DYNAMIC_SECRET, "app", "db", &out);
	assert_false(out.failed);
	assert_int_equal(fake_trove_requests("PUT sys/leases/revoke"), 1);
	assert_false(op_has_finalizer(fake_get(&OP_RESOURCES[OP_DYNAMIC_SECRET], "app", "db"), OP_DYNAMIC_SECRET));
}

/* allowStaticCreds: read again when the ttl runs out; a new ttl alone is
 * no change, a rotated password is. */
static void test_dynamic_static_creds(void **state)
{
	struct op_outcome out;
	json_t *obj;

	(void)state;
	kv_set("database/static-creds/app", "{\"username\":\"svc\",\"password\":\"pw1\",\"ttl\":30,"
	                                    "\"rotation_period\":3600,\"last_vault_rotation\":\"2026-12-06T19:00:00Z\"}");
	fake_put(&KUBE_DEPLOYMENTS, parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"app\"},\"spec\":{}}"));
	fake_put(&OP_RESOURCES[OP_DYNAMIC_SECRET],
	         parse("{\"metadata\":{\"name\":\"st\",\"namespace\":\"app\"},\"spec\":{\"mount\":\"database\","
	               "\"path\":\"static-creds/app\",\"allowStaticCreds\":true,\"destination\":{\"name\":\"st\","
	               "\"create\":true},\"rolloutRestartTargets\":[{\"kind\":\"Deployment\",\"name\":\"web\"}]}}"));
	reconcile(OP_DYNAMIC_SECRET, "app", "st", &out);
	assert_false(out.failed);
	expect_secret("app", "st", "password", "pw1");
	assert_int_equal(out.requeue_after_ms, 31000);
	obj = fake_get(&OP_RESOURCES[OP_DYNAMIC_SECRET], "app", "st");
	assert_int_equal(op_json_int(obj, "status.staticCredsMetaData.ttl", 0), 30);
	assert_int_equal(op_json_int(obj, "status.staticCredsMetaData.rotationPeriod", 0), 3600);
	assert_true(op_json_int(obj, "status.staticCredsMetaData.lastVaultRotation", 0) > 1700000000);
	/* Within the ttl: nothing read. */
	reconcile(OP_DYNAMIC_SECRET, "app", "st", &out);
	assert_int_equal(fake_trove_requests("GET database/static-creds/app"), 1);
	/* Past it, same password, another ttl: read, not written, no restart. */
	kv_set("database/static-creds/app", "{\"username\":\"svc\",\"password\":\"pw1\",\"ttl\":3599,"
	                                    "\"rotation_period\":3600,\"last_vault_rotation\":\"2026-12-06T19:00:00Z\"}");
	age_renewal("vaultdynamicsecrets/app/st", 40);
	reconcile(OP_DYNAMIC_SECRET, "app", "st", &out);
	assert_int_equal(fake_trove_requests("GET database/static-creds/app"), 2);
	assert_int_equal(fake_writes("PUT secrets/app/st"), 0);
	assert_int_equal(fake_writes("PATCH deployments/"), 0);
	/* Rotated: written, one restart. */
	kv_set("database/static-creds/app", "{\"username\":\"svc\",\"password\":\"pw2\",\"ttl\":3600,"
	                                    "\"rotation_period\":3600,\"last_vault_rotation\":\"2026-12-06T20:00:00Z\"}");
	age_renewal("vaultdynamicsecrets/app/st", 4000);
	reconcile(OP_DYNAMIC_SECRET, "app", "st", &out);
	expect_secret("app", "st", "password", "pw2");
	assert_int_equal(fake_writes("PUT secrets/app/st"), 1);
	assert_int_equal(fake_writes("PATCH deployments/app/web"), 1);
}

/* A kubernetes.io/tls Secret, re-issued within expiryOffset of expiry,
 * the old certificate revoked. */
static void test_pki_lifecycle(void **state)
{
	struct op_outcome out;
	json_t *obj;

	(void)state;
	fake_put(&OP_RESOURCES[OP_PKI_SECRET],
	         parse("{\"metadata\":{\"name\":\"cert\",\"namespace\":\"app\"},\"spec\":{\"mount\":\"pki\",\"role\":"
	               "\"web\",\"commonName\":\"web.app.svc\",\"altNames\":[\"a\",\"b\"],\"expiryOffset\":\"10m\","
	               "\"revoke\":true,\"destination\":{\"name\":\"tls\",\"create\":true,\"type\":"
	               "\"kubernetes.io/tls\"}}}"));
	reconcile(OP_PKI_SECRET, "app", "cert", &out);
	assert_false(out.failed);
	expect_secret("app", "tls", "tls.crt", "CERT1\nCA\nROOT");
	expect_secret("app", "tls", "tls.key", "KEY1");
	expect_secret("app", "tls", "serial_number", "aa:01");
	assert_string_equal(op_json_str0(fake_get(&KUBE_SECRETS, "app", "tls"), "type"), "kubernetes.io/tls");
	assert_true(out.requeue_after_ms > 2990000 && out.requeue_after_ms <= 3000000);
	obj = fake_get(&OP_RESOURCES[OP_PKI_SECRET], "app", "cert");
	assert_string_equal(op_json_str0(obj, "status.serialNumber"), "aa:01");
	assert_true(op_json_bool(obj, "status.valid", false));
	/* Not yet due: nothing issued. */
	reconcile(OP_PKI_SECRET, "app", "cert", &out);
	assert_int_equal(FT.issued, 1);
	/* Within the offset: re-issued, the old serial revoked. */
	json_object_set_new(json_object_get(obj, "status"), "expiration", json_integer((json_int_t)time(NULL) + 300));
	reconcile(OP_PKI_SECRET, "app", "cert", &out);
	assert_int_equal(FT.issued, 2);
	expect_secret("app", "tls", "tls.crt", "CERT2\nCA\nROOT");
	assert_int_equal(fake_trove_requests("PUT pki/revoke"), 1);
	assert_true(has_event("SecretRotated", NULL));
}

/* A Secret ns/name whose ca.crt is a real (self-signed) CA certificate. */
static json_t *ca_secret(const char *ns, const char *name)
{
	static const char ca_b64[] =
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJoakNDQVN1Z0F3SUJBZ0lVQ09kQ1padGU0OTZ0RWl2NFBtQk01dVlW"
	"eGZjd0NnWUlLb1pJemowRUF3SXcKRnpFVk1CTUdBMVVFQXd3TVZXNXBkQ0IwWlhOMElFTkJNQ0FYRFRJMk1USXdOakl6TlRN"
	"eE5Gb1lEekl4TWpZeApNVEV5TWpNMU16RTBXakFYTVJVd0V3WURWUVFEREF4VmJtbDBJSFJsYzNRZ1EwRXdXVEFUQmdjcWhr"
	"ak9QUUlCCkJnZ3Foa2pPUFFNQkJ3TkNBQVR0cGJHaEI4QTE1QWNVVzNheGVYV1BId3IxZSt6RUQ2YkdQRHFpbE5ycnV6dEIK"
	"Z1h1YUswYTJHZzR2SC9FN01lNnhWU052ZUo3a01WV2h5eUhjNDM3MW8xTXdVVEFkQmdOVkhRNEVGZ1FVSjgwegpTSXlmUHo2"
	"bFZMWTNSZDJzKzJJcjRCZ3dId1lEVlIwakJCZ3dGb0FVSjgwelNJeWZQejZsVkxZM1JkMnMrMklyCjRCZ3dEd1lEVlIwVEFR"
	"SC9CQVV3QXdFQi96QUtCZ2dxaGtqT1BRUURBZ05KQURCR0FpRUFnNW1HeHJZbm1aSTMKbnNmd0YzMzRiRzdJeG5DVytibjVK"
	"Uys1NnAwMXZFY0NJUUM2TDlJb1BYZEV0cWJiVnVqS3dPNWJTWjMxQnRUeQpOMEJnb3J6MURrY1o1UT09Ci0tLS0tRU5EIENF"
	"UlRJRklDQVRFLS0tLS0K";

	return json_pack("{s:{s:s, s:s}, s:{s:s}}", "metadata", "name", name, "namespace", ns, "data", "ca.crt",
	                 ca_b64);
}

/* appRole reads its secret_id from a Secret in the resource's namespace;
 * a VaultConnection's CA Secret must exist. */
static void test_approle_and_ca_secret(void **state)
{
	struct op_outcome out;

	(void)state;
	kv_set("secret/data/app", "{\"data\":{\"password\":\"p1\"},\"metadata\":{}}");
	fake_put(&OP_RESOURCES[OP_VAULT_CONNECTION],
	         parse("{\"metadata\":{\"name\":\"tls\",\"namespace\":\"app\"},\"spec\":{\"address\":"
	               "\"https://trove.test:8200\",\"caCertSecretRef\":\"trove-ca\"}}"));
	fake_put(&OP_RESOURCES[OP_VAULT_AUTH],
	         parse("{\"metadata\":{\"name\":\"ar\",\"namespace\":\"app\"},\"spec\":{\"method\":\"appRole\","
	               "\"vaultConnectionRef\":\"tls\",\"namespace\":\"team\",\"appRole\":{\"roleId\":\"rid\","
	               "\"secretRef\":\"ar-secret\"}}}"));
	fake_put(&OP_RESOURCES[OP_STATIC_SECRET],
	         parse("{\"metadata\":{\"name\":\"vss\",\"namespace\":\"app\"},\"spec\":{\"vaultAuthRef\":\"ar\","
	               "\"type\":\"kv-v2\",\"mount\":\"secret\",\"path\":\"app\",\"destination\":{\"name\":"
	               "\"creds\",\"create\":true}}}"));
	/* No CA Secret: refused, nothing sent to Trove. */
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_true(out.failed);
	assert_true(has_event("VaultClientConfigError", "trove-ca"));
	assert_int_equal(fake_trove_requests(""), 0);
	/* A CA Secret with no certificate in ca.crt: refused naming it. */
	fake_put(&KUBE_SECRETS, parse("{\"metadata\":{\"name\":\"trove-ca\",\"namespace\":\"app\"},"
	                              "\"data\":{\"ca.crt\":\"LS0tLS1CRUdJTg==\"}}"));
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_true(out.failed);
	assert_true(has_event("VaultClientConfigError", "app/trove-ca has no PEM certificate in ca.crt"));
	assert_int_equal(fake_trove_requests(""), 0);
	fake_put(&KUBE_SECRETS, ca_secret("app", "trove-ca"));
	/* No AppRole Secret: refused. */
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_true(out.failed);
	assert_true(has_event("VaultClientConfigError", "ar-secret"));
	fake_put(&KUBE_SECRETS, parse("{\"metadata\":{\"name\":\"ar-secret\",\"namespace\":\"app\"},"
	                              "\"data\":{\"id\":\"c2lk\"}}"));
	reconcile(OP_STATIC_SECRET, "app", "vss", &out);
	assert_false(out.failed);
	assert_int_equal(fake_trove_requests("POST auth/approle/login"), 1);
	assert_string_equal(FT.last_namespace, "team"); /* the VaultAuth's Vault namespace */
	expect_secret("app", "creds", "password", "p1");
}

/* VaultAuth and VaultConnection report whether they can be used. */
static void test_auth_status(void **state)
{
	struct op_outcome out;

	(void)state;
	reconcile(OP_VAULT_AUTH, "trove-system", "default", &out);
	assert_true(op_json_bool(fake_get(&OP_RESOURCES[OP_VAULT_AUTH], "trove-system", "default"), "status.valid", false));
	fake_put(&OP_RESOURCES[OP_VAULT_AUTH],
	         parse("{\"metadata\":{\"name\":\"bad\",\"namespace\":\"x\"},\"spec\":{\"method\":\"kubernetes\","
	               "\"kubernetes\":{\"role\":\"r\",\"serviceAccount\":\"s\"},\"vaultConnectionRef\":\"nope\"}}"));
	reconcile(OP_VAULT_AUTH, "x", "bad", &out);
	assert_false(op_json_bool(fake_get(&OP_RESOURCES[OP_VAULT_AUTH], "x", "bad"), "status.valid", true));
	assert_non_null(strstr(op_json_str0(fake_get(&OP_RESOURCES[OP_VAULT_AUTH], "x", "bad"), "status.error"),
	                       "x/nope not found"));
	reconcile(OP_VAULT_CONNECTION, "trove-system", "default", &out);
	assert_true(op_json_bool(fake_get(&OP_RESOURCES[OP_VAULT_CONNECTION], "trove-system", "default"), "status.valid",
	                         false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_pki_shape),
		cmocka_unit_test(test_restart_decision),
		cmocka_unit_test_setup_teardown(test_static_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_static_ownership, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allowed_namespaces_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynamic_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynamic_static_creds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pki_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approle_and_ca_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_status, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
