/* duration.c — Vault/Go durations and byte sizes.
 *
 * The parser follows Go's time.ParseDuration: a sequence of
 * <digits>[.<digits>]<unit>, the integer part accumulated with overflow
 * checks, the fraction scaled by the unit in floating point (as Go does),
 * the total kept within int64 nanoseconds. Vault adds the "d" unit and bare
 * integers meaning seconds; leading/trailing ASCII blanks are ignored as
 * Vault's parseutil trims them. Negative durations are rejected. Bare
 * integers go through nanoseconds too, so both parse functions accept the
 * same set of inputs. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "err.h"
#include "banned.h"

#define NS_PER_S INT64_C(1000000000)

struct unit {
	const char *name;
	uint64_t ns;
};

static const struct unit units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000}, /* U+03BC greek mu */
    {"ms", 1000000},
    {"s", 1000000000},
    {"m", UINT64_C(60) * 1000000000},
    {"h", UINT64_C(3600) * 1000000000},
    {"d", UINT64_C(86400) * 1000000000},
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

int duration_parse_ns(const char *s, size_t len, int64_t *out_ns)
{
	const uint64_t max = (uint64_t)INT64_MAX;
	uint64_t total = 0, v, f, scale, unit_ns;
	size_t i = 0, j, k, ulen;
	bool all_digits = true, pre, post;

	if (s == NULL)
		return TROVE_ERR_INVALID;
	trim(&s, &len);
	if (len == 0)
		return TROVE_ERR_INVALID;
	if (s[0] == '+') {
		i = 1;
		if (len == 1)
			return TROVE_ERR_INVALID;
	}
	for (j = i; j < len; j++)
		if (!is_digit(s[j]))
			all_digits = false;
	if (all_digits) {
		/* Bare integer: seconds. */
		for (v = 0, j = i; j < len; j++) {
			if (v > (max - (uint64_t)(s[j] - '0')) / 10)
				return TROVE_ERR_INVALID;
			v = v * 10 + (uint64_t)(s[j] - '0');
		}
		if (v > max / NS_PER_S)
			return TROVE_ERR_INVALID;
		*out_ns = (int64_t)(v * NS_PER_S);
		return 0;
	}
	while (i < len) {
		/* Integer part. */
		v = 0;
		pre = false;
		while (i < len && is_digit(s[i])) {
			if (v > (max - (uint64_t)(s[i] - '0')) / 10)
				return TROVE_ERR_INVALID;
			v = v * 10 + (uint64_t)(s[i] - '0');
			pre = true;
			i++;
		}
		/* Fraction: digits past what fits are dropped, as in Go. */
		f = 0;
		scale = 1;
		post = false;
		if (i < len && s[i] == '.') {
			bool overflow = false;

			i++;
			while (i < len && is_digit(s[i])) {
				post = true;
				if (!overflow && f <= (UINT64_MAX / 2 - 9) / 10 && scale <= UINT64_MAX / 20) {
					f = f * 10 + (uint64_t)(s[i] - '0');
					scale *= 10;
				} else {
					overflow = true;
				}
				i++;
			}
		}
		if (!pre && !post)
			return TROVE_ERR_INVALID;
		/* Unit: everything up to the next digit or '.'. */
		for (j = i; j < len && s[j] != '.' && !is_digit(s[j]); j++)
			;
		ulen = j - i;
		if (ulen == 0)
			return TROVE_ERR_INVALID;
		unit_ns = 0;
		for (k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
			if (strlen(units[k].name) == ulen && memcmp(units[k].name, s + i, ulen) == 0) {
				unit_ns = units[k].ns;
				break;
			}
		}
		if (unit_ns == 0)
			return TROVE_ERR_INVALID;
		i = j;
		if (v > max / unit_ns)
			return TROVE_ERR_INVALID;
		v *= unit_ns;
		if (f > 0) {
			double add = (double)f * ((double)unit_ns / (double)scale);

			if (add >= (double)max)
				return TROVE_ERR_INVALID;
			if ((uint64_t)add > max - v)
				return TROVE_ERR_INVALID;
			v += (uint64_t)add;
		}
		if (v > max - total)
			return TROVE_ERR_INVALID;
		total += v;
	}
	*out_ns = (int64_t)total;
	return 0;
}

