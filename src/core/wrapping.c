/* wrapping.c — Vault's response wrapping (see wrapping.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wrapping.h"

#include "core.h"
#include "err.h"
#include "log.h"
#include "secure.h"
#include "token.h"
#include "timefmt.h"

#include "banned.h"

/* The wrap store the cubbyhole registered with c; TROVE_ERR_NOT_FOUND when
 * none is (no cubbyhole mount yet), as when the cubbyhole itself is absent. */
static int wrap_put(struct core *c, const char *id_hash, const char *key, const json_t *v)
{
	const struct wrap_store *s = core_wrap_store(c);
	return s ? s->put(c, id_hash, key, v) : TROVE_ERR_NOT_FOUND;
}

static int wrap_get(struct core *c, const char *id_hash, const char *key, json_t **out)
{
	const struct wrap_store *s = core_wrap_store(c);
	return s ? s->get(c, id_hash, key, out) : TROVE_ERR_NOT_FOUND;
}

json_t *wrapping_envelope(const struct request *req, const struct response *resp)
{
	return json_pack("{s:s, s:s, s:b, s:I, s:O?, s:n, s:O?, s:O?}", "request_id", req->id, "lease_id",
	                 resp->lease_id ? resp->lease_id : "",
	                 "renewable", resp->renewable, "lease_duration", (json_int_t)resp->lease_duration,
	                 "data", resp->data, "wrap_info", "warnings", resp->warnings, "auth", resp->auth);
}

int wrapping_create(struct core *c, const char *creation_path, int64_t ttl, const json_t *envelope,
                    const char *wrapped_accessor, json_t **wrap_info)
{
	struct token_store *ts = core_tokens(c);
	struct token_entry *e = token_entry_new();
	json_t *stored = NULL, *info = NULL;
	char *id = NULL, *text = NULL;
	char when[TIME_TEXT_MAX];
	int r;

	*wrap_info = NULL;
	if (!ts || ttl <= 0 || !envelope) {
		token_entry_free(e);
		return TROVE_ERR_INVALID;
	}
	e->type = TOKEN_TYPE_SERVICE;
	e->parent_hash[0] = '\0';
	e->ttl = ttl;
	e->explicit_max_ttl = ttl;
	e->num_uses = 1;
	e->renewable = false;
	token_entry_set(&e->path, creation_path);
	if ((r = strlist_push(&e->policies, WRAPPING_POLICY)) != 0 ||
	    (r = token_create(ts, e, NULL, &id)) != 0)
		goto out;

	text = json_dumps(envelope, JSON_COMPACT);
	stored = text ? json_pack("{s:s}", "response", text) : NULL;
	info = json_pack("{s:s, s:I}", "creation_path", creation_path, "creation_ttl", (json_int_t)ttl);
	if (!stored || !info) {
		r = TROVE_ERR_NOMEM;
	} else {
		if (wrapped_accessor && wrapped_accessor[0])
			json_object_set_new(info, "wrapped_accessor", json_string(wrapped_accessor));
		if ((r = wrap_put(c, e->id_hash, "response", stored)) == 0)
			r = wrap_put(c, e->id_hash, "wrapinfo", info);
	}
	if (r != 0) {
		(void)token_revoke(ts, e->id_hash, false);
		goto out;
	}
	time_rfc3339(e->creation_time, when);
	*wrap_info = json_pack("{s:s, s:s, s:I, s:s, s:s}", "token", id, "accessor", e->accessor, "ttl",
	                       (json_int_t)ttl, "creation_time", when, "creation_path", creation_path);
	if (!*wrap_info)
		r = TROVE_ERR_NOMEM;
	else if (wrapped_accessor && wrapped_accessor[0])
		json_object_set_new(*wrap_info, "wrapped_accessor", json_string(wrapped_accessor));
out:
	if (text)
		secure_free_str(text);
	json_decref(stored);
	json_decref(info);
	secure_free_str(id);
	token_entry_free(e);
	return r;
}

static bool is_wrapping_path(const char *path, const char *op)
{
	size_t n = strlen(op);
	return strncmp(path, "sys/wrapping/", 13) == 0 && strncmp(path + 13, op, n) == 0 &&
	       (path[13 + n] == '\0' || (path[13 + n] == '/' && path[14 + n] == '\0'));
}

