/* tmpl_builtin.c — Go text/template's own functions: not, len, index,
 * slice, print, printf, println, the comparisons, html, js, urlquery (and
 * and or, which the executor evaluates lazily). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "err.h"
#include "banned.h"

int targ_str(struct texec *e, struct tpos pos, const char *fn, json_t *v, const char **s, size_t *n)
{
	if (!v || !json_is_string(v))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: an argument of type %s, not a string",
		                  fn, v && !json_is_null(v) ? tval_type(v) : "<nil>");
	*s = json_string_value(v);
	if (n)
		*n = json_string_length(v);
	return 0;
}

int targ_int(struct texec *e, struct tpos pos, const char *fn, json_t *v, int64_t *out)
{
	if (!v || !json_is_integer(v))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: an argument of type %s, not an integer", fn,
		                  v && !json_is_null(v) ? tval_type(v) : "<nil>");
	*out = json_integer_value(v);
	return 0;
}

int tfn_give(struct texec *e, struct tpos pos, struct buf *b, int r, json_t **out)
{
	if (r) {
		buf_release_secret(b);
		return texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "value over %zu bytes", TMPL_OUT_MAX);
	}
	*out = tval_str(b->data, b->len);
	buf_release_secret(b);
	return 0;
}

static int fn_not(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos, (void)argc;
	*out = json_boolean(!tval_truth(argv[0]));
	return 0;
}

static int fn_len(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	json_t *v = argv[0];
	size_t n;
	(void)argc;
	if (json_is_string(v))
		n = json_string_length(v);
	else if (json_is_array(v))
		n = json_array_size(v);
	else if (json_is_object(v))
		n = json_object_size(v);
	else
		return texec_fail(e, pos, TROVE_ERR_INVALID, "len: type %s has no length",
		                  json_is_null(v) ? "nil" : tval_type(v));
	*out = json_integer((json_int_t)n);
	return 0;
}

/* An index argument for a list or string of length n: 0 <= i <= n. */
static int index_arg(struct texec *e, struct tpos pos, const char *fn, json_t *v, size_t n, size_t *out)
{
	if (!json_is_integer(v))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: a list is indexed by an integer, not by type %s", fn,
		                  json_is_null(v) ? "nil" : tval_type(v));
	json_int_t x = json_integer_value(v);
	if (x < 0 || (uint64_t)x > n)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: index %lld out of range", fn, (long long)x);
	*out = (size_t)x;
	return 0;
}

static int fn_index(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	json_t *item = argv[0];
	if (json_is_null(item))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "index: nothing to index (nil)");
	json_incref(item);
	for (size_t i = 1; i < argc; i++) {
		json_t *next = NULL;
		size_t x = 0;
		if (json_is_null(item)) {
			json_decref(item);
			return texec_fail(e, pos, TROVE_ERR_INVALID, "index: nothing to index (nil)");
		}
		if (json_is_array(item) || json_is_string(item)) {
			size_t n = json_is_array(item) ? json_array_size(item) : json_string_length(item);
			if (index_arg(e, pos, "index", argv[i], n, &x) != 0 || x == n) {
				json_decref(item);
				if (!e->err)
					texec_fail(e, pos, TROVE_ERR_INVALID, "index: index %zu out of range", x);
				return e->code;
			}
			next = json_is_array(item) ? json_incref(json_array_get(item, x))
			                           : json_integer((unsigned char)json_string_value(item)[x]);
		} else if (json_is_object(item)) {
			if (!json_is_string(argv[i])) {
				json_decref(item);
				return texec_fail(e, pos, TROVE_ERR_INVALID,
				                  "index: a map key is a string, not type %s",
				                  json_is_null(argv[i]) ? "nil" : tval_type(argv[i]));
			}
			next = json_object_getn(item, json_string_value(argv[i]), json_string_length(argv[i]));
			next = next ? json_incref(next) : json_null();
		} else {
			json_decref(item);
			return texec_fail(e, pos, TROVE_ERR_INVALID, "index: type %s has no elements",
			                  tval_type(argv[0]));
		}
		json_decref(item);
		item = next;
	}
	*out = item;
	return 0;
}

