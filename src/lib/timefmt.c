/* timefmt.c — see timefmt.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

#include "banned.h"

#define NS_PER_SEC 1000000000LL

static void format_secs(int64_t secs, char out[TIME_TEXT_MAX])
{
	struct tm tm;
	time_t t = (time_t)secs;
	out[0] = '\0';
	if (gmtime_r(&t, &tm) == NULL || strftime(out, TIME_TEXT_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

/* The last second each thread formatted: timestamps of one second (audit
 * entries, KV versions) pay for gmtime and strftime once. */
static _Thread_local struct {
	int64_t secs;
	size_t len; /* 0: nothing cached */
	char text[TIME_TEXT_MAX];
} last;

void time_rfc3339(int64_t secs, char out[TIME_TEXT_MAX])
{
	if (last.len == 0 || last.secs != secs) {
		format_secs(secs, last.text);
		last.secs = secs;
		last.len = strlen(last.text);
		if (last.len == 0) {
			out[0] = '\0';
			return;
		}
	}
	memcpy(out, last.text, last.len + 1);
}

void time_rfc3339_ns(int64_t ns, char out[TIME_TEXT_MAX])
{
	int64_t secs = ns / NS_PER_SEC, rem = ns % NS_PER_SEC;
	if (rem < 0) { /* before 1970: floor the seconds */
		secs--;
		rem += NS_PER_SEC;
	}
	time_rfc3339(secs, out);
	size_t n = strlen(out);
	if (n == 0 || rem == 0)
		return;
	/* ".%09d" without its trailing zeros, then "Z"; rem != 0, so some
	 * digit is not '0'. n - 1 + 11 bytes fit: n is at most 20 here or
	 * gmtime's year is beyond anything TIME_TEXT_MAX must hold. */
	char frac[10];
	for (int i = 8; i >= 0; i--) {
		frac[i] = (char)('0' + rem % 10);
		rem /= 10;
	}
	size_t fl = 9;
	while (frac[fl - 1] == '0')
		fl--;
	if (n - 1 + 1 + fl + 2 > TIME_TEXT_MAX)
		return;        /* cannot happen with a 4-digit year; keep the whole second */
	char *p = out + n - 1; /* over the 'Z' */
	*p++ = '.';
	memcpy(p, frac, fl);
	p += fl;
	*p++ = 'Z';
	*p = '\0';
}

void time_now_rfc3339_ns(char out[TIME_TEXT_MAX])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	time_rfc3339_ns((int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec, out);
}

int time_parse_rfc3339(const char *text, int64_t *secs)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = text ? strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
	if (!end || *end)
		return -1;
	*secs = (int64_t)timegm(&tm);
	return 0;
}
