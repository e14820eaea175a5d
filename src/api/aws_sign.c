/* aws_sign.c — SigV4 (aws_sign.h) and the signed GetCallerIdentity
 * request an aws (iam) login sends as its login fields. The signing
 * key is derived and used through hmac_sha256 (OpenSSL) and wiped. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/aws_sign.h"

#include "encoding.h"
#include "err.h"
#include "hmac.h"
#include "secure.h"

#include "banned.h"

#define GCI_BODY "Action=GetCallerIdentity&Version=2011-06-15"
#define CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"

static int cmp_header(const void *a, const void *b)
{
	const struct sigv4_header *x = a, *y = b;
	return strcasecmp(x->name, y->name);
}

/* name lowercased ':' value trimmed, inner blank runs made one, '\n' */
static void canonical_header(struct buf *b, const struct sigv4_header *h)
{
	for (const char *c = h->name; *c; c++)
		buf_append_byte(b, (char)tolower((unsigned char)*c));
	buf_append_byte(b, ':');
	const char *v = h->value;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n; i++) {
		bool blank = v[i] == ' ' || v[i] == '\t';
		if (blank && i > 0 && (v[i - 1] == ' ' || v[i - 1] == '\t'))
			continue;
		buf_append_byte(b, blank ? ' ' : v[i]);
	}
	buf_append_byte(b, '\n');
}

static int sha256_hex(const void *p, size_t n, char out[2 * SHA256_LEN + 1])
{
	unsigned char d[SHA256_LEN];
	int r = sha256(p, n, d);
	if (r == 0)
		hex_encode(d, sizeof(d), out);
	return r;
}

int sigv4_authorization(const char *method, const char *path, const char *query, const struct sigv4_header *h,
                        size_t nh, const void *body, size_t body_len, const char *region, const char *service,
                        const char *amz_date, const struct aws_creds *c, struct buf *out)
{
	struct sigv4_header *sorted = xcalloc(nh ? nh : 1, sizeof(*sorted));
	struct buf creq, names, sts, secret;
	char hash[2 * SHA256_LEN + 1], date[9], sig[2 * HMAC_SHA256_LEN + 1];
	unsigned char k[HMAC_SHA256_LEN], k2[HMAC_SHA256_LEN];
	int r = TROVE_ERR_INTERNAL;

	buf_init(&creq, 1 << 20);
	buf_init(&names, 1 << 16);
	buf_init(&sts, 1 << 16);
	buf_init_secret(&secret, 4096);
	memcpy(sorted, h, nh * sizeof(*sorted));
	qsort(sorted, nh, sizeof(*sorted), cmp_header);
	snprintf(date, sizeof(date), "%.8s", amz_date);

	buf_printf(&creq, "%s\n%s\n%s\n", method, path, query);
	for (size_t i = 0; i < nh; i++) {
		canonical_header(&creq, &sorted[i]);
		if (i)
			buf_append_byte(&names, ';');
		for (const char *p = sorted[i].name; *p; p++)
			buf_append_byte(&names, (char)tolower((unsigned char)*p));
	}
	if (sha256_hex(body ? body : "", body ? body_len : 0, hash) != 0)
		goto out;
	buf_printf(&creq, "\n%s\n%s", names.data ? names.data : "", hash);
	if (sha256_hex(creq.data, creq.len, hash) != 0)
		goto out;
	buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date, region, service,
	           hash);

	/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
	buf_printf(&secret, "AWS4%s", c->secret_key);
	if (hmac_sha256(secret.data, secret.len, date, strlen(date), k) != 0 ||
	    hmac_sha256(k, sizeof(k), region, strlen(region), k2) != 0 ||
	    hmac_sha256(k2, sizeof(k2), service, strlen(service), k) != 0 ||
	    hmac_sha256(k, sizeof(k), "aws4_request", 12, k2) != 0 ||
	    hmac_sha256(k2, sizeof(k2), sts.data, sts.len, k) != 0)
		goto out;
	hex_encode(k, sizeof(k), sig);
	buf_printf(out,
	           "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
	           c->access_key, date, region, service, names.data ? names.data : "", sig);
	r = 0;
out:
	secure_wipe(k, sizeof(k));
	secure_wipe(k2, sizeof(k2));
	free(sorted);
	buf_release(&creq);
	buf_release(&names);
	buf_release(&sts);
	buf_release_secret(&secret);
	return r;
}

