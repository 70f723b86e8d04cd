/*
 * data/metrics.c - evaluation metrics (see data/metrics.h).
 */
#include "data/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* np.finfo(float64).eps: sklearn's eps="auto". */
#define LOG_EPS 2.220446049250313e-16

struct scored { double s; unsigned char pos; };

static int cmp_desc(const void *pa, const void *pb)
{
    double a = ((const struct scored *)pa)->s;
    double b = ((const struct scored *)pb)->s;
    return (a < b) - (a > b);
}

/* Walk distinct thresholds from the highest score down, calling back with
 * the cumulative true/false positives at each. */
static struct scored *sorted(const unsigned char *pos, const double *score,
                             size_t n, size_t *P)
{
    struct scored *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return NULL;
    *P = 0;
    for (size_t i = 0; i < n; i++) {
        v[i].s = score[i];
        v[i].pos = pos[i] ? 1 : 0;
        *P += v[i].pos;
    }
    qsort(v, n, sizeof *v, cmp_desc);
    return v;
}

ORR_API double orr_roc_auc(const unsigned char *pos, const double *score,
                           size_t n)
{
    size_t P;
    struct scored *v = sorted(pos, score, n, &P);
    if (!v)
        return NAN;
    size_t N = n - P;
    if (!P || !N) {
        free(v);
        return NAN;
    }
    double area = 0, tp = 0, fp = 0, prev_tp = 0, prev_fp = 0;
    for (size_t i = 0; i < n; i++) {
        tp += v[i].pos;
        fp += !v[i].pos;
        if (i + 1 < n && v[i + 1].s == v[i].s)
            continue;
        area += (fp - prev_fp) * (tp + prev_tp) / 2.0;
        prev_tp = tp;
        prev_fp = fp;
    }
    free(v);
    return area / ((double)P * (double)N);
}

ORR_API double orr_average_precision(const unsigned char *pos,
                                     const double *score, size_t n)
{
    size_t P;
    struct scored *v = sorted(pos, score, n, &P);
    if (!v)
        return NAN;
    if (!P) {
        free(v);
        return NAN;
    }
    double ap = 0, tp = 0, fp = 0, prev_r = 0;
    for (size_t i = 0; i < n; i++) {
        tp += v[i].pos;
        fp += !v[i].pos;
        if (i + 1 < n && v[i + 1].s == v[i].s)
            continue;
        double r = tp / (double)P;
        ap += (r - prev_r) * (tp / (tp + fp));
        prev_r = r;
    }
    free(v);
    return ap;
}

ORR_API void orr_eval_classification_free(struct orr_classification_eval *ev)
{
    if (!ev)
        return;
    free(ev->per_class);
    free(ev->confusion);
    ev->per_class = NULL;
    ev->confusion = NULL;
}

/* Probability of class c for row i. */
static double prob(const double *proba, size_t k, size_t i, size_t c)
{
    if (k == 2)
        return c == 1 ? proba[i] : 1.0 - proba[i];
    return proba[i * k + c];
}

