/* nonce.c — single-use, expiring, bounded ACME nonces.
 *
 * The nonces sit in a ring in issue order (so also in expiry order: one
 * lifetime for all), indexed by a chained hash on their text. Issuing
 * drops expired ones from the old end and, when the ring is full, the
 * oldest; redeeming unlinks the nonce and leaves its slot dead until the
 * ring reaches it. */
#include "nonce.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "encoding.h"
#include "err.h"
#include "rand.h"
#include "strhash.h"

#define NONE ((size_t)-1)

struct slot {
	char text[ACME_NONCE_LEN + 1];
	int64_t expires;
	bool live;
	size_t next; /* the next slot in the hash chain, or NONE */
};

struct acme_nonces {
	pthread_mutex_t lock;
	const struct clock *clk;
	int64_t lifetime;
	size_t cap, head, used; /* the ring: used slots from head on */
	size_t live;
	struct slot *slots;
	size_t nbuckets; /* a power of two */
	size_t *buckets;
};

struct acme_nonces *acme_nonces_new(size_t cap, int64_t lifetime_s, const struct clock *clk)
{
	struct acme_nonces *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->lock, NULL);
	s->clk = clk;
	s->cap = cap ? cap : ACME_NONCE_DEFAULT_CAP;
	s->lifetime = lifetime_s > 0 ? lifetime_s : ACME_NONCE_LIFETIME_S;
	s->slots = xcalloc(s->cap, sizeof(*s->slots));
	for (s->nbuckets = 16; s->nbuckets < s->cap; s->nbuckets <<= 1)
		;
	s->buckets = xmalloc(s->nbuckets * sizeof(*s->buckets));
	for (size_t i = 0; i < s->nbuckets; i++)
		s->buckets[i] = NONE;
	return s;
}

void acme_nonces_free(struct acme_nonces *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s->slots);
	free(s->buckets);
	free(s);
}

static size_t *bucket_of(struct acme_nonces *s, const char *text)
{
	return &s->buckets[str_hash(text) & (s->nbuckets - 1)];
}

/* Takes slot i out of its hash chain and marks it dead. */
static void unlink_slot(struct acme_nonces *s, size_t i)
{
	size_t *p = bucket_of(s, s->slots[i].text);

	while (*p != NONE && *p != i)
		p = &s->slots[*p].next;
	if (*p == i)
		*p = s->slots[i].next;
	s->slots[i].live = false;
	s->live--;
}

/* Drops the oldest slot of the ring. */
static void drop_head(struct acme_nonces *s)
{
	if (s->slots[s->head].live)
		unlink_slot(s, s->head);
	s->head = (s->head + 1) % s->cap;
	s->used--;
}

int acme_nonce_issue(struct acme_nonces *s, char out[ACME_NONCE_LEN + 1])
{
	unsigned char raw[16];
	char *text;
	int64_t now;
	size_t i, *b;

	if (rand_bytes(raw, sizeof(raw)) != 0)
		return TROVE_ERR_INTERNAL;
	text = base64url_encode(raw, sizeof(raw));
	memcpy(out, text, ACME_NONCE_LEN + 1);
	free(text);
	pthread_mutex_lock(&s->lock);
	now = clock_read(s->clk, clock_monotonic_s);
	while (s->used > 0 && (!s->slots[s->head].live || s->slots[s->head].expires <= now))
		drop_head(s);
	if (s->used == s->cap)
		drop_head(s);
	i = (s->head + s->used) % s->cap;
	memcpy(s->slots[i].text, out, ACME_NONCE_LEN + 1);
	s->slots[i].expires = now + s->lifetime;
	s->slots[i].live = true;
	b = bucket_of(s, out);
	s->slots[i].next = *b;
	*b = i;
	s->used++;
	s->live++;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

bool acme_nonce_redeem(struct acme_nonces *s, const char *nonce)
{
	bool ok = false;
	size_t i;

	if (!nonce || strnlen(nonce, ACME_NONCE_LEN + 1) != ACME_NONCE_LEN)
		return false;
	pthread_mutex_lock(&s->lock);
	for (i = *bucket_of(s, nonce); i != NONE; i = s->slots[i].next)
		if (memcmp(s->slots[i].text, nonce, ACME_NONCE_LEN) == 0)
			break;
	if (i != NONE) {
		ok = s->slots[i].expires > clock_read(s->clk, clock_monotonic_s);
		unlink_slot(s, i);
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

size_t acme_nonce_count(struct acme_nonces *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->live;
	pthread_mutex_unlock(&s->lock);
	return n;
}
