/* test_storage.c — one table of contract tests run against every backend
 * (inmem, lmdb in a temporary directory, and a prefix view over inmem),
 * plus backend-specific tests: lmdb persistence and limits, group commit
 * (a failing batch among good ones, acknowledged writes surviving kill -9),
 * view isolation. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Many writers at once: on lmdb they share group commits. Every write must
 * be there afterwards with its own value. */
struct cw_arg {
	struct storage *s;
	int id;
	int n;
	int failures;
};

static void cw_value(char *v, size_t cap, int id, int i)
{
	snprintf(v, cap, "writer %d wrote value number %d", id, i);
}

static void *cw_worker(void *arg)
{
	struct cw_arg *a = arg;
	for (int i = 0; i < a->n; i++) {
		char k[64], v[64];
		snprintf(k, sizeof(k), "cw/t%d/k%05d", a->id, i);
		cw_value(v, sizeof(v), a->id, i);
		if (storage_put(a->s, k, v, strlen(v)) != 0)
			a->failures++;
	}
	return NULL;
}

static void t_concurrent_writers(void **state)
{
	struct fixture *f = *state;
	enum { NT = 8, PER = 2000 };
	pthread_t th[NT];
	struct cw_arg a[NT];
	for (int i = 0; i < NT; i++) {
		a[i] = (struct cw_arg){.s = f->s, .id = i, .n = PER};
		assert_int_equal(pthread_create(&th[i], NULL, cw_worker, &a[i]), 0);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].failures, 0);
	}
	for (int t = 0; t < NT; t++) {
		char p[32];
		snprintf(p, sizeof(p), "cw/t%d/", t);
		struct strlist l;
		strlist_init(&l);
		assert_int_equal(storage_list(f->s, p, &l), 0);
		assert_int_equal(l.len, (size_t)PER);
		strlist_release(&l);
		for (int i = 0; i < PER; i++) {
			char k[64], v[64];
			snprintf(k, sizeof(k), "cw/t%d/k%05d", t, i);
			cw_value(v, sizeof(v), t, i);
			check_value(f->s, k, v, strlen(v));
		}
	}
}

/* Each writer replaces its set of ATOM_KEYS keys in one txn per
 * generation (puts the new ones, deletes the old ones). A reader's list is
 * one snapshot, so it must always see exactly one whole generation: never
 * a mix, never a half-applied txn. */
enum { ATOM_WRITERS = 4, ATOM_KEYS = 8 };

struct atom_arg {
	struct storage *s;
	int id;
	int gens;
	int failures;
	atomic_int *writers_left;
};

static void *atom_writer(void *arg)
{
	struct atom_arg *a = arg;
	char keys[2 * ATOM_KEYS][64];
	struct storage_op ops[2 * ATOM_KEYS];
	for (int g = 1; g <= a->gens; g++) {
		size_t n = 0;
		for (int j = 0; j < ATOM_KEYS; j++) {
			snprintf(keys[n], sizeof(keys[n]), "atom/t%d/g%06d-k%d", a->id, g, j);
			ops[n] = (struct storage_op){
			    .kind = STORAGE_PUT, .key = keys[n], .value = "v", .value_len = 1};
			n++;
		}
		for (int j = 0; j < ATOM_KEYS && g > 1; j++) {
			snprintf(keys[n], sizeof(keys[n]), "atom/t%d/g%06d-k%d", a->id, g - 1, j);
			ops[n] = (struct storage_op){.kind = STORAGE_DELETE, .key = keys[n]};
			n++;
		}
		if (storage_txn(a->s, ops, n) != 0)
			a->failures++;
	}
	atomic_fetch_sub(a->writers_left, 1);
	return NULL;
}

struct atom_reader {
	struct storage *s;
	atomic_int *writers_left;
	int bad;
	long lists;
};

