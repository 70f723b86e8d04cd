/*
 * mean.c - trainer-mean: the smallest useful Orrery trainer, as a template.
 *
 * It "fits" a regression model that always predicts the mean of the
 * training target, the baseline every real model has to beat.  It shows
 * every part a plugin has:
 *
 *   - the descriptor (ORR_PLUGIN at the bottom) and an init that keeps the
 *     host table and registers one backend;
 *   - a trainer vtable: open/close on per-instance state the host
 *     allocates (self_size), fit that reads a borrowed dataset view, logs
 *     metrics and parameters to the run, and writes model files;
 *   - a model runtime for the flavor it writes ("mean"): load, info,
 *     predict (thread-safe: it only reads the model), unload;
 *   - errors through H->fail, which fills the caller's struct orr_error.
 *
 * Rename it, change the name strings, and keep the shape.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <orrery/orrery.h>

#define MODEL_FILE "mean.model"
#define MODEL_MAGIC "orrery-mean 1"

/* The host table: every call into Orrery goes through it.  Valid from init
 * until after fini. */
static const struct orr_host *H;

/* ---- the trainer ------------------------------------------------------- */

/* Per-instance state.  The host zero-allocates self_size bytes, calls
 * open, and later close; close must cope with a failed open. */
struct trainer {
    int64_t min_rows;       /* refuse to fit on fewer rows (site option) */
};

static int mean_open(void *self, const struct orr_cfg *cfg,
                     struct orr_error *e)
{
    struct trainer *t = self;
    /* Site configuration: trainer = { mean = { min_rows = 10 } } */
    t->min_rows = H->cfg_int(cfg, "min_rows", 1);
    if (t->min_rows < 1)
        return H->fail(e, ORR_ECONFIG, "min_rows must be >= 1, not %lld",
                       (long long)t->min_rows);
    return ORR_OK;
}

static void mean_close(void *self)
{
    (void)self;             /* nothing acquired: the host frees self */
}

/* Value `i` of a numeric column as a double; 0 with *ok = 0 if missing. */
static double value_at(const struct orr_column *c, size_t i, int *ok)
{
    *ok = !(c->missing && c->missing[i]);
    switch (c->type) {
    case ORR_COL_F64: return ((const double *)c->data)[i];
    case ORR_COL_F32: return ((const float *)c->data)[i];
    case ORR_COL_I64: return (double)((const int64_t *)c->data)[i];
    default:          *ok = 0; return 0;
    }
}

static int numeric(const struct orr_column *c)
{
    return c->type == ORR_COL_F64 || c->type == ORR_COL_F32 ||
           c->type == ORR_COL_I64;
}

/* Mean squared error of predicting `mean` for the target of `tab`. */
static double mse(const struct orr_table *tab, double mean)
{
    const struct orr_column *y = &tab->columns[tab->target];
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < tab->rows; i++) {
        int ok;
        double v = value_at(y, i, &ok);
        if (ok && !isnan(v)) {
            sum += (v - mean) * (v - mean);
            n++;
        }
    }
    return n ? sum / (double)n : NAN;
}

static int check_target(const struct orr_table *tab, const char *what,
                        struct orr_error *e)
{
    if (tab->target == ORR_NO_TARGET || tab->target >= tab->cols)
        return H->fail(e, ORR_EINVAL, "%s set has no target column", what);
    if (!numeric(&tab->columns[tab->target]))
        return H->fail(e, ORR_EUNSUPPORTED,
                       "target '%s' is not numeric: trainer 'mean' does "
                       "regression only", tab->columns[tab->target].name);
    return ORR_OK;
}

static int mean_fit(void *self, const struct orr_fit_request *req,
                    struct orr_fit_result *res, struct orr_error *e)
{
    const struct trainer *t = self;
    const struct orr_table *train = req->train;
    int rc = check_target(train, "training", e);
    if (rc)
        return rc;
    if (req->valid && (rc = check_target(req->valid, "validation", e)))
        return rc;

    const struct orr_column *y = &train->columns[train->target];
    double sum = 0;
    int64_t n = 0;
    for (size_t i = 0; i < train->rows; i++) {
        int ok;
        double v = value_at(y, i, &ok);
        if (ok && !isnan(v)) {
            sum += v;
            n++;
        }
    }
    if (n < t->min_rows)
        return H->fail(e, ORR_EINVAL,
                       "%lld labelled rows, fewer than min_rows (%lld)",
                       (long long)n, (long long)t->min_rows);
    double mean = sum / (double)n;

