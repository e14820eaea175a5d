/* request.c — lifecycle of the logical request and response. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

#include "buf.h"
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

void request_release(struct request *req)
{
	free(req->path);
	json_decref(req->data);
	secure_free(req->body.owned, req->body.len);
	secure_free_str(req->client_token);
	free(req->content_type);
	json_decref(req->headers);
	for (int i = 0; i < req->nparams; i++) {
		free((char *)req->params[i]);
		free((char *)req->param_names[i]);
	}
	token_entry_free(req->token);
	acl_release(req->acl);
	mount_release(req->mount);
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

void response_set_data(struct response *resp, json_t *data)
{
	json_decref(resp->data);
	resp->data = data;
}
