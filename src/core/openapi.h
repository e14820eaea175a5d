/* openapi.h — OpenAPI 3 descriptions of routes, generated from their
 * declarations (router.h: the pattern, the handlers, the fields), so what
 * they describe is what the router enforces. sys/internal/specs/openapi
 * puts every visible route in one document; the help of a path (GET
 * ?help=1) carries the path item of the route it matches.
 *
 * A route becomes a path item at its pattern under the mount's path
 * (":name" and "#name" become "{name}", a trailing "*" becomes "{path}"),
 * with an operation per handler (read and list -> get, list with the
 * query parameter list=true; create and update -> post; delete ->
 * delete), the declared fields as the request body's schema (type,
 * default, bounds, required, sensitive: format password and
 * x-vault-displayAttrs.sensitive) and as query parameters of a read
 * (sensitive ones left out), and Vault's extensions x-vault-sudo,
 * x-vault-unauthenticated and x-vault-createSupported. */
#ifndef TROVE_OPENAPI_H
#define TROVE_OPENAPI_H

#include <jansson.h>

#include "buf.h"

struct route;

/* Appends the OpenAPI path of pattern under mount to b: mount "secret/"
 * and pattern "data/" then "*" give "/secret/data/{path}"; a NULL mount
 * is written as the parameter "{mount_path}". */
void openapi_path(struct buf *b, const char *mount, const char *pattern);

/* The path item of route r served at path (an OpenAPI path as above; it
 * seeds the operation ids), its operations tagged tag ("system",
 * "secrets" or "auth"). NULL when r has no operation. New reference. */
json_t *openapi_path_item(const struct route *r, const char *path, const char *tag);

/* An OpenAPI 3.0.2 document describing Trove with these paths (taken). */
json_t *openapi_document(json_t *paths);

struct request;
struct response;
/* The help of the request's path, matched to route (and req->mount), as
 * Vault answers GET ?help=1: the whole body is {"help": text, "openapi":
 * a document with this one path, "see_also": null}, the text naming the
 * route, its synopsis and its parameters. */
void openapi_help(const struct request *req, const struct route *route, struct response *resp);

#endif
