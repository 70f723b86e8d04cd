/*
 * data/model_io.c - models as artifacts, prediction and evaluation on
 * datasets (see data/model_io.h).
 */
#include "data/model_io.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "data/metrics.h"
#include "meta/registry.h"
#include "plugin/model.h"
#include "storage/artifacts.h"
#include "util/error.h"

#define MANIFEST_MAX ((size_t)1 << 20)
#define BATCH 4096

static const char *task_name(enum orr_task t)
{
    switch (t) {
    case ORR_TASK_REGRESSION: return "regression";
    case ORR_TASK_BINARY:     return "binary";
    case ORR_TASK_MULTICLASS: return "multiclass";
    case ORR_TASK_RANKING:    return "ranking";
    default:                  return "unknown";
    }
}

static enum orr_task task_of(const char *s)
{
    if (!s)
        return ORR_TASK_UNKNOWN;
    if (!strcmp(s, "regression"))
        return ORR_TASK_REGRESSION;
    if (!strcmp(s, "binary"))
        return ORR_TASK_BINARY;
    if (!strcmp(s, "multiclass"))
        return ORR_TASK_MULTICLASS;
    if (!strcmp(s, "ranking"))
        return ORR_TASK_RANKING;
    return ORR_TASK_UNKNOWN;
}

ORR_API void orr_model_manifest_clear(struct orr_model_manifest *mf)
{
    if (!mf)
        return;
    free(mf->target);
    orr_dataset_free_labels(mf->classes, mf->n_classes);
    memset(mf, 0, sizeof *mf);
}

ORR_API int orr_tempdir(char *out, size_t cap, const char *prefix,
                        struct orr_error *e)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    if ((size_t)snprintf(out, cap, "%s/%s-XXXXXX", dir, prefix) >= cap)
        return orr_fail(e, ORR_EINVAL, "temporary directory path too long");
    if (!mkdtemp(out))
        return orr_fail(e, ORR_EIO, "temporary directory in %s: %s", dir,
                        strerror(errno));
    return ORR_OK;
}

ORR_API void orr_tempdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        char path[4096];
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if ((size_t)snprintf(path, sizeof path, "%s/%s", dir,
                                 de->d_name) < sizeof path)
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static json_t *manifest_json(const struct orr_model_manifest *mf,
                             json_t *files)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "format", json_string("orrery-model"));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "flavor", json_string(mf->flavor));
    json_object_set_new(o, "trainer", json_string(mf->trainer));
    json_object_set_new(o, "task", json_string(task_name(mf->task)));
    if (mf->target)
        json_object_set_new(o, "target", json_string(mf->target));
    json_object_set_new(o, "target_type",
                        json_string(mf->target_numeric ? "f64" : "category"));
    if (mf->classes) {
        json_t *c = json_array();
        for (size_t i = 0; c && i < mf->n_classes; i++)
            json_array_append_new(c, json_string(mf->classes[i]));
        json_object_set_new(o, "classes", c);
    }
    if (mf->train_dataset[0])
        json_object_set_new(o, "train_dataset",
                            json_string(mf->train_dataset));
    json_object_set_new(o, "files", files);
    return o;
}

static int parse_manifest(json_t *o, struct orr_model_manifest *mf,
                          json_t **files, struct orr_error *e)
{
    memset(mf, 0, sizeof *mf);
    const char *fmt = json_string_value(json_object_get(o, "format"));
    const char *flavor = json_string_value(json_object_get(o, "flavor"));
    const char *trainer = json_string_value(json_object_get(o, "trainer"));
    const char *target = json_string_value(json_object_get(o, "target"));
    const char *ttype = json_string_value(json_object_get(o, "target_type"));
    const char *tds = json_string_value(json_object_get(o, "train_dataset"));
    json_t *classes = json_object_get(o, "classes");
    if (!fmt || strcmp(fmt, "orrery-model") || !flavor || !*flavor ||
        strlen(flavor) >= sizeof mf->flavor ||
        !json_is_object(json_object_get(o, "files")))
        return orr_fail(e, ORR_ECORRUPT, "not an Orrery model manifest");
    snprintf(mf->flavor, sizeof mf->flavor, "%s", flavor);
    snprintf(mf->trainer, sizeof mf->trainer, "%s", trainer ? trainer : "");
    mf->task = task_of(json_string_value(json_object_get(o, "task")));
    mf->target_numeric = ttype && !strcmp(ttype, "f64");
    if (tds && orr_digest_is_valid(tds))
        memcpy(mf->train_dataset, tds, sizeof mf->train_dataset);
    if (target && !(mf->target = strdup(target)))
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    if (json_is_array(classes)) {
        size_t n = json_array_size(classes);
        mf->classes = calloc(n ? n : 1, sizeof *mf->classes);
        if (!mf->classes)
            return orr_fail(e, ORR_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            const char *s = json_string_value(json_array_get(classes, i));
            if (!s || !(mf->classes[i] = strdup(s))) {
                mf->n_classes = i;
                orr_model_manifest_clear(mf);
                return orr_fail(e, ORR_ECORRUPT, "manifest classes "
                                "malformed");
            }
            mf->n_classes = i + 1;
        }
    }
    if (files)
        *files = json_object_get(o, "files");
    return ORR_OK;
}

