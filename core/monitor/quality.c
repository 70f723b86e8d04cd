/*
 * monitor/quality.c - model quality on the labelled rows of a window,
 * with the evaluation code of training (core/data/metrics), so figures
 * compare with those recorded at registration.
 */
#include <math.h>
#include <stdlib.h>

#include <orrery/trainer.h>

#include "data/metrics.h"
#include "monitor/internal.h"
#include "util/error.h"

int orri_mon_quality(int task, const double *y, size_t out_cols,
                     const double *label, size_t n, size_t n_classes,
                     struct orri_mon_quality *out, size_t *n_out,
                     struct orr_error *e)
{
    *n_out = 0;
    int classify = task == ORR_TASK_BINARY || task == ORR_TASK_MULTICLASS;
    size_t k = task == ORR_TASK_BINARY ? 2 : n_classes;
    size_t pcols = task == ORR_TASK_BINARY ? 1 : classify ? k : 1;
    if (!y || out_cols < pcols || (classify && k < 2))
        return orr_fail(e, ORR_EINVAL, "quality: the logged outputs (%zu "
                        "columns) do not fit the model's task", out_cols);
    size_t m = 0;
    size_t *yi = malloc((n ? n : 1) * sizeof *yi);
    double *yv = malloc((n ? n : 1) * sizeof *yv);
    double *p = malloc((n ? n : 1) * pcols * sizeof *p);
    int rc = ORR_OK;
    if (!yi || !yv || !p) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        double l = label[i];
        if (isnan(l))
            continue;
        if (classify && (l < 0 || l >= (double)k || l != floor(l)))
            continue;
        int ok = 1;
        for (size_t c = 0; c < pcols; c++)
            ok &= !isnan(y[i * out_cols + c]);
        if (!ok)
            continue;
        for (size_t c = 0; c < pcols; c++)
            p[m * pcols + c] = y[i * out_cols + c];
        yi[m] = classify ? (size_t)l : 0;
        yv[m] = l;
        m++;
    }
    if (!m)
        goto fail;
    if (classify) {
        struct orr_classification_eval ev = {0};
        rc = orr_eval_classification(yi, p, m, k, &ev, e);
        if (rc)
            goto fail;
        out[0] = (struct orri_mon_quality){"accuracy", ev.accuracy, 1};
        out[1] = (struct orri_mon_quality){"roc_auc", ev.roc_auc, 1};
        out[2] = (struct orri_mon_quality){"log_loss", ev.log_loss, 0};
        out[3] = (struct orri_mon_quality){"f1", ev.f1, 1};
        *n_out = 4;
        orr_eval_classification_free(&ev);
    } else {
        struct orr_regression_eval ev = {0};
        rc = orr_eval_regression(yv, p, m, &ev, e);
        if (rc)
            goto fail;
        out[0] = (struct orri_mon_quality){"rmse", ev.rmse, 0};
        out[1] = (struct orri_mon_quality){"mae", ev.mae, 0};
        out[2] = (struct orri_mon_quality){"r2", ev.r2, 1};
        *n_out = 3;
    }
fail:
    free(yi);
    free(yv);
    free(p);
    return rc;
}
