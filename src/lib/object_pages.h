/* object_pages.h — gives back the file pages of the loaded objects.
 *
 * The program and each shared library it loaded are mapped from their
 * files: code, constants, and the symbol tables and relocations the
 * loader reads at start. Every page of them that is touched stays
 * resident, and the kernel maps its neighbours with it (fault-around, up
 * to 64 KiB a fault), so a one-time event, the loader's start or OpenSSL
 * setting up its algorithms for a first TLS handshake, leaves megabytes
 * mapped that the process never reads again. A long-running process that
 * waits most of its life (the agent) can let the kernel take them back
 * when it goes idle: these pages are clean copies of the files (still in
 * the page cache, shared with every other process using them), so nothing
 * is lost, and a page needed later only faults in again.
 *
 * Only the segments the files map read-only are touched: text and
 * read-only data, never a writable segment nor the RELRO range written
 * by the loader (trove is linked with -z now, so nothing resolves lazily
 * after start). Objects with text relocations, whose code pages the
 * loader wrote to, and the vDSO, which has no file, are left alone. A
 * debugger's breakpoint in a released page is lost with it. */
#ifndef TROVE_OBJECT_PAGES_H
#define TROVE_OBJECT_PAGES_H

#include <stddef.h>

/* Advises the kernel that the read-only segments (code and constants)
 * of every loaded object are not needed now (MADV_DONTNEED). Returns the
 * bytes advised. */
size_t object_pages_release(void);

#endif
