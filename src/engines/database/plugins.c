/* plugins.c — the table of database kinds, looked up by Vault's names. */
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

const struct db_plugin *db_plugin_find(const char *plugin_name)
{
	size_t i;

	if (plugin_name == NULL)
		return NULL;
	for (i = 0; plugins[i] != NULL; i++)
		if (strcmp(plugins[i]->name, plugin_name) == 0)
			return plugins[i];
	return NULL;
}
