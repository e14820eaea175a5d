/* op_predicate.c — the event filter of VSO's controllers (op_predicate.h).
 *
 * A chained hash table keyed by the object's key; each entry holds what
 * the next event is compared with. Buckets are fixed (OP_PRED_BUCKETS):
 * a thousand objects make chains of one or two. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "operator/op_predicate.h"
#include "strhash.h"

#include "banned.h"

#define OP_PRED_BUCKETS 1024

struct seen {
	struct seen *next;
	long long generation;
	uint64_t meta; /* hash of labels and annotations */
	bool deleting; /* metadata.deletionTimestamp was set */
	char key[];
};

struct op_predicate {
	pthread_mutex_t mu;
	struct seen *b[OP_PRED_BUCKETS];
};

struct op_predicate *op_predicate_new(void)
{
	struct op_predicate *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->mu, NULL);
	return p;
}

void op_predicate_free(struct op_predicate *p)
{
	struct seen *s, *next;
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < OP_PRED_BUCKETS; i++)
		for (s = p->b[i]; s; s = next) {
			next = s->next;
			free(s);
		}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* Labels and annotations as one hash: each as compact JSON with sorted
 * keys, so the same maps in any order hash alike. */
static uint64_t meta_hash(const json_t *md)
{
	static const char *const keys[] = {"labels", "annotations"};
	uint64_t h = STR_HASH_SEED;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const json_t *v = json_object_get(md, keys[i]);
		char *text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;

		h = str_hash_more(h, text ? text : "null");
		h = str_hash_more(h, "\n");
		free(text);
	}
	return h;
}

static bool secret_kind(enum op_kind kind)
{
	return kind == OP_STATIC_SECRET || kind == OP_DYNAMIC_SECRET || kind == OP_PKI_SECRET;
}

struct op_verdict op_predicate_event(struct op_predicate *p, enum op_kind kind, const char *key,
                                     enum kube_event ev, const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	long long gen = (long long)json_integer_value(json_object_get(md, "generation"));
	uint64_t meta = meta_hash(md);
	bool deleting = json_object_get(md, "deletionTimestamp") != NULL;
	struct op_verdict v = {true, true};
	struct seen **pp, *s;
	size_t n;

	pthread_mutex_lock(&p->mu);
	for (pp = &p->b[str_hash(key) % OP_PRED_BUCKETS]; (s = *pp) != NULL; pp = &s->next)
		if (strcmp(s->key, key) == 0)
			break;
	if (ev == KUBE_DELETED) {
		if (s) {
			*pp = s->next;
			free(s);
		}
		goto out;
	}
	if (s == NULL) {
		n = strlen(key) + 1;
		s = xcalloc(1, sizeof(*s) + n);
		memcpy(s->key, key, n);
		s->next = NULL;
		*pp = s;
	} else if (ev == KUBE_MODIFIED) {
		/* An ADDED for a known key (a re-list) counts as a creation. */
		v.generation_changed = s->generation != gen;
		v.reconcile = v.generation_changed || (deleting && !s->deleting) ||
		              (secret_kind(kind) && s->meta != meta);
	}
	s->generation = gen;
	s->meta = meta;
	s->deleting = deleting;
out:
	pthread_mutex_unlock(&p->mu);
	return v;
}
