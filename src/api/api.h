/* api.h — Trove's client library for the Vault-compatible HTTP API.
 *
 * One struct api_client holds a copy of its config and one libcurl easy
 * handle (or, with native_transport, one kept connection of Trove's own
 * HTTP/1.1 client: transport_native.h); use one client per thread (a
 * client is not shared, nothing else is global, so any number of threads
 * may each run their own). The library never prints and never exits:
 * every call returns 0 or a negative TROVE_ERR_* code, and a response
 * carries the HTTP status, the body, its parsed JSON and a detail message
 * for failures.
 *
 * A request is retried (config max_retries times, waiting with
 * exponential backoff and jitter, or the server's Retry-After) when the
 * server answers 412, 429 or any 5xx but 501, or when the connection
 * failed; never after a timeout (the timeout covers the whole call) or a
 * TLS failure. This is the policy of Vault's Go client, which retries
 * every method alike. See retry.h. */
#ifndef TROVE_API_H
#define TROVE_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api/config.h"
#include "buf.h"

#define API_MAX_BODY ((size_t)64 << 20) /* response body cap */

/* Why an attempt got no usable answer (resp->failure). */
enum api_failure {
	API_FAIL_NONE,     /* an HTTP answer arrived */
	API_FAIL_CONNECT,  /* no connection (refused, no route, name unknown) */
	API_FAIL_EXCHANGE, /* connected, but the answer broke off or never came */
	API_FAIL_TLS,      /* handshake or certificate verification failed */
	API_FAIL_TIMEOUT,  /* the call's time ran out */
	API_FAIL_TOO_LARGE, /* the body passed API_MAX_BODY */
	API_FAIL_LOCAL,    /* the request could not be built or set up */
};

/* One call's outcome. Initialise with api_response_init(), release with
 * api_response_release() (which wipes the body: answers such as sys/init
 * carry key material). */
struct api_response {
	long status;      /* HTTP status of the last attempt, 0 when none arrived */
	struct buf body;  /* raw body */
	json_t *json;     /* parsed body; NULL when empty or not JSON. Owned. */
	char *method;     /* owned copies, for messages */
	char *url;
	char *error;      /* why the call failed (transport or API errors); owned */
	enum api_failure failure;
	long retry_after_ms; /* from a Retry-After header (seconds), else -1 */
	int attempts;        /* tries made, 1 + retries */
	/* The final answer's header lines, "Name: value" without CRLF, when
	 * the transport keeps them (libcurl does); at most API_MAX_RESP_HEADERS. */
	struct strlist headers;
};

#define API_MAX_RESP_HEADERS 64

struct api_client;

/* Validates cfg (address scheme http or https and a host; header values
 * free of line breaks) and makes a client holding a copy of it. Returns 0
 * with *out set, or TROVE_ERR_INVALID with *detail (heap, caller frees;
 * detail may be NULL) naming the bad setting, or TROVE_ERR_NOMEM /
 * TROVE_ERR_INTERNAL when libcurl cannot be set up. */
int api_client_new(const struct api_config *cfg, struct api_client **out, char **detail);
/* Wipes the token and frees. NULL is fine. */
void api_client_free(struct api_client *c);

/* The address in use, without trailing slash (borrowed). */
const char *api_client_address(const struct api_client *c);
/* Replaces the token (copied; NULL or "" clears it). */
void api_client_set_token(struct api_client *c, const char *token);
bool api_client_has_token(const struct api_client *c);

void api_response_init(struct api_response *resp);
void api_response_release(struct api_response *resp);

/* Sends METHOD <address>/v1/<path>[?query] and collects the answer in
 * resp (reset first). path has no "/v1/" (a leading '/' is tolerated) and
 * is percent-encoded here except for '/'; query is appended as given (the
 * caller encodes it) and may be NULL. body (len bytes, may be NULL) is
 * sent as application/json (application/merge-patch+json for PATCH).
 * Follows at most one redirect, never from https to http.
 *
 * Returns 0 for a 1xx-3xx answer. For a 4xx/5xx answer returns the
 * TROVE_ERR_* code of that status (404 TROVE_ERR_NOT_FOUND, 403
 * TROVE_ERR_PERMISSION, ...; see api_err_from_status) with resp->status,
 * resp->json and resp->error (the server's "errors" joined by "; ", or
 * the raw body) set. When no answer arrived returns TROVE_ERR_TIMEOUT,
 * TROVE_ERR_TOO_LARGE, TROVE_ERR_UPSTREAM (connection or TLS failure) or
 * another code, with resp->status 0 and resp->failure and resp->error
 * saying why. */
int api_send(struct api_client *c, const char *method, const char *path, const char *query, const char *body,
             size_t len, struct api_response *resp);
/* api_send with extra request header lines ("Name: value", for a proxy
 * relaying its client's X-Vault-* headers): each replaces the line of the
 * same name (any case) the client would send, else is added. extra may be
 * NULL. A line without ": " or holding CR or LF is refused with
 * TROVE_ERR_INVALID before anything is sent. */
int api_send_extra(struct api_client *c, const char *method, const char *path, const char *query, const char *body,
                   size_t len, const struct strlist *extra, struct api_response *resp);
/* api_send with a JSON body (NULL for none); the serialised text is wiped
 * after the request. */
int api_request(struct api_client *c, const char *method, const char *path, const char *query,
                const json_t *body, struct api_response *resp);

/* Shorthands: GET, PUT (a write, as Vault's Logical().Write), LIST and
 * DELETE of path, with no query. */
int api_read(struct api_client *c, const char *path, struct api_response *resp);
int api_write(struct api_client *c, const char *path, const json_t *body, struct api_response *resp);
int api_list(struct api_client *c, const char *path, struct api_response *resp);
int api_delete(struct api_client *c, const char *path, struct api_response *resp);

/* The TROVE_ERR_* code for an HTTP status: 0 below 400; the code whose
 * status it is in err.h's table (the first, e.g. 500 TROVE_ERR_INTERNAL,
 * 503 TROVE_ERR_SEALED); otherwise TROVE_ERR_INVALID for 4xx and
 * TROVE_ERR_UPSTREAM for 5xx. */
int api_err_from_status(long status);

/* Overwrites every string value inside j (recursively) with zeros, then
 * drops the caller's reference. For JSON that carried key material or
 * tokens. NULL is fine. */
void api_json_free_secret(json_t *j);

#endif
