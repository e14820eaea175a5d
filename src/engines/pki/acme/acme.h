/* acme.h — the PKI engine's ACME server (RFC 8555, as Vault 1.14+ serves
 * it): the contract shared by the files that hold its routes.
 *
 * Storage (the mount's view, through the barrier):
 *   config/cluster            {"path", "aia_path"}: the mount's absolute URL
 *   config/acme               config/acme's fields (acme_config_load)
 *   acme/eab/<id>             an unused EAB key: {"key_type": "hs",
 *                             "key" (base64url), "acme_directory",
 *                             "created_on"}
 *   acme/accounts/<id>        an account: {"id", "directory", "jwk",
 *                             "thumbprint", "status", "contact" [],
 *                             "eab_kid", "created_on", and for tidy
 *                             "revoked_on" (deactivated or revoked by
 *                             tidy), "max_cert_expiry" (unix s)}
 *   acme/thumbprints/<tp>     {"id"}: the account of a key
 *   acme/orders/<account>/<id>
 *                             an order: {"id", "account", "directory",
 *                             "status", "expires" (unix s), "identifiers",
 *                             "authorizations" [ids], "serial",
 *                             "cert_expiry" (unix s), "error"}
 *   acme/authz/<account>/<id>
 *                             an authorization: {"id", "account", "order",
 *                             "identifier", "wildcard", "status", "expires",
 *                             "challenges": [{"type", "token", "status",
 *                             "validated", "error", "tries", "due" (unix s:
 *                             the next attempt, while processing)}]}
 *   acme/certs/<serial>       {"account", "order"}: who obtained it
 * Ids are v4 UUIDs. A directory is the path below the mount that ends in
 * "acme/" ("acme/", "roles/r/acme/", "issuer/i/acme/",
 * "issuer/i/roles/r/acme/"); an account belongs to the one it was made in.
 *
 * Every answer is ACME's, never Vault's envelope: JSON or an RFC 7807
 * problem document as the raw body, with Replay-Nonce and Link
 * rel="index" (they reach the client when the mount's
 * allowed_response_headers names them). */
#ifndef TROVE_PKI_ACME_H
#define TROVE_PKI_ACME_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/engine.h"
#include "engines/pki/pki.h"
#include "jws.h"
#include "nonce.h"

#define ACME_CLUSTER_CONFIG "config/cluster"
#define ACME_CONFIG "config/acme"
#define ACME_EAB_PREFIX "acme/eab/"
#define ACME_ACCOUNT_PREFIX "acme/accounts/"
#define ACME_THUMB_PREFIX "acme/thumbprints/"
#define ACME_ORDER_PREFIX "acme/orders/"
#define ACME_AUTHZ_PREFIX "acme/authz/"
#define ACME_CERT_PREFIX "acme/certs/"

#define ACME_ORDER_LIFETIME_S (24 * 3600) /* an order and its authorizations */
#define ACME_MAX_IDENTIFIERS 100          /* per order */
#define ACME_MAX_ORDERS 1000              /* kept per account */
#define ACME_VALIDATE_TRIES 3             /* a challenge's attempts */
#define ACME_RETRY_DELAY_MS 2000          /* doubled after each failure */
#define ACME_STALE_S 15                   /* an attempt this overdue lost its job */
#define ACME_RATE_WINDOW_S 60
#define ACME_RATE_NONCES 600 /* new-nonce per client address per window */
#define ACME_RATE_ORDERS 300 /* new-order per account per window */

/* The per-mount state: the nonce store, the lock that makes each
 * read-modify-write of an order or authorization whole (requests and
 * validation jobs), and the rate counters. */
struct acme_rate;
struct acme_state {
	struct acme_nonces *nonces;
	pthread_mutex_t mu;
	struct acme_rate *rate;
};

/* m's ACME state, or NULL (m NULL, or a mount without it). Every use
 * goes through here: the one place that knows where the engine keeps
 * it. */
struct acme_state *acme_state(struct mount *m);
/* Makes (NULL when out of memory) / frees the ACME part of a mount's
 * state (pki.c). */
