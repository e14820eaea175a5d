/* tmpl_int.h — the parts of the template language shared between its
 * files: the lexer (tmpl_lex.c), the tree the parser (tmpl_parse.c) builds
 * and the executor (tmpl_exec.c) walks, the function table (tmpl_builtin.c,
 * tmpl_funcs.c), value printing (tmpl_fmt.c) and encoders (tmpl_json.c,
 * tmpl_yaml.c, tmpl_time.c). Not a contract outside src/agent/tmpl*.c.
 *
 * Values are jansson values; a NULL json_t * is Go's invalid value ("no
 * value": a missing map key), json_null() is Go's nil. Every function that
 * gives a value gives a new reference (or NULL). */
#ifndef TROVE_AGENT_TMPL_INT_H
#define TROVE_AGENT_TMPL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/tmpl.h"
#include "buf.h"

/* ---- lexer ---- */

enum ttok {
	TK_EOF,
	TK_ERROR,
	TK_TEXT,
	TK_LDELIM,
	TK_RDELIM,
	TK_IDENT,
	TK_FIELD,    /* ".Name" (text without the dot) */
	TK_VAR,      /* "$" or "$name" (text with the $) */
	TK_STRING,   /* quoted or raw: text is the unquoted value */
	TK_CHAR,     /* 'x': num holds the code point */
	TK_NUMBER,   /* text as written */
	TK_BOOL,
	TK_NIL,
	TK_DOT,
	TK_DECLARE,  /* := */
	TK_ASSIGN,   /* = */
	TK_PIPE,
	TK_LPAREN,
	TK_RPAREN,
	TK_COMMA,
	/* keywords */
	TK_BLOCK,
	TK_BREAK,
	TK_CONTINUE,
	TK_DEFINE,
	TK_ELSE,
	TK_END,
	TK_IF,
	TK_RANGE,
	TK_TEMPLATE,
	TK_WITH,
};

struct tpos {
	uint32_t line, col; /* 1-based; col counts bytes */
};

struct ttoken {
	enum ttok kind;
	struct tpos pos;
	const char *p; /* into the text (TEXT, IDENT, FIELD, VAR, NUMBER, BOOL) */
	size_t n;
	char *str;     /* TK_STRING: the unquoted value (heap; the taker frees) */
	size_t str_len;
	int64_t num;   /* TK_CHAR */
	char *why;     /* TK_ERROR (heap) */
	bool space_before; /* blanks came before it inside an action */
};

/* A lexer is a small value: copying it saves a position to come back to. */
struct tlexer {
	const char *text;
	size_t len, pos;
	uint32_t line;
	size_t line_start;
	const char *ld, *rd;
	size_t ld_len, rd_len;
	bool in_action;
	bool trim_next;   /* the last action ended with " -": skip leading blanks */
	int parens;
};

void tlex_init(struct tlexer *l, const char *text, size_t len, const char *ld, const char *rd);
/* The next token; a TK_STRING's str and a TK_ERROR's why are the caller's. */
void tlex_next(struct tlexer *l, struct ttoken *t);
void ttoken_clear(struct ttoken *t);

/* ---- tree ---- */

enum targ_kind { TA_FIELD, TA_VAR, TA_CHAIN, TA_IDENT, TA_DOT, TA_NIL, TA_LIT, TA_PIPE };

struct tpipe;

struct targ {
	enum targ_kind kind;
	struct tpos pos;
	char *name;           /* TA_VAR ("$x"), TA_IDENT (function name) */
	int fn;               /* TA_IDENT: index in tfunc_table */
	char **idents;        /* TA_FIELD, TA_VAR, TA_CHAIN: the fields after */
	size_t nidents;
	json_t *lit;          /* TA_LIT: a string, number or bool */
	struct tpipe *pipe;   /* TA_PIPE */
	struct targ *base;    /* TA_CHAIN: what the fields apply to */
};

struct tcmd {
	struct tpos pos;
	struct targ **args;
	size_t nargs;
};

