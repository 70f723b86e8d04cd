/*
 * plugins/orchestrator-local/local.c - the embedded default orchestrator:
 * jobs run on this machine.
 *
 * Today a job with an `invoke` callback runs synchronously inside submit
 * (in the runner's process, which already holds the loaded workflow), and
 * capacity is 1, so steps run one after the other.  The orchestration
 * issue replaces this with a pool of warm forked workers (fork after the
 * workflow is loaded, run invoke in the child, report through a pipe) and
 * a capacity from the site's `orchestrator.jobs`; the interface used here
 * (submit / poll / wait_any / cancel) does not change for that.
 *
 * A job without `invoke` runs its argv: fork + exec in a process group of
 * its own (so cancel reaches its children too), stdout and stderr to
 * `log_path` (or inherited), environment extended by `envp`, in
 * `workdir`.  poll and wait_any reap it with waitpid.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <orrery/orrery.h>

extern char **environ;

static const struct orr_host *H;

struct job {
    char               id[ORR_JOB_ID_SIZE];
    pid_t              pid;        /* > 0 while a child runs              */
    struct orr_job_status st;
};

struct local {
    struct job *jobs;
    size_t      n, cap;
    unsigned    next_id;
};

static int local_open(void *self, const struct orr_cfg *cfg,
                      struct orr_error *e)
{
    (void)self;
    (void)cfg;
    (void)e;
    return ORR_OK;
}

static void local_close(void *self)
{
    struct local *l = self;
    /* Children that outlive the runner keep running (the interface says
     * close does not cancel); reap the ones that already ended. */
    for (size_t i = 0; i < l->n; i++)
        if (l->jobs[i].pid > 0)
            waitpid(l->jobs[i].pid, NULL, WNOHANG);
    H->free(l->jobs);
    l->jobs = NULL;
    l->n = l->cap = 0;
}

static unsigned local_capacity(void *self)
{
    (void)self;
    return 1;
}

static struct job *new_job(struct local *l, struct orr_error *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        void *p = H->realloc(l->jobs, cap * sizeof *l->jobs);
        if (!p) {
            H->fail(e, ORR_ENOMEM, "out of memory");
            return NULL;
        }
        l->jobs = p;
        l->cap = cap;
    }
    struct job *j = &l->jobs[l->n++];
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "local-%u", ++l->next_id);
    j->st.size = sizeof j->st;
    j->st.state = ORR_JOB_PENDING;
    return j;
}

static struct job *find_job(struct local *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->jobs[i].id, id))
            return &l->jobs[i];
    return NULL;
}

static void set_exit(struct job *j, int status)
{
    j->pid = 0;
    if (WIFEXITED(status)) {
        j->st.exit_code = WEXITSTATUS(status);
        j->st.state = j->st.exit_code ? ORR_JOB_FAILED : ORR_JOB_SUCCEEDED;
        if (j->st.exit_code)
            snprintf(j->st.reason, sizeof j->st.reason, "exit code %d",
                     j->st.exit_code);
    } else if (WIFSIGNALED(status)) {
        j->st.term_signal = WTERMSIG(status);
        j->st.state = j->st.state == ORR_JOB_CANCELLED ? ORR_JOB_CANCELLED
                                                        : ORR_JOB_FAILED;
        snprintf(j->st.reason, sizeof j->st.reason, "killed by signal %d",
                 j->st.term_signal);
    }
}

/* The environment of the child: envp's entries, then the parent's
 * entries whose names envp does not set.  Built before fork, so the
 * child only calls exec. */
static char **make_env(const char *const *add, struct orr_error *e)
{
    size_t n_add = 0, n_env = 0;
    while (add && add[n_add])
        n_add++;
    while (environ && environ[n_env])
        n_env++;
    char **env = H->calloc(n_add + n_env + 1, sizeof *env);
    if (!env) {
        H->fail(e, ORR_ENOMEM, "out of memory");
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_add; i++)
        env[k++] = (char *)add[i];
    for (size_t i = 0; i < n_env; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        int dup = 0;
        for (size_t a = 0; a < n_add && !dup; a++)
            dup = !strncmp(add[a], environ[i], len) && add[a][len] == '=';
        if (!dup)
            env[k++] = environ[i];
    }
    return env;
}

