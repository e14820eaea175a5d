/* tmpl_parse.c — the template parser: Go text/template's grammar into the
 * tree of tmpl_int.h (text, actions, if/with/range with else, define,
 * template, block, break, continue; pipelines, commands and operands). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "err.h"
#include "banned.h"

struct tparser {
	struct tlexer lx;
	struct ttoken la[3]; /* tokens put back, the last one next */
	int nla;
	const char *name;
	char *err;
	const char **vars; /* variables in scope (borrowed) */
	size_t nvars, vars_cap;
	int depth, range_depth;
	enum tmpl_dialect dialect;
	struct tmpl *t;
};

/* The markers itemList stops at. */
static struct tnode end_marker, else_marker;

__attribute__((format(printf, 3, 4))) static void perr(struct tparser *p, struct tpos pos, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (p->err)
		return;
	buf_init(&b, 4096);
	(void)buf_printf(&b, "%s:%u:%u: ", p->name, pos.line, pos.col);
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	p->err = buf_take(&b);
}

static void next(struct tparser *p, struct ttoken *t)
{
	if (p->nla > 0) {
		*t = p->la[--p->nla];
		return;
	}
	tlex_next(&p->lx, t);
	if (t->kind == TK_ERROR) {
		perr(p, t->pos, "%s", t->why);
		ttoken_clear(t);
		t->kind = TK_ERROR;
	}
}

static void backup(struct tparser *p, struct ttoken *t)
{
	p->la[p->nla++] = *t;
	memset(t, 0, sizeof(*t));
}

static enum ttok peek(struct tparser *p, struct ttoken *copy)
{
	struct ttoken t;
	next(p, &t);
	if (copy)
		*copy = t; /* shallow: still owned by the lookahead */
	enum ttok k = t.kind;
	backup(p, &t);
	return k;
}

static const char *tok_desc(const struct ttoken *t)
{
	switch (t->kind) {
	case TK_EOF: return "end of input";
	case TK_ERROR: return "error";
	case TK_TEXT: return "text";
	case TK_LDELIM: return "left delimiter";
	case TK_RDELIM: return "right delimiter";
	case TK_IDENT: return "identifier";
	case TK_FIELD: return "field";
	case TK_VAR: return "variable";
	case TK_STRING: return "string";
	case TK_CHAR: return "character constant";
	case TK_NUMBER: return "number";
	case TK_BOOL: return "boolean";
	case TK_NIL: return "nil";
	case TK_DOT: return "\".\"";
	case TK_DECLARE: return "\":=\"";
	case TK_ASSIGN: return "\"=\"";
	case TK_PIPE: return "\"|\"";
	case TK_LPAREN: return "\"(\"";
	case TK_RPAREN: return "\")\"";
	case TK_COMMA: return "\",\"";
	case TK_BLOCK: return "<block>";
	case TK_BREAK: return "<break>";
	case TK_CONTINUE: return "<continue>";
	case TK_DEFINE: return "<define>";
	case TK_ELSE: return "<else>";
	case TK_END: return "<end>";
	case TK_IF: return "<if>";
	case TK_RANGE: return "<range>";
	case TK_TEMPLATE: return "<template>";
	case TK_WITH: return "<with>";
	}
	return "token";
}

static void unexpected(struct tparser *p, const struct ttoken *t, const char *context)
{
	if (t->kind == TK_ERROR)
		return; /* already reported */
	if (t->kind == TK_EOF && context && strcmp(context, "input") != 0)
		perr(p, t->pos, "unclosed action in %s", context);
	else
		perr(p, t->pos, "unexpected %s in %s", tok_desc(t), context);
}

static bool expect(struct tparser *p, enum ttok kind, const char *context)
{
	struct ttoken t;
	next(p, &t);
	if (t.kind == kind)
		return true;
	unexpected(p, &t, context);
	ttoken_clear(&t);
	return false;
}

