/* cron.h — standard 5-field cron schedules, as Vault's rotation_schedule
 * takes them (robfig/cron's standard parser), evaluated in UTC.
 *
 *   minute hour day-of-month month day-of-week
 *
 * Each field is a comma list of items; an item is `*` (or `?`), a number,
 * a range `a-b`, any of these with a step `/n` (`5/15` is `5-max/15`);
 * months take JAN-DEC and days of the week SUN-SAT (any case), Sunday is
 * 0 (7 is refused, as robfig does). Bounds: 0-59, 0-23, 1-31, 1-12, 0-6.
 * The descriptors @yearly, @annually, @monthly, @weekly, @daily,
 * @midnight and @hourly stand for their 5-field forms; @every and time
 * zone prefixes are refused.
 *
 * Day matching is cron's: when either day field is unrestricted (starts
 * with `*` or `?`, no step above 1) a day must match both; when both are
 * restricted, either will do (`0 0 13 * FRI`: every 13th and every
 * Friday). */
#ifndef TROVE_CRON_H
#define TROVE_CRON_H

#include <stdbool.h>
#include <stdint.h>

struct cron_spec {
	uint64_t minute, hour, dom, month, dow; /* bit i set: value i matches */
	bool dom_star, dow_star;                /* the field was unrestricted */
};

/* Parses text into *out. 0, or TROVE_ERR_INVALID with *why the reason
 * and *field the field's name ("minute", "hour", "day of month", "month",
 * "day of week"; NULL when the schedule as a whole is wrong), both static
 * text. */
int cron_parse(const char *text, struct cron_spec *out, const char **field, const char **why);

/* The first matching minute strictly after unix time after_s (seconds,
 * UTC), as unix seconds; -1 when none comes within five years (a schedule
 * such as `0 0 30 2 *` never matches). */
int64_t cron_next(const struct cron_spec *c, int64_t after_s);

#endif
