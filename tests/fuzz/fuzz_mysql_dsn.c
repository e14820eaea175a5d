/* libFuzzer target: the MySQL plugins' DSN parser (mysql_dsn_parse).
 * The input is a connection_url. Nothing crashes, leaks or reads past its
 * string; a refusal says why and leaves nothing to free; an accepted DSN
 * names either a host with a port from 1 to 65535 or an absolute socket
 * path, never both, and has a database name (maybe ""). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engines/database/mysql_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mysql_dsn d;
	const char *why = NULL;
	char *text;

	if (size > 1024)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (mysql_dsn_parse(text, &d, &why) != 0) {
		if (why == NULL || d.user != NULL || d.password != NULL || d.host != NULL ||
		    d.socket != NULL || d.dbname != NULL)
			abort();
	} else {
		if ((d.host == NULL) == (d.socket == NULL) || d.dbname == NULL)
			abort();
		if (d.host != NULL && (d.host[0] == '\0' || d.port < 1 || d.port > 65535))
			abort();
		if (d.socket != NULL && d.socket[0] != '/')
			abort();
		mysql_dsn_free(&d);
	}
	free(text);
	return 0;
}
