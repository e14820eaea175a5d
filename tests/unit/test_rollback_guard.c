/* test_rollback_guard.c — the local record that refuses older storage:
 * first sight, epochs moving forward through the hook, a rolled-back
 * epoch, a replaced root-key record, a file from another installation,
 * a hand-edited file, a symlink in its place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "core/rollback_guard.h"
#include "err.h"

#include "banned.h"

struct fx {
	char dir[64];
	char path[128];
	unsigned char key[BARRIER_KEY_LEN];
	struct rollback_guard *g;
	struct buf err;
};

static const unsigned char rec_a[] = "root key record A";
static const unsigned char rec_b[] = "root key record B";

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/trove-guard-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/guard", f->dir);
	memset(f->key, 0x5a, sizeof(f->key));
	f->g = rollback_guard_new(f->path);
	buf_init(&f->err, 4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	rollback_guard_free(f->g);
	buf_release(&f->err);
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	unlink(tmp);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int check(struct fx *f, const unsigned char *rec, uint64_t epoch)
{
	buf_reset(&f->err);
	return rollback_guard_check(f->g, f->key, rec, sizeof(rec_a), epoch, &f->err);
}

static void test_first_sight_recorded(void **state)
{
	struct fx *f = *state;
	struct stat st;
	assert_int_equal(check(f, rec_a, 7), 0);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* the same state again, and a newer one, are fine */
	assert_int_equal(check(f, rec_a, 7), 0);
	assert_int_equal(check(f, rec_a, 9), 0);
}

static void test_older_epoch_refused(void **state)
{
	struct fx *f = *state;
	assert_int_equal(check(f, rec_a, 3), 0);
	rollback_guard_epoch(f->g, 10); /* keyring writes after unseal */
	rollback_guard_disarm(f->g);
	assert_int_equal(check(f, rec_a, 9), TROVE_ERR_INTEGRITY);
	assert_non_null(strstr(f->err.data, "rolled back"));
	assert_non_null(strstr(f->err.data, f->path));
	assert_int_equal(check(f, rec_a, 10), 0);
}

static void test_hook_ignored_until_armed(void **state)
{
	struct fx *f = *state;
	assert_int_equal(check(f, rec_a, 3), 0);
	rollback_guard_disarm(f->g);
	rollback_guard_epoch(f->g, 50); /* sealed: nothing recorded */
	assert_int_equal(check(f, rec_a, 3), 0);
}

static void test_replaced_root_record(void **state)
{
	struct fx *f = *state;
	assert_int_equal(check(f, rec_a, 4), 0);
	/* same epoch, another root-key record: an old record put back */
	assert_int_equal(check(f, rec_b, 4), TROVE_ERR_INTEGRITY);
	assert_non_null(strstr(f->err.data, "root key record"));
	/* a rekey on this node: the new record is recorded with the next epoch */
	assert_int_equal(check(f, rec_a, 4), 0);
	rollback_guard_root_record(f->g, rec_b, sizeof(rec_b));
	rollback_guard_epoch(f->g, 5);
	assert_int_equal(check(f, rec_b, 5), 0);
	assert_int_equal(check(f, rec_a, 5), TROVE_ERR_INTEGRITY);
}

static void test_foreign_or_edited_file(void **state)
{
	struct fx *f = *state;
	assert_int_equal(check(f, rec_a, 40), 0);
	/* another installation's root key */
	unsigned char other[BARRIER_KEY_LEN];
	memset(other, 0x11, sizeof(other));
	buf_reset(&f->err);
	assert_int_equal(rollback_guard_check(f->g, other, rec_a, sizeof(rec_a), 40, &f->err), TROVE_ERR_INTEGRITY);
	assert_non_null(strstr(f->err.data, "not written for this storage"));

	/* lower the epoch by hand: the MAC no longer matches */
	FILE *fp = fopen(f->path, "r+");
	assert_non_null(fp);
	char line[256] = {0};
	assert_non_null(fgets(line, sizeof(line), fp));
	char *digits = strstr(line, " 40 ");
	assert_non_null(digits);
	digits[1] = '1';
	rewind(fp);
	fputs(line, fp);
	fclose(fp);
	assert_int_equal(check(f, rec_a, 20), TROVE_ERR_INTEGRITY);
	assert_non_null(strstr(f->err.data, "not written for this storage"));

	/* garbage and an empty file are refused too */
	fp = fopen(f->path, "w");
	fclose(fp);
	assert_int_equal(check(f, rec_a, 40), TROVE_ERR_INTEGRITY);
}

static void test_symlink_refused(void **state)
{
	struct fx *f = *state;
	char target[160];
	snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_not_equal(check(f, rec_a, 1), 0);
	struct stat st;
	assert_int_not_equal(lstat(target, &st), 0); /* nothing created through it */
	unlink(target);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_first_sight_recorded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_older_epoch_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hook_ignored_until_armed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replaced_root_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_or_edited_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
