/* dns01.c — the dns-01 validator: the TXT records of
 * _acme-challenge.<name>, asked of the configured resolver through the C
 * library's resolver (res_nquery: UDP, TCP when truncated), read with
 * dns_txt_parse. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

#include "challenge.h"
#include "dns_txt.h"
#include "encoding.h"
#include "err.h"
#include "hmac.h"
#include "strconv.h"
#include "thread_role.h"

#define DNS_MAX_MESSAGE 65535

/* Points the resolver state at "ip" or "ip:port" (IPv4). */
static int set_resolver(res_state st, const char *resolver, struct buf *err)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(resolver, ':');
	size_t hl = colon ? (size_t)(colon - resolver) : strlen(resolver);
	int64_t port = 53;
	struct in_addr a;

	if (hl >= sizeof(host) || (colon && (!strconv_int64(colon + 1, &port) || port <= 0 || port > 65535)))
		goto bad;
	memcpy(host, resolver, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &a) != 1)
		goto bad;
	st->nscount = 1;
	memset(&st->nsaddr_list[0], 0, sizeof(st->nsaddr_list[0]));
	st->nsaddr_list[0].sin_family = AF_INET;
	st->nsaddr_list[0].sin_addr = a;
	st->nsaddr_list[0].sin_port = htons((uint16_t)port);
	return 0;
bad:
	if (err)
		buf_printf(err, "dns-01: resolver %.64s is not an IPv4 address with an optional port",
		           resolver);
	return TROVE_ERR_INVALID;
}

/* The TXT values of name, into out. */
static int query_txt(const char *name, const struct acme_validation *v, struct strlist *out, struct buf *err)
{
	int r, n;
	struct __res_state st;
	unsigned char *answer = NULL;
	int64_t ms = v->timeout_ms ? v->timeout_ms : ACME_VALIDATE_TIMEOUT_MS;

	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0) {
		if (err)
			buf_append_str(err, "dns-01: resolver setup failed");
		return TROVE_ERR_UPSTREAM;
	}
	if (v->resolver && (r = set_resolver(&st, v->resolver, err)) != 0)
		goto out;
	st.retry = 2;
	st.retrans = ms / 2000 > 0 ? (int)(ms / 2000) : 1;
	answer = xmalloc(DNS_MAX_MESSAGE);
	n = res_nquery(&st, name, ns_c_in, ns_t_txt, answer, DNS_MAX_MESSAGE);
	if (n < 0) {
		bool none = st.res_h_errno == HOST_NOT_FOUND || st.res_h_errno == NO_DATA;
		if (err)
			buf_printf(err, "dns-01: %s: %s", name,
			           none ? "no TXT record" : "the resolver did not answer");
		r = none ? TROVE_ERR_PERMISSION : TROVE_ERR_UPSTREAM;
		goto out;
	}
	r = dns_txt_parse(answer, (size_t)(n < DNS_MAX_MESSAGE ? n : DNS_MAX_MESSAGE), out);
	if (r != 0 && err)
		buf_printf(err, "dns-01: %s: %s", name,
		           r == TROVE_ERR_NOT_FOUND ? "no such name" : "malformed answer");
	if (r == TROVE_ERR_NOT_FOUND)
		r = TROVE_ERR_PERMISSION;
	else if (r != 0)
		r = TROVE_ERR_UPSTREAM;
out:
	free(answer);
	res_nclose(&st);
	return r;
}

int acme_validate_dns01(const struct acme_validation *v, struct buf *err)
{
	int r;
	struct buf name;
	struct strlist txt;
	unsigned char digest[SHA256_LEN];
	char *want = NULL;
	const char *base;

	if (thread_role_on_loop())
		return TROVE_ERR_WOULD_BLOCK;
	if ((r = acme_challenge_allowed(ACME_CHALLENGE_DNS01, v->id_type, v->identifier, err)) != 0)
		return r;
	if (!v->key_authorization) {
		if (err)
			buf_append_str(err, "dns-01: no key authorization");
		return TROVE_ERR_INVALID;
	}
	base = strncmp(v->identifier, "*.", 2) == 0 ? v->identifier + 2 : v->identifier;
	buf_init(&name, 300);
	strlist_init(&txt);
	if (buf_printf(&name, "_acme-challenge.%s", base) != 0) {
		if (err)
			buf_append_str(err, "dns-01: name too long");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	if ((r = query_txt(name.data, v, &txt, err)) != 0)
		goto out;
	if ((r = sha256(v->key_authorization, strlen(v->key_authorization), digest)) != 0)
		goto out;
	want = base64url_encode(digest, sizeof(digest));
	r = TROVE_ERR_PERMISSION;
	for (size_t i = 0; i < txt.len; i++)
		if (strcmp(txt.items[i], want) == 0)
			r = 0;
	if (r != 0 && err)
		buf_printf(err, "dns-01: no TXT record of %s holds the key authorization's digest",
		           name.data);
out:
	free(want);
	strlist_release(&txt);
	buf_release(&name);
	return r;
}
