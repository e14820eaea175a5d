/* libFuzzer target: an HTTP/1.1 answer as the native transport reads it
 * (api_http_reader in src/api/http_response.h). The first byte chooses
 * whether the request was HEAD and how the rest is cut into reads (the
 * reader must give the same result for any cut); the rest is what the
 * server sent. Nothing crashes or leaks; the body never passes its cap;
 * a complete answer has a final status (200-999) and never consumed
 * more than it was given; one cut and another agree. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_response.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_CAP 4096

/* Feeds p in pieces of piece bytes; returns the result, fills body. */
static int run(const char *p, size_t n, bool head, size_t piece, struct buf *body, int *status,
               size_t *consumed)
{
	struct api_http_reader r;
	size_t off = 0, used, k;
	int e = API_HTTP_MORE;

	api_http_reader_init(&r, head, body);
	while (off < n && e == API_HTTP_MORE) {
		k = n - off < piece ? n - off : piece;
		e = api_http_reader_feed(&r, p + off, k, &used);
		if (used > k)
			abort();
		off += used;
	}
	if (e == API_HTTP_MORE)
		e = api_http_reader_eof(&r);
	if (e == 0 && (!r.done || r.status < 200 || r.status > 999))
		abort();
	if (e == 0 && api_http_reader_feed(&r, "x", 1, &used) != 0) /* done stays done */
		abort();
	if (e != 0 && e != TROVE_ERR_INVALID && e != TROVE_ERR_TOO_LARGE && e != TROVE_ERR_HEADERS_TOO_LARGE)
		abort();
	if (e != 0 && r.why == NULL)
		abort();
	*status = r.status;
	*consumed = off;
	api_http_reader_release(&r);
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf one, cut;
	size_t used1, used2;
	int s1, s2, e1, e2;
	bool head;

	if (size < 1 || size > 200000)
		return 0;
	head = data[0] & 1;
	buf_init(&one, BODY_CAP);
	buf_init(&cut, BODY_CAP);
	e1 = run((const char *)data + 1, size - 1, head, size, &one, &s1, &used1);
	e2 = run((const char *)data + 1, size - 1, head, 1 + (data[0] >> 1), &cut, &s2, &used2);
	if (one.len > BODY_CAP || cut.len > BODY_CAP)
		abort();
	/* A complete answer is the same however the bytes arrived. */
	if (e1 == 0 && (e2 != 0 || s1 != s2 || one.len != cut.len ||
	                memcmp(one.data, cut.data, one.len) != 0 || used1 != used2))
		abort();
	buf_release(&one);
	buf_release(&cut);
	return 0;
}
