/* test_pki_cli.c — the judging parts of `trove pki`: verify-sign's five
 * relations on certificates made here, and the health checks against a
 * scripted server (each answer written out below), with the clock
 * injected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli/pki.h"
#include "cli/pki_health.h"
#include "pki_test_ca.h"

/* ---- certificates ----------------------------------------------------- */

static char *pem_of(X509 *c)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	assert_int_equal(PEM_write_bio_X509(b, c), 1);
	n = BIO_get_mem_data(b, &p);
	out = xstrndup(p, (size_t)n); /* bounded: the BIO holds no NUL */
	BIO_free(b);
	return out;
}

static void test_verify_sign(void **state)
{
	EVP_PKEY *rk = test_key("P-256"), *ok = test_key("P-256");
	X509 *root = test_ca(rk, "Root", "critical,keyCertSign,cRLSign", true);
	X509 *other = test_ca(ok, "Root", "critical,keyCertSign,cRLSign", true); /* same name, other key */
	static const unsigned char serial[] = {0x42};
	X509 *leaf = test_leaf(root, rk, "leaf.example", serial, sizeof(serial));
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct pki_sign_match m;
	json_t *j;
	char *pem = pem_of(leaf);
	X509 *back;

	(void)state;
	sk_X509_push(chain, X509_dup(root));
	pki_verify_sign(root, leaf, chain, &m);
	assert_true(m.signature_match && m.subject_match && m.trust_match && m.path_match);
	assert_false(m.key_id_match); /* the leaf has no authority key id, the root a subject key id */

	pki_verify_sign(root, leaf, NULL, &m);
	assert_false(m.path_match);

	/* Same subject, another key: only the names agree. */
	pki_verify_sign(other, leaf, chain, &m);
	assert_true(m.subject_match);
	assert_false(m.signature_match || m.trust_match || m.path_match);

	/* A root against itself. */
	pki_verify_sign(root, root, NULL, &m);
	assert_true(m.signature_match && m.subject_match && m.trust_match);

	/* A leaf signs nothing, even itself; trusting it trusts it alone. */
	pki_verify_sign(leaf, leaf, NULL, &m);
	assert_false(m.signature_match);
	assert_true(m.trust_match);

	j = pki_sign_match_json(&m);
	assert_string_equal(json_object_iter_key(json_object_iter(j)), "key_id_match");
	assert_int_equal(json_object_size(j), 5);
	json_decref(j);

	back = pki_cert_from_pem(pem);
	assert_non_null(back);
	assert_int_equal(X509_cmp(back, leaf), 0);
	X509_free(back);
	assert_null(
	    pki_cert_from_pem("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"));
	assert_null(pki_cert_from_pem(""));
	{
		STACK_OF(X509) *sk = sk_X509_new_null();
		char *two = NULL;

		assert_true(asprintf(&two, "%s%s", pem, pem) > 0);
		assert_int_equal(pki_certs_from_pem(two, sk), 2);
		/* Other PEM blocks are passed over; a broken certificate is an error. */
		assert_int_equal(
		    pki_certs_from_pem("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", sk), 0);
		assert_int_equal(
		    pki_certs_from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", sk),
		    -1);
		assert_int_equal(sk_X509_num(sk), 2);
		sk_X509_pop_free(sk, X509_free);
		free(two);
	}

	free(pem);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	X509_free(root);
	X509_free(other);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ok);
}

static void test_clean_path(void **state)
{
	char *p;

	(void)state;
	p = pki_clean_path("  /pki/issuer/root/ ");
	assert_string_equal(p, "pki/issuer/root");
	free(p);
	p = pki_clean_path("///");
	assert_string_equal(p, "");
	free(p);
}

/* ---- a scripted server ------------------------------------------------ */

struct route {
	const char *method, *path;
	long status;
	char *body; /* JSON text (owned) */
};

struct server {
	struct route r[48];
	size_t n;
	int calls;
	int url_calls;
	bool url_ok;
};

__attribute__((format(printf, 5, 6))) static void serve(struct server *s, const char *method, const char *path,
							 long status, const char *fmt, ...)
{
	va_list ap;
	char *body = NULL;

	va_start(ap, fmt);
	assert_true(vasprintf(&body, fmt, ap) >= 0);
	va_end(ap);
	assert_true(s->n < sizeof(s->r) / sizeof(s->r[0]));
	s->r[s->n++] = (struct route){method, path, status, body};
}

