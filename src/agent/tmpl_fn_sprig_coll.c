/* tmpl_fn_sprig_coll.c — sprig's maps and lists in the sprig dialect.
 * Maps change in place, as Go's (set, unset, merge): a map or list put
 * into another is held to the end of the rendering (tval_hold). Go's map
 * order is random where sprig's is (keys, values): Trove's is the sorted
 * key order. The must forms fail where the plain ones fail too: a Go
 * template turns a function's panic into an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "err.h"
#include "banned.h"

static const char *type_of(const json_t *v)
{
	return v && !json_is_null(v) ? tval_type(v) : "<nil>";
}

static int map_arg(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t i)
{
	if (!json_is_object(argv[i]))
		return texec_fail(e, pos, TROVE_ERR_INVALID,
		                  "%s: argument %zu is of type %s, not map[string]interface {}", fn, i + 1,
		                  type_of(argv[i]));
	return 0;
}

static int list_arg(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t i)
{
	if (!json_is_array(argv[i]))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: argument %zu is of type %s, not a list", fn,
		                  i + 1, type_of(argv[i]));
	return 0;
}

/* A map argument and a string key after it. */
static int map_key(struct texec *e, struct tpos pos, const char *fn, json_t **argv, const char **k,
                   size_t *kn)
{
	int r = map_arg(e, pos, fn, argv, 0);
	return r ? r : tsprig_str_arg(e, pos, fn, argv, 1, k, kn);
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* m's keys, sorted (borrowed from m: valid while m is not changed). */
static const char **sorted_keys(const json_t *m, size_t *n)
{
	const char *k;
	json_t *v;
	size_t i = 0;
	*n = json_object_size(m);
	const char **keys = xcalloc(*n ? *n : 1, sizeof(*keys));
	json_object_foreach((json_t *)m, k, v) keys[i++] = k;
	qsort(keys, *n, sizeof(*keys), cmp_keys);
	return keys;
}

/* ---- maps ---- */

static int fn_dict(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	struct buf k;
	int r = texec_work(e, pos, argc);
	if (r)
		return r;
	*out = json_object();
	for (size_t i = 0; i < argc && !r; i += 2) {
		buf_init_secret(&k, TMPL_OUT_MAX);
		r = tsprig_strval(e, pos, &k, argv[i]);
		if (!r)
			json_object_setn_new_nocheck(*out, k.data ? k.data : "", k.len,
			                             i + 1 < argc ? json_incref(tval_hold(e, argv[i + 1]))
			                                          : tval_str("", 0));
		buf_release_secret(&k);
	}
	if (r)
		return e->err ? r
		              : texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "dict: a key too large or too deep");
	return 0;
}

static int fn_get(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *k;
	size_t kn;
	(void)argc;
	int r = map_key(e, pos, "get", argv, &k, &kn);
	if (r)
		return r;
	json_t *v = json_object_getn(argv[0], k, kn);
	*out = v ? json_incref(v) : tval_str("", 0);
	return 0;
}

static int fn_set(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *k;
	size_t kn;
	(void)argc;
	int r = map_key(e, pos, "set", argv, &k, &kn);
	if (r)
		return r;
	if (argv[2] == argv[0])
		return texec_fail(e, pos, TROVE_ERR_INVALID, "set: a map cannot hold itself");
	json_object_setn_new_nocheck(argv[0], k, kn, json_incref(tval_hold(e, argv[2])));
	*out = json_incref(argv[0]);
	r = tval_slots(e, pos, 1);
	return 0;
}

static int fn_unset(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *k;
	size_t kn;
	(void)argc;
	int r = map_key(e, pos, "unset", argv, &k, &kn);
	if (r)
		return r;
	json_object_deln(argv[0], k, kn);
	*out = json_incref(argv[0]);
	return 0;
}

static int fn_has_key(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *k;
	size_t kn;
	(void)argc;
	int r = map_key(e, pos, "hasKey", argv, &k, &kn);
	if (!r)
		*out = json_boolean(json_object_getn(argv[0], k, kn) != NULL);
	return r;
}

/* keys d...: every map's keys (each map's sorted); values d: its values in
 * key order; pluck k d...: k's value in each map that has it. */
