/* heap_trim.c — free heap pages given back (heap_trim.h). */
#include "heap_trim.h"

#include <malloc.h>

#include "banned.h"

/* Under a sanitizer glibc's heap is never set up, and malloc_trim would
 * set it up from whichever thread calls first: several threads trimming
 * at once then each attach to its main arena while it counts one, and
 * glibc aborts as the second of them exits. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || __has_feature(thread_sanitizer)
#define TROVE_SANITIZED_HEAP 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TROVE_SANITIZED_HEAP 1
#endif

void heap_trim(void)
{
#ifndef TROVE_SANITIZED_HEAP
	(void)malloc_trim(0);
#endif
}