struct acme_state *acme_state_new(void);
void acme_state_free(struct acme_state *st);

/* Counts one use of key (an address or an account id) in the current
 * window; false when it passes limit (*retry_after: seconds to wait). */
bool acme_rate_allow(struct acme_state *st, const char *kind, const char *key, int limit,
                     int64_t *retry_after);

/* config/acme with Vault's defaults for what was never written (new
 * reference). */
int acme_config_load(struct storage *s, json_t **cfg);
/* config/cluster's path without its trailing '/', or NULL (caller frees). */
char *acme_cluster_path(struct storage *s);

/* The directory a request's path names ("acme/", "roles/r/acme/",
 * "issuer/i/acme/", "issuer/i/roles/r/acme/"), from its role and
 * issuer_ref parameters; caller frees. */
char *acme_directory_of(const struct request *req);

/* One ACME request being served. */
struct acme_ctx {
	struct request *req;
	struct response *resp;
	struct acme_state *st;
	json_t *cfg; /* config/acme */
	char *dir;   /* the directory: rel up to and including "acme/" */
	char *base;  /* absolute URL of the directory, ending in '/' */
	char *url;   /* absolute URL of this request: a JWS's url must be it */
	char *role;  /* the role issuing here, or NULL: sign-verbatim */
	char issuer_id[PKI_ID_MAX];
	struct acme_jws jws; /* the request's JWS (POST) */
	json_t *payload;     /* its payload as JSON, or NULL for POST-as-GET */
	json_t *account;     /* the signing account (kid requests), or NULL */
	const char *account_id;
};

/* What the helpers below return once the answer is in resp (an ACME
 * problem or reply); acme_end turns it into the handler's 0. */
#define ACME_ANSWERED 1

/* Sets the request up: ACME enabled, config/cluster set, the directory's
 * role and issuer allowed (answering the problem or error otherwise).
 * post: the body is a JWS to parse, check (url, nonce) and verify; with
 * by_jwk the header must hold a "jwk" (new-account), else a "kid" of a
 * valid account of this directory (revoke-cert takes either: by_jwk
 * false and allow_jwk true). Returns 0 when the handler may go on; else
 * ACME_ANSWERED (a problem is in resp) or an error (Vault's, in resp),
 * and the handler returns acme_end's value. */
int acme_begin(struct acme_ctx *c, struct request *req, struct response *resp, bool post, bool by_jwk,
               bool allow_jwk);
/* 0 when the path's :kid is the signing account, else ACME_ANSWERED
 * (401 unauthorized answered). */
int acme_path_account(struct acme_ctx *c);
/* Releases the context; returns r, or 0 for ACME_ANSWERED. */
int acme_end(struct acme_ctx *c, int r);

/* Answers an ACME problem (status, "urn:ietf:params:acme:error:<type>",
 * detail) with a fresh Replay-Nonce. Returns ACME_ANSWERED. */
