#ifndef CAGENTSYSTEM_H
#define CAGENTSYSTEM_H
#include <malloc.h>
#include <stddef.h>
#include <sys/mman.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

/// glibc's malloc_trim, which Swift's Glibc module does not export: returns freed heap to the system.
static inline int cagent_malloc_trim(void) { return malloc_trim(0); }

/// madvise(MADV_PAGEOUT): reclaim the pages of a range (Linux 5.4+; EINVAL on older kernels).
static inline int cagent_madvise_pageout(void *address, size_t length) { return madvise(address, length, MADV_PAGEOUT); }

#endif
