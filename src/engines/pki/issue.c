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

/* Adds what x509_cert_sign does not write (certificatePolicies, a
 * CA:FALSE basicConstraints) to c and signs it again with the same
 * signature algorithm (digest and padding read back from c). */
static int leaf_extend(X509 *c, const struct pki_leaf *leaf, EVP_PKEY *ikey)
{
	CERTIFICATEPOLICIES *pol = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	EVP_MD_CTX *m = NULL;
	int r = TROVE_ERR_INTERNAL;

	if (leaf->basic_constraints_valid) {
		if (!(bc = BASIC_CONSTRAINTS_new()) || !X509_add1_ext_i2d(c, NID_basic_constraints, bc, 1, X509V3_ADD_REPLACE))
			goto out;
	}
	if (leaf->policy_identifiers && leaf->policy_identifiers->len) {
		if (!(pol = sk_POLICYINFO_new_null()))
			goto out;
		for (size_t i = 0; i < leaf->policy_identifiers->len; i++) {
			POLICYINFO *pi = POLICYINFO_new();
			if (!pi || !sk_POLICYINFO_push(pol, pi)) {
				POLICYINFO_free(pi);
				goto out;
			}
			ASN1_OBJECT_free(pi->policyid);
			if (!(pi->policyid = OBJ_txt2obj(leaf->policy_identifiers->items[i], 1)))
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

int pki_issue_leaf(struct storage *s, const char *issuer_id, const struct pki_leaf *leaf, X509 **out,
		   struct response *resp)
{
	json_t *owned = NULL;
	const json_t *rec = leaf->issuer;
	X509 *icert = NULL;
	EVP_PKEY *ikey = NULL;
	X509_NAME *name = NULL;
	struct pki_urls urls;
	const char *why = NULL;
	int r;

	*out = NULL;
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
	if ((r = x509_cert_sign(&spec, icert, ikey, out, &why)) != 0) {
		r = response_error(resp, r, "%s", why);
		goto out;
	}
	if ((leaf->basic_constraints_valid || (leaf->policy_identifiers && leaf->policy_identifiers->len)) &&
	    (r = leaf_extend(*out, leaf, ikey)) != 0) {
		X509_free(*out);
		*out = NULL;
		goto out;
	}
	if (!leaf->no_store && (r = pki_cert_store(s, *out, issuer_id)) != 0) {
		X509_free(*out);
		*out = NULL;
	}
out:
	pki_urls_release(&urls);
	X509_NAME_free(name);
	X509_free(icert);
	EVP_PKEY_free(ikey);
	json_decref(owned);
	return r;
}
