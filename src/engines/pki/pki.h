/* pki.h — the PKI engine's internal contract: issuers, keys, the
 * certificate store and leaf signing, shared by the engine's files.
 *
 * Storage layout (the mount's view, every value through the barrier; the
 * names are Vault's):
 *
 *   config/key/<id>     a key: {"id", "name", "private_key_type",
 *                       "private_key" (PKCS#8 PEM)}. CA private keys live
 *                       only here.
 *   config/keys         {"default": key id}
 *   config/issuer/<id>  an issuer: {"id", "name", "key_id" ("" when its
 *                       key is not held), "certificate" (PEM),
 *                       "manual_chain" [ids], "usage" ("read-only,
 *                       issuing-certificates,crl-signing,ocsp-signing"),
 *                       "leaf_not_after_behavior" (err|truncate|permit),
 *                       "revocation_signature_algorithm",
 *                       "issuing_certificates", "crl_distribution_points",
 *                       "ocsp_servers" [URLs]}
 *   config/issuers      {"default": issuer id, "default_follows_latest_issuer"}
 *   certs/<serial>      an issued certificate: {"certificate" (PEM),
 *                       "issuer_id"}; serial in hyphen form
 *                       ("xx-xx-..."), as Vault keys it
 *   role/<name>         a role (Vault's role fields, JSON)
 *
 * Ids are v4 UUIDs; issuer and key names are unique per mount. A
 * reference (:ref) is an id, a name, or "default". Every json_t returned
 * is a new reference the caller decrefs; records holding a private key
 * are wiped when freed (the server's jansson allocator wipes). */
#ifndef TROVE_PKI_H
#define TROVE_PKI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/engine.h"
#include "storage/storage.h"
#include "x509.h"

#define PKI_KEY_PREFIX "config/key/"
#define PKI_KEYS_CONFIG "config/keys"
#define PKI_ISSUER_PREFIX "config/issuer/"
#define PKI_ISSUERS_CONFIG "config/issuers"
#define PKI_CERT_PREFIX "certs/"
#define PKI_ROLE_PREFIX "role/"
#define PKI_ID_MAX 37

/* Route tables (one per file). */
extern const struct route pki_issuer_routes[]; /* issuers.c */
extern const struct route pki_key_routes[];    /* keys.c */
extern const struct route pki_ca_routes[];     /* ca_routes.c */
extern const struct route pki_ca_sign_routes[]; /* ca_sign.c */
extern const struct route pki_import_routes[]; /* ca_import.c */
extern const struct route pki_cert_routes[];   /* cert_store.c */
extern const struct route pki_issue_routes[];  /* issue.c */

/* --- issuers (issuers.c) --- */

/* The id of the issuer ref names. TROVE_ERR_NOT_FOUND when none does
 * (also "default" with no default set). */
int pki_issuer_resolve(struct storage *s, const char *ref, char id[PKI_ID_MAX]);
/* As pki_issuer_resolve, answering 400 "unable to find PKI issuer for
 * reference: <ref>" in resp when none does. */
int pki_issuer_resolve_reply(struct storage *s, const char *ref, char id[PKI_ID_MAX], struct response *resp);
int pki_issuer_get(struct storage *s, const char *id, json_t **rec);
/* Whether the issuer record may sign certificates: its usage holds
 * issuing-certificates and it is not revoked (a revoked issuer never
 * issues again, whatever its usage says). */
bool pki_issuer_may_issue(const json_t *rec);
int pki_issuer_put(struct storage *s, const json_t *rec);
/* Every issuer id, sorted. */
int pki_issuer_ids(struct storage *s, struct strlist *out);
/* config/issuers ({} when never written). */
int pki_issuers_config_get(struct storage *s, json_t **cfg);
int pki_issuers_config_put(struct storage *s, const json_t *cfg);
/* The issuer's chain as PEM strings: itself first, then each parent found
 * among the mount's issuers (or its manual_chain). */
int pki_issuer_chain(struct storage *s, const json_t *rec, json_t **chain);
/* The issuer's certificate, and its private key when it has one
 * (*key NULL otherwise; the caller EVP_PKEY_free()s both). */
int pki_issuer_signer(struct storage *s, const json_t *rec, X509 **cert, EVP_PKEY **key);

/* Imports one certificate as an issuer unless an issuer with the same
 * certificate exists (*existed true). Links it to a key of the mount that
 * matches its public key. *id: the issuer's id. If name is given and the
 * issuer is new, it is named so. */
