/*
 * cli/cmd_triggers.c - `orrery triggers apply|list|remove|run`: the
 * feedback-loop triggers of sched/triggers.h.
 *
 * `apply` reads a triggers file and upserts its triggers; `orrery
 * scheduler` evaluates them at every check and, when one fires, starts
 * `orrery triggers run NAME --reason ...` as a child process.  `run` runs
 * the trigger's workflow in the foreground and tags the run with the
 * trigger and the reason, so lineage shows why a retrain ran.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core.h"
#include "meta/datasets.h"
#include "runner/runner.h"
#include "sched/cron.h"
#include "sched/store.h"
#include "sched/triggers.h"
#include "util/error.h"

#define MAX_PARAMS 256

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: orrery triggers apply FILE.lua [--prune] [--json]\n"
        "       orrery triggers list [--json]\n"
        "       orrery triggers remove NAME\n"
        "       orrery triggers run NAME [--reason TEXT] [--param K=V ...]\n"
        "\n"
        "Feedback-loop triggers, declared in a Lua file:\n"
        "  orrery.on_drift(MODEL, WORKFLOW, { threshold = 0.5,\n"
        "                  window = \"10000\", dataset = NAME,"
        " cooldown = \"6h\",\n"
        "                  params = {...} })\n"
        "  orrery.on_schedule(\"0 3 * * *\", WORKFLOW, { params = {...} })\n"
        "  orrery.on_new_data(DATASET, WORKFLOW, { params = {...} })\n"
        "'orrery scheduler' evaluates them at every check and runs the\n"
        "workflow when one fires (tagged orrery.trigger, "
        "orrery.trigger.reason).\n"
        "\n"
        "  apply   store the file's triggers (by name: new ones added,\n"
        "          changed ones updated); --prune removes the others\n"
        "  list    the stored triggers, their last firing and run\n"
        "  remove  delete one trigger\n"
        "  run     run a trigger's workflow now, in the foreground\n"
        "\n"
        "Exit status: 0 success, 1 failure (run: the run failed), 2 bad"
        " usage.\n");
}

struct env {
    struct orr_core  *core;
    struct orr_meta  *meta;
    struct orri_sched *s;
};

static int env_open(const struct orr_cli_globals *g, struct env *v,
                    struct orr_error *e)
{
    struct orr_core_options copt = {.site_path = g->site_path};
    memset(v, 0, sizeof *v);
    int rc = orr_core_open(&v->core, &copt, e);
    if (!rc)
        rc = orr_core_meta(v->core, &v->meta, e);
    if (!rc)
        rc = orri_sched_open(&v->s, orr_core_site(v->core)->db_path, e);
    return rc;
}

static void env_close(struct env *v)
{
    orri_sched_close(v->s);
    orr_core_close(v->core);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *word(enum orri_trig_change how)
{
    return how == ORRI_TRIG_CREATED ? "created"
         : how == ORRI_TRIG_UPDATED ? "updated" : "unchanged";
}

static int cmd_apply(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *file = NULL;
    int prune = 0, json = 0, rc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--prune"))
            prune = 1;
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (argv[i][0] == '-' || file)
            return orr_cli_usage_error("triggers", "unexpected argument "
                                       "'%s'", argv[i]);
        else
            file = argv[i];
    }
    if (!file)
        return orr_cli_usage_error("triggers", "apply needs a triggers "
                                   "file (FILE.lua)");
    struct orri_trigger *v = NULL, *old = NULL;
    size_t n = 0, n_old = 0;
    struct orr_error e = {0};
    struct env en;
    json_t *out = json ? json_array() : NULL;
    if ((rc = orri_triggers_load(file, &v, &n, &e)))
        return orr_cli_fail("triggers", &e);
    if ((rc = env_open(g, &en, &e)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        /* New data means versions added from now on: the ones there
         * already were what the current model could be trained on. */
        if (!strcmp(v[i].kind, "new_data")) {
            int64_t ver = 0;
            char dg[ORR_DIGEST_HEX_LEN + 1];
            struct orr_error ne = {0};
            if (orr_meta_dataset_get(en.meta, v[i].target, &ver, dg, &ne))
                ver = 0;
            json_t *jst = json_pack("{s:I}", "version", (json_int_t)ver);
            char *st = jst ? json_dumps(jst, JSON_COMPACT) : NULL;
            json_decref(jst);
            free(v[i].state);
            v[i].state = st;
            if (!st) {
                rc = orr_fail(&e, ORR_ENOMEM, "out of memory");
                goto fail;
            }
        }
        enum orri_trig_change how;
        if ((rc = orri_trig_upsert(en.s, &v[i], now_ms(), &how, &e)))
            goto fail;
        if (json)
            json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, "
                "s:s}", "name", v[i].name, "kind", v[i].kind, "target",
                v[i].target, "workflow", v[i].workflow, "change",
                word(how)));
        else
            printf("trigger '%s' %s: on %s %s -> %s\n", v[i].name,
                   word(how), v[i].kind, v[i].target, v[i].workflow);
    }
    if (prune) {
        if ((rc = orri_trig_list(en.s, &old, &n_old, &e)))
            goto fail;
        for (size_t i = 0; i < n_old; i++) {
            int keep = 0;
            for (size_t j = 0; j < n && !keep; j++)
                keep = !strcmp(old[i].name, v[j].name);
            if (keep)
                continue;
            if ((rc = orri_trig_remove(en.s, old[i].name, &e)))
                goto fail;
            if (json)
                json_array_append_new(out, json_pack("{s:s, s:s}", "name",
                                      old[i].name, "change", "removed"));
            else
                printf("trigger '%s' removed\n", old[i].name);
        }
    }
    if (!json && !n)
        printf("%s declares no trigger\n", file);
