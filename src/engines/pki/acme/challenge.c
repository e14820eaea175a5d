/* challenge.c — key authorizations, which challenge fits which
 * identifier, and the http-01 validator. */
#include "challenge.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "core/outbound.h"
#include "err.h"

char *acme_key_authorization(const char *token, const char *thumbprint)
{
	size_t t = strlen(token), p = strlen(thumbprint);
	char *s = xmalloc(t + 1 + p + 1);

	memcpy(s, token, t);
	s[t] = '.';
	memcpy(s + t + 1, thumbprint, p + 1);
	return s;
}

static bool is_ip(const char *s)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

int acme_challenge_allowed(enum acme_challenge_type type, enum acme_id_type id_type, const char *value,
                           struct buf *err)
{
	const char *why = NULL;

	if (!value || !*value)
		why = "identifier is empty";
	else if (id_type == ACME_ID_IP && !is_ip(value))
		why = "ip identifier is not an IP address";
	else if (id_type == ACME_ID_IP && type == ACME_CHALLENGE_DNS01)
		why = "dns-01 cannot validate an ip identifier";
	else if (id_type == ACME_ID_DNS && strncmp(value, "*.", 2) == 0 && type != ACME_CHALLENGE_DNS01)
		why = "a wildcard identifier needs dns-01";
	if (!why)
		return 0;
	if (err)
		buf_append_str(err, why);
	return TROVE_ERR_INVALID;
}

/* Whether the token is safe to put in a path: base64url only. */
static bool token_ok(const char *t)
{
	if (!t || !*t || strlen(t) > 256)
		return false;
	for (; *t; t++)
		if (!isalnum((unsigned char)*t) && *t != '-' && *t != '_')
			return false;
	return true;
}

/* The host part of a URL for the identifier: an IPv6 literal bracketed. */
static int url_host(const struct acme_validation *v, struct buf *out)
{
	unsigned char addr[16];

	if (v->id_type == ACME_ID_IP && inet_pton(AF_INET6, v->identifier, addr) == 1)
		return buf_printf(out, "[%s]", v->identifier);
	for (const char *p = v->identifier; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return TROVE_ERR_INVALID;
	return buf_append_str(out, v->identifier);
}

int acme_validate_http01(const struct acme_validation *v, struct buf *err)
{
	int r;
	struct buf url;
	struct outbound_request req = {0};
	struct outbound_response resp;
	struct buf why;
	const char *body, *end;

	if ((r = acme_challenge_allowed(ACME_CHALLENGE_HTTP01, v->id_type, v->identifier, err)) != 0)
		return r;
	if (!token_ok(v->token) || !v->key_authorization) {
		if (err)
			buf_append_str(err, "token is not base64url");
		return TROVE_ERR_INVALID;
	}
	buf_init(&url, 2048);
	buf_init(&why, 1024);
	outbound_response_init(&resp);
	if (buf_append_str(&url, "http://") != 0 || url_host(v, &url) != 0 ||
	    buf_printf(&url, ":%u/.well-known/acme-challenge/%s", v->port ? v->port : ACME_HTTP01_PORT,
	               v->token) != 0) {
		if (err)
			buf_append_str(err, "identifier is not a host name");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	req.url = url.data;
	req.timeout_ms = v->timeout_ms ? v->timeout_ms : ACME_VALIDATE_TIMEOUT_MS;
	req.connect_timeout_ms = req.timeout_ms;
	req.max_response = ACME_HTTP01_MAX_BODY;
	req.follow_redirects = true;
	req.max_redirects = ACME_HTTP01_MAX_REDIRECTS;
	if ((r = outbound_call(&req, &resp, &why)) != 0) {
		if (err)
			buf_printf(err, "http-01: fetching %s: %s", url.data, why.data);
		goto out;
	}
	if (resp.status != 200) {
		if (err)
			buf_printf(err, "http-01: %s answered status %ld", url.data, resp.status);
		r = TROVE_ERR_UPSTREAM;
		goto out;
	}
	body = resp.body.data;
	end = body + resp.body.len;
	while (body < end && isspace((unsigned char)*body))
		body++;
	while (end > body && isspace((unsigned char)end[-1]))
		end--;
	if ((size_t)(end - body) != strlen(v->key_authorization) ||
	    memcmp(body, v->key_authorization, (size_t)(end - body)) != 0) {
		if (err)
			buf_printf(err, "http-01: %s did not answer the key authorization", url.data);
		r = TROVE_ERR_PERMISSION;
		goto out;
	}
	r = 0;
out:
	outbound_response_release(&resp);
	buf_release(&why);
	buf_release(&url);
	return r;
}
