/* strhash.c — FNV-1a (see strhash.h). */
#include "strhash.h"

#include "banned.h"

uint64_t str_hash_more(uint64_t h, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

uint64_t str_hash(const char *s)
{
	return str_hash_more(STR_HASH_SEED, s);
}
