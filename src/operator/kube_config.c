/* kube_config.c — where the API server is and how to authenticate
 * (kube.h): the in-cluster service account, or a kubeconfig file as
 * kubectl reads it (YAML or JSON, contexts naming a cluster and a user). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoding.h"
#include "err.h"
#include "operator/kube.h"
#include "operator/kube_int.h"
#include "secure.h"
#include "yaml_read.h"

#include "banned.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static int failf(char **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int failf(char **err, int code, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 4096);
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	*err = buf_take(&b);
	return code;
}

int kube_read_file(const char *path, size_t cap, char **out, size_t *len, char **err)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[4096];
	size_t n;
	int r = 0, e;

	*out = NULL;
	*len = 0;
	if (f == NULL) {
		e = errno;
		return failf(err, e == ENOENT ? TROVE_ERR_NOT_FOUND : TROVE_ERR_IO, "cannot read %s: %s", path,
		             strerror(e));
	}
	buf_init_secret(&b, cap);
	while (r == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		r = buf_append(&b, chunk, n);
	secure_wipe(chunk, sizeof(chunk));
	if (r == 0 && ferror(f))
		r = TROVE_ERR_IO;
	(void)fclose(f);
	if (r != 0) {
		buf_release_secret(&b);
		return failf(err, r, r == TROVE_ERR_IO ? "cannot read %s" : "%s is larger than %zu bytes", path, cap);
	}
	*len = b.len;
	*out = buf_take(&b);
	return 0;
}

void kube_config_release(struct kube_config *c)
{
	if (c == NULL)
		return;
	free(c->server);
	free(c->ca_pem);
	free(c->tls_server_name);
	secure_free_str(c->token);
	free(c->token_file);
	free(c->client_cert_pem);
	secure_free_str(c->client_key_pem);
	free(c->namespace);
	memset(c, 0, sizeof(*c));
}

/* A file's text with surrounding blanks trimmed (the namespace file). */
static char *trimmed(char *s)
{
	size_t a = strspn(s, " \t\r\n"), n = strlen(s + a);

	while (n > 0 && strchr(" \t\r\n", s[a + n - 1]))
		n--;
	memmove(s, s + a, n);
	s[n] = '\0';
	return s;
}

int kube_config_in_cluster(const char *dir, struct kube_config *out, char **err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	char path[4096], *text = NULL;
	struct buf b;
	struct stat st;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	*err = NULL;
	if (!host || !*host || !port || !*port)
		return failf(err, TROVE_ERR_NOT_FOUND,
		             "not in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set");
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || strpbrk(host, "/[]@ ") != NULL)
		return failf(err, TROVE_ERR_INVALID, "KUBERNETES_SERVICE_HOST/PORT %s:%s is not a host and port",
		             host, port);
	dir = dir ? dir : SA_DIR;
	buf_init(&b, 1024);
	(void)buf_printf(&b, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	out->server = buf_take(&b);
	(void)snprintf(path, sizeof(path), "%s/token", dir);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = failf(err, TROVE_ERR_INVALID, "the service account token %s cannot be read: %s", path,
		          strerror(errno ? errno : EINVAL));
		goto fail;
	}
	out->token_file = xstrdup(path);
	(void)snprintf(path, sizeof(path), "%s/ca.crt", dir);
	r = kube_read_file(path, KUBE_FILE_MAX, &out->ca_pem, &len, err);
	if (r != 0)
		goto fail;
	(void)snprintf(path, sizeof(path), "%s/namespace", dir);
	if (kube_read_file(path, 256, &text, &len, err) == 0 && *trimmed(text)) {
		out->namespace = text;
	} else {
		free(*err);
		*err = NULL;
		free(text);
		out->namespace = xstrdup("default");
	}
	return 0;
fail:
	kube_config_release(out);
	return r;
}

/* ---- kubeconfig ---------------------------------------------------------- */

struct kc {
	const char *path; /* the file, for messages */
	char dir[4096];   /* its directory, for relative names */
	char **err;
};

/* The entry of list key (clusters, users, contexts) named name: its
 * inner object (cluster, user, context), or NULL with *err. */
static json_t *named(struct kc *c, const json_t *doc, const char *list, const char *inner, const char *name,
                     int *r)
{
	json_t *l = json_object_get(doc, list), *e, *in;
	size_t i;

	json_array_foreach(l, i, e) {
		if (!json_is_string(json_object_get(e, "name")) ||
		    strcmp(json_string_value(json_object_get(e, "name")), name) != 0)
			continue;
		in = json_object_get(e, inner);
		if (in == NULL || json_is_null(in))
			return json_object(); /* e.g. a user with no credentials */
		if (!json_is_object(in)) {
			*r = failf(c->err, TROVE_ERR_INVALID, "%s: %s[name=%s].%s is not a mapping", c->path, list,
			           name, inner);
			return NULL;
		}
		return json_incref(in);
	}
	*r = failf(c->err, TROVE_ERR_INVALID, "%s: no entry named \"%s\" in %s", c->path, name, list);
	return NULL;
}

