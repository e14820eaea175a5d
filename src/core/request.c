/* request.c — lifecycle of the logical request and response. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

#include "buf.h"
#include "err.h"
#include "secure.h"
#include "acl.h"
#include "audit.h"
#include "mount.h"
#include "token.h"

#include "banned.h"

static const char *const op_names[OP__COUNT] = {
	[OP_READ] = "read",     [OP_CREATE] = "create", [OP_UPDATE] = "update", [OP_PATCH] = "patch",
	[OP_DELETE] = "delete", [OP_LIST] = "list",     [OP_HEAD] = "header",
};

const char *op_name(enum op op)
{
	return (op >= 0 && op < OP__COUNT) ? op_names[op] : "unknown";
}

void request_init(struct request *req)
{
	memset(req, 0, sizeof(*req));
	strlist_init(&req->granting);
}

void request_unmatch(struct request *req)
{
	for (int i = 0; i < req->nparams; i++) {
		secure_free_str((char *)req->params[i]);
		free((char *)req->param_names[i]);
	}
	req->nparams = 0;
	mount_release(req->mount);
	req->mount = NULL;
	req->storage = NULL;
	req->rel = NULL;
	req->route = NULL;
}

void request_release(struct request *req)
{
	if (req->nsecret > 0)
		secure_free_str(req->path); /* it holds a secret parameter */
	else
		free(req->path);
	json_decref(req->data);
	secure_free(req->body.owned, req->body.len);
	secure_free_str(req->client_token);
	free(req->content_type);
	json_decref(req->headers);
	free(req->peer_chain.der);
	request_unmatch(req);
	free(req->path_as_sent);
	token_entry_free(req->token);
	acl_release(req->acl);
	strlist_release(&req->granting);
	audit_reuse_release(req->audit_reuse);
	free(req->audit_reuse);
	memset(req, 0, sizeof(*req));
}

void response_init(struct response *resp)
{
	memset(resp, 0, sizeof(*resp));
}

void response_release(struct response *resp)
{
	json_decref(resp->data);
	json_decref(resp->auth);
	json_decref(resp->warnings);
	json_decref(resp->bare);
	json_decref(resp->errors);
	json_decref(resp->wrap_info);
	json_decref(resp->secret.internal);
	json_decref(resp->headers);
	free(resp->lease_id);
	free(resp->text);
	memset(resp, 0, sizeof(*resp));
}

const char *request_param(const struct request *req, const char *name)
{
	for (int i = 0; i < req->nparams; i++)
		if (strcmp(req->param_names[i], name) == 0)
			return req->params[i];
	return NULL;
}

void request_path_pieces(const struct request *req, path_piece_fn piece, void *ctx)
{
	size_t at = 0, n = req->path ? strlen(req->path) : 0;

	for (int i = 0; i < req->nsecret; i++) {
		const struct path_span *sp = &req->secret_spans[i];
		if (sp->off < at || sp->off > n || sp->len > n - sp->off)
			continue; /* not within the path: nothing to mask */
		if (sp->off > at)
			piece(ctx, req->path + at, sp->off - at, false);
		piece(ctx, req->path + sp->off, sp->len, true);
		at = sp->off + sp->len;
	}
	if (at < n)
		piece(ctx, req->path + at, n - at, false);
}

static void redact_piece(void *ctx, const char *s, size_t n, bool secret)
{
	if (secret)
		buf_append_str(ctx, REQUEST_PATH_REDACTED);
	else
		buf_append(ctx, s, n);
}

char *request_path_redacted(const struct request *req)
{
	struct buf b;

	buf_init(&b, BUF_CAP_DEFAULT);
	request_path_pieces(req, redact_piece, &b);
	if (b.len == 0) {
		buf_release(&b);
		return xstrdup("");
	}
	return buf_take(&b);
}

static void append_message(json_t **arr, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void append_message(json_t **arr, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!*arr)
		*arr = json_array();
	json_array_append_new(*arr, json_string(msg));
}

int response_error(struct response *resp, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	append_message(&resp->errors, fmt, ap);
	va_end(ap);
	return err;
}

void response_warning(struct response *resp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	append_message(&resp->warnings, fmt, ap);
	va_end(ap);
}

void response_fail_detail(struct response *resp, const char *what, int err)
{
	resp->fail_what = what;
	resp->fail_error = err_name(err);
}

#define HEADER_PART_MAX 1024

/* RFC 9110's token characters. */
static bool header_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > HEADER_PART_MAX)
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

static bool header_value_ok(const char *s)
{
	if (strlen(s) > HEADER_PART_MAX)
		return false;
	for (; *s; s++)
		if (*s != '\t' && (*s < 0x20 || *s > 0x7e))
			return false;
	return true;
}

int response_header_add(struct response *resp, const char *name, const char *value)
{
	if (!name || !value || !header_name_ok(name) || !header_value_ok(value))
		return TROVE_ERR_INVALID;
	if (!resp->headers)
		resp->headers = json_object();
	json_t *vals = json_object_get(resp->headers, name);
	if (!vals) {
		vals = json_array();
		json_object_set_new(resp->headers, name, vals);
	}
	return json_array_append_new(vals, json_string(value)) == 0 ? 0 : TROVE_ERR_NOMEM;
}

void response_set_data(struct response *resp, json_t *data)
{
	json_decref(resp->data);
	resp->data = data;
}