int pki_issuer_import(struct storage *s, X509 *cert, const char *name, char id[PKI_ID_MAX], bool *existed,
		      struct response *resp);
/* Makes id the default issuer when there is none (or always, with force). */
int pki_issuer_default_set(struct storage *s, const char *id, bool force);

/* --- keys (keys.c) --- */

int pki_key_resolve(struct storage *s, const char *ref, char id[PKI_ID_MAX]);
/* The id of the record under prefix (PKI_KEY_PREFIX, PKI_ISSUER_PREFIX)
 * whose id or name is ref; TROVE_ERR_NOT_FOUND when none. */
int pki_record_resolve(struct storage *s, const char *prefix, const char *ref, char id[PKI_ID_MAX]);
/* The id of the stored key whose public key is pub's, or "" in id. */
int pki_key_find_public(struct storage *s, EVP_PKEY *pub, char id[PKI_ID_MAX]);
int pki_key_get(struct storage *s, const char *id, json_t **rec);
/* Stores a key (new id, optional name: 400 when taken); *id its id; if a
 * key with the same public key exists, that one's id and *existed true. */
int pki_key_import(struct storage *s, EVP_PKEY *k, const char *name, char id[PKI_ID_MAX], bool *existed,
		   struct response *resp);
/* The key of a stored record (caller EVP_PKEY_free()s). */
int pki_key_load(const json_t *rec, EVP_PKEY **out);
/* Whether name is free among keys or issuers (prefix PKI_KEY_PREFIX or
 * PKI_ISSUER_PREFIX), ignoring the record with id self (or NULL). */
int pki_name_free(struct storage *s, const char *prefix, const char *name, const char *self, bool *free_out);
/* Checks a name as Vault does: letters, digits, '-', '_', not "default",
 * at most 128 bytes. Answers 400 naming field otherwise. */
int pki_name_check(const char *name, const char *field, struct response *resp);

/* --- certificate store (cert_store.c) --- */

/* Answers the PEM certificate pem as a raw body: DER
 * (application/pkix-cert) when der, else the PEM (application/pem-file). */
int pki_reply_raw_cert(struct response *resp, const char *pem, bool der);
/* Stores cert under certs/<serial>. */
int pki_cert_store(struct storage *s, X509 *cert, const char *issuer_id);

/* --- request helpers (fields.c) --- */

/* The subject and SAN fields of a request (common_name, alt_names,
 * ip_sans, uri_sans, other_sans, ou, organization, ... serial_number,
 * exclude_cn_from_sans): fills subj (pointing into req) and sans. 400
 * naming the field on bad input. */
int pki_req_names(struct request *req, struct x509_subject *subj, struct x509_sans *sans, struct response *resp);
/* The SAN fields alone (alt_names, ip_sans, uri_sans, other_sans), with
 * cn added as a DNS or email SAN unless exclude_cn_from_sans. */
int pki_req_sans(struct request *req, const char *cn, struct x509_sans *sans, struct response *resp);
/* not_before/not_after for a request's ttl/not_after/not_before_duration
 * (ttl def_ttl when not given; a ttl over max_ttl (> 0) is lowered to it
 * with a warning, as Vault does; not_after is taken as given). 400
 * naming the field on bad input. */
int pki_req_validity(struct request *req, int64_t def_ttl, int64_t max_ttl, int64_t *nb, int64_t *na,
		     struct response *resp);
/* format and private_key_format of a request, checked (400 naming the
 * field): call before any side effect. */
int pki_req_formats(struct request *req, struct response *resp);
/* key_type/key_bits of a request, checked (400 naming the field). */
int pki_req_key_params(struct request *req, const char **type, int *bits, struct response *resp);
/* Copies the field's list (FIELD_STRLIST) into out. */
void pki_req_list(struct request *req, const char *field, struct strlist *out);
/* A certificate as the request's "format" asks: PEM without its final
 * newline (pem, pem_bundle) or base64 DER (der). */
