/* agent_config.c — loading agent.hcl (agent_config.h).
 *
 * Each block kind has one option table (lib/hcl_config.h) for its scalar
 * keys; the blocks inside blocks (vault's retry, auto_auth's method and
 * sinks, a template's wait and exec, a listener's agent_api) and the
 * free-form `config = {..}` maps are read by the small functions below.
 * Anything not named here is an error naming file:line and the key. */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_config.h"
#include "err.h"
#include "hcl.h"
#include "hcl_config.h"
#include "secure.h"
#include "strconv.h"

#include "banned.h"

/* A handler for the keys of a block that are not in its option table:
 * returns 1 when it does not know key, else 0 or an error. */
typedef int (*extra_fn)(void *base, const struct hcl_member *m, const char *file, const char *block,
			struct buf *err);

struct ctx {
	struct agent_config *cfg;
};

#define O(st, name, type, field, lo, hi) { name, type, offsetof(struct st, field), lo, hi, NULL }

static const struct hcl_opt top_opts[] = {
	O(agent_config, "pid_file", HCL_OPT_STRING, pid_file, 0, 0),
	O(agent_config, "exit_after_auth", HCL_OPT_BOOL, exit_after_auth, 0, 0),
	O(agent_config, "log_level", HCL_OPT_STRING, log_level, 0, 0),
	O(agent_config, "log_format", HCL_OPT_STRING, log_format, 0, 0),
	O(agent_config, "log_file", HCL_OPT_STRING, log_file, 0, 0),
	O(agent_config, "disable_idle_connections", HCL_OPT_STRING_LIST, disable_idle_connections, 0, 0),
	O(agent_config, "disable_keep_alives", HCL_OPT_STRING_LIST, disable_keep_alives, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt vault_opts[] = {
	O(agent_vault_config, "address", HCL_OPT_STRING, address, 0, 0),
	O(agent_vault_config, "ca_cert", HCL_OPT_STRING, ca_cert, 0, 0),
	O(agent_vault_config, "ca_path", HCL_OPT_STRING, ca_path, 0, 0),
	O(agent_vault_config, "client_cert", HCL_OPT_STRING, client_cert, 0, 0),
	O(agent_vault_config, "client_key", HCL_OPT_STRING, client_key, 0, 0),
	O(agent_vault_config, "tls_server_name", HCL_OPT_STRING, tls_server_name, 0, 0),
	O(agent_vault_config, "tls_skip_verify", HCL_OPT_BOOL, tls_skip_verify, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

struct retry_opts {
	int64_t num_retries;
};

static const struct hcl_opt retry_opts[] = {
	{ "num_retries", HCL_OPT_COUNT, offsetof(struct retry_opts, num_retries), -1, 1000, NULL },
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt method_opts[] = {
	O(agent_method_config, "type", HCL_OPT_STRING, type, 0, 0),
	O(agent_method_config, "mount_path", HCL_OPT_STRING, mount_path, 0, 0),
	O(agent_method_config, "namespace", HCL_OPT_STRING, namespace_name, 0, 0),
	O(agent_method_config, "wrap_ttl", HCL_OPT_DURATION, wrap_ttl, 0, 0),
	O(agent_method_config, "min_backoff", HCL_OPT_DURATION, min_backoff, 1, 24 * 3600),
	O(agent_method_config, "max_backoff", HCL_OPT_DURATION, max_backoff, 1, 24 * 3600),
	O(agent_method_config, "exit_on_err", HCL_OPT_BOOL, exit_on_err, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt sink_opts[] = {
	O(agent_sink_config, "type", HCL_OPT_STRING, type, 0, 0),
	O(agent_sink_config, "wrap_ttl", HCL_OPT_DURATION, wrap_ttl, 0, 0),
	O(agent_sink_config, "dh_type", HCL_OPT_STRING, dh_type, 0, 0),
	O(agent_sink_config, "dh_path", HCL_OPT_STRING, dh_path, 0, 0),
	O(agent_sink_config, "derive_key", HCL_OPT_BOOL, derive_key, 0, 0),
	O(agent_sink_config, "aad", HCL_OPT_STRING, aad, 0, 0),
	O(agent_sink_config, "aad_env_var", HCL_OPT_STRING, aad_env_var, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt auto_auth_opts[] = {
	O(agent_auto_auth_config, "enable_reauth_on_new_credentials", HCL_OPT_BOOL,
	  enable_reauth_on_new_credentials, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt template_opts[] = {
	O(agent_template_config, "source", HCL_OPT_STRING, source, 0, 0),
	O(agent_template_config, "contents", HCL_OPT_STRING, contents, 0, 0),
	O(agent_template_config, "destination", HCL_OPT_STRING, destination, 0, 0),
	O(agent_template_config, "create_dest_dirs", HCL_OPT_BOOL, create_dest_dirs, 0, 0),
	O(agent_template_config, "command_timeout", HCL_OPT_DURATION, command_timeout, 1, 24 * 3600),
	O(agent_template_config, "error_on_missing_key", HCL_OPT_BOOL, error_on_missing_key, 0, 0),
	O(agent_template_config, "left_delimiter", HCL_OPT_STRING, left_delimiter, 0, 0),
	O(agent_template_config, "right_delimiter", HCL_OPT_STRING, right_delimiter, 0, 0),
	O(agent_template_config, "backup", HCL_OPT_BOOL, backup, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt env_template_opts[] = {
	O(agent_template_config, "contents", HCL_OPT_STRING, contents, 0, 0),
	O(agent_template_config, "source", HCL_OPT_STRING, source, 0, 0),
	O(agent_template_config, "error_on_missing_key", HCL_OPT_BOOL, error_on_missing_key, 0, 0),
	O(agent_template_config, "left_delimiter", HCL_OPT_STRING, left_delimiter, 0, 0),
	O(agent_template_config, "right_delimiter", HCL_OPT_STRING, right_delimiter, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt wait_opts[] = {
	O(agent_template_config, "min", HCL_OPT_DURATION, wait_min, 0, 24 * 3600),
	O(agent_template_config, "max", HCL_OPT_DURATION, wait_max, 0, 24 * 3600),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt template_exec_opts[] = {
	O(agent_template_config, "timeout", HCL_OPT_DURATION, command_timeout, 1, 24 * 3600),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt template_settings_opts[] = {
	O(agent_template_settings, "static_secret_render_interval", HCL_OPT_DURATION, static_secret_render_interval,
	  1, 0),
	O(agent_template_settings, "exit_on_retry_failure", HCL_OPT_BOOL, exit_on_retry_failure, 0, 0),
	O(agent_template_settings, "max_connections_per_host", HCL_OPT_COUNT, max_connections_per_host, 1, 1024),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt exec_opts[] = {
	O(agent_exec_config, "child_process_stdout", HCL_OPT_STRING, child_process_stdout, 0, 0),
	O(agent_exec_config, "child_process_stderr", HCL_OPT_STRING, child_process_stderr, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt listener_opts[] = {
	O(agent_listener_config, "address", HCL_OPT_STRING, address, 0, 0),
	O(agent_listener_config, "tls_disable", HCL_OPT_BOOL, tls_disable, 0, 0),
	O(agent_listener_config, "tls_cert_file", HCL_OPT_STRING, tls_cert_file, 0, 0),
	O(agent_listener_config, "tls_key_file", HCL_OPT_STRING, tls_key_file, 0, 0),
	O(agent_listener_config, "tls_min_version", HCL_OPT_STRING, tls_min_version, 0, 0),
	O(agent_listener_config, "tls_client_ca_file", HCL_OPT_STRING, tls_client_ca_file, 0, 0),
	O(agent_listener_config, "tls_require_and_verify_client_cert", HCL_OPT_BOOL,
	  tls_require_and_verify_client_cert, 0, 0),
	O(agent_listener_config, "require_request_header", HCL_OPT_BOOL, require_request_header, 0, 0),
	O(agent_listener_config, "role", HCL_OPT_STRING, role, 0, 0),
	O(agent_listener_config, "socket_mode", HCL_OPT_STRING, socket_mode, 0, 0),
	O(agent_listener_config, "socket_user", HCL_OPT_STRING, socket_user, 0, 0),
	O(agent_listener_config, "socket_group", HCL_OPT_STRING, socket_group, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt agent_api_opts[] = {
	O(agent_listener_config, "enable_quit", HCL_OPT_BOOL, enable_quit, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

static const struct hcl_opt proxy_opts[] = {
	O(agent_proxy_config, "enforce_consistency", HCL_OPT_STRING, enforce_consistency, 0, 0),
	O(agent_proxy_config, "when_inconsistent", HCL_OPT_STRING, when_inconsistent, 0, 0),
	{ NULL, 0, 0, 0, 0, NULL },
};

/* Applies body's members: table keys through the table, others through
 * extra (NULL: none). Each key once per block. */
static int apply(void *base, const struct hcl_opt *table, extra_fn extra, const struct hcl_value *body,
		 const char *file, const char *block, struct buf *err)
{
	size_t i, j;
	int r;

	if (body->type != HCL_OBJECT)
		return hcl_config_fail(err, file, body->line, "%sexpected a block", block);
	for (i = 0; i < body->u.object.len; i++) {
		const struct hcl_member *m = &body->u.object.members[i];
		const struct hcl_opt *o = hcl_opt_find(table, m->key);

		/* auto_auth's sink repeats; its method says itself when repeated */
		for (j = 0; j < i && strcmp(m->key, "sink") != 0 && strcmp(m->key, "method") != 0; j++)
			if (strcmp(body->u.object.members[j].key, m->key) == 0)
				return hcl_config_fail(err, file, m->line, "%s\"%s\" is set twice", block, m->key);
		if (o)
			r = hcl_opt_set(base, o, m, file, block, err);
		else
			r = extra ? extra(base, m, file, block, err) : 1;
		if (r == 1)
			return hcl_config_fail(err, file, m->line, "%sunknown key \"%s\"", block, m->key);
		if (r != 0)
			return r;
	}
	return 0;
}

/* The body of a block key written `key { .. }` or `key = { .. }`. */
static int block_body(const struct hcl_member *m, const char *file, const char *block, const struct hcl_value **body,
		      struct buf *err)
{
	if (m->nlabels != 0 || m->value->type != HCL_OBJECT)
		return hcl_config_fail(err, file, m->line, "%s%s: expected a block without labels", block, m->key);
	*body = m->value;
	return 0;
}

/* `config = { key = value ... }`: scalars kept as text. */
static int read_kv(struct agent_kv_list *l, const struct hcl_member *m, const char *file, const char *block,
		   struct buf *err)
{
	const struct hcl_value *v = m->value;
	size_t i;

	if (v->type == HCL_LIST && v->u.list.len == 1 && v->u.list.items[0]->type == HCL_OBJECT)
		v = v->u.list.items[0]; /* JSON's [{...}] form */
	if (v->type != HCL_OBJECT)
		return hcl_config_fail(err, file, m->line, "%sconfig: expected a map such as config = { key = \"value\" }",
				       block);
	for (i = 0; i < v->u.object.len; i++) {
		const struct hcl_member *e = &v->u.object.members[i];
		const struct hcl_value *x = e->value;
		char num[64];
		const char *text;

		if (agent_kv_find(l, e->key))
			return hcl_config_fail(err, file, e->line, "%sconfig: \"%s\" is set twice", block, e->key);
		switch (x->type) {
		case HCL_STRING:
			text = x->u.string.ptr;
			break;
		case HCL_INT:
			snprintf(num, sizeof(num), "%lld", (long long)x->u.i);
			text = num;
			break;
		case HCL_FLOAT:
			snprintf(num, sizeof(num), "%.17g", x->u.f);
			text = num;
			break;
		case HCL_BOOL:
			text = x->u.b ? "true" : "false";
			break;
		default:
			return hcl_config_fail(err, file, e->line ? e->line : m->line,
					       "%sconfig: %s: expected a string, number or boolean, got %s", block,
					       e->key, hcl_type_name(x->type));
		}
		l->items = xrealloc(l->items, (l->len + 1) * sizeof(*l->items));
		l->items[l->len].key = xstrdup(e->key);
		l->items[l->len].value = xstrdup(text);
		l->items[l->len].line = e->line ? e->line : m->line;
		l->len++;
	}
	return 0;
}

static int method_extra(void *base, const struct hcl_member *m, const char *file, const char *block, struct buf *err)
{
	struct agent_method_config *mc = base;

	if (strcmp(m->key, "config") == 0)
		return read_kv(&mc->config, m, file, block, err);
	return 1;
}

static int sink_extra(void *base, const struct hcl_member *m, const char *file, const char *block, struct buf *err)
{
	struct agent_sink_config *s = base;

	if (strcmp(m->key, "config") == 0)
		return read_kv(&s->config, m, file, block, err);
	return 1;
}

/* A labelled block (`method "approle" {..}`) or one with a `type` key
 * (`method { type = "approle" .. }`), as Vault reads both. */
static int typed_block(const struct hcl_member *m, const char *file, const char *what, const char **label,
		       const struct hcl_value **body, struct buf *err)
{
	struct hcl_error he = { 0 };

	if (m->nlabels == 0 && m->value->type == HCL_OBJECT) {
		size_t i;
		const struct hcl_value *v = m->value;

		/* `method { type = ".." }` vs JSON's `"method": {"approle": {..}}` */
		for (i = 0; i < v->u.object.len; i++)
			if (strcmp(v->u.object.members[i].key, "type") == 0) {
				*label = NULL;
				*body = v;
				return 0;
			}
	}
	if (hcl_member_block(m, label, body, &he) != 0)
		return hcl_config_fail(err, file, he.line ? he.line : m->line, "%s: %s", what, he.message);
	return 0;
}

static int load_method(struct agent_auto_auth_config *aa, const struct hcl_member *m, const char *file,
		       struct buf *err)
{
	const char *label = NULL;
	const struct hcl_value *body = NULL;
	struct agent_method_config *mc = &aa->method;
	int r;

	if (mc->where)
		return hcl_config_fail(err, file, m->line, "auto_auth: method is already given at %s; give one",
				       mc->where);
	if ((r = typed_block(m, file, "auto_auth.method", &label, &body, err)) != 0)
		return r;
	mc->where = hcl_config_where(file, m->line);
	if ((r = apply(mc, method_opts, method_extra, body, file, "auto_auth.method: ", err)) != 0)
		return r;
	if (label && mc->type)
		return hcl_config_fail(err, file, m->line, "auto_auth.method \"%s\": type is given twice", label);
	if (label)
		mc->type = xstrdup(label);
	if (mc->type == NULL)
		return hcl_config_fail(err, file, m->line, "auto_auth.method: the method type is missing");
	return 0;
}

static int load_sink(struct agent_auto_auth_config *aa, const struct hcl_member *m, const char *file, struct buf *err)
{
	const char *label = NULL;
	const struct hcl_value *body = NULL;
	struct agent_sink_config *s;
	int r;

	if (aa->nsinks == AGENT_MAX_SINKS)
		return hcl_config_fail(err, file, m->line, "auto_auth: too many sinks (at most %d)", AGENT_MAX_SINKS);
	if ((r = typed_block(m, file, "auto_auth.sink", &label, &body, err)) != 0)
		return r;
	s = &aa->sinks[aa->nsinks++];
	s->where = hcl_config_where(file, m->line);
	if ((r = apply(s, sink_opts, sink_extra, body, file, "auto_auth.sink: ", err)) != 0)
		return r;
	if (label && s->type)
		return hcl_config_fail(err, file, m->line, "auto_auth.sink \"%s\": type is given twice", label);
	if (label)
		s->type = xstrdup(label);
	if (s->type == NULL)
		return hcl_config_fail(err, file, m->line, "auto_auth.sink: the sink type is missing");
	return 0;
}

/* auto_auth's method and sinks may come as a list in JSON. */
static int for_each_item(const struct hcl_member *m, const char *file, struct buf *err,
			 int (*fn)(struct agent_auto_auth_config *, const struct hcl_member *, const char *, struct buf *),
			 struct agent_auto_auth_config *aa)
{
	if (m->value->type == HCL_LIST && m->nlabels == 0) {
		size_t i;

		for (i = 0; i < m->value->u.list.len; i++) {
			struct hcl_member one = *m;
			int r;

			one.value = m->value->u.list.items[i];
			if (one.value->line)
				one.line = one.value->line;
			if ((r = fn(aa, &one, file, err)) != 0)
				return r;
		}
		return 0;
	}
	return fn(aa, m, file, err);
}

static int auto_auth_extra(void *base, const struct hcl_member *m, const char *file, const char *block,
			   struct buf *err)
{
	struct agent_auto_auth_config *aa = base;

	(void)block;
	if (strcmp(m->key, "method") == 0)
		return for_each_item(m, file, err, load_method, aa);
	if (strcmp(m->key, "sink") == 0)
		return for_each_item(m, file, err, load_sink, aa);
	return 1;
}

/* A command given as a string (run by the shell) or a list (argv). */
static int read_command(char ***argv, size_t *argc, bool *shell, const struct hcl_member *m, const char *file,
			const char *block, bool allow_string, struct buf *err)
{
	const struct hcl_value *v = m->value;
	size_t i;

	for (i = 0; i < *argc; i++)
		free((*argv)[i]);
	free(*argv);
	*argv = NULL;
	*argc = 0;
	if (v->type == HCL_STRING && allow_string) {
		if (v->u.string.len == 0)
			return 0;
		*argv = xmalloc(sizeof(char *));
		(*argv)[0] = xstrdup(v->u.string.ptr);
		*argc = 1;
		*shell = true;
		return 0;
	}
	if (v->type != HCL_LIST)
		return hcl_config_fail(err, file, m->line, "%s%s: expected a list of strings such as [\"app\", \"-x\"]",
				       block, m->key);
	if (v->u.list.len == 0)
		return 0;
	*argv = xcalloc(v->u.list.len, sizeof(char *));
	for (i = 0; i < v->u.list.len; i++) {
		const struct hcl_value *item = v->u.list.items[i];

		if (item->type != HCL_STRING)
			return hcl_config_fail(err, file, m->line, "%s%s: item %zu: expected a string", block, m->key,
					       i + 1);
		(*argv)[i] = xstrdup(item->u.string.ptr);
		*argc = i + 1;
	}
	*shell = false;
	return 0;
}

/* perms = "0640" (a string, read as octal) or perms = 0640 (a number, which
 * HCL reads as octal already, as Vault's parser does). */
static int read_perms(uint32_t *out, const struct hcl_member *m, const char *file, const char *block,
		      struct buf *err)
{
	const struct hcl_value *v = m->value;
	const char *p = "";
	uint32_t mode = 0;

	if (v->type == HCL_INT && v->u.i >= 0 && v->u.i <= 07777) {
		*out = (uint32_t)v->u.i;
		return 0;
	}
	if (v->type == HCL_STRING && v->u.string.len > 0)
		for (p = v->u.string.ptr; *p >= '0' && *p <= '7' && mode <= 07777; p++)
			mode = mode * 8 + (uint32_t)(*p - '0');
	if (v->type != HCL_STRING || v->u.string.len == 0 || *p != '\0' || mode > 07777)
		return hcl_config_fail(err, file, m->line, "%s%s: expected an octal file mode such as \"0640\"", block,
				       m->key);
	*out = mode;
	return 0;
}

static int template_exec_extra(void *base, const struct hcl_member *m, const char *file, const char *block,
			       struct buf *err)
{
	struct agent_template_config *t = base;

	if (strcmp(m->key, "command") == 0)
		return read_command(&t->command, &t->ncommand, &t->command_shell, m, file, block, true, err);
	return 1;
}

static int template_extra(void *base, const struct hcl_member *m, const char *file, const char *block,
			  struct buf *err)
{
	struct agent_template_config *t = base;
	const struct hcl_value *body = NULL;
	int r;

	if (strcmp(m->key, "perms") == 0)
		return read_perms(&t->perms, m, file, block, err);
	if (strcmp(m->key, "command") == 0)
		return read_command(&t->command, &t->ncommand, &t->command_shell, m, file, block, true, err);
	if (strcmp(m->key, "wait") == 0) {
		if ((r = block_body(m, file, block, &body, err)) != 0)
			return r;
		return apply(t, wait_opts, NULL, body, file, "template.wait: ", err);
	}
	if (strcmp(m->key, "exec") == 0) {
		if ((r = block_body(m, file, block, &body, err)) != 0)
			return r;
		return apply(t, template_exec_opts, template_exec_extra, body, file, "template.exec: ", err);
	}
	return 1;
}

static struct agent_template_config *new_template(struct agent_config *cfg, const char *file, int line,
						  struct buf *err)
{
	struct agent_template_config *t;

	if (cfg->ntemplates == AGENT_MAX_TEMPLATES) {
		(void)hcl_config_fail(err, file, line, "too many template blocks (at most %d)", AGENT_MAX_TEMPLATES);
		return NULL;
	}
	t = &cfg->templates[cfg->ntemplates++];
	t->perms = AGENT_PERMS_UNSET;
	t->backup = true;
	t->create_dest_dirs = true;
	t->command_timeout = 30;
	t->where = hcl_config_where(file, line);
	return t;
}

static int load_template(struct agent_config *cfg, const struct hcl_member *m, const char *file, struct buf *err)
{
	struct agent_template_config *t;

	if (m->nlabels != 0)
		return hcl_config_fail(err, file, m->line, "template: takes no label");
	if ((t = new_template(cfg, file, m->line, err)) == NULL)
		return TROVE_ERR_INVALID;
	return apply(t, template_opts, template_extra, m->value, file, "template: ", err);
}

static int load_env_template(void *ctx, const char *name, const struct hcl_value *body, int line, const char *file,
			     struct buf *err)
{
	struct agent_config *cfg = ((struct ctx *)ctx)->cfg;
	struct agent_template_config *t;
	char block[96];
	const char *p;

	if (name == NULL || *name == '\0' || (*name >= '0' && *name <= '9'))
		return hcl_config_fail(err, file, line, "env_template: the label must be an environment variable name");
	for (p = name; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return hcl_config_fail(err, file, line,
					       "env_template \"%.40s\": the label must be an environment variable name "
					       "(letters, digits and _)",
					       name);
	if ((t = new_template(cfg, file, line, err)) == NULL)
		return TROVE_ERR_INVALID;
	t->env_name = xstrdup(name);
	snprintf(block, sizeof(block), "env_template \"%.40s\": ", name);
	return apply(t, env_template_opts, NULL, body, file, block, err);
}

static int signal_number(const char *name)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{ "SIGTERM", SIGTERM }, { "SIGINT", SIGINT },   { "SIGHUP", SIGHUP },   { "SIGQUIT", SIGQUIT },
		{ "SIGKILL", SIGKILL }, { "SIGUSR1", SIGUSR1 }, { "SIGUSR2", SIGUSR2 },
	};
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (strcmp(sigs[i].name, name) == 0 || strcmp(sigs[i].name + 3, name) == 0)
			return sigs[i].sig;
	return 0;
}

static int exec_extra(void *base, const struct hcl_member *m, const char *file, const char *block, struct buf *err)
{
	struct agent_exec_config *e = base;
	const struct hcl_value *v = m->value;
	bool shell = false;

	if (strcmp(m->key, "command") == 0)
		return read_command(&e->command, &e->ncommand, &shell, m, file, block, false, err);
	if (strcmp(m->key, "restart_on_secret_changes") == 0) {
		if (v->type == HCL_STRING && strcmp(v->u.string.ptr, "always") == 0)
			e->restart_on_secret_changes = AGENT_RESTART_ALWAYS;
		else if (v->type == HCL_STRING && strcmp(v->u.string.ptr, "never") == 0)
			e->restart_on_secret_changes = AGENT_RESTART_NEVER;
		else
			return hcl_config_fail(err, file, m->line, "%s%s: expected \"always\" or \"never\"", block,
					       m->key);
		return 0;
	}
	if (strcmp(m->key, "restart_stop_signal") == 0) {
		int sig = v->type == HCL_STRING ? signal_number(v->u.string.ptr) : 0;

		if (sig == 0)
			return hcl_config_fail(err, file, m->line,
					       "%s%s: expected a signal name such as \"SIGTERM\" or \"SIGINT\"", block,
					       m->key);
		e->restart_stop_signal = sig;
		return 0;
	}
	return 1;
}

static int listener_extra(void *base, const struct hcl_member *m, const char *file, const char *block,
			  struct buf *err)
{
	const struct hcl_value *body = NULL;
	int r;

	if (strcmp(m->key, "agent_api") == 0) {
		if ((r = block_body(m, file, block, &body, err)) != 0)
			return r;
		return apply(base, agent_api_opts, NULL, body, file, "listener.agent_api: ", err);
	}
	return 1;
}

static int load_listener(void *ctx, const char *type, const struct hcl_value *body, int line, const char *file,
			 struct buf *err)
{
	struct agent_config *cfg = ((struct ctx *)ctx)->cfg;
	struct agent_listener_config *l;
	char block[64];
	int r;

	if (strcmp(type, "tcp") != 0 && strcmp(type, "unix") != 0)
		return hcl_config_fail(err, file, line, "listener \"%.40s\": unsupported listener type (tcp, unix)",
				       type);
	if (cfg->nlisteners == AGENT_MAX_LISTENERS)
		return hcl_config_fail(err, file, line, "too many listeners (at most %d)", AGENT_MAX_LISTENERS);
	l = &cfg->listeners[cfg->nlisteners++];
	l->type = xstrdup(type);
	l->where = hcl_config_where(file, line);
	snprintf(block, sizeof(block), "listener \"%s\": ", type);
	if ((r = apply(l, listener_opts, listener_extra, body, file, block, err)) != 0)
		return r;
	if (l->role && strcmp(l->role, "default") != 0 && strcmp(l->role, "metrics_only") != 0)
		return hcl_config_fail(err, file, line, "%srole: expected \"default\" or \"metrics_only\"", block);
	if (l->address == NULL)
		return hcl_config_fail(err, file, line, "%saddress is required", block);
	return 0;
}

/* use_auto_auth_token = true | false | "force" */
static int read_auto_token(enum agent_auto_token *out, const struct hcl_member *m, const char *file,
			   const char *block, struct buf *err)
{
	const struct hcl_value *v = m->value;
	bool b;

	if (v->type == HCL_BOOL)
		*out = v->u.b ? AGENT_TOKEN_YES : AGENT_TOKEN_NO;
	else if (v->type == HCL_STRING && strcmp(v->u.string.ptr, "force") == 0)
		*out = AGENT_TOKEN_FORCE;
	else if (v->type == HCL_STRING && strconv_bool(v->u.string.ptr, &b))
		*out = b ? AGENT_TOKEN_YES : AGENT_TOKEN_NO;
	else
		return hcl_config_fail(err, file, m->line, "%suse_auto_auth_token: expected true, false or \"force\"",
				       block);
	return 0;
}

static int proxy_extra(void *base, const struct hcl_member *m, const char *file, const char *block, struct buf *err)
{
	struct agent_proxy_config *p = base;

	if (strcmp(m->key, "use_auto_auth_token") == 0)
		return read_auto_token(&p->use_auto_auth_token, m, file, block, err);
	return 1;
}

static int vault_extra(void *base, const struct hcl_member *m, const char *file, const char *block, struct buf *err)
{
	struct agent_vault_config *v = base;
	const struct hcl_value *body = NULL;
	struct retry_opts ro = { v->num_retries };
	int r;

	if (strcmp(m->key, "retry") != 0)
		return 1;
	if ((r = block_body(m, file, block, &body, err)) != 0)
		return r;
	if ((r = apply(&ro, retry_opts, NULL, body, file, "vault.retry: ", err)) != 0)
		return r;
	v->num_retries = ro.num_retries;
	return 0;
}

static int template_settings_extra(void *base, const struct hcl_member *m, const char *file, const char *block,
				   struct buf *err)
{
	struct agent_template_settings *t = base;
	const struct hcl_value *v = m->value;
	double d;

	if (strcmp(m->key, "lease_renewal_threshold") != 0)
		return 1;
	if (v->type == HCL_FLOAT)
		d = v->u.f;
	else if (v->type == HCL_INT)
		d = (double)v->u.i;
	else
		d = -1;
	if (!(d > 0 && d < 1))
		return hcl_config_fail(err, file, m->line, "%s%s: expected a fraction between 0 and 1 such as 0.9",
				       block, m->key);
	t->lease_renewal_threshold = d;
	return 0;
}

/* A block that may be given once in all files: `key { .. }`. */
static int once(char **where, const struct hcl_member *m, const char *file, const struct hcl_value **body,
		struct buf *err)
{
	int r;

	if (*where)
		return hcl_config_fail(err, file, m->line, "%s is already given at %s; give it once", m->key, *where);
	if ((r = block_body(m, file, "", body, err)) != 0)
		return r;
	*where = hcl_config_where(file, m->line);
	return 0;
}

static int load_text_cb(void *vctx, const char *name, const char *text, size_t len, bool json, struct buf *err)
{
	struct agent_config *cfg = ((struct ctx *)vctx)->cfg;
	struct hcl_value *root = NULL;
	struct hcl_error he = { 0 };
	size_t i;
	int r = json ? hcl_parse_json(text, len, &root, &he) : hcl_parse(text, len, &root, &he);

	if (r != 0)
		return hcl_config_fail(err, name, he.line > 0 ? he.line : 0, "%s", he.message);
	for (i = 0; i < root->u.object.len && r == 0; i++) {
		const struct hcl_member *m = &root->u.object.members[i];
		const struct hcl_value *body = NULL;
		const struct hcl_opt *o;

		if (strcmp(m->key, "template") == 0) {
			if (m->value->type == HCL_LIST && m->nlabels == 0) {
				size_t j;

				for (j = 0; j < m->value->u.list.len && r == 0; j++) {
					struct hcl_member one = *m;

					one.value = m->value->u.list.items[j];
					r = load_template(cfg, &one, name, err);
				}
			} else {
				r = load_template(cfg, m, name, err);
			}
		} else if (strcmp(m->key, "env_template") == 0) {
			r = hcl_config_blocks(m, load_env_template, vctx, name, err);
		} else if (strcmp(m->key, "listener") == 0) {
			r = hcl_config_blocks(m, load_listener, vctx, name, err);
		} else if (strcmp(m->key, "vault") == 0) {
			if ((r = once(&cfg->where_vault, m, name, &body, err)) == 0)
				r = apply(&cfg->vault, vault_opts, vault_extra, body, name, "vault: ", err);
		} else if (strcmp(m->key, "auto_auth") == 0) {
			if ((r = once(&cfg->where_auto_auth, m, name, &body, err)) == 0) {
				cfg->auto_auth.present = true;
				r = apply(&cfg->auto_auth, auto_auth_opts, auto_auth_extra, body, name, "auto_auth: ", err);
			}
		} else if (strcmp(m->key, "template_config") == 0) {
			if ((r = once(&cfg->where_template_config, m, name, &body, err)) == 0)
				r = apply(&cfg->template_config, template_settings_opts, template_settings_extra, body,
					  name, "template_config: ", err);
		} else if (strcmp(m->key, "exec") == 0) {
			if ((r = once(&cfg->exec.where, m, name, &body, err)) == 0) {
				cfg->exec.present = true;
				r = apply(&cfg->exec, exec_opts, exec_extra, body, name, "exec: ", err);
			}
		} else if (strcmp(m->key, "api_proxy") == 0) {
			if ((r = once(&cfg->where_api_proxy, m, name, &body, err)) == 0)
				r = apply(&cfg->api_proxy, proxy_opts, proxy_extra, body, name, "api_proxy: ", err);
		} else if (strcmp(m->key, "cache") == 0) {
			if ((r = once(&cfg->where_cache, m, name, &body, err)) == 0) {
				cfg->cache.present = true;
				r = apply(&cfg->api_proxy, proxy_opts, proxy_extra, body, name, "cache: ", err);
			}
		} else if ((o = hcl_opt_find(top_opts, m->key)) != NULL) {
			r = hcl_opt_set(cfg, o, m, name, "", err);
		} else if (strcmp(m->key, "telemetry") == 0) {
			r = hcl_config_fail(err, name, m->line, "telemetry: unsupported in trove agent (use /agent/v1/metrics)");
		} else {
			r = hcl_config_fail(err, name, m->line, "unknown key \"%s\"", m->key);
		}
	}
	hcl_free(root);
	return r;
}

int agent_config_load_text(struct agent_config *cfg, const char *name, const char *text, size_t len, bool json,
			   struct buf *err)
{
	struct ctx c = { cfg };

	return load_text_cb(&c, name, text, len, json, err);
}

int agent_config_load_path(struct agent_config *cfg, const char *path, struct buf *err)
{
	struct ctx c = { cfg };

	return hcl_config_load_path(path, load_text_cb, &c, err);
}

static int invalid(struct buf *err, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int invalid(struct buf *err, const char *where, const char *fmt, ...)
{
	va_list ap;

	buf_reset(err);
	if (where)
		(void)buf_printf(err, "%s: ", where);
	va_start(ap, fmt);
	(void)buf_vprintf(err, fmt, ap);
	va_end(ap);
	return TROVE_ERR_INVALID;
}

int agent_config_validate(const struct agent_config *cfg, struct buf *err)
{
	const struct agent_method_config *mc = &cfg->auto_auth.method;
	size_t i, nenv = 0;

	if (cfg->auto_auth.present && mc->type == NULL)
		return invalid(err, cfg->where_auto_auth, "auto_auth: a method block is required");
	if (mc->type && mc->min_backoff > mc->max_backoff)
		return invalid(err, mc->where, "auto_auth.method: min_backoff (%llds) is above max_backoff (%llds)",
			       (long long)mc->min_backoff, (long long)mc->max_backoff);
	for (i = 0; i < cfg->auto_auth.nsinks; i++)
		if (strcmp(cfg->auto_auth.sinks[i].type, "file") != 0)
			return invalid(err, cfg->auto_auth.sinks[i].where,
				       "auto_auth.sink \"%.40s\": unsupported sink type (file)", cfg->auto_auth.sinks[i].type);
	for (i = 0; i < cfg->ntemplates; i++) {
		const struct agent_template_config *t = &cfg->templates[i];
		const char *what = t->env_name ? "env_template" : "template";

		if ((t->source == NULL) == (t->contents == NULL))
			return invalid(err, t->where, "%s: give exactly one of source and contents", what);
		if (t->env_name == NULL && (t->destination == NULL || *t->destination == '\0'))
			return invalid(err, t->where, "template: destination is required");
		if (t->wait_max && t->wait_min > t->wait_max)
			return invalid(err, t->where, "template.wait: min is above max");
		if ((t->left_delimiter && *t->left_delimiter == '\0') ||
		    (t->right_delimiter && *t->right_delimiter == '\0'))
			return invalid(err, t->where, "%s: a delimiter may not be empty", what);
		if (t->env_name) {
			size_t j;

			nenv++;
			for (j = 0; j < i; j++)
				if (cfg->templates[j].env_name && strcmp(cfg->templates[j].env_name, t->env_name) == 0)
					return invalid(err, t->where, "env_template \"%s\" is given twice (also at %s)",
						       t->env_name, cfg->templates[j].where);
		}
	}
	if (nenv > 0 && !cfg->exec.present)
		return invalid(err, cfg->templates[0].where, "env_template needs an exec block");
	if (cfg->exec.present && cfg->exec.ncommand == 0)
		return invalid(err, cfg->exec.where, "exec: command is required");
	if (cfg->nlisteners > 0 && cfg->api_proxy.use_auto_auth_token != AGENT_TOKEN_NO && mc->type == NULL)
		return invalid(err, cfg->listeners[0].where, "api_proxy: use_auto_auth_token needs auto_auth");
	if (cfg->api_proxy.use_auto_auth_token != AGENT_TOKEN_NO && mc->wrap_ttl > 0)
		return invalid(err, mc->where,
			       "api_proxy: use_auto_auth_token cannot use a wrapped token (auto_auth.method's wrap_ttl)");
	if ((cfg->where_api_proxy || cfg->cache.present) && cfg->nlisteners == 0)
		return invalid(err, cfg->where_api_proxy ? cfg->where_api_proxy : cfg->where_cache,
			       "api_proxy and cache need a listener block");
	if (cfg->ntemplates > 0 && mc->type == NULL)
		return invalid(err, cfg->templates[0].where,
			       "templates are rendered with auto_auth's token: give an auto_auth block");
	if (cfg->ntemplates > 0 && mc->wrap_ttl > 0)
		return invalid(err, mc->where, "templates cannot use a wrapped token (auto_auth.method's wrap_ttl)");
	if (mc->type && cfg->auto_auth.nsinks == 0 && cfg->ntemplates == 0 &&
	    cfg->api_proxy.use_auto_auth_token == AGENT_TOKEN_NO)
		return invalid(err, mc->where,
			       "auto_auth needs a sink, a template or api_proxy's use_auto_auth_token to hand its "
			       "token to");
	if (cfg->exit_after_auth && mc->type == NULL)
		return invalid(err, NULL, "exit_after_auth needs an auto_auth block");
	if (mc->type == NULL && cfg->nlisteners == 0 && !cfg->exec.present)
		return invalid(err, NULL, "nothing to do: give an auto_auth, exec or listener block");
	return 0;
}

const struct agent_kv *agent_kv_find(const struct agent_kv_list *l, const char *key)
{
	size_t i;

	for (i = 0; i < l->len; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return &l->items[i];
	return NULL;
}

void agent_config_init(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->auto_auth.method.min_backoff = 1;
	cfg->auto_auth.method.max_backoff = 300;
	cfg->template_config.static_secret_render_interval = 300;
	cfg->template_config.max_connections_per_host = 10;
	cfg->template_config.lease_renewal_threshold = 0.9;
	cfg->exec.restart_on_secret_changes = AGENT_RESTART_ALWAYS;
	cfg->exec.restart_stop_signal = SIGTERM;
	strlist_init(&cfg->disable_idle_connections);
	strlist_init(&cfg->disable_keep_alives);
}

static void free_kv(struct agent_kv_list *l)
{
	size_t i;

	for (i = 0; i < l->len; i++) {
		free(l->items[i].key);
		/* method config values may be secrets (secret_id, keys) */
		secure_wipe(l->items[i].value, strlen(l->items[i].value));
		free(l->items[i].value);
	}
	free(l->items);
}

static void free_argv(char **argv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(argv[i]);
	free(argv);
}

void agent_config_release(struct agent_config *cfg)
{
	struct agent_vault_config *v = &cfg->vault;
	struct agent_method_config *mc = &cfg->auto_auth.method;
	size_t i;

	free(v->address), free(v->ca_cert), free(v->ca_path), free(v->client_cert), free(v->client_key);
	free(v->tls_server_name);
	free(mc->type), free(mc->mount_path), free(mc->namespace_name), free(mc->where);
	free_kv(&mc->config);
	for (i = 0; i < cfg->auto_auth.nsinks; i++) {
		struct agent_sink_config *s = &cfg->auto_auth.sinks[i];

		free(s->type), free(s->dh_type), free(s->dh_path), free(s->aad), free(s->aad_env_var), free(s->where);
		free_kv(&s->config);
	}
	for (i = 0; i < cfg->ntemplates; i++) {
		struct agent_template_config *t = &cfg->templates[i];

		free(t->env_name), free(t->source), free(t->contents), free(t->destination);
		free(t->left_delimiter), free(t->right_delimiter), free(t->where);
		free_argv(t->command, t->ncommand);
	}
	free_argv(cfg->exec.command, cfg->exec.ncommand);
	free(cfg->exec.child_process_stdout), free(cfg->exec.child_process_stderr), free(cfg->exec.where);
	for (i = 0; i < cfg->nlisteners; i++) {
		struct agent_listener_config *l = &cfg->listeners[i];

		free(l->type), free(l->address), free(l->tls_cert_file), free(l->tls_key_file);
		free(l->tls_min_version), free(l->tls_client_ca_file), free(l->role), free(l->socket_mode);
		free(l->socket_user), free(l->socket_group), free(l->where);
	}
	free(cfg->api_proxy.enforce_consistency), free(cfg->api_proxy.when_inconsistent);
	free(cfg->pid_file), free(cfg->log_level), free(cfg->log_format), free(cfg->log_file);
	free(cfg->where_vault), free(cfg->where_auto_auth), free(cfg->where_template_config);
	free(cfg->where_api_proxy), free(cfg->where_cache);
	strlist_release(&cfg->disable_idle_connections);
	strlist_release(&cfg->disable_keep_alives);
	memset(cfg, 0, sizeof(*cfg));
}
