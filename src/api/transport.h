/* transport.h — how one attempt of a request travels.
 *
 * The client builds the URL and the header lines, then hands one attempt
 * to a transport; the retry loop (client.c) calls it again as retry.h
 * says. The default transport is libcurl (transport_curl.c); unit tests
 * plug in a fake through api_config.transport to script answers. */
#ifndef TROVE_API_TRANSPORT_H
#define TROVE_API_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "buf.h"

/* One attempt, as the transport sees it. Everything is borrowed. */
struct api_wire {
	const char *method;
	const char *url;
	const struct strlist *headers; /* "Name: value" lines */
	const char *body;              /* NULL: no body */
	size_t len;
	long timeout_ms; /* what is left of the call's time */
};

struct api_transport {
	/* Sends w. On an HTTP answer returns 0 with resp->status, resp->body
	 * and resp->retry_after_ms set. Otherwise returns a TROVE_ERR_* code
	 * with resp->failure set and resp->error (owned) saying why. resp
	 * arrives reset (status 0, empty body, failure API_FAIL_NONE). */
	int (*send)(void *ctx, const struct api_wire *w, struct api_response *resp);
	/* Passed to send: the struct api_curl, or a fake's script. */
	void *ctx;
};

/* How a transport reports an attempt that got no answer: sets
 * resp->failure to kind and resp->error (owned) to the message both
 * transports give, naming cfg->address and detail ("could not talk to the
 * server at ...: ...", "no answer from ... within N seconds: ...",
 * "response from ... exceeded N bytes"), with a hint to use http:// when
 * http_hint (a TLS handshake that met a plain-http listener). Returns
 * TROVE_ERR_TIMEOUT for API_FAIL_TIMEOUT, TROVE_ERR_TOO_LARGE for
 * API_FAIL_TOO_LARGE, else TROVE_ERR_UPSTREAM. */
int api_transport_fail(struct api_response *resp, const struct api_config *cfg, enum api_failure kind,
                       bool http_hint, const char *detail);

/* The libcurl transport: one easy handle and the TLS settings of cfg
 * (borrowed: cfg must outlive it). api_curl_new returns 0, or
 * TROVE_ERR_INTERNAL / TROVE_ERR_NOMEM when libcurl cannot be set up. */
struct api_curl;
int api_curl_new(const struct api_config *cfg, struct api_curl **out);
void api_curl_free(struct api_curl *t);
/* The transport's send; ctx is the struct api_curl. */
int api_curl_send(void *ctx, const struct api_wire *w, struct api_response *resp);

#endif
