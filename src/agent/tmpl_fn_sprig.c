/* tmpl_fn_sprig.c — the sprig dialect's shared helpers (Go's value
 * conversions as sprig makes them) and its flow, type and number functions:
 * default, empty, coalesce, all, any, ternary, fail, toString, the type
 * tests, deepEqual, integer and float arithmetic, until, untilStep, seq. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "err.h"
#include "banned.h"

/* ---- helpers ---- */

static const char *type_of(const json_t *v)
{
	return v && !json_is_null(v) ? tval_type(v) : "<nil>";
}

int tsprig_int_arg(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t i, int64_t *out)
{
	if (!json_is_integer(argv[i]))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: argument %zu is of type %s, not int", fn,
		                  i + 1, type_of(argv[i]));
	*out = json_integer_value(argv[i]);
	return 0;
}

int tsprig_str_arg(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t i, const char **s,
                   size_t *n)
{
	if (!json_is_string(argv[i]))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: argument %zu is of type %s, not string", fn,
		                  i + 1, type_of(argv[i]));
	*s = json_string_value(argv[i]);
	if (n)
		*n = json_string_length(argv[i]);
	return 0;
}

int tsprig_strval(struct texec *e, struct tpos pos, struct buf *b, const json_t *v)
{
	int r = tval_walk(e, pos, v);
	return r ? r : tfmt_value(b, v, false);
}

/* A string value as a NUL-terminated copy, or NULL when it holds a NUL. */
static char *cstr(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (memchr(s, '\0', n))
		return NULL;
	return xstrndup(s, n);
}

int64_t tsprig_int64(const json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d >= 9223372036854775807.0)
			return INT64_MAX;
		if (d <= -9223372036854775808.0)
			return INT64_MIN;
		return (int64_t)d;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? 1 : 0;
	if (!json_is_string(v))
		return 0;
	char *t = cstr(v), *end = NULL;
	int64_t x = 0;
	if (t) {
		/* cast's trimZeroDecimal: "12.00" reads as 12 */
		char *dot = strrchr(t, '.');
		if (dot && dot[1] && strspn(dot + 1, "0") == strlen(dot + 1))
			*dot = '\0';
		errno = 0;
		if (t[0] && !strchr(" \t\n\r\v\f", t[0])) {
			long long y = strtoll(t, &end, 0);
			if (errno == 0 && end && *end == '\0')
				x = y;
		}
		free(t);
	}
	return x;
}

double tsprig_float64(const json_t *v)
{
	if (json_is_number(v))
		return json_number_value(v);
	if (json_is_boolean(v))
		return json_is_true(v) ? 1 : 0;
	if (!json_is_string(v))
		return 0;
	char *t = cstr(v), *end = NULL;
	double d = 0;
	if (t) {
		errno = 0;
		if (t[0] && !strchr(" \t\n\r\v\f", t[0])) {
			double y = strtod(t, &end);
			if (errno == 0 && end && *end == '\0' && isfinite(y))
				d = y;
		}
		free(t);
	}
	return d;
}

static int equal_at(struct texec *e, struct tpos pos, const json_t *a, const json_t *b, int depth, bool *eq)
{
	*eq = false;
	if (depth > TVAL_DEPTH_MAX)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "values nest deeper than %d", TVAL_DEPTH_MAX);
	int r = texec_work(e, pos, 1);
	if (r)
		return r;
	if (a == b && a) { /* the same map or list: Go's DeepEqual says so at once */
		*eq = true;
		return 0;
	}
	if (!a || json_is_null(a) || !b || json_is_null(b)) {
		*eq = (!a || json_is_null(a)) && (!b || json_is_null(b));
		return 0;
	}
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_STRING:
		*eq = json_string_length(a) == json_string_length(b) &&
		      memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
		return 0;
	case JSON_INTEGER:
		*eq = json_integer_value(a) == json_integer_value(b);
		return 0;
	case JSON_REAL:
		*eq = json_real_value(a) == json_real_value(b);
		return 0;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++)
			if ((r = equal_at(e, pos, json_array_get(a, i), json_array_get(b, i), depth + 1,
			                  eq)) != 0 ||
			    !*eq)
				return r;
		*eq = true;
		return 0;
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, k, x)
		{
			json_t *y = json_object_get(b, k);
			if (!y)
				return 0;
			if ((r = equal_at(e, pos, x, y, depth + 1, eq)) != 0 || !*eq)
				return r;
		}
		*eq = true;
		return 0;
	}
	default: /* true, false */
		*eq = true;
		return 0;
	}
}

