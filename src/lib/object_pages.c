/* object_pages.c — read-only segments of loaded objects given back
 * (object_pages.h). */
#include "object_pages.h"

#include <link.h>
#include <stdbool.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "banned.h"

/* Whether the object's dynamic section asks for text relocations: the
 * loader then wrote into its read-only segments, and those pages are
 * private copies that only the loader could make again. */
static bool has_text_relocations(const struct dl_phdr_info *info)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_DYNAMIC)
			continue;
		for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
		     d->d_tag != DT_NULL; d++)
			if (d->d_tag == DT_TEXTREL || (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_TEXTREL)))
				return true;
	}
	return false;
}

/* The object's RELRO range [*lo, *hi), empty when it has none. */
static void relro_range(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi)
{
	*lo = *hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_GNU_RELRO) {
			*lo = info->dlpi_addr + ph->p_vaddr;
			*hi = *lo + ph->p_memsz;
		}
	}
}

static int each_object(struct dl_phdr_info *info, size_t size, void *data)
{
	size_t *total = data;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), relro_lo, relro_hi;
	(void)size;
	if (info->dlpi_addr != 0 && info->dlpi_addr == (uintptr_t)getauxval(AT_SYSINFO_EHDR))
		return 0; /* the vDSO: no file behind it */
	if (has_text_relocations(info))
		return 0;
	relro_range(info, &relro_lo, &relro_hi);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) || ph->p_memsz == 0)
			continue;
		uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
		if (start < relro_hi && relro_lo < end)
			continue;                         /* the loader wrote into it */
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

size_t object_pages_release(void)
{
	size_t total = 0;
	dl_iterate_phdr(each_object, &total);
	return total;
}
