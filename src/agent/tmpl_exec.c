/* tmpl_exec.c — rendering: walks the tree with Go text/template's rules
 * (dot, variables and their scopes, fields on maps, pipelines passing the
 * previous value as the last argument, truth, range over lists and maps in
 * sorted key order, break/continue, template calls). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "err.h"
#include "banned.h"

int texec_fail(struct texec *e, struct tpos pos, int code, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (e->err)
		return e->code;
	buf_init(&b, 64 << 10);
	(void)buf_printf(&b, "%s:%u:%u: ", e->tname, pos.line, pos.col);
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	e->err = buf_take(&b);
	e->code = code;
	return code;
}

int texec_work(struct texec *e, struct tpos pos, uint64_t n)
{
	e->work += n;
	if (e->work > e->work_max)
		return texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "rendering does too much work (over %llu steps and bytes)",
		                  (unsigned long long)e->work_max);
	return 0;
}

json_t *tval_hold(struct texec *e, json_t *v)
{
	if (!v || !(json_is_object(v) || json_is_array(v)))
		return v;
	if (!e->held)
		e->held = json_array();
	size_t n = json_array_size(e->held);
	if (n == 0 || json_array_get(e->held, n - 1) != v)
		json_array_append(e->held, v);
	return v;
}

int tval_slots(struct texec *e, struct tpos pos, uint64_t n)
{
	e->slots += n;
	if (e->slots > TMPL_SLOTS_MAX)
		return texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "the maps and lists made hold over %llu elements",
		                  (unsigned long long)TMPL_SLOTS_MAX);
	return 0;
}

static int walk_at(struct texec *e, struct tpos pos, const json_t *v, int depth)
{
	int r = texec_work(e, pos, 1);
	if (r || !(json_is_array(v) || json_is_object(v)))
		return r;
	if (depth >= TVAL_DEPTH_MAX)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "values nest deeper than %d", TVAL_DEPTH_MAX);
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v) && !r; i++)
			r = walk_at(e, pos, json_array_get(v, i), depth + 1);
		return r;
	}
	const char *k;
	json_t *x;
	json_object_foreach((json_t *)v, k, x) {
		if ((r = walk_at(e, pos, x, depth + 1)) != 0)
			break;
	}
	return r;
}

int tval_walk(struct texec *e, struct tpos pos, const json_t *v)
{
	if (!v || e->t->dialect != TMPL_SPRIG || !(json_is_array(v) || json_is_object(v)))
		return 0;
	return walk_at(e, pos, v, 0);
}

/* Empties every held map and list, then lets them go: each is freed
 * shallow, as the chains through them are cut. */
static void release_held(json_t *held)
{
	size_t i;
	json_t *v;

	json_array_foreach(held, i, v) {
		if (json_is_object(v))
			json_object_clear(v);
		else
			json_array_clear(v);
	}
	json_decref(held);
}

bool tval_truth(const json_t *v)
{
	if (!v)
		return false;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0;
	case JSON_TRUE:
		return true;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	default:
		return false;
	}
}

/* ---- variables ---- */

static void var_push(struct texec *e, const char *name, json_t *val)
{
	if (e->nvars == e->vars_cap) {
		e->vars_cap = e->vars_cap ? e->vars_cap * 2 : 16;
		e->vars = xrealloc(e->vars, e->vars_cap * sizeof(*e->vars));
	}
	e->vars[e->nvars].name = name;
	e->vars[e->nvars].val = val;
	e->nvars++;
}

static void var_pop(struct texec *e, size_t mark)
{
	while (e->nvars > mark) {
		e->nvars--;
		json_decref(e->vars[e->nvars].val);
	}
}

/* The innermost variable called name in the current template call. */
static struct tvar *var_find(struct texec *e, size_t frame, const char *name)
{
	for (size_t i = e->nvars; i-- > frame;)
		if (strcmp(e->vars[i].name, name) == 0)
			return &e->vars[i];
	return NULL;
}

