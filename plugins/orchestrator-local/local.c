/*
 * plugins/orchestrator-local/local.c - the embedded default orchestrator:
 * jobs run on this machine, in a pool of warm worker processes.
 *
 * Why a pool: a fork+exec per step costs more than the whole per-step
 * budget, and re-parsing the workflow in every step costs more again.
 * The runner opens this backend after it has loaded the workflow and
 * before it opens the metadata store, so open() forks a *zygote* then:
 * a process that holds the loaded workflow and no SQLite connection.
 * Every worker is forked from the zygote, never from the runner, so no
 * worker ever inherits the runner's database connection (SQLite forbids
 * using a connection across fork), also when one is respawned late.
 *
 *   runner --SOCK_SEQPACKET--> zygote   SPAWN (+ the worker's socket end
 *                                       as SCM_RIGHTS) -> pid;  WAIT pid ->
 *                                       wait status
 *   runner --SOCK_SEQPACKET--> worker   JOB {invoke, ctx, log path} ->
 *                                       {rc, message}
 *
 * A job with `invoke` runs in a worker: `invoke(invoke_ctx)` is valid
 * there because the worker is a copy of the runner as it was at open
 * (what changes later travels through memory the runner shares with it;
 * that is the runner's business).  stdout and stderr go to `log_path`
 * during the job.  A worker that dies (os.exit, a crash, a kill) is
 * reaped through the zygote for its exit status and replaced on demand.
 * A job that asks for isolation (envp "ORRERY_ISOLATE=1") or declares
 * memory_mb gets a fresh worker that runs only it; memory_mb becomes its
 * RLIMIT_AS.  time_limit_s kills the worker's process group (SIGKILL) at
 * the deadline: the job ends ORR_JOB_TIMEOUT.  cancel does the same now.
 *
 * A job without `invoke` runs its argv: fork + exec in a process group
 * of its own, stdout and stderr to `log_path`, environment extended by
 * `envp`, in `workdir` (the path a remote-style `orrery step` takes).
 *
 * Capacity: site `orchestrator = { jobs = N }`, else the online CPUs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <orrery/orrery.h>

extern char **environ;

static const struct orr_host *H;

enum { Z_SPAWN = 1, Z_WAIT = 2 };

struct zmsg {
    int      type;
    int      isolate;
    uint64_t memory_mb;
    pid_t    pid;
};

/* No job to follow (jmsg.after). */
#define NO_JOB UINT32_MAX

struct jmsg {
    uint32_t       job;
    uint32_t       after;       /* run only if this job (the worker's
                                   previous one) succeeded, or NO_JOB     */
    orr_invoke_fn  fn;
    void          *ctx;
    char           log_path[4096];
};

struct jreply {
    uint32_t job;
    int      rc;
    char     msg[ORR_ERROR_MSG_SIZE];
};

struct job {
    char               id[ORR_JOB_ID_SIZE];
    pid_t              pid;         /* argv child, > 0 while it runs      */
    int                worker;      /* index into workers, or -1          */
    double             deadline;    /* monotonic ms, 0 = none             */
    int                timed_out;
    int                reported;    /* queued for wait_any already        */
    int                argv;        /* an argv child (not a pool job)     */
    struct orr_job_status st;
};

struct worker {
    pid_t pid;
    int   fd;
    int   isolate;
    long  job;                      /* index into jobs, -1 when idle      */
    long  next;                     /* queued behind `job` (after it), -1 */
};

struct local {
    struct job    *jobs;
    size_t         n, cap;
    struct worker *workers;
    size_t         n_workers, cap_workers;
    pid_t          zygote;
    int            zfd;
    unsigned       capacity;
    size_t         n_argv;      /* argv children running                  */
    size_t         n_deadlines; /* running jobs with a time limit         */
    size_t        *done;        /* finished, not yet reported by wait_any */
    size_t         done_head, done_tail, done_cap;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}


/* --- inside a worker -------------------------------------------------- */

