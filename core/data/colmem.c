/*
 * data/colmem.c - large column arrays, on transparent huge pages when
 * asked (see data/colmem.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data/colmem.h"

#define HUGE_PAGE ((uintptr_t)2 << 20)

static int huge;

void orri_col_set_huge(int on)
{
    huge = on;
}

/* Ask for huge pages on the whole 2 MiB pages inside [p, p + bytes).  A
 * hint: without THP (or on a kernel that refuses) the array simply keeps
 * small pages, so the result is ignored. */
static void advise_huge(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t e = ((uintptr_t)p + bytes) & ~(HUGE_PAGE - 1);
    if (e > a)
        (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

void *orri_col_alloc(size_t bytes)
{
    if (!huge || bytes < ORRI_COL_HUGE_MIN) {
        /* whole cache lines: see ORRI_COL_ALIGN */
        void *p;
        return posix_memalign(&p, ORRI_COL_ALIGN, bytes ? bytes : 1) ?
               NULL : p;
    }
    /* Whole huge pages: a partial last one would stay on small pages,
     * and the rows written there (a second part's last ones: see
     * csv.c) would fault 4 KiB at a time.  Room past the array's end
     * costs address space only, and the loader gives it back. */
    bytes += (size_t)(-bytes & (HUGE_PAGE - 1));
    void *p;
    if (posix_memalign(&p, (size_t)HUGE_PAGE, bytes))
        return NULL;
    advise_huge(p, bytes);
    return p;
}

void *orri_col_realloc(void *p, size_t used, size_t bytes)
{
    if (!p)
        return orri_col_alloc(bytes);
    if (huge && bytes >= ORRI_COL_HUGE_MIN && used < ORRI_COL_HUGE_MIN) {
        void *q = orri_col_alloc(bytes);
        if (!q)
            return NULL;
        memcpy(q, p, used);
        free(p);
        return q;
    }
    void *q = realloc(p, bytes ? bytes : 1);
    if (q && huge && bytes >= ORRI_COL_HUGE_MIN)
        advise_huge(q, bytes);
    return q;
}

void orri_col_populate(void *from, void *to)
{
#ifdef MADV_POPULATE_WRITE
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || (uintptr_t)to <= (uintptr_t)from)
        return;
    uintptr_t a = (uintptr_t)from & ~((uintptr_t)page - 1);
    uintptr_t b = ((uintptr_t)to + (uintptr_t)page - 1) &
                  ~((uintptr_t)page - 1);
    (void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
#else
    (void)from;
    (void)to;
#endif
}
