/* libFuzzer target: the forwarded client's address header
 * (forward_client_parse), which the active node's cluster listener reads
 * from a standby's request. Nothing crashes or reads past the input; a
 * value that parses gives an address that formats back to a value that
 * parses to the same address and port. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/forward_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char addr[64], addr2[64], v[FORWARD_CLIENT_MAX];
	int port = -1, port2 = -1;

	if (size > 4096)
		return 0;
	/* a copy of exactly the input's bytes: reading past it is caught */
	char *in = malloc(size ? size : 1);
	memcpy(in, data, size);
	if (forward_client_parse(in, size, addr, sizeof(addr), &port) == 0) {
		size_t n = forward_client_format(addr, port, v, sizeof(v));
		if (port < 0 || port > 65535 || n == 0 ||
		    forward_client_parse(v, n, addr2, sizeof(addr2), &port2) != 0 || port2 != port ||
		    strcmp(addr, addr2) != 0)
			abort();
	}
	free(in);
	return 0;
}