static int spawn(struct job *j, const struct orr_job_spec *spec,
                 struct orr_error *e)
{
    if (!spec->argv || !spec->argv[0])
        return H->fail(e, ORR_EINVAL, "job '%s' has neither invoke nor argv",
                       spec->step ? spec->step : "?");
    int log_fd = -1;
    if (spec->log_path) {
        log_fd = open(spec->log_path, O_WRONLY | O_CREAT | O_APPEND |
                                          O_CLOEXEC, 0644);
        if (log_fd < 0)
            return H->fail(e, ORR_EIO, "open %s: %s", spec->log_path,
                           strerror(errno));
    }
    char **env = make_env(spec->envp, e);
    if (!env) {
        if (log_fd >= 0)
            close(log_fd);
        return ORR_ENOMEM;
    }
    /* A pipe closed on exec tells the parent whether exec worked. */
    int p[2];
    if (pipe(p) || fcntl(p[0], F_SETFD, FD_CLOEXEC) ||
        fcntl(p[1], F_SETFD, FD_CLOEXEC)) {
        H->free(env);
        if (log_fd >= 0)
            close(log_fd);
        return H->fail(e, ORR_EIO, "pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int err;
        setpgid(0, 0);
        if (log_fd >= 0 && (dup2(log_fd, STDOUT_FILENO) < 0 ||
                            dup2(log_fd, STDERR_FILENO) < 0))
            goto child_fail;
        if (spec->workdir && chdir(spec->workdir))
            goto child_fail;
        environ = env;
        execvp(spec->argv[0], (char *const *)spec->argv);
child_fail:
        err = errno;
        (void)!write(p[1], &err, sizeof err);
        _exit(127);
    }
    int saved = errno;
    close(p[1]);
    H->free(env);
    if (log_fd >= 0)
        close(log_fd);
    if (pid < 0) {
        close(p[0]);
        return H->fail(e, ORR_EIO, "fork: %s", strerror(saved));
    }
    setpgid(pid, pid);          /* also here: no race with cancel         */
    int child_err = 0;
    ssize_t n;
    do
        n = read(p[0], &child_err, sizeof child_err);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == (ssize_t)sizeof child_err) {
        waitpid(pid, NULL, 0);
        return H->fail(e, child_err == ENOENT ? ORR_ENOTFOUND : ORR_EIO,
                       "cannot run %s: %s", spec->argv[0],
                       strerror(child_err));
    }
    j->pid = pid;
    j->st.state = ORR_JOB_RUNNING;
    return ORR_OK;
}

static int local_submit(void *self, const struct orr_job_spec *spec,
                        char job_id[ORR_JOB_ID_SIZE], struct orr_error *e)
{
    struct local *l = self;
    if (spec->size < offsetof(struct orr_job_spec, array_size))
        return H->fail(e, ORR_EINVAL, "job spec too old (size %zu)",
                       spec->size);
    struct job *j = new_job(l, e);
    if (!j)
        return ORR_ENOMEM;
    snprintf(job_id, ORR_JOB_ID_SIZE, "%s", j->id);
    if (spec->invoke) {
        struct orr_error ie = {0};
        j->st.state = ORR_JOB_RUNNING;
        int rc = spec->invoke(spec->invoke_ctx, &ie);
        j->st.state = rc ? ORR_JOB_FAILED : ORR_JOB_SUCCEEDED;
        j->st.exit_code = rc ? 1 : 0;
        if (rc) {
            const char *why = ie.msg[0] ? ie.msg : H->strerror(rc);
            size_t n = strlen(why);
            if (n >= sizeof j->st.reason)
                n = sizeof j->st.reason - 1;
            memcpy(j->st.reason, why, n);
            j->st.reason[n] = '\0';
        }
        return ORR_OK;
    }
    int rc = spawn(j, spec, e);
    if (rc)
        l->n--;                 /* forget the job that never started      */
    return rc;
}

