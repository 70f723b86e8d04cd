/*
 * plugins/orchestrator-slurm/slurm.c - workflow steps as Slurm batch jobs.
 *
 * Each job is an `sbatch` submission of a generated /bin/sh script that
 * `exec`s the job's argv (`orrery step RUN STEP`); resources, partition,
 * account, QoS, dependencies (afterok) and arrays become sbatch options.
 * State comes from `squeue` (one call for every unfinished job), the
 * exit code from `scontrol show job`, and, once a job has left the
 * controller's memory (MinJobAge), from the job-completion log
 * (jobcomp/filetxt) or `sacct` when the site has accounting.
 *
 * Why programs and not libslurm: the client commands are Slurm's stable
 * interface across versions, need no build dependency, and their error
 * text is what an administrator recognises.  They run through
 * posix_spawnp with an argv (never a shell), with a time limit, their
 * stdout and stderr captured.  The only shell is the batch script, and
 * every word in it is single-quoted, so step names, paths and
 * environment values cannot inject commands.
 *
 * Jobs that use `invoke` cannot run here (there is no shared process):
 * this backend always runs the argv.
 *
 * Site keys (orchestrator = { backend = "slurm", ... }): partition,
 * account, qos, capacity (64), site, orrery, sbatch, squeue, scontrol,
 * scancel, sacct, accounting (false), jobcomp, log_dir, command_timeout
 * (30 s), poll_interval (100 ms), controller_timeout (60 s).  See
 * docs/slurm.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <orrery/orrery.h>

extern char **environ;

static const struct orr_host *H;

/* Largest output of a Slurm command we keep (a jobcomp file is read
 * directly, not through this). */
#define CMD_OUT_MAX ((size_t)4 << 20)
/* Largest job-completion log we scan. */
#define JOBCOMP_MAX ((size_t)256 << 20)
#define ARGS_MAX 32

struct sjob {
    char                  id[ORR_JOB_ID_SIZE];
    int                   final;      /* st holds the final state         */
    int                   reported;   /* returned by wait_any already     */
    struct orr_job_status st;
};

struct slurm {
    char        *sbatch, *squeue, *scontrol, *scancel, *sacct;
    char        *partition, *account, *qos, *jobcomp, *orrery, *site;
    char        *log_dir;
    int          accounting;
    unsigned     capacity;
    int          cmd_timeout_ms, poll_ms, down_ms;
    struct sjob *jobs;
    size_t       n, cap;
    double       last_refresh;        /* monotonic ms                     */
    double       down_since;          /* first failing query in a row     */
};

/* What a command left behind. */
struct cmd {
    char  *out, *err;
    size_t n_out, n_err;
    int    code;                      /* exit status, 128+sig if killed   */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *dup_str(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = H->alloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static void cmd_free(struct cmd *c)
{
    H->free(c->out);
    H->free(c->err);
    memset(c, 0, sizeof *c);
}

static int append(char **buf, size_t *n, const char *data, size_t len)
{
    if (*n + len > CMD_OUT_MAX)
        len = CMD_OUT_MAX - *n;
    char *p = H->realloc(*buf, *n + len + 1);
    if (!p)
        return -1;
    memcpy(p + *n, data, len);
    *n += len;
    p[*n] = '\0';
    *buf = p;
    return 0;
}

/* The first lines of a command's stderr (or stdout), on one line. */
static void cmd_message(const struct cmd *c, char *out, size_t cap)
{
    const char *src = c->n_err ? c->err : c->n_out ? c->out : "";
    size_t k = 0;
    int sep = 0;
    for (const char *p = src; *p && k + 3 < cap; p++) {
        if (*p == '\n' || *p == '\r') {
            sep = k > 0;
            continue;
        }
        if (sep) {
            out[k++] = ';';
            out[k++] = ' ';
            sep = 0;
        }
        out[k++] = (char)((unsigned char)*p < 0x20 ? ' ' : *p);
    }
    out[k] = '\0';
    if (!k)
        snprintf(out, cap, "exit status %d", c->code);
}

/* Run argv (argv[0] looked up in PATH), stdin from /dev/null, stdout and
 * stderr captured; killed after the site's command_timeout. */
static int run_cmd(struct slurm *s, const char *const *argv, struct cmd *c,
                   struct orr_error *e)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    int fa_ok = 0, rc = ORR_OK;
    pid_t pid = -1;
    memset(c, 0, sizeof *c);
    if (pipe(po) || pipe(pe) || fcntl(po[0], F_SETFD, FD_CLOEXEC) ||
        fcntl(po[1], F_SETFD, FD_CLOEXEC) ||
        fcntl(pe[0], F_SETFD, FD_CLOEXEC) ||
        fcntl(pe[1], F_SETFD, FD_CLOEXEC)) {
        rc = H->fail(e, ORR_EIO, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (posix_spawn_file_actions_init(&fa)) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    fa_ok = 1;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
                           environ);
    if (err) {
        pid = -1;
        rc = H->fail(e, ORR_ENOTFOUND, "slurm: cannot run %s: %s (is "
                     "Slurm's client installed? set orchestrator.%s)",
                     argv[0], strerror(err), strrchr(argv[0], '/')
                     ? strrchr(argv[0], '/') + 1 : argv[0]);
        goto fail;
    }
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    double deadline = now_ms() + s->cmd_timeout_ms;
    struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds) {
        int left = (int)(deadline - now_ms());
        if (left <= 0) {
            kill(pid, SIGKILL);
            rc = H->fail(e, ORR_ETIMEDOUT, "slurm: %s did not finish in "
                         "%d s (controller overloaded or down?)", argv[0],
                         s->cmd_timeout_ms / 1000);
            break;
        }
        if (poll(pf, 2, left) < 0) {
            if (errno == EINTR)
                continue;
            kill(pid, SIGKILL);
            rc = H->fail(e, ORR_EIO, "poll: %s", strerror(errno));
            break;
        }
        for (int k = 0; k < 2; k++) {
            if (pf[k].fd < 0 || !pf[k].revents)
                continue;
            char buf[4096];
            ssize_t got = read(pf[k].fd, buf, sizeof buf);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                pf[k].fd = -1;
                open_fds--;
                continue;
            }
            if (append(k ? &c->err : &c->out, k ? &c->n_err : &c->n_out,
                       buf, (size_t)got)) {
                kill(pid, SIGKILL);
                rc = H->fail(e, ORR_ENOMEM, "out of memory");
                open_fds = 0;
                break;
            }
        }
    }
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    c->code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    if (!c->out && append(&c->out, &c->n_out, "", 0))
        rc = rc ? rc : H->fail(e, ORR_ENOMEM, "out of memory");
    if (!c->err && append(&c->err, &c->n_err, "", 0))
        rc = rc ? rc : H->fail(e, ORR_ENOMEM, "out of memory");
fail:
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    for (int k = 0; k < 2; k++) {
        if (po[k] >= 0)
            close(po[k]);
        if (pe[k] >= 0)
            close(pe[k]);
    }
    if (rc)
        cmd_free(c);
    return rc;
}