static bool enter(struct tparser *p, struct tpos pos)
{
	if (++p->depth > TMPL_DEPTH_MAX) {
		perr(p, pos, "nesting deeper than %d", TMPL_DEPTH_MAX);
		return false;
	}
	return true;
}

/* ---- the tree ---- */

static void targ_free(struct targ *a)
{
	if (!a)
		return;
	free(a->name);
	for (size_t i = 0; i < a->nidents; i++)
		free(a->idents[i]);
	free(a->idents);
	if (a->lit && !json_is_boolean(a->lit)) /* made immortal by pin(): ours to free */
		a->lit->refcount = 1;
	json_decref(a->lit);
	tpipe_free(a->pipe);
	targ_free(a->base);
	free(a);
}

void tpipe_free(struct tpipe *pp)
{
	if (!pp)
		return;
	for (size_t i = 0; i < pp->ndecl; i++)
		free(pp->decl[i]);
	free(pp->decl);
	for (size_t i = 0; i < pp->ncmds; i++) {
		for (size_t j = 0; j < pp->cmds[i]->nargs; j++)
			targ_free(pp->cmds[i]->args[j]);
		free(pp->cmds[i]->args);
		free(pp->cmds[i]);
	}
	free(pp->cmds);
	free(pp);
}

static void tnode_free(struct tnode *n)
{
	if (!n || n == &end_marker || n == &else_marker)
		return;
	free(n->text);
	tpipe_free(n->pipe);
	tlist_free(n->list);
	tlist_free(n->else_list);
	free(n);
}

void tlist_free(struct tlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		tnode_free(l->nodes[i]);
	free(l->nodes);
	free(l);
}

static void list_add(struct tlist *l, struct tnode *n)
{
	if ((l->n & (l->n - 1)) == 0)
		l->nodes = xrealloc(l->nodes, (l->n ? l->n * 2 : 1) * sizeof(*l->nodes));
	l->nodes[l->n++] = n;
}

static void grow_push(void ***arr, size_t *n, void *item)
{
	if ((*n & (*n - 1)) == 0)
		*arr = xrealloc(*arr, (*n ? *n * 2 : 1) * sizeof(void *));
	(*arr)[(*n)++] = item;
}

static struct tnode *new_node(enum tnode_kind kind, struct tpos pos)
{
	struct tnode *n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->pos = pos;
	return n;
}

static void var_push(struct tparser *p, const char *name)
{
	if (p->nvars == p->vars_cap) {
		p->vars_cap = p->vars_cap ? p->vars_cap * 2 : 8;
		p->vars = xrealloc(p->vars, p->vars_cap * sizeof(*p->vars));
	}
	p->vars[p->nvars++] = name;
}

static bool var_known(const struct tparser *p, const char *name)
{
	for (size_t i = p->nvars; i-- > 0;)
		if (strcmp(p->vars[i], name) == 0)
			return true;
	return false;
}

/* ---- operands ---- */

static struct tpipe *pipeline(struct tparser *p, const char *context, enum ttok end);

static json_t *number_value(const char *s, size_t n)
{
	char text[128];
	size_t k = 0;
	bool neg = false, is_float = false;
	int base = 10;

	if (n == 0 || n >= sizeof(text))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			text[k++] = s[i];
	text[k] = '\0';
	char *q = text;
	if (*q == '+' || *q == '-')
		neg = *q++ == '-';
	if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X'))
		base = 16, q += 2;
	else if (q[0] == '0' && (q[1] == 'o' || q[1] == 'O'))
		base = 8, q += 2;
	else if (q[0] == '0' && (q[1] == 'b' || q[1] == 'B'))
		base = 2, q += 2;
	else if (strpbrk(q, ".eE"))
		is_float = true;
	else if (q[0] == '0' && q[1])
		base = 8, q++;
	if (!*q)
		return NULL;
	char *end = NULL;
	errno = 0;
	if (is_float) {
		double d = strtod(text, &end);
		if (*end || errno == ERANGE)
			return NULL;
		return json_real(d);
	}
	if (*q == '-' || *q == '+')
		return NULL;
	unsigned long long u = strtoull(q, &end, base);
	if (*end || errno == ERANGE || u > (neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX))
		return NULL;
	return json_integer(neg ? (json_int_t)(0 - u) : (json_int_t)u);
}

