/* token.c — the token store.
 *
 * Design notes.
 *
 * Only hashes. An entry lives at sys/token/id/<hex HMAC-SHA256(salt, id)>;
 * the token itself is never stored or logged. Accessors are indexed by
 * their own salted hash under a different prefix, so the two namespaces
 * never meet.
 *
 * Locality. A hashed key is uniformly random, so a burst of creates would
 * dirty one B-tree leaf per key, and LMDB writes and syncs every dirtied
 * page: three random keys per create made page writes the cost of a
 * create. So every generated token and accessor opens with a sequence,
 * 16 hex digits that grow with each create (the clock in nanoseconds,
 * kept strictly increasing), and its storage key is "<seq>.<hash>": a
 * burst of creates appends to the same few leaves of each index. The
 * sequence is not secret (it says when the token was made, which a lookup
 * shows anyway) and adds nothing to guess: the 24 base62 characters after
 * it carry the randomness. A custom id has no sequence and keys on its
 * hash alone. The key is a pure function of the string presented, so a
 * forged sequence only looks in another place and finds nothing.
 *
 * Locking. ts->lock (rwlock) guards open/close: every operation holds it
 * for reading, close for writing. Creating a token takes no other lock,
 * so concurrent creates reach the storage together and LMDB's group
 * commit can share one fsync among them. Read-modify-write of one entry
 * (consuming a use, renewing, re-parenting, deleting) holds that entry's
 * stripe mutex (chosen by hash), so a decrement can never resurrect a
 * token that a revocation just deleted. Revocations are serialised by
 * revoke_mu. Order: lock -> revoke_mu -> stripe.
 *
 * Trees. sys/token/parent/<parent>/<child> lists each token's children,
 * in creation order (the locators sort by sequence).
 * Revocation gathers the subtree breadth-first into an array (no
 * recursion), then deletes it in reverse, children before parents, one
 * transaction per token: an interrupted revocation leaves a consistent,
 * smaller tree. A create that races the revocation of its parent could
 * leave a child under a missing parent; lookup therefore checks the
 * parent chain (one read per ancestor; orphans and root tokens have
 * none) and tidy removes such children.
 *
 * Uses. A token created with num_uses = n is stored with the remaining
 * count; consuming the last use stores -1 ("used up, revocation pending")
 * so that no concurrent request can use it, while the request that
 * consumed it proceeds; token_finish_request then revokes it.
 *
 * Batch tokens are "hvb." + base64url(barrier record of the entry's JSON)
 * under the active batch key (batch_keys.h: counted and rotated, old terms
 * kept), with a fixed AAD, so they cost no write and cannot be forged or
 * altered. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "token.h"

#include "duration.h"
#include "barrier.h"
#include "batch_keys.h"
#include "lease_key.h"
#include "encoding.h"
#include "err.h"
#include "rand.h"
#include "secure.h"
#include "strconv.h"
#include "vcache.h"
#include "cidr.h"
#include "clock.h"
#include "hmac.h"
#include "strlist_json.h"

#include "banned.h"

#define SALT_LEN 32
#define CACHE_SLOTS 4096
#define STRIPES 64
#define MAX_CALLBACKS 16
#define MAX_CHAIN 64        /* ancestors checked at lookup */
#define MAX_SUBTREE 4000000 /* a bigger "tree" is a storage loop */
#define BATCH_AAD "sys/token/batch"

#define ID_KEY_LEN (sizeof(TOKEN_ID_PREFIX) + TOKEN_LOCATOR_MAX)
#define ACC_KEY_LEN (sizeof(TOKEN_ACCESSOR_PREFIX) + TOKEN_LOCATOR_MAX)
#define PARENT_KEY_LEN (sizeof(TOKEN_PARENT_PREFIX) + 2 * TOKEN_LOCATOR_MAX + 2)
#define TOKEN_RANDOM_CHARS 24
_Static_assert(TOKEN_SERVICE_LEN == sizeof(TOKEN_SERVICE_PREFIX) - 1 + TOKEN_SEQ_HEX + TOKEN_RANDOM_CHARS,
	       "TOKEN_SERVICE_LEN matches what token_create generates");

struct revoke_cb {
	void (*fn)(void *arg, const struct token_entry *e);
	void *arg;
};

struct token_store {
	pthread_rwlock_t lock;
	struct storage *logical; /* borrowed; NULL while closed */
	unsigned char salt[SALT_LEN];
	struct hmac_sha256_ctx salt_mac; /* keyed with salt while open: token locators */
	struct batch_keys *batch_keys;
	pthread_mutex_t stripes[STRIPES];
	pthread_mutex_t revoke_mu;
	pthread_mutex_t cb_mu;
	struct revoke_cb cbs[MAX_CALLBACKS];
	size_t ncbs;
	const struct clock *clock; /* NULL: the system's */
	_Atomic uint64_t last_seq; /* the last creation sequence handed out */
	struct vcache *cache;      /* parsed entries by locator (vcache.h): a
	                            * hot token costs a copy, not a read,
	                            * an AES-GCM open and a JSON parse */
	void (*on_expiry)(void *arg, int64_t t); /* a lease became due at t */
	void *on_expiry_arg;
};

/* --- entries ---------------------------------------------------------- */

struct token_entry *token_entry_new(void)
{
	struct token_entry *e = xcalloc(1, sizeof(*e));
	strlist_init(&e->policies);
	strlist_init(&e->bound_cidrs);
	strlist_init(&e->identity_policies);
	e->path = xstrdup("");
	e->display_name = xstrdup("");
	e->entity_id = xstrdup("");
	e->role = xstrdup("");
	e->renewable = true;
	return e;
}

struct token_entry *token_entry_copy(const struct token_entry *e)
{
	struct token_entry *c = xmalloc(sizeof(*c));
	*c = *e;
	strlist_init(&c->policies);
	strlist_init(&c->bound_cidrs);
	strlist_init(&c->identity_policies);
	for (size_t i = 0; i < e->identity_policies.len; i++)
		strlist_push(&c->identity_policies, e->identity_policies.items[i]);
	for (size_t i = 0; i < e->policies.len; i++)
		strlist_push(&c->policies, e->policies.items[i]);
	for (size_t i = 0; i < e->bound_cidrs.len; i++)
		strlist_push(&c->bound_cidrs, e->bound_cidrs.items[i]);
	c->meta = e->meta ? json_deep_copy(e->meta) : NULL;
	c->path = xstrdup(e->path);
	c->display_name = xstrdup(e->display_name);
	c->entity_id = xstrdup(e->entity_id);
	c->role = xstrdup(e->role);
	return c;
}

void token_entry_free(struct token_entry *e)
{
	if (!e)
		return;
	strlist_release(&e->policies);
	strlist_release(&e->bound_cidrs);
	strlist_release(&e->identity_policies);
	json_decref(e->meta);
	free(e->path);
	free(e->display_name);
	free(e->entity_id);
	free(e->role);
	free(e);
}

void token_entry_set(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v ? v : "");
}

bool token_has_policy(const struct token_entry *e, const char *policy)
{
	return e && strlist_contains(&e->policies, policy);
}

static void set_str_if(json_t *j, const char *k, const char *v)
{
	if (v && v[0])
		json_object_set_new(j, k, json_string(v));
}

static void set_int_if(json_t *j, const char *k, int64_t v)
{
	if (v != 0)
		json_object_set_new(j, k, json_integer((json_int_t)v));
}

/* Storage form: zero and empty fields are left out (they parse back as
 * zero/empty), which keeps entries and batch tokens short. */