int tsprig_equal(struct texec *e, struct tpos pos, const json_t *a, const json_t *b, bool *eq)
{
	return equal_at(e, pos, a, b, 0, eq);
}

/* ---- defaults and flow ---- */

static int fn_default(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos;
	*out = json_incref(argc < 2 || !tval_truth(argv[1]) ? argv[0] : argv[1]);
	return 0;
}

static int fn_empty(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos, (void)argc;
	*out = json_boolean(!tval_truth(argv[0]));
	return 0;
}

static int fn_coalesce(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos;
	for (size_t i = 0; i < argc; i++)
		if (tval_truth(argv[i])) {
			*out = json_incref(argv[i]);
			return 0;
		}
	*out = json_null();
	return 0;
}

static int fn_all(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos;
	bool all = true;
	for (size_t i = 0; i < argc && all; i++)
		all = tval_truth(argv[i]);
	*out = json_boolean(all);
	return 0;
}

static int fn_any(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos;
	bool any = false;
	for (size_t i = 0; i < argc && !any; i++)
		any = tval_truth(argv[i]);
	*out = json_boolean(any);
	return 0;
}

static int fn_ternary(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	if (!json_is_boolean(argv[2]))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "ternary: argument 3 is of type %s, not bool",
		                  type_of(argv[2]));
	*out = json_incref(json_is_true(argv[2]) ? argv[0] : argv[1]);
	return 0;
}

static int fn_fail(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *s;
	size_t n;
	(void)argc, (void)out;
	int r = tsprig_str_arg(e, pos, "fail", argv, 0, &s, &n);
	if (r)
		return r;
	return texec_fail(e, pos, TROVE_ERR_INVALID, "error calling fail: %.*s", (int)(n > 4096 ? 4096 : n),
	                  s);
}

static int fn_to_string(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	struct buf b;
	(void)argc;
	buf_init_secret(&b, TMPL_OUT_MAX);
	return tfn_give(e, pos, &b, tsprig_strval(e, pos, &b, argv[0]), out);
}

/* ---- types ---- */

static const char *kind_of(const json_t *v)
{
	if (!v || json_is_null(v))
		return "invalid";
	if (json_is_array(v))
		return "slice";
	if (json_is_object(v))
		return "map";
	return tval_type(v);
}

static int name_is(struct texec *e, struct tpos pos, const char *fn, json_t **argv, const char *have,
                   bool ptr, json_t **out)
{
	const char *s;
	size_t n;
	int r = tsprig_str_arg(e, pos, fn, argv, 0, &s, &n);
	if (r)
		return r;
	bool is = strlen(have) == n && memcmp(s, have, n) == 0;
	if (!is && ptr && n == strlen(have) + 1 && s[0] == '*') /* typeIsLike: T or *T */
		is = memcmp(s + 1, have, n - 1) == 0;
	*out = json_boolean(is);
	return 0;
}

static int fn_kind_of(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos, (void)argc;
	const char *k = kind_of(argv[0]);
	*out = tval_str(k, strlen(k));
	return 0;
}

static int fn_kind_is(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return name_is(e, pos, "kindIs", argv, kind_of(argv[1]), false, out);
}

static int fn_type_of(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos, (void)argc;
	const char *t = type_of(argv[0]);
	*out = tval_str(t, strlen(t));
	return 0;
}

static int fn_type_is(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return name_is(e, pos, "typeIs", argv, type_of(argv[1]), false, out);
}

static int fn_type_is_like(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return name_is(e, pos, "typeIsLike", argv, type_of(argv[1]), true, out);
}

static int fn_deep_equal(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	bool eq = false;
	(void)argc;
	int r = tsprig_equal(e, pos, argv[0], argv[1], &eq);
	if (!r)
		*out = json_boolean(eq);
	return r;
}

/* ---- integers: every argument through cast.ToInt64, Go's wrapping ---- */

static int fn_add(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	uint64_t sum = 0;
	(void)e, (void)pos;
	for (size_t i = 0; i < argc; i++)
		sum += (uint64_t)tsprig_int64(argv[i]);
	*out = json_integer((json_int_t)sum);
	return 0;
}

