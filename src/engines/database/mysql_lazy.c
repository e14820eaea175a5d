/* mysql_lazy.c — libmariadb, loaded the first time it is used.
 *
 * libmariadb and what it links (its TLS library, its plugins) would be
 * mapped into every server if the binary linked it, including one that
 * manages no MySQL database. So, as curl_lazy.c does for libcurl, this
 * file defines the C API functions the MySQL plugins call; each loads
 * libmariadb.so.3 with dlopen on first use (once, thread-safe), runs
 * mysql_library_init, and forwards. Without the library, mysql_init
 * returns NULL and mysql_error says why; the other functions are only
 * reached through a handle mysql_init gave. */
#include <mysql.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "mysql_lazy.h"
#include "dl_table.h"

#include "banned.h"

struct mysql_fns {
	int (*server_init)(int, char **, char **);
	my_bool (*thread_init)(void);
	void (*thread_end)(void);
	MYSQL *(*init)(MYSQL *);
	int (*options)(MYSQL *, enum mysql_option, const void *);
	int (*real_connect_start)(MYSQL **, MYSQL *, const char *, const char *, const char *, const char *,
	                          unsigned int, const char *, unsigned long);
	int (*real_connect_cont)(MYSQL **, MYSQL *, int);
	int (*real_query_start)(int *, MYSQL *, const char *, unsigned long);
	int (*real_query_cont)(int *, MYSQL *, int);
	int (*store_result_start)(MYSQL_RES **, MYSQL *);
	int (*store_result_cont)(MYSQL_RES **, MYSQL *, int);
	void (*free_result)(MYSQL_RES *);
	my_bool (*more_results)(MYSQL *);
	int (*next_result_start)(int *, MYSQL *);
	int (*next_result_cont)(int *, MYSQL *, int);
	int (*ping_start)(int *, MYSQL *);
	int (*ping_cont)(int *, MYSQL *, int);
	void (*close)(MYSQL *);
	const char *(*error)(MYSQL *);
	unsigned int (*errno_)(MYSQL *);
	my_socket (*get_socket)(MYSQL *);
	unsigned int (*get_timeout_value_ms)(const MYSQL *);
};
static struct mysql_fns lib;
static bool loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static __thread bool thread_ready;

/* Runs when a thread that used libmariadb exits. */
static void thread_done(void *unused)
{
	(void)unused;
	lib.thread_end();
}

static void load(void)
{
	static const struct dl_symbol syms[] = {
	    {"mysql_server_init", offsetof(struct mysql_fns, server_init)},
	    {"mysql_thread_init", offsetof(struct mysql_fns, thread_init)},
	    {"mysql_thread_end", offsetof(struct mysql_fns, thread_end)},
	    {"mysql_init", offsetof(struct mysql_fns, init)},
	    {"mysql_options", offsetof(struct mysql_fns, options)},
	    {"mysql_real_connect_start", offsetof(struct mysql_fns, real_connect_start)},
	    {"mysql_real_connect_cont", offsetof(struct mysql_fns, real_connect_cont)},
	    {"mysql_real_query_start", offsetof(struct mysql_fns, real_query_start)},
	    {"mysql_real_query_cont", offsetof(struct mysql_fns, real_query_cont)},
	    {"mysql_store_result_start", offsetof(struct mysql_fns, store_result_start)},
	    {"mysql_store_result_cont", offsetof(struct mysql_fns, store_result_cont)},
	    {"mysql_free_result", offsetof(struct mysql_fns, free_result)},
	    {"mysql_more_results", offsetof(struct mysql_fns, more_results)},
	    {"mysql_next_result_start", offsetof(struct mysql_fns, next_result_start)},
	    {"mysql_next_result_cont", offsetof(struct mysql_fns, next_result_cont)},
	    {"mysql_ping_start", offsetof(struct mysql_fns, ping_start)},
	    {"mysql_ping_cont", offsetof(struct mysql_fns, ping_cont)},
	    {"mysql_close", offsetof(struct mysql_fns, close)},
	    {"mysql_error", offsetof(struct mysql_fns, error)},
	    {"mysql_errno", offsetof(struct mysql_fns, errno_)},
	    {"mysql_get_socket", offsetof(struct mysql_fns, get_socket)},
	    {"mysql_get_timeout_value_ms", offsetof(struct mysql_fns, get_timeout_value_ms)},
	};
	if (!dl_table_load("libmariadb.so.3", syms, sizeof(syms) / sizeof(syms[0]), &lib))
		return;
	if (lib.server_init(0, NULL, NULL) != 0 || pthread_key_create(&thread_key, thread_done) != 0)
		return;
	loaded = true;
}