/* A string field (NULL when absent); *r set when it is not a string. */
static const char *str_field(struct kc *c, const json_t *o, const char *where, const char *key, int *r)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*r = failf(c->err, TROVE_ERR_INVALID, "%s: %s.%s must be a string", c->path, where, key);
		return NULL;
	}
	return json_string_value(v);
}

static char *resolve(struct kc *c, const char *name)
{
	struct buf b;

	if (name[0] == '/' || c->dir[0] == '\0')
		return xstrdup(name);
	buf_init(&b, 8192);
	(void)buf_printf(&b, "%s/%s", c->dir, name);
	return buf_take(&b);
}

/* field-data (base64) wins over field (a file) as kubectl has it. *out
 * heap or NULL when neither is set. */
static int pem_field(struct kc *c, const json_t *o, const char *where, const char *field, char **out)
{
	char key[64], *file, *text = NULL;
	const char *data, *name;
	unsigned char *raw;
	size_t len, cap;
	int r = 0;

	*out = NULL;
	(void)snprintf(key, sizeof(key), "%s-data", field);
	data = str_field(c, o, where, key, &r);
	name = str_field(c, o, where, field, &r);
	if (r != 0)
		return r;
	if (data) {
		cap = strlen(data);
		raw = xmalloc(cap + 1);
		if (base64_decode(data, cap, raw, cap, &len) != 0) {
			secure_free(raw, cap + 1);
			return failf(c->err, TROVE_ERR_INVALID, "%s: %s.%s is not base64", c->path, where, key);
		}
		raw[len] = '\0';
		*out = (char *)raw;
		return 0;
	}
	if (name == NULL)
		return 0;
	file = resolve(c, name);
	r = kube_read_file(file, KUBE_FILE_MAX, &text, &len, c->err);
	free(file);
	if (r == 0)
		*out = text;
	return r;
}

static int read_cluster(struct kc *c, const json_t *cl, const char *name, struct kube_config *out)
{
	char where[300];
	const char *server, *sni;
	json_t *insecure = json_object_get(cl, "insecure-skip-tls-verify");
	size_t n;
	int r = 0;

	(void)snprintf(where, sizeof(where), "clusters[name=%s].cluster", name);
	server = str_field(c, cl, where, "server", &r);
	sni = str_field(c, cl, where, "tls-server-name", &r);
	if (r != 0)
		return r;
	if (server == NULL || !*server)
		return failf(c->err, TROVE_ERR_INVALID, "%s: %s.server is missing", c->path, where);
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
		return failf(c->err, TROVE_ERR_INVALID, "%s: %s.server \"%s\" is not an http(s) URL", c->path,
		             where, server);
	out->server = xstrdup(server);
	for (n = strlen(out->server); n > 0 && out->server[n - 1] == '/'; n--)
		out->server[n - 1] = '\0';
	if (insecure && !json_is_null(insecure)) {
		if (json_is_boolean(insecure))
			out->insecure = json_is_true(insecure);
		else if (json_is_string(insecure) && !strcmp(json_string_value(insecure), "true"))
			out->insecure = true;
		else if (!(json_is_string(insecure) && !strcmp(json_string_value(insecure), "false")))
			return failf(c->err, TROVE_ERR_INVALID, "%s: %s.insecure-skip-tls-verify must be true or false",
			             c->path, where);
	}
	if (sni && *sni)
		out->tls_server_name = xstrdup(sni);
	return pem_field(c, cl, where, "certificate-authority", &out->ca_pem);
}

