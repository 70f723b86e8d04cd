/*
 * cli/cmd_schedule.c - `orrery schedule add|list|remove` (cron schedules
 * of workflows) and `orrery scheduler`, which starts the due runs as
 * child `orrery run` processes.
 *
 * Cron fields are evaluated in UTC (sched/cron.h).  A schedule's window
 * of fire times runs from its last recorded fire (or its creation) to
 * now: a fire time in the current minute is due and starts a run; any
 * earlier ones were missed while no scheduler ran and are reported, and
 * --catch-up starts ONE run for them (none if a run is due anyway).
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core.h"
#include "sched/cron.h"
#include "sched/store.h"
#include "util/error.h"

extern char **environ;

/* Counting missed fire times stops here ("at least N"). */
#define MISSED_CAP 1000000

static void schedule_usage(FILE *f)
{
    fprintf(f,
        "Usage: orrery schedule add WORKFLOW.lua --cron \"M H DOM MON DOW\"\n"
        "                           [--param KEY=VALUE ...] [--name NAME]"
        " [--json]\n"
        "       orrery schedule list [--json]\n"
        "       orrery schedule remove ID|NAME\n"
        "\n"
        "Schedules a workflow with a five-field cron expression, evaluated"
        " in UTC:\n"
        "minute hour day-of-month month day-of-week; each field takes *,"
        " N,\n"
        "N-M, lists (1,15) and steps (*/5, 1-30/2); months JAN-DEC and"
        " days\n"
        "SUN-SAT by name.  When both day fields are restricted, either may"
        "\nmatch.  'orrery scheduler' starts the runs.\n"
        "\n"
        "Options:\n"
        "  --name NAME        schedule name (default: the file's base name)"
        "\n"
        "  --param KEY=VALUE  param passed to every run (repeatable)\n"
        "  --now TIME         pretend it is TIME (YYYY-MM-DDTHH:MM:SSZ)\n"
        "  --json             print the result as JSON\n"
        "\n"
        "Exit status: 0 success, 1 failure, 2 bad usage (incl. a bad cron"
        " expression).\n");
}

static void scheduler_usage(FILE *f)
{
    fprintf(f,
        "Usage: orrery scheduler [--catch-up] [--once] [--now TIME]\n"
        "\n"
        "Starts scheduled runs ('orrery schedule') when they are due, as"
        " child\n"
        "'orrery run' processes, every minute until interrupted.  At each"
        " check\n"
        "it reports, per schedule, the fire times missed since the last"
        " one\n"
        "recorded (the scheduler was not running).\n"
        "\n"
        "Options:\n"
        "  --catch-up  start one run per schedule that missed fire times\n"
        "  --once      check once, wait for the runs started, exit\n"
        "  --now TIME  with --once: pretend it is TIME"
        " (YYYY-MM-DDTHH:MM:SSZ)\n"
        "\n"
        "Exit status: 0 success, 1 failure (or a run started by --once"
        " failed),\n"
        "2 bad usage.\n");
}

static int open_store(const struct orr_cli_globals *g,
                      struct orri_sched **s, struct orr_error *e)
{
    struct orr_core *core = NULL;
    struct orr_meta *m = NULL;
    struct orr_core_options copt = {.site_path = g->site_path};
    int rc = orr_core_open(&core, &copt, e);
    if (!rc)
        rc = orr_core_meta(core, &m, e);    /* creates the database */
    if (!rc)
        rc = orri_sched_open(s, orr_core_site(core)->db_path, e);
    orr_core_close(core);
    return rc;
}

static int parse_now(const char *cmd, const char *arg, int64_t *now)
{
    struct orr_error e = {0};
    if (orri_iso_parse(arg, now, &e))
        return orr_cli_usage_error(cmd, "--now: %s", e.msg);
    return ORR_EXIT_OK;
}

