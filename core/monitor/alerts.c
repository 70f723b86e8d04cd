/*
 * monitor/alerts.c - alerts raised by windows, deduplicated by key, and
 * their delivery through the site's notifying monitor backends: an alert
 * stays pending (attempts and last error recorded) until every notifier
 * took it, so nothing is lost while a receiver is down.
 */
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "core.h"
#include "monitor/internal.h"
#include "monitor/monitor.h"
#include "util/error.h"

int orri_mon_alert_raise(sqlite3 *db, const char *model, const char *version,
                         int64_t window_id, const char *severity,
                         const char *dedup_key, const char *title,
                         const char *details_json, int *raised,
                         struct orr_error *e)
{
    /* One statement: the dedup check and the insert see one snapshot. */
    static const char q[] =
        "INSERT INTO alerts (model_id, version_id, severity, title, details,"
        " created_ms, dedup_key, window_id)"
        " SELECT r.id, (SELECT mv.id FROM model_versions mv"
        "   WHERE mv.model_id = r.id AND mv.version = CAST(?2 AS INTEGER)),"
        "  ?3, ?4, ?5, ?6, ?7, nullif(?8, 0)"
        " FROM (SELECT (SELECT id FROM registered_models WHERE name = ?1)"
        "   AS id) r"
        " WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE dedup_key = ?7"
        "   AND acknowledged_ms IS NULL)";
    sqlite3_stmt *st = NULL;
    *raised = 0;
    int src = sqlite3_prepare_v2(db, q, -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, severity, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, title, -1, SQLITE_STATIC);
        if (details_json)
            sqlite3_bind_text(st, 5, details_json, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, orri_now_ms());
        sqlite3_bind_text(st, 7, dedup_key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, window_id);
        src = sqlite3_step(st);
    }
    int rc = ORR_OK;
    if (src != SQLITE_DONE)
        rc = orri_mon_sqlfail(db, src, e, "raising an alert");
    else
        *raised = sqlite3_changes(db) > 0;
    sqlite3_finalize(st);
    return rc;
}

/* The site's notifying backends: monitor.alerts = { "webhook", ... }. */
struct notifiers {
    char                *names[8];
    struct orr_instance *inst[8];
    size_t               n;
};

static int add_notifier(void *ctx, const char *key, const char *name)
{
    (void)key;
    struct notifiers *ns = ctx;
    if (name && name[0] && ns->n < sizeof ns->inst / sizeof *ns->inst &&
        (ns->names[ns->n] = strdup(name)) != NULL)
        ns->n++;
    return 0;
}

