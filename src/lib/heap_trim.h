/* heap_trim.h — gives the free pages inside the heap back to the kernel.
 *
 * glibc keeps memory freed in the middle of its heap mapped, resident
 * for the life of the process. A long-running process that has just
 * freed a large working set (an informer's list, a burst of work before
 * an idle agent) hands those pages back with heap_trim. */
#ifndef TROVE_HEAP_TRIM_H
#define TROVE_HEAP_TRIM_H

/* malloc_trim(0) on glibc's heap when it is the one in use; nothing
 * under a sanitizer, whose allocator is its own. */
void heap_trim(void);

#endif
