/* aws.h — internals shared by the auth/aws files (auth_type=iam only).
 *
 * Files:
 *   aws.c          the engine, its route table, config/client,
 *                  config/identity and roles
 *   aws_request.c  the login request as the client signed it: decoding and
 *                  the local checks made before anything is sent to STS
 *   aws_sts.c      STS's answer: the GetCallerIdentityResponse extractor,
 *                  ARNs, the role's bindings
 *   aws_login.c    login: the checks, the call to STS, the token
 *
 * Storage (the mount's private view, encrypted by the barrier):
 *   config/client     the client config (JSON; secret_key inside)
 *   config/identity   iam_alias, iam_metadata (JSON)
 *   role/<name>       a role (JSON; names are lowercase) */
#ifndef TROVE_AWS_H
#define TROVE_AWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "core/request.h"
#include "core/token_params.h"
#include "storage/storage.h"

#define AWS_NAME_MAX 128
#define AWS_DEFAULT_STS_ENDPOINT "https://sts.amazonaws.com"
#define AWS_SERVER_ID_HEADER "X-Vault-AWS-IAM-Server-ID"
/* STS's own window for X-Amz-Date, checked here first. */
#define AWS_DATE_WINDOW_S (15 * 60)

/* Bounds on what a login may carry (after base64 decoding). */
#define AWS_URL_MAX 2048
#define AWS_BODY_MAX 4096
#define AWS_HEADERS_MAX 32
#define AWS_HEADER_VALUE_MAX 8192
#define AWS_HEADERS_JSON_MAX (64 << 10)

/* Bounds on STS's answer. */
#define AWS_ARN_MAX 2048
#define AWS_USER_ID_MAX 256
#define AWS_ACCOUNT_MAX 32

#define AWS_CONFIG_CLIENT_KEY "config/client"
#define AWS_CONFIG_IDENTITY_KEY "config/identity"
#define AWS_ROLE_PREFIX "role/"

struct aws_config {
	char *access_key, *secret_key; /* NULL when not set */
	char *sts_endpoint;            /* as written; "" means the default */
	char *sts_region;
	char *iam_server_id_header_value; /* "" when not required */
	struct strlist allowed_sts_header_values;
	int64_t max_retries;
};

struct aws_identity {
	char iam_alias[32];          /* role_id (default), unique_id, full_arn, canonical_arn */
	struct strlist iam_metadata; /* fields added to account_id, auth_type */
};

struct aws_role {
	char name[AWS_NAME_MAX + 1];
	char role_id[37];
	struct strlist bound_iam_principal_arn;
	struct strlist bound_account_id;
	bool resolve_aws_unique_ids;
	struct token_params tp;
};

/* --- aws.c: the stored objects ---------------------------------------- */

void aws_config_init(struct aws_config *c);
void aws_config_release(struct aws_config *c); /* wipes secret_key */
/* The mount's client config; a missing one is the defaults (0). */
int aws_config_load(struct storage *s, struct aws_config *out);
/* The STS endpoint logins must be sent to (never NULL; borrowed). */
const char *aws_config_endpoint(const struct aws_config *c);

void aws_identity_init(struct aws_identity *i);
void aws_identity_release(struct aws_identity *i);
/* Into out, made by aws_identity_init (its defaults stay when nothing
 * was written). */
int aws_identity_load(struct storage *s, struct aws_identity *out);

void aws_role_init(struct aws_role *r);
void aws_role_release(struct aws_role *r);
/* TROVE_ERR_NOT_FOUND when there is no role of that (lowercase) name. */
int aws_role_load(struct storage *s, const char *name, struct aws_role *out);

/* --- aws_request.c: the signed request, checked locally --------------- */

/* What the client sent (iam_request_* fields, base64 as hvac sends them;
 * headers either base64 of a JSON object, or the object itself). */
struct aws_login_input {
	const char *method;    /* iam_http_request_method */
	const char *url_b64;   /* iam_request_url */
	const char *body_b64;  /* iam_request_body */
	const json_t *headers; /* iam_request_headers: a string or an object */
};

