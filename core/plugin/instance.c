/*
 * plugin/instance.c - opening and closing backend instances.
 */
#include "plugin/instance.h"

#include <stdlib.h>

#include "core.h"
#include "util/error.h"

typedef int (*open_fn)(void *self, const struct orr_cfg *cfg,
                       struct orr_error *e);
typedef void (*close_fn)(void *self);

static void slots(const struct orr_backend *b, open_fn *op, close_fn *cl)
{
    switch (b->kind) {
    case ORR_KIND_STORAGE:
        *op = b->ops.storage.open;
        *cl = b->ops.storage.close;
        return;
    case ORR_KIND_ORCHESTRATOR:
        *op = b->ops.orchestrator.open;
        *cl = b->ops.orchestrator.close;
        return;
    case ORR_KIND_TRAINER:
        *op = b->ops.trainer.open;
        *cl = b->ops.trainer.close;
        return;
    case ORR_KIND_SERVER:
        *op = b->ops.server.open;
        *cl = b->ops.server.close;
        return;
    case ORR_KIND_MONITOR:
        *op = b->ops.monitor.open;
        *cl = b->ops.monitor.close;
        return;
    case ORR_KIND_COUNT:
        break;
    }
    *op = NULL;
    *cl = NULL;
}

ORR_API int orr_instance_open(struct orr_core *core, enum orr_kind kind,
                              const char *name, const struct orr_cfg *cfg,
                              struct orr_instance **out, struct orr_error *e)
{
    *out = NULL;
    if ((unsigned)kind >= ORR_KIND_COUNT)
        return orr_fail(e, ORR_EINVAL, "unknown backend kind %d", (int)kind);
    const struct orr_site *site = orr_core_site(core);
    const char *kn = orr_kind_name(kind);
    if (!name && !(name = orr_site_backend(site, kind)))
        return orr_fail(e, ORR_ECONFIG,
                        "no %s backend selected: set %s.backend in the site "
                        "configuration", kn, kn);
    const struct orr_backend *b;
    int rc = orr_registry_find(orr_core_registry(core), kind, name, &b, e);
    if (rc)
        return rc;
    if (!cfg)
        cfg = orr_site_backend_cfg(site, kind, name);

    open_fn op;
    close_fn cl;
    slots(b, &op, &cl);
    struct orr_instance *inst = calloc(1, sizeof *inst);
    /* A stateless backend (self_size 0) still gets a unique pointer. */
    if (!inst || !(inst->self = calloc(1, b->self_size ? b->self_size : 1))) {
        free(inst);
        return orr_fail(e, ORR_ENOMEM, "%s backend '%s': out of memory", kn,
                        name);
    }
    inst->backend = b;
    struct orr_error oe = {0};
    rc = orri_plugin_status(op(inst->self, cfg, &oe), &oe);
    if (rc) {
        cl(inst->self);     /* backends cope with a half-open self */
        free(inst->self);
        free(inst);
        return orr_fail(e, rc, "%s backend '%s': %s", kn, name, oe.msg);
    }
    *out = inst;
    return ORR_OK;
}

ORR_API void orr_instance_close(struct orr_instance *inst)
{
    if (!inst)
        return;
    open_fn op;
    close_fn cl;
    slots(inst->backend, &op, &cl);
    cl(inst->self);
    free(inst->self);
    free(inst);
}
