/* x509.c — keys and certificates for the PKI engine (x509.h): key
 * generation, extensions, signing, and what a certificate says. PEM and
 * DER: x509_pem.c; serials, SANs and subjects: x509_names.c. */
#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "x509.h"

#include "err.h"

#include "banned.h"

int x509_key_params(const char *type, int64_t bits, int *bits_out, const char **why)
{
	if (!type || strcmp(type, "rsa") == 0 || strcmp(type, "") == 0) {
		if (bits == 0)
			bits = 2048;
		if (bits != 2048 && bits != 3072 && bits != 4096 && bits != 8192) {
			*why = "key_bits: rsa takes 2048, 3072, 4096 or 8192";
			return TROVE_ERR_INVALID;
		}
	} else if (strcmp(type, "ec") == 0) {
		if (bits == 0)
			bits = 256;
		if (bits != 224 && bits != 256 && bits != 384 && bits != 521) {
			*why = "key_bits: ec takes 224, 256, 384 or 521";
			return TROVE_ERR_INVALID;
		}
	} else if (strcmp(type, "ed25519") == 0) {
		bits = 0;
	} else {
		*why = "key_type: must be rsa, ec or ed25519";
		return TROVE_ERR_INVALID;
	}
	*bits_out = (int)bits;
	return 0;
}

static const char *ec_curve(int bits)
{
	switch (bits) {
	case 224: return "P-224";
	case 384: return "P-384";
	case 521: return "P-521";
	default: return "P-256";
	}
}

/* Parameter keys (the curve alone) for EC key generation, made once.
 * EVP_PKEY_Q_keygen builds the curve's group, with its Montgomery
 * constants, on every call: that is half the cost of a P-256 key.
 * Generating from a kept parameter key copies the group instead. They are
 * only read after ec_templates_init, so threads share them. */
static const int ec_template_bits[] = {224, 256, 384, 521};
#define EC_CURVES (sizeof(ec_template_bits) / sizeof(ec_template_bits[0]))
static EVP_PKEY *ec_templates[EC_CURVES];
static pthread_once_t ec_templates_once = PTHREAD_ONCE_INIT;

/* Keygen contexts made from the parameter keys, one per curve and
 * thread (a context is used by one thread at a time), made on first use
 * and freed when the thread ends: setting a context up costs a sixth of
 * a P-256 key. */
struct keygen_ctxs {
	EVP_PKEY_CTX *c[EC_CURVES];
};
static pthread_key_t keygen_ctxs_key;
static bool keygen_ctxs_ok;

static void keygen_ctxs_free(void *p)
{
	struct keygen_ctxs *t = p;
	for (size_t i = 0; i < EC_CURVES; i++)
		EVP_PKEY_CTX_free(t->c[i]);
	free(t);
}

static void ec_templates_init(void)
{
	for (size_t i = 0; i < EC_CURVES; i++) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		if (!c || EVP_PKEY_paramgen_init(c) != 1 ||
		    EVP_PKEY_CTX_set_group_name(c, ec_curve(ec_template_bits[i])) != 1 ||
		    EVP_PKEY_paramgen(c, &ec_templates[i]) != 1)
			ec_templates[i] = NULL; /* x509_keygen falls back */
		EVP_PKEY_CTX_free(c);
	}
	keygen_ctxs_ok = pthread_key_create(&keygen_ctxs_key, keygen_ctxs_free) == 0;
	ERR_clear_error();
}

/* This thread's keygen context for curve i, or NULL when none can be
 * kept (then the caller makes and frees its own). */
static EVP_PKEY_CTX **keygen_ctx_slot(size_t i)
{
	struct keygen_ctxs *t = keygen_ctxs_ok ? pthread_getspecific(keygen_ctxs_key) : NULL;
	if (!t && keygen_ctxs_ok) {
		t = xcalloc(1, sizeof(*t));
		if (pthread_setspecific(keygen_ctxs_key, t) != 0) {
			free(t);
			t = NULL;
		}
	}
	return t ? &t->c[i] : NULL;
}

/* A new EC key on the curve of bits from its kept parameter key, or NULL
 * when there is none. */