/* --- the batch script --------------------------------------------------- */

struct text {
    char  *p;
    size_t n;
};

static int put(struct text *t, const char *s, size_t len)
{
    if (len > (size_t)1 << 24 || t->n > (size_t)1 << 24)
        return -1;
    char *p = H->realloc(t->p, t->n + len + 1);
    if (!p)
        return -1;
    memcpy(p + t->n, s, len);
    t->n += len;
    p[t->n] = '\0';
    t->p = p;
    return 0;
}

static int puts_(struct text *t, const char *s)
{
    return put(t, s, strlen(s));
}

/* One shell word: inside single quotes nothing is special but the quote
 * itself, written as '\''. */
static int put_quoted(struct text *t, const char *s)
{
    if (put(t, "'", 1))
        return -1;
    for (const char *q; (q = strchr(s, '\'')); s = q + 1)
        if (put(t, s, (size_t)(q - s)) || puts_(t, "'\\''"))
            return -1;
    return puts_(t, s) || put(t, "'", 1);
}

static int env_name_ok(const char *kv, size_t n)
{
    if (n == 0 || !((kv[0] >= 'A' && kv[0] <= 'Z') ||
                    (kv[0] >= 'a' && kv[0] <= 'z') || kv[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = kv[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* argv[0] "orrery" (a bare name) means this very program on a shared
 * file system, unless the site names the binary compute nodes run. */
static const char *orrery_bin(struct slurm *s, const char *arg0,
                              char *buf, size_t cap)
{
    if (strcmp(arg0, "orrery"))
        return arg0;
    if (s->orrery)
        return s->orrery;
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0)
        return arg0;
    buf[n] = '\0';
    const char *base = strrchr(buf, '/');
    return base && !strncmp(base + 1, "orrery", 6) ? buf : arg0;
}

static int make_script(struct slurm *s, const struct orr_job_spec *spec,
                       struct text *t, struct orr_error *e)
{
    char exe[4096];
    if (puts_(t, "#!/bin/sh\n# Generated by orrery (orchestrator-slurm).\n"))
        goto nomem;
    if (s->site && (puts_(t, "ORRERY_SITE=") || put_quoted(t, s->site) ||
                    puts_(t, "\nexport ORRERY_SITE\n")))
        goto nomem;
    for (size_t i = 0; spec->envp && spec->envp[i]; i++) {
        const char *kv = spec->envp[i], *eq = strchr(kv, '=');
        if (!eq || !env_name_ok(kv, (size_t)(eq - kv)))
            return H->fail(e, ORR_EINVAL, "slurm: bad environment entry "
                           "for step '%s' (want NAME=value)", spec->step);
        if (put(t, kv, (size_t)(eq - kv) + 1) || put_quoted(t, eq + 1) ||
            puts_(t, "\nexport ") || put(t, kv, (size_t)(eq - kv)) ||
            puts_(t, "\n"))
            goto nomem;
    }
    if (spec->array_size > 1 &&
        puts_(t, "ORRERY_ARRAY_INDEX=\"$SLURM_ARRAY_TASK_ID\"\n"
                 "export ORRERY_ARRAY_INDEX\n"))
        goto nomem;
    if (puts_(t, "exec"))
        goto nomem;
    for (size_t i = 0; spec->argv[i]; i++) {
        const char *w = i ? spec->argv[i]
                          : orrery_bin(s, spec->argv[0], exe, sizeof exe);
        if (put(t, " ", 1) || put_quoted(t, w))
            goto nomem;
    }
    if (puts_(t, "\n"))
        goto nomem;
    return ORR_OK;
nomem:
    return H->fail(e, ORR_ENOMEM, "out of memory");
}

/* --- sbatch options ----------------------------------------------------- */

struct args {
    const char *v[ARGS_MAX + 1];
    char       *own[ARGS_MAX];
    size_t      n, n_own;
};

static void args_free(struct args *a)
{
    for (size_t i = 0; i < a->n_own; i++)
        H->free(a->own[i]);
    a->n = a->n_own = 0;
}

static int arg(struct args *a, const char *s)
{
    if (!s || a->n >= ARGS_MAX)
        return -1;
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
    return 0;
}

static int argf(struct args *a, const char *fmt, ...) ORR_PRINTF(2, 3);
static int argf(struct args *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || a->n_own >= ARGS_MAX)
        return -1;
    char *p = H->alloc((size_t)n + 1);
    if (!p)
        return -1;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    a->own[a->n_own++] = p;
    return arg(a, p);
}

/* Slurm expands %j, %x... in --output; "%%" is a literal percent. */
static int arg_output(struct args *a, const char *path)
{
    size_t n = strlen(path), pct = 0;
    for (size_t i = 0; i < n; i++)
        pct += path[i] == '%';
    char *p = H->alloc(n + pct + sizeof "--output=");
    if (!p || a->n_own >= ARGS_MAX) {
        H->free(p);
        return -1;
    }
    size_t k = (size_t)snprintf(p, sizeof "--output=", "--output=");
    for (size_t i = 0; i < n; i++) {
        p[k++] = path[i];
        if (path[i] == '%')
            p[k++] = '%';
    }
    p[k] = '\0';
    a->own[a->n_own++] = p;
    return arg(a, p);
}

static int id_ok(const char *id)
{
    if (!*id || strlen(id) >= ORR_JOB_ID_SIZE)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

static struct sjob *find_job(struct slurm *s, const char *id)
{
    for (size_t i = s->n; i-- > 0;)
        if (!strcmp(s->jobs[i].id, id))
            return &s->jobs[i];
    return NULL;
}

static struct sjob *add_job(struct slurm *s, const char *id)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct sjob *p = H->realloc(s->jobs, cap * sizeof *p);
        if (!p)
            return NULL;
        s->jobs = p;
        s->cap = cap;
    }
    struct sjob *j = &s->jobs[s->n++];
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", id);
    j->st.size = sizeof j->st;
    return j;
}

static int slurm_submit(void *self, const struct orr_job_spec *spec,
                        char job_id[ORR_JOB_ID_SIZE], struct orr_error *e)
{
    struct slurm *s = self;
    struct args a = {0};
    struct text t = {0};
    struct cmd c = {0};
    char script[4096] = "";
    int fd = -1, rc = ORR_OK;
    job_id[0] = '\0';
    if (!spec->argv || !spec->argv[0])
        return H->fail(e, ORR_EUNSUPPORTED, "slurm: step '%s' has no "
                       "command line (in-process jobs cannot run on Slurm)",
                       spec->step ? spec->step : "?");
    rc = make_script(s, spec, &t, e);
    if (rc)
        goto fail;
    const char *tmp = getenv("TMPDIR");
    snprintf(script, sizeof script, "%s/orrery-sbatch-XXXXXX",
             tmp && *tmp == '/' ? tmp : "/tmp");
    fd = mkstemp(script);
    if (fd < 0) {
        rc = H->fail(e, ORR_EIO, "slurm: temporary script %s: %s", script,
                     strerror(errno));
        script[0] = '\0';
        goto fail;
    }
    for (size_t off = 0; off < t.n;) {
        ssize_t w = write(fd, t.p + off, t.n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = H->fail(e, ORR_EIO, "slurm: writing %s: %s", script,
                         strerror(errno));
            goto fail;
        }
        off += (size_t)w;
    }
    close(fd);
    fd = -1;

    /* A job name is for people reading squeue: keep it plain. */
    char name[72];
    size_t k = (size_t)snprintf(name, sizeof name, "orrery-");
    for (const char *p = spec->step ? spec->step : "job";
         *p && k + 1 < sizeof name; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
                 ch == '.';
        name[k++] = ok ? ch : '_';
    }
    name[k] = '\0';
    int bad = arg(&a, s->sbatch) || arg(&a, "--parsable") ||
              argf(&a, "--job-name=%s", name) ||
              arg(&a, "--open-mode=append");
    if (!bad && spec->log_path && *spec->log_path) {
        if (strchr(spec->log_path, '\\')) {
            rc = H->fail(e, ORR_EINVAL, "slurm: log path '%s' has a "
                         "backslash (Slurm would not expand it as given)",
                         spec->log_path);
            goto fail;
        }
        bad = arg_output(&a, spec->log_path);
    } else if (!bad && s->log_dir) {
        bad = argf(&a, "--output=%s/orrery-%%j.out", s->log_dir);
    }
    if (!bad && spec->workdir && *spec->workdir)
        bad = argf(&a, "--chdir=%s", spec->workdir);
    if (!bad && s->partition)
        bad = argf(&a, "--partition=%s", s->partition);
    if (!bad && s->account)
        bad = argf(&a, "--account=%s", s->account);
    if (!bad && s->qos)
        bad = argf(&a, "--qos=%s", s->qos);
    if (!bad && spec->cpus)
        bad = argf(&a, "--cpus-per-task=%u", spec->cpus);
    if (!bad && spec->memory_mb)
        bad = argf(&a, "--mem=%lluM", (unsigned long long)spec->memory_mb);
    if (!bad && spec->gpus)
        bad = argf(&a, "--gres=gpu:%u", spec->gpus);
    if (!bad && spec->time_limit_s) {
        /* D-HH:MM:SS, rounded up to whole seconds. */
        unsigned long long sec = spec->time_limit_s;
        bad = argf(&a, "--time=%llu-%02llu:%02llu:%02llu", sec / 86400,
                   sec / 3600 % 24, sec / 60 % 60, sec % 60);
    }
    if (!bad && spec->array_size > 1)
        bad = argf(&a, "--array=0-%u", spec->array_size - 1);
    if (!bad && spec->n_after) {
        struct text d = {0};
        bad = puts_(&d, "--dependency=afterok");
        for (size_t i = 0; !bad && i < spec->n_after; i++) {
            if (!id_ok(spec->after[i])) {
                H->free(d.p);
                rc = H->fail(e, ORR_EINVAL, "slurm: step '%s' depends on "
                             "'%s', which is not a Slurm job id",
                             spec->step, spec->after[i]);
                goto fail;
            }
            bad = puts_(&d, ":") || puts_(&d, spec->after[i]);
        }
        if (!bad && a.n_own < ARGS_MAX) {
            a.own[a.n_own++] = d.p;
            bad = arg(&a, d.p) || arg(&a, "--kill-on-invalid-dep=yes");
        } else {
            H->free(d.p);
            bad = 1;
        }
    }
    if (!bad)
        bad = arg(&a, script);
    if (bad) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    rc = run_cmd(s, a.v, &c, e);
    if (rc)
        goto fail;
    if (c.code != 0) {
        char msg[200];
        cmd_message(&c, msg, sizeof msg);
        rc = H->fail(e, ORR_EBACKEND, "slurm rejected step '%s': %s",
                     spec->step ? spec->step : "?", msg);
        goto fail;
    }
    /* --parsable: "ID" or "ID;CLUSTER". */
    char id[ORR_JOB_ID_SIZE];
    size_t n = strcspn(c.out, ";\r\n");
    if (n == 0 || n >= sizeof id) {
        rc = H->fail(e, ORR_EBACKEND, "slurm: sbatch printed no job id");
        goto fail;
    }
    memcpy(id, c.out, n);
    id[n] = '\0';
    if (!id_ok(id)) {
        rc = H->fail(e, ORR_EBACKEND, "slurm: sbatch printed '%s', not a "
                     "job id", id);
        goto fail;
    }
    if (!add_job(s, id)) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(job_id, ORR_JOB_ID_SIZE, "%s", id);
fail:
    if (fd >= 0)
        close(fd);
    if (script[0])
        unlink(script);
    cmd_free(&c);
    args_free(&a);
    H->free(t.p);
    return rc;
}

/* Set a status's reason (truncated to fit). */
static void set_reason(struct orr_job_status *st, const char *fmt, ...)
    ORR_PRINTF(2, 3);
static void set_reason(struct orr_job_status *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->reason, sizeof st->reason, fmt, ap);
    va_end(ap);
}

/* --- states ------------------------------------------------------------- */

/* -1: not finished yet (PENDING vs running in *pending). */
static int map_state(const char *w, size_t n, int *pending)
{
    static const struct {
        const char        *name;
        int                state;     /* -1 running, -2 pending          */
    } tab[] = {
        {"PENDING", -2}, {"REQUEUED", -2}, {"REQUEUE_HOLD", -2},
        {"REQUEUE_FED", -2}, {"RESV_DEL_HOLD", -2}, {"CONFIGURING", -1},
        {"RUNNING", -1}, {"COMPLETING", -1}, {"SUSPENDED", -1},
        {"STOPPED", -1}, {"SIGNALING", -1}, {"STAGE_OUT", -1},
        {"RESIZING", -1},
        {"COMPLETED", ORR_JOB_SUCCEEDED}, {"FAILED", ORR_JOB_FAILED},
        {"BOOT_FAIL", ORR_JOB_FAILED}, {"DEADLINE", ORR_JOB_TIMEOUT},
        {"NODE_FAIL", ORR_JOB_FAILED}, {"PREEMPTED", ORR_JOB_FAILED},
        {"CANCELLED", ORR_JOB_CANCELLED}, {"REVOKED", ORR_JOB_CANCELLED},
        {"TIMEOUT", ORR_JOB_TIMEOUT}, {"OUT_OF_MEMORY", ORR_JOB_OOM},
        {"SPECIAL_EXIT", ORR_JOB_FAILED},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strlen(tab[i].name) == n && !memcmp(tab[i].name, w, n)) {
            if (tab[i].state < 0) {
                *pending = tab[i].state == -2;
                return -1;
            }
            return tab[i].state;
        }
    return ORR_JOB_LOST;
}

/* One task's record: JobState, ExitCode "code:signal", Reason. */
struct task {
    char state[32];
    int  code, sig;
    char reason[64];
};

/* Value of "Key=" in a space-separated record line [p, end). */
static size_t field(const char *p, const char *end, const char *key,
                    char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *q = p; q + kl < end; q++) {
        if ((q == p || q[-1] == ' ') && !memcmp(q, key, kl) && q[kl] == '=') {
            const char *v = q + kl + 1;
            size_t n = 0;
            while (v + n < end && v[n] != ' ' && v[n] != '\n')
                n++;
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return n + 1;
        }
    }
    out[0] = '\0';
    return 0;
}

