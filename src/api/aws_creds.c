/* aws_creds.c — AWS credentials for an aws (iam) login, looked for
 * where the AWS SDKs look (aws_sign.h): the environment, the shared
 * credentials file, the ECS container endpoint, the EC2 instance metadata
 * service (IMDSv2). The metadata endpoints are asked through the API
 * client's transport with short timeouts, never through a proxy's say. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/config.h"
#include "api/transport.h"
#include "api/aws_sign.h"

#include "err.h"
#include "secure.h"

#include "banned.h"

#define METADATA_TIMEOUT_MS 1000
#define ECS_HOST "http://169.254.170.2"
#define IMDS_HOST "http://169.254.169.254"

void aws_creds_release(struct aws_creds *c)
{
	secure_free_str(c->access_key);
	secure_free_str(c->secret_key);
	secure_free_str(c->session_token);
	c->access_key = c->secret_key = c->session_token = NULL;
}

static char *dup_nonempty(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

static bool complete(struct aws_creds *c)
{
	if (c->access_key && c->secret_key)
		return true;
	aws_creds_release(c);
	return false;
}

/* --- the shared credentials file ------------------------------------------------ */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int aws_creds_from_ini(const char *text, const char *profile, struct aws_creds *c)
{
	char *copy = xstrdup(text), *line = copy, *next;
	bool in = false;
	for (; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *l = trim(line);
		if (*l == '#' || *l == ';' || !*l)
			continue;
		if (*l == '[') {
			char *end = strchr(l, ']');
			if (end)
				*end = '\0';
			in = strcmp(trim(l + 1), profile) == 0;
			continue;
		}
		char *eq = strchr(l, '=');
		if (!in || !eq)
			continue;
		*eq = '\0';
		const char *k = trim(l), *v = trim(eq + 1);
		char **slot = strcmp(k, "aws_access_key_id") == 0       ? &c->access_key
		              : strcmp(k, "aws_secret_access_key") == 0 ? &c->secret_key
		              : strcmp(k, "aws_session_token") == 0     ? &c->session_token
		                                                        : NULL;
		if (slot) {
			secure_free_str(*slot);
			*slot = dup_nonempty(v);
		}
	}
	secure_free_str(copy);
	return complete(c) ? 0 : TROVE_ERR_NOT_FOUND;
}

static int from_file(struct aws_creds *c, struct buf *tried)
{
	const char *path = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = getenv("AWS_PROFILE");
	struct buf p, text;
	int r = TROVE_ERR_NOT_FOUND;

	buf_init(&p, 4096);
	buf_init_secret(&text, 1 << 20);
	if (path && *path)
		buf_append_str(&p, path);
	else if (getenv("HOME"))
		buf_printf(&p, "%s/.aws/credentials", getenv("HOME"));
	profile = profile && *profile ? profile : "default";
	if (p.data) {
		buf_printf(tried, ", profile \"%s\" of %s", profile, p.data);
		FILE *f = fopen(p.data, "r");
		if (f) {
			char chunk[4096];
			size_t n;
			while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
			       buf_append(&text, chunk, n) == 0)
				;
			secure_wipe(chunk, sizeof(chunk));
			fclose(f);
			if (text.data)
				r = aws_creds_from_ini(text.data, profile, c);
		}
	}
	buf_release(&p);
	buf_release_secret(&text);
	return r;
}

/* --- the metadata endpoints ------------------------------------------------------ */

/* One call to a metadata endpoint: 0 with the body in resp when it
 * answered 200. */
static int meta_call(struct api_curl *t, const char *method, const char *url, const struct strlist *headers,
                     struct api_response *resp)
{
	struct api_wire w = {method, url, headers, method[0] == 'P' ? "" : NULL, 0, METADATA_TIMEOUT_MS};
	api_response_release(resp);
	api_response_init(resp);
	int r = api_curl_send(t, &w, resp);
	return r == 0 && resp->status == 200 && resp->body.data ? 0 : TROVE_ERR_NOT_FOUND;
}

/* AccessKeyId, SecretAccessKey, Token of a metadata answer. */
static int from_json_body(const struct api_response *resp, struct aws_creds *c)
{
	json_error_t e;
	json_t *j = json_loadb(resp->body.data, resp->body.len, 0, &e);
	c->access_key = dup_nonempty(json_string_value(json_object_get(j, "AccessKeyId")));
	c->secret_key = dup_nonempty(json_string_value(json_object_get(j, "SecretAccessKey")));
	c->session_token = dup_nonempty(json_string_value(json_object_get(j, "Token")));
	api_json_free_secret(j);
	return complete(c) ? 0 : TROVE_ERR_NOT_FOUND;
}