static EVP_PKEY *ec_keygen(int bits)
{
	EVP_PKEY *k = NULL;
	size_t i = 0;
	pthread_once(&ec_templates_once, ec_templates_init);
	while (i < EC_CURVES && ec_template_bits[i] != bits)
		i++;
	if (i == EC_CURVES || !ec_templates[i])
		return NULL;
	EVP_PKEY_CTX **slot = keygen_ctx_slot(i), *c = slot ? *slot : NULL;
	if (!c && (c = EVP_PKEY_CTX_new_from_pkey(NULL, ec_templates[i], NULL)) &&
	    EVP_PKEY_keygen_init(c) != 1) {
		EVP_PKEY_CTX_free(c);
		c = NULL;
	}
	if (c && EVP_PKEY_keygen(c, &k) != 1) {
		k = NULL;
		EVP_PKEY_CTX_free(c); /* not kept after a failure */
		c = NULL;
	}
	if (slot)
		*slot = c;
	else
		EVP_PKEY_CTX_free(c);
	ERR_clear_error();
	return k;
}

/* A new EC key's encoded point, kept with the key (ex_data) when it is
 * made: OpenSSL converts the point to affine coordinates, a field
 * inversion, every time it is asked for it, and a leaf's is asked for
 * twice (its certificate, its private key). Set before the key has any
 * other owner, then only read, so threads may share the key. */
struct point_copy {
	size_t n;
	unsigned char b[];
};
static int point_index = -1;
static pthread_once_t point_once = PTHREAD_ONCE_INIT;

static void point_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	free(ptr);
}

static void point_index_init(void)
{
	point_index = EVP_PKEY_get_ex_new_index(0, NULL, NULL, NULL, point_free);
}

static void point_keep(EVP_PKEY *k)
{
	unsigned char b[200];
	size_t n = 0;
	pthread_once(&point_once, point_index_init);
	if (point_index < 0 ||
	    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, b, sizeof(b), &n) != 1) {
		ERR_clear_error();
		return;
	}
	struct point_copy *c = xmalloc(sizeof(*c) + n);
	c->n = n;
	memcpy(c->b, b, n);
	if (!EVP_PKEY_set_ex_data(k, point_index, c))
		free(c);
}

int x509_key_point(EVP_PKEY *k, unsigned char *out, size_t cap, size_t *n)
{
	const struct point_copy *c = NULL;
	pthread_once(&point_once, point_index_init);
	if (point_index >= 0)
		c = EVP_PKEY_get_ex_data(k, point_index);
	if (c) {
		if (c->n > cap)
			return TROVE_ERR_TOO_LARGE;
		memcpy(out, c->b, c->n);
		*n = c->n;
		return 0;
	}
	if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out, cap, n) == 1)
		return 0;
	ERR_clear_error();
	return TROVE_ERR_INVALID;
}

int x509_keygen(const char *type, int bits, EVP_PKEY **out)
{
	*out = NULL;
	if (strcmp(type, "ec") == 0) {
		if ((*out = ec_keygen(bits) ?: EVP_PKEY_Q_keygen(NULL, NULL, "EC", ec_curve(bits))))
			point_keep(*out);
	} else if (strcmp(type, "ed25519") == 0)
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	return *out ? 0 : TROVE_ERR_INTERNAL;
}

const char *x509_key_type(const EVP_PKEY *k, int *bits)
{
	*bits = 0;
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		*bits = EVP_PKEY_get_bits(k);
		return "rsa";
	case EVP_PKEY_EC:
		*bits = EVP_PKEY_get_bits(k);
		return "ec";
	case EVP_PKEY_ED25519:
		return "ed25519";
	default:
		return NULL;
	}
}

static int add_ext(X509 *c, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = e && X509_add_ext(c, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : TROVE_ERR_INVALID;
}

static int gn_push(GENERAL_NAMES *gens, int type, const char *v)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	if (!g)
		return TROVE_ERR_NOMEM;
	if (type == GEN_IPADD) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(v);
		if (!ip) {
			GENERAL_NAME_free(g);
			return TROVE_ERR_INVALID;
		}
		GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
	} else if (type == GEN_OTHERNAME) {
		const char *semi = strchr(v, ';');
		const char *val = strchr(semi, ':') + 1;
		char oid[128];
		memcpy(oid, v, (size_t)(semi - v));
		oid[semi - v] = '\0';
		ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
		ASN1_TYPE *t = ASN1_TYPE_new();
		ASN1_UTF8STRING *u = ASN1_UTF8STRING_new();
		if (!o || !t || !u || !ASN1_STRING_set(u, val, -1)) {
			ASN1_OBJECT_free(o);
			ASN1_TYPE_free(t);
			ASN1_UTF8STRING_free(u);
			GENERAL_NAME_free(g);
			return TROVE_ERR_INVALID;
		}
		ASN1_TYPE_set(t, V_ASN1_UTF8STRING, u);
		GENERAL_NAME_set0_othername(g, o, t);
	} else {
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		if (!s || !ASN1_STRING_set(s, v, -1)) {
			ASN1_IA5STRING_free(s);
			GENERAL_NAME_free(g);
			return TROVE_ERR_INVALID;
		}
		GENERAL_NAME_set0_value(g, type, s);
	}
	if (!sk_GENERAL_NAME_push(gens, g)) {
		GENERAL_NAME_free(g);
		return TROVE_ERR_NOMEM;
	}
	return 0;
}