fail:
    if (rc)
        rc = orr_cli_fail("triggers", &e);
    else if (json)
        rc = orr_cli_print_json(json_pack("{s:O}", "triggers", out));
    json_decref(out);
    orri_trigger_list_free(v, n);
    orri_trigger_list_free(old, n_old);
    env_close(&en);
    return rc;
}

static json_t *trigger_json(const struct orri_trigger *t)
{
    char fb[32];
    json_t *o = json_loads(t->options, 0, NULL);
    json_t *s = json_loads(t->state, 0, NULL);
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:s?, s:s?}",
        "id", (json_int_t)t->id, "name", t->name, "kind", t->kind,
        "target", t->target, "workflow", t->workflow,
        "options", o ? o : json_object(), "state", s ? s : json_object(),
        "last_fire", t->last_fire_ms
            ? orri_iso_format(t->last_fire_ms / 1000, fb, sizeof fb) : NULL,
        "last_run", t->last_run[0] ? t->last_run : NULL);
}

static int cmd_list(int argc, char **argv, const struct orr_cli_globals *g)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else
            return orr_cli_usage_error("triggers", "unexpected argument "
                                       "'%s'", argv[i]);
    }
    struct env en;
    struct orr_error e = {0};
    struct orri_trigger *v = NULL;
    size_t n = 0;
    int rc = env_open(g, &en, &e);
    if (!rc)
        rc = orri_trig_list(en.s, &v, &n, &e);
    env_close(&en);
    if (rc)
        return orr_cli_fail("triggers", &e);
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, trigger_json(&v[i]));
        orri_trigger_list_free(v, n);
        return orr_cli_print_json(json_pack("{s:o}", "triggers", arr));
    }
    if (!n)
        printf("(no triggers)\n");
    else
        printf("%-24s %-9s %-24s %-21s %-10s %s\n", "NAME", "KIND",
               "TARGET", "LAST FIRE (UTC)", "LAST RUN", "WORKFLOW");
    for (size_t i = 0; i < n; i++) {
        char fb[32];
        printf("%-24s %-9s %-24s %-21s %-10.8s %s\n", v[i].name, v[i].kind,
               v[i].target, v[i].last_fire_ms
                   ? orri_iso_format(v[i].last_fire_ms / 1000, fb, sizeof fb)
                   : "-",
               v[i].last_run[0] ? v[i].last_run : "-", v[i].workflow);
    }
    orri_trigger_list_free(v, n);
    return ORR_EXIT_OK;
}

