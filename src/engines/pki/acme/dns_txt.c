/* dns_txt.c — TXT records out of a DNS response. */
#include "dns_txt.h"

#include <stdint.h>
#include <string.h>

#include "err.h"

#define TYPE_TXT 16
#define CLASS_IN 1

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Skips the name at *off: labels up to a zero byte, or up to a
 * compression pointer (which ends the name where it stands; where it
 * points is never followed, so it cannot loop). Returns 0 or
 * TROVE_ERR_INVALID. */
static int skip_name(const unsigned char *msg, size_t len, size_t *off)
{
	size_t o = *off, total = 0;

	for (;;) {
		unsigned char l;

		if (o >= len)
			return TROVE_ERR_INVALID;
		l = msg[o];
		if ((l & 0xc0) == 0xc0) {
			if (o + 2 > len)
				return TROVE_ERR_INVALID;
			*off = o + 2;
			return 0;
		}
		if (l & 0xc0) /* 0x40 and 0x80: reserved label types */
			return TROVE_ERR_INVALID;
		o++;
		if (l == 0)
			break;
		total += (size_t)l + 1;
		if (total > 255 || o + l > len)
			return TROVE_ERR_INVALID;
		o += l;
	}
	*off = o;
	return 0;
}

/* Appends the TXT rdata's character-strings, joined, to out. */
static int add_txt(const unsigned char *rd, size_t n, struct strlist *out)
{
	struct buf s;
	size_t o = 0;
	int r = 0;

	buf_init(&s, 65536);
	while (o < n) {
		size_t l = rd[o++];
		if (o + l > n) {
			r = TROVE_ERR_INVALID;
			goto out;
		}
		if (memchr(rd + o, '\0', l))
			goto out; /* dropped: no C string holds it */
		if ((r = buf_append(&s, rd + o, l)) != 0)
			goto out;
		o += l;
	}
	if (out->len < DNS_TXT_MAX_RECORDS)
		r = strlist_push(out, s.data);
out:
	buf_release(&s);
	return r;
}

int dns_txt_parse(const unsigned char *msg, size_t len, struct strlist *out)
{
	size_t off = 12;
	unsigned qd, an;
	int r;

	if (len < 12 || !(msg[2] & 0x80))
		return TROVE_ERR_INVALID;
	if ((msg[3] & 0x0f) == 3)
		return TROVE_ERR_NOT_FOUND;
	if ((msg[3] & 0x0f) != 0)
		return TROVE_ERR_INVALID;
	qd = get16(msg + 4);
	an = get16(msg + 6);
	for (unsigned i = 0; i < qd; i++) {
		if (skip_name(msg, len, &off) != 0 || off + 4 > len)
			return TROVE_ERR_INVALID;
		off += 4;
	}
	for (unsigned i = 0; i < an; i++) {
		uint16_t type, cls, rdlen;

		if (skip_name(msg, len, &off) != 0 || off + 10 > len)
			return TROVE_ERR_INVALID;
		type = get16(msg + off);
		cls = get16(msg + off + 2);
		rdlen = get16(msg + off + 8);
		off += 10;
		if (off + rdlen > len)
			return TROVE_ERR_INVALID;
		if (type == TYPE_TXT && cls == CLASS_IN && (r = add_txt(msg + off, rdlen, out)) != 0)
			return r;
		off += rdlen;
	}
	return 0;
}