/* A literal of the tree: renderings on several threads share it, so it is
 * made immortal (jansson's refcount (size_t)-1, as its true, false and
 * null are) and taking or dropping a reference never writes to it. */
static json_t *pin(json_t *v)
{
	if (v && !json_is_boolean(v))
		v->refcount = (size_t)-1;
	return v;
}

static struct targ *new_arg(enum targ_kind kind, struct tpos pos)
{
	struct targ *a = xcalloc(1, sizeof(*a));
	a->kind = kind;
	a->pos = pos;
	a->fn = -1;
	return a;
}

static struct targ *term(struct tparser *p)
{
	struct ttoken t;
	struct targ *a = NULL;

	next(p, &t);
	switch (t.kind) {
	case TK_IDENT: {
		const char *refused = NULL;
		int fn = tfunc_lookup(p->dialect, t.p, t.n, &refused);
		if (fn < 0) {
			if (refused)
				perr(p, t.pos, "function \"%.*s\" is not supported %s (%s)", (int)t.n, t.p,
				     p->dialect == TMPL_SPRIG ? "in transformation templates" : "by trove agent", refused);
			else
				perr(p, t.pos, "unknown function \"%.*s\"", (int)t.n, t.p);
			return NULL;
		}
		a = new_arg(TA_IDENT, t.pos);
		a->name = xstrndup(t.p, t.n);
		a->fn = fn;
		return a;
	}
	case TK_DOT:
		return new_arg(TA_DOT, t.pos);
	case TK_NIL:
		return new_arg(TA_NIL, t.pos);
	case TK_VAR:
		a = new_arg(TA_VAR, t.pos);
		a->name = xstrndup(t.p, t.n);
		if (!var_known(p, a->name)) {
			perr(p, t.pos, "variable \"%s\" is not declared", a->name);
			targ_free(a);
			return NULL;
		}
		return a;
	case TK_FIELD:
		a = new_arg(TA_FIELD, t.pos);
		grow_push((void ***)&a->idents, &a->nidents, xstrndup(t.p, t.n));
		return a;
	case TK_BOOL:
		a = new_arg(TA_LIT, t.pos);
		a->lit = json_boolean(t.n == 4);
		return a;
	case TK_CHAR:
		a = new_arg(TA_LIT, t.pos);
		a->lit = pin(json_integer(t.num));
		return a;
	case TK_NUMBER:
		a = new_arg(TA_LIT, t.pos);
		a->lit = pin(number_value(t.p, t.n));
		if (!a->lit) {
			perr(p, t.pos, "illegal number syntax: %.*s", (int)t.n, t.p);
			targ_free(a);
			return NULL;
		}
		return a;
	case TK_STRING:
		a = new_arg(TA_LIT, t.pos);
		a->lit = pin(tval_str(t.str, t.str_len));
		ttoken_clear(&t);
		return a;
	case TK_LPAREN:
		if (!enter(p, t.pos))
			return NULL;
		a = new_arg(TA_PIPE, t.pos);
		a->pipe = pipeline(p, "parenthesized pipeline", TK_RPAREN);
		p->depth--;
		if (!a->pipe) {
			targ_free(a);
			return NULL;
		}
		return a;
	default:
		backup(p, &t);
		return NULL;
	}
}

/* A term and the fields chained to it (".a.b", "$x.a", "(...).a"). */
static struct targ *operand(struct tparser *p)
{
	struct ttoken t;
	struct targ *a = term(p);

