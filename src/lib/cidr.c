/* cidr.c — see cidr.h. */
#include <arpa/inet.h>
#include <string.h>

#include "cidr.h"

#include "banned.h"

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* inet_pton of the n bytes at s into out (family and full length). */
static bool pton(const char *s, size_t n, struct cidr *out)
{
	char tmp[INET6_ADDRSTRLEN + 1];

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(out->addr, 0, sizeof(out->addr));
	if (inet_pton(AF_INET, tmp, out->addr) == 1) {
		out->family = 4;
		out->bits = 32;
		return true;
	}
	if (inet_pton(AF_INET6, tmp, out->addr) == 1) {
		out->family = 6;
		out->bits = 128;
		return true;
	}
	return false;
}

static void clear_host_bits(struct cidr *c)
{
	unsigned bits = c->bits;

	for (size_t i = 0; i < sizeof(c->addr); i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		c->addr[i] &= (unsigned char)(0xff << (8 - bits));
		bits = 0;
	}
}

/* A mapped address or block becomes IPv4: the prefix loses 96 bits. */
static void to_v4(struct cidr *c)
{
	memmove(c->addr, c->addr + 12, 4);
	memset(c->addr + 4, 0, 12);
	c->family = 4;
	c->bits -= 96;
}

bool cidr_parse_addr(const char *s, size_t n, struct cidr *out)
{
	const char *pct;

	if (n > 0 && s[0] == '[') {
		const char *e = memchr(s, ']', n);
		if (!e)
			return false;
		n = (size_t)(e - s - 1);
		s++;
	}
	if ((pct = memchr(s, '%', n)) != NULL) /* IPv6 zone */
		n = (size_t)(pct - s);
	if (!pton(s, n, out))
		return false;
	if (out->family == 6 && memcmp(out->addr, v4mapped, sizeof(v4mapped)) == 0)
		to_v4(out);
	return true;
}

/* A block; with unmap, a mapped one becomes IPv4 (see cidr.h). */
static bool parse_block(const char *s, struct cidr *out, bool unmap)
{
	const char *slash = strchr(s, '/');
	unsigned bits = 0;
	bool mapped;

	if (!pton(s, slash ? (size_t)(slash - s) : strlen(s), out))
		return false;
	mapped = unmap && out->family == 6 && memcmp(out->addr, v4mapped, sizeof(v4mapped)) == 0;
	if (slash) {
		const char *p = slash + 1;
		size_t digits = strlen(p);
		if (digits == 0 || digits > 3)
			return false;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return false;
			bits = bits * 10 + (unsigned)(*p - '0');
		}
		if (bits > out->bits || (mapped && bits < 96))
			return false;
		out->bits = bits;
		clear_host_bits(out);
	}
	if (mapped)
		to_v4(out);
	return true;
}

bool cidr_parse(const char *s, struct cidr *out)
{
	return parse_block(s, out, false);
}

bool cidr_parse_unmapped(const char *s, struct cidr *out)
{
	return parse_block(s, out, true);
}

bool cidr_contains(const struct cidr *net, const struct cidr *inner)
{
	unsigned full = net->bits / 8, rest = net->bits % 8;

	if (net->family != inner->family || net->bits > inner->bits)
		return false;
	if (memcmp(net->addr, inner->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (net->addr[full] & mask) == (inner->addr[full] & mask);
}