struct tpipe {
	struct tpos pos;
	char **decl; /* variables declared or assigned ("$x") */
	size_t ndecl;
	bool is_assign;
	struct tcmd **cmds;
	size_t ncmds;
};

enum tnode_kind { TN_TEXT, TN_ACTION, TN_IF, TN_WITH, TN_RANGE, TN_TEMPLATE, TN_BREAK, TN_CONTINUE };

struct tlist;

struct tnode {
	enum tnode_kind kind;
	struct tpos pos;
	char *text; /* TN_TEXT (len bytes); TN_TEMPLATE: the template's name */
	size_t len;
	struct tpipe *pipe;             /* ACTION, IF, WITH, RANGE, TEMPLATE (may be NULL) */
	struct tlist *list, *else_list; /* IF, WITH, RANGE */
};

struct tlist {
	struct tnode **nodes;
	size_t n;
};

struct tdef {
	char *name;
	struct tlist *root;
};

struct tmpl {
	char *name;
	struct tlist *root;
	struct tdef *defs;
	size_t ndefs;
	enum tmpl_dialect dialect;
};

void tlist_free(struct tlist *l);
void tpipe_free(struct tpipe *p);

/* ---- execution ---- */

struct tvar {
	const char *name; /* borrowed from the tree ("$" is static) */
	json_t *val;      /* owned; NULL: no value */
};

enum tflow { TF_NONE, TF_BREAK, TF_CONTINUE };

struct texec {
	const struct tmpl *t;
	const struct tmpl_funcs *f;
	bool missing_err;
	int64_t now_ns;
	struct buf *out;
	size_t out_start;
	struct tvar *vars;
	size_t nvars, vars_cap;
	int depth;
	uint64_t work;
	uint64_t work_max;
	enum tflow flow;
	const char *tname; /* the template being executed, for messages */
	json_t *held;      /* TMPL_SPRIG: maps and lists held to the end (tval_hold) */
	uint64_t slots;    /* TMPL_SPRIG: elements of the maps and lists made */
	int code;          /* the first failure */
	char *err;         /* its message (heap) */
};