static int cron_error(const char *cron, int col, const struct orr_error *e)
{
    fprintf(stderr, "orrery schedule: %s\n  %s\n  %*s^\n"
            "Fields: minute hour day-of-month month day-of-week, e.g. "
            "\"0 3 * * *\".\n", e->msg, cron, col > 0 ? col - 1 : 0, "");
    return ORR_EXIT_USAGE;
}

/* The file's base name without ".lua". */
static char *default_name(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 4 && !strcmp(b + n - 4, ".lua"))
        n -= 4;
    return strndup(b, n);
}

static int cmd_add(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *cmd = "schedule", *wf = NULL, *cron = NULL, *name = NULL;
    int json = 0, rc = ORR_EXIT_USAGE;
    int64_t now = (int64_t)time(NULL), id = 0;
    json_t *params = json_object();
    char *path = NULL, *dname = NULL;
    struct orri_sched *s = NULL;
    struct orr_error e = {0};
    if (!params)
        return ORR_EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--cron") && has) {
            cron = argv[++i];
        } else if (!strcmp(a, "--name") && has) {
            name = argv[++i];
        } else if (!strcmp(a, "--param") && has) {
            const char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                orr_cli_usage_error(cmd, "--param wants KEY=VALUE, got "
                                    "'%s'", kv);
                goto fail;
            }
            char *key = strndup(kv, (size_t)(eq - kv));
            int bad = !key || json_object_set_new(params, key,
                                                  json_string(eq + 1));
            free(key);
            if (bad) {
                orr_cli_usage_error(cmd, "--param '%s': not UTF-8 text",
                                    kv);
                goto fail;
            }
        } else if (!strcmp(a, "--now") && has) {
            if ((rc = parse_now(cmd, argv[++i], &now)))
                goto fail;
            rc = ORR_EXIT_USAGE;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-' || wf) {
            orr_cli_usage_error(cmd, "unexpected argument '%s'", a);
            goto fail;
        } else {
            wf = a;
        }
    }
    if (!wf || !cron) {
        orr_cli_usage_error(cmd, "add needs WORKFLOW.lua and --cron EXPR");
        goto fail;
    }
    struct orri_cron c;
    int col = 0;
    if (orri_cron_parse(&c, cron, &col, &e)) {
        rc = cron_error(cron, col, &e);
        goto fail;
    }
    path = realpath(wf, NULL);
    if (!path) {
        fprintf(stderr, "orrery schedule: workflow file '%s': %s\n", wf,
                strerror(errno));
        rc = ORR_EXIT_FAIL;
        goto fail;
    }
    if (!name)
        name = dname = default_name(path);
    char *pj = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    struct orri_schedule sc = {.name = (char *)name, .workflow = path,
                               .cron = (char *)cron, .params = pj,
                               .created_s = now};
    rc = !name || !pj ? orr_fail(&e, ORR_ENOMEM, "out of memory")
                      : open_store(g, &s, &e);
    if (!rc)
        rc = orri_sched_add(s, &sc, &id, &e);
    free(pj);
    if (rc) {
        rc = orr_cli_fail(cmd, &e);
        if (e.code == ORR_EEXIST)
            fprintf(stderr, "Pick another with --name, or remove it "
                    "first.\n");
        goto fail;
    }
    int64_t next = 0;
    char nb[32];
    int has_next = !orri_cron_next(&c, now, &next);
    if (json) {
        rc = orr_cli_print_json(json_pack("{s:I, s:s, s:s, s:s, s:O, s:s?}",
            "id", (json_int_t)id, "name", name, "workflow", path,
            "cron", cron, "params", params,
            "next_fire", has_next ? orri_iso_format(next, nb, sizeof nb)
                                  : NULL));
    } else {
        printf("schedule %lld '%s' added: %s, next run %s (UTC)\n",
               (long long)id, name, cron,
               has_next ? orri_iso_format(next, nb, sizeof nb) : "never");
        rc = ORR_EXIT_OK;
    }