ORR_API int orr_eval_classification(const size_t *y, const double *proba,
                                    size_t n, size_t k,
                                    struct orr_classification_eval *out,
                                    struct orr_error *e)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || k < 2)
        return orr_fail(e, ORR_EINVAL, "evaluation needs rows and at least "
                        "2 classes (got %zu rows, %zu classes)", n, k);
    for (size_t i = 0; i < n; i++) {
        if (y[i] >= k)
            return orr_fail(e, ORR_EINVAL, "row %zu: class index out of "
                            "range", i + 1);
        for (size_t c = 0; c < (k == 2 ? 1 : k); c++)
            if (!isfinite(proba[i * (k == 2 ? 1 : k) + c]))
                return orr_fail(e, ORR_EINVAL, "row %zu: the model "
                                "predicted a non-finite probability", i + 1);
    }
    out->n = n;
    out->k = k;
    out->per_class = calloc(k, sizeof *out->per_class);
    out->confusion = calloc(k * k, sizeof *out->confusion);
    unsigned char *pos = malloc(n);
    double *score = malloc(n * sizeof *score);
    if (!out->per_class || !out->confusion || !pos || !score) {
        free(pos);
        free(score);
        orr_eval_classification_free(out);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    size_t correct = 0;
    double ll = 0;
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        if (k == 2) {
            best = proba[i] > 0.5;
        } else {
            for (size_t c = 1; c < k; c++)
                if (proba[i * k + c] > proba[i * k + best])
                    best = c;
        }
        out->confusion[y[i] * k + best]++;
        correct += best == y[i];
        double sum = 0, pt = 0;
        for (size_t c = 0; c < k; c++) {
            /* Clip as given (one column when binary), then expand. */
            double p = k == 2 ? proba[i] : proba[i * k + c];
            p = p < LOG_EPS ? LOG_EPS : p > 1 - LOG_EPS ? 1 - LOG_EPS : p;
            if (k == 2 && c == 0)
                p = 1 - p;
            sum += p;
            if (c == y[i])
                pt = p;
        }
        ll -= log(pt / sum);
    }
    out->accuracy = (double)correct / (double)n;
    out->log_loss = ll / (double)n;
    double auc_sum = 0, ap_sum = 0;
    size_t auc_n = 0, ap_n = 0;
    for (size_t c = 0; c < k; c++) {
        struct orr_class_score *s = &out->per_class[c];
        size_t tp = out->confusion[c * k + c], pred = 0, truth = 0;
        for (size_t j = 0; j < k; j++) {
            pred += out->confusion[j * k + c];
            truth += out->confusion[c * k + j];
        }
        s->support = truth;
        s->precision = pred ? (double)tp / (double)pred : 0;
        s->recall = truth ? (double)tp / (double)truth : 0;
        s->f1 = s->precision + s->recall > 0 ?
                2 * s->precision * s->recall / (s->precision + s->recall) : 0;
        out->macro_precision += s->precision / (double)k;
        out->macro_recall += s->recall / (double)k;
        out->macro_f1 += s->f1 / (double)k;
        double w = (double)truth / (double)n;
        out->weighted_precision += s->precision * w;
        out->weighted_recall += s->recall * w;
        out->weighted_f1 += s->f1 * w;
        if (k == 2 && c == 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            pos[i] = y[i] == c;
            score[i] = prob(proba, k, i, c);
        }
        double a = orr_roc_auc(pos, score, n);
        double p = orr_average_precision(pos, score, n);
        if (!isnan(a)) {
            auc_sum += a;
            auc_n++;
        }
        if (!isnan(p)) {
            ap_sum += p;
            ap_n++;
        }
    }
    out->roc_auc = auc_n ? auc_sum / (double)auc_n : NAN;
    out->pr_auc = ap_n ? ap_sum / (double)ap_n : NAN;
    if (k == 2) {
        out->precision = out->per_class[1].precision;
        out->recall = out->per_class[1].recall;
        out->f1 = out->per_class[1].f1;
    } else {
        out->precision = out->macro_precision;
        out->recall = out->macro_recall;
        out->f1 = out->macro_f1;
    }
    free(pos);
    free(score);
    return ORR_OK;
}

ORR_API int orr_eval_regression(const double *y, const double *pred,
                                size_t n, struct orr_regression_eval *out,
                                struct orr_error *e)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return orr_fail(e, ORR_EINVAL, "evaluation needs rows");
    double mean = 0, se = 0, ae = 0, tot = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i]) || !isfinite(pred[i]))
            return orr_fail(e, ORR_EINVAL, "row %zu: non-finite %s", i + 1,
                            isfinite(y[i]) ? "prediction" : "target");
        mean += y[i];
    }
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = y[i] - pred[i];
        se += d * d;
        ae += fabs(d);
        tot += (y[i] - mean) * (y[i] - mean);
    }
    out->n = n;
    out->rmse = sqrt(se / (double)n);
    out->mae = ae / (double)n;
    out->r2 = tot > 0 ? 1 - se / tot : (se == 0 ? 1.0 : 0.0);
    return ORR_OK;
}
