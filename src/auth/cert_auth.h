/* cert_auth.h — internals shared by the auth/cert files (TLS client
 * certificates, Vault's "cert" method).
 *
 * Files:
 *   cert_engine.c  the engine: route table and fields
 *   cert_roles.c   certs/:name (trusted certificates and their
 *                  constraints), crls/:name, config
 *   cert_match.c   the constraints a client certificate must meet
 *   cert_login.c   login: the chain the TLS listener saw, verified against
 *                  each trusted certificate
 *   cert_ocsp.c    login: the leaf's OCSP status (ocsp_enabled entries)
 *
 * Storage (the mount's view, encrypted by the barrier):
 *   config        the method's config (JSON)
 *   cert/<name>   a trusted certificate and its settings (JSON; names
 *                 lower-cased)
 *   crls/<name>   a CRL's revoked serials (JSON)
 */
#ifndef TROVE_CERT_AUTH_H
#define TROVE_CERT_AUTH_H

#include <jansson.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdbool.h>

#include "core/router.h"
#include "core/token_params.h"

#define CERT_CONFIG_KEY "config"
#define CERT_ROLE_PREFIX "cert/"
#define CERT_CRL_PREFIX "crls/"
#define CERT_NAME_MAX 256

/* Constraint matchers (Vault's rules). Each takes the leaf certificate
 * and a role's JSON array of patterns ('*' matches any run of
 * characters); an empty or absent list allows every certificate,
 * otherwise one pattern must match one of the certificate's values:
 *   names      the subject CN, a DNS SAN or an email SAN
 *   cn         the subject CN (the last one when there are several)
 *   dns, email, uri  the SANs of that kind
 *   ou         the subject's organizational units
 * cert_match_extensions: every "oid:pattern" entry must name an
 * extension of the certificate whose value, read as an ASN.1 string
 * (empty when it is not one), matches the pattern. */
bool cert_match_names(X509 *leaf, const json_t *patterns);
bool cert_match_cn(X509 *leaf, const json_t *patterns);
bool cert_match_dns(X509 *leaf, const json_t *patterns);
bool cert_match_email(X509 *leaf, const json_t *patterns);
bool cert_match_uri(X509 *leaf, const json_t *patterns);
bool cert_match_ou(X509 *leaf, const json_t *patterns);
bool cert_match_extensions(X509 *leaf, const json_t *required);
/* Every name constraint of a role (a certs/:name document). */
bool cert_match_role(X509 *leaf, const json_t *role);
/* Metadata from the extensions a role lists in
 * allowed_metadata_extensions: {oid with '.' as '-': string value}, added
 * to meta. */
void cert_extension_metadata(X509 *leaf, const json_t *allowed, json_t *meta);

/* The subject's CN (the last one), or "" ; into out of cap bytes. */
void cert_subject_cn(X509 *c, char *out, size_t cap);

/* Parses the certificates of a PEM bundle (in order) into a new stack,
 * or NULL when there is none. */
STACK_OF(X509) * cert_parse_pem(const char *pem, size_t len);

/* The config (defaults when none was written). New reference. */
int cert_config_load(struct request *req, json_t **out);
/* Whether any certificate of chain has a serial listed by a stored CRL. */
int cert_chain_revoked(struct request *req, STACK_OF(X509) * chain, bool *revoked);

/* OCSP (cert_ocsp.c). */
enum cert_ocsp_status { CERT_OCSP_GOOD, CERT_OCSP_REVOKED, CERT_OCSP_UNKNOWN };
#define CERT_OCSP_MAX_RETRIES_DEFAULT 4
/* Checks one DER OCSPResponse (len bytes, at most 64 KiB) for the
 * certificate id names: status "successful", a BasicOCSPResponse signed
 * by issuer or by a responder certificate issued by it (or by one of
 * extra, the entry's ocsp_ca_certificates; may be NULL) with
 * id-kp-OCSPSigning, an answer for id, thisUpdate not in the future and
 * nextUpdate not past (5 minutes of skew), thisUpdate no older than
 * max_age seconds when max_age > 0. Returns 0 with *status;
 * TROVE_ERR_UPSTREAM when the responder did not answer "successful";
 * TROVE_ERR_INVALID when the response fails a check. *why (static text)
 * says what failed, or is NULL for a good or revoked answer. */
int cert_ocsp_check_response(const unsigned char *der, size_t len, OCSP_CERTID *id, X509 *issuer,
                             STACK_OF(X509) * extra, int64_t max_age, enum cert_ocsp_status *status,
                             const char **why);
/* Whether the OCSP responders of the entry doc (ocsp_servers_override,
 * else the leaf's AIA) let leaf, issued by issuer, log in: *allowed.
 * Calls out (outbound_call): returns TROVE_ERR_WOULD_BLOCK on an
 * event-loop thread, TROVE_ERR_NOMEM, else 0. */
int cert_ocsp_allows(const json_t *doc, X509 *leaf, X509 *issuer, bool *allowed);

/* Handlers. */
int cert_role_list(struct request *req, struct response *resp);
int cert_role_read(struct request *req, struct response *resp);
int cert_role_write(struct request *req, struct response *resp);
int cert_role_delete(struct request *req, struct response *resp);
int cert_role_exists(struct request *req, bool *out);
int cert_crl_list(struct request *req, struct response *resp);
int cert_crl_read(struct request *req, struct response *resp);
int cert_crl_write(struct request *req, struct response *resp);
int cert_crl_delete(struct request *req, struct response *resp);
int cert_config_read(struct request *req, struct response *resp);
int cert_config_write(struct request *req, struct response *resp);
int cert_login(struct request *req, struct response *resp);

#endif
