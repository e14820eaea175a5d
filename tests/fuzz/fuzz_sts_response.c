/* fuzz_sts_response.c — an STS answer as a server (or anything posing as
 * one) sends it, through auth/aws's extractor (aws_sts_identity_parse,
 * aws_sts_error_code) and then the ARN reader. Accepted values must be
 * non-empty, within their bounds and free of blanks and control bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/aws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable_or_abort(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == 0 || n >= cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_caller c;
	char code[64];
	if (aws_sts_identity_parse((const char *)data, size, &c) == 0) {
		printable_or_abort(c.arn, sizeof(c.arn));
		printable_or_abort(c.user_id, sizeof(c.user_id));
		printable_or_abort(c.account, sizeof(c.account));
		struct aws_principal p;
		if (aws_arn_parse(c.arn, &p) == 0) {
			char canon[AWS_ARN_MAX + 64];
			aws_arn_canonical(&p, canon, sizeof(canon));
			if (strncmp(canon, "arn:", 4) != 0 || !p.friendly[0])
				abort();
		}
	} else if (c.arn[0] || c.user_id[0] || c.account[0]) {
		abort(); /* a refused answer leaves nothing behind */
	}
	aws_sts_error_code((const char *)data, size, code, sizeof(code));
	if (strnlen(code, sizeof(code)) >= sizeof(code))
		abort();
	return 0;
}
