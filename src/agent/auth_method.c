/* auth_method.c — the table of auto-auth methods and what they share:
 * config key checks with their messages, and reading credentials files
 * (auth_method.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/auth_method.h"
#include "err.h"
#include "log.h"
#include "secure.h"
#include "strconv.h"

#include "banned.h"

#define SECRET_FILE_MAX ((size_t)64 << 10)

static const struct auth_method_ops *const methods[] = {
	&auth_approle_ops, &auth_kubernetes_ops, &auth_jwt_ops, &auth_aws_ops, &auth_cert_ops, &auth_token_file_ops,
};

void auth_login_release(struct auth_login *l)
{
	free(l->path);
	api_json_free_secret(l->body);
	secure_free_str(l->token);
	memset(l, 0, sizeof(*l));
}

void auth_login_init(struct auth_login *l, const struct auth_method *m)
{
	struct buf p;

	memset(l, 0, sizeof(*l));
	buf_init(&p, 4096);
	buf_printf(&p, "%s/login", m->mount);
	l->path = buf_take(&p);
	buf_release(&p);
	l->body = json_object();
}

const char *auth_method_type(const struct auth_method *m)
{
	return m->cfg->type;
}

const char *auth_method_where(const struct auth_method *m)
{
	return m->cfg->where ? m->cfg->where : "auto_auth";
}

const char *auth_method_value(const struct auth_method *m, const char *key)
{
	const struct agent_kv *kv = agent_kv_find(&m->cfg->config, key);

	return kv ? kv->value : NULL;
}

static void where_at(struct buf *out, const char *where, int line)
{
	const char *colon = where ? strrchr(where, ':') : NULL;

	if (where == NULL)
		buf_append_str(out, "auto_auth");
	else if (line <= 0 || colon == NULL)
		buf_append_str(out, where);
	else
		buf_printf(out, "%.*s:%d", (int)(colon - where), where, line);
}

void auth_config_prefix(struct buf *err, const char *where, const struct agent_kv_list *l, const char *block,
                        const char *type, const char *key)
{
	const struct agent_kv *kv = key && l ? agent_kv_find(l, key) : NULL;

	where_at(err, where, kv ? kv->line : 0);
	buf_printf(err, ": auto_auth %s \"%s\": ", block, type ? type : "");
	if (key)
		buf_printf(err, "key \"%s\": ", key);
}

int auth_method_fail(const struct auth_method *m, const char *key, struct buf *err, const char *fmt, ...)
{
	va_list ap;

	auth_config_prefix(err, m->cfg->where, &m->cfg->config, "method", m->cfg->type, key);
	va_start(ap, fmt);
	buf_vprintf(err, fmt, ap);
	va_end(ap);
	return TROVE_ERR_INVALID;
}

int auth_method_required(const struct auth_method *m, const char *key, const char **out, struct buf *err)
{
	const char *v = auth_method_value(m, key);

	if (v == NULL)
		return auth_method_fail(m, key, err, "missing (it is required)");
	if (*v == '\0')
		return auth_method_fail(m, key, err, "is empty");
	*out = v;
	return 0;
}

int auth_method_bool(const struct auth_method *m, const char *key, bool def, bool *out, struct buf *err)
{
	const char *v = auth_method_value(m, key);

	*out = def;
	if (v && !strconv_bool(v, out))
		return auth_method_fail(m, key, err, "\"%s\" is not a boolean", v);
	return 0;
}

/* Every key of the block's config is one the type takes. */
static int check_keys(const struct auth_method *m, struct buf *err)
{
	for (size_t i = 0; i < m->cfg->config.len; i++) {
		const char *k = m->cfg->config.items[i].key;
		bool known = false;

		for (const char *const *p = m->ops->keys; *p && !known; p++)
			known = strcmp(*p, k) == 0;
		if (!known)
			return auth_method_fail(m, k, err, "unknown key for this method");
	}
	return 0;
}