	if (!a)
		return NULL;
	if (peek(p, &t) != TK_FIELD || t.space_before)
		return a;
	if (a->kind == TA_LIT || a->kind == TA_NIL || a->kind == TA_DOT) {
		perr(p, t.pos, "unexpected . after term");
		targ_free(a);
		return NULL;
	}
	if (a->kind == TA_IDENT || a->kind == TA_PIPE) {
		struct targ *c = new_arg(TA_CHAIN, a->pos);
		c->base = a;
		a = c;
	}
	while (peek(p, &t) == TK_FIELD && !t.space_before) {
		next(p, &t);
		grow_push((void ***)&a->idents, &a->nidents, xstrndup(t.p, t.n));
	}
	return a;
}

/* One command, up to a "|" (eaten; Go takes a pipeline that ends with one
 * as if it did not) or the end of the pipeline. */
static struct tcmd *command(struct tparser *p)
{
	struct tcmd *c = xcalloc(1, sizeof(*c));
	struct ttoken t;

	peek(p, &t);
	c->pos = t.pos;
	for (;;) {
		struct targ *a = operand(p);
		if (p->err) {
			targ_free(a);
			goto fail;
		}
		if (a)
			grow_push((void ***)&c->args, &c->nargs, a);
		next(p, &t);
		if (t.kind == TK_RDELIM || t.kind == TK_RPAREN) {
			backup(p, &t);
			break;
		}
		if (t.kind == TK_PIPE)
			break;
		if (a && t.space_before) {
			backup(p, &t);
			continue;
		}
		unexpected(p, &t, "operand");
		ttoken_clear(&t);
		goto fail;
	}
	if (c->nargs == 0) {
		perr(p, c->pos, "empty command");
		goto fail;
	}
	return c;
fail:
	for (size_t i = 0; i < c->nargs; i++)
		targ_free(c->args[i]);
	free(c->args);
	free(c);
	return NULL;
}

/* Declarations: "$x :=", "$x =", and in a range "$i, $v :=". */
static bool declarations(struct tparser *p, struct tpipe *pp, const char *context)
{
	struct ttoken v, t;

	for (;;) {
		if (peek(p, NULL) != TK_VAR)
			return true;
		next(p, &v);
		enum ttok k = peek(p, &t);
		if (k == TK_DECLARE || k == TK_ASSIGN) {
			next(p, &t);
			char *name = xstrndup(v.p, v.n);
			grow_push((void ***)&pp->decl, &pp->ndecl, name);
			pp->is_assign = k == TK_ASSIGN;
			if (pp->is_assign && !var_known(p, name)) {
				perr(p, v.pos, "variable \"%s\" is not declared", name);
				return false;
			}
			if (!pp->is_assign)
				var_push(p, name);
			return true;
		}
		if (k == TK_COMMA && strcmp(context, "range") == 0 && pp->ndecl == 0) {
			next(p, &t);
			char *name = xstrndup(v.p, v.n);
			grow_push((void ***)&pp->decl, &pp->ndecl, name);
			var_push(p, name);
			if (peek(p, NULL) != TK_VAR) {
				perr(p, t.pos, "range can only initialize variables");
				return false;
			}
			continue;
		}
		if (k == TK_COMMA) {
			perr(p, t.pos, "too many declarations in %s", context);
			return false;
		}
		if (pp->ndecl > 0) {
			perr(p, v.pos, "missing := after the variables of %s", context);
			return false;
		}
		backup(p, &v);
		return true;
	}
}

static struct tpipe *pipeline(struct tparser *p, const char *context, enum ttok end)
{
	struct tpipe *pp = xcalloc(1, sizeof(*pp));
	struct ttoken t;

