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
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core.h"
#include "sched/cron.h"
#include "sched/store.h"
#include "sched/triggers.h"
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
        "Usage: orrery scheduler [--catch-up] [--once] [--wait]\n"
        "                        [--now TIME [--tick-ms MS]]\n"
        "\n"
        "Starts scheduled runs ('orrery schedule') when they are due, as"
        " child\n"
        "'orrery run' processes, and evaluates the feedback-loop triggers\n"
        "('orrery triggers'), every minute until interrupted.  At each"
        " check\n"
        "it reports, per schedule, the fire times missed since the last"
        " one\n"
        "recorded (the scheduler was not running).  One scheduler runs per"
        "\nsite: a second one exits (or, with --wait, waits its turn).\n"
        "\n"
        "Options:\n"
        "  --catch-up    start one run per schedule that missed fire times"
        "\n"
        "  --once        check once, wait for the runs started, exit\n"
        "  --wait        if another scheduler runs on this site, wait for"
        " it\n"
        "                to stop instead of exiting\n"
        "  --now TIME    pretend it is TIME (YYYY-MM-DDTHH:MM:SSZ); without"
        "\n"
        "                --once a simulated clock that advances one minute"
        "\n"
        "                per check (for tests and demos)\n"
        "  --tick-ms MS  with --now: wall time between checks (default"
        " 1000)\n"
        "\n"
        "SIGTERM or SIGINT: stop checking, wait for the runs started,"
        " exit.\n"
        "Exit status: 0 success, 1 failure (another scheduler holds the"
        " site,\nor a run started by --once failed), 2 bad usage.\n");
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
    pid_t   pid;
    int64_t trigger;        /* trigger id, or 0 for a schedule            */
    char    what[800];
};

struct sched_state {
    const struct orr_cli_globals *g;
    struct orr_core *core;
    char   exe[PATH_MAX];
    struct child *kids;
    size_t n_kids, cap_kids;
    int    failed;
};

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    stop_flag = sig;
}

/* Start `orrery [--site S] ARGS...` (an argv, no shell, so nothing in a
 * param is ever interpreted) and remember it as a child. */
static int spawn_child(struct sched_state *st, char **args, size_t n_args,
                       int64_t trigger, const char *what)
{
    char **argv = calloc(n_args + 4, sizeof *argv);
    size_t k = 0;
    int rc = ORR_EXIT_FAIL;
    if (!argv)
        return rc;
    argv[k++] = st->exe;
    if (st->g->site_path) {
        argv[k++] = "--site";
        argv[k++] = (char *)st->g->site_path;
    }
    for (size_t i = 0; i < n_args; i++)
        argv[k++] = args[i];
    if (st->n_kids == st->cap_kids) {
        size_t nc = st->cap_kids ? st->cap_kids * 2 : 8;
        struct child *nk = realloc(st->kids, nc * sizeof *nk);
        if (!nk)
            goto done;
        st->kids = nk;
        st->cap_kids = nc;
    }
    fflush(NULL);
    pid_t pid;
    int err = posix_spawn(&pid, st->exe, NULL, NULL, argv, environ);
    if (err) {
        fprintf(stderr, "orrery scheduler: %s: starting %s: %s\n", what,
                st->exe, strerror(err));
        st->failed = 1;
        goto done;
    }
    struct child *c = &st->kids[st->n_kids++];
    c->pid = pid;
    c->trigger = trigger;
    snprintf(c->what, sizeof c->what, "%s", what);
    printf("%s: started (pid %ld)\n", c->what, (long)pid);
    fflush(stdout);
    rc = ORR_EXIT_OK;
done:
    free(argv);
    return rc;
}

/* "--param k=v" pairs from a JSON object of strings, after `head`. */
static char **param_args(const char *const *head, size_t n_head,
                         const char *params_json, size_t *n)
{
    json_t *p = params_json ? json_loads(params_json, 0, NULL) : NULL;
    size_t np = json_is_object(p) ? json_object_size(p) : 0;
    char **args = calloc(n_head + 2 * np + 1, sizeof *args);
    *n = 0;
    if (!args)
        goto done;
    for (size_t i = 0; i < n_head; i++)
        if (!(args[(*n)++] = strdup(head[i])))
            goto fail;
    const char *key;
    json_t *val;
    json_object_foreach(p, key, val) {
        const char *sv = json_is_string(val) ? json_string_value(val) : "";
        size_t len = strlen(key) + strlen(sv) + 2;
        if (!(args[(*n)++] = strdup("--param")) ||
            !(args[*n] = malloc(len)))
            goto fail;
        snprintf(args[(*n)++], len, "%s=%s", key, sv);
    }
    goto done;
fail:
    for (size_t i = 0; i < *n; i++)
        free(args[i]);
    free(args);
    args = NULL;
    *n = 0;
done:
    json_decref(p);
    return args;
}