ORR_API int orr_model_store_dir(struct orr_instance *st, const char *dir,
                                const struct orr_model_manifest *mf,
                                char digest[ORR_DIGEST_HEX_LEN + 1],
                                uint64_t *size, struct orr_error *e)
{
    json_t *files = json_object();
    if (!files)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    DIR *d = opendir(dir);
    if (!d) {
        json_decref(files);
        return orr_fail(e, ORR_EIO, "open %s: %s", dir, strerror(errno));
    }
    int rc = ORR_OK;
    uint64_t total = 0;
    struct dirent *de;
    char path[4096];
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, ORR_MODEL_MANIFEST))
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >=
            sizeof path) {
            rc = orr_fail(e, ORR_EINVAL, "path too long in %s", dir);
            break;
        }
        struct stat sb;
        if (stat(path, &sb) || !S_ISREG(sb.st_mode)) {
            rc = orr_fail(e, ORR_EINVAL, "model directory %s holds '%s', "
                          "which is not a regular file", dir, de->d_name);
            break;
        }
        char dg[ORR_DIGEST_HEX_LEN + 1];
        rc = orr_storage_put_file(st, path, dg, e);
        if (!rc && json_object_set_new(files, de->d_name, json_string(dg)))
            rc = orr_fail(e, ORR_EINVAL, "model file name '%s' is not "
                          "UTF-8", de->d_name);
        total += (uint64_t)sb.st_size;
    }
    closedir(d);
    if (!rc && json_object_size(files) == 0)
        rc = orr_fail(e, ORR_EINVAL, "the trainer wrote no file in %s", dir);
    if (rc) {
        json_decref(files);
        return rc;
    }
    json_t *o = manifest_json(mf, files);
    char *text = o ? json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!text)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    size_t len = strlen(text);
    snprintf(path, sizeof path, "%s/%s", dir, ORR_MODEL_MANIFEST);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f)) {
        if (f)
            fclose(f);
        free(text);
        return orr_fail(e, ORR_EIO, "write %s: %s", path, strerror(errno));
    }
    rc = orr_storage_put_buf(st, text, len, digest, e);
    free(text);
    if (!rc && size)
        *size = total + len;
    return rc;
}

static int load_json_file(const char *path, json_t **out, struct orr_error *e)
{
    json_error_t je;
    *out = json_load_file(path, 0, &je);
    if (!*out)
        return orr_fail(e, errno == ENOENT ? ORR_ENOTFOUND : ORR_ECORRUPT,
                        "%s: %s", path, je.text);
    return ORR_OK;
}

ORR_API int orr_model_read_manifest(const char *dir,
                                    struct orr_model_manifest *mf,
                                    struct orr_error *e)
{
    char path[4096];
    json_t *o;
    memset(mf, 0, sizeof *mf);
    snprintf(path, sizeof path, "%s/%s", dir, ORR_MODEL_MANIFEST);
    int rc = load_json_file(path, &o, e);
    if (rc)
        return rc;
    rc = parse_manifest(o, mf, NULL, e);
    json_decref(o);
    if (rc)
        orr_error_prefix(e, "%s", path);
    return rc;
}

/* Fetch a model's files into `dir` (existing, empty). */
static int fetch_dir(struct orr_instance *st, const char *digest,
                     const char *dir, struct orr_model_manifest *mf,
                     struct orr_error *e)
{
    void *data = NULL;
    size_t len = 0;
    int rc = orr_storage_get_buf(st, digest, MANIFEST_MAX, &data, &len, e);
    if (rc)
        return rc;
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    json_t *files = NULL;
    char path[4096];
    if (!o) {
        free(data);
        return orr_fail(e, ORR_ECORRUPT, "model %.12s: not a manifest",
                        digest);
    }
    rc = parse_manifest(o, mf, &files, e);
    const char *name;
    json_t *v;
    json_object_foreach(files, name, v) {
        if (rc)
            break;
        const char *dg = json_string_value(v);
        if (!dg || !orr_digest_is_valid(dg) || strchr(name, '/') ||
            name[0] == '.' || !*name) {
            rc = orr_fail(e, ORR_ECORRUPT, "model %.12s: bad file entry "
                          "'%s'", digest, name);
            break;
        }
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
            sizeof path)
            rc = orr_fail(e, ORR_EINVAL, "path too long");
        else
            rc = orr_storage_get_file(st, dg, path, e);
    }
    if (!rc && (size_t)snprintf(path, sizeof path, "%s/%s", dir,
                                ORR_MODEL_MANIFEST) >= sizeof path)
        rc = orr_fail(e, ORR_EINVAL, "path too long");
    if (!rc) {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
            if (f)
                fclose(f);
            rc = orr_fail(e, ORR_EIO, "write %s", path);
        }
    }
    json_decref(o);
    free(data);
    if (rc)
        orr_model_manifest_clear(mf);
    return rc;
}