static char *entry_dump(const struct token_entry *e)
{
	json_t *j = json_object();
	char *s;
	if (!j)
		return NULL;
	set_str_if(j, "accessor", e->accessor);
	set_str_if(j, "parent", e->parent_hash);
	json_object_set_new(j, "policies", strlist_json(&e->policies));
	if (e->meta && json_object_size(e->meta) > 0)
		json_object_set(j, "meta", e->meta);
	set_str_if(j, "path", e->path);
	set_str_if(j, "display_name", e->display_name);
	set_str_if(j, "entity_id", e->entity_id);
	set_str_if(j, "role", e->role);
	if (e->bound_cidrs.len)
		json_object_set_new(j, "bound_cidrs", strlist_json(&e->bound_cidrs));
	json_object_set_new(j, "creation_time", json_integer((json_int_t)e->creation_time));
	set_int_if(j, "ttl", e->ttl);
	set_int_if(j, "explicit_max_ttl", e->explicit_max_ttl);
	set_int_if(j, "max_ttl", e->max_ttl);
	set_int_if(j, "period", e->period);
	set_int_if(j, "num_uses", e->num_uses);
	set_int_if(j, "last_renewal_time", e->last_renewal_time);
	set_int_if(j, "expire_time", e->expire_time);
	if (e->orphan)
		json_object_set_new(j, "orphan", json_true());
	if (e->renewable)
		json_object_set_new(j, "renewable", json_true());
	if (e->type == TOKEN_TYPE_BATCH)
		json_object_set_new(j, "type", json_string("batch"));
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static int get_int(json_t *j, const char *k, int64_t *out)
{
	json_t *v = json_object_get(j, k);
	if (!v) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v))
		return TROVE_ERR_INTEGRITY;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int get_str(json_t *j, const char *k, char **out)
{
	json_t *v = json_object_get(j, k);
	if (v && !json_is_string(v))
		return TROVE_ERR_INTEGRITY;
	token_entry_set(out, v ? json_string_value(v) : "");
	return 0;
}

static bool valid_hash(const char *h);

static int get_hash(json_t *j, const char *k, char out[TOKEN_LOCATOR_MAX + 1])
{
	json_t *v = json_object_get(j, k);
	out[0] = '\0';
	if (!v)
		return 0;
	if (!json_is_string(v) || !valid_hash(json_string_value(v)))
		return TROVE_ERR_INTEGRITY;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_list(json_t *j, const char *k, struct strlist *out)
{
	json_t *v = json_object_get(j, k);
	if (!v)
		return 0;
	return strlist_push_json(out, v) ? 0 : TROVE_ERR_INTEGRITY;
}

static int entry_parse(const unsigned char *raw, size_t len, struct token_entry **out)
{
	json_t *j = json_loadb((const char *)raw, len, 0, NULL), *v;
	struct token_entry *e = token_entry_new();
	int r = TROVE_ERR_INTEGRITY;

	*out = NULL;
	if (!j || !json_is_object(j))
		goto out;
	v = json_object_get(j, "accessor");
	if (v) {
		if (!json_is_string(v) || json_string_length(v) >= sizeof(e->accessor))
			goto out;
		memcpy(e->accessor, json_string_value(v), json_string_length(v) + 1);
	}
	if ((r = get_hash(j, "parent", e->parent_hash)) != 0 ||
	    (r = get_list(j, "policies", &e->policies)) != 0 || (r = get_str(j, "path", &e->path)) != 0 ||
	    (r = get_str(j, "display_name", &e->display_name)) != 0 ||
	    (r = get_str(j, "entity_id", &e->entity_id)) != 0 || (r = get_str(j, "role", &e->role)) != 0 ||
	    (r = get_list(j, "bound_cidrs", &e->bound_cidrs)) != 0 ||
	    (r = get_int(j, "creation_time", &e->creation_time)) != 0 ||
	    (r = get_int(j, "ttl", &e->ttl)) != 0 ||
	    (r = get_int(j, "explicit_max_ttl", &e->explicit_max_ttl)) != 0 ||
	    (r = get_int(j, "max_ttl", &e->max_ttl)) != 0 ||
	    (r = get_int(j, "period", &e->period)) != 0 || (r = get_int(j, "num_uses", &e->num_uses)) != 0 ||
	    (r = get_int(j, "last_renewal_time", &e->last_renewal_time)) != 0)
		goto out;
	r = TROVE_ERR_INTEGRITY;
	v = json_object_get(j, "expire_time");
	if (v) {
		if (!json_is_integer(v))
			goto out;
		e->expire_time = (int64_t)json_integer_value(v);
	} else if (e->ttl > 0) {
		/* entries written before expire_time existed */
		if (duration_add(e->creation_time, e->ttl, &e->expire_time) != 0)
			goto out;
	}
	v = json_object_get(j, "meta");
	if (v && json_is_object(v))
		e->meta = json_incref(v);
	e->orphan = json_is_true(json_object_get(j, "orphan"));
	e->renewable = json_is_true(json_object_get(j, "renewable"));
	v = json_object_get(j, "type");
	e->type = (v && json_is_string(v) && strcmp(json_string_value(v), "batch") == 0) ? TOKEN_TYPE_BATCH
	                                                                                 : TOKEN_TYPE_SERVICE;
	strlist_sort_unique(&e->policies);
	*out = e;
	e = NULL;
	r = 0;
out:
	token_entry_free(e);
	json_decref(j);
	return r;
}

/* --- the store ----------------------------------------------------------- */

static int64_t now_of(struct token_store *ts)
{
	return clock_read(ts->clock, clock_realtime_s);
}

static void *cache_copy(const void *e)
{
	return token_entry_copy(e);
}

static void cache_release(void *e)
{
	token_entry_free(e);
}

struct token_store *token_store_new(void)
{
	struct token_store *ts = xcalloc(1, sizeof(*ts));
	pthread_rwlock_init(&ts->lock, NULL);
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_init(&ts->stripes[i], NULL);
	pthread_mutex_init(&ts->revoke_mu, NULL);
	pthread_mutex_init(&ts->cb_mu, NULL);
	ts->cache = vcache_new(CACHE_SLOTS, cache_copy, cache_release);
	ts->batch_keys = batch_keys_new();
	return ts;
}

void token_store_free(struct token_store *ts)
{
	if (!ts)
		return;
	token_store_close(ts);
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&ts->stripes[i]);
	pthread_mutex_destroy(&ts->revoke_mu);
	pthread_mutex_destroy(&ts->cb_mu);
	pthread_rwlock_destroy(&ts->lock);
	vcache_free(ts->cache);
	batch_keys_free(ts->batch_keys);
	free(ts);
}

struct batch_keys *token_store_batch_keys(struct token_store *ts)
{
	return ts->batch_keys;
}

void token_store_set_clock(struct token_store *ts, const struct clock *c)
{
	ts->clock = c;
}

/* Loads a fixed-size secret at path, creating it the first time. */
static int load_key(struct storage *logical, const char *path, unsigned char *out, size_t n)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r = storage_get(logical, path, &raw, &len);
	if (r == TROVE_ERR_NOT_FOUND) {
		if ((r = rand_bytes(out, n)) != 0)
			return r;
		return storage_put(logical, path, out, n);
	}
	if (r != 0)
		return r;
	if (len != n) {
		secure_free(raw, len);
		return TROVE_ERR_INTEGRITY;
	}
	memcpy(out, raw, n);
	secure_free(raw, len);
	return 0;
}

int token_store_open(struct token_store *ts, struct storage *logical)
{
	int r;
	pthread_rwlock_wrlock(&ts->lock);
	if ((r = load_key(logical, TOKEN_SALT_PATH, ts->salt, SALT_LEN)) != 0)
		goto out;
	hmac_sha256_ctx_init(&ts->salt_mac, ts->salt, SALT_LEN);
	if (!hmac_sha256_ctx_key(&ts->salt_mac)) {
		r = TROVE_ERR_INTERNAL;
		goto out;
	}
	if ((r = batch_keys_open(ts->batch_keys, logical)) != 0)
		goto out;
	ts->logical = logical;
	r = 0;
out:
	if (r != 0) {
		hmac_sha256_ctx_release(&ts->salt_mac);
		secure_wipe(ts->salt, SALT_LEN);
	}
	pthread_rwlock_unlock(&ts->lock);
	return r;
}

void token_store_close(struct token_store *ts)
{
	pthread_rwlock_wrlock(&ts->lock);
	ts->logical = NULL;
	vcache_clear(ts->cache);
	hmac_sha256_ctx_release(&ts->salt_mac);
	secure_wipe(ts->salt, SALT_LEN);
	batch_keys_close(ts->batch_keys);
	pthread_rwlock_unlock(&ts->lock);
}

