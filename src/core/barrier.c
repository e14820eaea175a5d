/* barrier.c — AES-256-GCM between Trove and untrusted storage.
 *
 * Design.
 *  Records: version | term | nonce | ciphertext | tag (see barrier.h), the
 *  storage path as AAD. The header needs no separate MAC: the version is
 *  checked, the term only selects a key (a changed term picks a key that
 *  fails the tag, or none), and GCM authenticates the nonce.
 *
 *  Keyring: every term's key, its install time and its encryption
 *  reservation, plus the active term, serialised as JSON (jansson) and
 *  stored in the physical backend at BARRIER_KEYRING_PATH as a term-0
 *  record under the root key. Term 0 is never a keyring term, so the
 *  keyring record can never be opened through barrier_storage().
 *
 *  Counting: an atomic counter of encryptions under the active term. The
 *  keyring persists a reservation that is always >= every count already
 *  used: before encryption number n is used, if n exceeds the reservation,
 *  the reservation grows by RESERVE_BLOCK and the keyring is rewritten
 *  (under persist_mu, so concurrent writers bump it once). After a restart
 *  counting resumes from the reservation, so a crash can only overcount.
 *  When n would exceed the rotation threshold, the writer drops its read
 *  lock, rotates (write lock; only if nobody rotated meanwhile) and retries.
 *
 *  Locking: a rwlock guards the keyring; get/put/list/delete take it shared
 *  and only for the crypto (storage I/O of data records happens outside
 *  it); unseal/seal/rotate take it exclusive.
 *
 *  Hygiene: keys and the root key are wiped on seal and free; serialised
 *  keyrings go through a buffer that wipes on every growth, and key strings
 *  inside jansson objects are wiped in place before json_decref. (The
 *  jansson parser's own scratch buffers are freed without wiping; a
 *  process-wide wiping allocator via json_set_alloc_funcs would close that.) */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/barrier.h"
#include "encoding.h"
#include "err.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

#define RESERVE_BLOCK 65536ULL
#define KEYRING_FORMAT 1

struct term_key {
	uint32_t term;
	int64_t install_time;
	uint64_t reserved; /* persisted reservation (inactive terms) */
	unsigned char key[BARRIER_KEY_LEN];
};

struct barrier {
	struct storage *physical;
	struct storage view; /* barrier_storage() */
	pthread_rwlock_t lock;
	pthread_mutex_t persist_mu; /* serialises keyring rewrites under the shared lock */
	atomic_bool sealed;
	unsigned char root_key[BARRIER_KEY_LEN];
	struct term_key *keys; /* sorted by term */
	size_t nkeys;
	uint32_t active;
	atomic_uint_least64_t count;    /* encryptions used under the active term */
	atomic_uint_least64_t reserved; /* persisted reservation of the active term */
	atomic_uint_least64_t threshold;
	/* Keyring epoch: +1 on every keyring write, stored inside the keyring
	 * (so authenticated by the root key). Written under the write lock or
	 * persist_mu; read through barrier_epoch(). */
	atomic_uint_least64_t epoch;
	barrier_epoch_fn epoch_hook;
	void *epoch_hook_arg;
};

/* ---- record codec ---------------------------------------------------- */

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* AES-256-GCM fetched once: EVP_aes_256_gcm() in each EVP_*Init_ex makes
 * OpenSSL fetch the implementation from its provider on every record. */
