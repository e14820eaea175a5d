/* issue_routes.c — issue/:role and sign/:role (also under issuer/:ref/):
 * a role (role.h) and its name policy (names.h) joined to
 * pki_issue_leaf, answered as Vault answers. Shared with sign-verbatim:
 * pki_leaf_validity and pki_issue_reply (pki.h). */
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "names.h"
#include "role.h"

#include <openssl/x509v3.h>

#include "clock.h"
#include "core/identity.h"
#include "core/mount.h"
#include "core/token.h"
#include "err.h"
#include "timefmt.h"
#include "secure.h"

#include "banned.h"

int pki_leaf_validity(struct request *req, const struct pki_role *role, int64_t *nb, int64_t *na,
		      struct response *resp)
{
	int64_t mdef = req->mount ? mount_default_ttl(req->core, req->mount) : 0;
	int64_t mmax = req->mount ? mount_max_ttl(req->core, req->mount) : 0;
	int64_t rttl = role ? role->ttl : 0, rmax = role ? role->max_ttl : 0;
	int64_t max = rmax > 0 ? rmax : mmax;
	int64_t def = rttl > 0 ? rttl : mdef;
	int r;

	if (max > 0 && def > max)
		def = max;
	if ((r = pki_req_validity(req, def, max, nb, na, resp)) != 0)
		return r;
	/* Vault: the role's not_after wins over the request's ttl and not_after */
	if (role && role->not_after[0] && time_parse_rfc3339(role->not_after, na) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "not_after: the role's is not YYYY-MM-ddTHH:MM:SSZ");
	*nb = clock_realtime_s() - (role ? role->not_before_duration : 30);
	return 0;
}

/* Whether a PEM or base64-DER certificate of a chain is self-signed. */
static bool chain_root(const char *text, bool der)
{
	X509 *c = NULL;
	bool root = false;
	if (der) {
		struct buf b;
		buf_init(&b, 64 << 10);
		buf_printf(&b, "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n", text);
		if (x509_cert_from_pem(b.data, b.len, &c) == 0)
			root = x509_issued_by(c, c);
		buf_release(&b);
	} else if (x509_cert_from_pem(text, strlen(text), &c) == 0) {
		root = x509_issued_by(c, c);
	}
	X509_free(c);
	return root;
}

static void remove_roots(struct request *req, struct response *resp)
{
	json_t *chain = json_object_get(resp->data, "ca_chain"), *kept = json_array(), *v;
	bool der = strcmp(field_string(req, "format"), "der") == 0;
	size_t i;
	json_array_foreach(chain, i, v) if (!chain_root(json_string_value(v), der)) json_array_append(kept, v);
	json_object_set_new(resp->data, "ca_chain", kept);
}

/* The private key fields of an issue answer. */
static int reply_key(struct request *req, struct response *resp, EVP_PKEY *key)
{
	char *text = NULL;
	int bits, r;
	if ((r = pki_key_format(req, key, &text)) != 0)
		return r;
	json_object_set_new(resp->data, "private_key", json_string(text));
	json_object_set_new(resp->data, "private_key_type", json_string(x509_key_type(key, &bits) ?: ""));
	secure_free_str(text);
	return 0;
}

/* format=pem_bundle: Vault's certificate field is the private key (issue),
 * the certificate, and the issuing CA unless it is a self-signed root. */
static void pem_bundle(struct response *resp)
{
	const char *key = json_string_value(json_object_get(resp->data, "private_key"));
	const char *ca = json_string_value(json_object_get(resp->data, "issuing_ca"));
	struct buf b;
	buf_init_secret(&b, 256 << 10);
	if (key)
		buf_printf(&b, "%s\n", key);
	buf_append_str(&b, json_string_value(json_object_get(resp->data, "certificate")) ?: "");
	if (ca && !chain_root(ca, false))
		buf_printf(&b, "\n%s", ca);
	json_object_set_new(resp->data, "certificate", json_string(b.data));
	buf_release_secret(&b);
}

