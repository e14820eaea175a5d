/* test_storage.c — one table of contract tests run against every backend
 * (inmem, lmdb in a temporary directory, and a prefix view over inmem),
 * plus backend-specific tests: lmdb persistence and limits, view
 * isolation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "storage/storage.h"

#include "banned.h"

struct fixture {
	const char *kind;
	struct storage *s;
	struct storage *inner; /* view: the storage under it */
	char dir[64];
};

static void rm_lmdb_dir(const char *dir)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static struct storage *open_lmdb(const char *dir, size_t max_size)
{
	struct buf err;
	buf_init(&err, 4096);
	struct storage_lmdb_config cfg = {.path = dir, .max_size = max_size};
	struct storage *s = storage_lmdb_new(&cfg, &err);
	if (s == NULL)
		fprintf(stderr, "lmdb open failed: %s\n", err.data);
	buf_release(&err);
	return s;
}

static int setup_inmem(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->kind = "inmem";
	f->s = storage_inmem_new();
	*state = f;
	return f->s ? 0 : -1;
}

static int setup_lmdb(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->kind = "lmdb";
	snprintf(f->dir, sizeof(f->dir), "/tmp/trove-storage-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->s = open_lmdb(f->dir, 0);
	*state = f;
	return f->s ? 0 : -1;
}

static int setup_view(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->kind = "view";
	f->inner = storage_inmem_new();
	f->s = storage_view_new(f->inner, "mounts/m1/");
	*state = f;
	return f->s ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	storage_free(f->s);
	storage_free(f->inner);
	if (f->dir[0])
		rm_lmdb_dir(f->dir);
	free(f);
	return 0;
}

static struct storage *S(void **state)
{
	return ((struct fixture *)*state)->s;
}

static void put_str(struct storage *s, const char *k, const char *v)
{
	assert_int_equal(storage_put(s, k, v, strlen(v)), 0);
}

static void check_value(struct storage *s, const char *k, const void *v, size_t n)
{
	unsigned char *out = NULL;
	size_t len = 0;
	assert_int_equal(storage_get(s, k, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(len, n);
	if (n)
		assert_memory_equal(out, v, n);
	free(out);
}

static void check_missing(struct storage *s, const char *k)
{
	unsigned char *out = NULL;
	size_t len = 0;
	assert_int_equal(storage_get(s, k, &out, &len), TROVE_ERR_NOT_FOUND);
	assert_null(out);
}

/* Lists prefix and compares with the NULL-terminated expected names. */
static void check_list(struct storage *s, const char *prefix, const char *const *want)
{
	struct strlist l;
	strlist_init(&l);
	assert_int_equal(storage_list(s, prefix, &l), 0);
	size_t n = 0;
	while (want[n])
		n++;
	if (l.len != n) {
		for (size_t i = 0; i < l.len; i++)
			fprintf(stderr, "  got[%zu] = %s\n", i, l.items[i]);
	}
	assert_int_equal(l.len, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l.items[i], want[i]);
	strlist_release(&l);
}

/* ---- the contract table ------------------------------------------------ */

static void t_get_missing(void **state)
{
	check_missing(S(state), "nope");
	check_missing(S(state), "a/b/c");
}

static void t_put_get_overwrite(void **state)
{
	struct storage *s = S(state);
	put_str(s, "k1", "v1");
	check_value(s, "k1", "v1", 2);
	put_str(s, "k1", "a much longer second value");
	check_value(s, "k1", "a much longer second value", 26);
	put_str(s, "k1", "x");
	check_value(s, "k1", "x", 1);
	put_str(s, "dir/k1", "other");
	check_value(s, "k1", "x", 1);
	check_value(s, "dir/k1", "other", 5);
}

static void t_delete(void **state)
{
	struct storage *s = S(state);
	assert_int_equal(storage_delete(s, "never-was"), 0);
	put_str(s, "gone", "v");
	assert_int_equal(storage_delete(s, "gone"), 0);
	check_missing(s, "gone");
	assert_int_equal(storage_delete(s, "gone"), 0);
}

static void t_list(void **state)
{
	struct storage *s = S(state);
	put_str(s, "foo", "1");
	put_str(s, "bar", "1");
	put_str(s, "bar/baz", "1");
	put_str(s, "bar/qux/quux", "1");
	put_str(s, "bar/qux/zz/deep", "1");
	put_str(s, "bar-1", "1");
	put_str(s, "zeta", "1");
	for (int i = 0; i < 50; i++) {
		char k[64];
		snprintf(k, sizeof(k), "big/sub%02d/leaf", i);
		put_str(s, k, "1");
	}
	/* '-' (0x2d) sorts before '/' (0x2f): "bar-1" comes before "bar/" */
	check_list(s, "", (const char *const[]){"bar", "bar-1", "bar/", "big/", "foo", "zeta", NULL});
	check_list(s, "bar/", (const char *const[]){"baz", "qux/", NULL});
	check_list(s, "bar/qux/", (const char *const[]){"quux", "zz/", NULL});
	check_list(s, "bar/qux/zz/", (const char *const[]){"deep", NULL});
	check_list(s, "nothing/", (const char *const[]){NULL});
	check_list(s, "fo/", (const char *const[]){NULL});

	struct strlist l;
	strlist_init(&l);
	assert_int_equal(storage_list(s, "big/", &l), 0);
	assert_int_equal(l.len, 50);
	for (size_t i = 1; i < l.len; i++)
		assert_true(strcmp(l.items[i - 1], l.items[i]) < 0);
	assert_string_equal(l.items[0], "sub00/");
	strlist_release(&l);

	/* list appends to what the list already holds */
	strlist_init(&l);
	assert_int_equal(strlist_push(&l, "pre"), 0);
	assert_int_equal(storage_list(s, "bar/", &l), 0);
	assert_int_equal(l.len, 3);
	assert_string_equal(l.items[0], "pre");
	strlist_release(&l);

	/* a prefix must be "" or end in '/' */
	strlist_init(&l);
	assert_int_equal(storage_list(s, "bar", &l), TROVE_ERR_INVALID);
	assert_int_equal(storage_list(s, NULL, &l), TROVE_ERR_INVALID);
	strlist_release(&l);

	/* deleting the last key of a directory removes it from the listing */
	assert_int_equal(storage_delete(s, "bar/qux/zz/deep"), 0);
	check_list(s, "bar/qux/", (const char *const[]){"quux", NULL});
}

static void t_txn(void **state)
{
	struct storage *s = S(state);
	put_str(s, "t/old", "o");
	struct storage_op ok[] = {
	    {.kind = STORAGE_PUT, .key = "t/a", .value = "A", .value_len = 1},
	    {.kind = STORAGE_PUT, .key = "t/b", .value = "B", .value_len = 1},
	    {.kind = STORAGE_DELETE, .key = "t/old"},
	    {.kind = STORAGE_DELETE, .key = "t/never"},
	    {.kind = STORAGE_PUT, .key = "t/a", .value = "A2", .value_len = 2},
	};
	assert_int_equal(storage_txn(s, ok, 5), 0);
	check_value(s, "t/a", "A2", 2);
	check_value(s, "t/b", "B", 1);
	check_missing(s, "t/old");

	/* an invalid op anywhere applies nothing */
	struct storage_op bad[] = {
	    {.kind = STORAGE_PUT, .key = "u/a", .value = "A", .value_len = 1},
	    {.kind = STORAGE_DELETE, .key = "t/a"},
	    {.kind = STORAGE_PUT, .key = "/abs", .value = "x", .value_len = 1},
	};
	assert_int_equal(storage_txn(s, bad, 3), TROVE_ERR_INVALID);
	check_missing(s, "u/a");
	check_value(s, "t/a", "A2", 2);
	bad[2].key = "";
	assert_int_equal(storage_txn(s, bad, 3), TROVE_ERR_INVALID);
	bad[2].key = NULL;
	assert_int_equal(storage_txn(s, bad, 3), TROVE_ERR_INVALID);
	bad[2].key = "fine";
	bad[2].kind = (enum storage_op_kind)42;
	assert_int_equal(storage_txn(s, bad, 3), TROVE_ERR_INVALID);
	check_missing(s, "u/a");
	check_value(s, "t/a", "A2", 2);

	assert_int_equal(storage_txn(s, NULL, 0), 0);
	assert_int_equal(storage_txn(s, NULL, 1), TROVE_ERR_INVALID);
}

static void t_empty_value(void **state)
{
	struct storage *s = S(state);
	assert_int_equal(storage_put(s, "empty", "", 0), 0);
	check_value(s, "empty", "", 0);
	assert_int_equal(storage_put(s, "empty2", NULL, 0), 0);
	check_value(s, "empty2", "", 0);
	assert_int_equal(storage_put(s, "nullval", NULL, 3), TROVE_ERR_INVALID);
}

static void t_binary_value(void **state)
{
	struct storage *s = S(state);
	unsigned char v[512];
	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = (unsigned char)(i * 7);
	v[0] = 0;
	v[100] = 0;
	assert_int_equal(storage_put(s, "bin", v, sizeof(v)), 0);
	check_value(s, "bin", v, sizeof(v));
}

static void t_key_validation(void **state)
{
	struct storage *s = S(state);
	unsigned char *out = NULL;
	size_t len = 0;
	assert_int_equal(storage_put(s, "", "v", 1), TROVE_ERR_INVALID);
	assert_int_equal(storage_put(s, NULL, "v", 1), TROVE_ERR_INVALID);
	assert_int_equal(storage_put(s, "/lead", "v", 1), TROVE_ERR_INVALID);
	assert_int_equal(storage_put(s, "trail/", "v", 1), TROVE_ERR_INVALID);
	assert_int_equal(storage_get(s, "", &out, &len), TROVE_ERR_INVALID);
	assert_int_equal(storage_get(s, "k", NULL, &len), TROVE_ERR_INVALID);
	assert_int_equal(storage_delete(s, ""), TROVE_ERR_INVALID);
	assert_int_equal(storage_delete(s, NULL), TROVE_ERR_INVALID);

	char *long_key = malloc(STORAGE_MAX_KEY + 2);
	memset(long_key, 'k', STORAGE_MAX_KEY + 1);
	long_key[STORAGE_MAX_KEY + 1] = '\0';
	assert_int_equal(storage_put(s, long_key, "v", 1), TROVE_ERR_INVALID);
	assert_int_equal(storage_get(s, long_key, &out, &len), TROVE_ERR_INVALID);
	free(long_key);

	/* the size check comes before any byte is read */
	assert_int_equal(storage_put(s, "huge", "v", STORAGE_MAX_VALUE + 1), TROVE_ERR_TOO_LARGE);
	check_missing(s, "huge");
}

struct worker {
	struct storage *s;
	int id;
	int n;
	int failures;
};

static void *put_worker(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->n; i++) {
		char k[64], v[64];
		snprintf(k, sizeof(k), "conc/t%d/k%04d", w->id, i);
		snprintf(v, sizeof(v), "value-%d-%d", w->id, i);
		if (storage_put(w->s, k, v, strlen(v)) != 0)
			w->failures++;
		unsigned char *out = NULL;
		size_t len = 0;
		if (storage_get(w->s, k, &out, &len) != 0 || len != strlen(v) || memcmp(out, v, len) != 0)
			w->failures++;
		free(out);
		if (i % 16 == 0) {
			struct strlist l;
			strlist_init(&l);
			if (storage_list(w->s, "conc/", &l) != 0)
				w->failures++;
			strlist_release(&l);
		}
	}
	return NULL;
}

static void t_concurrent_puts(void **state)
{
	struct fixture *f = *state;
	enum { NT = 4 };
	/* lmdb fsyncs each commit: keep its count modest */
	int per = strcmp(f->kind, "lmdb") == 0 ? 40 : 300;
	pthread_t th[NT];
	struct worker w[NT];
	for (int i = 0; i < NT; i++) {
		w[i] = (struct worker){.s = f->s, .id = i, .n = per};
		assert_int_equal(pthread_create(&th[i], NULL, put_worker, &w[i]), 0);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	check_list(f->s, "conc/", (const char *const[]){"t0/", "t1/", "t2/", "t3/", NULL});
	for (int i = 0; i < NT; i++) {
		char p[32];
		snprintf(p, sizeof(p), "conc/t%d/", i);
		struct strlist l;
		strlist_init(&l);
		assert_int_equal(storage_list(f->s, p, &l), 0);
		assert_int_equal(l.len, (size_t)per);
		strlist_release(&l);
	}
}

#define CONTRACT(setup)                                                                                      \
	cmocka_unit_test_setup_teardown(t_get_missing, setup, teardown),                                     \
	    cmocka_unit_test_setup_teardown(t_put_get_overwrite, setup, teardown),                           \
	    cmocka_unit_test_setup_teardown(t_delete, setup, teardown),                                      \
	    cmocka_unit_test_setup_teardown(t_list, setup, teardown),                                        \
	    cmocka_unit_test_setup_teardown(t_txn, setup, teardown),                                         \
	    cmocka_unit_test_setup_teardown(t_empty_value, setup, teardown),                                 \
	    cmocka_unit_test_setup_teardown(t_binary_value, setup, teardown),                                \
	    cmocka_unit_test_setup_teardown(t_key_validation, setup, teardown),                              \
	    cmocka_unit_test_setup_teardown(t_concurrent_puts, setup, teardown)

/* ---- backend specific -------------------------------------------------- */

static void t_inmem_not_durable_long_key(void **state)
{
	struct storage *s = S(state);
	assert_false(s->durable);
	char *k = malloc(STORAGE_MAX_KEY + 1);
	memset(k, 'a', STORAGE_MAX_KEY);
	k[STORAGE_MAX_KEY] = '\0';
	put_str(s, k, "v");
	check_value(s, k, "v", 1);
	free(k);
}

static void t_lmdb_persistence(void **state)
{
	struct fixture *f = *state;
	assert_true(f->s->durable);
	put_str(f->s, "p/one", "1");
	put_str(f->s, "p/two", "2");
	assert_int_equal(storage_delete(f->s, "p/two"), 0);
	storage_free(f->s);
	f->s = open_lmdb(f->dir, 0);
	assert_non_null(f->s);
	check_value(f->s, "p/one", "1", 1);
	check_missing(f->s, "p/two");
	check_list(f->s, "p/", (const char *const[]){"one", NULL});
}

static void t_lmdb_limits(void **state)
{
	struct fixture *f = *state;
	/* keys past LMDB's own key limit (511 bytes) are refused, not truncated */
	char k[1024];
	memset(k, 'k', sizeof(k) - 1);
	k[sizeof(k) - 1] = '\0';
	assert_int_equal(storage_put(f->s, k, "v", 1), TROVE_ERR_INVALID);
	check_missing(f->s, k);
	assert_int_equal(storage_delete(f->s, k), 0);
	k[400] = '\0';
	put_str(f->s, k, "v");
	check_value(f->s, k, "v", 1);

	/* a full map is an I/O error, and the store keeps working */
	storage_free(f->s);
	rm_lmdb_dir(f->dir);
	f->s = open_lmdb(f->dir, (size_t)256 << 10);
	assert_non_null(f->s);
	size_t big = (size_t)1 << 20;
	unsigned char *v = calloc(1, big);
	assert_int_equal(storage_put(f->s, "big", v, big), TROVE_ERR_IO);
	free(v);
	check_missing(f->s, "big");
	put_str(f->s, "small", "ok");
	check_value(f->s, "small", "ok", 2);
}

static void t_lmdb_bad_path(void **state)
{
	(void)state;
	struct buf err;
	buf_init(&err, 4096);
	struct storage_lmdb_config cfg = {.path = "/proc/definitely/not/here"};
	assert_null(storage_lmdb_new(&cfg, &err));
	assert_true(err.len > 0);
	cfg.path = NULL;
	assert_null(storage_lmdb_new(&cfg, &err));
	assert_null(storage_lmdb_new(&cfg, NULL));
	buf_release(&err);
}

static void t_view_isolation(void **state)
{
	struct fixture *f = *state;
	struct storage *v = f->s;
	struct storage *other = storage_view_new(f->inner, "mounts/m2/");
	assert_non_null(other);

	put_str(v, "secret", "mine");
	put_str(other, "secret", "theirs");
	put_str(f->inner, "mounts/m1x/secret", "sibling");
	check_value(f->inner, "mounts/m1/secret", "mine", 4);
	check_value(v, "secret", "mine", 4);
	check_value(other, "secret", "theirs", 6);
	check_missing(v, "m1x/secret");

	put_str(v, "dir/a", "1");
	check_list(v, "", (const char *const[]){"dir/", "secret", NULL});
	check_list(v, "dir/", (const char *const[]){"a", NULL});
	check_list(f->inner, "mounts/", (const char *const[]){"m1/", "m1x/", "m2/", NULL});

	/* ".." and "." segments are refused everywhere */
	unsigned char *out = NULL;
	size_t len = 0;
	assert_int_equal(storage_get(v, "../m2/secret", &out, &len), TROVE_ERR_INVALID);
	assert_int_equal(storage_get(v, "dir/../../m2/secret", &out, &len), TROVE_ERR_INVALID);
	assert_int_equal(storage_get(v, "dir/..", &out, &len), TROVE_ERR_INVALID);
	assert_int_equal(storage_get(v, "./secret", &out, &len), TROVE_ERR_INVALID);
	assert_int_equal(storage_put(v, "../m2/secret", "x", 1), TROVE_ERR_INVALID);
	assert_int_equal(storage_delete(v, "../m2/secret"), TROVE_ERR_INVALID);
	struct strlist l;
	strlist_init(&l);
	assert_int_equal(storage_list(v, "../", &l), TROVE_ERR_INVALID);
	assert_int_equal(storage_list(v, "dir/../../", &l), TROVE_ERR_INVALID);
	strlist_release(&l);
	struct storage_op ops[] = {
	    {.kind = STORAGE_PUT, .key = "ok", .value = "1", .value_len = 1},
	    {.kind = STORAGE_PUT, .key = "../m2/secret", .value = "x", .value_len = 1},
	};
	assert_int_equal(storage_txn(v, ops, 2), TROVE_ERR_INVALID);
	check_missing(v, "ok");
	check_value(other, "secret", "theirs", 6);
	/* names that merely contain dots are fine */
	put_str(v, "a..b", "1");
	put_str(v, "..x", "1");
	check_value(v, "a..b", "1", 1);

	/* a txn through the view lands under the prefix */
	ops[1].key = "dir/b";
	assert_int_equal(storage_txn(v, ops, 2), 0);
	check_value(f->inner, "mounts/m1/ok", "1", 1);
	check_value(f->inner, "mounts/m1/dir/b", "x", 1);
	storage_free(other);
}

static void t_view_bad_prefix(void **state)
{
	struct fixture *f = *state;
	assert_null(storage_view_new(f->inner, ""));
	assert_null(storage_view_new(f->inner, "noslash"));
	assert_null(storage_view_new(f->inner, "/abs/"));
	assert_null(storage_view_new(f->inner, "a/../"));
	assert_null(storage_view_new(f->inner, NULL));
	assert_null(storage_view_new(NULL, "a/"));
	struct storage *nested = storage_view_new(f->s, "sub/");
	assert_non_null(nested);
	put_str(nested, "k", "v");
	check_value(f->inner, "mounts/m1/sub/k", "v", 1);
	storage_free(nested);
}

int main(void)
{
	const struct CMUnitTest inmem[] = {
	    CONTRACT(setup_inmem),
	    cmocka_unit_test_setup_teardown(t_inmem_not_durable_long_key, setup_inmem, teardown),
	};
	const struct CMUnitTest lmdb[] = {
	    CONTRACT(setup_lmdb),
	    cmocka_unit_test_setup_teardown(t_lmdb_persistence, setup_lmdb, teardown),
	    cmocka_unit_test_setup_teardown(t_lmdb_limits, setup_lmdb, teardown),
	    cmocka_unit_test(t_lmdb_bad_path),
	};
	const struct CMUnitTest view[] = {
	    CONTRACT(setup_view),
	    cmocka_unit_test_setup_teardown(t_view_isolation, setup_view, teardown),
	    cmocka_unit_test_setup_teardown(t_view_bad_prefix, setup_view, teardown),
	};
	int fails = 0;
	fails += cmocka_run_group_tests_name("inmem", inmem, NULL, NULL);
	fails += cmocka_run_group_tests_name("lmdb", lmdb, NULL, NULL);
	fails += cmocka_run_group_tests_name("view", view, NULL, NULL);
	return fails;
}
