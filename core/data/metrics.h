/*
 * data/metrics.h - evaluation metrics, defined as scikit-learn 1.2 defines
 * them (docs/training.md gives the formulas; tests/train checks agreement
 * to 1e-9 with /usr/bin/python3's sklearn).
 *
 * Classification takes each row's true class index (0..k-1) and the
 * model's probabilities: for k == 2 one column, P(class 1); otherwise k
 * columns.  The predicted class is argmax (first on ties); for k == 2,
 * class 1 when P > 0.5.  Precision, recall and F1 with no predicted or no
 * true rows of a class are 0 (sklearn's zero_division=0).  ROC-AUC and
 * PR-AUC (average precision) are NaN when a class has no positive or no
 * negative row; for k > 2 they are macro averages of one-vs-rest over the
 * classes where they are defined.  Log loss clips the probabilities given
 * to [eps, 1 - eps] (eps = DBL_EPSILON, sklearn's "auto"), expands a
 * binary column to (1 - p, p) and renormalises each row, like sklearn.
 */
#ifndef ORRI_DATA_METRICS_H
#define ORRI_DATA_METRICS_H

#include <stddef.h>

#include <orrery/status.h>

#include "api.h"

struct orr_class_score {
    double precision, recall, f1;
    size_t support;             /* true rows of the class                 */
};

struct orr_classification_eval {
    size_t  n, k;
    double  accuracy;
    double  precision, recall, f1;  /* k == 2: class 1; else macro        */
    double  roc_auc, pr_auc, log_loss;
    double  macro_precision, macro_recall, macro_f1;
    double  weighted_precision, weighted_recall, weighted_f1;
    struct orr_class_score *per_class;  /* k entries (malloc'ed)          */
    size_t *confusion;          /* k*k, [true * k + predicted] (malloc'ed) */
};

struct orr_regression_eval {
    size_t n;
    double rmse, mae, r2;
};

ORR_API int orr_eval_classification(const size_t *y, const double *proba,
                                    size_t n, size_t k,
                                    struct orr_classification_eval *out,
                                    struct orr_error *e);
ORR_API void orr_eval_classification_free(
    struct orr_classification_eval *ev);
ORR_API int orr_eval_regression(const double *y, const double *pred,
                                size_t n, struct orr_regression_eval *out,
                                struct orr_error *e);

/* Binary ROC-AUC and average precision of `score` for labels `pos`
 * (1 = positive); NaN when undefined. */
ORR_API double orr_roc_auc(const unsigned char *pos, const double *score,
                           size_t n);
ORR_API double orr_average_precision(const unsigned char *pos,
                                     const double *score, size_t n);

#endif
