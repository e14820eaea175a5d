/* jsonw.h — a streaming JSON writer into a struct buf.
 *
 * For text written often enough that building a jansson tree and dumping
 * it costs too much (audit entries): the caller writes members in order
 * straight into the buffer. The text is what jansson's dumper writes with
 * JSON_COMPACT for the same values:
 *  - strings: '"' and '\\' escaped, \b \f \n \r \t, other bytes below
 *    0x20 as \u00XX (uppercase hex), valid UTF-8 (U+2028 and U+2029 too)
 *    as it is, and each byte that does not start a valid UTF-8 sequence
 *    as U+FFFD (jansson would refuse the whole text);
 *  - integers: decimal; reals: jansson's "%.17g" text with ".0" appended
 *    when it has neither '.' nor 'e', the exponent's '+' and leading zeros
 *    dropped (jsonw_real_text);
 *  - true, false, null.
 * Nothing fails loudly: the first failure (the buffer's cap, out of
 * memory, a value JSON cannot hold) clears ok for good, and the text is
 * then incomplete (a later write that fits may still land), so a caller
 * checks ok once at the end and cuts off what it wrote. The buffer grows as
 * lib/buf grows it (a secret-mode buffer by copy and wipe), the first
 * allocation JSONW_INITIAL bytes. */
#ifndef TROVE_JSONW_H
#define TROVE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"

#define JSONW_NUM_MAX 64    /* the text of a number, with room to spare */
#define JSONW_INITIAL 4096  /* first allocation of an empty buffer */

struct jsonw {
	struct buf b; /* the caller's, taken over while writing */
	bool ok;      /* false once any step failed: the text is incomplete */
};

/* Makes room for extra more bytes and the terminator (see above). */
bool jsonw_grow(struct jsonw *o, size_t extra);

static inline bool jsonw_room(struct jsonw *o, size_t n)
{
	if (o->b.size - o->b.len > n)
		return true;
	if (o->ok && jsonw_grow(o, n))
		return true;
	o->ok = false;
	return false;
}

static inline void jsonw_raw(struct jsonw *o, const void *p, size_t n)
{
	if (!jsonw_room(o, n))
		return;
	memcpy(o->b.data + o->b.len, p, n);
	o->b.len += n;
	o->b.data[o->b.len] = '\0';
}

static inline void jsonw_byte(struct jsonw *o, char c)
{
	if (!jsonw_room(o, 1))
		return;
	o->b.data[o->b.len++] = c;
	o->b.data[o->b.len] = '\0';
}

/* s: a string literal (not a pointer: sizeof). */
#define jsonw_lit(o, s) jsonw_raw((o), "" s, sizeof(s) - 1)

static inline bool jsonw_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* jsonw_plain for each of the 8 bytes at p, eight at a time: with every
 * byte below 0x80 (else the high bit shows), a byte below 0x20 borrows in
 * x - 0x20.., and one equal to '"' or '\\' borrows after the XOR. A borrow
 * into the next byte only follows a byte already found. */
static inline bool jsonw_plain8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	return ((x | (x - ones * 0x20) | ((x ^ (ones * '"')) - ones) | ((x ^ (ones * '\\')) - ones)) &
	        high) == 0;
}

/* n bytes at s as a JSON string (see the top). */
void jsonw_str(struct jsonw *o, const char *s, size_t n);
void jsonw_cstr(struct jsonw *o, const char *s);
void jsonw_int(struct jsonw *o, json_int_t i);
/* A scalar (string, number, true, false, null); a container clears ok. */
void jsonw_scalar(struct jsonw *o, const json_t *v);

/* Any value, objects and arrays included, as json_dumps(v, JSON_COMPACT)
 * writes it (members in the object's order); nesting past 2048 levels
 * clears ok. */
void jsonw_value(struct jsonw *o, const json_t *v);

/* The decimal text of i into out (NUL-terminated); returns its length. */
size_t jsonw_int_text(json_int_t i, char out[JSONW_NUM_MAX]);
/* jansson's text of the real d (see the top) into out[cap]; returns its
 * length, or 0 for a double JSON cannot hold (jansson never makes one)
 * or when cap is too small. */
size_t jsonw_real_text(double d, char *out, size_t cap);

#endif
