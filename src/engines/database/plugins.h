/* plugins.h — the database kinds this build of Trove can manage. */
#ifndef TROVE_DB_PLUGINS_H
#define TROVE_DB_PLUGINS_H

#include "plugin.h"

/* The plugin named `plugin_name` (Vault's names), or NULL when this build
 * has none of that name. */
const struct db_plugin *db_plugin_find(const char *plugin_name);

/* For tests only: makes db_plugin_find also answer p (a test's own fake
 * plugin) by its name, after the built-in table; NULL removes it. Not
 * called by the server. */
void db_plugin_set_extra(const struct db_plugin *p);

#endif
