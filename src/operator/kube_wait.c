/* kube_wait.c — how the client's background threads (informers, the
 * elector) wait and learn that they must stop (kube_int.h). */
#include <time.h>

#include "operator/kube_int.h"

#include "banned.h"

void kube_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

bool kube_stopped(pthread_mutex_t *mu, const bool *stop)
{
	bool s;

	pthread_mutex_lock(mu);
	s = *stop;
	pthread_mutex_unlock(mu);
	return s;
}

void kube_wait(pthread_mutex_t *mu, pthread_cond_t *cv, const bool *stop, long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L)
		until.tv_sec++, until.tv_nsec -= 1000000000L;
	pthread_mutex_lock(mu);
	while (!*stop && pthread_cond_timedwait(cv, mu, &until) == 0)
		;
	pthread_mutex_unlock(mu);
}