int duration_parse_seconds(const char *s, size_t len, int64_t *out_s)
{
	int64_t ns;
	int r;

	if ((r = duration_parse_ns(s, len, &ns)) != 0)
		return r;
	*out_s = ns / NS_PER_S;
	return 0;
}

const char *duration_check(int64_t secs)
{
	if (secs < 0)
		return "cannot be negative";
	if (secs > DURATION_MAX_SECONDS)
		return "cannot exceed 100 years";
	return NULL;
}

int duration_add(int64_t t, int64_t secs, int64_t *out)
{
	int64_t sum;

	if (__builtin_add_overflow(t, secs, &sum) || sum <= 0)
		return TROVE_ERR_INVALID;
	*out = sum;
	return 0;
}

int duration_add_ns(int64_t t_ns, int64_t secs, int64_t *out)
{
	int64_t ns;

	if (__builtin_mul_overflow(secs, NS_PER_S, &ns))
		return TROVE_ERR_INVALID;
	return duration_add(t_ns, ns, out);
}

void duration_format(int64_t seconds, char *out, size_t out_size)
{
	uint64_t u, h, m, sec;
	const char *sign = "";

	if (out_size == 0)
		return;
	if (seconds == 0) {
		snprintf(out, out_size, "0s");
		return;
	}
	if (seconds < 0) {
		sign = "-";
		u = (uint64_t)0 - (uint64_t)seconds;
	} else {
		u = (uint64_t)seconds;
	}
	h = u / 3600;
	m = u % 3600 / 60;
	sec = u % 60;
	if (h > 0)
		snprintf(out, out_size, "%s%lluh%llum%llus", sign, (unsigned long long)h,
		         (unsigned long long)m, (unsigned long long)sec);
	else if (m > 0)
		snprintf(out, out_size, "%s%llum%llus", sign, (unsigned long long)m, (unsigned long long)sec);
	else
		snprintf(out, out_size, "%s%llus", sign, (unsigned long long)sec);
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int size_parse(const char *s, size_t len, uint64_t *out)
{
	static const struct {
		const char *name;
		unsigned shift;
	} mult[] = {
	    {"", 0},    {"b", 0},    {"k", 10}, {"kb", 10}, {"ki", 10}, {"kib", 10}, {"m", 20}, {"mb", 20},
	    {"mi", 20}, {"mib", 20}, {"g", 30}, {"gb", 30}, {"gi", 30}, {"gib", 30}, {"t", 40}, {"tb", 40},
	    {"ti", 40}, {"tib", 40}, {"p", 50}, {"pb", 50}, {"pi", 50}, {"pib", 50},
	};
	uint64_t v = 0;
	size_t i = 0, j, k, ulen;
	bool digits = false;

	if (s == NULL)
		return TROVE_ERR_INVALID;
	trim(&s, &len);
	while (i < len && is_digit(s[i])) {
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return TROVE_ERR_INVALID;
		v = v * 10 + (uint64_t)(s[i] - '0');
		digits = true;
		i++;
	}
	if (!digits)
		return TROVE_ERR_INVALID;
	while (i < len && s[i] == ' ')
		i++;
	ulen = len - i;
	if (ulen > 3)
		return TROVE_ERR_INVALID;
	for (k = 0; k < sizeof(mult) / sizeof(mult[0]); k++) {
		if (strlen(mult[k].name) != ulen)
			continue;
		for (j = 0; j < ulen; j++)
			if (lower((unsigned char)s[i + j]) != mult[k].name[j])
				break;
		if (j != ulen)
			continue;
		if (mult[k].shift != 0 && v > (UINT64_MAX >> mult[k].shift))
			return TROVE_ERR_INVALID;
		*out = v << mult[k].shift;
		return 0;
	}
	return TROVE_ERR_INVALID;
}