static void free_args(char **args, size_t n)
{
    for (size_t i = 0; args && i < n; i++)
        free(args[i]);
    free(args);
}

static int spawn_run(struct sched_state *st, const struct orri_schedule *sc,
                     const char *why, int64_t fire)
{
    const char *head[] = {"run", sc->workflow};
    size_t n = 0;
    char **args = param_args(head, 2, sc->params, &n);
    char fb[32], what[200];
    snprintf(what, sizeof what, "schedule '%s' %s run for %s", sc->name,
             why, orri_iso_format(fire, fb, sizeof fb));
    int rc = args ? spawn_child(st, args, n, 0, what) : ORR_EXIT_FAIL;
    free_args(args, n);
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

/* A run of the trigger in progress: a child of ours, or the process a
 * previous scheduler started (its pid is in the trigger's state). */
static int trigger_running(const struct sched_state *st,
                           const struct orri_trigger *t)
{
    for (size_t i = 0; i < st->n_kids; i++)
        if (st->kids[i].trigger == t->id)
            return 1;
    long pid = orri_trig_state_pid(t);
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void tick_triggers(struct sched_state *st, struct orri_sched *s,
                          int64_t now, int catch_up)
{
    struct orri_trigger *v = NULL;
    size_t n = 0;
    struct orr_error e = {0};
    if (orri_trig_list(s, &v, &n, &e)) {
        fprintf(stderr, "orrery scheduler: %s\n", e.msg);
        return;
    }
    for (size_t i = 0; i < n && !stop_flag; i++) {
        struct orri_trigger *t = &v[i];
        struct orri_trig_eval ev;
        if (orri_trig_evaluate(st->core, s, t, now, catch_up,
                               trigger_running(st, t), &ev, &e)) {
            fprintf(stderr, "orrery scheduler: trigger '%s': %s\n",
                    t->name, e.msg);
            continue;
        }
        if (ev.note[0])
            printf("trigger '%s' (%s): %s\n", t->name, t->kind, ev.note);
        /* Recorded before the run starts, and even if starting fails:
         * a restart must not fire again for the same thing. */
        if (ev.record && orri_trig_fired(s, t->id, ev.fire_ms,
                                         ev.state_patch, &e))
            fprintf(stderr, "orrery scheduler: trigger '%s': %s\n",
                    t->name, e.msg);
        else if (ev.fire) {
            const char *head[] = {"triggers", "run", t->name, "--reason",
                                  ev.reason};
            size_t na = 0;
            char **args = param_args(head, 5, ev.params, &na);
            char what[800];
            snprintf(what, sizeof what, "trigger '%s' run of %s (%s)",
                     t->name, strrchr(t->workflow, '/')
                                  ? strrchr(t->workflow, '/') + 1
                                  : t->workflow, ev.reason);
            if (args)
                spawn_child(st, args, na, t->id, what);
            free_args(args, na);
        }
        fflush(stdout);
        orri_trig_eval_clear(&ev);
    }
    orri_trigger_list_free(v, n);
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
        /* Recorded before starting, and even if starting fails: a broken
         * schedule must not be retried every minute with the same fire
         * time, and a scheduler killed right after starting the run must
         * not start it again. */
        if (orri_sched_set_last(s, sc->id, last, &e)) {
            fprintf(stderr, "orrery scheduler: %s\n", e.msg);
            continue;
        }
        if (due)
            spawn_run(st, sc, "scheduled", last);
        else if (missed > 0 && catch_up)
            spawn_run(st, sc, "catch-up", last);
    }
    orri_sched_list_free(v, n);
    tick_triggers(st, s, now, catch_up);
    return ORR_EXIT_OK;
}

/* One scheduler per site: an exclusive flock on the site's
 * scheduler.lock, held (and the file left in place) for the process's
 * life; the kernel drops it however the process ends.  The holder's pid
 * is written in the file for the message the next one prints. */
static int take_lock(const struct orr_site *site, int wait, int *fd_out)
{
    char path[PATH_MAX];
    if (mkdir(site->dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "orrery scheduler: cannot create %s: %s\n",
                site->dir, strerror(errno));
        return ORR_EXIT_FAIL;
    }
    snprintf(path, sizeof path, "%s/scheduler.lock", site->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "orrery scheduler: cannot open %s: %s\n", path,
                strerror(errno));
        return ORR_EXIT_FAIL;
    }
    while (flock(fd, LOCK_EX | LOCK_NB)) {
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            fprintf(stderr, "orrery scheduler: locking %s: %s\n", path,
                    strerror(errno));
            close(fd);
            return ORR_EXIT_FAIL;
        }
        char buf[32] = "";
        ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
        buf[got > 0 ? got : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (!wait) {
            fprintf(stderr, "orrery scheduler: another scheduler (pid %s) "
                    "is running on this site (it holds %s)\n"
                    "Two would start every due run twice: stop that one, "
                    "or pass --wait to take over when it stops.\n",
                    buf[0] ? buf : "?", path);
            close(fd);
            return ORR_EXIT_FAIL;
        }
        printf("waiting for the scheduler (pid %s) holding %s to stop\n",
               buf[0] ? buf : "?", path);
        fflush(stdout);
        while (flock(fd, LOCK_EX))
            if (errno != EINTR || stop_flag) {
                close(fd);
                return ORR_EXIT_FAIL;
            }
        break;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)len, 0) != len) {
        fprintf(stderr, "orrery scheduler: writing %s: %s\n", path,
                strerror(errno));
        close(fd);
        return ORR_EXIT_FAIL;
    }
    *fd_out = fd;
    return ORR_EXIT_OK;
}