/* What is forwarded to STS once every check passed. */
struct aws_forward {
	char *url;  /* the client's URL (it is the endpoint) */
	char *body; /* NUL-terminated */
	size_t body_len;
	struct strlist headers; /* "Name: value" lines; wiped on release */
};

void aws_forward_init(struct aws_forward *f);
void aws_forward_release(struct aws_forward *f);

/* Decodes in and checks, before anything is sent anywhere:
 *   - the method is POST;
 *   - the URL is the endpoint (scheme, host and port, path; "" and "/"
 *     alike), with no user info, query or fragment;
 *   - the body is the form Action=GetCallerIdentity&Version=2011-06-15
 *     and nothing else;
 *   - the headers are a JSON object of strings or lists of strings with
 *     sane names and values, no name twice, within the bounds above;
 *   - Authorization is SigV4 (AWS4-HMAC-SHA256) and its SignedHeaders
 *     hold "host" and, when server_id is not empty, the server-ID header,
 *     which must be present with that value;
 *   - X-Amz-Date is present and within AWS_DATE_WINDOW_S of now_s;
 *   - every other header is signed, one of the usual unsigned ones
 *     (Content-Type, Content-Length, User-Agent) or named in allowed.
 * On success fills out (Host and Content-Length are left for the HTTP
 * client to set). On failure returns TROVE_ERR_INVALID with a reason in
 * why that never quotes a header value, the body or the signature. */
int aws_login_check(const struct aws_login_input *in, const char *endpoint, const char *server_id,
                    const struct strlist *allowed, int64_t now_s, struct aws_forward *out, struct buf *why);

/* "YYYYMMDDTHHMMSSZ" to Unix seconds: 0, or -1 for any other text. */
int aws_amz_date_parse(const char *s, int64_t *out);

/* --- aws_sts.c: STS's answer ------------------------------------------ */

struct aws_caller {
	char arn[AWS_ARN_MAX + 1];
	char user_id[AWS_USER_ID_MAX + 1];
	char account[AWS_ACCOUNT_MAX + 1];
};

/* Extracts Arn, UserId and Account, each exactly once, from
 * GetCallerIdentityResponse/GetCallerIdentityResult in the n bytes at xml.
 * Strict and bounded: no DOCTYPE, comments, CDATA or processing
 * instructions beyond the XML declaration, elements nested at most 8 deep,
 * only the five predefined entities, each value within its bound and
 * non-empty. 0, or TROVE_ERR_INVALID. */
int aws_sts_identity_parse(const char *xml, size_t n, struct aws_caller *out);

/* The <Code> of an AWS error answer (<ErrorResponse><Error><Code>), into
 * out (at most cap-1 characters of [A-Za-z0-9.]); "" when there is none. */
void aws_sts_error_code(const char *xml, size_t n, char *out, size_t cap);

/* An ARN as Vault reads a principal's: user and role (iam), assumed-role
 * (sts). */
struct aws_principal {
	char partition[32];
	char account[AWS_ACCOUNT_MAX + 1];
	char type[16];                  /* user, role, assumed-role */
	char friendly[AWS_ARN_MAX + 1]; /* the user's or role's name */
	char session[AWS_ARN_MAX + 1];  /* assumed-role: the session name */
	bool sts;                       /* the ARN's service was sts */
};

/* 0, or TROVE_ERR_INVALID for any other ARN. */
int aws_arn_parse(const char *arn, struct aws_principal *out);
/* arn:<partition>:iam::<account>:<user|role>/<name> (an assumed role
 * becomes its role, without path or session). */
void aws_arn_canonical(const struct aws_principal *p, char *out, size_t cap);
/* Whether the caller satisfies the role's bound_iam_principal_arn: an
 * entry equals the canonical ARN, or ends in '*' and its stem begins the
 * canonical ARN or (an IAM user's or role's ARN, which holds its path)
 * the ARN STS returned. An empty list binds nothing. */
bool aws_arn_bound(const struct strlist *bound, const char *client_arn, const char *canonical);

/* --- handlers ---------------------------------------------------------- */

int aws_login(struct request *req, struct response *resp);

#endif
