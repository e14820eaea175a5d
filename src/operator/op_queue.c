/* op_queue.c — the work queue (op_queue.h).
 *
 * One mutex guards everything. Each key that is queued, processing,
 * waiting in the timer heap or has failures has one struct item, found by
 * a chained hash table; it is freed as soon as it is none of these, so an
 * idle queue holds nothing. Ready items form a FIFO list (an item is in it
 * exactly when dirty and not processing, as in client-go); delayed ones a
 * binary min-heap on their due time, each item knowing its heap slot so a
 * new earlier time or an immediate add finds it at once. Workers wait on
 * one condition variable (CLOCK_MONOTONIC) until the ready list has an
 * item or the heap's first item falls due: the queue needs no thread of
 * its own. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "operator/op_queue.h"
#include "strhash.h"

#include "banned.h"

#define NOT_WAITING SIZE_MAX
#define NS_PER_MS 1000000LL

struct item {
	char *key;
	struct item *hnext; /* hash chain */
	struct item *qnext; /* ready FIFO */
	bool dirty;         /* needs processing (queued, or again after done) */
	bool processing;
	size_t heap_idx;    /* slot in the timer heap, or NOT_WAITING */
	int64_t due_ns;     /* when waiting: CLOCK_MONOTONIC due time */
	unsigned failures;
};

struct op_queue {
	pthread_mutex_t mu;
	pthread_cond_t cond; /* a key became ready, the heap's head changed, shutdown, idle */
	struct op_queue_opts o;

	struct item **table;
	size_t nbuckets, nitems;

	struct item *head, *tail; /* ready FIFO */
	size_t nready;

	struct item **heap;
	size_t nheap, capheap;

	double tokens; /* the bucket; negative: reserved ahead */
	int64_t refilled_ns;

	size_t nprocessing;
	bool shutdown;
};

struct op_queue *op_queue_new(const struct op_queue_opts *opts)
{
	struct op_queue *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (q == NULL)
		return NULL;
	if (opts)
		q->o = *opts;
	if (q->o.base_delay_ms <= 0)
		q->o.base_delay_ms = OP_QUEUE_BASE_DELAY_MS;
	if (q->o.max_delay_ms <= 0)
		q->o.max_delay_ms = OP_QUEUE_MAX_DELAY_MS;
	if (q->o.qps <= 0)
		q->o.qps = OP_QUEUE_QPS;
	if (q->o.burst <= 0)
		q->o.burst = OP_QUEUE_BURST;
	q->tokens = q->o.burst;
	q->refilled_ns = clock_monotonic_ns();
	q->nbuckets = 64;
	q->table = calloc(q->nbuckets, sizeof(*q->table));
	if (q->table == NULL)
		goto fail;
	if (pthread_mutex_init(&q->mu, NULL) != 0)
		goto fail;
	if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&q->cond, &ca) != 0) {
		pthread_mutex_destroy(&q->mu);
		goto fail;
	}
	pthread_condattr_destroy(&ca);
	return q;
fail:
	free(q->table);
	free(q);
	return NULL;
}

void op_queue_free(struct op_queue *q)
{
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < q->nbuckets; i++) {
		struct item *it = q->table[i], *next;

		for (; it; it = next) {
			next = it->hnext;
			free(it->key);
			free(it);
		}
	}
	free(q->table);
	free(q->heap);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

/* ---- the table ----------------------------------------------------------- */

static struct item **slot_of(struct op_queue *q, const char *key)
{
	struct item **p = &q->table[str_hash(key) % q->nbuckets];

	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->hnext;
	return p;
}

static void grow_table(struct op_queue *q)
{
	size_t n = q->nbuckets * 2, i;
	struct item **t = calloc(n, sizeof(*t));

	if (t == NULL)
		return; /* longer chains, still correct */
	for (i = 0; i < q->nbuckets; i++) {
		struct item *it = q->table[i], *next;

		for (; it; it = next) {
			size_t b = str_hash(it->key) % n;

			next = it->hnext;
			it->hnext = t[b];
			t[b] = it;
		}
	}
	free(q->table);
	q->table = t;
	q->nbuckets = n;
}

/* The item of key, made when absent (NULL only when out of memory). */
static struct item *get_item(struct op_queue *q, const char *key)
{
	struct item **p = slot_of(q, key), *it;

	if (*p)
		return *p;
	it = calloc(1, sizeof(*it));
	if (it == NULL || (it->key = strdup(key)) == NULL) {
		free(it);
		return NULL;
	}
	it->heap_idx = NOT_WAITING;
	*p = it;
	if (++q->nitems > q->nbuckets * 2)
		grow_table(q);
	return it;
}

