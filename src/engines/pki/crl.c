/* crl.c — the CRL builder (crl.h).
 *
 * A CRL here is what Vault's builder writes: version 2, the issuer's
 * subject as issuer, thisUpdate = now and nextUpdate = now + config/crl's
 * expiry, one entry per revoked serial with its revocation date and no
 * entry extensions, and as CRL extensions the authority key identifier,
 * the CRL number and, for a delta CRL, the critical Delta CRL Indicator
 * naming the complete CRL it extends. The caller owns the numbering: a
 * CRL number must only ever grow (crl/rotate relies on it), which needs
 * storage this module does not have. */
#include <limits.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "crl.h"
#include "err.h"

#include "banned.h"

static int fail(struct buf *why, int code, const char *msg)
{
	if (why)
		(void)buf_append_str(why, msg);
	return code;
}

/* Lower-case name without '-' and '_' into out; false if it does not fit. */
static bool fold_name(const char *name, char *out, size_t cap)
{
	size_t n = 0;

	for (; *name; name++) {
		char c = *name;
		if (c == '-' || c == '_')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (n + 1 >= cap)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return true;
}

enum sig_scheme { SIG_NONE, SIG_RSA, SIG_RSA_PSS, SIG_ECDSA, SIG_ED25519 };

struct sig_name {
	const char *folded; /* fold_name() of the accepted spellings */
	enum sig_scheme scheme;
	int md_nid;
};

static const struct sig_name sig_names[] = {
    {"sha256withrsa", SIG_RSA, NID_sha256},        {"sha256rsa", SIG_RSA, NID_sha256},
    {"sha384withrsa", SIG_RSA, NID_sha384},        {"sha384rsa", SIG_RSA, NID_sha384},
    {"sha512withrsa", SIG_RSA, NID_sha512},        {"sha512rsa", SIG_RSA, NID_sha512},
    {"sha256withrsapss", SIG_RSA_PSS, NID_sha256}, {"sha256rsapss", SIG_RSA_PSS, NID_sha256},
    {"sha384withrsapss", SIG_RSA_PSS, NID_sha384}, {"sha384rsapss", SIG_RSA_PSS, NID_sha384},
    {"sha512withrsapss", SIG_RSA_PSS, NID_sha512}, {"sha512rsapss", SIG_RSA_PSS, NID_sha512},
    {"ecdsawithsha256", SIG_ECDSA, NID_sha256},    {"ecdsasha256", SIG_ECDSA, NID_sha256},
    {"ecdsawithsha384", SIG_ECDSA, NID_sha384},    {"ecdsasha384", SIG_ECDSA, NID_sha384},
    {"ecdsawithsha512", SIG_ECDSA, NID_sha512},    {"ecdsasha512", SIG_ECDSA, NID_sha512},
    {"pureed25519", SIG_ED25519, NID_undef},       {"ed25519", SIG_ED25519, NID_undef},
};

/* Go's default for a key: SHA-256 for RSA, the curve's size for ECDSA. */
static int default_sig(EVP_PKEY *key, enum sig_scheme *scheme, int *md_nid)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		*scheme = SIG_RSA;
		*md_nid = NID_sha256;
		return 0;
	case EVP_PKEY_EC: {
		int bits = EVP_PKEY_get_bits(key);
		*scheme = SIG_ECDSA;
		*md_nid = bits <= 256 ? NID_sha256 : bits <= 384 ? NID_sha384 : NID_sha512;
		return 0;
	}
	case EVP_PKEY_ED25519:
		*scheme = SIG_ED25519;
		*md_nid = NID_undef;
		return 0;
	default:
		return TROVE_ERR_INVALID;
	}
}

static bool scheme_fits(enum sig_scheme s, int key_id)
{
	switch (s) {
	case SIG_RSA:
	case SIG_RSA_PSS:
		return key_id == EVP_PKEY_RSA;
	case SIG_ECDSA:
		return key_id == EVP_PKEY_EC;
	case SIG_ED25519:
		return key_id == EVP_PKEY_ED25519;
	default:
		return false;
	}
}