static void parse_exit(const char *v, int *code, int *sig)
{
    char *end;
    long a = strtol(v, &end, 10), b = 0;
    if (*end == ':')
        b = strtol(end + 1, NULL, 10);
    *code = (int)(a & 0xff);
    *sig = (int)(b & 0x7f);
}

/* Aggregate the tasks of a job (one for a plain job, one per array task)
 * into st.  Returns 1 when the job is finished. */
static int aggregate(const char *id, const struct task *t, size_t n,
                     struct orr_job_status *st)
{
    int pending = 1, running = 0;
    const struct task *worst = NULL;
    int worst_state = ORR_JOB_SUCCEEDED;
    for (size_t i = 0; i < n; i++) {
        int p = 0;
        size_t len = strcspn(t[i].state, " ");
        int m = map_state(t[i].state, len, &p);
        if (m < 0) {
            running = 1;
            pending &= p;
        } else if (m != ORR_JOB_SUCCEEDED && !worst) {
            worst = &t[i];
            worst_state = m;
        }
    }
    st->reason[0] = '\0';
    st->exit_code = 0;
    st->term_signal = 0;
    if (n == 0) {
        st->state = ORR_JOB_LOST;
        set_reason(st, "slurm job %s: no record "
                 "of it", id);
        return 1;
    }
    if (running) {
        st->state = pending ? ORR_JOB_PENDING : ORR_JOB_RUNNING;
        return 0;
    }
    if (!worst) {
        st->state = ORR_JOB_SUCCEEDED;
        return 1;
    }
    st->state = (enum orr_job_state)worst_state;
    st->exit_code = worst->code;
    st->term_signal = worst->sig;
    if (worst_state == ORR_JOB_FAILED && worst->sig)
        set_reason(st, "killed by signal %d "
                 "(slurm job %s %s)", worst->sig, id, worst->state);
    else if (worst_state == ORR_JOB_FAILED)
        set_reason(st, "exit code %d (slurm job "
                 "%s %s%s%s)", worst->code, id, worst->state,
                 worst->reason[0] ? ", " : "", worst->reason);
    else
        set_reason(st, "slurm job %s %s%s%s", id,
                 worst->state, worst->reason[0] ? ": " : "",
                 worst->reason);
    return 1;
}

