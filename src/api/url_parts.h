/* url_parts.h — an http(s) URL's scheme and authority taken apart, for
 * the clients that open their own connections (the native transport and
 * the Kubernetes client). */
#ifndef TROVE_API_URL_PARTS_H
#define TROVE_API_URL_PARTS_H

#include <stdbool.h>

struct api_url {
	bool https;
	char host[256];      /* without brackets */
	char port[8];        /* as digits; the scheme's default when absent */
	char authority[272]; /* host[:port] as written, for Host: */
	const char *path;    /* what follows the authority (borrowed from the URL): "", "/...", "?..." */
};

/* Parses http(s)://host[:port] followed by anything (scheme in any case;
 * an IPv6 host in brackets; no userinfo; port 1..65535). 0, or
 * TROVE_ERR_INVALID with *u unspecified. */
int api_url_parse(const char *url, struct api_url *u);

#endif
