/* finalize.c — an order's certificate (RFC 8555 7.4): the CSR must name
 * exactly the order's identifiers (its CN, when it has one, among them),
 * then the engine's leaf signing issues it with the directory's role, or
 * with sign-verbatim's usages when the directory has none. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "acme.h"

#include "clock.h"
#include "core/mount.h"
#include "encoding.h"
#include "engines/pki/names.h"
#include "engines/pki/role.h"
#include "err.h"

#include "banned.h"

#define NOT_BEFORE_BACKDATE_S 30

/* The CSR's CN (heap) or NULL. */
static char *csr_cn(X509_REQ *q)
{
	X509_NAME *n = X509_REQ_get_subject_name(q);
	int i = n ? X509_NAME_get_index_by_NID(n, NID_commonName, -1) : -1;
	if (i < 0)
		return NULL;
	ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
	unsigned char *u = NULL;
	int len = ASN1_STRING_to_UTF8(&u, d);
	if (len < 0)
		return NULL;
	char *s = xstrndup((const char *)u, (size_t)len);
	OPENSSL_free(u);
	return s;
}

/* Whether the CSR's names are the order's identifiers, as sets. */
static bool names_match(const json_t *ids, struct x509_sans *sans, const char *cn)
{
	size_t i, n = 0;
	json_t *v;
	if (sans->email.len || sans->uri.len || sans->other.len)
		return false;
	for (i = 0; i < sans->dns.len; i++) {
		char *c = pki_name_canon(sans->dns.items[i]);
		if (!c)
			return false;
		free(sans->dns.items[i]);
		sans->dns.items[i] = c;
	}
	json_array_foreach(ids, i, v)
	{
		const char *val = json_string_value(json_object_get(v, "value"));
		bool ip = strcmp(json_string_value(json_object_get(v, "type")) ?: "", "ip") == 0;
		if (!strlist_contains(ip ? &sans->ip : &sans->dns, val))
			return false;
		n++;
	}
	/* no CSR name outside the order (duplicates in the CSR are fine) */
	for (i = 0; i < sans->dns.len + sans->ip.len; i++) {
		bool ip = i >= sans->dns.len;
		const char *s = ip ? sans->ip.items[i - sans->dns.len] : sans->dns.items[i];
		bool found = false;
		size_t j;
		json_array_foreach(ids, j, v) found |=
		    strcmp(json_string_value(json_object_get(v, "value")), s) == 0;
		if (!found)
			return false;
	}
	if (cn) {
		char *c = pki_name_canon(cn);
		bool in = c && (strlist_contains(&sans->dns, c) || strlist_contains(&sans->ip, c));
		free(c);
		if (!in)
			return false;
	}
	return n > 0;
}

/* Key usages, EKUs and TTL from the role (or sign-verbatim's). */
static int leaf_policy(struct acme_ctx *c, struct pki_leaf *leaf, struct strlist *eku_oids, int64_t *ttl)
{
	int64_t cap = json_integer_value(json_object_get(c->cfg, "max_ttl"));
	int64_t def = mount_default_ttl(c->req->core, c->req->mount),
	        max = mount_max_ttl(c->req->core, c->req->mount);
	struct pki_role role;
	int r = 0;

	if (!c->role) {
		pki_role_init(&role); /* for the release below; pki_role_load inits its own */
		leaf->key_usage =
		    X509_KU_DIGITAL_SIGNATURE | X509_KU_KEY_ENCIPHERMENT | X509_KU_KEY_AGREEMENT;
		leaf->ext_key_usage = X509_EKU_SERVER;
		*ttl = def;
	} else {
		if ((r = pki_role_load(c->req->storage, c->role, &role)) != 0)
			goto out;
		for (size_t i = 0; i < role.key_usage.len; i++)
			x509_ku_parse(role.key_usage.items[i], &leaf->key_usage);
		if (json_is_true(json_object_get(c->cfg, "allow_role_ext_key_usage")))
			pki_role_ext_key_usage_oids(&role, eku_oids);
		else
			leaf->ext_key_usage = X509_EKU_SERVER;
		leaf->signature_bits = (int)role.signature_bits;
		leaf->use_pss = role.use_pss;
		*ttl = role.ttl > 0 ? role.ttl : def;
		if (role.max_ttl > 0 && role.max_ttl < max)
			max = role.max_ttl;
	}
	if (max > 0 && *ttl > max)
		*ttl = max;
	if (cap > 0 && *ttl > cap)
		*ttl = cap;
out:
	pki_role_release(&role);
	return r;
}