/* Records "Key=value ..." one per line (scontrol -o, jobcomp/filetxt). */
static size_t parse_records(const char *text, const char *only_id,
                            struct task *t, size_t cap)
{
    size_t n = 0;
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n');
        if (!end)
            end = p + strlen(p);
        char idv[ORR_JOB_ID_SIZE], arr[ORR_JOB_ID_SIZE];
        field(p, end, "JobId", idv, sizeof idv);
        field(p, end, "ArrayJobId", arr, sizeof arr);
        if (idv[0] && (!only_id || !strcmp(idv, only_id) ||
                       !strcmp(arr, only_id))) {
            /* jobcomp lists a job once per end; keep the last record of
             * the same task, so a later line wins. */
            size_t slot = n;
            char exitv[32];
            struct task cur = {0};
            field(p, end, "JobState", cur.state, sizeof cur.state);
            field(p, end, "Reason", cur.reason, sizeof cur.reason);
            if (field(p, end, "ExitCode", exitv, sizeof exitv))
                parse_exit(exitv, &cur.code, &cur.sig);
            if (only_id && n > 0 && !strcmp(idv, only_id))
                slot = 0;
            if (slot < cap) {
                t[slot] = cur;
                if (slot == n)
                    n++;
            }
        }
        p = *end ? end + 1 : end;
    }
    return n;
}

