/* libFuzzer target: the CIDR and address parsers of lib/cidr and the
 * bound-CIDR checks built on them (token_cidr_valid, token_cidr_allows). The input is a CIDR, a newline,
 * and a client address. Nothing crashes or reads past its string; a
 * block that is not valid allows nothing; the whole address space allows
 * every address that some valid block allows; adding a block to a list
 * never takes an address away. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cidr.h"
#include "core/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 512)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *addr = strchr(text, '\n');
	if (addr)
		*addr++ = '\0';
	else
		addr = text + size;

	struct strlist one, more, all, none;
	strlist_init(&one);
	strlist_init(&more);
	strlist_init(&all);
	strlist_init(&none);
	strlist_push(&one, text);
	strlist_push(&more, "192.0.2.0/24");
	strlist_push(&more, text);
	strlist_push(&all, "0.0.0.0/0");
	strlist_push(&all, "::/0");

	bool valid = token_cidr_valid(text);
	struct cidr net, v4, ip;
	if (cidr_parse(text, &net) != valid)
		abort(); /* one parser */
	if (cidr_parse_unmapped(text, &v4) && !valid)
		abort(); /* unmapping refuses, never accepts, more */
	if (valid && !cidr_contains(&net, &net))
		abort(); /* a block holds itself */
	if (cidr_parse_addr(addr, strlen(addr), &ip) && ip.bits != (ip.family == 4 ? 32u : 128u))
		abort(); /* an address is a full-length block */
	bool allowed = token_cidr_allows(&one, addr);
	if (allowed && !valid)
		abort(); /* an unparsable block allows nothing */
	if (allowed && !token_cidr_allows(&all, addr))
		abort(); /* every allowed address lies in the whole space */
	if (allowed && !token_cidr_allows(&more, addr))
		abort(); /* a longer list never allows less */
	if (!token_cidr_allows(&none, addr))
		abort(); /* no list: usable from anywhere */

	strlist_release(&one);
	strlist_release(&more);
	strlist_release(&all);
	strlist_release(&none);
	free(text);
	return 0;
}
