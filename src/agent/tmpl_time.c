/* tmpl_time.c — Go's time.Format for `timestamp`: a layout written as the
 * reference time Mon Jan 2 15:04:05 MST 2006, here always in UTC. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/tmpl_int.h"
#include "err.h"
#include "banned.h"

static const char *const months[] = { "January", "February", "March",     "April",   "May",      "June",
	                                  "July",    "August",   "September", "October", "November", "December" };
static const char *const days[] = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" };

static bool at(const char *s, size_t n, size_t i, const char *word)
{
	size_t k = strlen(word);
	return n - i >= k && memcmp(s + i, word, k) == 0;
}

/* "Jan" and "Mon" followed by a lower-case letter ("Jane", "Monk") are text. */
static bool lower_at(const char *s, size_t n, size_t i)
{
	return i < n && s[i] >= 'a' && s[i] <= 'z';
}

static bool digit_at(const char *s, size_t n, size_t i)
{
	return i < n && s[i] >= '0' && s[i] <= '9';
}

int ttime_format(struct buf *b, int64_t ns, const char *l, size_t n)
{
	int64_t secs = ns / 1000000000, frac = ns % 1000000000;
	struct tm tm;
	int r = 0;

	if (frac < 0) {
		frac += 1000000000;
		secs--;
	}
	time_t t = (time_t)secs;
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	long year = (long)tm.tm_year + 1900;
	int hour12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;

	for (size_t i = 0; i < n && !r;) {
		/* a run of bytes that start no element is copied as it is */
		size_t lit = i;
		while (lit < n && !strchr("JM0123456_Pp-Z.,", l[lit]))
			lit++;
		if (lit > i) {
			r = buf_append(b, l + i, lit - i);
			i = lit;
			continue;
		}
		if (at(l, n, i, "January")) {
			r = buf_append_str(b, months[tm.tm_mon]);
			i += 7;
		} else if (at(l, n, i, "Jan") && !lower_at(l, n, i + 3)) {
			r = buf_append(b, months[tm.tm_mon], 3);
			i += 3;
		} else if (at(l, n, i, "Monday")) {
			r = buf_append_str(b, days[tm.tm_wday]);
			i += 6;
		} else if (at(l, n, i, "Mon") && !lower_at(l, n, i + 3)) {
			r = buf_append(b, days[tm.tm_wday], 3);
			i += 3;
		} else if (at(l, n, i, "MST")) {
			r = buf_append_str(b, "UTC");
			i += 3;
		} else if (at(l, n, i, "2006")) {
			r = buf_printf(b, "%04ld", year);
			i += 4;
		} else if (at(l, n, i, "002")) {
			r = buf_printf(b, "%03d", tm.tm_yday + 1);
			i += 3;
		} else if (l[i] == '0' && i + 1 < n && l[i + 1] >= '1' && l[i + 1] <= '6') {
			int v[] = { tm.tm_mon + 1, tm.tm_mday, hour12, tm.tm_min, tm.tm_sec, (int)(year % 100) };
			r = buf_printf(b, "%02d", v[l[i + 1] - '1']);
			i += 2;
		} else if (at(l, n, i, "15")) {
			r = buf_printf(b, "%02d", tm.tm_hour);
			i += 2;
		} else if (l[i] == '1') {
			r = buf_printf(b, "%d", tm.tm_mon + 1);
			i++;
		} else if (l[i] == '2') {
			r = buf_printf(b, "%d", tm.tm_mday);
			i++;
		} else if (at(l, n, i, "__2")) {
			r = buf_printf(b, "%3d", tm.tm_yday + 1);
			i += 3;
		} else if (at(l, n, i, "_2") && !at(l, n, i, "_2006")) {
			r = buf_printf(b, "%2d", tm.tm_mday);
			i += 2;
		} else if (l[i] == '3') {
			r = buf_printf(b, "%d", hour12);
			i++;
		} else if (l[i] == '4') {
			r = buf_printf(b, "%d", tm.tm_min);
			i++;
		} else if (l[i] == '5') {
			r = buf_printf(b, "%d", tm.tm_sec);
			i++;
		} else if (at(l, n, i, "PM")) {
			r = buf_append_str(b, tm.tm_hour >= 12 ? "PM" : "AM");
			i += 2;
		} else if (at(l, n, i, "pm")) {
			r = buf_append_str(b, tm.tm_hour >= 12 ? "pm" : "am");
			i += 2;
		} else if (at(l, n, i, "Z07:00:00") || at(l, n, i, "Z070000") || at(l, n, i, "Z07:00") ||
		           at(l, n, i, "Z0700") || at(l, n, i, "Z07")) {
			size_t k = at(l, n, i, "Z07:00:00") ? 9 : at(l, n, i, "Z070000") ? 7 : at(l, n, i, "Z07:00") ? 6
			                                                                  : at(l, n, i, "Z0700")    ? 5
			                                                                                           : 3;
			r = buf_append_byte(b, 'Z');
			i += k;
		} else if (at(l, n, i, "-07:00:00") || at(l, n, i, "-070000") || at(l, n, i, "-07:00") ||
		           at(l, n, i, "-0700") || at(l, n, i, "-07")) {
			const char *z = at(l, n, i, "-07:00:00") ? "+00:00:00" : at(l, n, i, "-070000") ? "+000000"
			                : at(l, n, i, "-07:00")                  ? "+00:00"
			                : at(l, n, i, "-0700")                   ? "+0000"
			                                                         : "+00";
			r = buf_append_str(b, z);
			i += strlen(z);
		} else if ((l[i] == '.' || l[i] == ',') && i + 1 < n && (l[i + 1] == '0' || l[i + 1] == '9')) {
			char ch = l[i + 1];
			size_t j = i + 1;
			while (j < n && l[j] == ch)
				j++;
			if (digit_at(l, n, j)) { /* not a fraction: a literal */
				r = buf_append_byte(b, l[i]);
				i++;
				continue;
			}
			size_t digits = j - (i + 1);
			char f[16];
			snprintf(f, sizeof(f), "%09lld", (long long)frac);
			size_t keep = digits > 9 ? 9 : digits;
			if (ch == '9') {
				while (keep > 0 && f[keep - 1] == '0')
					keep--;
				if (keep > 0) {
					r = buf_append_byte(b, l[i]);
					if (!r)
						r = buf_append(b, f, keep);
				}
			} else {
				r = buf_append_byte(b, l[i]);
				if (!r)
					r = buf_append(b, f, keep);
			}
			i = j;
		} else {
			r = buf_append_byte(b, l[i]);
			i++;
		}
	}
	return r ? TROVE_ERR_TOO_LARGE : 0;
}