/* The job after it left the controller: sacct or the jobcomp file. */
static int from_history(struct slurm *s, struct sjob *j, struct orr_error *e)
{
    struct task t[64];
    size_t n = 0;
    if (s->accounting) {
        struct cmd c;
        const char *argv[] = {s->sacct, "-n", "-P", "-X", "-j", j->id, "-o",
                              "State,ExitCode", NULL};
        int rc = run_cmd(s, argv, &c, e);
        if (rc)
            return rc;
        if (c.code) {
            char msg[160];
            cmd_message(&c, msg, sizeof msg);
            cmd_free(&c);
            return H->fail(e, ORR_EBACKEND, "slurm: sacct: %s", msg);
        }
        for (char *p = c.out; *p && n < 64;) {
            char *end = strchr(p, '\n');
            if (end)
                *end = '\0';
            char *bar = strchr(p, '|');
            if (bar) {
                *bar = '\0';
                memset(&t[n], 0, sizeof t[n]);
                snprintf(t[n].state, sizeof t[n].state, "%s", p);
                parse_exit(bar + 1, &t[n].code, &t[n].sig);
                n++;
            }
            if (!end)
                break;
            p = end + 1;
        }
        cmd_free(&c);
    } else if (s->jobcomp) {
        FILE *f = fopen(s->jobcomp, "r");
        if (!f)
            return H->fail(e, ORR_EIO, "slurm: job %s left the controller "
                           "and its job-completion log %s cannot be read: "
                           "%s", j->id, s->jobcomp, strerror(errno));
        char *buf = NULL;
        size_t len = 0, cap = 0;
        char chunk[8192];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 &&
               len < JOBCOMP_MAX) {
            if (len + got + 1 > cap) {
                size_t nc = (len + got + 1) * 2;
                char *p = H->realloc(buf, nc);
                if (!p) {
                    H->free(buf);
                    fclose(f);
                    return H->fail(e, ORR_ENOMEM, "out of memory");
                }
                buf = p;
                cap = nc;
            }
            memcpy(buf + len, chunk, got);
            len += got;
            buf[len] = '\0';
        }
        fclose(f);
        n = buf ? parse_records(buf, j->id, t, 64) : 0;
        H->free(buf);
    }
    if (n == 0) {
        j->final = 1;
        j->st.state = ORR_JOB_LOST;
        set_reason(&j->st, "slurm job %s left the "
                 "controller with no record (%s)", j->id,
                 s->accounting ? "sacct has none" : s->jobcomp ?
                 "not in the job-completion log" : "set orchestrator.jobcomp "
                 "or accounting");
        return ORR_OK;
    }
    j->final = aggregate(j->id, t, n, &j->st);
    return ORR_OK;
}

