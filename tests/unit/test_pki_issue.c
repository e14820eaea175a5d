/* test_pki_issue.c — the pki engine's first issue/sign path, mounted on an
 * in-memory core and driven through the HTTP edge and the router. Roles
 * are written through roles/:name; every certificate is checked with
 * OpenSSL, not by trusting the JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core_fixture.h"
#include "core/core.h"
#include "core/mount.h"
#include "core/router.h"
#include "engines/engines.h"
#include "engines/kv_util.h"
#include "engines/pki/pki.h"
#include "engines/pki/x509.h"
#include "encoding.h"
#include "err.h"
#include "storage/storage.h"

struct fx {
	struct core_fixture cf;
	struct core *core; /* cf.core */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	core_fixture_start(&f->cf, NULL, 3600, 86400 * 365);
	f->core = f->cf.core;
	assert_int_equal(fixture_call(f->core, "POST", "/v1/sys/mounts/pki", "{\"type\": \"pki\"}", NULL), 204);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	core_fixture_stop(&f->cf);
	free(f);
	return 0;
}

/* Writes a role through roles/:name, as a client would. */
static void put_role(struct fx *f, const char *name, const char *json)
{
	char path[128];
	snprintf(path, sizeof(path), "/v1/pki/roles/%s", name);
	assert_in_range(fixture_call(f->core, "POST", path, json, NULL), 200, 204);
}

static X509 *pem_cert(const json_t *data, const char *k)
{
	const char *pem = json_string_value(json_object_get(data, k));
	X509 *c = NULL;
	assert_non_null(pem);
	assert_int_equal(x509_cert_from_pem(pem, strlen(pem), &c), 0);
	return c;
}

static X509 *make_root(struct fx *f, const char *body)
{
	json_t *b = NULL;
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/root/generate/internal", body, &b), 200);
	X509 *root = pem_cert(json_object_get(b, "data"), "certificate");
	json_decref(b);
	return root;
}

static const char *first_error(const json_t *b)
{
	return json_string_value(json_array_get(json_object_get(b, "errors"), 0));
}

