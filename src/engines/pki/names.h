/* names.h — the name policy of a PKI role: which common name and which
 * subject alternative names a role lets issue/:role and sign/:role put in
 * a certificate, by Vault's rules (allowed_domains with bare, subdomain
 * and glob matching and identity templates, localhost, RFC 6125
 * wildcards, enforce_hostnames, IP, URI and other SANs, subject serial
 * numbers and user IDs, cn_validations, require_cn, and the CSR's names
 * under use_csr_common_name / use_csr_sans).
 *
 * Canonicalise, then authorise: every DNS name (and an email's domain) is
 * lower-cased and checked in that form, IP addresses are written back in
 * their one text form, and the canonical names are what the caller puts
 * in the certificate (struct pki_names). Names are ASCII: an
 * internationalised name is accepted only in its punycode (xn--) form. A
 * trailing dot, an empty label, a label over 63 bytes or a name over 253
 * are refused. */
#ifndef TROVE_PKI_NAMES_H
#define TROVE_PKI_NAMES_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"

struct pki_role;

/* The names a CSR carries (signing), as text: parsed by the caller. Any
 * member may be NULL. */
struct pki_csr_names {
	const char *common_name;
	const char *serial_number;
	const struct strlist *dns, *emails, *ips, *uris;
	const struct strlist *other_sans; /* "<oid>;UTF8:<value>" */
};

/* What a request asks for. Any pointer may be NULL (nothing asked). */
struct pki_name_request {
	const char *common_name;
	const struct strlist *alt_names; /* DNS names and email addresses */
	const struct strlist *ip_sans;
	const struct strlist *uri_sans;
	const struct strlist *other_sans; /* "<oid>;UTF8:<value>" */
	const char *serial_number;        /* the subject's serialNumber */
	const struct strlist *user_ids;
	bool exclude_cn_from_sans;
	const struct pki_csr_names *csr; /* sign: the CSR's names; NULL: issue */
	/* The caller's identity for allowed_domains_template and
	 * allowed_uri_sans_template: the object identity_template_data gives
	 * ({"entity": ..., "groups": [...]}), borrowed; NULL when the token
	 * has no entity (templated entries then match nothing). */
	const json_t *ident;
	const char *display_name; /* the token's, for allow_token_displayname */
};

/* The names to put in the certificate, canonical. Owned (release). */
struct pki_names {
	char *common_name;   /* "" when none */
	char *serial_number; /* "" when none */
	struct strlist dns, emails, ips, uris, other_sans, user_ids;
	char *refused; /* on refusal: the first offending name (or OID) */
};

void pki_names_init(struct pki_names *n);
void pki_names_release(struct pki_names *n);

/* Checks every name of in against role. Returns 0 with out filled, or
 * TROVE_ERR_INVALID with Vault's message in why ("common name X not
 * allowed by this role", "subject alternate name X not allowed by this
 * role", "email address X ...", "IP Subject Alternative Names are not
 * allowed in this role ...", "other SAN OID X not allowed by this role",
 * "serial_number X ...", "user_id X ...", "the common_name field is
 * required ...") and the offending name in out->refused. */
int pki_names_check(const struct pki_role *role, const struct pki_name_request *in, struct pki_names *out,
                    struct buf *why);

/* One name (a DNS name, a wildcard or an email address, already in
 * canonical form) against the role's domain rules (Vault's
 * ValidateNames): true when allowed. ident and display_name as above. */
bool pki_name_allowed(const struct pki_role *role, const char *name, const json_t *ident,
                      const char *display_name);

/* The canonical form of a DNS name or an email address: lower-cased
 * (an email's domain only), as a new string; NULL when it holds a
 * non-ASCII or control byte, or is empty. */
char *pki_name_canon(const char *name);

/* Whether name is a host name by Vault's pattern (letters, digits and
 * '-' inside labels; an RFC 6125 wildcard allowed in the left-most
 * label when wild), with the DNS lengths; no trailing dot. */
bool pki_hostname_ok(const char *name, bool wild);

/* Vault's glob (go-glob): '*' matches any run of bytes, nothing else is
 * special. */
bool pki_glob(const char *pattern, const char *s);

#endif
