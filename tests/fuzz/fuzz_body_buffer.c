/* libFuzzer target: a request's size read from its head
 * (server/body_buffer.h), on any bytes: 0, or the head's length plus a
 * Content-Length within the limit, never past what the bytes can hold. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "server/body_buffer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t max = (size_t)1 << 20;
	size_t n = body_buffer_request_size((const char *)data, size, max);
	if (n != 0 && (n > size + max || n < 16)) /* "A / HTTP/1.1\r\n\r\n" at the least */
		abort();
	if (body_buffer_request_size((const char *)data, size, 0) > size)
		abort(); /* a zero limit leaves only empty bodies */
	return 0;
}