int token_store_on_revoke(struct token_store *ts, void (*fn)(void *arg, const struct token_entry *e),
                          void *arg)
{
	int r = 0;
	pthread_mutex_lock(&ts->cb_mu);
	for (size_t i = 0; i < ts->ncbs; i++)
		if (ts->cbs[i].fn == fn && ts->cbs[i].arg == arg)
			goto out;
	r = TROVE_ERR_TOO_LARGE;
	if (ts->ncbs == MAX_CALLBACKS)
		goto out;
	ts->cbs[ts->ncbs].fn = fn;
	ts->cbs[ts->ncbs].arg = arg;
	ts->ncbs++;
	r = 0;
out:
	pthread_mutex_unlock(&ts->cb_mu);
	return r;
}

void token_store_off_revoke(struct token_store *ts, void (*fn)(void *arg, const struct token_entry *e),
                            void *arg)
{
	pthread_mutex_lock(&ts->cb_mu);
	for (size_t i = 0; i < ts->ncbs; i++) {
		if (ts->cbs[i].fn == fn && ts->cbs[i].arg == arg) {
			memmove(&ts->cbs[i], &ts->cbs[i + 1], (ts->ncbs - i - 1) * sizeof(ts->cbs[0]));
			ts->ncbs--;
			break;
		}
	}
	pthread_mutex_unlock(&ts->cb_mu);
}

static void run_callbacks(struct token_store *ts, const struct token_entry *e)
{
	struct revoke_cb cbs[MAX_CALLBACKS];
	size_t n;
	pthread_mutex_lock(&ts->cb_mu);
	n = ts->ncbs;
	memcpy(cbs, ts->cbs, n * sizeof(cbs[0]));
	pthread_mutex_unlock(&ts->cb_mu);
	for (size_t i = 0; i < n; i++)
		cbs[i].fn(cbs[i].arg, e);
}

static bool lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The creation sequence that opens a token or accessor (after the type
 * prefix), or NULL when it has none: 16 lowercase hex digits followed by
 * at least one more character. */
static const char *seq_of(const char *id)
{
	if (strncmp(id, TOKEN_SERVICE_PREFIX, strlen(TOKEN_SERVICE_PREFIX)) == 0)
		id += strlen(TOKEN_SERVICE_PREFIX);
	if (strnlen(id, TOKEN_SEQ_HEX + 1) <= TOKEN_SEQ_HEX || !lower_hex(id, TOKEN_SEQ_HEX))
		return NULL;
	return id;
}

/* The next creation sequence, as 16 hex digits: above every one handed
 * out before and at least the wall clock in nanoseconds, so it keeps
 * growing across restarts unless the clock steps back (which costs only
 * locality, never uniqueness: the hash in the key is unique). */
static void next_seq(struct token_store *ts, char out[TOKEN_SEQ_HEX + 1])
{
	uint64_t clock_ns = (uint64_t)clock_realtime_ns();
	uint64_t last = atomic_load(&ts->last_seq), next;
	do {
		next = last + 1 > clock_ns ? last + 1 : clock_ns;
	} while (!atomic_compare_exchange_weak(&ts->last_seq, &last, next));
	snprintf(out, TOKEN_SEQ_HEX + 1, "%016llx", (unsigned long long)next);
}

/* The locator of a token id or accessor: "<seq>.<hex HMAC>" or
 * "<hex HMAC>". Caller holds the lock. out: TOKEN_LOCATOR_MAX + 1 bytes. */
static int hash_id(struct token_store *ts, const char *id, char *out)
{
	unsigned char mac[HMAC_SHA256_LEN];
	const char *seq = seq_of(id);
	/* The salt's keyed state, made once at open: one MAC costs two
	 * compressions, not OpenSSL's keying of a one-shot HMAC. */
	if (!hmac_sha256_ctx_mac_shared(&ts->salt_mac, id, strlen(id), mac))
		return TROVE_ERR_INTERNAL;
	if (seq) {
		memcpy(out, seq, TOKEN_SEQ_HEX);
		out[TOKEN_SEQ_HEX] = '.';
		out += TOKEN_SEQ_HEX + 1;
	}
	hex_encode(mac, HMAC_SHA256_LEN, out);
	secure_wipe(mac, sizeof(mac));
	return 0;
}

/* The hash part of a locator. */
static const char *hash_part(const char *locator)
{
	const char *dot = strchr(locator, '.');
	return dot ? dot + 1 : locator;
}

/* Whether h is a well-formed locator. */
static bool valid_hash(const char *h)
{
	if (!h)
		return false;
	size_t n = strlen(h);
	if (n == TOKEN_LOCATOR_MAX && h[TOKEN_SEQ_HEX] == '.' && lower_hex(h, TOKEN_SEQ_HEX))
		return lower_hex(h + TOKEN_SEQ_HEX + 1, TOKEN_HASH_HEX);
	return n == TOKEN_HASH_HEX && lower_hex(h, TOKEN_HASH_HEX);
}

/* Printable ASCII without blanks, as Vault. */
static bool valid_custom_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > TOKEN_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)id[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return false;
	}
	return true;
}

static pthread_mutex_t *stripe(struct token_store *ts, const char *locator)
{
	const char *hash = hash_part(locator);
	int hi = strconv_hex_digit((unsigned char)hash[0]), lo = strconv_hex_digit((unsigned char)hash[1]);
	return &ts->stripes[(unsigned)((hi < 0 ? 0 : hi) * 16 + (lo < 0 ? 0 : lo)) % STRIPES];
}

static void id_key(char *out, const char *hash)
{
	snprintf(out, ID_KEY_LEN, "%s%s", TOKEN_ID_PREFIX, hash);
}

static void parent_key(char *out, const char *parent, const char *child)
{
	snprintf(out, PARENT_KEY_LEN, "%s%s/%s", TOKEN_PARENT_PREFIX, parent, child);
}

/* Reads the stored entry (no validity check). NOT_FOUND when absent. */
static int read_entry(struct token_store *ts, const char *hash, struct token_entry **out)
{
	char key[ID_KEY_LEN];
	unsigned char *raw = NULL;
	size_t len = 0;
	int r;
	if ((*out = vcache_get(ts->cache, hash)) != NULL)
		return 0;
	uint64_t gen = vcache_generation(ts->cache, hash);
	id_key(key, hash);
	if ((r = storage_get(ts->logical, key, &raw, &len)) != 0)
		return r;
	r = entry_parse(raw, len, out);
	if (r == 0) {
		snprintf((*out)->id_hash, sizeof((*out)->id_hash), "%s", hash);
		vcache_put(ts->cache, hash, gen, *out);
	}
	free(raw);
	return r;
}

static int write_entry(struct token_store *ts, const struct token_entry *e)
{
	char key[ID_KEY_LEN];
	char *text = entry_dump(e);
	int r;
	if (!text)
		return TROVE_ERR_NOMEM;
	id_key(key, e->id_hash);
	r = storage_put(ts->logical, key, text, strlen(text));
	vcache_forget(ts->cache, e->id_hash);
	free(text);
	return r;
}

/* --- the token's lease (lease_key.h) ---------------------------------------- */

/* Every service token has a lease but the root token of init or dev mode
 * (policy root alone, no TTL), as Vault. Decided by what never changes. */
static bool has_lease(const struct token_entry *e)
{
	if (e->type != TOKEN_TYPE_SERVICE)
		return false;
	return !(e->ttl == 0 && e->period == 0 && e->policies.len == 1 &&
	         strcmp(e->policies.items[0], "root") == 0);
}

/* Keys of a token's lease entry and of its expiry index entry at t. */
/* The value of a token's lease entry: the times are the token's own. */
#define LEASE_OF_TOKEN "{\"token\":true}"

struct lease_keys {
	char id[LEASE_ID_MAX + 1];
	char id_key[LEASE_KEY_MAX];
	char when_key[LEASE_KEY_MAX];
	char old_when_key[LEASE_KEY_MAX];
};

static int lease_keys_of(const struct token_entry *e, const char *hash, struct lease_keys *k)
{
	const char *path = e->path && *e->path ? e->path : "auth/token/create";
	if (lease_token_id(k->id, sizeof(k->id), path, hash) != 0 ||
	    lease_id_key(k->id_key, sizeof(k->id_key), k->id) != 0)
		return TROVE_ERR_INVALID;
	k->when_key[0] = k->old_when_key[0] = '\0';
	if (e->expire_time > 0 && lease_when_key(k->when_key, sizeof(k->when_key), e->expire_time, k->id) != 0)
		return TROVE_ERR_INVALID;
	return 0;
}