static void test_issue(void **state)
{
	struct fx *f = *state;
	json_t *b = NULL;
	X509 *root = make_root(f, "{\"common_name\": \"Root\", \"key_type\": \"ec\", \"ttl\": \"8760h\"}");
	put_role(f, "web", "{\"allowed_domains\": [\"example.com\"], \"allow_subdomains\": true, "
			   "\"key_type\": \"ec\", \"key_bits\": 384, \"ttl\": \"1h\", \"max_ttl\": \"2h\"}");

	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/web",
			      "{\"common_name\": \"www.example.com\", \"alt_names\": \"api.example.com\", "
			      "\"ip_sans\": \"10.1.2.3\"}",
			      &b),
			 200);
	json_t *d = json_object_get(b, "data");
	X509 *leaf = pem_cert(d, "certificate");
	assert_true(x509_issued_by(leaf, root));
	assert_int_equal(X509_check_host(leaf, "www.example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(leaf, "api.example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(leaf, "10.1.2.3", 0), 1);
	assert_int_equal(X509_check_ca(leaf), 0);
	assert_true(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
	assert_true(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT);
	assert_true(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE);
	int64_t life = x509_not_after(leaf) - time(NULL);
	assert_true(life > 3600 - 60 && life <= 3600); /* the role's ttl */
	/* the private key is the certificate's, of the role's type */
	const char *kpem = json_string_value(json_object_get(d, "private_key"));
	EVP_PKEY *k = NULL;
	int bits;
	assert_int_equal(x509_key_from_pem(kpem, strlen(kpem), &k), 0);
	assert_int_equal(X509_check_private_key(leaf, k), 1);
	assert_string_equal(x509_key_type(k, &bits), "ec");
	assert_int_equal(bits, 384);
	assert_string_equal(json_string_value(json_object_get(d, "private_key_type")), "ec");
	EVP_PKEY_free(k);
	/* serial, expiration, chain */
	char serial[X509_SERIAL_TEXT_MAX];
	assert_int_equal(x509_serial_text(X509_get0_serialNumber(leaf), serial), 0);
	assert_string_equal(json_string_value(json_object_get(d, "serial_number")), serial);
	assert_int_equal(strlen(serial), 59);
	assert_int_equal(json_integer_value(json_object_get(d, "expiration")), x509_not_after(leaf));
	X509 *ica = pem_cert(d, "issuing_ca");
	assert_int_equal(X509_cmp(ica, root), 0);
	assert_int_equal(json_array_size(json_object_get(d, "ca_chain")), 1);
	X509_free(ica);

	/* stored: cert/<serial> in hyphen and upper case, and listed */
	char path[160], hy[X509_SERIAL_TEXT_MAX];
	for (size_t i = 0; serial[i]; i++)
		hy[i] = serial[i] == ':' ? '-' : (char)(serial[i] >= 'a' && serial[i] <= 'f' ? serial[i] - 32 : serial[i]);
	hy[strlen(serial)] = '\0';
	snprintf(path, sizeof(path), "/v1/pki/cert/%s", hy);
	json_t *c = NULL;
	assert_int_equal(fixture_call(f->core, "GET", path, NULL, &c), 200);
	X509 *stored = pem_cert(json_object_get(c, "data"), "certificate");
	assert_int_equal(X509_cmp(stored, leaf), 0);
	X509_free(stored);
	json_decref(c);
	assert_int_equal(fixture_call(f->core, "LIST", "/v1/pki/certs", NULL, &c), 200);
	assert_int_equal(json_array_size(json_object_get(json_object_get(c, "data"), "keys")), 2); /* root + leaf */
	json_decref(c);

	X509_free(leaf);
	json_decref(b);

	/* the issuer's AIA, CRL and OCSP URLs go into what it issues */
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issuer/default",
			      "{\"issuing_certificates\": \"http://ca.example/ca\", "
			      "\"crl_distribution_points\": \"http://ca.example/crl\", "
			      "\"ocsp_servers\": \"http://ca.example/ocsp\"}",
			      NULL),
			 200);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/web", "{\"common_name\": \"u.example.com\"}", &b), 200);
	leaf = pem_cert(json_object_get(b, "data"), "certificate");
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(leaf, NID_info_access, NULL, NULL);
	assert_non_null(aia);
	assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 2);
	AUTHORITY_INFO_ACCESS_free(aia);
	STACK_OF(DIST_POINT) *dp = X509_get_ext_d2i(leaf, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(dp);
	sk_DIST_POINT_pop_free(dp, DIST_POINT_free);
	X509_free(leaf);
	json_decref(b);

	/* ttl above the role's max is lowered to it */
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/web",
			      "{\"common_name\": \"a.example.com\", \"ttl\": \"100h\", \"format\": \"der\", "
			      "\"private_key_format\": \"pkcs8\"}",
			      &b),
			 200);
	d = json_object_get(b, "data");
	const char *der64 = json_string_value(json_object_get(d, "certificate"));
	unsigned char der[4096];
	size_t n = 0;
	assert_int_equal(base64_decode(der64, strlen(der64), der, sizeof(der), &n), 0);
	const unsigned char *p = der;
	leaf = d2i_X509(NULL, &p, (long)n);
	assert_non_null(leaf);
	life = x509_not_after(leaf) - time(NULL);
	assert_true(life > 7200 - 60 && life <= 7200);
	assert_non_null(strstr(json_string_value(json_object_get(d, "private_key")), "BEGIN PRIVATE KEY"));
	X509_free(leaf);
	json_decref(b);

	/* names outside the role: 400 naming the name, nothing issued */
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/web", "{\"common_name\": \"www.evil.com\"}", &b), 400);
	assert_non_null(strstr(first_error(b), "www.evil.com"));
	json_decref(b);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/web",
			      "{\"common_name\": \"x.example.com\", \"alt_names\": \"example.com\"}", &b),
			 400);
	assert_non_null(strstr(first_error(b), "example.com"));
	json_decref(b);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/nope", "{\"common_name\": \"x.example.com\"}", &b), 400);
	assert_non_null(strstr(first_error(b), "unknown role"));
	json_decref(b);
	assert_int_equal(fixture_call(f->core, "LIST", "/v1/pki/certs", NULL, &c), 200);
	assert_int_equal(json_array_size(json_object_get(json_object_get(c, "data"), "keys")), 4);
	json_decref(c);

	/* no_store: issued, not kept */
	put_role(f, "ephemeral", "{\"allow_any_name\": true, \"key_type\": \"ed25519\", \"no_store\": true}");
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/ephemeral", "{\"common_name\": \"anything\"}", &b), 200);
	leaf = pem_cert(json_object_get(b, "data"), "certificate");
	assert_true(x509_issued_by(leaf, root));
	X509_free(leaf);
	json_decref(b);
	assert_int_equal(fixture_call(f->core, "LIST", "/v1/pki/certs", NULL, &c), 200);
	assert_int_equal(json_array_size(json_object_get(json_object_get(c, "data"), "keys")), 4);
	json_decref(c);
	X509_free(root);
}