static void server_free(struct server *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->r[i].body);
}

static void fake_fetch(void *ctx, const char *method, const char *path, struct pki_hc_answer *out)
{
	struct server *s = ctx;
	size_t i;

	s->calls++;
	memset(out, 0, sizeof(*out));
	for (i = s->n; i-- > 0;) {
		if (strcmp(s->r[i].method, method) == 0 && strcmp(s->r[i].path, path) == 0) {
			out->status = s->r[i].status;
			out->json = json_loads(s->r[i].body, 0, NULL);
			assert_non_null(out->json);
			return;
		}
	}
	out->status = 404;
	out->json = json_pack("{s:[s]}", "errors", "unsupported path");
}

static int fake_url(void *ctx, const char *url, char **why)
{
	struct server *s = ctx;

	s->url_calls++;
	assert_string_equal(url, "https://trove.example:8200/v1/pki/acme/directory");
	if (s->url_ok)
		return 0;
	*why = strdup("connection refused");
	return -1;
}

/* A JSON string of PEM text. */
static char *jstr(const char *s)
{
	json_t *j = json_string(s);
	char *out = json_dumps(j, JSON_ENCODE_ANY);

	json_decref(j);
	return out;
}

/* A mount with one root (valid a day), one leaf it issued, two roles. */
struct fixture {
	EVP_PKEY *key;
	X509 *root, *leaf;
	struct server srv;
	struct pki_hc hc;
	json_t *config, *results;
};

static void fixture_init(struct fixture *f)
{
	static const unsigned char serial[] = {0x07};
	char *rp, *lp, *rj, *lj;

	memset(f, 0, sizeof(*f));
	f->key = test_key("P-256");
	f->root = test_ca(f->key, "Root", "critical,keyCertSign,cRLSign", true);
	f->leaf = test_leaf(f->root, f->key, "leaf.example", serial, sizeof(serial));
	rp = pem_of(f->root);
	lp = pem_of(f->leaf);
	rj = jstr(rp);
	lj = jstr(lp);
	serve(&f->srv, "LIST", "pki/issuers", 200, "{\"data\": {\"keys\": [\"r1\"]}}");
	serve(&f->srv, "GET", "pki/issuer/r1/json", 200, "{\"data\": {\"certificate\": %s}}", rj);
	serve(&f->srv, "LIST", "pki/certs", 200, "{\"data\": {\"keys\": [\"01\", \"07\"]}}");
	serve(&f->srv, "GET", "pki/cert/01", 200, "{\"data\": {\"certificate\": %s}}", rj);
	serve(&f->srv, "GET", "pki/cert/07", 200, "{\"data\": {\"certificate\": %s}}", lj);
	serve(&f->srv, "LIST", "pki/roles", 200, "{\"data\": {\"keys\": [\"risky\", \"safe\"]}}");
	serve(&f->srv, "GET", "pki/roles/risky", 200,
	      "{\"data\": {\"allow_localhost\": true, \"allowed_domains\": [\"*.example.com\"], "
	      "\"allow_glob_domains\": true, \"allow_wildcard_certificates\": true, \"no_store\": false}}");
	serve(&f->srv, "GET", "pki/roles/safe", 200,
	      "{\"data\": {\"allow_localhost\": false, \"allowed_domains\": [\"example.com\"], "
	      "\"allow_glob_domains\": false, \"allow_wildcard_certificates\": true, \"no_store\": true}}");
	serve(&f->srv, "GET", "sys/mounts/pki/tune", 200, "{\"data\": {\"default_lease_ttl\": 0}}");
	free(rp);
	free(lp);
	free(rj);
	free(lj);
	f->hc.fetch = fake_fetch;
	f->hc.acme_directory = fake_url;
	f->hc.ctx = &f->srv;
	f->hc.mount = "pki";
	f->hc.have_token = true;
	f->hc.now = time(NULL);
}

static void fixture_free(struct fixture *f)
{
	pki_hc_release(&f->hc);
	json_decref(f->config);
	json_decref(f->results);
	server_free(&f->srv);
	X509_free(f->root);
	X509_free(f->leaf);
	EVP_PKEY_free(f->key);
}

