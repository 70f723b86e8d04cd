/*
 * tests/data/same_ds.c - see same_ds.h.
 */
#include "same_ds.h"

#include <string.h>

int same_ds(const struct orr_dataset *a, const struct orr_dataset *b)
{
    const struct orr_table *x = &a->view, *y = &b->view;
    if (x->rows != y->rows || x->cols != y->cols || x->target != y->target)
        return 0;
    for (size_t c = 0; c < x->cols; c++) {
        const struct orr_column *p = &x->columns[c], *q = &y->columns[c];
        if (strcmp(p->name, q->name) || p->type != q->type ||
            p->dict_len != q->dict_len || !p->missing != !q->missing)
            return 0;
        size_t w = p->type == ORR_COL_CATEGORY ? 4 : 8;
        if (memcmp(p->data, q->data, x->rows * w) ||
            (p->missing && memcmp(p->missing, q->missing, x->rows)))
            return 0;
        for (size_t l = 0; l < p->dict_len; l++)
            if (strcmp(p->dict[l], q->dict[l]))
                return 0;
    }
    return 1;
}