static void test_leaf_not_after_behavior(void **state)
{
	struct fx *f = *state;
	json_t *b = NULL;
	X509 *root = make_root(f, "{\"common_name\": \"Short Root\", \"key_type\": \"ec\", \"ttl\": \"2h\", "
				  "\"issuer_name\": \"short\"}");
	put_role(f, "long", "{\"allow_any_name\": true, \"key_type\": \"ec\", \"ttl\": \"10h\"}");
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/long", "{\"common_name\": \"a\"}", &b), 400);
	assert_non_null(strstr(first_error(b), "beyond the expiration of the CA"));
	json_decref(b);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issuer/short", "{\"leaf_not_after_behavior\": \"truncate\"}", NULL),
			 200);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/long", "{\"common_name\": \"a\"}", &b), 200);
	X509 *leaf = pem_cert(json_object_get(b, "data"), "certificate");
	assert_int_equal(x509_not_after(leaf), x509_not_after(root));
	X509_free(leaf);
	json_decref(b);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issuer/short", "{\"leaf_not_after_behavior\": \"permit\"}", NULL),
			 200);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/long", "{\"common_name\": \"a\"}", &b), 200);
	leaf = pem_cert(json_object_get(b, "data"), "certificate");
	assert_true(x509_not_after(leaf) > x509_not_after(root));
	X509_free(leaf);
	json_decref(b);
	X509_free(root);
}

static void test_sign(void **state)
{
	struct fx *f = *state;
	json_t *b = NULL;
	X509 *root = make_root(f, "{\"common_name\": \"Root\", \"key_type\": \"rsa\"}");
	put_role(f, "svc", "{\"allowed_domains\": \"svc.local\", \"allow_subdomains\": true, \"key_type\": \"ec\"}");

	EVP_PKEY *k = NULL;
	X509_REQ *q = NULL;
	X509_NAME *n = X509_NAME_new();
	struct x509_sans sans;
	char *pem = NULL;
	x509_sans_init(&sans);
	strlist_push(&sans.dns, "b.svc.local");
	X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)"a.svc.local", -1, -1, 0);
	assert_int_equal(x509_keygen("ec", 256, &k), 0);
	assert_int_equal(x509_csr_build(k, n, &sans, &q), 0);
	assert_int_equal(x509_csr_to_pem(q, &pem), 0);
	json_t *body = json_pack("{s:s}", "csr", pem);
	char *text = json_dumps(body, 0);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/sign/svc", text, &b), 200);
	json_t *d = json_object_get(b, "data");
	assert_null(json_object_get(d, "private_key"));
	X509 *leaf = pem_cert(d, "certificate");
	assert_true(x509_issued_by(leaf, root));
	assert_int_equal(X509_check_private_key(leaf, k), 1);
	assert_int_equal(X509_check_host(leaf, "a.svc.local", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(leaf, "b.svc.local", 0, 0, NULL), 1);
	X509_free(leaf);
	json_decref(b);
	free(text);

	/* a malformed CSR is refused naming csr */
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/sign/svc", "{\"csr\": \"-----BEGIN CERTIFICATE REQUEST-----\"}", &b),
			 400);
	assert_non_null(strstr(first_error(b), "csr"));
	json_decref(b);
	/* a CSR for a name outside the role */
	put_role(f, "narrow", "{\"allowed_domains\": \"other.local\", \"allow_subdomains\": true, \"key_type\": \"any\"}");
	text = json_dumps(body, 0);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/sign/narrow", text, &b), 400);
	assert_non_null(strstr(first_error(b), "a.svc.local"));
	json_decref(b);
	free(text);

	json_decref(body);
	free(pem);
	x509_sans_release(&sans);
	X509_REQ_free(q);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
	X509_free(root);
}

/* generate_lease: the answer carries a lease; revoking it writes the
 * revoked record for the certificate, once. */
