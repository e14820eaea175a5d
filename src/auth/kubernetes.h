/* kubernetes.h — internals shared by the auth/kubernetes files.
 *
 * Pods log in with their service-account JWT; the Kubernetes API server's
 * TokenReview decides whether the JWT is genuine, the role decides which
 * service accounts it admits. Vault's plugin's API and behaviour.
 *
 * Files:
 *   kubernetes.c           the engine and its route table
 *   kubernetes_config.c    config: the API server, its CA, the reviewer
 *                          JWT, pem_keys, and the pod's own credentials
 *   kubernetes_role.c      role/:name and LIST role; name and namespace
 *                          binding (Vault's globs); the mount's role lock
 *   kubernetes_selector.c  bound_service_account_namespace_selector:
 *                          parsing and matching a label selector
 *   kubernetes_yaml.c      the YAML subset a selector may be written in
 *   kubernetes_review.c    the API server client: TokenReview and the
 *                          namespace's labels, through outbound_call
 *   kubernetes_login.c     login
 *
 * Storage (the mount's view, encrypted by the barrier):
 *   config       the config (JSON; the reviewer JWT in it never leaves;
 *                pem_keys as given, parsed again at each login)
 *   role/<name>  a role (JSON; names are lowercase) */
#ifndef TROVE_KUBERNETES_H
#define TROVE_KUBERNETES_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"
#include "core/request.h"
#include "core/router.h"
#include "core/token_params.h"
#include "jwt.h"
#include "storage/storage.h"

#define K8S_CONFIG_KEY "config"
#define K8S_ROLE_PREFIX "role/"
#define K8S_NAME_MAX 256

#define K8S_ALIAS_UID "serviceaccount_uid"
#define K8S_ALIAS_NAME "serviceaccount_name"

/* Where a pod finds its own service-account token and the cluster's CA. */
#define K8S_LOCAL_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* --- kubernetes_config.c -------------------------------------------------- */

struct k8s_config {
	char *host;         /* https://host[:port][/base], no trailing '/' */
	char *ca_cert;      /* PEM, or NULL */
	char *reviewer_jwt; /* or NULL; wiped on release */
	char *issuer;       /* or NULL */
	bool disable_iss_validation;
	bool disable_local_ca_jwt;
	struct strlist pem_keys; /* PEM public keys or certificates, as given */
};

void k8s_config_release(struct k8s_config *c);
/* A heap copy of the JSON string v, or NULL when v is not a string or is
 * empty (the stored form of "not set"). */
char *k8s_dup_nonempty(const json_t *v);
/* TROVE_ERR_NOT_FOUND when the mount has no config yet. */
int k8s_config_load(struct storage *s, struct k8s_config *out);

/* What a call to the API server uses: the reviewer JWT and CA of the
 * config or, when it has none and disable_local_ca_jwt is false, the
 * pod's own files under dir (K8S_LOCAL_DIR; read again at each use, as
 * the kubelet rotates them). reviewer_jwt NULL: none anywhere (login then
 * uses the client's own JWT). Both strings owned, wiped on release. */
struct k8s_creds {
	char *reviewer_jwt;
	char *ca_pem;
};
void k8s_creds_resolve(const struct k8s_config *c, const char *dir, struct k8s_creds *out);
void k8s_creds_release(struct k8s_creds *cr);

/* Adds the public key of each PEM of pems (a PUBLIC KEY block, or a
 * certificate whose key is taken; RSA or EC, the keys Vault's plugin
 * takes) to ks. TROVE_ERR_INVALID for the first one that is not, with
 * the reason in err ("key 2: ..."). ks is the caller's to release
 * either way. */
int k8s_pem_keyset(const struct strlist *pems, struct jwt_keyset *ks, struct buf *err);

/* Whether host is a URL Trove will call: https://, a host name or
 * address, an optional port, an optional path; no user info, query or
 * fragment. *why says what is wrong. */
bool k8s_host_valid(const char *host, const char **why);

int k8s_config_read(struct request *req, struct response *resp);
int k8s_config_write(struct request *req, struct response *resp);

/* --- kubernetes_role.c ---------------------------------------------------- */

struct k8s_role {
	char name[K8S_NAME_MAX + 1];
	struct strlist sa_names;
	struct strlist sa_namespaces;
	char *ns_selector; /* the text as written, or NULL */
	char *audience;    /* or NULL */
	char alias_source[32];
	struct token_params tp;
};

/* The mount's state: the lock serialising its role writes. */
struct mount;
int k8s_mount_init(struct mount *m, struct buf *err);
void k8s_mount_cleanup(struct mount *m);

void k8s_role_init(struct k8s_role *r);
void k8s_role_release(struct k8s_role *r);
/* TROVE_ERR_NOT_FOUND when there is no such role (name lowercase). */
int k8s_role_load(struct storage *s, const char *name, struct k8s_role *out);

/* Vault's glob for a binding: an item starting and/or ending with '*'
 * matches by suffix, prefix or substring; any other item (a '*' inside
 * included) must equal s. */
