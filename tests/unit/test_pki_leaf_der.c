/* test_pki_leaf_der.c — leaves written as DER directly (leaf_der.c)
 * against the X509 path (x509_cert_sign, x509_leaf_extend): over many
 * randomized leaves (subjects, SANs of every kind, key usages, validity
 * across 2049/2050, AIA/CDP URLs, EKU OIDs, policies, CA:FALSE) under EC,
 * Ed25519 and RSA issuers, the TBSCertificate bytes are identical for the
 * same serial and validity, the signature algorithm is the same, and
 * OpenSSL verifies the direct certificate's signature with the issuer's
 * key and reads the leaf's own key from it; the same holds when a kept
 * signing context (x509_signer, reused across leaves) signs, and when
 * one made for another digest is handed in (it is not used).
 * x509_leaf_der_covers refuses what it does not write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "engines/pki/x509.h"
#include "err.h"

static unsigned rnd(unsigned n)
{
	unsigned v = 0;
	assert_int_equal(RAND_bytes((unsigned char *)&v, sizeof(v)), 1);
	return v % n;
}

static X509_NAME *name_of(const char *cn)
{
	struct x509_subject s;
	X509_NAME *n = NULL;
	x509_subject_init(&s);
	s.cn = cn;
	strlist_push(&s.org, "Trove");
	assert_int_equal(x509_name_build(&s, &n), 0);
	x509_subject_release(&s);
	return n;
}

struct issuer {
	EVP_PKEY *key;
	X509 *cert;
	struct x509_signer *kept[3]; /* SHA-256, -384, -512; made on first use, NULL for non-EC */
};

static struct issuer make_issuer(const char *type, int bits)
{
	struct issuer is = {0};
	X509_NAME *n = name_of("Leaf DER Root");
	const char *why = NULL;
	assert_int_equal(x509_keygen(type, bits, &is.key), 0);
	struct x509_spec spec = {.subject = n, .pubkey = is.key, .not_before = 1700000000, .not_after = 4102444800,
				 .is_ca = true, .max_path_length = -1, .key_usage = X509_KU_CERT_SIGN | X509_KU_CRL_SIGN};
	assert_int_equal(x509_cert_sign(&spec, NULL, is.key, &is.cert, &why), 0);
	X509_NAME_free(n);
	return is;
}

static void issuer_free(struct issuer *is)
{
	for (size_t i = 0; i < 3; i++)
		x509_signer_free(is->kept[i]);
	EVP_PKEY_free(is->key);
	X509_free(is->cert);
}

/* The length of the TLV at p (whole, header included). */
static size_t tlv_len(const unsigned char *p)
{
	if (p[1] < 0x80)
		return 2 + (size_t)p[1];
	size_t n = 0, h = p[1] & 0x7f;
	for (size_t i = 0; i < h; i++)
		n = n << 8 | p[2 + i];
	return 2 + h + n;
}

/* The TBS TLV inside a Certificate's DER. */
static const unsigned char *tbs_of(const unsigned char *der, size_t *len)
{
	const unsigned char *p = der + 2 + (der[1] < 0x80 ? 0 : (der[1] & 0x7f));
	*len = tlv_len(p);
	return p;
}

static const char *pick(const char *const *v, size_t n)
{
	return v[rnd((unsigned)n)];
}
#define PICK(a) pick(a, sizeof(a) / sizeof(a[0]))

static void random_list(struct strlist *l, const char *const *v, size_t n, unsigned max)
{
	unsigned k = rnd(max + 1);
	for (unsigned i = 0; i < k; i++)
		strlist_push(l, pick(v, n));
}
#define RANDOM_LIST(l, a, max) random_list(l, a, sizeof(a) / sizeof(a[0]), max)

static const char *const cns[] = {"leaf.example.com", "a", "\xc3\xa9t\xc3\xa9.example.org", "user@example.com",
				  "*.wild.example.net", "x.y.z.svc.cluster.local", "Space In Name"};
