/* retry.c — the retry policy and backoff of retry.h. */
#include <ctype.h>
#include <errno.h>
#include <strings.h>
#include <time.h>

#include "api/retry.h"

#include "banned.h"

bool api_retry_wanted(enum api_failure failure, long status)
{
	switch (failure) {
	case API_FAIL_CONNECT:
	case API_FAIL_EXCHANGE:
		return true;
	case API_FAIL_NONE:
		return status == 412 || status == 429 || (status >= 500 && status <= 599 && status != 501);
	default:
		return false;
	}
}

long api_retry_wait_ms(int n, long min_ms, long max_ms, long status, long retry_after_ms, uint32_t rnd)
{
	long wait = min_ms;
	int i;

	if (max_ms < min_ms)
		max_ms = min_ms;
	if ((status == 429 || status == 503) && retry_after_ms >= 0)
		return retry_after_ms < max_ms ? retry_after_ms : max_ms;
	for (i = 0; i < n && wait < max_ms; i++)
		wait *= 2;
	if (wait >= max_ms)
		return max_ms;
	/* Jitter: up to half the wait again, so clients that failed together
	 * do not come back together. */
	wait += (long)(rnd % (uint32_t)(wait / 2 + 1));
	return wait < max_ms ? wait : max_ms;
}

long api_retry_after_ms(const char *line, size_t n)
{
	static const char name[] = "retry-after:";
	size_t i = sizeof(name) - 1;
	long v = 0;

	if (n <= i || strncasecmp(line, name, i) != 0)
		return -1;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i >= n || !isdigit((unsigned char)line[i]))
		return -1;
	for (; i < n && isdigit((unsigned char)line[i]); i++)
		if ((v = v * 10 + (line[i] - '0')) > 86400)
			v = 86400;
	while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n'))
		i++;
	return i == n ? v * 1000 : -1;
}

void api_retry_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
