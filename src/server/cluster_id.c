/* cluster_id.c — the cluster's key and certificate (cluster_id.h), made
 * with the PKI engine's x509 helpers and kept behind the barrier. */
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/cluster_id.h"

#include "core/background.h"
#include "core/core.h"
#include "core/mount.h"
#include "core/scheduler.h"
#include "engines/pki/x509.h"
#include "err.h"
#include "log.h"
#include "secure.h"
#include "storage/storage.h"

#include "banned.h"

struct id_box {
	struct cluster_id pub; /* first: a struct cluster_id * is the box */
	atomic_int refs;
};

static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cluster_id *mem; /* the in-memory copy (one reference) */
/* One cluster_id_ensure at a time: two that both find none would each
 * store an identity of their own, and this node could keep the one that
 * lost. */
static pthread_mutex_t ensure_lock = PTHREAD_MUTEX_INITIALIZER;
/* A retry of a failed cluster_id_ensure is scheduled (one at a time). */
static atomic_bool retry_pending;

static struct cluster_id *id_new(X509 *cert, EVP_PKEY *key)
{
	struct id_box *b = xcalloc(1, sizeof(*b));
	atomic_init(&b->refs, 1);
	b->pub.cert = cert;
	b->pub.key = key;
	if (x509_cert_to_der(cert, &b->pub.der, &b->pub.der_len) != 0) {
		b->pub.cert = NULL;
		b->pub.key = NULL;
		free(b);
		return NULL;
	}
	return &b->pub;
}

static struct cluster_id *id_ref(struct cluster_id *id)
{
	if (id)
		atomic_fetch_add(&((struct id_box *)id)->refs, 1);
	return id;
}

void cluster_id_put(struct cluster_id *id)
{
	if (!id || atomic_fetch_sub(&((struct id_box *)id)->refs, 1) != 1)
		return;
	X509_free(id->cert);
	EVP_PKEY_free(id->key); /* OpenSSL clears private key material it frees */
	free(id->der);
	free(id);
}

/* Replaces the in-memory copy (takes the caller's reference). */
static void mem_set(struct cluster_id *id)
{
	pthread_mutex_lock(&mem_lock);
	struct cluster_id *old = mem;
	mem = id;
	pthread_mutex_unlock(&mem_lock);
	cluster_id_put(old);
}

struct cluster_id *cluster_id_get(struct core *c)
{
	if (core_sealed(c)) {
		mem_set(NULL); /* a sealed node keeps no key */
		return NULL;
	}
	pthread_mutex_lock(&mem_lock);
	struct cluster_id *id = id_ref(mem);
	pthread_mutex_unlock(&mem_lock);
	return id;
}

bool cluster_id_matches(const struct cluster_id *id, X509 *peer)
{
	unsigned char *der = NULL;
	int n = peer ? i2d_X509(peer, &der) : -1;
	bool same = n > 0 && (size_t)n == id->der_len && memcmp(der, id->der, id->der_len) == 0;
	OPENSSL_free(der);
	return same;
}

