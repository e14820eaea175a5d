/* test_pki_revocation.c — the pki engine's revocation wiring, mounted on
 * an in-memory core and driven through the HTTP edge and the router:
 * pki_revoke_cert as a lease's revocation calls it, CRL numbers and
 * entries (checked with OpenSSL against the root's key), and config/urls
 * reaching certificates issued under a role. The role is written straight
 * into the mount's storage, as in test_pki_issue.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/x509v3.h>

#include "core_fixture.h"
#include "core/core.h"
#include "core/mount.h"
#include "core/router.h"
#include "engines/engines.h"
#include "engines/pki/crl.h"
#include "engines/pki/revocation.h"
#include "err.h"
#include "storage/storage.h"

struct fx {
	struct core_fixture cf;
	struct core *core; /* cf.core */
	X509 *root;
};

static int call_raw(struct core *core, const char *method, const char *path, const char *json, json_t **body,
		    struct buf *raw)
{
	struct fixture_request rq = {.method = method, .path = path, .body = json, .len = json ? strlen(json) : 0};
	return fixture_send_raw(core, &rq, body, NULL, raw);
}

static X509 *pem_cert(const json_t *data, const char *k)
{
	const char *pem = json_string_value(json_object_get(data, k));
	X509 *c = NULL;
	assert_non_null(pem);
	assert_int_equal(x509_cert_from_pem(pem, strlen(pem), &c), 0);
	return c;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	json_t *b = NULL;
	core_fixture_start(&f->cf, NULL, 3600, 86400 * 365);
	f->core = f->cf.core;
	assert_int_equal(fixture_call(f->core, "POST", "/v1/sys/mounts/pki", "{\"type\": \"pki\"}", NULL), 204);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/root/generate/internal",
			      "{\"common_name\": \"Root\", \"key_type\": \"ec\", \"ttl\": \"8760h\"}", &b),
			 200);
	f->root = pem_cert(json_object_get(b, "data"), "certificate");
	json_decref(b);
	struct mount *m = mount_match(core_mounts(f->core), "pki/x");
	const char *role = "{\"allow_any_name\": true, \"key_type\": \"ec\", \"ttl\": \"1h\"}";
	assert_int_equal(storage_put(m->view, "role/web", role, strlen(role)), 0);
	mount_release(m);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	X509_free(f->root);
	core_fixture_stop(&f->cf);
	free(f);
	return 0;
}

/* A leaf under role web; *serial its colon form. */
static X509 *issue(struct fx *f, char serial[X509_SERIAL_TEXT_MAX])
{
	json_t *b = NULL;
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issue/web", "{\"common_name\": \"a.example.com\"}", &b), 200);
	X509 *c = pem_cert(json_object_get(b, "data"), "certificate");
	assert_int_equal(x509_serial_text(X509_get0_serialNumber(c), serial), 0);
	json_decref(b);
	return c;
}

static X509_CRL *fetch_crl(struct fx *f)
{
	struct buf raw;
	buf_init(&raw, 1 << 20);
	assert_int_equal(call_raw(f->core, "GET", "/v1/pki/crl", NULL, NULL, &raw), 200);
	const unsigned char *p = (const unsigned char *)raw.data;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)raw.len);
	assert_non_null(crl);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(f->root)), 1);
	buf_release(&raw);
	return crl;
}

static bool crl_has(X509_CRL *crl, X509 *c)
{
	X509_REVOKED *rev = NULL;
	return X509_CRL_get0_by_serial(crl, &rev, (ASN1_INTEGER *)X509_get0_serialNumber(c)) == 1;
}

static long crl_num(X509_CRL *crl)
{
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_non_null(n);
	long v = ASN1_INTEGER_get(n);
	ASN1_INTEGER_free(n);
	return v;
}

static void test_lease_revocation(void **state)
{
	struct fx *f = *state;
	struct mount *m = mount_match(core_mounts(f->core), "pki/x");
	struct pki_revocation rev, again;
	struct buf why;
	char serial[X509_SERIAL_TEXT_MAX];
	X509 *c = issue(f, serial);
	buf_init(&why, 1024);

	X509_CRL *before = fetch_crl(f);
	assert_false(crl_has(before, c));
	assert_int_equal(pki_revoke_cert(m->view, m, serial, true, &rev, &why), 0);
	assert_true(rev.revocation_time > 0);
	assert_false(rev.already);
	X509_CRL *after = fetch_crl(f);
	assert_true(crl_has(after, c));
	assert_true(crl_num(after) > crl_num(before));
	/* again: the first revocation stands */
	assert_int_equal(pki_revoke_cert(m->view, m, serial, true, &again, &why), 0);
	assert_true(again.already);
	assert_int_equal(again.revocation_time, rev.revocation_time);
	/* a lease whose certificate is gone is done with; a request is told */
	assert_int_equal(pki_revoke_cert(m->view, m, "01:02:03", true, &again, &why), 0);
	assert_int_equal(again.revocation_time, 0);
	assert_int_equal(pki_revoke_cert(m->view, m, "01:02:03", false, &again, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why.data, "not found"));
	buf_reset(&why);
	assert_int_equal(pki_revoke_cert(m->view, m, "0x:zz", false, &again, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why.data, "serial_number"));

	X509_CRL_free(before);
	X509_CRL_free(after);
	X509_free(c);
	buf_release(&why);
	mount_release(m);
}