static EVP_CIPHER *gcm_cipher;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void gcm_fetch(void)
{
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static const EVP_CIPHER *aes_256_gcm(void)
{
	if (pthread_once(&gcm_once, gcm_fetch) != 0)
		return NULL;
	return gcm_cipher;
}

/* EVP takes int lengths: feed long inputs in chunks. out NULL = AAD. */
static int gcm_update(EVP_CIPHER_CTX *ctx, int enc, unsigned char *out, const unsigned char *in, size_t len)
{
	const size_t chunk = (size_t)1 << 30;
	size_t done = 0;
	while (done < len) {
		size_t n = len - done < chunk ? len - done : chunk;
		int outl = 0;
		int ok = enc ? EVP_EncryptUpdate(ctx, out ? out + done : NULL, &outl, in + done, (int)n)
		             : EVP_DecryptUpdate(ctx, out ? out + done : NULL, &outl, in + done, (int)n);
		if (ok != 1 || (size_t)outl != n)
			return TROVE_ERR_INTERNAL;
		done += n;
	}
	return 0;
}

int barrier_record_encrypt(const unsigned char key[BARRIER_KEY_LEN], uint32_t term, const char *aad,
                           const void *plaintext, size_t len, unsigned char **out, size_t *out_len)
{
	int r = TROVE_ERR_INTERNAL;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *rec = NULL;
	size_t aad_len = aad ? strlen(aad) : 0;
	int outl = 0;

	if (key == NULL || out == NULL || out_len == NULL || (plaintext == NULL && len != 0))
		return TROVE_ERR_INVALID;
	if (len > SIZE_MAX - BARRIER_OVERHEAD)
		return TROVE_ERR_TOO_LARGE;
	*out = NULL;
	*out_len = 0;
	rec = xmalloc(len + BARRIER_OVERHEAD);
	rec[0] = BARRIER_VERSION;
	put_be32(rec + 1, term);
	if (rand_bytes(rec + 5, BARRIER_NONCE_LEN) != 0)
		goto out;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (aes_256_gcm() == NULL || EVP_EncryptInit_ex(ctx, aes_256_gcm(), NULL, NULL, NULL) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, BARRIER_NONCE_LEN, NULL) != 1)
		goto out;
	if (EVP_EncryptInit_ex(ctx, NULL, NULL, key, rec + 5) != 1)
		goto out;
	if (aad_len && (r = gcm_update(ctx, 1, NULL, (const unsigned char *)aad, aad_len)) != 0)
		goto out;
	r = TROVE_ERR_INTERNAL;
	if (len && (r = gcm_update(ctx, 1, rec + BARRIER_HEADER_LEN, plaintext, len)) != 0)
		goto out;
	r = TROVE_ERR_INTERNAL;
	if (EVP_EncryptFinal_ex(ctx, rec + BARRIER_HEADER_LEN + len, &outl) != 1 || outl != 0)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, BARRIER_TAG_LEN, rec + BARRIER_HEADER_LEN + len) !=
	    1)
		goto out;
	*out = rec;
	*out_len = len + BARRIER_OVERHEAD;
	rec = NULL;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	free(rec); /* ciphertext only */
	return r;
}

int barrier_record_term(const unsigned char *rec, size_t len, uint32_t *term)
{
	if (rec == NULL || term == NULL || len < BARRIER_OVERHEAD || rec[0] != BARRIER_VERSION)
		return TROVE_ERR_INTEGRITY;
	*term = get_be32(rec + 1);
	return 0;
}

int barrier_record_decrypt(const unsigned char key[BARRIER_KEY_LEN], const char *aad,
                           const unsigned char *rec, size_t len, unsigned char **out, size_t *out_len)
{
	int r = TROVE_ERR_INTERNAL;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *pt = NULL;
	unsigned char tag[BARRIER_TAG_LEN];
	size_t aad_len = aad ? strlen(aad) : 0;
	size_t ct_len;
	uint32_t term;
	int outl = 0;

	if (key == NULL || out == NULL || out_len == NULL)
		return TROVE_ERR_INVALID;
	*out = NULL;
	*out_len = 0;
	if ((r = barrier_record_term(rec, len, &term)) != 0)
		return r;
	ct_len = len - BARRIER_OVERHEAD;
	pt = xmalloc(ct_len ? ct_len : 1);
	memcpy(tag, rec + len - BARRIER_TAG_LEN, BARRIER_TAG_LEN);

	r = TROVE_ERR_INTERNAL;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (aes_256_gcm() == NULL || EVP_DecryptInit_ex(ctx, aes_256_gcm(), NULL, NULL, NULL) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, BARRIER_NONCE_LEN, NULL) != 1)
		goto out;
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, key, rec + 5) != 1)
		goto out;
	if (aad_len && (r = gcm_update(ctx, 0, NULL, (const unsigned char *)aad, aad_len)) != 0)
		goto out;
	r = TROVE_ERR_INTERNAL;
	if (ct_len && (r = gcm_update(ctx, 0, pt, rec + BARRIER_HEADER_LEN, ct_len)) != 0)
		goto out;
	r = TROVE_ERR_INTERNAL;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, BARRIER_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(ctx, pt + ct_len, &outl) != 1) {
		r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	*out = pt;
	*out_len = ct_len;
	pt = NULL;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	/* on failure pt holds unauthenticated plaintext: wipe it */
	if (pt)
		secure_free(pt, ct_len ? ct_len : 1);
	return r;
}