/* host[:port] of an http(s) URL (a default port dropped) and its path. */
static int url_host_path(const char *url, char *host, size_t hcap, const char **path)
{
	const char *p = strstr(url, "://");
	if (!p || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
		return TROVE_ERR_INVALID;
	p += 3;
	size_t n = strcspn(p, "/?#");
	if (n == 0 || n >= hcap || memchr(p, '@', n) || p[n] == '?' || p[n] == '#')
		return TROVE_ERR_INVALID;
	snprintf(host, hcap, "%.*s", (int)n, p);
	bool tls = url[4] == 's';
	char *colon = strrchr(host, ':');
	if (colon && strcmp(colon + 1, tls ? "443" : "80") == 0)
		*colon = '\0';
	*path = p[n] ? p + n : "/";
	return 0;
}

static char *b64_str(const char *s, size_t n)
{
	char *out = xmalloc(base64_encoded_size(n));
	base64_encode((const unsigned char *)s, n, out);
	return out;
}

int aws_login_data(const struct aws_creds *c, const char *url, const char *region,
                       const char *server_id, int64_t now_s, json_t **out, struct buf *why)
{
	char defurl[256], host[256], amz_date[20];
	const char *path;
	struct buf authz;
	struct tm tm;
	time_t t = (time_t)now_s;
	json_t *headers = NULL;
	char *text = NULL;
	int r;

	*out = NULL;
	region = region && *region ? region : "us-east-1";
	if (!url || !*url) {
		if (strcmp(region, "us-east-1") == 0)
			snprintf(defurl, sizeof(defurl), "https://sts.amazonaws.com/");
		else
			snprintf(defurl, sizeof(defurl), "https://sts.%s.amazonaws.com/", region);
		url = defurl;
	}
	if (url_host_path(url, host, sizeof(host), &path) != 0) {
		buf_printf(why,
		           "the STS URL \"%s\" is not an http(s) URL without user info, query or fragment",
		           url);
		return TROVE_ERR_INVALID;
	}
	if (!gmtime_r(&t, &tm) || strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm) == 0)
		return TROVE_ERR_INTERNAL;
	struct sigv4_header h[5];
	size_t nh = 0;
	h[nh++] = (struct sigv4_header){"Content-Type", CONTENT_TYPE};
	h[nh++] = (struct sigv4_header){"Host", host};
	h[nh++] = (struct sigv4_header){"X-Amz-Date", amz_date};
	if (c->session_token)
		h[nh++] = (struct sigv4_header){"X-Amz-Security-Token", c->session_token};
	if (server_id)
		h[nh++] = (struct sigv4_header){"X-Vault-AWS-IAM-Server-ID", server_id};
	buf_init_secret(&authz, 1 << 16);
	if ((r = sigv4_authorization("POST", path, "", h, nh, GCI_BODY, strlen(GCI_BODY), region, "sts",
	                             amz_date, c, &authz)) != 0)
		goto out;
	headers = json_object();
	for (size_t i = 0; i < nh; i++)
		json_object_set_new(headers, h[i].name, json_pack("[s]", h[i].value));
	json_object_set_new(headers, "Authorization", json_pack("[s]", authz.data));
	text = json_dumps(headers, JSON_COMPACT);
	if (!text) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	char *u = b64_str(url, strlen(url)), *b = b64_str(GCI_BODY, strlen(GCI_BODY)),
	     *hd = b64_str(text, strlen(text));
	*out = json_pack("{s:s,s:s,s:s,s:s}", "iam_http_request_method", "POST", "iam_request_url", u,
	                 "iam_request_body", b, "iam_request_headers", hd);
	free(u);
	free(b);
	secure_free_str(hd);
	r = *out ? 0 : TROVE_ERR_NOMEM;
out:
	secure_free_str(text);
	json_decref(headers);
	buf_release_secret(&authz);
	return r;
}

void aws_sts_url_from_env(struct buf *out)
{
	const char *ep = getenv("AWS_ENDPOINT_URL_STS");

	if (!ep || !*ep)
		ep = getenv("AWS_ENDPOINT_URL");
	if (ep && *ep) {
		const char *hostpart = strstr(ep, "://");
		buf_printf(out, "%s%s", ep, hostpart && !strchr(hostpart + 3, '/') ? "/" : "");
	}
}
