/* aws_login.c — auth/aws/login with auth_type=iam: a signed
 * sts:GetCallerIdentity request to a token.
 *
 * Order:
 *   1. the role named (if any) must exist; the client config gives the
 *      endpoint and the server-ID value;
 *   2. the request is checked locally (aws_login_check): POST, exactly
 *      the endpoint's URL, exactly GetCallerIdentity, SigV4 signing host
 *      and the server-ID header, X-Amz-Date within 15 minutes. A request
 *      failing any of these is refused with 400 and never sent;
 *   3. it is sent, unchanged, to the endpoint through outbound_call, and
 *      only STS's answer is trusted: Arn, UserId and Account from its
 *      GetCallerIdentityResponse; any other status is a 400 naming STS's
 *      error code (never its message, which may quote the request);
 *   4. without a role in the request, the role is the caller's IAM name,
 *      as Vault does;
 *   5. bound_account_id and bound_iam_principal_arn (403 when they do not
 *      hold the caller);
 *   6. login_issue with the role's token settings, Vault's metadata
 *      (account_id and auth_type, plus the fields of config/identity's
 *      iam_metadata) and alias (iam_alias: the role's role_id by
 *      default, or the caller's unique id, full ARN or canonical ARN). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws.h"

#include "core/login.h"
#include "core/mount.h"
#include "core/outbound.h"
#include "core/router.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* The role called given, lowercased into name, or a 400: Vault's
 * message when there is none. */
static int role_named(const struct request *req, struct response *resp, const char *given,
                      char name[AWS_NAME_MAX + 1], struct aws_role *role)
{
	if (strlen(given) > AWS_NAME_MAX)
		return response_error(resp, TROVE_ERR_INVALID, "role: longer than %d characters",
		                      AWS_NAME_MAX);
	snprintf(name, AWS_NAME_MAX + 1, "%s", given);
	lower(name);
	int r = aws_role_load(req->storage, name, role);
	if (r == TROVE_ERR_NOT_FOUND)
		r = response_error(resp, TROVE_ERR_INVALID, "entry for role \"%s\" not found", name);
	return r;
}

/* Step 3: sends f to STS and reads the caller from its answer. */
static int ask_sts(const struct aws_forward *f, struct response *resp, struct aws_caller *caller)
{
	struct outbound_response or ;
	struct buf err;
	const char **hdrs = xcalloc(f->headers.len + 1, sizeof(*hdrs));
	int r;

	for (size_t i = 0; i < f->headers.len; i++)
		hdrs[i] = f->headers.items[i];
	outbound_response_init(& or);
	buf_init(&err, 256);
	struct outbound_request oreq = {
	    .method = "POST",
	    .url = f->url,
	    .headers = hdrs,
	    .body = f->body,
	    .body_len = f->body_len,
	    .max_response = 64 << 10,
	};
	r = outbound_call(&oreq, & or, &err);
	if (r == TROVE_ERR_WOULD_BLOCK)
		goto out;
	if (r != 0) {
		r = response_error(resp, r, "error making upstream request: %s",
		                   err.data ? err.data : "failed");
		goto out;
	}
	if (or.status != 200) {
		char code[64];
		aws_sts_error_code(or.body.data ? or.body.data : "", or.body.len, code, sizeof(code));
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "error making upstream request: received error code %ld from STS%s%s",
		                   or.status, code[0] ? ": " : "", code);
		goto out;
	}
	if (aws_sts_identity_parse(or.body.data ? or.body.data : "", or.body.len, caller) != 0)
		r = response_error(resp, TROVE_ERR_UPSTREAM, "error parsing STS response");
out:
	free(hdrs);
	buf_release(&err);
	outbound_response_release(& or);
	return r;
}

static void meta_add(json_t *meta, const struct strlist *fields, const char *name, const char *value)
{
	if (strlist_contains(fields, name))
		json_object_set_new(meta, name, json_string(value));
}