static int fn_keys(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int r = 0;
	for (size_t i = 0; i < argc && !r; i++)
		r = map_arg(e, pos, "keys", argv, i);
	if (r)
		return r;
	*out = json_array();
	for (size_t i = 0; i < argc && !r; i++) {
		size_t n;
		const char **keys = sorted_keys(argv[i], &n);
		for (size_t j = 0; j < n; j++)
			json_array_append_new(*out, tval_str(keys[j], strlen(keys[j])));
		free(keys);
		r = texec_work(e, pos, n);
	}
	return r;
}

static int fn_values(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	size_t n;
	(void)argc;
	int r = map_arg(e, pos, "values", argv, 0);
	if (r)
		return r;
	const char **keys = sorted_keys(argv[0], &n);
	*out = json_array();
	for (size_t j = 0; j < n; j++)
		json_array_append(*out, json_object_get(argv[0], keys[j]));
	free(keys);
	return texec_work(e, pos, n);
}

static int fn_pluck(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *k;
	size_t kn;
	int r = tsprig_str_arg(e, pos, "pluck", argv, 0, &k, &kn);
	for (size_t i = 1; i < argc && !r; i++)
		r = map_arg(e, pos, "pluck", argv, i);
	if (r)
		return r;
	*out = json_array();
	for (size_t i = 1; i < argc; i++) {
		json_t *v = json_object_getn(argv[i], k, kn);
		if (v)
			json_array_append(*out, v);
	}
	return texec_work(e, pos, argc);
}

/* pick d k...: a new map of d's entries named; omit: of those not named. */
static int pick_omit(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t argc, bool pick,
                     json_t **out)
{
	int r = map_arg(e, pos, fn, argv, 0);
	for (size_t i = 1; i < argc && !r; i++)
		r = tsprig_str_arg(e, pos, fn, argv, i, &(const char *){NULL}, NULL);
	if (!r)
		r = texec_work(e, pos, (uint64_t)argc * (json_object_size(argv[0]) + 1));
	if (r)
		return r;
	*out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(argv[0], k, v)
	{
		bool named = false;
		for (size_t i = 1; i < argc && !named; i++)
			named = json_string_length(argv[i]) == strlen(k) &&
			        strcmp(json_string_value(argv[i]), k) == 0;
		if (named == pick)
			json_object_set(*out, k, v);
	}
	return 0;
}

static int fn_pick(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return pick_omit(e, pos, "pick", argv, argc, true, out);
}

static int fn_omit(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return pick_omit(e, pos, "omit", argv, argc, false, out);
}

/* mergo's Merge of src into dst (overwrite: MergeWithOverwrite): maps in
 * both merge deeper; otherwise src's value goes in when dst has none, an
 * empty one, or overwrite is asked (a nil src value only then). */
static int merge_into(struct texec *e, struct tpos pos, const char *fn, json_t *dst, json_t *src,
                      bool overwrite, int depth)
{
	const char *k;
	json_t *sv;
	int r = 0;
	if (depth > TVAL_DEPTH_MAX)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "%s: maps nest deeper than %d", fn,
		                  TVAL_DEPTH_MAX);
	if (dst == src)
		return 0;
	if ((r = texec_work(e, pos, json_object_size(src))) != 0)
		return r;
	json_object_foreach(src, k, sv)
	{
		json_t *dv = json_object_get(dst, k);
		if (json_is_object(sv) && json_is_object(dv)) {
			if ((r = merge_into(e, pos, fn, dv, sv, overwrite, depth + 1)) != 0)
				return r;
			continue;
		}
		if (json_is_null(sv) && !overwrite)
			continue;
		if (sv != dst && (overwrite || !tval_truth(dv))) {
			json_object_set(dst, k, tval_hold(e, sv));
			if ((r = tval_slots(e, pos, 1)) != 0)
				return r;
		}
	}
	return 0;
}

static int merge(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t argc, bool overwrite,
                 json_t **out)
{
	int r = 0;
	for (size_t i = 0; i < argc && !r; i++)
		r = map_arg(e, pos, fn, argv, i);
	for (size_t i = 1; i < argc && !r; i++)
		r = merge_into(e, pos, fn, argv[0], argv[i], overwrite, 0);
	if (!r)
		*out = json_incref(argv[0]);
	return r;
}

static int fn_merge(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return merge(e, pos, "merge", argv, argc, false, out);
}

