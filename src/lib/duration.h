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
/* Formats seconds the way Go's time.Duration.String() does ("768h0m0s",
 * "1m30s", "0s") into out (at least 32 bytes). */
void duration_format(int64_t seconds, char *out, size_t out_size);

/* Parses a size such as "32MiB", "33554432", "1g", "512k", "10MB" into bytes.
 * Binary multiples (k/ki/kib = 1024). Returns 0 or TROVE_ERR_INVALID. */
int size_parse(const char *s, size_t len, uint64_t *out);

#endif
