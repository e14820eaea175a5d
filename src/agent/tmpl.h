/* tmpl.h — the consul-template language (Go text/template syntax) that
 * Vault Agent templates are written in.
 *
 * Values are jansson values: strings, integers, reals, booleans, null,
 * arrays and objects; a template's data is whatever the caller hands in
 * (NULL for none, as Vault Agent renders with no data). The language and
 * its functions are described in docs/agent-templates.md.
 *
 * Bounds (never a crash, a hang or a quadratic blow-up): the text is at most
 * TMPL_TEXT_MAX bytes, control structures and parentheses nest at most
 * TMPL_DEPTH_MAX deep, `template` calls recurse at most TMPL_DEPTH_MAX deep,
 * one range runs at most TMPL_RANGE_MAX times, the output grows at most
 * TMPL_OUT_MAX bytes, and one rendering does a bounded amount of work
 * (commands, range iterations and the bytes of the strings functions make:
 * TMPL_WORK_MAX, a few seconds at most). In the sprig dialect the maps and
 * lists functions make hold at most about a million elements, and values
 * are walked at most 4096 levels deep. Past any of them rendering fails
 * with an error saying which. */
#ifndef TROVE_AGENT_TMPL_H
#define TROVE_AGENT_TMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

#define TMPL_TEXT_MAX ((size_t)1 << 20)
#define TMPL_DEPTH_MAX 100
#define TMPL_RANGE_MAX 1000000
#define TMPL_OUT_MAX ((size_t)64 << 20)
#define TMPL_WORK_MAX ((uint64_t)1 << 25)
#define TMPL_FILE_MAX ((size_t)1 << 20) /* the `file` function reads at most this */

struct tmpl; /* a parsed template; immutable after parsing, may be rendered many times */

/* The data sources, provided by whoever renders (the agent's template
 * runner); called during tmpl_render. */
struct tmpl_funcs {
	void *ctx;
	/* {{ secret "path" }} (no args: a read) or {{ secret "path" "k=v" ... }}
	 * (args: a write whose body is those fields as JSON strings). path and
	 * args as written in the template (evaluated strings). On success
	 * returns 0 with *out a NEW reference to the value the template sees (an
	 * object such as {"RequestID":..., "LeaseID":..., "LeaseDuration":...,
	 * "Renewable":..., "Data":{...}, "Warnings":...}; the runner decides the
	 * shape). On failure returns a TROVE_ERR_* code with *err (heap, the
	 * renderer frees) saying why; rendering then fails with that error. NULL
	 * member: the function is refused with an error naming it. */
	int (*secret)(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out, char **err);
	/* {{ pkiCert "path" "k=v" ... }}: same contract. */
	int (*pki_cert)(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out, char **err);
};

/* The function set a template is parsed with. TMPL_CONSUL: Go's builtins
 * and consul-template's functions (Vault Agent's templates). TMPL_SPRIG:
 * Go's builtins and the sprig functions Vault Secrets Operator offers in
 * its transformation templates (docs/operator.md), and none of
 * consul-template's data sources. */
enum tmpl_dialect { TMPL_CONSUL, TMPL_SPRIG };

/* Parses text (len bytes; need not be NUL-terminated). name is used in
 * error messages ("name:line:col: why"). ldelim/rdelim: NULL means "{{" and
 * "}}". Returns 0 with *out, or TROVE_ERR_INVALID (TROVE_ERR_TOO_LARGE for a
 * text over TMPL_TEXT_MAX) with *err (heap) set. Functions that read Consul
 * or Nomad (key, service, nodes, ...) are refused here, by name. */
int tmpl_parse(const char *name, const char *text, size_t len, const char *ldelim, const char *rdelim,
               struct tmpl **out, char **err);

/* tmpl_parse with every knob (a zeroed struct is tmpl_parse's defaults);
 * the same returns. */
struct tmpl_parse_opts {
	const char *ldelim, *rdelim; /* NULL: "{{" and "}}" */
	enum tmpl_dialect dialect;
};
int tmpl_parse_opts(const char *name, const char *text, size_t len, const struct tmpl_parse_opts *o,
                    struct tmpl **out, char **err);

/* Renders t into out (appended). error_on_missing_key: a map key that is
 * absent is an error (Go's missingkey=error) instead of printing
 * "<no value>". Returns 0, or an error code with *err (heap) set; on error
 * out's content is unspecified (the caller discards it). Thread-safe for
 * distinct out buffers. */
int tmpl_render(const struct tmpl *t, const struct tmpl_funcs *f, bool error_on_missing_key, struct buf *out,
                char **err);

/* tmpl_render with every knob. A TMPL_SPRIG template renders over its own
 * deep copy of data: sprig's set, unset and merge change maps in place, as
 * Go's do, but never the caller's. */
struct tmpl_render_opts {
	json_t *data;              /* the initial dot and $ (borrowed); NULL: none */
	bool error_on_missing_key; /* as tmpl_render's */
	int64_t now_unix_ns;       /* `timestamp`'s clock; 0: the real clock */
	uint64_t work_max;         /* a lower work bound; 0: TMPL_WORK_MAX */
};
int tmpl_render_opts(const struct tmpl *t, const struct tmpl_funcs *f, const struct tmpl_render_opts *o,
                     struct buf *out, char **err);

void tmpl_free(struct tmpl *t);

#endif
