/*
 * sched/trigeval.c - when a trigger fires (sched/triggers.h).
 *
 * Every decision is a pure function of the trigger's stored state, the
 * metadata store and `now`, and what the decision changes is written back
 * by the caller before the run starts: a scheduler killed between two
 * checks, or restarted, decides the same way again, so it neither misses
 * a firing nor repeats one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core.h"
#include "meta/datasets.h"
#include "monitor/monitor.h"
#include "sched/cron.h"
#include "sched/triggers.h"
#include "util/error.h"

/* Counting missed fire times stops here ("at least N"). */
#define MISSED_CAP 1000000

void orri_trig_eval_clear(struct orri_trig_eval *ev)
{
    if (!ev)
        return;
    free(ev->params);
    free(ev->state_patch);
    memset(ev, 0, sizeof *ev);
}

long orri_trig_state_pid(const struct orri_trigger *t)
{
    json_t *st = json_loads(t->state, 0, NULL);
    json_t *p = json_object_get(st, "pid");
    long pid = json_is_integer(p) ? (long)json_integer_value(p) : 0;
    json_decref(st);
    return pid;
}

static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return s;
}

static int eval_schedule(const struct orri_trigger *t, int64_t now,
                         int catch_up, int running,
                         struct orri_trig_eval *ev, struct orr_error *e)
{
    struct orri_cron c;
    if (orri_cron_parse(&c, t->target, NULL, e))
        return e->code;
    int64_t last_fire = t->last_fire_ms / 1000;
    int64_t base = last_fire;
    if (!base) {
        int64_t created = t->created_ms / 1000;
        base = (created < now ? created : now) - 1;
    }
    int64_t count = 0, last = 0;
    orri_cron_window(&c, base, now, MISSED_CAP + 1, &count, &last);
    if (!count)
        return ORR_OK;
    int due = now - last < 60;
    int64_t missed = count - due;
    int many = count > MISSED_CAP;
    char lb[32], bb[32];
    orri_iso_format(last, lb, sizeof lb);
    if (missed > 0)
        snprintf(ev->note, sizeof ev->note, "missed %s%lld fire time%s "
                 "since %s%s", many ? "at least " : "",
                 (long long)(many ? MISSED_CAP : missed),
                 missed == 1 ? "" : "s",
                 orri_iso_format(last_fire ? last_fire : t->created_ms / 1000,
                                 bb, sizeof bb),
                 due ? "" : catch_up ? "; one catch-up run"
                                     : " (--catch-up starts one run)");
    ev->record = 1;
    ev->fire_ms = last * 1000;
    ev->state_patch = strdup("{}");
    if (!due && !(missed > 0 && catch_up))
        return ORR_OK;
    if (running) {
        size_t len = strlen(ev->note);
        snprintf(ev->note + len, sizeof ev->note - len, "%sskipped the "
                 "fire time %s: the previous run is still going",
                 len ? "; " : "", lb);
        return ORR_OK;
    }
    ev->fire = 1;
    snprintf(ev->reason, sizeof ev->reason, "%s %s", due ? "schedule"
             : "catch-up for", lb);
    return ORR_OK;
}

