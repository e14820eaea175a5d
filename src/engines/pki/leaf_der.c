/* leaf_der.c — a leaf certificate's DER written directly (x509.h,
 * x509_leaf_der): the bytes x509_cert_sign followed by x509_leaf_extend
 * write for the same inputs, without building an X509 object, turning
 * configuration strings into extensions, or encoding the TBS through
 * OpenSSL's templates. x509_leaf_der_covers says which leaves it writes;
 * every other takes the X509 path. tests/unit/test_pki_leaf_der.c
 * compares the two over randomized leaves. */
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "x509.h"

#include "err.h"

#include "banned.h"

/* DER into a struct buf: a constructed value is begun by remembering
 * where its contents start and closed by der_close, which puts the tag
 * and length in front of them. */
static int der_close(struct buf *b, size_t start, unsigned char tag)
{
	size_t n = b->len - start, h = n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : 5;
	unsigned char head[5] = {tag};
	if (h == 2) {
		head[1] = (unsigned char)n;
	} else {
		head[1] = (unsigned char)(0x80 | (h - 2));
		for (size_t i = 0; i < h - 2; i++)
			head[h - 1 - i] = (unsigned char)(n >> (8 * i));
	}
	if (buf_reserve(b, h) != 0)
		return TROVE_ERR_TOO_LARGE;
	memmove(b->data + start + h, b->data + start, n);
	memcpy(b->data + start, head, h);
	b->len += h;
	b->data[b->len] = '\0';
	return 0;
}

static int der_put(struct buf *b, unsigned char tag, const void *p, size_t n)
{
	size_t start = b->len;
	return buf_append(b, p, n) != 0 ? TROVE_ERR_TOO_LARGE : der_close(b, start, tag);
}

static int der_oid(struct buf *b, const ASN1_OBJECT *o)
{
	return o && OBJ_length(o) > 0 ? der_put(b, V_ASN1_OBJECT, OBJ_get0_data(o), OBJ_length(o)) : TROVE_ERR_INVALID;
}

/* An OID given as dotted digits only (what OBJ_txt2obj(v, 1) reads). */
static int der_oid_text(struct buf *b, const char *v)
{
	ASN1_OBJECT *o = OBJ_txt2obj(v, 1);
	int r = der_oid(b, o);
	ASN1_OBJECT_free(o);
	return r;
}

#define CONS_SEQ (V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED)
#define CTX(n) (V_ASN1_CONTEXT_SPECIFIC | (n))
#define CTX_CONS(n) (V_ASN1_CONTEXT_SPECIFIC | V_ASN1_CONSTRUCTED | (n))

/* What ASN1_TIME_set writes: UTCTime for 1950..2049, else
 * GeneralizedTime (RFC 5280, 4.1.2.5). */
static int der_time(struct buf *b, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char s[64];
	if (!gmtime_r(&tt, &tm))
		return TROVE_ERR_INVALID;
	int year = tm.tm_year + 1900;
	if (year >= 1950 && year < 2050) {
		snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec);
		return der_put(b, V_ASN1_UTCTIME, s, 13);
	}
	snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
	return der_put(b, V_ASN1_GENERALIZEDTIME, s, 15);
}

/* The SubjectPublicKeyInfo, as set_pubkey (x509.c) puts a leaf's key:
 * from its encoded point for EC and Ed25519, else as X509_PUBKEY_set
 * encodes it; and ski, the SHA-1 of its BIT STRING's contents (what
 * subjectKeyIdentifier "hash" writes). */