	peek(p, &t);
	pp->pos = t.pos;
	if (!declarations(p, pp, context))
		goto fail;
	for (;;) {
		next(p, &t);
		if (t.kind == end) {
			if (pp->ncmds == 0) {
				perr(p, t.pos, "%s needs a value", context);
				goto fail;
			}
			for (size_t i = 1; i < pp->ncmds; i++) {
				const struct targ *a = pp->cmds[i]->args[0];
				if (a->kind == TA_LIT || a->kind == TA_DOT || a->kind == TA_NIL) {
					perr(p, a->pos, "stage %zu of the pipeline is a constant, not a function", i + 1);
					goto fail;
				}
			}
			return pp;
		}
		switch (t.kind) {
		case TK_BOOL:
		case TK_CHAR:
		case TK_DOT:
		case TK_FIELD:
		case TK_IDENT:
		case TK_NUMBER:
		case TK_NIL:
		case TK_STRING:
		case TK_VAR:
		case TK_LPAREN: {
			backup(p, &t);
			struct tcmd *c = command(p);
			if (!c)
				goto fail;
			grow_push((void ***)&pp->cmds, &pp->ncmds, c);
			break;
		}
		default:
			unexpected(p, &t, context);
			ttoken_clear(&t);
			goto fail;
		}
	}
fail:
	tpipe_free(pp);
	return NULL;
}

/* ---- actions ---- */

static struct tnode *text_or_action(struct tparser *p);

/* Nodes up to an {{end}} or {{else}}: *stop gets which. */
static struct tlist *item_list(struct tparser *p, struct tnode **stop, const char *context)
{
	struct tlist *l = xcalloc(1, sizeof(*l));

	*stop = NULL;
	for (;;) {
		struct ttoken t;
		if (peek(p, &t) == TK_EOF) {
			perr(p, t.pos, "unexpected end of input in %s: missing {{end}}", context);
			break;
		}
		struct tnode *n = text_or_action(p);
		if (!n)
			break;
		if (n == &end_marker || n == &else_marker) {
			*stop = n;
			return l;
		}
		list_add(l, n);
	}
	tlist_free(l);
	return NULL;
}

static struct tnode *control(struct tparser *p, enum tnode_kind kind, struct tpos pos, const char *context)
{
	size_t mark = p->nvars;
	struct tnode *n = new_node(kind, pos), *stop = NULL;

	if (!enter(p, pos))
		goto fail;
	n->pipe = pipeline(p, context, TK_RDELIM);
	if (!n->pipe)
		goto fail;
	if (kind == TN_RANGE)
		p->range_depth++;
	n->list = item_list(p, &stop, context);
	if (kind == TN_RANGE)
		p->range_depth--;
	if (!n->list)
		goto fail;
	if (stop == &else_marker) {
		enum ttok k = peek(p, NULL);
		if ((kind == TN_IF && k == TK_IF) || (kind == TN_WITH && k == TK_WITH)) {
			struct ttoken t;
			next(p, &t);
			n->else_list = xcalloc(1, sizeof(*n->else_list));
			struct tnode *inner = control(p, kind, t.pos, context);
			if (!inner)
				goto fail;
			list_add(n->else_list, inner);
		} else {
			n->else_list = item_list(p, &stop, context);
			if (!n->else_list)
				goto fail;
			if (stop != &end_marker) {
				perr(p, pos, "expected {{end}} after {{else}} in %s", context);
				goto fail;
			}
		}
	}
	p->depth--;
	p->nvars = mark;
	return n;
fail:
	p->depth--;
	p->nvars = mark;
	tnode_free(n);
	return NULL;
}

/* The quoted name after define, template or block. */
static char *template_name(struct tparser *p, const char *context)
{
	struct ttoken t;
	next(p, &t);
	if (t.kind != TK_STRING) {
		if (t.kind != TK_ERROR)
			perr(p, t.pos, "expected the quoted name of the template after %s", context);
		ttoken_clear(&t);
		return NULL;
	}
	char *name = t.str;
	t.str = NULL;
	return name;
}

