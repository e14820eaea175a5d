/* hcl_config.c — option tables and file loading for config readers
 * (hcl_config.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hcl_config.h"

#include "duration.h"
#include "err.h"
#include "strconv.h"

#include "banned.h"

int hcl_config_fail(struct buf *err, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	buf_reset(err);
	if (line > 0)
		buf_printf(err, "%s:%d: ", file, line);
	else
		buf_printf(err, "%s: ", file);
	va_start(ap, fmt);
	buf_vprintf(err, fmt, ap);
	va_end(ap);
	return TROVE_ERR_INVALID;
}

char *hcl_config_where(const char *file, int line)
{
	struct buf b;
	buf_init(&b, 4096);
	buf_printf(&b, "%s:%d", file, line);
	return buf_take(&b);
}

const struct hcl_opt *hcl_opt_find(const struct hcl_opt *table, const char *key)
{
	for (; table->name; table++)
		if (strcmp(table->name, key) == 0)
			return table;
	return NULL;
}

int hcl_opt_set(void *base, const struct hcl_opt *o, const struct hcl_member *m, const char *file,
                const char *block, struct buf *err)
{
	const struct hcl_value *v = m->value;
	char *field = (char *)base + o->offset;
	int line = m->line ? m->line : v->line;

	switch (o->type) {
	case HCL_OPT_STRING: {
		char **dst = (char **)(void *)field;
		if (v->type != HCL_STRING)
			return hcl_config_fail(err, file, line, "%s%s: expected a string, got %s", block,
			                       o->name, hcl_type_name(v->type));
		free(*dst);
		*dst = xstrdup(v->u.string.ptr);
		return 0;
	}
	case HCL_OPT_BOOL: {
		bool b;
		if (v->type == HCL_BOOL)
			b = v->u.b;
		else if (v->type == HCL_INT && (v->u.i == 0 || v->u.i == 1))
			b = v->u.i == 1;
		else if (v->type != HCL_STRING || !strconv_bool(v->u.string.ptr, &b))
			return hcl_config_fail(err, file, line, "%s%s: expected a boolean", block, o->name);
		*(bool *)(void *)field = b;
		return 0;
	}
	case HCL_OPT_DURATION: {
		int64_t secs = 0;
		if (v->type == HCL_INT)
			secs = v->u.i;
		else if (v->type != HCL_STRING ||
		         duration_parse_seconds(v->u.string.ptr, v->u.string.len, &secs) != 0)
			return hcl_config_fail(err, file, line,
			                       "%s%s: expected a duration such as \"30s\" or \"768h\"", block,
			                       o->name);
		if (secs < o->min || (o->max && secs > o->max))
			return hcl_config_fail(err, file, line, "%s%s: out of range", block, o->name);
		*(int64_t *)(void *)field = secs;
		return 0;
	}
	case HCL_OPT_SIZE: {
		uint64_t n = 0;
		if (v->type == HCL_INT && v->u.i >= 0)
			n = (uint64_t)v->u.i;
		else if (v->type != HCL_STRING || size_parse(v->u.string.ptr, v->u.string.len, &n) != 0)
			return hcl_config_fail(err, file, line,
			                       "%s%s: expected a size in bytes such as 33554432 or \"32MiB\"",
			                       block, o->name);
		if (n < (uint64_t)o->min || (o->max && n > (uint64_t)o->max))
			return hcl_config_fail(err, file, line, "%s%s: out of range", block, o->name);
		*(uint64_t *)(void *)field = n;
		return 0;
	}
	case HCL_OPT_COUNT:
		if (v->type != HCL_INT)
			return hcl_config_fail(err, file, line, "%s%s: expected a whole number", block,
			                       o->name);
		if (v->u.i < o->min || (o->max && v->u.i > o->max))
			return hcl_config_fail(err, file, line, "%s%s: out of range", block, o->name);
		*(int64_t *)(void *)field = v->u.i;
		return 0;
	case HCL_OPT_STRING_LIST: {
		struct strlist *dst = (struct strlist *)(void *)field;
		if (v->type != HCL_LIST)
			return hcl_config_fail(
			    err, file, line, "%s%s: expected a list of strings such as [\"/var/log/trove\"]",
			    block, o->name);
		for (size_t i = 0; i < v->u.list.len; i++) {
			const struct hcl_value *item = v->u.list.items[i];
			const char *why;
			if (item->type != HCL_STRING)
				return hcl_config_fail(err, file, line,
				                       "%s%s: item %zu: expected a string, got %s", block,
				                       o->name, i + 1, hcl_type_name(item->type));
			if (o->check_item && (why = o->check_item(item->u.string.ptr)) != NULL)
				return hcl_config_fail(err, file, line, "%s%s: \"%s\" %s", block, o->name,
				                       item->u.string.ptr, why);
		}
		strlist_release(dst); /* a later file replaces the list */
		strlist_init(dst);
		for (size_t i = 0; i < v->u.list.len; i++)
			strlist_push(dst, v->u.list.items[i]->u.string.ptr);
		return 0;
	}
	}
	return TROVE_ERR_INTERNAL;
}