static int invalid_id(const struct cmd *c)
{
    return strstr(c->err, "Invalid job id") != NULL;
}

/* A finished (or vanished) job: exit code and reason from scontrol. */
static int details(struct slurm *s, struct sjob *j, struct orr_error *e)
{
    struct cmd c;
    const char *argv[] = {s->scontrol, "show", "job", "-o", j->id, NULL};
    int rc = run_cmd(s, argv, &c, e);
    if (rc)
        return rc;
    if (c.code) {
        if (invalid_id(&c)) {
            cmd_free(&c);
            return from_history(s, j, e);
        }
        char msg[160];
        cmd_message(&c, msg, sizeof msg);
        cmd_free(&c);
        return H->fail(e, ORR_ENETWORK, "slurm: scontrol: %s", msg);
    }
    struct task t[64];
    size_t n = parse_records(c.out, NULL, t, 64);
    cmd_free(&c);
    j->final = aggregate(j->id, t, n, &j->st);
    return ORR_OK;
}

/* squeue's states for one job (array tasks: several lines). */
static int query(struct slurm *s, struct sjob *j, struct orr_error *e)
{
    struct cmd c;
    const char *argv[] = {s->squeue, "-h", "-t", "all", "-j", j->id, "-o",
                          "%T", NULL};
    int rc = run_cmd(s, argv, &c, e);
    if (rc)
        return rc;
    if (c.code && !invalid_id(&c)) {
        char msg[160];
        cmd_message(&c, msg, sizeof msg);
        cmd_free(&c);
        return H->fail(e, ORR_ENETWORK, "slurm: squeue: %s", msg);
    }
    int unfinished = 0, pending = 1;
    for (char *p = c.out; *p;) {
        size_t n = strcspn(p, "\n");
        int pd = 0;
        if (n && map_state(p, n, &pd) < 0) {
            unfinished = 1;
            pending &= pd;
        }
        p += n + (p[n] == '\n');
    }
    cmd_free(&c);
    if (unfinished) {
        j->st.state = pending ? ORR_JOB_PENDING : ORR_JOB_RUNNING;
        return ORR_OK;
    }
    return details(s, j, e);
}

static int slurm_poll(void *self, const char *job_id,
                      struct orr_job_status *st, struct orr_error *e)
{
    struct slurm *s = self;
    struct sjob *j = find_job(s, job_id);
    if (!j) {
        if (!id_ok(job_id))
            return H->fail(e, ORR_ENOTFOUND, "slurm: no job '%s'", job_id);
        j = add_job(s, job_id);     /* a job of an earlier runner        */
        if (!j)
            return H->fail(e, ORR_ENOMEM, "out of memory");
    }
    if (!j->final) {
        int rc = query(s, j, e);
        if (rc)
            return rc;
    }
    size_t sz = st->size < sizeof *st ? st->size : sizeof *st;
    struct orr_job_status out = j->st;
    out.size = st->size;
    memcpy(st, &out, sz);
    return ORR_OK;
}