fail:
    orri_sched_close(s);
    json_decref(params);
    free(path);
    free(dname);
    return rc;
}

static int cmd_list(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *cmd = "schedule";
    int json = 0, rc;
    int64_t now = (int64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--now") && i + 1 < argc) {
            if ((rc = parse_now(cmd, argv[++i], &now)))
                return rc;
        } else
            return orr_cli_usage_error(cmd, "unexpected argument '%s'",
                                       argv[i]);
    }
    struct orri_sched *s = NULL;
    struct orri_schedule *v = NULL;
    size_t n = 0;
    struct orr_error e = {0};
    rc = open_store(g, &s, &e);
    if (!rc)
        rc = orri_sched_list(s, &v, &n, &e);
    orri_sched_close(s);
    if (rc)
        return orr_cli_fail(cmd, &e);
    json_t *arr = json ? json_array() : NULL;
    if (!json && !n)
        printf("(no schedules)\n");
    else if (!json)
        printf("%-4s %-16s %-16s %-21s %-21s %s\n", "ID", "NAME", "CRON",
               "NEXT (UTC)", "LAST FIRE (UTC)", "WORKFLOW PARAMS");
    for (size_t i = 0; i < n; i++) {
        struct orri_cron c;
        int64_t next = 0;
        char nb[32], lb[32];
        int ok = !orri_cron_parse(&c, v[i].cron, NULL, &e) &&
                 !orri_cron_next(&c, now, &next);
        const char *ns = ok ? orri_iso_format(next, nb, sizeof nb) : NULL;
        const char *ls = v[i].last_fire_s
                       ? orri_iso_format(v[i].last_fire_s, lb, sizeof lb)
                       : NULL;
        if (json) {
            json_t *p = json_loads(v[i].params, 0, NULL);
            json_array_append_new(arr, json_pack(
                "{s:I, s:s, s:s, s:s, s:o, s:s?, s:s?}",
                "id", (json_int_t)v[i].id, "name", v[i].name,
                "workflow", v[i].workflow, "cron", v[i].cron,
                "params", p ? p : json_object(), "next_fire", ns,
                "last_fire", ls));
        } else {
            printf("%-4lld %-16s %-16s %-21s %-21s %s %s\n",
                   (long long)v[i].id, v[i].name, v[i].cron,
                   ns ? ns : "never", ls ? ls : "-", v[i].workflow,
                   v[i].params);
        }
    }
    orri_sched_list_free(v, n);
    if (json)
        return orr_cli_print_json(json_pack("{s:o}", "schedules", arr));
    return ORR_EXIT_OK;
}

int orr_cmd_schedule(int argc, char **argv, const struct orr_cli_globals *g)
{
    if (argc < 2)
        return orr_cli_usage_error("schedule", "missing subcommand "
                                   "(add, list, remove)");
    for (int i = 1; i < argc; i++)
        if (orr_cli_is_help(argv[i])) {
            schedule_usage(stdout);
            return ORR_EXIT_OK;
        }
    if (!strcmp(argv[1], "add"))
        return cmd_add(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "remove")) {
        if (argc != 3)
            return orr_cli_usage_error("schedule", "remove needs one ID "
                                       "or NAME");
        struct orri_sched *s = NULL;
        struct orr_error e = {0};
        int rc = open_store(g, &s, &e);
        if (!rc)
            rc = orri_sched_remove(s, argv[2], &e);
        orri_sched_close(s);
        if (rc)
            return orr_cli_fail("schedule", &e);
        printf("schedule '%s' removed\n", argv[2]);
        return ORR_EXIT_OK;
    }
    return orr_cli_usage_error("schedule", "unknown subcommand '%s'",
                               argv[1]);
}

/* ---- the scheduler ---- */

struct child {
    pid_t pid;
    char  what[160];
};

struct sched_state {
    const struct orr_cli_globals *g;
    char   exe[PATH_MAX];
    struct child *kids;
    size_t n_kids, cap_kids;
    int    failed;
};

