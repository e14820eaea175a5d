/* pki_state.c — the PKI engine's per-mount state: issuer material parsed
 * once and kept between requests. OpenSSL 3 decodes a PEM private key or
 * certificate through its provider decoders, which costs several times
 * what signing a leaf does; issuing paid it on every request for the
 * issuer's key, its certificate and each certificate of its chain.
 *
 * Nothing here can answer differently from storage:
 *  - a signer (certificate and key) is reused only when the issuer record
 *    just read holds byte-identical certificate PEM to what was parsed and
 *    the key record, read from storage as bytes (parsing its JSON cost
 *    more than the rest of the lookup), is byte-identical to the one read
 *    then, so a deleted, changed or relinked key is seen at once;
 *  - a chain is reused for the same issuer id, the same set of issuer ids
 *    in the mount and no manual_chain: an issuer's certificate never
 *    changes under its id (updates touch its name, usage, chain and URLs;
 *    a new certificate is a new issuer), so the chain is a function of
 *    those. A manual_chain is read as it is (it needs no parsing).
 *  - a role is reused only when the bytes just read from role/<name> are
 *    identical to the bytes it was parsed from: the read is still made
 *    on every request (storage stays the truth, whoever wrote it), only
 *    the JSON parse and the role's construction are skipped. A role's
 *    parse is a function of its stored bytes alone (pki_role_parse);
 *  - an issuer record likewise: read every time, its JSON parsed again
 *    only when its bytes differ from those kept for that id, and handed
 *    out as a deep copy the caller owns and may change.
 * A signer slot also keeps up to SIGNER_IDLE signing contexts for its
 * key (pki_signer_ctx_take), freed with the slot.
 * Kept key records (they hold the private key) are wiped when evicted; the whole state goes
 * when the mount is disabled or the core sealed (mount_cleanup). Roles
 * hold no secret. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "role.h"

#include "core/mount.h"
#include "engines/engines.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

#define SIGNER_SLOTS 8
#define SIGNER_IDLE 4 /* signing contexts kept per signer: one per thread signing at once */
#define CHAIN_SLOTS 8
#define ROLE_SLOTS 32
#define RECORD_SLOTS 8

struct signer {
	char issuer_id[PKI_ID_MAX];
	char *cert_pem;
	unsigned char *key_rec; /* the key's stored record: secret, NULL when no key */
	size_t key_rec_len;
	X509 *cert;
	EVP_PKEY *key;
	struct x509_signer *idle[SIGNER_IDLE]; /* for key, not in use; idle_n of them */
	size_t idle_n;
	uint64_t used; /* 0: free */
};

struct chain {
	char *key; /* issuer id, then every issuer id of the mount */
	json_t *chain;
	uint64_t used;
};

struct role_slot {
	char *name;
	unsigned char *stored; /* the bytes role was parsed from */
	size_t stored_len;
	struct pki_role role;
	uint64_t used; /* 0: free */
};

struct record {
	char *key; /* storage key */
	unsigned char *stored;
	size_t stored_len;
	json_t *parsed;
	uint64_t used;
};

struct pki_state {
	pthread_mutex_t mu;
	uint64_t tick;
	struct signer signers[SIGNER_SLOTS];
	struct chain chains[CHAIN_SLOTS];
	struct role_slot roles[ROLE_SLOTS];
	struct record records[RECORD_SLOTS];
};

static void signer_clear(struct signer *s)
{
	free(s->cert_pem);
	secure_free(s->key_rec, s->key_rec_len);
	X509_free(s->cert);
	for (size_t i = 0; i < s->idle_n; i++)
		x509_signer_free(s->idle[i]);
	EVP_PKEY_free(s->key);
	memset(s, 0, sizeof(*s));
}

static void chain_clear(struct chain *c)
{
	free(c->key);
	json_decref(c->chain);
	memset(c, 0, sizeof(*c));
}