static int fn_must_merge(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return merge(e, pos, "mustMerge", argv, argc, false, out);
}

static int fn_merge_overwrite(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return merge(e, pos, "mergeOverwrite", argv, argc, true, out);
}

static int fn_must_merge_overwrite(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return merge(e, pos, "mustMergeOverwrite", argv, argc, true, out);
}

/* dig k... default d: the value at the path of keys in d, or default where
 * a key is missing. */
static int fn_dig(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int r = map_arg(e, pos, "dig", argv, argc - 1);
	for (size_t i = 0; i + 2 < argc && !r; i++)
		r = tsprig_str_arg(e, pos, "dig", argv, i, &(const char *){NULL}, NULL);
	if (r)
		return r;
	json_t *cur = argv[argc - 1];
	for (size_t i = 0; i + 2 < argc; i++) {
		if (!json_is_object(cur))
			return texec_fail(e, pos, TROVE_ERR_INVALID, "dig: \"%s\" holds %s, not a map",
			                  i ? json_string_value(argv[i - 1]) : "", type_of(cur));
		cur = json_object_getn(cur, json_string_value(argv[i]), json_string_length(argv[i]));
		if (!cur) {
			*out = json_incref(argv[argc - 2]);
			return 0;
		}
	}
	*out = json_incref(cur);
	return 0;
}

static int copy_at(struct texec *e, struct tpos pos, const json_t *v, int depth, json_t **out)
{
	int r = 0;
	*out = NULL;
	if (depth > TVAL_DEPTH_MAX)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "deepCopy: values nest deeper than %d",
		                  TVAL_DEPTH_MAX);
	if ((r = texec_work(e, pos, 1)) != 0 || (depth > 0 && (r = tval_slots(e, pos, 1)) != 0))
		return r;
	if ((json_is_array(v) || json_is_object(v)) && depth > 0 && (r = tval_slots(e, pos, 8)) != 0)
		return r;
	if (json_is_array(v)) {
		*out = json_array();
		for (size_t i = 0; i < json_array_size(v) && !r; i++) {
			json_t *c;
			if ((r = copy_at(e, pos, json_array_get(v, i), depth + 1, &c)) == 0)
				json_array_append_new(*out, c);
		}
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		*out = json_object();
		json_object_foreach((json_t *)v, k, x)
		{
			json_t *c;
			if ((r = copy_at(e, pos, x, depth + 1, &c)) != 0)
				break;
			json_object_set_new_nocheck(*out, k, c);
		}
	} else {
		*out = v ? json_incref((json_t *)v) : json_null();
	}
	if (r) {
		json_decref(*out);
		*out = NULL;
	}
	return r;
}

static int fn_deep_copy(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	(void)argc;
	int r = copy_at(e, pos, argv[0], 0, out);
	return r;
}

/* ---- lists ---- */

static int fn_list(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	*out = json_array();
	for (size_t i = 0; i < argc; i++)
		json_array_append(*out, tval_hold(e, argv[i]));
	return texec_work(e, pos, argc);
}

/* first, last: an element or nil; rest, initial: all but one, or nil. */
static int ends(struct texec *e, struct tpos pos, const char *fn, json_t **argv, bool front, bool one,
                json_t **out)
{
	int r = list_arg(e, pos, fn, argv, 0);
	if (r)
		return r;
	size_t n = json_array_size(argv[0]);
	if (n == 0) {
		*out = json_null();
		return 0;
	}
	if (one) {
		*out = json_incref(json_array_get(argv[0], front ? 0 : n - 1));
		return 0;
	}
	*out = json_array();
	for (size_t i = front ? 1 : 0; i < (front ? n : n - 1); i++)
		json_array_append(*out, json_array_get(argv[0], i));
	return texec_work(e, pos, n);
}

#define ENDS_FN(name, sname, front, one)                                                                     \
	static int name(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)          \
	{                                                                                                    \
		(void)argc;                                                                                  \
		return ends(e, pos, sname, argv, front, one, out);                                           \
	}
ENDS_FN(fn_first, "first", true, true)
ENDS_FN(fn_last, "last", false, true)
ENDS_FN(fn_rest, "rest", true, false)
ENDS_FN(fn_initial, "initial", false, false)