/* Frees it when nothing refers to it any more. */
static void maybe_drop(struct op_queue *q, struct item *it)
{
	struct item **p;

	if (it->dirty || it->processing || it->heap_idx != NOT_WAITING || it->failures > 0)
		return;
	p = slot_of(q, it->key);
	*p = it->hnext;
	q->nitems--;
	free(it->key);
	free(it);
}

/* ---- the timer heap ------------------------------------------------------ */

static void heap_set(struct op_queue *q, size_t i, struct item *it)
{
	q->heap[i] = it;
	it->heap_idx = i;
}

static void sift_up(struct op_queue *q, size_t i)
{
	struct item *it = q->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (q->heap[parent]->due_ns <= it->due_ns)
			break;
		heap_set(q, i, q->heap[parent]);
		i = parent;
	}
	heap_set(q, i, it);
}

static void sift_down(struct op_queue *q, size_t i)
{
	struct item *it = q->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, m = i;
		int64_t best = it->due_ns;

		if (l < q->nheap && q->heap[l]->due_ns < best)
			m = l, best = q->heap[l]->due_ns;
		if (l + 1 < q->nheap && q->heap[l + 1]->due_ns < best)
			m = l + 1;
		if (m == i)
			break;
		heap_set(q, i, q->heap[m]);
		i = m;
	}
	heap_set(q, i, it);
}

static bool heap_push(struct op_queue *q, struct item *it)
{
	if (q->nheap == q->capheap) {
		size_t n = q->capheap ? q->capheap * 2 : 16;
		struct item **h = realloc(q->heap, n * sizeof(*h));

		if (h == NULL)
			return false;
		q->heap = h;
		q->capheap = n;
	}
	heap_set(q, q->nheap++, it);
	sift_up(q, it->heap_idx);
	return true;
}

static void heap_remove(struct op_queue *q, struct item *it)
{
	size_t i = it->heap_idx;
	struct item *last = q->heap[--q->nheap];

	it->heap_idx = NOT_WAITING;
	if (last == it)
		return;
	heap_set(q, i, last);
	sift_up(q, i);
	sift_down(q, last->heap_idx);
}

/* ---- adding -------------------------------------------------------------- */

static void push_ready(struct op_queue *q, struct item *it)
{
	it->qnext = NULL;
	if (q->tail)
		q->tail->qnext = it;
	else
		q->head = it;
	q->tail = it;
	q->nready++;
}

/* client-go's Add on an existing item. */
static void add_now(struct op_queue *q, struct item *it)
{
	if (it->heap_idx != NOT_WAITING)
		heap_remove(q, it);
	if (it->dirty)
		return;
	it->dirty = true;
	if (!it->processing) {
		push_ready(q, it);
		pthread_cond_signal(&q->cond);
	}
}

static void add_locked(struct op_queue *q, const char *key, long delay_ms)
{
	struct item *it;
	int64_t due;

	if (q->shutdown || (it = get_item(q, key)) == NULL)
		return;
	if (delay_ms <= 0) {
		add_now(q, it);
		return;
	}
	if (it->dirty)
		return; /* it runs sooner than that anyway */
	due = clock_monotonic_ns() + (int64_t)delay_ms * NS_PER_MS;
	if (it->heap_idx != NOT_WAITING) {
		if (due < it->due_ns) {
			it->due_ns = due;
			sift_up(q, it->heap_idx);
			pthread_cond_broadcast(&q->cond);
		}
		return;
	}
	it->due_ns = due;
	if (!heap_push(q, it)) {
		maybe_drop(q, it);
		return;
	}
	if (it->heap_idx == 0)
		pthread_cond_broadcast(&q->cond); /* a new earliest time: waiters re-arm */
}

void op_queue_add(struct op_queue *q, const char *key, long delay_ms)
{
	pthread_mutex_lock(&q->mu);
	add_locked(q, key, delay_ms);
	pthread_mutex_unlock(&q->mu);
}

/* The token bucket's delay for one more add (rate.Limiter.Reserve). */
static long bucket_delay_ms(struct op_queue *q)
{
	int64_t now = clock_monotonic_ns();

	q->tokens += (double)(now - q->refilled_ns) / 1e9 * q->o.qps;
	if (q->tokens > q->o.burst)
		q->tokens = q->o.burst;
	q->refilled_ns = now;
	q->tokens -= 1;
	if (q->tokens >= 0)
		return 0;
	return (long)(-q->tokens / q->o.qps * 1000.0 + 0.999);
}

/* base * 2^failures, capped, before counting this failure. */
static long backoff_ms(const struct op_queue *q, unsigned failures)
{
	long d = q->o.base_delay_ms;
	unsigned i;

	for (i = 0; i < failures && d < q->o.max_delay_ms; i++)
		d *= 2;
	return d < q->o.max_delay_ms ? d : q->o.max_delay_ms;
}