/* ---- triggers run ---- */

static volatile int cancel_flag;

static void on_signal(int sig)
{
    cancel_flag = sig;
}

struct run_ctx {
    struct orr_core           *core;
    struct orri_sched         *s;       /* opened after the pool's fork  */
    const struct orri_trigger *t;
    const char                *reason;
    int                        tagged;
};

/* Tag the run and record it on the trigger as soon as it has an id, so a
 * scheduler that looks meanwhile sees it in progress.  Called in the
 * runner's process, after the local orchestrator forked its workers:
 * connections opened here are never shared with them. */
static void on_progress(void *ud, enum orr_run_event ev,
                        const struct orr_run_report *rep, size_t step,
                        const char *log_path)
{
    struct run_ctx *rc = ud;
    struct orr_error e = {0};
    if (ev == ORR_EV_STARTED && !rc->tagged) {
        struct orr_meta *m = NULL;
        rc->tagged = 1;
        if (orr_core_meta(rc->core, &m, &e) ||
            orr_meta_set_tag(m, rep->run_id, "orrery.trigger",
                             rc->t->name, &e) ||
            orr_meta_set_tag(m, rep->run_id, "orrery.trigger.kind",
                             rc->t->kind, &e) ||
            orr_meta_set_tag(m, rep->run_id, "orrery.trigger.reason",
                             rc->reason, &e) ||
            orri_sched_open(&rc->s, orr_core_site(rc->core)->db_path, &e) ||
            orri_trig_run_started(rc->s, rc->t->id, rep->run_id,
                                  (long)getpid(), &e))
            fprintf(stderr, "orrery triggers: %s\n", e.msg);
        printf("trigger '%s': run %s started (%s)\n", rc->t->name,
               rep->run_id, rc->reason);
        fflush(stdout);
    } else if (ev == ORR_EV_STEP_DONE && step < rep->n_steps) {
        const struct orr_step_report *s = &rep->steps[step];
        /* The step's output, then its outcome: what `orrery run` shows
         * in a pipe. */
        FILE *f = log_path ? fopen(log_path, "r") : NULL;
        char buf[4096];
        size_t got;
        while (f && (got = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, got, stdout);
        if (f)
            fclose(f);
        printf("step %s %s%s\n", s->name, orr_step_status_name(s->status),
               s->cached ? " (cached)" : "");
        if (s->error)
            printf("  %s\n", s->error);
        fflush(stdout);
    }
}

/* "key=value" params: the trigger's, except those given again in
 * `extra`, then `extra`. */
static char **merge_params(const struct orri_trigger *t, const char **extra,
                           size_t n_extra, size_t *n)
{
    json_t *opt = json_loads(t->options, 0, NULL);
    json_t *params = json_object_get(opt, "params");
    char **kv = calloc(json_object_size(params) + n_extra + 1, sizeof *kv);
    const char *key;
    json_t *val;
    *n = 0;
    json_object_foreach(params, key, val) {
        int again = 0;
        size_t kl = strlen(key);
        for (size_t i = 0; i < n_extra && !again; i++)
            again = !strncmp(extra[i], key, kl) && extra[i][kl] == '=';
        if (again || !kv)
            continue;
        const char *sv = json_is_string(val) ? json_string_value(val) : "";
        size_t len = kl + strlen(sv) + 2;
        if (!(kv[*n] = malloc(len)))
            goto fail;
        snprintf(kv[(*n)++], len, "%s=%s", key, sv);
    }
    for (size_t i = 0; kv && i < n_extra; i++)
        if (!(kv[(*n)++] = strdup(extra[i])))
            goto fail;
    json_decref(opt);
    return kv;
fail:
    for (size_t i = 0; kv && i < *n; i++)
        free(kv[i]);
    free(kv);
    json_decref(opt);
    *n = 0;
    return NULL;
}

static int cmd_run(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *name = NULL, *reason = "run by hand";
    const char *extra[MAX_PARAMS];
    size_t n_extra = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--reason") && i + 1 < argc) {
            reason = argv[++i];
        } else if (!strcmp(a, "--param") && i + 1 < argc) {
            const char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq || eq == kv)
                return orr_cli_usage_error("triggers", "--param wants "
                                           "KEY=VALUE, got '%s'", kv);
            if (n_extra == MAX_PARAMS)
                return orr_cli_usage_error("triggers", "too many --param");
            extra[n_extra++] = kv;
        } else if (a[0] == '-' || name) {
            return orr_cli_usage_error("triggers", "unexpected argument "
                                       "'%s'", a);
        } else {
            name = a;
        }
    }
    if (!name)
        return orr_cli_usage_error("triggers", "run needs a trigger NAME");
    struct orr_core_options copt = {.site_path = g->site_path};
    struct orr_core *core = NULL;
    struct orri_sched *s = NULL;
    struct orr_error e = {0};
    struct orri_trigger *t = NULL;
    struct orr_run_report *rep = NULL;
    struct run_ctx ctx = {0};
    char **kv = NULL;
    size_t n_kv = 0;
    int code = ORR_EXIT_FAIL;
    /* The trigger is read through a connection closed again before the
     * run: the local orchestrator forks its workers with none open. */
    int rc = orr_core_open(&core, &copt, &e);
    if (!rc)
        rc = orri_sched_open(&s, orr_core_site(core)->db_path, &e);
    if (!rc)
        rc = orri_trig_get(s, name, &t, &e);
    orri_sched_close(s);
    if (rc) {
        orr_cli_fail("triggers", &e);
        goto done;
    }
    if (!(kv = merge_params(t, extra, n_extra, &n_kv))) {
        fprintf(stderr, "orrery triggers: out of memory\n");
        goto done;
    }
    ctx = (struct run_ctx){.core = core, .t = t, .reason = reason};
    struct orr_run_options ro = {
        .script_path = t->workflow, .params = (const char *const *)kv,
        .n_params = n_kv, .cancel = &cancel_flag, .progress = on_progress,
        .progress_ud = &ctx,
    };
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rc = orr_workflow_run(core, &ro, &rep, &e);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    struct orr_error ee = {0};
    if (ctx.s && orri_trig_run_ended(ctx.s, t->id, (long)getpid(), &ee))
        fprintf(stderr, "orrery triggers: %s\n", ee.msg);
    if (rep)
        printf("trigger '%s': run %s %s\n", t->name, rep->run_id,
               rc ? "failed" : "succeeded");
    if (rc)
        orr_cli_fail("triggers", &e);
    code = rc ? ORR_EXIT_FAIL : ORR_EXIT_OK;
