/* plugins.h — the database kinds this build of Trove can manage. */
#ifndef TROVE_DB_PLUGINS_H
#define TROVE_DB_PLUGINS_H

#include "plugin.h"

/* The plugin named `plugin_name` (Vault's names), or NULL when this build
 * has none of that name. */
const struct db_plugin *db_plugin_find(const char *plugin_name);

#endif