/* ---- keyring --------------------------------------------------------- */

/* json_dump_callback into a struct buf (a secret one for the keyring:
 * every block it lets go of is wiped). */
static int buf_dump_cb(const char *s, size_t n, void *data)
{
	return buf_append(data, s, n) == 0 ? 0 : -1;
}

/* Overwrites a jansson string's bytes before it is freed. */
static void wipe_json_string(json_t *s)
{
	if (s != NULL && json_is_string(s))
		secure_wipe((char *)json_string_value(s), json_string_length(s));
}

static void wipe_keyring_json(json_t *root)
{
	json_t *terms = json_object_get(root, "terms");
	for (size_t i = 0; i < json_array_size(terms); i++)
		wipe_json_string(json_object_get(json_array_get(terms, i), "key"));
}

static const struct term_key *find_term(const struct barrier *b, uint32_t term)
{
	size_t lo = 0, hi = b->nkeys;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->keys[mid].term == term)
			return &b->keys[mid];
		if (b->keys[mid].term < term)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Serialises keys/active and writes the keyring record. Caller holds the
 * write lock, or the shared lock plus persist_mu. */
static int keyring_persist(struct barrier *b, const struct term_key *keys, size_t nkeys, uint32_t active,
                           uint64_t active_reserved)
{
	int r = TROVE_ERR_INTERNAL;
	json_t *root = json_object();
	json_t *terms = json_array();
	struct buf sb;
	unsigned char *rec = NULL;
	size_t rec_len = 0;
	char b64[64];

	buf_init_secret(&sb, SIZE_MAX / 4);
	if (root == NULL || terms == NULL)
		goto out;
	uint64_t epoch = atomic_load(&b->epoch) + 1;
	if (epoch > (uint64_t)INT64_MAX) /* 2^63 keyring writes: never in practice */
		goto out;
	if (json_object_set_new(root, "version", json_integer(KEYRING_FORMAT)) != 0 ||
	    json_object_set_new(root, "epoch", json_integer((json_int_t)epoch)) != 0 ||
	    json_object_set_new(root, "active_term", json_integer(active)) != 0 ||
	    json_object_set(root, "terms", terms) != 0)
		goto out;
	for (size_t i = 0; i < nkeys; i++) {
		const struct term_key *k = &keys[i];
		uint64_t res = k->term == active ? active_reserved : k->reserved;
		json_t *t = json_object();
		if (t == NULL || json_array_append_new(terms, t) != 0)
			goto out;
		base64_encode(k->key, BARRIER_KEY_LEN, b64);
		json_t *ks = json_string(b64);
		secure_wipe(b64, sizeof(b64));
		if (ks == NULL || json_object_set_new(t, "key", ks) != 0 ||
		    json_object_set_new(t, "term", json_integer(k->term)) != 0 ||
		    json_object_set_new(t, "install_time", json_integer(k->install_time)) != 0 ||
		    json_object_set_new(t, "encryptions", json_integer((json_int_t)res)) != 0)
			goto out;
	}
	if (json_dump_callback(root, buf_dump_cb, &sb, JSON_COMPACT | JSON_SORT_KEYS) != 0)
		goto out;
	if ((r = barrier_record_encrypt(b->root_key, 0, BARRIER_KEYRING_PATH, sb.data, sb.len, &rec,
	                                &rec_len)) != 0)
		goto out;
	if ((r = storage_put(b->physical, BARRIER_KEYRING_PATH, rec, rec_len)) != 0)
		goto out;
	atomic_store(&b->epoch, epoch);
	/* after the write: a crash in between leaves the hook's copy behind
	 * the stored epoch, never ahead of it */
	if (b->epoch_hook)
		b->epoch_hook(b->epoch_hook_arg, epoch);
	r = 0;
out:
	if (root)
		wipe_keyring_json(root);
	json_decref(terms);
	json_decref(root);
	buf_release(&sb); /* secret: wiped */
	free(rec);
	return r;
}