/* ---- evaluation ---- */

struct scope {
	size_t frame; /* the first variable of this template call */
};

static int eval_pipeline(struct texec *e, const struct scope *s, json_t *dot, const struct tpipe *p, json_t **out);

static int not_a_function(struct texec *e, const struct tcmd *c, bool has_final)
{
	if (c->nargs > 1 || has_final)
		return texec_fail(e, c->args[0]->pos, TROVE_ERR_INVALID, "arguments given to a %s, which is not a function",
		                  c->args[0]->kind == TA_LIT ? "literal" : c->args[0]->kind == TA_DOT ? "." : "value");
	return 0;
}

static int eval_field(struct texec *e, struct tpos pos, const char *name, json_t *recv, bool has_args, json_t **out)
{
	*out = NULL;
	if (!recv) {
		if (e->missing_err)
			return texec_fail(e, pos, TROVE_ERR_INVALID, "no key \"%s\": there is no data (error_on_missing_key)", name);
		return 0;
	}
	if (json_is_null(recv))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "field %s of null", name);
	if (!json_is_object(recv))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "field %s: type %s has no fields", name, tval_type(recv));
	if (has_args)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "field %s given arguments: a field takes none", name);
	json_t *v = json_object_get(recv, name);
	if (!v) {
		if (e->missing_err)
			return texec_fail(e, pos, TROVE_ERR_INVALID, "no key \"%s\" in the map (error_on_missing_key)", name);
		return 0;
	}
	*out = json_incref(v);
	return 0;
}

/* Fields idents[0..n) from recv (borrowed); the last one gets has_args. */
static int field_chain(struct texec *e, struct tpos pos, json_t *recv, char **idents, size_t n, bool has_args,
                       json_t **out)
{
	json_t *cur = json_incref(recv);
	int r = 0;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *nv = NULL;
		r = eval_field(e, pos, idents[i], cur, i + 1 == n && has_args, &nv);
		json_decref(cur);
		cur = nv;
		if (r)
			break;
	}
	if (r) {
		json_decref(cur);
		return r;
	}
	*out = cur;
	return 0;
}

static int eval_arg(struct texec *e, const struct scope *s, json_t *dot, const struct targ *a, json_t **out);

static int eval_function(struct texec *e, const struct scope *s, json_t *dot, const struct targ *fnode,
                         struct targ *const *args, size_t nargs, json_t *final, bool has_final, json_t **out)
{
	const struct tfunc *f = tfunc_get(fnode->fn);
	size_t argc = nargs + (has_final ? 1 : 0);
	int r = 0;

