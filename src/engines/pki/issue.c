/* issue.c — leaf certificates: pki_issue_leaf (pki.h), the one place a
 * leaf is signed and stored. The routes that call it (issue/:role,
 * sign/:role, sign-verbatim) are issue_routes.c and sign_verbatim.c. */
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "revocation.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "timefmt.h"

#include "banned.h"

void pki_issued_release(struct pki_issued *c)
{
	free(c->der);
	X509_free(c->cert);
	memset(c, 0, sizeof(*c));
}

/* The certificate of spec and extra by the X509 path: x509_cert_sign,
 * then x509_leaf_extend when the leaf asks for more. */
static int leaf_x509(const struct x509_spec *spec, const struct x509_leaf_extra *extra, X509 *icert, EVP_PKEY *ikey,
		     struct pki_issued *out, struct response *resp)
{
	const char *why = NULL;
	int r;
	if ((r = x509_cert_sign(spec, icert, ikey, &out->cert, &why)) != 0)
		return response_error(resp, r, "%s", why);
	if ((extra->basic_constraints_valid || (extra->policy_identifiers && extra->policy_identifiers->len)) &&
	    (r = x509_leaf_extend(out->cert, extra, ikey)) != 0)
		return r;
	if ((r = x509_serial_text(X509_get0_serialNumber(out->cert), out->serial)) != 0 ||
	    (r = x509_cert_to_der(out->cert, &out->der, &out->der_len)) != 0)
		return r;
	out->not_after = spec->not_after;
	return 0;
}

/* The certificate as DER written directly (leaf_der.c) when that covers
 * it: 0 with out filled, else non-zero and out untouched (the X509 path
 * then makes it, and answers any error). */
static int leaf_direct(struct pki_state *st, const struct x509_spec *spec, struct x509_leaf_extra *extra,
		       X509 *icert, EVP_PKEY *ikey, struct pki_issued *out)
{
	int r;
	if (!x509_leaf_der_covers(spec, icert, ikey))
		return TROVE_ERR_INVALID;
	if ((r = x509_serial_random_bytes(extra->serial)) != 0)
		return r;
	struct x509_signer *kept = pki_signer_ctx_take(st, ikey, x509_sig_md(ikey, spec->signature_bits));
	r = x509_leaf_der(spec, extra, icert, ikey, kept, &out->der, &out->der_len);
	pki_signer_ctx_give(st, ikey, kept);
	if (r != 0)
		return r;
	x509_serial_text_bytes(extra->serial, sizeof(extra->serial), out->serial);
	out->not_after = spec->not_after;
	return 0;
}

int pki_issue_leaf(struct storage *s, const char *issuer_id, const struct pki_leaf *leaf, X509 **out,
		   struct response *resp)
{
	struct pki_issued c = {0};
	int r = pki_issue_leaf_der(s, issuer_id, leaf, &c, resp);
	*out = NULL;
	if (r == 0 && !c.cert) {
		const unsigned char *p = c.der;
		if (!(c.cert = d2i_X509(NULL, &p, (long)c.der_len)))
			r = TROVE_ERR_INTERNAL;
	}
	if (r == 0) {
		*out = c.cert;
		c.cert = NULL;
	}
	pki_issued_release(&c);
	return r;
}

int pki_issue_leaf_der(struct storage *s, const char *issuer_id, const struct pki_leaf *leaf, struct pki_issued *out,
		       struct response *resp)
{
	json_t *owned = NULL;
	const json_t *rec = leaf->issuer;
	X509 *icert = NULL;
	EVP_PKEY *ikey = NULL;
	X509_NAME *name = NULL;
	struct pki_urls urls;
	int r;

	memset(out, 0, sizeof(*out));
	pki_urls_init(&urls);
	if (!rec && (r = pki_issuer_get(s, issuer_id, &owned)) != 0)
		goto out;
	rec = rec ?: owned;
	if ((r = pki_signer_get(leaf->state, s, rec, &icert, &ikey)) != 0)
		goto out;
	if (!ikey) {
		r = response_error(resp, TROVE_ERR_INVALID, "issuer %s has no private key in this mount", issuer_id);
		goto out;
	}
	int kbits;
	const char *ktype = x509_key_type(ikey, &kbits);
	if (leaf->no_block && (!leaf->no_store || !ktype || !pki_role_key_inline(ktype, kbits))) {
		r = TROVE_ERR_WOULD_BLOCK; /* an RSA signature, or a write: on the pool */
		goto out;
	}
	if (!pki_issuer_may_issue(rec)) {
		r = response_error(resp, TROVE_ERR_INVALID, "issuer %s may not issue certificates (usage, or revoked)", issuer_id);
		goto out;
	}
	struct x509_spec spec = {.pubkey = leaf->pubkey,
				 .sans = leaf->sans,
				 .not_before = leaf->not_before,
				 .not_after = leaf->not_after,
				 .max_path_length = -1,
				 .key_usage = leaf->key_usage,
				 .ext_key_usage = leaf->ext_key_usage,
				 .ext_key_usage_oids = leaf->ext_key_usage_oids,
				 .signature_bits = leaf->signature_bits,
				 .use_pss = leaf->use_pss,
				 .issuing_certificates = &urls.issuing_certificates,
				 .crl_distribution_points = &urls.crl_distribution_points,
				 .ocsp_servers = &urls.ocsp_servers};
	int64_t ca_end = x509_not_after(icert);
	const char *behavior = json_string_value(json_object_get(rec, "leaf_not_after_behavior")) ?: "err";
	if (spec.not_after > ca_end) {
		if (strcmp(behavior, "truncate") == 0) {
			spec.not_after = ca_end;
		} else if (strcmp(behavior, "permit") != 0) {
			char want[TIME_TEXT_MAX], have[TIME_TEXT_MAX];
			time_rfc3339(spec.not_after, want);
			time_rfc3339(ca_end, have);
			r = response_error(resp, TROVE_ERR_INVALID,
					   "cannot satisfy request, as TTL would result in notAfter of %s that is beyond "
					   "the expiration of the CA certificate at %s",
					   want, have);
			goto out;
		}
	}
	struct buf url_why;
	buf_init(&url_why, 1024);
	r = pki_issuer_urls(s, rec, &urls, &url_why);
	if (r != 0)
		r = url_why.len ? response_error(resp, r, "%s", url_why.data) : r;
	buf_release(&url_why);
	if (r != 0)
		goto out;
	if (!leaf->subject_name && (r = x509_name_build(leaf->subject, &name)) != 0) {
		r = response_error(resp, r, "common_name: the subject could not be encoded");
		goto out;
	}
	spec.subject = leaf->subject_name ? leaf->subject_name : name;
	struct x509_leaf_extra extra = {.policy_identifiers = leaf->policy_identifiers,
					.basic_constraints_valid = leaf->basic_constraints_valid};
	if (leaf_direct(leaf->state, &spec, &extra, icert, ikey, out) != 0 &&
	    (r = leaf_x509(&spec, &extra, icert, ikey, out, resp)) != 0)
		goto out;
	if (!leaf->no_store) {
		/* the store takes an X509: parsed from the DER when written directly */
		const unsigned char *p = out->der;
		if (!out->cert && !(out->cert = d2i_X509(NULL, &p, (long)out->der_len)))
			r = TROVE_ERR_INTERNAL;
		else
			r = pki_cert_store(s, out->cert, issuer_id);
	}
out:
	if (r != 0)
		pki_issued_release(out);
	pki_urls_release(&urls);
	X509_NAME_free(name);
	X509_free(icert);
	EVP_PKEY_free(ikey);
	json_decref(owned);
	return r;
}
