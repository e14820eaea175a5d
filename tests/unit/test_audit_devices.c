/* test_audit_devices.c — the audit devices (src/audit/device.h): option
 * checking for every type; the file device's group write under concurrent
 * writers (lines whole, in order, none lost), fsynced mode, file modes,
 * stdout and discard, reopen after rotation (also while writers run),
 * failures (/dev/full, a short write truncated away, a failed reopen);
 * the socket device over TCP (IPv4, IPv6), unix and UDP, a peer that never
 * reads (bounded by write_timeout), reconnection; the syslog device's
 * framing against a datagram socket bound by the test.
 *
 * Every test works in its own temporary directory, removed by teardown;
 * network peers are on loopback with ports chosen by the kernel. Every
 * wait on a peer in the test is bounded by poll timeouts, so a broken
 * device fails the test rather than hanging it. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/device.h"
#include "buf.h"
#include "err.h"

#include "banned.h"

#define PEER_WAIT_MS 5000 /* upper bound on any wait for a peer in a test */

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/trove-audit-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int r = nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return r;
}

/* dir/name into out. */
static const char *in_dir(void **state, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", ((struct fixture *)*state)->dir, name);
	return out;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Opens a device from JSON options text; NULL options text for none. */
static struct audit_device *open_json(const char *type, const char *json, struct buf *err)
{
	json_t *o = json ? json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
	if (json)
		assert_non_null(o);
	struct audit_device *d = audit_device_open(type, o, &audit_limits_trusted, err);
	json_decref(o);
	return d;
}

static struct audit_device *must_open(const char *type, json_t *options)
{
	struct buf err;
	buf_init(&err, 4096);
	struct audit_device *d = audit_device_open(type, options, &audit_limits_trusted, &err);
	if (d == NULL)
		fprintf(stderr, "open %s failed: %s\n", type, err.data);
	assert_non_null(d);
	buf_release(&err);
	json_decref(options);
	return d;
}

static struct audit_device *open_file(const char *path, const char *mode, const char *recorded)
{
	json_t *o = json_pack("{ss}", "file_path", path);
	if (mode)
		json_object_set_new(o, "mode", json_string(mode));
	if (recorded)
		json_object_set_new(o, "recorded", json_string(recorded));
	return must_open("file", o);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	struct buf b;
	buf_init(&b, (size_t)64 << 20);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		assert_int_equal(buf_append(&b, chunk, n), 0);
	fclose(fp);
	*len = b.len;
	return buf_take(&b);
}

static void write_str(struct audit_device *d, const char *s)
{
	assert_int_equal(audit_device_write(d, s, strlen(s)), 0);
}

/* ---- options ----------------------------------------------------------- */

static void expect_error(const char *type, const char *json, const char *want)
{
	struct buf err;
	buf_init(&err, 4096);
	struct audit_device *d = open_json(type, json, &err);
	if (d != NULL || strcmp(err.data, want) != 0)
		fprintf(stderr, "%s %s: got \"%s\", want \"%s\"\n", type, json ? json : "NULL", err.data,
		        want);
	assert_null(d);
	assert_string_equal(err.data, want);
	buf_release(&err);
}

/* The error starts with "field:" (the field it names). */
static void expect_field_error(const char *type, const char *json, const char *field)
{
	struct buf err;
	buf_init(&err, 4096);
	struct audit_device *d = open_json(type, json, &err);
	size_t n = strlen(field);
	if (d != NULL || strncmp(err.data, field, n) != 0 || err.data[n] != ':')
		fprintf(stderr, "%s %s: got \"%s\", want it to name %s\n", type, json, err.data, field);
	assert_null(d);
	assert_memory_equal(err.data, field, n);
	assert_int_equal(err.data[n], ':');
	buf_release(&err);
}

static void t_unknown_type(void **state)
{
	expect_error("x", NULL, "unknown audit device type \"x\"");
	expect_error("File", "{\"file_path\":\"discard\"}", "unknown audit device type \"File\"");
	assert_false(audit_device_option_known("x", "file_path"));
}

static void t_option_known(void **state)
{
	const char *file[] = {"file_path", "mode", "recorded"};
	const char *sock[] = {"address", "socket_type", "write_timeout"};
	const char *sys[] = {"facility", "tag", "socket_path"};
	for (int i = 0; i < 3; i++) {
		assert_true(audit_device_option_known("file", file[i]));
		assert_true(audit_device_option_known("socket", sock[i]));
		assert_true(audit_device_option_known("syslog", sys[i]));
		assert_false(audit_device_option_known("file", sock[i]));
		assert_false(audit_device_option_known("socket", sys[i]));
		assert_false(audit_device_option_known("syslog", file[i]));
	}
	/* the broker's keys are not device keys */
	const char *broker[] = {"format",   "prefix", "log_raw", "hmac_accessor", "elide_list_responses",
	                        "fallback", "filter", "exclude"};
	for (size_t i = 0; i < sizeof(broker) / sizeof(broker[0]); i++)
		assert_false(audit_device_option_known("file", broker[i]));
	assert_false(audit_device_option_known("file", "path"));
}

static void t_option_errors(void **state)
{
	char json[512];

	expect_error("file", NULL, "file_path is required");
	expect_error("file", "{}", "file_path is required");
	expect_error("file", "{\"file_path\":\"\"}", "file_path is required");
	expect_error("file", "{\"file_path\":\"discard\",\"mode\":\"0abc\"}",
	             "mode: expected an octal file mode such as \"0600\"");
	expect_field_error("file", "{\"file_path\":\"discard\",\"mode\":\"0680\"}", "mode");
	expect_field_error("file", "{\"file_path\":\"discard\",\"mode\":\"010000\"}", "mode");
	expect_field_error("file", "{\"file_path\":\"discard\",\"mode\":\"\"}", "mode");
	expect_field_error("file", "{\"file_path\":\"discard\",\"mode\":384}", "mode");
	expect_field_error("file", "{\"file_path\":\"discard\",\"recorded\":\"sometimes\"}", "recorded");
	expect_field_error("file", "{\"file_path\":\"disc\\u0000ard\"}", "file_path");
	expect_error("file", "{\"file_path\":\"discard\",\"bogus\":\"1\"}",
	             "unknown option \"bogus\" for audit device type \"file\"");
	expect_error("file", "{\"file_path\":\"discard\",\"address\":\"x:1\"}",
	             "unknown option \"address\" for audit device type \"file\"");
	expect_field_error("file", "[\"file_path\"]", "options");
	expect_error(
	    "file", "{\"file_path\":\"/nonexistent-trove-dir/a.log\"}",
	    "sanity check failed; unable to open \"/nonexistent-trove-dir/a.log\" for writing: No such "
	    "file or directory");
	char path[256];
	snprintf(json, sizeof(json), "{\"file_path\":\"%s\"}", ((struct fixture *)*state)->dir);
	snprintf(path, sizeof(path), "sanity check failed; unable to open \"%s\" for writing: Is a directory",
	         ((struct fixture *)*state)->dir);
	expect_error("file", json, path);

	expect_error("socket", "{}", "address is required");
	expect_field_error("socket", "{\"address\":\"127.0.0.1:9\",\"socket_type\":\"sctp\"}", "socket_type");
	expect_field_error("socket", "{\"address\":\"127.0.0.1:9\",\"write_timeout\":\"soon\"}",
	                   "write_timeout");
	expect_field_error("socket", "{\"address\":\"127.0.0.1:9\",\"write_timeout\":\"0s\"}",
	                   "write_timeout");
	const char *bad_addr[] = {"nocolon",         "127.0.0.1:",   "127.0.0.1:0",
	                          "127.0.0.1:65536", "127.0.0.1:9x", "::1:80",
	                          "[::1]80",         "[::1:80",      "no-such-host.invalid:80"};
	for (size_t i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
		snprintf(json, sizeof(json), "{\"address\":\"%s\"}", bad_addr[i]);
		expect_field_error("socket", json, "address");
	}
	char longpath[200];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	snprintf(json, sizeof(json), "{\"address\":\"/%s\",\"socket_type\":\"unix\"}", longpath);
	expect_field_error("socket", json, "address");

	expect_field_error("syslog", "{\"facility\":\"LOCAL8\"}", "facility");
	expect_field_error("syslog", "{\"facility\":\"\"}", "facility");
	expect_field_error("syslog", "{\"tag\":\"two words\"}", "tag");
	expect_field_error("syslog", "{\"tag\":\"a:b\"}", "tag");
	expect_field_error("syslog", "{\"tag\":\"\"}", "tag");
	snprintf(json, sizeof(json), "{\"socket_path\":\"/%s\"}", longpath);
	expect_field_error("syslog", json, "socket_path");
	expect_error(
	    "syslog", "{\"socket_path\":\"/nonexistent-trove-dir/log\"}",
	    "sanity check failed; unable to connect to syslog at \"/nonexistent-trove-dir/log\": No such "
	    "file or directory");
}

/* The broker's options are ignored, whatever their value. */
static void t_broker_keys_ignored(void **state)
{
	struct buf err;
	buf_init(&err, 4096);
	struct audit_device *d =
	    open_json("file",
	              "{\"file_path\":\"discard\",\"format\":\"json\",\"prefix\":\"P\",\"log_raw\":true,"
	              "\"hmac_accessor\":\"false\",\"elide_list_responses\":\"1\",\"fallback\":\"true\","
	              "\"filter\":\"x\","
	              "\"exclude\":[{\"fields\":[]}]}",
	              &err);
	assert_non_null(d);
	assert_string_equal(err.data, "");
	audit_device_close(d);
	buf_release(&err);
	audit_device_close(NULL);
}

/* ---- file -------------------------------------------------------------- */

#define FILE_THREADS 8
#define FILE_LINES 2000
static const char PAD[] =
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

static int pad_len(int t, int n)
{
	return (t * 37 + n * 11) % (int)(sizeof(PAD) - 1);
}

static size_t make_line(char *out, size_t size, int t, int n)
{
	int k = snprintf(out, size, "{\"t\":%d,\"n\":%d,\"pad\":\"%.*s\"}\n", t, n, pad_len(t, n), PAD);
	return (size_t)k;
}

struct writer {
	struct audit_device *d;
	int t, lines, failed;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char line[512];
	for (int n = 0; n < w->lines; n++) {
		size_t len = make_line(line, sizeof(line), w->t, n);
		if (audit_device_write(w->d, line, len) != 0)
			w->failed++;
	}
	return NULL;
}

static void run_writers(struct audit_device *d, int threads, int lines, struct writer *w)
{
	pthread_t th[FILE_THREADS];
	assert_true(threads <= FILE_THREADS);
	for (int i = 0; i < threads; i++) {
		w[i] = (struct writer){.d = d, .t = i, .lines = lines};
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
}

/* Reads a decimal at *p, advancing it. */
static long take_num(const char **p)
{
	char *end;
	long v = strtol(*p, &end, 10);
	assert_true(end != *p);
	*p = end;
	return v;
}

static void expect_lit(const char **p, const char *lit)
{
	size_t n = strlen(lit);
	assert_memory_equal(*p, lit, n);
	*p += n;
}

/* Checks that text holds exactly threads x lines whole lines of
 * make_line, each thread's in the order written. next[] carries the
 * per-thread position across calls (for rotated files). */
static size_t check_lines(const char *text, size_t len, int threads, int *next)
{
	const char *p = text, *end = text + len;
	size_t count = 0;
	assert_true(len == 0 || end[-1] == '\n');
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(nl);
		expect_lit(&p, "{\"t\":");
		long t = take_num(&p);
		assert_true(t >= 0 && t < threads);
		expect_lit(&p, ",\"n\":");
		long n = take_num(&p);
		assert_int_equal(n, next[t]);
		next[t]++;
		expect_lit(&p, ",\"pad\":\"");
		int pl = pad_len((int)t, (int)n);
		assert_memory_equal(p, PAD, (size_t)pl);
		p += pl;
		expect_lit(&p, "\"}\n");
		assert_true(p == nl + 1);
		count++;
	}
	return count;
}

static void check_file(const char *path, int threads, int lines)
{
	size_t len;
	char *text = slurp(path, &len);
	int next[FILE_THREADS] = {0};
	assert_int_equal(check_lines(text, len, threads, next), (size_t)threads * (size_t)lines);
	for (int i = 0; i < threads; i++)
		assert_int_equal(next[i], lines);
	free(text);
}

static void t_file_concurrent(void **state)
{
	char path[128];
	in_dir(state, "audit.log", path, sizeof(path));
	struct audit_device *d = open_file(path, NULL, NULL);
	assert_false(audit_device_may_block(d));
	struct writer w[FILE_THREADS];
	run_writers(d, FILE_THREADS, FILE_LINES, w);
	for (int i = 0; i < FILE_THREADS; i++)
		assert_int_equal(w[i].failed, 0);
	assert_int_equal(audit_device_failures(d), 0);
	audit_device_close(d);
	check_file(path, FILE_THREADS, FILE_LINES);
}

static void t_file_fsynced(void **state)
{
	char path[128];
	in_dir(state, "synced.log", path, sizeof(path));
	struct audit_device *d = open_file(path, NULL, "fsynced");
	assert_true(audit_device_may_block(d));
	struct writer w[4];
	run_writers(d, 4, 100, w);
	for (int i = 0; i < 4; i++)
		assert_int_equal(w[i].failed, 0);
	audit_device_close(d);
	check_file(path, 4, 100);

	/* a pipe cannot be fsynced: refused at open, not line by line */
	int p[2];
	assert_int_equal(pipe(p), 0);
	char dev[64];
	snprintf(dev, sizeof(dev), "/proc/self/fd/%d", p[1]);
	struct buf err;
	buf_init(&err, 4096);
	json_t *o = json_pack("{ssssss}", "file_path", dev, "recorded", "fsynced", "mode", "0000");
	assert_null(audit_device_open("file", o, &audit_limits_trusted, &err));
	assert_non_null(strstr(err.data, "sanity check failed; unable to fsync"));
	json_decref(o);
	buf_release(&err);
	close(p[0]);
	close(p[1]);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void t_file_mode(void **state)
{
	char path[128];
	mode_t old_umask = umask(077);

	/* default 0600 on a new file */
	in_dir(state, "a.log", path, sizeof(path));
	audit_device_close(open_file(path, NULL, NULL));
	assert_int_equal(mode_of(path), 0600);

	/* an existing file's mode is never changed, whatever mode says */
	audit_device_close(open_file(path, "0640", NULL));
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(chmod(path, 0644), 0);
	audit_device_close(open_file(path, "0000", NULL));
	audit_device_close(open_file(path, NULL, NULL));
	assert_int_equal(mode_of(path), 0644);

	/* a new file gets mode exactly (the umask does not narrow it);
	 * "0000" means the default */
	in_dir(state, "b.log", path, sizeof(path));
	audit_device_close(open_file(path, "0640", NULL));
	assert_int_equal(mode_of(path), 0640);
	in_dir(state, "c.log", path, sizeof(path));
	audit_device_close(open_file(path, "0000", NULL));
	assert_int_equal(mode_of(path), 0600);
	umask(old_umask);

	/* only bits of 0640: wider modes are refused, not narrowed */
	expect_field_error("file", "{\"file_path\":\"discard\",\"mode\":\"0777\"}", "mode");
	expect_field_error("file", "{\"file_path\":\"discard\",\"mode\":\"07777\"}", "mode");
	expect_field_error("file", "{\"file_path\":\"discard\",\"mode\":\"0644\"}", "mode");
	expect_field_error("file", "{\"file_path\":\"discard\",\"mode\":\"4600\"}", "mode");
}

/* Opens a file device with API limits (the fixture's dir allowed); NULL
 * with err filled on refusal. */
static struct audit_device *open_api(void **state, const char *path, const char *mode, struct buf *err)
{
	const char *dirs[] = {((struct fixture *)*state)->dir};
	struct audit_limits lim = {.trusted = false, .file_dirs = dirs, .nfile_dirs = 1};
	json_t *o = json_pack("{ss}", "file_path", path);
	if (mode)
		json_object_set_new(o, "mode", json_string(mode));
	buf_reset(err);
	struct audit_device *d = audit_device_open("file", o, &lim, err);
	json_decref(o);
	return d;
}

static void expect_api_refused(void **state, const char *path, const char *needle)
{
	struct buf err;
	buf_init(&err, 4096);
	struct audit_device *d = open_api(state, path, NULL, &err);
	if (d != NULL || strstr(err.data, needle) == NULL)
		fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", path, err.data, needle);
	assert_null(d);
	assert_non_null(strstr(err.data, needle));
	buf_release(&err);
}

/* A device enabled through the API writes only below an allowed
 * directory, never through a symbolic link, only to a regular file. */
static void t_file_api_limits(void **state)
{
	const char *dir = ((struct fixture *)*state)->dir;
	char path[256], target[256], sub[256], lnk[256];
	struct buf err;
	buf_init(&err, 4096);

	/* inside: created 0600; stdout and discard need no directory */
	snprintf(path, sizeof(path), "%s/ok.log", dir);
	struct audit_device *d = open_api(state, path, NULL, &err);
	assert_non_null(d);
	write_str(d, "{}\n");
	audit_device_close(d);
	assert_int_equal(mode_of(path), 0600);
	struct audit_limits none = {.trusted = false};
	json_t *o = json_pack("{ss}", "file_path", "discard");
	d = audit_device_open("file", o, &none, &err);
	assert_non_null(d);
	audit_device_close(d);
	json_decref(o);
	o = json_pack("{ss}", "file_path", "/tmp/x.log");
	assert_null(audit_device_open("file", o, &none, &err));
	assert_non_null(strstr(err.data, "no directory is allowed"));
	json_decref(o);

	/* outside, or not canonical */
	expect_api_refused(state, "/etc/cron.d/x", "not under a directory allowed");
	snprintf(path, sizeof(path), "%s/../escape.log", dir);
	expect_api_refused(state, path, "must be an absolute path");
	snprintf(path, sizeof(path), "%s/./a.log", dir);
	expect_api_refused(state, path, "must be an absolute path");
	snprintf(path, sizeof(path), "%s//a.log", dir);
	expect_api_refused(state, path, "must be an absolute path");
	snprintf(path, sizeof(path), "%s/a.log/", dir);
	expect_api_refused(state, path, "must be an absolute path");
	expect_api_refused(state, "relative.log", "must be an absolute path");
	snprintf(path, sizeof(path), "%s/a\nb.log", dir);
	expect_api_refused(state, path, "control characters");
	snprintf(path, sizeof(path), "%sx/a.log", dir); /* a sibling sharing the prefix */
	expect_api_refused(state, path, "not under a directory allowed");
	expect_api_refused(state, dir, "not under a directory allowed");

	/* a symbolic link: last component, then a middle one */
	snprintf(target, sizeof(target), "%s/target.log", dir);
	close(open(target, O_WRONLY | O_CREAT, 0644));
	snprintf(lnk, sizeof(lnk), "%s/last.log", dir);
	assert_int_equal(symlink(target, lnk), 0);
	expect_api_refused(state, lnk, "is a symbolic link");
	snprintf(lnk, sizeof(lnk), "%s/dangling.log", dir);
	assert_int_equal(symlink("/nonexistent-trove/x", lnk), 0);
	expect_api_refused(state, lnk, "is a symbolic link");
	assert_int_equal(access("/nonexistent-trove", F_OK), -1);
	snprintf(sub, sizeof(sub), "%s/real", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(lnk, sizeof(lnk), "%s/middle", dir);
	assert_int_equal(symlink(sub, lnk), 0);
	snprintf(path, sizeof(path), "%s/middle/a.log", dir);
	expect_api_refused(state, path, "is a symbolic link");
	snprintf(path, sizeof(path), "%s/real/a.log", dir); /* the real directory is fine */
	d = open_api(state, path, NULL, &err);
	assert_non_null(d);
	audit_device_close(d);
	assert_int_equal(mode_of(target), 0644);

	/* not a regular file: a directory, a FIFO (no reader: must not hang),
	 * a file with a second hard link, a path through a file */
	expect_api_refused(state, sub, "sanity check failed");
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_api_refused(state, path, "is not a regular file");
	snprintf(path, sizeof(path), "%s/hard.log", dir);
	assert_int_equal(link(target, path), 0);
	expect_api_refused(state, path, "other hard links");
	snprintf(path, sizeof(path), "%s/ok.log/x", dir);
	expect_api_refused(state, path, "is not a directory");

	/* an existing file: written, its mode left alone */
	snprintf(path, sizeof(path), "%s/mine.log", dir);
	close(open(path, O_WRONLY | O_CREAT, 0640));
	assert_int_equal(chmod(path, 0640), 0);
	d = open_api(state, path, "0600", &err);
	assert_non_null(d);
	audit_device_close(d);
	assert_int_equal(mode_of(path), 0640);
	buf_release(&err);
}

static void t_file_discard(void **state)
{
	struct audit_device *d = open_file("discard", NULL, "fsynced");
	assert_false(audit_device_may_block(d));
	for (int i = 0; i < 100; i++)
		write_str(d, "{\"dropped\":true}\n");
	assert_int_equal(audit_device_reopen(d), 0);
	assert_int_equal(audit_device_failures(d), 0);
	/* a line without its '\n' is refused, whatever the device */
	assert_int_equal(audit_device_write(d, "{}", 2), TROVE_ERR_INTERNAL);
	assert_int_equal(audit_device_write(d, "", 0), TROVE_ERR_INTERNAL);
	audit_device_close(d);
	assert_int_equal(access("discard", F_OK), -1);
}

static void t_file_stdout(void **state)
{
	char path[128];
	in_dir(state, "stdout.txt", path, sizeof(path));
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	struct audit_device *d = open_file("stdout", NULL, NULL);
	write_str(d, "{\"to\":\"stdout\"}\n");
	assert_int_equal(audit_device_reopen(d), 0);
	write_str(d, "{\"n\":2}\n");
	audit_device_close(d);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	/* fd 1 was not closed by the device */
	assert_true(fcntl(STDOUT_FILENO, F_GETFD) >= 0);
	size_t len;
	char *text = slurp(path, &len);
	assert_string_equal(text, "{\"to\":\"stdout\"}\n{\"n\":2}\n");
	free(text);
}

/* Sends stderr to path; returns the saved stderr for stderr_restore. */
static int stderr_to(const char *path)
{
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return saved;
}

static void stderr_restore(int saved)
{
	dup2(saved, STDERR_FILENO);
	close(saved);
}

static void t_file_reopen(void **state)
{
	char path[256], rotated[256], dir[128];
	in_dir(state, "sub", dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/audit.log.1", dir);

	struct audit_device *d = open_file(path, NULL, NULL);
	write_str(d, "{\"n\":1}\n");
	assert_int_equal(rename(path, rotated), 0);
	write_str(d, "{\"n\":2}\n"); /* still the old file */
	assert_int_equal(audit_device_reopen(d), 0);
	write_str(d, "{\"n\":3}\n");
	assert_int_equal(mode_of(path), 0600);

	size_t len;
	char *text = slurp(rotated, &len);
	assert_string_equal(text, "{\"n\":1}\n{\"n\":2}\n");
	free(text);
	text = slurp(path, &len);
	assert_string_equal(text, "{\"n\":3}\n");
	free(text);

	/* reopen fails (the directory is gone): TROVE_ERR_IO, and the old
	 * file is still written */
	assert_int_equal(unlink(rotated), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	char log[128];
	int saved = stderr_to(in_dir(state, "stderr.txt", log, sizeof(log)));
	int r = audit_device_reopen(d);
	stderr_restore(saved);
	assert_int_equal(r, TROVE_ERR_IO);
	write_str(d, "{\"n\":4}\n");
	assert_int_equal(audit_device_failures(d), 0);
	audit_device_close(d);
}

/* Rotations while 4 writers run: every line lands whole in exactly one
 * file, and each writer's lines stay in order across the files. */
static void t_file_reopen_under_load(void **state)
{
	enum { THREADS = 4, LINES = 3000, ROTATIONS = 5 };
	char path[128], rotated[ROTATIONS][160];
	in_dir(state, "busy.log", path, sizeof(path));
	struct audit_device *d = open_file(path, NULL, NULL);

	pthread_t th[THREADS];
	struct writer w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct writer){.d = d, .t = i, .lines = LINES};
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	/* rotate each time the live file passes 150 KB (of ~1.5 MB in all),
	 * so every rotation happens while the writers are busy */
	for (int r = 0; r < ROTATIONS; r++) {
		struct stat st;
		int64_t give_up = now_ms() + PEER_WAIT_MS;
		while (stat(path, &st) == 0 && st.st_size < 150000 && now_ms() < give_up)
			usleep(100);
		snprintf(rotated[r], sizeof(rotated[r]), "%s.%d", path, r + 1);
		assert_int_equal(rename(path, rotated[r]), 0);
		assert_int_equal(audit_device_reopen(d), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failed, 0);
	}
	audit_device_close(d);

	int next[FILE_THREADS] = {0};
	size_t total = 0, len;
	for (int r = 0; r <= ROTATIONS; r++) {
		char *text = slurp(r < ROTATIONS ? rotated[r] : path, &len);
		/* The first rotation comes at a tenth of the output, so the
		 * writers are busy across it; on a loaded machine they may finish
		 * before a later one, leaving a later file empty. */
		if (r == 0)
			assert_true(len > 0);
		total += check_lines(text, len, THREADS, next);
		free(text);
	}
	assert_int_equal(total, (size_t)THREADS * LINES);
}

static size_t count_char(const char *s, size_t len, char c)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

static void t_file_dev_full(void **state)
{
	const char *secret = "{\"secret\":\"hunter2-NOT-TO-BE-LOGGED\"}\n";
	char log[128];
	in_dir(state, "stderr.txt", log, sizeof(log));

	/* "0000": the default mode would chmod /dev/full when run as root */
	struct audit_device *d = open_file("/dev/full", "0000", NULL);
	int saved = stderr_to(log);
	int r = audit_device_write(d, secret, strlen(secret));
	stderr_restore(saved);
	assert_int_equal(r, TROVE_ERR_IO);
	assert_int_equal(audit_device_failures(d), 1);

	/* logged once, with the path and the reason, never the line */
	size_t len;
	char *text = slurp(log, &len);
	assert_int_equal(count_char(text, len, '\n'), 1);
	assert_non_null(strstr(text, "/dev/full"));
	assert_non_null(strstr(text, "No space left on device"));
	assert_null(strstr(text, "hunter2"));
	free(text);

	/* concurrent batches fail as a whole: every line fails and is
	 * counted, with at most one log line per batch */
	struct writer w[4];
	saved = stderr_to(log);
	run_writers(d, 4, 50, w);
	stderr_restore(saved);
	for (int i = 0; i < 4; i++)
		assert_int_equal(w[i].failed, 50);
	assert_int_equal(audit_device_failures(d), 201);
	text = slurp(log, &len);
	size_t logged = count_char(text, len, '\n');
	assert_true(logged >= 1 && logged <= 200);
	free(text);
	audit_device_close(d);
}

/* A write that stops halfway (RLIMIT_FSIZE, in a child process) fails
 * and is truncated away: the file keeps only whole lines. */
static void t_file_short_write(void **state)
{
	char path[128], line[301];
	in_dir(state, "limited.log", path, sizeof(path));
	memset(line, 'a', 299);
	line[299] = '\n';
	line[300] = '\0';

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {.rlim_cur = 1000, .rlim_max = 1000};
		int null = open("/dev/null", O_WRONLY);
		if (null < 0 || dup2(null, STDERR_FILENO) < 0)
			_exit(9);
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(10);
		json_t *o = json_pack("{ss}", "file_path", path);
		struct buf err;
		buf_init(&err, 4096);
		struct audit_device *d = audit_device_open("file", o, &audit_limits_trusted, &err);
		if (d == NULL)
			_exit(11);
		for (int i = 0; i < 3; i++) /* 900 bytes: fits */
			if (audit_device_write(d, line, 300) != 0)
				_exit(12);
		/* 100 bytes fit, then EFBIG */
		if (audit_device_write(d, line, 300) != TROVE_ERR_IO)
			_exit(13);
		if (audit_device_failures(d) != 1)
			_exit(14);
		/* the file is whole again, so a short line still fits */
		if (audit_device_write(d, "{}\n", 3) != 0)
			_exit(15);
		audit_device_close(d);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	size_t len;
	char *text = slurp(path, &len);
	assert_int_equal(len, 903);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(text + i * 300, line, 300);
	assert_memory_equal(text + 900, "{}\n", 3);
	free(text);
}

/* Lines written together (audit_device_write_lines) are one batch: all
 * recorded, in order; on /dev/full all fail and each is counted; and a
 * batch that stops halfway (RLIMIT_FSIZE, in a child process) fails whole
 * and is cut off the file, earlier batches staying as they were. */
static void t_file_write_lines(void **state)
{
	char path[128], log[128];
	in_dir(state, "lines.log", path, sizeof(path));
	in_dir(state, "stderr.txt", log, sizeof(log));
	struct iovec l[3] = {
	    {.iov_base = (void *)"{\"n\":1}\n", .iov_len = 8},
	    {.iov_base = (void *)"{\"n\":2}\n", .iov_len = 8},
	    {.iov_base = (void *)"{\"n\":3}\n", .iov_len = 8},
	};
	bool ok[3];

	struct audit_device *d = open_file(path, NULL, NULL);
	assert_int_equal(audit_device_write_lines(d, l, 3, ok), 3);
	assert_true(ok[0] && ok[1] && ok[2]);
	struct iovec bad[2] = {l[0], {.iov_base = (void *)"{}", .iov_len = 2}};
	assert_int_equal(audit_device_write_lines(d, bad, 2, ok), 0); /* no '\n': none */
	assert_false(ok[0] || ok[1]);
	audit_device_close(d);
	size_t len;
	char *text = slurp(path, &len);
	assert_int_equal(len, 24);
	assert_memory_equal(text, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n", 24);
	free(text);

	d = open_file("/dev/full", "0000", NULL);
	int saved = stderr_to(log);
	size_t done = audit_device_write_lines(d, l, 3, ok);
	stderr_restore(saved);
	assert_int_equal(done, 0);
	assert_false(ok[0] || ok[1] || ok[2]);
	assert_int_equal(audit_device_failures(d), 3);
	audit_device_close(d);

	char limited[128], line[301];
	in_dir(state, "limited-batch.log", limited, sizeof(limited));
	memset(line, 'b', 299);
	line[299] = '\n';
	line[300] = '\0';
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {.rlim_cur = 1000, .rlim_max = 1000};
		int null = open("/dev/null", O_WRONLY);
		if (null < 0 || dup2(null, STDERR_FILENO) < 0)
			_exit(9);
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(10);
		json_t *o = json_pack("{ss}", "file_path", limited);
		struct buf err;
		buf_init(&err, 4096);
		struct audit_device *c = audit_device_open("file", o, &audit_limits_trusted, &err);
		if (c == NULL)
			_exit(11);
		struct iovec two[2] = {{line, 300}, {line, 300}};
		bool cok[2];
		if (audit_device_write_lines(c, two, 2, cok) != 2) /* 600 bytes */
			_exit(12);
		/* 400 bytes fit, then EFBIG: the whole batch fails */
		if (audit_device_write_lines(c, two, 2, cok) != 0 || cok[0] || cok[1])
			_exit(13);
		if (audit_device_failures(c) != 2)
			_exit(14);
		if (audit_device_write_lines(c, two, 1, cok) != 1) /* whole again: fits */
			_exit(15);
		audit_device_close(c);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	text = slurp(limited, &len);
	assert_int_equal(len, 900);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(text + i * 300, line, 300);
	free(text);
}

/* ---- socket ------------------------------------------------------------ */

/* A listening socket on loopback (or a unix path); its address as the
 * device wants it in addr. */
static int listen_tcp(int family, int rcvbuf, char *addr, size_t n)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (rcvbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 16) != 0) {
		close(fd);
		return -1;
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (family == AF_INET)
		snprintf(addr, n, "127.0.0.1:%d", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	else
		snprintf(addr, n, "[::1]:%d", ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	return fd;
}

static int bind_unix(int type, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 16), 0);
	return fd;
}

static bool wait_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1;
}

static int accept_bounded(int lfd)
{
	assert_true(wait_readable(lfd, PEER_WAIT_MS));
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* Reads from fd until want bytes have come, bounded in time. */
static void read_exactly(int fd, char *out, size_t want)
{
	size_t got = 0;
	while (got < want) {
		assert_true(wait_readable(fd, PEER_WAIT_MS));
		ssize_t k = recv(fd, out + got, want - got, 0);
		assert_true(k > 0);
		got += (size_t)k;
	}
}

/* A peer that accepts one connection and reads it to EOF. */
struct reader {
	int lfd;
	struct buf got;
	bool ok;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct pollfd p = {.fd = r->lfd, .events = POLLIN};
	if (poll(&p, 1, PEER_WAIT_MS) != 1)
		return NULL;
	int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	char chunk[65536];
	for (;;) {
		p.fd = fd;
		if (poll(&p, 1, PEER_WAIT_MS) != 1)
			break;
		ssize_t k = recv(fd, chunk, sizeof(chunk), 0);
		if (k <= 0) {
			r->ok = k == 0;
			break;
		}
		if (buf_append(&r->got, chunk, (size_t)k) != 0)
			break;
	}
	close(fd);
	return NULL;
}

/* 4 threads x 500 lines through a socket device to a reading peer on lfd:
 * all arrive whole, in order per thread. */
static void stream_roundtrip(int lfd, const char *type, const char *address)
{
	struct reader r = {.lfd = lfd};
	buf_init(&r.got, (size_t)16 << 20);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);

	struct audit_device *d =
	    must_open("socket", json_pack("{ssss}", "address", address, "socket_type", type));
	assert_true(audit_device_may_block(d));
	struct writer w[4];
	run_writers(d, 4, 500, w);
	for (int i = 0; i < 4; i++)
		assert_int_equal(w[i].failed, 0);
	assert_int_equal(audit_device_failures(d), 0);
	audit_device_close(d); /* EOF for the reader */
	pthread_join(th, NULL);
	assert_true(r.ok);
	int next[FILE_THREADS] = {0};
	assert_int_equal(check_lines(r.got.data, r.got.len, 4, next), 2000);
	buf_release(&r.got);
	close(lfd);
}

static void t_socket_tcp(void **state)
{
	char addr[64];
	int lfd = listen_tcp(AF_INET, 0, addr, sizeof(addr));
	assert_true(lfd >= 0);
	stream_roundtrip(lfd, "tcp", addr);
}

static void t_socket_tcp6(void **state)
{
	char addr[64];
	int lfd = listen_tcp(AF_INET6, 0, addr, sizeof(addr));
	if (lfd < 0)
		skip(); /* no IPv6 loopback here */
	stream_roundtrip(lfd, "tcp", addr);
}

static void t_socket_unix(void **state)
{
	char path[128];
	in_dir(state, "audit.sock", path, sizeof(path));
	stream_roundtrip(bind_unix(SOCK_STREAM, path), "unix", path);
}

/* A peer that accepts but never reads: once the buffers are full, a write
 * fails after write_timeout, and no write ever blocks much longer. */
static void t_socket_stuck_peer(void **state)
{
	char addr[64];
	int lfd = listen_tcp(AF_INET, 4096, addr, sizeof(addr));
	assert_true(lfd >= 0);
	struct audit_device *d =
	    must_open("socket", json_pack("{ssss}", "address", addr, "write_timeout", "200ms"));

	size_t len = 65536;
	char *line = malloc(len);
	memset(line, 'z', len - 1);
	line[len - 1] = '\n';
	char log[128];
	int saved = stderr_to(in_dir(state, "stderr.txt", log, sizeof(log)));

	int ok = 0, r = 0;
	int64_t took = 0;
	for (int i = 0; i < 1000 && r == 0; i++) { /* 64 MiB at most: beyond any socket buffers */
		int64_t t0 = now_ms();
		r = audit_device_write(d, line, len);
		took = now_ms() - t0;
		ok += r == 0;
	}
	int cfd = accept_bounded(lfd); /* the device's (dropped) connection */
	stderr_restore(saved);
	assert_int_equal(r, TROVE_ERR_IO);
	assert_true(ok > 0);
	assert_true(took >= 150 && took < 1500);
	assert_int_equal(audit_device_failures(d), 1);
	close(cfd);
	free(line);
	audit_device_close(d);
	close(lfd);
}

struct timed_writer {
	struct audit_device *d;
	const char *line;
	size_t len;
	int64_t longest_ms;
	int failed;
};

static void *timed_writer_main(void *arg)
{
	struct timed_writer *w = arg;
	for (int i = 0; i < 200 && w->failed < 3; i++) {
		int64_t t0 = now_ms();
		if (audit_device_write(w->d, w->line, w->len) != 0)
			w->failed++;
		int64_t took = now_ms() - t0;
		if (took > w->longest_ms)
			w->longest_ms = took;
	}
	return NULL;
}

/* Four writers against a stuck peer: waiting for the others counts
 * towards a write's timeout, so none waits for the others' timeouts. */
static void t_socket_stuck_peer_concurrent(void **state)
{
	char addr[64];
	int lfd = listen_tcp(AF_INET, 4096, addr, sizeof(addr));
	assert_true(lfd >= 0);
	struct audit_device *d =
	    must_open("socket", json_pack("{ssss}", "address", addr, "write_timeout", "200ms"));
	size_t len = 262144;
	char *line = malloc(len);
	memset(line, 'z', len - 1);
	line[len - 1] = '\n';
	char log[128];
	int saved = stderr_to(in_dir(state, "stderr.txt", log, sizeof(log)));

	pthread_t th[4];
	struct timed_writer w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct timed_writer){.d = d, .line = line, .len = len};
		assert_int_equal(pthread_create(&th[i], NULL, timed_writer_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	stderr_restore(saved);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(w[i].failed, 3);
		assert_true(w[i].longest_ms < 600);
	}
	assert_true(audit_device_failures(d) >= 12);
	free(line);
	audit_device_close(d);
	close(lfd);
}

/* The peer closes: the next line goes over a new connection. The
 * listener goes away: writes fail (and are counted) without waiting. */
static void t_socket_reconnect(void **state)
{
	char addr[64], got[64];
	int lfd = listen_tcp(AF_INET, 0, addr, sizeof(addr));
	assert_true(lfd >= 0);
	struct audit_device *d = must_open("socket", json_pack("{ss}", "address", addr));

	write_str(d, "{\"n\":1}\n");
	int c1 = accept_bounded(lfd);
	read_exactly(c1, got, 8);
	assert_memory_equal(got, "{\"n\":1}\n", 8);
	close(c1);
	usleep(20000); /* let the FIN reach the device's socket */

	write_str(d, "{\"n\":2}\n");
	int c2 = accept_bounded(lfd);
	read_exactly(c2, got, 8);
	assert_memory_equal(got, "{\"n\":2}\n", 8);
	write_str(d, "{\"n\":3}\n");
	read_exactly(c2, got, 8);
	assert_memory_equal(got, "{\"n\":3}\n", 8);
	assert_int_equal(audit_device_failures(d), 0);

	close(c2);
	close(lfd);
	usleep(20000);
	char log[128];
	int saved = stderr_to(in_dir(state, "stderr.txt", log, sizeof(log)));
	int64_t t0 = now_ms();
	int r1 = audit_device_write(d, "{\"n\":4}\n", 8);
	int r2 = audit_device_write(d, "{\"n\":5}\n", 8);
	int64_t took = now_ms() - t0;
	stderr_restore(saved);
	assert_int_equal(r1, TROVE_ERR_IO);
	assert_int_equal(r2, TROVE_ERR_IO);
	assert_true(took < 1000);
	assert_int_equal(audit_device_failures(d), 2);
	audit_device_close(d);
}

static void t_socket_udp(void **state)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(in);
	assert_int_equal(bind(fd, (struct sockaddr *)&in, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&in, &len), 0);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(in.sin_port));

	struct audit_device *d =
	    must_open("socket", json_pack("{ssss}", "address", addr, "socket_type", "udp"));
	const char *lines[] = {"{\"n\":1}\n", "{\"n\":22}\n", "{\"n\":333}\n"};
	for (int i = 0; i < 3; i++)
		write_str(d, lines[i]);
	for (int i = 0; i < 3; i++) {
		char got[64];
		assert_true(wait_readable(fd, PEER_WAIT_MS));
		ssize_t k = recv(fd, got, sizeof(got), 0);
		assert_int_equal(k, (ssize_t)strlen(lines[i])); /* one datagram per line */
		assert_memory_equal(got, lines[i], (size_t)k);
	}
	assert_int_equal(audit_device_failures(d), 0);
	audit_device_close(d);
	close(fd);
}

/* ---- syslog ------------------------------------------------------------ */

static void expect_datagram(int fd, const char *want)
{
	char got[512];
	assert_true(wait_readable(fd, PEER_WAIT_MS));
	ssize_t k = recv(fd, got, sizeof(got) - 1, 0);
	assert_true(k >= 0);
	got[k] = '\0';
	assert_string_equal(got, want);
}

static void t_syslog(void **state)
{
	char path[128], want[256];
	in_dir(state, "log", path, sizeof(path));
	int fd = bind_unix(SOCK_DGRAM, path);

	/* defaults: AUTH (4) and INFO (6): PRI 38; tag trove; no '\n' */
	struct audit_device *d = must_open("syslog", json_pack("{ss}", "socket_path", path));
	assert_true(audit_device_may_block(d));
	write_str(d, "{\"type\":\"request\"}\n");
	snprintf(want, sizeof(want), "<38>trove[%ld]: {\"type\":\"request\"}", (long)getpid());
	expect_datagram(fd, want);
	audit_device_close(d);

	/* LOCAL7 (23) in any case, and a tag: PRI 190 */
	d = must_open("syslog",
	              json_pack("{ssssss}", "socket_path", path, "facility", "local7", "tag", "vault"));
	write_str(d, "{}\n");
	snprintf(want, sizeof(want), "<190>vault[%ld]: {}", (long)getpid());
	expect_datagram(fd, want);

	/* the daemon goes away: an error, counted; it comes back: reached
	 * again without reopening */
	close(fd);
	assert_int_equal(unlink(path), 0);
	char log[128];
	int saved = stderr_to(in_dir(state, "stderr.txt", log, sizeof(log)));
	int r = audit_device_write(d, "{}\n", 3);
	stderr_restore(saved);
	assert_int_equal(r, TROVE_ERR_IO);
	assert_int_equal(audit_device_failures(d), 1);
	fd = bind_unix(SOCK_DGRAM, path);
	write_str(d, "{\"back\":1}\n");
	snprintf(want, sizeof(want), "<190>vault[%ld]: {\"back\":1}", (long)getpid());
	expect_datagram(fd, want);
	assert_int_equal(audit_device_reopen(d), 0);
	audit_device_close(d);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_unknown_type),
	    cmocka_unit_test(t_option_known),
	    cmocka_unit_test_setup_teardown(t_option_errors, setup, teardown),
	    cmocka_unit_test(t_broker_keys_ignored),
	    cmocka_unit_test_setup_teardown(t_file_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_file_fsynced, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_file_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_file_api_limits, setup, teardown),
	    cmocka_unit_test(t_file_discard),
	    cmocka_unit_test_setup_teardown(t_file_stdout, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_file_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_file_reopen_under_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_file_dev_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_file_short_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_file_write_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_socket_tcp, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_socket_tcp6, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_socket_unix, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_socket_stuck_peer, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_socket_stuck_peer_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_socket_reconnect, setup, teardown),
	    cmocka_unit_test(t_socket_udp),
	    cmocka_unit_test_setup_teardown(t_syslog, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
