/* kube.h — the Kubernetes API client `trove secrets-operator` runs on.
 *
 * What a controller needs and nothing more: where the API server is and
 * how to authenticate (in-cluster or a kubeconfig), one-shot requests
 * (GET, POST, PUT, PATCH, DELETE with JSON bodies), informers (list, then
 * watch from the list's resourceVersion, with bookmarks, re-listing on
 * 410 Gone, keeping a local copy of every object), leader election over a
 * coordination.k8s.io/v1 Lease, and the TokenRequest API.
 *
 * Transport: HTTP/1.1 over TLS (plain HTTP only for an http:// server,
 * which tests use) on src/api's connection and response reader
 * (net_conn.h, http_response.h). A struct kube_client is safe to use from
 * any number of threads: one-shot requests take a kept connection from a
 * small pool (or open one); each informer and the leader elector hold
 * their own. Every call has a deadline (KUBE_REQUEST_TIMEOUT_MS); nothing
 * waits forever. Errors never print: they come back as codes with a reason.
 *
 * Objects are jansson values exactly as the API server sends them.
 *
 * Bounds: a response body is at most KUBE_MAX_BODY; one watch event line at
 * most KUBE_MAX_EVENT; an object in an informer's cache is whatever the
 * server sent (the server bounds it). Bad bytes from the server are an
 * error for that call (or a re-list for a watch), never a crash. */
#ifndef TROVE_OPERATOR_KUBE_H
#define TROVE_OPERATOR_KUBE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

#define KUBE_MAX_BODY ((size_t)64 << 20)
#define KUBE_MAX_EVENT ((size_t)16 << 20)
#define KUBE_REQUEST_TIMEOUT_MS 30000L

/* ---- Where the API server is ------------------------------------------ */

struct kube_config {
	char *server;    /* "https://10.0.0.1:443" (no trailing '/') */
	char *ca_pem;    /* PEM of the CA bundle to verify the server, or NULL: system store */
	bool insecure;   /* insecure-skip-tls-verify */
	char *tls_server_name; /* NULL: the server's host */
	char *token;     /* bearer token, or NULL (wiped on free) */
	char *token_file; /* re-read when it changes (projected tokens rotate), or NULL */
	char *client_cert_pem; /* client certificate and key (PEM), or NULL */
	char *client_key_pem;  /* wiped on free */
	char *namespace; /* the default namespace (in-cluster: the pod's), or "default" */
};

/* The in-cluster configuration: KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT (an IPv6 host bracketed), and under dir (NULL:
 * "/var/run/secrets/kubernetes.io/serviceaccount") the files token (kept as
 * token_file), ca.crt and namespace. Returns 0, TROVE_ERR_NOT_FOUND when not
 * in a pod (the variables unset), or TROVE_ERR_INVALID; *err (heap) says
 * why on failure. */
int kube_config_in_cluster(const char *dir, struct kube_config *out, char **err);

/* A kubeconfig file (YAML or JSON): the context named context (NULL: the
 * file's current-context), its cluster (server, certificate-authority or
 * -data, insecure-skip-tls-verify, tls-server-name) and user (token,
 * tokenFile, client-certificate/-key or -data; exec and auth-provider
 * plugins are refused by name), and the context's namespace. Relative
 * file names are relative to the kubeconfig's directory. Returns 0, or
 * TROVE_ERR_INVALID / TROVE_ERR_NOT_FOUND with *err naming the key or the
 * missing file. */
int kube_config_from_file(const char *path, const char *context, struct kube_config *out, char **err);

/* As controllers find it: the file given by flag (-kubeconfig) when not
 * NULL; else in-cluster when KUBERNETES_SERVICE_HOST is set; else the first
 * file of $KUBECONFIG (colon-separated); else ~/.kube/config. */
int kube_config_load(const char *flag, struct kube_config *out, char **err);

/* Frees (wiping the token and key). NULL-safe; the struct may be reused. */
void kube_config_release(struct kube_config *c);

/* ---- One-shot requests ----------------------------------------------- */

struct kube_client;

/* Makes a client holding a copy of cfg. 0, or TROVE_ERR_INVALID (a bad
 * server URL, unreadable PEM) with *err. */
