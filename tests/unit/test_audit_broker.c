/* test_audit_broker.c — the audit broker's batch logging
 * (audit_broker_log_batch): every record of a batch goes to every device
 * in one call per device, and each record is judged on its own by the
 * fail-closed rule (recorded by at least one device).
 *
 * Devices are real file devices: a file in a scratch directory (the one
 * directory the broker allows API devices) works, and /dev/full fails
 * every write with ENOSPC. /dev/full is not a regular file and cannot
 * record the test entry, so it is only ever a device the config declares
 * (opened as written, kept failing when it cannot write).
 *
 * Also: the test entry an enabled device must record, and the config's
 * devices (listed, never disabled through the API, salts kept). */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/device.h"
#include "core/audit.h"
#include "buf.h"
#include "err.h"
#include "core/request.h"
#include "storage/storage.h"

#include "banned.h"

#define NREC 40 /* more than the broker keeps on its stack */

struct fixture {
	char dir[64];
	struct storage *store;
	struct audit_broker *b;
	struct request req[NREC];
	struct audit_record rec[NREC];
	struct audit_reuse reuse[NREC];
	struct audit_log_item items[NREC];
};

static int setup(void **state)
{
	struct fixture *x = xcalloc(1, sizeof(*x));
	snprintf(x->dir, sizeof(x->dir), "/tmp/trove-broker-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	x->store = storage_inmem_new();
	x->b = audit_broker_new(&audit_device_types);
	const char *dirs[] = {x->dir};
	audit_broker_configure(x->b, &(struct audit_settings){.file_dirs = dirs, .nfile_dirs = 1});
	assert_int_equal(audit_broker_load(x->b, x->store), 0);
	for (int i = 0; i < NREC; i++) {
		request_init(&x->req[i]);
		snprintf(x->req[i].id, sizeof(x->req[i].id), "00000000-0000-4000-8000-%012d", i);
		x->req[i].op = OP_READ;
		x->req[i].path = xstrdup("secret/data/app");
	}
	*state = x;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *x = *state;
	for (int i = 0; i < NREC; i++) {
		audit_reuse_release(&x->reuse[i]);
		request_release(&x->req[i]);
	}
	audit_broker_free(x->b);
	storage_free(x->store);
	nftw(x->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(x);
	return 0;
}

/* n request entries (resp NULL), or response entries of `resp`. */
static void fill(struct fixture *x, size_t n, const struct response *resp)
{
	for (size_t i = 0; i < n; i++) {
		x->rec[i] = (struct audit_record){
		    .req = &x->req[i], .resp = resp, .policy_checked = true, .allowed = true};
		x->items[i] = (struct audit_log_item){.rec = &x->rec[i], .reuse = &x->reuse[i], .result = -1};
	}
}

static void enable(struct fixture *x, const char *path, const char *file, const char *mode)
{
	struct audit_enable_params p = {.path = path, .type = "file"};
	json_t *o = mode ? json_pack("{ssss}", "file_path", file, "mode", mode)
	                 : json_pack("{ss}", "file_path", file);
	struct buf err;
	buf_init(&err, 1024);
	p.options = o;
	int r = audit_broker_enable(x->b, &p, &err);
	if (r != 0)
		fail_msg("enable %s: %s", path, err.data);
	buf_release(&err);
	json_decref(o);
}

/* Declares n devices writing to /dev/full in the config, then unseals
 * again (the broker reloads). */
static void declare_broken(struct fixture *x, size_t n)
{
	static char *const names[] = {"broken", "broken2"};
	struct audit_config_device c[2];
	const char *dirs[] = {x->dir};
	for (size_t i = 0; i < n; i++)
		c[i] = (struct audit_config_device){
		    .path = names[i], .type = "file", .options = json_pack("{ss}", "file_path", "/dev/full")};
	audit_broker_configure(
	    x->b, &(struct audit_settings){.file_dirs = dirs, .nfile_dirs = 1, .devices = c, .ndevices = n});
	for (size_t i = 0; i < n; i++)
		json_decref(c[i].options);
	assert_int_equal(audit_broker_load(x->b, x->store), 0);
}

/* The lines of a file; each must end with '\n' (no half line). */
static size_t count_lines(const char *path, char ***out)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	char **lines = NULL;
	while ((len = getline(&line, &cap, f)) > 0) {
		assert_int_equal(line[len - 1], '\n');
		lines = xrealloc(lines, (n + 1) * sizeof(*lines));
		lines[n++] = xstrdup(line);
	}
	free(line);
	fclose(f);
	*out = lines;
	return n;
}

static void free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* No device: nothing to record, nothing refused. */
static void t_no_device(void **state)
{
	struct fixture *x = *state;
	fill(x, 3, NULL);
	assert_int_equal(audit_broker_log_batch(x->b, x->items, 3), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(x->items[i].result, 0);
}

/* One working device: every entry of the batch is in the file, once, in
 * the batch's order, whole, and the response entries follow. */
static void t_batch_one_device(void **state)
{
	struct fixture *x = *state;
	char file[128];
	snprintf(file, sizeof(file), "%s/audit.log", x->dir);
	enable(x, "file", file, NULL);

	fill(x, NREC, NULL);
	assert_int_equal(audit_broker_log_batch(x->b, x->items, NREC), 0);
	for (int i = 0; i < NREC; i++) {
		assert_int_equal(x->items[i].result, 0);
		assert_null(x->rec[i].time); /* the broker's own time is not left behind */
	}
	struct response resp;
	response_init(&resp);
	fill(x, NREC, &resp);
	assert_int_equal(audit_broker_log_batch(x->b, x->items, NREC), 0);
	response_release(&resp);

	char **lines;
	size_t n = count_lines(file, &lines);
	assert_int_equal(n, 2 * NREC + 1);
	/* first the test entry written when the device was enabled */
	json_t *probe = json_loads(lines[0], 0, NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(probe, "request"), "path")),
	                    "sys/audit/test");
	json_decref(probe);
	for (size_t i = 0; i < n - 1; i++) {
		json_t *e = json_loads(lines[i + 1], 0, NULL);
		assert_non_null(e);
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *id = json_string_value(json_object_get(json_object_get(e, "request"), "id"));
		assert_string_equal(type, i < NREC ? "request" : "response");
		assert_string_equal(id, x->req[i % NREC].id);
		assert_non_null(json_string_value(json_object_get(e, "time")));
		json_decref(e);
	}
	free_lines(lines, n);
}

