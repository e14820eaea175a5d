/* strconv.c — see strconv.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strconv.h"

#include "banned.h"

bool strconv_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
	static const char *const no[] = { "0", "f", "F", "false", "FALSE", "False" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

bool strconv_int64(const char *s, int64_t *out)
{
	char *end = NULL;
	long long v;
	if (!*s || *s == ' ' || *s == '\t')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || !end || *end != '\0')
		return false;
	*out = (int64_t)v;
	return true;
}

bool strconv_double_int64(double d, int64_t *out)
{
	/* 2^63 is exact in a double; the open upper bound keeps the cast defined. */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
		return false;
	int64_t v = (int64_t)d;
	if ((double)v != d)
		return false;
	*out = v;
	return true;
}

int strconv_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