static void role_slot_clear(struct role_slot *rs)
{
	if (rs->used)
		pki_role_release(&rs->role);
	free(rs->name);
	free(rs->stored);
	memset(rs, 0, sizeof(*rs));
}

static void record_clear(struct record *c)
{
	free(c->key);
	free(c->stored);
	json_decref(c->parsed);
	memset(c, 0, sizeof(*c));
}

struct pki_state *pki_state_new(void)
{
	struct pki_state *st = xcalloc(1, sizeof(*st));
	pthread_mutex_init(&st->mu, NULL);
	return st;
}

void pki_state_free(struct pki_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < SIGNER_SLOTS; i++)
		signer_clear(&st->signers[i]);
	for (size_t i = 0; i < CHAIN_SLOTS; i++)
		chain_clear(&st->chains[i]);
	for (size_t i = 0; i < ROLE_SLOTS; i++)
		role_slot_clear(&st->roles[i]);
	for (size_t i = 0; i < RECORD_SLOTS; i++)
		record_clear(&st->records[i]);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

struct pki_state *pki_state_of(const struct request *req)
{
	if (!req->mount || req->mount->engine != &pki_engine)
		return NULL;
	struct pki_mount_state *ms = req->mount->engine_state;
	return ms ? ms->issuers : NULL;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_bytes(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	return (!a && !b) || (a && b && alen == blen && memcmp(a, b, alen) == 0);
}

int pki_signer_get(struct pki_state *st, struct storage *s, const json_t *rec, X509 **cert, EVP_PKEY **key)
{
	const char *id = json_string_value(json_object_get(rec, "id")) ?: "";
	const char *cpem = json_string_value(json_object_get(rec, "certificate"));
	const char *kid = json_string_value(json_object_get(rec, "key_id"));
	unsigned char *krec = NULL; /* the key's record as stored, not parsed */
	size_t klen = 0;
	int r;

	if (!st || !cpem || strlen(id) >= PKI_ID_MAX)
		return pki_issuer_signer(s, rec, cert, key);
	if (kid && kid[0]) {
		struct buf path;
		buf_init(&path, STORAGE_MAX_KEY);
		buf_printf(&path, PKI_KEY_PREFIX "%s", kid);
		r = storage_get(s, path.data, &krec, &klen);
		buf_release(&path);
		if (r != 0 && r != TROVE_ERR_NOT_FOUND)
			return r;
	}
	*cert = NULL;
	*key = NULL;
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < SIGNER_SLOTS; i++) {
		struct signer *g = &st->signers[i];
		if (g->used && strcmp(g->issuer_id, id) == 0 && same(g->cert_pem, cpem) &&
		    same_bytes(g->key_rec, g->key_rec_len, krec, klen)) {
			g->used = ++st->tick;
			X509_up_ref(g->cert);
			*cert = g->cert;
			if (g->key && EVP_PKEY_up_ref(g->key))
				*key = g->key;
			break;
		}
	}
	pthread_mutex_unlock(&st->mu);
	if (*cert) {
		secure_free(krec, klen);
		return 0;
	}
	if ((r = pki_issuer_signer(s, rec, cert, key)) == 0) {
		pthread_mutex_lock(&st->mu);
		struct signer *victim = &st->signers[0];
		for (size_t i = 1; i < SIGNER_SLOTS; i++)
			if (st->signers[i].used < victim->used)
				victim = &st->signers[i];
		signer_clear(victim);
		memcpy(victim->issuer_id, id, strlen(id) + 1);
		victim->cert_pem = xstrdup(cpem);
		if (*key && krec) {
			victim->key_rec = krec; /* kept: wiped with the slot */
			victim->key_rec_len = klen;
			krec = NULL;
		}
		if (X509_up_ref(*cert))
			victim->cert = *cert;
		if (*key && EVP_PKEY_up_ref(*key))
			victim->key = *key;
		victim->used = victim->cert && (!*key || victim->key) ? ++st->tick : 0;
		if (!victim->used)
			signer_clear(victim);
		pthread_mutex_unlock(&st->mu);
	}
	secure_free(krec, klen);
	return r;
}