static int json_get_u64(json_t *obj, const char *name, uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(obj, name);
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
		return TROVE_ERR_INTEGRITY;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* Parses a decrypted keyring. On success *keys (sorted by term) is heap
 * memory the caller wipes and frees. */
static int keyring_parse(const unsigned char *text, size_t len, struct term_key **keys_out, size_t *nkeys_out,
                         uint32_t *active_out, uint64_t *epoch_out)
{
	int r = TROVE_ERR_INTEGRITY;
	json_t *root = NULL;
	struct term_key *keys = NULL;
	size_t n = 0;
	uint64_t v, active;
	json_error_t jerr;

	root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root))
		goto out;
	if (json_get_u64(root, "version", KEYRING_FORMAT, &v) != 0 || v != KEYRING_FORMAT)
		goto out;
	if (json_get_u64(root, "active_term", UINT32_MAX, &active) != 0 || active == 0)
		goto out;
	/* keyrings written before epochs existed have none: epoch 0 */
	*epoch_out = 0;
	if (json_object_get(root, "epoch") != NULL && json_get_u64(root, "epoch", INT64_MAX, epoch_out) != 0)
		goto out;
	json_t *terms = json_object_get(root, "terms");
	if (!json_is_array(terms) || json_array_size(terms) == 0)
		goto out;
	n = json_array_size(terms);
	keys = xcalloc(n, sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(terms, i);
		json_t *ks = json_object_get(t, "key");
		size_t klen = 0;
		if (!json_is_object(t) || !json_is_string(ks))
			goto out;
		if (json_get_u64(t, "term", UINT32_MAX, &v) != 0 || v == 0)
			goto out;
		keys[i].term = (uint32_t)v;
		if (json_get_u64(t, "install_time", INT64_MAX, &v) != 0)
			goto out;
		keys[i].install_time = (int64_t)v;
		if (json_get_u64(t, "encryptions", UINT64_MAX, &keys[i].reserved) != 0)
			goto out;
		if (base64_decode(json_string_value(ks), json_string_length(ks), keys[i].key, BARRIER_KEY_LEN,
		                  &klen) != 0 ||
		    klen != BARRIER_KEY_LEN)
			goto out;
		/* we write terms in ascending order; anything else is not ours */
		if (i > 0 && keys[i].term <= keys[i - 1].term)
			goto out;
	}
	int found = 0;
	for (size_t i = 0; i < n; i++)
		found |= keys[i].term == active;
	if (!found)
		goto out;
	*keys_out = keys;
	*nkeys_out = n;
	*active_out = (uint32_t)active;
	keys = NULL;
	r = 0;
out:
	if (root) {
		wipe_keyring_json(root);
		json_decref(root);
	}
	if (keys)
		secure_free(keys, n * sizeof(*keys));
	return r;
}

/* Drops every key. Caller holds the write lock (or is the only user). */
static void wipe_keys(struct barrier *b)
{
	if (b->keys)
		secure_free(b->keys, b->nkeys * sizeof(*b->keys));
	b->keys = NULL;
	b->nkeys = 0;
	b->active = 0;
	secure_wipe(b->root_key, sizeof(b->root_key));
	atomic_store(&b->count, 0);
	atomic_store(&b->reserved, 0);
	atomic_store(&b->epoch, 0);
	atomic_store(&b->sealed, true);
}

