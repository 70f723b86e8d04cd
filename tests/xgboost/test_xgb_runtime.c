/* The xgboost trainer and runtime through the real loader: fit on
 * penguins (multiclass, NA values, categorical inputs), store the model
 * and open it back by digest, predict concurrently from 8 threads (each
 * with batches of several sizes; results equal to one thread's), refuse a
 * wrong input width, a too small output and a corrupt model file; two
 * fits with the same seed write identical model files. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/cfg.h"
#include "core.h"
#include "data/model_io.h"
#include "data/table.h"
#include "plugin/model.h"
#include "test.h"

#define THREADS 8

static char site[256];

struct job {
    const struct orr_model *m;
    const double *x;
    size_t rows, cols, k;
    const double *want;
    int mismatches, calls;
};

static void *predict_many(void *arg)
{
    struct job *j = arg;
    static const size_t batch[] = {1, 7, 64, 344};
    double *y = malloc(344 * j->k * sizeof *y);
    struct orr_error e = {0};
    for (int round = 0; round < 20; round++)
        for (size_t b = 0; b < sizeof batch / sizeof *batch; b++)
            for (size_t r = 0; r + batch[b] <= j->rows; r += batch[b]) {
                struct orr_matrix xm = {batch[b], j->cols,
                                        (double *)j->x + r * j->cols, 0};
                struct orr_matrix ym = {0, 0, y, 344 * j->k};
                j->calls++;
                if (orr_model_predict(j->m, &xm, &ym, &e) ||
                    memcmp(y, j->want + r * j->k,
                           batch[b] * j->k * sizeof *y))
                    j->mismatches++;
            }
    free(y);
    return NULL;
}

static int fit(struct orr_instance *inst, const struct orr_dataset *ds,
               struct orr_cfg *p, char *dir, size_t cap,
               struct orr_fit_result *res, struct orr_error *e)
{
    if (orr_tempdir(dir, cap, "test-xgb", e))
        return -1;
    struct orr_fit_request req = {.size = sizeof req, .train = &ds->view,
                                  .params = p, .out_dir = dir, .seed = 11,
                                  .threads = 2};
    *res = (struct orr_fit_result){.size = sizeof *res};
    return inst->backend->ops.trainer.fit(inst->self, &req, res, e);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    *len = fread(s, 1, (size_t)n, f);
    fclose(f);
    return s;
}

static void test_fit_store_predict(void)
{
    struct orr_error e = {0};
    const char *data = getenv("ORRERY_TEST_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/penguins.csv", data ? data : "tests/data");
    struct orr_csv_options o = {.target = "species"};
    struct orr_dataset *ds = NULL;
    CHECK_INT(orr_dataset_load_csv(path, &o, &ds, &e), 0);
    if (!ds)
        return;
    struct orr_core *core = NULL;
    struct orr_core_options co = {0};
    struct orr_instance *inst = NULL, *st = NULL;
    CHECK_INT(orr_core_open(&core, &co, &e), 0);
    CHECK_INT(orr_instance_open(core, ORR_KIND_TRAINER, "xgboost", NULL,
                                &inst, &e), 0);
    CHECK_INT(orr_core_storage(core, &st, &e), 0);
    if (!inst || !st) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    struct orr_cfg *p = orr_cfg_new_table();
    orr_cfg_set_int(p, "max_depth", 3, "test");
    orr_cfg_set_num(p, "eta", 0.3, "test");
    orr_cfg_set_num(p, "subsample", 0.8, "test");
    orr_cfg_set_int(p, "num_boost_round", 20, "test");
    char dir[4096], dir2[4096];
    struct orr_fit_result res;
    CHECK_INT(fit(inst, ds, p, dir, sizeof dir, &res, &e), 0);
    CHECK_STR(res.flavor, "xgboost");
    CHECK_INT(res.task, ORR_TASK_MULTICLASS);
    CHECK_INT(res.n_outputs, 3);
    /* same seed, same bytes (subsample makes the seed matter) */
    CHECK_INT(fit(inst, ds, p, dir2, sizeof dir2, &res, &e), 0);
    size_t l1 = 0, l2 = 0;
    char *a = slurp(dir, "model.json", &l1), *b = slurp(dir2, "model.json",
                                                        &l2);
    CHECK(a && b && l1 == l2 && l1 > 1000 && !memcmp(a, b, l1));
    free(a);
    free(b);
    orr_tempdir_remove(dir2);
    /* store the directory, open it back by digest */
    struct orr_model_manifest mf = {.task = res.task};
    snprintf(mf.flavor, sizeof mf.flavor, "xgboost");
    snprintf(mf.trainer, sizeof mf.trainer, "xgboost");
    mf.target = strdup("species");
    size_t *cls = NULL;
    CHECK_INT(orr_dataset_classes(ds, &mf.classes, &mf.n_classes, &cls, &e),
              0);
    free(cls);
    char digest[ORR_DIGEST_HEX_LEN + 1];
    uint64_t size = 0;
    CHECK_INT(orr_model_store_dir(st, dir, &mf, digest, &size, &e), 0);
    struct orr_model *m = NULL;
    struct orr_model_manifest mf2;
    CHECK_INT(orr_model_open(core, digest, &m, &mf2, &e), 0);
    if (!m) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    struct orr_model_info info = {.size = sizeof info};
    CHECK_INT(orr_model_info(m, &info, &e), 0);
    CHECK_INT(info.n_outputs, 3);
    CHECK_STR(info.output_names[0], "Adelie");
    CHECK_STR(info.feature_names[0], "island=Torgersen");
    double *x = NULL;
    CHECK_INT(orr_dataset_matrix(ds, info.feature_names, info.n_features, &x,
                                 &e), 0);
    size_t rows = ds->view.rows, k = info.n_outputs;
    double *want = malloc(rows * k * sizeof *want);
    struct orr_matrix xm = {rows, info.n_features, x, 0};
    struct orr_matrix ym = {0, 0, want, rows * k};
    CHECK_INT(orr_model_predict(m, &xm, &ym, &e), 0);
    CHECK_INT(ym.rows, rows);
    CHECK_INT(ym.cols, 3);
    CHECK_NEAR(want[0] + want[1] + want[2], 1.0, 1e-6);
    pthread_t t[THREADS];
    struct job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (struct job){m, x, rows, info.n_features, k, want, 0, 0};
        pthread_create(&t[i], NULL, predict_many, &jobs[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(jobs[i].mismatches, 0);
        CHECK(jobs[i].calls > 400);
    }
    /* bad input width, too small output */
    struct orr_matrix bad = {1, info.n_features - 1, x, 0};
    ym = (struct orr_matrix){0, 0, want, rows * k};
    CHECK_INT(orr_model_predict(m, &bad, &ym, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "inputs per row");
    ym.capacity = 2;
    CHECK_INT(orr_model_predict(m, &xm, &ym, &e), ORR_EINVAL);
    json_t *ev = NULL;
    CHECK_INT(orr_model_evaluate(m, &mf2, ds, &ev, &e), 0);
    CHECK(json_number_value(json_object_get(ev, "accuracy")) > 0.97);
    json_decref(ev);
    /* a corrupt model file is refused with its path */
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/model.json", dir);
    FILE *f = fopen(mpath, "w");
    fputs("{\"learner\": 1}", f);
    fclose(f);
    struct orr_model *bad_m = NULL;
    CHECK(orr_model_load(core, "xgboost", dir, &bad_m, &e) != 0);
    CHECK_CONTAINS(e.msg, "model.json");
    CHECK(bad_m == NULL);
    free(want);
    free(x);
    orr_model_release(m);
    orr_model_manifest_clear(&mf);
    orr_model_manifest_clear(&mf2);
    orr_tempdir_remove(dir);
    orr_cfg_free(p);
    orr_instance_close(inst);
    orr_core_close(core);
    orr_dataset_free(ds);
}

int test_main_(int argc, char **argv);

#define main test_main_
TEST_MAIN({"fit_store_predict", test_fit_store_predict})
#undef main

int main(int argc, char **argv)
{
    /* A fresh site in a temporary directory. */
    snprintf(site, sizeof site, "/tmp/orrery-xgb-XXXXXX");
    if (!mkdtemp(site) || chdir(site))
        return 1;
    int rc = test_main_(argc, argv);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", site);
    if (system(cmd) != 0)
        return 1;
    return rc;
}