/* Start `orrery [--site S] run WORKFLOW --param k=v ...`: an argv, no
 * shell, so nothing in a param is ever interpreted. */
static int spawn_run(struct sched_state *st, const struct orri_schedule *sc,
                     const char *why, int64_t fire)
{
    json_t *p = json_loads(sc->params, 0, NULL);
    size_t np = p ? json_object_size(p) : 0, k = 0;
    char **argv = calloc(6 + 2 * np, sizeof *argv);
    char **kv = calloc(np + 1, sizeof *kv);
    int rc = ORR_EXIT_FAIL;
    if (!argv || !kv)
        goto done;
    argv[k++] = st->exe;
    if (st->g->site_path) {
        argv[k++] = "--site";
        argv[k++] = (char *)st->g->site_path;
    }
    argv[k++] = "run";
    argv[k++] = sc->workflow;
    const char *key;
    json_t *val;
    size_t j = 0;
    json_object_foreach(p, key, val) {
        const char *sv = json_is_string(val) ? json_string_value(val) : "";
        size_t len = strlen(key) + strlen(sv) + 2;
        if (!(kv[j] = malloc(len)))
            goto done;
        snprintf(kv[j], len, "%s=%s", key, sv);
        argv[k++] = "--param";
        argv[k++] = kv[j++];
    }
    if (st->n_kids == st->cap_kids) {
        size_t nc = st->cap_kids ? st->cap_kids * 2 : 8;
        struct child *nk = realloc(st->kids, nc * sizeof *nk);
        if (!nk)
            goto done;
        st->kids = nk;
        st->cap_kids = nc;
    }
    char fb[32];
    fflush(NULL);
    pid_t pid;
    int err = posix_spawn(&pid, st->exe, NULL, NULL, argv, environ);
    if (err) {
        fprintf(stderr, "orrery scheduler: schedule '%s': starting %s: "
                "%s\n", sc->name, st->exe, strerror(err));
        st->failed = 1;
        goto done;
    }
    struct child *c = &st->kids[st->n_kids++];
    c->pid = pid;
    snprintf(c->what, sizeof c->what, "schedule '%s' %s run for %s",
             sc->name, why, orri_iso_format(fire, fb, sizeof fb));
    printf("%s: started (pid %ld)\n", c->what, (long)pid);
    fflush(stdout);
    rc = ORR_EXIT_OK;
done:
    for (size_t i = 0; kv && i < np; i++)
        free(kv[i]);
    free(kv);
    free(argv);
    json_decref(p);
    return rc;
}

/* Reap the children that ended (all of them, waiting, if `block`). */
static void reap(struct sched_state *st, int block)
{
    for (size_t i = 0; i < st->n_kids;) {
        int status = 0;
        pid_t r = waitpid(st->kids[i].pid, &status, block ? 0 : WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            i++;
            continue;
        }
        if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
            st->failed = 1;
            printf("%s: failed (%s %d)\n", st->kids[i].what,
                   r >= 0 && WIFSIGNALED(status) ? "signal" : "exit status",
                   r < 0 ? -1 : WIFSIGNALED(status) ? WTERMSIG(status)
                                                    : WEXITSTATUS(status));
        } else {
            printf("%s: succeeded\n", st->kids[i].what);
        }
        fflush(stdout);
        st->kids[i] = st->kids[--st->n_kids];
    }
}