/* A body in a scope of its own, up to its {{end}}, stored as name. */
static bool define_body(struct tparser *p, char *name, struct tpos pos, const char *context)
{
	const char **saved = p->vars;
	size_t saved_n = p->nvars, saved_cap = p->vars_cap;
	int saved_range = p->range_depth;
	struct tnode *stop = NULL;
	struct tlist *body = NULL;

	p->vars = NULL;
	p->nvars = p->vars_cap = 0;
	p->range_depth = 0;
	var_push(p, "$");
	if (enter(p, pos))
		body = item_list(p, &stop, context);
	p->depth--;
	free(p->vars);
	p->vars = saved;
	p->nvars = saved_n;
	p->vars_cap = saved_cap;
	p->range_depth = saved_range;
	if (!body) {
		free(name);
		return false;
	}
	if (stop != &end_marker) {
		perr(p, pos, "unexpected {{else}} in %s", context);
		tlist_free(body);
		free(name);
		return false;
	}
	for (size_t i = 0; i < p->t->ndefs; i++)
		if (strcmp(p->t->defs[i].name, name) == 0) {
			if (p->t->defs[i].root->n > 0 && body->n > 0) {
				perr(p, pos, "template \"%s\" defined twice", name);
				tlist_free(body);
				free(name);
				return false;
			}
			if (body->n > 0) {
				tlist_free(p->t->defs[i].root);
				p->t->defs[i].root = body;
			} else {
				tlist_free(body);
			}
			free(name);
			return true;
		}
	p->t->defs = xrealloc(p->t->defs, (p->t->ndefs + 1) * sizeof(*p->t->defs));
	p->t->defs[p->t->ndefs].name = name;
	p->t->defs[p->t->ndefs].root = body;
	p->t->ndefs++;
	return true;
}

static struct tnode *template_call(struct tparser *p, struct tpos pos, bool block)
{
	const char *context = block ? "block" : "template";
	char *name = template_name(p, context);
	if (!name)
		return NULL;
	struct tnode *n = new_node(TN_TEMPLATE, pos);
	n->text = name;
	n->len = strlen(name);
	struct ttoken t;
	if (peek(p, &t) == TK_RDELIM) {
		next(p, &t);
	} else {
		n->pipe = pipeline(p, context, TK_RDELIM);
		if (!n->pipe) {
			tnode_free(n);
			return NULL;
		}
	}
	if (block && !define_body(p, xstrdup(name), pos, context)) {
		tnode_free(n);
		return NULL;
	}
	return n;
}

/* After a left delimiter. */
static struct tnode *action(struct tparser *p)
{
	struct ttoken t;
	next(p, &t);
	switch (t.kind) {
	case TK_IF:
		return control(p, TN_IF, t.pos, "if");
	case TK_WITH:
		return control(p, TN_WITH, t.pos, "with");
	case TK_RANGE:
		return control(p, TN_RANGE, t.pos, "range");
	case TK_TEMPLATE:
		return template_call(p, t.pos, false);
	case TK_BLOCK:
		return template_call(p, t.pos, true);
	case TK_END:
		return expect(p, TK_RDELIM, "end") ? &end_marker : NULL;
	case TK_ELSE: {
		enum ttok k = peek(p, NULL);
		if (k == TK_IF || k == TK_WITH)
			return &else_marker; /* "else if": the if is read by control() */
		return expect(p, TK_RDELIM, "else") ? &else_marker : NULL;
	}
	case TK_BREAK:
	case TK_CONTINUE: {
		bool brk = t.kind == TK_BREAK;
		if (p->range_depth == 0) {
			perr(p, t.pos, "{{%s}} outside {{range}}", brk ? "break" : "continue");
			return NULL;
		}
		if (!expect(p, TK_RDELIM, brk ? "break" : "continue"))
			return NULL;
		return new_node(brk ? TN_BREAK : TN_CONTINUE, t.pos);
	}
	case TK_DEFINE:
		perr(p, t.pos, "{{define}} only at the top level");
		return NULL;
	default: {
		struct tpos pos = t.pos;
		backup(p, &t);
		struct tpipe *pp = pipeline(p, "command", TK_RDELIM);
		if (!pp)
			return NULL;
		struct tnode *n = new_node(TN_ACTION, pos);
		n->pipe = pp;
		return n;
	}
	}
}

