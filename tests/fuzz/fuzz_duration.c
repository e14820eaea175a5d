/* libFuzzer target: the duration and size parsers (lib/duration.h). Any
 * bytes are refused or give a non-negative value; seconds agree with
 * nanoseconds; an accepted duration within the bound formats and parses
 * back to itself; duration_add never returns a non-positive sum. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int64_t ns = -1, secs = -1, back = -1, sum = 0;
	uint64_t bytes;
	char text[64];

	(void)size_parse(s, size, &bytes);
	if (duration_parse_ns(s, size, &ns) != 0) {
		if (duration_parse_seconds(s, size, &secs) == 0)
			abort(); /* the two accept the same inputs */
		return 0;
	}
	if (ns < 0 || duration_parse_seconds(s, size, &secs) != 0 || secs != ns / 1000000000)
		abort();
	if (duration_check(secs) == NULL) {
		duration_format(secs, text, sizeof(text));
		if (duration_parse_seconds(text, strlen(text), &back) != 0 || back != secs)
			abort();
		if (duration_add(1796040000, secs, &sum) != 0 || sum <= 0)
			abort();
	}
	if (duration_add(INT64_MAX - 1, secs, &sum) == 0 && sum <= 0)
		abort();
	return 0;
}
