/* clock.c — see clock.h. */
#include <time.h>

#include "clock.h"

#include "banned.h"

#define NS_PER_S 1000000000LL

static int64_t ns_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + (int64_t)ts.tv_nsec;
}

int64_t clock_realtime_s(void)
{
	return (int64_t)time(NULL);
}

int64_t clock_realtime_ns(void)
{
	return ns_of(CLOCK_REALTIME);
}

int64_t clock_monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t clock_monotonic_ns(void)
{
	return ns_of(CLOCK_MONOTONIC);
}

int64_t clock_read(const struct clock *c, int64_t (*system)(void))
{
	return c && c->now ? c->now(c->arg) : system();
}