static int fn_add1(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos, (void)argc;
	*out = json_integer((json_int_t)((uint64_t)tsprig_int64(argv[0]) + 1));
	return 0;
}

static int fn_sub(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos, (void)argc;
	*out = json_integer((json_int_t)((uint64_t)tsprig_int64(argv[0]) - (uint64_t)tsprig_int64(argv[1])));
	return 0;
}

static int fn_mul(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	uint64_t p = (uint64_t)tsprig_int64(argv[0]);
	(void)e, (void)pos;
	for (size_t i = 1; i < argc; i++)
		p *= (uint64_t)tsprig_int64(argv[i]);
	*out = json_integer((json_int_t)p);
	return 0;
}

static int divmod(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool mod, json_t **out)
{
	int64_t a = tsprig_int64(argv[0]), b = tsprig_int64(argv[1]);
	if (b == 0)
		return texec_fail(e, pos, TROVE_ERR_INVALID,
		                  "error calling %s: runtime error: integer divide by zero", fn);
	if (b == -1) /* INT64_MIN / -1 wraps in Go */
		*out = json_integer(mod ? 0 : (json_int_t)(0 - (uint64_t)a));
	else
		*out = json_integer(mod ? a % b : a / b);
	return 0;
}

static int fn_div(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return divmod(e, pos, "div", argv, false, out);
}

static int fn_mod(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return divmod(e, pos, "mod", argv, true, out);
}

static int extreme(json_t **argv, size_t argc, bool max, json_t **out)
{
	int64_t m = tsprig_int64(argv[0]);
	for (size_t i = 1; i < argc; i++) {
		int64_t x = tsprig_int64(argv[i]);
		if (max ? x > m : x < m)
			m = x;
	}
	*out = json_integer(m);
	return 0;
}

static int fn_max(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos;
	return extreme(argv, argc, true, out);
}

static int fn_min(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos;
	return extreme(argv, argc, false, out);
}

static int fn_int64(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)e, (void)pos, (void)argc;
	*out = json_integer(tsprig_int64(argv[0]));
	return 0;
}

static int fn_atoi(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *s;
	size_t n;
	(void)argc;
	int r = tsprig_str_arg(e, pos, "atoi", argv, 0, &s, &n);
	if (r)
		return r;
	int64_t x = 0;
	char *t = cstr(argv[0]);
	/* strconv.Atoi: decimal with an optional sign; anything else is 0 */
	if (t && t[0] &&
	    strspn(t + (t[0] == '+' || t[0] == '-'), "0123456789") ==
	        strlen(t + (t[0] == '+' || t[0] == '-')) &&
	    strlen(t) > (size_t)(t[0] == '+' || t[0] == '-')) {
		char *end = NULL;
		errno = 0;
		long long y = strtoll(t, &end, 10);
		if (errno == 0)
			x = y;
	}
	free(t);
	*out = json_integer(x);
	return 0;
}

static int fn_to_decimal(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	struct buf b;
	int64_t x = 0;
	(void)argc;
	buf_init(&b, 4096);
	if (tsprig_strval(e, pos, &b, argv[0]) == 0 && b.len > 0 && b.len == strlen(b.data ? b.data : "")) {
		char *end = NULL;
		errno = 0;
		const char *d = b.data + (b.data[0] == '+' || b.data[0] == '-');
		if (*d && strspn(d, "01234567") == strlen(d)) {
			long long y = strtoll(b.data, &end, 8);
			if (errno == 0)
				x = y;
		}
	}
	buf_release(&b);
	(void)e, (void)pos;
	*out = json_integer(x);
	return 0;
}

/* ---- floats ---- */

/* A float result: sprig computes in decimal and converts back, so a sum
 * such as 0.1 + 0.2 is 0.3: rounding a sum, difference or product to 15
 * significant digits does the same for the values templates meet (a
 * quotient, which sprig keeps to 16 decimals, is left as it is). */
static int give_float(struct texec *e, struct tpos pos, const char *fn, double d, bool decimal, json_t **out)
{
	if (decimal && isfinite(d) && d != 0) {
		char t[64];
		snprintf(t, sizeof(t), "%.15g", d);
		d = strtod(t, NULL);
	}
	*out = isfinite(d) ? json_real(d) : NULL;
	if (!*out)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: the result is not a finite number", fn);
	return 0;
}

enum fop { F_ADD, F_SUB, F_MUL, F_DIV };

