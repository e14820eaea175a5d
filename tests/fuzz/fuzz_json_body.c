/* libFuzzer target: an untrusted HTTP request (method, path, content type
 * and body) through the HTTP edge, the body loader with its limits
 * (json_limits_body: depth, members per container, values in all),
 * field coercion (which must be idempotent), the canonical form of policy
 * parameter values, and rendering. The limit scan is also checked against
 * jansson: text it passes must parse within the limits' depth.
 *
 * Input layout: the first byte picks the method, the second the content
 * type; the rest is "path\nbody". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/router.h"
#include "json_limits.h"
#include "server/http.h"

static const char *const methods[] = { "GET", "LIST", "POST", "PUT", "PATCH", "DELETE", "HEAD", "BREW" };
static const char *const cts[] = { NULL, "application/json", "application/x-www-form-urlencoded",
				   "application/merge-patch+json" };

/* One field of each type, named after its index. */
static const struct field fuzz_fields[] = {
    {.name = "0", .type = FIELD_STRING, .description = ""},
    {.name = "1", .type = FIELD_INT, .description = ""},
    {.name = "2", .type = FIELD_BOOL, .description = ""},
    {.name = "3", .type = FIELD_DURATION, .description = ""},
    {.name = "4", .type = FIELD_STRLIST, .description = ""},
    {.name = "5", .type = FIELD_MAP, .description = ""},
    {.name = "6", .type = FIELD_ANY, .description = ""},
    {.name = "7", .type = FIELD_STRMAP, .description = ""},
    {.name = "8", .type = FIELD_POLICIES, .description = ""},
    {0},
};
static const struct route fuzz_route = { .pattern = "x", .fields = fuzz_fields };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned json_depth(const json_t *j)
{
	unsigned d = 0, c;
	const char *k;
	const json_t *v;
	size_t i;
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v)
		if ((c = json_depth(v)) > d)
			d = c;
		return d + 1;
	}
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
		if ((c = json_depth(v)) > d)
			d = c;
		return d + 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request req;
	struct response resp;
	struct buf out;
	int status = 0;
	if (size < 2)
		return 0;
	const char *method = methods[data[0] % 8];
	const char *ct = cts[data[1] % 4];
	const char *rest = (const char *)data + 2;
	size_t rest_len = size - 2;
	const char *nl = memchr(rest, '\n', rest_len);
	size_t path_len = nl ? (size_t)(nl - rest) : rest_len;
	const char *body = nl ? nl + 1 : "";
	size_t body_len = nl ? rest_len - path_len - 1 : 0;

	request_init(&req);
	response_init(&resp);
	buf_init(&out, 1 << 20);
	int r = http_build_request(&req, method, strlen(method), rest, path_len, body, body_len, ct,
				   ct ? strlen(ct) : 0, &resp);
	if (r == 0)
		r = request_body_load(&req, &resp);
	/* The scan alone, on the raw bytes: whatever it passes, jansson never
	 * nests deeper than the limit allows. */
	if (json_limits_check(body, body_len, &json_limits_body) == JSON_LIMIT_OK) {
		json_t *j = json_loadb(body, body_len, JSON_DECODE_ANY, NULL);
		if (j && json_depth(j) > json_limits_body.max_depth)
			__builtin_trap();
		json_decref(j);
	}
	if (r == 0 && req.data) {
		/* Coerce every value to every type, as the router would, and
		 * each as a policy's parameter value for a field of each type. */
		const char *k;
		json_t *v;
		json_object_foreach(req.data, k, v)
		{
			for (int t = FIELD_STRING; t <= FIELD_LAST; t++) {
				const char *why = NULL;
				json_t *c = field_coerce((enum field_type)t, v, &why);
				if (c) {
					json_t *again = field_coerce((enum field_type)t, c, &why);
					if (!again || !json_equal(again, c))
						abort(); /* coercion must be idempotent */
					json_decref(again);
				}
				json_decref(c);
				json_decref(field_canon_param(fuzz_fields[t].name, v, &fuzz_route));
			}
		}
		resp.data = json_incref(req.data);
	}
	http_render(&req, &resp, r, &status, &out);
	buf_release(&out);
	request_release(&req);
	response_release(&resp);
	return 0;
}