static ssize_t send_all(int fd, const void *p, size_t n)
{
    ssize_t w;
    do
        w = send(fd, p, n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    return w;
}

static ssize_t recv_one(int fd, void *p, size_t n)
{
    ssize_t r;
    do
        r = recv(fd, p, n, 0);
    while (r < 0 && errno == EINTR);
    return r;
}

/* A worker's log file outlives its steps while they print nothing:
 * creating and removing a file per step allocates an inode each time,
 * which ext4 makes slower the more files were deleted recently (it was
 * most of a no-op step's cost).  The empty file waits under a hidden
 * name beside the logs (`.spare-PID`), is renamed to the job's log path
 * for the job (where `orrery logs --follow` finds it) and back when the
 * job wrote nothing; a file with output stays for the runner to store. */
struct spare {
    int  fd;
    char path[4096];
};

/* Open the job's log file at `path`: the spare renamed there, or new. */
static int log_open(struct spare *sp, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path) : 0;
    if (sp->fd >= 0 && (strncmp(sp->path, path, dir) ||
                        sp->path[dir] != '/' ||
                        rename(sp->path, path) != 0)) {
        unlink(sp->path);       /* another folder (run): start afresh    */
        close(sp->fd);
        sp->fd = -1;
    }
    if (sp->fd < 0) {
        int n = slash ? snprintf(sp->path, sizeof sp->path, "%.*s/.spare-%ld",
                                 (int)dir, path, (long)getpid())
                      : snprintf(sp->path, sizeof sp->path, ".spare-%ld",
                                 (long)getpid());
        if (n < 0 || (size_t)n >= sizeof sp->path)
            sp->path[0] = '\0';
        return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    return sp->fd;
}

/* After the job: keep the file as the spare if it stayed empty. */
static void log_close(struct spare *sp, int log, const char *path)
{
    struct stat st;
    if (sp->path[0] && fstat(log, &st) == 0 && st.st_size == 0 &&
        rename(path, sp->path) == 0) {
        sp->fd = log;
        return;
    }
    sp->fd = -1;
    close(log);
}

static _Noreturn void worker_main(int fd, int isolate)
{
    int out = dup(STDOUT_FILENO), err = dup(STDERR_FILENO);
    struct spare sp = {.fd = -1};
    struct jmsg m;
    uint32_t last_job = NO_JOB;
    int last_rc = ORR_OK;
    for (;;) {
        ssize_t r = recv_one(fd, &m, sizeof m);
        if (r != (ssize_t)sizeof m) {
            if (sp.fd >= 0)
                unlink(sp.path);
            _exit(0);           /* the runner closed: nothing left to do */
        }
        m.log_path[sizeof m.log_path - 1] = '\0';
        if (m.after != NO_JOB && (m.after != last_job || last_rc)) {
            /* Queued behind a job that failed: never runs. */
            struct jreply no = {.job = m.job, .rc = ORR_ECANCELED};
            snprintf(no.msg, sizeof no.msg, "not run: the job it follows "
                     "failed");
            last_job = m.job;
            last_rc = no.rc;
            if (send_all(fd, &no, sizeof no) < 0)
                _exit(0);
            continue;
        }
        int log = -1;
        if (m.log_path[0]) {
            log = log_open(&sp, m.log_path);
            if (log >= 0) {
                fflush(stdout);
                fflush(stderr);
                dup2(log, STDOUT_FILENO);
                dup2(log, STDERR_FILENO);
            }
        }
        struct orr_error e = {0};
        struct jreply rep = {.job = m.job};
        rep.rc = m.fn(m.ctx, &e);
        memcpy(rep.msg, e.msg, sizeof rep.msg);
        last_job = m.job;
        last_rc = rep.rc;
        fflush(stdout);
        fflush(stderr);
        if (log >= 0) {
            dup2(out, STDOUT_FILENO);
            dup2(err, STDERR_FILENO);
            if (isolate)
                close(log);
            else
                log_close(&sp, log, m.log_path);
        }
        if (send_all(fd, &rep, sizeof rep) < 0 || isolate)
            _exit(0);
    }
}

/* --- the zygote ------------------------------------------------------- */

static int recv_fd(int zfd, struct zmsg *m, int *fd)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = m, .iov_len = sizeof *m};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t r;
    do
        r = recvmsg(zfd, &h, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r != (ssize_t)sizeof *m)
        return -1;
    *fd = -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        memcpy(fd, CMSG_DATA(c), sizeof *fd);
    return 0;
}