static GENERAL_NAMES *sans_build(const struct x509_sans *s)
{
	GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();
	int r = 0;
	if (!g)
		return NULL;
	for (size_t i = 0; r == 0 && i < s->dns.len; i++)
		r = gn_push(g, GEN_DNS, s->dns.items[i]);
	for (size_t i = 0; r == 0 && i < s->email.len; i++)
		r = gn_push(g, GEN_EMAIL, s->email.items[i]);
	for (size_t i = 0; r == 0 && i < s->ip.len; i++)
		r = gn_push(g, GEN_IPADD, s->ip.items[i]);
	for (size_t i = 0; r == 0 && i < s->uri.len; i++)
		r = gn_push(g, GEN_URI, s->uri.items[i]);
	for (size_t i = 0; r == 0 && i < s->other.len; i++)
		r = gn_push(g, GEN_OTHERNAME, s->other.items[i]);
	if (r != 0) {
		GENERAL_NAMES_free(g);
		return NULL;
	}
	return g;
}

static int add_sans(X509 *c, const struct x509_sans *s)
{
	if (!s || s->dns.len + s->email.len + s->ip.len + s->uri.len + s->other.len == 0)
		return 0;
	GENERAL_NAMES *g = sans_build(s);
	int ok = g && X509_add1_ext_i2d(c, NID_subject_alt_name, g, 0, X509V3_ADD_DEFAULT) == 1;
	GENERAL_NAMES_free(g);
	return ok ? 0 : TROVE_ERR_INVALID;
}

/* ',' separates values in an OpenSSL extension config string and '@'
 * names a section. */