bool mysql_lazy_load(void)
{
	pthread_once(&load_once, load);
	if (!loaded)
		return false;
	if (!thread_ready) {
		/* The key's value only needs to be non-NULL for its destructor
		 * to run at thread exit. */
		if (lib.thread_init() != 0 || pthread_setspecific(thread_key, &thread_ready) != 0)
			return false;
		thread_ready = true;
	}
	return true;
}

MYSQL *mysql_init(MYSQL *m)
{
	return mysql_lazy_load() ? lib.init(m) : NULL;
}

int mysql_options(MYSQL *m, enum mysql_option opt, const void *arg)
{
	return mysql_lazy_load() ? lib.options(m, opt, arg) : 1;
}

int mysql_real_connect_start(MYSQL **ret, MYSQL *m, const char *host, const char *user, const char *passwd,
                             const char *db, unsigned int port, const char *unix_socket, unsigned long flags)
{
	if (!mysql_lazy_load()) {
		*ret = NULL;
		return 0;
	}
	return lib.real_connect_start(ret, m, host, user, passwd, db, port, unix_socket, flags);
}

int mysql_real_connect_cont(MYSQL **ret, MYSQL *m, int status)
{
	if (!mysql_lazy_load()) {
		*ret = NULL;
		return 0;
	}
	return lib.real_connect_cont(ret, m, status);
}

int mysql_real_query_start(int *ret, MYSQL *m, const char *q, unsigned long len)
{
	if (!mysql_lazy_load()) {
		*ret = 1;
		return 0;
	}
	return lib.real_query_start(ret, m, q, len);
}

int mysql_real_query_cont(int *ret, MYSQL *m, int status)
{
	if (!mysql_lazy_load()) {
		*ret = 1;
		return 0;
	}
	return lib.real_query_cont(ret, m, status);
}

int mysql_store_result_start(MYSQL_RES **ret, MYSQL *m)
{
	if (!mysql_lazy_load()) {
		*ret = NULL;
		return 0;
	}
	return lib.store_result_start(ret, m);
}

int mysql_store_result_cont(MYSQL_RES **ret, MYSQL *m, int status)
{
	if (!mysql_lazy_load()) {
		*ret = NULL;
		return 0;
	}
	return lib.store_result_cont(ret, m, status);
}

void mysql_free_result(MYSQL_RES *res)
{
	if (mysql_lazy_load())
		lib.free_result(res);
}

my_bool mysql_more_results(MYSQL *m)
{
	return mysql_lazy_load() ? lib.more_results(m) : 0;
}

int mysql_next_result_start(int *ret, MYSQL *m)
{
	if (!mysql_lazy_load()) {
		*ret = 1;
		return 0;
	}
	return lib.next_result_start(ret, m);
}

int mysql_next_result_cont(int *ret, MYSQL *m, int status)
{
	if (!mysql_lazy_load()) {
		*ret = 1;
		return 0;
	}
	return lib.next_result_cont(ret, m, status);
}

int mysql_ping_start(int *ret, MYSQL *m)
{
	if (!mysql_lazy_load()) {
		*ret = 1;
		return 0;
	}
	return lib.ping_start(ret, m);
}

int mysql_ping_cont(int *ret, MYSQL *m, int status)
{
	if (!mysql_lazy_load()) {
		*ret = 1;
		return 0;
	}
	return lib.ping_cont(ret, m, status);
}

void mysql_close(MYSQL *m)
{
	if (mysql_lazy_load())
		lib.close(m);
}

const char *mysql_error(MYSQL *m)
{
	return mysql_lazy_load() ? lib.error(m) : "libmariadb (libmariadb.so.3) could not be loaded";
}

unsigned int mysql_errno(MYSQL *m)
{
	return mysql_lazy_load() ? lib.errno_(m) : 0;
}

my_socket mysql_get_socket(MYSQL *m)
{
	return mysql_lazy_load() ? lib.get_socket(m) : (my_socket)-1;
}

unsigned int mysql_get_timeout_value_ms(const MYSQL *m)
{
	return mysql_lazy_load() ? lib.get_timeout_value_ms(m) : 0;
}
