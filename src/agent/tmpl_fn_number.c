/* tmpl_fn_number.c — consul-template's number functions: parseInt,
 * parseUint, parseFloat, parseBool, the arithmetic in its argument order,
 * and loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "err.h"
#include "strconv.h"
#include "banned.h"

static int fn_parse_int(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t v = 0;
	TFN_STR1("parseInt");
	char *t = xstrndup(s, n);
	bool ok = n == 0 || (strlen(t) == n && strconv_int64(t, &v));
	free(t);
	if (!ok)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "parseInt: parsing \"%.*s\": invalid syntax",
		                  (int)(n > 64 ? 64 : n), s);
	*out = json_integer(v);
	return 0;
}

static int fn_parse_uint(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t v = 0;
	TFN_STR1("parseUint");
	char *t = xstrndup(s, n);
	bool ok = n == 0 || (strlen(t) == n && t[0] != '-' && t[0] != '+' && strconv_int64(t, &v));
	free(t);
	if (!ok)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "parseUint: parsing \"%.*s\": invalid syntax",
		                  (int)(n > 64 ? 64 : n), s);
	*out = json_integer(v);
	return 0;
}

static int fn_parse_float(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	double d = 0;
	TFN_STR1("parseFloat");
	if (n > 0) {
		char *t = xstrndup(s, n), *end = NULL;
		errno = 0;
		d = strtod(t, &end);
		bool ok = strlen(t) == n && !strchr(" \t\n\r\v\f", t[0]) && end && *end == '\0' && end != t &&
		          errno != ERANGE;
		free(t);
		if (!ok)
			return texec_fail(e, pos, TROVE_ERR_INVALID, "parseFloat: parsing \"%.*s\": invalid syntax",
			                  (int)(n > 64 ? 64 : n), s);
	}
	*out = json_real(d);
	return 0;
}

static int fn_parse_bool(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	bool v = false;
	TFN_STR1("parseBool");
	char *t = xstrndup(s, n);
	bool ok = n == 0 || (strlen(t) == n && strconv_bool(t, &v));
	free(t);
	if (!ok)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "parseBool: parsing \"%.*s\": invalid syntax",
		                  (int)(n > 64 ? 64 : n), s);
	*out = json_boolean(v);
	return 0;
}

/* ---- math: consul-template's argument order, `{{ 7 | subtract 2 }}` is 5 ---- */

enum op { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_MIN, OP_MAX };
static const char *const op_names[] = { "add", "subtract", "multiply", "divide", "modulo", "minimum", "maximum" };

static int math(struct texec *e, struct tpos pos, enum op op, json_t *bv, json_t *av, json_t **out)
{
	const char *fn = op_names[op];
	if (!json_is_number(av) || !json_is_number(bv)) {
		json_t *bad = json_is_number(av) ? bv : av;
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: unknown type %s", fn,
		                  json_is_null(bad) ? "<nil>" : tval_type(bad));
	}
	if (json_is_integer(av) && json_is_integer(bv)) {
		uint64_t a = (uint64_t)json_integer_value(av), b = (uint64_t)json_integer_value(bv);
		int64_t sa = json_integer_value(av), sb = json_integer_value(bv);
		switch (op) {
		case OP_ADD: *out = json_integer((json_int_t)(a + b)); return 0; /* wraps, as Go's int64 */
		case OP_SUB: *out = json_integer((json_int_t)(a - b)); return 0;
		case OP_MUL: *out = json_integer((json_int_t)(a * b)); return 0;
		case OP_DIV:
		case OP_MOD:
			if (sb == 0)
				return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: integer divide by zero", fn);
			if (sb == -1) /* INT64_MIN / -1 wraps in Go */
				*out = json_integer(op == OP_DIV ? (json_int_t)(0 - a) : 0);
			else
				*out = json_integer(op == OP_DIV ? sa / sb : sa % sb);
			return 0;
		case OP_MIN: *out = json_integer(sa < sb ? sa : sb); return 0;
		case OP_MAX: *out = json_integer(sa > sb ? sa : sb); return 0;
		}
	}
	if (op == OP_MOD)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "modulo: unknown type float64");
	double a = json_number_value(av), b = json_number_value(bv);
	switch (op) {
	case OP_ADD: *out = json_real(a + b); break;
	case OP_SUB: *out = json_real(a - b); break;
	case OP_MUL: *out = json_real(a * b); break;
	case OP_DIV: *out = json_real(a / b); break;
	case OP_MIN: *out = json_real(a < b ? a : b); break;
	default: *out = json_real(a > b ? a : b); break;
	}
	if (!*out) /* jansson holds no NaN or infinity */
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: result is not a finite number", fn);
	return 0;
}

#define MATH_FN(name, op)                                                                             \
	static int fn_##name(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out) \
	{                                                                                                 \
		(void)argc;                                                                                   \
		return math(e, pos, op, argv[0], argv[1], out);                                               \
	}
MATH_FN(add, OP_ADD)
MATH_FN(subtract, OP_SUB)
MATH_FN(multiply, OP_MUL)
MATH_FN(divide, OP_DIV)
MATH_FN(modulo, OP_MOD)
MATH_FN(minimum, OP_MIN)
MATH_FN(maximum, OP_MAX)

/* loop N or loop START END: the integers in [START, END). */
static int fn_loop(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t from = 0, to = 0;
	int r = targ_int(e, pos, "loop", argv[0], argc == 1 ? &to : &from);
	if (!r && argc == 2)
		r = targ_int(e, pos, "loop", argv[1], &to);
	if (r)
		return r;
	if (to > from && (uint64_t)to - (uint64_t)from > TMPL_RANGE_MAX)
		return texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "loop: more than %d items", TMPL_RANGE_MAX);
	*out = json_array();
	for (int64_t i = from; i < to; i++)
		json_array_append_new(*out, json_integer(i));
	return texec_work(e, pos, to > from ? (uint64_t)(to - from) : 0);
}

const struct tfunc tfunc_number[] = {
	{ "parseInt", 1, 1, fn_parse_int },
	{ "parseUint", 1, 1, fn_parse_uint },
	{ "parseFloat", 1, 1, fn_parse_float },
	{ "parseBool", 1, 1, fn_parse_bool },
	{ "add", 2, 2, fn_add },
	{ "subtract", 2, 2, fn_subtract },
	{ "multiply", 2, 2, fn_multiply },
	{ "divide", 2, 2, fn_divide },
	{ "modulo", 2, 2, fn_modulo },
	{ "minimum", 2, 2, fn_minimum },
	{ "maximum", 2, 2, fn_maximum },
	{ "loop", 1, 2, fn_loop },
};
const size_t tfunc_number_count = sizeof(tfunc_number) / sizeof(tfunc_number[0]);