int pki_issue_reply(struct request *req, struct response *resp, const char *issuer_id, const struct pki_leaf *leaf,
		    EVP_PKEY *key, bool generate_lease)
{
	json_t *issuer = NULL;
	struct pki_issued cert = {0};
	int r;

	struct pki_leaf with_state = *leaf;
	with_state.state = pki_state_of(req);
	if ((r = pki_issuer_get_kept(with_state.state, req->storage, issuer_id, &issuer)) != 0)
		goto out;
	with_state.issuer = issuer; /* read once for the leaf and the reply */
	if ((r = pki_issue_leaf_der(req->storage, issuer_id, &with_state, &cert, resp)) != 0 ||
	    (r = pki_reply_issued_der(req, resp, issuer, cert.der, cert.der_len, cert.serial, cert.not_after)) != 0)
		goto out;
	if (field_bool(req, "remove_roots_from_chain"))
		remove_roots(req, resp);
	if (key && (r = reply_key(req, resp, key)) != 0)
		goto out;
	if (strcmp(field_string(req, "format"), "pem_bundle") == 0)
		pem_bundle(resp);
	if (generate_lease) {
		int64_t left = cert.not_after - clock_realtime_s();
		resp->secret.set = true;
		resp->secret.ttl = left > 1 ? left : 1;
		resp->secret.max_ttl = resp->secret.ttl;
		resp->secret.renewable = false;
		resp->secret.internal =
		    json_pack("{s:O}", "serial_number", json_object_get(resp->data, "serial_number"));
	}
out:
	pki_issued_release(&cert);
	json_decref(issuer);
	return r;
}

/* The role the path names: 400 "unknown role: <name>" when none. */
static int role_get(struct request *req, struct response *resp, struct pki_role *role)
{
	const char *name = request_param(req, "role");
	int r = pki_role_get(pki_state_of(req), req->storage, name, role);
	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, TROVE_ERR_INVALID, "unknown role: %s", name);
	return r;
}

/* What identity templates of the role expand with: the caller's entity
 * (identity_template_data), or NULL when the role has no template or
 * the token no entity (templated entries then match nothing). */
static json_t *caller_identity(struct request *req, const struct pki_role *role)
{
	struct mount *holder = NULL;
	json_t *ident = NULL;
	if (!(role->allowed_domains_template || role->allowed_uri_sans_template) || !req->token ||
	    !req->token->entity_id || !req->token->entity_id[0])
		return NULL;
	struct identity_store *ids = identity_of_core(req->core, &holder);
	if (ids)
		ident = identity_template_data(ids, req->token->entity_id);
	if (holder)
		mount_release(holder);
	return ident;
}

/* The names of a CSR, as names.h reads them. */
struct csr_names {
	struct x509_sans sans;
	char *cn, *serial;
	struct pki_csr_names view;
};

static void csr_names_read(X509_REQ *csr, struct csr_names *n)
{
	X509_NAME *subj = X509_REQ_get_subject_name(csr);
	X509 *tmp = X509_new();
	x509_sans_init(&n->sans);
	x509_csr_sans(csr, &n->sans);
	n->cn = tmp && X509_set_subject_name(tmp, subj) ? x509_subject_cn(tmp) : NULL;
	X509_free(tmp);
	n->serial = NULL;
	int i = X509_NAME_get_index_by_NID(subj, NID_serialNumber, -1);
	unsigned char *u = NULL;
	if (i >= 0 && ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i))) >= 0) {
		n->serial = xstrdup((const char *)u);
		OPENSSL_free(u);
	}
	n->view = (struct pki_csr_names){.common_name = n->cn,
					 .serial_number = n->serial,
					 .dns = &n->sans.dns,
					 .emails = &n->sans.email,
					 .ips = &n->sans.ip,
					 .uris = &n->sans.uri,
					 .other_sans = &n->sans.other};
}