static _Noreturn void zygote_main(int zfd, pid_t runner)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != runner)
        _exit(0);
    signal(SIGINT, SIG_IGN);        /* Ctrl-C is the runner's to handle  */
    for (;;) {
        struct zmsg m;
        int fd = -1;
        if (recv_fd(zfd, &m, &fd))
            _exit(0);
        if (m.type == Z_WAIT) {
            int status = 0;
            pid_t r;
            do
                r = waitpid(m.pid, &status, 0);
            while (r < 0 && errno == EINTR);
            m.pid = r;
            m.memory_mb = (uint64_t)(unsigned)status;
            send_all(zfd, &m, sizeof m);
            continue;
        }
        pid_t me = getpid();
        pid_t pid = fork();
        if (pid == 0) {
            close(zfd);
            setpgid(0, 0);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != me)
                _exit(0);
            signal(SIGINT, SIG_DFL);
            if (m.memory_mb) {
                struct rlimit rl;
                rl.rlim_cur = rl.rlim_max = (rlim_t)m.memory_mb << 20;
                setrlimit(RLIMIT_AS, &rl);
            }
            worker_main(fd, m.isolate);
        }
        if (fd >= 0)
            close(fd);
        m.pid = pid;
        send_all(zfd, &m, sizeof m);
    }
}

/* --- the runner side --------------------------------------------------- */

static int zygote_start(struct local *l, struct orr_error *e)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
        return H->fail(e, ORR_EIO, "socketpair: %s", strerror(errno));
    pid_t me = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(sv[0]);
        close(sv[1]);
        return H->fail(e, ORR_EIO, "fork: %s", strerror(err));
    }
    if (pid == 0) {
        close(sv[0]);
        zygote_main(sv[1], me);
    }
    close(sv[1]);
    l->zygote = pid;
    l->zfd = sv[0];
    return ORR_OK;
}