static void test_lease_revokes_the_certificate(void **state)
{
	struct fx *f = *state;
	json_t *b = NULL, *rec = NULL, *again = NULL;
	X509 *root = make_root(f, "{\"common_name\": \"Root\", \"key_type\": \"ec\"}");
	put_role(f, "leased", "{\"allow_any_name\": true, \"key_type\": \"ec\", \"ttl\": \"1h\", \"generate_lease\": true}");
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/leased", "{\"common_name\": \"a.test\"}", &b), 200);
	const char *lease = json_string_value(json_object_get(b, "lease_id"));
	const char *serial = json_string_value(json_object_get(json_object_get(b, "data"), "serial_number"));
	assert_non_null(strstr(lease, "pki/issue/leased/"));
	assert_in_range(json_integer_value(json_object_get(b, "lease_duration")), 3600 - 40, 3600 + 40);
	char body[256], key[128];
	snprintf(body, sizeof(body), "{\"lease_id\": \"%s\", \"sync\": true}", lease);
	snprintf(key, sizeof(key), "revoked/%s", serial);
	for (char *p = key; *p; p++)
		if (*p == ':')
			*p = '-';
	struct mount *m = mount_match(core_mounts(f->core), "pki/x");
	assert_int_equal(kv_get_json(m->view, key, &rec), TROVE_ERR_NOT_FOUND);
	assert_int_equal(fixture_call(f->core, "PUT", "/v1/sys/leases/revoke", body, NULL), 204);
	assert_int_equal(kv_get_json(m->view, key, &rec), 0);
	json_int_t when = json_integer_value(json_object_get(rec, "revocation_time"));
	assert_in_range(when, time(NULL) - 60, time(NULL) + 1);
	assert_true(json_string_length(json_object_get(rec, "certificate")) > 100);
	assert_true(json_string_length(json_object_get(rec, "issuer_id")) == 36);
	/* idempotent: a second revocation keeps the first record */
	struct buf err;
	struct pki_revocation out;
	buf_init(&err, 256);
	assert_int_equal(pki_revoke_cert(m->view, m, serial, false, &out, &err), 0);
	assert_true(out.already);
	assert_int_equal(out.revocation_time, when);
	assert_int_equal(kv_get_json(m->view, key, &again), 0);
	assert_int_equal(json_integer_value(json_object_get(again, "revocation_time")), when);
	/* a serial never stored: refused, but from a lease there is nothing
	 * left to revoke */
	assert_int_equal(pki_revoke_cert(m->view, m, "01:02:03", false, &out, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "01:02:03"));
	assert_int_equal(pki_revoke_cert(m->view, m, "01:02:03", true, &out, &err), 0);
	assert_int_equal(pki_revoke_cert(m->view, m, "zz", false, &out, &err), TROVE_ERR_INVALID);
	buf_release(&err);
	mount_release(m);
	json_decref(again);
	json_decref(rec);
	json_decref(b);
	X509_free(root);
}

/* The role's policy_identifiers and basic_constraints_valid_for_non_ca
 * are written and the certificate still verifies under its issuer. */
static void test_role_extensions(void **state)
{
	struct fx *f = *state;
	json_t *b = NULL;
	X509 *root = make_root(f, "{\"common_name\": \"Root\", \"key_type\": \"rsa\"}");
	put_role(f, "pol", "{\"allow_any_name\": true, \"key_type\": \"ec\", \"signature_bits\": 512, "
			   "\"policy_identifiers\": \"1.2.3.4,1.3.6.1.4.1.7\", \"basic_constraints_valid_for_non_ca\": true}");
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/pol", "{\"common_name\": \"a.test\"}", &b), 200);
	X509 *leaf = pem_cert(json_object_get(b, "data"), "certificate");
	assert_true(x509_issued_by(leaf, root));
	assert_int_equal(X509_get_signature_nid(leaf), NID_sha512WithRSAEncryption);
	int crit = -1;
	CERTIFICATEPOLICIES *pol = X509_get_ext_d2i(leaf, NID_certificate_policies, &crit, NULL);
	assert_non_null(pol);
	assert_int_equal(crit, 0);
	assert_int_equal(sk_POLICYINFO_num(pol), 2);
	char oid[64];
	OBJ_obj2txt(oid, sizeof(oid), sk_POLICYINFO_value(pol, 1)->policyid, 1);
	assert_string_equal(oid, "1.3.6.1.4.1.7");
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(leaf, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	sk_POLICYINFO_pop_free(pol, POLICYINFO_free);
	X509_free(leaf);
	json_decref(b);
	/* a CSR whose key is not the role's type is refused */
	EVP_PKEY *k = NULL;
	X509_REQ *q = NULL;
	X509_NAME *n = X509_NAME_new();
	char *pem = NULL;
	X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)"a.test", -1, -1, 0);
	assert_int_equal(x509_keygen("ed25519", 0, &k), 0);
	assert_int_equal(x509_csr_build(k, n, NULL, &q), 0);
	assert_int_equal(x509_csr_to_pem(q, &pem), 0);
	json_t *body = json_pack("{s:s}", "csr", pem);
	char *text = json_dumps(body, 0);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/sign/pol", text, &b), 400);
	assert_non_null(strstr(first_error(b), "role requires keys of type ec"));
	json_decref(b);
	free(text);
	json_decref(body);
	free(pem);
	X509_REQ_free(q);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
	X509_free(root);
}

