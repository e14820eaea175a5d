/* hcl_config.h — reading config files (HCL or JSON) through option tables.
 *
 * Shared by the server's config and the agent's: a block's options are one
 * table (name, type, where the value lands in a struct, bounds), and the
 * same table drives parsing, type errors and range errors. Values are
 * weakly typed as in Vault's config: a bool may be written true or "true",
 * a duration 30 or "30s", a size 1024 or "1MiB". Every error names
 * "file:line" and the key. */
#ifndef TROVE_HCL_CONFIG_H
#define TROVE_HCL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "hcl.h"

#define HCL_CONFIG_MAX_FILE ((size_t)4 << 20)

enum hcl_opt_type {
	HCL_OPT_STRING,      /* char *, replaced */
	HCL_OPT_BOOL,        /* bool */
	HCL_OPT_DURATION,    /* int64_t seconds */
	HCL_OPT_SIZE,        /* uint64_t bytes */
	HCL_OPT_COUNT,       /* int64_t */
	HCL_OPT_STRING_LIST, /* struct strlist, replaced */
};

struct hcl_opt {
	const char *name;
	enum hcl_opt_type type;
	size_t offset;
	int64_t min, max; /* bounds for durations, sizes and counts; max 0 = none */
	/* For a list: why an item is refused, or NULL when it is fine. */
	const char *(*check_item)(const char *item);
};

/* Replaces err with "file:line: " (or "file: " when line is 0) and the
 * message; returns TROVE_ERR_INVALID. */
int hcl_config_fail(struct buf *err, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "file:line" on the heap (the caller frees). */
char *hcl_config_where(const char *file, int line);

/* The option named key in table (ended by a NULL name), or NULL. */
const struct hcl_opt *hcl_opt_find(const struct hcl_opt *table, const char *key);

/* Stores member m's value in base through o. block prefixes messages
 * ("listener \"tcp\": "). 0 or TROVE_ERR_INVALID with err. */
int hcl_opt_set(void *base, const struct hcl_opt *o, const struct hcl_member *m, const char *file,
                const char *block, struct buf *err);

/* Applies every member of the object body through table; an unknown key
 * or a key given twice is an error. */
int hcl_opts_apply(void *base, const struct hcl_opt *table, const struct hcl_value *body, const char *file,
                   const char *block, struct buf *err);

/* Reads a labelled block in any of its shapes (`name "label" {..}`,
 * `name = { label = {..} }`, or JSON `"name": [{"label": {..}}, ...]`) and
 * calls fn once per (label, body). */
typedef int (*hcl_block_fn)(void *ctx, const char *label, const struct hcl_value *body, int line,
                            const char *file, struct buf *err);
int hcl_config_blocks(const struct hcl_member *m, hcl_block_fn fn, void *ctx, const char *file,
                      struct buf *err);

/* Reads path — a file of at most HCL_CONFIG_MAX_FILE bytes, or a directory
 * whose *.hcl and *.json files are read in name order — and hands each
 * file's text to fn (json: the name ends in ".json"). */
typedef int (*hcl_text_fn)(void *ctx, const char *name, const char *text, size_t len, bool json,
                           struct buf *err);
int hcl_config_load_path(const char *path, hcl_text_fn fn, void *ctx, struct buf *err);

#endif
