/* loader_pages.c — read-only segments of loaded objects given back
 * (loader_pages.h). */
#include "loader_pages.h"

#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include "banned.h"

static int each_object(struct dl_phdr_info *info, size_t size, void *data)
{
	size_t *total = data;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || ph->p_flags != PF_R || ph->p_memsz == 0)
			continue;
		uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
		start = (start + page - 1) & ~(page - 1); /* whole pages of this segment only */
		end &= ~(page - 1);
		if (end <= start)
			continue;
		if (madvise((void *)start, end - start, MADV_DONTNEED) != 0)
			continue;
		*total += end - start;
	}
	return 0;
}

size_t loader_pages_release(void)
{
	size_t total = 0;
	dl_iterate_phdr(each_object, &total);
	return total;
}
