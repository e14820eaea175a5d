/* ca_routes.c — making CAs: root/generate/:type (and its Vault 1.11
 * aliases issuers/generate/root/:type, root/rotate/:type) and
 * intermediate/generate/:type. :type is internal, exported or existing
 * (key_ref); kms is refused. */
#include <stdlib.h>
#include <string.h>

#include "pki.h"

#include "core/mount.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

#define DEFAULT_CA_TTL (INT64_C(32) * 86400) /* Vault's system max lease TTL */

/* The key a generation asks for: a new one, or the existing key_ref. */
static int gen_key(struct request *req, struct response *resp, EVP_PKEY **key, char key_id[PKI_ID_MAX])
{
	const char *type = request_param(req, "type");
	const char *ktype;
	int bits, r;

	key_id[0] = '\0';
	if (strcmp(type, "kms") == 0)
		return response_error(resp, TROVE_ERR_INVALID, "type: managed (kms) keys are not supported");
	if (strcmp(type, "internal") && strcmp(type, "exported") && strcmp(type, "existing"))
		return response_error(resp, TROVE_ERR_INVALID, "type: must be internal, exported or existing");
	if (strcmp(type, "existing") == 0) {
		const char *ref = field_string(req, "key_ref");
		json_t *rec = NULL;
		if (!ref[0])
			return response_error(resp, TROVE_ERR_INVALID, "key_ref: missing");
		if ((r = pki_key_resolve(req->storage, ref, key_id)) == TROVE_ERR_NOT_FOUND)
			return response_error(resp, TROVE_ERR_INVALID, "key_ref: unable to find PKI key for reference: %s", ref);
		if (r == 0 && (r = pki_key_get(req->storage, key_id, &rec)) == 0)
			r = pki_key_load(rec, key);
		json_decref(rec);
		return r;
	}
	if ((r = pki_req_key_params(req, &ktype, &bits, resp)) != 0)
		return r;
	if (field_present(req, "key_name") && field_string(req, "key_name")[0]) {
		bool name_free;
		const char *name = field_string(req, "key_name");
		if ((r = pki_name_check(name, "key_name", resp)) != 0 ||
		    (r = pki_name_free(req->storage, PKI_KEY_PREFIX, name, NULL, &name_free)) != 0)
			return r;
		if (!name_free)
			return response_error(resp, TROVE_ERR_INVALID, "key_name: a key named %s exists", name);
	}
	return x509_keygen(ktype, bits, key);
}

/* Stores a newly generated key (not an existing one): id in key_id. */
static int keep_key(struct request *req, struct response *resp, EVP_PKEY *key, char key_id[PKI_ID_MAX])
{
	bool existed;
	if (key_id[0])
		return 0;
	return pki_key_import(req->storage, key, field_string(req, "key_name"), key_id, &existed, resp);
}

static int issuer_name_free(struct request *req, struct response *resp)
{
	const char *name = field_string(req, "issuer_name");
	bool name_free;
	int r;
	if (!name[0])
		return 0;
	if ((r = pki_name_check(name, "issuer_name", resp)) != 0 ||
	    (r = pki_name_free(req->storage, PKI_ISSUER_PREFIX, name, NULL, &name_free)) != 0)
		return r;
	return name_free ? 0 : response_error(resp, TROVE_ERR_INVALID, "issuer_name: an issuer named %s exists", name);
}

/* Answers data (consumed), with private_key/private_key_type added for
 * "exported". */
static int answer(struct request *req, struct response *resp, EVP_PKEY *key, json_t *data)
{
	char *text = NULL;
	int bits, r = 0;
	if (!data)
		return TROVE_ERR_NOMEM;
	if (strcmp(request_param(req, "type"), "exported") == 0 && (r = pki_key_format(req, key, &text)) == 0) {
		json_object_set_new(data, "private_key", json_string(text));
		json_object_set_new(data, "private_key_type", json_string(x509_key_type(key, &bits) ?: ""));
		secure_free_str(text);
	}
	if (r == 0)
		response_set_data(resp, json_incref(data));
	json_decref(data);
	return r;
}

