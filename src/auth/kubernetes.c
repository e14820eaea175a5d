/* kubernetes.c — the auth/kubernetes engine: Kubernetes service accounts
 * log in with their JWT, which the cluster's API server reviews. Vault's
 * kubernetes auth method's API; the files and the storage layout are in
 * kubernetes.h.
 *
 * Login calls out (TokenReview), so it runs on the worker pool: it is a
 * write, and declares no try_inline. Config and role reads only read
 * storage and may run on the loop. */
#include "auth.h"
#include "kubernetes.h"

#include "banned.h"

static const struct field config_fields[] = {
    {.name = "kubernetes_host",
     .type = FIELD_STRING,
     .canon = FIELD_CANON_TRIM,
     .description = "https:// URL of the Kubernetes API server"},
    {.name = "kubernetes_ca_cert",
     .type = FIELD_STRING,
     .description = "PEM CA certificate(s) of the API server"},
    {.name = "token_reviewer_jwt",
     .type = FIELD_STRING,
     .sensitive = true,
     .description = "bearer token allowed to create TokenReviews (never returned)"},
    {.name = "pem_keys",
     .type = FIELD_STRLIST,
     .description = "PEM public keys or certificates that verify service account JWTs locally"},
    {.name = "issuer",
     .type = FIELD_STRING,
     .description = "the JWT issuer to require (with disable_iss_validation false)"},
    {.name = "disable_iss_validation",
     .type = FIELD_BOOL,
     .def = "true",
     .description = "do not check the JWT's iss"},
    {.name = "disable_local_ca_jwt",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "do not fall back to the pod's own token and CA"},
    {.name = "use_annotations_as_alias_metadata", .type = FIELD_BOOL, .description = "not supported"},
    {0},
};

static const struct field role_fields[] = {
    {.name = "bound_service_account_names",
     .type = FIELD_STRLIST,
     .description = "service account names (globs) allowed to log in; \"*\" for any"},
    {.name = "bound_service_account_namespaces",
     .type = FIELD_STRLIST,
     .description = "namespaces (globs) allowed to log in; \"*\" for any"},
    {.name = "bound_service_account_namespace_selector",
     .type = FIELD_STRING,
     .description = "a label selector (JSON or YAML) over the namespaces allowed to log in"},
    {.name = "audience", .type = FIELD_STRING, .description = "the audience the JWT must carry"},
    {.name = "alias_name_source",
     .type = FIELD_STRING,
     .description = "serviceaccount_uid (default) or serviceaccount_name"},
    TOKEN_PARAM_FIELDS,
    {0},
};

static const struct field login_fields[] = {
    {.name = "role", .type = FIELD_STRING, .description = "the role to log in with"},
    {.name = "jwt", .type = FIELD_STRING, .sensitive = true, .description = "the service account's JWT"},
    {0},
};

static const struct field no_fields[] = {{0}};

static const struct route k8s_routes[] = {
    {.pattern = "login",
     .ops = {[OP_UPDATE] = k8s_login},
     .fields = login_fields,
     .flags = ROUTE_UNAUTH,
     .synopsis = "log in with a service account's JWT"},
    {.pattern = "config",
     .ops = {[OP_READ] = k8s_config_read, [OP_UPDATE] = k8s_config_write, [OP_CREATE] = k8s_config_write},
     .fields = config_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "the Kubernetes API server and how to reach it"},
    {.pattern = "role",
     .ops = {[OP_LIST] = k8s_role_list},
     .fields = no_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list roles"},
    {.pattern = "role/:role_name",
     .ops = {[OP_READ] = k8s_role_read,
             [OP_CREATE] = k8s_role_write,
             [OP_UPDATE] = k8s_role_write,
             [OP_DELETE] = k8s_role_delete},
     .exists = k8s_role_exists,
     .fields = role_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "roles binding service accounts to token settings"},
    {0},
};

static const struct route *const k8s_tables[] = {k8s_routes, NULL};

const struct engine kubernetes_engine = {
    .type = "kubernetes",
    .tables = k8s_tables,
    .flags = ENGINE_AUTH,
    .mount_init = k8s_mount_init,
    .mount_cleanup = k8s_mount_cleanup,
};