/* One check at `now`. */
static int tick(struct sched_state *st, struct orri_sched *s, int64_t now,
                int catch_up)
{
    struct orri_schedule *v = NULL;
    size_t n = 0;
    struct orr_error e = {0};
    if (orri_sched_list(s, &v, &n, &e))
        return orr_cli_fail("scheduler", &e);
    for (size_t i = 0; i < n; i++) {
        struct orri_schedule *sc = &v[i];
        struct orri_cron c;
        if (orri_cron_parse(&c, sc->cron, NULL, &e)) {
            fprintf(stderr, "orrery scheduler: schedule '%s': %s\n",
                    sc->name, e.msg);
            continue;
        }
        /* Never fired: the window opens when the schedule was made. */
        int64_t base = sc->last_fire_s;
        if (!base)
            base = (sc->created_s < now ? sc->created_s : now) - 1;
        int64_t count = 0, last = 0;
        orri_cron_window(&c, base, now, MISSED_CAP + 1, &count, &last);
        if (!count)
            continue;
        int due = now - last < 60;
        int64_t missed = count - due;
        int many = count > MISSED_CAP;
        if (many)
            missed = MISSED_CAP;
        char bb[32];
        if (missed > 0) {
            printf("schedule '%s' (id %lld): missed %s%lld run%s since %s"
                   "%s%s\n", sc->name, (long long)sc->id,
                   many ? "at least " : "",
                   (long long)missed, missed == 1 ? "" : "s",
                   sc->last_fire_s ? "its last fire at " : "its creation at ",
                   orri_iso_format(sc->last_fire_s ? sc->last_fire_s
                                                   : sc->created_s,
                                   bb, sizeof bb),
                   due ? "; a run is due now"
                       : catch_up ? "; starting one catch-up run"
                                  : " (--catch-up starts one run)");
            fflush(stdout);
        }
        if (due)
            spawn_run(st, sc, "scheduled", last);
        else if (missed > 0 && catch_up)
            spawn_run(st, sc, "catch-up", last);
        /* Recorded even if starting failed: a broken schedule must not
         * be retried every minute with the same fire time. */
        if (orri_sched_set_last(s, sc->id, last, &e))
            fprintf(stderr, "orrery scheduler: %s\n", e.msg);
    }
    orri_sched_list_free(v, n);
    return ORR_EXIT_OK;
}

int orr_cmd_scheduler(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *cmd = "scheduler";
    int once = 0, catch_up = 0, has_now = 0, rc;
    int64_t now = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            scheduler_usage(stdout);
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--once")) {
            once = 1;
        } else if (!strcmp(argv[i], "--catch-up")) {
            catch_up = 1;
        } else if (!strcmp(argv[i], "--now") && i + 1 < argc) {
            if ((rc = parse_now(cmd, argv[++i], &now)))
                return rc;
            has_now = 1;
        } else {
            return orr_cli_usage_error(cmd, "unexpected argument '%s'",
                                       argv[i]);
        }
    }
    if (has_now && !once)
        return orr_cli_usage_error(cmd, "--now needs --once");
    struct sched_state st = {.g = g};
    ssize_t len = readlink("/proc/self/exe", st.exe, sizeof st.exe - 1);
    if (len <= 0) {
        fprintf(stderr, "orrery scheduler: cannot find the orrery "
                "executable: %s\n", strerror(errno));
        return ORR_EXIT_FAIL;
    }
    st.exe[len] = '\0';
    struct orri_sched *s = NULL;
    struct orr_error e = {0};
    if (open_store(g, &s, &e))
        return orr_cli_fail(cmd, &e);
    if (once) {
        rc = tick(&st, s, has_now ? now : (int64_t)time(NULL), catch_up);
        reap(&st, 1);
    } else {
        printf("scheduler started; checking every minute (UTC)\n");
        fflush(stdout);
        for (;;) {
            rc = tick(&st, s, (int64_t)time(NULL), catch_up);
            if (rc)
                break;
            /* Sleep to the next minute, reaping finished runs. */
            time_t wake = (time(NULL) / 60 + 1) * 60;
            while (time(NULL) < wake) {
                reap(&st, 0);
                struct timespec ts = {0, 500 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        reap(&st, 1);
    }
    orri_sched_close(s);
    free(st.kids);
    if (!rc && st.failed)
        rc = ORR_EXIT_FAIL;
    return rc;
}
