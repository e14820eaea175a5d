/* libFuzzer target: what the API client makes of a server's answer. The
 * input is a status (first two bytes), a header line up to the first
 * '\n', and the body. A scripted transport hands them to api_send, as
 * curl would: the Retry-After parser reads the header line, the body is
 * parsed as JSON and, for 4xx/5xx, turned into the detail message. Nothing
 * crashes or leaks; a 1xx-3xx answer is success, anything else an error
 * with a detail; a Retry-After is at most a day; a wait is never past the
 * cap. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/retry.h"
#include "api/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct answer {
	long status;
	const char *header;
	size_t header_len;
	const char *body;
	size_t body_len;
};

static int fake_send(void *ctx, const struct api_wire *w, struct api_response *resp)
{
	const struct answer *a = ctx;

	(void)w;
	resp->status = a->status;
	resp->retry_after_ms = api_retry_after_ms(a->header, a->header_len);
	if (buf_append(&resp->body, a->body, a->body_len) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_transport t = {fake_send, NULL};
	struct api_config cfg;
	struct api_client *c = NULL;
	struct api_response resp;
	struct answer a;
	const char *nl;
	long wait;
	int r;

	if (size < 2 || size > 65536)
		return 0;
	a.status = 100 + (long)(((unsigned)data[0] << 8 | data[1]) % 500);
	a.header = (const char *)data + 2;
	nl = memchr(a.header, '\n', size - 2);
	a.header_len = nl ? (size_t)(nl - a.header) + 1 : size - 2;
	a.body = a.header + a.header_len;
	a.body_len = size - 2 - a.header_len;
	t.ctx = &a;

	api_config_init(&cfg);
	cfg.max_retries = 0;
	cfg.transport = &t;
	if (api_client_new(&cfg, &c, NULL) != 0)
		abort();
	api_response_init(&resp);
	r = api_read(c, "secret/fuzz", &resp);
	if ((r == 0) != (a.status < 400) || (r != 0 && resp.error == NULL) || resp.status != a.status)
		abort();
	if (resp.retry_after_ms < -1 || resp.retry_after_ms > 86400L * 1000)
		abort();
	wait = api_retry_wait_ms(data[0] % 8, 1000, 30000, a.status, resp.retry_after_ms, data[1] * 7919u);
	if (wait < 0 || wait > 30000)
		abort();
	api_response_release(&resp);
	api_client_free(c);
	api_config_release(&cfg);
	return 0;
}