static int fold_float(struct texec *e, struct tpos pos, const char *fn, enum fop op, double start,
                      json_t **argv, size_t argc, json_t **out)
{
	double acc = start;
	for (size_t i = 0; i < argc; i++) {
		double x = tsprig_float64(argv[i]);
		switch (op) {
		case F_ADD:
			acc += x;
			break;
		case F_SUB:
			acc -= x;
			break;
		case F_MUL:
			acc *= x;
			break;
		case F_DIV:
			if (x == 0)
				return texec_fail(e, pos, TROVE_ERR_INVALID,
				                  "error calling %s: decimal division by 0", fn);
			acc /= x;
			break;
		}
	}
	return give_float(e, pos, fn, acc, op != F_DIV, out);
}

static int fn_addf(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return fold_float(e, pos, "addf", F_ADD, 0, argv, argc, out);
}

static int fn_add1f(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return give_float(e, pos, "add1f", tsprig_float64(argv[0]) + 1, true, out);
}

static int fn_subf(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return fold_float(e, pos, "subf", F_SUB, tsprig_float64(argv[0]), argv + 1, argc - 1, out);
}

static int fn_mulf(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return fold_float(e, pos, "mulf", F_MUL, tsprig_float64(argv[0]), argv + 1, argc - 1, out);
}

static int fn_divf(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return fold_float(e, pos, "divf", F_DIV, tsprig_float64(argv[0]), argv + 1, argc - 1, out);
}

static int extreme_f(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t argc, bool max,
                     json_t **out)
{
	double m = tsprig_float64(argv[0]);
	for (size_t i = 1; i < argc; i++) {
		double x = tsprig_float64(argv[i]);
		m = (max ? x > m : x < m) ? x : m;
	}
	return give_float(e, pos, fn, m, false, out);
}

static int fn_maxf(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return extreme_f(e, pos, "maxf", argv, argc, true, out);
}

static int fn_minf(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return extreme_f(e, pos, "minf", argv, argc, false, out);
}

static int fn_float64(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return give_float(e, pos, "float64", tsprig_float64(argv[0]), false, out);
}

static int fn_floor(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return give_float(e, pos, "floor", floor(tsprig_float64(argv[0])), false, out);
}

static int fn_ceil(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	return give_float(e, pos, "ceil", ceil(tsprig_float64(argv[0])), false, out);
}

/* round(v, places[, roundOn]): up from the fraction roundOn (.5). */
static int fn_round(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t places;
	int r = tsprig_int_arg(e, pos, "round", argv, 1, &places);
	if (r)
		return r;
	double on = argc > 2 ? tsprig_float64(argv[2]) : 0.5;
	double p = 1; /* 10^places; past 400 places it is infinite or 0 either way */
	int64_t k = places < -400 || places > 400 ? 400 : places < 0 ? -places : places;
	for (int64_t i = 0; i < k; i++)
		p *= 10;
	if (places < 0)
		p = 1 / p;
	double d = p * tsprig_float64(argv[0]);
	double ip, frac = modf(d, &ip);
	return give_float(e, pos, "round", (frac >= on ? ceil(d) : floor(d)) / p, false, out);
}

/* ---- integer sequences ---- */

/* The integers from start towards stop by step, as sprig's untilStep. */
static int steps(struct texec *e, struct tpos pos, const char *fn, int64_t start, int64_t stop, int64_t step,
                 json_t **out)
{
	uint64_t count = 0;
	if (step != 0 && ((stop > start && step > 0) || (stop < start && step < 0))) {
		uint64_t span =
		    stop > start ? (uint64_t)stop - (uint64_t)start : (uint64_t)start - (uint64_t)stop;
		uint64_t by = step > 0 ? (uint64_t)step : 0 - (uint64_t)step;
		count = span / by + (span % by != 0);
	}
	if (count > TMPL_RANGE_MAX)
		return texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "%s: more than %d items", fn, TMPL_RANGE_MAX);
	int r = texec_work(e, pos, count);
	if (r)
		return r;
	*out = json_array();
	for (uint64_t i = 0; i < count; i++)
		json_array_append_new(*out, json_integer((json_int_t)((uint64_t)start + i * (uint64_t)step)));
	return 0;
}

static int fn_until(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t n;
	(void)argc;
	int r = tsprig_int_arg(e, pos, "until", argv, 0, &n);
	return r ? r : steps(e, pos, "until", 0, n, n < 0 ? -1 : 1, out);
}

