/*
 * data/csv_internal.h - knobs of the CSV loader for its tests.
 *
 * None is thread-safe: set them before loading.
 */
#ifndef ORR_DATA_CSV_INTERNAL_H
#define ORR_DATA_CSV_INTERNAL_H

#include <stddef.h>

/* Parse files of at least `bytes` bytes with two threads (default
 * 16 MiB); 0 splits every file with a data record past its middle, and
 * SIZE_MAX never splits. */
void orri_csv_set_parallel_min(size_t bytes);

/* 1 if the calling thread's last file parsed (by its last pass) was
 * parsed in two parts whose split was confirmed, 0 if by one parser. */
int orri_csv_last_split(void);

/* Bytes of the calling thread's last file (its last pass) that the
 * quote-free fast path parsed; the rest went through libcsv. */
size_t orri_csv_last_fast_bytes(void);

/* For the calling thread's last file parsed in two parts: bit 0 set if
 * the first part outgrew the room the split lent it (its estimate of
 * the rows before the second part's was low), bit 1 if the second part
 * did; either then copied its numbers to arrays of its own (see struct
 * lend in csv.c). */
int orri_csv_last_unlent(void);

/* Read the file `bytes` at a time (default and 0: 1 MiB); small chunks
 * put records across chunk boundaries. */
void orri_csv_set_chunk(size_t bytes);

/* 1 (the default): quote-free text takes the fast path; 0: every byte
 * goes through libcsv, as a reference for the fast path's results. */
void orri_csv_set_fast_path(int on);

/* 1 (the default): regular files are mapped and parsed in place; 0:
 * read into the stream's buffer, as pipes are. */
void orri_csv_set_map(int on);

/* Rows of the calling thread's last file (its last pass) that the
 * AVX-512 loop parsed. */
size_t orri_csv_last_simd_rows(void);

/* The row loop for rows of numeric columns: 0 the scalar one
 * everywhere; 1 (the default, chosen at the first load) the AVX-512 one
 * where the CPU has it (F, BW, DQ, CD, VBMI, VBMI2, BMI2).  Returns the
 * loop now in use: 1 AVX-512, 0 scalar. */
int orri_csv_set_simd(int level);

#endif /* ORR_DATA_CSV_INTERNAL_H */