int kube_client_new(const struct kube_config *cfg, struct kube_client **out, char **err);
void kube_client_free(struct kube_client *k);

/* The answer to one request. */
struct kube_resp {
	int status;  /* HTTP status; 0 when no answer arrived */
	json_t *body; /* the parsed JSON body (owned), or NULL when empty or not JSON */
	char *error; /* heap: why the call failed — the transport's reason, or
	              * for status >= 400 the Status object's message */
};

void kube_resp_init(struct kube_resp *r);
void kube_resp_release(struct kube_resp *r);

/* Content types for PATCH. */
#define KUBE_MERGE_PATCH "application/merge-patch+json"
#define KUBE_JSON_PATCH "application/json-patch+json"
#define KUBE_STRATEGIC_PATCH "application/strategic-merge-patch+json"

/* Sends method (GET, POST, PUT, PATCH, DELETE) to path (starting with
 * '/', query included, already escaped: build it with kube_path) with body
 * (NULL: none) as content_type (NULL: application/json). Returns 0 when an
 * answer arrived, whatever its status (r->status, r->body, r->error for
 * >= 400); TROVE_ERR_UPSTREAM or TROVE_ERR_TIMEOUT with r->error when none
 * did (after one retry on a fresh connection when a kept one was found
 * closed). */
int kube_request(struct kube_client *k, const char *method, const char *path, const json_t *body,
                 const char *content_type, struct kube_resp *r);

/* A kind of resource, as its REST path names it. */
struct kube_resource {
	const char *group;   /* "" for the core group */
	const char *version; /* "v1", "v1beta1" */
	const char *plural;  /* "secrets", "vaultstaticsecrets" */
	bool namespaced;
};

extern const struct kube_resource KUBE_SECRETS;     /* v1 secrets */
extern const struct kube_resource KUBE_EVENTS;      /* v1 events */
extern const struct kube_resource KUBE_LEASES;      /* coordination.k8s.io/v1 leases */
extern const struct kube_resource KUBE_DEPLOYMENTS; /* apps/v1 */
extern const struct kube_resource KUBE_STATEFULSETS;
extern const struct kube_resource KUBE_DAEMONSETS;
extern const struct kube_resource KUBE_ARGO_ROLLOUTS; /* argoproj.io/v1alpha1 rollouts */

/* "/api/v1/namespaces/<ns>/secrets/<name>[/<sub>][?<query>]" or
 * "/apis/<group>/<version>/...": ns NULL for all namespaces (or a
 * cluster-scoped kind), name NULL for the collection, sub NULL or e.g.
 * "status", query NULL or already escaped ("labelSelector=a%3Db"). ns and
 * name are percent-escaped. Heap string; NULL only on allocation failure. */
char *kube_path(const struct kube_resource *res, const char *ns, const char *name, const char *sub,
                const char *query);

/* Shorthands on kube_request. Each returns what kube_request returns; the
 * caller reads r->status (404 not found, 409 conflict, ...). */
int kube_get(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
             struct kube_resp *r);
int kube_create(struct kube_client *k, const struct kube_resource *res, const char *ns, const json_t *obj,
                struct kube_resp *r);
/* PUT: obj must carry metadata.resourceVersion (optimistic concurrency:
 * 409 when it is stale). sub: NULL or "status". */
int kube_replace(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
                 const char *sub, const json_t *obj, struct kube_resp *r);
/* PATCH with content type type (KUBE_MERGE_PATCH for custom resources:
 * the API server refuses strategic merge on them). sub: NULL or "status". */
int kube_patch(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
               const char *sub, const char *type, const json_t *patch, struct kube_resp *r);
int kube_delete(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
                struct kube_resp *r);

/* POST .../serviceaccounts/<sa>/token (TokenRequest) for audiences
 * (n may be 0: the API server's default) and expiration_seconds (the API
 * server may shorten it; >= 600 as Kubernetes requires). 0 with *token
 * (heap; the caller wipes and frees) and *expires_at (unix seconds, from
 * status.expirationTimestamp); else an error with *err. */
int kube_token_request(struct kube_client *k, const char *ns, const char *sa, const char *const *audiences,
                       size_t n, long expiration_seconds, char **token, long *expires_at, char **err);

/* ---- Informers --------------------------------------------------------- */

