/* agent_templates_run.c — the template runner's loop: render what is due,
 * refresh what is due, write what changed, then sleep on the agent's
 * condition variable until the next thing is due (agent_templates_run.h).
 * Fetching a dependency is agent_templates_fetch.c. */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_command.h"
#include "agent/agent_templates_fetch.h"
#include "agent/agent_templates_run.h"
#include "agent/agent_write.h"
#include "agent/tmpl.h"
#include "api/config.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "secure.h"

#include "banned.h"

#define MS_NS INT64_C(1000000)

struct ttpl {
	const struct agent_template_config *cfg;
	struct tmpl *t;
	bool dirty;              /* a dependency changed (or never rendered) */
	int64_t render_at_ns;    /* when dirty: not before (wait { min }) */
	int64_t first_change_ns; /* when dirty: the oldest change not rendered (wait { max }) */
	bool rendered;           /* rendered once */
	int failures;            /* renderings failed in a row */
	int64_t retry_at_ns;
	struct tdep **deps; /* what its last rendering used */
	size_t ndeps;
	size_t capdeps;
	char *env_value; /* env_template: its last rendering */
};

struct trunner {
	struct agent *a;
	const struct agent_config *cfg;
	struct trunner_ops ops;
	struct ttpl *tpls;
	size_t ntpls;
	struct tfetch f; /* client, token, dependencies */
	bool env_dirty;  /* an env_template changed since exec mode was told */
	size_t commands_run;
	size_t files_written;
	int retries; /* failures in a row allowed before exit_on_retry_failure */
};

/* ---- setting up ------------------------------------------------------------ */

static int parse_one(struct ttpl *tp, struct buf *err)
{
	const struct agent_template_config *c = tp->cfg;
	struct buf src;
	char *msg = NULL;
	int r;

	buf_init(&src, TRUNNER_SOURCE_MAX + 1);
	if (c->source) {
		struct buf why;

		buf_init(&why, 512);
		r = agent_file_read(c->source, TRUNNER_SOURCE_MAX, &src, &why);
		if (r != 0)
			buf_printf(err, "%s: template source %s: %s", c->where, c->source,
			           r == TROVE_ERR_NOT_FOUND ? "no such file" : why.data);
		buf_release(&why);
		if (r != 0)
			goto out;
	} else {
		buf_append_str(&src, c->contents ? c->contents : "");
	}
	r = tmpl_parse(c->source ? c->source : "contents", src.data, src.len, c->left_delimiter, c->right_delimiter,
	               &tp->t, &msg);
	if (r != 0)
		buf_printf(err, "%s: template: %s", c->where, msg ? msg : err_message(r));
out:
	free(msg);
	buf_release(&src);
	return r;
}

int trunner_new(struct agent *a, const struct trunner_ops *ops, struct trunner **out, struct buf *err)
{
	const struct agent_config *cfg = a->cfg;
	struct trunner *r = xcalloc(1, sizeof(*r));
	int rc = 0;

	r->a = a;
	r->cfg = cfg;
	r->ops = *ops;
	r->ntpls = cfg->ntemplates;
	r->tpls = xcalloc(r->ntpls ? r->ntpls : 1, sizeof(*r->tpls));
	r->retries = cfg->vault.num_retries < 0 ? 0
	             : cfg->vault.num_retries == 0 ? TRUNNER_DEFAULT_RETRIES
	                                           : (int)cfg->vault.num_retries;
	tfetch_init(&r->f, a);
	for (size_t i = 0; i < r->ntpls && rc == 0; i++) {
		r->tpls[i].cfg = &cfg->templates[i];
		rc = parse_one(&r->tpls[i], err);
	}
	if (rc != 0) {
		trunner_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void trunner_free(struct trunner *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ntpls; i++) {
		tmpl_free(r->tpls[i].t);
		free(r->tpls[i].deps);
		secure_free_str(r->tpls[i].env_value);
	}
	free(r->tpls);
	tfetch_release(&r->f);
	free(r);
}

const struct tdep *trunner_deps(const struct trunner *r)
{
	return r->f.deps;
}

size_t trunner_commands_run(const struct trunner *r)
{
	return r->commands_run;
}

size_t trunner_files_written(const struct trunner *r)
{
	return r->files_written;
}

/* ---- rendering ------------------------------------------------------------- */

struct rctx {
	struct trunner *r;
	struct ttpl *tp;
	struct tdep **used; /* what this rendering asked for */
	size_t nused;
	size_t capused;
	int fetch_err; /* the code of a failed fetch, 0 when none */
};

static void add_dep(struct tdep ***list, size_t *n, size_t *cap, struct tdep *d)
{
	for (size_t i = 0; i < *n; i++)
		if ((*list)[i] == d)
			return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		*list = xrealloc(*list, *cap * sizeof(**list));
	}
	(*list)[(*n)++] = d;
}

