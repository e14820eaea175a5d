/* agent_proxy_listen.c — the proxy's listening sockets and TLS
 * (agent_proxy_int.h).
 *
 * listener "tcp": address host:port (or [v6]:port), TLS with tls_cert_file
 * and tls_key_file unless tls_disable, tls_min_version, tls_client_ca_file
 * with tls_require_and_verify_client_cert. listener "unix": address is the
 * socket's path; a stale socket there is replaced, any other file is
 * refused; socket_mode (octal), socket_user and socket_group (names or
 * numbers) are applied to the socket file. Every error names the block's
 * "file:line" and the key. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent_proxy_int.h"
#include "err.h"
#include "strconv.h"

#include "banned.h"

static int fail(struct buf *err, const struct proxy_listener *l, const char *key, const char *why, const char *what)
{
	buf_printf(err, "%s: listener \"%s\": %s: %s%s%s", l->cfg->where ? l->cfg->where : "config", l->cfg->type, key,
	           why, what ? ": " : "", what ? what : "");
	return TROVE_ERR_INVALID;
}

/* "host:port" of the bound socket (the port the kernel chose for port 0),
 * else the configured address. Heap. */
static char *bound_address(int fd, const char *configured)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN + 16];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return xstrdup(configured);
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, sizeof(out), "%s:%u", host, (unsigned)ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, sizeof(out), "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
	} else {
		return xstrdup(configured);
	}
	return xstrdup(out);
}

static int listen_tcp(struct proxy_listener *l, struct buf *err)
{
	const char *address = l->cfg->address ? l->cfg->address : "127.0.0.1:8200";
	const char *colon = strrchr(address, ':');
	struct addrinfo hints, *res = NULL;
	char host[256];
	size_t hlen;
	int fd, one = 1, rc;

	if (colon == NULL || colon[1] == '\0')
		return fail(err, l, "address", "want host:port", address);
	hlen = (size_t)(colon - address);
	if (address[0] == '[' && hlen >= 2 && address[hlen - 1] == ']') {
		memcpy(host, address + 1, hlen - 2);
		host[hlen - 2] = '\0';
	} else if (hlen < sizeof(host)) {
		memcpy(host, address, hlen);
		host[hlen] = '\0';
	} else {
		return fail(err, l, "address", "host too long", NULL);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res)) != 0)
		return fail(err, l, "address", gai_strerror(rc), address);
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return fail(err, l, "address", "cannot listen", strerror(e));
	}
	freeaddrinfo(res);
	l->fd = fd;
	l->address = bound_address(fd, address);
	return 0;
}

static int socket_owner(struct proxy_listener *l, uid_t *uid, gid_t *gid, struct buf *err)
{
	const char *u = l->cfg->socket_user, *g = l->cfg->socket_group;
	int64_t n;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (u && *u) {
		struct passwd *pw = getpwnam(u);
		if (pw)
			*uid = pw->pw_uid;
		else if (strconv_int64(u, &n) && n >= 0)
			*uid = (uid_t)n;
		else
			return fail(err, l, "socket_user", "no such user", u);
	}
	if (g && *g) {
		struct group *gr = getgrnam(g);
		if (gr)
			*gid = gr->gr_gid;
		else if (strconv_int64(g, &n) && n >= 0)
			*gid = (gid_t)n;
		else
			return fail(err, l, "socket_group", "no such group", g);
	}
	return 0;
}

static int listen_unix(struct proxy_listener *l, struct buf *err)
{
	const char *path = l->cfg->address;
	struct sockaddr_un sa;
	struct stat st;
	unsigned long mode = 0;
	uid_t uid;
	gid_t gid;
	char *end = NULL;
	int fd, r;

	if (path == NULL || *path == '\0')
		return fail(err, l, "address", "a socket path is required", NULL);
	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(err, l, "address", "socket path too long", path);
	if (l->cfg->socket_mode && *l->cfg->socket_mode) {
		errno = 0;
		mode = strtoul(l->cfg->socket_mode, &end, 8);
		if (errno || end == l->cfg->socket_mode || *end || mode > 07777)
			return fail(err, l, "socket_mode", "want an octal mode such as 0660", l->cfg->socket_mode);
	}
	if ((r = socket_owner(l, &uid, &gid, err)) != 0)
		return r;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return fail(err, l, "address", "a file that is not a socket is in the way", path);
		if (unlink(path) != 0)
			return fail(err, l, "address", "cannot remove the old socket", strerror(errno));
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return fail(err, l, "address", "cannot bind", strerror(e));
	}
	l->unix_path = xstrdup(path);
	l->fd = fd;
	l->address = xstrdup(path);
	if ((mode && chmod(path, (mode_t)mode) != 0) ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) != 0))
		return fail(err, l, mode ? "socket_mode" : "socket_user", "cannot apply to the socket", strerror(errno));
	if (listen(fd, SOMAXCONN) != 0)
		return fail(err, l, "address", "cannot listen", strerror(errno));
	return 0;
}