/* The newest version of dataset `name`: 0 when it has none. */
static int newest(struct orr_core *core, const char *name, int64_t *version,
                  struct orr_error *e)
{
    struct orr_meta *m = NULL;
    char digest[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error ne = {0};
    *version = 0;
    int rc = orr_core_meta(core, &m, e);
    if (rc)
        return rc;
    rc = orr_meta_dataset_get(m, name, version, digest, &ne);
    if (rc == ORR_ENOTFOUND) {
        *version = 0;
        return ORR_OK;
    }
    if (rc)
        return orr_fail(e, rc, "%s", ne.msg);
    return ORR_OK;
}

static int eval_new_data(struct orr_core *core, const struct orri_trigger *t,
                         int64_t now, int running,
                         struct orri_trig_eval *ev, struct orr_error *e)
{
    int64_t n = 0;
    int rc = newest(core, t->target, &n, e);
    if (rc)
        return rc;
    json_t *st = json_loads(t->state, 0, NULL);
    json_t *jv = json_object_get(st, "version");
    int64_t seen = json_is_integer(jv) ? json_integer_value(jv) : 0;
    json_decref(st);
    if (n <= seen)
        return ORR_OK;
    if (running) {
        snprintf(ev->note, sizeof ev->note, "datasets:/%s/%lld is new; "
                 "waiting for the run in progress", t->target,
                 (long long)n);
        return ORR_OK;
    }
    char uri[200];
    snprintf(uri, sizeof uri, "datasets:/%.128s/%lld", t->target, (long long)n);
    ev->fire = ev->record = 1;
    ev->fire_ms = now * 1000;
    if (n - seen > 1)
        snprintf(ev->reason, sizeof ev->reason, "new data %s (versions "
                 "%lld-%lld arrived since version %lld; the newest is "
                 "used)", uri, (long long)seen + 1, (long long)n,
                 (long long)seen);
    else
        snprintf(ev->reason, sizeof ev->reason, "new data %s", uri);
    ev->params = dump(json_pack("{s:s}", "dataset", uri));
    ev->state_patch = dump(json_pack("{s:I}", "version", (json_int_t)n));
    if (!ev->params || !ev->state_patch)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    return ORR_OK;
}

static int eval_drift(struct orr_core *core, struct orri_sched *s,
                      const struct orri_trigger *t, int64_t now, int running,
                      struct orri_trig_eval *ev, struct orr_error *e)
{
    json_t *opt = json_loads(t->options, 0, NULL);
    json_t *state = json_loads(t->state, 0, NULL);
    char *thresholds = NULL;
    int rc = ORR_OK;
    if (!json_is_object(opt)) {
        rc = orr_fail(e, ORR_ECONFIG, "trigger '%s': options are not a "
                      "JSON object", t->name);
        goto done;
    }
    double threshold = json_number_value(json_object_get(opt, "threshold"));
    if (!(threshold > 0))
        threshold = 0.5;
    const char *window = json_string_value(json_object_get(opt, "window"));
    const char *dataset = json_string_value(json_object_get(opt,
                                                            "dataset"));
    json_t *jcd = json_object_get(opt, "cooldown_s");
    int64_t cooldown = json_is_integer(jcd) ? json_integer_value(jcd)
                                            : 6 * 3600;
    json_t *jq = json_object_get(opt, "on_quality");
    int on_quality = !jq || json_is_true(jq);
    json_t *jth = json_object_get(opt, "thresholds");
    if (json_is_object(jth))
        thresholds = json_dumps(jth, JSON_COMPACT | JSON_SORT_KEYS);

