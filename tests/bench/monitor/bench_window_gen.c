/*
 * bench_window_gen.c - fill the prediction log for bench_window.sh:
 *   bench_window_gen DB CSV N MODEL VERSION
 * logs N one-row predictions of MODEL/VERSION whose inputs are the CSV's
 * rows (its first 30 columns, cycled, with a small deterministic jitter
 * so values are not all repeated) and whose output is a probability, in
 * the binary format the server's log writer uses, through
 * orri_predictions_write in batches of 10,000 (one transaction each) with
 * one writer's scratch, as the server's writer: the payload goes to its
 * segment files in predictions/ beside DB (schema 8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/table.h"
#include "meta/meta.h"
#include "meta/predictions.h"

#define BATCH 10000
#define COLS 30

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_window_gen DB CSV N MODEL VERSION\n");
        return 2;
    }
    long n = strtol(argv[3], NULL, 10);
    struct orr_error e = {0};
    struct orr_meta *m = NULL;
    struct orr_dataset *ds = NULL;
    if (orr_meta_open(&m, argv[1], &e) ||
        orr_dataset_load_csv(argv[2], NULL, &ds, &e)) {
        fprintf(stderr, "bench_window_gen: %s\n", e.msg);
        return 1;
    }
    size_t rows = ds->view.rows;
    if (ds->view.cols < COLS) {
        fprintf(stderr, "bench_window_gen: need %d numeric columns\n", COLS);
        return 1;
    }
    struct orri_prediction_row *b = calloc(BATCH, sizeof *b);
    double *x = malloc((size_t)BATCH * COLS * sizeof *x);
    double *y = malloc(BATCH * sizeof *y);
    char (*ids)[32] = malloc((size_t)BATCH * sizeof *ids);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 - n;
    uint64_t rng = 88172645463325252ull;
    struct orri_pred_scratch *sc = NULL;
    for (long done = 0; done < n;) {
        size_t k = 0;
        for (; k < BATCH && done < n; k++, done++) {
            size_t r = (size_t)done % rows;
            for (size_t c = 0; c < COLS; c++) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                double jitter = 1.0 + ((double)(rng % 2001) - 1000) * 1e-5;
                x[k * COLS + c] = ds->f64[c][r] * jitter;
            }
            y[k] = (double)(rng % 1000) / 1000.0;
            snprintf(ids[k], sizeof ids[k], "bench-%ld", done);
            b[k] = (struct orri_prediction_row){
                .request_id = ids[k], .model = argv[4], .version = argv[5],
                .ts_ms = now + done, .latency_us = 10,
                .in = x + k * COLS, .in_rows = 1, .in_cols = COLS,
                .out = y + k, .out_rows = 1, .out_cols = 1};
        }
        if (orri_predictions_write(m, b, k, &sc, &e)) {
            fprintf(stderr, "bench_window_gen: %s\n", e.msg);
            return 1;
        }
    }
    orri_pred_scratch_free(sc);
    free(b);
    free(x);
    free(y);
    free(ids);
    orr_dataset_free(ds);
    orr_meta_close(m);
    return 0;
}
