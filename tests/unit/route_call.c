/* route_call.c — see route_call.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "route_call.h"

#include "err.h"

#include "banned.h"

static const struct field *find_field(const struct route *r, const char *name)
{
	for (const struct field *f = r->fields; f && f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

int route_call(struct request *req, struct response *resp)
{
	const struct route *route = req->route;
	const char *k;
	json_t *v, *tmp;

	json_object_foreach_safe(req->data, tmp, k, v)
	{
		const struct field *f = find_field(route, k);
		if (json_is_null(v)) {
			json_object_del(req->data, k);
			continue;
		}
		if (!f)
			continue;
		const char *why = "invalid";
		json_t *cv = field_coerce(f->type, v, &why);
		if (!cv)
			return response_error(resp, TROVE_ERR_INVALID, "%s: %s", k, why);
		json_object_set_new(req->data, k, cv);
	}
	if (req->op == OP_UPDATE && route->exists) {
		bool ex = true;
		assert_int_equal(route->exists(req, &ex), 0);
		if (!ex)
			req->op = OP_CREATE;
	}
	handler_fn h = route->ops[req->op];
	if (!h && req->op == OP_CREATE)
		h = route->ops[OP_UPDATE];
	if (!h)
		return response_error(resp, TROVE_ERR_UNSUPPORTED_OP, "unsupported operation");
	return h(req, resp);
}