done:
    for (size_t i = 0; kv && i < n_kv; i++)
        free(kv[i]);
    free(kv);
    orr_run_report_free(rep);
    orri_trigger_list_free(t, t ? 1 : 0);
    orri_sched_close(ctx.s);
    orr_core_close(core);
    if (cancel_flag) {
        fflush(NULL);
        signal(cancel_flag, SIG_DFL);
        raise(cancel_flag);
    }
    return code;
}

int orr_cmd_triggers(int argc, char **argv, const struct orr_cli_globals *g)
{
    if (argc < 2)
        return orr_cli_usage_error("triggers", "missing subcommand (apply, "
                                   "list, remove, run)");
    for (int i = 1; i < argc; i++)
        if (orr_cli_is_help(argv[i])) {
            usage(stdout);
            return ORR_EXIT_OK;
        }
    if (!strcmp(argv[1], "apply"))
        return cmd_apply(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "remove")) {
        if (argc != 3)
            return orr_cli_usage_error("triggers", "remove needs one NAME");
        struct env en;
        struct orr_error e = {0};
        int rc = env_open(g, &en, &e);
        if (!rc)
            rc = orri_trig_remove(en.s, argv[2], &e);
        env_close(&en);
        if (rc)
            return orr_cli_fail("triggers", &e);
        printf("trigger '%s' removed\n", argv[2]);
        return ORR_EXIT_OK;
    }
    return orr_cli_usage_error("triggers", "unknown subcommand '%s'",
                               argv[1]);
}