static int der_spki(struct buf *b, EVP_PKEY *k, unsigned char ski[EVP_MAX_MD_SIZE], unsigned *skilen)
{
	unsigned char point[200];
	size_t n = 0, start = b->len;
	char group[64];
	int bits, nid = NID_undef, r;
	const char *type = x509_key_type(k, &bits);
	bool ec = false, ed = type && strcmp(type, "ed25519") == 0;

	if (type && strcmp(type, "ec") == 0 &&
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) == 1)
		ec = (nid = OBJ_txt2nid(group)) != NID_undef;
	if ((ec || ed) &&
	    (ec ? x509_key_point(k, point, sizeof(point), &n) == 0
		: EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &n) == 1)) {
		size_t alg = b->len, bs;
		unsigned char zero = 0;
		if (!EVP_Digest(point, n, ski, skilen, EVP_sha1(), NULL))
			return TROVE_ERR_INTERNAL;
		if ((r = der_oid(b, OBJ_nid2obj(ec ? NID_X9_62_id_ecPublicKey : NID_ED25519))) != 0 ||
		    (ec && (r = der_oid(b, OBJ_nid2obj(nid))) != 0) || (r = der_close(b, alg, CONS_SEQ)) != 0)
			return r;
		bs = b->len;
		if (buf_append(b, &zero, 1) != 0 || buf_append(b, point, n) != 0)
			return TROVE_ERR_TOO_LARGE;
		if ((r = der_close(b, bs, V_ASN1_BIT_STRING)) != 0)
			return r;
		return der_close(b, start, CONS_SEQ);
	}
	ERR_clear_error();
	X509_PUBKEY *xp = NULL;
	const unsigned char *pk = NULL;
	unsigned char *d = NULL;
	int dn = 0, pklen = 0;
	r = TROVE_ERR_INTERNAL;
	if (X509_PUBKEY_set(&xp, k) && (dn = i2d_X509_PUBKEY(xp, &d)) > 0 &&
	    X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xp) && EVP_Digest(pk, (size_t)pklen, ski, skilen, EVP_sha1(), NULL))
		r = buf_append(b, d, (size_t)dn) != 0 ? TROVE_ERR_TOO_LARGE : 0;
	OPENSSL_free(d);
	X509_PUBKEY_free(xp);
	return r;
}

/* Closes the Extension ext_open began at start: what was written from
 * value_start on becomes its extnValue OCTET STRING. */
static int ext_close(struct buf *b, size_t start, size_t value_start)
{
	int r = der_close(b, value_start, V_ASN1_OCTET_STRING);
	if (r != 0)
		return r;
	return der_close(b, start, CONS_SEQ);
}

/* Begins an Extension: appends extnID and the critical flag; *value_start
 * is where its value's DER begins. */
static int ext_open(struct buf *b, int nid, bool critical, size_t *value_start)
{
	static const unsigned char crit[] = {V_ASN1_BOOLEAN, 1, 0xff};
	int r = der_oid(b, OBJ_nid2obj(nid));
	if (r == 0 && critical && buf_append(b, crit, sizeof(crit)) != 0)
		r = TROVE_ERR_TOO_LARGE;
	*value_start = b->len;
	return r;
}

static int ext_ku(struct buf *b, unsigned ku)
{
	/* the KeyUsage bits, first byte, in x509.h's order of X509_KU_* */
	static const struct {
		unsigned bit;
		unsigned char mask;
	} map[] = {{X509_KU_DIGITAL_SIGNATURE, 0x80}, {X509_KU_CONTENT_COMMITMENT, 0x40}, {X509_KU_KEY_ENCIPHERMENT, 0x20},
		   {X509_KU_DATA_ENCIPHERMENT, 0x10},  {X509_KU_KEY_AGREEMENT, 0x08},       {X509_KU_CERT_SIGN, 0x04},
		   {X509_KU_CRL_SIGN, 0x02}};
	unsigned char v[2] = {0, 0};
	size_t start = b->len, val;
	int r;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (ku & map[i].bit)
			v[1] |= map[i].mask;
	if (!v[1])
		return 0;
	while (!(v[1] & (1u << v[0]))) /* unused bits: the trailing zeros */
		v[0]++;
	if ((r = ext_open(b, NID_key_usage, true, &val)) != 0 || (r = der_put(b, V_ASN1_BIT_STRING, v, 2)) != 0)
		return r;
	return ext_close(b, start, val);
}