void token_store_on_expiry(struct token_store *ts, void (*fn)(void *arg, int64_t t), void *arg)
{
	pthread_mutex_lock(&ts->cb_mu);
	ts->on_expiry = fn;
	ts->on_expiry_arg = arg;
	pthread_mutex_unlock(&ts->cb_mu);
}

static void schedule_expiry(struct token_store *ts, int64_t t)
{
	if (t <= 0)
		return;
	pthread_mutex_lock(&ts->cb_mu);
	if (ts->on_expiry)
		ts->on_expiry(ts->on_expiry_arg, t);
	pthread_mutex_unlock(&ts->cb_mu);
}

int token_expire_time(struct token_store *ts, const char *id_hash, int64_t *out)
{
	struct token_entry *e = NULL;
	int r;
	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (ts->logical) {
		r = TROVE_ERR_NOT_FOUND;
		if (valid_hash(id_hash) && (r = read_entry(ts, id_hash, &e)) == 0)
			*out = e->expire_time;
	}
	pthread_rwlock_unlock(&ts->lock);
	token_entry_free(e);
	return r;
}

/* Whether an entry by itself is still usable at `now`. */
static bool entry_live(const struct token_entry *e, int64_t now)
{
	if (e->num_uses < 0)
		return false;
	if (e->expire_time > 0 && e->expire_time <= now)
		return false;
	return true;
}

/* Walks the ancestors of an entry whose parent is `parent`: each must
 * exist and be live. Deeper than MAX_CHAIN is not checked (tidy and
 * revocation cover it). */
static int check_chain(struct token_store *ts, const char *parent, int64_t now)
{
	char cur[TOKEN_LOCATOR_MAX + 1];
	int r;
	snprintf(cur, sizeof(cur), "%s", parent);
	for (int depth = 0; cur[0] && depth < MAX_CHAIN; depth++) {
		struct token_entry *p = NULL;
		r = read_entry(ts, cur, &p);
		if (r == TROVE_ERR_NOT_FOUND)
			return TROVE_ERR_PERMISSION;
		if (r != 0)
			return r;
		bool live = entry_live(p, now) && p->type == TOKEN_TYPE_SERVICE;
		snprintf(cur, sizeof(cur), "%s", p->parent_hash);
		token_entry_free(p);
		if (!live)
			return TROVE_ERR_PERMISSION;
	}
	return 0;
}

/* --- creation ------------------------------------------------------------ */

static int create_batch(struct token_store *ts, struct token_entry *e, char **out_id)
{
	unsigned char *rec = NULL;
	size_t rec_len = 0;
	char *text = NULL, *body = NULL, *tok = NULL;
	int r;

	e->accessor[0] = '\0';
	e->num_uses = 0;
	e->renewable = false;
	e->period = 0;
	r = TROVE_ERR_NOMEM;
	if (!(text = entry_dump(e)))
		goto out;
	if ((r = batch_keys_seal(ts->batch_keys, BATCH_AAD, text, strlen(text), &rec, &rec_len)) != 0)
		goto out;
	body = base64url_encode(rec, rec_len);
	size_t n = strlen(TOKEN_BATCH_PREFIX) + strlen(body) + 1;
	r = TROVE_ERR_INVALID;
	if (n > TOKEN_BATCH_MAX)
		goto out;
	tok = xmalloc(n);
	snprintf(tok, n, "%s%s", TOKEN_BATCH_PREFIX, body);
	if ((r = hash_id(ts, tok, e->id_hash)) != 0)
		goto out;
	*out_id = tok;
	tok = NULL;
	r = 0;
out:
	secure_free_str(text);
	free(rec);
	secure_free_str(body);
	secure_free_str(tok);
	return r;
}

int token_create(struct token_store *ts, struct token_entry *e, const char *id, char **out_id)
{
	char key[ID_KEY_LEN], akey[ACC_KEY_LEN], pkey[PARENT_KEY_LEN];
	char ahash[TOKEN_LOCATOR_MAX + 1];
	struct lease_keys lk;
	char *tok = NULL, *text = NULL, *atext = NULL;
	pthread_mutex_t *mu = NULL;
	int r;

	*out_id = NULL;
	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (!ts->logical)
		goto out;
	e->orphan = e->parent_hash[0] == '\0';
	e->creation_time = now_of(ts);
	e->expire_time = 0;
	r = TROVE_ERR_INVALID; /* an expiry past int64 would read as "never" */
	if (e->ttl > 0 && duration_add(e->creation_time, e->ttl, &e->expire_time) != 0)
		goto out;
	e->last_renewal_time = 0;
	e->last_use = false;
	strlist_sort_unique(&e->policies);
	if (e->parent_hash[0]) {
		r = TROVE_ERR_PERMISSION;
		if (!valid_hash(e->parent_hash))
			goto out;
		/* The parent must be live now (and its own ancestors). */
		if ((r = check_chain(ts, e->parent_hash, e->creation_time)) != 0)
			goto out;
	}
	if (e->type == TOKEN_TYPE_BATCH) {
		r = TROVE_ERR_INVALID;
		if (id)
			goto out;
		r = create_batch(ts, e, out_id);
		goto out;
	}
	if (id) {
		r = TROVE_ERR_INVALID;
		if (!valid_custom_id(id))
			goto out;
		tok = xstrdup(id);
	} else {
		size_t pre = strlen(TOKEN_SERVICE_PREFIX);
		tok = xmalloc(pre + TOKEN_SEQ_HEX + TOKEN_RANDOM_CHARS + 1);
		memcpy(tok, TOKEN_SERVICE_PREFIX, pre);
		next_seq(ts, tok + pre);
		if ((r = rand_base62(tok + pre + TOKEN_SEQ_HEX, TOKEN_RANDOM_CHARS)) != 0)
			goto out;
	}
	next_seq(ts, e->accessor);
	if ((r = rand_base62(e->accessor + TOKEN_SEQ_HEX, TOKEN_RANDOM_CHARS)) != 0)
		goto out;
	if ((r = hash_id(ts, tok, e->id_hash)) != 0 || (r = hash_id(ts, e->accessor, ahash)) != 0)
		goto out;
	id_key(key, e->id_hash);
	snprintf(akey, sizeof(akey), "%s%s", TOKEN_ACCESSOR_PREFIX, ahash);
	r = TROVE_ERR_NOMEM;
	if (!(text = entry_dump(e)))
		goto out;
	json_t *aj = json_pack("{s:s, s:s}", "token", e->id_hash, "accessor", e->accessor);
	atext = aj ? json_dumps(aj, JSON_COMPACT) : NULL;
	json_decref(aj);
	if (!atext)
		goto out;
	if (id) {
		/* A chosen id may already exist: check and write under its
		 * stripe so two creates of the same id cannot both succeed. */
		unsigned char *raw = NULL;
		size_t len = 0;
		mu = stripe(ts, e->id_hash);
		pthread_mutex_lock(mu);
		r = storage_get(ts->logical, key, &raw, &len);
		free(raw);
		if (r == 0)
			r = TROVE_ERR_CONFLICT;
		if (r != TROVE_ERR_NOT_FOUND)
			goto out;
	}
	struct storage_op ops[5] = {
	    {STORAGE_PUT, key, text, strlen(text)},
	    {STORAGE_PUT, akey, atext, strlen(atext)},
	};
	size_t nops = 2;
	if (e->parent_hash[0]) {
		parent_key(pkey, e->parent_hash, e->id_hash);
		ops[nops++] = (struct storage_op){STORAGE_PUT, pkey, "", 0};
	}
	if (has_lease(e)) {
		/* The lease is written with the token: neither exists alone. */
		if ((r = lease_keys_of(e, e->id_hash, &lk)) != 0)
			goto out;
		ops[nops++] = (struct storage_op){STORAGE_PUT, lk.id_key, LEASE_OF_TOKEN, strlen(LEASE_OF_TOKEN)};
		if (lk.when_key[0])
			ops[nops++] = (struct storage_op){STORAGE_PUT, lk.when_key, lk.id, strlen(lk.id)};
	}
	if ((r = storage_txn(ts->logical, ops, nops)) != 0)
		goto out;
	schedule_expiry(ts, e->expire_time);
	*out_id = tok;
	tok = NULL;
	r = 0;
out:
	if (mu)
		pthread_mutex_unlock(mu);
	pthread_rwlock_unlock(&ts->lock);
	secure_free_str(tok);
	free(text);
	free(atext);
	return r;
}

