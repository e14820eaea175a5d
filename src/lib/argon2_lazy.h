/* argon2_lazy.h — libargon2 is loaded on first use, not at start-up.
 *
 * Only the server hashes passwords (auth/userpass), so, as for libcurl
 * (curl_lazy.h) and liblmdb (lmdb_lazy.h), the binary does not link
 * libargon2: argon2_lazy.c defines the functions Trove calls and loads
 * libargon2.so.1 the first time one of them runs. Code includes
 * <argon2.h> and calls it as usual. */
#ifndef TROVE_ARGON2_LAZY_H
#define TROVE_ARGON2_LAZY_H

#include <stdbool.h>

/* What the int-returning functions return when libargon2 could not be
 * loaded: no ARGON2_* code (so never ARGON2_OK), and argon2_error_message
 * says why. */
#define ARGON2_LAZY_NOT_LOADED (-1000)

/* Loads libargon2 once (thread-safe). Returns whether it is loaded. When
 * not, argon2_encodedlen returns 1 (room for an empty string). */
bool argon2_lazy_load(void);

#endif
