/*
 * data/csv_internal.h - knobs of the CSV loader for its tests.
 */
#ifndef ORR_DATA_CSV_INTERNAL_H
#define ORR_DATA_CSV_INTERNAL_H

#include <stddef.h>

/* Parse files of at least `bytes` bytes with two threads (default
 * 16 MiB); 0 splits every file with a data record past its middle, and
 * SIZE_MAX never splits.  Not thread-safe: set it before loading. */
void orri_csv_set_parallel_min(size_t bytes);

/* 1 if the calling thread's last file parsed (by its last pass) was
 * parsed in two parts whose split was confirmed, 0 if by one parser. */
int orri_csv_last_split(void);

#endif /* ORR_DATA_CSV_INTERNAL_H */
