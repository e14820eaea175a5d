/* cert_engine.c — the auth/cert engine: TLS client certificates, Vault's
 * "cert" method (cert_auth.h lists the files).
 *
 * Routes (Vault's):
 *   certs              LIST
 *   certs/:name        create/update, read, delete
 *   crls               LIST
 *   crls/:name         create/update, read, delete
 *   config             read, write
 *   login              unauthenticated: the client certificate the TLS
 *                      listener received -> a token
 * Logins run on the worker pool, like every write. */
#include "auth/auth.h"
#include "auth/cert_auth.h"

#include "banned.h"

static const struct field cert_fields[] = {
    {.name = "name", .type = FIELD_STRING, .description = "the entry's name"},
    {.name = "certificate", .type = FIELD_STRING, .description = "the trusted CA or client certificate (PEM)"},
    {.name = "display_name", .type = FIELD_STRING, .description = "the display name of issued tokens (default: the entry's name)"},
    {.name = "allowed_names", .type = FIELD_STRLIST, .description = "globs matched against the CN, DNS and email SANs"},
    {.name = "allowed_common_names", .type = FIELD_STRLIST, .description = "globs matched against the subject CN"},
    {.name = "allowed_dns_sans", .type = FIELD_STRLIST, .description = "globs matched against the DNS SANs"},
    {.name = "allowed_email_sans", .type = FIELD_STRLIST, .description = "globs matched against the email SANs"},
    {.name = "allowed_uri_sans", .type = FIELD_STRLIST, .description = "globs matched against the URI SANs"},
    {.name = "allowed_organizational_units", .type = FIELD_STRLIST, .description = "globs matched against the subject OUs"},
    {.name = "required_extensions", .type = FIELD_STRLIST, .description = "\"oid:glob\" extensions the certificate must carry"},
    {.name = "allowed_metadata_extensions", .type = FIELD_STRLIST, .description = "extension OIDs copied to the login metadata"},
    {.name = "ocsp_enabled", .type = FIELD_BOOL, .description = "check the leaf's OCSP status at login"},
    {.name = "ocsp_ca_certificates", .type = FIELD_STRING, .description = "CA certificates for OCSP responses (PEM)"},
    {.name = "ocsp_servers_override", .type = FIELD_STRLIST, .description = "OCSP responders to ask instead of the certificate's"},
    {.name = "ocsp_fail_open", .type = FIELD_BOOL, .description = "accept when no OCSP answer comes"},
    {.name = "ocsp_query_all_servers", .type = FIELD_BOOL, .description = "ask every OCSP responder"},
    {.name = "ocsp_this_update_max_age", .type = FIELD_DURATION, .description = "the oldest thisUpdate an OCSP answer may have (0: any)"},
    {.name = "ocsp_max_retries", .type = FIELD_INT, .description = "attempts more per OCSP responder when it cannot be reached"},
    TOKEN_PARAM_FIELDS,
    {0},
};

static const struct field crl_fields[] = {
    {.name = "name", .type = FIELD_STRING, .description = "the CRL's name"},
    {.name = "crl", .type = FIELD_STRING, .description = "the CRL (PEM, DER or base64 DER)"},
    {.name = "url", .type = FIELD_STRING, .description = "a CRL distribution point (not supported yet: refused)"},
    {0},
};

static const struct field config_fields[] = {
    {.name = "disable_binding", .type = FIELD_BOOL, .description = "do not re-check the certificate on renewal"},
    {.name = "enable_identity_alias_metadata", .type = FIELD_BOOL, .description = "copy the login metadata to the entity alias"},
    {.name = "ocsp_cache_size", .type = FIELD_INT, .description = "OCSP responses cached (kept, not used yet)"},
    {.name = "role_cache_size", .type = FIELD_INT, .description = "entries cached (kept, not used yet)"},
    {0},
};

static const struct field login_fields[] = {
    {.name = "name", .type = FIELD_STRING, .canon = FIELD_CANON_LOWER, .description = "the certs entry to try (default: every one)"},
    {0},
};

static const struct route cert_routes[] = {
    {.pattern = "certs", .ops = {[OP_LIST] = cert_role_list}, .synopsis = "list trusted certificates"},
    {.pattern = "certs/:name",
     .ops = {[OP_READ] = cert_role_read, [OP_UPDATE] = cert_role_write, [OP_DELETE] = cert_role_delete},
     .exists = cert_role_exists,
     .fields = cert_fields,
     .flags = ROUTE_NAMES_CI,
     .synopsis = "a trusted certificate: which client certificates log in, and the token they get"},
    {.pattern = "crls", .ops = {[OP_LIST] = cert_crl_list}, .synopsis = "list CRLs"},
    {.pattern = "crls/:name",
     .ops = {[OP_READ] = cert_crl_read, [OP_UPDATE] = cert_crl_write, [OP_DELETE] = cert_crl_delete},
     .fields = crl_fields,
     .flags = ROUTE_NAMES_CI,
     .synopsis = "a CRL: client certificates it revokes cannot log in"},
    {.pattern = "config",
     .ops = {[OP_READ] = cert_config_read, [OP_UPDATE] = cert_config_write},
     .fields = config_fields,
     .synopsis = "the method's settings"},
    {.pattern = "login",
     .ops = {[OP_UPDATE] = cert_login},
     .fields = login_fields,
     .flags = ROUTE_UNAUTH,
     .synopsis = "log in with the TLS client certificate"},
    {.pattern = NULL},
};

static const struct route *const cert_tables[] = {cert_routes, NULL};

const struct engine cert_engine = {
    .type = "cert",
    .tables = cert_tables,
    .flags = ENGINE_AUTH,
};
