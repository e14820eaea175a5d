/* plugins.c — the table of database kinds, looked up by Vault's names. */
#include <stdatomic.h>
#include <string.h>

#include "mysql_plugins.h"
#include "plugins.h"

#include "banned.h"

extern const struct db_plugin db_plugin_postgresql; /* postgresql.c */

/* One line per plugin; each is defined in its own file. */
static const struct db_plugin *const plugins[] = {
	&db_plugin_postgresql,
	&db_plugin_mysql,
	&db_plugin_mysql_aurora,
	&db_plugin_mysql_rds,
	&db_plugin_mysql_legacy,
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