/* A new list: l's elements with v after them (push) or before (prepend),
 * or reversed. */
static int rebuild(struct texec *e, struct tpos pos, const char *fn, json_t **argv, int how, json_t **out)
{
	int r = list_arg(e, pos, fn, argv, 0);
	if (r)
		return r;
	size_t n = json_array_size(argv[0]);
	if ((r = texec_work(e, pos, n + 1)) != 0)
		return r;
	*out = json_array();
	if (how == 2)
		json_array_append(*out, tval_hold(e, argv[1]));
	for (size_t i = 0; i < n; i++)
		json_array_append(*out, json_array_get(argv[0], how == 3 ? n - 1 - i : i));
	if (how == 1)
		json_array_append(*out, tval_hold(e, argv[1]));
	return 0;
}

#define REBUILD_FN(name, sname, how)                                                                         \
	static int name(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)          \
	{                                                                                                    \
		(void)argc;                                                                                  \
		return rebuild(e, pos, sname, argv, how, out);                                               \
	}
REBUILD_FN(fn_append, "append", 1)
REBUILD_FN(fn_push, "push", 1)
REBUILD_FN(fn_prepend, "prepend", 2)
REBUILD_FN(fn_reverse, "reverse", 3)

/* Whether x equals one of l[0..n) (reflect.DeepEqual). */
static int among(struct texec *e, struct tpos pos, json_t *const *l, size_t n, const json_t *x, bool *in)
{
	*in = false;
	for (size_t i = 0; i < n && !*in; i++) {
		int r = tsprig_equal(e, pos, l[i], x, in);
		if (r)
			return r;
	}
	return 0;
}

/* uniq (without repeats), without (without the values given), compact
 * (without empty values): a new list. */
static int filter(struct texec *e, struct tpos pos, const char *fn, json_t **argv, size_t argc, int how,
                  json_t **out)
{
	int r = list_arg(e, pos, fn, argv, 0);
	if (r)
		return r;
	json_t *l = json_array();
	for (size_t i = 0; i < json_array_size(argv[0]) && !r; i++) {
		json_t *x = json_array_get(argv[0], i);
		bool drop = false;
		if (how == 0) { /* the kept ones are l's elements */
			for (size_t j = 0; j < json_array_size(l) && !drop && !r; j++)
				r = tsprig_equal(e, pos, json_array_get(l, j), x, &drop);
		} else if (how == 1) {
			r = among(e, pos, argv + 1, argc - 1, x, &drop);
		} else {
			drop = !tval_truth(x);
		}
		if (!r && !drop)
			json_array_append(l, x);
	}
	if (r) {
		json_decref(l);
		return r;
	}
	*out = l;
	return 0;
}

#define FILTER_FN(name, sname, how)                                                                          \
	static int name(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)          \
	{                                                                                                    \
		return filter(e, pos, sname, argv, argc, how, out);                                          \
	}
FILTER_FN(fn_uniq, "uniq", 0)
FILTER_FN(fn_without, "without", 1)
FILTER_FN(fn_compact, "compact", 2)

static int fn_has(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	bool in = false;
	(void)argc;
	if (json_is_null(argv[1])) {
		*out = json_false();
		return 0;
	}
	int r = list_arg(e, pos, "has", argv, 1);
	for (size_t i = 0; i < json_array_size(argv[1]) && !r && !in; i++)
		r = tsprig_equal(e, pos, json_array_get(argv[1], i), argv[0], &in);
	if (!r)
		*out = json_boolean(in);
	return r;
}

/* slice l [start [end]]: l[start:end] (more indexes are ignored, as
 * sprig's); an empty list gives nil. */
static int fn_slice(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int r = list_arg(e, pos, "slice", argv, 0);
	if (r)
		return r;
	int64_t n = (int64_t)json_array_size(argv[0]);
	if (n == 0) {
		*out = json_null();
		return 0;
	}
	int64_t a = argc > 1 ? tsprig_int64(argv[1]) : 0, z = argc > 2 ? tsprig_int64(argv[2]) : n;
	if (a < 0 || z < a || z > n)
		return texec_fail(e, pos, TROVE_ERR_INVALID,
		                  "slice: slice bounds out of range [%lld:%lld] of %lld", (long long)a,
		                  (long long)z, (long long)n);
	*out = json_array();
	for (int64_t i = a; i < z; i++)
		json_array_append(*out, json_array_get(argv[0], (size_t)i));
	return texec_work(e, pos, (uint64_t)(z - a));
}