long op_queue_add_rate_limited(struct op_queue *q, const char *key)
{
	struct item *it;
	long d = -1, b;

	pthread_mutex_lock(&q->mu);
	if (!q->shutdown && (it = get_item(q, key)) != NULL) {
		d = backoff_ms(q, it->failures);
		if (it->failures < UINT32_MAX)
			it->failures++;
		b = bucket_delay_ms(q);
		if (b > d)
			d = b;
		add_locked(q, key, d);
	}
	pthread_mutex_unlock(&q->mu);
	return d;
}

void op_queue_forget(struct op_queue *q, const char *key)
{
	struct item **p;

	pthread_mutex_lock(&q->mu);
	p = slot_of(q, key);
	if (*p) {
		(*p)->failures = 0;
		maybe_drop(q, *p);
	}
	pthread_mutex_unlock(&q->mu);
}

unsigned op_queue_failures(struct op_queue *q, const char *key)
{
	struct item **p;
	unsigned n;

	pthread_mutex_lock(&q->mu);
	p = slot_of(q, key);
	n = *p ? (*p)->failures : 0;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* ---- taking -------------------------------------------------------------- */

/* Moves every due item of the heap to the ready list. Returns the next
 * due time, or -1 when the heap is empty. */
static int64_t release_due(struct op_queue *q)
{
	int64_t now = clock_monotonic_ns();

	while (q->nheap > 0) {
		struct item *it = q->heap[0];

		if (it->due_ns > now)
			return it->due_ns;
		add_now(q, it); /* takes it out of the heap */
	}
	return -1;
}

static struct timespec ns_to_ts(int64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000LL), .tv_nsec = (long)(ns % 1000000000LL) };

	return ts;
}

const char *op_queue_get_timed(struct op_queue *q, long timeout_ms)
{
	int64_t until = timeout_ms < 0 ? -1 : clock_monotonic_ns() + (int64_t)timeout_ms * NS_PER_MS;
	const char *key = NULL;

	pthread_mutex_lock(&q->mu);
	while (!q->shutdown) {
		int64_t next = release_due(q), wake;
		struct timespec ts;

		if (q->head) {
			struct item *it = q->head;

			q->head = it->qnext;
			if (q->head == NULL)
				q->tail = NULL;
			q->nready--;
			it->dirty = false;
			it->processing = true;
			q->nprocessing++;
			key = it->key;
			break;
		}
		wake = next;
		if (until >= 0 && (wake < 0 || until < wake))
			wake = until;
		if (wake < 0) {
			pthread_cond_wait(&q->cond, &q->mu);
			continue;
		}
		if (wake == until && clock_monotonic_ns() >= until)
			break;
		ts = ns_to_ts(wake);
		(void)pthread_cond_timedwait(&q->cond, &q->mu, &ts);
	}
	pthread_mutex_unlock(&q->mu);
	return key;
}

const char *op_queue_get(struct op_queue *q)
{
	return op_queue_get_timed(q, -1);
}

void op_queue_done(struct op_queue *q, const char *key)
{
	struct item **p;

	pthread_mutex_lock(&q->mu);
	p = slot_of(q, key);
	if (*p && (*p)->processing) {
		struct item *it = *p;

		it->processing = false;
		q->nprocessing--;
		if (it->dirty && !q->shutdown) {
			push_ready(q, it);
			pthread_cond_signal(&q->cond);
		} else {
			it->dirty = false;
			maybe_drop(q, it);
		}
		if (q->nprocessing == 0)
			pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->mu);
}

size_t op_queue_len(struct op_queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	(void)release_due(q);
	n = q->nready;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t op_queue_delayed(struct op_queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	(void)release_due(q);
	n = q->nheap;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void op_queue_shutdown(struct op_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutdown = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

bool op_queue_shutting_down(struct op_queue *q)
{
	bool s;

	pthread_mutex_lock(&q->mu);
	s = q->shutdown;
	pthread_mutex_unlock(&q->mu);
	return s;
}

bool op_queue_wait_idle(struct op_queue *q, long timeout_ms)
{
	struct timespec ts = ns_to_ts(clock_monotonic_ns() + (int64_t)timeout_ms * NS_PER_MS);
	bool idle;

	pthread_mutex_lock(&q->mu);
	while (q->nprocessing > 0)
		if (pthread_cond_timedwait(&q->cond, &q->mu, &ts) == ETIMEDOUT)
			break;
	idle = q->nprocessing == 0;
	pthread_mutex_unlock(&q->mu);
	return idle;
}