bool x509_value_safe(const char *v)
{
	if (!v[0] || v[0] == '@')
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p == ',' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int add_cdp(X509 *c, X509V3_CTX *ctx, const struct strlist *urls)
{
	struct buf b;
	int r = 0;
	if (!urls || urls->len == 0)
		return 0;
	buf_init(&b, 4096);
	for (size_t i = 0; r == 0 && i < urls->len; i++) {
		if (!x509_value_safe(urls->items[i]))
			r = TROVE_ERR_INVALID;
		buf_printf(&b, "%sURI:%s", i ? "," : "", urls->items[i]);
	}
	if (r == 0)
		r = add_ext(c, ctx, NID_crl_distribution_points, b.data);
	buf_release(&b);
	return r;
}

static int add_aia(X509 *c, X509V3_CTX *ctx, const struct x509_spec *s)
{
	struct buf b;
	int r = 0;
	size_t n = (s->issuing_certificates ? s->issuing_certificates->len : 0) + (s->ocsp_servers ? s->ocsp_servers->len : 0);
	if (n == 0)
		return 0;
	buf_init(&b, 4096);
	for (size_t i = 0; s->ocsp_servers && i < s->ocsp_servers->len; i++) {
		r |= !x509_value_safe(s->ocsp_servers->items[i]);
		buf_printf(&b, "%sOCSP;URI:%s", b.len ? "," : "", s->ocsp_servers->items[i]);
	}
	for (size_t i = 0; s->issuing_certificates && i < s->issuing_certificates->len; i++) {
		r |= !x509_value_safe(s->issuing_certificates->items[i]);
		buf_printf(&b, "%scaIssuers;URI:%s", b.len ? "," : "", s->issuing_certificates->items[i]);
	}
	r = r ? TROVE_ERR_INVALID : add_ext(c, ctx, NID_info_access, b.data);
	buf_release(&b);
	return r;
}

static int add_usages(X509 *c, X509V3_CTX *ctx, const struct x509_spec *s)
{
	static const struct {
		unsigned bit;
		const char *name;
	} ku[] = {
	    {X509_KU_DIGITAL_SIGNATURE, "digitalSignature"}, {X509_KU_CONTENT_COMMITMENT, "nonRepudiation"},
	    {X509_KU_KEY_ENCIPHERMENT, "keyEncipherment"},   {X509_KU_DATA_ENCIPHERMENT, "dataEncipherment"},
	    {X509_KU_KEY_AGREEMENT, "keyAgreement"},         {X509_KU_CERT_SIGN, "keyCertSign"},
	    {X509_KU_CRL_SIGN, "cRLSign"},
	};
	char text[256] = "critical";
	int r = 0;
	if (s->key_usage) {
		for (size_t i = 0; i < sizeof(ku) / sizeof(ku[0]); i++)
			if (s->key_usage & ku[i].bit) {
				strncat(text, ",", sizeof(text) - strlen(text) - 1);
				strncat(text, ku[i].name, sizeof(text) - strlen(text) - 1);
			}
		if ((r = add_ext(c, ctx, NID_key_usage, text)) != 0)
			return r;
	}
	struct buf e;
	buf_init(&e, 1024);
	if (s->ext_key_usage & X509_EKU_SERVER)
		buf_printf(&e, "%sserverAuth", e.len ? "," : "");
	if (s->ext_key_usage & X509_EKU_CLIENT)
		buf_printf(&e, "%sclientAuth", e.len ? "," : "");
	if (s->ext_key_usage & X509_EKU_CODE_SIGNING)
		buf_printf(&e, "%scodeSigning", e.len ? "," : "");
	if (s->ext_key_usage & X509_EKU_EMAIL)
		buf_printf(&e, "%semailProtection", e.len ? "," : "");
	for (size_t i = 0; s->ext_key_usage_oids && i < s->ext_key_usage_oids->len; i++)
		buf_printf(&e, "%s%s", e.len ? "," : "", s->ext_key_usage_oids->items[i]);
	if (e.len)
		r = add_ext(c, ctx, NID_ext_key_usage, e.data);
	buf_release(&e);
	return r;
}

/* Sets c's public key from k. OpenSSL 3.0's X509_set_pubkey encodes the
 * key and decodes it again through its provider framework, which costs
 * more than an EC signature. For a leaf (fast), EC and Ed25519 keys are
 * written straight into the SubjectPublicKeyInfo (algorithm, curve,
 * encoded point); such a certificate carries no decoded key until it is
 * parsed again (x509.h). CAs and RSA keys take the general path. */
static int set_pubkey(X509 *c, EVP_PKEY *k, bool fast)
{
	unsigned char point[200];
	size_t n = 0;
	char group[64];
	int bits, nid = NID_undef;
	const char *type = x509_key_type(k, &bits);
	bool ec = false, ed = false;

	if (fast && type && strcmp(type, "ec") == 0 &&
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) == 1)
		ec = (nid = OBJ_txt2nid(group)) != NID_undef;
	ed = fast && type && strcmp(type, "ed25519") == 0;
	if ((!ec && !ed) ||
	    (ec ? x509_key_point(k, point, sizeof(point), &n) != 0
		: EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &n) != 1)) {
		ERR_clear_error();
		return X509_set_pubkey(c, k) ? 0 : TROVE_ERR_INTERNAL;
	}
	unsigned char *copy = OPENSSL_memdup(point, n);
	X509_PUBKEY *xp = X509_get_X509_PUBKEY(c);
	if (!copy || !X509_PUBKEY_set0_param(xp, OBJ_nid2obj(ec ? NID_X9_62_id_ecPublicKey : NID_ED25519),
					     ec ? V_ASN1_OBJECT : V_ASN1_UNDEF, ec ? OBJ_nid2obj(nid) : NULL, copy,
					     (int)n)) {
		OPENSSL_free(copy);
		return TROVE_ERR_INTERNAL;
	}
	return 0;
}

const EVP_MD *x509_sig_md(EVP_PKEY *k, int signature_bits)
{
	int bits;
	const char *t = x509_key_type(k, &bits);
	if (t && strcmp(t, "ed25519") == 0)
		return NULL;
	if (signature_bits == 0 && t && strcmp(t, "ec") == 0)
		signature_bits = bits > 384 ? 512 : bits > 256 ? 384 : 256;
	switch (signature_bits) {
	case 384: return EVP_sha384();
	case 512: return EVP_sha512();
	default: return EVP_sha256();
	}
}

static int sign_with(X509 *c, EVP_PKEY *key, int signature_bits, bool use_pss)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = x509_sig_md(key, signature_bits);
	int ok = mctx && EVP_DigestSignInit(mctx, &pctx, md, NULL, key) == 1;
	int bits;
	const char *t = x509_key_type(key, &bits);
	if (ok && use_pss && t && strcmp(t, "rsa") == 0)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	ok = ok && X509_sign_ctx(c, mctx) > 0;
	EVP_MD_CTX_free(mctx);
	return ok ? 0 : TROVE_ERR_INTERNAL;
}

