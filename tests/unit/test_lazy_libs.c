/* test_lazy_libs.c — liblmdb and libargon2 are not mapped by a process that
 * does not use them (lib/lmdb_lazy.h, lib/argon2_lazy.h): this program
 * links what trove links, checks /proc/self/maps before the first call
 * and after it, and that the functions then work as the libraries' own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <argon2.h>
#include <cmocka.h>
#include <lmdb.h>

#include "argon2_lazy.h"
#include "lmdb_lazy.h"

#include "banned.h"

static bool mapped(const char *soname)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, soname) != NULL;
	fclose(f);
	return found;
}

static void test_lmdb_on_first_use(void **state)
{
	char dir[] = "/tmp/trove-lazy-lmdb-XXXXXX";
	char path[sizeof(dir) + 16];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = { 1, "k" }, v = { 5, "value" }, got;

	(void)state;
	assert_false(mapped("liblmdb.so"));
	assert_non_null(strstr(mdb_strerror(MDB_NOTFOUND), "MDB_NOTFOUND"));
	assert_true(lmdb_lazy_load());
	assert_true(mapped("liblmdb.so"));
	/* A round trip through the forwarded functions. */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 1 << 20), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_true(mdb_env_get_maxkeysize(env) > 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &got), 0);
	assert_int_equal(got.mv_size, 5);
	assert_memory_equal(got.mv_data, "value", 5);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	(void)snprintf(path, sizeof(path), "%s/data.mdb", dir);
	assert_int_equal(unlink(path), 0);
	(void)snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_argon2_on_first_use(void **state)
{
	static const char salt[] = "0123456789abcdef";
	size_t n;
	char *enc;

	(void)state;
	assert_false(mapped("libargon2.so"));
	n = argon2_encodedlen(1, 64, 1, 16, 32, Argon2_id);
	assert_true(mapped("libargon2.so"));
	assert_true(n > 1);
	enc = calloc(1, n);
	assert_non_null(enc);
	assert_int_equal(argon2id_hash_encoded(1, 64, 1, "pw", 2, salt, 16, 32, enc, n), ARGON2_OK);
	assert_int_equal(strncmp(enc, "$argon2id$", 10), 0);
	assert_int_equal(argon2id_verify(enc, "pw", 2), ARGON2_OK);
	assert_int_equal(argon2id_verify(enc, "px", 2), ARGON2_VERIFY_MISMATCH);
	assert_string_equal(argon2_error_message(ARGON2_VERIFY_MISMATCH), "The password does not match the supplied hash");
	free(enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lmdb_on_first_use),
		cmocka_unit_test(test_argon2_on_first_use),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
