/* strhash.h — FNV-1a over C strings: the one non-cryptographic hash for
 * picking a lock stripe or a table slot. Not for anything an attacker
 * must not steer (it is not keyed). */
#ifndef TROVE_STRHASH_H
#define TROVE_STRHASH_H

#include <stdint.h>

#define STR_HASH_SEED 1469598103934665603ULL

/* Continues hash h over the bytes of s (chain several strings). */
uint64_t str_hash_more(uint64_t h, const char *s);
/* str_hash_more(STR_HASH_SEED, s). */
uint64_t str_hash(const char *s);

#endif