int wrapping_wrap(struct request *req, struct response *resp)
{
	json_t *env, *info = NULL;
	const char *acc = NULL;
	int r;

	if (req->wrap_ttl <= 0 || resp->wrap_info || resp->bare || resp->errors ||
	    (!resp->data && !resp->auth))
		return 0;
	if (strncmp(req->path, "sys/wrapping/", 13) == 0 && !is_wrapping_path(req->path, "wrap"))
		return 0;
	if (json_is_object(resp->auth))
		acc = json_string_value(json_object_get(resp->auth, "accessor"));
	env = wrapping_envelope(req, resp);
	/* The creation path is stored and shown: never a secret parameter. */
	char *path = request_path_redacted(req);
	r = env ? wrapping_create(req->core, path, req->wrap_ttl, env, acc, &info) : TROVE_ERR_NOMEM;
	free(path);
	json_decref(env);
	response_release(resp);
	response_init(resp);
	if (r != 0) {
		int e = response_error(resp, TROVE_ERR_INTERNAL, "failed to wrap the response");
		response_fail_detail(resp, "response wrapping failed", r);
		return e;
	}
	resp->wrap_info = info;
	return 0;
}

int wrapping_validate(struct core *c, const char *token, struct token_entry **out)
{
	struct token_entry *e = NULL;
	int r;

	if (out)
		*out = NULL;
	if (!token || !token[0])
		return TROVE_ERR_INVALID;
	r = token_lookup_ex(core_tokens(c), token, NULL, TOKEN_LOOKUP_NO_USE, &e);
	if (r == 0 && (!token_has_policy(e, WRAPPING_POLICY) || e->policies.len != 1 || e->num_uses <= 0))
		r = TROVE_ERR_INVALID;
	if (r != 0) {
		token_entry_free(e);
		return r == TROVE_ERR_SEALED ? r : TROVE_ERR_INVALID;
	}
	if (out)
		*out = e;
	else
		token_entry_free(e);
	return 0;
}

const char *wrapping_request_token(const struct request *req)
{
	json_t *t = req->data ? json_object_get(req->data, "token") : NULL;
	if (json_is_string(t) && json_string_length(t) > 0)
		return json_string_value(t);
	return req->client_token && req->client_token[0] ? req->client_token : NULL;
}

int wrapping_precheck(struct request *req, struct response *resp)
{
	int r;

	if (!is_wrapping_path(req->path, "unwrap") && !is_wrapping_path(req->path, "rewrap") &&
	    !is_wrapping_path(req->path, "lookup"))
		return 0;
	/* These paths authenticate with the wrapping token, which may come in
	 * the body: it is parsed here, before the token check. */
	if ((r = request_body_load(req, resp)) != 0)
		return r;
	r = wrapping_validate(req->core, wrapping_request_token(req), NULL);
	if (r == TROVE_ERR_SEALED)
		return response_error(resp, r, "Vault is sealed");
	if (r != 0)
		return response_error(resp, TROVE_ERR_INVALID, WRAPPING_INVALID);
	return 0;
}

int wrapping_read(struct core *c, const struct token_entry *e, json_t **envelope, json_t **info)
{
	json_t *stored = NULL;
	int r = 0;

	if (envelope) {
		*envelope = NULL;
		if ((r = wrap_get(c, e->id_hash, "response", &stored)) != 0)
			return r;
		const char *text = json_string_value(json_object_get(stored, "response"));
		*envelope = text ? json_loads(text, 0, NULL) : NULL;
		json_decref(stored);
		if (!json_is_object(*envelope)) {
			json_decref(*envelope);
			*envelope = NULL;
			return TROVE_ERR_INTEGRITY;
		}
	}
	if (info && (r = wrap_get(c, e->id_hash, "wrapinfo", info)) != 0 && envelope) {
		json_decref(*envelope);
		*envelope = NULL;
	}
	return r;
}

void wrapping_restore(struct response *resp, const json_t *envelope)
{
	json_t *v;

	if (json_is_object(v = json_object_get(envelope, "data")))
		response_set_data(resp, json_incref(v));
	if (json_is_object(v = json_object_get(envelope, "auth"))) {
		json_decref(resp->auth);
		resp->auth = json_incref(v);
	}
	if (json_is_array(v = json_object_get(envelope, "warnings"))) {
		json_decref(resp->warnings);
		resp->warnings = json_incref(v);
	}
	if (json_is_integer(v = json_object_get(envelope, "lease_duration")))
		resp->lease_duration = (int64_t)json_integer_value(v);
	resp->renewable = json_is_true(json_object_get(envelope, "renewable"));
	/* An empty wrapped map still answers with a body. */
	if (!resp->data && !resp->auth)
		response_set_data(resp, json_object());
}
