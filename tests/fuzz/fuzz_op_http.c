/* libFuzzer target: the request reader of `trove secrets-operator`'s probe
 * and metrics listeners (src/operator/op_http.c), which anything that can
 * reach the pod's ports may send bytes to. Nothing crashes or reads past
 * the input; the answer is "read more" (0) or one of the documented
 * statuses, and then a whole HTTP/1.1 response; bytes after a complete
 * head never change the answer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "operator/op_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool yes(void *ctx, struct buf *why)
{
	(void)ctx;
	(void)why;
	return true;
}

static bool no(void *ctx, struct buf *why)
{
	(void)ctx;
	(void)buf_append_str(why, "not synced");
	return false;
}

static void metrics(void *ctx, struct buf *out)
{
	(void)ctx;
	(void)buf_append_str(out, "# TYPE x gauge\nx 1\n");
}

static bool known(int st)
{
	return st == 0 || st == 200 || st == 400 || st == 404 || st == 405 || st == 431 || st == 500;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct op_http_handlers h = { yes, no, metrics, NULL };
	struct buf out, again;
	char *copy;
	int st;

	if (size > OP_HTTP_MAX_REQUEST + 64)
		return 0;
	copy = malloc(size + 4);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	buf_init(&out, 1 << 20);
	buf_init(&again, 1 << 20);
	st = op_http_respond(&h, OP_HTTP_PROBES | OP_HTTP_METRICS, copy, size, &out);
	if (!known(st))
		abort();
	if ((st == 0) != (out.len == 0))
		abort();
	if (st != 0 && strncmp(out.data, "HTTP/1.1 ", 9) != 0)
		abort();
	if (st != 0 && st != 431) {
		memcpy(copy + size, "X\r\n\n", 4);
		if (op_http_respond(&h, OP_HTTP_PROBES | OP_HTTP_METRICS, copy, size + 4, &again) != st)
			abort();
	}
	buf_release(&again);
	buf_release(&out);
	free(copy);
	return 0;
}