int x509_cert_sign(const struct x509_spec *s, X509 *issuer, EVP_PKEY *signkey, X509 **out, const char **why)
{
	X509 *c = X509_new();
	ASN1_INTEGER *serial = NULL;
	X509V3_CTX ctx;
	int r = TROVE_ERR_INTERNAL;

	*out = NULL;
	if (!c)
		return TROVE_ERR_NOMEM;
	if ((r = x509_serial_random(&serial)) != 0)
		goto out;
	r = TROVE_ERR_INTERNAL;
	if (!X509_set_version(c, 2) || !X509_set_serialNumber(c, serial) || !X509_set_subject_name(c, s->subject) ||
	    !X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : s->subject) ||
	    set_pubkey(c, s->pubkey, !s->is_ca) != 0 || !ASN1_TIME_set(X509_getm_notBefore(c), (time_t)s->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(c), (time_t)s->not_after))
		goto out;
	X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
	r = TROVE_ERR_INVALID;
	*why = "could not build the certificate's extensions";
	if (s->is_ca) {
		char bc[64];
		if (s->max_path_length >= 0)
			snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", s->max_path_length);
		else
			snprintf(bc, sizeof(bc), "critical,CA:TRUE");
		if (add_ext(c, &ctx, NID_basic_constraints, bc))
			goto out;
	}
	if (add_ext(c, &ctx, NID_subject_key_identifier, "hash") ||
	    add_ext(c, &ctx, NID_authority_key_identifier, "keyid:always") || add_usages(c, &ctx, s))
		goto out;
	if (add_sans(c, s->sans)) {
		*why = "a subject alternative name could not be encoded";
		goto out;
	}
	if (s->is_ca && s->permitted_dns_domains && s->permitted_dns_domains->len) {
		struct buf b;
		buf_init(&b, 4096);
		buf_append_str(&b, "critical");
		int e = 0;
		for (size_t i = 0; i < s->permitted_dns_domains->len; i++) {
			e |= !x509_value_safe(s->permitted_dns_domains->items[i]);
			buf_printf(&b, ",permitted;DNS:%s", s->permitted_dns_domains->items[i]);
		}
		e = e ? TROVE_ERR_INVALID : add_ext(c, &ctx, NID_name_constraints, b.data);
		buf_release(&b);
		if (e) {
			*why = "permitted_dns_domains: not a domain";
			goto out;
		}
	}
	if (add_aia(c, &ctx, s) || add_cdp(c, &ctx, s->crl_distribution_points)) {
		*why = "an AIA or CRL distribution URL could not be encoded";
		goto out;
	}
	if ((r = sign_with(c, signkey, s->signature_bits, s->use_pss)) != 0)
		goto out;
	*out = c;
	c = NULL;
out:
	ERR_clear_error();
	ASN1_INTEGER_free(serial);
	X509_free(c);
	return r;
}

int x509_leaf_extend(X509 *c, const struct x509_leaf_extra *x, EVP_PKEY *ikey)
{
	CERTIFICATEPOLICIES *pol = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	EVP_MD_CTX *m = NULL;
	int r = TROVE_ERR_INTERNAL;

	if (x->basic_constraints_valid) {
		if (!(bc = BASIC_CONSTRAINTS_new()) || !X509_add1_ext_i2d(c, NID_basic_constraints, bc, 1, X509V3_ADD_REPLACE))
			goto out;
	}
	if (x->policy_identifiers && x->policy_identifiers->len) {
		if (!(pol = sk_POLICYINFO_new_null()))
			goto out;
		for (size_t i = 0; i < x->policy_identifiers->len; i++) {
			POLICYINFO *pi = POLICYINFO_new();
			if (!pi || !sk_POLICYINFO_push(pol, pi)) {
				POLICYINFO_free(pi);
				goto out;
			}
			ASN1_OBJECT_free(pi->policyid);
			if (!(pi->policyid = OBJ_txt2obj(x->policy_identifiers->items[i], 1)))
				goto out;
		}
		if (!X509_add1_ext_i2d(c, NID_certificate_policies, pol, 0, X509V3_ADD_REPLACE))
			goto out;
	}
	int md_nid = NID_undef, pk_nid = NID_undef;
	uint32_t flags = 0;
	EVP_PKEY_CTX *pctx = NULL;
	bool pss = X509_get_signature_nid(c) == NID_rsassaPss;
	if (!X509_get_signature_info(c, &md_nid, &pk_nid, NULL, &flags))
		goto out;
	const EVP_MD *md = md_nid == NID_undef ? NULL : EVP_get_digestbynid(md_nid);
	if (!(m = EVP_MD_CTX_new()) || EVP_DigestSignInit(m, &pctx, md, NULL, ikey) != 1)
		goto out;
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	r = X509_sign_ctx(c, m) > 0 ? 0 : TROVE_ERR_INTERNAL;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(m);
	BASIC_CONSTRAINTS_free(bc);
	sk_POLICYINFO_pop_free(pol, POLICYINFO_free);
	return r;
}

