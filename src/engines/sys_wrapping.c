/* sys_wrapping.c — sys/wrapping/{wrap,unwrap,lookup,rewrap}.
 *
 * The wrapping itself is core/wrapping.c: wrap returns the request's data
 * and lets the router wrap it (5 minutes unless X-Vault-Wrap-TTL says
 * otherwise). The router has already refused (400) a token that is not a
 * live wrapping token on unwrap, rewrap and lookup (wrapping_precheck). */
#include <stdlib.h>
#include <string.h>

#include "engines.h"

#include "core/core.h"
#include "core/token.h"
#include "core/wrapping.h"
#include "err.h"
#include "timefmt.h"

#include "banned.h"

static int wrap_write(struct request *req, struct response *resp)
{
	if (req->wrap_ttl <= 0)
		req->wrap_ttl = WRAPPING_DEFAULT_TTL;
	response_set_data(resp, req->data ? json_deep_copy(req->data) : json_object());
	return 0;
}

/* Spends the wrapping token the request names and returns its entry: the
 * client's own (authenticated by the router, whose token_finish_request
 * revokes it), or the body's (consumed and revoked here, after reading).
 * *own says which. */
static int take_token(struct request *req, struct response *resp, struct token_entry **out, bool *own)
{
	const char *body = field_string(req, "token");
	int r;

	*out = NULL;
	*own = false;
	if (!body[0]) {
		if (!req->token || !token_has_policy(req->token, WRAPPING_POLICY))
			return response_error(resp, TROVE_ERR_INVALID, WRAPPING_INVALID);
		*out = req->token;
		return 0;
	}
	r = token_lookup_ex(core_tokens(req->core), body, NULL, 0, out);
	if (r == 0 && !token_has_policy(*out, WRAPPING_POLICY))
		r = TROVE_ERR_INVALID;
	if (r != 0) {
		token_entry_free(*out);
		*out = NULL;
		return response_error(resp, TROVE_ERR_INVALID, WRAPPING_INVALID);
	}
	*own = true;
	return 0;
}

static void done_token(struct request *req, struct token_entry *e, bool own)
{
	/* A wrapping token has one use: whoever reads it ends it. */
	(void)token_revoke(core_tokens(req->core), e->id_hash, false);
	if (own)
		token_entry_free(e);
}

static int unwrap_write(struct request *req, struct response *resp)
{
	struct token_entry *e;
	json_t *env = NULL;
	bool own;
	int r;

	if ((r = take_token(req, resp, &e, &own)) != 0)
		return r;
	r = wrapping_read(req->core, e, &env, NULL);
	done_token(req, e, own);
	if (r != 0)
		return response_error(resp, TROVE_ERR_INVALID, WRAPPING_INVALID);
	wrapping_restore(resp, env);
	json_decref(env);
	return 0;
}

static int rewrap_write(struct request *req, struct response *resp)
{
	struct token_entry *e;
	json_t *env = NULL, *info = NULL, *wi = NULL;
	bool own;
	int r;

	if ((r = take_token(req, resp, &e, &own)) != 0)
		return r;
	r = wrapping_read(req->core, e, &env, &info);
	int64_t ttl = e->ttl > 0 ? e->ttl : WRAPPING_DEFAULT_TTL;
	char *path = xstrdup(e->path && e->path[0] ? e->path : "sys/wrapping/wrap");
	done_token(req, e, own);
	if (r != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, WRAPPING_INVALID);
		goto out;
	}
	r = wrapping_create(req->core, path, ttl, env,
	                    json_string_value(json_object_get(info, "wrapped_accessor")), &wi);
	if (r != 0) {
		r = response_error(resp, TROVE_ERR_INTERNAL, "failed to rewrap the response");
		goto out;
	}
	resp->wrap_info = wi;
out:
	free(path);
	json_decref(env);
	json_decref(info);
	return r;
}

static int lookup_write(struct request *req, struct response *resp)
{
	struct token_entry *e = NULL;
	char when[TIME_TEXT_MAX];
	const char *tok = field_string(req, "token");

	if (!tok[0])
		return response_error(resp, TROVE_ERR_INVALID, "missing \"token\" value in input");
	if (wrapping_validate(req->core, tok, &e) != 0)
		return response_error(resp, TROVE_ERR_INVALID, WRAPPING_INVALID);
	time_rfc3339(e->creation_time, when);
	response_set_data(resp, json_pack("{s:s, s:s, s:I}", "creation_path", e->path ? e->path : "",
	                                  "creation_time", when, "creation_ttl", (json_int_t)e->ttl));
	token_entry_free(e);
	return 0;
}

static const struct field token_fields[] = {
    {.name = "token",
     .type = FIELD_STRING,
     .description = "the wrapping token (unwrap, rewrap: defaults to the client token)",
     .sensitive = true},
    {0},
};

const struct route sys_wrapping_routes[] = {
    {.pattern = "wrapping/wrap",
     .ops = {[OP_UPDATE] = wrap_write},
     .synopsis = "wrap arbitrary data in a wrapping token"},
    {.pattern = "wrapping/unwrap",
     .ops = {[OP_UPDATE] = unwrap_write},
     .fields = token_fields,

     .synopsis = "return the response a wrapping token holds"},
    {.pattern = "wrapping/lookup",
     .ops = {[OP_UPDATE] = lookup_write},
     .fields = token_fields,
     .flags = ROUTE_UNAUTH,
     .synopsis = "a wrapping token's creation path, time and TTL"},
    {.pattern = "wrapping/rewrap",
     .ops = {[OP_UPDATE] = rewrap_write},
     .fields = token_fields,

     .synopsis = "move a wrapped response to a new wrapping token"},
    {0},
};
