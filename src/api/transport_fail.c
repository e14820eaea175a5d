/* transport_fail.c — the words for an attempt that got no answer
 * (api_transport_fail in transport.h), one place for every transport. */
#include <stdlib.h>

#include "api/transport.h"
#include "err.h"

#include "banned.h"

int api_transport_fail(struct api_response *resp, const struct api_config *cfg, enum api_failure kind,
                       bool http_hint, const char *detail)
{
	const char *address = cfg->address;
	struct buf b;

	buf_init(&b, BUF_CAP_DEFAULT);
	resp->failure = kind;
	if (kind == API_FAIL_TOO_LARGE)
		(void)buf_printf(&b, "response from %s exceeded %zu bytes", address, resp->body.cap);
	else if (kind == API_FAIL_TIMEOUT && cfg->timeout_ms % 1000 == 0)
		(void)buf_printf(&b, "no answer from %s within %ld seconds: %s", address,
		                 cfg->timeout_ms / 1000, detail);
	else if (kind == API_FAIL_TIMEOUT)
		(void)buf_printf(&b, "no answer from %s within %ld ms: %s", address, cfg->timeout_ms, detail);
	else
		(void)buf_printf(&b, "could not talk to the server at %s: %s", address, detail);
	/* The common mistake: https (the default) against a plain-http listener. */
	if (http_hint)
		(void)buf_append_str(&b, "\n\nIf the server does not use TLS, set the address with "
		                         "an http:// scheme (-address or TROVE_ADDR).");
	free(resp->error);
	resp->error = buf_take(&b);
	buf_release(&b);
	return kind == API_FAIL_TIMEOUT     ? TROVE_ERR_TIMEOUT
	       : kind == API_FAIL_TOO_LARGE ? TROVE_ERR_TOO_LARGE
	                                    : TROVE_ERR_UPSTREAM;
}
