/* vcache.h — a small cache of parsed values that never serves stale data.
 *
 * Hot paths read the same few storage records again and again (a token's
 * entry, a secret's metadata), and each read costs a storage read, an
 * AES-GCM open and a parse. A vcache keeps the parsed value by key. It is
 * a fixed array of slots, direct-mapped by a hash of the key (a collision
 * replaces), each with a generation counter:
 *
 *   gen = vcache_generation(c, key);   before reading storage
 *   ... read and parse the value ...
 *   vcache_put(c, key, gen, v);        kept only if gen is still current
 *
 * and every writer of a key calls vcache_forget after its storage write,
 * which bumps the generation. A reader that read the old value before the
 * write cannot put it back after the forget, so the cache never serves a
 * value older than the last completed write.
 *
 * Values go in and out through the owner's callbacks: `copy` makes what
 * the cache keeps and what vcache_get returns (a deep copy, or a new
 * reference to an immutable value), `release` frees one. Thread-safe. */
#ifndef TROVE_VCACHE_H
#define TROVE_VCACHE_H

#include <stddef.h>
#include <stdint.h>

struct vcache;

struct vcache *vcache_new(size_t slots, void *(*copy)(const void *v), void (*release)(void *v));
void vcache_free(struct vcache *c);

uint64_t vcache_generation(struct vcache *c, const char *key);
/* A copy of the cached value, or NULL. */
void *vcache_get(struct vcache *c, const char *key);
void vcache_put(struct vcache *c, const char *key, uint64_t gen, const void *v);
void vcache_forget(struct vcache *c, const char *key);
/* Drops every value (on seal) and bumps every generation. */
void vcache_clear(struct vcache *c);

#endif