static int ext_eku(struct buf *b, const struct x509_spec *s)
{
	static const struct {
		unsigned bit;
		int nid;
	} map[] = {{X509_EKU_SERVER, NID_server_auth},
		   {X509_EKU_CLIENT, NID_client_auth},
		   {X509_EKU_CODE_SIGNING, NID_code_sign},
		   {X509_EKU_EMAIL, NID_email_protect}};
	size_t start = b->len, val, seq, oids = s->ext_key_usage_oids ? s->ext_key_usage_oids->len : 0;
	int r;
	if (!(s->ext_key_usage & (X509_EKU_SERVER | X509_EKU_CLIENT | X509_EKU_CODE_SIGNING | X509_EKU_EMAIL)) && !oids)
		return 0;
	if ((r = ext_open(b, NID_ext_key_usage, false, &val)) != 0)
		return r;
	seq = b->len;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if ((s->ext_key_usage & map[i].bit) && (r = der_oid(b, OBJ_nid2obj(map[i].nid))) != 0)
			return r;
	for (size_t i = 0; i < oids; i++)
		if ((r = der_oid_text(b, s->ext_key_usage_oids->items[i])) != 0)
			return r;
	if ((r = der_close(b, seq, CONS_SEQ)) != 0)
		return r;
	return ext_close(b, start, val);
}

static int der_strings(struct buf *b, unsigned char tag, const struct strlist *l)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < l->len; i++)
		r = der_put(b, tag, l->items[i], strlen(l->items[i]));
	return r;
}

/* GeneralNames in sans_build's order: DNS, email, IP, URI, otherName. */
static int ext_san(struct buf *b, const struct x509_sans *s)
{
	size_t start = b->len, val, seq;
	int r;
	if (!s || s->dns.len + s->email.len + s->ip.len + s->uri.len + s->other.len == 0)
		return 0;
	if ((r = ext_open(b, NID_subject_alt_name, false, &val)) != 0)
		return r;
	seq = b->len;
	if ((r = der_strings(b, CTX(GEN_DNS), &s->dns)) != 0 || (r = der_strings(b, CTX(GEN_EMAIL), &s->email)) != 0)
		return r;
	for (size_t i = 0; i < s->ip.len; i++) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s->ip.items[i]);
		r = ip ? der_put(b, CTX(GEN_IPADD), ASN1_STRING_get0_data(ip), (size_t)ASN1_STRING_length(ip))
		       : TROVE_ERR_INVALID;
		ASN1_OCTET_STRING_free(ip);
		if (r != 0)
			return r;
	}
	if ((r = der_strings(b, CTX(GEN_URI), &s->uri)) != 0)
		return r;
	for (size_t i = 0; i < s->other.len; i++) {
		/* "oid;UTF8:value" (x509_sans_add checked the form) */
		const char *v = s->other.items[i], *semi = strchr(v, ';');
		const char *colon = semi ? strchr(semi, ':') : NULL;
		char oid[128];
		size_t on = semi ? (size_t)(semi - v) : sizeof(oid), gn = b->len, ex;
		if (!colon || on >= sizeof(oid))
			return TROVE_ERR_INVALID;
		memcpy(oid, v, on);
		oid[on] = '\0';
		if ((r = der_oid_text(b, oid)) != 0)
			return r;
		ex = b->len;
		if ((r = der_put(b, V_ASN1_UTF8STRING, colon + 1, strlen(colon + 1))) != 0 ||
		    (r = der_close(b, ex, CTX_CONS(0))) != 0 || (r = der_close(b, gn, CTX_CONS(GEN_OTHERNAME))) != 0)
			return r;
	}
	if ((r = der_close(b, seq, CONS_SEQ)) != 0)
		return r;
	return ext_close(b, start, val);
}