int pki_cert_format(X509 *c, const char *format, char **out);
/* Field declarations the generation routes share, for their tables. */
#define PKI_SAN_FIELDS                                                                                       \
	{.name = "common_name", .type = FIELD_STRING, .description = "the subject's CN"},                      \
	{.name = "alt_names", .type = FIELD_STRLIST, .description = "DNS and email SANs"},                   \
	{.name = "ip_sans", .type = FIELD_STRLIST, .description = "IP SANs"},                                \
	{.name = "uri_sans", .type = FIELD_STRLIST, .description = "URI SANs"},                              \
	{.name = "other_sans", .type = FIELD_STRLIST, .description = "<oid>;UTF8:<value> SANs"},            \
	{.name = "exclude_cn_from_sans", .type = FIELD_BOOL, .description = "keep the CN out of the SANs"}
#define PKI_NAME_FIELDS                                                                                      \
	PKI_SAN_FIELDS,                                                                                      \
	{.name = "ou", .type = FIELD_STRLIST, .description = "subject OU"},                                  \
	{.name = "organization", .type = FIELD_STRLIST, .description = "subject O"},                         \
	{.name = "country", .type = FIELD_STRLIST, .description = "subject C"},                              \
	{.name = "locality", .type = FIELD_STRLIST, .description = "subject L"},                             \
	{.name = "province", .type = FIELD_STRLIST, .description = "subject ST"},                            \
	{.name = "street_address", .type = FIELD_STRLIST, .description = "subject street"},                  \
	{.name = "postal_code", .type = FIELD_STRLIST, .description = "subject postal code"},                \
	{.name = "serial_number", .type = FIELD_STRING, .description = "subject serialNumber"}
#define PKI_TTL_FORMAT_FIELDS                                                                                \
	{.name = "ttl", .type = FIELD_DURATION, .description = "lifetime"},                                  \
	{.name = "not_after", .type = FIELD_STRING, .description = "expiry, YYYY-MM-ddTHH:MM:SSZ"},          \
	{.name = "format", .type = FIELD_STRING, .def = "pem", .description = "pem, der or pem_bundle"},     \
	{.name = "private_key_format", .type = FIELD_STRING, .def = "der", .description = "der or pkcs8"}
#define PKI_VALIDITY_FIELDS                                                                                  \
	PKI_TTL_FORMAT_FIELDS,                                                                               \
	{.name = "not_before_duration", .type = FIELD_DURATION, .def = "30", .description = "backdating"},   \
	{.name = "signature_bits", .type = FIELD_INT, .description = "hash bits: 256, 384, 512"},            \
	{.name = "use_pss", .type = FIELD_BOOL, .description = "RSA-PSS signatures"}
#define PKI_KEY_FIELDS                                                                                       \
	{.name = "key_type", .type = FIELD_STRING, .def = "rsa", .description = "rsa, ec or ed25519"},       \
	{.name = "key_bits", .type = FIELD_INT, .description = "key size; 0 for the type's default"},        \
	{.name = "key_name", .type = FIELD_STRING, .description = "the new key's name"},                     \
	{.name = "key_ref", .type = FIELD_STRING, .description = "an existing key (existing only)"}

/* pki_req_names, then the subject as an X509_NAME (*name the caller's);
 * 400 naming the field on bad input. */
int pki_req_subject(struct request *req, struct x509_subject *subj, struct x509_sans *sans, X509_NAME **name,
		    struct response *resp);
/* The CA fields of a request into spec (is_ca, max_path_length,
 * permitted_dns_domains into permitted, key usage, signature_bits,
 * use_pss). */
void pki_req_ca_spec(struct request *req, struct x509_spec *spec, struct strlist *permitted);
/* Drops a PEM text's final newlines (Vault's PEM fields carry none). */
void pki_pem_trim(char *pem);

/* The private key text a request's format and private_key_format ask
 * for (caller secure_free_str()s). */
int pki_key_format(struct request *req, EVP_PKEY *k, char **out);

/* Answers a certificate the issuer (record) signed as Vault does:
 * certificate, issuing_ca, ca_chain (the issuer's chain), serial_number,
 * expiration; PEM without a final newline, or base64 DER for
 * format=der (ca_sign.c). */
int pki_reply_issued(struct request *req, struct response *resp, const json_t *issuer, X509 *cert);
/* The same from the certificate's DER, its serial text and notAfter. */
int pki_reply_issued_der(struct request *req, struct response *resp, const json_t *issuer, const unsigned char *der,
			 size_t der_len, const char *serial, int64_t not_after);

/* --- leaf signing (issue.c) --- */