static void csr_names_release(struct csr_names *n)
{
	x509_sans_release(&n->sans);
	free(n->cn);
	free(n->serial);
}

/* A CSR's key against the role's key_type and key_bits (Vault's
 * messages): the type must match unless "any"; RSA and EC keys must be
 * at least key_bits; RSA below 2048 is never signed. */
static int csr_key_check(const struct pki_role *role, EVP_PKEY *pub, struct response *resp)
{
	int bits = 0;
	const char *type = x509_key_type(pub, &bits);
	if (!type)
		return response_error(resp, TROVE_ERR_INVALID, "csr: unsupported key type");
	if (strcmp(role->key_type, "any") != 0 && strcmp(role->key_type, type) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "role requires keys of type %s", role->key_type);
	if (strcmp(type, "rsa") == 0 && bits < 2048)
		return response_error(resp, TROVE_ERR_INVALID, "RSA keys < 2048 bits are unsafe and not supported: got %d",
				      bits);
	if (strcmp(role->key_type, "any") != 0 && strcmp(type, "ed25519") != 0 && bits < role->key_bits)
		return response_error(resp, TROVE_ERR_INVALID,
				      "role requires a minimum of a %d-bit key, but CSR's key is %d bits",
				      (int)role->key_bits, bits);
	return 0;
}

/* A new key for issue: the role's type and bits, or with key_type any
 * the request's key_type/key_bits. */
static int issue_key(struct request *req, const struct pki_role *role, EVP_PKEY **key, struct response *resp)
{
	const char *type = role->key_type, *why = NULL;
	int64_t want = role->key_bits;
	int bits;
	if (strcmp(type, "any") == 0) {
		type = field_string(req, "key_type")[0] ? field_string(req, "key_type") : "rsa";
		want = field_int(req, "key_bits");
		if (strcmp(type, "any") == 0)
			return response_error(resp, TROVE_ERR_INVALID, "key_type: \"any\" cannot issue a key");
	}
	if (x509_key_params(type, want, &bits, &why) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "key_type: %s", why);
	return x509_keygen(type, bits, key);
}

/* OpenSSL's KU_* bits (role.h) as x509.h's X509_KU_* bits. */
unsigned pki_ku_bits(unsigned ossl)
{
	static const struct {
		unsigned from, to;
	} map[] = {{KU_DIGITAL_SIGNATURE, X509_KU_DIGITAL_SIGNATURE}, {KU_KEY_ENCIPHERMENT, X509_KU_KEY_ENCIPHERMENT},
		   {KU_KEY_AGREEMENT, X509_KU_KEY_AGREEMENT},       {KU_KEY_CERT_SIGN, X509_KU_CERT_SIGN},
		   {KU_CRL_SIGN, X509_KU_CRL_SIGN},                 {KU_NON_REPUDIATION, X509_KU_CONTENT_COMMITMENT},
		   {KU_DATA_ENCIPHERMENT, X509_KU_DATA_ENCIPHERMENT}};
	unsigned out = 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (ossl & map[i].from)
			out |= map[i].to;
	return out;
}

static void extend(struct strlist *to, const struct strlist *from)
{
	for (size_t i = 0; i < from->len; i++)
		strlist_push(to, from->items[i]);
}

/* The subject and SANs of the names authorised, with the role's subject
 * fields (Vault takes ou, organization, ... from the role alone). */
static void leaf_names(const struct pki_role *role, const struct pki_names *n, struct x509_subject *subj,
		       struct x509_sans *sans)
{
	subj->cn = n->common_name;
	subj->serial_number = n->serial_number;
	extend(&subj->ou, &role->ou);
	extend(&subj->org, &role->organization);
	extend(&subj->country, &role->country);
	extend(&subj->locality, &role->locality);
	extend(&subj->province, &role->province);
	extend(&subj->street, &role->street_address);
	extend(&subj->postal, &role->postal_code);
	extend(&sans->dns, &n->dns);
	extend(&sans->email, &n->emails);
	extend(&sans->ip, &n->ips);
	extend(&sans->uri, &n->uris);
	extend(&sans->other, &n->other_sans);
}

