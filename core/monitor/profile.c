/*
 * monitor/profile.c - reference profiles: the reference dataset (by
 * default the one the version was trained on) reduced to the columns the
 * model reads, the version's predictions on a holdout, both handed to the
 * site monitor backend's `profile`, the file stored as an artifact of
 * kind "profile" and linked to the version.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"
#include "data/model_io.h"
#include "data/names.h"
#include "data/table.h"
#include "meta/registry.h"
#include "monitor/internal.h"
#include "monitor/monitor.h"
#include "plugin/model.h"
#include "storage/artifacts.h"
#include "util/error.h"

/* A dataset by digest, datasets:/NAME[/N] or CSV file. */
static int load_dataset(struct orr_core *core, const char *spec,
                        const char *target, struct orr_dataset **out,
                        struct orr_error *e)
{
    *out = NULL;
    if (!strncmp(spec, "datasets:/", 10) || orr_digest_is_valid(spec)) {
        struct orr_instance *st = NULL;
        char digest[ORR_DIGEST_HEX_LEN + 1];
        int64_t version = 0;
        int rc = orr_core_storage(core, &st, e);
        if (!rc && orr_digest_is_valid(spec))
            memcpy(digest, spec, sizeof digest);
        else if (!rc)
            rc = orr_dataset_resolve(core, spec, digest, &version, e);
        if (!rc)
            rc = orr_dataset_fetch(st, digest, out, e);
        return rc;
    }
    struct orr_csv_options opt = {.target = target};
    return orr_dataset_load_csv(spec, &opt, out, e);
}

/* The columns of `ds` the model reads: a feature's own column, or the
 * categorical column COL behind one-hot inputs "COL=LABEL". */
static int model_columns(const struct orr_dataset *ds,
                         const struct orr_model_info *mi,
                         struct orr_dataset **out, struct orr_error *e)
{
    const char **names = calloc(mi->n_features + 1, sizeof *names);
    char **owned = calloc(mi->n_features + 1, sizeof *owned);
    size_t n = 0;
    int rc = ORR_OK;
    if (!names || !owned) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < mi->n_features; i++) {
        const char *f = mi->feature_names ? mi->feature_names[i] : NULL;
        if (!f)
            continue;
        char *col = NULL;
        if (orr_dataset_column(ds, f) == (size_t)-1) {
            const char *eq = strchr(f, '=');
            if (!eq)
                continue;
            col = strndup(f, (size_t)(eq - f));
            if (!col) {
                rc = orr_fail(e, ORR_ENOMEM, "out of memory");
                goto fail;
            }
            if (orr_dataset_column(ds, col) == (size_t)-1) {
                free(col);
                continue;
            }
            f = col;
        }
        int dup = 0;
        for (size_t k = 0; k < n; k++)
            dup |= !strcmp(names[k], f);
        if (dup) {
            free(col);
            continue;
        }
        owned[n] = col;
        names[n++] = f;
    }
    if (!n) {
        rc = orr_fail(e, ORR_EINVAL, "the reference data has none of the "
                      "model's %zu input columns", mi->n_features);
        goto fail;
    }
    rc = orr_dataset_select(ds, names, n, out, e);
fail:
    if (owned)
        for (size_t i = 0; i < n; i++)
            free(owned[i]);
    free(owned);
    free(names);
    return rc;
}

struct first_ds {
    char digest[ORR_DIGEST_HEX_LEN + 1];
};

static int take_first(void *ctx, const char *digest)
{
    struct first_ds *f = ctx;
    if (!f->digest[0] && orr_digest_is_valid(digest))
        memcpy(f->digest, digest, sizeof f->digest);
    return 0;
}