static const char *const dns[] = {"a.example.com", "b.example.com", "*.example.com", "localhost", "xn--bcher-kva.de"};
static const char *const emails[] = {"a@example.com", "root@localhost"};
static const char *const ips[] = {"127.0.0.1", "10.1.2.3", "::1", "2001:db8::42", "fe80::1:2:3:4"};
static const char *const uris[] = {"spiffe://cluster.local/ns/a/sa/b", "https://example.com/x?y=z", "urn:uuid:1"};
static const char *const others[] = {"1.3.6.1.4.1.311.20.2.3;UTF8:user@example.com", "1.2.3.4;UTF8:v:with:colons",
				     "2.5.4.3;UTF8:"};
static const char *const urls[] = {"http://127.0.0.1:8200/v1/pki/ca", "https://pki.example.com/crl",
				   "http://ocsp.example.com", "ldap://ldap.example.com/cn=CA?cACertificate"};
static const char *const oids[] = {"1.3.6.1.5.5.7.3.8", "1.2.3.4.5", "2.999.1", "1.3.6.1.5.5.7.3.1"};
static const char *const policies[] = {"1.3.6.1.4.1.44947.1.1.1", "2.23.140.1.2.1", "1.2.3"};
static const char *const words[] = {"Trove", "Engineering", "Ops \xc3\x9c"};
static const char *const countries[] = {"US", "DE", "FR"};

/* One randomized leaf under is, both ways. */
/* The issuer's kept signer for md, made on first use. */
static struct x509_signer *kept_for(struct issuer *is, const EVP_MD *md)
{
	size_t i = EVP_MD_get_size(md) == 64 ? 2 : EVP_MD_get_size(md) == 48 ? 1 : 0;
	if (!is->kept[i])
		is->kept[i] = x509_signer_new(is->key, md);
	if (EVP_PKEY_get_base_id(is->key) == EVP_PKEY_EC) {
		assert_non_null(is->kept[i]);
		assert_true(x509_signer_is_for(is->kept[i], is->key, md));
	} else {
		assert_null(is->kept[i]); /* ECDSA only */
	}
	return is->kept[i];
}

