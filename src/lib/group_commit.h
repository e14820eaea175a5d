/* group_commit.h — callers queue work and one of them, the leader, does
 * the whole queue's work at once.
 *
 * Used where each unit of work ends in an expensive step that covers any
 * amount of it: an fsync (the LMDB backend's commits, the file audit
 * device's writes). Each caller puts a request (on its own stack) in a
 * FIFO queue under the owner's mutex and waits. Whoever finds itself
 * queued with no leader at work becomes the leader: it detaches a group
 * from the head of the queue, drops the mutex, does the group's work,
 * retakes the mutex, hands leadership to the new head of the queue,
 * drops the mutex and publishes each member's result.
 *
 * Waking. Each request sleeps on a futex word of its own rather than a
 * condition variable under the mutex: a member woken under the lock would
 * only block again on the lock the leader holds, and with a group of
 * dozens that is dozens of extra sleeps a round. The next leader is woken
 * under the lock (still queued, so it cannot leave). A member's result is
 * published by setting GC_DONE in its word, the leader's last access to
 * the request: the member may see it, return and reuse its stack at once,
 * and the FUTEX_WAKE that follows names the address without touching
 * memory. Such a late wake can reach a newer request at the same address,
 * so a woken request rechecks: it leads only while still queued (cleared
 * when a leader takes it), never from inside a group in flight.
 *
 * The mutex is the owner's (it usually guards more state, such as the
 * file descriptor being written), and every function below says whether
 * it must be held. */
#ifndef TROVE_GROUP_COMMIT_H
#define TROVE_GROUP_COMMIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The bit of a request's word that says its result is published; the low
 * bits count wake-ups ("you may lead", "your writers are back"). */
#define GC_DONE 0x80000000u

/* One caller's unit of work, embedded in the owner's request (on the
 * caller's stack). Zero-initialise it. next and queued are used under the
 * mutex; result is written by the leader before GC_DONE is published. */
struct gc_req {
	int result;
	_Atomic uint32_t word;
	bool queued; /* in the queue, not yet taken into a group */
	struct gc_req *next;
};

/* The queue. Zero-initialised (or GC_QUEUE_INIT) is empty and idle. */
struct gc_queue {
	struct gc_req *head, *tail;
	bool busy; /* a leader is at work (or lingering before it) */
};

#define GC_QUEUE_INIT {NULL, NULL, false}

/* Appends r to the queue. Mutex held. */
void gc_enqueue(struct gc_queue *q, struct gc_req *r);

/* Waits, after gc_enqueue, for r's turn. Called with mu held. Returns
 * true when r's result is published (r->result; mu is NOT held then), or
 * false when r is to lead: still queued with no leader at work (mu held;
 * the caller sets q->busy, takes its group and does the work). */
bool gc_await(struct gc_queue *q, struct gc_req *r, pthread_mutex_t *mu);

/* Detaches a group from the head of the queue (which must not be empty):
 * the head, then each following request while more(next, arg) says it
 * still fits (more NULL: the whole queue). Mutex held. Returns the
 * group's first request; the group is linked through next and ends with
 * NULL. */
struct gc_req *gc_take(struct gc_queue *q, bool (*more)(const struct gc_req *next, void *arg), void *arg);

/* The leader, its work done: clears q->busy and wakes the new head of the
 * queue, if any, to lead the next group. Mutex held. */
void gc_handoff(struct gc_queue *q);

/* Publishes every member's result (each set before by the leader, or
 * result for all when all is true), then wakes it; self, the leader's own
 * request, is marked done without a wake. Mutex NOT held. After this no
 * member of the group may be touched. */
void gc_publish(struct gc_req *group, const struct gc_req *self, bool all, int result);

/* Wakes a request that cannot leave meanwhile (queued, or a lingering
 * leader), counting the wake in its word. Mutex held. */
void gc_poke(struct gc_req *r);

/* Sleeps while r's word still equals seen, at most timeout (NULL: no
 * limit). Spurious returns are fine: every caller rechecks. Mutex NOT
 * held. */
void gc_sleep(struct gc_req *r, uint32_t seen, const struct timespec *timeout);

#endif