	*out = NULL;
	if (!f->fn) { /* and, or: the first decisive value, the rest unevaluated */
		bool is_or = f->name[0] == 'o';
		json_t *v = NULL;
		if (argc == 0)
			return texec_fail(e, fnode->pos, TROVE_ERR_INVALID, "%s takes one argument or more, not 0",
			                  f->name);
		for (size_t i = 0; i < argc; i++) {
			json_decref(v);
			v = NULL;
			if (i < nargs) {
				r = eval_arg(e, s, dot, args[i], &v);
				if (r)
					return r;
			} else {
				v = json_incref(final);
			}
			if (tval_truth(v) == is_or)
				break;
		}
		*out = v;
		return 0;
	}
	if ((int)argc < f->min || (f->max >= 0 && (int)argc > f->max)) {
		if (f->min == f->max)
			return texec_fail(e, fnode->pos, TROVE_ERR_INVALID, "%s takes %d argument(s), not %zu",
			                  f->name, f->min, argc);
		return texec_fail(e, fnode->pos, TROVE_ERR_INVALID, "%s takes %d%s arguments, not %zu",
		                  f->name, f->min, f->max < 0 ? " or more" : f->max == f->min + 1 ? " or 1 more" : " or more",
		                  argc);
	}
	json_t *small[8];
	json_t **argv = argc <= 8 ? small : xcalloc(argc, sizeof(*argv));
	size_t got = 0;
	for (; got < nargs; got++) {
		r = eval_arg(e, s, dot, args[got], &argv[got]);
		if (r)
			goto out;
		if (!argv[got])
			argv[got] = json_null();
	}
	if (has_final)
		argv[got++] = final ? json_incref(final) : json_null();
	/* a function reads its string arguments: their bytes count as work */
	for (size_t i = 0; i < argc && !r; i++)
		if (json_is_string(argv[i]))
			r = texec_work(e, fnode->pos, json_string_length(argv[i]));
	if (!r)
		r = f->fn(e, fnode->pos, argv, argc, out);
	if (!r && *out && json_is_string(*out))
		r = texec_work(e, fnode->pos, json_string_length(*out));
	/* a new map or list (only this reference to it) counts its elements */
	if (!r && *out && e->t->dialect == TMPL_SPRIG && (json_is_array(*out) || json_is_object(*out)) &&
	    (*out)->refcount == 1)
		r = tval_slots(e, fnode->pos, 8 + (json_is_array(*out) ? json_array_size(*out) : json_object_size(*out)));
	if (r && !e->err)
		r = texec_fail(e, fnode->pos, r, "%s failed", f->name);
out:
	for (size_t i = 0; i < got; i++)
		json_decref(argv[i]);
	if (argv != small)
		free(argv);
	if (r) {
		json_decref(*out);
		*out = NULL;
	}
	return r;
}

static int eval_variable(struct texec *e, const struct scope *s, const struct targ *a, bool has_args, json_t **out)
{
	struct tvar *v = var_find(e, s->frame, a->name);
	*out = NULL;
	if (!v)
		return texec_fail(e, a->pos, TROVE_ERR_INVALID, "variable %s is not declared here", a->name);
	if (a->nidents == 0) {
		*out = json_incref(v->val);
		return 0;
	}
	return field_chain(e, a->pos, v->val, a->idents, a->nidents, has_args, out);
}

static int eval_chain(struct texec *e, const struct scope *s, json_t *dot, const struct targ *a, bool has_args,
                      json_t **out)
{
	json_t *base = NULL;
	*out = NULL;
	if (a->base->kind == TA_NIL)
		return texec_fail(e, a->pos, TROVE_ERR_INVALID, "indirection through explicit nil");
	int r = eval_arg(e, s, dot, a->base, &base);
	if (r)
		return r;
	r = field_chain(e, a->pos, base, a->idents, a->nidents, has_args, out);
	json_decref(base);
	return r;
}

/* An argument, as Go's evalArg does for an interface{} parameter. */
static int eval_arg(struct texec *e, const struct scope *s, json_t *dot, const struct targ *a, json_t **out)
{
	*out = NULL;
	switch (a->kind) {
	case TA_DOT:
		*out = json_incref(dot);
		return 0;
	case TA_NIL:
		*out = json_null();
		return 0;
	case TA_LIT:
		*out = json_incref(a->lit);
		return 0;
	case TA_FIELD:
		return field_chain(e, a->pos, dot, a->idents, a->nidents, false, out);
	case TA_VAR:
		return eval_variable(e, s, a, false, out);
	case TA_CHAIN:
		return eval_chain(e, s, dot, a, false, out);
	case TA_PIPE:
		if (++e->depth > TMPL_DEPTH_MAX * 2) {
			e->depth--;
			return texec_fail(e, a->pos, TROVE_ERR_INVALID, "nesting deeper than %d", TMPL_DEPTH_MAX);
		}
		{
			int r = eval_pipeline(e, s, dot, a->pipe, out);
			e->depth--;
			return r;
		}
	case TA_IDENT:
		return eval_function(e, s, dot, a, NULL, 0, NULL, false, out);
	}
	return texec_fail(e, a->pos, TROVE_ERR_INTERNAL, "unknown node");
}