static int local_poll(void *self, const char *job_id,
                      struct orr_job_status *st, struct orr_error *e)
{
    struct local *l = self;
    struct job *j = find_job(l, job_id);
    if (!j)
        return H->fail(e, ORR_ENOTFOUND, "no job %s", job_id);
    if (j->pid > 0) {
        int status;
        pid_t r = waitpid(j->pid, &status, WNOHANG);
        if (r == j->pid)
            set_exit(j, status);
        else if (r < 0) {
            j->pid = 0;
            j->st.state = ORR_JOB_LOST;
        }
    }
    size_t n = st->size && st->size < sizeof *st ? st->size : sizeof *st;
    memcpy(st, &j->st, n);
    st->size = n;
    return ORR_OK;
}

static int local_cancel(void *self, const char *job_id, struct orr_error *e)
{
    struct local *l = self;
    struct job *j = find_job(l, job_id);
    if (!j)
        return H->fail(e, ORR_ENOTFOUND, "no job %s", job_id);
    if (j->pid > 0) {
        j->st.state = ORR_JOB_CANCELLED;
        if (kill(-j->pid, SIGTERM) && errno != ESRCH)
            return H->fail(e, ORR_EIO, "kill %s: %s", job_id,
                           strerror(errno));
    } else if (j->st.state == ORR_JOB_PENDING) {
        j->st.state = ORR_JOB_CANCELLED;
    }
    return ORR_OK;
}

/* Block until one running child ends.  Jobs run through invoke are
 * finished when submit returns, so they are reported at once. */
static int local_wait_any(void *self, int timeout_ms,
                          char job_id[ORR_JOB_ID_SIZE], struct orr_error *e)
{
    struct local *l = self;
    (void)e;
    job_id[0] = '\0';
    int waited = 0;
    for (;;) {
        size_t running = 0;
        for (size_t i = 0; i < l->n; i++) {
            struct job *j = &l->jobs[i];
            if (j->pid <= 0)
                continue;
            running++;
            int status;
            /* One child: sleep in waitpid; several: poll them in turn. */
            int block = timeout_ms < 0 && running == 1 && i + 1 == l->n;
            pid_t r = waitpid(j->pid, &status, block ? 0 : WNOHANG);
            if (r == j->pid) {
                set_exit(j, status);
                snprintf(job_id, ORR_JOB_ID_SIZE, "%s", j->id);
                return ORR_OK;
            }
            if (r < 0 && errno != EINTR) {
                j->pid = 0;
                j->st.state = ORR_JOB_LOST;
                snprintf(job_id, ORR_JOB_ID_SIZE, "%s", j->id);
                return ORR_OK;
            }
        }
        if (!running) {
            /* Nothing in flight: report a finished job not yet reported?
             * The runner polls after every wait, so "" is enough. */
            return ORR_OK;
        }
        if (timeout_ms >= 0 && waited >= timeout_ms)
            return ORR_OK;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
        waited += 5;
    }
}

static const struct orr_orchestrator_ops local_ops = {
    .version = ORR_ORCHESTRATOR_OPS_V1,
    .name = "local",
    .summary = "steps on this machine (in-process; argv jobs as children)",
    .self_size = sizeof(struct local),
    .open = local_open,
    .close = local_close,
    .capacity = local_capacity,
    .submit = local_submit,
    .poll = local_poll,
    .cancel = local_cancel,
    .wait_any = local_wait_any,
};

static int local_init(const struct orr_host *h, struct orr_registry *r,
                      struct orr_error *e)
{
    H = h;
    return h->add_orchestrator(r, &local_ops, e);
}

ORR_PLUGIN("orchestrator-local", "0.1.0", "Apache-2.0",
           "Run workflow steps on this machine", local_init, NULL)