static int issue_or_sign(struct request *req, struct response *resp, bool sign)
{
	struct pki_role role;
	struct pki_names names;
	struct csr_names cn;
	struct x509_subject subj;
	struct x509_sans sans;
	struct strlist alt, ips, uris, others, uids, eku;
	struct pki_leaf leaf = {0};
	struct buf why;
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	json_t *ident = NULL;
	char id[PKI_ID_MAX];
	const char *cwhy = NULL;
	int r;

	memset(&role, 0, sizeof(role)); /* pki_role_load initialises it */
	pki_names_init(&names);
	memset(&cn, 0, sizeof(cn));
	x509_sans_init(&cn.sans);
	x509_subject_init(&subj);
	x509_sans_init(&sans);
	strlist_init(&alt);
	strlist_init(&ips);
	strlist_init(&uris);
	strlist_init(&others);
	strlist_init(&uids);
	strlist_init(&eku);
	buf_init(&why, 4096);
	if ((r = pki_req_formats(req, resp)) != 0 || (r = role_get(req, resp, &role)) != 0)
		goto out;
	/* On an event loop only what writes nothing and makes no RSA key:
	 * anything else runs again on the pool, before any side effect. */
	bool any = strcmp(role.key_type, "any") == 0;
	if (req->no_block &&
	    (!role.no_store || (!sign && !pki_role_key_inline(any ? field_string(req, "key_type") : role.key_type,
							       any ? field_int(req, "key_bits") : role.key_bits)))) {
		r = TROVE_ERR_WOULD_BLOCK;
		goto out;
	}
	leaf.no_block = req->no_block;
	const char *ref = request_param(req, "ref");
	if ((r = pki_issuer_resolve_reply(req->storage, ref ? ref : role.issuer_ref[0] ? role.issuer_ref : "default",
					  id, resp)) != 0)
		goto out;
	if (sign) {
		const char *pem = field_string(req, "csr");
		if ((r = x509_csr_parse(pem, strlen(pem), &csr, &cwhy)) != 0) {
			r = response_error(resp, r, "%s", cwhy);
			goto out;
		}
		x509_sans_release(&cn.sans);
		csr_names_read(csr, &cn);
		if ((r = csr_key_check(&role, X509_REQ_get0_pubkey(csr), resp)) != 0)
			goto out;
		leaf.pubkey = X509_REQ_get0_pubkey(csr);
	} else if (strcmp(role.key_type, "any") == 0 && !field_string(req, "key_type")[0]) {
		r = response_error(resp, TROVE_ERR_INVALID,
				   "role key type \"any\" not allowed for issuing certificates, only signing");
		goto out;
	}
	pki_req_list(req, "alt_names", &alt);
	pki_req_list(req, "ip_sans", &ips);
	pki_req_list(req, "uri_sans", &uris);
	pki_req_list(req, "other_sans", &others);
	pki_req_list(req, "user_ids", &uids);
	struct pki_name_request in = {.common_name = field_string(req, "common_name"),
				      .alt_names = &alt,
				      .ip_sans = &ips,
				      .uri_sans = &uris,
				      .other_sans = &others,
				      .serial_number = field_string(req, "serial_number"),
				      .user_ids = &uids,
				      .exclude_cn_from_sans = field_bool(req, "exclude_cn_from_sans"),
				      .csr = sign ? &cn.view : NULL,
				      .ident = (ident = caller_identity(req, &role)),
				      .display_name = req->token ? req->token->display_name : NULL};
	if ((r = pki_names_check(&role, &in, &names, &why)) != 0) {
		r = response_error(resp, r, "%s", why.data);
		goto out;
	}
	if ((r = pki_leaf_validity(req, &role, &leaf.not_before, &leaf.not_after, resp)) != 0)
		goto out;
	if (!sign) {
		if ((r = issue_key(req, &role, &key, resp)) != 0)
			goto out;
		leaf.pubkey = key;
	}
	leaf_names(&role, &names, &subj, &sans);
	pki_role_ext_key_usage_oids(&role, &eku);
	leaf.subject = &subj;
	leaf.sans = &sans;
	leaf.key_usage = pki_ku_bits(pki_role_key_usage_bits(&role));
	leaf.ext_key_usage_oids = &eku;
	leaf.signature_bits = (int)role.signature_bits;
	leaf.use_pss = role.use_pss;
	leaf.no_store = role.no_store;
	leaf.policy_identifiers = &role.policy_identifiers;
	leaf.basic_constraints_valid = role.basic_constraints_valid_for_non_ca;
	r = pki_issue_reply(req, resp, id, &leaf, key, role.generate_lease && !role.no_store);
out:
	json_decref(ident);
	buf_release(&why);
	strlist_release(&eku);
	strlist_release(&uids);
	strlist_release(&others);
	strlist_release(&uris);
	strlist_release(&ips);
	strlist_release(&alt);
	x509_sans_release(&sans);
	x509_subject_release(&subj);
	csr_names_release(&cn);
	pki_names_release(&names);
	pki_role_release(&role);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	return r;
}

