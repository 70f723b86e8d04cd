/*
 * tests/serve/predict_ref.c - reference predictions for the serving tests:
 * load a registry model in-process (the same runtime the server uses) and
 * print one line per row of a CSV file, each output as %.17g.
 *
 *   predict_ref MODEL_URI CSV TARGET      (in the site's directory)
 */
#include <stdio.h>
#include <stdlib.h>

#include "core.h"
#include "data/model_io.h"
#include "data/table.h"
#include "plugin/model.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: predict_ref MODEL_URI CSV TARGET\n");
        return 2;
    }
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_core_options co = {0};
    struct orr_model *m = NULL;
    struct orr_model_manifest mf = {0};
    struct orr_dataset *ds = NULL;
    struct orr_csv_options opt = {.target = argv[3]};
    double *y = NULL;
    size_t k = 0;
    int rc = orr_core_open(&core, &co, &e);
    if (!rc)
        rc = orr_model_open(core, argv[1], &m, &mf, &e);
    if (!rc)
        rc = orr_dataset_load_csv(argv[2], &opt, &ds, &e);
    if (!rc)
        rc = orr_model_predict_dataset(m, ds, &y, &k, &e);
    if (rc) {
        fprintf(stderr, "predict_ref: %s\n", e.msg);
    } else {
        size_t rows = ds->view.rows;
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < k; c++)
                printf("%.17g%s", y[r * k + c], c + 1 < k ? " " : "\n");
    }
    free(y);
    orr_dataset_free(ds);
    orr_model_release(m);
    orr_model_manifest_clear(&mf);
    orr_core_close(core);
    return rc ? 1 : 0;
}
