/* pq_lazy.c — libpq, loaded the first time it is used (pq_lazy.h).
 *
 * Each libpq function Trove calls (the database engine's PostgreSQL
 * plugin, the postgresql storage backend) is defined here and forwards to
 * the one in libpq.so.5, loaded with dlopen once under pthread_once, as
 * lib/curl_lazy.c does for libcurl. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "pq_lazy.h"
#include "dl_table.h"

#include "banned.h"

struct pq_fns {
	PGconn *(*connect_start_params)(const char *const *, const char *const *, int);
	PostgresPollingStatusType (*connect_poll)(PGconn *);
	ConnStatusType (*status)(const PGconn *);
	int (*socket)(const PGconn *);
	char *(*error_message)(const PGconn *);
	void (*finish)(PGconn *);
	int (*set_nonblocking)(PGconn *, int);
	int (*flush)(PGconn *);
	PQnoticeProcessor (*set_notice_processor)(PGconn *, PQnoticeProcessor, void *);
	int (*send_query)(PGconn *, const char *);
	int (*consume_input)(PGconn *);
	int (*is_busy)(PGconn *);
	PGresult *(*get_result)(PGconn *);
	ExecStatusType (*result_status)(const PGresult *);
	char *(*result_error_field)(const PGresult *, int);
	void (*clear)(PGresult *);
	PGcancel *(*get_cancel)(PGconn *);
	int (*cancel)(PGcancel *, char *, int);
	void (*free_cancel)(PGcancel *);
	PQconninfoOption *(*conninfo_parse)(const char *, char **);
	void (*conninfo_free)(PQconninfoOption *);
	void (*freemem)(void *);
	PGconn *(*connectdb_params)(const char *const *, const char *const *, int);
	PGresult *(*exec)(PGconn *, const char *);
	PGresult *(*exec_params)(PGconn *, const char *, int, const Oid *, const char *const *, const int *,
	                         const int *, int);
	PGresult *(*prepare)(PGconn *, const char *, const char *, int, const Oid *);
	PGresult *(*exec_prepared)(PGconn *, const char *, int, const char *const *, const int *, const int *, int);
	int (*ntuples)(const PGresult *);
	char *(*getvalue)(const PGresult *, int, int);
	int (*getlength)(const PGresult *, int, int);
	int (*getisnull)(const PGresult *, int, int);
	char *(*result_error_message)(const PGresult *);
	PGTransactionStatusType (*transaction_status)(const PGconn *);
	int (*send_prepare)(PGconn *, const char *, const char *, int, const Oid *);
	int (*send_query_prepared)(PGconn *, const char *, int, const char *const *, const int *, const int *, int);
};
static struct pq_fns lib;
static bool loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	static const struct dl_symbol syms[] = {
		{"PQconnectStartParams", offsetof(struct pq_fns, connect_start_params)},
		{"PQconnectPoll", offsetof(struct pq_fns, connect_poll)},
		{"PQstatus", offsetof(struct pq_fns, status)},
		{"PQsocket", offsetof(struct pq_fns, socket)},
		{"PQerrorMessage", offsetof(struct pq_fns, error_message)},
		{"PQfinish", offsetof(struct pq_fns, finish)},
		{"PQsetnonblocking", offsetof(struct pq_fns, set_nonblocking)},
		{"PQflush", offsetof(struct pq_fns, flush)},
		{"PQsetNoticeProcessor", offsetof(struct pq_fns, set_notice_processor)},
		{"PQsendQuery", offsetof(struct pq_fns, send_query)},
		{"PQconsumeInput", offsetof(struct pq_fns, consume_input)},
		{"PQisBusy", offsetof(struct pq_fns, is_busy)},
		{"PQgetResult", offsetof(struct pq_fns, get_result)},
		{"PQresultStatus", offsetof(struct pq_fns, result_status)},
		{"PQresultErrorField", offsetof(struct pq_fns, result_error_field)},
		{"PQclear", offsetof(struct pq_fns, clear)},
		{"PQgetCancel", offsetof(struct pq_fns, get_cancel)},
		{"PQcancel", offsetof(struct pq_fns, cancel)},
		{"PQfreeCancel", offsetof(struct pq_fns, free_cancel)},
		{"PQconninfoParse", offsetof(struct pq_fns, conninfo_parse)},
		{"PQconninfoFree", offsetof(struct pq_fns, conninfo_free)},
		{"PQfreemem", offsetof(struct pq_fns, freemem)},
		{"PQconnectdbParams", offsetof(struct pq_fns, connectdb_params)},
		{"PQexec", offsetof(struct pq_fns, exec)},
		{"PQexecParams", offsetof(struct pq_fns, exec_params)},
		{"PQprepare", offsetof(struct pq_fns, prepare)},
		{"PQexecPrepared", offsetof(struct pq_fns, exec_prepared)},
		{"PQntuples", offsetof(struct pq_fns, ntuples)},
		{"PQgetvalue", offsetof(struct pq_fns, getvalue)},
		{"PQgetlength", offsetof(struct pq_fns, getlength)},
		{"PQgetisnull", offsetof(struct pq_fns, getisnull)},
		{"PQresultErrorMessage", offsetof(struct pq_fns, result_error_message)},
		{"PQtransactionStatus", offsetof(struct pq_fns, transaction_status)},
		{"PQsendPrepare", offsetof(struct pq_fns, send_prepare)},
		{"PQsendQueryPrepared", offsetof(struct pq_fns, send_query_prepared)},
	};
	if (!dl_table_load("libpq.so.5", syms, sizeof(syms) / sizeof(syms[0]), &lib))
		return;
	loaded = true;
}

bool pq_lazy_load(void)
{
	pthread_once(&load_once, load);
	return loaded;
}

PGconn *PQconnectStartParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	return pq_lazy_load() ? lib.connect_start_params(keywords, values, expand_dbname) : NULL;
}

PostgresPollingStatusType PQconnectPoll(PGconn *conn)
{
	return pq_lazy_load() ? lib.connect_poll(conn) : PGRES_POLLING_FAILED;
}

ConnStatusType PQstatus(const PGconn *conn)
{
	return pq_lazy_load() ? lib.status(conn) : CONNECTION_BAD;
}

int PQsocket(const PGconn *conn)
{
	return pq_lazy_load() ? lib.socket(conn) : -1;
}

char *PQerrorMessage(const PGconn *conn)
{
	static char unloaded[] = PQ_LAZY_UNLOADED;

	return pq_lazy_load() ? lib.error_message(conn) : unloaded;
}

void PQfinish(PGconn *conn)
{
	if (pq_lazy_load())
		lib.finish(conn);
}

int PQsetnonblocking(PGconn *conn, int arg)
{
	return pq_lazy_load() ? lib.set_nonblocking(conn, arg) : -1;
}

int PQflush(PGconn *conn)
{
	return pq_lazy_load() ? lib.flush(conn) : -1;
}

PQnoticeProcessor PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg)
{
	return pq_lazy_load() ? lib.set_notice_processor(conn, proc, arg) : NULL;
}

int PQsendQuery(PGconn *conn, const char *query)
{
	return pq_lazy_load() ? lib.send_query(conn, query) : 0;
}

int PQconsumeInput(PGconn *conn)
{
	return pq_lazy_load() ? lib.consume_input(conn) : 0;
}

int PQisBusy(PGconn *conn)
{
	return pq_lazy_load() ? lib.is_busy(conn) : 0;
}

PGresult *PQgetResult(PGconn *conn)
{
	return pq_lazy_load() ? lib.get_result(conn) : NULL;
}

ExecStatusType PQresultStatus(const PGresult *res)
{
	return pq_lazy_load() ? lib.result_status(res) : PGRES_FATAL_ERROR;
}

char *PQresultErrorField(const PGresult *res, int fieldcode)
{
	return pq_lazy_load() ? lib.result_error_field(res, fieldcode) : NULL;
}

void PQclear(PGresult *res)
{
	if (pq_lazy_load())
		lib.clear(res);
}

PGcancel *PQgetCancel(PGconn *conn)
{
	return pq_lazy_load() ? lib.get_cancel(conn) : NULL;
}

int PQcancel(PGcancel *cancel, char *errbuf, int errbufsize)
{
	return pq_lazy_load() ? lib.cancel(cancel, errbuf, errbufsize) : 0;
}

void PQfreeCancel(PGcancel *cancel)
{
	if (pq_lazy_load())
		lib.free_cancel(cancel);
}

PQconninfoOption *PQconninfoParse(const char *conninfo, char **errmsg)
{
	if (pq_lazy_load())
		return lib.conninfo_parse(conninfo, errmsg);
	if (errmsg != NULL)
		*errmsg = NULL;
	return NULL;
}

void PQconninfoFree(PQconninfoOption *opts)
{
	if (pq_lazy_load())
		lib.conninfo_free(opts);
}

void PQfreemem(void *p)
{
	if (pq_lazy_load())
		lib.freemem(p);
}

PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	return pq_lazy_load() ? lib.connectdb_params(keywords, values, expand_dbname) : NULL;
}

PGresult *PQexec(PGconn *conn, const char *query)
{
	return pq_lazy_load() ? lib.exec(conn, query) : NULL;
}

PGresult *PQexecParams(PGconn *conn, const char *command, int nparams, const Oid *types,
                       const char *const *values, const int *lengths, const int *formats, int result_format)
{
	return pq_lazy_load() ? lib.exec_params(conn, command, nparams, types, values, lengths, formats, result_format)
	                      : NULL;
}

PGresult *PQprepare(PGconn *conn, const char *name, const char *query, int nparams, const Oid *types)
{
	return pq_lazy_load() ? lib.prepare(conn, name, query, nparams, types) : NULL;
}

PGresult *PQexecPrepared(PGconn *conn, const char *name, int nparams, const char *const *values,
                         const int *lengths, const int *formats, int result_format)
{
	return pq_lazy_load() ? lib.exec_prepared(conn, name, nparams, values, lengths, formats, result_format) : NULL;
}

int PQntuples(const PGresult *res)
{
	return pq_lazy_load() ? lib.ntuples(res) : 0;
}

char *PQgetvalue(const PGresult *res, int row, int col)
{
	return pq_lazy_load() ? lib.getvalue(res, row, col) : NULL;
}

int PQgetlength(const PGresult *res, int row, int col)
{
	return pq_lazy_load() ? lib.getlength(res, row, col) : 0;
}

int PQgetisnull(const PGresult *res, int row, int col)
{
	return pq_lazy_load() ? lib.getisnull(res, row, col) : 1;
}

char *PQresultErrorMessage(const PGresult *res)
{
	static char unloaded[] = PQ_LAZY_UNLOADED;

	return pq_lazy_load() ? lib.result_error_message(res) : unloaded;
}

PGTransactionStatusType PQtransactionStatus(const PGconn *conn)
{
	return pq_lazy_load() ? lib.transaction_status(conn) : PQTRANS_UNKNOWN;
}

int PQsendPrepare(PGconn *conn, const char *name, const char *query, int nparams, const Oid *types)
{
	return pq_lazy_load() ? lib.send_prepare(conn, name, query, nparams, types) : 0;
}

int PQsendQueryPrepared(PGconn *conn, const char *name, int nparams, const char *const *values, const int *lengths,
                        const int *formats, int result_format)
{
	return pq_lazy_load() ? lib.send_query_prepared(conn, name, nparams, values, lengths, formats, result_format)
	                      : 0;
}
