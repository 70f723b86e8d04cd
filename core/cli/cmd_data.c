/*
 * cli/cmd_data.c - `orrery data add FILE --name NAME [--target T]
 * [--categorical COL ...] [--json]` and `orrery data show URI [--json]`.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core.h"
#include "data/names.h"
#include "data/table.h"
#include "storage/artifacts.h"
#include "util/error.h"

#define MAX_COLS 256

static void help(void)
{
    printf("Usage: orrery data add FILE.csv --name NAME [--target COL]\n"
           "                          [--categorical COL ...] [--json]\n"
           "       orrery data show DATASET [--json]\n"
           "\n"
           "add: load a CSV file (header line, quoted fields, NA/empty\n"
           "missing values), store it as a dataset artifact (its SHA-256\n"
           "names the version) and record it as the next version of NAME:\n"
           "datasets:/NAME/1, /2, ...  Adding the same content as the\n"
           "latest version makes no new version.\n"
           "show: describe a dataset given as datasets:/NAME[/N], a\n"
           "digest, or a CSV file.\n"
           "\n"
           "  --name NAME        dataset name (letters, digits, . _ -)\n"
           "  --target COL       the label column\n"
           "  --categorical COL  treat COL as categorical (repeatable)\n"
           "  --json             print one JSON document\n"
           "  -h, --help         show this help\n");
}

static json_t *describe(const struct orr_dataset *ds)
{
    json_t *cols = json_array();
    for (size_t c = 0; c < ds->view.cols; c++) {
        const struct orr_column *col = &ds->cols[c];
        size_t miss = 0;
        for (size_t r = 0; col->missing && r < ds->view.rows; r++)
            miss += col->missing[r];
        json_t *o = json_pack("{s:s, s:s, s:I}", "name", col->name, "type",
                              col->type == ORR_COL_CATEGORY ? "category" :
                              "number", "missing", (json_int_t)miss);
        if (o && col->type == ORR_COL_CATEGORY)
            json_object_set_new(o, "levels",
                                json_integer((json_int_t)col->dict_len));
        json_array_append_new(cols, o);
    }
    return json_pack("{s:I, s:o, s:s?}", "rows", (json_int_t)ds->view.rows,
                     "columns", cols, "target",
                     ds->view.target == ORR_NO_TARGET ? NULL :
                     ds->names[ds->view.target]);
}

static void print_columns(const struct orr_dataset *ds)
{
    for (size_t c = 0; c < ds->view.cols; c++) {
        const struct orr_column *col = &ds->cols[c];
        size_t miss = 0;
        for (size_t r = 0; col->missing && r < ds->view.rows; r++)
            miss += col->missing[r];
        printf("  %-24s %-8s", col->name,
               col->type == ORR_COL_CATEGORY ? "category" : "number");
        if (col->type == ORR_COL_CATEGORY)
            printf(" %zu levels", col->dict_len);
        if (miss)
            printf(" (%zu missing)", miss);
        if (c == ds->view.target)
            printf(" [target]");
        printf("\n");
    }
}

static int cmd_add(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *file = NULL, *name = NULL;
    const char *cats[MAX_COLS];
    struct orr_csv_options opt = {.categorical = cats};
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (orr_cli_is_help(a)) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if ((!strcmp(a, "--name") || !strcmp(a, "--target") ||
                    !strcmp(a, "--categorical")) && i + 1 < argc) {
            if (a[2] == 'n')
                name = argv[++i];
            else if (a[2] == 't')
                opt.target = argv[++i];
            else if (opt.n_categorical < MAX_COLS)
                cats[opt.n_categorical++] = argv[++i];
        } else if (a[0] == '-') {
            return orr_cli_usage_error("data", "unknown or incomplete "
                                       "option '%s'", a);
        } else if (!file) {
            file = a;
        } else {
            return orr_cli_usage_error("data", "one FILE only");
        }
    }
    if (!file || !name)
        return orr_cli_usage_error("data", "add needs FILE and --name NAME");
    if (!orr_dataset_name_is_valid(name))
        return orr_cli_usage_error("data", "bad name '%s' (use letters, "
                                   "digits, '.', '_' and '-')", name);
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_dataset *ds = NULL;
    struct orr_instance *st = NULL;
    struct orr_core_options co = {.site_path = g->site_path};
    uint64_t size = 0;
    int64_t version = 0;
    int is_new = 0;
    int rc = orr_dataset_load_csv(file, &opt, &ds, &e);
    if (!rc)
        rc = orr_core_open(&core, &co, &e);
    if (!rc)
        rc = orr_core_storage(core, &st, &e);
    if (!rc)
        rc = orr_dataset_store(ds, st, &size, &e);
    if (!rc)
        rc = orr_dataset_add_version(core, name, ds->hash, size, &version,
                                     &is_new, &e);
    int exit = ORR_EXIT_OK;
    if (rc) {
        exit = orr_cli_fail("data", &e);
    } else if (json) {
        json_t *d = describe(ds);
        json_object_set_new(d, "name", json_string(name));
        json_object_set_new(d, "version", json_integer(version));
        json_object_set_new(d, "uri", json_sprintf("datasets:/%s/%lld", name,
                                                   (long long)version));
        json_object_set_new(d, "digest", json_string(ds->hash));
        json_object_set_new(d, "size", json_integer((json_int_t)size));
        json_object_set_new(d, "new", json_boolean(is_new));
        exit = orr_cli_print_json(d);
    } else {
        printf("datasets:/%s/%lld  %s%s\n", name, (long long)version,
               ds->hash, is_new ? "" : "  (unchanged: same as the latest "
               "version)");
        printf("%zu rows, %zu columns\n", ds->view.rows, ds->view.cols);
        print_columns(ds);
    }
    orr_dataset_free(ds);
    orr_core_close(core);
    return exit;
}

static int cmd_show(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *src = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-' || src) {
            return orr_cli_usage_error("data", "unexpected '%s'", argv[i]);
        } else {
            src = argv[i];
        }
    }
    if (!src)
        return orr_cli_usage_error("data", "show needs a DATASET");
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_dataset *ds = NULL;
    struct orr_core_options co = {.site_path = g->site_path};
    int rc;
    if (!strncmp(src, "datasets:/", 10) || orr_digest_is_valid(src)) {
        struct orr_instance *st = NULL;
        char digest[ORR_DIGEST_HEX_LEN + 1];
        int64_t version = 0;
        rc = orr_core_open(&core, &co, &e);
        if (!rc)
            rc = orr_core_storage(core, &st, &e);
        if (!rc && orr_digest_is_valid(src))
            memcpy(digest, src, sizeof digest);
        else if (!rc)
            rc = orr_dataset_resolve(core, src, digest, &version, &e);
        if (!rc)
            rc = orr_dataset_fetch(st, digest, &ds, &e);
    } else {
        rc = orr_dataset_load_csv(src, NULL, &ds, &e);
    }
    int exit = ORR_EXIT_OK;
    if (rc) {
        exit = orr_cli_fail("data", &e);
    } else if (json) {
        json_t *d = describe(ds);
        if (ds->hash[0])
            json_object_set_new(d, "digest", json_string(ds->hash));
        exit = orr_cli_print_json(d);
    } else {
        printf("%s: %zu rows, %zu columns\n", src, ds->view.rows,
               ds->view.cols);
        print_columns(ds);
    }
    orr_dataset_free(ds);
    orr_core_close(core);
    return exit;
}

int orr_cmd_data(int argc, char **argv, const struct orr_cli_globals *g)
{
    if (argc < 2 || orr_cli_is_help(argv[1])) {
        help();
        return argc < 2 ? ORR_EXIT_USAGE : ORR_EXIT_OK;
    }
    if (!strcmp(argv[1], "add"))
        return cmd_add(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "show"))
        return cmd_show(argc - 1, argv + 1, g);
    return orr_cli_usage_error("data", "unknown subcommand '%s' (add, show)",
                               argv[1]);
}