/* Ask the zygote for a worker; index in *out. */
static int spawn_worker(struct local *l, int isolate, uint64_t memory_mb,
                        size_t *out, struct orr_error *e)
{
    if (l->n_workers == l->cap_workers) {
        size_t cap = l->cap_workers ? l->cap_workers * 2 : 8;
        void *p = H->realloc(l->workers, cap * sizeof *l->workers);
        if (!p)
            return H->fail(e, ORR_ENOMEM, "out of memory");
        l->workers = p;
        l->cap_workers = cap;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
        return H->fail(e, ORR_EIO, "socketpair: %s", strerror(errno));
    struct zmsg m = {.type = Z_SPAWN, .isolate = isolate,
                     .memory_mb = memory_mb};
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
    ssize_t w;
    do
        w = sendmsg(l->zfd, &h, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    close(sv[1]);
    if (w != (ssize_t)sizeof m || recv_one(l->zfd, &m, sizeof m) !=
                                  (ssize_t)sizeof m || m.pid <= 0) {
        close(sv[0]);
        return H->fail(e, ORR_EIO, "the worker pool's zygote (pid %d) does "
                       "not answer", (int)l->zygote);
    }
    struct worker *wk = &l->workers[l->n_workers];
    wk->pid = m.pid;
    wk->fd = sv[0];
    wk->isolate = isolate;
    wk->job = -1;
    wk->next = -1;
    *out = l->n_workers++;
    return ORR_OK;
}

/* The wait status of a dead worker, through the zygote. */
static int reap_worker(struct local *l, pid_t pid)
{
    struct zmsg m = {.type = Z_WAIT, .pid = pid};
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t w;
    do
        w = sendmsg(l->zfd, &h, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)sizeof m ||
        recv_one(l->zfd, &m, sizeof m) != (ssize_t)sizeof m || m.pid != pid)
        return -1;
    return (int)(unsigned)m.memory_mb;
}

static void drop_worker(struct local *l, size_t w)
{
    close(l->workers[w].fd);
    l->workers[w] = l->workers[--l->n_workers];
    if (w < l->n_workers && l->workers[w].job >= 0)
        l->jobs[l->workers[w].job].worker = (int)w;
    if (w < l->n_workers && l->workers[w].next >= 0)
        l->jobs[l->workers[w].next].worker = (int)w;
}

static int local_open(void *self, const struct orr_cfg *cfg,
                      struct orr_error *e)
{
    struct local *l = self;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t jobs = H->cfg_int(cfg, "jobs", cpus > 0 ? cpus : 1);
    if (jobs < 1 || jobs > 4096)
        return H->fail(e, ORR_ECONFIG, "orchestrator.jobs must be from 1 "
                       "to 4096 (got %lld)", (long long)jobs);
    l->capacity = (unsigned)jobs;
    l->zfd = -1;
    return zygote_start(l, e);
}

static void local_close(void *self)
{
    struct local *l = self;
    /* Closing a worker's socket ends it after its job; children run
     * through argv outlive the runner (the interface says close does
     * not cancel); reap the ones that already ended. */
    for (size_t i = 0; i < l->n_workers; i++)
        close(l->workers[i].fd);
    for (size_t i = 0; i < l->n; i++)
        if (l->jobs[i].pid > 0)
            waitpid(l->jobs[i].pid, NULL, WNOHANG);
    if (l->zfd >= 0)
        close(l->zfd);
    if (l->zygote > 0)
        waitpid(l->zygote, NULL, 0);
    H->free(l->workers);
    H->free(l->jobs);
    H->free(l->done);
    l->done = NULL;
    l->done_head = l->done_tail = l->done_cap = 0;
    l->workers = NULL;
    l->jobs = NULL;
    l->n = l->cap = l->n_workers = l->cap_workers = 0;
}

static unsigned local_capacity(void *self)
{
    return ((struct local *)self)->capacity;
}

static struct job *new_job(struct local *l, struct orr_error *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        void *p = H->realloc(l->jobs, cap * sizeof *l->jobs);
        if (!p) {
            H->fail(e, ORR_ENOMEM, "out of memory");
            return NULL;
        }
        l->jobs = p;
        l->cap = cap;
    }
    struct job *j = &l->jobs[l->n];
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "local-%zu", l->n + 1);
    l->n++;
    j->worker = -1;
    j->st.size = sizeof j->st;
    j->st.state = ORR_JOB_PENDING;
    return j;
}

static struct job *find_job(struct local *l, const char *id)
{
    if (strncmp(id, "local-", 6))
        return NULL;
    char *end = NULL;
    unsigned long k = strtoul(id + 6, &end, 10);
    if (!end || *end || k == 0 || k > l->n)
        return NULL;
    return &l->jobs[k - 1];
}

/* Queue a finished job for wait_any (once). */
static void finished(struct local *l, struct job *j)
{
    if (j->reported)
        return;
    j->reported = 1;
    if (j->deadline > 0) {
        j->deadline = 0;
        l->n_deadlines--;
    }
    if (j->argv)
        l->n_argv--;
    if (l->done_tail - l->done_head == l->done_cap) {
        size_t cap = l->done_cap ? l->done_cap * 2 : 64;
        size_t *p = H->calloc(cap, sizeof *p);
        if (!p)
            return;             /* wait_any falls back to a scan          */
        for (size_t k = 0; k < l->done_tail - l->done_head; k++)
            p[k] = l->done[(l->done_head + k) % l->done_cap];
        l->done_tail -= l->done_head;
        l->done_head = 0;
        H->free(l->done);
        l->done = p;
        l->done_cap = cap;
    }
    l->done[l->done_tail++ % l->done_cap] = (size_t)(j - l->jobs);
}