int token_create_root(struct token_store *ts, const char *id, char **out_id)
{
	struct token_entry *e = token_entry_new();
	int r;
	strlist_push(&e->policies, "root");
	token_entry_set(&e->path, "auth/token/root");
	token_entry_set(&e->display_name, "root");
	e->renewable = false;
	r = token_create(ts, e, id, out_id);
	token_entry_free(e);
	return r;
}

/* --- lookup -------------------------------------------------------------- */

static bool cidr_exempt(const struct token_entry *e)
{
	/* Non-expiring root tokens are not bound (as Vault). */
	return e->expire_time == 0 && token_has_policy(e, "root");
}

/* Caller holds the lock. */
static int lookup_batch(struct token_store *ts, const char *id, struct token_entry **out)
{
	unsigned char *rec = NULL, *plain = NULL;
	size_t rec_len = 0, plain_len = 0;
	struct token_entry *e = NULL;
	int r = TROVE_ERR_PERMISSION;

	if (strlen(id) > TOKEN_BATCH_MAX)
		return r;
	const char *body = id + strlen(TOKEN_BATCH_PREFIX); /* callers checked the prefix */
	if (base64url_decode(body, strlen(body), &rec, &rec_len) != 0)
		goto out;
	if (batch_keys_open_record(ts->batch_keys, BATCH_AAD, rec, rec_len, &plain, &plain_len) != 0)
		goto out;
	if (entry_parse(plain, plain_len, &e) != 0 || e->type != TOKEN_TYPE_BATCH)
		goto out;
	if ((r = hash_id(ts, id, e->id_hash)) != 0)
		goto out;
	*out = e;
	e = NULL;
	r = 0;
out:
	token_entry_free(e);
	free(rec);
	secure_free(plain, plain_len);
	return r;
}

/* Consumes one use of the entry whose stored copy is at e->id_hash,
 * atomically. Caller holds the lock. */
static int consume_use(struct token_store *ts, struct token_entry *e, int64_t now)
{
	pthread_mutex_t *mu = stripe(ts, e->id_hash);
	struct token_entry *cur = NULL;
	int r;
	pthread_mutex_lock(mu);
	r = read_entry(ts, e->id_hash, &cur);
	if (r == TROVE_ERR_NOT_FOUND)
		r = TROVE_ERR_PERMISSION;
	if (r != 0)
		goto out;
	r = TROVE_ERR_PERMISSION;
	if (!entry_live(cur, now))
		goto out;
	if (cur->num_uses == 0) {
		/* cannot happen: uses never grow; treat as unlimited */
		r = 0;
		goto out;
	}
	cur->num_uses--;
	e->num_uses = cur->num_uses;
	if (cur->num_uses == 0) {
		cur->num_uses = -1; /* used up: revocation pending */
		e->last_use = true;
	}
	r = write_entry(ts, cur);
out:
	pthread_mutex_unlock(mu);
	token_entry_free(cur);
	return r;
}

/* An entry found in storage may be used now: it has not expired or run
 * out of uses, and neither has any of its parents. Caller holds the lock. */
static int entry_usable(struct token_store *ts, const struct token_entry *e, int64_t now)
{
	if (!entry_live(e, now))
		return TROVE_ERR_PERMISSION;
	if (e->parent_hash[0])
		return check_chain(ts, e->parent_hash, now);
	return 0;
}

int token_lookup_ex(struct token_store *ts, const char *id, const char *remote_addr, unsigned flags,
                    struct token_entry **out)
{
	char hash[TOKEN_LOCATOR_MAX + 1];
	struct token_entry *e = NULL;
	int64_t now;
	int r;

	*out = NULL;
	if (!id || !id[0])
		return TROVE_ERR_PERMISSION;
	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (!ts->logical)
		goto out;
	now = now_of(ts);
	if (strncmp(id, TOKEN_BATCH_PREFIX, strlen(TOKEN_BATCH_PREFIX)) == 0 &&
	    lookup_batch(ts, id, &e) == 0) {
		/* a batch token */
	} else {
		r = TROVE_ERR_PERMISSION;
		if (!valid_custom_id(id))
			goto out;
		if ((r = hash_id(ts, id, hash)) != 0)
			goto out;
		r = read_entry(ts, hash, &e);
		if (r == TROVE_ERR_NOT_FOUND)
			r = TROVE_ERR_PERMISSION;
		if (r != 0)
			goto out;
	}
	if ((r = entry_usable(ts, e, now)) != 0)
		goto out;
	r = TROVE_ERR_PERMISSION;
	if (remote_addr && e->bound_cidrs.len && !cidr_exempt(e) &&
	    !token_cidr_allows(&e->bound_cidrs, remote_addr))
		goto out;
	if (!(flags & TOKEN_LOOKUP_NO_USE) && e->type == TOKEN_TYPE_SERVICE && e->num_uses > 0)
		if ((r = consume_use(ts, e, now)) != 0)
			goto out;
	*out = e;
	e = NULL;
	r = 0;
out:
	pthread_rwlock_unlock(&ts->lock);
	token_entry_free(e);
	return r;
}

bool token_has_use_limit(const struct token_entry *e)
{
	return e && e->type == TOKEN_TYPE_SERVICE && e->num_uses > 0;
}

int token_consume_use(struct token_store *ts, struct token_entry *e)
{
	int r;
	if (!token_has_use_limit(e))
		return 0;
	pthread_rwlock_rdlock(&ts->lock);
	r = ts->logical ? consume_use(ts, e, now_of(ts)) : TROVE_ERR_SEALED;
	pthread_rwlock_unlock(&ts->lock);
	return r;
}

int token_lookup(struct token_store *ts, const char *id, struct token_entry **out)
{
	return token_lookup_ex(ts, id, NULL, 0, out);
}

/* Caller holds the lock. */
static int lookup_hash_locked(struct token_store *ts, const char *hash, struct token_entry **out)
{
	struct token_entry *e = NULL;
	int64_t now = now_of(ts);
	int r;
	*out = NULL;
	if (!valid_hash(hash))
		return TROVE_ERR_PERMISSION;
	r = read_entry(ts, hash, &e);
	if (r == TROVE_ERR_NOT_FOUND)
		r = TROVE_ERR_PERMISSION;
	if (r != 0)
		return r;
	if ((r = entry_usable(ts, e, now)) != 0)
		goto out;
	*out = e;
	e = NULL;
	r = 0;
out:
	token_entry_free(e);
	return r;
}

int token_lookup_hash(struct token_store *ts, const char *id_hash, struct token_entry **out)
{
	int r;
	*out = NULL;
	pthread_rwlock_rdlock(&ts->lock);
	r = ts->logical ? lookup_hash_locked(ts, id_hash, out) : TROVE_ERR_SEALED;
	pthread_rwlock_unlock(&ts->lock);
	return r;
}

/* Reads an accessor index value: {"token","accessor"} or, as the first
 * root tokens wrote it, the bare token hash. */
static int parse_accessor_value(const unsigned char *raw, size_t len, char hash[TOKEN_LOCATOR_MAX + 1],
                                char acc[TOKEN_ACCESSOR_LEN + 1])
{
	json_t *j, *t, *a;
	if (len == TOKEN_HASH_HEX && raw[0] != '{') {
		memcpy(hash, raw, TOKEN_HASH_HEX);
		hash[TOKEN_HASH_HEX] = '\0';
		if (acc)
			acc[0] = '\0';
		return valid_hash(hash) ? 0 : TROVE_ERR_INTEGRITY;
	}
	j = json_loadb((const char *)raw, len, 0, NULL);
	t = json_object_get(j, "token");
	a = json_object_get(j, "accessor");
	if (!json_is_string(t) || !valid_hash(json_string_value(t)) || (a && !json_is_string(a)) ||
	    (a && json_string_length(a) > TOKEN_ACCESSOR_LEN)) {
		json_decref(j);
		return TROVE_ERR_INTEGRITY;
	}
	snprintf(hash, TOKEN_LOCATOR_MAX + 1, "%s", json_string_value(t));
	if (acc)
		snprintf(acc, TOKEN_ACCESSOR_LEN + 1, "%s", a ? json_string_value(a) : "");
	json_decref(j);
	return 0;
}

