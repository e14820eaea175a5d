/* dl_table.h — fill a table of function pointers from a shared library.
 *
 * The client libraries Trove loads on first use (libcurl, libpq,
 * libmariadb) are each reached through a struct of function pointers
 * filled from dlsym. This is the one loop that fills it. */
#ifndef TROVE_DL_TABLE_H
#define TROVE_DL_TABLE_H

#include <stdbool.h>
#include <stddef.h>

/* One symbol and where its pointer goes: the offset of a function
 * pointer member in the caller's table (offsetof). */
struct dl_symbol {
	const char *name;
	size_t offset;
};

/* Opens `soname` (RTLD_NOW | RTLD_LOCAL) and copies each symbol's address
 * into table + offset (with memcpy: POSIX lets dlsym's void * become a
 * function pointer, ISO C does not). Returns true when every symbol was
 * found; otherwise closes the library and returns false, the table then
 * partly filled and not to be used. The library stays open for the life
 * of the process. */
bool dl_table_load(const char *soname, const struct dl_symbol *syms, size_t n, void *table);

#endif