/* Runs the checks with external configuration text (NULL for none). */
static void run(struct fixture *f, const char *external)
{
	json_t *ext = external ? json_loads(external, 0, NULL) : NULL;
	char *err = NULL;

	pki_hc_release(&f->hc);
	json_decref(f->config);
	json_decref(f->results);
	f->results = NULL;
	assert_int_equal(pki_hc_build_config(ext, true, &f->config, &err), 0);
	if (pki_hc_execute(&f->hc, f->config, &f->results, &err) != 0)
		fail_msg("execute: %s", err);
	json_decref(ext);
}

/* The statuses of one check's results, joined by ",". */
static const char *statuses(struct fixture *f, const char *check)
{
	static char out[512];
	const json_t *arr = json_object_get(f->results, check), *v;
	size_t i;

	out[0] = '\0';
	assert_non_null(arr);
	json_array_foreach(arr, i, v)
	{
		if (i)
			strncat(out, ",", sizeof(out) - strlen(out) - 1);
		strncat(out, json_string_value(json_object_get(v, "status")), sizeof(out) - strlen(out) - 1);
	}
	return out;
}

static const char *first(struct fixture *f, const char *check, const char *field)
{
	return json_string_value(
	    json_object_get(json_array_get(json_object_get(f->results, check), 0), field));
}

/* ---- the checks ------------------------------------------------------- */

static void test_ca_validity(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f);
	run(&f, NULL);
	/* A day left: inside the root's 180-day critical window. */
	assert_string_equal(statuses(&f, "ca_validity_period"), "critical");
	assert_string_equal(first(&f, "ca_validity_period", "endpoint"), "/pki/issuer/r1");
	assert_non_null(strstr(first(&f, "ca_validity_period", "message"), "180d"));
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_array_get(json_object_get(f.results, "ca_validity_period"), 0), "status_code")),
	    PKI_HC_CRITICAL);

	/* Seen from 800 days earlier it is outside every window. */
	f.hc.now -= 800 * 86400;
	run(&f, NULL);
	assert_string_equal(statuses(&f, "ca_validity_period"), "ok");
	/* 500 days before: informational (inside 730d); 300: warning (inside 365d). */
	f.hc.now += 300 * 86400;
	run(&f, NULL);
	assert_string_equal(statuses(&f, "ca_validity_period"), "informational");
	f.hc.now += 200 * 86400;
	run(&f, NULL);
	assert_string_equal(statuses(&f, "ca_validity_period"), "warning");
	/* Windows are configurable. */
	run(&f, "{\"ca_validity_period\": {\"root_expiry_warning\": \"10d\", \"root_expiry_informational\": "
	        "\"20d\"}}");
	assert_string_equal(statuses(&f, "ca_validity_period"), "ok");
	fixture_free(&f);
}