static int fn_slice(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	json_t *item = argv[0];
	size_t idx[3] = { 0, 0, 0 }, n;

	if (json_is_string(item)) {
		n = json_string_length(item);
		if (argc > 3)
			return texec_fail(e, pos, TROVE_ERR_INVALID, "slice: a string takes at most two indexes");
	} else if (json_is_array(item)) {
		n = json_array_size(item);
	} else {
		return texec_fail(e, pos, TROVE_ERR_INVALID, "slice: type %s cannot be sliced",
		                  json_is_null(item) ? "nil" : tval_type(item));
	}
	if (argc > 4)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "slice: %zu indexes, at most three", argc - 1);
	idx[1] = n;
	idx[2] = n;
	for (size_t i = 1; i < argc; i++) {
		int r = index_arg(e, pos, "slice", argv[i], n, &idx[i - 1]);
		if (r)
			return r;
	}
	if (argc == 4 && idx[1] > idx[2])
		return texec_fail(e, pos, TROVE_ERR_INVALID, "slice: index %zu after %zu", idx[1],
		                  idx[2]);
	if (idx[0] > idx[1])
		return texec_fail(e, pos, TROVE_ERR_INVALID, "slice: index %zu after %zu", idx[0],
		                  idx[1]);
	if (json_is_string(item)) {
		*out = tval_str(json_string_value(item) + idx[0], idx[1] - idx[0]);
		return 0;
	}
	*out = json_array();
	for (size_t i = idx[0]; i < idx[1]; i++)
		json_array_append(*out, json_array_get(item, i));
	return texec_work(e, pos, idx[1] - idx[0]);
}

/* Each argument's walk counted first (tval_walk; the sprig dialect's). */
static int walk_args(struct texec *e, struct tpos pos, json_t **argv, size_t argc)
{
	int r = 0;
	for (size_t i = 0; i < argc && !r; i++)
		r = tval_walk(e, pos, argv[i]);
	return r;
}

static int fn_print(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	struct buf b;
	int r = walk_args(e, pos, argv, argc);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	return tfn_give(e, pos, &b, tfmt_sprint(&b, argv, argc, false), out);
}

static int fn_println(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	struct buf b;
	int r = walk_args(e, pos, argv, argc);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	return tfn_give(e, pos, &b, tfmt_sprint(&b, argv, argc, true), out);
}

static int fn_printf(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *f;
	size_t n;
	struct buf b;
	int r = targ_str(e, pos, "printf", argv[0], &f, &n);
	if (!r)
		r = walk_args(e, pos, argv + 1, argc - 1);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	return tfn_give(e, pos, &b, tfmt_sprintf(&b, f, n, argv + 1, argc - 1), out);
}

/* ---- comparisons ---- */

enum kind { K_NIL, K_BOOL, K_NUM, K_STR, K_OTHER };

static enum kind kind_of(const json_t *v)
{
	if (!v || json_is_null(v))
		return K_NIL;
	if (json_is_boolean(v))
		return K_BOOL;
	if (json_is_number(v))
		return K_NUM;
	if (json_is_string(v))
		return K_STR;
	return K_OTHER;
}

/* -1, 0, 1 for two numbers. */
static int num_cmp(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);
		return x < y ? -1 : x > y;
	}
	double x = json_number_value(a), y = json_number_value(b);
	return x < y ? -1 : x > y;
}

static int str_cmp(const json_t *a, const json_t *b)
{
	size_t na = json_string_length(a), nb = json_string_length(b);
	int c = memcmp(json_string_value(a), json_string_value(b), na < nb ? na : nb);
	if (c)
		return c < 0 ? -1 : 1;
	return na < nb ? -1 : na > nb;
}

static int eq_one(struct texec *e, struct tpos pos, const char *fn, const json_t *a, const json_t *b, bool *eq)
{
	enum kind ka = kind_of(a), kb = kind_of(b);
	*eq = false;
	if (ka == K_OTHER || kb == K_OTHER)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: type %s cannot be compared", fn,
		                  tval_type(ka == K_OTHER ? a : b));
	if (ka == K_NIL || kb == K_NIL) {
		*eq = ka == kb;
		return 0;
	}
	if (ka != kb)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: cannot compare values of different types", fn);
	switch (ka) {
	case K_BOOL:
		*eq = json_is_true(a) == json_is_true(b);
		break;
	case K_NUM:
		*eq = num_cmp(a, b) == 0;
		break;
	default:
		*eq = str_cmp(a, b) == 0;
		break;
	}
	return 0;
}

static int fn_eq(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	bool eq = false;
	for (size_t i = 1; i < argc && !eq; i++) {
		int r = eq_one(e, pos, "eq", argv[0], argv[i], &eq);
		if (r)
			return r;
	}
	*out = json_boolean(eq);
	return 0;
}

static int fn_ne(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	bool eq = false;
	(void)argc;
	int r = eq_one(e, pos, "ne", argv[0], argv[1], &eq);
	if (r)
		return r;
	*out = json_boolean(!eq);
	return 0;
}

/* The order of a and b for lt, le, gt, ge. */
static int order(struct texec *e, struct tpos pos, const char *fn, const json_t *a, const json_t *b, int *c)
{
	enum kind ka = kind_of(a), kb = kind_of(b);
	if (ka == K_NIL || kb == K_NIL || ka == K_BOOL || kb == K_BOOL || ka == K_OTHER || kb == K_OTHER)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: only numbers and strings have an order", fn);
	if (ka != kb)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: cannot compare values of different types", fn);
	*c = ka == K_NUM ? num_cmp(a, b) : str_cmp(a, b);
	return 0;
}

