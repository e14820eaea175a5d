/* rand.h — randomness from the OS CSPRNG and the identifiers built on it.
 * Every function checks the generator's return; failure is an error, never
 * a weaker fallback. */
#ifndef TROVE_RAND_H
#define TROVE_RAND_H

#include <stddef.h>

/* Fills n bytes from getrandom(2). Returns 0 or TROVE_ERR_INTERNAL. */
int rand_bytes(void *out, size_t n);
/* Writes a v4 UUID "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" + NUL (37 bytes). */
int rand_uuid(char out[37]);
/* Writes n uniformly random base62 characters + NUL into out (n+1 bytes),
 * by rejection sampling (no modulo bias). */
int rand_base62(char *out, size_t n);

#endif