/* The slot holding key, or NULL. Under st->mu. */
static struct signer *signer_of_key(struct pki_state *st, const EVP_PKEY *key)
{
	for (size_t i = 0; key && i < SIGNER_SLOTS; i++)
		if (st->signers[i].used && st->signers[i].key == key)
			return &st->signers[i];
	return NULL;
}

struct x509_signer *pki_signer_ctx_take(struct pki_state *st, EVP_PKEY *key, const EVP_MD *md)
{
	struct x509_signer *g = NULL;
	bool kept = false;
	if (!st || !key || !md)
		return NULL;
	pthread_mutex_lock(&st->mu);
	struct signer *slot = signer_of_key(st, key);
	if (slot) {
		kept = true;
		for (size_t i = 0; i < slot->idle_n; i++)
			if (x509_signer_is_for(slot->idle[i], key, md)) {
				g = slot->idle[i];
				slot->idle[i] = slot->idle[--slot->idle_n];
				break;
			}
	}
	pthread_mutex_unlock(&st->mu);
	/* Made outside the lock; only for a key a slot holds, so that it can
	 * be kept when given back. */
	return g ? g : kept ? x509_signer_new(key, md) : NULL;
}

void pki_signer_ctx_give(struct pki_state *st, EVP_PKEY *key, struct x509_signer *g)
{
	if (!g)
		return;
	if (st) {
		pthread_mutex_lock(&st->mu);
		struct signer *slot = signer_of_key(st, key);
		if (slot && slot->idle_n < SIGNER_IDLE && x509_signer_key(g) == key) {
			slot->idle[slot->idle_n++] = g;
			g = NULL;
		}
		pthread_mutex_unlock(&st->mu);
	}
	x509_signer_free(g);
}

int pki_chain_get(struct pki_state *st, struct storage *s, const json_t *rec, json_t **chain)
{
	struct strlist ids;
	struct buf k;
	int r;

	if (!st || json_array_size(json_object_get(rec, "manual_chain")) > 0)
		return pki_issuer_chain(s, rec, chain);
	strlist_init(&ids);
	if ((r = pki_issuer_ids(s, &ids)) != 0) {
		strlist_release(&ids);
		return r;
	}
	buf_init(&k, 64 << 10);
	buf_append_str(&k, json_string_value(json_object_get(rec, "id")) ?: "");
	for (size_t i = 0; i < ids.len; i++)
		buf_printf(&k, "|%s", ids.items[i]);
	strlist_release(&ids);
	*chain = NULL;
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < CHAIN_SLOTS; i++) {
		struct chain *c = &st->chains[i];
		if (c->used && strcmp(c->key, k.data) == 0) {
			c->used = ++st->tick;
			*chain = json_deep_copy(c->chain);
			break;
		}
	}
	pthread_mutex_unlock(&st->mu);
	if (*chain) {
		buf_release(&k);
		return 0;
	}
	if ((r = pki_issuer_chain(s, rec, chain)) == 0) {
		json_t *copy = json_deep_copy(*chain);
		pthread_mutex_lock(&st->mu);
		struct chain *victim = &st->chains[0];
		for (size_t i = 1; i < CHAIN_SLOTS; i++)
			if (st->chains[i].used < victim->used)
				victim = &st->chains[i];
		chain_clear(victim);
		victim->key = xstrdup(k.data);
		victim->chain = copy;
		victim->used = ++st->tick;
		pthread_mutex_unlock(&st->mu);
	}
	buf_release(&k);
	return r;
}

