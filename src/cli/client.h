/* client.h — the CLI's HTTP client for the Vault-compatible API.
 *
 * A thin layer over one libcurl easy handle. It knows the server address,
 * the token and the TLS settings, adds the Vault request headers, and
 * collects the response body (size-capped) and its parsed JSON. It never
 * prints on its own except through client_print_error(), and never prints
 * the token. Single-threaded: one struct client per command invocation. */
#ifndef TROVE_CLI_CLIENT_H
#define TROVE_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

#define CLIENT_DEFAULT_TIMEOUT 60          /* seconds, whole request */
#define CLIENT_MAX_BODY ((size_t)64 << 20) /* response body cap */

struct client_config {
	const char *address;     /* required: http://host[:port] or https://...; copied */
	const char *token;       /* NULL or "" for none; copied, wiped on free */
	const char *ca_cert;     /* PEM bundle file, or NULL */
	const char *ca_path;     /* directory of PEM files, or NULL */
	const char *client_cert; /* PEM client certificate, or NULL */
	const char *client_key;  /* PEM private key for client_cert, or NULL */
	bool tls_skip_verify;    /* disable peer and host name verification */
	long timeout_secs;       /* 0 means CLIENT_DEFAULT_TIMEOUT */
};

struct client;

/* One request's outcome. Initialise with client_response_init() and release
 * with client_response_release() (which wipes the body: responses such as
 * sys/init carry key material). */
struct client_response {
	long status;     /* HTTP status, 0 when no response arrived */
	struct buf body; /* raw body */
	json_t *json;    /* parsed body; NULL when empty or not JSON. Owned. */
	char *method;    /* owned copies, for error messages */
	char *url;
	char *error; /* transport failure text when status == 0; owned */
};

/* Validates cfg->address (scheme http or https, a host) and prepares a
 * handle. Returns 0 and stores the client in *out, TROVE_ERR_INVALID for a
 * bad address, or TROVE_ERR_NOMEM/TROVE_ERR_INTERNAL if libcurl fails. */
int client_new(const struct client_config *cfg, struct client **out);
/* Wipes the token and frees. NULL is fine. */
void client_free(struct client *c);

/* The address in use, without trailing slash (borrowed). */
const char *client_address(const struct client *c);
/* Replaces the token (copied; NULL or "" clears it). */
void client_set_token(struct client *c, const char *token);
bool client_has_token(const struct client *c);

/* Adds a header sent with every later request, e.g. ("X-Vault-Wrap-TTL",
 * "5m"). Both strings are copied. Returns 0 or TROVE_ERR_INVALID if either
 * contains CR, LF or (in the name) ':'. */
int client_add_header(struct client *c, const char *name, const char *value);

void client_response_init(struct client_response *resp);
void client_response_release(struct client_response *resp);

/* Sends METHOD <address>/v1/<path>[?query]. path has no leading "/v1/"
 * (a leading '/' is tolerated) and is percent-encoded here except for '/';
 * query is appended verbatim (the caller encodes it) and may be NULL.
 * body (len bytes, not copied, may be NULL) is sent as application/json
 * (application/merge-patch+json for PATCH).
 * Follows at most one redirect, never from https to http.
 *
 * Returns 0 whenever the server answered, whatever the status (look at
 * resp->status; resp->json holds the parsed body when it was JSON), or a
 * negative code when no complete response arrived: TROVE_ERR_TIMEOUT,
 * TROVE_ERR_TOO_LARGE (body over CLIENT_MAX_BODY) or TROVE_ERR_UPSTREAM,
 * with resp->error describing the failure. resp is reset first. */
int client_do(struct client *c, const char *method, const char *path, const char *query, const char *body,
              size_t len, struct client_response *resp);
/* As client_do with a JSON body (NULL for none). The serialised body is
 * wiped after the request. */
int client_do_json(struct client *c, const char *method, const char *path, const char *query,
                   const json_t *body, struct client_response *resp);

/* True when resp is an error: no response, or status >= 400. */
bool client_response_failed(const struct client_response *resp);

/* Prints a failed request to stderr in Vault's shape:
 *   Error <doing>: Error making API request.
 *
 *   URL: PUT https://127.0.0.1:8200/v1/sys/unseal
 *   Code: 400. Errors:
 *
 *   * <each error>
 * or, for transport failures, a line naming the address and the cause. */
void client_print_error(const char *doing, const struct client_response *resp);

/* Overwrites every string value inside j (recursively) with zeros, then
 * drops the caller's reference. For JSON that carried key material or
 * tokens. NULL is fine. */
void client_json_free_secret(json_t *j);

#endif