/* Two devices, one failing: every record stands on the working one; the
 * broken one fails every line of the batch. */
static void t_batch_one_of_two_fails(void **state)
{
	struct fixture *x = *state;
	char file[128];
	snprintf(file, sizeof(file), "%s/good.log", x->dir);
	declare_broken(x, 1);
	enable(x, "good", file, NULL);

	fill(x, NREC, NULL);
	assert_int_equal(audit_broker_log_batch(x->b, x->items, NREC), 0);
	for (int i = 0; i < NREC; i++)
		assert_int_equal(x->items[i].result, 0);
	/* the single-record call follows the same rule */
	assert_int_equal(audit_broker_log(x->b, &x->rec[0], &x->reuse[0]), 0);

	char **lines;
	size_t n = count_lines(file, &lines);
	assert_int_equal(n, NREC + 2); /* and the test entry */
	free_lines(lines, n);
}

/* Every device failing: every record of the batch is refused. */
static void t_batch_all_fail(void **state)
{
	struct fixture *x = *state;
	declare_broken(x, 2);

	fill(x, NREC, NULL);
	assert_int_equal(audit_broker_log_batch(x->b, x->items, NREC), NREC);
	for (int i = 0; i < NREC; i++)
		assert_int_equal(x->items[i].result, TROVE_ERR_IO);
	fill(x, 1, NULL);
	assert_int_equal(audit_broker_log(x->b, &x->rec[0], &x->reuse[0]), TROVE_ERR_IO);
	assert_int_equal(audit_broker_log_batch(x->b, x->items, 0), 0);
}

