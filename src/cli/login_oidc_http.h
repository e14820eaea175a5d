/* login_oidc_http.h — the requests `trove login -method=oidc`'s one-shot
 * callback listener accepts, parsed from raw bytes a browser (or anything
 * else on the network) sent.
 *
 * Only "GET /oidc/callback?state=..&code=.." (response_mode query) and
 * "POST /oidc/callback" with an application/x-www-form-urlencoded body
 * (form_post: state, code, id_token) are callbacks; every other request is
 * answered with an error status and never reaches the server. */
#ifndef TROVE_CLI_LOGIN_OIDC_HTTP_H
#define TROVE_CLI_LOGIN_OIDC_HTTP_H

#include <stddef.h>

/* The most a request (head and body) may take; a longer one is 413. */
#define OIDC_HTTP_MAX_REQUEST (64 * 1024)

/* A callback's values: heap strings (free with oidc_callback_release,
 * which wipes them), NULL when absent. */
struct oidc_callback {
	char *state;
	char *code;
	char *id_token;
	char *error;             /* the provider's error=, e.g. access_denied */
	char *error_description; /* the provider's error_description= */
};

/* Parses the first n bytes received on a connection. Returns:
 *   0    the request is not complete yet: read more;
 *   200  a callback, *cb filled;
 *   400  malformed (bad request line, escape, header, repeated key...);
 *   404  a path other than /oidc/callback;
 *   405  a method other than GET or POST;
 *   411  a POST without Content-Length (chunked bodies are refused);
 *   413  more than OIDC_HTTP_MAX_REQUEST bytes;
 *   415  a POST body that is not a urlencoded form.
 * *cb is zeroed first and holds nothing to release unless 200 is
 * returned. */
int oidc_http_parse(const char *req, size_t n, struct oidc_callback *cb);

/* Wipes and frees the values; *cb may then be reused. */
void oidc_callback_release(struct oidc_callback *cb);

#endif
