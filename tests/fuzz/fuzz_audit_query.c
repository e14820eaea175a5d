/* fuzz_audit_query.c — libFuzzer target for the audit log reader behind
 * `trove audit query/consumers` (cli/audit_query.h). The input is used
 * twice:
 *  - as log lines (split on '\n', and whole as one line) through the line
 *    parser, the matcher and both kinds of scan under fixed filter sets,
 *    then the answers are read back as the commands' tables do;
 *  - as a log file under the same filters: the entries the scan reads
 *    again from the file must be those of the same lines fed from memory;
 *  - as filter arguments, one "name=value" (or "name") a line, through
 *    aq_filter_add; the filter it builds then scans a few fixed entries,
 *    and the pieces also go through the time, CIDR and glob parsers. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "cli/audit_query.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW INT64_C(1714564800)
#define MAX_ARGS 64

static const char *const fixed_entries[] = {
    "{\"time\":\"2024-05-01T10:00:00.1Z\",\"type\":\"request\",\"auth\":{\"client_token\":\"hmac-sha256:aa\","
    "\"display_name\":\"kubernetes-ns-web\",\"entity_id\":\"e-1\",\"metadata\":{\"role\":\"web\"},"
    "\"policy_results\":{\"allowed\":true,\"granting_policies\":[{\"name\":\"web\"}]}},\"request\":{\"id\":"
    "\"r1\",\"operation\":\"read\",\"mount_point\":\"secret/\",\"path\":\"secret/data/app\","
    "\"remote_address\":\"10.1.2.3\"}}",
    "x: "
    "{\"time\":\"2024-05-01T10:00:00.2Z\",\"type\":\"response\",\"auth\":{\"client_token\":\"hmac-sha256:"
    "aa\","
    "\"display_name\":\"kubernetes-ns-web\",\"entity_id\":\"e-1\",\"policy_results\":{\"allowed\":true}},"
    "\"request\":{\"id\":\"r1\",\"operation\":\"read\",\"path\":\"secret/data/app\",\"remote_address\":"
    "\"::ffff:10.1.2.3\"}}",
    "{\"time\":\"2024-05-01T09:00:00Z\",\"type\":\"response\",\"request\":{\"id\":\"l1\",\"operation\":"
    "\"update\",\"mount_point\":\"auth/kubernetes/\",\"path\":\"auth/kubernetes/login\"},\"response\":{"
    "\"auth\":{\"client_token\":\"hmac-sha256:dd\",\"display_name\":\"kubernetes-ns-app\",\"metadata\":{"
    "\"service_account_name\":\"app\"}}}}",
    "{\"time\":\"2024-05-01T10:05:00+02:00\",\"type\":\"response\",\"auth\":{\"client_token\":\"hmac-sha256:"
    "dd\","
    "\"display_name\":\"kubernetes-ns-app\"},\"request\":{\"id\":\"r2\",\"operation\":\"list\",\"path\":"
    "\"secret/metadata/\",\"remote_address\":\"2001:db8::1\"},\"error\":\"permission denied\"}",
};

/* Filters the commands build: name, value pairs ended by NULL. */
static const char *const fixed_filters[][16] = {
    {"path", "secret/*/app", "op", "read", "op", "list", "remote", "10.0.0.0/8", "remote", "2001:db8::/32",
     "since", "2024-01-01", "until", "1h", NULL},
    {"type", "all", "display-name", "kubernetes-ns-web", "mount", "secret", "error", "", "token-hash",
     "hmac-sha256:aa", NULL},
    {"type", "request", "denied", NULL, "role", "app", "entity", "e-1", NULL},
    {"path", "secret/", "allowed", NULL, "op", "any", NULL},
};

/* Calls fn on each '\n'-separated line of text[0..size). */
static void each_line(const char *text, size_t size, void (*fn)(void *, const char *, size_t), void *arg)
{
	size_t i, start = 0;

	for (i = 0; i <= size; i++) {
		if (i == size || text[i] == '\n') {
			fn(arg, text + start, i - start);
			start = i + 1;
		}
	}
}

static void scan_one(void *arg, const char *line, size_t len)
{
	aq_scan_line(arg, line, len);
}

/* Reads an answer back as the commands' tables do. */
static void read_entries(const json_t *arr)
{
	struct aq_entry e;
	struct buf b;
	size_t i;

	buf_init(&b, 1 << 16);
	for (i = 0; i < json_array_size(arr); i++) {
		if (!aq_entry_from_json(json_array_get(arr, i), &e))
			continue;
		buf_reset(&b);
		aq_time_format(&e.time, true, &b);
		aq_entry_policies(&e, &b);
		(void)aq_entry_role(&e);
		(void)aq_entry_allowed(&e);
		aq_entry_release(&e);
	}
	buf_release(&b);
}

