/*
 * bench_xgboost - the xgboost trainer and runtime through Orrery.
 *
 *   bench_xgboost CSV ROUNDS THREADS [EVAL_TRAIN [MODEL_OUT]]
 *
 * Loads CSV (target "y"; not timed), fits trainer-xgboost through the real
 * loader (timed: the whole fit, matrix building, per-round metrics and
 * saving included; EVAL_TRAIN 0 sets eval_train = false), loads the model
 * with the native evaluator and with the C API (ORRERY_XGB_PREDICTOR=capi)
 * and measures batch prediction rows/s for batches of 1, 64 and 10,000
 * rows on one thread (rows per second of that thread's CPU time, robust
 * to other load).  Prints "fit_s S" and "predict_ENGINE_B R" lines;
 * MODEL_OUT, when given, receives a copy of model.json.
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

static double clock_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }

/* Prediction runs on this one thread: its CPU time is robust to other
 * load on a shared machine, where wall time is not. */
static double cpu_now(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: bench_xgboost CSV ROUNDS THREADS "
                "[EVAL_TRAIN [MODEL_OUT]]\n");
        return 2;
    }
    struct orr_error e = {0};
    struct orr_csv_options o = {.target = "y"};
    struct orr_dataset *ds = NULL;
    struct orr_core *core = NULL;
    struct orr_core_options co = {0};
    struct orr_instance *inst = NULL;
    struct orr_model *m = NULL, *mc = NULL;
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
    if (argc > 4 && !strcmp(argv[4], "0"))
        orr_cfg_set_bool(p, "eval_train", 0, "bench");
    struct orr_fit_request req = {.size = sizeof req, .train = &ds->view,
                                  .params = p, .out_dir = dir,
                                  .threads = (unsigned)strtoul(argv[3], NULL, 10)};
    struct orr_fit_result res = {.size = sizeof res};
    double t0 = now();
    if (inst->backend->ops.trainer.fit(inst->self, &req, &res, &e))
        goto fail;
    printf("fit_s %.3f\n", now() - t0);
    if (argc > 5) {
        char cmd[8500];
        snprintf(cmd, sizeof cmd, "cp '%s/model.json' '%s'", dir, argv[5]);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_xgboost: cannot copy the model\n");
    }
    unsetenv("ORRERY_XGB_PREDICTOR");
    if (orr_model_load(core, "xgboost", dir, &m, &e))
        goto fail;
    setenv("ORRERY_XGB_PREDICTOR", "capi", 1);
    if (orr_model_load(core, "xgboost", dir, &mc, &e))
        goto fail;
    struct orr_model_info info = {.size = sizeof info};
    double *x = NULL;
    if (orr_model_info(m, &info, &e) ||
        orr_dataset_matrix(ds, info.feature_names, info.n_features, &x, &e))
        goto fail;
    static const size_t batches[] = {1, 64, 10000};
    double *y = malloc(10000 * sizeof *y);
    size_t rows = ds->view.rows < 200000 ? ds->view.rows : 200000;
    for (int engine = 0; engine < 2; engine++)
        for (size_t b = 0; b < 3; b++) {
            size_t B = batches[b], done = 0;
            double t1 = cpu_now();
            for (size_t r = 0; r + B <= rows; r += B) {
                struct orr_matrix xm = {B, info.n_features,
                                        x + r * info.n_features, 0};
                struct orr_matrix ym = {0, 0, y, 10000};
                if (orr_model_predict(engine ? mc : m, &xm, &ym, &e))
                    break;
                done += B;
            }
            printf("predict_%s_%zu %.0f rows/s\n", engine ? "capi" :
                   "native", B, (double)done / (cpu_now() - t1));
        }
    free(y);
    free(x);
    rc = 0;
fail:
    if (rc)
        fprintf(stderr, "bench_xgboost: %s\n", e.msg);
    orr_model_release(m);
    orr_model_release(mc);
    if (dir[0])
        orr_tempdir_remove(dir);
    orr_instance_close(inst);
    orr_cfg_free(p);
    orr_core_close(core);
    orr_dataset_free(ds);
    return rc;
}
