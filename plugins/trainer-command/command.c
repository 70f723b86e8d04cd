/*
 * trainer-command - train with any external program (a Python script, R,
 * a binary) through the protocol documented in docs/training.md:
 *
 *   inputs   ORRERY_TRAIN (CSV with a header), ORRERY_VALID (when a
 *            validation set is given), ORRERY_PARAMS (the params as JSON),
 *            ORRERY_TARGET, ORRERY_SEED, ORRERY_THREADS;
 *   outputs  files written into ORRERY_OUT, which become the model, and
 *            ORRERY_OUT/orrery-model.json naming the flavor they are in
 *            ({"flavor": "linear", "task": "binary"});
 *   metrics  JSON lines {"key": .., "value": .., "step": ..} written to
 *            the file descriptor ORRERY_METRICS_FD, logged as they come;
 *   logs     the program's stdout and stderr go to the step's stderr (the
 *            step log); the last lines are quoted in the error of a fit
 *            that fails.
 *
 * The program is run without a shell: `command` is an array of arguments
 * (posix_spawnp searches PATH for the first).  The plugin has no runtime:
 * the flavor the program names serves the model.
 */
#define _GNU_SOURCE     /* pipe2, posix_spawn_file_actions_addchdir_np */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <jansson.h>

#include <orrery/host.h>
#include <orrery/plugin.h>

#define WHO "command"
#define MANIFEST "orrery-model.json"
#define METRICS_FD 3
#define MAX_ARGS 256
#define MAX_LINE 65536
#define TAIL 2048

extern char **environ;

static const struct orr_host *H;

/* --- params as JSON ----------------------------------------------------- */

/* cfg values come as text: numbers and booleans are given back their
 * JSON type, everything else is a string. */
static json_t *scalar(const char *v)
{
    if (!strcmp(v, "true"))
        return json_true();
    if (!strcmp(v, "false"))
        return json_false();
    char *end;
    double d = strtod(v, &end);
    if (*v && !*end && isfinite(d) && !strchr(v, 'x') && !strchr(v, 'X') &&
        !strchr(v, 'n') && !strchr(v, 'N') && !strchr(v, 'i') &&
        !strchr(v, 'I')) {
        if (!strpbrk(v, ".eE") && fabs(d) < 9e15)
            return json_integer((json_int_t)strtoll(v, NULL, 10));
        return json_real(d);
    }
    return json_string(v);
}

struct tojson {
    const struct orr_cfg *cfg;
    json_t               *obj;
    int                   depth;
};

static json_t *cfg_json(const struct orr_cfg *cfg, int depth);

static int add_key(void *ctx, const char *key, const char *value)
{
    struct tojson *t = ctx;
    json_t *v = value ? scalar(value) :
                cfg_json(H->cfg_child(t->cfg, key), t->depth + 1);
    if (!v || json_object_set_new(t->obj, key, v))
        return 1;
    return 0;
}

/* A table whose keys are exactly 1..n becomes an array. */
static json_t *cfg_json(const struct orr_cfg *cfg, int depth)
{
    if (depth > 16)
        return NULL;
    struct tojson t = {cfg, json_object(), depth};
    if (!t.obj || H->cfg_each(cfg, add_key, &t)) {
        json_decref(t.obj);
        return NULL;
    }
    size_t n = json_object_size(t.obj);
    for (size_t i = 1; i <= n; i++) {
        char k[24];
        snprintf(k, sizeof k, "%zu", i);
        if (!json_object_get(t.obj, k))
            return t.obj;
    }
    if (!n)
        return t.obj;
    json_t *a = json_array();
    for (size_t i = 1; a && i <= n; i++) {
        char k[24];
        snprintf(k, sizeof k, "%zu", i);
        json_array_append(a, json_object_get(t.obj, k));
    }
    json_decref(t.obj);
    return a;
}

/* --- CSV ------------------------------------------------------------------ */

