/* dl_table.c — a library's functions into a table of pointers. */
#include <dlfcn.h>
#include <string.h>

#include "dl_table.h"

#include "banned.h"

bool dl_table_load(const char *soname, const struct dl_symbol *syms, size_t n, void *table)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	if (h == NULL)
		return false;
	for (i = 0; i < n; i++) {
		void *p = dlsym(h, syms[i].name);
		if (p == NULL) {
			dlclose(h);
			return false;
		}
		memcpy((char *)table + syms[i].offset, &p, sizeof(p));
	}
	return true;
}
