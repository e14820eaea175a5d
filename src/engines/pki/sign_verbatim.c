/* sign_verbatim.c — sign-verbatim(/:role) and
 * issuer/:ref/sign-verbatim(/:role): a CSR signed with its own subject
 * and subject alternative names, no name policy. Key usages come from
 * the request (Vault's defaults); a role, when named, gives only ttl,
 * max_ttl, generate_lease, no_store, not_before_duration and
 * basic_constraints_valid_for_non_ca (the request's wins for the last). */
#include <string.h>

#include <openssl/x509v3.h>

#include "pki.h"
#include "role.h"

#include "err.h"

#include "banned.h"

/* The request's key_usage, ext_key_usage and ext_key_usage_oids, read
 * and checked as a role's (no server/client flags). */
static int usages(struct request *req, struct pki_role *u, struct buf *why)
{
	static const char *const keys[] = {"key_usage", "ext_key_usage", "ext_key_usage_oids"};
	json_t *o = json_object();
	int r;
	u->server_flag = u->client_flag = false;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (field_present(req, keys[i]))
			json_object_set(o, keys[i], json_object_get(req->data, keys[i]));
	r = pki_role_apply_json(u, o, why);
	if (r == 0)
		r = pki_role_validate(u, why);
	json_decref(o);
	return r;
}

static int sign_verbatim(struct request *req, struct response *resp)
{
	struct pki_role role, u;
	struct x509_sans sans;
	struct strlist eku;
	struct pki_leaf leaf = {0};
	struct buf why;
	X509_REQ *csr = NULL;
	char id[PKI_ID_MAX];
	const char *cwhy = NULL, *name = request_param(req, "role"), *ref = request_param(req, "ref");
	bool have_role = name && name[0];
	int r;

	memset(&role, 0, sizeof(role)); /* pki_role_load initialises it */
	pki_role_init(&u);
	x509_sans_init(&sans);
	strlist_init(&eku);
	buf_init(&why, 1024);
	if ((r = pki_req_formats(req, resp)) != 0)
		goto out;
	if (have_role && (r = pki_role_load(req->storage, name, &role)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = response_error(resp, TROVE_ERR_INVALID, "unknown role: %s", name);
		goto out;
	}
	if ((r = usages(req, &u, &why)) != 0) {
		r = response_error(resp, r, "%s", why.data);
		goto out;
	}
	if ((r = pki_issuer_resolve_reply(req->storage, ref ? ref : "default", id, resp)) != 0)
		goto out;
	const char *pem = field_string(req, "csr");
	if ((r = x509_csr_parse(pem, strlen(pem), &csr, &cwhy)) != 0) {
		r = response_error(resp, r, "%s", cwhy);
		goto out;
	}
	if ((r = pki_leaf_validity(req, have_role ? &role : NULL, &leaf.not_before, &leaf.not_after, resp)) != 0)
		goto out;
	x509_csr_sans(csr, &sans);
	pki_role_ext_key_usage_oids(&u, &eku);
	int64_t sb = field_int(req, "signature_bits");
	if (sb != 0 && sb != 256 && sb != 384 && sb != 512) {
		r = response_error(resp, TROVE_ERR_INVALID, "signature_bits: must be 256, 384 or 512");
		goto out;
	}
	leaf.pubkey = X509_REQ_get0_pubkey(csr);
	leaf.subject_name = X509_REQ_get_subject_name(csr);
	leaf.sans = &sans;
	leaf.key_usage = pki_ku_bits(pki_role_key_usage_bits(&u));
	leaf.ext_key_usage_oids = &eku;
	leaf.signature_bits = (int)sb;
	leaf.use_pss = field_bool(req, "use_pss");
	leaf.no_store = have_role && role.no_store;
	leaf.basic_constraints_valid = field_present(req, "basic_constraints_valid_for_non_ca")
					   ? field_bool(req, "basic_constraints_valid_for_non_ca")
					   : have_role && role.basic_constraints_valid_for_non_ca;
	r = pki_issue_reply(req, resp, id, &leaf, NULL, have_role && role.generate_lease && !role.no_store);
out:
	buf_release(&why);
	strlist_release(&eku);
	x509_sans_release(&sans);
	X509_REQ_free(csr);
	pki_role_release(&u);
	pki_role_release(&role);
	return r;
}

static const struct field verbatim_fields[] = {
    PKI_TTL_FORMAT_FIELDS,
    {.name = "csr", .type = FIELD_STRING, .required = true, .description = "the CSR to sign, PEM"},
    {.name = "key_usage", .type = FIELD_STRLIST, .def = "DigitalSignature,KeyAgreement,KeyEncipherment",
     .description = "key usages (Go's names, any case)"},
    {.name = "ext_key_usage", .type = FIELD_STRLIST, .description = "extended key usages (Go's names)"},
    {.name = "ext_key_usage_oids", .type = FIELD_STRLIST, .description = "extended key usage OIDs"},
    {.name = "signature_bits", .type = FIELD_INT, .description = "hash bits: 256, 384, 512"},
    {.name = "use_pss", .type = FIELD_BOOL, .description = "RSA-PSS signatures"},
    {.name = "remove_roots_from_chain", .type = FIELD_BOOL, .description = "no self-signed CA in ca_chain"},
    {.name = "user_ids", .type = FIELD_STRLIST, .description = "subject user IDs (taken from the CSR)"},
    {.name = "basic_constraints_valid_for_non_ca", .type = FIELD_BOOL,
     .description = "mark basic constraints valid (overrides the role's)"},
    {0},
};

const struct route pki_sign_verbatim_routes[] = {
    {.pattern = "sign-verbatim", .ops = {[OP_UPDATE] = sign_verbatim}, .fields = verbatim_fields,
     .synopsis = "sign a CSR as it is"},
    {.pattern = "sign-verbatim/:role", .ops = {[OP_UPDATE] = sign_verbatim}, .fields = verbatim_fields,
     .synopsis = "sign a CSR as it is, with a role's validity and storage"},
    {.pattern = "issuer/:ref/sign-verbatim", .ops = {[OP_UPDATE] = sign_verbatim}, .fields = verbatim_fields,
     .synopsis = "sign a CSR as it is with an issuer"},
    {.pattern = "issuer/:ref/sign-verbatim/:role", .ops = {[OP_UPDATE] = sign_verbatim},
     .fields = verbatim_fields, .synopsis = "sign a CSR as it is with an issuer and a role"},
    {0},
};