static void put_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' &&
        (!*s || s[strlen(s) - 1] != ' ')) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_csv(const struct orr_table *t, const char *path,
                     struct orr_error *e)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return H->fail(e, ORR_EIO, "cannot write %s: %s", path,
                       strerror(errno));
    for (size_t c = 0; c < t->cols; c++) {
        if (c)
            fputc(',', f);
        put_field(f, t->columns[c].name);
    }
    fputc('\n', f);
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->cols; c++) {
            const struct orr_column *col = &t->columns[c];
            if (c)
                fputc(',', f);
            if (col->missing && col->missing[r])
                continue;       /* empty field: missing */
            switch (col->type) {
            case ORR_COL_F64: {
                double v = ((const double *)col->data)[r];
                if (!isnan(v))
                    fprintf(f, "%.17g", v);
                break;
            }
            case ORR_COL_F32: {
                float v = ((const float *)col->data)[r];
                if (!isnan(v))
                    fprintf(f, "%.9g", (double)v);
                break;
            }
            case ORR_COL_I64:
            case ORR_COL_TIME:
                fprintf(f, "%lld",
                        (long long)((const int64_t *)col->data)[r]);
                break;
            case ORR_COL_CATEGORY: {
                int32_t code = ((const int32_t *)col->data)[r];
                if (code >= 0 && (size_t)code < col->dict_len)
                    put_field(f, col->dict[code]);
                break;
            }
            }
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) || bad)
        return H->fail(e, ORR_EIO, "cannot write %s", path);
    return ORR_OK;
}

/* --- running the program ------------------------------------------------ */

struct metrics {
    struct orr_run *run;
    char           *line;       /* partial line                           */
    size_t          len;
    size_t          n_lines, n_bad, n_ok;
    size_t          first_bad;  /* line number                            */
    char            bad_text[120];
    int             overlong;
};

static void metric_line(struct metrics *m, const char *s)
{
    m->n_lines++;
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    if (!*s)
        return;                 /* blank lines are allowed */
    json_error_t je;
    json_t *o = json_loads(s, 0, &je);
    const char *key = json_string_value(json_object_get(o, "key"));
    json_t *v = json_object_get(o, "value"), *st = json_object_get(o,
                                                                   "step");
    int ok = key && *key && json_is_number(v) &&
             (!st || json_is_integer(st));
    if (ok) {
        struct orr_error le = {0};
        ok = H->log_metric(m->run, key, json_number_value(v),
                           st ? (int64_t)json_integer_value(st) : 0,
                           &le) == ORR_OK;
    }
    json_decref(o);
    if (ok) {
        m->n_ok++;
        return;
    }
    if (!m->n_bad++) {
        m->first_bad = m->n_lines;
        size_t n = strcspn(s, "\r\n");
        if (n >= sizeof m->bad_text)
            n = sizeof m->bad_text - 1;
        memcpy(m->bad_text, s, n);
        m->bad_text[n] = '\0';
    }
}

static void metric_bytes(struct metrics *m, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (m->overlong) {
                m->n_lines++;
                if (!m->n_bad++) {
                    m->first_bad = m->n_lines;
                    snprintf(m->bad_text, sizeof m->bad_text,
                             "(a line over %d bytes)", MAX_LINE);
                }
                m->overlong = 0;
            } else {
                m->line[m->len] = '\0';
                metric_line(m, m->line);
            }
            m->len = 0;
        } else if (m->len + 1 < MAX_LINE) {
            m->line[m->len++] = buf[i];
        } else {
            m->overlong = 1;
        }
    }
}

/* The last TAIL bytes of the program's output, for error messages. */
struct tail {
    char   buf[TAIL];
    size_t len;
};

