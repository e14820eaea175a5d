/* libFuzzer target: the request parser of `trove login -method=oidc`'s
 * callback listener (src/cli/login_oidc_http.c), which reads bytes from
 * anything that can reach the listener. Nothing crashes or reads past the
 * input; the answer is one of the documented statuses; only a 200 leaves
 * values to release; and a complete request's answer does not change when
 * more bytes follow it (a pipelined request cannot turn a refusal into a
 * callback). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/login_oidc_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int known(int st)
{
	return st == 0 || st == 200 || st == 400 || st == 404 || st == 405 || st == 411 || st == 413 ||
	       st == 415;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oidc_callback cb;
	char *copy;
	int st;

	if (size > OIDC_HTTP_MAX_REQUEST + 16)
		return 0;
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	st = oidc_http_parse(copy, size, &cb);
	if (!known(st))
		abort();
	if (st != 200 && (cb.state || cb.code || cb.id_token || cb.error || cb.error_description))
		abort();
	oidc_callback_release(&cb);
	if ((st == 404 || st == 405) && size + 8 <= OIDC_HTTP_MAX_REQUEST) {
		/* Decided by the request line: a longer input keeps the answer. */
		char *more = malloc(size + 8);
		memcpy(more, copy, size);
		memcpy(more + size, "a=b&c=d\n", 8);
		if (oidc_http_parse(more, size + 8, &cb) != st)
			abort();
		oidc_callback_release(&cb);
		free(more);
	}
	free(copy);
	return 0;
}
