/* ca_sign.c — a CA signing other CAs: root/sign-intermediate and
 * issuer/:ref/sign-intermediate (a CSR becomes an intermediate CA),
 * root/sign-self-issued and issuer/:ref/sign-self-issued. */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "pki.h"
#include "revocation.h"

#include "core/mount.h"
#include "err.h"

#include "banned.h"

/* The issuer named by the path (:ref) or "default", with its certificate
 * and key. 400 when it has no key or may not issue. */
static int signing_issuer(struct request *req, struct response *resp, json_t **rec, X509 **cert, EVP_PKEY **key)
{
	const char *ref = request_param(req, "ref");
	char id[PKI_ID_MAX];
	int r;

	*rec = NULL;
	*cert = NULL;
	*key = NULL;
	if ((r = pki_issuer_resolve_reply(req->storage, ref ? ref : "default", id, resp)) != 0 ||
	    (r = pki_issuer_get(req->storage, id, rec)) != 0 || (r = pki_issuer_signer(req->storage, *rec, cert, key)) != 0)
		return r;
	if (!*key)
		return response_error(resp, TROVE_ERR_INVALID, "issuer %s has no private key in this mount", id);
	if (!pki_issuer_may_issue(*rec))
		return response_error(resp, TROVE_ERR_INVALID, "issuer %s may not issue certificates (usage, or revoked)", id);
	return 0;
}

int pki_reply_issued(struct request *req, struct response *resp, const json_t *issuer, X509 *cert)
{
	char serial[X509_SERIAL_TEXT_MAX];
	unsigned char *der = NULL;
	size_t len = 0;
	int r;
	if ((r = x509_serial_text(X509_get0_serialNumber(cert), serial)) == 0 && (r = x509_cert_to_der(cert, &der, &len)) == 0)
		r = pki_reply_issued_der(req, resp, issuer, der, len, serial, x509_not_after(cert));
	free(der);
	return r;
}

int pki_reply_issued_der(struct request *req, struct response *resp, const json_t *issuer, const unsigned char *der,
			 size_t der_len, const char *serial, int64_t not_after)
{
	bool as_der = strcmp(field_string(req, "format"), "der") == 0;
	char *pem = as_der ? x509_der_to_b64(der, der_len) : x509_der_to_pem(der, der_len);
	json_t *chain = NULL;
	int r;

	if (!as_der)
		pki_pem_trim(pem);
	if ((r = pki_chain_get(pki_state_of(req), req->storage, issuer, &chain)) != 0)
		goto out;
	if (as_der) {
		/* the chain as base64 DER too */
		size_t i;
		json_t *v, *ders = json_array();
		json_array_foreach(chain, i, v) {
			X509 *c = NULL;
			char *b64 = NULL;
			const char *p = json_string_value(v);
			if (x509_cert_from_pem(p, strlen(p), &c) == 0 && x509_cert_to_der_b64(c, &b64) == 0)
				json_array_append_new(ders, json_string(b64));
			free(b64);
			X509_free(c);
		}
		json_decref(chain);
		chain = ders;
	} else {
		/* Vault's PEM fields carry no trailing newline */
		size_t i;
		json_t *v;
		json_array_foreach(chain, i, v) {
			char *p = xstrdup(json_string_value(v));
			pki_pem_trim(p);
			json_array_set_new(chain, i, json_string(p));
			free(p);
		}
	}
	response_set_data(resp, json_pack("{s:s, s:O, s:O, s:s, s:I}", "certificate", pem, "issuing_ca",
					  json_array_get(chain, 0) ?: json_null(), "ca_chain", chain, "serial_number",
					  serial, "expiration", (json_int_t)not_after));
out:
	free(pem);
	json_decref(chain);
	return r;
}

static int sign_intermediate(struct request *req, struct response *resp)
{
	struct x509_subject subj;
	struct x509_sans sans;
	struct strlist permitted;
	struct pki_urls urls;
	json_t *issuer = NULL;
	X509 *icert = NULL, *cert = NULL;
	EVP_PKEY *ikey = NULL;
	X509_REQ *csr = NULL;
	X509_NAME *name = NULL;
	const char *why = NULL, *csr_pem = field_string(req, "csr");
	bool use_csr = field_bool(req, "use_csr_values");
	int r;

	x509_subject_init(&subj);
	x509_sans_init(&sans);
	strlist_init(&permitted);
	pki_urls_init(&urls);
	if ((r = pki_req_formats(req, resp)) != 0 || (r = signing_issuer(req, resp, &issuer, &icert, &ikey)) != 0)
		goto out;
	if ((r = x509_csr_parse(csr_pem, strlen(csr_pem), &csr, &why)) != 0) {
		r = response_error(resp, r, "%s", why);
		goto out;
	}
	if (!use_csr && !field_string(req, "common_name")[0]) {
		r = response_error(resp, TROVE_ERR_INVALID, "common_name: missing");
		goto out;
	}
	struct x509_spec spec = {.sans = &sans, .pubkey = X509_REQ_get0_pubkey(csr)};
	int64_t max = req->mount ? mount_max_ttl(req->core, req->mount) : 0;
	pki_req_ca_spec(req, &spec, &permitted);
	if ((r = pki_req_validity(req, max, max, &spec.not_before, &spec.not_after, resp)) != 0)
		goto out;
	if (use_csr) {
		spec.subject = X509_REQ_get_subject_name(csr);
		x509_csr_sans(csr, &sans);
	} else {
		if ((r = pki_req_subject(req, &subj, &sans, &name, resp)) != 0)
			goto out;
		spec.subject = name;
	}
	/* never past the signing CA, and within its path length */
	if (spec.not_after > x509_not_after(icert))
		spec.not_after = x509_not_after(icert);
	long parent_len = X509_get_pathlen(icert);
	if (parent_len == 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "the issuer's path length (0) allows no intermediate CA");
		goto out;
	}
	if (parent_len > 0 && (spec.max_path_length < 0 || spec.max_path_length > parent_len - 1))
		spec.max_path_length = (int)(parent_len - 1);
	struct buf url_why;
	buf_init(&url_why, 1024);
	r = pki_issuer_urls(req->storage, issuer, &urls, &url_why);
	if (r != 0)
		r = url_why.len ? response_error(resp, r, "%s", url_why.data) : r;
	buf_release(&url_why);
	if (r != 0)
		goto out;
	spec.issuing_certificates = &urls.issuing_certificates;
	spec.crl_distribution_points = &urls.crl_distribution_points;
	spec.ocsp_servers = &urls.ocsp_servers;
	if ((r = x509_cert_sign(&spec, icert, ikey, &cert, &why)) != 0) {
		r = response_error(resp, r, "%s", why);
		goto out;
	}
	if ((r = pki_cert_store(req->storage, cert, json_string_value(json_object_get(issuer, "id")))) == 0)
		r = pki_reply_issued(req, resp, issuer, cert);
