/* username_template.h — Vault's username templates: the part of Go's
 * text/template that the `username_template` settings of engines use.
 *
 * A template is text with actions `{{ ... }}` (`{{-` and `-}}` trim the
 * white space beside them; a comment action, Go's slash-star form, is
 * skipped). An action is a
 * pipeline: commands joined by `|`, each command's value passed as the
 * last argument of the next. A command is a field (.DisplayName,
 * .RoleName), a string literal ("..." with Go's escapes, or `raw`), an
 * integer, a parenthesised pipeline, or a function with its arguments:
 *   random N, truncate N, truncate_sha256 N, uppercase, lowercase,
 *   replace OLD NEW, sha256, base64, unix_time, unix_time_millis,
 *   timestamp LAYOUT (a Go layout, UTC), uuid, printf FORMAT ARGS...
 *   (%s %v %d %%).
 * Everything else of Go's language (if, range, variables, other built-in
 * functions) is refused as unsupported.
 *
 * Bounds: a template of at most USERNAME_TEMPLATE_MAX bytes, output of at
 * most USERNAME_TEMPLATE_OUTPUT_MAX bytes, random N at most
 * USERNAME_TEMPLATE_RANDOM_MAX, parentheses nested at most 8 deep, at most
 * 16 commands in a pipeline and 16 arguments in a command, intermediate
 * values of at most 16 KiB. Every error is TROVE_ERR_INVALID with a
 * message "template: byte N: <reason>" (N 1-based into the template). */
#ifndef TROVE_USERNAME_TEMPLATE_H
#define TROVE_USERNAME_TEMPLATE_H

#include <stdint.h>

#define USERNAME_TEMPLATE_MAX 4096
#define USERNAME_TEMPLATE_OUTPUT_MAX 1024
#define USERNAME_TEMPLATE_RANDOM_MAX 1024

/* The data a template sees. NULL members read as "". */
struct username_template_vars {
	const char *display_name; /* .DisplayName */
	const char *role_name;    /* .RoleName */
};

/* Checks tmpl by running it on empty fields at the current time and
 * discarding the output: syntax, known fields and functions, argument
 * counts and types, literal bounds, and the output bound (a render with
 * long fields may still exceed it). Returns 0, or
 * TROVE_ERR_INVALID with *why a heap string (caller frees) saying where
 * and why. */
int username_template_check(const char *tmpl, char **why);

/* Runs tmpl on v: *out is a new heap string the caller frees. Returns 0,
 * TROVE_ERR_INVALID with *why (heap, caller frees) for a template that
 * fails username_template_check or whose output is over the bound, or
 * TROVE_ERR_INTERNAL (with *why) when the random generator fails. On
 * failure *out is NULL. */
int username_template_render(const char *tmpl, const struct username_template_vars *v, char **out,
                             char **why);

/* username_template_render at a given time (nanoseconds since the epoch)
 * instead of the clock's: for tests that check unix_time and timestamp. */
int username_template_render_at(const char *tmpl, const struct username_template_vars *v, int64_t now_ns,
                                char **out, char **why);

#endif