static int fn_concat(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int r = 0;
	for (size_t i = 0; i < argc && !r; i++)
		r = list_arg(e, pos, "concat", argv, i);
	if (r)
		return r;
	*out = json_array();
	for (size_t i = 0; i < argc && !r; i++) {
		json_array_extend(*out, argv[i]);
		r = texec_work(e, pos, json_array_size(argv[i]));
	}
	return r;
}

/* chunk size l: l in lists of size elements, the last one shorter. */
static int fn_chunk(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	int64_t size;
	(void)argc;
	int r = tsprig_int_arg(e, pos, "chunk", argv, 0, &size);
	if (!r)
		r = list_arg(e, pos, "chunk", argv, 1);
	if (r)
		return r;
	if (size <= 0)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "chunk: a size of %lld: at least 1",
		                  (long long)size);
	size_t n = json_array_size(argv[1]);
	if ((r = texec_work(e, pos, n + 1)) != 0 || (r = tval_slots(e, pos, n)) != 0)
		return r;
	*out = json_array();
	json_t *cur = NULL;
	for (size_t i = 0; i < n; i++) {
		if (i % (uint64_t)size == 0) {
			cur = json_array();
			json_array_append_new(*out, cur);
			if ((r = tval_slots(e, pos, 8)) != 0)
				return r;
		}
		json_array_append(cur, json_array_get(argv[1], i));
	}
	return 0;
}

const struct tfunc tfunc_sprig_coll[] = {
    {"dict", 0, -1, fn_dict},
    {"get", 2, 2, fn_get},
    {"set", 3, 3, fn_set},
    {"unset", 2, 2, fn_unset},
    {"hasKey", 2, 2, fn_has_key},
    {"keys", 0, -1, fn_keys},
    {"values", 1, 1, fn_values},
    {"pluck", 1, -1, fn_pluck},
    {"pick", 1, -1, fn_pick},
    {"omit", 1, -1, fn_omit},
    {"merge", 1, -1, fn_merge},
    {"mustMerge", 1, -1, fn_must_merge},
    {"mergeOverwrite", 1, -1, fn_merge_overwrite},
    {"mustMergeOverwrite", 1, -1, fn_must_merge_overwrite},
    {"dig", 3, -1, fn_dig},
    {"deepCopy", 1, 1, fn_deep_copy},
    {"mustDeepCopy", 1, 1, fn_deep_copy},
    {"list", 0, -1, fn_list},
    {"tuple", 0, -1, fn_list},
    {"first", 1, 1, fn_first},
    {"mustFirst", 1, 1, fn_first},
    {"last", 1, 1, fn_last},
    {"mustLast", 1, 1, fn_last},
    {"rest", 1, 1, fn_rest},
    {"mustRest", 1, 1, fn_rest},
    {"initial", 1, 1, fn_initial},
    {"mustInitial", 1, 1, fn_initial},
    {"append", 2, 2, fn_append},
    {"mustAppend", 2, 2, fn_append},
    {"push", 2, 2, fn_push},
    {"mustPush", 2, 2, fn_push},
    {"prepend", 2, 2, fn_prepend},
    {"mustPrepend", 2, 2, fn_prepend},
    {"reverse", 1, 1, fn_reverse},
    {"mustReverse", 1, 1, fn_reverse},
    {"uniq", 1, 1, fn_uniq},
    {"mustUniq", 1, 1, fn_uniq},
    {"without", 1, -1, fn_without},
    {"mustWithout", 1, -1, fn_without},
    {"compact", 1, 1, fn_compact},
    {"mustCompact", 1, 1, fn_compact},
    {"has", 2, 2, fn_has},
    {"mustHas", 2, 2, fn_has},
    {"slice", 1, -1, fn_slice},
    {"mustSlice", 1, -1, fn_slice},
    {"concat", 0, -1, fn_concat},
    {"chunk", 2, 2, fn_chunk},
    {"mustChunk", 2, 2, fn_chunk},
};
const size_t tfunc_sprig_coll_count = sizeof(tfunc_sprig_coll) / sizeof(tfunc_sprig_coll[0]);