/* AuthorityInfoAccess: the OCSP servers, then the issuing certificates. */
static int ext_aia(struct buf *b, const struct x509_spec *s)
{
	const struct strlist *lists[2] = {s->ocsp_servers, s->issuing_certificates};
	const int methods[2] = {NID_ad_OCSP, NID_ad_ca_issuers};
	size_t start = b->len, val, seq;
	int r;
	if ((!lists[0] || !lists[0]->len) && (!lists[1] || !lists[1]->len))
		return 0;
	if ((r = ext_open(b, NID_info_access, false, &val)) != 0)
		return r;
	seq = b->len;
	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; lists[l] && i < lists[l]->len; i++) {
			size_t ad = b->len;
			const char *u = lists[l]->items[i];
			if ((r = der_oid(b, OBJ_nid2obj(methods[l]))) != 0 || (r = der_put(b, CTX(GEN_URI), u, strlen(u))) != 0 ||
			    (r = der_close(b, ad, CONS_SEQ)) != 0)
				return r;
		}
	if ((r = der_close(b, seq, CONS_SEQ)) != 0)
		return r;
	return ext_close(b, start, val);
}

/* CRLDistributionPoints: a point per URL, each a fullName of one URI
 * (what OpenSSL's "URI:a,URI:b" makes). */
static int ext_cdp(struct buf *b, const struct strlist *urls)
{
	size_t start = b->len, val, seq;
	int r;
	if (!urls || !urls->len)
		return 0;
	if ((r = ext_open(b, NID_crl_distribution_points, false, &val)) != 0)
		return r;
	seq = b->len;
	for (size_t i = 0; i < urls->len; i++) {
		size_t dp = b->len;
		const char *u = urls->items[i];
		if ((r = der_put(b, CTX(GEN_URI), u, strlen(u))) != 0 || (r = der_close(b, dp, CTX_CONS(0))) != 0 ||
		    (r = der_close(b, dp, CTX_CONS(0))) != 0 || (r = der_close(b, dp, CONS_SEQ)) != 0)
			return r;
	}
	if ((r = der_close(b, seq, CONS_SEQ)) != 0)
		return r;
	return ext_close(b, start, val);
}

/* What x509_leaf_extend appends: a critical CA:FALSE basicConstraints,
 * then certificatePolicies of bare policy OIDs. */
static int ext_leaf_extra(struct buf *b, const struct x509_leaf_extra *x)
{
	size_t start = b->len, val, seq;
	int r;
	if (x->basic_constraints_valid) {
		if ((r = ext_open(b, NID_basic_constraints, true, &val)) != 0 || (r = der_put(b, CONS_SEQ, "", 0)) != 0 ||
		    (r = ext_close(b, start, val)) != 0)
			return r;
	}
	if (!x->policy_identifiers || !x->policy_identifiers->len)
		return 0;
	start = b->len;
	if ((r = ext_open(b, NID_certificate_policies, false, &val)) != 0)
		return r;
	seq = b->len;
	for (size_t i = 0; i < x->policy_identifiers->len; i++) {
		size_t pi = b->len;
		if ((r = der_oid_text(b, x->policy_identifiers->items[i])) != 0 || (r = der_close(b, pi, CONS_SEQ)) != 0)
			return r;
	}
	if ((r = der_close(b, seq, CONS_SEQ)) != 0)
		return r;
	return ext_close(b, start, val);
}

/* The extensions, [3] EXPLICIT, in the order x509_cert_sign and
 * x509_leaf_extend add them: SKI, AKI, KU, EKU, SAN, AIA, CDP, then BC
 * and certificatePolicies. */
