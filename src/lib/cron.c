/* cron.c — parsing and evaluating 5-field cron schedules in UTC (cron.h). */
#include <stddef.h>
#include <string.h>

#include "cron.h"
#include "err.h"

#include "banned.h"

#define CRON_YEARS 5

struct field_def {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] is value min+i, or NULL */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct field_def fields[5] = {
    {"minute", 0, 59, NULL},          {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},    {"month", 1, 12, month_names},
    {"day of week", 0, 6, dow_names},
};

static const struct {
	const char *name, *spec;
} descriptors[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* A number or a name of f in s[0..n): 0 and *out, or -1. */
static int parse_value(const struct field_def *f, const char *s, size_t n, int *out)
{
	if (n == 0)
		return -1;
	if (s[0] >= '0' && s[0] <= '9') {
		int v = 0;
		for (size_t i = 0; i < n; i++) {
			if (s[i] < '0' || s[i] > '9' || v > 1000)
				return -1;
			v = v * 10 + (s[i] - '0');
		}
		*out = v;
		return 0;
	}
	for (int i = 0; f->names && f->names[i]; i++) {
		if (n != 3)
			break;
		if (lower(s[0]) == f->names[i][0] && lower(s[1]) == f->names[i][1] &&
		    lower(s[2]) == f->names[i][2]) {
			*out = f->min + i;
			return 0;
		}
	}
	return -1;
}

/* One item of a field's comma list, s[0..n). */
static int parse_item(const struct field_def *f, const char *s, size_t n, uint64_t *bits, bool *star,
                      const char **why)
{
	const char *slash = memchr(s, '/', n);
	size_t rn = slash ? (size_t)(slash - s) : n;
	int lo, hi, step = 1;
	bool all = false;

	if (rn == 1 && (s[0] == '*' || s[0] == '?')) {
		lo = f->min;
		hi = f->max;
		all = true;
	} else {
		const char *dash = memchr(s, '-', rn);
		if (parse_value(f, s, dash ? (size_t)(dash - s) : rn, &lo) != 0 ||
		    (dash && parse_value(f, dash + 1, rn - (size_t)(dash + 1 - s), &hi) != 0)) {
			*why = "not a number, range or name";
			return TROVE_ERR_INVALID;
		}
		if (!dash)
			hi = slash ? f->max : lo;
	}
	if (slash && parse_value(&fields[0], slash + 1, n - rn - 1, &step) != 0) {
		*why = "the step is not a number";
		return TROVE_ERR_INVALID;
	}
	if (step < 1) {
		*why = "the step must be 1 or more";
		return TROVE_ERR_INVALID;
	}
	if (lo < f->min || hi > f->max) {
		*why = "a value is out of range";
		return TROVE_ERR_INVALID;
	}
	if (lo > hi) {
		*why = "a range ends before it starts";
		return TROVE_ERR_INVALID;
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= UINT64_C(1) << v;
	if (all && step == 1)
		*star = true;
	return 0;
}

static int parse_field(int i, const char *s, size_t n, uint64_t *bits, bool *star, const char **why)
{
	size_t start = 0;
	*bits = 0;
	*star = false;
	for (size_t j = 0; j <= n; j++) {
		if (j < n && s[j] != ',')
			continue;
		if (j == start) {
			*why = "an empty item in a list";
			return TROVE_ERR_INVALID;
		}
		if (parse_item(&fields[i], s + start, j - start, bits, star, why) != 0)
			return TROVE_ERR_INVALID;
		start = j + 1;
	}
	return 0;
}

int cron_parse(const char *text, struct cron_spec *out, const char **field, const char **why)
{
	const char *s = text ? text : "";
	memset(out, 0, sizeof(*out));
	*field = NULL;
	while (is_space(*s))
		s++;
	if (*s == '@') {
		size_t n = 0;
		while (s[n] && !is_space(s[n]))
			n++;
		const char *rest = s + n;
		while (is_space(*rest))
			rest++;
		for (size_t i = 0; i < sizeof(descriptors) / sizeof(descriptors[0]) && !*rest; i++)
			if (strlen(descriptors[i].name) == n && strncmp(descriptors[i].name, s, n) == 0)
				return cron_parse(descriptors[i].spec, out, field, why);
		*why = "not a known descriptor (@yearly, @monthly, @weekly, @daily, @hourly)";
		return TROVE_ERR_INVALID;
	}
	uint64_t *bits[5] = {&out->minute, &out->hour, &out->dom, &out->month, &out->dow};
	bool stars[5];
	int nf = 0;
	while (*s) {
		size_t n = 0;
		while (s[n] && !is_space(s[n]))
			n++;
		if (nf == 5) {
			*why = "expected 5 fields (minute hour day-of-month month day-of-week), got more";
			return TROVE_ERR_INVALID;
		}
		if (parse_field(nf, s, n, bits[nf], &stars[nf], why) != 0) {
			*field = fields[nf].name;
			return TROVE_ERR_INVALID;
		}
		nf++;
		s += n;
		while (is_space(*s))
			s++;
	}
	if (nf != 5) {
		*why = "expected 5 fields (minute hour day-of-month month day-of-week)";
		return TROVE_ERR_INVALID;
	}
	out->dom_star = stars[2];
	out->dow_star = stars[4];
	return 0;
}

/* Days since 1970-01-01 of a civil date, and back (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool day_matches(const struct cron_spec *c, int dom, int dow)
{
	bool a = (c->dom >> dom) & 1, b = (c->dow >> dow) & 1;
	return (c->dom_star || c->dow_star) ? (a && b) : (a || b);
}

int64_t cron_next(const struct cron_spec *c, int64_t after_s)
{
	if (after_s < 0 || after_s > INT64_C(253402300799)) /* 9999-12-31 */
		return -1;
	int64_t t = after_s - after_s % 60 + 60;
	int64_t y0, y;
	int m, d;
	civil_from_days(t / 86400, &y0, &m, &d);
	for (;;) {
		int64_t days = t / 86400, secs = t % 86400;
		civil_from_days(days, &y, &m, &d);
		if (y > y0 + CRON_YEARS)
			return -1;
		if (!((c->month >> m) & 1)) { /* the first of the next month */
			t = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400;
			continue;
		}
		int dow = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
		if (!day_matches(c, d, dow)) {
			t = (days + 1) * 86400;
			continue;
		}
		int h = (int)(secs / 3600), mi = (int)(secs % 3600 / 60);
		if (!((c->hour >> h) & 1)) {
			t = days * 86400 + (h + 1) * 3600;
			continue;
		}
		if (!((c->minute >> mi) & 1)) {
			t += 60;
			continue;
		}
		return t;
	}
}