/* Installs term max+1 as active and persists. Caller holds the write
 * lock. On failure the keyring is unchanged. */
static int rotate_locked(struct barrier *b)
{
	int r;
	uint32_t next = b->keys[b->nkeys - 1].term + 1;
	if (next == 0)
		return TROVE_ERR_INTERNAL; /* 2^32 terms: never in practice */
	struct term_key *nk = xcalloc(b->nkeys + 1, sizeof(*nk));
	memcpy(nk, b->keys, b->nkeys * sizeof(*nk));
	struct term_key *k = &nk[b->nkeys];
	k->term = next;
	k->install_time = (int64_t)time(NULL);
	if (rand_bytes(k->key, BARRIER_KEY_LEN) != 0) {
		r = TROVE_ERR_INTERNAL;
		goto fail;
	}
	/* freeze the old active term's reservation in its entry */
	for (size_t i = 0; i < b->nkeys; i++)
		if (nk[i].term == b->active)
			nk[i].reserved = atomic_load(&b->reserved);
	if ((r = keyring_persist(b, nk, b->nkeys + 1, next, RESERVE_BLOCK)) != 0)
		goto fail;
	secure_free(b->keys, b->nkeys * sizeof(*b->keys));
	b->keys = nk;
	b->nkeys++;
	b->active = next;
	atomic_store(&b->reserved, RESERVE_BLOCK);
	atomic_store(&b->count, 0);
	return 0;
fail:
	secure_free(nk, (b->nkeys + 1) * sizeof(*nk));
	return r;
}

/* Ensures the persisted reservation covers encryption number n. Caller
 * holds the shared lock. */
static int reserve(struct barrier *b, uint64_t n)
{
	int r = 0;
	pthread_mutex_lock(&b->persist_mu);
	uint64_t res = atomic_load(&b->reserved);
	if (n > res) {
		uint64_t want = res;
		while (want < n)
			want += RESERVE_BLOCK;
		if ((r = keyring_persist(b, b->keys, b->nkeys, b->active, want)) == 0)
			atomic_store(&b->reserved, want);
	}
	pthread_mutex_unlock(&b->persist_mu);
	return r;
}

/* ---- lifecycle ------------------------------------------------------- */

static const struct storage_ops barrier_storage_ops;

struct barrier *barrier_new(struct storage *physical)
{
	struct barrier *b = xcalloc(1, sizeof(*b));
	b->physical = physical;
	if (pthread_rwlock_init(&b->lock, NULL) != 0)
		abort();
	if (pthread_mutex_init(&b->persist_mu, NULL) != 0)
		abort();
	atomic_init(&b->sealed, true);
	atomic_init(&b->count, 0);
	atomic_init(&b->reserved, 0);
	atomic_init(&b->threshold, BARRIER_ROTATE_DEFAULT);
	atomic_init(&b->epoch, 0);
	b->view.ops = &barrier_storage_ops;
	b->view.durable = physical ? physical->durable : false;
	b->view.impl = b;
	return b;
}

void barrier_free(struct barrier *b)
{
	if (b == NULL)
		return;
	barrier_seal(b);
	pthread_mutex_destroy(&b->persist_mu);
	pthread_rwlock_destroy(&b->lock);
	secure_free(b, sizeof(*b));
}

int barrier_initialized(struct barrier *b, bool *out)
{
	unsigned char *v = NULL;
	size_t n = 0;
	int r = storage_get(b->physical, BARRIER_KEYRING_PATH, &v, &n);
	free(v);
	if (r == TROVE_ERR_NOT_FOUND) {
		*out = false;
		return 0;
	}
	if (r != 0)
		return r;
	*out = true;
	return 0;
}

