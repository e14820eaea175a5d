/* issue.c — leaf certificates: pki_issue_leaf (pki.h) and a first
 * issue/:role and sign/:role (also under issuer/:ref/).
 *
 * The role is read by role_load alone, as plain JSON of Vault's role
 * fields at role/<name>; only ttl, max_ttl, key_type, key_bits,
 * allowed_domains with allow_subdomains, allow_any_name, key_usage,
 * server_flag, client_flag, no_store, issuer_ref and the subject fields
 * are honoured here. */
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "revocation.h"

#include "core/mount.h"
#include "engines/kv_util.h"
#include "duration.h"
#include "err.h"
#include "secure.h"
#include "timefmt.h"

#include "banned.h"

int pki_issue_leaf(struct storage *s, const char *issuer_id, const struct pki_leaf *leaf, X509 **out,
		   struct response *resp)
{
	json_t *rec = NULL;
	X509 *icert = NULL;
	EVP_PKEY *ikey = NULL;
	X509_NAME *name = NULL;
	struct pki_urls urls;
	const char *why = NULL;
	int r;

	*out = NULL;
	pki_urls_init(&urls);
	if ((r = pki_issuer_get(s, issuer_id, &rec)) != 0 || (r = pki_issuer_signer(s, rec, &icert, &ikey)) != 0)
		goto out;
	if (!ikey) {
		r = response_error(resp, TROVE_ERR_INVALID, "issuer %s has no private key in this mount", issuer_id);
		goto out;
	}
	if (!strstr(json_string_value(json_object_get(rec, "usage")) ?: "", "issuing-certificates")) {
		r = response_error(resp, TROVE_ERR_INVALID, "issuer %s may not issue certificates (usage)", issuer_id);
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
	if ((r = x509_name_build(leaf->subject, &name)) != 0) {
		r = response_error(resp, r, "common_name: the subject could not be encoded");
		goto out;
	}
	spec.subject = name;
	if ((r = x509_cert_sign(&spec, icert, ikey, out, &why)) != 0) {
		r = response_error(resp, r, "%s", why);
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
	json_decref(rec);
	return r;
}

/* The role as stored at role/<name>: 400 "unknown role" when absent.
 * The one place a role is read, until the full role model replaces it. */
static int role_load(struct request *req, struct response *resp, json_t **role)
{
	const char *name = request_param(req, "role");
	struct buf key;
	int r;
	buf_init(&key, STORAGE_MAX_KEY);
	buf_printf(&key, PKI_ROLE_PREFIX "%s", name);
	r = kv_get_json(req->storage, key.data, role);
	buf_release(&key);
	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, TROVE_ERR_INVALID, "unknown role: %s", name);
	return r;
}

static int64_t role_duration(const json_t *role, const char *k)
{
	int64_t v = 0;
	json_t *x = json_object_get(role, k);
	if (json_is_integer(x))
		return json_integer_value(x);
	if (json_is_string(x) && duration_parse_seconds(json_string_value(x), json_string_length(x), &v) != 0)
		return 0;
	return v;
}

static void role_list(const json_t *role, const char *k, struct strlist *out)
{
	json_t *x = json_object_get(role, k), *v;
	size_t i;
	if (json_is_string(x) && json_string_length(x))
		strlist_push(out, json_string_value(x));
	json_array_foreach(x, i, v) if (json_string_length(v)) strlist_push(out, json_string_value(v));
}

static bool role_bool(const json_t *role, const char *k, bool def)
{
	json_t *x = json_object_get(role, k);
	return json_is_boolean(x) ? json_is_true(x) : def;
}

/* Whether the role allows a DNS name: allow_any_name, or a subdomain of
 * allowed_domains with allow_subdomains. */
static bool name_allowed(const json_t *role, const char *name)
{
	struct strlist domains;
	bool ok = role_bool(role, "allow_any_name", false);
	strlist_init(&domains);
	role_list(role, "allowed_domains", &domains);
	size_t n = strlen(name);
	for (size_t i = 0; !ok && i < domains.len && role_bool(role, "allow_subdomains", false); i++) {
		size_t d = strlen(domains.items[i]);
		ok = n > d + 1 && name[n - d - 1] == '.' && strcmp(name + n - d, domains.items[i]) == 0;
	}
	strlist_release(&domains);
	return ok;
}

static int check_names(const json_t *role, const char *cn, const struct x509_sans *sans, struct response *resp)
{
	if (cn && cn[0] && !name_allowed(role, cn))
		return response_error(resp, TROVE_ERR_INVALID, "common name %s not allowed by this role", cn);
	for (size_t i = 0; i < sans->dns.len; i++)
		if (!name_allowed(role, sans->dns.items[i]))
			return response_error(resp, TROVE_ERR_INVALID, "subject alternate name %s not allowed by this role",
					      sans->dns.items[i]);
	for (size_t i = 0; i < sans->email.len; i++)
		if (!role_bool(role, "allow_any_name", false))
			return response_error(resp, TROVE_ERR_INVALID, "email address %s not allowed by this role",
					      sans->email.items[i]);
	return 0;
}

static void role_subject(const json_t *role, struct x509_subject *subj)
{
	role_list(role, "ou", &subj->ou);
	role_list(role, "organization", &subj->org);
	role_list(role, "country", &subj->country);
	role_list(role, "locality", &subj->locality);
	role_list(role, "province", &subj->province);
	role_list(role, "street_address", &subj->street);
	role_list(role, "postal_code", &subj->postal);
}

static int role_usages(const json_t *role, struct pki_leaf *leaf, struct response *resp)
{
	struct strlist ku;
	int r = 0;
	strlist_init(&ku);
	if (json_object_get(role, "key_usage"))
		role_list(role, "key_usage", &ku);
	else {
		strlist_push(&ku, "DigitalSignature");
		strlist_push(&ku, "KeyAgreement");
		strlist_push(&ku, "KeyEncipherment");
	}
	for (size_t i = 0; r == 0 && i < ku.len; i++)
		if (x509_ku_parse(ku.items[i], &leaf->key_usage) != 0)
			r = response_error(resp, TROVE_ERR_INVALID, "role key_usage: unknown usage %s", ku.items[i]);
	strlist_release(&ku);
	if (role_bool(role, "server_flag", true))
		leaf->ext_key_usage |= X509_EKU_SERVER;
	if (role_bool(role, "client_flag", true))
		leaf->ext_key_usage |= X509_EKU_CLIENT;
	if (role_bool(role, "code_signing_flag", false))
		leaf->ext_key_usage |= X509_EKU_CODE_SIGNING;
	if (role_bool(role, "email_protection_flag", false))
		leaf->ext_key_usage |= X509_EKU_EMAIL;
	return r;
}

/* The issuer a request uses: the path's :ref, else the role's issuer_ref. */
static int leaf_issuer(struct request *req, struct response *resp, const json_t *role, char id[PKI_ID_MAX])
{
	const char *ref = request_param(req, "ref");
	if (!ref)
		ref = json_string_length(json_object_get(role, "issuer_ref"))
			  ? json_string_value(json_object_get(role, "issuer_ref"))
			  : "default";
	return pki_issuer_resolve_reply(req->storage, ref, id, resp);
}

static int issue_or_sign(struct request *req, struct response *resp, bool sign)
{
	json_t *role = NULL, *issuer = NULL;
	struct x509_subject subj;
	struct x509_sans sans;
	struct pki_leaf leaf = {0};
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	X509 *cert = NULL;
	char id[PKI_ID_MAX], *cn_csr = NULL, *keytext = NULL;
	const char *why = NULL;
	int r;

	x509_subject_init(&subj);
	x509_sans_init(&sans);
	if ((r = pki_req_formats(req, resp)) != 0 || (r = role_load(req, resp, &role)) != 0 ||
	    (r = leaf_issuer(req, resp, role, id)) != 0)
		goto out;
	if (sign) {
		const char *pem = field_string(req, "csr");
		if ((r = x509_csr_parse(pem, strlen(pem), &csr, &why)) != 0) {
			r = response_error(resp, r, "%s", why);
			goto out;
		}
		leaf.pubkey = X509_REQ_get0_pubkey(csr);
		if (role_bool(role, "use_csr_common_name", true) && !field_string(req, "common_name")[0]) {
			X509 *tmp = X509_new();
			if (tmp && X509_set_subject_name(tmp, X509_REQ_get_subject_name(csr)))
				cn_csr = x509_subject_cn(tmp);
			X509_free(tmp);
		}
	} else {
		const char *type = json_string_value(json_object_get(role, "key_type")) ?: "rsa";
		int bits;
		if (strcmp(type, "any") == 0)
			type = "rsa";
		json_t *kb = json_object_get(role, "key_bits");
		if (x509_key_params(type, json_is_integer(kb) ? json_integer_value(kb) : 0, &bits, &why) != 0) {
			r = response_error(resp, TROVE_ERR_INVALID, "role %s", why);
			goto out;
		}
		if ((r = x509_keygen(type, bits, &key)) != 0)
			goto out;
		leaf.pubkey = key;
	}
	subj.cn = cn_csr ? cn_csr : field_string(req, "common_name");
	if (!subj.cn[0] && role_bool(role, "require_cn", true)) {
		r = response_error(resp, TROVE_ERR_INVALID, "common_name: missing");
		goto out;
	}
	role_subject(role, &subj);
	if (sign && role_bool(role, "use_csr_sans", true)) {
		if (!field_bool(req, "exclude_cn_from_sans") && subj.cn[0])
			strlist_push(strchr(subj.cn, '@') ? &sans.email : &sans.dns, subj.cn);
		struct x509_sans from_csr;
		x509_sans_init(&from_csr);
		x509_csr_sans(csr, &from_csr);
		for (size_t i = 0; i < from_csr.dns.len; i++)
			if (!strlist_contains(&sans.dns, from_csr.dns.items[i]))
				strlist_push(&sans.dns, from_csr.dns.items[i]);
		for (size_t i = 0; i < from_csr.email.len; i++)
			strlist_push(&sans.email, from_csr.email.items[i]);
		for (size_t i = 0; i < from_csr.ip.len; i++)
			strlist_push(&sans.ip, from_csr.ip.items[i]);
		for (size_t i = 0; i < from_csr.uri.len; i++)
			strlist_push(&sans.uri, from_csr.uri.items[i]);
		x509_sans_release(&from_csr);
	} else if ((r = pki_req_sans(req, subj.cn, &sans, resp)) != 0) {
		goto out;
	}
	if ((r = check_names(role, subj.cn, &sans, resp)) != 0 || (r = role_usages(role, &leaf, resp)) != 0)
		goto out;
	int64_t mdef = req->mount ? mount_default_ttl(req->core, req->mount) : 0;
	int64_t mmax = req->mount ? mount_max_ttl(req->core, req->mount) : 0;
	int64_t rttl = role_duration(role, "ttl"), rmax = role_duration(role, "max_ttl");
	int64_t max = rmax > 0 && (mmax <= 0 || rmax < mmax) ? rmax : mmax;
	int64_t def = rttl > 0 ? rttl : mdef;
	if (max > 0 && def > max)
		def = max;
	if ((r = pki_req_validity(req, def, max, &leaf.not_before, &leaf.not_after, resp)) != 0)
		goto out;
	leaf.subject = &subj;
	leaf.sans = &sans;
	leaf.signature_bits = (int)role_duration(role, "signature_bits");
	leaf.use_pss = role_bool(role, "use_pss", false);
	leaf.no_store = role_bool(role, "no_store", false);
	if ((r = pki_issue_leaf(req->storage, id, &leaf, &cert, resp)) != 0 ||
	    (r = pki_issuer_get(req->storage, id, &issuer)) != 0 || (r = pki_reply_issued(req, resp, issuer, cert)) != 0)
		goto out;
	if (!sign) {
		int bits;
		if ((r = pki_key_format(req, key, &keytext)) != 0)
			goto out;
		json_object_set_new(resp->data, "private_key", json_string(keytext));
		json_object_set_new(resp->data, "private_key_type", json_string(x509_key_type(key, &bits) ?: ""));
		if (strcmp(field_string(req, "format"), "pem_bundle") == 0) {
			struct buf b;
			buf_init_secret(&b, 64 << 10);
			buf_printf(&b, "%s\n%s", keytext,
				   json_string_value(json_object_get(resp->data, "certificate")));
			json_object_set_new(resp->data, "certificate", json_string(b.data));
			buf_release_secret(&b);
		}
	}
out:
	secure_free_str(keytext);
	free(cn_csr);
	X509_free(cert);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	json_decref(issuer);
	json_decref(role);
	x509_sans_release(&sans);
	x509_subject_release(&subj);
	return r;
}

static int issue(struct request *req, struct response *resp)
{
	return issue_or_sign(req, resp, false);
}

static int sign(struct request *req, struct response *resp)
{
	return issue_or_sign(req, resp, true);
}

static const struct field issue_fields[] = {PKI_SAN_FIELDS, PKI_TTL_FORMAT_FIELDS, {0}};

static const struct field sign_fields[] = {
    PKI_SAN_FIELDS,
    PKI_TTL_FORMAT_FIELDS,
    {.name = "csr", .type = FIELD_STRING, .required = true, .description = "the CSR to sign, PEM"},
    {0},
};

const struct route pki_issue_routes[] = {
    {.pattern = "issue/:role", .ops = {[OP_UPDATE] = issue}, .fields = issue_fields,
     .synopsis = "issue a certificate and key under a role"},
    {.pattern = "issuer/:ref/issue/:role", .ops = {[OP_UPDATE] = issue}, .fields = issue_fields,
     .synopsis = "issue a certificate and key under a role with an issuer"},
    {.pattern = "sign/:role", .ops = {[OP_UPDATE] = sign}, .fields = sign_fields,
     .synopsis = "sign a CSR under a role"},
    {.pattern = "issuer/:ref/sign/:role", .ops = {[OP_UPDATE] = sign}, .fields = sign_fields,
     .synopsis = "sign a CSR under a role with an issuer"},
    {0},
};
