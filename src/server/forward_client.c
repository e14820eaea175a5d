/* forward_client.c — the forwarded client's address header
 * (forward_client.h). */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "server/forward_client.h"

#include "err.h"

#include "banned.h"

size_t forward_client_format(const char *addr, int port, char *out, size_t cap)
{
	unsigned char bin[16];
	int n;

	if (port < 0 || port > 65535)
		return 0;
	if (inet_pton(AF_INET, addr, bin) == 1)
		n = snprintf(out, cap, "%s:%d", addr, port);
	else if (inet_pton(AF_INET6, addr, bin) == 1)
		n = snprintf(out, cap, "[%s]:%d", addr, port);
	else
		return 0;
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int forward_client_parse(const char *v, size_t len, char *addr, size_t cap, int *port)
{
	char host[FORWARD_CLIENT_MAX];
	unsigned char bin[16];
	size_t colon = len, hlen, i;
	bool v6;
	int p = 0;

	if (len == 0 || len >= FORWARD_CLIENT_MAX)
		return TROVE_ERR_INVALID;
	while (colon > 0 && v[colon - 1] != ':')
		colon--;
	if (colon == 0 || colon == len || len - colon > 5)
		return TROVE_ERR_INVALID;
	for (i = colon; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return TROVE_ERR_INVALID;
		p = p * 10 + (v[i] - '0');
	}
	if (p > 65535)
		return TROVE_ERR_INVALID;
	hlen = colon - 1;
	v6 = hlen >= 2 && v[0] == '[' && v[hlen - 1] == ']';
	if (v6) {
		v++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return TROVE_ERR_INVALID;
	memcpy(host, v, hlen);
	host[hlen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, bin) != 1 ||
	    !inet_ntop(v6 ? AF_INET6 : AF_INET, bin, addr, (socklen_t)cap))
		return TROVE_ERR_INVALID;
	*port = p;
	return 0;
}