int barrier_initialize(struct barrier *b, const unsigned char root_key[BARRIER_KEY_LEN])
{
	int r;
	bool exists = false;
	struct term_key first;

	if (b == NULL || root_key == NULL)
		return TROVE_ERR_INVALID;
	pthread_rwlock_wrlock(&b->lock);
	if ((r = barrier_initialized(b, &exists)) != 0)
		goto out;
	if (exists || !atomic_load(&b->sealed)) {
		r = TROVE_ERR_CONFLICT;
		goto out;
	}
	memset(&first, 0, sizeof(first));
	first.term = 1;
	first.install_time = (int64_t)time(NULL);
	if (rand_bytes(first.key, BARRIER_KEY_LEN) != 0) {
		r = TROVE_ERR_INTERNAL;
		goto out;
	}
	/* keyring_persist encrypts under b->root_key: borrow it, then wipe
	 * it again so the barrier stays sealed */
	memcpy(b->root_key, root_key, BARRIER_KEY_LEN);
	atomic_store(&b->epoch, 0);
	r = keyring_persist(b, &first, 1, 1, 0);
	atomic_store(&b->epoch, 0);
	secure_wipe(b->root_key, BARRIER_KEY_LEN);
out:
	secure_wipe(&first, sizeof(first));
	pthread_rwlock_unlock(&b->lock);
	return r;
}

/* Reads the keyring with root_key and installs it in place of the one
 * held (write lock held). On failure nothing changes. */