int auth_method_new(const struct agent_method_config *cfg, struct auth_method **out, struct buf *err)
{
	struct auth_method *m = NULL;
	const struct auth_method_ops *ops = NULL;
	const char *mount;
	size_t n;
	int r = TROVE_ERR_INVALID;

	*out = NULL;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && !ops; i++)
		if (cfg->type && strcmp(methods[i]->type, cfg->type) == 0)
			ops = methods[i];
	if (ops == NULL) {
		auth_config_prefix(err, cfg->where, NULL, "method", cfg->type, NULL);
		buf_append_str(err, "unknown method type (want approle, kubernetes, jwt, aws, cert or token_file)");
		return TROVE_ERR_INVALID;
	}
	m = xcalloc(1, sizeof(*m));
	m->ops = ops;
	m->cfg = cfg;
	mount = cfg->mount_path && *cfg->mount_path ? cfg->mount_path : NULL;
	if (mount) {
		while (*mount == '/')
			mount++;
		m->mount = xstrdup(mount);
	} else {
		struct buf b;

		buf_init(&b, 4096);
		buf_printf(&b, "auth/%s", cfg->type);
		m->mount = buf_take(&b);
		buf_release(&b);
	}
	n = strlen(m->mount);
	while (n > 0 && m->mount[n - 1] == '/')
		m->mount[--n] = '\0';
	if ((r = check_keys(m, err)) != 0 || (r = ops->init(m, err)) != 0)
		goto out;
	*out = m;
	m = NULL;
out:
	auth_method_free(m);
	return r;
}

void auth_method_free(struct auth_method *m)
{
	if (m == NULL)
		return;
	if (m->ops->release)
		m->ops->release(m);
	free(m->mount);
	free(m);
}

int auth_method_login(struct auth_method *m, struct api_client *c, struct auth_login *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	return m->ops->login(m, c, out, err);
}

void auth_method_tls(const struct auth_method *m, struct api_config *cfg)
{
	if (m->client_cert && m->client_key) {
		cfg->client_cert = (char *)m->client_cert;
		cfg->client_key = (char *)m->client_key;
	}
	if (m->ca_cert) {
		cfg->ca_cert = (char *)m->ca_cert;
		cfg->ca_path = NULL;
	}
}

static void trim_in_place(struct buf *b)
{
	size_t start = 0, end = b->len;

	while (start < end && (b->data[start] == ' ' || b->data[start] == '\t' || b->data[start] == '\r' ||
	                       b->data[start] == '\n'))
		start++;
	while (end > start && (b->data[end - 1] == ' ' || b->data[end - 1] == '\t' || b->data[end - 1] == '\r' ||
	                       b->data[end - 1] == '\n'))
		end--;
	if (start > 0)
		memmove(b->data, b->data + start, end - start);
	if (b->len > 0) {
		secure_wipe(b->data + (end - start), b->len - (end - start));
		b->len = end - start;
		b->data[b->len] = '\0';
	}
}

int auth_read_secret_file(const char *path, bool nofollow, struct buf *out, struct buf *err)
{
	char chunk[4096];
	struct stat st;
	ssize_t n;
	int fd, r = TROVE_ERR_IO;

	buf_reset(out);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0) {
		if (errno == ENOENT)
			return TROVE_ERR_NOT_FOUND;
		buf_printf(err, "cannot open %s: %s", path, strerror(errno));
		return TROVE_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		buf_printf(err, "%s is not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size > SECRET_FILE_MAX) {
		buf_printf(err, "%s is larger than %zu bytes", path, SECRET_FILE_MAX);
		r = TROVE_ERR_TOO_LARGE;
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_printf(err, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (out->len + (size_t)n > SECRET_FILE_MAX || buf_append(out, chunk, (size_t)n) != 0) {
			buf_printf(err, "%s is larger than %zu bytes", path, SECRET_FILE_MAX);
			r = TROVE_ERR_TOO_LARGE;
			goto out;
		}
	}
	trim_in_place(out);
	r = 0;
out:
	secure_wipe(chunk, sizeof(chunk));
	close(fd);
	if (r != 0)
		buf_reset(out);
	return r;
}

int auth_read_cached(const char *path, const char *what, char **cache, bool *fresh, struct buf *err)
{
	struct buf v;
	int r;

	*fresh = false;
	buf_init_secret(&v, 1 << 20);
	r = auth_read_secret_file(path, false, &v, err);
	if (r == 0 && v.len > 0) {
		secure_free_str(*cache);
		*cache = xstrdup(v.data);
		*fresh = true;
	} else if (r != 0 && r != TROVE_ERR_NOT_FOUND && *cache) {
		log_warn("auto-auth: cannot read the file; using the value read before", "file", path);
		buf_reset(err);
	}
	buf_release_secret(&v);
	if (*cache)
		return 0;
	if (r == 0 || r == TROVE_ERR_NOT_FOUND)
		buf_printf(err, "no %s known: %s is %s", what, path, r == 0 ? "empty" : "missing");
	return r == 0 || r == TROVE_ERR_NOT_FOUND ? TROVE_ERR_NOT_FOUND : r;
}
