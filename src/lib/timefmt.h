/* timefmt.h — timestamps as the API writes them: RFC 3339 in UTC.
 *
 *   time_rfc3339(secs)   "2026-11-30T12:00:00Z"
 *   time_rfc3339_ns(ns)  Go's RFC3339Nano: "2026-11-30T12:00:00.1234Z",
 *                        fraction trimmed of trailing zeros, none when
 *                        whole (what Vault writes for KV versions, secret
 *                        IDs and audit entries)
 * out holds at least TIME_TEXT_MAX bytes; a time gmtime cannot represent
 * gives "". */
#ifndef TROVE_TIMEFMT_H
#define TROVE_TIMEFMT_H

#include <stdint.h>

#define TIME_TEXT_MAX 48

void time_rfc3339(int64_t secs, char out[TIME_TEXT_MAX]);
void time_rfc3339_ns(int64_t ns, char out[TIME_TEXT_MAX]);
/* The current time, as time_rfc3339_ns. */
void time_now_rfc3339_ns(char out[TIME_TEXT_MAX]);
/* The inverse of time_rfc3339: "2026-11-30T12:00:00Z" (exactly that
 * form) to Unix seconds in *secs. 0, or -1 for any other text. */
int time_parse_rfc3339(const char *text, int64_t *secs);

#endif
