/* request.h — the logical request and response every handler sees.
 *
 * The HTTP layer turns an HTTP request into a struct request (operation,
 * logical path, token, JSON data) and renders a struct response into
 * Vault's JSON envelope; engines never see HTTP. Both structs belong to the
 * code that created them (request_init/request_release); handlers fill the
 * response through the helpers below. */
#ifndef TROVE_REQUEST_H
#define TROVE_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

struct acl;
struct audit_reuse;
struct core;
struct mount;
struct route;
struct storage;
struct token_entry;

enum op {
	OP_READ,
	OP_CREATE,
	OP_UPDATE,
	OP_PATCH,
	OP_DELETE,
	OP_LIST,
	OP_HEAD,
	OP__COUNT
};

/* "read", "create", ... for logs and audit. */
const char *op_name(enum op op);

#define ROUTE_MAX_PARAMS 8

/* The refusal of a path the API does not take (control bytes, "." or
 * ".." segments, an empty segment). */
/* The most DER bytes of client certificate chain a request carries. */
#define REQUEST_PEER_CHAIN_MAX 65536

#define REQUEST_PATH_INVALID "invalid path: no NUL or control bytes, \".\" or \"..\" segments, or \"//\""

struct request {
	char id[37];              /* v4 UUID */
	enum op op;
	char *path;               /* logical path (no /v1/), owned */
	size_t empty_segment;     /* > 0: path[empty_segment - 1] and
	                           * path[empty_segment] are the first "//" (the
	                           * HTTP layer lets it through for the router
	                           * to refuse unless ROUTE_TAIL_DATA allows) */
	char *path_as_sent;       /* the path before its names were lower-cased
	                           * (ROUTE_NAMES_CI), owned; NULL when the
	                           * client sent the canonical spelling */
	json_t *data;             /* JSON object, owned: query, then the body
	                           * once request_body_load has run */
	struct {
		const char *ptr;  /* bytes not yet parsed: borrowed from the
		                   * HTTP layer, or owned (below) */
		size_t len;
		char *owned;      /* a copy that outlives the HTTP request */
		bool form;        /* sent as a form (x-www-form-urlencoded) */
	} body;                   /* empty once loaded */
	char *client_token;       /* owned, wiped on release; NULL if none */
	char *content_type;       /* owned; NULL if none */
	char remote_addr[64];
	int remote_port;
	json_t *headers;          /* owned: {lowercase name: value}, kept only
	                           * when audit records some headers; or NULL */
	/* The certificate chain the client presented on a TLS listener:
	 * DER certificates one after another, leaf first (at most
	 * REQUEST_PEER_CHAIN_MAX bytes), owned; NULL on plain HTTP, without a
	 * client certificate, or on a route that needs a token (only
	 * unauthenticated routes, logins, get it). Never logged or audited. */
	struct {
		unsigned char *der;
		size_t len;
	} peer_chain;
	struct core *core;        /* borrowed */

	/* Filled by the router. */
	struct mount *mount;      /* reference (released with the request) or NULL */
	struct storage *storage;  /* the mount's private view (borrowed via mount) */
	const char *rel;          /* path below the mount ("" at its root); points into path */
	const struct route *route;
	const char *params[ROUTE_MAX_PARAMS]; /* owned copies of :name segments */
	const char *param_names[ROUTE_MAX_PARAMS];
	int nparams;
	/* Where path holds the values of secret ("#name") parameters, in
	 * order: masked in audit entries, redacted in the server log. */
	struct path_span {
		size_t off, len;
	} secret_spans[ROUTE_MAX_PARAMS];
	int nsecret;
	struct token_entry *token; /* resolved token, owned; NULL if unauthenticated */
	struct acl *acl;           /* the token's ACL (reference) or NULL */
	bool sudo;                 /* the ACL granted sudo on this path */
	bool policy_checked;       /* an ACL decision was made ... */
	bool policy_allowed;       /* ... and it allowed the request */
	struct strlist granting;   /* policies that allowed the request */
	struct audit_reuse *audit_reuse; /* owned: audit text shared by the
	                                  * request's two entries, or NULL */
	int64_t wrap_ttl;          /* X-Vault-Wrap-TTL in seconds; 0 = not wrapped */
	/* Served on an event loop (a route's reads, or a try_inline write): a
	 * handler that would write durable storage returns
	 * TROVE_ERR_WOULD_BLOCK before any side effect, and the request runs
	 * again on the worker pool; so does one whose token has a use limit
	 * (spending a use is a durable write). */
	bool no_block;
	/* Set by the HTTP layer: an HA standby serves this read itself
	 * (ha_reads_serves_here). A token with a use limit is not served
	 * there, since each node would count uses on its own copy: the
	 * router then sets send_to_active, spending no use, and the HTTP
	 * layer sends the request to the active node, which counts it. */
	bool standby_read;
	bool send_to_active;
	bool help;                   /* GET with a non-empty "help" query parameter: answered with
	                              * the matched route's help (router.h), not its handler */
	bool audit_request_recorded; /* its request entry is written: a
	                              * second run does not write another */
};

