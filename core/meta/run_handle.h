/*
 * meta/run_handle.h - struct orr_run, the handle plugins log through.
 *
 * Opaque to plugins (host.h declares it); the core fills it for each step
 * it executes and passes it in orr_fit_request.run and the like.  The host
 * members log_metric/log_param/set_tag/artifact_put_file act on it.
 */
#ifndef ORRI_META_RUN_HANDLE_H
#define ORRI_META_RUN_HANDLE_H

#include <stdint.h>

#include "meta/meta.h"

struct orr_core;

struct orr_run {
    struct orr_core *core;
    struct orr_meta *meta;
    char             id[ORR_RUN_ID_SIZE];
    int64_t          step_id;       /* current step execution, 0 if none   */
};

#endif