static void *atom_reader_fn(void *arg)
{
	struct atom_reader *r = arg;
	int t = 0;
	while (atomic_load(r->writers_left) > 0) {
		char p[32];
		snprintf(p, sizeof(p), "atom/t%d/", t);
		t = (t + 1) % ATOM_WRITERS;
		struct strlist l;
		strlist_init(&l);
		if (storage_list(r->s, p, &l) != 0) {
			r->bad++;
		} else if (l.len != 0) {
			/* names are "gNNNNNN-kJ": one generation means one "gNNNNNN-" */
			if (l.len != ATOM_KEYS)
				r->bad++;
			for (size_t i = 1; i < l.len; i++)
				if (strncmp(l.items[0], l.items[i], 8) != 0)
					r->bad++;
		}
		strlist_release(&l);
		r->lists++;
	}
	return NULL;
}

static void t_txn_atomic_visibility(void **state)
{
	struct fixture *f = *state;
	int gens = strcmp(f->kind, "lmdb") == 0 ? 150 : 1500;
	atomic_int left = ATOM_WRITERS;
	pthread_t wt[ATOM_WRITERS], rt[2];
	struct atom_arg a[ATOM_WRITERS];
	struct atom_reader r[2];
	for (int i = 0; i < 2; i++) {
		r[i] = (struct atom_reader){.s = f->s, .writers_left = &left};
		assert_int_equal(pthread_create(&rt[i], NULL, atom_reader_fn, &r[i]), 0);
	}
	for (int i = 0; i < ATOM_WRITERS; i++) {
		a[i] = (struct atom_arg){.s = f->s, .id = i, .gens = gens, .writers_left = &left};
		assert_int_equal(pthread_create(&wt[i], NULL, atom_writer, &a[i]), 0);
	}
	for (int i = 0; i < ATOM_WRITERS; i++) {
		pthread_join(wt[i], NULL);
		assert_int_equal(a[i].failures, 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(rt[i], NULL);
		assert_int_equal(r[i].bad, 0);
		assert_true(r[i].lists > 0);
	}
	for (int i = 0; i < ATOM_WRITERS; i++) {
		char p[32], k[64];
		snprintf(p, sizeof(p), "atom/t%d/", i);
		struct strlist l;
		strlist_init(&l);
		assert_int_equal(storage_list(f->s, p, &l), 0);
		assert_int_equal(l.len, ATOM_KEYS);
		snprintf(k, sizeof(k), "g%06d-k0", gens);
		assert_string_equal(l.items[0], k);
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
	    cmocka_unit_test_setup_teardown(t_concurrent_puts, setup, teardown),                             \
	    cmocka_unit_test_setup_teardown(t_concurrent_writers, setup, teardown),                          \
	    cmocka_unit_test_setup_teardown(t_txn_atomic_visibility, setup, teardown)

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

/* A batch that cannot fit (MDB_MAP_FULL) among good batches sharing its
 * group commit: only its caller gets the error, none of its ops land, and
 * every good write lands. */
struct fb_arg {
	struct storage *s;
	int id;
	int n;
	int failures;
	unsigned char *big; /* bad writer: a value larger than the map */
	size_t big_len;
};

static void *fb_good(void *arg)
{
	struct fb_arg *a = arg;
	for (int i = 0; i < a->n; i++) {
		char k[64];
		snprintf(k, sizeof(k), "good/t%d/k%04d", a->id, i);
		if (storage_put(a->s, k, k, strlen(k)) != 0)
			a->failures++;
	}
	return NULL;
}

static void *fb_bad(void *arg)
{
	struct fb_arg *a = arg;
	for (int i = 0; i < a->n; i++) {
		char k1[64], k2[64];
		snprintf(k1, sizeof(k1), "bad/k%04d/small", i);
		snprintf(k2, sizeof(k2), "bad/k%04d/big", i);
		struct storage_op ops[] = {
		    {.kind = STORAGE_PUT, .key = k1, .value = "s", .value_len = 1},
		    {.kind = STORAGE_PUT, .key = k2, .value = a->big, .value_len = a->big_len},
		    {.kind = STORAGE_DELETE, .key = "good/t0/k0000"},
		};
		if (storage_txn(a->s, ops, 3) != TROVE_ERR_IO)
			a->failures++;
	}
	return NULL;
}

static void t_lmdb_failing_batch(void **state)
{
	struct fixture *f = *state;
	enum { NGOOD = 6, PER = 300, NBAD = 40 };
	storage_free(f->s);
	rm_lmdb_dir(f->dir);
	/* a 2 MiB map and a 3 MiB value: the batch always fails, yet it is
	 * small enough to share a group (bounded at 4 MiB) with others */
	f->s = open_lmdb(f->dir, (size_t)2 << 20);
	assert_non_null(f->s);

	pthread_t th[NGOOD + 1];
	struct fb_arg a[NGOOD + 1];
	for (int i = 0; i < NGOOD; i++) {
		a[i] = (struct fb_arg){.s = f->s, .id = i, .n = PER};
		assert_int_equal(pthread_create(&th[i], NULL, fb_good, &a[i]), 0);
	}
	a[NGOOD] = (struct fb_arg){.s = f->s, .n = NBAD, .big_len = (size_t)3 << 20};
	a[NGOOD].big = calloc(1, a[NGOOD].big_len);
	assert_non_null(a[NGOOD].big);
	assert_int_equal(pthread_create(&th[NGOOD], NULL, fb_bad, &a[NGOOD]), 0);
	for (int i = 0; i <= NGOOD; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].failures, 0);
	}
	free(a[NGOOD].big);

	check_list(f->s, "", (const char *const[]){"good/", NULL});
	for (int t = 0; t < NGOOD; t++) {
		for (int i = 0; i < PER; i++) {
			char k[64];
			snprintf(k, sizeof(k), "good/t%d/k%04d", t, i);
			check_value(f->s, k, k, strlen(k));
		}
	}
	/* and the store still takes writes, durably */
	put_str(f->s, "after", "ok");
	storage_free(f->s);
	f->s = open_lmdb(f->dir, (size_t)2 << 20);
	assert_non_null(f->s);
	check_value(f->s, "after", "ok", 2);
	check_value(f->s, "good/t0/k0000", "good/t0/k0000", 13);
}

/* kill -9 in the middle of concurrent writes: every write the child saw
 * acknowledged (and reported down a pipe only after put returned) must be
 * in the store when it is reopened. */
enum { K9_THREADS = 4, K9_PER = 1000000, K9_VALUE = 200, K9_KILL_AFTER = 3000 };

struct k9_arg {
	struct storage *s;
	int id;
	int fd;
};

static void k9_value(unsigned char *v, uint32_t tag)
{
	for (size_t i = 0; i < K9_VALUE; i++)
		v[i] = (unsigned char)(tag * 31u + i * 7u);
}

static void *k9_worker(void *arg)
{
	struct k9_arg *a = arg;
	unsigned char v[K9_VALUE];
	for (uint32_t i = 0; i < K9_PER; i++) {
		uint32_t tag = ((uint32_t)a->id << 24) | i;
		char k[32];
		snprintf(k, sizeof(k), "k9/%08x", tag);
		k9_value(v, tag);
		if (storage_put(a->s, k, v, sizeof(v)) != 0)
			_exit(3);
		/* 4 bytes < PIPE_BUF: each ack arrives whole */
		if (write(a->fd, &tag, sizeof(tag)) != (ssize_t)sizeof(tag))
			_exit(4);
	}
	return NULL;
}

static void k9_child(const char *dir, int fd)
{
	struct storage *s = open_lmdb(dir, 0);
	if (s == NULL)
		_exit(2);
	pthread_t th[K9_THREADS];
	struct k9_arg a[K9_THREADS];
	for (int i = 0; i < K9_THREADS; i++) {
		a[i] = (struct k9_arg){.s = s, .id = i, .fd = fd};
		if (pthread_create(&th[i], NULL, k9_worker, &a[i]) != 0)
			_exit(5);
	}
	for (int i = 0; i < K9_THREADS; i++)
		pthread_join(th[i], NULL);
	_exit(0); /* not reached in practice: the parent kills us first */
}

/* Reads one 4-byte ack; 0 on EOF. */
static int read_ack(int fd, uint32_t *tag)
{
	unsigned char *p = (unsigned char *)tag;
	size_t got = 0;
	while (got < sizeof(*tag)) {
		ssize_t n = read(fd, p + got, sizeof(*tag) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		got += (size_t)n;
	}
	return 1;
}

static void t_lmdb_kill9_durability(void **state)
{
	struct fixture *f = *state;
	/* the child opens its own environment: close ours before forking */
	storage_free(f->s);
	f->s = NULL;

	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		k9_child(f->dir, pfd[1]);
	}
	close(pfd[1]);

	size_t cap = 1 << 16, n = 0;
	uint32_t *acked = malloc(cap * sizeof(*acked));
	assert_non_null(acked);
	uint32_t tag;
	bool killed = false;
	while (read_ack(pfd[0], &tag)) {
		if (n == cap) {
			cap *= 2;
			acked = realloc(acked, cap * sizeof(*acked));
			assert_non_null(acked);
		}
		acked[n++] = tag;
		if (!killed && n >= K9_KILL_AFTER) {
			assert_int_equal(kill(pid, SIGKILL), 0);
			killed = true; /* keep draining: acks already in the pipe count */
		}
	}
	close(pfd[0]);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_true(n >= K9_KILL_AFTER);

	f->s = open_lmdb(f->dir, 0);
	assert_non_null(f->s);
	unsigned char v[K9_VALUE];
	for (size_t i = 0; i < n; i++) {
		char k[32];
		snprintf(k, sizeof(k), "k9/%08x", acked[i]);
		k9_value(v, acked[i]);
		check_value(f->s, k, v, sizeof(v));
	}
	free(acked);
	/* the store reopened after the crash takes writes */
	put_str(f->s, "after-crash", "ok");
	check_value(f->s, "after-crash", "ok", 2);
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

/* The reason a 503 gives for a storage out of reach: per thread, named
 * by its backend, cut to its buffer, cleared. */
static void t_unavailable_reason(void **state)
{
	char long_reason[1024];
	(void)state;
	storage_unavailable_clear();
	assert_null(storage_unavailable_reason());
	storage_unavailable_note("postgresql", "connection refused");
	assert_string_equal(storage_unavailable_reason(), "postgresql: connection refused");
	memset(long_reason, 'x', sizeof(long_reason) - 1);
	long_reason[sizeof(long_reason) - 1] = '\0';
	storage_unavailable_note("postgresql", long_reason);
	assert_int_equal(strlen(storage_unavailable_reason()), 399);
	assert_memory_equal(storage_unavailable_reason(), "postgresql: xxx", 15);
	storage_unavailable_clear();
	assert_null(storage_unavailable_reason());
}

int main(void)
{
	const struct CMUnitTest inmem[] = {
	    cmocka_unit_test(t_unavailable_reason),
	    CONTRACT(setup_inmem),
	    cmocka_unit_test_setup_teardown(t_inmem_not_durable_long_key, setup_inmem, teardown),
	};
	const struct CMUnitTest lmdb[] = {
	    CONTRACT(setup_lmdb),
	    cmocka_unit_test_setup_teardown(t_lmdb_persistence, setup_lmdb, teardown),
	    cmocka_unit_test_setup_teardown(t_lmdb_limits, setup_lmdb, teardown),
	    cmocka_unit_test_setup_teardown(t_lmdb_failing_batch, setup_lmdb, teardown),
	    cmocka_unit_test_setup_teardown(t_lmdb_kill9_durability, setup_lmdb, teardown),
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