/* Sleep about `ms`, reaping finished runs; returns early on a signal. */
static void pause_ms(struct sched_state *st, int64_t ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        reap(st, 0);
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        int64_t done = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 +
                       (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (stop_flag || done >= ms)
            return;
        int64_t step = ms - done < 200 ? ms - done : 200;
        struct timespec ts = {(time_t)(step / 1000),
                              (long)(step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int orr_cmd_scheduler(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *cmd = "scheduler";
    int once = 0, catch_up = 0, has_now = 0, wait = 0, rc;
    int64_t now = 0, tick_ms = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            scheduler_usage(stdout);
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--once")) {
            once = 1;
        } else if (!strcmp(argv[i], "--catch-up")) {
            catch_up = 1;
        } else if (!strcmp(argv[i], "--wait")) {
            wait = 1;
        } else if (!strcmp(argv[i], "--now") && i + 1 < argc) {
            if ((rc = parse_now(cmd, argv[++i], &now)))
                return rc;
            has_now = 1;
        } else if (!strcmp(argv[i], "--tick-ms") && i + 1 < argc) {
            char *end = NULL;
            long long v = strtoll(argv[++i], &end, 10);
            if (!end || *end || v < 1 || v > 3600000)
                return orr_cli_usage_error(cmd, "--tick-ms wants 1 to "
                                           "3600000, got '%s'", argv[i]);
            tick_ms = v;
        } else {
            return orr_cli_usage_error(cmd, "unexpected argument '%s'",
                                       argv[i]);
        }
    }
    if (tick_ms && once)
        return orr_cli_usage_error(cmd, "--tick-ms is for the loop, not "
                                   "--once");
    if (tick_ms && !has_now)
        return orr_cli_usage_error(cmd, "--tick-ms needs --now (a "
                                   "simulated clock)");
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
    struct orr_meta *m = NULL;
    int lock_fd = -1;
    struct orr_core_options copt = {.site_path = g->site_path};
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rc = orr_core_open(&st.core, &copt, &e);
    if (!rc)
        rc = orr_core_meta(st.core, &m, &e);
    if (!rc)
        rc = orri_sched_open(&s, orr_core_site(st.core)->db_path, &e);
    if (rc) {
        rc = orr_cli_fail(cmd, &e);
        goto done;
    }
    if ((rc = take_lock(orr_core_site(st.core), wait, &lock_fd)))
        goto done;
    if (once) {
        rc = tick(&st, s, has_now ? now : (int64_t)time(NULL), catch_up);
    } else {
        char nb[32];
        if (has_now)
            printf("scheduler started (pid %ld); simulated clock from %s, "
                   "one minute every %lld ms\n", (long)getpid(),
                   orri_iso_format(now, nb, sizeof nb),
                   (long long)(tick_ms ? tick_ms : 1000));
        else
            printf("scheduler started (pid %ld); checking every minute "
                   "(UTC)\n", (long)getpid());
        fflush(stdout);
        while (!stop_flag) {
            int64_t t = has_now ? now : (int64_t)time(NULL);
            if ((rc = tick(&st, s, t, catch_up)))
                break;
            if (has_now) {
                now += 60;
                pause_ms(&st, tick_ms ? tick_ms : 1000);
            } else {
                /* To the next minute. */
                int64_t wake = ((int64_t)time(NULL) / 60 + 1) * 60;
                pause_ms(&st, (wake - (int64_t)time(NULL)) * 1000);
            }
        }
        if (stop_flag) {
            printf("scheduler stopping (signal %d); waiting for %zu "
                   "run%s\n", (int)stop_flag, st.n_kids,
                   st.n_kids == 1 ? "" : "s");
            fflush(stdout);
        }
    }
    reap(&st, 1);
done:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (lock_fd >= 0)
        close(lock_fd);
    orri_sched_close(s);
    orr_core_close(st.core);
    free(st.kids);
    if (!rc && st.failed)
        rc = ORR_EXIT_FAIL;
    return rc;
}