enum kube_event { KUBE_ADDED, KUBE_MODIFIED, KUBE_DELETED };

/* Called on the informer's thread for each change, after the cache holds
 * it (for DELETED: after it left the cache; obj is its last state).
 * obj is borrowed for the call. Keep it short: enqueue work, do not call
 * the API server from here. */
typedef void (*kube_event_fn)(void *ctx, enum kube_event ev, const json_t *obj);

struct kube_informer;

/* Starts a thread that lists res in ns (NULL: all namespaces) with
 * label_selector (NULL: all), delivers every object as ADDED, then watches
 * from the list's resourceVersion (allowWatchBookmarks, a server-side
 * timeoutSeconds, resumed from the last resourceVersion seen). A 410 Gone —
 * as the answer's status or as an ERROR event in a 200 stream — or any
 * undecodable event re-lists and delivers the difference (ADDED/MODIFIED
 * for objects new or changed, DELETED for those gone). Transport failures
 * back off (jittered, up to 30 s) and resume. 0, or an error with *err. */
#define KUBE_INFORMER_KEEP_METADATA 1u /* cache only apiVersion, kind and metadata of
                                        * each object (Secrets: no data kept in memory);
                                        * fn still sees the whole object */
int kube_informer_start(struct kube_client *k, const struct kube_resource *res, const char *ns,
                        const char *label_selector, unsigned flags, kube_event_fn fn, void *ctx,
                        struct kube_informer **out, char **err);
/* The cached object, or NULL. The cache keeps each object as compact JSON
 * text (a tree costs several times as much), so this parses it anew: a
 * NEW reference, the caller's own copy (changing it changes nothing
 * else); the caller decrefs. */
json_t *kube_informer_get(struct kube_informer *inf, const char *ns, const char *name);
/* Every cached object, each parsed anew (a new JSON array), for
 * re-queueing all of a kind. */
json_t *kube_informer_list(struct kube_informer *inf);
/* Whether the first list completed and its objects went to fn. */
bool kube_informer_synced(struct kube_informer *inf);
/* Stops the thread (closing its watch) and frees. NULL-safe. */
void kube_informer_stop(struct kube_informer *inf);

/* ---- Leader election -------------------------------------------------- */

struct kube_leader_opts {
	const char *ns;       /* the Lease's namespace */
	const char *name;     /* the Lease's name */
	const char *identity; /* this replica (pod name + random suffix) */
	int lease_seconds;    /* leaseDurationSeconds (15) */
	int renew_deadline_seconds; /* give up leadership when not renewed within (10) */
	int retry_seconds;    /* how often to try and renew (2) */
	/* Called on the elector's thread when this replica starts and stops
	 * leading (stop also when renewal failed past the deadline). */
	void (*on_started)(void *ctx);
	void (*on_stopped)(void *ctx);
	void *ctx;
};

struct kube_leader;

/* Starts a thread that acquires and renews the Lease as client-go's
 * leaderelection does: holderIdentity, leaseDurationSeconds, acquireTime
 * and renewTime (MicroTime, RFC 3339 with six fractional digits),
 * leaseTransitions; updates by PUT with the read resourceVersion (a 409
 * means another replica won: re-read); a Lease held by another identity is
 * taken only after its renewTime + leaseDurationSeconds passed by the
 * local clock since it was last seen changing. */
int kube_leader_start(struct kube_client *k, const struct kube_leader_opts *o, struct kube_leader **out,
                      char **err);
bool kube_leader_is_leader(struct kube_leader *l);
/* Stops; a held Lease is released (holderIdentity cleared,
 * leaseDurationSeconds 1) so another replica takes over at once. */
void kube_leader_stop(struct kube_leader *l);

/* ---- Time ------------------------------------------------------------- */

/* Kubernetes' time formats, UTC: "2026-12-06T19:31:26Z" (Time) and
 * "2026-12-06T19:31:26.123456Z" (MicroTime). into has room for 32 bytes. */
void kube_time(long unix_seconds, char *into);
void kube_micro_time(long long unix_micros, char *into);
/* Parses either form (and an offset "+01:00"). 0 or TROVE_ERR_INVALID. */
int kube_parse_time(const char *s, long long *unix_micros);

#endif
