/*
 * sched/triggers.h - feedback-loop triggers: declared in a Lua triggers
 * file (orrery.on_drift, orrery.on_schedule, orrery.on_new_data), kept in
 * the `triggers` table of schema migration 6, evaluated by
 * `orrery scheduler` at every check.
 *
 * A trigger names a workflow to run and the params to run it with; what
 * it watches is its kind and target:
 *   drift     target: a served model name or models:/ URI; fires when a
 *             monitor window shows drift (core/monitor/monitor.h)
 *   schedule  target: a five-field cron expression (sched/cron.h)
 *   new_data  target: a dataset name; fires for each newer
 *             datasets:/NAME/N than the one it last acted on
 * `state` is the trigger's own JSON memory (last dataset version seen,
 * model version acted on, pid of a run in progress), written so a
 * restarted scheduler neither misses nor repeats a firing.
 */
#ifndef ORRI_SCHED_TRIGGERS_H
#define ORRI_SCHED_TRIGGERS_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>

struct orri_sched;

struct orri_trigger {
    int64_t id;             /* 0 until stored                             */
    char   *name;
    char   *kind;           /* "drift", "schedule" or "new_data"           */
    char   *target;
    char   *workflow;       /* absolute path of the workflow file          */
    char   *options;        /* JSON object (params, threshold, window...)  */
    char   *state;          /* JSON object                                 */
    int64_t created_ms;
    int64_t last_fire_ms;   /* 0: never fired                              */
    char   *last_run;       /* run id of the last run started, or ""       */
    int     line;           /* declaring line in the triggers file         */
};

void orri_trigger_list_free(struct orri_trigger *v, size_t n);

/* ---- the triggers file (core/lua/l_triggers.c) -------------------------- */

/* Evaluate the triggers file `path` in a sandbox (base, string, table,
 * math and utf8 libraries only; memory and instruction limits as for the
 * site file) where `orrery.on_drift(model, workflow, opts)`,
 * `orrery.on_schedule(cron, workflow, opts)` and
 * `orrery.on_new_data(dataset, workflow, opts)` declare triggers
 * (`require "orrery"` returns the same table).  Workflow paths resolve
 * against the file's folder and must exist.  Errors are ORR_ECONFIG
 * "FILE:LINE: message" (bad options, duplicate names, a bad cron
 * expression, a missing workflow), ORR_ENOTFOUND/ORR_EIO when the file
 * cannot be read.  *out (n entries, id 0) is freed with
 * orri_trigger_list_free. */
int orri_triggers_load(const char *path, struct orri_trigger **out,
                       size_t *n, struct orr_error *e);

/* ---- the triggers table (core/sched/trigstore.c) ------------------------ */

enum orri_trig_change {
    ORRI_TRIG_UNCHANGED = 0,
    ORRI_TRIG_CREATED,
    ORRI_TRIG_UPDATED
};

/* Insert `t` by name, or update the stored trigger of that name.  A
 * trigger whose kind or target changed starts over (its state becomes
 * t->state, it has never fired); one whose workflow or options changed
 * keeps its state. */
int orri_trig_upsert(struct orri_sched *s, const struct orri_trigger *t,
                     int64_t now_ms, enum orri_trig_change *how,
                     struct orr_error *e);
/* All triggers by id. */
int orri_trig_list(struct orri_sched *s, struct orri_trigger **out,
                   size_t *n, struct orr_error *e);
/* One trigger by name; ORR_ENOTFOUND if none.  Free with
 * orri_trigger_list_free(*out, 1). */
int orri_trig_get(struct orri_sched *s, const char *name,
                  struct orri_trigger **out, struct orr_error *e);
/* ORR_ENOTFOUND if no trigger has that name. */
int orri_trig_remove(struct orri_sched *s, const char *name,
                     struct orr_error *e);
/* Record a firing: last_fire_ms and the JSON object `state_patch` merged
 * into the state (RFC 7396 merge patch: a null member removes a key). */
int orri_trig_fired(struct orri_sched *s, int64_t id, int64_t fire_ms,
                    const char *state_patch, struct orr_error *e);
/* Record that the run `run_id` of the trigger started in process `pid`
 * (state.pid), and that it ended (state.pid removed unless another
 * process has written its own since). */
int orri_trig_run_started(struct orri_sched *s, int64_t id,
                          const char *run_id, long pid,
                          struct orr_error *e);
int orri_trig_run_ended(struct orri_sched *s, int64_t id, long pid,
                        struct orr_error *e);
/* The time span of the rows of monitor window `window_id` (Unix ms). */
int orri_trig_window_span(struct orri_sched *s, int64_t window_id,
                          int64_t *start_ms, int64_t *end_ms,
                          struct orr_error *e);
/* Rows of the monitor window `window_id` with an alert on a model
 * quality metric (accuracy, roc_auc, rmse...) rather than on drift. */
int orri_trig_quality_alerts(struct orri_sched *s, int64_t window_id,
                             int64_t *n, struct orr_error *e);

/* ---- evaluation (core/sched/trigeval.c) --------------------------------- */

struct orr_core;

struct orri_trig_eval {
    int     fire;           /* start the trigger's workflow now            */
    int     record;         /* write fire_ms and state_patch (also when a
                               schedule's fire times are skipped past)     */
    int64_t fire_ms;
    char    reason[512];    /* why it fires: tagged on the run             */
    char    note[768];      /* what the scheduler reports (may be "")      */
    char   *params;         /* JSON object of extra string params, or NULL */
    char   *state_patch;    /* JSON merge patch for the state, or NULL     */
};

/* Decide whether `t` fires at `now_s` (Unix seconds; tests inject it):
 *   schedule  a cron fire time in the current minute; earlier ones were
 *             missed (reported; with catch_up one run for them);
 *   new_data  the newest datasets:/TARGET/N is newer than state.version:
 *             params {dataset = "datasets:/TARGET/N"};
 *   drift     orri_monitor_run on the model's window (options.window);
 *             fires when its status is "drift", its drift_share reaches
 *             options.threshold, or (options.on_quality) a quality metric
 *             raised an alert, unless a retrain for the same model version
 *             fired less than options.cooldown_s ago or the window holds
 *             rows the last firing already acted on (state.data_end_ms:
 *             evidence must be new); params {dataset = the newest
 *             version of options.dataset} when set.
 * `running`: a run of this trigger is still going; then nothing fires,
 * and only a schedule records the fire times it skipped (new data and
 * drift are acted on once that run ended).  Free with
 * orri_trig_eval_clear. */
int orri_trig_evaluate(struct orr_core *core, struct orri_sched *s,
                       const struct orri_trigger *t, int64_t now_s,
                       int catch_up, int running, struct orri_trig_eval *out,
                       struct orr_error *e);
void orri_trig_eval_clear(struct orri_trig_eval *ev);

/* The pid in the trigger's state (a run in progress), or 0. */
long orri_trig_state_pid(const struct orri_trigger *t);

#endif