static struct tnode *text_or_action(struct tparser *p)
{
	struct ttoken t;
	next(p, &t);
	if (t.kind == TK_TEXT) {
		struct tnode *n = new_node(TN_TEXT, t.pos);
		n->text = xmalloc(t.n + 1); /* text may hold NULs */
		memcpy(n->text, t.p, t.n);
		n->text[t.n] = '\0';
		n->len = t.n;
		return n;
	}
	if (t.kind == TK_LDELIM)
		return action(p);
	unexpected(p, &t, "input");
	ttoken_clear(&t);
	return NULL;
}

static bool parse_top(struct tparser *p)
{
	p->t->root = xcalloc(1, sizeof(*p->t->root));
	var_push(p, "$");
	for (;;) {
		struct ttoken t, d;
		if (peek(p, &t) == TK_EOF)
			return !p->err;
		if (t.kind == TK_LDELIM) {
			next(p, &t);
			if (peek(p, &d) == TK_DEFINE) {
				next(p, &d);
				char *name = template_name(p, "define");
				if (!name || !expect(p, TK_RDELIM, "define")) {
					free(name);
					return false;
				}
				if (!define_body(p, name, d.pos, "define"))
					return false;
				continue;
			}
			struct tnode *n = action(p);
			if (n == &end_marker || n == &else_marker) {
				perr(p, t.pos, "unexpected {{%s}}", n == &end_marker ? "end" : "else");
				return false;
			}
			if (!n)
				return false;
			list_add(p->t->root, n);
			continue;
		}
		struct tnode *n = text_or_action(p);
		if (!n)
			return false;
		list_add(p->t->root, n);
	}
}

void tmpl_free(struct tmpl *t)
{
	if (!t)
		return;
	free(t->name);
	tlist_free(t->root);
	for (size_t i = 0; i < t->ndefs; i++) {
		free(t->defs[i].name);
		tlist_free(t->defs[i].root);
	}
	free(t->defs);
	free(t);
}

int tmpl_parse(const char *name, const char *text, size_t len, const char *ldelim, const char *rdelim,
               struct tmpl **out, char **err)
{
	struct tmpl_parse_opts o = { .ldelim = ldelim, .rdelim = rdelim, .dialect = TMPL_CONSUL };
	return tmpl_parse_opts(name, text, len, &o, out, err);
}

int tmpl_parse_opts(const char *name, const char *text, size_t len, const struct tmpl_parse_opts *o,
                    struct tmpl **out, char **err)
{
	const char *ldelim = o->ldelim, *rdelim = o->rdelim;
	struct tparser p;
	int r = TROVE_ERR_INVALID;

	*out = NULL;
	*err = NULL;
	if (!name)
		name = "template";
	if (len > TMPL_TEXT_MAX) {
		struct buf b;
		buf_init(&b, 4096);
		(void)buf_printf(&b, "%s: template is %zu bytes, over the limit of %zu", name, len, TMPL_TEXT_MAX);
		*err = buf_take(&b);
		return TROVE_ERR_TOO_LARGE;
	}
	memset(&p, 0, sizeof(p));
	tlex_init(&p.lx, text ? text : "", text ? len : 0, ldelim && *ldelim ? ldelim : NULL,
	          rdelim && *rdelim ? rdelim : NULL);
	p.name = name;
	p.dialect = o->dialect;
	p.t = xcalloc(1, sizeof(*p.t));
	p.t->name = xstrdup(name);
	p.t->dialect = o->dialect;
	if (parse_top(&p) && !p.err) {
		*out = p.t;
		p.t = NULL;
		r = 0;
	} else {
		if (!p.err)
			perr(&p, (struct tpos){ p.lx.line, 1 }, "syntax error");
		*err = p.err;
		p.err = NULL;
	}
	while (p.nla > 0)
		ttoken_clear(&p.la[--p.nla]);
	tmpl_free(p.t);
	free(p.vars);
	free(p.err);
	return r;
}
