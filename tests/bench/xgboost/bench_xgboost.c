/*
 * bench_xgboost - the xgboost trainer and runtime through Orrery.
 *
 *   bench_xgboost CSV ROUNDS THREADS
 *
 * Loads CSV (target "y"; not timed), fits trainer-xgboost through the real
 * loader (timed: the whole fit, matrix building, per-round metrics and
 * saving included), loads the model and measures batch prediction rows/s
 * for batches of 1, 64 and 10,000 rows on one thread.  Prints
 * "fit_s S" and "predict_B R" lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/cfg.h"
#include "core.h"
#include "data/model_io.h"
#include "data/table.h"
#include "plugin/model.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_xgboost CSV ROUNDS THREADS\n");
        return 2;
    }
    struct orr_error e = {0};
    struct orr_csv_options o = {.target = "y"};
    struct orr_dataset *ds = NULL;
    struct orr_core *core = NULL;
    struct orr_core_options co = {0};
    struct orr_instance *inst = NULL;
    struct orr_model *m = NULL;
    struct orr_cfg *p = orr_cfg_new_table();
    char dir[4096] = "";
    int rc = 1;
    if (orr_dataset_load_csv(argv[1], &o, &ds, &e) ||
        orr_core_open(&core, &co, &e) ||
        orr_instance_open(core, ORR_KIND_TRAINER, "xgboost", NULL, &inst,
                          &e) ||
        orr_tempdir(dir, sizeof dir, "bench-xgb", &e))
        goto fail;
    orr_cfg_set_int(p, "max_depth", 6, "bench");
    orr_cfg_set_num(p, "eta", 0.1, "bench");
    orr_cfg_set_str(p, "objective", "binary:logistic", "bench");
    orr_cfg_set_str(p, "tree_method", "hist", "bench");
    orr_cfg_set_int(p, "num_boost_round", strtol(argv[2], NULL, 10),
                    "bench");
    struct orr_fit_request req = {.size = sizeof req, .train = &ds->view,
                                  .params = p, .out_dir = dir,
                                  .threads = (unsigned)strtoul(argv[3], NULL, 10)};
    struct orr_fit_result res = {.size = sizeof res};
    double t0 = now();
    if (inst->backend->ops.trainer.fit(inst->self, &req, &res, &e))
        goto fail;
    printf("fit_s %.3f\n", now() - t0);
    if (orr_model_load(core, "xgboost", dir, &m, &e))
        goto fail;
    struct orr_model_info info = {.size = sizeof info};
    double *x = NULL;
    if (orr_model_info(m, &info, &e) ||
        orr_dataset_matrix(ds, info.feature_names, info.n_features, &x, &e))
        goto fail;
    static const size_t batches[] = {1, 64, 10000};
    double *y = malloc(10000 * sizeof *y);
    size_t rows = ds->view.rows < 200000 ? ds->view.rows : 200000;
    for (size_t b = 0; b < 3; b++) {
        size_t B = batches[b], done = 0;
        double t1 = now();
        for (size_t r = 0; r + B <= rows; r += B) {
            struct orr_matrix xm = {B, info.n_features,
                                    x + r * info.n_features, 0};
            struct orr_matrix ym = {0, 0, y, 10000};
            if (orr_model_predict(m, &xm, &ym, &e))
                break;
            done += B;
        }
        printf("predict_%zu %.0f rows/s\n", B, (double)done / (now() - t1));
    }
    free(y);
    free(x);
    rc = 0;
fail:
    if (rc)
        fprintf(stderr, "bench_xgboost: %s\n", e.msg);
    orr_model_release(m);
    if (dir[0])
        orr_tempdir_remove(dir);
    orr_instance_close(inst);
    orr_cfg_free(p);
    orr_core_close(core);
    orr_dataset_free(ds);
    return rc;
}
