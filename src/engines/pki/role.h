/* role.h — a PKI role: what certificates issue/:role and sign/:role may
 * make (Vault's role fields, defaults and read shape), and the roles API.
 *
 * Every field is declared once, in PKI_ROLE_FIELDS below: its name (the
 * Vault name, used in requests, in storage and in the read answer), its
 * type, its default and its description. The route table of roles/:name
 * and the role's parser and writer are made from that one list, so a
 * field cannot be accepted by the API and forgotten by storage.
 *
 * Storage: "role/<name>" in the mount's view, the JSON object that
 * pki_role_to_json gives (Vault's field names and types). */
#ifndef TROVE_PKI_ROLE_H
#define TROVE_PKI_ROLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "core/engine.h"

#define PKI_ROLE_PREFIX "role/"

/* X(name, kind, default, min, max, description): kind is one of BOOL,
 * INT, DUR (seconds), STR, LIST (a string list, array or comma-separated);
 * min and max bound an INT when max > min. */
#define PKI_ROLE_FIELDS(X)                                                                                   \
	X(ttl, DUR, "0", 0, 0, "lifetime of issued certificates (0: the mount's default)")                   \
	X(max_ttl, DUR, "0", 0, 0, "longest lifetime of issued certificates (0: the mount's maximum)")       \
	X(allow_localhost, BOOL, "true", 0, 0,                                                               \
	  "allow localhost and localdomain (and their subdomains with "                                      \
	  "allow_subdomains)")                                                                               \
	X(allowed_domains, LIST, "", 0, 0, "domains names are checked against")                              \
	X(allowed_domains_template, BOOL, "false", 0, 0, "allowed_domains may hold identity templates")      \
	X(allow_bare_domains, BOOL, "false", 0, 0, "allow the allowed domains themselves")                   \
	X(allow_subdomains, BOOL, "false", 0, 0, "allow subdomains of the allowed domains, at any depth")    \
	X(allow_glob_domains, BOOL, "false", 0, 0, "allowed domains may be globs ('*' matches any text)")    \
	X(allow_wildcard_certificates, BOOL, "true", 0, 0,                                                   \
	  "allow RFC 6125 wildcards in the left-most label")                                                 \
	X(allow_any_name, BOOL, "false", 0, 0, "allow any name (hostname and wildcard rules still apply)")   \
	X(enforce_hostnames, BOOL, "true", 0, 0, "names must be valid host names")                           \
	X(allow_ip_sans, BOOL, "true", 0, 0, "allow IP subject alternative names")                           \
	X(allowed_uri_sans, LIST, "", 0, 0, "globs URI subject alternative names must match")                \
	X(allowed_uri_sans_template, BOOL, "false", 0, 0, "allowed_uri_sans may hold identity templates")    \
	X(allowed_other_sans, LIST, "", 0, 0, "allowed other SANs, \"<oid>;UTF8:<value glob>\", or \"*\"")   \
	X(allowed_serial_numbers, LIST, "", 0, 0, "globs a requested subject serial number must match")      \
	X(allowed_user_ids, LIST, "", 0, 0, "globs a requested subject user ID must match")                  \
	X(allow_token_displayname, BOOL, "false", 0, 0, "allow the token's display name (deprecated)")       \
	X(allow_globs_in_identity_templates, BOOL, "false", 0, 0, "template values may hold '*'")            \
	X(server_flag, BOOL, "true", 0, 0, "add the serverAuth extended key usage")                          \
	X(client_flag, BOOL, "true", 0, 0, "add the clientAuth extended key usage")                          \
	X(code_signing_flag, BOOL, "false", 0, 0, "add the codeSigning extended key usage")                  \
	X(email_protection_flag, BOOL, "false", 0, 0, "add the emailProtection extended key usage")          \
	X(key_type, STR, "rsa", 0, 0, "key type: rsa, ec, ed25519 or any (sign only)")                       \
	X(key_bits, INT, "0", 0, 8192,                                                                       \
	  "key size: rsa 2048|3072|4096|8192, ec 224|256|384|521 (0: the default)")                          \
	X(signature_bits, INT, "0", 0, 512, "hash size of the signature: 256, 384 or 512 (0: from the key)") \
	X(use_pss, BOOL, "false", 0, 0, "sign with RSASSA-PSS when the issuer is RSA")                       \
	X(key_usage, LIST, "DigitalSignature,KeyAgreement,KeyEncipherment", 0, 0,                            \
	  "key usages (Go's names, any case)")                                                               \
	X(ext_key_usage, LIST, "", 0, 0, "extended key usages (Go's names, any case)")                       \
	X(ext_key_usage_oids, LIST, "", 0, 0, "extended key usage OIDs")                                     \
	X(use_csr_common_name, BOOL, "true", 0, 0, "sign: take the common name from the CSR")                \
	X(use_csr_sans, BOOL, "true", 0, 0, "sign: take the subject alternative names from the CSR")         \
	X(serial_number_source, STR, "json-csr", 0, 0,                                                       \
	  "where the subject serial number comes from: json-csr or json")                                    \
	X(ou, LIST, "", 0, 0, "subject OU values")                                                           \
	X(organization, LIST, "", 0, 0, "subject O values")                                                  \
	X(country, LIST, "", 0, 0, "subject C values")                                                       \
	X(locality, LIST, "", 0, 0, "subject L values")                                                      \
	X(province, LIST, "", 0, 0, "subject ST values")                                                     \
	X(street_address, LIST, "", 0, 0, "subject street address values")                                   \
	X(postal_code, LIST, "", 0, 0, "subject postal code values")                                         \
	X(generate_lease, BOOL, "false", 0, 0, "issued certificates carry a lease")                          \
	X(no_store, BOOL, "false", 0, 0,                                                                     \
	  "issued certificates are not stored (implies generate_lease=false)")                               \
	X(require_cn, BOOL, "true", 0, 0, "a common name is required")                                       \
	X(policy_identifiers, LIST, "", 0, 0, "certificate policy OIDs")                                     \
	X(basic_constraints_valid_for_non_ca, BOOL, "false", 0, 0, "mark basic constraints valid on leaves") \
	X(not_before_duration, DUR, "30s", 0, 0, "how far NotBefore is backdated")                           \
	X(not_after, STR, "", 0, 0, "a fixed NotAfter, YYYY-MM-DDTHH:MM:SSZ")                                \
	X(cn_validations, LIST, "email,hostname", 0, 0,                                                      \
	  "what a common name may be: email, hostname, or disabled")                                         \
	X(issuer_ref, STR, "default", 0, 0, "the issuer used by issue/:role and sign/:role")