static int read_user(struct kc *c, const json_t *u, const char *name, struct kube_config *out)
{
	static const char *const refused[] = {"exec", "auth-provider", "username", "password", "as"};
	char where[300];
	const char *token, *file;
	char *path;
	size_t i;
	int r = 0;

	(void)snprintf(where, sizeof(where), "users[name=%s].user", name);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (json_object_get(u, refused[i]) && !json_is_null(json_object_get(u, refused[i])))
			return failf(c->err, TROVE_ERR_INVALID,
			             "%s: %s.%s is not supported (use a token, tokenFile or client certificate)", c->path,
			             where, refused[i]);
	token = str_field(c, u, where, "token", &r);
	file = str_field(c, u, where, "tokenFile", &r);
	if (r != 0)
		return r;
	if (token && *token)
		out->token = xstrdup(token);
	else if (file && *file) {
		path = resolve(c, file);
		if (access(path, R_OK) != 0) {
			r = failf(c->err, TROVE_ERR_NOT_FOUND, "%s: %s.tokenFile %s cannot be read: %s", c->path, where,
			          path, strerror(errno));
			free(path);
			return r;
		}
		out->token_file = path;
	}
	if ((r = pem_field(c, u, where, "client-certificate", &out->client_cert_pem)) != 0 ||
	    (r = pem_field(c, u, where, "client-key", &out->client_key_pem)) != 0)
		return r;
	if ((out->client_cert_pem == NULL) != (out->client_key_pem == NULL))
		return failf(c->err, TROVE_ERR_INVALID, "%s: %s has a client certificate without its key, or a key alone",
		             c->path, where);
	return 0;
}

int kube_config_from_file(const char *path, const char *context, struct kube_config *out, char **err)
{
	struct kc c = {.path = path, .err = err};
	json_t *doc = NULL, *ctx = NULL, *cl = NULL, *u = NULL;
	const char *cluster, *user, *ns, *slash;
	char *text = NULL, *why = NULL;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	*err = NULL;
	if ((r = kube_read_file(path, KUBE_FILE_MAX, &text, &len, err)) != 0)
		return r;
	if ((slash = strrchr(path, '/')) != NULL && (size_t)(slash - path) < sizeof(c.dir)) {
		memcpy(c.dir, path, (size_t)(slash - path));
		c.dir[slash - path] = '\0';
		if (slash == path)
			c.dir[0] = '/', c.dir[1] = '\0';
	}
	r = yaml_read(text, len, KUBE_FILE_MAX, 0, &doc, &why);
	secure_free(text, len);
	if (r != 0) {
		r = failf(err, TROVE_ERR_INVALID, "%s: %s", path, why);
		free(why);
		return r;
	}
	if (!json_is_object(doc)) {
		r = failf(err, TROVE_ERR_INVALID, "%s: not a kubeconfig (a mapping of clusters, users, contexts)", path);
		goto out;
	}
	if (context == NULL || !*context)
		context = str_field(&c, doc, "kubeconfig", "current-context", &r);
	if (r != 0)
		goto out;
	if (context == NULL || !*context) {
		r = failf(err, TROVE_ERR_INVALID, "%s: current-context is not set and no context was named", path);
		goto out;
	}
	if ((ctx = named(&c, doc, "contexts", "context", context, &r)) == NULL)
		goto out;
	cluster = str_field(&c, ctx, "context", "cluster", &r);
	user = str_field(&c, ctx, "context", "user", &r);
	ns = str_field(&c, ctx, "context", "namespace", &r);
	if (r != 0)
		goto out;
	if (cluster == NULL) {
		r = failf(err, TROVE_ERR_INVALID, "%s: contexts[name=%s].context.cluster is missing", path, context);
		goto out;
	}
	if ((cl = named(&c, doc, "clusters", "cluster", cluster, &r)) == NULL ||
	    (r = read_cluster(&c, cl, cluster, out)) != 0)
		goto out;
	if (user && *user &&
	    ((u = named(&c, doc, "users", "user", user, &r)) == NULL || (r = read_user(&c, u, user, out)) != 0))
		goto out;
	out->namespace = xstrdup(ns && *ns ? ns : "default");
out:
	json_decref(ctx);
	json_decref(cl);
	json_decref(u);
	json_decref(doc);
	if (r != 0)
		kube_config_release(out);
	return r;
}

int kube_config_load(const char *flag, struct kube_config *out, char **err)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME"), *host = getenv("KUBERNETES_SERVICE_HOST");
	char path[4096];
	size_t n;

	*err = NULL;
	if (flag && *flag)
		return kube_config_from_file(flag, NULL, out, err);
	if (host && *host)
		return kube_config_in_cluster(NULL, out, err);
	while (env && *env) {
		n = strcspn(env, ":");
		if (n > 0 && n < sizeof(path)) {
			(void)snprintf(path, sizeof(path), "%.*s", (int)n, env);
			return kube_config_from_file(path, NULL, out, err);
		}
		env += n + (env[n] == ':');
	}
	if (home && *home) {
		(void)snprintf(path, sizeof(path), "%s/.kube/config", home);
		return kube_config_from_file(path, NULL, out, err);
	}
	memset(out, 0, sizeof(*out));
	return failf(err, TROVE_ERR_NOT_FOUND,
	             "no Kubernetes configuration: not in a pod, no -kubeconfig, KUBECONFIG or ~/.kube/config");
}