/* route.try_inline: a role kept as storing nothing (or not kept yet)
 * is tried on the event loop. */
static bool issue_inline(const struct request *req)
{
	return pki_role_kept_inline(pki_state_of(req), request_param(req, "role"), true);
}

static bool sign_inline(const struct request *req)
{
	return pki_role_kept_inline(pki_state_of(req), request_param(req, "role"), false);
}

static int issue(struct request *req, struct response *resp)
{
	return issue_or_sign(req, resp, false);
}

static int sign(struct request *req, struct response *resp)
{
	return issue_or_sign(req, resp, true);
}

#define ISSUE_FIELDS                                                                                         \
	PKI_SAN_FIELDS, PKI_TTL_FORMAT_FIELDS,                                                               \
	    {.name = "serial_number", .type = FIELD_STRING, .description = "subject serialNumber"},          \
	    {.name = "user_ids", .type = FIELD_STRLIST, .description = "subject user IDs"},                  \
	    {.name = "remove_roots_from_chain", .type = FIELD_BOOL, .description = "no self-signed CA in ca_chain"}

static const struct field issue_fields[] = {
    ISSUE_FIELDS,
    {.name = "key_type", .type = FIELD_STRING, .description = "the key's type when the role's is any"},
    {.name = "key_bits", .type = FIELD_INT, .description = "the key's bits when the role's type is any"},
    {0},
};

static const struct field sign_fields[] = {
    ISSUE_FIELDS,
    {.name = "csr", .type = FIELD_STRING, .required = true, .description = "the CSR to sign, PEM"},
    {0},
};

const struct route pki_issue_routes[] = {
    {.pattern = "issue/:role", .ops = {[OP_UPDATE] = issue}, .fields = issue_fields,
     .synopsis = "issue a certificate and key under a role", .try_inline = issue_inline},
    {.pattern = "issuer/:ref/issue/:role", .ops = {[OP_UPDATE] = issue}, .fields = issue_fields,
     .synopsis = "issue a certificate and key under a role with an issuer", .try_inline = issue_inline},
    {.pattern = "sign/:role", .ops = {[OP_UPDATE] = sign}, .fields = sign_fields,
     .synopsis = "sign a CSR under a role", .try_inline = sign_inline},
    {.pattern = "issuer/:ref/sign/:role", .ops = {[OP_UPDATE] = sign}, .fields = sign_fields,
     .synopsis = "sign a CSR under a role with an issuer", .try_inline = sign_inline},
    {0},
};
