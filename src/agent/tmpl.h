/* src/agent/tmpl.h — the consul-template language (Go text/template syntax) that Vault Agent templates are written in. */
#ifndef TROVE_AGENT_TMPL_H
#define TROVE_AGENT_TMPL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

struct tmpl; /* a parsed template; immutable after parsing, may be rendered many times */

/* The data sources, provided by whoever renders (the agent's template runner); called during tmpl_render. */
struct tmpl_funcs {
	void *ctx;
	/* {{ secret "path" }} (no args: a read) or {{ secret "path" "k=v" ... }} (args: a write whose body is those
	 * fields as JSON strings). path and args as written in the template (evaluated strings). On success returns 0
	 * with *out a NEW reference to the value the template sees (an object such as {"RequestID":..., "LeaseID":...,
	 * "LeaseDuration":..., "Renewable":..., "Data":{...}, "Warnings":...}; the runner decides the shape). On failure
	 * returns a TROVE_ERR_* code with *err (heap, the renderer frees) saying why; rendering then fails with that
	 * error. NULL member: the function is refused with an error naming it. */
	int (*secret)(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out, char **err);
	/* {{ pkiCert "path" "k=v" ... }}: same contract. */
	int (*pki_cert)(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out, char **err);
};

/* Parses text (len bytes; need not be NUL-terminated). name is used in error messages ("name:line:col: why").
 * ldelim/rdelim: NULL means "{{" and "}}". Returns 0 with *out, or TROVE_ERR_INVALID with *err (heap) set. */
int tmpl_parse(const char *name, const char *text, size_t len, const char *ldelim, const char *rdelim,
               struct tmpl **out, char **err);
/* Renders t into out (appended). error_on_missing_key: a map key that is absent is an error (Go's
 * missingkey=error) instead of printing "<no value>". Returns 0, or an error code with *err (heap) set; on error
 * out's content is unspecified (the caller discards it). Thread-safe for distinct out buffers. */
int tmpl_render(const struct tmpl *t, const struct tmpl_funcs *f, bool error_on_missing_key, struct buf *out,
                char **err);
void tmpl_free(struct tmpl *t);

#endif
