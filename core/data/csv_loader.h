/*
 * data/csv_loader.h - the CSV loader's state while it parses (csv.c),
 * shared with its row loops (csv_avx512.c).  Internal to core/data.
 */
#ifndef ORRI_DATA_CSV_LOADER_H
#define ORRI_DATA_CSV_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>

struct orr_csv_options;

/* Bytes kept past the text in a stream buffer: a last field's NUL goes
 * there, which also stops the number scanner at the end of the text. */
#define PAD        ((size_t)16)

enum orri_csv_kind { K_UNDECIDED = 0, K_NUM, K_CAT };

struct orri_csv_col {
    char     *name;
    enum orri_csv_kind kind;
    int       force_cat;     /* declared, or found in the previous pass   */
    int       declared_num;
    int       mixed;         /* numbers then a label: read again as labels */
    double   *num;
    int       lent;          /* num lies in the split's shared array: not
                              * ours to free or realloc (struct lend)    */
    int32_t  *codes;
    uint8_t  *miss;
    char    **labels;
    size_t    n_labels, cap_labels;
    uint32_t *slots;         /* label hash index: code + 1, 0 = empty     */
    size_t    n_slots;
};

struct orri_csv_loader {
    const char            *display;
    const struct orr_csv_options *opt;
    struct orr_error      *e;
    int                    err;
    int                    restart;     /* a numeric column met a label    */
    size_t                 record;      /* 1-based record being parsed     */
    size_t                 field;       /* field index in the record       */
    int                    header_done;
    char                 **hdr;
    size_t                 n_hdr, cap_hdr;
    struct orri_csv_col           *cols;
    size_t                 n_cols;
    size_t                 rows, cap;
    char                 **forced;      /* names forced categorical (pass 2) */
    size_t                 n_forced;
    /* The first error, kept in parts so a second part's record number
     * can be renumbered once the first part's record count is known. */
    size_t                 err_record;  /* 0: the message has no record    */
    char                   err_col[256];
    char                   err_what[512];
    size_t                 fast_bytes;  /* text the fast path parsed     */
    size_t                 simd_rows;   /* rows the AVX-512 loop parsed  */
    int                    unlent;      /* a lent array ran out of room  */
    size_t                 ready;       /* rows of the arrays faulted in
                                         * ahead of the parser (csv.c,
                                         * prefault_rows); 0 when they
                                         * move                          */
};

/* 1 when this CPU runs the AVX-512 row loop (F, BW, DQ, CD, VBMI, VBMI2,
 * POPCNT, FMA, BMI2). */
int   orri_csv_avx512_cpu(void);
/* The AVX-512 row loop: rows of [p, e) whose columns are all numeric,
 * until one it does not take; returns where it stopped (csv_avx512.c). */
char *orri_csv_rows_avx512(struct orri_csv_loader *ld, char *p, char *e);

#endif