static void one_leaf(struct issuer *is, EVP_PKEY *const *leaf_keys, size_t nkeys, time_t now)
{
	struct x509_subject subj;
	struct x509_sans sans;
	struct strlist eku_oids, ocsp, issuing, cdp, pol;
	X509_NAME *name = NULL;
	X509 *ref = NULL, *mine = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	const char *why = NULL;

	x509_subject_init(&subj);
	x509_sans_init(&sans);
	strlist_init(&eku_oids);
	strlist_init(&ocsp);
	strlist_init(&issuing);
	strlist_init(&cdp);
	strlist_init(&pol);
	subj.cn = rnd(8) ? PICK(cns) : NULL;
	subj.serial_number = rnd(4) == 0 ? "12345" : NULL;
	RANDOM_LIST(&subj.org, words, 2);
	RANDOM_LIST(&subj.ou, words, 2);
	RANDOM_LIST(&subj.country, countries, 1);
	RANDOM_LIST(&subj.locality, words, 1);
	RANDOM_LIST(&subj.province, words, 1);
	RANDOM_LIST(&subj.street, words, 1);
	RANDOM_LIST(&subj.postal, words, 1);
	RANDOM_LIST(&sans.dns, dns, 4);
	RANDOM_LIST(&sans.email, emails, 2);
	RANDOM_LIST(&sans.ip, ips, 3);
	RANDOM_LIST(&sans.uri, uris, 2);
	RANDOM_LIST(&sans.other, others, 2);
	RANDOM_LIST(&eku_oids, oids, 2);
	RANDOM_LIST(&ocsp, urls, 2);
	RANDOM_LIST(&issuing, urls, 2);
	RANDOM_LIST(&cdp, urls, 3);
	RANDOM_LIST(&pol, policies, 2);
	assert_int_equal(x509_name_build(&subj, &name), 0);

	static const int64_t ends[] = {2524607999, 2524608000, 2524607940, 2556143999, 253402300799};
	struct x509_spec spec = {.subject = name,
				 .pubkey = leaf_keys[rnd((unsigned)nkeys)],
				 .sans = rnd(6) ? &sans : NULL,
				 .not_before = (int64_t)now - rnd(1000000),
				 .not_after = rnd(3) ? (int64_t)now + 1 + rnd(400000000) : ends[rnd(5)],
				 .max_path_length = -1,
				 .key_usage = rnd(128),
				 .ext_key_usage = rnd(16),
				 .ext_key_usage_oids = rnd(2) ? &eku_oids : NULL,
				 .signature_bits = (int[]){0, 256, 384, 512}[rnd(4)],
				 .issuing_certificates = &issuing,
				 .crl_distribution_points = rnd(4) ? &cdp : NULL,
				 .ocsp_servers = &ocsp};
	struct x509_leaf_extra extra = {.policy_identifiers = rnd(2) ? &pol : NULL, .basic_constraints_valid = rnd(2)};

	assert_true(x509_leaf_der_covers(&spec, is->cert, is->key));
	assert_int_equal(x509_cert_sign(&spec, is->cert, is->key, &ref, &why), 0);
	if (extra.basic_constraints_valid || (extra.policy_identifiers && extra.policy_identifiers->len))
		assert_int_equal(x509_leaf_extend(ref, &extra, is->key), 0);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(ref);
	assert_int_equal(ASN1_STRING_length(serial), 20);
	memcpy(extra.serial, ASN1_STRING_get0_data(serial), 20);

	/* signed through a fresh context, the kept one, or one kept for
	 * another digest (then not used) */
	const EVP_MD *md = x509_sig_md(is->key, spec.signature_bits);
	struct x509_signer *kept = NULL;
	if (md && rnd(3) == 1)
		kept = kept_for(is, md);
	else if (md && rnd(3) == 2)
		kept = kept_for(is, EVP_MD_get_size(md) == 32 ? EVP_sha384() : EVP_sha256());
	assert_int_equal(x509_leaf_der(&spec, &extra, is->cert, is->key, kept, &der, &len), 0);
	unsigned char *ref_tbs = NULL;
	int ref_len = i2d_re_X509_tbs(ref, &ref_tbs);
	size_t tbs_len;
	const unsigned char *tbs = tbs_of(der, &tbs_len);
	assert_true(ref_len > 0);
	assert_int_equal(tbs_len, (size_t)ref_len);
	assert_memory_equal(tbs, ref_tbs, tbs_len);

	/* the outer signature algorithm too, and a signature that verifies */
	const unsigned char *p = der;
	assert_non_null(mine = d2i_X509(NULL, &p, (long)len));
	assert_ptr_equal(p, der + len);
	const X509_ALGOR *a1 = NULL, *a2 = NULL;
	X509_get0_signature(NULL, &a1, mine);
	X509_get0_signature(NULL, &a2, ref);
	assert_int_equal(X509_ALGOR_cmp(a1, a2), 0);
	assert_int_equal(X509_verify(mine, X509_get0_pubkey(is->cert)), 1);
	/* the leaf's own key, from the point x509_keygen kept with it */
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(mine), spec.pubkey), 1);
	assert_int_equal(X509_verify(ref, X509_get0_pubkey(is->cert)), 1);

	OPENSSL_free(ref_tbs);
	free(der);
	X509_free(mine);
	X509_free(ref);
	X509_NAME_free(name);
	strlist_release(&pol);
	strlist_release(&cdp);
	strlist_release(&issuing);
	strlist_release(&ocsp);
	strlist_release(&eku_oids);
	x509_sans_release(&sans);
	x509_subject_release(&subj);
}

static EVP_PKEY *keys[6];

static int keys_setup(void **state)
{
	(void)state;
	assert_int_equal(x509_keygen("ec", 256, &keys[0]), 0);
	assert_int_equal(x509_keygen("ec", 256, &keys[1]), 0);
	assert_int_equal(x509_keygen("ec", 384, &keys[2]), 0);
	assert_int_equal(x509_keygen("ec", 521, &keys[3]), 0);
	assert_int_equal(x509_keygen("ed25519", 0, &keys[4]), 0);
	assert_int_equal(x509_keygen("rsa", 2048, &keys[5]), 0);
	return 0;
}

static int keys_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
	return 0;
}

static void leaves_under(const char *type, int bits, unsigned n)
{
	struct issuer is = make_issuer(type, bits);
	time_t now = time(NULL);
	for (unsigned i = 0; i < n; i++)
		one_leaf(&is, keys, sizeof(keys) / sizeof(keys[0]), now);
	issuer_free(&is);
}

static void test_ec_p256_issuer(void **state)
{
	(void)state;
	leaves_under("ec", 256, 400);
}

static void test_ec_p384_issuer(void **state)
{
	(void)state;
	leaves_under("ec", 384, 100);
}

