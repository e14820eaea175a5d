/* secure.h — secret hygiene: wiping, constant-time comparison, mlock. */
#ifndef TROVE_SECURE_H
#define TROVE_SECURE_H

#include <stdbool.h>
#include <stddef.h>

/* Zeroes n bytes in a way the compiler cannot elide. NULL is fine. */
void secure_wipe(void *p, size_t n);
/* Wipes and frees n bytes. NULL is fine. */
void secure_free(void *p, size_t n);
/* Wipes strlen(s) bytes and frees s. NULL is fine. */
void secure_free_str(char *s);
/* Constant-time equality over n bytes (time depends only on n). */
bool secure_eq(const void *a, const void *b, size_t n);
/* Whether given (a client's candidate) equals expected (the stored
 * secret), in time that depends only on strlen(expected): the loop runs
 * over expected alone, and given is never measured. At most
 * strlen(expected) + 1 bytes of given are read, fewer when its terminator
 * comes first, so a long or short candidate tells nothing about the
 * secret's length. Both must be non-NULL; given need only be terminated
 * within those bytes. */
bool secure_str_eq(const char *expected, const char *given);
/* mlockall(MCL_CURRENT|MCL_FUTURE). Returns 0 or -errno. */
int secure_lock_memory(void);
/* Makes jansson wipe every block it frees (parsed keyrings, tokens and
 * request bodies pass through its scratch buffers). Call once, before any
 * other jansson use. */
void secure_install_json_allocator(void);

#endif