int aws_login(struct request *req, struct response *resp)
{
	struct aws_config cfg;
	struct aws_identity ident;
	struct aws_role role;
	struct aws_forward fwd;
	struct aws_caller caller;
	struct aws_principal pr;
	struct buf why;
	json_t *meta = NULL;
	char *dn = NULL;
	char name[AWS_NAME_MAX + 1] = "";
	char canonical[AWS_ARN_MAX + 64];
	int r;

	aws_config_init(&cfg);
	aws_identity_init(&ident);
	aws_role_init(&role);
	aws_forward_init(&fwd);
	buf_init(&why, 256);
	if ((r = aws_config_load(req->storage, &cfg)) != 0 ||
	    (r = aws_identity_load(req->storage, &ident)) != 0)
		goto out;
	if (field_string(req, "role")[0] &&
	    (r = role_named(req, resp, field_string(req, "role"), name, &role)) != 0)
		goto out;
	struct aws_login_input in = {
	    .method = field_present(req, "iam_http_request_method")
	                  ? field_string(req, "iam_http_request_method")
	                  : NULL,
	    .url_b64 = field_present(req, "iam_request_url") ? field_string(req, "iam_request_url") : NULL,
	    .body_b64 = field_present(req, "iam_request_body") ? field_string(req, "iam_request_body") : NULL,
	    .headers = req->data ? json_object_get(req->data, "iam_request_headers") : NULL,
	};
	if (!in.method && !in.url_b64 && !in.body_b64 && !in.headers) {
		r = response_error(
		    resp, TROVE_ERR_INVALID,
		    "missing iam_request_* fields: only auth_type=iam logins are supported (the ec2 "
		    "pkcs7/identity method is not built)");
		goto out;
	}
	if ((r = aws_login_check(&in, aws_config_endpoint(&cfg), cfg.iam_server_id_header_value,
	                         &cfg.allowed_sts_header_values, (int64_t)time(NULL), &fwd, &why)) != 0) {
		r = response_error(resp, r, "%s", why.data);
		goto out;
	}
	if ((r = ask_sts(&fwd, resp, &caller)) != 0)
		goto out;
	if (aws_arn_parse(caller.arn, &pr) != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "unrecognized IAM principal type in \"%s\"",
		                   caller.arn);
		goto out;
	}
	aws_arn_canonical(&pr, canonical, sizeof(canonical));
	if (!name[0] && (r = role_named(req, resp, pr.friendly, name, &role)) != 0)
		goto out; /* no role given: the caller's IAM name, as Vault */
	if (role.bound_account_id.len > 0 && !strlist_contains(&role.bound_account_id, caller.account)) {
		r = response_error(resp, TROVE_ERR_PERMISSION,
		                   "account ID \"%s\" does not belong to role \"%s\"", caller.account, name);
		goto out;
	}
	if (role.bound_iam_principal_arn.len > 0 &&
	    !aws_arn_bound(&role.bound_iam_principal_arn, caller.arn, canonical)) {
		r = response_error(resp, TROVE_ERR_PERMISSION,
		                   "IAM Principal \"%s\" does not belong to the role \"%s\"", caller.arn,
		                   name);
		goto out;
	}

	/* Vault's unique id: the UserId up to a ':' (an assumed role's
	 * session name follows it). */
	char unique[AWS_USER_ID_MAX + 1];
	snprintf(unique, sizeof(unique), "%.*s", (int)strcspn(caller.user_id, ":"), caller.user_id);
	meta = json_object();
	meta_add(meta, &ident.iam_metadata, "account_id", caller.account);
	meta_add(meta, &ident.iam_metadata, "auth_type", "iam");
	meta_add(meta, &ident.iam_metadata, "canonical_arn", canonical);
	meta_add(meta, &ident.iam_metadata, "client_arn", caller.arn);
	meta_add(meta, &ident.iam_metadata, "client_user_id", unique);
	meta_add(meta, &ident.iam_metadata, "inferred_aws_region", "");
	meta_add(meta, &ident.iam_metadata, "inferred_entity_id", "");
	meta_add(meta, &ident.iam_metadata, "inferred_entity_type", "");
	meta_add(meta, &ident.iam_metadata, "inferred_hostname", "");
	const char *alias = strcmp(ident.iam_alias, "unique_id") == 0       ? unique
	                    : strcmp(ident.iam_alias, "full_arn") == 0      ? caller.arn
	                    : strcmp(ident.iam_alias, "canonical_arn") == 0 ? canonical
	                                                                    : role.role_id;
	dn = login_display_name(req->mount && req->mount->path ? req->mount->path : "aws", pr.friendly);
	struct login_grant grant = {
	    .params = &role.tp,
	    .display_name = dn,
	    .metadata = meta,
	    .role = NULL,
	    .alias_name = alias,
	    .alias_metadata = meta,
	};
	r = login_issue(req, resp, &grant);
out:
	free(dn);
	json_decref(meta);
	buf_release(&why);
	aws_forward_release(&fwd);
	aws_role_release(&role);
	aws_identity_release(&ident);
	aws_config_release(&cfg);
	return r;
}