int crl_sign_init(EVP_MD_CTX *ctx, EVP_PKEY *key, const char *name, bool allow_pss, struct buf *why)
{
	enum sig_scheme scheme = SIG_NONE;
	int md_nid = NID_undef;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md;
	char folded[32];

	if (name == NULL || *name == '\0') {
		if (default_sig(key, &scheme, &md_nid) != 0)
			return fail(why, TROVE_ERR_INVALID, "issuer key: unsupported key type");
	} else {
		if (fold_name(name, folded, sizeof(folded)))
			for (size_t i = 0; i < sizeof(sig_names) / sizeof(sig_names[0]); i++)
				if (strcmp(folded, sig_names[i].folded) == 0) {
					scheme = sig_names[i].scheme;
					md_nid = sig_names[i].md_nid;
					break;
				}
		if (scheme == SIG_NONE)
			return fail(why, TROVE_ERR_INVALID,
			            "revocation_signature_algorithm: unknown algorithm");
		if (!scheme_fits(scheme, EVP_PKEY_get_base_id(key)))
			return fail(why, TROVE_ERR_INVALID,
			            "revocation_signature_algorithm: does not fit the issuer's key type");
	}
	if (scheme == SIG_RSA_PSS && !allow_pss)
		scheme = SIG_RSA;
	md = md_nid == NID_undef ? NULL : EVP_get_digestbynid(md_nid);
	if (EVP_DigestSignInit(ctx, &pctx, md, NULL, key) != 1)
		return fail(why, TROVE_ERR_INTERNAL, "signing: cannot use the issuer key");
	if (scheme == SIG_RSA_PSS && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	                              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		return fail(why, TROVE_ERR_INTERNAL, "signing: cannot set up RSA-PSS");
	return 0;
}

int crl_serial_parse(const char *text, size_t len, unsigned char *out, size_t cap, size_t *out_len,
                     struct buf *why)
{
	size_t n = 0;

	/* Pairs of hex digits, each pair but the last followed by one
	 * separator, the same separator throughout. */
	char sep = len > 2 ? text[2] : 0;
	if (len == 0)
		return fail(why, TROVE_ERR_INVALID, "serial_number: empty");
	if (sep != 0 && sep != ':' && sep != '-')
		return fail(why, TROVE_ERR_INVALID,
		            "serial_number: expected hex pairs separated by ':' or '-'");
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = 0;
		if (len - i < 2)
			return fail(why, TROVE_ERR_INVALID, "serial_number: odd number of hex digits");
		for (size_t k = 0; k < 2; k++) {
			char c = text[i + k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return fail(why, TROVE_ERR_INVALID, "serial_number: not a hex digit");
		}
		if (i + 2 < len && text[i + 2] != sep)
			return fail(why, TROVE_ERR_INVALID,
			            "serial_number: expected hex pairs separated by ':' or '-'");
		if (i + 2 < len && i + 3 == len)
			return fail(why, TROVE_ERR_INVALID, "serial_number: trailing separator");
		if (n == cap)
			return fail(why, TROVE_ERR_INVALID, "serial_number: too long");
		out[n++] = (unsigned char)v;
	}
	*out_len = n;
	return 0;
}

/* ASN1_INTEGER from big-endian magnitude bytes. */
static ASN1_INTEGER *serial_integer(const unsigned char *p, size_t n)
{
	ASN1_INTEGER *ai = NULL;
	BIGNUM *bn;

	if (n == 0 || n > CRL_SERIAL_MAX)
		return NULL;
	bn = BN_bin2bn(p, (int)n, NULL);
	if (bn) {
		ai = BN_to_ASN1_INTEGER(bn, NULL);
		BN_free(bn);
	}
	return ai;
}

static int add_uint_ext(X509_CRL *crl, int nid, uint64_t v, int critical)
{
	ASN1_INTEGER *ai = ASN1_INTEGER_new();
	int ok = ai && ASN1_INTEGER_set_uint64(ai, v) == 1 &&
	         X509_CRL_add1_ext_i2d(crl, nid, ai, critical, 0) == 1;

	ASN1_INTEGER_free(ai);
	return ok ? 0 : TROVE_ERR_INTERNAL;
}

/* The authority key identifier: the issuer's own subject key identifier,
 * or (a certificate without one) the SHA-1 of its public key, which is
 * how RFC 5280 §4.2.1.2 method 1 derives it. */
static int add_akid(X509_CRL *crl, X509 *issuer)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(issuer);
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int r = TROVE_ERR_INTERNAL;

	if (akid == NULL)
		goto out;
	if (skid) {
		if ((akid->keyid = ASN1_OCTET_STRING_dup(skid)) == NULL)
			goto out;
	} else {
		if (X509_pubkey_digest(issuer, EVP_sha1(), md, &md_len) != 1 ||
		    (akid->keyid = ASN1_OCTET_STRING_new()) == NULL ||
		    ASN1_OCTET_STRING_set(akid->keyid, md, (int)md_len) != 1)
			goto out;
	}
	if (X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0) != 1)
		goto out;
	r = 0;
