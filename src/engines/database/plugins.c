/* plugins.c — the table of database kinds, looked up by Vault's names. */
#include <stdatomic.h>
#include <string.h>

#include "plugins.h"

#include "banned.h"

/* One line per plugin; each is defined in its own file. */
static const struct db_plugin *const plugins[] = {
	NULL,
};

static _Atomic(const struct db_plugin *) extra;

void db_plugin_set_extra(const struct db_plugin *p)
{
	atomic_store(&extra, p);
}

const struct db_plugin *db_plugin_find(const char *plugin_name)
{
	const struct db_plugin *x = atomic_load(&extra);
	size_t i;

	if (plugin_name == NULL)
		return NULL;
	for (i = 0; plugins[i] != NULL; i++)
		if (strcmp(plugins[i]->name, plugin_name) == 0)
			return plugins[i];
	return x && strcmp(x->name, plugin_name) == 0 ? x : NULL;
}
