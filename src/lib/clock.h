/* clock.h — reading the time, and the one way tests replace it.
 *
 * Code that decides by the time (token and lease expiry, AppRole secret-ID
 * expiry, login lockouts) reads it through a struct clock pointer, NULL
 * meaning the system clock of the kind that code needs. A test installs
 * its own struct clock with the subsystem's *_set_clock and moves time by
 * hand. The clock_* readers below are also the one place that turns a
 * struct timespec into seconds or nanoseconds. */
#ifndef TROVE_CLOCK_H
#define TROVE_CLOCK_H

#include <stdint.h>

struct clock {
	/* The time now, in the unit the reading code uses (seconds or
	 * nanoseconds, wall or monotonic: each *_set_clock says). */
	int64_t (*now)(void *arg);
	void *arg;
};

/* Unix time in seconds and in nanoseconds (CLOCK_REALTIME). */
int64_t clock_realtime_s(void);
int64_t clock_realtime_ns(void);
/* Seconds and nanoseconds of CLOCK_MONOTONIC: for intervals only. */
int64_t clock_monotonic_s(void);
int64_t clock_monotonic_ns(void);

/* c->now(c->arg), or system() when c is NULL or has no now. */
int64_t clock_read(const struct clock *c, int64_t (*system)(void));

#endif
