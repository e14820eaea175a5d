/* http.h — the edge between HTTP and the logical request, free of any
 * HTTP library so it can be unit-tested and fuzzed on raw bytes.
 *
 * http_build_request turns (method, raw path with query, body, content
 * type) into a struct request: the method becomes an operation (GET +
 * ?list=true and LIST become list; POST and PUT update; PATCH needs the
 * merge-patch content type), the path under /v1/ is percent-decoded and
 * checked (no NUL or control bytes, no "." or ".." segments, no empty
 * inner segments), query parameters become data for read-like operations,
 * and the body of a write is recorded, unparsed, for the router to load
 * once the request is known to be allowed (request_body_load in
 * core/request.h); the body bytes must then outlive req, or be copied
 * with request_body_own.
 *
 * http_render turns a response (or an error code) into a status and a body
 * in Vault's envelope. */
#ifndef TROVE_HTTP_H
#define TROVE_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "core/request.h"

#define HTTP_MAX_PATH 8192

/* Fills req (initialised by the caller) from the HTTP parts. On failure
 * returns the error code with the message in resp->errors. */
int http_build_request(struct request *req, const char *method, size_t method_len, const char *raw_path,
		       size_t raw_path_len, const char *body, size_t body_len, const char *content_type,
		       size_t content_type_len, struct response *resp);

/* Renders the reply. err is the dispatch result (0 on success). Sets
 * *status; appends the body to out (empty for 204 and HEAD). */
int http_render(const struct request *req, const struct response *resp, int err, int *status, struct buf *out);

/* Reason phrase for a status code ("OK", "Bad Request", ...). */
const char *http_reason(int status);

#endif