static void test_ed25519_issuer(void **state)
{
	(void)state;
	leaves_under("ed25519", 0, 100);
}

static void test_rsa_issuer(void **state)
{
	(void)state;
	leaves_under("rsa", 2048, 60);
}

/* The point x509_keygen keeps with an EC key is OpenSSL's. */
static void test_kept_point(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++) {
		unsigned char a[200], b[200];
		size_t na = 0, nb = 0;
		assert_int_equal(x509_key_point(keys[i], a, sizeof(a), &na), 0);
		assert_int_equal(EVP_PKEY_get_octet_string_param(keys[i], "encoded-pub-key", b, sizeof(b), &nb), 1);
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, na);
	}
}

/* What the direct writer leaves to the X509 path. */
static void test_covers(void **state)
{
	(void)state;
	struct issuer ec = make_issuer("ec", 256), rsa = make_issuer("rsa", 2048);
	X509_NAME *n = name_of("leaf");
	struct strlist l;
	strlist_init(&l);
	struct x509_spec spec = {.subject = n, .pubkey = keys[0], .not_before = 1700000000, .not_after = 1800000000,
				 .max_path_length = -1};
	assert_true(x509_leaf_der_covers(&spec, ec.cert, ec.key));
	assert_true(x509_leaf_der_covers(&spec, rsa.cert, rsa.key));
	assert_false(x509_leaf_der_covers(&spec, NULL, ec.key));
	spec.use_pss = true; /* ignored for an EC issuer, PSS parameters for RSA */
	assert_true(x509_leaf_der_covers(&spec, ec.cert, ec.key));
	assert_false(x509_leaf_der_covers(&spec, rsa.cert, rsa.key));
	spec.use_pss = false;
	spec.is_ca = true;
	assert_false(x509_leaf_der_covers(&spec, ec.cert, ec.key));
	spec.is_ca = false;
	spec.not_after = 253402300800; /* year 10000 */
	assert_false(x509_leaf_der_covers(&spec, ec.cert, ec.key));
	spec.not_after = 1800000000;
	spec.crl_distribution_points = &l;
	strlist_push(&l, "http://x/crl ");
	assert_false(x509_leaf_der_covers(&spec, ec.cert, ec.key));
	strlist_release(&l);
	strlist_push(&l, "http://x/a,b");
	assert_false(x509_leaf_der_covers(&spec, ec.cert, ec.key));
	spec.crl_distribution_points = NULL;
	spec.ext_key_usage_oids = &l;
	strlist_release(&l);
	strlist_push(&l, "serverAuth"); /* a name OpenSSL's table reads */
	assert_false(x509_leaf_der_covers(&spec, ec.cert, ec.key));
	strlist_release(&l);
	strlist_push(&l, "1.2.3");
	assert_true(x509_leaf_der_covers(&spec, ec.cert, ec.key));

	/* an issuer without a subject key identifier */
	X509 *noskid = X509_dup(ec.cert);
	int i = X509_get_ext_by_NID(noskid, NID_subject_key_identifier, -1);
	X509_EXTENSION_free(X509_delete_ext(noskid, i));
	assert_false(x509_leaf_der_covers(&spec, noskid, ec.key));
	X509_free(noskid);

	/* a SAN that cannot be encoded is left to the X509 path's error */
	struct x509_sans sans;
	struct x509_leaf_extra extra = {0};
	struct buf tbs;
	x509_sans_init(&sans);
	strlist_push(&sans.ip, "not-an-ip");
	spec.sans = &sans;
	buf_init(&tbs, 1 << 16);
	assert_int_equal(x509_leaf_tbs(&spec, &extra, ec.cert, (const unsigned char *)"\x30\x00", 2, &tbs),
			 TROVE_ERR_INVALID);
	buf_release(&tbs);
	x509_sans_release(&sans);
	strlist_release(&l);
	X509_NAME_free(n);
	issuer_free(&ec);
	issuer_free(&rsa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ec_p256_issuer), cmocka_unit_test(test_ec_p384_issuer),
	    cmocka_unit_test(test_ed25519_issuer), cmocka_unit_test(test_rsa_issuer),
	    cmocka_unit_test(test_covers), cmocka_unit_test(test_kept_point),
	};
	return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}