struct pki_leaf {
	EVP_PKEY *pubkey;            /* borrowed */
	const struct x509_subject *subject;
	const struct x509_sans *sans;
	int64_t not_before, not_after; /* not_after is capped per the issuer's
	                                * leaf_not_after_behavior */
	unsigned key_usage, ext_key_usage;
	const struct strlist *ext_key_usage_oids;
	int signature_bits;
	bool use_pss;
	bool no_store;
	/* The subject as a name (sign-verbatim: the CSR's, verbatim); when
	 * set, subject is ignored. Borrowed. */
	X509_NAME *subject_name;
	const struct strlist *policy_identifiers; /* certificatePolicies OIDs, or NULL */
	bool basic_constraints_valid;             /* a CA:FALSE basicConstraints */
	struct pki_state *state;                  /* the mount's (pki_state_of), or NULL */
	const json_t *issuer;                     /* the issuer's record, read by the caller, or NULL */
	/* On an event loop (request.no_block): TROVE_ERR_WOULD_BLOCK, before
	 * signing, for an issuer key other than EC or Ed25519, and when the
	 * certificate would be stored. */
	bool no_block;
};

/* A leaf as pki_issue_leaf_der signed it. */
struct pki_issued {
	unsigned char *der; /* the certificate's DER (heap) */
	size_t der_len;
	char serial[X509_SERIAL_TEXT_MAX];
	int64_t not_after;
	X509 *cert; /* the X509 path's object, or NULL when written as DER */
};
void pki_issued_release(struct pki_issued *c);
/* As pki_issue_leaf, the certificate as DER: written directly when
 * x509_leaf_der_covers the leaf, else by the X509 path (then also
 * out->cert). out is the caller's to release either way. */
int pki_issue_leaf_der(struct storage *s, const char *issuer_id, const struct pki_leaf *leaf, struct pki_issued *out,
		       struct response *resp);
/* Signs a leaf with the issuer whose id is given, and stores it under
 * certs/<serial> unless no_store. The leaf's key is leaf->pubkey: *out
 * may carry it undecoded (x509_cert_sign). Errors answered in resp (400 when the
 * requested validity passes the issuer's notAfter and its
 * leaf_not_after_behavior is err; 400 when the issuer has no key or may
 * not issue). *out the caller's. */
int pki_issue_leaf(struct storage *s, const char *issuer_id, const struct pki_leaf *leaf, X509 **out,
		   struct response *resp);

/* --- revocation (revoke.c; the rest in revocation.h) --- */

struct mount;
struct pki_rev_state;
struct acme_state;
struct pki_state;

/* The engine's per-mount state (m->engine_state), made at mount and freed
 * at unmount by pki.c: the revocation part's (CRL build and tidy,
 * revocation.h), the ACME server's (nonces, rate windows, acme/acme.h) and
 * the parsed issuer material (pki_state.c). Reach each through its
 * accessor: pki_rev_state(m), acme_state(m), pki_state_of(req). */
struct pki_mount_state {
	struct pki_rev_state *rev;
	struct acme_state *acme;
	struct pki_state *issuers; /* parsed issuer material (pki_state.c) */
};

/* What pki_revoke_cert did. */
struct pki_revocation {
	int64_t revocation_time; /* Unix seconds; 0 when nothing was revoked */
	bool already;            /* it was revoked before: the first time is kept */
	bool expired;            /* it had expired: not added, as Vault */
};

/* Revokes the stored certificate with this serial (colon or hyphen form)
 * of the mount m (its view is s; m may be NULL in tests): the record goes
 * to revoked/<serial> (revocation.h) and, unless
 * config/crl auto_rebuild, rebuilds the CRLs. from_lease: called by the
 * lease's revocation (an absent certificate is then a success, as in
 * Vault). TROVE_ERR_INVALID with the reason in why: a malformed serial
 * ("serial_number: ..."), an issuer's own certificate, a certificate not
 * found. */
int pki_revoke_cert(struct storage *s, struct mount *m, const char *serial, bool from_lease,
		    struct pki_revocation *out, struct buf *why);

/* --- per-mount state (pki_state.c): parsed issuer material --- */

/* Makes / frees the issuer-material part of a mount's state (pki.c). */
struct pki_state *pki_state_new(void);
void pki_state_free(struct pki_state *st);
/* The request's mount state, or NULL (no mount, another engine). */
struct pki_state *pki_state_of(const struct request *req);
/* As pki_issuer_signer, reusing what the mount parsed before when the
 * issuer record holds the same certificate PEM and the key record is
 * byte-identical to the one stored then (st NULL: no reuse). */