bool k8s_glob_match(const char *item, const char *s);
/* Whether the role's bound names admit the service account name: the one
 * item "*", or any item glob-matching. */
bool k8s_role_name_bound(const struct k8s_role *r, const char *name);
/* Whether the role's bound namespaces admit ns (the selector aside). */
bool k8s_role_namespace_bound(const struct k8s_role *r, const char *ns);

int k8s_role_read(struct request *req, struct response *resp);
int k8s_role_write(struct request *req, struct response *resp);
int k8s_role_delete(struct request *req, struct response *resp);
int k8s_role_list(struct request *req, struct response *resp);
int k8s_role_exists(struct request *req, bool *out);

/* --- kubernetes_selector.c ------------------------------------------------ */

#define K8S_SELECTOR_MAX 16384

/* Parses a label selector written as JSON or YAML ({"matchLabels": {k: v},
 * "matchExpressions": [{"key", "operator", "values"}]}) into its checked
 * form (a new object holding both keys), or refuses it: TROVE_ERR_INVALID
 * with the reason in *why (static). Operators: In and NotIn (values not
 * empty), Exists and DoesNotExist (no values); label keys and values are
 * strings. An empty selector ({}) matches every namespace, as in
 * Kubernetes. */
int k8s_selector_parse(const char *text, size_t len, json_t **out, const char **why);
/* --- kubernetes_yaml.c ---------------------------------------------------- */

/* The YAML a selector may be written in (the subset a label selector
 * needs: block mappings and sequences, one-line flow collections, plain
 * and quoted scalars, comments; every scalar a string) as JSON: a new
 * object in *out, or TROVE_ERR_INVALID with a static reason in *why.
 * Anchors, aliases, tags, block scalars, tabs in indentation and
 * duplicate keys are refused. */
int k8s_yaml_parse(const char *text, size_t len, json_t **out, const char **why);

/* Whether labels (an object of strings; NULL: none) satisfy the parsed
 * selector sel: every matchLabels pair and every expression. */
bool k8s_selector_matches(const json_t *sel, const json_t *labels);

/* --- kubernetes_review.c -------------------------------------------------- */

/* The identity the API server vouches for. */
struct k8s_identity {
	char *name;
	char *ns;
	char *uid;
};
void k8s_identity_release(struct k8s_identity *id);

/* Outcome of a call to the API server beyond the transport: */
enum k8s_review_result {
	K8S_REVIEW_OK,
	K8S_REVIEW_DENIED,   /* the API server said no, or said something
	                      * that is not a yes */
	K8S_REVIEW_UPSTREAM, /* it could not be asked (down, TLS, 5xx) */
};

/* POSTs a TokenReview of jwt with audiences (may be empty) to host,
 * authenticated with bearer, trusting ca_pem (NULL: the system bundle).
 * OK only when the answer is authenticated, for a user
 * system:serviceaccount:<ns>:<name>, valid for at least one of the
 * audiences asked, and then fills out. why: a static reason for the log
 * (never the token). */
enum k8s_review_result k8s_token_review(const char *host, const char *ca_pem, const char *bearer,
                                        const char *jwt, const struct strlist *audiences,
                                        struct k8s_identity *out, const char **why);
/* GETs namespace ns and sets *labels to its metadata.labels (a new
 * object, maybe empty). ns must be a DNS label (checked again here). */
enum k8s_review_result k8s_namespace_labels(const char *host, const char *ca_pem, const char *bearer,
                                            const char *ns, json_t **labels, const char **why);

/* Whether s is a Kubernetes namespace name (an RFC 1123 label). */
bool k8s_dns_label(const char *s);

/* --- kubernetes_login.c --------------------------------------------------- */

/* The service account a JWT claims to be, read without verifying it:
 * the legacy claims (kubernetes.io/serviceaccount/...) or the projected
 * token's "kubernetes.io" object; its aud (string or list), iss, exp and
 * nbf (0 when absent). */
struct k8s_claims {
	char *name, *ns, *uid, *secret_name, *iss;
	struct strlist aud;
	int64_t exp, nbf;
};
void k8s_claims_release(struct k8s_claims *c);
/* Decodes the JWT's header and payload. TROVE_ERR_INVALID with a reason
 * when it is not three base64url parts, its alg is not one a Kubernetes
 * cluster signs with (RS, ES, PS 256/384/512), or the payload is not a
 * JSON object. */
int k8s_claims_parse(const char *jwt, size_t len, struct k8s_claims *out, const char **why);

/* Verifies the JWT's signature with the keys of ks (pem_keys) through
 * jwt_verify: an alg k8s_claims_parse admits; exp, nbf and iat checked
 * with the method's leeway when present, none required (legacy secret
 * tokens carry none). The issuer and the audience are the login's own
 * checks, not repeated here. 0, or jwt_verify's error (a signature no
 * key verifies: TROVE_ERR_PERMISSION) with the reason in err. */
int k8s_verify_signature(const char *jwt, size_t len, const struct jwt_keyset *ks, int64_t now,
                         struct buf *err);

int k8s_login(struct request *req, struct response *resp);

#endif