static int load_keyring(struct barrier *b, const unsigned char root_key[BARRIER_KEY_LEN])
{
	int r;
	unsigned char *rec = NULL, *text = NULL;
	size_t rec_len = 0, text_len = 0;
	struct term_key *keys = NULL;
	size_t nkeys = 0;
	uint32_t active = 0, term;
	uint64_t epoch = 0;

	if ((r = storage_get(b->physical, BARRIER_KEYRING_PATH, &rec, &rec_len)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = TROVE_ERR_UNINITIALIZED;
		goto out;
	}
	if ((r = barrier_record_term(rec, rec_len, &term)) != 0)
		goto out;
	if (term != 0) {
		r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	if ((r = barrier_record_decrypt(root_key, BARRIER_KEYRING_PATH, rec, rec_len, &text, &text_len)) != 0)
		goto out;
	if ((r = keyring_parse(text, text_len, &keys, &nkeys, &active, &epoch)) != 0)
		goto out;
	if (root_key != b->root_key)
		memcpy(b->root_key, root_key, BARRIER_KEY_LEN);
	if (b->keys)
		secure_free(b->keys, b->nkeys * sizeof(*b->keys));
	atomic_store(&b->epoch, epoch);
	b->keys = keys;
	b->nkeys = nkeys;
	b->active = active;
	keys = NULL;
	const struct term_key *ak = find_term(b, active);
	/* resume counting from the reservation: never below the true count */
	atomic_store(&b->reserved, ak->reserved);
	atomic_store(&b->count, ak->reserved);
	atomic_store(&b->sealed, false);
	r = 0;
out:
	free(rec);
	if (text)
		secure_free(text, text_len ? text_len : 1);
	if (keys)
		secure_free(keys, nkeys * sizeof(*keys));
	return r;
}

int barrier_unseal(struct barrier *b, const unsigned char root_key[BARRIER_KEY_LEN])
{
	int r;

	if (b == NULL || root_key == NULL)
		return TROVE_ERR_INVALID;
	pthread_rwlock_wrlock(&b->lock);
	if (!atomic_load(&b->sealed))
		/* already open: succeed only for the same root key */
		r = secure_eq(b->root_key, root_key, BARRIER_KEY_LEN) ? 0 : TROVE_ERR_INTEGRITY;
	else
		r = load_keyring(b, root_key);
	pthread_rwlock_unlock(&b->lock);
	return r;
}

int barrier_reload(struct barrier *b)
{
	int r = TROVE_ERR_SEALED;
	pthread_rwlock_wrlock(&b->lock);
	if (!atomic_load(&b->sealed))
		r = load_keyring(b, b->root_key);
	pthread_rwlock_unlock(&b->lock);
	return r;
}

int barrier_touch(struct barrier *b)
{
	int r;
	pthread_rwlock_wrlock(&b->lock);
	if (atomic_load(&b->sealed))
		r = TROVE_ERR_SEALED;
	else
		r = keyring_persist(b, b->keys, b->nkeys, b->active, atomic_load(&b->reserved));
	pthread_rwlock_unlock(&b->lock);
	return r;
}

uint64_t barrier_epoch(struct barrier *b)
{
	return b == NULL ? 0 : atomic_load(&b->epoch);
}

void barrier_set_epoch_hook(struct barrier *b, barrier_epoch_fn fn, void *arg)
{
	pthread_rwlock_wrlock(&b->lock);
	b->epoch_hook = fn;
	b->epoch_hook_arg = arg;
	pthread_rwlock_unlock(&b->lock);
}

void barrier_seal(struct barrier *b)
{
	if (b == NULL)
		return;
	pthread_rwlock_wrlock(&b->lock);
	wipe_keys(b);
	pthread_rwlock_unlock(&b->lock);
}

bool barrier_sealed(struct barrier *b)
{
	return b == NULL || atomic_load(&b->sealed);
}

int barrier_rotate(struct barrier *b)
{
	int r;
	if (b == NULL)
		return TROVE_ERR_INVALID;
	pthread_rwlock_wrlock(&b->lock);
	if (atomic_load(&b->sealed))
		r = TROVE_ERR_SEALED;
	else
		r = rotate_locked(b);
	pthread_rwlock_unlock(&b->lock);
	return r;
}

/* Rotates only if `term` is still active (another writer may have won). */
static int rotate_if_active(struct barrier *b, uint32_t term)
{
	int r = 0;
	pthread_rwlock_wrlock(&b->lock);
	if (atomic_load(&b->sealed))
		r = TROVE_ERR_SEALED;
	else if (b->active == term)
		r = rotate_locked(b);
	pthread_rwlock_unlock(&b->lock);
	return r;
}

int barrier_key_status(struct barrier *b, struct barrier_key_status *out)
{
	int r = TROVE_ERR_SEALED;
	if (b == NULL || out == NULL)
		return TROVE_ERR_INVALID;
	pthread_rwlock_rdlock(&b->lock);
	if (!atomic_load(&b->sealed)) {
		const struct term_key *k = find_term(b, b->active);
		out->term = b->active;
		out->install_time = k->install_time;
		out->encryptions = atomic_load(&b->count);
		r = 0;
	}
	pthread_rwlock_unlock(&b->lock);
	return r;
}

void barrier_set_rotation_threshold(struct barrier *b, uint64_t n)
{
	atomic_store(&b->threshold, n ? n : BARRIER_ROTATE_DEFAULT);
}

/* ---- data path ------------------------------------------------------- */

int barrier_decode(struct barrier *b, const char *path, const unsigned char *rec, size_t len,
                   unsigned char **out, size_t *out_len)
{
	int r;
	uint32_t term;
	if (b == NULL || out == NULL || out_len == NULL)
		return TROVE_ERR_INVALID;
	*out = NULL;
	*out_len = 0;
	pthread_rwlock_rdlock(&b->lock);
	if (atomic_load(&b->sealed)) {
		r = TROVE_ERR_SEALED;
		goto out;
	}
	if ((r = barrier_record_term(rec, len, &term)) != 0)
		goto out;
	const struct term_key *k = find_term(b, term);
	if (k == NULL) {
		r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	r = barrier_record_decrypt(k->key, path, rec, len, out, out_len);
out:
	pthread_rwlock_unlock(&b->lock);
	return r;
}

/* Encrypts one value for path under the active term, counting it,
 * keeping the reservation ahead and rotating at the threshold. */
static int encode(struct barrier *b, const char *path, const void *value, size_t len, unsigned char **out,
                  size_t *out_len)
{
	int r;
	for (;;) {
		pthread_rwlock_rdlock(&b->lock);
		if (atomic_load(&b->sealed)) {
			r = TROVE_ERR_SEALED;
			goto out;
		}
		uint64_t n = atomic_fetch_add(&b->count, 1) + 1;
		if (n > atomic_load(&b->threshold)) {
			uint32_t term = b->active;
			pthread_rwlock_unlock(&b->lock);
			if ((r = rotate_if_active(b, term)) != 0)
				return r;
			continue;
		}
		if (n > atomic_load(&b->reserved) && (r = reserve(b, n)) != 0)
			goto out;
		const struct term_key *k = find_term(b, b->active);
		r = barrier_record_encrypt(k->key, b->active, path, value, len, out, out_len);
		goto out;
	}
out:
	pthread_rwlock_unlock(&b->lock);
	return r;
}

static int refuse_keyring(const char *key)
{
	return strcmp(key, BARRIER_KEYRING_PATH) == 0 ? TROVE_ERR_PERMISSION : 0;
}

static int bs_get(struct storage *s, const char *key, unsigned char **out, size_t *out_len)
{
	struct barrier *b = s->impl;
	unsigned char *rec = NULL;
	size_t rec_len = 0;
	int r;
	if (atomic_load(&b->sealed))
		return TROVE_ERR_SEALED;
	if ((r = storage_get(b->physical, key, &rec, &rec_len)) != 0)
		goto out;
	r = barrier_decode(b, key, rec, rec_len, out, out_len);
out:
	free(rec);
	return r;
}

static int bs_put(struct storage *s, const char *key, const void *value, size_t len)
{
	struct barrier *b = s->impl;
	unsigned char *rec = NULL;
	size_t rec_len = 0;
	int r;
	if (atomic_load(&b->sealed))
		return TROVE_ERR_SEALED;
	if ((r = refuse_keyring(key)) != 0)
		return r;
	if ((r = encode(b, key, value, len, &rec, &rec_len)) != 0)
		goto out;
	r = storage_put(b->physical, key, rec, rec_len);
out:
	free(rec);
	return r;
}

static int bs_del(struct storage *s, const char *key)
{
	struct barrier *b = s->impl;
	int r;
	if (atomic_load(&b->sealed))
		return TROVE_ERR_SEALED;
	if ((r = refuse_keyring(key)) != 0)
		return r;
	return storage_delete(b->physical, key);
}

static int bs_list(struct storage *s, const char *prefix, struct strlist *out)
{
	struct barrier *b = s->impl;
	if (atomic_load(&b->sealed))
		return TROVE_ERR_SEALED;
	return storage_list(b->physical, prefix, out);
}

static int bs_txn(struct storage *s, const struct storage_op *ops, size_t n)
{
	struct barrier *b = s->impl;
	struct storage_op *enc = NULL;
	unsigned char **recs = NULL;
	int r;
	if (atomic_load(&b->sealed))
		return TROVE_ERR_SEALED;
	for (size_t i = 0; i < n; i++)
		if ((r = refuse_keyring(ops[i].key)) != 0)
			return r;
	enc = xcalloc(n, sizeof(*enc));
	recs = xcalloc(n, sizeof(*recs));
	for (size_t i = 0; i < n; i++) {
		enc[i] = ops[i];
		if (ops[i].kind != STORAGE_PUT)
			continue;
		size_t rec_len = 0;
		if ((r = encode(b, ops[i].key, ops[i].value, ops[i].value_len, &recs[i], &rec_len)) != 0)
			goto out;
		enc[i].value = recs[i];
		enc[i].value_len = rec_len;
	}
	r = storage_txn(b->physical, enc, n);
out:
	for (size_t i = 0; i < n; i++)
		free(recs[i]);
	free(recs);
	free(enc);
	return r;
}

/* The view belongs to the barrier: storage_free() on it does nothing. */
static void bs_destroy(struct storage *s)
{
	(void)s;
}

static const struct storage_ops barrier_storage_ops = {
    .name = "barrier",
    .get = bs_get,
    .put = bs_put,
    .del = bs_del,
    .list = bs_list,
    .txn = bs_txn,
    .destroy = bs_destroy,
};

struct storage *barrier_storage(struct barrier *b)
{
	return &b->view;
}