static void test_crl_numbers_strictly_increase(void **state)
{
	struct fx *f = *state;
	long last = 0;
	for (int i = 0; i < 4; i++) {
		if (i)
			assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/crl/rotate", "{}", NULL), 200);
		X509_CRL *crl = fetch_crl(f);
		assert_true(crl_num(crl) > last);
		last = crl_num(crl);
		/* nextUpdate = thisUpdate + 72h, Vault's default expiry */
		int days = 0, secs = 0;
		assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_CRL_get0_lastUpdate(crl), X509_CRL_get0_nextUpdate(crl)), 1);
		assert_int_equal(days * 86400 + secs, CRL_DEFAULT_EXPIRY_SECONDS);
		X509_CRL_free(crl);
	}
	/* a delta CRL takes its number from the same sequence */
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/config/crl", "{\"auto_rebuild\": true, \"enable_delta\": true}",
			      NULL),
			 200);
	struct buf raw;
	buf_init(&raw, 1 << 20);
	assert_int_equal(call_raw(f->core, "GET", "/v1/pki/crl/delta", NULL, NULL, &raw), 200);
	const unsigned char *p = (const unsigned char *)raw.data;
	X509_CRL *delta = d2i_X509_CRL(NULL, &p, (long)raw.len);
	X509_CRL *full = fetch_crl(f);
	assert_non_null(delta);
	assert_true(crl_num(full) > last);
	assert_true(crl_num(delta) > crl_num(full));
	ASN1_INTEGER *base = X509_CRL_get_ext_d2i(delta, NID_delta_crl, NULL, NULL);
	assert_non_null(base);
	assert_int_equal(ASN1_INTEGER_get(base), crl_num(full));
	ASN1_INTEGER_free(base);
	X509_CRL_free(delta);
	X509_CRL_free(full);
	buf_release(&raw);
}

static bool has_uri(STACK_OF(GENERAL_NAME) *names, const char *uri)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type == GEN_URI && strcmp((const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier), uri) == 0)
			return true;
	}
	return false;
}

static bool cdp_has(X509 *c, const char *uri)
{
	STACK_OF(DIST_POINT) *cdp = X509_get_ext_d2i(c, NID_crl_distribution_points, NULL, NULL);
	bool found = false;
	for (int i = 0; cdp && i < sk_DIST_POINT_num(cdp); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(cdp, i);
		found = found || (dp->distpoint && dp->distpoint->type == 0 && has_uri(dp->distpoint->name.fullname, uri));
	}
	sk_DIST_POINT_pop_free(cdp, DIST_POINT_free);
	return found;
}

static bool aia_has(X509 *c, int nid, const char *uri)
{
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(c, NID_info_access, NULL, NULL);
	bool found = false;
	for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		STACK_OF(GENERAL_NAME) *one = sk_GENERAL_NAME_new_null();
		sk_GENERAL_NAME_push(one, ad->location);
		found = found || (OBJ_obj2nid(ad->method) == nid && has_uri(one, uri));
		sk_GENERAL_NAME_free(one);
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	return found;
}

static void test_config_urls_reach_role_certificates(void **state)
{
	struct fx *f = *state;
	char serial[X509_SERIAL_TEXT_MAX];
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/config/cluster", "{\"aia_path\": \"http://ca.example/v1/pki\"}",
			      NULL),
			 200);
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/config/urls",
			      "{\"enable_templating\": true, \"issuing_certificates\": \"{{cluster_aia_path}}/ca\", "
			      "\"crl_distribution_points\": \"http://ca.example/crl\", "
			      "\"ocsp_servers\": \"http://ca.example/ocsp\"}",
			      NULL),
			 200);
	X509 *c = issue(f, serial);
	assert_true(aia_has(c, NID_ad_ca_issuers, "http://ca.example/v1/pki/ca"));
	assert_true(aia_has(c, NID_ad_OCSP, "http://ca.example/ocsp"));
	assert_true(cdp_has(c, "http://ca.example/crl"));
	X509_free(c);
	/* an issuer's own URLs win over the mount's */
	assert_int_equal(fixture_call(f->core, "POST", "/v1/pki/issuer/default",
			      "{\"crl_distribution_points\": \"http://issuer.example/crl\"}", NULL),
			 200);
	c = issue(f, serial);
	assert_true(cdp_has(c, "http://issuer.example/crl"));
	assert_false(cdp_has(c, "http://ca.example/crl"));
	assert_false(aia_has(c, NID_ad_OCSP, "http://ca.example/ocsp"));
	X509_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lease_revocation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crl_numbers_strictly_increase, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_urls_reach_role_certificates, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
