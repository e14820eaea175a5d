/* headers.h — the header lines of a request. */
#ifndef TROVE_API_HEADERS_H
#define TROVE_API_HEADERS_H

#include <stdbool.h>

#include "api/config.h"
#include "buf.h"

/* Appends to out (a strlist the caller releases after wiping: one line
 * carries the token; see api_headers_wipe) the lines for METHOD path:
 *   X-Vault-Request: true            always (Vault's agent wants it)
 *   Content-Type: application/json   with a body (merge-patch+json for PATCH;
 *                                    "Content-Type:" drops curl's default)
 *   Expect:                          (no 100-continue round trip)
 *   X-Vault-Token: <token>           when cfg->token is set
 *   X-Vault-Namespace: <ns>          when cfg->namespace_name is set
 *   X-Vault-Wrap-TTL: <ttl>          cfg->wrap_ttl, or "5m" for a PUT or
 *                                    POST to sys/wrapping/wrap (as Vault's
 *                                    client), else none
 * path is as given to api_send (leading '/' ignored).
 * Returns 0, or TROVE_ERR_INVALID when a value holds CR or LF. */
int api_headers_build(const struct api_config *cfg, const char *method,
                      const char *path, bool has_body, struct strlist *out);

/* Checks one header value for a setting: returns 0, or TROVE_ERR_INVALID
 * when it holds CR or LF (it could forge headers). NULL is fine. */
int api_header_value_ok(const char *value);

/* Wipes and releases a list built by api_headers_build. */
void api_headers_wipe(struct strlist *l);

#endif