static void read_consumers(const json_t *arr)
{
	struct aq_time t;
	size_t i;

	for (i = 0; i < json_array_size(arr); i++) {
		const json_t *c = json_array_get(arr, i);

		if (!aq_time_parse(json_string_value(json_object_get(c, "first")), &t) ||
		    !aq_time_parse(json_string_value(json_object_get(c, "last")), &t))
			abort(); /* the scan formats these itself: they must parse back */
	}
}

/* Scans text (lines, then the whole as one line) under f in both modes. */
static void scan_text(const struct aq_filter *f, const char *text, size_t size)
{
	struct aq_scan s;
	json_t *out;

	aq_scan_init(&s, f, AQ_MODE_ENTRIES);
	each_line(text, size, scan_one, &s);
	aq_scan_line(&s, text, size);
	out = aq_scan_entries(&s);
	if (json_array_size(out) > s.lines)
		abort();
	read_entries(out);
	json_decref(out);
	aq_scan_release(&s);

	aq_scan_init(&s, f, AQ_MODE_CONSUMERS);
	each_line(text, size, scan_one, &s);
	out = aq_scan_consumers(&s);
	read_consumers(out);
	json_decref(out);
	aq_scan_release(&s);
}

/* text as a file (a memfd): its kept entries, read again from the file
 * in time order, must equal those of its lines fed from memory. */
static void scan_as_file(const struct aq_filter *f, const char *text, size_t size)
{
	struct aq_scan mem, file;
	struct buf err;
	json_t *a, *b;
	char path[64];
	int fd;

	if (size >= 2 && (unsigned char)text[0] == 0x1f && (unsigned char)text[1] == 0x8b)
		return; /* read as gzip: the file's lines are not the input's */
	fd = memfd_create("fuzz_audit_query", MFD_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, text, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	buf_init(&err, 4096);
	aq_scan_init(&mem, f, AQ_MODE_ENTRIES);
	aq_scan_init(&file, f, AQ_MODE_ENTRIES);
	each_line(text, size, scan_one, &mem);
	if (aq_scan_file(&file, path, &err) == 0) {
		a = aq_scan_entries(&mem);
		b = aq_scan_entries(&file);
		if (a == NULL || b == NULL || !json_equal(a, b) || mem.malformed != file.malformed)
			abort();
		json_decref(a);
		json_decref(b);
	}
	aq_scan_release(&mem);
	aq_scan_release(&file);
	buf_release(&err);
	close(fd);
}

static void fixed_filter(struct aq_filter *f, const char *const *pairs)
{
	struct buf err;

	buf_init(&err, 4096);
	aq_filter_init(f, NOW);
	for (; pairs[0]; pairs += 2)
		if (aq_filter_add(f, pairs[0], pairs[1], &err) != 0)
			abort(); /* the fixed filters are valid */
	buf_release(&err);
}

/* One "name=value" line into the filter and the small parsers. */
static void filter_arg(void *arg, const char *line, size_t len)
{
	struct aq_filter *f = arg;
	char *copy = malloc(len + 1), *eq;
	struct aq_time t;
	struct cidr net;
	struct buf err;

	if (copy == NULL)
		return;
	memcpy(copy, line, len);
	copy[len] = '\0';
	eq = strchr(copy, '=');
	if (eq)
		*eq++ = '\0';
	buf_init(&err, 4096);
	(void)aq_filter_add(f, copy, eq, &err);
	if (eq) {
		if (aq_time_parse(eq, &t)) {
			buf_reset(&err);
			aq_time_format(&t, true, &err);
		}
		if (aq_cidr_parse(eq, &net))
			(void)aq_cidr_contains(&net, copy);
		(void)aq_glob_match(eq, copy);
		(void)aq_path_match(copy, eq);
	}
	buf_release(&err);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A heap copy of exactly size bytes lets ASan catch any over-read. */
	char *copy = malloc(size ? size : 1);
	struct aq_filter f;
	struct buf fixed;
	size_t i;

	if (copy == NULL)
		return 0;
	if (size)
		memcpy(copy, data, size);
	for (i = 0; i < sizeof(fixed_filters) / sizeof(fixed_filters[0]); i++) {
		fixed_filter(&f, fixed_filters[i]);
		scan_text(&f, copy, size);
		scan_as_file(&f, copy, size);
		aq_filter_release(&f);
	}

	aq_filter_init(&f, NOW);
	each_line(copy, size, filter_arg, &f);
	buf_init(&fixed, 1 << 16);
	for (i = 0; i < sizeof(fixed_entries) / sizeof(fixed_entries[0]); i++)
		(void)buf_printf(&fixed, "%s\n", fixed_entries[i]);
	scan_text(&f, fixed.data, fixed.len);
	buf_release(&fixed);
	aq_filter_release(&f);
	free(copy);
	return 0;
}