/* A device that cannot record its test entry is refused: nothing is
 * enabled and nothing saved. RLIMIT_FSIZE 0 (in a child) makes a regular
 * file in the allowed directory unwritable. */
static void t_enable_refuses_a_device_that_cannot_record(void **state)
{
	struct fixture *x = *state;
	char file[128];
	snprintf(file, sizeof(file), "%s/nospace.log", x->dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {.rlim_cur = 0, .rlim_max = 0};
		int null = open("/dev/null", O_WRONLY);
		if (null < 0 || dup2(null, STDERR_FILENO) < 0)
			_exit(9);
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(10);
		json_t *o = json_pack("{ss}", "file_path", file);
		struct audit_enable_params p = {.path = "nospace", .type = "file", .options = o};
		struct buf err;
		buf_init(&err, 1024);
		if (audit_broker_enable(x->b, &p, &err) != TROVE_ERR_INVALID)
			_exit(11);
		if (!strstr(err.data, "could not record a test entry"))
			_exit(12);
		json_t *list = audit_broker_list(x->b);
		if (json_object_size(list) != 0 || audit_broker_active(x->b))
			_exit(13);
		unsigned char *raw = NULL;
		size_t len = 0;
		if (storage_get(x->store, AUDIT_TABLE_PATH, &raw, &len) != TROVE_ERR_NOT_FOUND)
			_exit(14);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The config's devices: listed and marked, refused by disable, their path
 * taken, their salt kept across unseals; never in the API's table. */
static void t_config_devices(void **state)
{
	struct fixture *x = *state;
	char file[128], h1[AUDIT_HASH_MAX], h2[AUDIT_HASH_MAX];
	snprintf(file, sizeof(file), "%s/declared.log", x->dir);
	struct audit_config_device c = {.path = "declared",
	                                .type = "file",
	                                .options = json_pack("{ssss}", "file_path", file, "prefix", "T ")};
	audit_broker_configure(x->b, &(struct audit_settings){.devices = &c, .ndevices = 1});
	json_decref(c.options);
	assert_int_equal(audit_broker_load(x->b, x->store), 0);

	json_t *list = audit_broker_list(x->b);
	assert_true(json_is_true(json_object_get(json_object_get(list, "declared/"), "declared_in_config")));
	json_decref(list);
	struct buf err;
	buf_init(&err, 1024);
	assert_int_equal(audit_broker_disable(x->b, "declared", &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "declared in the server config"));
	buf_reset(&err);
	json_t *o = json_pack("{ss}", "file_path", "discard");
	struct audit_enable_params p = {.path = "declared/", .type = "file", .options = o};
	assert_int_equal(audit_broker_enable(x->b, &p, &err), TROVE_ERR_CONFLICT);
	json_decref(o);
	buf_release(&err);

	assert_int_equal(audit_broker_hash(x->b, "declared", "v", h1), 0);
	assert_int_equal(audit_broker_load(x->b, x->store), 0);
	assert_int_equal(audit_broker_hash(x->b, "declared", "v", h2), 0);
	assert_string_equal(h1, h2);

	unsigned char *raw = NULL;
	size_t len = 0;
	assert_int_equal(storage_get(x->store, AUDIT_TABLE_PATH, &raw, &len), TROVE_ERR_NOT_FOUND);

	fill(x, 1, NULL);
	assert_int_equal(audit_broker_log(x->b, &x->rec[0], &x->reuse[0]), 0);
	char **lines;
	size_t n = count_lines(file, &lines);
	assert_int_equal(n, 1);
	assert_true(strncmp(lines[0], "T {", 3) == 0); /* a trusted device may set a prefix */
	free_lines(lines, n);
}

/* Devices stored by an older Trove are checked again at unseal: a prefix
 * with a newline, a path outside the allowed directory. Each stays listed,
 * opens nothing, fails every entry (fail closed) and can be disabled. */
static void t_stored_devices_checked_again(void **state)
{
	struct fixture *x = *state;
	char table[1024], inside[128];
	snprintf(inside, sizeof(inside), "%s/forged.log", x->dir);
	snprintf(table, sizeof(table),
	         "{\"devices\":["
	         "{\"path\":\"forged/\",\"type\":\"file\",\"description\":\"\",\"local\":false,"
	         "\"options\":{\"file_path\":\"%s\",\"prefix\":\"* * * * * root id\\n\"},\"salt\":\"%064d\"},"
	         "{\"path\":\"outside/\",\"type\":\"file\",\"description\":\"\",\"local\":false,"
	         "\"options\":{\"file_path\":\"%s-outside/a.log\"},\"salt\":\"%064d\"}]}",
	         inside, 0, x->dir, 0);
	assert_int_equal(storage_put(x->store, AUDIT_TABLE_PATH, table, strlen(table)), 0);
	assert_int_equal(audit_broker_load(x->b, x->store), 0);
	json_t *list = audit_broker_list(x->b);
	assert_int_equal(json_object_size(list), 2);
	json_decref(list);
	assert_true(audit_broker_active(x->b));
	fill(x, 1, NULL);
	assert_int_equal(audit_broker_log(x->b, &x->rec[0], &x->reuse[0]), TROVE_ERR_IO);
	assert_int_equal(access(inside, F_OK), -1); /* never opened */
	audit_broker_reopen(x->b);                  /* SIGHUP does not open them either */
	assert_int_equal(access(inside, F_OK), -1);
	struct buf err;
	buf_init(&err, 1024);
	assert_int_equal(audit_broker_disable(x->b, "forged", &err), 0);
	assert_int_equal(audit_broker_disable(x->b, "outside", &err), 0);
	buf_release(&err);
	assert_false(audit_broker_active(x->b));
	assert_int_equal(audit_broker_log(x->b, &x->rec[0], &x->reuse[0]), 0);
}

/* A full table (64 devices through the API) and the config's devices
 * fit side by side; the API cannot add a 65th. */
static void t_full_table_and_config_devices(void **state)
{
	struct fixture *x = *state;
	struct buf err;
	buf_init(&err, 1024);
	json_t *o = json_pack("{ss}", "file_path", "discard");
	for (int i = 0; i < 64; i++) {
		char path[16];
		snprintf(path, sizeof(path), "d%d", i);
		struct audit_enable_params p = {.path = path, .type = "file", .options = o};
		assert_int_equal(audit_broker_enable(x->b, &p, &err), 0);
	}
	struct audit_enable_params extra = {.path = "extra", .type = "file", .options = o};
	assert_int_equal(audit_broker_enable(x->b, &extra, &err), TROVE_ERR_INVALID);
	struct audit_config_device c[2] = {{.path = "c1", .type = "file", .options = o},
	                                   {.path = "c2", .type = "file", .options = o}};
	audit_broker_configure(x->b, &(struct audit_settings){.devices = c, .ndevices = 2});
	assert_int_equal(audit_broker_load(x->b, x->store), 0);
	json_t *list = audit_broker_list(x->b);
	assert_int_equal(json_object_size(list), 66);
	json_decref(list);
	buf_reset(&err);
	assert_int_equal(audit_broker_enable(x->b, &extra, &err), TROVE_ERR_INVALID);
	assert_int_equal(audit_broker_disable(x->b, "d0", &err), 0);
	list = audit_broker_list(x->b);
	assert_int_equal(json_object_size(list), 65);
	assert_non_null(json_object_get(list, "c2/"));
	json_decref(list);
	json_decref(o);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(t_no_device, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_batch_one_device, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_batch_one_of_two_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_batch_all_fail, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_enable_refuses_a_device_that_cannot_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_config_devices, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_full_table_and_config_devices, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_stored_devices_checked_again, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
