/* tls_ctx_share.c — one TLS context for the process's clients while
 * their settings and files stay the same (api_conn_tls_ctx in
 * net_conn.h).
 *
 * The context is keyed by a byte string: each setting that shapes it
 * (length-prefixed, so no two settings read alike) and, for each file it
 * was read from, the file's identity and change time as stat gives them.
 * One context is kept: a program talks to one server. */
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/net_conn.h"
#include "buf.h"

#include "banned.h"

static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *kept_ctx;
static struct buf kept_key; /* zero until the first context is kept */

static bool add_text(struct buf *key, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char present = s ? 1 : 0;

	return buf_append(key, &present, 1) == 0 && buf_append(key, &n, sizeof(n)) == 0 &&
	       buf_append(key, s ? s : "", n) == 0;
}

/* The file's identity and change time; a file that cannot be read gives
 * zeros (the context's own read then fails, and nothing is kept). */
static bool add_file(struct buf *key, const char *path)
{
	struct stat st;
	struct {
		dev_t dev;
		ino_t ino;
		off_t size;
		struct timespec mtime, ctime;
	} id;

	memset(&id, 0, sizeof(id));
	if (path && stat(path, &st) == 0) {
		id.dev = st.st_dev;
		id.ino = st.st_ino;
		id.size = st.st_size;
		id.mtime = st.st_mtim;
		id.ctime = st.st_ctim;
	}
	return buf_append(key, &id, sizeof(id)) == 0;
}

/* What the context made for cfg would be made from. False when the key
 * did not fit (a CA text past BUF_CAP_DEFAULT): then nothing is shared. */
static bool key_of(const struct api_config *cfg, struct buf *key)
{
	char skip = cfg->tls_skip_verify ? 1 : 0;
	bool ok = buf_append(key, &skip, 1) == 0 && add_text(key, cfg->ca_pem) &&
	          add_text(key, cfg->ca_cert) && add_file(key, cfg->ca_cert) && add_text(key, cfg->ca_path) &&
	          add_text(key, cfg->client_cert) && add_file(key, cfg->client_cert) &&
	          add_text(key, cfg->client_key) && add_file(key, cfg->client_key);

	/* no CA set: OpenSSL's default store, as tls_ctx.c reads it */
	if (ok && !cfg->ca_pem && !cfg->ca_cert && !cfg->ca_path)
		ok = add_text(key, getenv(X509_get_default_cert_file_env())) &&
		     add_text(key, getenv(X509_get_default_cert_dir_env())) &&
		     add_file(key, X509_get_default_cert_file());
	return ok;
}

int api_conn_tls_ctx(const struct api_config *cfg, SSL_CTX **out, struct api_conn *c)
{
	struct buf key;
	SSL_CTX *made = NULL;
	int r;

	buf_init(&key, BUF_CAP_DEFAULT);
	if (!key_of(cfg, &key)) {
		buf_release(&key);
		return api_conn_tls_ctx_new(cfg, out, c);
	}
	pthread_mutex_lock(&kept_mu);
	if (kept_ctx && kept_key.len == key.len && memcmp(kept_key.data, key.data, key.len) == 0) {
		SSL_CTX_up_ref(kept_ctx);
		*out = kept_ctx;
		r = 0;
	} else if ((r = api_conn_tls_ctx_new(cfg, &made, c)) == 0) {
		if (kept_ctx) {
			SSL_CTX_free(kept_ctx);
			buf_release(&kept_key);
		}
		kept_key = key; /* the key moves to the kept one */
		buf_init(&key, 0);
		kept_ctx = made;
		SSL_CTX_up_ref(made);
		*out = made;
	}
	pthread_mutex_unlock(&kept_mu);
	buf_release(&key);
	return r;
}
