/* test_pki_role_cache.c — the roles and issuer records a PKI mount keeps
 * parsed (pki_role_get, pki_issuer_get_kept, pki_state.c): a kept one is
 * answered only while the stored bytes are the ones it was parsed from,
 * so every answer equals what pki_role_load / pki_issuer_get give from
 * storage at that moment. And the signing contexts kept with a signer
 * (pki_signer_ctx_take/give): reused for the same key and digest, never
 * for another key or digest, freed with their slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/pki/pki.h"
#include "engines/pki/role.h"
#include "err.h"
#include "secure.h"
#include "storage/storage.h"

static void put(struct storage *s, const char *name, const char *json)
{
	char key[160];
	snprintf(key, sizeof(key), PKI_ROLE_PREFIX "%s", name);
	assert_int_equal(storage_put(s, key, json, strlen(json)), 0);
}

/* pki_role_get's answer, as JSON text, checked against pki_role_load's. */
static char *got(struct pki_state *st, struct storage *s, const char *name, int want_rc)
{
	struct pki_role a, b;
	assert_int_equal(pki_role_get(st, s, name, &a), want_rc);
	assert_int_equal(pki_role_load(s, name, &b), want_rc);
	json_t *ja = pki_role_to_json(&a), *jb = pki_role_to_json(&b);
	char *ta = json_dumps(ja, JSON_SORT_KEYS), *tb = json_dumps(jb, JSON_SORT_KEYS);
	assert_string_equal(ta, tb);
	free(tb);
	json_decref(ja);
	json_decref(jb);
	pki_role_release(&a);
	pki_role_release(&b);
	return ta;
}

static void test_follows_storage(void **state)
{
	(void)state;
	struct storage *s = storage_inmem_new();
	struct pki_state *st = pki_state_new();

	put(s, "web", "{\"allowed_domains\":[\"example.com\"],\"key_type\":\"ec\",\"ttl\":60}");
	char *t1 = got(st, s, "web", 0);
	char *t2 = got(st, s, "web", 0); /* kept */
	assert_string_equal(t1, t2);
	assert_non_null(strstr(t1, "\"example.com\""));

	/* a rewrite is seen at once, also one of the same length */
	put(s, "web", "{\"allowed_domains\":[\"example.org\"],\"key_type\":\"ec\",\"ttl\":60}");
	char *t3 = got(st, s, "web", 0);
	assert_non_null(strstr(t3, "\"example.org\""));
	assert_null(strstr(t3, "\"example.com\""));

	/* a deleted role is gone; a record that is not a role is refused */
	assert_int_equal(storage_delete(s, PKI_ROLE_PREFIX "web"), 0);
	free(got(st, s, "web", TROVE_ERR_NOT_FOUND));
	put(s, "web", "[1,2]");
	free(got(st, s, "web", TROVE_ERR_INTEGRITY));
	put(s, "web", "{\"ttl\":\"nonsense\"}");
	free(got(st, s, "web", TROVE_ERR_INTEGRITY));

	/* no state: read and parsed every time */
	put(s, "web", "{\"no_store\":true}");
	struct pki_role r;
	assert_int_equal(pki_role_get(NULL, s, "web", &r), 0);
	assert_true(r.no_store);
	pki_role_release(&r);

	free(t1);
	free(t2);
	free(t3);
	pki_state_free(st);
	storage_free(s);
}

/* More roles than are kept, each read twice in a shuffled order and
 * rewritten in between: every answer is storage's. */
static void test_many_roles(void **state)
{
	(void)state;
	struct storage *s = storage_inmem_new();
	struct pki_state *st = pki_state_new();
	char name[32], json[256];
	unsigned seed = 12345;

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 80; i++) {
			snprintf(name, sizeof(name), "r%d", i);
			snprintf(json, sizeof(json),
			         "{\"allowed_domains\":\"d%d.example\",\"max_ttl\":%d,\"ou\":[\"u%d\",\"v\"]}", i,
			         1000 + i + round, round);
			put(s, name, json);
		}
		for (int k = 0; k < 400; k++) {
			seed = seed * 1103515245u + 12345u;
			snprintf(name, sizeof(name), "r%u", (seed >> 8) % 80);
			char *t = got(st, s, name, 0);
			char want[64];
			snprintf(want, sizeof(want), "\"u%d\"", round);
			assert_non_null(strstr(t, want));
			free(t);
		}
	}
	free(got(st, s, "absent", TROVE_ERR_NOT_FOUND));
	pki_state_free(st);
	storage_free(s);
}

