/* tls_ctx.c — the client's TLS settings as an OpenSSL context
 * (api_conn_tls_ctx_new in net_conn.h). The same choices as the libcurl
 * transport: a CA file wins over a CA directory (as Vault's client, whose
 * go-rootcerts reads CAPath only without CAFile), TLS 1.2 at least.
 *
 * The system's store is read lazily where it can be: parsing the whole
 * bundle file (some 140 certificates) costs about 1.5 MB of resident
 * memory for the life of the context, while a directory of hash links
 * (c_rehash, which Debian's ca-certificates keeps) is read one issuer at
 * a time, as verification asks. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "api/net_conn.h"
#include "err.h"

#include "banned.h"

static int tls_failed(struct api_conn *c, SSL_CTX *ctx, const char *what, const char *file)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	(void)snprintf(c->why, sizeof(c->why), "%s %s: %s", what, file ? file : "",
	               reason ? reason : "failed");
	c->failure = API_FAIL_TLS;
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return TROVE_ERR_UPSTREAM;
}

/* Whether dir holds a hash link ("1a2b3c4d.0"), so that OpenSSL can find
 * an issuer in it by name. */
static bool has_hash_links(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	while (d && !found && (e = readdir(d)) != NULL)
		found = strlen(e->d_name) == 10 && strspn(e->d_name, "0123456789abcdef") == 8 &&
		        strcmp(e->d_name + 8, ".0") == 0;
	if (d)
		closedir(d);
	return found;
}

/* OpenSSL's default store (SSL_CERT_FILE and SSL_CERT_DIR when set, as
 * SSL_CTX_set_default_verify_paths reads them), without the default
 * bundle file when the default directory is hashed. Like OpenSSL, a store
 * that cannot be read is no error here: verification fails later,
 * naming the certificate it could not check. */
static void load_system_store(SSL_CTX *ctx)
{
	const char *file = getenv(X509_get_default_cert_file_env());
	const char *env_dir = getenv(X509_get_default_cert_dir_env());
	const char *dir = env_dir && *env_dir ? env_dir : X509_get_default_cert_dir();

	if (file && *file == '\0')
		file = NULL;
	if (file == NULL && dir != env_dir && !has_hash_links(dir))
		file = X509_get_default_cert_file();
	if (file)
		(void)SSL_CTX_load_verify_file(ctx, file);
	(void)SSL_CTX_load_verify_dir(ctx, dir);
	ERR_clear_error();
}

static int pem_certs(const char *pem, STACK_OF(X509) **out);

/* Adds every certificate of the PEM text pem to ctx's store. False when
 * none could be read. */
static bool load_pem_text(SSL_CTX *ctx, const char *pem)
{
	STACK_OF(X509) *certs = NULL;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	bool ok = pem_certs(pem, &certs) > 0;
	int i;

	for (i = 0; ok && i < sk_X509_num(certs); i++)
		ok = X509_STORE_add_cert(store, sk_X509_value(certs, i)) == 1;
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return ok;
}

int api_conn_tls_ctx_new(const struct api_config *cfg, SSL_CTX **out, struct api_conn *c)
{
	SSL_CTX *ctx;
	const char *key;

	*out = NULL;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return tls_failed(c, ctx, "could not set up TLS", NULL);
	/* A body read to the close ends without close_notify from many
	 * servers; the framing, not TLS, says whether it is complete. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!cfg->tls_skip_verify) {
		if (cfg->ca_pem) {
			if (!load_pem_text(ctx, cfg->ca_pem))
				return tls_failed(c, ctx, "could not read the CA certificate", "(PEM text)");
		} else if (cfg->ca_cert) {
			if (SSL_CTX_load_verify_locations(ctx, cfg->ca_cert, NULL) != 1)
				return tls_failed(c, ctx, "could not read the CA certificate file",
				                  cfg->ca_cert);
		} else if (cfg->ca_path) {
			if (SSL_CTX_load_verify_locations(ctx, NULL, cfg->ca_path) != 1)
				return tls_failed(c, ctx, "could not read the CA directory", cfg->ca_path);
		} else {
			load_system_store(ctx);
		}
	}
	if (cfg->client_cert) {
		key = cfg->client_key ? cfg->client_key : cfg->client_cert;
		if (SSL_CTX_use_certificate_chain_file(ctx, cfg->client_cert) != 1)
			return tls_failed(c, ctx, "could not read the client certificate", cfg->client_cert);
		if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			return tls_failed(c, ctx, "could not read the client key", key);
	}
	*out = ctx;
	return 0;
}

/* The certificates of a PEM text; 0 when there is none. */
static int pem_certs(const char *pem, STACK_OF(X509) **out)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;

	while (bio && sk && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (sk_X509_push(sk, x) <= 0)
			X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	*out = sk;
	return sk ? sk_X509_num(sk) : 0;
}

int api_conn_tls_ctx_pem(const char *ca_pem, bool skip_verify, const char *cert_pem, const char *key_pem,
                         SSL_CTX **out, struct api_conn *c)
{
	STACK_OF(X509) *certs = NULL;
	X509_STORE *store;
	EVP_PKEY *key = NULL;
	BIO *bio;
	SSL_CTX *ctx;
	int i, ok;

	*out = NULL;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return tls_failed(c, ctx, "could not set up TLS", NULL);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!skip_verify && ca_pem) {
		store = SSL_CTX_get_cert_store(ctx);
		ok = pem_certs(ca_pem, &certs) > 0;
		for (i = 0; ok && i < sk_X509_num(certs); i++)
			ok = X509_STORE_add_cert(store, sk_X509_value(certs, i)) == 1;
		sk_X509_pop_free(certs, X509_free);
		if (!ok)
			return tls_failed(c, ctx, "could not read the CA certificates", "(PEM)");
	} else if (!skip_verify) {
		load_system_store(ctx);
	}
	if (cert_pem) {
		ok = pem_certs(cert_pem, &certs) > 0 && SSL_CTX_use_certificate(ctx, sk_X509_value(certs, 0)) == 1;
		for (i = 1; ok && i < sk_X509_num(certs); i++)
			ok = SSL_CTX_add1_chain_cert(ctx, sk_X509_value(certs, i)) == 1;
		sk_X509_pop_free(certs, X509_free);
		if (!ok)
			return tls_failed(c, ctx, "could not read the client certificate", "(PEM)");
		bio = BIO_new_mem_buf(key_pem ? key_pem : cert_pem, -1);
		key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
		EVP_PKEY_free(key);
		if (!ok)
			return tls_failed(c, ctx, "could not read the client key", "(PEM)");
	}
	*out = ctx;
	return 0;
}
