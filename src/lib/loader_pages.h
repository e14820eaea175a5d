/* loader_pages.h — gives back the pages the dynamic loader read once.
 *
 * Loading a shared library reads its symbol tables and relocations (the
 * read-only segment before its code) and keeps them resident, mapped
 * into every process that loaded it: for libcrypto that is most of its
 * first 800 KiB. After start-up a long-running process of Trove's that
 * resolves nothing more (trove is linked with -z now) can let the kernel
 * take those clean pages back: they are file-backed and read-only, so
 * nothing is lost, and a later read (dlopen, a constant in .rodata) only
 * faults them in again. */
#ifndef TROVE_LOADER_PAGES_H
#define TROVE_LOADER_PAGES_H

#include <stddef.h>

/* Advises the kernel that the read-only, non-executable segments of
 * every loaded object are not needed now (MADV_PAGEOUT where the kernel
 * has it, MADV_DONTNEED otherwise). Returns the bytes advised. */
size_t loader_pages_release(void);

#endif
