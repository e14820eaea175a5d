/* pq_lazy.h — libpq is loaded on first use, not at start-up.
 *
 * The binary does not link libpq, for the reason it does not link libcurl
 * (lib/curl_lazy.h): a server that manages no PostgreSQL database should
 * not map libpq and what it links (GSSAPI, LDAP, ...). pq_lazy.c defines
 * the libpq functions Trove calls (the database engine's PostgreSQL plugin
 * and the postgresql storage backend) and loads libpq.so.5 the first time
 * one of them runs. Code includes <libpq-fe.h> and calls libpq
 * as usual; a libpq function not yet defined in pq_lazy.c fails the link,
 * and is added there. */
#ifndef TROVE_PQ_LAZY_H
#define TROVE_PQ_LAZY_H

#include <stdbool.h>

/* Loads libpq once (thread-safe). Returns whether it is loaded; when not,
 * the libpq functions fail as libpq reports failure: PQconnectStartParams,
 * PQconnectdbParams, PQconninfoParse, PQgetResult, PQgetCancel, PQgetvalue
 * and the PQexec family return NULL, PQgetisnull 1, the int
 * functions return 0 (or -1 where -1 is libpq's failure: PQsocket,
 * PQsetnonblocking, PQflush), PQstatus says CONNECTION_BAD,
 * PQconnectPoll PGRES_POLLING_FAILED, PQresultStatus PGRES_FATAL_ERROR,
 * PQtransactionStatus PQTRANS_UNKNOWN, and PQerrorMessage and
 * PQresultErrorMessage that libpq could not be loaded. */
bool pq_lazy_load(void);

/* The message given when libpq.so.5 could not be loaded. */
#define PQ_LAZY_UNLOADED "libpq (libpq.so.5) could not be loaded"

#endif