static int der_extensions(struct buf *b, const struct x509_spec *s, const struct x509_leaf_extra *x,
			  const ASN1_OCTET_STRING *issuer_skid, const unsigned char *ski, unsigned skilen)
{
	size_t outer = b->len, seq, start, val, aki;
	int r;

	seq = start = b->len;
	if ((r = ext_open(b, NID_subject_key_identifier, false, &val)) != 0 ||
	    (r = der_put(b, V_ASN1_OCTET_STRING, ski, skilen)) != 0 || (r = ext_close(b, start, val)) != 0)
		return r;
	start = b->len;
	if ((r = ext_open(b, NID_authority_key_identifier, false, &val)) != 0)
		return r;
	aki = b->len;
	if ((r = der_put(b, CTX(0), ASN1_STRING_get0_data(issuer_skid), (size_t)ASN1_STRING_length(issuer_skid))) != 0 ||
	    (r = der_close(b, aki, CONS_SEQ)) != 0 || (r = ext_close(b, start, val)) != 0)
		return r;
	if ((r = ext_ku(b, s->key_usage)) != 0 || (r = ext_eku(b, s)) != 0 || (r = ext_san(b, s->sans)) != 0 ||
	    (r = ext_aia(b, s)) != 0 || (r = ext_cdp(b, s->crl_distribution_points)) != 0 ||
	    (r = ext_leaf_extra(b, x)) != 0)
		return r;
	if ((r = der_close(b, seq, CONS_SEQ)) != 0)
		return r;
	return der_close(b, outer, CTX_CONS(3));
}

/* The one issuer subject key identifier the AKI copies (keyid:always
 * reads the first SKI extension; the cached one is the only one). */
static const ASN1_OCTET_STRING *issuer_skid(X509 *issuer)
{
	int i = X509_get_ext_by_NID(issuer, NID_subject_key_identifier, -1);
	if (i < 0 || X509_get_ext_by_NID(issuer, NID_subject_key_identifier, i) >= 0)
		return NULL;
	return X509_get0_subject_key_id(issuer);
}

/* A value OpenSSL's extension configuration reads back unchanged: what
 * x509_value_safe allows, without the spaces it trims at either end. */
static bool conf_value_plain(const char *v)
{
	size_t n = strlen(v);
	return x509_value_safe(v) && v[0] != ' ' && v[n - 1] != ' ';
}

static bool list_plain(const struct strlist *l)
{
	for (size_t i = 0; l && i < l->len; i++)
		if (!conf_value_plain(l->items[i]))
			return false;
	return true;
}

/* Dotted digits: what both OBJ_txt2obj(v, 0) and (v, 1) read alike. */
static bool oid_plain(const char *v)
{
	bool digit = false;
	for (const char *p = v; *p; p++) {
		if (*p == '.' && digit)
			digit = false;
		else if (*p >= '0' && *p <= '9')
			digit = true;
		else
			return false;
	}
	return digit;
}

bool x509_leaf_der_covers(const struct x509_spec *s, X509 *issuer, EVP_PKEY *signkey)
{
	int bits;
	const char *type = x509_key_type(signkey, &bits);
	/* a leaf of an issuer with one SKI; not RSA-PSS (its parameters) */
	if (s->is_ca || !issuer || !type || (s->use_pss && strcmp(type, "rsa") == 0) ||
	    EVP_PKEY_get_base_id(signkey) == EVP_PKEY_RSA_PSS || !issuer_skid(issuer))
		return false;
	/* times ASN1_TIME_set writes: year 0 to 9999 */
	if (s->not_before < 0 || s->not_after < 0 || s->not_before > 253402300799 || s->not_after > 253402300799)
		return false;
	/* values the X509 path passes through a configuration string */
	if (!list_plain(s->issuing_certificates) || !list_plain(s->ocsp_servers) ||
	    !list_plain(s->crl_distribution_points))
		return false;
	for (size_t i = 0; s->ext_key_usage_oids && i < s->ext_key_usage_oids->len; i++)
		if (!oid_plain(s->ext_key_usage_oids->items[i]))
			return false;
	return true;
}