int token_lookup_accessor(struct token_store *ts, const char *accessor, struct token_entry **out)
{
	char ahash[TOKEN_LOCATOR_MAX + 1], akey[ACC_KEY_LEN], hash[TOKEN_LOCATOR_MAX + 1];
	unsigned char *raw = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if (!accessor || !accessor[0] || strlen(accessor) > TOKEN_ID_MAX)
		return TROVE_ERR_NOT_FOUND;
	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (!ts->logical)
		goto out;
	if ((r = hash_id(ts, accessor, ahash)) != 0)
		goto out;
	snprintf(akey, sizeof(akey), "%s%s", TOKEN_ACCESSOR_PREFIX, ahash);
	if ((r = storage_get(ts->logical, akey, &raw, &len)) != 0)
		goto out;
	if ((r = parse_accessor_value(raw, len, hash, NULL)) != 0)
		goto out;
	r = lookup_hash_locked(ts, hash, out);
	if (r == TROVE_ERR_PERMISSION)
		r = TROVE_ERR_NOT_FOUND;
out:
	pthread_rwlock_unlock(&ts->lock);
	free(raw);
	return r;
}

/* --- renewal ------------------------------------------------------------- */

/* Writes a renewed entry and moves its lease's expiry index entry, in one
 * transaction. */
static int write_renewed(struct token_store *ts, const struct token_entry *e, int64_t old_expire)
{
	char key[ID_KEY_LEN];
	struct lease_keys lk;
	struct storage_op ops[3];
	size_t n = 0;
	char *text = entry_dump(e);
	int r;
	if (!text)
		return TROVE_ERR_NOMEM;
	id_key(key, e->id_hash);
	ops[n++] = (struct storage_op){STORAGE_PUT, key, text, strlen(text)};
	if (has_lease(e)) {
		if ((r = lease_keys_of(e, e->id_hash, &lk)) != 0)
			goto out;
		if (lk.when_key[0])
			ops[n++] = (struct storage_op){STORAGE_PUT, lk.when_key, lk.id, strlen(lk.id)};
		if (old_expire > 0 && old_expire != e->expire_time &&
		    lease_when_key(lk.old_when_key, sizeof(lk.old_when_key), old_expire, lk.id) == 0)
			ops[n++] = (struct storage_op){STORAGE_DELETE, lk.old_when_key, NULL, 0};
	}
	r = storage_txn(ts->logical, ops, n);
	vcache_forget(ts->cache, e->id_hash);
out:
	free(text);
	return r;
}

int token_renew(struct token_store *ts, const char *id_hash, int64_t increment, int64_t default_ttl,
                int64_t max_ttl, struct token_entry **out, bool *capped)
{
	struct token_entry *e = NULL;
	pthread_mutex_t *mu = NULL;
	int64_t now, ttl, max;
	int r;

	if (out)
		*out = NULL;
	if (capped)
		*capped = false;
	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (!ts->logical)
		goto out;
	r = TROVE_ERR_PERMISSION;
	if (!valid_hash(id_hash))
		goto out;
	mu = stripe(ts, id_hash);
	pthread_mutex_lock(mu);
	if ((r = lookup_hash_locked(ts, id_hash, &e)) != 0)
		goto out;
	r = TROVE_ERR_INVALID;
	if (e->type != TOKEN_TYPE_SERVICE || !e->renewable)
		goto out;
	now = now_of(ts);
	if (e->period > 0) {
		ttl = e->period;
		max = 0;
	} else {
		ttl = increment > 0 ? increment : e->ttl > 0 ? e->ttl : default_ttl;
		max = max_ttl;
		if (e->max_ttl > 0 && (max == 0 || e->max_ttl < max))
			max = e->max_ttl;
	}
	if (e->explicit_max_ttl > 0 && (max == 0 || e->explicit_max_ttl < max))
		max = e->explicit_max_ttl;
	r = TROVE_ERR_INVALID; /* a sum past int64 would read as "never" */
	if (max > 0) {
		int64_t end;
		if (duration_add(e->creation_time, max, &end) != 0)
			goto out;
		int64_t left = end - now;
		if (ttl > left) {
			ttl = left;
			if (capped)
				*capped = true;
		}
	}
	r = TROVE_ERR_PERMISSION;
	if (ttl <= 0)
		goto out;
	int64_t old_expire = e->expire_time, expire;
	r = TROVE_ERR_INVALID;
	if (duration_add(now, ttl, &expire) != 0)
		goto out;
	e->expire_time = expire;
	e->last_renewal_time = now;
	if ((r = write_renewed(ts, e, old_expire)) != 0)
		goto out;
	schedule_expiry(ts, e->expire_time);
	if (out) {
		*out = e;
		e = NULL;
	}
	r = 0;
out:
	if (mu)
		pthread_mutex_unlock(mu);
	pthread_rwlock_unlock(&ts->lock);
	token_entry_free(e);
	return r;
}

/* --- revocation ------------------------------------------------------------ */

struct node {
	char hash[TOKEN_LOCATOR_MAX + 1];
	size_t parent; /* index in the array; (size_t)-1 for the top */
	bool skip;     /* listed again later in the array: deleted there */
};

struct nodes {
	struct node *v;
	size_t len, cap;
};

static void nodes_push(struct nodes *n, const char *hash, size_t parent)
{
	if (n->len == n->cap) {
		n->cap = n->cap ? 2 * n->cap : 16;
		n->v = xrealloc(n->v, n->cap * sizeof(*n->v));
	}
	snprintf(n->v[n->len].hash, sizeof(n->v[n->len].hash), "%s", hash);
	n->v[n->len].parent = parent;
	n->v[n->len].skip = false;
	n->len++;
}

/* Appends the valid child hashes of `hash` to out. */
static int list_children(struct token_store *ts, const char *hash, struct strlist *out)
{
	char prefix[sizeof(TOKEN_PARENT_PREFIX) + TOKEN_LOCATOR_MAX + 1];
	struct strlist kids;
	int r;
	snprintf(prefix, sizeof(prefix), "%s%s/", TOKEN_PARENT_PREFIX, hash);
	strlist_init(&kids);
	r = storage_list(ts->logical, prefix, &kids);
	for (size_t i = 0; r == 0 && i < kids.len; i++)
		if (valid_hash(kids.items[i]))
			strlist_push(out, kids.items[i]);
	strlist_release(&kids);
	return r;
}

/* Keys of one token's deletion (they must live until its transaction). */
struct del_keys {
	char key[ID_KEY_LEN], akey[ACC_KEY_LEN], pk1[PARENT_KEY_LEN], pk2[PARENT_KEY_LEN];
	struct lease_keys lk;
};
#define DEL_OPS_MAX 6
#define DELETE_CHUNK 128 /* tokens per transaction when many go at once */

/* Appends to ops (at most DEL_OPS_MAX) the deletes of token `hash` and of
 * its index and lease entries; the caller holds its stripe. tree_parent:
 * the parent whose index led here ("" for none). *e gets the entry (NULL
 * if it was already missing). */
static int delete_ops(struct token_store *ts, const char *hash, const char *tree_parent, struct del_keys *k,
                      struct storage_op *ops, size_t *n, struct token_entry **e)
{
	char ahash[TOKEN_LOCATOR_MAX + 1];
	int r;
	*e = NULL;
	r = read_entry(ts, hash, e);
	if (r != 0 && r != TROVE_ERR_NOT_FOUND && r != TROVE_ERR_INTEGRITY)
		return r;
	id_key(k->key, hash);
	ops[(*n)++] = (struct storage_op){STORAGE_DELETE, k->key, NULL, 0};
	if (*e && (*e)->accessor[0]) {
		if ((r = hash_id(ts, (*e)->accessor, ahash)) != 0)
			return r;
		snprintf(k->akey, sizeof(k->akey), "%s%s", TOKEN_ACCESSOR_PREFIX, ahash);
		ops[(*n)++] = (struct storage_op){STORAGE_DELETE, k->akey, NULL, 0};
	}
	if (tree_parent && tree_parent[0]) {
		parent_key(k->pk1, tree_parent, hash);
		ops[(*n)++] = (struct storage_op){STORAGE_DELETE, k->pk1, NULL, 0};
	}
	if (*e && (*e)->parent_hash[0] && (!tree_parent || strcmp((*e)->parent_hash, tree_parent) != 0)) {
		parent_key(k->pk2, (*e)->parent_hash, hash);
		ops[(*n)++] = (struct storage_op){STORAGE_DELETE, k->pk2, NULL, 0};
	}
	if (*e && has_lease(*e) && lease_keys_of(*e, hash, &k->lk) == 0) {
		ops[(*n)++] = (struct storage_op){STORAGE_DELETE, k->lk.id_key, NULL, 0};
		if (k->lk.when_key[0])
			ops[(*n)++] = (struct storage_op){STORAGE_DELETE, k->lk.when_key, NULL, 0};
	}
	return 0;
}

