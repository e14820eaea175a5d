/* libFuzzer target: Go's regular expressions (src/lib/rx.c), whose text
 * comes from Kubernetes resources and templates. The input is an
 * expression, a NUL, and a text to search. Compiling never crashes and
 * either gives a program within RX_INST_MAX or says why not; a match lies
 * inside the text, from where the search began, with each group inside
 * the match; asking for no groups agrees on whether there is a match; a
 * budget never changes the answer it lets finish. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *nul = memchr(p, '\0', size);
	size_t plen = nul ? (size_t)(nul - p) : size;
	const char *text = nul ? nul + 1 : "";
	size_t tlen = nul ? size - plen - 1 : 0;
	struct rx *r;
	char why[128];
	long cap[2 * 8];

	if (rx_compile(p, plen, &r, why, sizeof(why)) != 0) {
		if (r != NULL || why[0] == '\0')
			abort();
		return 0;
	}
	if (rx_size(r) > RX_INST_MAX)
		abort();
	size_t pairs = rx_groups(r) + 1 < 8 ? rx_groups(r) + 1 : 8;
	for (size_t from = 0; from <= tlen; from += 1 + tlen / 4) {
		int found = rx_find(r, text, tlen, from, cap, pairs, NULL);
		if (found != rx_find(r, text, tlen, from, NULL, 0, NULL))
			abort();
		if (found) {
			if (cap[0] < (long)from || cap[1] < cap[0] || cap[1] > (long)tlen)
				abort();
			for (size_t k = 1; k < pairs; k++)
				if ((cap[2 * k] < 0) != (cap[2 * k + 1] < 0) ||
				    (cap[2 * k] >= 0 && (cap[2 * k] < cap[0] || cap[2 * k + 1] > cap[1] ||
				                         cap[2 * k + 1] < cap[2 * k])))
					abort();
		}
		uint64_t budget = 5000;
		long again[2 * 8];
		int bounded = rx_find(r, text, tlen, from, again, pairs, &budget);
		if (bounded != -1 &&
		    (bounded != found || (found && memcmp(again, cap, sizeof(long) * 2 * pairs) != 0)))
			abort();
	}
	rx_free(r);
	return 0;
}
