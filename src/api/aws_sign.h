/* aws_sign.h — what an aws (iam) login needs from AWS, for `trove login
 * -method=aws` and the agent's auto-auth alike: credentials from the places
 * the AWS SDKs look, SigV4 signing (HMAC-SHA256 through OpenSSL), and the
 * signed sts:GetCallerIdentity request as the login fields Vault's CLI
 * sends. */
#ifndef TROVE_API_AWS_SIGN_H
#define TROVE_API_AWS_SIGN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct aws_creds {
	char *access_key, *secret_key, *session_token; /* heap; token may be NULL */
};

/* Wipes and frees every member. */
void aws_creds_release(struct aws_creds *c);

/* Fills c from, in order: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and
 * AWS_SESSION_TOKEN); the shared credentials file
 * (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials) for profile
 * AWS_PROFILE (else "default"); the ECS container endpoint
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI, with
 * AWS_CONTAINER_AUTHORIZATION_TOKEN); the EC2 instance metadata service
 * (IMDSv2: a session token first), each over HTTP with a 1 s timeout.
 * Returns 0, or TROVE_ERR_NOT_FOUND with the places tried in why. */
int aws_creds_load(struct aws_creds *c, struct buf *why);

/* Parses a shared credentials file's text for profile: 0 with c filled,
 * or TROVE_ERR_NOT_FOUND when the profile or its keys are missing. */
int aws_creds_from_ini(const char *text, const char *profile, struct aws_creds *c);

struct sigv4_header {
	const char *name, *value;
};

/* The SigV4 Authorization header value of a request, as AWS specifies
 * the canonical request: method, the path (already URI-encoded), the
 * canonical query string ("" for none), every header given (names
 * lowercased and sorted, values trimmed, inner runs of blanks made one)
 * all signed, and the hex SHA-256 of the body; amz_date is
 * YYYYMMDDTHHMMSSZ. Appended to out; 0 or TROVE_ERR_INTERNAL. */
int sigv4_authorization(const char *method, const char *path, const char *query, const struct sigv4_header *h,
                        size_t nh, const void *body, size_t body_len, const char *region, const char *service,
                        const char *amz_date, const struct aws_creds *c, struct buf *out);

/* The STS URL AWS_ENDPOINT_URL_STS (else AWS_ENDPOINT_URL) names, as for
 * the SDKs, with a '/' added after a bare host; nothing when neither is
 * set. Appended to out. */
void aws_sts_url_from_env(struct buf *out);

/* The login fields of auth/aws/login for a GetCallerIdentity request
 * signed now with c: iam_http_request_method, iam_request_url,
 * iam_request_body, iam_request_headers (base64 of a JSON object of
 * lists, as Vault's CLI sends them). url is the STS URL (NULL or "": the
 * region's, https://sts.amazonaws.com/ for us-east-1); server_id, when
 * not NULL, is sent and signed as X-Vault-AWS-IAM-Server-ID. A new object
 * in *out; 0, or TROVE_ERR_INVALID with a reason in why. */
int aws_login_data(const struct aws_creds *c, const char *url, const char *region,
                       const char *server_id, int64_t now_s, json_t **out, struct buf *why);

#endif