    /* Metrics and parameters go to the run (a no-op when run is NULL). */
    if ((rc = H->log_metric(req->run, "train_mse", mse(train, mean), 0, e)))
        return rc;
    if (req->valid &&
        (rc = H->log_metric(req->run, "valid_mse", mse(req->valid, mean), 0,
                            e)))
        return rc;
    char text[64];
    snprintf(text, sizeof text, "%.17g", mean);
    if ((rc = H->log_param(req->run, "mean", text, e)))
        return rc;

    /* The model: one small text file in the directory the host gave. */
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", req->out_dir,
                         MODEL_FILE) >= sizeof path)
        return H->fail(e, ORR_EINVAL, "output directory path too long");
    FILE *f = fopen(path, "w");
    if (!f)
        return H->fail(e, ORR_EIO, "%s: cannot create", path);
    size_t n_features = train->cols - 1;
    fprintf(f, "%s\nmean %.17g\nfeatures %zu\n", MODEL_MAGIC, mean,
            n_features);
    if (fclose(f) != 0)
        return H->fail(e, ORR_EIO, "%s: write failed", path);

    snprintf(res->flavor, sizeof res->flavor, "mean");
    res->task = ORR_TASK_REGRESSION;
    res->n_features = n_features;
    res->n_outputs = 1;
    return ORR_OK;
}

/* ---- the model runtime ------------------------------------------------- */

/* A loaded model; the host zero-allocates model_size bytes. */
struct model {
    double mean;
    size_t n_features;
};

static int mean_load(void *model, const char *dir, struct orr_error *e)
{
    struct model *m = model;
    char path[4096], magic[32] = "";
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, MODEL_FILE) >=
        sizeof path)
        return H->fail(e, ORR_EINVAL, "model directory path too long");
    FILE *f = fopen(path, "r");
    if (!f)
        return H->fail(e, ORR_ENOTFOUND, "%s: no such model file", path);
    int ok = fgets(magic, sizeof magic, f) &&
             !strncmp(magic, MODEL_MAGIC "\n", sizeof MODEL_MAGIC) &&
             fscanf(f, "mean %lf features %zu", &m->mean, &m->n_features)
                 == 2 &&
             isfinite(m->mean);
    fclose(f);
    if (!ok)
        return H->fail(e, ORR_ECORRUPT, "%s: not a trainer-mean model",
                       path);
    return ORR_OK;
}

static int mean_info(const void *model, struct orr_model_info *info,
                     struct orr_error *e)
{
    const struct model *m = model;
    (void)e;
    info->task = ORR_TASK_REGRESSION;
    info->n_features = m->n_features;
    info->feature_names = NULL;
    info->n_outputs = 1;
    info->output_names = NULL;
    return ORR_OK;
}

/* Called from many threads at once: reads the model, writes only y. */
static int mean_predict(const void *model, const struct orr_matrix *x,
                        struct orr_matrix *y, struct orr_error *e)
{
    const struct model *m = model;
    if (x->cols != m->n_features)
        return H->fail(e, ORR_EINVAL, "expected %zu features, got %zu",
                       m->n_features, x->cols);
    if (y->capacity < x->rows)
        return H->fail(e, ORR_EINVAL, "output holds %zu values, need %zu",
                       y->capacity, x->rows);
    for (size_t i = 0; i < x->rows; i++)
        y->data[i] = m->mean;
    y->rows = x->rows;
    y->cols = 1;
    return ORR_OK;
}

static void mean_unload(void *model)
{
    (void)model;            /* nothing allocated: the host frees model */
}

/* ---- registration ------------------------------------------------------ */

/* Static: the host keeps pointers to its strings and functions. */
static const struct orr_trainer_ops mean_ops = {
    .version = ORR_TRAINER_OPS_VERSION,
    .name = "mean",
    .summary = "baseline regression: predicts the training mean",
    .self_size = sizeof(struct trainer),
    .open = mean_open,
    .close = mean_close,
    .fit = mean_fit,
    .flavor = "mean",
    .model_size = sizeof(struct model),
    .load = mean_load,
    .info = mean_info,
    .predict = mean_predict,
    .unload = mean_unload,
};

static int mean_init(const struct orr_host *h, struct orr_registry *r,
                     struct orr_error *e)
{
    H = h;
    return h->add_trainer(r, &mean_ops, e);
}

ORR_PLUGIN("trainer-mean", "1.0.0", "Apache-2.0",
           "baseline trainer predicting the training mean (SDK template)",
           mean_init, NULL)
