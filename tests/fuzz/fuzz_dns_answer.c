/* fuzz_dns_answer.c — a DNS response as a resolver (or anyone able to
 * answer in its place) sends it, through the TXT reader of dns-01. Every
 * kept record fits in the message and the count stays under its cap. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engines/pki/acme/dns_txt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strlist out;

	strlist_init(&out);
	dns_txt_parse(data, size, &out);
	if (out.len > DNS_TXT_MAX_RECORDS)
		abort();
	for (size_t i = 0; i < out.len; i++)
		if (strlen(out.items[i]) > size)
			abort();
	strlist_release(&out);
	return 0;
}
