/* retry.h — when a call is tried again, and how long to wait first.
 *
 * The policy is that of Vault's Go client (hashicorp/vault api: its
 * DefaultRetryPolicy over go-retryablehttp's): retry a 412 (a standby's
 * consistency requirement not met yet), a 429 and every 5xx but 501, and
 * a connection that failed or broke off; never a timeout (the call's time
 * is spent), a TLS failure (a certificate does not get better) or a body
 * over the cap. Vault retries every method alike, and so does Trove.
 *
 * The wait before retry n (0 for the first retry) is min * 2^n plus up to
 * half of that again at random, capped at max; a Retry-After the server
 * sent with a 429 or 503 is used instead (capped at max). Pure functions
 * but api_retry_sleep_ms: unit-testable. */
#ifndef TROVE_API_RETRY_H
#define TROVE_API_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

/* True when an attempt that ended with this failure and status (status 0
 * when no answer arrived) is worth another try. */
bool api_retry_wanted(enum api_failure failure, long status);

/* Milliseconds to wait before retry n (0-based). retry_after_ms is the
 * server's Retry-After for this status, or -1; it counts only for 429 and
 * 503. rnd is a random value (any uint32) for the jitter. */
long api_retry_wait_ms(int n, long min_ms, long max_ms, long status, long retry_after_ms, uint32_t rnd);

/* Reads a response header line (n bytes, not NUL-terminated, CRLF
 * included or not). For "Retry-After: <seconds>" (name in any case)
 * returns the wait in milliseconds, at most one day; for any other line,
 * or a value that is not whole seconds (an HTTP date), returns -1. */
long api_retry_after_ms(const char *line, size_t n);

/* Sleeps ms milliseconds (EINTR resumes the sleep). */
void api_retry_sleep_ms(long ms);

#endif
