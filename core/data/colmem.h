/*
 * data/colmem.h - memory for the loader's large column arrays.
 *
 * A 2,000,000-row column of doubles is 16 MB; a 1 GB CSV fills about
 * 800 MB of them, faulted in 4 KiB at a time.  With huge pages on (see
 * orri_col_set_huge), large arrays are 2 MiB aligned, rounded up to
 * whole 2 MiB pages and marked MADV_HUGEPAGE, so that where transparent
 * huge pages are enabled (even in "madvise" mode) one fault brings in
 * 2 MiB.  Off by default: measured on the development VM (a guest whose
 * balloon reports free memory to the host), a load with huge pages took
 * 0.50 s when it ran right after another, but 1.5-2.3 s after a pause of
 * a few seconds - the host backs each 2 MiB block afresh - against
 * 0.60-0.70 s either way with small pages (bench_train.sh shows both).
 * The arrays are ordinary malloc memory either way: free() and realloc()
 * apply (datasets free their columns with free()).
 */
#ifndef ORR_DATA_COLMEM_H
#define ORR_DATA_COLMEM_H

#include <stddef.h>

/* Arrays start on a cache line (on a huge page when they get one): the
 * AVX-512 row loop writes 8 rows of a column at a time from a multiple
 * of 8, one whole line (csv_avx512.c). */
#define ORRI_COL_ALIGN ((size_t)64)

/* With huge pages on, arrays of at least this many bytes get them. */
#define ORRI_COL_HUGE_MIN ((size_t)4 << 20)

/* 1: huge pages for large arrays from now on; 0 (the default): not.  Not
 * thread-safe: set it before loading (the benchmarks do). */
void orri_col_set_huge(int on);

/* A fresh column array of `bytes`, ORRI_COL_ALIGN aligned, or NULL.
 * (realloc keeps the alignment of large arrays, glibc's mmap'ed
 * blocks, but not always of small ones: it costs speed, not results.) */
void *orri_col_alloc(size_t bytes);

/* realloc(p, bytes) for a column array whose first `used` bytes matter
 * (used <= the old size; p may be NULL with used 0).  With huge pages,
 * growing past ORRI_COL_HUGE_MIN moves the array to a fresh 2 MiB
 * aligned block (copying `used` bytes: arrays cross it once, while still
 * small); larger arrays grow by realloc, which moves mmap'ed blocks by
 * remapping their pages, not copying them.  NULL on failure, p then
 * untouched. */
void *orri_col_realloc(void *p, size_t used, size_t bytes);

/* Fault in the pages of [from, to) of a column array now, with one
 * MADV_POPULATE_WRITE, instead of a trap a page as the rows are written
 * (csv.c, ahead of its parser).  A hint: errors, such as kernels before
 * 5.14, are ignored. */
void orri_col_populate(void *from, void *to);

#endif /* ORR_DATA_COLMEM_H */