static int fn_until_step(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t a, b, s;
	(void)argc;
	int r = tsprig_int_arg(e, pos, "untilStep", argv, 0, &a);
	if (!r)
		r = tsprig_int_arg(e, pos, "untilStep", argv, 1, &b);
	if (!r)
		r = tsprig_int_arg(e, pos, "untilStep", argv, 2, &s);
	return r ? r : steps(e, pos, "untilStep", a, b, s, out);
}

/* seq: like GNU seq, the integers as one space-separated string. */
static int fn_seq(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t p[3] = {0, 0, 0}, start = 1, end, step = 1;
	json_t *l = NULL;
	struct buf b;
	for (size_t i = 0; i < argc; i++) {
		int r = tsprig_int_arg(e, pos, "seq", argv, i, i < 3 ? &p[i] : &end);
		if (r)
			return r;
	}
	if (argc == 0 || argc > 3) { /* sprig's seq gives nothing for these */
		*out = tval_str("", 0);
		return 0;
	}
	if (argc == 1) {
		end = p[0];
		step = end < start ? -1 : 1;
	} else if (argc == 2) {
		start = p[0], end = p[1];
		step = end < start ? -1 : 1;
	} else {
		start = p[0], step = p[1], end = p[2];
		if (end < start && step > 0) {
			*out = tval_str("", 0);
			return 0;
		}
	}
	int64_t inc = end < start ? -1 : 1;
	if ((end == INT64_MAX && inc > 0) || (end == INT64_MIN && inc < 0))
		return texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "seq: more than %d items", TMPL_RANGE_MAX);
	int r = steps(e, pos, "seq", start, end + inc, step, &l);
	if (r)
		return r;
	buf_init(&b, TMPL_OUT_MAX);
	for (size_t i = 0; i < json_array_size(l) && !r; i++)
		r = buf_printf(&b, "%s%lld", i ? " " : "",
		               (long long)json_integer_value(json_array_get(l, i)));
	json_decref(l);
	return tfn_give(e, pos, &b, r, out);
}

const struct tfunc tfunc_sprig[] = {
    {"default", 1, -1, fn_default},
    {"empty", 1, 1, fn_empty},
    {"coalesce", 0, -1, fn_coalesce},
    {"all", 0, -1, fn_all},
    {"any", 0, -1, fn_any},
    {"ternary", 3, 3, fn_ternary},
    {"fail", 1, 1, fn_fail},
    {"toString", 1, 1, fn_to_string},
    {"kindOf", 1, 1, fn_kind_of},
    {"kindIs", 2, 2, fn_kind_is},
    {"typeOf", 1, 1, fn_type_of},
    {"typeIs", 2, 2, fn_type_is},
    {"typeIsLike", 2, 2, fn_type_is_like},
    {"deepEqual", 2, 2, fn_deep_equal},
    {"add", 0, -1, fn_add},
    {"add1", 1, 1, fn_add1},
    {"sub", 2, 2, fn_sub},
    {"mul", 1, -1, fn_mul},
    {"div", 2, 2, fn_div},
    {"mod", 2, 2, fn_mod},
    {"max", 1, -1, fn_max},
    {"biggest", 1, -1, fn_max},
    {"min", 1, -1, fn_min},
    {"int", 1, 1, fn_int64},
    {"int64", 1, 1, fn_int64},
    {"atoi", 1, 1, fn_atoi},
    {"toDecimal", 1, 1, fn_to_decimal},
    {"float64", 1, 1, fn_float64},
    {"addf", 0, -1, fn_addf},
    {"add1f", 1, 1, fn_add1f},
    {"subf", 1, -1, fn_subf},
    {"mulf", 1, -1, fn_mulf},
    {"divf", 1, -1, fn_divf},
    {"maxf", 1, -1, fn_maxf},
    {"minf", 1, -1, fn_minf},
    {"floor", 1, 1, fn_floor},
    {"ceil", 1, 1, fn_ceil},
    {"round", 2, 3, fn_round},
    {"until", 1, 1, fn_until},
    {"untilStep", 3, 3, fn_until_step},
    {"seq", 0, -1, fn_seq},
};
const size_t tfunc_sprig_count = sizeof(tfunc_sprig) / sizeof(tfunc_sprig[0]);