out:
	X509_NAME_free(name);
	X509_REQ_free(csr);
	X509_free(cert);
	X509_free(icert);
	EVP_PKEY_free(ikey);
	json_decref(issuer);
	strlist_release(&permitted);
	pki_urls_release(&urls);
	x509_sans_release(&sans);
	x509_subject_release(&subj);
	return r;
}

static int sign_self_issued(struct request *req, struct response *resp)
{
	const char *pem = field_string(req, "certificate");
	json_t *issuer = NULL;
	X509 *icert = NULL, *c = NULL;
	EVP_PKEY *ikey = NULL;
	int r, b1, b2;

	if ((r = pki_req_formats(req, resp)) != 0 || (r = signing_issuer(req, resp, &issuer, &icert, &ikey)) != 0)
		goto out;
	if (x509_cert_from_pem(pem, strlen(pem), &c) != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "certificate: not a PEM certificate");
		goto out;
	}
	if (X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)) != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "certificate: not self-issued");
		goto out;
	}
	if (X509_check_ca(c) == 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "certificate: not a CA certificate");
		goto out;
	}
	const char *t1 = x509_key_type(X509_get0_pubkey(c), &b1), *t2 = x509_key_type(ikey, &b2);
	if (field_bool(req, "require_matching_certificate_algorithms") && (!t1 || !t2 || strcmp(t1, t2) != 0)) {
		r = response_error(resp, TROVE_ERR_INVALID,
				   "certificate: its key type differs from the issuer's "
				   "(require_matching_certificate_algorithms)");
		goto out;
	}
	if ((r = x509_cert_resign(c, icert, ikey)) == 0)
		r = pki_reply_issued(req, resp, issuer, c);
out:
	X509_free(c);
	X509_free(icert);
	EVP_PKEY_free(ikey);
	json_decref(issuer);
	return r;
}

static const struct field sign_intermediate_fields[] = {
    PKI_NAME_FIELDS,
    PKI_VALIDITY_FIELDS,
    {.name = "csr", .type = FIELD_STRING, .required = true, .description = "the intermediate's CSR, PEM"},
    {.name = "use_csr_values", .type = FIELD_BOOL, .description = "take subject and SANs from the CSR"},
    {.name = "max_path_length", .type = FIELD_INT, .def = "-1", .description = "pathlen; -1 for none"},
    {.name = "permitted_dns_domains", .type = FIELD_STRLIST, .description = "name constraints"},
    {0},
};

static const struct field self_issued_fields[] = {
    {.name = "certificate", .type = FIELD_STRING, .required = true, .description = "a self-issued CA, PEM"},
    {.name = "require_matching_certificate_algorithms", .type = FIELD_BOOL,
     .description = "refuse a key type other than the issuer's"},
    {.name = "format", .type = FIELD_STRING, .def = "pem", .description = "pem or der"},
    {0},
};

const struct route pki_ca_sign_routes[] = {
    {.pattern = "root/sign-intermediate", .ops = {[OP_UPDATE] = sign_intermediate},
     .fields = sign_intermediate_fields, .synopsis = "sign an intermediate CA with the default issuer"},
    {.pattern = "issuer/:ref/sign-intermediate", .ops = {[OP_UPDATE] = sign_intermediate},
     .fields = sign_intermediate_fields, .synopsis = "sign an intermediate CA"},
    {.pattern = "root/sign-self-issued", .ops = {[OP_UPDATE] = sign_self_issued}, .fields = self_issued_fields,
     .flags = ROUTE_SUDO, .synopsis = "re-sign a self-issued CA with the default issuer"},
    {.pattern = "issuer/:ref/sign-self-issued", .ops = {[OP_UPDATE] = sign_self_issued},
     .fields = self_issued_fields, .synopsis = "re-sign a self-issued CA"},
    {0},
};
