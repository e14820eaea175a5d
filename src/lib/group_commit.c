/* group_commit.c — see group_commit.h. */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "group_commit.h"

#include "banned.h"

void gc_sleep(struct gc_req *r, uint32_t seen, const struct timespec *timeout)
{
	(void)syscall(SYS_futex, &r->word, FUTEX_WAIT_PRIVATE, seen, timeout, NULL, 0);
}

static void wake(_Atomic uint32_t *word)
{
	(void)syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void gc_poke(struct gc_req *r)
{
	atomic_fetch_add_explicit(&r->word, 1, memory_order_relaxed);
	wake(&r->word);
}

void gc_enqueue(struct gc_queue *q, struct gc_req *r)
{
	r->next = NULL;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	r->queued = true;
}

bool gc_await(struct gc_queue *q, struct gc_req *r, pthread_mutex_t *mu)
{
	for (;;) {
		uint32_t seen = atomic_load_explicit(&r->word, memory_order_acquire);
		if (seen & GC_DONE) {
			pthread_mutex_unlock(mu);
			return true;
		}
		/* Lead only from the queue with no leader at work. A request
		 * already taken into a group waits for its result: it can wake
		 * early (a wake meant for an earlier request at the same stack
		 * address), and must not then lead an empty queue. */
		if (!q->busy && r->queued)
			return false;
		pthread_mutex_unlock(mu);
		gc_sleep(r, seen, NULL);
		if (atomic_load_explicit(&r->word, memory_order_acquire) & GC_DONE)
			return true; /* published by a leader; lock not held */
		pthread_mutex_lock(mu);
	}
}

struct gc_req *gc_take(struct gc_queue *q, bool (*more)(const struct gc_req *next, void *arg), void *arg)
{
	struct gc_req *first = q->head, *last = first;

	first->queued = false;
	while (last->next && (more == NULL || more(last->next, arg))) {
		last = last->next;
		last->queued = false;
	}
	q->head = last->next;
	if (q->head == NULL)
		q->tail = NULL;
	last->next = NULL;
	return first;
}

void gc_handoff(struct gc_queue *q)
{
	q->busy = false;
	if (q->head)
		gc_poke(q->head); /* still queued, so it cannot return yet */
}

void gc_publish(struct gc_req *group, const struct gc_req *self, bool all, int result)
{
	/* read next before the store, after which g may be gone */
	for (struct gc_req *g = group, *next; g; g = next) {
		next = g->next;
		if (all)
			g->result = result;
		atomic_fetch_or_explicit(&g->word, GC_DONE, memory_order_release);
		if (g != self)
			wake(&g->word);
	}
}
