/*
 * cli/cmd_evaluate.c - `orrery evaluate MODEL DATA --target T [--json]`.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cli/cli.h"
#include "core.h"
#include "data/model_io.h"
#include "data/names.h"
#include "data/table.h"
#include "plugin/model.h"
#include "storage/artifacts.h"

static void help(void)
{
    printf("Usage: orrery evaluate MODEL DATA [--target COL] [--json]\n"
           "\n"
           "Evaluate a trained model on a dataset.  MODEL is a registry\n"
           "URI (models:/NAME/V, models:/NAME@ALIAS, models:/NAME), a\n"
           "model digest (what ctx:train stored) or a model directory\n"
           "(holding orrery-model.json); DATA is a CSV file,\n"
           "datasets:/NAME[/N] or\n"
           "a dataset digest.  The target defaults to the model's.\n"
           "\n"
           "Classification: accuracy, precision, recall, f1, roc_auc,\n"
           "pr_auc (average precision), log_loss, the confusion matrix,\n"
           "per-class and macro/weighted scores.  Regression: rmse, mae,\n"
           "r2.  Definitions: docs/training.md.\n"
           "\n"
           "  --target COL  the label column in DATA\n"
           "  --json        print one JSON document\n"
           "  -h, --help    show this help\n");
}

static void print_num(const char *k, json_t *v)
{
    if (json_is_number(v))
        printf("%-10s %.6f\n", k, json_number_value(v));
    else if (v)
        printf("%-10s n/a\n", k);
}

static void print_human(json_t *r)
{
    const char *task = json_string_value(json_object_get(r, "task"));
    printf("%s, %lld rows\n", task ? task : "?",
           (long long)json_integer_value(json_object_get(r, "rows")));
    static const char *const keys[] = {
        "accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc",
        "log_loss", "rmse", "mae", "r2"
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        print_num(keys[i], json_object_get(r, keys[i]));
    json_t *cls = json_object_get(r, "classes");
    json_t *conf = json_object_get(r, "confusion");
    if (!json_is_array(cls))
        return;
    printf("confusion (rows: true, columns: predicted)\n%-12s", "");
    for (size_t j = 0; j < json_array_size(cls); j++)
        printf(" %10.10s", json_string_value(json_array_get(cls, j)));
    printf("\n");
    for (size_t i = 0; i < json_array_size(cls); i++) {
        printf("%-12.12s", json_string_value(json_array_get(cls, i)));
        json_t *row = json_array_get(conf, i);
        for (size_t j = 0; j < json_array_size(row); j++)
            printf(" %10lld", (long long)json_integer_value(
                                  json_array_get(row, j)));
        printf("\n");
    }
}

int orr_cmd_evaluate(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *model = NULL, *data = NULL, *target = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--target") && i + 1 < argc) {
            target = argv[++i];
        } else if (argv[i][0] == '-') {
            return orr_cli_usage_error("evaluate", "unknown or incomplete "
                                       "option '%s'", argv[i]);
        } else if (!model) {
            model = argv[i];
        } else if (!data) {
            data = argv[i];
        } else {
            return orr_cli_usage_error("evaluate", "unexpected '%s'",
                                       argv[i]);
        }
    }
    if (!model || !data)
        return orr_cli_usage_error("evaluate", "needs MODEL and DATA");
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_core_options co = {.site_path = g->site_path};
    struct orr_model *m = NULL;
    struct orr_model_manifest mf = {0};
    struct orr_dataset *ds = NULL;
    json_t *res = NULL;
    int rc = orr_core_open(&core, &co, &e);
    if (!rc)
        rc = orr_model_open(core, model, &m, &mf, &e);
    const char *t = target ? target : mf.target;
    if (!rc && (!strncmp(data, "datasets:/", 10) ||
                orr_digest_is_valid(data))) {
        struct orr_instance *st = NULL;
        char digest[ORR_DIGEST_HEX_LEN + 1];
        int64_t version = 0;
        rc = orr_core_storage(core, &st, &e);
        if (!rc && orr_digest_is_valid(data))
            memcpy(digest, data, sizeof digest);
        else if (!rc)
            rc = orr_dataset_resolve(core, data, digest, &version, &e);
        if (!rc)
            rc = orr_dataset_fetch(st, digest, &ds, &e);
        if (!rc && t)
            rc = orr_dataset_set_target(ds, t, &e);
    } else if (!rc) {
        struct orr_csv_options opt = {.target = t};
        rc = orr_dataset_load_csv(data, &opt, &ds, &e);
    }
    if (!rc)
        rc = orr_model_evaluate(m, &mf, ds, &res, &e);
    int exit = ORR_EXIT_OK;
    if (rc) {
        exit = orr_cli_fail("evaluate", &e);
    } else if (json) {
        exit = orr_cli_print_json(res);
        res = NULL;
    } else {
        print_human(res);
    }
    json_decref(res);
    orr_dataset_free(ds);
    orr_model_release(m);
    orr_model_manifest_clear(&mf);
    orr_core_close(core);
    return exit;
}