static unsigned stripe_index(struct token_store *ts, const char *locator)
{
	return (unsigned)(stripe(ts, locator) - ts->stripes);
}

/* Deletes nodes [from, to) in one transaction under their stripes (taken
 * in ascending order, so no other locker can deadlock with it) and
 * appends their entries to gone. */
static int delete_chunk(struct token_store *ts, const struct nodes *nodes, size_t from, size_t to,
                        struct token_entry **gone, size_t *ngone)
{
	size_t cnt = to - from, n = 0;
	struct del_keys *keys = xcalloc(cnt, sizeof(*keys));
	struct storage_op *ops = xcalloc(cnt * DEL_OPS_MAX, sizeof(*ops));
	struct token_entry **es = xcalloc(cnt, sizeof(*es));
	uint64_t mask = 0;
	int r = 0;

	for (size_t i = from; i < to; i++)
		if (!nodes->v[i].skip)
			mask |= (uint64_t)1 << stripe_index(ts, nodes->v[i].hash);
	for (unsigned b = 0; b < STRIPES; b++)
		if (mask & ((uint64_t)1 << b))
			pthread_mutex_lock(&ts->stripes[b]);
	for (size_t i = from; i < to && r == 0; i++) {
		const struct node *nd = &nodes->v[i];
		if (nd->skip)
			continue;
		const char *tp = nd->parent == (size_t)-1 ? "" : nodes->v[nd->parent].hash;
		r = delete_ops(ts, nd->hash, tp, &keys[i - from], ops, &n, &es[i - from]);
	}
	if (r == 0)
		r = storage_txn(ts->logical, ops, n);
	for (size_t i = from; i < to; i++)
		if (!nodes->v[i].skip)
			vcache_forget(ts->cache, nodes->v[i].hash);
	for (unsigned b = 0; b < STRIPES; b++)
		if (mask & ((uint64_t)1 << b))
			pthread_mutex_unlock(&ts->stripes[b]);
	for (size_t i = 0; i < cnt; i++) {
		if (r == 0 && es[i]) {
			snprintf(es[i]->id_hash, sizeof(es[i]->id_hash), "%s", nodes->v[from + i].hash);
			gone[(*ngone)++] = es[i];
		} else {
			token_entry_free(es[i]);
		}
	}
	free(es);
	free(ops);
	free(keys);
	return r;
}

/* Deletes every node, children before parents, DELETE_CHUNK tokens per
 * transaction. Caller holds lock + revoke_mu. */
static int delete_nodes(struct token_store *ts, const struct nodes *nodes, struct token_entry **gone,
                        size_t *ngone)
{
	int r = 0;
	for (size_t end = nodes->len; end > 0 && r == 0;) {
		size_t from = end > DELETE_CHUNK ? end - DELETE_CHUNK : 0;
		r = delete_chunk(ts, nodes, from, end, gone, ngone);
		end = from;
	}
	return r;
}

/* Makes every child of `hash` an orphan. Caller holds lock + revoke_mu. */
static int orphan_children_of(struct token_store *ts, const char *hash)
{
	struct strlist kids;
	int r;
	strlist_init(&kids);
	if ((r = list_children(ts, hash, &kids)) != 0)
		goto out;
	for (size_t i = 0; i < kids.len; i++) {
		char pk[PARENT_KEY_LEN], key[ID_KEY_LEN];
		struct token_entry *c = NULL;
		char *text = NULL;
		pthread_mutex_t *mu = stripe(ts, kids.items[i]);
		parent_key(pk, hash, kids.items[i]);
		pthread_mutex_lock(mu);
		r = read_entry(ts, kids.items[i], &c);
		if (r == TROVE_ERR_NOT_FOUND) {
			r = storage_delete(ts->logical, pk);
		} else if (r == 0) {
			c->parent_hash[0] = '\0';
			c->orphan = true;
			text = entry_dump(c);
			id_key(key, c->id_hash);
			struct storage_op ops[2] = {
			    {STORAGE_PUT, key, text, text ? strlen(text) : 0},
			    {STORAGE_DELETE, pk, NULL, 0},
			};
			r = text ? storage_txn(ts->logical, ops, 2) : TROVE_ERR_NOMEM;
			vcache_forget(ts->cache, kids.items[i]);
		}
		pthread_mutex_unlock(mu);
		free(text);
		token_entry_free(c);
		if (r != 0)
			goto out;
	}
	r = 0;
out:
	strlist_release(&kids);
	return r;
}

/* Appends the subtrees of nodes [from, len) (breadth-first: parents
 * before children). */
static int add_subtrees(struct token_store *ts, struct nodes *nodes, size_t from)
{
	struct strlist kids;
	int r = 0;
	strlist_init(&kids);
	for (size_t i = from; i < nodes->len; i++) {
		strlist_release(&kids);
		strlist_init(&kids);
		if ((r = list_children(ts, nodes->v[i].hash, &kids)) != 0)
			break;
		r = TROVE_ERR_INTEGRITY;
		if (nodes->len + kids.len > MAX_SUBTREE)
			break;
		r = 0;
		for (size_t k = 0; k < kids.len; k++)
			nodes_push(nodes, kids.items[k], i);
	}
	strlist_release(&kids);
	return r;
}

struct node_ref {
	const char *hash;
	size_t idx;
};