int pki_signer_get(struct pki_state *st, struct storage *s, const json_t *rec, X509 **cert, EVP_PKEY **key);
/* A signing context (x509_signer) for a key pki_signer_get handed out
 * and the digest md, kept with the key's signer slot between
 * signatures: taken for one signature, then given back. NULL when the
 * key has none (not ECDSA, no slot holds it, st NULL, OpenSSL failed):
 * then sign without. Given back to a slot that no longer holds the key
 * (changed or evicted meanwhile), or to a full one, it is freed; the
 * slot's contexts go with it. give accepts NULL. */
struct x509_signer *pki_signer_ctx_take(struct pki_state *st, EVP_PKEY *key, const EVP_MD *md);
void pki_signer_ctx_give(struct pki_state *st, EVP_PKEY *key, struct x509_signer *g);
/* As pki_issuer_chain, reusing the chain built before for the same
 * issuer when the mount's issuer ids are the same (st NULL: no reuse). */
int pki_chain_get(struct pki_state *st, struct storage *s, const json_t *rec, json_t **chain);
/* As pki_role_load (role.h), reusing the role parsed before when the
 * bytes stored under role/<name> are identical to those it was parsed
 * from (a read is made every time; up to 32 roles kept; st NULL: no
 * reuse). *role is initialised either way: pki_role_release it. */
/* As pki_issuer_get, parsing the record's JSON again only when its
 * stored bytes differ from those parsed before for that id (a read is
 * made every time; st NULL: no reuse). *rec the caller's. */
int pki_issuer_get_kept(struct pki_state *st, struct storage *s, const char *id, json_t **rec);
struct pki_role;
int pki_role_get(struct pki_state *st, struct storage *s, const char *name, struct pki_role *role);
/* Whether a key of this type and bits (0: the type's default) is made,
 * or signs, on an event loop: "ec" up to P-256 and "ed25519" (tens of
 * microseconds); not P-384/521 (about ten times that), never "rsa" (an
 * RSA key takes ~100 ms, a 4096-bit signature milliseconds). */
bool pki_role_key_inline(const char *key_type, int64_t bits);
/* route.try_inline's hint for issue (issue true) and sign under the role
 * name: false when the role kept under that name (memory only, no
 * storage read) stores its certificates, or for issue makes a key
 * pki_role_key_inline refuses (key_type any: the request's body, not
 * read yet, says); true otherwise, also for a role not kept (the
 * handler decides). */
bool pki_role_kept_inline(struct pki_state *st, const char *name, bool issue);

/* --- the issuing routes (issue_routes.c, sign_verbatim.c, lease.c) --- */

extern const struct route pki_sign_verbatim_routes[]; /* sign_verbatim.c */

/* not_before/not_after of a certificate under role (NULL: none) on
 * this request's mount: the role's not_after, else the request's
 * not_after, else the request's ttl (else the role's, else the mount's
 * default) lowered to the role's max_ttl (else the mount's maximum)
 * with a warning; backdated by the role's not_before_duration (30s
 * without a role). 400 naming the field on bad input. */
struct pki_role;
int pki_leaf_validity(struct request *req, const struct pki_role *role, int64_t *nb, int64_t *na,
		      struct response *resp);
/* Signs leaf with the issuer id and answers as Vault does: the
 * certificate fields of pki_reply_issued, ca_chain without self-signed
 * certificates when remove_roots_from_chain, the private key (key not
 * NULL: issue) in the request's format, and with generate_lease a lease
 * whose TTL is the certificate's remaining life and whose internal data
 * holds its serial ("serial_number"), so revoking the lease revokes the
 * certificate. */
int pki_issue_reply(struct request *req, struct response *resp, const char *issuer_id, const struct pki_leaf *leaf,
		    EVP_PKEY *key, bool generate_lease);

/* OpenSSL's KU_* bits (pki_role_key_usage_bits) as x509.h's
 * X509_KU_* bits; EncipherOnly and DecipherOnly, which x509.h cannot
 * write, are dropped. */
unsigned pki_ku_bits(unsigned openssl_ku);

/* engine.lease_revoke of the pki engine: revokes the certificate whose
 * serial the lease's internal data holds. */
struct lease;
int pki_lease_revoke(struct mount *m, const struct lease *l, struct buf *err);

#endif
