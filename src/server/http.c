/* http.c — HTTP <-> logical request translation and Vault's envelopes. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#include "core/mount.h"
#include "err.h"
#include "form.h"
#include "jsonw.h"
#include "json_limits.h"
#include "rand.h"
#include "strconv.h"
#include "secure.h"

#include "banned.h"

/* No control bytes, no "." or ".." segment, no empty segment except a
 * single trailing '/'; but an empty segment after the first is left to
 * the router (*empty_at: the index of the second '/' of the first "//",
 * or 0), which refuses it unless the route takes its tail as data. */
static bool path_is_clean(const char *p, size_t *empty_at)
{
	size_t n = strlen(p);
	*empty_at = 0;
	if (n == 0 || p[0] == '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return false;
	const char *seg = p;
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		if (len == 0 && slash && !*empty_at) /* "//" */
			*empty_at = (size_t)(slash - p);
		if (!slash)
			break;
		seg = slash + 1;
	}
	return true;
}

static bool ct_is(const char *ct, size_t len, const char *want)
{
	size_t w = strlen(want);
	if (len < w || strncasecmp(ct, want, w) != 0)
		return false;
	return len == w || ct[w] == ';' || ct[w] == ' ';
}

int http_build_request(struct request *req, const char *method, size_t mlen, const char *raw_path,
		       size_t raw_len, const char *body, size_t body_len, const char *ct, size_t ct_len,
		       struct response *resp)
{
	static const struct {
		const char *name;
		enum op op;
	} methods[] = {
		{ "GET", OP_READ },     { "LIST", OP_LIST },     { "POST", OP_UPDATE }, { "PUT", OP_UPDATE },
		{ "PATCH", OP_PATCH },  { "DELETE", OP_DELETE }, { "HEAD", OP_HEAD },
	};
	const char *q = memchr(raw_path, '?', raw_len);
	size_t plen = q ? (size_t)(q - raw_path) : raw_len;
	bool found = false;

	if (rand_uuid(req->id) != 0)
		return response_error(resp, TROVE_ERR_INTERNAL, "internal error");
	req->data = json_object();
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strlen(methods[i].name) == mlen && memcmp(methods[i].name, method, mlen) == 0) {
			req->op = methods[i].op;
			found = true;
		}
	}
	if (!found)
		return response_error(resp, TROVE_ERR_UNSUPPORTED_OP, "unsupported operation");
	if (plen > HTTP_MAX_PATH)
		return response_error(resp, TROVE_ERR_INVALID, "path is too long");
	if (plen < 4 || memcmp(raw_path, "/v1/", 4) != 0)
		return response_error(resp, TROVE_ERR_NOT_FOUND, "unsupported path: the API lives under /v1/");
	req->path = form_decode(raw_path + 4, plen - 4, false);
	if (!req->path || !path_is_clean(req->path, &req->empty_segment))
		return response_error(resp, req->path && !req->path[0] ? TROVE_ERR_NOT_FOUND : TROVE_ERR_INVALID, "%s",
				      REQUEST_PATH_INVALID);
	if (ct && ct_len)
		req->content_type = xstrndup(ct, ct_len);

	if (req->op == OP_PATCH && !(ct && ct_is(ct, ct_len, "application/merge-patch+json")))
		return response_error(resp, TROVE_ERR_MEDIA_TYPE,
				      "PATCH requires Content-Type: application/merge-patch+json");

	if (req->op == OP_READ || req->op == OP_LIST || req->op == OP_DELETE || req->op == OP_HEAD) {
		const char *why = NULL;
		if (q && form_parse(q + 1, raw_len - plen - 1, req->data, false, json_limits_body.max_total, &why) != 0)
			return response_error(resp, TROVE_ERR_INVALID, "%s", why);
		json_t *list = json_object_get(req->data, "list");
		if (list && req->op == OP_READ) {
			bool b = false;
			if (!json_is_string(list) || !strconv_bool(json_string_value(list), &b))
				return response_error(resp, TROVE_ERR_INVALID, "list: expected a boolean");
			if (b)
				req->op = OP_LIST;
			json_object_del(req->data, "list");
		}
		/* Vault's ?help=1 (any value but an empty one). */
		json_t *help = json_object_get(req->data, "help");
		if (help && req->op == OP_READ) {
			req->help = json_string_length(help) > 0;
			json_object_del(req->data, "help");
		}
	}
	/* The body waits for the router (request_body_load). */
	if (req->op != OP_READ && req->op != OP_LIST && req->op != OP_HEAD && body_len > 0)
		request_body_set(req, body, body_len,
				 ct && ct_is(ct, ct_len, "application/x-www-form-urlencoded"));
	if (req->op == OP_LIST) {
		size_t n = strlen(req->path);
		if (req->path[n - 1] != '/') {
			char *p = xmalloc(n + 2);
			memcpy(p, req->path, n);
			p[n] = '/';
			p[n + 1] = '\0';
			free(req->path);
			req->path = p;
		}
	}
	return 0;
}