static int node_ref_cmp(const void *a, const void *b)
{
	const struct node_ref *x = a, *y = b;
	int c = strcmp(x->hash, y->hash);
	return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

/* A token listed twice (two roots, or a root inside another's subtree) is
 * deleted once, at its last place: children still go before parents. */
static void mark_duplicates(struct nodes *nodes)
{
	struct node_ref *refs = xcalloc(nodes->len ? nodes->len : 1, sizeof(*refs));
	for (size_t i = 0; i < nodes->len; i++)
		refs[i] = (struct node_ref){nodes->v[i].hash, i};
	qsort(refs, nodes->len, sizeof(*refs), node_ref_cmp);
	for (size_t i = 0; i + 1 < nodes->len; i++)
		if (strcmp(refs[i].hash, refs[i + 1].hash) == 0)
			nodes->v[refs[i].idx].skip = true;
	free(refs);
}

/* Revokes the tokens `hashes` and (unless orphan_children, one token
 * only) their subtrees. Caller holds lock + revoke_mu. */
static int revoke_locked(struct token_store *ts, const char *const *hashes, size_t nhashes, bool orphan_children,
                         struct token_entry ***out, size_t *nout)
{
	struct nodes nodes = {0};
	struct token_entry **gone = NULL;
	size_t ngone = 0;
	int r;

	for (size_t i = 0; i < nhashes; i++)
		nodes_push(&nodes, hashes[i], (size_t)-1);
	if (orphan_children)
		r = orphan_children_of(ts, hashes[0]);
	else
		r = add_subtrees(ts, &nodes, 0);
	if (r != 0)
		goto out;
	if (nhashes > 1)
		mark_duplicates(&nodes);
	gone = xcalloc(nodes.len, sizeof(*gone));
	r = delete_nodes(ts, &nodes, gone, &ngone);
out:
	*out = gone;
	*nout = ngone;
	free(nodes.v);
	return r;
}

/* Runs the revoke callbacks of what revoke_locked deleted, outside the
 * locks, even after a partial failure: whatever was deleted is revoked. */
static void finish_revoked(struct token_store *ts, struct token_entry **gone, size_t ngone)
{
	for (size_t i = 0; i < ngone; i++) {
		run_callbacks(ts, gone[i]);
		token_entry_free(gone[i]);
	}
	free(gone);
}

int token_revoke_many(struct token_store *ts, const char *const *id_hashes, size_t n)
{
	struct token_entry **gone = NULL;
	size_t ngone = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		if (!valid_hash(id_hashes[i]))
			return TROVE_ERR_INVALID;
	if (n == 0)
		return 0;
	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (ts->logical) {
		pthread_mutex_lock(&ts->revoke_mu);
		r = revoke_locked(ts, id_hashes, n, false, &gone, &ngone);
		pthread_mutex_unlock(&ts->revoke_mu);
	}
	pthread_rwlock_unlock(&ts->lock);
	finish_revoked(ts, gone, ngone);
	return r;
}

int token_revoke(struct token_store *ts, const char *id_hash, bool orphan_children)
{
	struct token_entry **gone = NULL;
	size_t ngone = 0;
	int r;

	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (!ts->logical)
		goto out;
	r = TROVE_ERR_INVALID;
	if (!valid_hash(id_hash))
		goto out;
	pthread_mutex_lock(&ts->revoke_mu);
	r = revoke_locked(ts, &id_hash, 1, orphan_children, &gone, &ngone);
	pthread_mutex_unlock(&ts->revoke_mu);
out:
	pthread_rwlock_unlock(&ts->lock);
	finish_revoked(ts, gone, ngone);
	return r;
}

void token_finish_request(struct token_store *ts, const struct token_entry *e)
{
	if (!ts || !e || !e->last_use || e->type != TOKEN_TYPE_SERVICE)
		return;
	(void)token_revoke(ts, e->id_hash, false);
}

/* --- listing and tidy ------------------------------------------------------ */

int token_list_accessors(struct token_store *ts, struct strlist *out)
{
	struct strlist keys;
	int r;
	strlist_init(&keys);
	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (!ts->logical)
		goto out;
	if ((r = storage_list(ts->logical, TOKEN_ACCESSOR_PREFIX, &keys)) != 0)
		goto out;
	for (size_t i = 0; i < keys.len; i++) {
		char akey[ACC_KEY_LEN], hash[TOKEN_LOCATOR_MAX + 1], acc[TOKEN_ACCESSOR_LEN + 1];
		unsigned char *raw = NULL;
		size_t len = 0;
		if (!valid_hash(keys.items[i]))
			continue;
		snprintf(akey, sizeof(akey), "%s%s", TOKEN_ACCESSOR_PREFIX, keys.items[i]);
		if (storage_get(ts->logical, akey, &raw, &len) != 0)
			continue;
		if (parse_accessor_value(raw, len, hash, acc) == 0) {
			if (!acc[0]) {
				/* legacy index value: the accessor is in the entry */
				struct token_entry *e = NULL;
				if (read_entry(ts, hash, &e) == 0)
					snprintf(acc, sizeof(acc), "%s", e->accessor);
				token_entry_free(e);
			}
			if (acc[0])
				strlist_push(out, acc);
		}
		free(raw);
	}
	r = 0;
out:
	pthread_rwlock_unlock(&ts->lock);
	strlist_release(&keys);
	return r;
}

static bool stored(struct token_store *ts, const char *hash)
{
	char key[ID_KEY_LEN];
	unsigned char *raw = NULL;
	size_t len = 0;
	id_key(key, hash);
	int r = storage_get(ts->logical, key, &raw, &len);
	free(raw);
	return r != TROVE_ERR_NOT_FOUND;
}

int token_tidy(struct token_store *ts, struct token_tidy_stats *out)
{
	struct token_tidy_stats st = {0};
	struct strlist ids, bad, keys;
	int r;

	strlist_init(&ids);
	strlist_init(&bad);
	strlist_init(&keys);
	/* 1. Tokens lookup would refuse. */
	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (!ts->logical)
		goto unlock;
	int64_t now = now_of(ts);
	if ((r = storage_list(ts->logical, TOKEN_ID_PREFIX, &ids)) != 0)
		goto unlock;
	for (size_t i = 0; i < ids.len; i++) {
		struct token_entry *e = NULL;
		if (!valid_hash(ids.items[i]))
			continue;
		int rr = read_entry(ts, ids.items[i], &e);
		if (rr == TROVE_ERR_NOT_FOUND)
			continue;
		if (rr != 0 || !entry_live(e, now) ||
		    (e->parent_hash[0] && check_chain(ts, e->parent_hash, now) != 0))
			strlist_push(&bad, ids.items[i]);
		token_entry_free(e);
	}
unlock:
	pthread_rwlock_unlock(&ts->lock);
	if (r != 0)
		goto out;
	for (size_t i = 0; i < bad.len; i++) {
		if ((r = token_revoke(ts, bad.items[i], false)) != 0)
			goto out;
		st.revoked++;
	}

	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (!ts->logical)
		goto unlock2;
	pthread_mutex_lock(&ts->revoke_mu);
	/* 2. Accessors of missing tokens. */
	if ((r = storage_list(ts->logical, TOKEN_ACCESSOR_PREFIX, &keys)) != 0)
		goto unlock3;
	for (size_t i = 0; i < keys.len; i++) {
		char akey[ACC_KEY_LEN], hash[TOKEN_LOCATOR_MAX + 1];
		unsigned char *raw = NULL;
		size_t len = 0;
		if (!valid_hash(keys.items[i]))
			continue;
		snprintf(akey, sizeof(akey), "%s%s", TOKEN_ACCESSOR_PREFIX, keys.items[i]);
		if (storage_get(ts->logical, akey, &raw, &len) != 0)
			continue;
		bool drop = parse_accessor_value(raw, len, hash, NULL) != 0 || !stored(ts, hash);
		free(raw);
		if (drop && storage_delete(ts->logical, akey) == 0)
			st.accessors_removed++;
	}
	/* 3. Tree index entries whose child is gone (children of a missing
	 * parent were revoked in step 1: their chain is invalid). */
	strlist_release(&keys);
	if ((r = storage_list(ts->logical, TOKEN_PARENT_PREFIX, &keys)) != 0)
		goto unlock3;
	for (size_t i = 0; i < keys.len; i++) {
		struct strlist kids;
		size_t n = strlen(keys.items[i]);
		if (n < 2 || keys.items[i][n - 1] != '/')
			continue;
		keys.items[i][n - 1] = '\0';
		if (!valid_hash(keys.items[i]))
			continue;
		strlist_init(&kids);
		if (list_children(ts, keys.items[i], &kids) == 0) {
			for (size_t k = 0; k < kids.len; k++) {
				char pk[PARENT_KEY_LEN];
				if (stored(ts, kids.items[k]))
					continue;
				parent_key(pk, keys.items[i], kids.items[k]);
				if (storage_delete(ts->logical, pk) == 0)
					st.parents_removed++;
			}
		}
		strlist_release(&kids);
	}
	r = 0;
unlock3:
	pthread_mutex_unlock(&ts->revoke_mu);
unlock2:
	pthread_rwlock_unlock(&ts->lock);
out:
	if (out)
		*out = st;
	strlist_release(&ids);
	strlist_release(&bad);
	strlist_release(&keys);
	return r;
}

/* --- CIDR binding ------------------------------------------------------------ */

bool token_cidr_valid(const char *s)
{
	struct cidr net;
	return s && cidr_parse(s, &net);
}

bool token_cidr_allows(const struct strlist *cidrs, const char *addr)
{
	struct cidr ip;
	if (!cidrs || cidrs->len == 0)
		return true;
	if (!addr || !cidr_parse_addr(addr, strlen(addr), &ip))
		return false;
	for (size_t i = 0; i < cidrs->len; i++) {
		struct cidr net;
		if (cidr_parse(cidrs->items[i], &net) && cidr_contains(&net, &ip))
			return true;
	}
	return false;
}

void token_store_invalidate(struct token_store *ts, const char *key)
{
	if (strncmp(key, TOKEN_ID_PREFIX, sizeof(TOKEN_ID_PREFIX) - 1) == 0)
		vcache_forget(ts->cache, key + sizeof(TOKEN_ID_PREFIX) - 1);
}

void token_store_invalidate_all(struct token_store *ts)
{
	vcache_clear(ts->cache);
}