#define PKI_ROLE_BOOL bool
#define PKI_ROLE_INT int64_t
#define PKI_ROLE_DUR int64_t
#define PKI_ROLE_STR char *
#define PKI_ROLE_LIST struct strlist
#define PKI_ROLE_MEMBER(n, k, d, lo, hi, desc) PKI_ROLE_##k n;

/* One role. Strings and lists are owned (pki_role_release). */
struct pki_role {
	PKI_ROLE_FIELDS(PKI_ROLE_MEMBER)
};

/* A role with Vault's defaults (key_type rsa, key_bits 2048 once
 * validated, ...). Release with pki_role_release. */
void pki_role_init(struct pki_role *r);
void pki_role_release(struct pki_role *r);

/* Lays the fields present in o (a request's data or a stored role) over
 * r, each coerced as the route would (a duration may be "1h" or 3600, a
 * list an array or a comma-separated string); absent fields and nulls
 * keep r's values, unknown keys are ignored. Returns 0, or
 * TROVE_ERR_INVALID with "<field>: <reason>" appended to why (r then
 * holds the fields before the bad one). */
int pki_role_apply_json(struct pki_role *r, const json_t *o, struct buf *why);

/* Checks r as a role write does and puts it in the form stored:
 * key_bits and signature_bits 0 become the key type's defaults (rsa
 * 2048/256, ec 256 with the curve's hash, ed25519 0/0), no_store turns
 * generate_lease off. Refused (TROVE_ERR_INVALID, "<field>: <reason>" in
 * why): key_type other than rsa|ec|ed25519|any; key_bits not allowed for
 * the type; signature_bits not 0|256|384|512; an unknown key_usage or
 * ext_key_usage name; an OID in ext_key_usage_oids or policy_identifiers
 * that is not dotted decimal; an allowed_other_sans entry that is not
 * "*" alone or "<oid>;UTF8:<value>"; cn_validations with a name other
 * than email|hostname, or "disabled" with another; serial_number_source
 * other than json-csr|json; not_after not RFC 3339; ttl above a non-zero
 * max_ttl (Vault: "ttl" must be less than "max_ttl"). */
int pki_role_validate(struct pki_role *r, struct buf *why);

/* The role as Vault answers a read and as it is stored: every field
 * under its Vault name, durations as integer seconds, lists as arrays
 * (empty: []). New reference. */
json_t *pki_role_to_json(const struct pki_role *r);

/* Whether name is a role name Vault accepts (letters, digits, '_', and
 * '-' or '.' inside; at most 128 bytes). */
bool pki_role_name_ok(const char *name);

/* Loads role name from storage (defaults first, then the stored JSON, as
 * a role written by an older version lacks newer fields). Returns 0,
 * TROVE_ERR_NOT_FOUND, an I/O error, or TROVE_ERR_INTEGRITY when the
 * stored value is not a role. r is initialised by the call either way. */
struct storage;
int pki_role_load(struct storage *s, const char *name, struct pki_role *r);
/* The stored bytes of role name (*v the caller's, free()): 0,
 * TROVE_ERR_NOT_FOUND or an I/O error. */
int pki_role_read(struct storage *s, const char *name, unsigned char **v, size_t *n);
/* A role from its stored bytes, as pki_role_load makes it: 0 or
 * TROVE_ERR_INTEGRITY. r is initialised by the call either way. */
int pki_role_parse(const unsigned char *v, size_t n, struct pki_role *r);
/* dst becomes a deep copy of src (dst's previous contents are not
 * released; release dst with pki_role_release). */
void pki_role_copy(struct pki_role *dst, const struct pki_role *src);

/* The key usage bits of r (OpenSSL's KU_* values of x509v3.h). Names
 * were checked by pki_role_validate; unknown ones add nothing. */
unsigned pki_role_key_usage_bits(const struct pki_role *r);
/* The extended key usage OIDs of r, dotted, in Vault's order: the four
 * flags, then ext_key_usage names, then ext_key_usage_oids; duplicates
 * dropped. Appended to out. */
void pki_role_ext_key_usage_oids(const struct pki_role *r, struct strlist *out);

/* Whether s is a dotted-decimal OID (at least two arcs, the first 0, 1
 * or 2, the second below 40 under 0 and 1, no empty arc, no sign, no
 * leading zero). */
bool pki_oid_ok(const char *s);

/* roles/:name (read, create/update, patch, delete) and roles (list); for
 * the PKI engine's table list. */
extern const struct route pki_role_routes[];

#endif