out:
	AUTHORITY_KEYID_free(akid);
	return r;
}

static bool url_ok(const char *u)
{
	if (u == NULL || *u == '\0')
		return false;
	for (; *u; u++)
		if (*u <= ' ' || *u > '~')
			return false;
	return true;
}

/* Freshest CRL (RFC 5280 §5.2.6): where the delta CRLs are, one
 * distribution point per URL, each a full name holding one URI. */
static int add_freshest(X509_CRL *crl, const char *const *urls, size_t n, struct buf *why)
{
	CRL_DIST_POINTS *dps = NULL;
	int r = TROVE_ERR_INTERNAL;

	for (size_t i = 0; i < n; i++)
		if (!url_ok(urls[i]))
			return fail(why, TROVE_ERR_INVALID,
			            "delta_crl_distribution_points: empty or not printable ASCII");
	if ((dps = CRL_DIST_POINTS_new()) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		DIST_POINT *dp = DIST_POINT_new();
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *uri = ASN1_IA5STRING_new();

		if (dp == NULL || gn == NULL || uri == NULL || ASN1_STRING_set(uri, urls[i], -1) != 1 ||
		    (dp->distpoint = DIST_POINT_NAME_new()) == NULL ||
		    (dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL) {
			DIST_POINT_free(dp);
			GENERAL_NAME_free(gn);
			ASN1_IA5STRING_free(uri);
			goto out;
		}
		dp->distpoint->type = 0;
		GENERAL_NAME_set0_value(gn, GEN_URI, uri);
		if (sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn) <= 0) {
			GENERAL_NAME_free(gn);
			DIST_POINT_free(dp);
			goto out;
		}
		if (sk_DIST_POINT_push(dps, dp) <= 0) {
			DIST_POINT_free(dp);
			goto out;
		}
	}
	if (X509_CRL_add1_ext_i2d(crl, NID_freshest_crl, dps, 0, 0) != 1)
		goto out;
	r = 0;
out:
	CRL_DIST_POINTS_free(dps);
	return r;
}

static int add_entries(X509_CRL *crl, const struct crl_entry *e, size_t n, struct buf *why)
{
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *rev = X509_REVOKED_new();
		ASN1_INTEGER *serial = serial_integer(e[i].serial, e[i].serial_len);
		ASN1_TIME *when = ASN1_TIME_new();
		int ok = rev && serial && when && e[i].revoked_at >= 0 &&
		         ASN1_TIME_set(when, (time_t)e[i].revoked_at) != NULL &&
		         X509_REVOKED_set_serialNumber(rev, serial) == 1 &&
		         X509_REVOKED_set_revocationDate(rev, when) == 1 &&
		         X509_CRL_add0_revoked(crl, rev) == 1;

		ASN1_INTEGER_free(serial);
		ASN1_TIME_free(when);
		if (!ok) {
			X509_REVOKED_free(rev);
			if (e[i].serial_len == 0 || e[i].serial_len > CRL_SERIAL_MAX || e[i].revoked_at < 0)
				return fail(why, TROVE_ERR_INVALID,
				            "revoked entry: bad serial or revocation time");
			return fail(why, TROVE_ERR_INTERNAL, "CRL: cannot add an entry");
		}
	}
	return 0;
}

static int check_issuer(const struct crl_params *p, struct buf *why)
{
	if (p->issuer_cert == NULL || p->issuer_key == NULL)
		return fail(why, TROVE_ERR_INVALID, "issuer: certificate and key required");
	if (X509_check_private_key(p->issuer_cert, p->issuer_key) != 1)
		return fail(why, TROVE_ERR_INVALID, "issuer: key does not match the certificate");
	if ((X509_get_extension_flags(p->issuer_cert) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(p->issuer_cert) & KU_CRL_SIGN))
		return fail(why, TROVE_ERR_INVALID, "issuer: key usage lacks crl-signing (cRLSign)");
	if (p->now < 0 || p->expiry < 0 || p->expiry > INT64_MAX - p->now)
		return fail(why, TROVE_ERR_INVALID, "expiry: out of range");
	if (p->delta && p->base_number >= p->number)
		return fail(why, TROVE_ERR_INVALID, "delta CRL: base number must be below its own number");
	return 0;
}