/* The keys of Vault's response envelope, in the order it writes them. */
static bool envelope_key(const char *k)
{
	static const char *const keys[] = {"request_id", "lease_id", "renewable", "lease_duration", "data",
					   "wrap_info", "warnings", "auth", "mount_type"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(k, keys[i]) == 0)
			return true;
	return false;
}

static void value_or_null(struct jsonw *w, const json_t *v)
{
	if (v)
		jsonw_value(w, v);
	else
		jsonw_lit(w, "null");
}

/* Vault's envelope around a handler's answer, written member by member
 * (no tree built to be dumped): request_id, lease_id, renewable,
 * lease_duration, data, wrap_info (null), warnings, auth, mount_type, then
 * with inject_data the data's own keys that the envelope has not. */
static void write_envelope(struct jsonw *w, const struct request *req, const struct response *resp)
{
	jsonw_lit(w, "{\"request_id\":");
	jsonw_cstr(w, req->id);
	jsonw_lit(w, ",\"lease_id\":");
	jsonw_cstr(w, resp->lease_id ? resp->lease_id : "");
	if (resp->renewable)
		jsonw_lit(w, ",\"renewable\":true,\"lease_duration\":");
	else
		jsonw_lit(w, ",\"renewable\":false,\"lease_duration\":");
	jsonw_int(w, (json_int_t)resp->lease_duration);
	jsonw_lit(w, ",\"data\":");
	value_or_null(w, resp->data);
	jsonw_lit(w, ",\"wrap_info\":null,\"warnings\":");
	value_or_null(w, resp->warnings);
	jsonw_lit(w, ",\"auth\":");
	value_or_null(w, resp->auth);
	jsonw_lit(w, ",\"mount_type\":");
	jsonw_cstr(w, req->mount && req->mount->type ? req->mount->type : "");
	if (resp->inject_data && json_is_object(resp->data)) {
		const char *k;
		size_t klen;
		json_t *v;
		json_object_keylen_foreach(resp->data, k, klen, v)
		{
			if (strlen(k) == klen && envelope_key(k))
				continue;
			jsonw_byte(w, ',');
			jsonw_str(w, k, klen);
			jsonw_byte(w, ':');
			jsonw_value(w, v);
		}
	}
	jsonw_byte(w, '}');
}

int http_render(const struct request *req, const struct response *resp, int err, int *status, struct buf *out)
{
	json_t *body = NULL;
	bool envelope = false;

	if (err != 0) {
		*status = err_http_status(err);
		body = json_pack("{s:o}", "errors", resp->errors ? json_incref(resp->errors) : json_array());
	} else if (resp->text) {
		*status = resp->status ? resp->status : 200;
		return resp->text_len ? buf_append(out, resp->text, resp->text_len) : buf_append_str(out, resp->text);
	} else if (resp->bare) {
		*status = resp->status ? resp->status : 200;
		body = json_incref(resp->bare);
	} else if (resp->wrap_info) {
		/* A wrapped response carries only wrap_info (Vault leaves even
		 * request_id empty). */
		*status = 200;
		body = json_pack("{s:s, s:s, s:b, s:i, s:n, s:O, s:O?, s:n, s:s}", "request_id", "", "lease_id", "",
				 "renewable", 0, "lease_duration", 0, "data", "wrap_info", resp->wrap_info, "warnings",
				 resp->warnings, "auth", "mount_type", "");
	} else if (req && (resp->data || resp->auth || resp->warnings || resp->lease_id)) {
		*status = resp->status ? resp->status : 200;
		envelope = true;
	} else {
		*status = resp->status ? resp->status : 204;
		return 0;
	}
	if (!envelope && !body)
		return TROVE_ERR_NOMEM;
	if (req && req->op == OP_HEAD) {
		json_decref(body);
		return 0;
	}
	/* Written straight into out (no intermediate text to copy and
	 * wipe): lib/jsonw writes what json_dumps(JSON_COMPACT) would. */
	struct jsonw w = {.b = *out, .ok = true};
	size_t start = out->len;
	if (envelope)
		write_envelope(&w, req, resp);
	else
		jsonw_value(&w, body);
	jsonw_byte(&w, '\n');
	json_decref(body);
	*out = w.b;
	if (!w.ok) {
		out->len = start;
		if (out->size)
			out->data[start] = '\0';
		return TROVE_ERR_NOMEM;
	}
	return 0;
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 307: return "Temporary Redirect";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}