static int call_dep(struct rctx *rc, enum tdep_kind kind, const char *path, const char *const *args, size_t nargs,
                    json_t **out, char **err)
{
	const char *dest = kind == TDEP_PKI ? rc->tp->cfg->destination : NULL;
	struct tdep *d = tfetch_dep(&rc->r->f, kind, path, args, nargs, dest);
	struct buf why;
	int r;

	add_dep(&rc->used, &rc->nused, &rc->capused, d);
	if (d->value) {
		*out = json_incref(d->value);
		return 0;
	}
	buf_init(&why, 4096);
	r = tfetch_fetch(&rc->r->f, d, true, &why);
	if (r == 0) {
		*out = json_incref(d->value);
	} else {
		rc->fetch_err = r;
		*err = buf_take(&why);
	}
	buf_release(&why);
	return r;
}

static int fn_secret(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out, char **err)
{
	return call_dep(ctx, nargs > 0 ? TDEP_WRITE : TDEP_READ, path, args, nargs, out, err);
}

static int fn_pki_cert(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out, char **err)
{
	return call_dep(ctx, TDEP_PKI, path, args, nargs, out, err);
}

static void run_command(struct trunner *r, const struct agent_template_config *c)
{
	struct buf out, why;
	long timeout_ms = (c->command_timeout > 0 ? (long)c->command_timeout : 30) * 1000L;
	int rc;

	buf_init(&out, TRUNNER_COMMAND_OUTPUT_MAX);
	buf_init(&why, 512);
	r->commands_run++;
	rc = agent_command_run(c->command, c->ncommand, c->command_shell, timeout_ms, r->a->wake_fd[0], &out, &why);
	if (out.len > 0)
		log_debug("template command output", "template", c->where, "output", out.data);
	if (rc != 0)
		log_error("template command failed", "template", c->where, "destination", c->destination, "error",
		          why.data);
	else
		log_info("template command ran", "template", c->where, "destination", c->destination);
	buf_release(&out);
	buf_release(&why);
}

/* What a rendering that succeeded does: an env_template's value is kept
 * for exec mode; a file is written only when its bytes differ from what
 * the destination holds, and only then does the command run. */
static int output(struct trunner *r, struct ttpl *tp, const struct buf *text)
{
	const struct agent_template_config *c = tp->cfg;
	struct agent_write_opts o = { .perms = c->perms == AGENT_PERMS_UNSET ? AGENT_WRITE_KEEP_MODE : c->perms,
	                              .create_dirs = c->create_dest_dirs,
	                              .backup = c->backup };
	struct buf why;
	int rc;

	if (c->env_name) {
		if (tp->env_value == NULL || strcmp(tp->env_value, text->data) != 0) {
			secure_free_str(tp->env_value);
			tp->env_value = xstrdup(text->data);
			r->env_dirty = true;
		}
		return 0;
	}
	if (agent_file_same(c->destination, text->data, text->len)) {
		log_debug("template unchanged", "template", c->where, "destination", c->destination);
		return 0;
	}
	buf_init(&why, 4096 + 256);
	rc = agent_file_write(c->destination, text->data, text->len, &o, &why);
	if (rc != 0) {
		log_error("template not written", "template", c->where, "error", why.data);
		buf_release(&why);
		return rc;
	}
	buf_release(&why);
	r->files_written++;
	log_info("template rendered", "template", c->where, "destination", c->destination);
	if (c->ncommand > 0)
		run_command(r, c);
	return 0;
}

