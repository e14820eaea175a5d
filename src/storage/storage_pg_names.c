/* storage_pg_names.c — the pure parts of the postgresql backend: which
 * table names are taken, and how a key maps to the parent path that list
 * searches (storage_pg.h). No libpq here, so the unit tests need no
 * database. */
#include <string.h>

#include "storage/storage_pg.h"

#include "banned.h"

const char *storage_pg_table_refused(const char *name)
{
	size_t n;

	if (name == NULL || name[0] == '\0')
		return "must not be empty";
	n = strnlen(name, STORAGE_PG_MAX_TABLE + 1);
	if (n > STORAGE_PG_MAX_TABLE)
		return "is longer than 48 bytes";
	if (name[0] >= '0' && name[0] <= '9')
		return "must not start with a digit";
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return "may hold only letters, digits and '_'";
	}
	return NULL;
}

size_t storage_pg_parent_len(const char *key)
{
	const char *slash = strrchr(key, '/');
	return slash ? (size_t)(slash - key) + 1 : 0;
}

bool storage_pg_prefix_end(const char *prefix, char *out)
{
	size_t n = strlen(prefix);

	if (n == 0)
		return false;
	/* prefix ends in '/'; '0' is the byte after it */
	memcpy(out, prefix, n - 1);
	out[n - 1] = '/' + 1;
	out[n] = '\0';
	return true;
}