int acme_problem(struct acme_ctx *c, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers 429 rateLimited about what (a plural: "new nonces") with
 * Retry-After: wait seconds. Returns ACME_ANSWERED. */
int acme_rate_limited(struct acme_ctx *c, int64_t wait, const char *what);
/* Answers obj (consumed) as JSON with status, a Replay-Nonce and Link
 * rel="index"; location (or NULL) as the Location header. Returns
 * ACME_ANSWERED. */
int acme_reply(struct acme_ctx *c, int status, json_t *obj, const char *location);
/* The same as a JSON string (new reference). */
json_t *acme_url_json(const struct acme_ctx *c, const char *tail, const char *id);
/* Adds Link: <url>;rel="rel". */
void acme_link(struct acme_ctx *c, const char *url, const char *rel);
/* base + tail (+ id), a new string. */
char *acme_url(const struct acme_ctx *c, const char *tail, const char *id);

/* Record access: the JSON at prefix+id, or TROVE_ERR_NOT_FOUND. Orders
 * and authorizations are kept per account: their id here is
 * "<account id>/<id>" (acme_rec_id); a route parameter never holds a
 * '/', so one account cannot name another's records. */
int acme_get(struct storage *s, const char *prefix, const char *id, json_t **out);
int acme_put(struct storage *s, const char *prefix, const char *id, const json_t *rec);

/* A record's status when its "expires" (unix seconds) has passed:
 * "invalid" for pending/ready/processing ones (written back by the
 * caller). */
bool acme_expired(const json_t *rec, int64_t now);

/* The order's status brought up to date from its authorizations
 * (pending -> ready when all are valid, -> invalid when one is invalid
 * or it expired); stored when it changed. Call under st->mu. */
int acme_order_refresh(struct storage *s, json_t *order);

/* The JSON objects RFC 8555 answers (new references). */
json_t *acme_account_json(const struct acme_ctx *c, const json_t *acct);
json_t *acme_order_json(const struct acme_ctx *c, const json_t *order);
json_t *acme_authz_json(const struct acme_ctx *c, const json_t *authz);
json_t *acme_challenge_json(const struct acme_ctx *c, const json_t *authz, const json_t *ch);

/* Starts validating one challenge in the background (the record is
 * already "processing"). */
int acme_validation_schedule(struct mount *m, const char *authz_id, const char *type, int64_t delay_ms);

/* Issues the certificate of a ready order from the CSR (base64url DER,
 * checked against the order's identifiers). Returns 0 with *cert the
 * caller's and issuer_id filled, ACME_ANSWERED (a problem answered: a
 * bad CSR, a refusal), or an error. */
int acme_issue(struct acme_ctx *c, const json_t *order, const char *csr_der_b64url, X509 **cert,
               char issuer_id[PKI_ID_MAX]);

/* --- tidy (tidy.c) --- */

/* What acme_tidy did: tidy-status's total_acme_account_count,
 * acme_account_revoked_count, acme_account_deleted_count,
 * acme_orders_deleted_count. */
struct acme_tidy_counts {
	int64_t accounts, accounts_revoked, accounts_deleted, orders_deleted;
};

/* Vault's tidy_acme over the mount's ACME records at time now (Unix s):
 * an order goes, with its authorizations and acme/certs/ entry, once its
 * certificate's notAfter + cert_buffer has passed (without a
 * certificate: once the order expired); an account none of whose orders
 * is left, made and whose last certificate expired more than
 * account_buffer ago, is revoked ("status": "revoked", "revoked_on"),
 * and a revoked or deactivated one whose revoked_on is that old is
 * deleted with its thumbprint; EAB keys unused account_buffer after
 * their creation go. Each account is tidied under st->mu (st NULL: no
 * lock); counts are added to under lock (NULL: none); stops between
 * accounts once *cancel (NULL: never) is true. 0 or a storage error. */
int acme_tidy(struct storage *s, struct acme_state *st, int64_t now, int64_t cert_buffer, int64_t account_buffer,
              struct acme_tidy_counts *counts, pthread_mutex_t *lock, const atomic_bool *cancel);

/* "<account>/<id>" into out. */
#define ACME_REC_ID_MAX 80
void acme_rec_id(char out[ACME_REC_ID_MAX], const char *account, const char *id);

/* Handlers (account.c, order.c, authz.c), for routes.c's table. */
int acme_h_directory(struct request *req, struct response *resp);
int acme_h_nonce(struct request *req, struct response *resp);
int acme_h_new_account(struct request *req, struct response *resp);
int acme_h_account(struct request *req, struct response *resp);
int acme_h_key_change(struct request *req, struct response *resp);
int acme_h_new_order(struct request *req, struct response *resp);
int acme_h_order(struct request *req, struct response *resp);
int acme_h_orders(struct request *req, struct response *resp);
int acme_h_finalize(struct request *req, struct response *resp);
int acme_h_cert(struct request *req, struct response *resp);
int acme_h_authz(struct request *req, struct response *resp);
int acme_h_challenge(struct request *req, struct response *resp);
int acme_h_revoke(struct request *req, struct response *resp);

/* Route tables. */
extern const struct route pki_acme_config_routes[]; /* config.c: config/cluster, config/acme, eab */
extern const struct route pki_acme_routes[];        /* routes.c: the ACME endpoints */

#endif