static void render_failed(struct trunner *r, struct ttpl *tp, int code, const char *why)
{
	tp->failures++;
	tp->retry_at_ns = clock_monotonic_ns() + tdep_backoff_ms(tp->failures) * MS_NS;
	log_warn("template not rendered", "template", tp->cfg->where, "error", why ? why : err_message(code));
	if (tp->failures > r->retries && r->cfg->template_config.exit_on_retry_failure) {
		log_error("template retries exhausted; stopping (exit_on_retry_failure)", "template", tp->cfg->where);
		agent_request_stop(r->a, 1);
	}
}

static void render(struct trunner *r, struct ttpl *tp)
{
	struct rctx rc = { .r = r, .tp = tp };
	struct tmpl_funcs fns = { .ctx = &rc, .secret = fn_secret, .pki_cert = fn_pki_cert };
	struct buf text;
	char *msg = NULL;
	int code;

	buf_init_secret(&text, TRUNNER_OUTPUT_MAX);
	code = tmpl_render(tp->t, &fns, tp->cfg->error_on_missing_key, &text, &msg);
	if (code == 0)
		code = output(r, tp, &text);
	if (code == 0) {
		free(tp->deps);
		tp->deps = rc.used;
		tp->ndeps = rc.nused;
		tp->capdeps = rc.capused;
		tp->failures = 0;
		tp->dirty = false;
		tp->rendered = true;
	} else {
		/* Keep what it used before as well: those stay its dependencies. */
		for (size_t i = 0; i < rc.nused; i++)
			add_dep(&tp->deps, &tp->ndeps, &tp->capdeps, rc.used[i]);
		free(rc.used);
		render_failed(r, tp, rc.fetch_err ? rc.fetch_err : code, msg);
	}
	free(msg);
	buf_release_secret(&text);
}

/* A dependency of tp changed at now: render again when wait { } says. */
static void changed(struct ttpl *tp, int64_t now)
{
	if (!tp->dirty) {
		tp->dirty = true;
		tp->first_change_ns = now;
	}
	tp->render_at_ns = tp->rendered ? tdep_wait_until(tp->first_change_ns, now, tp->cfg->wait_min, tp->cfg->wait_max)
	                                : now;
}

static void dep_changed(struct trunner *r, const struct tdep *d, int64_t now)
{
	for (size_t i = 0; i < r->ntpls; i++)
		for (size_t j = 0; j < r->tpls[i].ndeps; j++)
			if (r->tpls[i].deps[j] == d) {
				changed(&r->tpls[i], now);
				break;
			}
}

/* ---- the loop ---------------------------------------------------------------- */

static void refresh_due(struct trunner *r, int64_t now)
{
	for (struct tdep *d = r->f.deps; d && !r->f.need_token; d = d->next) {
		bool changed_data = false;
		int rc;

		if (d->value == NULL || d->due_ns == 0 || d->due_ns > now)
			continue;
		rc = tfetch_refresh(&r->f, d, &changed_data);
		if (rc == 0 && changed_data)
			dep_changed(r, d, clock_monotonic_ns());
		if (rc != 0 && d->failures > r->retries && r->cfg->template_config.exit_on_retry_failure) {
			log_error("secret refresh retries exhausted; stopping (exit_on_retry_failure)", "path", d->path);
			agent_request_stop(r->a, 1);
		}
	}
}

static void render_due(struct trunner *r, int64_t now)
{
	for (size_t i = 0; i < r->ntpls && !r->f.need_token && !agent_stopping(r->a); i++) {
		struct ttpl *tp = &r->tpls[i];

		if (tp->dirty && tp->render_at_ns <= now && tp->retry_at_ns <= now)
			render(r, tp);
	}
}

/* exec mode hears of the env_templates once every one has rendered, and
 * again whenever one of them changes. */