static void set_exit(struct job *j, int status)
{
    j->pid = 0;
    if (j->timed_out) {
        j->st.state = ORR_JOB_TIMEOUT;
        j->st.term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        snprintf(j->st.reason, sizeof j->st.reason, "killed at its time "
                 "limit");
    } else if (j->st.state == ORR_JOB_CANCELLED) {
        j->st.term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    } else if (WIFEXITED(status)) {
        j->st.exit_code = WEXITSTATUS(status);
        j->st.state = j->st.exit_code ? ORR_JOB_FAILED : ORR_JOB_SUCCEEDED;
        if (j->st.exit_code)
            snprintf(j->st.reason, sizeof j->st.reason, "exit code %d",
                     j->st.exit_code);
    } else if (WIFSIGNALED(status)) {
        j->st.term_signal = WTERMSIG(status);
        j->st.state = ORR_JOB_FAILED;
        snprintf(j->st.reason, sizeof j->st.reason, "killed by signal %d",
                 j->st.term_signal);
        if (j->st.term_signal == SIGSEGV || j->st.term_signal == SIGBUS ||
            j->st.term_signal == SIGABRT)
            snprintf(j->st.reason, sizeof j->st.reason, "crashed (signal "
                     "%d, %s)", j->st.term_signal,
                     strsignal(j->st.term_signal));
    }
}

static int has_env(const char *const *envp, const char *kv)
{
    for (size_t i = 0; envp && envp[i]; i++)
        if (!strcmp(envp[i], kv))
            return 1;
    return 0;
}

/* Hand an invoke job to an idle warm worker, or a new one. */
static int dispatch(struct local *l, struct job *j,
                    const struct orr_job_spec *spec, struct orr_error *e)
{
    int isolate = spec->memory_mb > 0 ||
                  has_env(spec->envp, "ORRERY_ISOLATE=1");
    size_t w = l->n_workers;
    if (!isolate)
        for (size_t i = 0; i < l->n_workers && w == l->n_workers; i++)
            if (l->workers[i].job < 0 && !l->workers[i].isolate)
                w = i;
    if (w == l->n_workers) {
        int rc = spawn_worker(l, isolate, spec->memory_mb, &w, e);
        if (rc)
            return rc;
    }
    struct jmsg m = {.job = (uint32_t)(j - l->jobs), .after = NO_JOB,
                     .fn = spec->invoke, .ctx = spec->invoke_ctx};
    if (spec->log_path) {
        size_t n = strlen(spec->log_path);
        if (n >= sizeof m.log_path)
            return H->fail(e, ORR_EINVAL, "log path too long");
        memcpy(m.log_path, spec->log_path, n + 1);
    }
    /* A worker that died while idle shows up here: replace it once. */
    for (int tries = 0; ; tries++) {
        ssize_t n = send_all(l->workers[w].fd, &m, sizeof m);
        if (n == (ssize_t)sizeof m)
            break;
        reap_worker(l, l->workers[w].pid);
        drop_worker(l, w);
        if (tries)
            return H->fail(e, ORR_EIO, "cannot reach a pool worker: %s",
                           strerror(errno));
        int rc = spawn_worker(l, isolate, spec->memory_mb, &w, e);
        if (rc)
            return rc;
    }
    l->workers[w].job = (long)(j - l->jobs);
    j->worker = (int)w;
    j->st.state = ORR_JOB_RUNNING;
    return ORR_OK;
}

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
    setpgid(pid, pid);
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
    j->argv = 1;
    j->st.state = ORR_JOB_RUNNING;
    return ORR_OK;
}

/* A job that follows exactly one running warm-pool job: it is queued on
 * that job's worker, which runs it right after (or answers "not run" if
 * that job failed), with no round trip through the runner.  A chain of
 * steps then runs back to back in one worker while the runner records
 * the previous step.  Anything else with `after` is ORR_EUNSUPPORTED:
 * the runner submits it once its inputs ended. */