static int root_generate(struct request *req, struct response *resp)
{
	struct x509_subject subj;
	struct x509_sans sans;
	struct strlist permitted;
	X509_NAME *name = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	json_t *krec = NULL;
	char key_id[PKI_ID_MAX], issuer_id[PKI_ID_MAX], serial[X509_SERIAL_TEXT_MAX], *pem = NULL;
	const char *why = NULL;
	bool existed;
	int r;

	x509_subject_init(&subj);
	x509_sans_init(&sans);
	strlist_init(&permitted);
	if (!field_string(req, "common_name")[0]) {
		r = response_error(resp, TROVE_ERR_INVALID, "common_name: missing");
		goto out;
	}
	struct x509_spec spec = {.sans = &sans};
	int64_t ttl_def = req->mount ? mount_max_ttl(req->core, req->mount) : DEFAULT_CA_TTL;
	pki_req_ca_spec(req, &spec, &permitted);
	if ((r = pki_req_formats(req, resp)) != 0 || (r = pki_req_subject(req, &subj, &sans, &name, resp)) != 0 ||
	    (r = pki_req_validity(req, ttl_def, ttl_def, &spec.not_before, &spec.not_after, resp)) != 0 ||
	    (r = issuer_name_free(req, resp)) != 0 || (r = gen_key(req, resp, &key, key_id)) != 0)
		goto out;
	spec.subject = name;
	spec.pubkey = key;
	if ((r = x509_cert_sign(&spec, NULL, key, &cert, &why)) != 0) {
		r = response_error(resp, r, "%s", why);
		goto out;
	}
	if ((r = keep_key(req, resp, key, key_id)) != 0 ||
	    (r = pki_issuer_import(req->storage, cert, field_string(req, "issuer_name"), issuer_id, &existed, resp)) != 0 ||
	    (r = pki_cert_store(req->storage, cert, issuer_id)) != 0 || (r = pki_key_get(req->storage, key_id, &krec)) != 0)
		goto out;
	if ((r = pki_cert_format(cert, field_string(req, "format"), &pem)) != 0 ||
	    (r = x509_serial_text(X509_get0_serialNumber(cert), serial)) != 0)
		goto out;
	r = answer(req, resp, key,
		   json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:O}", "certificate", pem, "issuing_ca", pem,
			     "serial_number", serial, "expiration", (json_int_t)x509_not_after(cert), "issuer_id",
			     issuer_id, "issuer_name", field_string(req, "issuer_name"), "key_id", key_id, "key_name",
			     json_object_get(krec, "name")));
out:
	json_decref(krec);
	free(pem);
	X509_free(cert);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	strlist_release(&permitted);
	x509_sans_release(&sans);
	x509_subject_release(&subj);
	return r;
}

static int intermediate_generate(struct request *req, struct response *resp)
{
	struct x509_subject subj;
	struct x509_sans sans;
	X509_NAME *name = NULL;
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	json_t *krec = NULL;
	char key_id[PKI_ID_MAX], *pem = NULL;
	int r;

	x509_subject_init(&subj);
	x509_sans_init(&sans);
	if ((r = pki_req_formats(req, resp)) != 0 || (r = pki_req_subject(req, &subj, &sans, &name, resp)) != 0 ||
	    (r = gen_key(req, resp, &key, key_id)) != 0)
		goto out;
	if ((r = x509_csr_build(key, name, &sans, &csr)) != 0 || (r = x509_csr_to_pem(csr, &pem)) != 0 ||
	    (r = keep_key(req, resp, key, key_id)) != 0 || (r = pki_key_get(req->storage, key_id, &krec)) != 0)
		goto out;
	pki_pem_trim(pem);
	r = answer(req, resp, key,
		   json_pack("{s:s, s:s, s:O}", "csr", pem, "key_id", key_id, "key_name", json_object_get(krec, "name")));
out:
	json_decref(krec);
	free(pem);
	X509_REQ_free(csr);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	x509_sans_release(&sans);
	x509_subject_release(&subj);
	return r;
}

static const struct field generate_fields[] = {
    PKI_NAME_FIELDS,
    PKI_VALIDITY_FIELDS,
    PKI_KEY_FIELDS,
    {.name = "max_path_length", .type = FIELD_INT, .def = "-1", .description = "pathlen; -1 for none"},
    {.name = "permitted_dns_domains", .type = FIELD_STRLIST, .description = "name constraints"},
    {.name = "issuer_name", .type = FIELD_STRING, .description = "the new issuer's name"},
    {.name = "add_basic_constraints", .type = FIELD_BOOL, .description = "accepted, ignored"},
    {0},
};

const struct route pki_ca_routes[] = {
    {.pattern = "root/generate/:type", .ops = {[OP_UPDATE] = root_generate}, .fields = generate_fields,
     .synopsis = "generate a root CA"},
    {.pattern = "issuers/generate/root/:type", .ops = {[OP_UPDATE] = root_generate}, .fields = generate_fields,
     .synopsis = "generate a root CA"},
    {.pattern = "root/rotate/:type", .ops = {[OP_UPDATE] = root_generate}, .fields = generate_fields,
     .synopsis = "generate a new root CA beside the current one"},
    {.pattern = "intermediate/generate/:type", .ops = {[OP_UPDATE] = intermediate_generate},
     .fields = generate_fields, .synopsis = "generate an intermediate CA's key and CSR"},
    {.pattern = "issuers/generate/intermediate/:type", .ops = {[OP_UPDATE] = intermediate_generate},
     .fields = generate_fields, .synopsis = "generate an intermediate CA's key and CSR"},
    {0},
};
