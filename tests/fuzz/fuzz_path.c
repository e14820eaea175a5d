/* libFuzzer target: request-path normalisation. Any bytes after "/v1/"
 * either are refused or yield a logical path with no NUL or control
 * byte and no "." or ".." segment; an empty segment but a trailing one
 * is marked where its first one is (req.empty_segment), for the router
 * to refuse (router_path_allowed). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clean(const char *p, size_t empty_segment)
{
	size_t first_empty = 0;
	size_t n = strlen(p);
	if (n == 0 || p[0] == '/')
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			abort();
	const char *seg = p;
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			abort();
		if (len == 0 && slash && !first_empty)
			first_empty = (size_t)(slash - p);
		if (!slash)
			break;
		seg = slash + 1;
	}
	if (first_empty != empty_segment)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request req;
	struct response resp;
	char *raw = malloc(size + 5);
	memcpy(raw, "/v1/", 4);
	memcpy(raw + 4, data, size);
	request_init(&req);
	response_init(&resp);
	if (http_build_request(&req, "GET", 3, raw, size + 4, NULL, 0, NULL, 0, &resp) == 0)
		check_clean(req.path, req.empty_segment);
	request_release(&req);
	response_release(&resp);
	free(raw);
	return 0;
}
