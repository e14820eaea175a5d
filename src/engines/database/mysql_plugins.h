/* mysql_plugins.h — the MySQL/MariaDB database kinds (mysql.c,
 * docs/database-mysql.md), one per plugin_name of Vault's. */
#ifndef TROVE_DB_MYSQL_PLUGINS_H
#define TROVE_DB_MYSQL_PLUGINS_H

#include "plugin.h"

extern const struct db_plugin db_plugin_mysql;        /* mysql-database-plugin */
extern const struct db_plugin db_plugin_mysql_aurora; /* mysql-aurora-database-plugin */
extern const struct db_plugin db_plugin_mysql_rds;    /* mysql-rds-database-plugin */
extern const struct db_plugin db_plugin_mysql_legacy; /* mysql-legacy-database-plugin */

#endif