static void tail_add(struct tail *t, const char *s, size_t n)
{
    if (n >= TAIL) {
        memcpy(t->buf, s + n - TAIL, TAIL);
        t->len = TAIL;
        return;
    }
    if (t->len + n > TAIL) {
        size_t drop = t->len + n - TAIL;
        memmove(t->buf, t->buf + drop, t->len - drop);
        t->len -= drop;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

/* The last non-empty line of the output, for the error message. */
static void tail_last(const struct tail *t, char *out, size_t cap)
{
    size_t end = t->len;
    while (end && (t->buf[end - 1] == '\n' || t->buf[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start && t->buf[start - 1] != '\n')
        start--;
    size_t n = end - start;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, t->buf + start, n);
    out[n] = '\0';
}

static int put_env(char **env, size_t *n, const char *key, const char *val)
{
    size_t len = strlen(key) + strlen(val) + 2;
    char *s = malloc(len);
    if (!s)
        return -1;
    snprintf(s, len, "%s=%s", key, val);
    env[(*n)++] = s;
    return 0;
}

static int is_ours(const char *kv)
{
    return !strncmp(kv, "ORRERY_TRAIN=", 13) ||
           !strncmp(kv, "ORRERY_VALID=", 13) ||
           !strncmp(kv, "ORRERY_PARAMS=", 14) ||
           !strncmp(kv, "ORRERY_OUT=", 11) ||
           !strncmp(kv, "ORRERY_METRICS_FD=", 18) ||
           !strncmp(kv, "ORRERY_TARGET=", 14) ||
           !strncmp(kv, "ORRERY_SEED=", 12) ||
           !strncmp(kv, "ORRERY_THREADS=", 15);
}

struct child {
    char      **argv;
    size_t      argc;
    char      **env;
    size_t      envc;
    const char *cwd;
};

static void child_free(struct child *c)
{
    for (size_t i = 0; c->argv && i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    for (size_t i = 0; c->env && i < c->envc; i++)
        free(c->env[i]);
    free(c->env);
}

/* Spawn, stream its output and metrics until both pipes close, reap. */
static int run_child(const struct child *c, struct metrics *m,
                     struct tail *t, int *status, struct orr_error *e)
{
    int mp[2] = {-1, -1}, op[2] = {-1, -1}, rc = ORR_OK;
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    int have_fa = 0;
    if (pipe2(mp, O_CLOEXEC) || pipe2(op, O_CLOEXEC)) {
        rc = H->fail(e, ORR_EIO, "pipe: %s", strerror(errno));
        goto done;
    }
    /* The write end must not already be METRICS_FD: dup2 onto itself
     * would keep its close-on-exec flag. */
    if (mp[1] == METRICS_FD) {
        int fd = fcntl(mp[1], F_DUPFD_CLOEXEC, 10);
        if (fd < 0) {
            rc = H->fail(e, ORR_EIO, "fcntl: %s", strerror(errno));
            goto done;
        }
        close(mp[1]);
        mp[1] = fd;
    }
    if (posix_spawn_file_actions_init(&fa)) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto done;
    }
    have_fa = 1;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, op[1], 1);
    posix_spawn_file_actions_adddup2(&fa, op[1], 2);
    posix_spawn_file_actions_adddup2(&fa, mp[1], METRICS_FD);
    if (c->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, c->cwd);
    int err = posix_spawnp(&pid, c->argv[0], &fa, NULL, c->argv, c->env);
    if (err) {
        pid = -1;
        rc = H->fail(e, err == ENOENT ? ORR_ENOTFOUND : ORR_EIO,
                     "cannot run '%s'%s%s: %s", c->argv[0],
                     c->cwd ? " in " : "", c->cwd ? c->cwd : "",
                     strerror(err));
        goto done;
    }
    close(mp[1]);
    close(op[1]);
    mp[1] = op[1] = -1;
    struct pollfd pf[2] = {{op[0], POLLIN, 0}, {mp[0], POLLIN, 0}};
    char buf[8192];
    while (pf[0].fd >= 0 || pf[1].fd >= 0) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            ssize_t n = read(pf[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                pf[i].fd = -1;      /* closed below, with its pipe */
                continue;
            }
            if (i == 0) {
                tail_add(t, buf, (size_t)n);
                /* To the step log; a short write loses only log text. */
                if (write(2, buf, (size_t)n) < 0)
                    (void)0;
            } else {
                metric_bytes(m, buf, (size_t)n);
            }
        }
    }
    if (m->len && !m->overlong) {
        m->line[m->len] = '\0';
        metric_line(m, m->line);
        m->len = 0;
    }
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) {
            rc = H->fail(e, ORR_EIO, "waitpid: %s", strerror(errno));
            break;
        }
done:
    if (have_fa)
        posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        if (mp[i] >= 0)
            close(mp[i]);
        if (op[i] >= 0)
            close(op[i]);
    }
    return rc;
}

/* --- the manifest and the outputs ---------------------------------------- */

