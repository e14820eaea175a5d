/* core_fixture.h — for unit tests that drive engines as the listener
 * would: an in-memory core, initialised and unsealed, and requests sent
 * through the HTTP edge (http_build_request) and the router. */
#ifndef TROVE_TEST_CORE_FIXTURE_H
#define TROVE_TEST_CORE_FIXTURE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* The root token of every fixture core. */
#define FIXTURE_ROOT_TOKEN "root-id"

struct core_fixture {
	struct storage *phys;
	struct core *core;
	struct core_init_result res;
};

/* Makes f->core: in-memory storage, one unseal key, root token
 * FIXTURE_ROOT_TOKEN, the engines of registry (the built-in ones when
 * NULL), the audit device types, manual expiration, leases of
 * default_ttl and at most max_ttl seconds. Fails the test on error. */
void core_fixture_start(struct core_fixture *f, const struct engine_registry *registry, int64_t default_ttl,
			int64_t max_ttl);
void core_fixture_stop(struct core_fixture *f);

/* One request, as a client would send it. */
struct fixture_request {
	const char *method, *path;
	const char *body; /* may hold NULs; NULL for none */
	size_t len;
	const char *type; /* content type; NULL: JSON (merge-patch for PATCH) */
	const char *token; /* NULL: FIXTURE_ROOT_TOKEN; "" for none */
};

/* Sends rq through the HTTP edge and the router and renders the answer:
 * returns the HTTP status; *body (when asked) gets the rendered body
 * parsed as JSON (NULL when empty or not JSON), *headers the response
 * headers the router let through (NULL when none). The caller decrefs. */
int fixture_send(struct core *core, const struct fixture_request *rq, json_t **body, json_t **headers);
/* fixture_send that also appends the rendered body's bytes to raw (a
 * DER answer, a PEM) when raw is not NULL. */
int fixture_send_raw(struct core *core, const struct fixture_request *rq, json_t **body, json_t **headers,
		     struct buf *raw);

/* fixture_send of a JSON body (or none) with the root token. */
int fixture_call(struct core *core, const char *method, const char *path, const char *json, json_t **body);

/* The first message of a rendered error body, or NULL. */
const char *fixture_first_error(const json_t *body);

#endif
