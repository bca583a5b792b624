/* roda_prefault.h - touch freshly allocated memory so that its pages are resident before the data
 * path runs.
 *
 * calloc() of a large block maps fresh zero pages that the kernel provides on first write: a
 * pipeline thread writing a new sensor's state would then take a page fault (a system call's
 * worth of work) on the hot path, and resident memory would grow under load instead of being
 * fixed at start. Writing one zero byte per page makes every page resident at creation; it is
 * done through a volatile pointer so the compiler cannot drop the stores as redundant after
 * calloc. Only for memory that is already zero. */
#ifndef RODA_PREFAULT_H
#define RODA_PREFAULT_H

#include <stddef.h>

#define RODA_PREFAULT_PAGE 4096u

/* Writes a zero into every page of the zeroed block [memory, memory + bytes). */
static inline void roda_prefault_zeroed(void *memory, size_t bytes)
{
    volatile unsigned char *p = memory;
    for (size_t i = 0; i < bytes; i += RODA_PREFAULT_PAGE)
        p[i] = 0;
    if (bytes != 0)
        p[bytes - 1] = 0;
}

#endif