/* pki_issuer_get_kept's answer, as JSON text, checked against
 * pki_issuer_get's. */
static char *issuer(struct pki_state *st, struct storage *s, const char *id, int want_rc)
{
	json_t *a = NULL, *b = NULL;
	assert_int_equal(pki_issuer_get_kept(st, s, id, &a), want_rc);
	assert_int_equal(pki_issuer_get(s, id, &b), want_rc);
	if (want_rc != 0) {
		assert_null(a);
		return NULL;
	}
	char *ta = json_dumps(a, 0), *tb = json_dumps(b, 0);
	assert_string_equal(ta, tb);
	free(tb);
	/* the answer is the caller's: changing it changes nothing kept */
	json_object_set_new(a, "name", json_string("changed by the caller"));
	json_decref(a);
	json_decref(b);
	return ta;
}

static void put_issuer(struct storage *s, const char *id, const char *json)
{
	char key[160];
	snprintf(key, sizeof(key), PKI_ISSUER_PREFIX "%s", id);
	assert_int_equal(storage_put(s, key, json, strlen(json)), 0);
}

static void test_issuer_records(void **state)
{
	(void)state;
	struct storage *s = storage_inmem_new();
	struct pki_state *st = pki_state_new();
	char id[16], json[128];

	put_issuer(s, "a", "{\"id\":\"a\",\"name\":\"one\",\"certificate\":\"-----BEGIN\\nX\"}");
	char *t1 = issuer(st, s, "a", 0);
	char *t2 = issuer(st, s, "a", 0); /* kept, and not changed by the first caller */
	assert_string_equal(t1, t2);
	assert_non_null(strstr(t1, "\"one\""));
	put_issuer(s, "a", "{\"id\":\"a\",\"name\":\"two\",\"certificate\":\"-----BEGIN\\nX\"}");
	char *t3 = issuer(st, s, "a", 0);
	assert_non_null(strstr(t3, "\"two\""));
	put_issuer(s, "a", "{not json");
	assert_null(issuer(st, s, "a", TROVE_ERR_INTEGRITY));
	assert_int_equal(storage_delete(s, PKI_ISSUER_PREFIX "a"), 0);
	assert_null(issuer(st, s, "a", TROVE_ERR_NOT_FOUND));

	/* more issuers than are kept, rewritten between rounds */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 20; i++) {
			snprintf(id, sizeof(id), "i%d", i);
			snprintf(json, sizeof(json), "{\"id\":\"%s\",\"name\":\"n%d-%d\"}", id, i, round);
			put_issuer(s, id, json);
		}
		for (int k = 0; k < 60; k++) {
			int i = (k * 7 + round) % 20;
			snprintf(id, sizeof(id), "i%d", i);
			char *t = issuer(st, s, id, 0);
			snprintf(json, sizeof(json), "\"n%d-%d\"", i, round);
			assert_non_null(strstr(t, json));
			free(t);
		}
	}
	free(t1);
	free(t2);
	free(t3);
	pki_state_free(st);
	storage_free(s);
}

/* An issuer "id" with an EC or Ed25519 key in storage; its record. */
static json_t *signer_issuer(struct storage *s, const char *id, const char *type)
{
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	X509_NAME *n = NULL;
	char *kpem = NULL, *cpem = NULL, path[64];
	const char *why = NULL;
	struct x509_subject subj;
	x509_subject_init(&subj);
	subj.cn = id;
	assert_int_equal(x509_name_build(&subj, &n), 0);
	assert_int_equal(x509_keygen(type, 256, &k), 0);
	struct x509_spec spec = {.subject = n, .pubkey = k, .not_before = 1700000000, .not_after = 4102444800,
				 .is_ca = true, .max_path_length = -1, .key_usage = X509_KU_CERT_SIGN};
	assert_int_equal(x509_cert_sign(&spec, NULL, k, &c, &why), 0);
	assert_int_equal(x509_key_to_text(k, "pkcs8", &kpem), 0);
	assert_int_equal(x509_cert_to_pem(c, &cpem), 0);
	json_t *krec = json_pack("{s:s}", "private_key", kpem);
	char *ktext = json_dumps(krec, 0);
	snprintf(path, sizeof(path), PKI_KEY_PREFIX "k-%s", id);
	assert_int_equal(storage_put(s, path, ktext, strlen(ktext)), 0);
	snprintf(path, sizeof(path), "k-%s", id);
	json_t *rec = json_pack("{s:s,s:s,s:s}", "id", id, "certificate", cpem, "key_id", path);
	free(ktext);
	json_decref(krec);
	secure_free_str(kpem);
	free(cpem);
	X509_free(c);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
	x509_subject_release(&subj);
	return rec;
}