int cluster_id_parse(const unsigned char *v, size_t len, struct cluster_id **out)
{
	json_t *doc = json_loadb((const char *)v, len, JSON_REJECT_DUPLICATES, NULL);
	const char *cert_pem = json_string_value(json_object_get(doc, "cert"));
	const char *key_pem = json_string_value(json_object_get(doc, "key"));
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int r = TROVE_ERR_INVALID;

	if (!cert_pem || !key_pem || x509_cert_from_pem(cert_pem, strlen(cert_pem), &cert) != 0 ||
	    x509_key_from_pem(key_pem, strlen(key_pem), &key) != 0 || X509_check_private_key(cert, key) != 1)
		goto out;
	if ((*out = id_new(cert, key)) == NULL)
		goto out;
	cert = NULL;
	key = NULL;
	r = 0;
out:
	ERR_clear_error();
	json_decref(doc); /* jansson's frees wipe (secure.c) */
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

int cluster_id_make(struct cluster_id **out, struct buf *value)
{
	struct x509_subject subj;
	X509_NAME *name = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *key_pem = NULL, *cert_pem = NULL;
	const char *why = NULL;
	time_t now = time(NULL);
	int r;

	x509_subject_init(&subj);
	subj.cn = "trove-cluster";
	struct x509_spec spec = {
	    .not_before = (int64_t)now - 30,
	    .not_after = (int64_t)now + (int64_t)CLUSTER_ID_YEARS * 365 * 86400,
	    .key_usage = X509_KU_DIGITAL_SIGNATURE | X509_KU_KEY_AGREEMENT,
	    .ext_key_usage = X509_EKU_SERVER | X509_EKU_CLIENT,
	};
	if ((r = x509_keygen("ec", 256, &key)) != 0 || (r = x509_name_build(&subj, &name)) != 0)
		goto out;
	spec.subject = name;
	spec.pubkey = key;
	if ((r = x509_cert_sign(&spec, NULL, key, &cert, &why)) != 0 ||
	    (r = x509_key_to_text(key, "pkcs8", &key_pem)) != 0 ||
	    (r = x509_cert_to_pem(cert, &cert_pem)) != 0)
		goto out;
	json_t *doc = json_pack("{s:s, s:s}", "cert", cert_pem, "key", key_pem);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	r = text ? buf_append_str(value, text) : TROVE_ERR_NOMEM;
	if (text)
		secure_free_str(text);
	if (r != 0)
		goto out;
	/* the parsed form, the one every other node will hold */
	r = cluster_id_parse((const unsigned char *)value->data, value->len, out);
out:
	secure_free_str(key_pem);
	free(cert_pem);
	X509_free(cert);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	x509_subject_release(&subj);
	return r;
}

int cluster_id_load(struct core *c)
{
	unsigned char *v = NULL;
	size_t len = 0;
	struct cluster_id *id = NULL;
	int r;

	if (core_sealed(c))
		return TROVE_ERR_SEALED;
	if ((r = storage_get(core_storage(c), CLUSTER_ID_PATH, &v, &len)) != 0)
		return r;
	r = cluster_id_parse(v, len, &id);
	secure_free(v, len);
	if (r == 0)
		mem_set(id);
	return r;
}

int cluster_id_ensure(struct core *c)
{
	struct cluster_id *id = NULL;
	struct buf value;
	pthread_mutex_lock(&ensure_lock);
	int r = cluster_id_load(c);

	if (r != TROVE_ERR_NOT_FOUND)
		goto out;
	buf_init_secret(&value, (size_t)64 << 10);
	if ((r = cluster_id_make(&id, &value)) == 0 &&
	    (r = storage_put(core_storage(c), CLUSTER_ID_PATH, value.data, value.len)) == 0) {
		mem_set(id);
		id = NULL;
	}
	cluster_id_put(id);
	buf_release(&value);
out:
	pthread_mutex_unlock(&ensure_lock);
	return r;
}

/* The retries of a failed cluster_id_ensure: on the mounts' scheduler,
 * which runs them only while this node is active and cancels them at
 * seal. */
#define RETRY_OWNER "core/cluster-id"
#define RETRY_FIRST_MS 250
#define RETRY_MAX_MS 10000

struct retry {
	struct core *core;
	uint64_t delay_ms;
	bool again; /* the run scheduled the next one */
};

static void retry_run(void *arg);

static void retry_free(void *arg)
{
	struct retry *t = arg;
	if (!t->again)
		atomic_store(&retry_pending, false);
	free(t);
}

static struct scheduler *retry_scheduler(struct core *c)
{
	return background_scheduler(mount_table_background(core_mounts(c)));
}

/* Schedules the next try, delay_ms from now. Returns whether it did. */
static bool retry_schedule(struct core *c, uint64_t delay_ms)
{
	struct retry *t = xcalloc(1, sizeof(*t));
	t->core = c;
	t->delay_ms = delay_ms;
	if (scheduler_once(retry_scheduler(c), RETRY_OWNER, delay_ms, retry_run, t, retry_free) == 0)
		return true;
	free(t);
	return false;
}

static void retry_run(void *arg)
{
	struct retry *t = arg;
	int r = cluster_id_ensure(t->core);
	if (r == 0) {
		log_info("cluster certificate read; standbys forward again");
		return;
	}
	if (r == TROVE_ERR_SEALED)
		return; /* made or read again when active after the unseal */
	uint64_t next = t->delay_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : t->delay_ms * 2;
	t->again = retry_schedule(t->core, next);
}

void cluster_id_became_active(void *ctx, struct core *c)
{
	(void)ctx;
	int r = cluster_id_ensure(c);
	if (r == 0)
		return;
	log_warn("cannot read or make the cluster certificate; standbys will redirect, not forward, until it is "
	         "read again",
	         "error", err_message(r));
	bool no = false;
	if (r != TROVE_ERR_SEALED && atomic_compare_exchange_strong(&retry_pending, &no, true) &&
	    !retry_schedule(c, RETRY_FIRST_MS))
		atomic_store(&retry_pending, false);
}

/* --- TLS --------------------------------------------------------------- */

/* The peer passes when its certificate is exactly the cluster's: arg is
 * the identity (client side), or NULL for the in-memory one (server
 * side, which reads it at each handshake). Replaces OpenSSL's chain
 * verification altogether: no CA, no name, no validity window (the
 * certificate is the pin). */
struct pin_arg {
	struct core *core;     /* server side */
	struct cluster_id *id; /* client side */
};

static int pin_verify(X509_STORE_CTX *x, void *arg)
{
	struct pin_arg *p = arg;
	struct cluster_id *id = p->id ? id_ref(p->id) : cluster_id_get(p->core);
	bool ok = id && cluster_id_matches(id, X509_STORE_CTX_get0_cert(x));
	cluster_id_put(id);
	if (!ok)
		X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
	return ok ? 1 : 0;
}

/* The server's certificate and key, at each handshake. */
static int pick_cert(SSL *ssl, void *arg)
{
	struct pin_arg *p = arg;
	struct cluster_id *id = cluster_id_get(p->core);
	int ok = id && SSL_use_certificate(ssl, id->cert) == 1 && SSL_use_PrivateKey(ssl, id->key) == 1;
	cluster_id_put(id);
	return ok ? 1 : 0;
}

static int pin_index = -1;
static pthread_once_t pin_once = PTHREAD_ONCE_INIT;

static void pin_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	struct pin_arg *p = ptr;
	if (p)
		cluster_id_put(p->id);
	free(p);
}

