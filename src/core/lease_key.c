/* lease_key.c — storage keys of leases (see lease_key.h). */
#include "lease_key.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

static int fits(int n, size_t cap)
{
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int valid_id(const char *lease_id)
{
	size_t n = lease_id ? strlen(lease_id) : 0;
	return n > 0 && n <= LEASE_ID_MAX ? 0 : -1;
}

const char *lease_item(const char *lease_id)
{
	const char *slash = strrchr(lease_id, '/');
	return slash ? slash + 1 : lease_id;
}

int lease_id_key(char *out, size_t cap, const char *lease_id)
{
	if (valid_id(lease_id) != 0)
		return -1;
	return fits(snprintf(out, cap, "%s%s", LEASE_ID_PREFIX, lease_id), cap);
}

int lease_when_key(char *out, size_t cap, int64_t t, const char *lease_id)
{
	if (valid_id(lease_id) != 0 || t <= 0)
		return -1;
	return fits(snprintf(out, cap, "%s%012lld/%012lld/%s", LEASE_WHEN_PREFIX, (long long)(t / LEASE_HOUR),
	                     (long long)t, lease_item(lease_id)),
	            cap);
}

int lease_token_key(char *out, size_t cap, const char *locator, const char *lease_id)
{
	if (valid_id(lease_id) != 0 || !locator || !*locator)
		return -1;
	return fits(snprintf(out, cap, "%s%s/%s", LEASE_TOKEN_PREFIX, locator, lease_item(lease_id)), cap);
}

int lease_irrevocable_key(char *out, size_t cap, const char *lease_id)
{
	if (valid_id(lease_id) != 0)
		return -1;
	return fits(snprintf(out, cap, "%s%s", LEASE_IRREVOCABLE_PREFIX, lease_item(lease_id)), cap);
}

int lease_token_id(char *out, size_t cap, const char *path, const char *locator)
{
	if (!path || !*path || !locator || !*locator)
		return -1;
	int r = fits(snprintf(out, cap, "%s/%s", path, locator), cap);
	return r == 0 ? valid_id(out) : r;
}

int64_t lease_parse_time(const char *name)
{
	int64_t t = 0;
	size_t i;
	for (i = 0; i < LEASE_TIME_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		t = t * 10 + (name[i] - '0');
	}
	if (name[i] != '\0' && !(name[i] == '/' && name[i + 1] == '\0'))
		return -1;
	return t;
}