static int queue_after(struct local *l, const struct orr_job_spec *spec,
                       char job_id[ORR_JOB_ID_SIZE], struct orr_error *e)
{
    struct job *prev = spec->n_after == 1 ? find_job(l, spec->after[0])
                                          : NULL;
    struct worker *wk = prev && prev->worker >= 0 &&
                        prev->st.state == ORR_JOB_RUNNING
                        ? &l->workers[prev->worker] : NULL;
    if (!spec->invoke || spec->memory_mb || spec->time_limit_s ||
        has_env(spec->envp, "ORRERY_ISOLATE=1") || !wk || wk->isolate ||
        wk->job != (long)(prev - l->jobs) || wk->next >= 0 ||
        prev->deadline > 0)
        return H->fail(e, ORR_EUNSUPPORTED, "local: a job can only follow "
                       "one running pool job (submit it once its inputs "
                       "ended)");
    size_t w = (size_t)prev->worker, p = (size_t)(prev - l->jobs);
    struct job *j = new_job(l, e);
    if (!j)
        return ORR_ENOMEM;
    prev = &l->jobs[p];         /* new_job may move the array            */
    wk = &l->workers[w];
    struct jmsg m = {.job = (uint32_t)(j - l->jobs), .after = (uint32_t)p,
                     .fn = spec->invoke, .ctx = spec->invoke_ctx};
    if (spec->log_path) {
        size_t n = strlen(spec->log_path);
        if (n >= sizeof m.log_path) {
            l->n--;
            return H->fail(e, ORR_EINVAL, "log path too long");
        }
        memcpy(m.log_path, spec->log_path, n + 1);
    }
    if (send_all(wk->fd, &m, sizeof m) != (ssize_t)sizeof m) {
        l->n--;                 /* the worker is gone: its job will say  */
        return H->fail(e, ORR_EUNSUPPORTED, "local: the worker of %s is "
                       "gone", spec->after[0]);
    }
    wk->next = (long)(j - l->jobs);
    j->worker = (int)w;
    snprintf(job_id, ORR_JOB_ID_SIZE, "%s", j->id);
    return ORR_OK;
}

static int local_submit(void *self, const struct orr_job_spec *spec,
                        char job_id[ORR_JOB_ID_SIZE], struct orr_error *e)
{
    struct local *l = self;
    if (spec->size < offsetof(struct orr_job_spec, array_size))
        return H->fail(e, ORR_EINVAL, "job spec too old (size %zu)",
                       spec->size);
    if (spec->array_size > 1)
        return H->fail(e, ORR_EUNSUPPORTED, "local: no job arrays");
    if (spec->n_after > 0)
        return queue_after(l, spec, job_id, e);
    struct job *j = new_job(l, e);
    if (!j)
        return ORR_ENOMEM;
    int rc = spec->invoke ? dispatch(l, j, spec, e) : spawn(j, spec, e);
    if (rc) {
        l->n--;                 /* forget the job that never started      */
        return rc;
    }
    l->n_argv += (size_t)j->argv;
    if (spec->time_limit_s) {
        j->deadline = now_ms() + (double)spec->time_limit_s * 1e3;
        l->n_deadlines++;
    }
    snprintf(job_id, ORR_JOB_ID_SIZE, "%s", j->id);
    return ORR_OK;
}