static void pin_index_make(void)
{
	pin_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, pin_free);
}

static SSL_CTX *ctx_new(const SSL_METHOD *m, struct core *c, struct cluster_id *id)
{
	SSL_CTX *ctx = SSL_CTX_new(m);
	struct pin_arg *p = xcalloc(1, sizeof(*p));

	pthread_once(&pin_once, pin_index_make);
	p->core = c;
	p->id = id_ref(id);
	if (!ctx || pin_index < 0 || SSL_CTX_set_ex_data(ctx, pin_index, p) != 1) {
		cluster_id_put(p->id);
		free(p);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_cert_verify_callback(ctx, pin_verify, p);
	return ctx;
}

SSL_CTX *cluster_tls_server_ctx(struct core *c, struct buf *err)
{
	SSL_CTX *ctx = ctx_new(TLS_server_method(), c, NULL);
	if (!ctx) {
		buf_append_str(err, "cannot create the cluster listener's TLS context");
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_cb(ctx, pick_cert, SSL_CTX_get_ex_data(ctx, pin_index));
	/* no session resumption: every connection proves the key again */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

SSL_CTX *cluster_tls_client_ctx(struct cluster_id *id)
{
	SSL_CTX *ctx = ctx_new(TLS_client_method(), NULL, id);
	if (!ctx)
		return NULL;
	if (SSL_CTX_use_certificate(ctx, id->cert) != 1 || SSL_CTX_use_PrivateKey(ctx, id->key) != 1) {
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
