/* op_vault.h — the Trove side of the operator's reconcilers: which
 * VaultConnection and VaultAuth a resource uses, whether the VaultAuth lets
 * the resource's namespace use it, and a logged-in API client for it.
 *
 * References are resolved as Vault Secrets Operator resolves them: a
 * resource's vaultAuthRef is "name" (in the resource's namespace) or
 * "ns/name"; empty means the VaultAuth named "default" in the operator's
 * namespace. A VaultAuth's vaultConnectionRef likewise, relative to the
 * VaultAuth's namespace. allowedNamespaces: unset allows only the
 * VaultAuth's own namespace, ["*"] allows all, else the namespaces
 * listed; the "default" VaultAuth of the operator's namespace serves every
 * namespace (as VSO's does).
 *
 * Tokens are kept per (VaultAuth uid and generation, resource namespace,
 * service account), renewed with auth/token/renew-self once two thirds of
 * their TTL passed, and replaced by a new login when renewal is refused or
 * the token is near its end. API clients (native transport) are pooled per
 * VaultConnection; one client serves one worker thread at a time. */
#ifndef TROVE_OPERATOR_OP_VAULT_H
#define TROVE_OPERATOR_OP_VAULT_H

#include <stdbool.h>

#include <jansson.h>

#include "api/api.h"
#include "buf.h"
#include "operator/op.h"

#define OP_DEFAULT_NAME "default"

/* ---- Pure parts (op_vault_spec.c) ------------------------------------ */

/* A namespaced name; both heap strings. */
struct op_ref {
	char *ns;
	char *name;
};

/* Resolves ref ("", "name" or "ns/name") as above: obj_ns is the
 * referring object's namespace, op_ns the operator's. 0 with *out, or
 * TROVE_ERR_INVALID with *err (heap) for more than one '/', an empty part
 * or a name longer than 253 bytes. */
int op_ref_parse(const char *ref, const char *obj_ns, const char *op_ns, struct op_ref *out, char **err);
void op_ref_release(struct op_ref *r);

/* Whether the VaultAuth auth (an object as the API server sends it) may
 * be used by a resource in target_ns. */
bool op_auth_allows_namespace(const json_t *auth, const char *op_ns, const char *target_ns);

/* A VaultConnection's spec. Strings are heap copies or NULL. */
struct op_conn_spec {
	char *address;
	char *tls_server_name;
	char *ca_secret; /* caCertSecretRef: a Secret (in the connection's
	                  * namespace) whose ca.crt holds the PEM */
	bool skip_verify;
	long timeout_ms;        /* 0: the client's default */
	struct strlist headers; /* "Name: value" lines */
};

/* Parses conn. 0, or TROVE_ERR_INVALID with *err naming the field. */
int op_conn_spec_parse(const json_t *conn, struct op_conn_spec *out, char **err);
void op_conn_spec_release(struct op_conn_spec *c);

enum op_auth_method { OP_AUTH_KUBERNETES, OP_AUTH_JWT, OP_AUTH_APPROLE };

/* A VaultAuth's spec. */
struct op_auth_spec {
	enum op_auth_method method;
	char *mount;    /* auth/<mount>/login; defaults to the method's name */
	char *vault_ns; /* X-Vault-Namespace, or NULL */
	char *conn_ref; /* vaultConnectionRef as written ("" when unset) */
	char *role;     /* kubernetes, jwt */
	char *sa;       /* kubernetes, jwt: the service account */
	struct strlist audiences;
	long expiration_s; /* tokenExpirationSeconds, default 600 */
	char *role_id;     /* appRole */
	char *secret_ref;  /* appRole (key "id"), jwt (key "jwt") */
	json_t *params;    /* extra login fields (object), never NULL */
	struct strlist headers;
};

/* Parses auth. 0, or TROVE_ERR_INVALID with *err naming the field
 * ("spec.method: aws is not supported", "spec.kubernetes.role: required"). */
int op_auth_spec_parse(const json_t *auth, struct op_auth_spec *out, char **err);
void op_auth_spec_release(struct op_auth_spec *a);

/* Seconds after a login or renewal at which the token is renewed: two
 * thirds of ttl_s (ttl_s 0: never, a root-like token). */
long op_token_renew_after(long ttl_s);

/* Appends "Name: value" for each string member of obj (an object of
 * headers) to l. False (l unchanged past the bad one) when a name or value
 * is not a string or holds CR, LF or a name holds ':'. */
bool op_header_lines(const json_t *obj, struct strlist *l);

/* ---- The clients (op_vault.c) ---------------------------------------- */

/* Why a reconcile failed: reason is a VSO event reason ("VaultClientError",
 * "VaultClientConfigError", ...; static), msg a heap sentence free of
 * secret values. */
struct op_fail {
	const char *reason;
	char *msg;
};

void op_fail_set(struct op_fail *f, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void op_fail_release(struct op_fail *f);

/* A logged-in client for one resource, checked out of the pool. */
struct op_vault {
	struct api_client *api;
	struct strlist headers; /* extra lines for every request */
	char *pool_key;         /* which pool it returns to */
	char *token_key;        /* which cached token it carries */
};

/* Resolves obj's VaultAuth and VaultConnection from the informers'
 * caches, checks allowedNamespaces, and hands back a client carrying a
 * valid token (logging in as the VaultAuth says when none is cached).
 * 0, or an error with f set (f->reason "VaultClientConfigError" for
 * references, namespaces and specs; "VaultClientError" when Trove or the
 * API server could not be reached or refused the login). */
int op_vault_get(struct op *o, const json_t *obj, struct op_vault *out, struct op_fail *f);

/* Sends one request with v's headers (api_send_extra). Returns what
 * api_send returns. A 403 drops the cached token so the next use logs in
 * again. */
int op_vault_send(struct op *o, struct op_vault *v, const char *method, const char *path, const char *query,
                  const json_t *body, struct api_response *resp);

/* Returns v's client to its pool (or frees it). NULL-safe members. */
void op_vault_put(struct op *o, struct op_vault *v);

#endif