static void hand_env(struct trunner *r)
{
	struct strlist env;
	bool any = false;

	if (!r->env_dirty)
		return;
	for (size_t i = 0; i < r->ntpls; i++) {
		if (!r->tpls[i].cfg->env_name)
			continue;
		if (!r->tpls[i].rendered)
			return;
		any = true;
	}
	r->env_dirty = false;
	if (!any || r->ops.set_env == NULL)
		return;
	strlist_init(&env);
	for (size_t i = 0; i < r->ntpls; i++) {
		struct buf kv;

		if (!r->tpls[i].cfg->env_name)
			continue;
		buf_init_secret(&kv, TRUNNER_OUTPUT_MAX + 4096);
		buf_printf(&kv, "%s=%s", r->tpls[i].cfg->env_name, r->tpls[i].env_value);
		strlist_push(&env, kv.data);
		buf_release_secret(&kv);
	}
	r->ops.set_env(r->a, &env);
	for (size_t i = 0; i < env.len; i++)
		secure_wipe(env.items[i], strlen(env.items[i]));
	strlist_release(&env);
}

static bool all_rendered(const struct trunner *r)
{
	for (size_t i = 0; i < r->ntpls; i++)
		if (!r->tpls[i].rendered)
			return false;
	return true;
}

/* Forgets the dependencies no template uses any more (a branch not taken
 * now), once every template has rendered as it is now. */
static void prune(struct trunner *r)
{
	for (size_t i = 0; i < r->ntpls; i++)
		if (r->tpls[i].dirty || r->tpls[i].failures > 0)
			return;
	for (struct tdep *d = r->f.deps; d; d = d->next)
		d->users = 0;
	for (size_t i = 0; i < r->ntpls; i++)
		for (size_t j = 0; j < r->tpls[i].ndeps; j++)
			r->tpls[i].deps[j]->users++;
	tfetch_prune(&r->f);
}

/* Milliseconds until the next thing due: a refresh, a render or a retry. */
static long next_due_ms(const struct trunner *r, int64_t now)
{
	int64_t next = now + TRUNNER_MAX_REFRESH_MS * MS_NS;

	for (const struct tdep *d = r->f.deps; d; d = d->next)
		if (d->value && d->due_ns != 0 && d->due_ns < next)
			next = d->due_ns;
	for (size_t i = 0; i < r->ntpls; i++) {
		const struct ttpl *tp = &r->tpls[i];
		int64_t at = tp->render_at_ns > tp->retry_at_ns ? tp->render_at_ns : tp->retry_at_ns;

		if (tp->dirty && at < next)
			next = at;
	}
	return next <= now ? 0 : (long)((next - now + MS_NS - 1) / MS_NS);
}

/* A new token (a new login): what the old one fetched may be revoked with
 * it, so fetch everything again (pkiCert keeps a certificate that is
 * still good). What failed is retried after its backoff as before, so a
 * path the policy denies does not turn into a storm of logins. */
static void on_new_token(struct trunner *r, bool first)
{
	int64_t now = clock_monotonic_ns();

	if (first)
		return;
	for (struct tdep *d = r->f.deps; d; d = d->next) {
		if (d->kind == TDEP_PKI || d->value == NULL)
			continue;
		d->due_ns = now;
		d->renew = false;
	}
}

void trunner_run(struct trunner *r)
{
	struct buf why;
	int rc;

	buf_init(&why, 1024);
	rc = r->ops.make_client(r->a, &r->f.client, &why);
	if (rc != 0) {
		log_error("template runner: no API client", "error", why.data);
		agent_request_stop(r->a, 1);
		buf_release(&why);
		return;
	}
	buf_release(&why);
	if (!tfetch_wait_token(&r->f, -1))
		return; /* stopped */
	on_new_token(r, true);
	for (size_t i = 0; i < r->ntpls; i++)
		changed(&r->tpls[i], 0);
	while (!agent_stopping(r->a)) {
		int64_t now = clock_monotonic_ns();
		long ms;

		agent_rest_note(&r->a->rest);
		if (tfetch_wait_token(&r->f, 0))
			on_new_token(r, false);
		refresh_due(r, now);
		render_due(r, clock_monotonic_ns());
		hand_env(r);
		prune(r);
		if (r->cfg->exit_after_auth && all_rendered(r)) {
			log_info("templates rendered; exiting (exit_after_auth)");
			agent_request_stop(r->a, 0);
			break;
		}
		/* Refused token: nothing can be done until auto-auth has a new one. */
		ms = r->f.need_token ? -1 : next_due_ms(r, clock_monotonic_ns());
		if (ms != 0 && tfetch_wait_token(&r->f, ms))
			on_new_token(r, false);
	}
}
