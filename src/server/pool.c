/* pool.c — fixed worker threads over a bounded FIFO ring.
 *
 * One mutex and one condition variable. Every write crosses this queue
 * (a login, a token create), so it is hot: a submitter signals only when
 * a worker is idle, and only after dropping the lock, so the woken worker
 * does not at once block again on the lock its waker still holds (the
 * profile of AppRole logins showed a quarter of the time in that). */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "pool.h"

#include "buf.h"
#include "err.h"

#include "banned.h"

#define POOL_STACK_SIZE ((size_t)1 << 20)

struct job {
	pool_fn fn;
	void *arg;
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t nonempty;
	struct job *ring;
	size_t cap, head, len;
	unsigned idle; /* workers waiting for a job */
	bool stopping;
	pthread_t *threads;
	unsigned nthreads;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		struct job j;
		pthread_mutex_lock(&p->lock);
		while (p->len == 0 && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->nonempty, &p->lock);
			p->idle--;
		}
		if (p->len == 0 && p->stopping) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		j = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->len--;
		pthread_mutex_unlock(&p->lock);
		j.fn(j.arg);
	}
}

struct pool *pool_new(unsigned nthreads, size_t max_queue)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->nonempty, NULL);
	p->cap = max_queue ? max_queue : 1;
	p->ring = xcalloc(p->cap, sizeof(*p->ring));
	p->threads = xcalloc(nthreads, sizeof(*p->threads));
	/* Small explicit stacks: with mlockall(MCL_FUTURE) every thread's
	 * stack is locked in RAM, and the default 8 MiB times the pool size
	 * would pin hundreds of MiB. Handlers do not recurse deeply. */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, POOL_STACK_SIZE);
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], &attr, worker, p) != 0)
			break;
		p->nthreads++;
	}
	pthread_attr_destroy(&attr);
	if (p->nthreads == 0) {
		pool_free(p);
		return NULL;
	}
	return p;
}

int pool_submit(struct pool *p, pool_fn fn, void *arg)
{
	int r = TROVE_ERR_UNAVAILABLE;
	bool wake = false;
	pthread_mutex_lock(&p->lock);
	if (!p->stopping && p->len < p->cap) {
		p->ring[(p->head + p->len) % p->cap] = (struct job){ fn, arg };
		p->len++;
		wake = p->idle > 0;
		r = 0;
	}
	pthread_mutex_unlock(&p->lock);
	if (wake)
		pthread_cond_signal(&p->nonempty);
	return r;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->nonempty);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->nonempty);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->ring);
	free(p);
}
