/* mysql_lazy.h — libmariadb (the MySQL C API) is loaded on first use.
 *
 * As with libcurl (lib/curl_lazy.h), the binary does not link libmariadb:
 * mysql_lazy.c defines the C API functions the MySQL plugins call
 * (mysql_init, mysql_real_connect_start, ...) and loads libmariadb.so.3
 * the first time one of them runs, so a server that manages no MySQL
 * database never maps it. Code includes <mysql.h> and calls the API as
 * usual; a function not yet defined in mysql_lazy.c fails the link, and is
 * added there. */
#ifndef TROVE_DB_MYSQL_LAZY_H
#define TROVE_DB_MYSQL_LAZY_H

#include <stdbool.h>

/* Loads libmariadb and runs mysql_library_init once (thread-safe), and
 * mysql_thread_init once on the calling thread (mysql_thread_end runs when
 * the thread exits). Returns whether the library is usable; when not,
 * mysql_init returns NULL and mysql_error says the library could not be
 * loaded. */
bool mysql_lazy_load(void);

#endif
