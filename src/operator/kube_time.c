/* kube_time.c — Kubernetes' time formats (kube.h): metav1.Time
 * ("2026-12-06T19:31:26Z") and MicroTime (six fractional digits, which
 * Leases require), and a parser of RFC 3339 with either and an offset. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "operator/kube.h"
#include "timefmt.h"

#include "banned.h"

/* Copies a formatted time into the caller's 32 bytes ("" when longer). */
static void put32(char *into, const char *t)
{
	size_t n = strlen(t);

	if (n >= 32)
		n = 0;
	memcpy(into, t, n);
	into[n] = '\0';
}

void kube_time(long unix_seconds, char *into)
{
	char t[TIME_TEXT_MAX];

	time_rfc3339(unix_seconds, t);
	put32(into, t);
}

void kube_micro_time(long long unix_micros, char *into)
{
	long long s = unix_micros / 1000000, us = unix_micros % 1000000;
	char t[96];
	time_t secs;
	struct tm tm;

	if (us < 0)
		us += 1000000, s--;
	secs = (time_t)s;
	if (gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		into[0] = '\0';
		return;
	}
	(void)snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
	               tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
	put32(into, t);
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int kube_parse_time(const char *s, long long *unix_micros)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct tm tm;
	long long frac = 0, scale = 100000, secs;
	int y, mo, d, h, mi, se, oh, om, sign;
	const char *p;

	if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return TROVE_ERR_INVALID;
	y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    se < 0 || se > 60)
		return TROVE_ERR_INVALID;
	p = s + 19;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return TROVE_ERR_INVALID;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			if (scale > 0)
				frac += (*p - '0') * scale;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		oh = om = 0, sign = 1;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		sign = *p == '-' ? -1 : 1;
		oh = digits(p + 1, 2), om = digits(p + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return TROVE_ERR_INVALID;
	} else {
		return TROVE_ERR_INVALID;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
	tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = se;
	secs = (long long)timegm(&tm);
	if (tm.tm_mday != d) /* 29 February of a common year */
		return TROVE_ERR_INVALID;
	secs -= sign * (oh * 3600LL + om * 60LL);
	*unix_micros = secs * 1000000 + frac;
	return 0;
}