/* As Vault does for ACME, an issuer whose leaf_not_after_behavior is err
 * truncates instead: a client cannot choose a shorter lifetime, so an
 * order must not fail for the CA's expiry. permit is kept. */
static int issuer_truncate(struct acme_ctx *c, int64_t *not_after)
{
	json_t *rec = NULL;
	X509 *ca = NULL;
	int r = pki_issuer_get(c->req->storage, c->issuer_id, &rec);
	if (r != 0)
		return r;
	const char *behavior = json_string_value(json_object_get(rec, "leaf_not_after_behavior")) ?: "err";
	const char *pem = json_string_value(json_object_get(rec, "certificate")) ?: "";
	if (strcmp(behavior, "permit") != 0 && x509_cert_from_pem(pem, strlen(pem), &ca) == 0 &&
	    *not_after > x509_not_after(ca))
		*not_after = x509_not_after(ca);
	X509_free(ca);
	json_decref(rec);
	return 0;
}

int acme_issue(struct acme_ctx *c, const json_t *order, const char *csr_b64, X509 **cert,
               char issuer_id[PKI_ID_MAX])
{
	unsigned char *der = NULL;
	size_t der_len = 0;
	X509_REQ *q = NULL;
	EVP_PKEY *pub = NULL;
	char *cn = NULL;
	struct x509_sans sans;
	struct x509_subject subj;
	struct strlist eku_oids;
	int64_t ttl = 0;
	int r;

	*cert = NULL;
	x509_sans_init(&sans);
	x509_subject_init(&subj);
	strlist_init(&eku_oids);
	if (base64url_decode(csr_b64, strlen(csr_b64), &der, &der_len) != 0) {
		r = acme_problem(c, 400, "badCSR", "csr: not base64url");
		goto out;
	}
	const unsigned char *p = der;
	if (!(q = d2i_X509_REQ(NULL, &p, (long)der_len)) || p != der + der_len ||
	    !(pub = X509_REQ_get_pubkey(q)) || X509_REQ_verify(q, pub) != 1) {
		ERR_clear_error();
		r = acme_problem(c, 400, "badCSR", "csr: not a DER CSR with a valid self-signature");
		goto out;
	}
	cn = csr_cn(q);
	if ((r = x509_csr_sans(q, &sans)) != 0)
		goto out;
	const json_t *ids = json_object_get(order, "identifiers");
	if (!names_match(ids, &sans, cn)) {
		r = acme_problem(c, 400, "badCSR", "the CSR's names are not exactly the order's identifiers");
		goto out;
	}
	int bits = 0;
	if (!x509_key_type(pub, &bits) || (strcmp(x509_key_type(pub, &bits), "rsa") == 0 && bits < 2048)) {
		r = acme_problem(c, 400, "badCSR",
		                 "csr: the key must be RSA of 2048 bits or more, EC or Ed25519");
		goto out;
	}
	struct pki_leaf leaf = {
	    .pubkey = pub, .subject = &subj, .sans = &sans, .ext_key_usage_oids = &eku_oids};
	if ((r = leaf_policy(c, &leaf, &eku_oids, &ttl)) != 0)
		goto out;
	/* the CN: the CSR's, else the first DNS identifier */
	subj.cn = cn ? cn : (sans.dns.len ? sans.dns.items[0] : NULL);
	int64_t now = clock_realtime_s();
	leaf.not_before = now - NOT_BEFORE_BACKDATE_S;
	leaf.not_after = now + ttl;
	snprintf(issuer_id, PKI_ID_MAX, "%s", c->issuer_id);
	if ((r = issuer_truncate(c, &leaf.not_after)) != 0)
		goto out;
	if ((r = pki_issue_leaf(c->req->storage, issuer_id, &leaf, cert, c->resp)) != 0) {
		const char *why = json_string_value(json_array_get(c->resp->errors, 0));
		char detail[512];
		snprintf(detail, sizeof(detail), "%s", why ? why : "the certificate could not be issued");
		json_decref(c->resp->errors);
		c->resp->errors = NULL;
		if (r == TROVE_ERR_INVALID)
			r = acme_problem(c, 400, "badCSR", "%s", detail);
		else
			r = acme_problem(c, 500, "serverInternal", "%s", detail);
	}
out:
	free(der);
	free(cn);
	X509_REQ_free(q);
	EVP_PKEY_free(pub);
	x509_sans_release(&sans);
	subj.cn = NULL;
	x509_subject_release(&subj);
	strlist_release(&eku_oids);
	return r;
}
