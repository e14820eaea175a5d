/* duration.h — Vault-style durations.
 *
 * Accepted: a non-negative integer of seconds ("300"), or a Go duration
 * string: one or more <number><unit> with units ns us µs ms s m h, plus
 * d (24h) for Vault compatibility, e.g. "1h30m", "2160h0m0s", "1.5h", "0".
 * Values are truncated to whole seconds by duration_parse_seconds.
 * Overflow, negative values, empty input and unknown units are errors. */
#ifndef TROVE_DURATION_H
#define TROVE_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses into nanoseconds. Returns 0 or TROVE_ERR_INVALID. */
int duration_parse_ns(const char *s, size_t len, int64_t *out_ns);
/* Parses into whole seconds (truncating). Returns 0 or TROVE_ERR_INVALID. */
int duration_parse_seconds(const char *s, size_t len, int64_t *out_s);
/* The longest duration Trove takes from a client, anywhere one is given
 * (TTLs, periods, increments, the wrapping TTL): 100 years of 365 days.
 * Bounding every duration where it is read keeps `time + duration` far
 * from int64 overflow; duration_add checks the sums all the same. */
#define DURATION_MAX_SECONDS (INT64_C(100) * 365 * 86400)

/* Why secs is not an acceptable duration ("cannot be negative", "cannot
 * exceed 100 years"), or NULL when 0 <= secs <= DURATION_MAX_SECONDS. The
 * caller names the field. */
const char *duration_check(int64_t secs);

/* *out = t + secs, both in seconds (or both in nanoseconds), checked.
 * Returns 0, or TROVE_ERR_INVALID (leaving *out alone) when the sum
 * overflows int64 or is not positive: a non-positive expiry would read as
 * "never expires". */
int duration_add(int64_t t, int64_t secs, int64_t *out);

/* *out = t_ns + secs seconds, in nanoseconds, checked as duration_add. */
int duration_add_ns(int64_t t_ns, int64_t secs, int64_t *out);

/* Formats seconds the way Go's time.Duration.String() does ("768h0m0s",
 * "1m30s", "0s") into out (at least 32 bytes). */
void duration_format(int64_t seconds, char *out, size_t out_size);

/* Parses a size such as "32MiB", "33554432", "1g", "512k", "10MB" into bytes.
 * Binary multiples (k/ki/kib = 1024). Returns 0 or TROVE_ERR_INVALID. */
int size_parse(const char *s, size_t len, uint64_t *out);

#endif