struct response {
	int status;         /* 0 = 200 with a body, 204 without */
	json_t *data;       /* envelope "data" object or NULL */
	json_t *auth;       /* envelope "auth" object or NULL */
	json_t *warnings;   /* JSON array of strings or NULL */
	json_t *bare;       /* if set: sent as the whole body, no envelope */
	json_t *errors;     /* JSON array of strings; set on failure */
	json_t *wrap_info;  /* set when the response was wrapped: the envelope
	                     * then carries only this (wrapping.h) */
	bool inject_data;   /* also copy data's keys to the top level */
	int64_t lease_duration;
	bool renewable;
	/* Set by a handler that leases what it returns: after the handler
	 * the router registers the lease (expiration.h) and fills lease_id,
	 * lease_duration and renewable. */
	struct {
		bool set;
		int64_t ttl;      /* requested; 0 = the mount's default */
		int64_t max_ttl;  /* the engine's cap; 0 = the mount's max */
		bool renewable;
		json_t *internal; /* the engine's own data, kept with the lease
		                   * for lease_revoke/lease_renew; never shown */
	} secret;
	char *lease_id;     /* owned; NULL when nothing is leased */
	/* Headers the handler asks to send (Vault's logical response
	 * headers: ACME's Replay-Nonce, Location, Link): {name: [values]},
	 * owned; set with response_header_add. After the handler the router
	 * keeps only those the mount's allowed_response_headers names
	 * (case-insensitively), and none when it names none. */
	json_t *headers;
	char *text;            /* owned: if set, sent as the whole body ... */
	size_t text_len;       /* ... of this many bytes (0: strlen(text);
	                        * set it for binary bodies such as DER) ... */
	const char *text_type; /* ... with this content type (static) */
	/* Why a request that ends in a 5xx failed, for the one log line the
	 * listener writes about it (response_fail_detail): static strings,
	 * never sent, never secret. NULL: nothing more to say. */
	const char *fail_what;
	const char *fail_error;
};

void request_init(struct request *req);
void request_release(struct request *req);
/* Undoes router_match: the bound parameters freed, the mount released,
 * mount, storage, rel and route cleared (to match again). */
void request_unmatch(struct request *req);
void response_init(struct response *resp);
void response_release(struct response *resp);

/* The request body is kept as bytes until the router has matched the
 * route and checked the token: a request that is refused never has its
 * body turned into JSON (request_body.c).
 *
 * request_body_set records len bytes at p (borrowed: they must stay valid
 * until request_body_load or request_body_own); form: the content type
 * was a form. An empty or all-whitespace body leaves nothing pending. */
void request_body_set(struct request *req, const char *p, size_t len, bool form);
/* Copies a borrowed pending body, so the request no longer depends on the
 * HTTP request's memory (before handing it to another thread). */
void request_body_own(struct request *req);
/* Forgets a pending body unparsed (an owned copy is wiped and freed). */
void request_body_drop(struct request *req);
/* Bytes of body not yet loaded (0 once loaded or when there was none). */
size_t request_body_pending(const struct request *req);
/* Parses the pending body into req->data: a JSON object (within
 * json_limits_body; null means no data) replaces it, a form adds its
 * pairs. Then forgets the bytes (an owned copy is wiped). Returns 0 (also
 * when nothing was pending), or TROVE_ERR_INVALID with the reason in
 * resp->errors. */
int request_body_load(struct request *req, struct response *resp);

/* The pending body's bytes, or NULL (*len 0) when there is none: for a
 * ROUTE_RAW_BODY route, whose body the router never parses. Borrowed:
 * valid until the request is released. */
const char *request_body_bytes(const struct request *req, size_t *len);

/* Named route parameter (":name" or "#name" in the route pattern), or
 * NULL. */
const char *request_param(const struct request *req, const char *name);

/* Calls piece for each run of req->path in order: the text between
 * secret parameters with secret false, each secret parameter's value with
 * secret true. A path without secret parameters is one clear run. */
typedef void (*path_piece_fn)(void *ctx, const char *s, size_t n, bool secret);
void request_path_pieces(const struct request *req, path_piece_fn piece, void *ctx);

#define REQUEST_PATH_REDACTED "[redacted]"
/* req->path with each secret parameter's value replaced by
 * REQUEST_PATH_REDACTED, for the server log. Caller frees; "" for no
 * path. */
char *request_path_redacted(const struct request *req);

/* Adds a formatted message to resp->errors and returns err, so a handler
 * can `return response_error(resp, TROVE_ERR_INVALID, "missing %s", k);` */
int response_error(struct response *resp, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void response_warning(struct response *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Notes what failed (a static string) and the error it failed with, for
 * the listener's log line about the failed request: core code returns
 * the detail and the edge logs it, once. */
void response_fail_detail(struct response *resp, const char *what, int err);

/* Adds a header value to resp->headers (several values of one name are
 * sent as several header lines, in order). name must be an HTTP token,
 * value printable ASCII or tab (no CR or LF: no header injection), each
 * at most 1024 bytes: else TROVE_ERR_INVALID and nothing is added. */
int response_header_add(struct response *resp, const char *name, const char *value);

/* Sets resp->data (consumes the reference). */
void response_set_data(struct response *resp, json_t *data);

#endif