int crl_build(const struct crl_params *p, unsigned char **der, size_t *der_len, struct buf *why)
{
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *out = NULL;
	int len, r;

	*der = NULL;
	*der_len = 0;
	if ((r = check_issuer(p, why)) != 0)
		goto out;
	r = TROVE_ERR_INTERNAL;
	if ((crl = X509_CRL_new()) == NULL || (t = ASN1_TIME_new()) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(p->issuer_cert)) != 1 ||
	    ASN1_TIME_set(t, (time_t)p->now) == NULL || X509_CRL_set1_lastUpdate(crl, t) != 1 ||
	    ASN1_TIME_set(t, (time_t)(p->now + p->expiry)) == NULL || X509_CRL_set1_nextUpdate(crl, t) != 1)
		goto out;
	if ((r = add_entries(crl, p->entries, p->n_entries, why)) != 0)
		goto out;
	r = TROVE_ERR_INTERNAL;
	if (add_akid(crl, p->issuer_cert) != 0 || add_uint_ext(crl, NID_crl_number, p->number, 0) != 0)
		goto out;
	if (p->delta && add_uint_ext(crl, NID_delta_crl, p->base_number, 1) != 0)
		goto out;
	if (!p->delta && p->n_delta_crl_urls > 0 &&
	    (r = add_freshest(crl, p->delta_crl_urls, p->n_delta_crl_urls, why)) != 0)
		goto out;
	r = TROVE_ERR_INTERNAL;
	if ((r = crl_sign_init(ctx, p->issuer_key, p->signature_algorithm, true, why)) != 0)
		goto out;
	r = TROVE_ERR_INTERNAL;
	if (X509_CRL_sign_ctx(crl, ctx) <= 0) {
		(void)buf_append_str(why, "CRL: signing failed");
		goto out;
	}
	if ((len = i2d_X509_CRL(crl, &out)) <= 0)
		goto out;
	*der = out;
	*der_len = (size_t)len;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return r;
}

int crl_der_to_pem(const unsigned char *der, size_t der_len, struct buf *out)
{
	const unsigned char *p = der;
	X509_CRL *crl = NULL;
	BIO *bio = NULL;
	char *mem;
	long n;
	int r = TROVE_ERR_INVALID;

	if (der_len > LONG_MAX || (crl = d2i_X509_CRL(NULL, &p, (long)der_len)) == NULL || p != der + der_len)
		goto out;
	r = TROVE_ERR_INTERNAL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &mem);
	r = n > 0 ? buf_append(out, mem, (size_t)n) : TROVE_ERR_INTERNAL;
out:
	BIO_free(bio);
	X509_CRL_free(crl);
	return r;
}

static int read_uint_ext(X509_CRL *crl, int nid, uint64_t *v, bool *present)
{
	int crit = 0;
	ASN1_INTEGER *ai = X509_CRL_get_ext_d2i(crl, nid, &crit, NULL);
	int r = 0;

	*present = ai != NULL;
	*v = 0;
	if (ai == NULL)
		return crit == -1 ? 0 : TROVE_ERR_INVALID; /* -1: absent; else malformed or repeated */
	if (ASN1_INTEGER_get_uint64(v, ai) != 1)
		r = TROVE_ERR_INVALID;
	ASN1_INTEGER_free(ai);
	return r;
}

static int time_of(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return TROVE_ERR_INVALID;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int crl_read_info(const unsigned char *der, size_t der_len, struct crl_info *info, struct buf *why)
{
	const unsigned char *p = der;
	X509_CRL *crl = NULL;
	STACK_OF(X509_REVOKED) * revoked;
	bool present;
	int r = TROVE_ERR_INVALID;

	memset(info, 0, sizeof(*info));
	if (der_len > LONG_MAX || (crl = d2i_X509_CRL(NULL, &p, (long)der_len)) == NULL ||
	    p != der + der_len) {
		(void)buf_append_str(why, "crl: not a DER CRL");
		goto out;
	}
	if (read_uint_ext(crl, NID_crl_number, &info->number, &present) != 0 ||
	    read_uint_ext(crl, NID_delta_crl, &info->base_number, &info->delta) != 0) {
		(void)buf_append_str(why, "crl: bad CRL number or delta indicator");
		goto out;
	}
	if (time_of(X509_CRL_get0_lastUpdate(crl), &info->this_update) != 0 ||
	    (X509_CRL_get0_nextUpdate(crl) &&
	     time_of(X509_CRL_get0_nextUpdate(crl), &info->next_update) != 0)) {
		(void)buf_append_str(why, "crl: bad time");
		goto out;
	}
	revoked = X509_CRL_get_REVOKED(crl);
	info->n_entries = revoked ? (size_t)sk_X509_REVOKED_num(revoked) : 0;
	r = 0;
out:
	X509_CRL_free(crl);
	return r;
}