static int eval_command(struct texec *e, const struct scope *s, json_t *dot, const struct tcmd *c, json_t *final,
                        bool has_final, json_t **out)
{
	const struct targ *first = c->args[0];
	bool has_args = c->nargs > 1 || has_final;
	int r;

	*out = NULL;
	r = texec_work(e, c->pos, 1);
	if (r)
		return r;
	switch (first->kind) {
	case TA_FIELD:
		return field_chain(e, first->pos, dot, first->idents, first->nidents, has_args, out);
	case TA_CHAIN:
		return eval_chain(e, s, dot, first, has_args, out);
	case TA_IDENT:
		return eval_function(e, s, dot, first, c->args + 1, c->nargs - 1, final, has_final, out);
	case TA_VAR:
		if (first->nidents == 0 && (r = not_a_function(e, c, has_final)) != 0)
			return r;
		return eval_variable(e, s, first, has_args, out);
	case TA_NIL:
		return texec_fail(e, first->pos, TROVE_ERR_INVALID, "nil alone is neither a value to print nor a function");
	default:
		r = not_a_function(e, c, has_final);
		if (r)
			return r;
		return eval_arg(e, s, dot, first, out);
	}
}

static int eval_pipeline(struct texec *e, const struct scope *s, json_t *dot, const struct tpipe *p, json_t **out)
{
	json_t *val = NULL;
	int r = 0;

	*out = NULL;
	for (size_t i = 0; i < p->ncmds; i++) {
		json_t *nv = NULL;
		r = eval_command(e, s, dot, p->cmds[i], val, i > 0, &nv);
		json_decref(val);
		val = nv;
		if (r) {
			json_decref(val);
			return r;
		}
		if (val && json_is_null(val)) { /* an interface{} holding nil: no value */
			json_decref(val);
			val = NULL;
		}
	}
	for (size_t i = 0; i < p->ndecl; i++) {
		if (p->is_assign) {
			struct tvar *v = var_find(e, s->frame, p->decl[i]);
			if (!v) {
				json_decref(val);
				return texec_fail(e, p->pos, TROVE_ERR_INVALID, "variable %s is not declared here", p->decl[i]);
			}
			json_decref(v->val);
			v->val = json_incref(val);
		} else {
			var_push(e, p->decl[i], json_incref(val));
		}
	}
	*out = val;
	return 0;
}

/* ---- walking ---- */

static int walk_list(struct texec *e, const struct scope *s, json_t *dot, const struct tlist *l);

static int emit(struct texec *e, struct tpos pos, const char *p, size_t n)
{
	if (e->out->len - e->out_start + n > TMPL_OUT_MAX)
		return texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "output over %zu bytes", TMPL_OUT_MAX);
	if (buf_append(e->out, p, n) != 0)
		return texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "output over the buffer's limit");
	return 0;
}

static int print_value(struct texec *e, struct tpos pos, const json_t *v)
{
	struct buf b;
	int r = tval_walk(e, pos, v);
	if (r)
		return r;
	buf_init_secret(&b, TMPL_OUT_MAX);
	r = tfmt_value(&b, v, true);
	if (r)
		r = texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "value too large to print");
	else
		r = emit(e, pos, b.data, b.len);
	buf_release_secret(&b);
	return r;
}

/* The variables of a range's iteration: $v, or $k/$i and $v. */
static int range_vars(struct texec *e, const struct scope *s, const struct tpipe *p, json_t *key, json_t *elem)
{
	if (p->ndecl == 0)
		return 0;
	json_t *vals[2] = { p->ndecl == 1 ? elem : key, elem };
	for (size_t i = 0; i < p->ndecl && i < 2; i++) {
		struct tvar *v = p->is_assign ? var_find(e, s->frame, p->decl[i]) : &e->vars[e->nvars - p->ndecl + i];
		if (!v)
			return texec_fail(e, p->pos, TROVE_ERR_INVALID, "variable %s is not declared here", p->decl[i]);
		json_decref(v->val);
		v->val = json_incref(vals[i]);
	}
	return 0;
}

