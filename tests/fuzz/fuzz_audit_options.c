/* libFuzzer target: what an audit device accepts from a client or a config
 * file. The first byte picks the check:
 *
 *   0: the rest is a file_path for a device enabled through the API, with
 *      /var/log/trove and /srv/a/ allowed: either refused, or split into
 *      an allowed directory and a rest that is a clean relative path (no
 *      control byte, no "." or ".." or empty segment, no leading or
 *      trailing '/') which, joined again, is the input;
 *   1-3: the rest is a JSON options object for a declared file, socket or
 *      syslog device: checked without opening anything; accepted options
 *      never hold a control character.
 *
 * Never opens or creates a file: only the checks run. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/device.h"
#include "audit/file_path.h"
#include "buf.h"
#include "core/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rel(const char *rel)
{
	size_t n = strlen(rel);
	if (n == 0 || rel[0] == '/' || rel[n - 1] == '/')
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)rel[i] < 0x20 || rel[i] == 0x7f)
			abort();
	for (const char *seg = rel;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			abort();
		if (!slash)
			break;
		seg = slash + 1;
	}
}

static void fuzz_path(const char *path)
{
	static const char *const dirs[] = {"/var/log/trove", "/srv/a/"};
	char *dir = NULL, *rel = NULL;
	struct buf err;
	buf_init(&err, 8192);
	if (audit_path_split(path, dirs, 2, &dir, &rel, &err) == 0) {
		check_rel(rel);
		if (strcmp(dir, "/var/log/trove") != 0 && strcmp(dir, "/srv/a") != 0)
			abort();
		size_t nd = strlen(dir);
		if (strncmp(path, dir, nd) != 0 || path[nd] != '/' || strcmp(path + nd + 1, rel) != 0)
			abort();
	} else if (err.len == 0 || dir || rel) {
		abort();
	}
	free(dir);
	free(rel);
	buf_release(&err);
}

static void fuzz_options(const char *type, const char *text, size_t len)
{
	json_t *o = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
	if (!o)
		return;
	struct audit_config_device c = {.path = "x", .type = (char *)type, .options = o};
	struct buf err;
	buf_init(&err, 8192);
	if (audit_config_device_check(&audit_device_types, &c, &err) == 0 && json_is_object(o)) {
		const char *k;
		json_t *v;
		json_object_foreach(o, k, v)
		{
			if (!json_is_string(v))
				continue;
			const char *s = json_string_value(v);
			for (size_t i = 0; i < json_string_length(v); i++)
				if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
					abort();
		}
	}
	buf_release(&err);
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {"file", "socket", "syslog"};
	if (size < 1 || size > 8192)
		return 0;
	char *text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] % 4 == 0)
		fuzz_path(text);
	else
		fuzz_options(types[data[0] % 4 - 1], text, size - 1);
	free(text);
	return 0;
}