ORR_API int orr_model_open(struct orr_core *core, const char *digest_or_dir,
                           struct orr_model **out,
                           struct orr_model_manifest *mf,
                           struct orr_error *e)
{
    *out = NULL;
    memset(mf, 0, sizeof *mf);
    int rc;
    /* A registry URI (models:/name/3, models:/name@alias) names the
     * version's model artifact. */
    struct orr_model_version v;
    if (!strncmp(digest_or_dir, "models:/", 8)) {
        struct orr_meta *meta;
        rc = orr_core_meta(core, &meta, e);
        if (!rc)
            rc = orr_registry_resolve(meta, digest_or_dir, &v, e);
        if (rc)
            return rc;
        digest_or_dir = v.artifact;
    }
    if (orr_digest_is_valid(digest_or_dir)) {
        struct orr_instance *st;
        char dir[4096];
        rc = orr_core_storage(core, &st, e);
        if (rc || (rc = orr_tempdir(dir, sizeof dir, "orrery-model", e)))
            return rc;
        rc = fetch_dir(st, digest_or_dir, dir, mf, e);
        if (!rc)
            rc = orr_model_load(core, mf->flavor, dir, out, e);
        orr_tempdir_remove(dir);
    } else {
        rc = orr_model_read_manifest(digest_or_dir, mf, e);
        if (!rc)
            rc = orr_model_load(core, mf->flavor, digest_or_dir, out, e);
    }
    if (rc)
        orr_model_manifest_clear(mf);
    return rc;
}

