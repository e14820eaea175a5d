/* yaml_read.h — YAML text to a jansson value.
 *
 * The YAML that configuration files are written in (kubeconfig files and
 * the like), read into the same values a JSON body gives:
 *   - block mappings and sequences by indentation (spaces only), "- "
 *     items including compact "- key: value" maps, a sequence as a
 *     mapping's value at the key's own indentation;
 *   - flow collections ([a, b], {k: v}), which may span lines;
 *   - plain scalars (multi-line ones folded), single-quoted ('' is a
 *     quote) and double-quoted with YAML's escapes (\n \t \x41 \u00e9
 *     \U0001F600 \N \_ \L \P, escaped line breaks);
 *   - literal (|) and folded (>) block scalars with chomping (+ -) and an
 *     indentation indicator;
 *   - comments; a leading "---" (only the first document is read; a
 *     second "---" or "..." ends it).
 * Plain scalars are typed by the YAML 1.2 core schema (null ~ true false
 * 12 0x1f 0o17 1.5e3) unless YAML_READ_STRINGS keeps every scalar a string
 * (an empty value is null either way); quoted scalars are strings, and
 * keys are always strings as written ("1: a" gives the key "1", "False"
 * and "false" are two keys).
 *
 * Refused with a reason, never guessed at: anchors, aliases, tags, merge
 * keys ("<<"), explicit "? " keys, directives, tabs in indentation,
 * duplicate keys, invalid UTF-8, nesting deeper than YAML_READ_MAX_DEPTH.
 * Reading is linear in the input; the caller bounds the input's size. */
#ifndef TROVE_YAML_READ_H
#define TROVE_YAML_READ_H

#include <stddef.h>

#include <jansson.h>

#define YAML_READ_STRINGS 1u /* every non-empty scalar a string */
#define YAML_READ_MAX_DEPTH 64

/* Reads n bytes of YAML at text (need not be NUL-terminated), at most
 * max_bytes. Returns 0 with *out (a new reference; an empty document is
 * JSON null), or with *err (heap, "line L, column C: reason", the caller
 * frees) TROVE_ERR_INVALID for bad YAML or TROVE_ERR_TOO_LARGE when n
 * passes max_bytes. */
int yaml_read(const char *text, size_t n, size_t max_bytes, unsigned flags, json_t **out, char **err);

#endif