int x509_cert_resign(X509 *c, X509 *issuer, EVP_PKEY *signkey)
{
	int r = X509_set_issuer_name(c, X509_get_subject_name(issuer)) ? sign_with(c, signkey, 0, false)
									 : TROVE_ERR_INTERNAL;
	ERR_clear_error();
	return r;
}

int x509_csr_build(EVP_PKEY *key, X509_NAME *subject, const struct x509_sans *sans, X509_REQ **out)
{
	X509_REQ *q = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *g = NULL;
	int r = TROVE_ERR_INTERNAL;
	if (!q || !X509_REQ_set_version(q, 0) || !X509_REQ_set_subject_name(q, subject) || !X509_REQ_set_pubkey(q, key))
		goto out;
	if (sans && sans->dns.len + sans->email.len + sans->ip.len + sans->uri.len + sans->other.len) {
		X509_EXTENSION *e;
		exts = sk_X509_EXTENSION_new_null();
		if (!exts || !(g = sans_build(sans)) || !(e = X509V3_EXT_i2d(NID_subject_alt_name, 0, g)))
			goto out;
		sk_X509_EXTENSION_push(exts, e);
		if (!X509_REQ_add_extensions(q, exts))
			goto out;
	}
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int ok = m && EVP_DigestSignInit(m, NULL, x509_sig_md(key, 0), NULL, key) == 1 && X509_REQ_sign_ctx(q, m) > 0;
	EVP_MD_CTX_free(m);
	if (!ok)
		goto out;
	*out = q;
	q = NULL;
	r = 0;
out:
	ERR_clear_error();
	GENERAL_NAMES_free(g);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(q);
	return r;
}

int x509_csr_sans(X509_REQ *q, struct x509_sans *sans)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(q);
	int r = 0;
	for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) != NID_subject_alt_name)
			continue;
		GENERAL_NAMES *g = X509V3_EXT_d2i(e);
		for (int j = 0; g && j < sk_GENERAL_NAME_num(g); j++) {
			GENERAL_NAME *n = sk_GENERAL_NAME_value(g, j);
			int type;
			ASN1_STRING *v = GENERAL_NAME_get0_value(n, &type);
			char text[INET6_ADDRSTRLEN];
			if (type == GEN_DNS || type == GEN_EMAIL || type == GEN_URI) {
				char *s = xstrndup((const char *)ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
				strlist_push_owned(type == GEN_DNS ? &sans->dns : type == GEN_EMAIL ? &sans->email : &sans->uri,
						   s);
			} else if (type == GEN_IPADD) {
				int len = ASN1_STRING_length(v);
				if ((len == 4 || len == 16) &&
				    inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(v), text, sizeof(text)))
					strlist_push(&sans->ip, text);
			}
		}
		GENERAL_NAMES_free(g);
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return r;
}

static int64_t asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

int64_t x509_not_after(const X509 *c)
{
	return asn1_time_unix(X509_get0_notAfter(c));
}

int64_t x509_not_before(const X509 *c)
{
	return asn1_time_unix(X509_get0_notBefore(c));
}

bool x509_issued_by(X509 *child, X509 *parent)
{
	EVP_PKEY *pk = X509_get0_pubkey(parent);
	bool ok = X509_NAME_cmp(X509_get_issuer_name(child), X509_get_subject_name(parent)) == 0 && pk &&
		  X509_verify(child, pk) == 1;
	ERR_clear_error();
	return ok;
}

char *x509_subject_cn(X509 *c)
{
	X509_NAME *n = X509_get_subject_name(c);
	int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	unsigned char *u = NULL;
	char *s;
	if (i < 0)
		return NULL;
	int len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
	if (len < 0)
		return NULL;
	s = xstrndup((const char *)u, (size_t)len);
	OPENSSL_free(u);
	return s;
}
