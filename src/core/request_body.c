/* request_body.c — the request body, parsed late.
 *
 * The listener has the whole body before it knows whether the request
 * will be allowed. Turning an untrusted 32 MiB body into JSON costs many
 * times its size in memory (one node per value) and real CPU, so it waits
 * for the router: after the token and ACL decision (or for routes that
 * need no token), and before anything reads the data. The bytes are
 * checked against json_limits_body before jansson sees them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

#include "err.h"
#include "form.h"
#include "json_limits.h"
#include "secure.h"

#include "banned.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void request_body_drop(struct request *req)
{
	secure_free(req->body.owned, req->body.len);
	req->body.owned = NULL;
	req->body.ptr = NULL;
	req->body.len = 0;
	req->body.form = false;
}

void request_body_set(struct request *req, const char *p, size_t len, bool form)
{
	size_t i = 0;
	request_body_drop(req);
	while (i < len && is_space(p[i]))
		i++;
	if (i == len)
		return;
	req->body.ptr = p;
	req->body.len = len;
	req->body.form = form;
}

void request_body_own(struct request *req)
{
	if (!req->body.len || req->body.owned)
		return;
	req->body.owned = xmalloc(req->body.len);
	memcpy(req->body.owned, req->body.ptr, req->body.len);
	req->body.ptr = req->body.owned;
}

const char *request_body_bytes(const struct request *req, size_t *len)
{
	*len = req->body.len;
	return req->body.len ? req->body.ptr : NULL;
}

size_t request_body_pending(const struct request *req)
{
	return req->body.len;
}

static const char *limit_reason(enum json_limit l, const struct json_limits *lim, char *tmp, size_t n)
{
	switch (l) {
	case JSON_LIMIT_DEPTH:
		snprintf(tmp, n, "nesting deeper than %u levels", lim->max_depth);
		break;
	case JSON_LIMIT_MEMBERS:
		snprintf(tmp, n, "an object or array with more than %zu members", lim->max_members);
		break;
	default:
		snprintf(tmp, n, "more than %zu values in all", lim->max_total);
		break;
	}
	return tmp;
}

static int load_json(struct request *req, const char *p, size_t n, struct response *resp)
{
	const struct json_limits *lim = &json_limits_body;
	enum json_limit l = json_limits_check(p, n, lim);
	json_error_t jerr;
	char tmp[96];

	if (l != JSON_LIMIT_OK)
		return response_error(resp, TROVE_ERR_INVALID, "failed to parse JSON input: the body exceeds a limit: %s",
				      limit_reason(l, lim, tmp, sizeof(tmp)));
	json_t *j = json_loadb(p, n, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	if (!j)
		return response_error(resp, TROVE_ERR_INVALID, "failed to parse JSON input: %s (line %d, column %d)",
				      jerr.text, jerr.line, jerr.column);
	if (json_is_null(j)) {
		json_decref(j);
		return 0;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return response_error(resp, TROVE_ERR_INVALID,
				      "failed to parse JSON input: the request body must be a JSON object");
	}
	json_decref(req->data);
	req->data = j;
	return 0;
}

int request_body_load(struct request *req, struct response *resp)
{
	const char *p = req->body.ptr;
	size_t n = req->body.len, i = 0;
	const char *why = NULL;
	int r = 0;

	if (n == 0)
		return 0;
	while (i < n && is_space(p[i]))
		i++;
	if (req->body.form && p[i] != '{' && p[i] != '[') {
		if (!req->data)
			req->data = json_object();
		if (form_parse(p, n, req->data, true, json_limits_body.max_total, &why) != 0)
			r = response_error(resp, TROVE_ERR_INVALID, "%s", why);
	} else {
		r = load_json(req, p, n, resp);
	}
	request_body_drop(req);
	return r;
}
