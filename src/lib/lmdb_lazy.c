/* lmdb_lazy.c — LMDB, loaded the first time it is used (lmdb_lazy.h). */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>

#include "dl_table.h"
#include "lmdb_lazy.h"

#include "banned.h"

struct lmdb_fns {
	int (*env_create)(MDB_env **);
	int (*env_open)(MDB_env *, const char *, unsigned int, mdb_mode_t);
	void (*env_close)(MDB_env *);
	int (*env_set_mapsize)(MDB_env *, size_t);
	int (*env_set_maxreaders)(MDB_env *, unsigned int);
	int (*env_get_maxkeysize)(MDB_env *);
	int (*reader_check)(MDB_env *, int *);
	int (*txn_begin)(MDB_env *, MDB_txn *, unsigned int, MDB_txn **);
	int (*txn_commit)(MDB_txn *);
	void (*txn_abort)(MDB_txn *);
	int (*dbi_open)(MDB_txn *, const char *, unsigned int, MDB_dbi *);
	void (*dbi_close)(MDB_env *, MDB_dbi);
	int (*get)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *);
	int (*put)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *, unsigned int);
	int (*del)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *);
	int (*cursor_open)(MDB_txn *, MDB_dbi, MDB_cursor **);
	int (*cursor_get)(MDB_cursor *, MDB_val *, MDB_val *, MDB_cursor_op);
	void (*cursor_close)(MDB_cursor *);
	char *(*strerror)(int);
};
static struct lmdb_fns lib;
static bool loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	static const struct dl_symbol syms[] = {
		{"mdb_env_create", offsetof(struct lmdb_fns, env_create)},
		{"mdb_env_open", offsetof(struct lmdb_fns, env_open)},
		{"mdb_env_close", offsetof(struct lmdb_fns, env_close)},
		{"mdb_env_set_mapsize", offsetof(struct lmdb_fns, env_set_mapsize)},
		{"mdb_env_set_maxreaders", offsetof(struct lmdb_fns, env_set_maxreaders)},
		{"mdb_env_get_maxkeysize", offsetof(struct lmdb_fns, env_get_maxkeysize)},
		{"mdb_reader_check", offsetof(struct lmdb_fns, reader_check)},
		{"mdb_txn_begin", offsetof(struct lmdb_fns, txn_begin)},
		{"mdb_txn_commit", offsetof(struct lmdb_fns, txn_commit)},
		{"mdb_txn_abort", offsetof(struct lmdb_fns, txn_abort)},
		{"mdb_dbi_open", offsetof(struct lmdb_fns, dbi_open)},
		{"mdb_dbi_close", offsetof(struct lmdb_fns, dbi_close)},
		{"mdb_get", offsetof(struct lmdb_fns, get)},
		{"mdb_put", offsetof(struct lmdb_fns, put)},
		{"mdb_del", offsetof(struct lmdb_fns, del)},
		{"mdb_cursor_open", offsetof(struct lmdb_fns, cursor_open)},
		{"mdb_cursor_get", offsetof(struct lmdb_fns, cursor_get)},
		{"mdb_cursor_close", offsetof(struct lmdb_fns, cursor_close)},
		{"mdb_strerror", offsetof(struct lmdb_fns, strerror)},
	};
	loaded = dl_table_load("liblmdb.so.0", syms, sizeof(syms) / sizeof(syms[0]), &lib);
}

bool lmdb_lazy_load(void)
{
	pthread_once(&load_once, load);
	return loaded;
}

int mdb_env_create(MDB_env **env)
{
	return lmdb_lazy_load() ? lib.env_create(env) : ELIBACC;
}

int mdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode)
{
	return lmdb_lazy_load() ? lib.env_open(env, path, flags, mode) : ELIBACC;
}

void mdb_env_close(MDB_env *env)
{
	if (lmdb_lazy_load())
		lib.env_close(env);
}

int mdb_env_set_mapsize(MDB_env *env, size_t size)
{
	return lmdb_lazy_load() ? lib.env_set_mapsize(env, size) : ELIBACC;
}

int mdb_env_set_maxreaders(MDB_env *env, unsigned int readers)
{
	return lmdb_lazy_load() ? lib.env_set_maxreaders(env, readers) : ELIBACC;
}

int mdb_env_get_maxkeysize(MDB_env *env)
{
	return lmdb_lazy_load() ? lib.env_get_maxkeysize(env) : 0;
}

int mdb_reader_check(MDB_env *env, int *dead)
{
	return lmdb_lazy_load() ? lib.reader_check(env, dead) : ELIBACC;
}

int mdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags, MDB_txn **txn)
{
	return lmdb_lazy_load() ? lib.txn_begin(env, parent, flags, txn) : ELIBACC;
}

int mdb_txn_commit(MDB_txn *txn)
{
	return lmdb_lazy_load() ? lib.txn_commit(txn) : ELIBACC;
}

void mdb_txn_abort(MDB_txn *txn)
{
	if (lmdb_lazy_load())
		lib.txn_abort(txn);
}

int mdb_dbi_open(MDB_txn *txn, const char *name, unsigned int flags, MDB_dbi *dbi)
{
	return lmdb_lazy_load() ? lib.dbi_open(txn, name, flags, dbi) : ELIBACC;
}

void mdb_dbi_close(MDB_env *env, MDB_dbi dbi)
{
	if (lmdb_lazy_load())
		lib.dbi_close(env, dbi);
}

int mdb_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data)
{
	return lmdb_lazy_load() ? lib.get(txn, dbi, key, data) : ELIBACC;
}

int mdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned int flags)
{
	return lmdb_lazy_load() ? lib.put(txn, dbi, key, data, flags) : ELIBACC;
}

int mdb_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data)
{
	return lmdb_lazy_load() ? lib.del(txn, dbi, key, data) : ELIBACC;
}

int mdb_cursor_open(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cursor)
{
	return lmdb_lazy_load() ? lib.cursor_open(txn, dbi, cursor) : ELIBACC;
}

int mdb_cursor_get(MDB_cursor *cursor, MDB_val *key, MDB_val *data, MDB_cursor_op op)
{
	return lmdb_lazy_load() ? lib.cursor_get(cursor, key, data, op) : ELIBACC;
}

void mdb_cursor_close(MDB_cursor *cursor)
{
	if (lmdb_lazy_load())
		lib.cursor_close(cursor);
}

char *mdb_strerror(int err)
{
	static char unloaded[] = "LMDB (liblmdb.so.0) could not be loaded";

	return lmdb_lazy_load() ? lib.strerror(err) : unloaded;
}
