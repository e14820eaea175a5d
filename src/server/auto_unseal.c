/* auto_unseal.c — the auto-unseal thread (see auto_unseal.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auto_unseal.h"

#include "core/core.h"
#include "err.h"
#include "log.h"

#include "banned.h"

struct auto_unseal {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	struct core *core;
};

/* Waits ms or until stopped; returns whether stopped. */
static bool wait_ms(struct auto_unseal *a, long ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&a->lock);
	while (!a->stop && pthread_cond_timedwait(&a->wake, &a->lock, &until) != ETIMEDOUT)
		;
	bool stop = a->stop;
	pthread_mutex_unlock(&a->lock);
	return stop;
}

static void *run(void *arg)
{
	struct auto_unseal *a = arg;
	long delay = 0;
	struct buf err;

	buf_init(&err, 512);
	for (;;) {
		bool init = false;
		if (delay && wait_ms(a, delay))
			break;
		if (core_initialized(a->core, &init) != 0 || !init) {
			delay = 1000; /* waiting for sys/init (here or on another node) */
			continue;
		}
		if (!core_sealed(a->core))
			break;
		buf_reset(&err);
		int r = core_auto_unseal(a->core, &err);
		if (r == 0)
			break;
		if (r == TROVE_ERR_INVALID) {
			log_warn("auto-unseal not attempted", "reason", err.len ? err.data : err_message(r));
			break;
		}
		delay = delay < AUTO_UNSEAL_FIRST_MS ? AUTO_UNSEAL_FIRST_MS : delay * 2;
		if (delay > AUTO_UNSEAL_MAX_MS)
			delay = AUTO_UNSEAL_MAX_MS;
		char retry[32];
		snprintf(retry, sizeof(retry), "%ldms", delay);
		log_error("auto-unseal failed; the server stays sealed and retries", "error",
		          err.len ? err.data : err_message(r), "retry_in", retry);
	}
	buf_release(&err);
	return NULL;
}

struct auto_unseal *auto_unseal_start(struct core *c)
{
	struct auto_unseal *a = xcalloc(1, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	a->core = c;
	if (pthread_create(&a->thread, NULL, run, a) != 0) {
		pthread_cond_destroy(&a->wake);
		pthread_mutex_destroy(&a->lock);
		free(a);
		return NULL;
	}
	return a;
}

void auto_unseal_stop(struct auto_unseal *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