/* A worker's answer, or its death. */
static void worker_event(struct local *l, size_t w)
{
    struct worker *wk = &l->workers[w];
    struct job *j = wk->job >= 0 ? &l->jobs[wk->job] : NULL;
    struct jreply rep;
    ssize_t r = recv_one(wk->fd, &rep, sizeof rep);
    if (r == (ssize_t)sizeof rep && j && rep.job == (uint32_t)wk->job) {
        j->worker = -1;
        if (j->st.state == ORR_JOB_RUNNING) {
            j->st.state = rep.rc ? ORR_JOB_FAILED : ORR_JOB_SUCCEEDED;
            j->st.exit_code = rep.rc ? 1 : 0;
            if (rep.rc) {
                const char *why = rep.msg[0] ? rep.msg : H->strerror(rep.rc);
                size_t n = strnlen(why, sizeof j->st.reason - 1);
                memcpy(j->st.reason, why, n);
                j->st.reason[n] = '\0';
            }
        }
        wk->job = -1;
        finished(l, j);
        if (!wk->isolate && j->st.state != ORR_JOB_CANCELLED &&
            !j->timed_out) {
            if (wk->next >= 0) {    /* the worker reads it now           */
                wk->job = wk->next;
                wk->next = -1;
                if (l->jobs[wk->job].st.state == ORR_JOB_PENDING)
                    l->jobs[wk->job].st.state = ORR_JOB_RUNNING;
                else            /* cancelled while queued: must not run  */
                    kill(-wk->pid, SIGKILL);
            }
            return;             /* warm again */
        }
        kill(-wk->pid, SIGKILL);
        j = NULL;               /* its state is final already             */
    }
    /* EOF, an error, or an isolated worker that is done: reap it. */
    int status = reap_worker(l, wk->pid);
    if (j && j->worker == (int)w) {
        j->worker = -1;
        if (status < 0) {
            j->st.state = ORR_JOB_LOST;
            snprintf(j->st.reason, sizeof j->st.reason, "worker lost");
        } else {
            set_exit(j, status);
            if (j->st.state == ORR_JOB_SUCCEEDED) {
                /* Exited 0 without answering: os.exit(0) in a step. */
                j->st.state = ORR_JOB_FAILED;
                snprintf(j->st.reason, sizeof j->st.reason, "the step's "
                         "process exited (status 0) before the step "
                         "returned");
            }
        }
        finished(l, j);
    }
    if (wk->next >= 0) {        /* queued behind: never started           */
        struct job *q = &l->jobs[wk->next];
        wk->next = -1;
        q->worker = -1;
        if (q->st.state == ORR_JOB_PENDING || q->st.state == ORR_JOB_RUNNING) {
            q->st.state = ORR_JOB_LOST;
            snprintf(q->st.reason, sizeof q->st.reason, "not run: the "
                     "worker it was queued on ended");
        }
        finished(l, q);
    }
    drop_worker(l, w);
}

static int running_jobs(struct local *l)
{
    size_t n = l->n_argv;
    for (size_t i = 0; i < l->n_workers; i++)
        n += l->workers[i].job >= 0;
    return n > 0;
}

/* Wait up to timeout_ms (-1: forever, 0: just look) for worker events
 * and argv children; enforce deadlines. */
static void pump(struct local *l, int timeout_ms)
{
    double t_end = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
    for (;;) {
        double now = now_ms(), next = 0;
        int any_argv = 0;
        for (size_t i = 0; (l->n_argv || l->n_deadlines) && i < l->n; i++) {
            struct job *j = &l->jobs[i];
            if (j->st.state != ORR_JOB_RUNNING && j->pid <= 0)
                continue;
            if (j->pid > 0) {
                any_argv = 1;
                int status;
                pid_t r = waitpid(j->pid, &status, WNOHANG);
                if (r == j->pid) {
                    set_exit(j, status);
                    finished(l, j);
                    return;
                }
            }
            if (j->deadline > 0 && !j->timed_out) {
                if (now >= j->deadline) {
                    j->timed_out = 1;
                    pid_t pg = j->pid > 0 ? j->pid :
                               j->worker >= 0 ? l->workers[j->worker].pid : 0;
                    if (pg > 0)
                        kill(-pg, SIGKILL);
                } else if (!next || j->deadline < next) {
                    next = j->deadline;
                }
            }
        }
        struct pollfd fds[256];
        size_t idx[256], nf = 0;
        for (size_t i = 0; i < l->n_workers && nf < 256; i++)
            if (l->workers[i].job >= 0) {
                fds[nf].fd = l->workers[i].fd;
                fds[nf].events = POLLIN;
                idx[nf++] = i;
            }
        int wait = -1;
        if (next)
            wait = (int)(next - now) + 1;
        if (timeout_ms >= 0) {
            int left = (int)(t_end - now);
            if (left < 0)
                left = 0;
            wait = wait < 0 || left < wait ? left : wait;
        }
        if (any_argv && (wait < 0 || wait > 5))
            wait = 5;           /* argv children: reaped by polling       */
        if (!nf && !any_argv && !next)
            return;
        int r = poll(fds, nf, wait);
        if (r > 0) {
            /* Highest index first: drop_worker moves the last worker. */
            for (size_t k = nf; k-- > 0;)
                if (fds[k].revents)
                    worker_event(l, idx[k]);
            return;
        }
        if (r < 0 && errno == EINTR)
            return;             /* a signal: let the runner look         */
        if (timeout_ms >= 0 && now_ms() >= t_end)
            return;
    }
}