int x509_leaf_tbs(const struct x509_spec *s, const struct x509_leaf_extra *x, X509 *issuer,
		  const unsigned char *sigalg, size_t sigalg_len, struct buf *tbs)
{
	static const unsigned char version[] = {CTX_CONS(0), 3, V_ASN1_INTEGER, 1, 2};
	const unsigned char *iname = NULL, *sname = NULL;
	unsigned char ski[EVP_MAX_MD_SIZE];
	unsigned skilen = 0;
	size_t ilen = 0, slen = 0, validity;
	int r;
	const ASN1_OCTET_STRING *skid = issuer_skid(issuer);

	if (!skid || !X509_NAME_get0_der(X509_get_subject_name(issuer), &iname, &ilen) ||
	    !X509_NAME_get0_der(s->subject, &sname, &slen)) {
		r = TROVE_ERR_INVALID;
		goto out;
	}
	r = TROVE_ERR_TOO_LARGE;
	if (buf_append(tbs, version, sizeof(version)) != 0 ||
	    (r = der_put(tbs, V_ASN1_INTEGER, x->serial, sizeof(x->serial))) != 0 ||
	    buf_append(tbs, sigalg, sigalg_len) != 0 || buf_append(tbs, iname, ilen) != 0)
		goto out;
	validity = tbs->len;
	if ((r = der_time(tbs, s->not_before)) != 0 || (r = der_time(tbs, s->not_after)) != 0 ||
	    (r = der_close(tbs, validity, CONS_SEQ)) != 0)
		goto out;
	r = TROVE_ERR_TOO_LARGE;
	if (buf_append(tbs, sname, slen) != 0 || (r = der_spki(tbs, s->pubkey, ski, &skilen)) != 0 ||
	    (r = der_extensions(tbs, s, x, skid, ski, skilen)) != 0)
		goto out;
	r = der_close(tbs, 0, CONS_SEQ);
out:
	ERR_clear_error();
	return r;
}

int x509_leaf_der(const struct x509_spec *s, const struct x509_leaf_extra *x, X509 *issuer, EVP_PKEY *signkey,
		  struct x509_signer *kept, unsigned char **der, size_t *len)
{
	unsigned char aidbuf[128], *sig = NULL;
	const unsigned char *aid = aidbuf;
	size_t aidlen = 0, siglen = 0;
	const EVP_MD *md = x509_sig_md(signkey, s->signature_bits);
	EVP_MD_CTX *m = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	OSSL_PARAM params[2] = {
		OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, aidbuf, sizeof(aidbuf)),
		OSSL_PARAM_END};
	struct buf b;
	int r = TROVE_ERR_INTERNAL;

	*der = NULL;
	buf_init(&b, 64 << 10);
	if (!x509_signer_is_for(kept, signkey, md))
		kept = NULL;
	if (kept) {
		aid = x509_signer_aid(kept, &aidlen);
	} else {
		if (!(m = EVP_MD_CTX_new()) || EVP_DigestSignInit(m, &pctx, md, NULL, signkey) != 1 ||
		    EVP_PKEY_CTX_get_params(pctx, params) != 1 || !OSSL_PARAM_modified(&params[0]))
			goto out;
		aidlen = params[0].return_size;
	}
	if ((r = x509_leaf_tbs(s, x, issuer, aid, aidlen, &b)) != 0)
		goto out;
	r = TROVE_ERR_INTERNAL;
	sig = OPENSSL_malloc((size_t)EVP_PKEY_get_size(signkey));
	siglen = (size_t)EVP_PKEY_get_size(signkey);
	if (!sig || (kept ? x509_signer_sign(kept, (const unsigned char *)b.data, b.len, sig, &siglen) != 0
			  : EVP_DigestSign(m, sig, &siglen, (const unsigned char *)b.data, b.len) != 1))
		goto out;
	unsigned char zero = 0;
	size_t bs;
	if (buf_append(&b, aid, aidlen) != 0)
		goto out;
	bs = b.len;
	if (buf_append(&b, &zero, 1) != 0 || buf_append(&b, sig, siglen) != 0 || der_close(&b, bs, V_ASN1_BIT_STRING) != 0 ||
	    der_close(&b, 0, CONS_SEQ) != 0)
		goto out;
	*len = b.len;
	*der = (unsigned char *)buf_take(&b);
	r = 0;
out:
	OPENSSL_free(sig);
	EVP_MD_CTX_free(m);
	buf_release(&b);
	ERR_clear_error();
	return r;
}