/* The parsed issuer material the mount keeps (pki_state.c) never answers
 * differently from storage: a replaced root signs the next certificate,
 * and a parent issuer imported later joins the chain. */
static void test_state_follows_storage(void **state)
{
	struct fx *f = *state;
	json_t *b = NULL;
	X509 *a = make_root(f, "{\"common_name\": \"Root A\", \"key_type\": \"ec\"}");
	put_role(f, "r", "{\"allow_any_name\": true, \"key_type\": \"ec\"}");
	for (int i = 0; i < 2; i++) { /* the second from the kept material */
		assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/r", "{\"common_name\": \"a.test\"}", &b), 200);
		X509 *leaf = pem_cert(json_object_get(b, "data"), "certificate");
		assert_true(x509_issued_by(leaf, a));
		X509_free(leaf);
		json_decref(b);
	}
	/* the key's record changes (a new name): the kept signer is not
	 * reused, and the key read again still signs */
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/key/default", "{\"key_name\": \"renamed\"}", NULL), 200);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/r", "{\"common_name\": \"a.test\"}", &b), 200);
	X509 *again = pem_cert(json_object_get(b, "data"), "certificate");
	assert_true(x509_issued_by(again, a));
	X509_free(again);
	json_decref(b);
	assert_int_equal(fixture_call(f->core, "GET", "/v1/pki/key/renamed", NULL, &b), 200);
	json_decref(b);
	assert_int_equal(fixture_call(f->core, "DELETE", "/v1/pki/root", NULL, NULL), 204);
	X509 *bb = make_root(f, "{\"common_name\": \"Root B\", \"key_type\": \"ec\"}");
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/r", "{\"common_name\": \"a.test\"}", &b), 200);
	X509 *leaf = pem_cert(json_object_get(b, "data"), "certificate");
	assert_true(x509_issued_by(leaf, bb));
	assert_false(x509_issued_by(leaf, a));
	X509_free(leaf);
	json_decref(b);

	/* an intermediate whose root is imported after a first issue */
	assert_int_equal(fixture_call(f->core, "POST", "/v1/sys/mounts/int", "{\"type\": \"pki\"}", NULL), 204);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/int/intermediate/generate/internal",
			      "{\"common_name\": \"Int\", \"key_type\": \"ec\"}", &b), 200);
	json_t *body = json_pack("{s:O, s:s}", "csr", json_object_get(json_object_get(b, "data"), "csr"), "common_name", "Int");
	json_decref(b);
	char *text = json_dumps(body, 0);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/root/sign-intermediate", text, &b), 200);
	free(text);
	json_decref(body);
	json_t *ipem = json_object_get(json_object_get(b, "data"), "certificate");
	json_t *rpem = json_object_get(json_object_get(b, "data"), "issuing_ca");
	body = json_pack("{s:O}", "certificate", ipem);
	text = json_dumps(body, 0);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/int/intermediate/set-signed", text, NULL), 200);
	free(text);
	json_decref(body);
	body = json_pack("{s:O}", "pem_bundle", rpem);
	text = json_dumps(body, 0);
	json_decref(b);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/int/roles/r", "{\"allow_any_name\": true, \"key_type\": \"ec\"}", NULL),
			 200);
	json_t *c = NULL;
	assert_int_equal(fixture_call(f->core, "POST", "/v1/int/issue/r", "{\"common_name\": \"a.test\"}", &c), 200);
	assert_int_equal(json_array_size(json_object_get(json_object_get(c, "data"), "ca_chain")), 1);
	json_decref(c);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/int/issuers/import/bundle", text, NULL), 200);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/int/issue/r", "{\"common_name\": \"a.test\"}", &c), 200);
	assert_int_equal(json_array_size(json_object_get(json_object_get(c, "data"), "ca_chain")), 2);
	json_decref(c);
	free(text);
	json_decref(body);
	X509_free(bb);
	X509_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_issue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leaf_not_after_behavior, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lease_revokes_the_certificate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_role_extensions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_follows_storage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