static int range_one(struct texec *e, const struct scope *s, const struct tnode *n, json_t *key, json_t *elem,
                     bool *stop)
{
	size_t mark = e->nvars;
	int r = range_vars(e, s, n->pipe, key, elem);
	if (!r)
		r = walk_list(e, s, elem, n->list);
	var_pop(e, mark);
	if (e->flow == TF_BREAK)
		*stop = true;
	e->flow = TF_NONE;
	return r;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static int walk_range(struct texec *e, const struct scope *s, json_t *dot, const struct tnode *n, json_t *val)
{
	size_t count = 0;
	bool stop = false;
	int r = 0;

	if (!val || json_is_null(val)) {
		count = 0;
	} else if (json_is_array(val)) {
		count = json_array_size(val);
		if (count > TMPL_RANGE_MAX)
			goto too_many;
		for (size_t i = 0; i < count && !stop && !r; i++) {
			json_t *k = json_integer((json_int_t)i);
			json_t *elem = json_incref(json_array_get(val, i));
			r = texec_work(e, n->pos, 1);
			if (!r)
				r = range_one(e, s, n, k, elem, &stop);
			json_decref(elem);
			json_decref(k);
		}
	} else if (json_is_object(val)) {
		count = json_object_size(val);
		if (count > TMPL_RANGE_MAX)
			goto too_many;
		/* the keys and elements are held here: the body may change the map */
		json_t **keys = xcalloc(count ? count : 1, sizeof(*keys));
		const char *key;
		json_t *v;
		size_t i = 0;
		json_object_foreach(val, key, v) keys[i++] = tval_str(key, strlen(key));
		qsort(keys, count, sizeof(*keys), cmp_keys);
		r = texec_work(e, n->pos, count);
		for (i = 0; i < count && !stop && !r; i++) {
			/* removed by the body: no value, as Go's MapIndex gives */
			json_t *elem = json_incref(json_object_get(val, json_string_value(keys[i])));
			r = range_one(e, s, n, keys[i], elem, &stop);
			json_decref(elem);
		}
		for (i = 0; i < count; i++)
			json_decref(keys[i]);
		free(keys);
	} else if (json_is_integer(val)) {
		json_int_t lim = json_integer_value(val);
		if (n->pipe->ndecl > 1)
			return texec_fail(e, n->pos, TROVE_ERR_INVALID, "can't use an int to iterate over more than one variable");
		if (lim > TMPL_RANGE_MAX)
			goto too_many;
		count = lim > 0 ? (size_t)lim : 0;
		for (size_t i = 0; i < count && !stop && !r; i++) {
			json_t *k = json_integer((json_int_t)i);
			r = texec_work(e, n->pos, 1);
			if (!r)
				r = range_one(e, s, n, k, k, &stop);
			json_decref(k);
		}
	} else {
		return texec_fail(e, n->pos, TROVE_ERR_INVALID, "range over type %s: only lists, maps and integers iterate", tval_type(val));
	}
	if (r)
		return r;
	if (count == 0 && n->else_list)
		return walk_list(e, s, dot, n->else_list);
	return 0;
too_many:
	return texec_fail(e, n->pos, TROVE_ERR_TOO_LARGE, "range over more than %d items", TMPL_RANGE_MAX);
}

static int walk_template(struct texec *e, const struct scope *s, json_t *dot, const struct tnode *n)
{
	const struct tdef *d = NULL;
	json_t *arg = NULL;
	int r;

	for (size_t i = 0; i < e->t->ndefs; i++)
		if (strcmp(e->t->defs[i].name, n->text) == 0)
			d = &e->t->defs[i];
	if (!d)
		return texec_fail(e, n->pos, TROVE_ERR_INVALID, "no template \"%s\" defined", n->text);
	if (e->depth >= TMPL_DEPTH_MAX)
		return texec_fail(e, n->pos, TROVE_ERR_INVALID, "template calls nest deeper than %d", TMPL_DEPTH_MAX);
	if (n->pipe) {
		r = eval_pipeline(e, s, dot, n->pipe, &arg);
		if (r)
			return r;
	}
	struct scope inner = { e->nvars };
	var_push(e, "$", json_incref(arg));
	e->depth++;
	r = walk_list(e, &inner, arg, d->root);
	e->depth--;
	var_pop(e, inner.frame);
	json_decref(arg);
	return r;
}

static int walk(struct texec *e, const struct scope *s, json_t *dot, const struct tnode *n)
{
	size_t mark = e->nvars;
	json_t *val = NULL;
	int r = 0;

	switch (n->kind) {
	case TN_TEXT:
		return emit(e, n->pos, n->text, n->len);
	case TN_ACTION:
		r = eval_pipeline(e, s, dot, n->pipe, &val);
		if (!r && n->pipe->ndecl == 0)
			r = print_value(e, n->pos, val);
		json_decref(val);
		return r;
	case TN_IF:
	case TN_WITH:
		r = eval_pipeline(e, s, dot, n->pipe, &val);
		if (!r) {
			if (tval_truth(val))
				r = walk_list(e, s, n->kind == TN_WITH ? val : dot, n->list);
			else if (n->else_list)
				r = walk_list(e, s, dot, n->else_list);
		}
		break;
	case TN_RANGE:
		r = eval_pipeline(e, s, dot, n->pipe, &val);
		if (!r)
			r = walk_range(e, s, dot, n, val);
		break;
	case TN_TEMPLATE:
		return walk_template(e, s, dot, n);
	case TN_BREAK:
		e->flow = TF_BREAK;
		return 0;
	case TN_CONTINUE:
		e->flow = TF_CONTINUE;
		return 0;
	}
	json_decref(val);
	var_pop(e, mark);
	return r;
}

static int walk_list(struct texec *e, const struct scope *s, json_t *dot, const struct tlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		int r = walk(e, s, dot, l->nodes[i]);
		if (r)
			return r;
		if (e->flow != TF_NONE)
			return 0;
	}
	return 0;
}

