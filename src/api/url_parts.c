/* url_parts.c — see url_parts.h. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/url_parts.h"
#include "err.h"

#include "banned.h"

static bool has_iprefix(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

int api_url_parse(const char *url, struct api_url *u)
{
	const char *a, *end, *h, *hend, *port = NULL;
	size_t i;
	long v = 0;

	memset(u, 0, sizeof(*u));
	if (has_iprefix(url, "https://"))
		u->https = true;
	else if (!has_iprefix(url, "http://"))
		return TROVE_ERR_INVALID;
	a = url + (u->https ? 8 : 7);
	end = a + strcspn(a, "/?#");
	if (end == a || memchr(a, '@', (size_t)(end - a)) != NULL ||
	    (size_t)(end - a) >= sizeof(u->authority))
		return TROVE_ERR_INVALID;
	if (*a == '[') {
		h = a + 1;
		hend = memchr(h, ']', (size_t)(end - h));
		if (hend == NULL || (hend + 1 < end && hend[1] != ':'))
			return TROVE_ERR_INVALID;
		port = hend + 1 < end ? hend + 2 : NULL;
	} else {
		h = a;
		hend = memchr(a, ':', (size_t)(end - a));
		port = hend ? hend + 1 : NULL;
		hend = hend ? hend : end;
	}
	if (hend == h || (size_t)(hend - h) >= sizeof(u->host))
		return TROVE_ERR_INVALID;
	memcpy(u->host, h, (size_t)(hend - h));
	if (port) {
		if (port == end || end - port > 5)
			return TROVE_ERR_INVALID;
		for (i = 0; port + i < end; i++) {
			if (port[i] < '0' || port[i] > '9')
				return TROVE_ERR_INVALID;
			v = v * 10 + (port[i] - '0');
		}
		if (v < 1 || v > 65535)
			return TROVE_ERR_INVALID;
		(void)snprintf(u->port, sizeof(u->port), "%ld", v);
	} else {
		(void)snprintf(u->port, sizeof(u->port), "%s", u->https ? "443" : "80");
	}
	memcpy(u->authority, a, (size_t)(end - a));
	u->path = end;
	return 0;
}