#define ORDER_FN(name, test)                                                                         \
	static int fn_##name(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out) \
	{                                                                                                \
		int c = 0;                                                                                   \
		(void)argc;                                                                                  \
		int r = order(e, pos, #name, argv[0], argv[1], &c);                                          \
		if (r)                                                                                       \
			return r;                                                                                \
		*out = json_boolean(test);                                                                   \
		return 0;                                                                                    \
	}
ORDER_FN(lt, c < 0)
ORDER_FN(le, c <= 0)
ORDER_FN(gt, c > 0)
ORDER_FN(ge, c >= 0)

/* ---- escapers ---- */

/* Go's evalArgs: the one string argument, or fmt.Sprint of them all. */
static int args_text(json_t **argv, size_t argc, struct buf *b)
{
	if (argc == 1 && json_is_string(argv[0]))
		return buf_append(b, json_string_value(argv[0]), json_string_length(argv[0]));
	/* a nil argument reads as the string "<no value>" here */
	for (size_t i = 0; i < argc; i++)
		if (json_is_null(argv[i])) {
			json_decref(argv[i]);
			argv[i] = tval_str("<no value>", 10);
		}
	return tfmt_sprint(b, argv, argc, false);
}

static int html_byte(struct buf *b, unsigned char c)
{
	switch (c) {
	case '<': return buf_append_str(b, "&lt;");
	case '>': return buf_append_str(b, "&gt;");
	case '&': return buf_append_str(b, "&amp;");
	case '"': return buf_append_str(b, "&#34;");
	case '\'': return buf_append_str(b, "&#39;");
	case '\0': return buf_append_str(b, "\xef\xbf\xbd");
	default: return buf_append_byte(b, (char)c);
	}
}

static int js_byte(struct buf *b, unsigned char c)
{
	switch (c) {
	case '\\': return buf_append_str(b, "\\\\");
	case '\'': return buf_append_str(b, "\\'");
	case '"': return buf_append_str(b, "\\\"");
	case '<': return buf_append_str(b, "\\u003C");
	case '>': return buf_append_str(b, "\\u003E");
	case '&': return buf_append_str(b, "\\u0026");
	case '=': return buf_append_str(b, "\\u003D");
	default: return c < 0x20 ? buf_printf(b, "\\u%04X", c) : buf_append_byte(b, (char)c);
	}
}

static int url_byte(struct buf *b, unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	    c == '.' || c == '~')
		return buf_append_byte(b, (char)c);
	if (c == ' ')
		return buf_append_byte(b, '+');
	return buf_printf(b, "%%%02X", c);
}

/* html, js, urlquery: the arguments' text, each byte escaped by one. */
static int escape(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out,
                  int (*one)(struct buf *b, unsigned char c))
{
	struct buf in, b;
	int r = walk_args(e, pos, argv, argc);
	if (r)
		return r;
	buf_init_secret(&in, TMPL_OUT_MAX);
	buf_init_secret(&b, TMPL_OUT_MAX);
	r = args_text(argv, argc, &in);
	for (size_t i = 0; i < in.len && !r; i++)
		r = one(&b, (unsigned char)in.data[i]);
	buf_release_secret(&in);
	return tfn_give(e, pos, &b, r, out);
}

static int fn_html(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return escape(e, pos, argv, argc, out, html_byte);
}

static int fn_js(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return escape(e, pos, argv, argc, out, js_byte);
}

static int fn_urlquery(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return escape(e, pos, argv, argc, out, url_byte);
}

const struct tfunc tfunc_builtin[] = {
	{ "and", 1, -1, NULL },        { "or", 1, -1, NULL },         { "not", 1, 1, fn_not },
	{ "len", 1, 1, fn_len },       { "index", 1, -1, fn_index },  { "slice", 1, -1, fn_slice },
	{ "print", 0, -1, fn_print },  { "printf", 1, -1, fn_printf }, { "println", 0, -1, fn_println },
	{ "eq", 2, -1, fn_eq },        { "ne", 2, 2, fn_ne },         { "lt", 2, 2, fn_lt },
	{ "le", 2, 2, fn_le },         { "gt", 2, 2, fn_gt },         { "ge", 2, 2, fn_ge },
	{ "html", 0, -1, fn_html },    { "js", 0, -1, fn_js },        { "urlquery", 0, -1, fn_urlquery },
};
const size_t tfunc_builtin_count = sizeof(tfunc_builtin) / sizeof(tfunc_builtin[0]);
