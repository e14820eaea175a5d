/* strconv.h — text to scalar conversions with Go's spelling rules, used
 * wherever Vault's weak typing reaches (query strings, form bodies, JSON
 * strings standing for numbers or booleans, config values). */
#ifndef TROVE_STRCONV_H
#define TROVE_STRCONV_H

#include <stdbool.h>
#include <stdint.h>

/* Go's strconv.ParseBool: 1 t T true TRUE True / 0 f F false FALSE False.
 * Returns false (leaving *out alone) for anything else. */
bool strconv_bool(const char *s, bool *out);
/* A whole base-10 int64 with an optional sign; no blanks, no overflow. */
bool strconv_int64(const char *s, int64_t *out);
/* A double that is a whole number within int64's range (casting any other
 * double is undefined behaviour). */
bool strconv_double_int64(double d, int64_t *out);
/* Value of one hex digit (either case), or -1. */
int strconv_hex_digit(int c);

#endif
