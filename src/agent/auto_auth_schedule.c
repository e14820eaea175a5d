/* auto_auth_schedule.c — the backoff between failed logins and the
 * renewal schedule of the token (auto_auth.h). Pure arithmetic: the
 * randomness is the caller's or rand_bytes'. */
#include <stdint.h>

#include "agent/auto_auth.h"
#include "rand.h"

#include "banned.h"

#define DEFAULT_MIN_BACKOFF_MS 1000L
#define DEFAULT_MAX_BACKOFF_MS (5L * 60 * 1000)

static uint64_t random_u64(void)
{
	uint64_t v = 0;

	if (rand_bytes(&v, sizeof(v)) != 0)
		v = 0; /* no jitter rather than no backoff */
	return v;
}

void auto_auth_backoff_init(struct auto_auth_backoff *b, long min_ms, long max_ms)
{
	b->min_ms = min_ms > 0 ? min_ms : DEFAULT_MIN_BACKOFF_MS;
	b->max_ms = max_ms > 0 ? max_ms : DEFAULT_MAX_BACKOFF_MS;
	if (b->max_ms < b->min_ms)
		b->max_ms = b->min_ms;
	b->cur_ms = b->min_ms;
}

long auto_auth_backoff_next(struct auto_auth_backoff *b)
{
	long wait = b->cur_ms;
	long doubled = b->cur_ms > b->max_ms / 2 ? b->max_ms : 2 * b->cur_ms;
	long trim = doubled / 4 > 0 ? (long)(random_u64() % (uint64_t)(doubled / 4)) : 0;

	b->cur_ms = doubled - trim;
	if (b->cur_ms < b->min_ms)
		b->cur_ms = b->min_ms;
	return wait;
}

void auto_auth_backoff_reset(struct auto_auth_backoff *b)
{
	b->cur_ms = b->min_ms;
}

/* 10 % of the lease plus a random 0-10 % more. */
static int64_t grace_of(int64_t lease_ms, uint64_t rnd)
{
	int64_t tenth = lease_ms / 10;

	if (lease_ms <= 0)
		return 0;
	return tenth + (tenth > 0 ? (int64_t)(rnd % (uint64_t)tenth) : 0);
}

void auto_auth_renewal_init(struct auto_auth_renewal *p, int64_t lease_ms, uint64_t rnd)
{
	p->grace_ms = grace_of(lease_ms, rnd);
	p->prior_ms = lease_ms;
}

int64_t auto_auth_renewal_next(struct auto_auth_renewal *p, int64_t remaining_ms, uint64_t rnd)
{
	int64_t sleep_ms;

	if (remaining_ms > p->prior_ms)
		p->grace_ms = grace_of(remaining_ms, rnd);
	p->prior_ms = remaining_ms;
	sleep_ms = remaining_ms / 3 * 2 + (remaining_ms % 3) * 2 / 3 + p->grace_ms / 3;
	if (remaining_ms <= p->grace_ms || remaining_ms - sleep_ms <= p->grace_ms)
		return -1;
	return sleep_ms;
}
