/* audit_time.h — the times of audit entries and of the -since/-until
 * flags: RFC 3339 in, RFC 3339 UTC out, nanoseconds kept. */
#ifndef TROVE_CLI_AUDIT_TIME_H
#define TROVE_CLI_AUDIT_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

struct aq_time {
	int64_t sec; /* since the Unix epoch, UTC */
	int32_t nsec;
};

/* Parses RFC 3339 ("2024-05-01T10:00:00.5Z", "...+02:00"; 'T', 't' or a
 * space between date and time) or a bare date ("2024-05-01", midnight
 * UTC). Returns true and fills *out, or false. */
bool aq_time_parse(const char *s, struct aq_time *out);
/* Appends t as RFC 3339 in UTC: "2024-05-01T10:00:00Z", with the fraction
 * (trailing zeros cut) when frac is true and there is one. */
void aq_time_format(const struct aq_time *t, bool frac, struct buf *out);
/* <0, 0, >0 as a is before, at, after b. */
int aq_time_cmp(const struct aq_time *a, const struct aq_time *b);

#endif
