/*
 * orrery/table.h - read-only columnar views of datasets and tensors.
 *
 * The core owns datasets; plugins (trainers, monitors) receive borrowed,
 * read-only views of them for the duration of one call.  A view is plain
 * memory: numeric columns are contiguous arrays, categorical columns are
 * integer codes plus a dictionary, and an optional byte mask marks missing
 * values.  Nothing here needs the core to be linked.
 *
 * Compatibility: each struct begins with a `size` member set by the
 * producer to sizeof(struct) as it knew it.  Members are only appended; a
 * reader checks `size` before touching a member added in a later minor.
 */
#ifndef ORRERY_TABLE_H
#define ORRERY_TABLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum orr_column_type {
    ORR_COL_F64 = 0,    /* `data` is const double[rows]                     */
    ORR_COL_F32,        /* `data` is const float[rows]                      */
    ORR_COL_I64,        /* `data` is const int64_t[rows]                    */
    ORR_COL_CATEGORY,   /* `data` is const int32_t[rows] codes into `dict`  */
    ORR_COL_TIME        /* `data` is const int64_t[rows], Unix seconds      */
};

/* One column.  All pointers are borrowed from the table's owner. */
struct orr_column {
    size_t               size;      /* sizeof(struct orr_column)            */
    const char          *name;
    enum orr_column_type type;
    const void          *data;      /* `rows` values of `type`             */
    const uint8_t       *missing;   /* NULL, or rows bytes: 1 = missing     */
    const char *const   *dict;      /* ORR_COL_CATEGORY: code -> label      */
    size_t               dict_len;  /* number of labels in `dict`           */
};

/*
 * A dataset as columns.  `target` is the index of the label column, or
 * ORR_NO_TARGET; `content_hash` identifies the dataset version (hex SHA-256
 * of its canonical bytes) so a plugin can record or cache by it.
 */
#define ORR_NO_TARGET ((size_t)-1)

struct orr_table {
    size_t                   size;      /* sizeof(struct orr_table)         */
    size_t                   rows;
    size_t                   cols;
    const struct orr_column *columns;   /* `cols` entries                   */
    size_t                   target;    /* column index or ORR_NO_TARGET   */
    const char              *content_hash; /* 64 hex chars, or NULL         */
};

/*
 * A dense row-major matrix of doubles, the model runtimes' input and output
 * format.  NaN marks a missing input value.  For outputs the runtime fills
 * `rows * cols` values into caller memory of `capacity` doubles.
 */
struct orr_matrix {
    size_t  rows;
    size_t  cols;
    double *data;
    size_t  capacity;   /* doubles available at `data` (outputs only)       */
};

#ifdef __cplusplus
}
#endif
#endif /* ORRERY_TABLE_H */
