/* timefmt.c — see timefmt.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

#include "banned.h"

#define NS_PER_SEC 1000000000LL

void time_rfc3339(int64_t secs, char out[TIME_TEXT_MAX])
{
	struct tm tm;
	time_t t = (time_t)secs;
	out[0] = '\0';
	if (gmtime_r(&t, &tm) == NULL || strftime(out, TIME_TEXT_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
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
	char frac[16];
	snprintf(frac, sizeof(frac), ".%09lld", (long long)rem);
	size_t fl = strlen(frac); /* rem != 0: some digit is not '0' */
	while (fl > 1 && frac[fl - 1] == '0')
		frac[--fl] = '\0';
	snprintf(out + n - 1, TIME_TEXT_MAX - (n - 1), "%sZ", frac);
}

void time_now_rfc3339_ns(char out[TIME_TEXT_MAX])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	time_rfc3339_ns((int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec, out);
}