static int slurm_cancel(void *self, const char *job_id, struct orr_error *e)
{
    struct slurm *s = self;
    struct cmd c;
    if (!id_ok(job_id))
        return H->fail(e, ORR_EINVAL, "slurm: '%s' is not a job id", job_id);
    const char *argv[] = {s->scancel, job_id, NULL};
    int rc = run_cmd(s, argv, &c, e);
    if (rc)
        return rc;
    if (c.code) {
        char msg[160];
        cmd_message(&c, msg, sizeof msg);
        cmd_free(&c);
        return H->fail(e, ORR_EBACKEND, "slurm: scancel %s: %s", job_id, msg);
    }
    cmd_free(&c);
    struct sjob *j = find_job(s, job_id);
    if (j && !j->final) {
        j->final = 1;
        j->reported = 1;        /* the caller knows                       */
        j->st.state = ORR_JOB_CANCELLED;
        set_reason(&j->st, "cancelled (scancel "
                 "%s)", job_id);
    }
    return ORR_OK;
}

/* One squeue for every unfinished job; those that finished or vanished
 * get their details.  A controller that keeps failing for
 * controller_timeout ends every unfinished job LOST with Slurm's words. */
static void refresh(struct slurm *s)
{
    struct text ids = {0};
    struct cmd c = {0};
    struct orr_error e = {0};
    size_t n_open = 0;
    s->last_refresh = now_ms();
    for (size_t i = 0; i < s->n; i++) {
        if (s->jobs[i].final)
            continue;
        if ((n_open++ && puts_(&ids, ",")) || puts_(&ids, s->jobs[i].id))
            goto done;
    }
    if (!n_open)
        goto done;
    const char *argv[] = {s->squeue, "-h", "-t", "all", "-j", ids.p, "-o",
                          "%F %T", NULL};
    int rc = run_cmd(s, argv, &c, &e);
    if (!rc && c.code && !invalid_id(&c)) {
        char msg[160];
        cmd_message(&c, msg, sizeof msg);
        rc = H->fail(&e, ORR_ENETWORK, "squeue: %s", msg);
    }
    if (rc) {
        double now = now_ms();
        if (s->down_since == 0)
            s->down_since = now;
        if (now - s->down_since < s->down_ms)
            goto done;
        for (size_t i = 0; i < s->n; i++) {
            struct sjob *j = &s->jobs[i];
            if (j->final)
                continue;
            j->final = 1;
            j->st.state = ORR_JOB_LOST;
            set_reason(&j->st, "slurm controller "
                     "unreachable for %d s: %s", s->down_ms / 1000, e.msg);
        }
        goto done;
    }
    s->down_since = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct sjob *j = &s->jobs[i];
        if (j->final)
            continue;
        int seen = 0, unfinished = 0, pending = 1;
        size_t il = strlen(j->id);
        for (char *p = c.out; *p;) {
            size_t n = strcspn(p, "\n");
            if (n > il && !memcmp(p, j->id, il) && p[il] == ' ') {
                int pd = 0;
                seen = 1;
                if (map_state(p + il + 1, n - il - 1, &pd) < 0) {
                    unfinished = 1;
                    pending &= pd;
                }
            }
            p += n + (p[n] == '\n');
        }
        if (seen && unfinished) {
            j->st.state = pending ? ORR_JOB_PENDING : ORR_JOB_RUNNING;
            continue;
        }
        struct orr_error de = {0};
        if (details(s, j, &de))
            H->log(ORR_LOG_WARN, "slurm", "job %s: %s", j->id, de.msg);
    }
done:
    cmd_free(&c);
    H->free(ids.p);
}

static struct sjob *next_done(struct slurm *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->jobs[i].final && !s->jobs[i].reported)
            return &s->jobs[i];
    return NULL;
}

static int slurm_wait_any(void *self, int timeout_ms,
                          char job_id[ORR_JOB_ID_SIZE], struct orr_error *e)
{
    struct slurm *s = self;
    double deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    (void)e;
    job_id[0] = '\0';
    for (;;) {
        struct sjob *j = next_done(s);
        if (!j) {
            size_t open = 0;
            for (size_t i = 0; i < s->n; i++)
                open += !s->jobs[i].final;
            if (!open)
                return ORR_OK;
            /* Never hammer the controller: at most one squeue per
             * poll interval, whoever asks. */
            double wait = s->last_refresh + s->poll_ms - now_ms();
            if (deadline >= 0 && now_ms() + (wait > 0 ? wait : 0) > deadline)
                return ORR_OK;
            if (wait > 0) {
                long ms = (long)wait + 1;
                struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};
                nanosleep(&ts, NULL);
            }
            refresh(s);
            j = next_done(s);
        }
        if (j) {
            j->reported = 1;
            snprintf(job_id, ORR_JOB_ID_SIZE, "%s", j->id);
            return ORR_OK;
        }
        if (deadline >= 0 && now_ms() >= deadline)
            return ORR_OK;
    }
}