int tmpl_render_opts(const struct tmpl *t, const struct tmpl_funcs *f, const struct tmpl_render_opts *o,
                     struct buf *out, char **err)
{
	static const struct tmpl_funcs none = { 0 };
	struct texec e;
	int r;

	*err = NULL;
	memset(&e, 0, sizeof(e));
	e.t = t;
	e.f = f ? f : &none;
	e.missing_err = o->error_on_missing_key;
	e.now_ns = o->now_unix_ns;
	e.work_max = o->work_max && o->work_max < TMPL_WORK_MAX ? o->work_max : TMPL_WORK_MAX;
	e.out = out;
	e.out_start = out->len;
	e.tname = t->name;
	json_t *data = t->dialect == TMPL_SPRIG && o->data ? json_deep_copy(o->data) : json_incref(o->data);
	struct scope top = { 0 };
	var_push(&e, "$", json_incref(data));
	r = walk_list(&e, &top, data, t->root);
	var_pop(&e, 0);
	free(e.vars);
	if (e.held)
		release_held(e.held);
	json_decref(data);
	if (r) {
		if (!e.err)
			texec_fail(&e, (struct tpos){ 0, 0 }, r, "%s", "rendering failed");
		*err = e.err;
		return e.code ? e.code : r;
	}
	free(e.err);
	return 0;
}

int tmpl_render(const struct tmpl *t, const struct tmpl_funcs *f, bool error_on_missing_key, struct buf *out,
                char **err)
{
	struct tmpl_render_opts o = { .data = NULL, .error_on_missing_key = error_on_missing_key };
	return tmpl_render_opts(t, f, &o, out, err);
}
