/*
 * plugin/model.c - loaded models (see plugin/model.h).
 */
#include "plugin/model.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "util/error.h"

ORR_API int orr_model_load_backend(const struct orr_backend *b,
                                   const char *dir, struct orr_model **out,
                                   struct orr_error *e)
{
    *out = NULL;
    if (!b || b->kind != ORR_KIND_TRAINER || !b->ops.trainer.flavor)
        return orr_fail(e, ORR_EINVAL, "not a model runtime");
    if (!dir || !*dir)
        return orr_fail(e, ORR_EINVAL, "no model directory given");
    const struct orr_trainer_ops *t = &b->ops.trainer;
    struct orr_model *m = calloc(1, sizeof *m);
    if (!m || !(m->model = calloc(1, t->model_size))) {
        free(m);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    m->backend = b;
    atomic_init(&m->refs, 1);
    struct orr_error le = {0};
    int rc = orri_plugin_status(t->load(m->model, dir, &le), &le);
    if (rc) {
        t->unload(m->model);        /* runtimes cope with half-loaded */
        free(m->model);
        free(m);
        return orr_fail(e, rc, "load %s model from %s: %s", t->flavor, dir,
                        le.msg);
    }
    *out = m;
    return ORR_OK;
}

ORR_API int orr_model_load(struct orr_core *core, const char *flavor,
                           const char *dir, struct orr_model **out,
                           struct orr_error *e)
{
    *out = NULL;
    const struct orr_backend *b;
    int rc = orr_registry_find_flavor(orr_core_registry(core), flavor, &b, e);
    if (rc)
        return rc;
    return orr_model_load_backend(b, dir, out, e);
}

ORR_API void orr_model_retain(struct orr_model *m)
{
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

ORR_API void orr_model_release(struct orr_model *m)
{
    if (!m)
        return;
    /* acq_rel: the unload below must see every write made by threads that
     * dropped their references before. */
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    m->backend->ops.trainer.unload(m->model);
    free(m->model);
    free(m);
}

ORR_API int orr_model_info(const struct orr_model *m,
                           struct orr_model_info *info, struct orr_error *e)
{
    if (!m || !info || info->size < sizeof info->size)
        return orr_fail(e, ORR_EINVAL, "model_info: bad arguments");
    /* The runtime fills a struct of the core's size; the caller gets the
     * prefix its own SDK knows. */
    struct orr_model_info full;
    memset(&full, 0, sizeof full);
    full.size = sizeof full;
    struct orr_error le = {0};
    int rc = orri_plugin_status(
        m->backend->ops.trainer.info(m->model, &full, &le), &le);
    if (rc)
        return orr_fail(e, rc, "%s model: %s", m->backend->ops.trainer.flavor,
                        le.msg);
    size_t n = info->size < sizeof full ? info->size : sizeof full;
    size_t keep = info->size;
    memcpy(info, &full, n);
    info->size = keep;
    return ORR_OK;
}

ORR_API int orr_model_predict(const struct orr_model *m,
                              const struct orr_matrix *x,
                              struct orr_matrix *y, struct orr_error *e)
{
    if (!m || !x || !y || (x->rows && x->cols && !x->data))
        return orr_fail(e, ORR_EINVAL, "model_predict: bad arguments");
    int rc = m->backend->ops.trainer.predict(m->model, x, y, e);
    return rc == ORR_OK ? ORR_OK : orri_plugin_status(rc, e);
}