int orri_monitor_profile(struct orr_core *core, const char *version_uri,
                         const char *reference, const char *holdout,
                         struct orr_error *e)
{
    struct orr_meta *m = NULL;
    struct orr_model_version v;
    struct orr_model *model = NULL;
    struct orr_model_manifest mf = {0};
    struct orr_dataset *ref = NULL, *hold = NULL, *sel = NULL;
    struct orr_instance *mon = NULL, *st = NULL;
    double *pred = NULL;
    size_t n_out = 0;
    char tmp[4096] = "", path[4200];
    sqlite3 *db = NULL;
    int rc = orr_core_meta(core, &m, e);
    if (!rc)
        rc = orr_registry_resolve(m, version_uri, &v, e);
    if (!rc)
        rc = orr_instance_open(core, ORR_KIND_MONITOR, NULL, NULL, &mon, e);
    if (!rc && !mon->backend->ops.monitor.profile)
        rc = orr_fail(e, ORR_EUNSUPPORTED, "monitor backend '%s' writes no "
                      "profiles", mon->backend->name);
    if (!rc)
        rc = orr_model_open(core, v.artifact, &model, &mf, e);
    if (rc)
        goto fail;
    struct first_ds first = {""};
    if (!reference) {
        if (mf.train_dataset[0])
            memcpy(first.digest, mf.train_dataset, sizeof first.digest);
        else
            rc = orr_registry_datasets(m, v.name, v.version, take_first,
                                       &first, e);
        if (!rc && !first.digest[0])
            rc = orr_fail(e, ORR_ENOTFOUND, "%s/%lld records no training "
                          "dataset: give a reference dataset", v.name,
                          (long long)v.version);
        reference = first.digest;
    }
    if (!rc)
        rc = load_dataset(core, reference, mf.target, &ref, e);
    if (!rc && holdout && strcmp(holdout, reference))
        rc = load_dataset(core, holdout, mf.target, &hold, e);
    struct orr_model_info mi = {.size = sizeof mi};
    if (!rc)
        rc = orr_model_info(model, &mi, e);
    if (!rc)
        rc = model_columns(ref, &mi, &sel, e);
    if (!rc)
        rc = orr_model_predict_dataset(model, hold ? hold : ref, &pred,
                                       &n_out, e);
    if (rc)
        goto fail;
    struct orr_matrix pm = {.rows = (hold ? hold : ref)->view.rows,
                            .cols = n_out, .data = pred,
                            .capacity = (hold ? hold : ref)->view.rows *
                                        n_out};
    if ((rc = orr_tempdir(tmp, sizeof tmp, "orrery-profile", e)))
        goto fail;
    snprintf(path, sizeof path, "%s/profile.json", tmp);
    rc = mon->backend->ops.monitor.profile(mon->self, &sel->view, &pm, path,
                                           e);
    char digest[ORR_DIGEST_HEX_LEN + 1];
    struct stat sb;
    if (!rc && stat(path, &sb))
        rc = orr_fail(e, ORR_EIO, "monitor backend '%s' wrote no profile",
                      mon->backend->name);
    if (!rc)
        rc = orr_core_storage(core, &st, e);
    if (!rc)
        rc = orr_storage_put_file(st, path, digest, e);
    char name[ORR_MODEL_NAME_MAX + 40];
    snprintf(name, sizeof name, "%s/%lld", v.name, (long long)v.version);
    if (!rc)
        rc = orr_meta_artifact(m, 0, ORR_EVENT_OUTPUT, digest,
                               (uint64_t)sb.st_size, "profile", name, e);
    if (!rc)
        rc = orri_mon_db_open(core, &db, e);
    if (!rc)
        rc = orri_mon_profile_link(db, v.name, v.version, digest, e);
fail:
    orri_mon_db_close(db);
    if (tmp[0])
        orr_tempdir_remove(tmp);
    free(pred);
    orr_dataset_free(sel);
    orr_dataset_free(hold);
    orr_dataset_free(ref);
    orr_model_release(model);
    orr_model_manifest_clear(&mf);
    orr_instance_close(mon);
    return rc;
}

int orri_monitor_can_profile(struct orr_core *core)
{
    struct orr_instance *mon = NULL;
    struct orr_error e = {0};
    int ok = !orr_instance_open(core, ORR_KIND_MONITOR, NULL, NULL, &mon,
                                &e) && mon->backend->ops.monitor.profile;
    orr_instance_close(mon);
    return ok;
}