static unsigned slurm_capacity(void *self)
{
    return ((struct slurm *)self)->capacity;
}

static void slurm_close(void *self)
{
    struct slurm *s = self;
    char **own[] = {&s->sbatch, &s->squeue, &s->scontrol, &s->scancel,
                    &s->sacct, &s->partition, &s->account, &s->qos,
                    &s->jobcomp, &s->orrery, &s->site, &s->log_dir};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        H->free(*own[i]);
        *own[i] = NULL;
    }
    H->free(s->jobs);
    s->jobs = NULL;
    s->n = s->cap = 0;
}

/* A string key copied (NULL when absent or empty). */
static int key_str(const struct orr_cfg *cfg, const char *key,
                   const char *def, char **out)
{
    const char *v = H->cfg_str(cfg, key, def);
    *out = NULL;
    if (!v || !*v)
        return 0;
    *out = dup_str(v);
    return *out ? 0 : -1;
}

static int slurm_open(void *self, const struct orr_cfg *cfg,
                      struct orr_error *e)
{
    struct slurm *s = self;
    int bad = key_str(cfg, "sbatch", "sbatch", &s->sbatch) ||
              key_str(cfg, "squeue", "squeue", &s->squeue) ||
              key_str(cfg, "scontrol", "scontrol", &s->scontrol) ||
              key_str(cfg, "scancel", "scancel", &s->scancel) ||
              key_str(cfg, "sacct", "sacct", &s->sacct) ||
              key_str(cfg, "partition", NULL, &s->partition) ||
              key_str(cfg, "account", NULL, &s->account) ||
              key_str(cfg, "qos", NULL, &s->qos) ||
              key_str(cfg, "jobcomp", getenv("ORRERY_SLURM_JOBCOMP"),
                      &s->jobcomp) ||
              key_str(cfg, "orrery", NULL, &s->orrery) ||
              key_str(cfg, "site", NULL, &s->site) ||
              key_str(cfg, "log_dir", NULL, &s->log_dir);
    if (bad)
        return H->fail(e, ORR_ENOMEM, "out of memory");
    if (!s->sbatch || !s->squeue || !s->scontrol || !s->scancel ||
        !s->sacct)
        return H->fail(e, ORR_ECONFIG, "orchestrator: the Slurm command "
                       "paths (sbatch, squeue, scontrol, scancel, sacct) "
                       "must not be empty");
    const char *names[] = {"partition", "account", "qos"};
    char *vals[] = {s->partition, s->account, s->qos};
    for (size_t i = 0; i < 3; i++)
        if (vals[i] && (vals[i][0] == '-' || strpbrk(vals[i], " \t\n")))
            return H->fail(e, ORR_ECONFIG, "orchestrator.%s: '%s' is not a "
                           "Slurm name", names[i], vals[i]);
    s->accounting = H->cfg_bool(cfg, "accounting", 0);
    int64_t cap = H->cfg_int(cfg, "capacity", H->cfg_int(cfg, "jobs", 64));
    if (cap < 1 || cap > 100000)
        return H->fail(e, ORR_ECONFIG, "orchestrator.capacity must be from "
                       "1 to 100000 (got %lld)", (long long)cap);
    s->capacity = (unsigned)cap;
    double t = H->cfg_num(cfg, "command_timeout", 30);
    double p = H->cfg_num(cfg, "poll_interval", 100);
    double d = H->cfg_num(cfg, "controller_timeout", 60);
    if (!(t > 0 && t <= 3600) || !(p >= 1 && p <= 60000) ||
        !(d >= 0 && d <= 86400))
        return H->fail(e, ORR_ECONFIG, "orchestrator: command_timeout "
                       "(0..3600 s), poll_interval (1..60000 ms) or "
                       "controller_timeout (0..86400 s) out of range");
    s->cmd_timeout_ms = (int)(t * 1000);
    s->poll_ms = (int)p;
    s->down_ms = (int)(d * 1000);
    return ORR_OK;
}

static const struct orr_orchestrator_ops slurm_ops = {
    .version = ORR_ORCHESTRATOR_OPS_V1,
    .name = "slurm",
    .summary = "steps as Slurm batch jobs (sbatch, squeue, scancel)",
    .self_size = sizeof(struct slurm),
    .open = slurm_open,
    .close = slurm_close,
    .capacity = slurm_capacity,
    .submit = slurm_submit,
    .poll = slurm_poll,
    .cancel = slurm_cancel,
    .wait_any = slurm_wait_any,
};

static int slurm_init(const struct orr_host *h, struct orr_registry *r,
                      struct orr_error *e)
{
    H = h;
    return h->add_orchestrator(r, &slurm_ops, e);
}

ORR_PLUGIN("orchestrator-slurm", "0.1.0", "Apache-2.0",
           "Run workflow steps as Slurm batch jobs", slurm_init, NULL)
