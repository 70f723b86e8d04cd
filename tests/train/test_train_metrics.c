/* Evaluation metrics (core/data/metrics.c) against scikit-learn: fixtures
 * generated here (with ties, imbalance and extreme probabilities) are
 * written to CSV, sklearn_ref.py computes the reference values with
 * /usr/bin/python3's sklearn, and every value must agree to 1e-9.
 *
 *   test_train_metrics SKLEARN_REF.py */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/metrics.h"
#include "test.h"

#define TOL 1e-9

static const char *script;
static char dir[64];

static uint64_t rng = 0x243f6a8885a308d3ull;

static double uniform(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static json_t *reference(const char *kind, const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' metrics %s '%s'",
             script, kind, path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    json_error_t je;
    json_t *j = json_loadf(p, 0, &je);
    int st = pclose(p);
    if (!j || st != 0) {
        fprintf(stderr, "%s failed (status %d): is python3-sklearn "
                "installed for /usr/bin/python3?\n", cmd, st);
        json_decref(j);
        return NULL;
    }
    return j;
}

static double ref(json_t *j, const char *k)
{
    return json_number_value(json_object_get(j, k));
}

static void check_common(const struct orr_classification_eval *ev, json_t *j)
{
    CHECK_NEAR(ev->accuracy, ref(j, "accuracy"), TOL);
    CHECK_NEAR(ev->precision, ref(j, "precision"), TOL);
    CHECK_NEAR(ev->recall, ref(j, "recall"), TOL);
    CHECK_NEAR(ev->f1, ref(j, "f1"), TOL);
    CHECK_NEAR(ev->roc_auc, ref(j, "roc_auc"), TOL);
    CHECK_NEAR(ev->pr_auc, ref(j, "pr_auc"), TOL);
    CHECK_NEAR(ev->log_loss, ref(j, "log_loss"), TOL);
    CHECK_NEAR(ev->macro_precision, ref(j, "macro_precision"), TOL);
    CHECK_NEAR(ev->macro_recall, ref(j, "macro_recall"), TOL);
    CHECK_NEAR(ev->macro_f1, ref(j, "macro_f1"), TOL);
    CHECK_NEAR(ev->weighted_precision, ref(j, "weighted_precision"), TOL);
    CHECK_NEAR(ev->weighted_recall, ref(j, "weighted_recall"), TOL);
    CHECK_NEAR(ev->weighted_f1, ref(j, "weighted_f1"), TOL);
    for (size_t c = 0; c < ev->k; c++) {
        CHECK_NEAR(ev->per_class[c].precision, json_number_value(
            json_array_get(json_object_get(j, "per_class_precision"), c)),
            TOL);
        CHECK_NEAR(ev->per_class[c].recall, json_number_value(
            json_array_get(json_object_get(j, "per_class_recall"), c)), TOL);
        CHECK_NEAR(ev->per_class[c].f1, json_number_value(
            json_array_get(json_object_get(j, "per_class_f1"), c)), TOL);
        json_t *row = json_array_get(json_object_get(j, "confusion"), c);
        for (size_t k = 0; k < ev->k; k++)
            CHECK_INT(ev->confusion[c * ev->k + k],
                      json_integer_value(json_array_get(row, k)));
    }
}

static void test_binary(void)
{
    enum { N = 600 };
    static size_t y[N];
    static double p[N];
    char path[128];
    snprintf(path, sizeof path, "%s/binary.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "y,p\n");
    for (size_t i = 0; i < N; i++) {
        y[i] = uniform() < 0.3;
        double s = 0.35 * (double)y[i] + 0.65 * uniform();
        if (i % 5 == 0)
            s = round(s * 20) / 20;         /* ties */
        if (i == 7)
            s = 0.0;                        /* clipped by log loss */
        if (i == 11)
            s = 1.0;
        p[i] = s;
        fprintf(f, "%zu,%.17g\n", y[i], p[i]);
    }
    fclose(f);
    json_t *j = reference("binary", path);
    CHECK(j != NULL);
    if (!j)
        return;
    struct orr_classification_eval ev;
    struct orr_error e = {0};
    CHECK_INT(orr_eval_classification(y, p, N, 2, &ev, &e), 0);
    check_common(&ev, j);
    orr_eval_classification_free(&ev);
    json_decref(j);
}

static void test_multiclass(void)
{
    enum { N = 450, K = 4 };
    static size_t y[N];
    static double p[N * K];
    char path[128];
    snprintf(path, sizeof path, "%s/multi.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "y,p0,p1,p2,p3\n");
    for (size_t i = 0; i < N; i++) {
        double u = uniform();
        y[i] = u < 0.5 ? 0 : u < 0.75 ? 1 : u < 0.95 ? 2 : 3;
        double s = 0;
        for (size_t c = 0; c < K; c++) {
            double v = uniform() + (c == y[i] ? 0.6 : 0);
            if (i % 4 == 0)
                v = round(v * 4) / 4 + 0.01;    /* ties */
            p[i * K + c] = v;
            s += v;
        }
        fprintf(f, "%zu", y[i]);
        for (size_t c = 0; c < K; c++) {
            p[i * K + c] /= s;
            fprintf(f, ",%.17g", p[i * K + c]);
        }
        fprintf(f, "\n");
    }
    fclose(f);
    json_t *j = reference("multiclass", path);
    CHECK(j != NULL);
    if (!j)
        return;
    struct orr_classification_eval ev;
    struct orr_error e = {0};
    CHECK_INT(orr_eval_classification(y, p, N, K, &ev, &e), 0);
    check_common(&ev, j);
    orr_eval_classification_free(&ev);
    json_decref(j);
}

static void test_regression(void)
{
    enum { N = 500 };
    static double y[N], p[N];
    char path[128];
    snprintf(path, sizeof path, "%s/reg.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "y,pred\n");
    for (size_t i = 0; i < N; i++) {
        y[i] = 100 * uniform() - 30;
        p[i] = y[i] + 10 * (uniform() - 0.5);
        fprintf(f, "%.17g,%.17g\n", y[i], p[i]);
    }
    fclose(f);
    json_t *j = reference("regression", path);
    CHECK(j != NULL);
    if (!j)
        return;
    struct orr_regression_eval ev;
    struct orr_error e = {0};
    CHECK_INT(orr_eval_regression(y, p, N, &ev, &e), 0);
    CHECK_NEAR(ev.rmse, ref(j, "rmse"), TOL);
    CHECK_NEAR(ev.mae, ref(j, "mae"), TOL);
    CHECK_NEAR(ev.r2, ref(j, "r2"), TOL);
    json_decref(j);
}

static void test_edge_cases(void)
{
    /* One class present: AUCs are undefined (NaN), not wrong numbers. */
    size_t y[4] = {1, 1, 1, 1};
    double p[4] = {0.9, 0.2, 0.7, 0.6};
    struct orr_classification_eval ev;
    struct orr_error e = {0};
    CHECK_INT(orr_eval_classification(y, p, 4, 2, &ev, &e), 0);
    CHECK(isnan(ev.roc_auc));
    CHECK_NEAR(ev.accuracy, 0.75, 0);
    orr_eval_classification_free(&ev);
    double bad[4] = {0.5, NAN, 0.1, 0.2};
    CHECK_INT(orr_eval_classification(y, bad, 4, 2, &ev, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "row 2");
    CHECK_INT(orr_eval_classification(y, p, 0, 2, &ev, &e), ORR_EINVAL);
    /* Perfect ranking and exact known values. */
    unsigned char pos[4] = {0, 0, 1, 1};
    double s[4] = {0.1, 0.4, 0.35, 0.8};
    CHECK_NEAR(orr_roc_auc(pos, s, 4), 0.75, 1e-15);
    CHECK_NEAR(orr_average_precision(pos, s, 4), 0.8333333333333333, 1e-15);
}

static void test_cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static int setup(int argc, char **argv)
{
    script = argc > 1 ? argv[1] : "tests/train/sklearn_ref.py";
    snprintf(dir, sizeof dir, "/tmp/orrery-metrics-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

int test_main_(int argc, char **argv);

#define main test_main_
TEST_MAIN({"binary", test_binary}, {"multiclass", test_multiclass},
          {"regression", test_regression}, {"edge_cases", test_edge_cases},
          {"cleanup", test_cleanup})
#undef main

int main(int argc, char **argv)
{
    if (setup(argc, argv))
        return 1;
    char *args[] = {argv[0], NULL};
    return test_main_(1, args);
}