ORR_API int orr_model_predict_dataset(const struct orr_model *m,
                                      const struct orr_dataset *ds,
                                      double **out, size_t *n_out,
                                      struct orr_error *e)
{
    struct orr_model_info info = {.size = sizeof info};
    *out = NULL;
    int rc = orr_model_info(m, &info, e);
    if (rc)
        return rc;
    if (!info.feature_names)
        return orr_fail(e, ORR_EUNSUPPORTED, "the model does not name its "
                        "inputs, so they cannot be taken from a dataset");
    double *x = NULL;
    rc = orr_dataset_matrix(ds, info.feature_names, info.n_features, &x, e);
    if (rc)
        return rc;
    size_t rows = ds->view.rows, k = info.n_outputs;
    double *y = malloc((rows && k ? rows * k : 1) * sizeof *y);
    if (!y) {
        free(x);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    for (size_t r = 0; r < rows && !rc; r += BATCH) {
        size_t b = rows - r < BATCH ? rows - r : BATCH;
        struct orr_matrix xm = {b, info.n_features,
                                x + r * info.n_features, 0};
        struct orr_matrix ym = {0, 0, y + r * k, b * k};
        rc = orr_model_predict(m, &xm, &ym, e);
        if (!rc && (ym.rows != b || ym.cols != k))
            rc = orr_fail(e, ORR_EBACKEND, "the model returned %zu x %zu "
                          "values for %zu x %zu", ym.rows, ym.cols, b, k);
    }
    free(x);
    if (rc) {
        free(y);
        return rc;
    }
    *out = y;
    *n_out = k;
    return ORR_OK;
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *scores(double p, double r, double f1)
{
    json_t *o = json_object();
    json_object_set_new(o, "precision", num(p));
    json_object_set_new(o, "recall", num(r));
    json_object_set_new(o, "f1", num(f1));
    return o;
}

/* Label of the target in row r, as classes are labelled. */
static void row_label(const struct orr_column *c, size_t r, char *buf,
                      size_t cap)
{
    if (c->type == ORR_COL_CATEGORY)
        snprintf(buf, cap, "%s", c->dict[((const int32_t *)c->data)[r]]);
    else
        orri_format_number(buf, cap, ((const double *)c->data)[r]);
}

static int eval_classes(const struct orr_model_manifest *mf,
                        const struct orr_dataset *ds, const double *p,
                        size_t k_out, json_t **out, struct orr_error *e)
{
    const struct orr_column *c = &ds->cols[ds->view.target];
    size_t n = ds->view.rows, k = mf->n_classes;
    if (k < 2 || (k == 2 ? 1 : k) != k_out)
        return orr_fail(e, ORR_ECORRUPT, "the model has %zu classes but %zu "
                        "outputs", k, k_out);
    size_t *y = malloc((n ? n : 1) * sizeof *y);
    if (!y)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    /* Category codes map once; numbers per row. */
    for (size_t r = 0; r < n; r++) {
        char buf[256];
        if (c->missing && c->missing[r]) {
            free(y);
            return orr_fail(e, ORR_EINVAL, "target '%s' is missing in row "
                            "%zu", c->name, r + 1);
        }
        row_label(c, r, buf, sizeof buf);
        size_t i;
        for (i = 0; i < k && strcmp(mf->classes[i], buf); i++)
            ;
        if (i == k) {
            free(y);
            return orr_fail(e, ORR_EINVAL, "row %zu: label '%s' of '%s' is "
                            "not a class the model knows", r + 1, buf,
                            c->name);
        }
        y[r] = i;
    }
    struct orr_classification_eval ev;
    int rc = orr_eval_classification(y, p, n, k, &ev, e);
    free(y);
    if (rc)
        return rc;
    json_t *o = json_object();
    json_t *cls = json_array(), *conf = json_array(), *per = json_object();
    for (size_t i = 0; i < k; i++) {
        json_array_append_new(cls, json_string(mf->classes[i]));
        json_t *row = json_array();
        for (size_t j = 0; j < k; j++)
            json_array_append_new(row, json_integer(
                (json_int_t)ev.confusion[i * k + j]));
        json_array_append_new(conf, row);
        json_t *s = scores(ev.per_class[i].precision,
                           ev.per_class[i].recall, ev.per_class[i].f1);
        json_object_set_new(s, "support",
                            json_integer((json_int_t)ev.per_class[i].support));
        json_object_set_new(per, mf->classes[i], s);
    }
    json_object_set_new(o, "task", json_string(task_name(mf->task)));
    json_object_set_new(o, "rows", json_integer((json_int_t)n));
    json_object_set_new(o, "accuracy", num(ev.accuracy));
    json_object_set_new(o, "precision", num(ev.precision));
    json_object_set_new(o, "recall", num(ev.recall));
    json_object_set_new(o, "f1", num(ev.f1));
    json_object_set_new(o, "roc_auc", num(ev.roc_auc));
    json_object_set_new(o, "pr_auc", num(ev.pr_auc));
    json_object_set_new(o, "log_loss", num(ev.log_loss));
    json_object_set_new(o, "classes", cls);
    json_object_set_new(o, "confusion", conf);
    json_object_set_new(o, "per_class", per);
    json_object_set_new(o, "macro", scores(ev.macro_precision,
                                           ev.macro_recall, ev.macro_f1));
    json_object_set_new(o, "weighted", scores(ev.weighted_precision,
                                              ev.weighted_recall,
                                              ev.weighted_f1));
    orr_eval_classification_free(&ev);
    *out = o;
    return ORR_OK;
}

ORR_API int orr_model_evaluate(const struct orr_model *m,
                               const struct orr_model_manifest *mf,
                               const struct orr_dataset *ds, json_t **out,
                               struct orr_error *e)
{
    *out = NULL;
    if (ds->view.target == ORR_NO_TARGET) {
        if (!mf->target)
            return orr_fail(e, ORR_EINVAL, "the data has no target column");
        size_t c = orr_dataset_column(ds, mf->target);
        if (c == (size_t)-1)
            return orr_fail(e, ORR_EINVAL, "the data has no column '%s' "
                            "(the model's target)", mf->target);
        /* Evaluate against the model's target without touching ds. */
        struct orr_dataset tmp = *ds;
        tmp.view.target = c;
        return orr_model_evaluate(m, mf, &tmp, out, e);
    }
    double *p = NULL;
    size_t k = 0;
    int rc = orr_model_predict_dataset(m, ds, &p, &k, e);
    if (rc)
        return rc;
    if (mf->task == ORR_TASK_REGRESSION) {
        const struct orr_column *c = &ds->cols[ds->view.target];
        if (c->type == ORR_COL_CATEGORY || k != 1) {
            free(p);
            return orr_fail(e, ORR_EINVAL, "regression needs a numeric "
                            "target and one output");
        }
        struct orr_regression_eval ev;
        rc = orr_eval_regression(c->data, p, ds->view.rows, &ev, e);
        free(p);
        if (rc)
            return rc;
        json_t *o = json_object();
        json_object_set_new(o, "task", json_string("regression"));
        json_object_set_new(o, "rows", json_integer((json_int_t)ev.n));
        json_object_set_new(o, "rmse", num(ev.rmse));
        json_object_set_new(o, "mae", num(ev.mae));
        json_object_set_new(o, "r2", num(ev.r2));
        *out = o;
        return ORR_OK;
    }
    rc = eval_classes(mf, ds, p, k, out, e);
    free(p);
    return rc;
}