static int read_manifest(const char *dir, struct orr_fit_result *res,
                         struct orr_error *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, MANIFEST);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return H->fail(e, ORR_EINVAL, "the program wrote no valid "
                       "ORRERY_OUT/%s naming the model's flavor (%s)",
                       MANIFEST, je.text);
    int rc = ORR_OK;
    const char *flavor = json_string_value(json_object_get(root, "flavor"));
    const char *task = json_string_value(json_object_get(root, "task"));
    size_t n = flavor ? strlen(flavor) : 0;
    if (!n || n >= sizeof res->flavor ||
        strspn(flavor, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
        rc = H->fail(e, ORR_EINVAL, "ORRERY_OUT/%s: \"flavor\" must be a "
                     "runtime name like \"linear\" (got %s)", MANIFEST,
                     flavor ? flavor : "none");
        goto done;
    }
    memcpy(res->flavor, flavor, n + 1);
    if (!task || !strcmp(task, "binary"))
        res->task = ORR_TASK_BINARY;
    else if (!strcmp(task, "multiclass"))
        res->task = ORR_TASK_MULTICLASS;
    else if (!strcmp(task, "regression"))
        res->task = ORR_TASK_REGRESSION;
    else
        rc = H->fail(e, ORR_EINVAL, "ORRERY_OUT/%s: \"task\" must be "
                     "\"binary\", \"multiclass\" or \"regression\" (got "
                     "\"%s\")", MANIFEST, task);
    if (!task && !rc)
        rc = H->fail(e, ORR_EINVAL, "ORRERY_OUT/%s: no \"task\" (\"binary\","
                     " \"multiclass\" or \"regression\")", MANIFEST);
    json_int_t nf = json_integer_value(json_object_get(root, "n_features"));
    res->n_features = nf > 0 ? (size_t)nf : 0;
done:
    json_decref(root);
    /* The core writes its own manifest under this name. */
    if (!rc && unlink(path))
        rc = H->fail(e, ORR_EIO, "cannot remove %s: %s", path,
                     strerror(errno));
    return rc;
}

/* The model is the directory's regular files: nothing else is allowed. */
static int check_out(const char *dir, struct orr_error *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return H->fail(e, ORR_EIO, "ORRERY_OUT %s: %s", dir, strerror(errno));
    int rc = ORR_OK;
    size_t files = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char path[4400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lstat(path, &st) || !S_ISREG(st.st_mode))
            rc = H->fail(e, ORR_EINVAL, "ORRERY_OUT may hold only regular "
                         "files; '%s' is not one", de->d_name);
        files++;
    }
    closedir(d);
    if (!rc && !files)
        rc = H->fail(e, ORR_EINVAL, "the program wrote nothing into "
                     "ORRERY_OUT");
    return rc;
}

/* --- fit ------------------------------------------------------------------ */

struct trainer { int unused; };

static int t_open(void *self, const struct orr_cfg *cfg, struct orr_error *e)
{
    (void)self;
    (void)cfg;
    (void)e;
    return ORR_OK;
}

static void t_close(void *self)
{
    (void)self;
}