static void test_signer_contexts(void **state)
{
	(void)state;
	struct storage *s = storage_inmem_new();
	struct pki_state *st = pki_state_new();
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	json_t *rec = signer_issuer(s, "a", "ec");
	assert_int_equal(pki_signer_get(st, s, rec, &cert, &key), 0);
	assert_non_null(key);

	/* taken, given back, taken again: the same context */
	struct x509_signer *g1 = pki_signer_ctx_take(st, key, EVP_sha256());
	assert_non_null(g1);
	assert_true(x509_signer_is_for(g1, key, EVP_sha256()));
	/* while it is out, another taker gets a context of its own */
	struct x509_signer *g2 = pki_signer_ctx_take(st, key, EVP_sha256());
	assert_non_null(g2);
	assert_ptr_not_equal(g1, g2);
	pki_signer_ctx_give(st, key, g1);
	pki_signer_ctx_give(st, key, g2);
	struct x509_signer *g3 = pki_signer_ctx_take(st, key, EVP_sha256());
	assert_true(g3 == g1 || g3 == g2);
	/* another digest is another context */
	struct x509_signer *g4 = pki_signer_ctx_take(st, key, EVP_sha384());
	assert_non_null(g4);
	assert_true(x509_signer_is_for(g4, key, EVP_sha384()));
	assert_false(x509_signer_is_for(g4, key, EVP_sha256()));
	/* more given back than a slot keeps: the rest are freed */
	struct x509_signer *more[6];
	for (int i = 0; i < 6; i++)
		assert_non_null(more[i] = pki_signer_ctx_take(st, key, EVP_sha256()));
	for (int i = 0; i < 6; i++)
		pki_signer_ctx_give(st, key, more[i]);

	/* a key no slot holds has none; nor without state */
	EVP_PKEY *other = NULL;
	assert_int_equal(x509_keygen("ec", 256, &other), 0);
	assert_null(pki_signer_ctx_take(st, other, EVP_sha256()));
	assert_null(pki_signer_ctx_take(NULL, key, EVP_sha256()));
	/* given back with another key, or to no state: freed, not kept */
	pki_signer_ctx_give(st, other, g4);
	pki_signer_ctx_give(NULL, key, pki_signer_ctx_take(st, key, EVP_sha256()));
	pki_signer_ctx_give(st, key, NULL);

	/* the slot evicted (more issuers than are kept) while one is out:
	 * given back, it is freed; the key, still referenced, has none */
	for (int i = 0; i < 10; i++) {
		char id[8];
		X509 *c2 = NULL;
		EVP_PKEY *k2 = NULL;
		snprintf(id, sizeof(id), "e%d", i);
		json_t *r2 = signer_issuer(s, id, "ec");
		assert_int_equal(pki_signer_get(st, s, r2, &c2, &k2), 0);
		X509_free(c2);
		EVP_PKEY_free(k2);
		json_decref(r2);
	}
	assert_null(pki_signer_ctx_take(st, key, EVP_sha256()));
	pki_signer_ctx_give(st, key, g3);

	/* an Ed25519 issuer signs without one */
	X509 *ec = NULL;
	EVP_PKEY *ek = NULL;
	json_t *erec = signer_issuer(s, "ed", "ed25519");
	assert_int_equal(pki_signer_get(st, s, erec, &ec, &ek), 0);
	assert_null(pki_signer_ctx_take(st, ek, EVP_sha256()));
	assert_null(pki_signer_ctx_take(st, ek, NULL));

	X509_free(ec);
	EVP_PKEY_free(ek);
	json_decref(erec);
	EVP_PKEY_free(other);
	X509_free(cert);
	EVP_PKEY_free(key);
	json_decref(rec);
	pki_state_free(st);
	storage_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_follows_storage),
	    cmocka_unit_test(test_many_roles),
	    cmocka_unit_test(test_issuer_records),
	    cmocka_unit_test(test_signer_contexts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