/* Applies every member of an object through an option table. Each key may
 * appear once per block. */
int hcl_opts_apply(void *base, const struct hcl_opt *table, const struct hcl_value *body, const char *file,
                   const char *block, struct buf *err)
{
	if (body->type != HCL_OBJECT)
		return hcl_config_fail(err, file, body->line, "%sexpected a block", block);
	for (size_t i = 0; i < body->u.object.len; i++) {
		const struct hcl_member *m = &body->u.object.members[i];
		const struct hcl_opt *o = table;
		int r;
		for (; o->name; o++)
			if (strcmp(o->name, m->key) == 0)
				break;
		if (!o->name)
			return hcl_config_fail(err, file, m->line, "%sunknown key \"%s\"", block, m->key);
		for (size_t j = 0; j < i; j++)
			if (strcmp(body->u.object.members[j].key, m->key) == 0)
				return hcl_config_fail(err, file, m->line, "%s\"%s\" is set twice", block,
				                       m->key);
		if ((r = hcl_opt_set(base, o, m, file, block, err)) != 0)
			return r;
	}
	return 0;
}

/* A block member in any of its shapes: `name "label" {..}`, `name = {
 * label = {..} }`, or (JSON) `"name": [{"label": {..}}, ...]`. */
int hcl_config_blocks(const struct hcl_member *m, hcl_block_fn fn, void *ctx, const char *file,
                      struct buf *err)
{
	struct hcl_error he = {0};
	const char *label = NULL;
	const struct hcl_value *body = NULL;
	int r;

	if (m->value->type == HCL_LIST && m->nlabels == 0) {
		for (size_t i = 0; i < m->value->u.list.len; i++) {
			const struct hcl_value *item = m->value->u.list.items[i];
			if (item->type != HCL_OBJECT)
				return hcl_config_fail(err, file, item->line, "%s: expected a block", m->key);
			for (size_t j = 0; j < item->u.object.len; j++) {
				const struct hcl_member *inner = &item->u.object.members[j];
				if ((r = fn(ctx, inner->key, inner->value, inner->line, file, err)) != 0)
					return r;
			}
		}
		return 0;
	}
	if (hcl_member_block(m, &label, &body, &he) != 0)
		return hcl_config_fail(err, file, he.line ? he.line : m->line, "%s: %s", m->key, he.message);
	return fn(ctx, label, body, m->line, file, err);
}

static int load_file(const char *path, hcl_text_fn fn, void *ctx, struct buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text = NULL;
	size_t n = 0;
	int r;
	if (fd < 0)
		return hcl_config_fail(err, path, 0, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || (size_t)st.st_size > HCL_CONFIG_MAX_FILE) {
		close(fd);
		return hcl_config_fail(err, path, 0, "not a readable file of at most %zu bytes",
		                       HCL_CONFIG_MAX_FILE);
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size) {
		ssize_t got = read(fd, text + n, (size_t)st.st_size - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	text[n] = '\0';
	size_t plen = strlen(path);
	bool json = plen > 5 && strcmp(path + plen - 5, ".json") == 0;
	r = fn(ctx, path, text, n, json, err);
	free(text);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int hcl_config_load_path(const char *path, hcl_text_fn fn, void *ctx, struct buf *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return hcl_config_fail(err, path, 0, "cannot read config: %s", strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return load_file(path, fn, ctx, err);

	DIR *d = opendir(path);
	struct dirent *de;
	struct strlist names;
	int r = 0;
	if (!d)
		return hcl_config_fail(err, path, 0, "cannot open directory: %s", strerror(errno));
	strlist_init(&names);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if ((n > 4 && strcmp(de->d_name + n - 4, ".hcl") == 0) ||
		    (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0))
			strlist_push(&names, de->d_name);
	}
	closedir(d);
	qsort(names.items, names.len, sizeof(char *), name_cmp);
	for (size_t i = 0; i < names.len && r == 0; i++) {
		struct buf full;
		buf_init(&full, 8192);
		buf_printf(&full, "%s/%s", path, names.items[i]);
		r = load_file(full.data, fn, ctx, err);
		buf_release(&full);
	}
	strlist_release(&names);
	return r;
}
