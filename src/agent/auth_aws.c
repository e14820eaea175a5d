/* auth_aws.c — auto-auth with aws, type iam: a GetCallerIdentity request
 * signed with the node's AWS credentials is the login (auth_method.h,
 * api/aws_sign.h). Credentials are access_key/secret_key/session_token
 * from the config, else looked up at each login where the AWS SDKs look
 * (the environment, the shared credentials file, the container endpoint,
 * the instance metadata service with IMDSv2), so rotated credentials are
 * picked up. AWS_ENDPOINT_URL_STS names another STS, as for the SDKs.
 * type ec2 (signed instance identity documents) is not supported. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/auth_method.h"
#include "api/aws_sign.h"
#include "duration.h"
#include "err.h"

#include "banned.h"

static const char *const keys[] = {
	"type", "role", "region", "header_value", "access_key", "secret_key", "session_token",
	"credential_poll_interval", "nonce", NULL,
};

static int init(struct auth_method *m, struct buf *err)
{
	const char *type, *role, *ak = auth_method_value(m, "access_key"), *sk = auth_method_value(m, "secret_key");
	const char *poll = auth_method_value(m, "credential_poll_interval");
	int64_t secs;
	int r;

	if ((r = auth_method_required(m, "type", &type, err)) != 0)
		return r;
	if (strcmp(type, "ec2") == 0)
		return auth_method_fail(m, "type", err, "\"ec2\" is not supported by Trove's agent; use \"iam\"");
	if (strcmp(type, "iam") != 0)
		return auth_method_fail(m, "type", err, "\"%s\" is not a type (want iam)", type);
	if ((r = auth_method_required(m, "role", &role, err)) != 0)
		return r;
	if (auth_method_value(m, "nonce"))
		return auth_method_fail(m, "nonce", err, "only the ec2 type takes a nonce");
	if ((ak && *ak) != (sk && *sk))
		return auth_method_fail(m, ak && *ak ? "secret_key" : "access_key", err,
		                        "access_key and secret_key go together");
	if (poll && duration_parse_seconds(poll, strlen(poll), &secs) != 0)
		return auth_method_fail(m, "credential_poll_interval", err, "\"%s\" is not a duration", poll);
	return 0;
}

/* The credentials of the config, else of the places the SDKs look. */
static int load_creds(const struct auth_method *m, struct aws_creds *c, struct buf *err)
{
	const char *ak = auth_method_value(m, "access_key"), *sk = auth_method_value(m, "secret_key");
	const char *st = auth_method_value(m, "session_token");

	memset(c, 0, sizeof(*c));
	if (ak && *ak) {
		c->access_key = xstrdup(ak);
		c->secret_key = xstrdup(sk);
		c->session_token = st && *st ? xstrdup(st) : NULL;
		return 0;
	}
	return aws_creds_load(c, err);
}

static int login(struct auth_method *m, struct api_client *c, struct auth_login *out, struct buf *err)
{
	struct aws_creds creds;
	struct buf url;
	json_t *body = NULL;
	int r;

	(void)c;
	buf_init(&url, 4096);
	if ((r = load_creds(m, &creds, err)) != 0)
		goto out;
	aws_sts_url_from_env(&url);
	if ((r = aws_login_data(&creds, url.data, auth_method_value(m, "region"), auth_method_value(m, "header_value"),
	                        (int64_t)time(NULL), &body, err)) != 0)
		goto out;
	auth_login_init(out, m);
	json_decref(out->body);
	out->body = body; /* the signed request's fields; wiped with the login */
	body = NULL;
	json_object_set_new(out->body, "role", json_string(auth_method_value(m, "role")));
out:
	api_json_free_secret(body);
	aws_creds_release(&creds);
	buf_release(&url);
	return r;
}

const struct auth_method_ops auth_aws_ops = {"aws", keys, init, login, NULL};
