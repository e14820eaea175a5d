/* audit_time.c — RFC 3339 times for the audit log reader (audit_time.h):
 * parsing the "time" of entries and the -since/-until flags, formatting
 * for tables and consumer answers, comparing. Dates are proleptic
 * Gregorian, computed by hand so that no time zone or libc table is
 * involved. */
#include <stdbool.h>
#include <stdint.h>

#include "cli/audit_time.h"

#include "banned.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Reads exactly n digits at *s into *out, advancing *s. */
static bool take_digits(const char **s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

static bool take_char(const char **s, char c)
{
	if (**s != c)
		return false;
	(*s)++;
	return true;
}

/* ".123456789" (any number of digits; past nine ignored) into nsec. */
static bool take_fraction(const char **s, int32_t *nsec)
{
	int32_t v = 0;
	int n = 0;

	*nsec = 0;
	if (**s != '.')
		return true;
	(*s)++;
	while (**s >= '0' && **s <= '9') {
		if (n < 9) {
			v = v * 10 + (**s - '0');
			n++;
		}
		(*s)++;
	}
	if (n == 0)
		return false;
	while (n++ < 9)
		v *= 10;
	*nsec = v;
	return true;
}

/* "Z" or "+hh:mm"/"-hh:mm" into seconds east of UTC. */
static bool take_zone(const char **s, int *offset)
{
	int sign, hh, mm;

	if (take_char(s, 'Z') || take_char(s, 'z')) {
		*offset = 0;
		return true;
	}
	if (**s != '+' && **s != '-')
		return false;
	sign = **s == '-' ? -1 : 1;
	(*s)++;
	if (!take_digits(s, 2, &hh) || !take_char(s, ':') || !take_digits(s, 2, &mm) || hh > 23 || mm > 59)
		return false;
	*offset = sign * (hh * 3600 + mm * 60);
	return true;
}

bool aq_time_parse(const char *s, struct aq_time *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, offset = 0;
	int32_t nsec = 0;

	if (s == NULL || !take_digits(&s, 4, &y) || !take_char(&s, '-') || !take_digits(&s, 2, &mo) ||
	    !take_char(&s, '-') || !take_digits(&s, 2, &d))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	if (*s != '\0') {
		if (*s != 'T' && *s != 't' && *s != ' ')
			return false;
		s++;
		if (!take_digits(&s, 2, &h) || !take_char(&s, ':') || !take_digits(&s, 2, &mi) ||
		    !take_char(&s, ':') || !take_digits(&s, 2, &sec) || !take_fraction(&s, &nsec) ||
		    !take_zone(&s, &offset) || *s != '\0')
			return false;
		if (h > 23 || mi > 59 || sec > 59)
			return false;
	}
	out->sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	out->nsec = nsec;
	return true;
}

void aq_time_format(const struct aq_time *t, bool frac, struct buf *out)
{
	int64_t days = t->sec / 86400, rem = t->sec % 86400, y;
	int m, d, digits = 9;
	int32_t ns = t->nsec;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	(void)buf_printf(out, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)y, m, d, (int)(rem / 3600),
	                 (int)(rem / 60 % 60), (int)(rem % 60));
	if (frac && ns > 0) {
		while (ns % 10 == 0) {
			ns /= 10;
			digits--;
		}
		(void)buf_printf(out, ".%0*ld", digits, (long)ns);
	}
	(void)buf_append_byte(out, 'Z');
}

int aq_time_cmp(const struct aq_time *a, const struct aq_time *b)
{
	if (a->sec != b->sec)
		return a->sec < b->sec ? -1 : 1;
	if (a->nsec != b->nsec)
		return a->nsec < b->nsec ? -1 : 1;
	return 0;
}