int orri_monitor_deliver_alerts(struct orr_core *core, int max,
                                int *delivered, struct orr_error *e)
{
    static const char qs[] =
        "SELECT a.id, a.severity, a.title, a.details, a.created_ms,"
        " coalesce(r.name, ''), coalesce(mv.version, '')"
        " FROM alerts a LEFT JOIN registered_models r ON r.id = a.model_id"
        " LEFT JOIN model_versions mv ON mv.id = a.version_id"
        " WHERE a.delivered_ms IS NULL ORDER BY a.created_ms, a.id LIMIT ?";
    static const char qu[] =
        "UPDATE alerts SET delivery_attempts = delivery_attempts + 1,"
        " delivered_ms = CASE WHEN ?2 IS NULL THEN ?3 END,"
        " delivery_error = ?2 WHERE id = ?1";
    *delivered = 0;
    struct notifiers ns = {0};
    sqlite3 *db = NULL;
    sqlite3_stmt *ss = NULL, *su = NULL;
    int rc = ORR_OK;
    const struct orr_cfg *list = orr_cfg_get(orr_core_site(core)->root,
                                             "monitor.alerts");
    if (list)
        orr_cfg_each(list, add_notifier, &ns);
    if (!ns.n)
        return orr_fail(e, ORR_ECONFIG, "no notifying backend configured: "
                        "set monitor = { alerts = { \"webhook\" }, ... } in "
                        "the site file");
    for (size_t i = 0; i < ns.n; i++) {
        rc = orr_instance_open(core, ORR_KIND_MONITOR, ns.names[i], NULL,
                               &ns.inst[i], e);
        if (!rc && !ns.inst[i]->backend->ops.monitor.notify)
            rc = orr_fail(e, ORR_EUNSUPPORTED, "monitor backend '%s' does "
                          "not notify", ns.names[i]);
        if (rc)
            goto fail;
    }
    if ((rc = orri_mon_db_open(core, &db, e)))
        goto fail;
    int src = sqlite3_prepare_v2(db, qs, -1, &ss, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db, qu, -1, &su, NULL);
    if (src == SQLITE_OK)
        sqlite3_bind_int(ss, 1, max > 0 ? max : 100);
    /* Read the batch first: updates must not run under the open read. */
    struct pend {
        int64_t id, created;
        char *sev, *title, *details, *model, *version;
    } *pend = NULL;
    size_t np = 0;
    while (src == SQLITE_OK && (src = sqlite3_step(ss)) == SQLITE_ROW) {
        struct pend *pp = realloc(pend, (np + 1) * sizeof *pp);
        if (!pp) {
            src = SQLITE_NOMEM;
            break;
        }
        pend = pp;
        struct pend *p = &pend[np++];
        p->id = sqlite3_column_int64(ss, 0);
        p->created = sqlite3_column_int64(ss, 4);
        const char *t[5];
        for (int k = 0; k < 5; k++) {
            int col = k < 3 ? k + 1 : k + 2;
            t[k] = (const char *)sqlite3_column_text(ss, col);
        }
        p->sev = strdup(t[0] ? t[0] : "warning");
        p->title = strdup(t[1] ? t[1] : "");
        p->details = t[2] ? strdup(t[2]) : NULL;
        p->model = strdup(t[3] ? t[3] : "");
        p->version = strdup(t[4] ? t[4] : "");
        src = SQLITE_OK;
    }
    sqlite3_reset(ss);
    if (src != SQLITE_DONE && src != SQLITE_OK)
        rc = orri_mon_sqlfail(db, src, e, "reading pending alerts");
    int failures = 0;
    char last[ORR_ERROR_MSG_SIZE + 80] = "";
    for (size_t i = 0; !rc && i < np; i++) {
        struct pend *p = &pend[i];
        struct orr_alert a = {
            .size = sizeof a,
            .severity = !strcmp(p->sev ? p->sev : "", "critical")
                        ? ORR_SEV_CRITICAL
                        : !strcmp(p->sev ? p->sev : "", "info")
                        ? ORR_SEV_INFO : ORR_SEV_WARNING,
            .model = p->model, .version = p->version, .title = p->title,
            .details = p->details, .time = p->created / 1000};
        char err[ORR_ERROR_MSG_SIZE + 80] = "";
        for (size_t k = 0; k < ns.n; k++) {
            struct orr_error ne = {0};
            const struct orr_backend *b = ns.inst[k]->backend;
            if (b->ops.monitor.notify(ns.inst[k]->self, &a, &ne))
                snprintf(err, sizeof err, "%s: %s", b->name,
                         ne.msg[0] ? ne.msg : "failed");
        }
        sqlite3_bind_int64(su, 1, p->id);
        if (err[0])
            sqlite3_bind_text(su, 2, err, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(su, 2);
        sqlite3_bind_int64(su, 3, orri_now_ms());
        src = sqlite3_step(su);
        sqlite3_reset(su);
        if (src != SQLITE_DONE)
            rc = orri_mon_sqlfail(db, src, e, "recording a delivery");
        else if (err[0]) {
            failures++;
            memcpy(last, err, sizeof last);
        } else {
            (*delivered)++;
        }
    }
    for (size_t i = 0; i < np; i++) {
        free(pend[i].sev);
        free(pend[i].title);
        free(pend[i].details);
        free(pend[i].model);
        free(pend[i].version);
    }
    free(pend);
    if (!rc && failures)
        rc = orr_fail(e, ORR_EIO, "%d alert(s) not delivered, kept for the "
                      "next attempt: %s", failures, last);
fail:
    sqlite3_finalize(ss);
    sqlite3_finalize(su);
    orri_mon_db_close(db);
    for (size_t i = 0; i < ns.n; i++) {
        orr_instance_close(ns.inst[i]);
        free(ns.names[i]);
    }
    return rc;
}

int orri_monitor_alerts(struct orr_core *core, const char *model, int limit,
                        json_t **out, struct orr_error *e)
{
    static const char q[] =
        "SELECT a.id, coalesce(r.name, ''), mv.version, a.severity, a.title,"
        " a.details, a.created_ms, a.dedup_key, a.window_id,"
        " a.acknowledged_ms, a.delivered_ms, a.delivery_attempts,"
        " a.delivery_error FROM alerts a"
        " LEFT JOIN registered_models r ON r.id = a.model_id"
        " LEFT JOIN model_versions mv ON mv.id = a.version_id"
        " WHERE ?1 IS NULL OR r.name = ?1"
        " ORDER BY a.created_ms DESC, a.id DESC LIMIT ?2";
    *out = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = orri_mon_db_open(core, &db, e);
    if (rc)
        return rc;
    json_t *arr = json_array();
    int src = sqlite3_prepare_v2(db, q, -1, &st, NULL);
    if (src == SQLITE_OK) {
        if (model)
            sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, limit > 0 ? limit : 100);
    }
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *a = json_object();
        static const char *const keys[] = {
            "id", "model", "version", "severity", "title", "details",
            "created_ms", "dedup_key", "window_id", "acknowledged_ms",
            "delivered_ms", "delivery_attempts", "delivery_error"};
        for (int k = 0; k < 13; k++) {
            int type = sqlite3_column_type(st, k);
            json_t *v = type == SQLITE_NULL ? json_null()
                      : type == SQLITE_INTEGER
                      ? json_integer(sqlite3_column_int64(st, k))
                      : json_string((const char *)sqlite3_column_text(st,
                                                                      k));
            if (k == 5 && json_is_string(v)) {
                json_t *d = json_loads(json_string_value(v), 0, NULL);
                if (d) {
                    json_decref(v);
                    v = d;
                }
            }
            json_object_set_new(a, keys[k], v ? v : json_null());
        }
        json_array_append_new(arr, a);
        src = SQLITE_OK;
    }
    if (src != SQLITE_DONE) {
        rc = orri_mon_sqlfail(db, src, e, "reading alerts");
        json_decref(arr);
        arr = NULL;
    }
    sqlite3_finalize(st);
    orri_mon_db_close(db);
    *out = arr;
    return rc;
}