static void remove_work(const char *dir)
{
    static const char *const names[] = {"train.csv", "valid.csv",
                                        "params.json"};
    char path[4200];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static int t_fit(void *self, const struct orr_fit_request *req,
                 struct orr_fit_result *res, struct orr_error *e)
{
    (void)self;
    const struct orr_cfg *p = req->params;
    const struct orr_table *t = req->train;
    if (!t || t->target == ORR_NO_TARGET || t->target >= t->cols)
        return H->fail(e, ORR_EINVAL, "the training data has no target "
                       "column");
    const struct orr_cfg *cmd = H->cfg_child(p, "command");
    if (!cmd)
        return H->fail(e, ORR_EINVAL, "param 'command' must be an array "
                       "of arguments, like command = {\"python3\", "
                       "\"train.py\"} (it is run without a shell)");
    const char *bad_metrics = H->cfg_str(p, "bad_metrics", "fail");
    if (strcmp(bad_metrics, "fail") && strcmp(bad_metrics, "warn"))
        return H->fail(e, ORR_EINVAL, "param 'bad_metrics' must be "
                       "\"fail\" or \"warn\" (got \"%s\")", bad_metrics);
    struct child c = {.cwd = H->cfg_str(p, "cwd", NULL)};
    struct metrics m = {.run = req->run};
    struct tail tl = {.len = 0};
    char work[4096] = "", path[4200];
    int rc = ORR_OK, status = 0, have_work = 0;
    json_t *pj = NULL;
    c.argv = calloc(MAX_ARGS + 1, sizeof *c.argv);
    m.line = malloc(MAX_LINE);
    if (!c.argv || !m.line) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 1; i <= MAX_ARGS; i++) {
        char k[24];
        snprintf(k, sizeof k, "%zu", i);
        const char *a = H->cfg_str(cmd, k, NULL);
        if (!a)
            break;
        if (!(c.argv[c.argc] = strdup(a))) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto done;
        }
        c.argc++;
    }
    if (!c.argc || !c.argv[0][0]) {
        rc = H->fail(e, ORR_EINVAL, "param 'command' must be a non-empty "
                     "array of arguments, like {\"python3\", \"train.py\"}");
        goto done;
    }
    /* Inputs in a private working directory. */
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/orrery-cmd-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) {
        rc = H->fail(e, ORR_EIO, "mkdtemp %s: %s", work, strerror(errno));
        goto done;
    }
    have_work = 1;
    size_t ne = 0;
    for (char **v = environ; *v; v++)
        ne++;
    c.env = calloc(ne + 10, sizeof *c.env);
    if (!c.env) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto done;
    }
    for (char **v = environ; *v; v++)
        if (!is_ours(*v) && !(c.env[c.envc++] = strdup(*v))) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto done;
        }
    snprintf(path, sizeof path, "%s/train.csv", work);
    if ((rc = write_csv(t, path, e)) || put_env(c.env, &c.envc,
                                                "ORRERY_TRAIN", path))
        goto done;
    if (req->valid) {
        snprintf(path, sizeof path, "%s/valid.csv", work);
        if ((rc = write_csv(req->valid, path, e)) ||
            put_env(c.env, &c.envc, "ORRERY_VALID", path))
            goto done;
    }
    snprintf(path, sizeof path, "%s/params.json", work);
    pj = cfg_json(p, 0);
    if (!pj || json_dump_file(pj, path, JSON_INDENT(1) | JSON_SORT_KEYS)) {
        rc = H->fail(e, ORR_EIO, "cannot write %s", path);
        goto done;
    }
    char num[32];
    if (put_env(c.env, &c.envc, "ORRERY_PARAMS", path) ||
        put_env(c.env, &c.envc, "ORRERY_OUT", req->out_dir) ||
        put_env(c.env, &c.envc, "ORRERY_TARGET",
                t->columns[t->target].name)) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(num, sizeof num, "%d", METRICS_FD);
    put_env(c.env, &c.envc, "ORRERY_METRICS_FD", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)req->seed);
    put_env(c.env, &c.envc, "ORRERY_SEED", num);
    snprintf(num, sizeof num, "%u", req->threads ? req->threads : 1);
    put_env(c.env, &c.envc, "ORRERY_THREADS", num);
    for (size_t i = 0; i < c.envc; i++)
        if (!c.env[i]) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto done;
        }
    H->log(ORR_LOG_INFO, WHO, "running %s (%zu argument%s)", c.argv[0],
           c.argc - 1, c.argc == 2 ? "" : "s");
    if ((rc = run_child(&c, &m, &tl, &status, e)))
        goto done;
    char last[300];
    tail_last(&tl, last, sizeof last);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        rc = H->fail(e, ORR_EBACKEND, "'%s' was killed by signal %d (%s)%s%s",
                     c.argv[0], sig, strsignal(sig), last[0] ? ": " : "",
                     last);
        goto done;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        rc = H->fail(e, ORR_EBACKEND, "'%s' exited with status %d%s%s",
                     c.argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                     last[0] ? ": " : "", last);
        goto done;
    }
    if (m.n_bad) {
        if (!strcmp(bad_metrics, "fail")) {
            rc = H->fail(e, ORR_EINVAL, "%zu malformed metric line%s on "
                         "ORRERY_METRICS_FD; line %zu: %s (want {\"key\": "
                         "\"..\", \"value\": number, \"step\": integer})",
                         m.n_bad, m.n_bad == 1 ? "" : "s", m.first_bad,
                         m.bad_text);
            goto done;
        }
        H->log(ORR_LOG_WARN, WHO, "ignored %zu malformed metric line%s; "
               "line %zu: %s", m.n_bad, m.n_bad == 1 ? "" : "s",
               m.first_bad, m.bad_text);
    }
    if ((rc = check_out(req->out_dir, e)) ||
        (rc = read_manifest(req->out_dir, res, e)))
        goto done;
    H->log(ORR_LOG_INFO, WHO, "'%s' wrote a %s model (%zu metric%s)",
           c.argv[0], res->flavor, m.n_ok, m.n_ok == 1 ? "" : "s");
done:
    json_decref(pj);
    if (have_work)
        remove_work(work);
    child_free(&c);
    free(m.line);
    return rc;
}

static const struct orr_trainer_ops ops = {
    .version = ORR_TRAINER_OPS_V1,
    .name = "command",
    .summary = "any external program, through files, env vars and a "
               "metrics fd",
    .self_size = sizeof(struct trainer),
    .open = t_open,
    .close = t_close,
    .fit = t_fit,
    .flavor = NULL,             /* the program's model names its flavor */
};

static int init(const struct orr_host *host, struct orr_registry *reg,
                struct orr_error *e)
{
    H = host;
    return host->add_trainer(reg, &ops, e);
}

static void fini(void)
{
}

ORR_PLUGIN("trainer-command", "0.1.0", "Apache-2.0",
           "train with an external program (documented protocol)", init,
           fini)