static int tls_fail(struct buf *err, const struct proxy_listener *l, const char *key, const char *file)
{
	char e[256];
	unsigned long code = ERR_get_error();

	ERR_error_string_n(code, e, sizeof(e));
	ERR_clear_error();
	buf_printf(err, "%s: listener \"%s\": %s \"%s\": %s", l->cfg->where ? l->cfg->where : "config", l->cfg->type,
	           key, file ? file : "", code ? e : "not given");
	return TROVE_ERR_INVALID;
}

static int min_version(const char *v)
{
	if (v == NULL || strcmp(v, "tls12") == 0)
		return TLS1_2_VERSION;
	if (strcmp(v, "tls13") == 0)
		return TLS1_3_VERSION;
	if (strcmp(v, "tls11") == 0)
		return TLS1_1_VERSION;
	if (strcmp(v, "tls10") == 0)
		return TLS1_VERSION;
	return -1;
}

static int make_tls(struct proxy_listener *l, struct buf *err)
{
	const struct agent_listener_config *c = l->cfg;
	int v = min_version(c->tls_min_version);
	SSL_CTX *ctx;

	if (v < 0)
		return fail(err, l, "tls_min_version", "want tls10, tls11, tls12 or tls13", c->tls_min_version);
	if (c->tls_cert_file == NULL)
		return fail(err, l, "tls_cert_file", "required unless tls_disable = true", NULL);
	if (c->tls_key_file == NULL)
		return fail(err, l, "tls_key_file", "required unless tls_disable = true", NULL);
	if ((ctx = l->ssl = SSL_CTX_new(TLS_server_method())) == NULL)
		return fail(err, l, "tls_cert_file", "cannot create a TLS context", NULL);
	SSL_CTX_set_min_proto_version(ctx, v);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert_file) != 1)
		return tls_fail(err, l, "tls_cert_file", c->tls_cert_file);
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return tls_fail(err, l, "tls_key_file", c->tls_key_file);
	if (c->tls_client_ca_file) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->tls_client_ca_file);
		if (names == NULL || SSL_CTX_load_verify_locations(ctx, c->tls_client_ca_file, NULL) != 1) {
			if (names)
				sk_X509_NAME_pop_free(names, X509_NAME_free);
			return tls_fail(err, l, "tls_client_ca_file", c->tls_client_ca_file);
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx,
		                   SSL_VERIFY_PEER | (c->tls_require_and_verify_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
		                   NULL);
	} else if (c->tls_require_and_verify_client_cert) {
		return fail(err, l, "tls_require_and_verify_client_cert", "needs tls_client_ca_file", NULL);
	}
	return 0;
}

int proxy_listen(struct proxy_listener *l, struct buf *err)
{
	const char *type = l->cfg->type ? l->cfg->type : "";
	int r;

	if (strcmp(type, "tcp") == 0)
		r = listen_tcp(l, err);
	else if (strcmp(type, "unix") == 0)
		r = listen_unix(l, err);
	else
		return fail(err, l, "type", "want tcp or unix", type);
	if (r == 0 && !l->cfg->tls_disable)
		r = make_tls(l, err);
	return r;
}

void proxy_listen_release(struct proxy_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->ssl)
		SSL_CTX_free(l->ssl);
	l->ssl = NULL;
	if (l->unix_path)
		(void)unlink(l->unix_path);
	free(l->unix_path);
	l->unix_path = NULL;
	free(l->address);
	l->address = NULL;
}
