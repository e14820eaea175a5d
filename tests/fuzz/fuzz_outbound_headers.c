/* fuzz_outbound_headers.c — response header lines as a server or proxy
 * sends them, through the outbound client's header handling
 * (outbound_header_line, outbound_header). Every kept line must be one
 * "Name: value" line with no NUL, CR or LF inside. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/outbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outbound_response resp;
	const char *p = (const char *)data, *end = p + size;
	outbound_response_init(&resp);
	/* curl hands over one line at a time, each with its line end. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		outbound_header_line(&resp, p, n);
		p += n;
	}
	for (size_t i = 0; i < resp.headers.len; i++) {
		const char *h = resp.headers.items[i];
		const char *colon = strchr(h, ':');
		if (!colon || colon == h || strpbrk(h, "\r\n"))
			abort();
	}
	static const char *const names[] = {"Location", "content-type", "X", "", NULL};
	for (const char *const *n = names; *n; n++) {
		const char *v = outbound_header(&resp, *n);
		if (v && strpbrk(v, "\r\n"))
			abort();
	}
	outbound_response_release(&resp);
	return 0;
}