    struct orri_monitor_opts mo = {.window = window, .now_ms = now * 1000,
                                   .notify = 1,
                                   .thresholds_json = thresholds};
    struct orri_monitor_result r;
    memset(&r, 0, sizeof r);
    if ((rc = orri_monitor_run(core, t->target, &mo, &r, e)))
        goto done;
    int drifted = !strcmp(r.status, "drift") ||
                  (isfinite(r.drift_share) && r.drift_share >= threshold);
    int64_t quality = 0;
    if (on_quality && r.window_id &&
        (rc = orri_trig_quality_alerts(s, r.window_id, &quality, e)))
        goto done;
    if (strcmp(r.status, "ok") && strcmp(r.status, "drift")) {
        snprintf(ev->note, sizeof ev->note, "window %lld of %s: %s%s%s",
                 (long long)r.window_id, t->target, r.status,
                 r.message[0] ? ": " : "", r.message);
        goto done;
    }
    char share[32];
    if (isfinite(r.drift_share))
        snprintf(share, sizeof share, "%.3g", r.drift_share);
    else
        snprintf(share, sizeof share, "n/a");
    if (!drifted && !quality) {
        snprintf(ev->note, sizeof ev->note, "window %lld of %s version "
                 "%s: no drift (drift_share %s < %.3g, %lld rows)",
                 (long long)r.window_id, r.model, r.version, share,
                 threshold, (long long)r.n_rows);
        goto done;
    }
    if (drifted)
        snprintf(ev->reason, sizeof ev->reason, "drift on %s version %s: "
                 "drift_share %s >= %.3g (%d features drifted, %lld rows, "
                 "window %lld)", r.model, r.version, share, threshold,
                 r.n_features_drifted, (long long)r.n_rows,
                 (long long)r.window_id);
    else
        snprintf(ev->reason, sizeof ev->reason, "quality alert on %s "
                 "version %s: %lld metric%s below the reference (window "
                 "%lld, %lld labelled rows)", r.model, r.version,
                 (long long)quality, quality == 1 ? "" : "s",
                 (long long)r.window_id, (long long)r.n_labelled);
    /* Evidence must be new: rows the last firing acted on (served by
     * the model that was then replaced, labelled then) say nothing
     * about the model serving now. */
    int64_t w_start = 0, w_end = 0;
    if ((rc = orri_trig_window_span(s, r.window_id, &w_start, &w_end, e)))
        goto done;
    json_t *jde = json_object_get(state, "data_end_ms");
    int64_t acted_end = json_is_integer(jde) ? json_integer_value(jde) : 0;
    if (acted_end && w_start <= acted_end) {
        snprintf(ev->note, sizeof ev->note, "%s; the window holds rows "
                 "the last retrain already acted on, waiting for newer "
                 "traffic", ev->reason);
        ev->reason[0] = '\0';
        goto done;
    }
    /* One retrain per champion version and cooldown: a gate that kept
     * the champion must not start the same retrain at every check. */
    const char *acted = json_string_value(json_object_get(state,
                                                          "version"));
    if (acted && !strcmp(acted, r.version) && t->last_fire_ms &&
        now * 1000 - t->last_fire_ms < cooldown * 1000) {
        char fb[32], ub[32];
        snprintf(ev->note, sizeof ev->note, "%s; a retrain for this version"
                 " fired at %s, next one possible from %s", ev->reason,
                 orri_iso_format(t->last_fire_ms / 1000, fb, sizeof fb),
                 orri_iso_format(t->last_fire_ms / 1000 + cooldown, ub,
                                 sizeof ub));
        ev->reason[0] = '\0';
        goto done;
    }
    if (running) {
        snprintf(ev->note, sizeof ev->note, "%s; waiting for the run in "
                 "progress", ev->reason);
        ev->reason[0] = '\0';
        goto done;
    }
    json_t *params = json_object();
    if (dataset) {
        int64_t n = 0;
        if ((rc = newest(core, dataset, &n, e))) {
            json_decref(params);
            goto done;
        }
        if (n > 0) {
            char uri[200];
            snprintf(uri, sizeof uri, "datasets:/%.128s/%lld", dataset,
                     (long long)n);
            json_object_set_new(params, "dataset", json_string(uri));
        }
    }
    ev->fire = ev->record = 1;
    ev->fire_ms = now * 1000;
    ev->params = dump(params);
    ev->state_patch = dump(json_pack("{s:s, s:I, s:I}", "version",
                                     r.version, "window_id",
                                     (json_int_t)r.window_id, "data_end_ms",
                                     (json_int_t)w_end));
    if (!ev->params || !ev->state_patch)
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
done:
    free(thresholds);
    json_decref(opt);
    json_decref(state);
    return rc;
}

int orri_trig_evaluate(struct orr_core *core, struct orri_sched *s,
                       const struct orri_trigger *t, int64_t now_s,
                       int catch_up, int running, struct orri_trig_eval *out,
                       struct orr_error *e)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (!strcmp(t->kind, "schedule"))
        rc = eval_schedule(t, now_s, catch_up, running, out, e);
    else if (!strcmp(t->kind, "new_data"))
        rc = eval_new_data(core, t, now_s, running, out, e);
    else if (!strcmp(t->kind, "drift"))
        rc = eval_drift(core, s, t, now_s, running, out, e);
    else
        rc = orr_fail(e, ORR_ECONFIG, "trigger '%s': unknown kind '%s'",
                      t->name, t->kind);
    if (rc)
        orri_trig_eval_clear(out);
    return rc;
}