int pki_role_get(struct pki_state *st, struct storage *s, const char *name, struct pki_role *role)
{
	unsigned char *v = NULL;
	size_t n = 0;
	bool hit = false;
	int r;

	if (!st)
		return pki_role_load(s, name, role);
	if ((r = pki_role_read(s, name, &v, &n)) != 0) {
		pki_role_init(role);
		return r;
	}
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < ROLE_SLOTS && !hit; i++) {
		struct role_slot *rs = &st->roles[i];
		if (rs->used && strcmp(rs->name, name) == 0 && same_bytes(rs->stored, rs->stored_len, v, n)) {
			rs->used = ++st->tick;
			pki_role_copy(role, &rs->role);
			hit = true;
		}
	}
	pthread_mutex_unlock(&st->mu);
	if (hit) {
		free(v);
		return 0;
	}
	if ((r = pki_role_parse(v, n, role)) != 0) {
		free(v);
		return r; /* not a role: nothing kept */
	}
	pthread_mutex_lock(&st->mu);
	struct role_slot *victim = &st->roles[0];
	for (size_t i = 1; i < ROLE_SLOTS; i++)
		if (st->roles[i].used < victim->used)
			victim = &st->roles[i];
	role_slot_clear(victim);
	victim->name = xstrdup(name);
	victim->stored = v; /* kept: freed with the slot */
	victim->stored_len = n;
	pki_role_copy(&victim->role, role);
	victim->used = ++st->tick;
	pthread_mutex_unlock(&st->mu);
	return 0;
}

bool pki_role_key_inline(const char *key_type, int64_t bits)
{
	return (strcmp(key_type, "ec") == 0 && bits <= 256) || strcmp(key_type, "ed25519") == 0;
}

bool pki_role_kept_inline(struct pki_state *st, const char *name, bool issue)
{
	bool yes = true;
	if (!st || !name)
		return true;
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < ROLE_SLOTS; i++) {
		const struct role_slot *rs = &st->roles[i];
		if (rs->used && strcmp(rs->name, name) == 0)
			yes = rs->role.no_store && (!issue || strcmp(rs->role.key_type, "any") == 0 ||
						    pki_role_key_inline(rs->role.key_type, rs->role.key_bits));
	}
	pthread_mutex_unlock(&st->mu);
	return yes;
}

int pki_issuer_get_kept(struct pki_state *st, struct storage *s, const char *id, json_t **rec)
{
	unsigned char *v = NULL;
	size_t n = 0;
	struct buf key;
	int r;

	if (!st)
		return pki_issuer_get(s, id, rec);
	*rec = NULL;
	buf_init(&key, STORAGE_MAX_KEY);
	buf_printf(&key, PKI_ISSUER_PREFIX "%s", id);
	if ((r = storage_get(s, key.data, &v, &n)) != 0)
		goto out;
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < RECORD_SLOTS && !*rec; i++) {
		struct record *c = &st->records[i];
		if (c->used && strcmp(c->key, key.data) == 0 && same_bytes(c->stored, c->stored_len, v, n)) {
			c->used = ++st->tick;
			*rec = json_deep_copy(c->parsed);
		}
	}
	pthread_mutex_unlock(&st->mu);
	if (*rec)
		goto out;
	if (!(*rec = json_loadb((const char *)v, n, JSON_DECODE_ANY, NULL))) {
		r = TROVE_ERR_INTEGRITY; /* as kv_get_json */
		goto out;
	}
	json_t *copy = json_deep_copy(*rec);
	pthread_mutex_lock(&st->mu);
	struct record *victim = &st->records[0];
	for (size_t i = 1; i < RECORD_SLOTS; i++)
		if (st->records[i].used < victim->used)
			victim = &st->records[i];
	record_clear(victim);
	victim->key = xstrdup(key.data);
	victim->stored = v; /* kept: freed with the slot */
	victim->stored_len = n;
	victim->parsed = copy;
	victim->used = ++st->tick;
	v = NULL;
	pthread_mutex_unlock(&st->mu);
out:
	free(v);
	buf_release(&key);
	return r;
}
