/* cidr.h — IP addresses and CIDR blocks, parsed once for every caller.
 *
 * Token and AppRole bound CIDRs, AppRole's secret-ID CIDR subsets and the
 * audit query's remote-address filter all read addresses and blocks with
 * these functions, so one text means one thing everywhere. Blocks follow
 * Go's net.ParseCIDR, which Vault uses: the address as written (no
 * brackets, no zone; an IPv4-mapped IPv6 block stays IPv6, so it matches
 * no IPv4 client), a prefix length of one to three decimal digits no
 * larger than 32 or 128. A client address is read more loosely, as it
 * arrives from a listener: "[v6]", a "%zone" suffix, and an IPv4-mapped
 * IPv6 address that counts as IPv4. */
#ifndef TROVE_CIDR_H
#define TROVE_CIDR_H

#include <stdbool.h>
#include <stddef.h>

struct cidr {
	int family;             /* 4 or 6 */
	unsigned bits;          /* prefix length; 32 or 128 for one address */
	unsigned char addr[16]; /* IPv4 in the first 4 bytes; host bits cleared */
};

/* One address: the n bytes at s (no terminator needed), IPv4 or IPv6,
 * optionally in brackets and with a %zone (dropped); an IPv4-mapped
 * IPv6 address becomes IPv4. bits is the full length. False, with *out
 * unspecified, for anything else. */
bool cidr_parse_addr(const char *s, size_t n, struct cidr *out);

/* A block "addr/bits", or one address without "/" (a full-length
 * block), as described at the top. False for anything else. */
bool cidr_parse(const char *s, struct cidr *out);

/* Whether inner (a block or one address) lies wholly within net: the
 * same family, a prefix no shorter than net's, and net's prefix bits
 * equal. */
bool cidr_contains(const struct cidr *net, const struct cidr *inner);

/* cidr_parse for callers that treat mapped addresses as IPv4: an
 * IPv4-mapped IPv6 block (::ffff:a.b.c.d/96+n) becomes the IPv4 block
 * a.b.c.d/n, and one shorter than /96 (it spans more than IPv4) is
 * refused. */
bool cidr_parse_unmapped(const char *s, struct cidr *out);

#endif