/* Records the first failure, "name:line:col: why", and returns code. */
int texec_fail(struct texec *e, struct tpos pos, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Counts n units of work; past TMPL_WORK_MAX a failure at pos. */
int texec_work(struct texec *e, struct tpos pos, uint64_t n);

/* A string value of n bytes (any bytes; jansson's check is skipped). */
json_t *tval_str(const char *s, size_t n);
/* Go's type name of v, for messages: string, int, float64, bool,
 * []interface {}, map[string]interface {}, <nil>, or "invalid value". */
const char *tval_type(const json_t *v);
/* Values nest at most this deep where the renderer walks them (printing,
 * JSON, copies, comparisons): past it, an error, never a deep recursion. */
#define TVAL_DEPTH_MAX 4096

/* The sprig dialect's maps change in place, as Go's, so the values a
 * template builds can nest without bound and even hold themselves. Every
 * map or list a function puts into another (an argument of dict, list, set,
 * append..., a value merge copies in) is held here until rendering ends,
 * when each held one is emptied before it is released: every chain such
 * links make is cut, and nothing is ever freed by a deep recursion (what
 * is not held nests only as the data, fromJson or deepCopy made it, at
 * most TVAL_DEPTH_MAX deep). v may be any value (only maps and lists are
 * held) or NULL. Returns v. */
json_t *tval_hold(struct texec *e, json_t *v);

/* In the sprig dialect, v's nodes counted as work before v is walked
 * (printed, encoded): the same map can be reached down many paths, so a
 * walk can be far longer than the value is big. Fails past the work bound
 * or TVAL_DEPTH_MAX; 0 at once in the consul dialect, or for a scalar. */
int tval_walk(struct texec *e, struct tpos pos, const json_t *v);

/* The sprig dialect's memory bound: the maps and lists functions make
 * hold at most this many elements in all in one rendering (a new map or
 * list counts 8), past it an error. */
#define TMPL_SLOTS_MAX ((uint64_t)1 << 20)
int tval_slots(struct texec *e, struct tpos pos, uint64_t n);

/* Go's truth: false for no value, nil, false, 0, "", and an empty list or
 * map. */
bool tval_truth(const json_t *v);

/* ---- functions ---- */

typedef int (*tfn)(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out);

struct tfunc {
	const char *name;
	int min, max; /* argument counts; max -1: any */
	tfn fn;       /* NULL for and/or, which the executor evaluates lazily */
};

/* The index of name among dialect d's functions, or -1; *refused set
 * (static text) when it is a function Trove refuses in that dialect, and
 * why. */
int tfunc_lookup(enum tmpl_dialect d, const char *name, size_t n, const char **refused);
const struct tfunc *tfunc_get(int i);

/* The function tables: Go's builtins (tmpl_builtin.c), consul-template's
 * sources, env, file and timestamp (tmpl_funcs.c), encoders
 * (tmpl_fn_codec.c), strings (tmpl_fn_string.c) and numbers
 * (tmpl_fn_number.c). tfunc_lookup numbers them in that order. */
extern const struct tfunc tfunc_builtin[];
extern const size_t tfunc_builtin_count;
extern const struct tfunc tfunc_ct[];
extern const size_t tfunc_ct_count;
extern const struct tfunc tfunc_codec[];
extern const size_t tfunc_codec_count;
extern const struct tfunc tfunc_string[];
extern const size_t tfunc_string_count;
extern const struct tfunc tfunc_number[];
extern const size_t tfunc_number_count;
/* The sprig dialect's own: flow, types and numbers (tmpl_fn_sprig.c),
 * strings (tmpl_fn_sprig_str.c), encodings and hashes
 * (tmpl_fn_sprig_codec.c), maps and lists (tmpl_fn_sprig_coll.c), regular
 * expressions (tmpl_fn_sprig_re.c), paths (tmpl_fn_sprig_path.c). */
extern const struct tfunc tfunc_sprig[];
extern const size_t tfunc_sprig_count;
extern const struct tfunc tfunc_sprig_str[];
extern const size_t tfunc_sprig_str_count;
extern const struct tfunc tfunc_sprig_codec[];
extern const size_t tfunc_sprig_codec_count;
extern const struct tfunc tfunc_sprig_coll[];
extern const size_t tfunc_sprig_coll_count;
extern const struct tfunc tfunc_sprig_re[];
extern const size_t tfunc_sprig_re_count;
extern const struct tfunc tfunc_sprig_path[];
extern const size_t tfunc_sprig_path_count;

/* Argument helpers: the string in v (borrowed), or a failure naming fn
 * and the value's type. */
int targ_str(struct texec *e, struct tpos pos, const char *fn, json_t *v, const char **s, size_t *n);
int targ_int(struct texec *e, struct tpos pos, const char *fn, json_t *v, int64_t *out);
/* The one string argument (the last) of a function, in s and n; returns
 * from the function when it is not a string. */
#define TFN_STR1(fn)                                              \
	const char *s;                                                \
	size_t n;                                                     \
	(void)argc;                                                   \
	int r = targ_str(e, pos, fn, argv[argc - 1], &s, &n);         \
	if (r)                                                        \
	return r
/* A function's string result made in b (r: how making it went), handed
 * over as *out; b is released either way. */
int tfn_give(struct texec *e, struct tpos pos, struct buf *b, int r, json_t **out);
/* s[0..n) without the blanks Go's strings.TrimSpace drops (ASCII). */
void tfn_trim_space(const char **s, size_t *n);
/* Shared by both dialects, fn naming the function in messages:
 * strings.Replace(s, old, new, -1) of argv (old, new, s); strings.TrimPrefix
 * and TrimSuffix of argv (affix, s); ASCII case mapping of v (mode 0 lower,
 * 1 upper, 2 title with an apostrophe inside a word, 3 Go's strings.Title:
 * every byte but a letter, digit or underscore starts a word, 4 swapped). */
int tfn_replace(struct texec *e, struct tpos pos, const char *fn, json_t **argv, json_t **out);
int tfn_trim_affix(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool suffix, json_t **out);
int tfn_case_map(struct texec *e, struct tpos pos, const char *fn, json_t *v, int mode, json_t **out);
/* Standard base64 of s[0..n) as a string value; its decoding (Go's
 * decoder: padded, line breaks skipped; url: the URL alphabet), or NULL
 * when s is not base64. */
json_t *tfn_b64_encode(const char *s, size_t n, bool url);
json_t *tfn_b64_decode(const char *s, size_t n, bool url);

/* ---- the sprig dialect's helpers (tmpl_fn_sprig.c) ---- */

/* Go's fmt %v of v (sprig's strval) into b: a string as it is, nil as
 * "<nil>". 0, or an error (recorded when it is the work bound: tval_walk)
 * past the output, work or depth bound. */
int tsprig_strval(struct texec *e, struct tpos pos, struct buf *b, const json_t *v);
/* spf13/cast's ToInt64 and ToFloat64, as sprig converts numbers: numbers,
 * booleans and numeric strings; anything else is 0. */
int64_t tsprig_int64(const json_t *v);
double tsprig_float64(const json_t *v);
/* reflect.DeepEqual of two values; *eq set, or a failure past
 * TVAL_DEPTH_MAX. */
int tsprig_equal(struct texec *e, struct tpos pos, const json_t *a, const json_t *b, bool *eq);
/* An int argument (Go's int parameter): an integer value, else a failure
 * naming fn and which argument (1-based). */
int tsprig_int_arg(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t i, int64_t *out);
/* A string argument, likewise. */
int tsprig_str_arg(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t i, const char **s,
                   size_t *n);

/* ---- printing (tmpl_fmt.c) ---- */

/* Go's fmt %v of v into b; top: a no-value or nil prints "<no value>"
 * (what an action prints), else "<nil>". Fails past TVAL_DEPTH_MAX. */
int tfmt_value(struct buf *b, const json_t *v, bool top);
/* fmt.Sprint (ln false) or fmt.Sprintln (ln true) of the args. */
int tfmt_sprint(struct buf *b, json_t **argv, size_t argc, bool ln);
/* fmt.Sprintf. */
int tfmt_sprintf(struct buf *b, const char *fmt, size_t fmt_len, json_t **argv, size_t argc);
/* Go's fmt %v of a float64 into out[cap] (its length; 0 when cap is too
 * small): the shortest digits that read back, in %e form when the exponent
 * is below -4 or from 6 on (strconv's 'g' with the
 * shortest precision: 1e+06, 123456). */
size_t tfmt_float(double d, char *out, size_t cap);
/* The shortest decimal digits of d (finite, > 0) that read back as d, and
 * the decimal exponent of the first one; returns how many digits. */
int tfmt_shortest(double d, char digits[32], int *exp10);
/* Those digits written out without an exponent ("0.00012", "1500"). */
int tfmt_fixed(struct buf *b, const char *digits, int nd, int exp10);
/* r as UTF-8 (U+FFFD for a surrogate or past U+10FFFF). */
void tfmt_put_rune(struct buf *b, uint32_t r);
/* strconv.Quote of s into b. */
int tfmt_quote(struct buf *b, const char *s, size_t n);

/* ---- encoders ---- */

/* Go's encoding/json Marshal (indent false) or MarshalIndent(v, "", "  "):
 * keys sorted, invalid UTF-8 as U+FFFD, and with html <, > and & escaped
 * (json.Marshal's default; toUnescapedJSON turns it off). 0 or an error
 * code with *why static. */
int tjson_encode(struct buf *b, const json_t *v, bool indent, bool html, const char **why);
/* gopkg.in/yaml.v2 Marshal, trimmed of surrounding space. */
int tyaml_encode(struct buf *b, const json_t *v, const char **why);
/* Go's time.Format(layout) of t (Unix nanoseconds, UTC). */
int ttime_format(struct buf *b, int64_t ns, const char *layout, size_t n);

#endif