static void test_root_issued_leaves(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f);
	run(&f, NULL);
	assert_string_equal(statuses(&f, "root_issued_leaves"), "warning");
	assert_non_null(strstr(first(&f, "root_issued_leaves", "message"), "07"));
	/* Without the leaf in the store: ok. */
	serve(&f.srv, "LIST", "pki/certs", 200, "{\"data\": {\"keys\": [\"01\"]}}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "root_issued_leaves"), "ok");
	assert_string_equal(statuses(&f, "too_many_certs"), "ok");
	serve(&f.srv, "LIST", "pki/certs", 403, "{\"errors\": [\"permission denied\"]}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "root_issued_leaves"), "insufficient_permissions");
	assert_string_equal(statuses(&f, "too_many_certs"), "insufficient_permissions");
	fixture_free(&f);
}

static void test_roles(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f);
	run(&f, NULL);
	assert_string_equal(statuses(&f, "role_allows_localhost"), "warning");
	assert_string_equal(first(&f, "role_allows_localhost", "endpoint"), "/pki/roles/risky");
	assert_string_equal(statuses(&f, "role_allows_glob_wildcards"), "warning");
	assert_non_null(strstr(first(&f, "role_allows_glob_wildcards", "message"), "[*.example.com]"));
	/* config/crl not served: no_store=false is a warning. */
	assert_string_equal(statuses(&f, "role_no_store_false"), "warning");
	assert_string_equal(first(&f, "role_no_store_false", "endpoint"), "/pki/roles/risky");

	/* auto_rebuild softens it; allowed_roles drops it. */
	serve(&f.srv, "GET", "pki/config/crl", 200, "{\"data\": {\"auto_rebuild\": true}}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "role_no_store_false"), "informational");
	run(&f, "{\"role_no_store_false\": {\"allowed_roles\": [\"risky\"]}}");
	assert_string_equal(statuses(&f, "role_no_store_false"), "ok");
	serve(&f.srv, "GET", "pki/config/crl", 403, "{\"errors\": [\"permission denied\"]}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "role_no_store_false"), "insufficient_permissions,warning");

	/* Safe roles only. */
	serve(&f.srv, "GET", "pki/config/crl", 200, "{\"data\": {}}");
	serve(&f.srv, "LIST", "pki/roles", 200, "{\"data\": {\"keys\": [\"safe\"]}}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "role_allows_localhost"), "ok");
	assert_string_equal(statuses(&f, "role_allows_glob_wildcards"), "ok");
	assert_string_equal(statuses(&f, "role_no_store_false"), "ok");

	/* No roles (a plain 404): nothing to say. */
	serve(&f.srv, "LIST", "pki/roles", 404, "{\"errors\": []}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "role_allows_localhost"), "");

	/* A server without roles: invalid_version; a token that may not list them. */
	serve(&f.srv, "LIST", "pki/roles", 404, "{\"errors\": [\"unsupported path\"]}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "role_allows_localhost"), "invalid_version");
	assert_string_equal(first(&f, "role_allows_localhost", "endpoint"), "/pki/roles");
	serve(&f.srv, "LIST", "pki/roles", 403, "{\"errors\": [\"permission denied\"]}");
	f.hc.have_token = false;
	run(&f, NULL);
	assert_string_equal(statuses(&f, "role_no_store_false"), "insufficient_permissions");
	assert_non_null(strstr(first(&f, "role_no_store_false", "message"), "No token"));
	fixture_free(&f);
}

static void test_tune_checks(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f);
	run(&f, NULL);
	/* Nothing listed: each of the 30 visible fields is informational. */
	assert_int_equal(json_array_size(json_object_get(f.results, "audit_visibility")), 30);
	assert_string_equal(statuses(&f, "allow_if_modified_since"), "informational");

	serve(&f.srv, "GET", "sys/mounts/pki/tune", 200,
	      "{\"data\": {\"audit_non_hmac_request_keys\": [\"private_key\"], "
	      "\"passthrough_request_headers\": [\"if-modified-since\"], \"allowed_response_headers\": "
	      "[\"Last-Modified\"]}}");
	run(&f, "{\"audit_visibility\": {\"ignored_parameters\": [\"csr\", \"certificate\", \"issuer_ref\", "
	        "\"common_name\", \"alt_names\", \"other_sans\", \"ip_sans\", \"uri_sans\", \"ttl\", "
	        "\"not_after\", "
	        "\"serial_number\", \"key_type\", \"private_key_format\", \"managed_key_name\", "
	        "\"managed_key_id\", "
	        "\"ou\", \"organization\", \"country\", \"locality\", \"province\", \"street_address\", "
	        "\"postal_code\", \"permitted_dns_domains\", \"policy_identifiers\", \"ext_key_usage_oids\", "
	        "\"issuing_ca\", \"error\", \"ca_chain\"]}}");
	assert_string_equal(statuses(&f, "audit_visibility"), "warning");
	assert_non_null(strstr(first(&f, "audit_visibility", "message"), "private_key"));
	assert_string_equal(statuses(&f, "allow_if_modified_since"), "ok");

	serve(&f.srv, "GET", "sys/mounts/pki/tune", 403, "{\"errors\": [\"permission denied\"]}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "audit_visibility"), "insufficient_permissions");
	assert_string_equal(first(&f, "audit_visibility", "endpoint"), "/sys/mounts/pki/tune");
	fixture_free(&f);
}

static void test_tidy(void **state)
{
	struct fixture f;
	char when[64];
	time_t t;
	struct tm tm;

	(void)state;
	fixture_init(&f);
	run(&f, NULL);
	/* Not served yet: Vault's answer for an older server. */
	assert_string_equal(statuses(&f, "enable_auto_tidy"), "invalid_version");
	assert_string_equal(statuses(&f, "tidy_last_run"), "invalid_version");

	serve(&f.srv, "GET", "pki/config/auto-tidy", 200, "{\"data\": {\"enabled\": false}}");
	serve(&f.srv, "GET", "pki/tidy-status", 200, "{\"data\": {\"time_finished\": null}}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "enable_auto_tidy"), "informational");
	assert_string_equal(statuses(&f, "tidy_last_run"), "critical");

	serve(&f.srv, "GET", "pki/config/auto-tidy", 200,
	      "{\"data\": {\"enabled\": true, \"interval_duration\": 259200, \"pause_duration\": \"0s\"}}");
	t = f.hc.now - 3 * 86400;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	serve(&f.srv, "GET", "pki/tidy-status", 200, "{\"data\": {\"time_finished\": \"%s\"}}", when);
	run(&f, NULL);
	assert_string_equal(statuses(&f, "enable_auto_tidy"), "warning");
	assert_non_null(strstr(first(&f, "enable_auto_tidy", "message"), "3d"));
	assert_string_equal(statuses(&f, "tidy_last_run"), "warning");

	serve(&f.srv, "GET", "pki/config/auto-tidy", 200,
	      "{\"data\": {\"enabled\": true, \"interval_duration\": 43200, \"pause_duration\": \"2s\"}}");
	t = f.hc.now - 600;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	serve(&f.srv, "GET", "pki/tidy-status", 200, "{\"data\": {\"time_finished\": \"%s\"}}", when);
	run(&f, NULL);
	assert_string_equal(statuses(&f, "enable_auto_tidy"), "critical");
	assert_string_equal(statuses(&f, "tidy_last_run"), "ok");
	run(&f, "{\"enable_auto_tidy\": {\"pause_duration_critical\": \"5s\", \"pause_duration_warning\": "
	        "\"3s\"}}");
	assert_string_equal(statuses(&f, "enable_auto_tidy"), "ok");
	fixture_free(&f);
}

static void test_too_many_certs(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f);
	run(&f, "{\"too_many_certs\": {\"count_warning\": 2, \"count_critical\": 3}}");
	assert_string_equal(statuses(&f, "too_many_certs"), "warning");
	run(&f, "{\"too_many_certs\": {\"count_warning\": 1, \"count_critical\": \"2\"}}");
	assert_string_equal(statuses(&f, "too_many_certs"), "critical");
	fixture_free(&f);
}

static void test_acme(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f);
	run(&f, NULL);
	assert_string_equal(statuses(&f, "enable_acme_issuance"), "invalid_version");
	assert_string_equal(statuses(&f, "allow_acme_headers"), "invalid_version");

	serve(&f.srv, "GET", "pki/config/acme", 200, "{\"data\": {\"enabled\": false}}");
	serve(&f.srv, "GET", "pki/config/cluster", 200, "{\"data\": {\"path\": \"\"}}");
	run(&f, NULL);
	/* Only a root: ACME is not for it. */
	assert_string_equal(statuses(&f, "enable_acme_issuance"), "not_applicable");
	assert_string_equal(statuses(&f, "allow_acme_headers"), "not_applicable");

	serve(&f.srv, "GET", "pki/config/acme", 200, "{\"data\": {\"enabled\": true}}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "enable_acme_issuance"), "warning");
	assert_non_null(strstr(first(&f, "enable_acme_issuance", "message"), "not set"));
	assert_string_equal(statuses(&f, "allow_acme_headers"), "warning");

	serve(&f.srv, "GET", "pki/config/cluster", 200,
	      "{\"data\": {\"path\": \"http://trove.example:8200/v1/pki\"}}");
	run(&f, NULL);
	assert_non_null(strstr(first(&f, "enable_acme_issuance", "message"), "https"));

	serve(&f.srv, "GET", "pki/config/cluster", 200,
	      "{\"data\": {\"path\": \"https://trove.example:8200/v1/pki/\"}}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "enable_acme_issuance"), "warning");
	assert_non_null(strstr(first(&f, "enable_acme_issuance", "message"), "connection refused"));
	f.srv.url_ok = true;
	serve(&f.srv, "GET", "sys/mounts/pki/tune", 200,
	      "{\"data\": {\"allowed_response_headers\": [\"replay-nonce\", \"Link\", \"Location\"]}}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "enable_acme_issuance"), "ok");
	assert_string_equal(statuses(&f, "allow_acme_headers"), "ok");
	assert_true(f.srv.url_calls >= 2);

	serve(&f.srv, "GET", "pki/config/acme", 403, "{\"errors\": [\"permission denied\"]}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "enable_acme_issuance"), "insufficient_permissions");
	assert_string_equal(statuses(&f, "allow_acme_headers"), "insufficient_permissions");
	fixture_free(&f);
}

/* A CRL over [this, next], signed by the fixture's root. */
static char *crl_pem(struct fixture *f, time_t this, time_t next)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *a = ASN1_TIME_set(NULL, this), *b = ASN1_TIME_set(NULL, next);
	BIO *bio = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(f->root)), 1);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, a), 1);
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, b), 1);
	assert_true(X509_CRL_sign(crl, f->key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_CRL(bio, crl), 1);
	n = BIO_get_mem_data(bio, &p);
	out = xstrndup(p, (size_t)n); /* bounded: the BIO holds no NUL */
	BIO_free(bio);
	ASN1_TIME_free(a);
	ASN1_TIME_free(b);
	X509_CRL_free(crl);
	return out;
}

static void test_crl_validity(void **state)
{
	struct fixture f;
	char *pem, *js;

	(void)state;
	fixture_init(&f);
	run(&f, NULL);
	assert_string_equal(statuses(&f, "crl_validity_period"), "invalid_version");

	pem = crl_pem(&f, f.hc.now - 3600, f.hc.now + 3600);
	js = jstr(pem);
	serve(&f.srv, "GET", "pki/issuer/r1/crl", 200, "{\"data\": {\"crl\": %s}}", js);
	serve(&f.srv, "GET", "pki/issuer/r1/crl/delta", 200, "{\"data\": {\"crl\": %s}}", js);
	run(&f, NULL);
	assert_string_equal(statuses(&f, "crl_validity_period"), "ok,ok");
	assert_string_equal(first(&f, "crl_validity_period", "endpoint"), "/pki/issuer/r1/crl");
	f.hc.now += 3500; /* 98% of the window used */
	run(&f, NULL);
	assert_string_equal(statuses(&f, "crl_validity_period"), "critical,critical");
	run(&f, "{\"crl_validity_period\": {\"crl_expiry_pct_critical\": 99, "
	        "\"delta_crl_expiry_pct_critical\": \"99\"}}");
	assert_string_equal(statuses(&f, "crl_validity_period"), "ok,ok");
	serve(&f.srv, "GET", "pki/config/crl", 200, "{\"data\": {\"disabled\": true}}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "crl_validity_period"), "informational,informational");
	/* No delta CRLs served. */
	serve(&f.srv, "GET", "pki/issuer/r1/crl/delta", 404, "{\"errors\": [\"unsupported path\"]}");
	run(&f, NULL);
	assert_string_equal(statuses(&f, "crl_validity_period"), "invalid_version,informational");
	free(pem);
	free(js);
	fixture_free(&f);
}

/* ---- the frame -------------------------------------------------------- */

static void test_config(void **state)
{
	json_t *ext, *cfg = NULL, *defaults = pki_hc_default_config();
	char *err = NULL;
	const char *bad[][2] = {
	    {"{\"ca_validity_period\": {\"root_expiry_critical\": \"soon\"}}",
	     "ca_validity_period.root_expiry_critical"},
	    {"{\"ca_validity_period\": {\"colour\": \"red\"}}",
	     "unknown configuration option for ca_validity_period: colour"},
	    {"{\"crl_validity_period\": {\"crl_expiry_pct_critical\": 100}}", "crl_expiry_pct_critical"},
	    {"{\"root_issued_leaves\": {\"certs_to_fetch\": 0}}", "certs_to_fetch"},
	    {"{\"audit_visibility\": {\"ignored_parameters\": [1]}}", "ignored_parameters"},
	    {"{\"too_many_certs\": {\"enabled\": \"maybe\"}}", "too_many_certs.enabled"},
	};
	size_t i;

	(void)state;
	assert_int_equal(json_object_size(defaults), 13);
	assert_string_equal(json_object_iter_key(json_object_iter(defaults)), "ca_validity_period");
	assert_null(json_object_get(json_object_get(defaults, "too_many_certs"), "enabled"));
	json_decref(defaults);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ext = json_loads(bad[i][0], 0, NULL);
		assert_non_null(ext);
		assert_int_equal(pki_hc_build_config(ext, true, &cfg, &err), -1);
		assert_null(cfg);
		if (strstr(err, bad[i][1]) == NULL)
			fail_msg("%s: %s", bad[i][0], err);
		free(err);
		err = NULL;
		json_decref(ext);
	}

	/* Unknown checks are ignored; default-disabled runs only what is enabled. */
	ext = json_loads("{\"no_such_check\": {}, \"too_many_certs\": {\"enabled\": true}}", 0, NULL);
	assert_int_equal(pki_hc_build_config(ext, false, &cfg, &err), 0);
	assert_true(json_is_true(json_object_get(json_object_get(cfg, "too_many_certs"), "enabled")));
	assert_true(json_is_false(json_object_get(json_object_get(cfg, "ca_validity_period"), "enabled")));
	json_decref(cfg);
	json_decref(ext);
}

static void test_exit_code(void **state)
{
	json_t *r = json_loads(
	    "{\"a\": [{\"status_code\": 1}], \"b\": [{\"status_code\": 3}, {\"status_code\": 2}]}", 0, NULL);
	json_t *fine =
	    json_loads("{\"a\": [{\"status_code\": 1}, {\"status_code\": 0}], \"b\": []}", 0, NULL);

	(void)state;
	assert_int_equal(pki_hc_exit_code(r, "default"), 3);
	assert_int_equal(pki_hc_exit_code(r, NULL), 3);
	assert_int_equal(pki_hc_exit_code(r, "warning"), 3);
	assert_int_equal(pki_hc_exit_code(r, "critical"), 0);
	assert_int_equal(pki_hc_exit_code(r, "permission"), 0);
	assert_int_equal(pki_hc_exit_code(r, "loud"), -1);
	assert_int_equal(pki_hc_exit_code(fine, "informational"), 0);
	json_decref(r);
	json_decref(fine);
}

static void test_failures(void **state)
{
	struct fixture f;
	json_t *results = NULL;
	char *err = NULL;
	int calls;

	(void)state;
	fixture_init(&f);
	/* Each path is read once per run, whichever checks need it. */
	run(&f, NULL);
	calls = f.srv.calls;
	assert_true(calls < 20);

	/* No issuers at all: the run stops, as Vault's does. */
	serve(&f.srv, "LIST", "pki/issuers", 404, "{\"errors\": []}");
	pki_hc_release(&f.hc);
	assert_int_equal(pki_hc_execute(&f.hc, f.config, &results, &err), -1);
	assert_null(results);
	assert_non_null(strstr(err, "no issuers"));
	free(err);
	err = NULL;

	/* A server error is no verdict: the run stops naming the path. */
	serve(&f.srv, "LIST", "pki/issuers", 500, "{\"errors\": [\"internal error\"]}");
	pki_hc_release(&f.hc);
	assert_int_equal(pki_hc_execute(&f.hc, f.config, &results, &err), -1);
	assert_non_null(strstr(err, "issuers"));
	assert_non_null(strstr(err, "internal error"));
	free(err);
	fixture_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verify_sign), cmocka_unit_test(test_clean_path),
	    cmocka_unit_test(test_ca_validity), cmocka_unit_test(test_root_issued_leaves),
	    cmocka_unit_test(test_roles),       cmocka_unit_test(test_tune_checks),
	    cmocka_unit_test(test_tidy),        cmocka_unit_test(test_too_many_certs),
	    cmocka_unit_test(test_acme),        cmocka_unit_test(test_crl_validity),
	    cmocka_unit_test(test_config),      cmocka_unit_test(test_exit_code),
	    cmocka_unit_test(test_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