static int local_poll(void *self, const char *job_id,
                      struct orr_job_status *st, struct orr_error *e)
{
    struct local *l = self;
    struct job *j = find_job(l, job_id);
    if (!j)
        return H->fail(e, ORR_ENOTFOUND, "no job %s", job_id);
    if (j->st.state == ORR_JOB_RUNNING)
        pump(l, 0);
    size_t n = st->size && st->size < sizeof *st ? st->size : sizeof *st;
    memcpy(st, &j->st, n);
    st->size = n;
    return ORR_OK;
}

/* How long a cancelled job gets between SIGTERM and SIGKILL: a step
 * stopped by SIGTERM still flushes what it logged. */
#define CANCEL_GRACE_MS 3000

static int local_cancel(void *self, const char *job_id, struct orr_error *e)
{
    struct local *l = self;
    struct job *j = find_job(l, job_id);
    if (!j)
        return H->fail(e, ORR_ENOTFOUND, "no job %s", job_id);
    if (j->st.state != ORR_JOB_RUNNING && j->st.state != ORR_JOB_PENDING)
        return ORR_OK;
    if (j->worker >= 0 &&
        l->workers[j->worker].next == (long)(j - l->jobs)) {
        /* Queued behind the worker's job, not started: that job runs on;
         * this one is killed with the worker if it comes to start. */
        j->st.state = ORR_JOB_CANCELLED;
        snprintf(j->st.reason, sizeof j->st.reason, "cancelled");
        finished(l, j);
        return ORR_OK;
    }
    pid_t pg = j->pid > 0 ? j->pid :
               j->worker >= 0 ? l->workers[j->worker].pid : 0;
    j->st.state = ORR_JOB_CANCELLED;
    snprintf(j->st.reason, sizeof j->st.reason, "cancelled");
    if (pg <= 0)
        return ORR_OK;
    if (kill(-pg, SIGTERM) && errno != ESRCH)
        return H->fail(e, ORR_EIO, "kill %s: %s", job_id, strerror(errno));
    /* Wait (bounded) for it to stop, then make sure; reap it, so nothing
     * of the job runs once cancel returns. */
    double end = now_ms() + CANCEL_GRACE_MS;
    if (j->worker >= 0) {
        struct pollfd p = {.fd = l->workers[j->worker].fd, .events = POLLIN};
        while (poll(&p, 1, (int)(end - now_ms()) + 1) < 0 && errno == EINTR)
            ;
        kill(-pg, SIGKILL);
        worker_event(l, (size_t)j->worker);
        return ORR_OK;
    }
    int status = 0;
    pid_t r = 0;
    while ((r = waitpid(j->pid, &status, WNOHANG)) == 0 && now_ms() < end) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (r == 0) {
        kill(-pg, SIGKILL);
        r = waitpid(j->pid, &status, 0);
    }
    if (r == j->pid)
        set_exit(j, status);
    j->pid = 0;
    finished(l, j);
    return ORR_OK;
}

static int local_wait_any(void *self, int timeout_ms,
                          char job_id[ORR_JOB_ID_SIZE], struct orr_error *e)
{
    struct local *l = self;
    (void)e;
    job_id[0] = '\0';
    for (int round = 0; ; round++) {
        if (l->done_head != l->done_tail) {
            size_t k = l->done[l->done_head++ % l->done_cap];
            snprintf(job_id, ORR_JOB_ID_SIZE, "%s", l->jobs[k].id);
            return ORR_OK;
        }
        if (round > 0 || !running_jobs(l))
            return ORR_OK;
        pump(l, timeout_ms);
    }
}

static const struct orr_orchestrator_ops local_ops = {
    .version = ORR_ORCHESTRATOR_OPS_V1,
    .name = "local",
    .summary = "steps on this machine (a pool of warm worker processes)",
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

ORR_PLUGIN("orchestrator-local", "0.2.0", "Apache-2.0",
           "Run workflow steps on this machine", local_init, NULL)
