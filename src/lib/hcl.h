/* hcl.h — a parser for HCL version 1 (the syntax of Vault's server config
 * and ACL policies) and for the equivalent JSON form, into one tree.
 *
 * Supported HCL: comments (#, // and slash-star block comments), `key = value`, blocks
 * `name "label" ... { ... }` (labels may be bare identifiers or strings),
 * `key = { ... }` and `key { ... }`, strings with escapes (\" \\ \n \t \r
 * \uXXXX), heredocs (<<EOF and <<-EOF), integers, floats, true/false,
 * lists `[a, b,]` that may span lines. Keys may be quoted.
 *
 * The tree keeps order and duplicates: an object is a list of members, each
 * with a key, optional labels and a value, plus the line it started on, so a
 * config reader can report file:line for any error and decide itself whether
 * a repeated key is allowed (listener blocks repeat; most keys do not).
 *
 * JSON input (hcl_parse_json) maps onto the same tree: objects become
 * members without labels (line numbers are approximate: jansson gives the
 * position of errors only, so members get line 0). As in HCL1's JSON reader,
 * a member whose value is a non-empty array of objects becomes one member
 * per element (`"listener": [{...}, {...}]` reads as two listener members).
 * Duplicate keys in one JSON object and null values are errors. Callers that accept both
 * forms treat `{"listener": {"tcp": {...}}}` as the block `listener "tcp"`;
 * hcl_member_block() below does that unfolding for them.
 *
 * Limits: input up to HCL_MAX_INPUT bytes, nesting depth HCL_MAX_DEPTH.
 * Parsers take pointer+length and never read past the end. */
#ifndef TROVE_HCL_H
#define TROVE_HCL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HCL_MAX_INPUT ((size_t)16 << 20)
#define HCL_MAX_DEPTH 64

enum hcl_type { HCL_OBJECT, HCL_LIST, HCL_STRING, HCL_INT, HCL_FLOAT, HCL_BOOL };

struct hcl_member;

struct hcl_value {
	enum hcl_type type;
	int line;
	union {
		struct {
			struct hcl_member *members;
			size_t len;
		} object;
		struct {
			struct hcl_value **items;
			size_t len;
		} list;
		struct {
			char *ptr; /* NUL-terminated; may contain no NUL inside */
			size_t len;
		} string;
		int64_t i;
		double f;
		bool b;
	} u;
};

struct hcl_member {
	char *key;
	char **labels; /* block labels, outermost first */
	size_t nlabels;
	struct hcl_value *value;
	int line;
};

struct hcl_error {
	int line; /* 1-based; 0 when unknown */
	int column;
	char message[160];
};

/* Parses HCL text. On success *out is an HCL_OBJECT owned by the caller
 * (free with hcl_free). On failure returns TROVE_ERR_INVALID (or
 * TROVE_ERR_TOO_LARGE) and fills err. */
int hcl_parse(const char *text, size_t len, struct hcl_value **out, struct hcl_error *err);
/* Parses JSON text into the same tree (the top level must be an object). */
int hcl_parse_json(const char *text, size_t len, struct hcl_value **out, struct hcl_error *err);
void hcl_free(struct hcl_value *v);

/* For a member whose value is an object holding a block's body, returns
 * its label (HCL `storage "lmdb" {..}`) and body. For JSON-shaped input
 * (`storage = { lmdb = {..} }` or `"storage": {"lmdb": {...}}`) with no
 * labels, unfolds one level: the single inner key is the label and its
 * value the body. Returns 0 or TROVE_ERR_INVALID with err filled. */
int hcl_member_block(const struct hcl_member *m, const char **label, const struct hcl_value **body,
		     struct hcl_error *err);

const char *hcl_type_name(enum hcl_type t);

#endif