static int from_ecs(struct api_curl *t, struct aws_creds *c, struct buf *tried)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	struct buf url;
	struct strlist hdrs;
	struct api_response resp;
	int r = TROVE_ERR_NOT_FOUND;

	if (!(rel && *rel) && !(full && *full))
		return r;
	buf_init(&url, 4096);
	strlist_init(&hdrs);
	api_response_init(&resp);
	if (rel && *rel)
		buf_printf(&url, ECS_HOST "%s", rel);
	else
		buf_append_str(&url, full);
	if (tok && *tok && !strpbrk(tok, "\r\n")) {
		struct buf h;
		buf_init_secret(&h, 8192);
		buf_printf(&h, "Authorization: %s", tok);
		strlist_push(&hdrs, h.data ? h.data : "");
		buf_release_secret(&h);
	}
	buf_printf(tried, ", the container endpoint %s", url.data ? url.data : "");
	if (url.data && meta_call(t, "GET", url.data, &hdrs, &resp) == 0)
		r = from_json_body(&resp, c);
	api_response_release(&resp);
	for (size_t i = 0; i < hdrs.len; i++)
		secure_wipe(hdrs.items[i], strlen(hdrs.items[i]));
	strlist_release(&hdrs);
	buf_release(&url);
	return r;
}

static int from_imds(struct api_curl *t, struct aws_creds *c, struct buf *tried)
{
	const char *disabled = getenv("AWS_EC2_METADATA_DISABLED");
	struct strlist hdrs;
	struct api_response resp;
	struct buf h, url;
	int r = TROVE_ERR_NOT_FOUND;

	if (disabled && strcmp(disabled, "true") == 0)
		return r;
	buf_append_str(tried, ", the EC2 instance metadata service");
	strlist_init(&hdrs);
	api_response_init(&resp);
	buf_init_secret(&h, 8192);
	buf_init(&url, 4096);
	strlist_push(&hdrs, "X-aws-ec2-metadata-token-ttl-seconds: 60");
	if (meta_call(t, "PUT", IMDS_HOST "/latest/api/token", &hdrs, &resp) != 0 ||
	    strpbrk(resp.body.data, "\r\n"))
		goto out;
	buf_printf(&h, "X-aws-ec2-metadata-token: %s", resp.body.data);
	strlist_release(&hdrs);
	strlist_init(&hdrs);
	strlist_push(&hdrs, h.data);
	if (meta_call(t, "GET", IMDS_HOST "/latest/meta-data/iam/security-credentials/", &hdrs, &resp) != 0)
		goto out;
	size_t n = strcspn(resp.body.data, "\r\n");
	if (n == 0 || strchr(resp.body.data, '/'))
		goto out;
	buf_printf(&url, IMDS_HOST "/latest/meta-data/iam/security-credentials/%.*s", (int)n, resp.body.data);
	if (meta_call(t, "GET", url.data, &hdrs, &resp) == 0)
		r = from_json_body(&resp, c);
out:
	api_response_release(&resp);
	for (size_t i = 0; i < hdrs.len; i++)
		secure_wipe(hdrs.items[i], strlen(hdrs.items[i]));
	strlist_release(&hdrs);
	buf_release_secret(&h);
	buf_release(&url);
	return r;
}

int aws_creds_load(struct aws_creds *c, struct buf *why)
{
	struct buf tried;
	struct api_config cfg;
	struct api_curl *t = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	c->access_key = dup_nonempty(getenv("AWS_ACCESS_KEY_ID"));
	c->secret_key = dup_nonempty(getenv("AWS_SECRET_ACCESS_KEY"));
	c->session_token = dup_nonempty(getenv("AWS_SESSION_TOKEN"));
	if (complete(c))
		return 0;
	buf_init(&tried, 8192);
	buf_append_str(&tried, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
	if ((r = from_file(c, &tried)) == 0)
		goto out;
	api_config_init(&cfg);
	cfg.timeout_ms = METADATA_TIMEOUT_MS;
	if (api_curl_new(&cfg, &t) == 0) {
		if ((r = from_ecs(t, c, &tried)) != 0)
			r = from_imds(t, c, &tried);
		api_curl_free(t);
	}
	api_config_release(&cfg);
	if (r != 0)
		buf_printf(why, "no AWS credentials found (tried %s)", tried.data);
out:
	buf_release(&tried);
	return r;
}
