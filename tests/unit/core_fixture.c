/* core_fixture.c — an in-memory core and requests through the HTTP edge,
 * for engine unit tests (core_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core_fixture.h"

#include "audit/device.h"
#include "core/router.h"
#include "engines/engines.h"
#include "server/http.h"
#include "storage/storage.h"

void core_fixture_start(struct core_fixture *f, const struct engine_registry *registry, int64_t default_ttl,
			int64_t max_ttl)
{
	struct core_config cc = {.storage_type = "inmem",
				 .default_lease_ttl = default_ttl,
				 .max_lease_ttl = max_ttl,
				 .expiration_manual = true,
				 .engines = registry ? registry : &builtin_engines,
				 .audit_devices = &audit_device_types};
	struct seal_status st;
	struct buf err;
	memset(f, 0, sizeof(*f));
	buf_init(&err, 1024);
	f->phys = storage_inmem_new();
	f->core = core_new(f->phys, &cc);
	assert_non_null(f->core);
	assert_int_equal(core_initialize(f->core, 1, 1, FIXTURE_ROOT_TOKEN, &f->res, &err), 0);
	assert_int_equal(core_unseal(f->core, f->res.keys[0], f->res.key_len, &st, &err), 0);
	buf_release(&err);
}

void core_fixture_stop(struct core_fixture *f)
{
	core_init_result_release(&f->res);
	core_free(f->core);
	storage_free(f->phys);
	memset(f, 0, sizeof(*f));
}

int fixture_send(struct core *core, const struct fixture_request *rq, json_t **body, json_t **headers)
{
	return fixture_send_raw(core, rq, body, headers, NULL);
}

int fixture_send_raw(struct core *core, const struct fixture_request *rq, json_t **body, json_t **headers,
		     struct buf *raw)
{
	struct request req;
	struct response resp;
	struct route_match m;
	struct buf out;
	int status = 0;
	const char *type = rq->type ? rq->type
	                   : strcmp(rq->method, "PATCH") == 0 ? "application/merge-patch+json"
	                                                      : "application/json";
	request_init(&req);
	response_init(&resp);
	buf_init(&out, 1 << 22);
	req.core = core;
	if (!rq->token || rq->token[0])
		req.client_token = strdup(rq->token ? rq->token : FIXTURE_ROOT_TOKEN);
	int r = http_build_request(&req, rq->method, strlen(rq->method), rq->path, strlen(rq->path), rq->body,
				   rq->body ? rq->len : 0, type, strlen(type), &resp);
	if (r == 0) {
		router_match(&req, &m);
		r = router_dispatch(&req, &m, &resp);
	}
	assert_int_equal(http_render(&req, &resp, r, &status, &out), 0);
	if (raw)
		assert_int_equal(buf_append(raw, out.data, out.len), 0);
	if (body)
		*body = out.len ? json_loadb(out.data, out.len, 0, NULL) : NULL;
	if (headers)
		*headers = json_incref(resp.headers);
	buf_release(&out);
	request_release(&req);
	response_release(&resp);
	return status;
}

int fixture_call(struct core *core, const char *method, const char *path, const char *json, json_t **body)
{
	struct fixture_request rq = {.method = method, .path = path, .body = json, .len = json ? strlen(json) : 0};
	return fixture_send(core, &rq, body, NULL);
}

const char *fixture_first_error(const json_t *body)
{
	return json_string_value(json_array_get(json_object_get(body, "errors"), 0));
}
