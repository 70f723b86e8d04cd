/*
 * runner/runner.c - load a workflow file, check its DAG, run its steps
 * through the site's orchestrator, record the run.
 *
 * The runner decides what runs when; it never runs step code itself.
 * Order of events (why it matters is in docs/orchestration.md):
 *   1. load the workflow, check the DAG, merge params (no database yet);
 *   2. map the shared step slots, open the orchestrator: the local backend
 *      forks its worker pool's zygote here, so workers hold the loaded
 *      workflow and no SQLite connection;
 *   3. open storage, the metadata store and the orchestration store;
 *      record the run (or reopen it for --resume);
 *   4. schedule: steps whose inputs succeeded are looked up in the step
 *      cache, else handed to the orchestrator; step rows and lineage
 *      events are written in one transaction per scheduling round.
 * Values travel between steps as JSON blobs in storage; what a worker
 * produces (output digest, error text, artifacts it stored, plugin
 * versions) comes back through its step's slot in shared memory.
 */
#include "runner/runner.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <lauxlib.h>

#include "core.h"
#include "lua/lua_runtime.h"
#include "meta/run_handle.h"
#include "plugin/registry.h"
#include "runner/orch_internal.h"
#include "runner/provenance.h"
#include "storage/artifacts.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/path.h"

/* Largest step value (JSON) a consumer step reads back. */
#define VALUE_MAX ((size_t)1 << 30)
/* Largest workflow file. */
#define SCRIPT_MAX ((size_t)16 << 20)
/* Artifacts a worker reports back per step (for the report only: all of
 * them are recorded in the metadata store by the worker itself). */
#define SLOT_ARTIFACTS 4
/* Default retry backoff: first wait and cap, in seconds. */
#define BACKOFF_S     1.0
#define BACKOFF_MAX_S 300.0

struct slot_art {
    char     digest[ORR_DIGEST_HEX_LEN + 1];
    char     name[64];
    char     kind[24];
    uint64_t size;
};

/* What a worker writes back about its step (shared memory). */
struct slot {
    char     output[ORR_DIGEST_HEX_LEN + 1];
    uint64_t output_size;
    int64_t  step_id;
    int      failed;                /* 1: error holds the message         */
    char     error[512];
    char     plugins[384];
    uint32_t n_artifacts;
    struct slot_art art[SLOT_ARTIFACTS];
    char     metrics[ORR_DIGEST_HEX_LEN + 1]; /* what it logged, or ""   */
    uint64_t metrics_size;
    /* A job submitted before its input ended (queued behind it in the
     * same worker): the worker looks it up in the step cache first. */
    int      lookup;                /* set by the runner                  */
    double   t_begin;               /* monotonic ms the worker began it   */
    int      cached;                /* the worker found a hit:            */
    int64_t  hit_step;              /*   the execution it reuses          */
    char     hit_run[ORR_RUN_ID_SIZE];
};

struct shared {
    char        run_id[ORR_RUN_ID_SIZE];
    struct slot slots[];
};

enum sstate { S_WAIT = 0, S_READY, S_RUNNING, S_BACKOFF, S_DONE };

struct sopts {
    unsigned cpus, gpus, retries;
    uint64_t memory_mb;
    double   time_s, timeout_s, backoff_s, backoff_max_s;
    int      cache, isolate;
};

struct step {
    struct orr_step_report *rep;
    size_t                 *inputs;
    size_t                  n_inputs;
    size_t                 *deps;       /* steps taking this one as input */
    size_t                  n_deps;
    size_t                  waiting;    /* inputs not yet succeeded       */
    enum sstate             state;
    int64_t                 step_id;
    char                    job_id[ORR_JOB_ID_SIZE];
    double                  t0, t_first, retry_at;
    char                    key[ORR_DIGEST_HEX_LEN + 1];
    char                    log_path[4096];
    struct sopts            o;
    int                     early;      /* submitted before its inputs
                                           ended (Slurm afterok)           */
    int                     reserved;   /* its row is begun, not submitted */
    int                     array;      /* one task of an array job        */
    int                     no_early;   /* the backend would not take it
                                           before its inputs ended         */
    int64_t                 hit_step;   /* cache hit: the execution reused */
    char                    hit_run[ORR_RUN_ID_SIZE];
};

struct runner;

struct job {
    struct runner *r;
    size_t         i;
};

struct runner {
    struct orr_core       *core;
    lua_State             *L;
    struct orri_lua_rt     rt;
    int                    wf_idx;      /* stack index of the workflow     */
    int                    params_idx;  /* stack index of merged params    */
    struct orr_meta       *meta;
    struct orr_instance   *st;
    struct orr_instance   *orch;
    struct orri_ostore    *os;
    struct orr_run         run;
    struct orr_run_report *rep;
    const struct orr_run_options *opt;
    struct step           *steps;
    struct job            *jobs;
    size_t                 n;
    size_t                *order;
    size_t                *ready;       /* FIFO of steps to start          */
    size_t                 ready_head, ready_tail;
    size_t                *dep_pool;
    struct shared         *sh;
    size_t                 sh_size;
    int                    sh_mapped;
    size_t                 current;
    char                  *script_text;
    size_t                 script_len;
    char                   script_dir[4096];
    char                   log_dir[3900];
    struct orr_buf         chunkname;
    char                  *params_json;
    size_t                 params_len;
    char                   first_error[1024];   /* truncated into e */
    int                    first_code;
    int                    cancelled;
    int                    plugins_all_loaded;
    pid_t                  runner_pid;
    size_t                 running;
    size_t                *live;        /* the running steps (`running`)   */
    size_t                 n_backoff;
    int64_t                adopt_step_id; /* orrery step: the runner's row */
    int                    no_after;    /* the backend has no `after`      */
    int                    no_array;    /* nor job arrays                   */
    int                    inproc;      /* the embedded pool (local) runs
                                           jobs from copies of this process */
    size_t                 scan0;       /* r->order before it: all done    */
    size_t                *relog;       /* cache hits whose metrics and
                                           params go into this run        */
    size_t                 n_relog;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

ORR_API const char *orr_step_status_name(enum orr_step_status s)
{
    switch (s) {
    case ORR_STEP_PENDING:   return "pending";
    case ORR_STEP_SUCCEEDED: return "succeeded";
    case ORR_STEP_FAILED:    return "failed";
    case ORR_STEP_SKIPPED:   return "skipped";
    case ORR_STEP_RUNNING:   return "running";
    case ORR_STEP_CANCELLED: return "cancelled";
    }
    return "?";
}

enum orri_param_type orri_param_classify(const char *text)
{
    if (!strcmp(text, "true") || !strcmp(text, "false"))
        return ORRI_PARAM_BOOLEAN;
    char *end = NULL;
    errno = 0;
    (void)strtoll(text, &end, 10);
    if (*text && end && !*end && errno == 0 && text[0] != ' ')
        return ORRI_PARAM_INTEGER;
    errno = 0;
    double d = strtod(text, &end);
    (void)d;
    /* strtod accepts "nan", "inf" and hex: only plain decimal numbers. */
    if (*text && end && !*end && errno == 0 &&
        strspn(text, "0123456789+-.eE") == strlen(text))
        return ORRI_PARAM_NUMBER;
    return ORRI_PARAM_STRING;
}

ORR_API void orr_run_report_free(struct orr_run_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_steps; i++) {
        struct orr_step_report *s = &r->steps[i];
        free(s->name);
        free(s->error);
        free(s->skipped_because);
        for (size_t k = 0; k < s->n_artifacts; k++) {
            free(s->artifacts[k].name);
            free(s->artifacts[k].kind);
        }
        free(s->artifacts);
    }
    free(r->steps);
    free(r->workflow);
    free(r->script);
    free(r->orchestrator);
    free(r);
}

static void note_failure(struct runner *r, size_t i, int code,
                         const char *msg)
{
    struct orr_step_report *s = r->steps[i].rep;
    free(s->error);
    s->error = strdup(msg);
    if (!r->first_code) {
        r->first_code = code ? code : ORR_ESCRIPT;
        int n = snprintf(r->first_error, sizeof r->first_error,
                         "step '%s' failed: %s", s->name, msg);
        /* A longer message is cut (the step's row keeps it whole):
         * say so. */
        if (n >= (int)sizeof r->first_error)
            memcpy(r->first_error + sizeof r->first_error - 4, "...", 4);
    }
}

static void run_failure(struct runner *r, int code, const char *msg)
{
    if (!r->first_code) {
        r->first_code = code ? code : ORR_EIO;
        snprintf(r->first_error, sizeof r->first_error, "%s", msg);
    }
}

/* In a worker: keep what ctx:store stored for the runner's report. */
static void on_artifact(void *ud, const char *digest, const char *name,
                        const char *kind, uint64_t size)
{
    struct runner *r = ud;
    struct slot *sl = &r->sh->slots[r->current];
    if (sl->n_artifacts < SLOT_ARTIFACTS) {
        struct slot_art *a = &sl->art[sl->n_artifacts];
        snprintf(a->digest, sizeof a->digest, "%s", digest);
        snprintf(a->name, sizeof a->name, "%s", name);
        snprintf(a->kind, sizeof a->kind, "%s", kind);
        a->size = size;
    }
    sl->n_artifacts++;
}

/* Read the whole workflow file (it is hashed and kept as an artifact). */
static int read_script(struct runner *r, const char *path,
                       struct orr_error *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return orr_fail(e, errno == ENOENT ? ORR_ENOTFOUND : ORR_EIO,
                        "cannot open workflow %s: %s", path, strerror(errno));
    struct orr_buf b = ORR_BUF_INIT;
    char chunk[8192];
    size_t n;
    int rc = ORR_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > SCRIPT_MAX) {
            rc = orr_fail(e, ORR_EINVAL, "workflow %s is larger than %zu "
                          "bytes", path, SCRIPT_MAX);
            break;
        }
        if (orri_buf_append(&b, chunk, n)) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
            break;
        }
    }
    if (!rc && ferror(f))
        rc = orr_fail(e, ORR_EIO, "read %s: %s", path, strerror(errno));
    fclose(f);
    if (rc) {
        orri_buf_free(&b);
        return rc;
    }
    r->script_len = b.len;
    r->script_text = orri_buf_take(&b);
    return r->script_text ? ORR_OK : orr_fail(e, ORR_ENOMEM, "out of memory");
}

/* Load the script and leave the workflow it returns at r->wf_idx. */
static int load_workflow(struct runner *r, const char *path,
                         struct orr_error *e)
{
    lua_State *L = r->L;
    lua_pushcfunction(L, orri_lua_msgh);
    int msgh = lua_gettop(L);
    /* luaL_loadfile skips a "#!" line, which load from a buffer does not. */
    int lrc = luaL_loadfilex(L, path, "t");
    if (lrc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        return orr_fail(e, lrc == LUA_ERRMEM ? ORR_ENOMEM : ORR_ESCRIPT,
                        "%s", msg ? msg : "cannot load workflow");
    }
    if (lua_pcall(L, 0, 1, msgh) != LUA_OK)
        return orr_fail(e, ORR_ESCRIPT, "%s", lua_tostring(L, -1));
    lua_remove(L, msgh);
    if (!orri_lua_is_workflow(L, -1))
        return orr_fail(e, ORR_EINVAL, "%s did not return a workflow (end "
                        "it with 'return wf'; it returned %s)", path,
                        luaL_typename(L, -1));
    r->wf_idx = lua_gettop(L);
    return ORR_OK;
}

static int build_steps(struct runner *r, struct orr_error *e)
{
    lua_State *L = r->L;
    const char *name;
    size_t n;
    orri_lua_workflow_info(L, r->wf_idx, &name, &n);
    r->rep->workflow = strdup(name);
    if (!r->rep->workflow)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    struct orri_dag_node *nodes = NULL;
    int rc = ORR_OK;
    if (n == 0)
        return orri_dag_order(name, NULL, 0, NULL, e);
    r->steps = calloc(n, sizeof *r->steps);
    r->jobs = calloc(n, sizeof *r->jobs);
    r->order = calloc(n, sizeof *r->order);
    r->rep->steps = calloc(n, sizeof *r->rep->steps);
    nodes = calloc(n, sizeof *nodes);
    if (!r->steps || !r->jobs || !r->order || !r->rep->steps || !nodes) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    r->n = n;
    r->rep->n_steps = n;
    for (size_t i = 0; i < n; i++) {
        struct step *s = &r->steps[i];
        s->rep = &r->rep->steps[i];
        r->jobs[i].r = r;
        r->jobs[i].i = i;
        const char *sname;
        size_t k = orri_lua_workflow_step(L, r->wf_idx, i, &sname, NULL, 0);
        s->inputs = calloc(k ? k : 1, sizeof *s->inputs);
        s->rep->name = strdup(sname);
        if (!s->inputs || !s->rep->name) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
            goto fail;
        }
        s->n_inputs = orri_lua_workflow_step(L, r->wf_idx, i, &sname,
                                             s->inputs, k);
        nodes[i].name = s->rep->name;
        nodes[i].inputs = s->inputs;
        nodes[i].n_inputs = s->n_inputs;
    }
    rc = orri_dag_order(name, nodes, n, r->order, e);
fail:
    free(nodes);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The string keys of the table at idx, sorted (pointers anchored by the
 * table); *keys is malloc'ed (NULL when n == 0). */
static int sorted_keys(lua_State *L, int idx, const char ***keys, size_t *n,
                       struct orr_error *e)
{
    size_t count = 0;
    *keys = NULL;
    *n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count += lua_type(L, -1) == LUA_TSTRING;
    }
    if (!count)
        return ORR_OK;
    const char **k = calloc(count, sizeof *k);
    if (!k)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && i < count)
            k[i++] = lua_tostring(L, -1);
    }
    qsort(k, i, sizeof *k, cmp_str);
    *keys = k;
    *n = i;
    return ORR_OK;
}

/* Apply --param key=value overrides to the workflow's params table. */
static int merge_params(struct runner *r, const struct orr_run_options *opt,
                        struct orr_error *e)
{
    lua_State *L = r->L;
    orri_lua_workflow_push_params(L, r->wf_idx);
    r->params_idx = lua_gettop(L);
    for (size_t i = 0; i < opt->n_params; i++) {
        const char *kv = opt->params[i];
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv)
            return orr_fail(e, ORR_EINVAL, "--param '%s' is not key=value",
                            kv);
        lua_pushlstring(L, kv, (size_t)(eq - kv));
        const char *key = lua_tostring(L, -1);
        if (lua_rawget(L, r->params_idx) == LUA_TNIL) {
            size_t n = 0;
            const char **keys = NULL;
            struct orr_buf known = ORR_BUF_INIT;
            if (sorted_keys(L, r->params_idx, &keys, &n, e))
                return ORR_ENOMEM;
            for (size_t k = 0; k < n; k++)
                orri_buf_printf(&known, "%s%s", k ? ", " : "", keys[k]);
            free(keys);
            orr_fail(e, ORR_EINVAL, "unknown parameter '%s' (workflow '%s' "
                     "declares %s%s)", key, r->rep->workflow,
                     n ? "" : "none", n && known.data ? known.data : "");
            orri_buf_free(&known);
            return ORR_EINVAL;
        }
        lua_pop(L, 1);
        lua_pushlstring(L, kv, (size_t)(eq - kv));
        const char *v = eq + 1;
        switch (orri_param_classify(v)) {
        case ORRI_PARAM_BOOLEAN:
            lua_pushboolean(L, !strcmp(v, "true"));
            break;
        case ORRI_PARAM_INTEGER:
        case ORRI_PARAM_NUMBER:
            if (lua_stringtonumber(L, v) == 0)
                lua_pushstring(L, v);
            break;
        case ORRI_PARAM_STRING:
            lua_pushstring(L, v);
            break;
        }
        lua_rawset(L, r->params_idx);
    }
    return ORR_OK;
}


/* Record every param (sorted, as text) in the run. */
static int log_params(struct runner *r, struct orr_error *e)
{
    lua_State *L = r->L;
    size_t n = 0;
    const char **keys = NULL;
    if (sorted_keys(L, r->params_idx, &keys, &n, e))
        return e->code;
    int rc = ORR_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        lua_getfield(L, r->params_idx, keys[i]);
        char *text = NULL;
        size_t len;
        char num[64];
        if (lua_type(L, -1) == LUA_TSTRING) {
            rc = orr_meta_log_param(r->meta, r->run.id, keys[i],
                                    lua_tostring(L, -1), e);
        } else if (lua_type(L, -1) == LUA_TNUMBER) {
            /* As a person wrote it: 0.1, not 0.10000000000000001. */
            if (lua_isinteger(L, -1)) {
                snprintf(num, sizeof num, "%lld",
                         (long long)lua_tointeger(L, -1));
            } else {
                double d = lua_tonumber(L, -1);
                for (int prec = 1; prec <= 17; prec++) {
                    snprintf(num, sizeof num, "%.*g", prec, d);
                    if (strtod(num, NULL) == d)
                        break;
                }
            }
            rc = orr_meta_log_param(r->meta, r->run.id, keys[i], num, e);
        } else {
            rc = orri_json_encode_lua(L, -1, &text, &len, e);
            if (rc)
                orr_error_prefix(e, "param '%s'", keys[i]);
            else
                rc = orr_meta_log_param(r->meta, r->run.id, keys[i], text,
                                        e);
            free(text);
        }
        lua_pop(L, 1);
    }
    free(keys);
    return rc;
}

/* Load a workflow from text (resume, `orrery step`) at r->wf_idx. */
static int load_workflow_text(struct runner *r, struct orr_error *e)
{
    lua_State *L = r->L;
    lua_pushcfunction(L, orri_lua_msgh);
    int msgh = lua_gettop(L);
    const char *text = r->script_text;
    size_t len = r->script_len;
    if (len > 1 && text[0] == '#') {        /* as luaL_loadfile does     */
        const char *nl = memchr(text, '\n', len);
        size_t skip = nl ? (size_t)(nl - text) : len;
        text += skip;
        len -= skip;
    }
    int lrc = luaL_loadbufferx(L, text, len, r->chunkname.data, "t");
    if (lrc != LUA_OK)
        return orr_fail(e, lrc == LUA_ERRMEM ? ORR_ENOMEM : ORR_ESCRIPT,
                        "%s", lua_tostring(L, -1));
    if (lua_pcall(L, 0, 1, msgh) != LUA_OK)
        return orr_fail(e, ORR_ESCRIPT, "%s", lua_tostring(L, -1));
    lua_remove(L, msgh);
    if (!orri_lua_is_workflow(L, -1))
        return orr_fail(e, ORR_EINVAL, "the recorded script did not return "
                        "a workflow");
    r->wf_idx = lua_gettop(L);
    return ORR_OK;
}

/* Read each step's normalised options (l_workflow.c validated them). */
static void read_opts(struct runner *r)
{
    lua_State *L = r->L;
    for (size_t i = 0; i < r->n; i++) {
        struct sopts *o = &r->steps[i].o;
        memset(o, 0, sizeof *o);
        o->cache = 1;
        o->backoff_s = BACKOFF_S;
        o->backoff_max_s = BACKOFF_MAX_S;
        orri_lua_workflow_push_opts(L, r->wf_idx, i);
        if (lua_istable(L, -1)) {
            int t = lua_gettop(L);
            if (lua_getfield(L, t, "cpus") == LUA_TNUMBER)
                o->cpus = (unsigned)lua_tointeger(L, -1);
            if (lua_getfield(L, t, "gpus") == LUA_TNUMBER)
                o->gpus = (unsigned)lua_tointeger(L, -1);
            if (lua_getfield(L, t, "retries") == LUA_TNUMBER)
                o->retries = (unsigned)lua_tointeger(L, -1);
            if (lua_getfield(L, t, "memory_mb") == LUA_TNUMBER)
                o->memory_mb = (uint64_t)lua_tointeger(L, -1);
            if (lua_getfield(L, t, "time_s") == LUA_TNUMBER)
                o->time_s = lua_tonumber(L, -1);
            if (lua_getfield(L, t, "timeout_s") == LUA_TNUMBER)
                o->timeout_s = lua_tonumber(L, -1);
            if (lua_getfield(L, t, "backoff_s") == LUA_TNUMBER)
                o->backoff_s = lua_tonumber(L, -1);
            if (lua_getfield(L, t, "backoff_max_s") == LUA_TNUMBER)
                o->backoff_max_s = lua_tonumber(L, -1);
            if (lua_getfield(L, t, "cache") == LUA_TBOOLEAN)
                o->cache = lua_toboolean(L, -1);
            if (lua_getfield(L, t, "isolate") == LUA_TBOOLEAN)
                o->isolate = lua_toboolean(L, -1);
            lua_settop(L, t);
        }
        lua_pop(L, 1);
    }
}

/* Dependents lists and input counts, for the ready queue. */
static int link_steps(struct runner *r, struct orr_error *e)
{
    size_t total = 0;
    for (size_t i = 0; i < r->n; i++)
        total += r->steps[i].n_inputs;
    r->dep_pool = calloc(total ? total : 1, sizeof *r->dep_pool);
    r->ready = calloc(r->n, sizeof *r->ready);
    r->live = calloc(r->n, sizeof *r->live);
    r->relog = calloc(r->n, sizeof *r->relog);
    if (!r->dep_pool || !r->ready || !r->live || !r->relog)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k < r->steps[i].n_inputs; k++)
            r->steps[r->steps[i].inputs[k]].n_deps++;
    size_t off = 0;
    for (size_t i = 0; i < r->n; i++) {
        r->steps[i].deps = r->dep_pool + off;
        off += r->steps[i].n_deps;
        r->steps[i].n_deps = 0;
    }
    for (size_t i = 0; i < r->n; i++) {
        struct step *s = &r->steps[i];
        s->waiting = s->n_inputs;
        for (size_t k = 0; k < s->n_inputs; k++) {
            struct step *in = &r->steps[s->inputs[k]];
            in->deps[in->n_deps++] = i;
        }
    }
    return ORR_OK;
}

/* --- the step cache key ------------------------------------------------- */

/* The text of lines first..last of `text` (1-based), or all of it. */
static void hash_lines(struct orri_sha256 *c, const char *text, size_t len,
                       int first, int last)
{
    if (first <= 0) {
        orri_sha256_field(c, text, len);
        return;
    }
    const char *p = text, *end = text + len, *from = NULL;
    int line = 1;
    while (p < end && line < first) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        p = nl + 1;
        line++;
    }
    from = p;
    while (p < end && line <= last) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
        line++;
    }
    orri_sha256_field(c, from, (size_t)(p - from));
}

/* Hash the function on top of the stack (left there): its source text
 * and the plain values it captures; functions it captures (a helper
 * defined above the step, a sweep's trainer function) are hashed the
 * same way, `depth` levels down. */
static void hash_fn(struct runner *r, struct orri_sha256 *c, int depth)
{
    lua_State *L = r->L;
    lua_Debug ar;
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">S", &ar);
    const char *src = ar.source ? ar.source : "";
    if (!strcmp(ar.what, "C")) {
        orri_sha256_field(c, "C", 1);
    } else if (src[0] == '@' && r->chunkname.data &&
               !strcmp(src, r->chunkname.data)) {
        hash_lines(c, r->script_text, r->script_len, ar.linedefined,
                   ar.lastlinedefined);
    } else if (src[0] == '@' || src[0] == '=') {
        /* Another file (a required module) or orrery's own code: its name
         * and lines; its text is not re-read here, so edits there need
         * --no-cache. */
        orri_sha256_field(c, src, strlen(src));
        orri_sha256_field(c, &ar.linedefined, sizeof ar.linedefined);
    } else {
        hash_lines(c, src, strlen(src), ar.linedefined, ar.lastlinedefined);
    }
    /* Captured plain values (a threshold defined above the step...). */
    for (int u = 1; ; u++) {
        const char *name = lua_getupvalue(L, -1, u);
        if (!name)
            break;
        int t = lua_type(L, -1);
        if (t == LUA_TNUMBER || t == LUA_TSTRING || t == LUA_TBOOLEAN) {
            size_t n;
            const char *v = luaL_tolstring(L, -1, &n);
            orri_sha256_field(c, name, strlen(name));
            orri_sha256_field(c, v, n);
            lua_pop(L, 1);
        } else if (t == LUA_TFUNCTION && depth > 0) {
            orri_sha256_field(c, name, strlen(name));
            hash_fn(r, c, depth - 1);
        }
        lua_pop(L, 1);
    }
}

/* Hash what defines step i's result: its function's source text and the
 * values it captures, the run's params, its inputs' digests. */
static void cache_key(struct runner *r, size_t i, char out[65])
{
    lua_State *L = r->L;
    struct step *s = &r->steps[i];
    struct orri_sha256 c;
    orri_sha256_init(&c);
    orri_sha256_field(&c, "orrery-step-v1", 14);
    orri_lua_workflow_push_fn(L, r->wf_idx, i);
    hash_fn(r, &c, 2);
    lua_pop(L, 1);
    orri_sha256_field(&c, r->params_json, r->params_len);
    for (size_t k = 0; k < s->n_inputs; k++)
        orri_sha256_field(&c, r->sh->slots[s->inputs[k]].output,
                          ORR_DIGEST_HEX_LEN);
    orri_sha256_hex(&c, out);
}

/* The loaded plugins as "name@version;..." (what a step could use). */
static void plugin_list(struct orr_core *core, char *out, size_t cap)
{
    struct orr_registry *reg = orr_core_registry(core);
    size_t n = reg ? orr_registry_plugin_count(reg) : 0, len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const struct orr_plugin_info *p = orr_registry_plugin_at(reg, i);
        int w = snprintf(out + len, cap - len, "%s%s@%s", len ? ";" : "",
                         p->name, p->version);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

/* 1 if every plugin of the entry has the same version here. */
static int plugins_match(struct runner *r, const char *list)
{
    struct orr_registry *reg = orr_core_registry(r->core);
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int found = 0;
        for (int pass = 0; pass < 2 && !found; pass++) {
            size_t n = orr_registry_plugin_count(reg);
            for (size_t i = 0; i < n && !found; i++) {
                const struct orr_plugin_info *pi =
                    orr_registry_plugin_at(reg, i);
                size_t nl = strlen(pi->name);
                if (nl < len && !strncmp(p, pi->name, nl) && p[nl] == '@') {
                    if (strlen(pi->version) != len - nl - 1 ||
                        strncmp(p + nl + 1, pi->version, len - nl - 1))
                        return 0;
                    found = 1;
                }
            }
            if (!found && !pass && !r->plugins_all_loaded) {
                orr_registry_load_all(reg);
                r->plugins_all_loaded = 1;
            } else if (!found && pass) {
                return 0;
            } else if (!found) {
                return 0;
            }
        }
        p += len;
        if (*p == ';')
            p++;
    }
    return 1;
}

/* --- executing one step (in a worker, or in `orrery step`) ------------- */

/* SIGTERM in a worker (a cancel): stop the step's Lua code at the next
 * instruction with an error, so it unwinds and what it logged is flushed
 * (lua_sethook is async-signal-safe; lua.c handles Ctrl-C the same way). */
static lua_State *volatile worker_L;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "cancelled (SIGTERM)");
}

static void on_sigterm(int sig)
{
    (void)sig;
    if (worker_L)
        lua_sethook(worker_L, stop_hook, LUA_MASKCALL | LUA_MASKRET |
                                         LUA_MASKCOUNT, 1);
}

/* Store a step's value.  Many steps return the same small value (nil,
 * true, a count): a blob that exists already is not written again, since
 * a put creates and removes a temporary file even when it deduplicates,
 * and allocating inodes dominated the cost of a no-op step. */
static int put_value(struct runner *r, const char *json, size_t len,
                     char digest[ORR_DIGEST_HEX_LEN + 1], struct orr_error *e)
{
    struct orri_sha256 c;
    struct orr_blob_info info;
    struct orr_error se = {0};
    orri_sha256_init(&c);
    orri_sha256_update(&c, json, len);
    orri_sha256_hex(&c, digest);
    if (!orr_storage_stat(r->st, digest, &info, &se) && info.size == len)
        return ORR_OK;
    return orr_storage_put_buf(r->st, json, len, digest, e);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- what a step logged, for cache hits ---------------------------------
 *
 * A step served from the cache does not run, so the metrics and params
 * it logged would be missing from the new run.  Metrics are not linked
 * to steps in the schema, so the process that runs a step compares what
 * the run logged before and after it: params new or changed, and the
 * points (logged since the step began) of series that grew.  That is
 * stored as a "metrics" artifact output by the step ({"params": {k: v},
 * "metrics": {k: [[step, value], ...]}}), which a cache hit copies with
 * the other outputs and re-logs into the new run (tag orrery.cached.STEP
 * = the run it comes from).  Steps of one run logging into the same run
 * at the same time cannot be told apart this way: a point another step
 * logged meanwhile counts for both (docs/orchestration.md). */
static json_t *logged_before(struct runner *r)
{
    struct orr_error e = {0};
    json_t *out = NULL;
    if (!r->os && orri_ostore_open(&r->os, orr_core_site(r->core)->db_path,
                                   &e))
        return NULL;            /* the step runs; its cache hits re-log none */
    if (orri_ostore_logged(r->os, r->run.id, &out, &e))
        return NULL;
    return out;
}

struct point_ctx {
    json_t *arr;
    int64_t since;
};

static int take_point(void *ud, const struct orr_metric_point *p)
{
    struct point_ctx *c = ud;
    if (p->time_ms >= c->since && isfinite(p->value))
        json_array_append_new(c->arr, json_pack("[I, f]", (json_int_t)p->step,
                                                p->value));
    return 0;
}

static void logged_by_step(struct runner *r, struct slot *sl, json_t *before,
                           int64_t since)
{
    struct orr_error e = {0};
    json_t *after = NULL, *doc = NULL;
    json_t *params = json_object(), *metrics = json_object();
    char *text = NULL;
    const char *k;
    json_t *v;
    if (!params || !metrics || orri_ostore_logged(r->os, r->run.id, &after,
                                                  &e))
        goto done;
    json_t *bp = json_object_get(before, "p"), *bm = json_object_get(before,
                                                                     "m");
    json_object_foreach(json_object_get(after, "p"), k, v) {
        json_t *old = json_object_get(bp, k);
        if (!old || !json_equal(old, v))
            json_object_set(params, k, v);
    }
    json_object_foreach(json_object_get(after, "m"), k, v) {
        if (json_integer_value(v) <= json_integer_value(json_object_get(bm,
                                                                        k)))
            continue;
        struct point_ctx c = {json_array(), since};
        if (c.arr && !orr_meta_metric_series(r->run.meta, r->run.id, k,
                                             take_point, &c, &e) &&
            json_array_size(c.arr))
            json_object_set(metrics, k, c.arr);
        json_decref(c.arr);
    }
    if (!json_object_size(params) && !json_object_size(metrics))
        goto done;
    doc = json_pack("{s:O, s:O}", "metrics", metrics, "params", params);
    text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (text && !put_value(r, text, strlen(text), sl->metrics, &e))
        sl->metrics_size = strlen(text);
    else
        sl->metrics[0] = '\0';
done:
    free(text);
    json_decref(doc);
    json_decref(after);
    json_decref(params);
    json_decref(metrics);
}

/* Log what cache hits logged when they ran into this run.  Outside the
 * orchestration store's transaction: the metadata connection writes. */
static void relog(struct runner *r)
{
    for (size_t q = 0; q < r->n_relog; q++) {
        struct step *s = &r->steps[r->relog[q]];
        struct orr_error e = {0};
        char digest[ORR_DIGEST_HEX_LEN + 1];
        void *data = NULL;
        size_t n = 0;
        json_t *doc = NULL;
        if (orri_ostore_metrics_of(r->os, s->hit_step, digest, &e) ||
            orr_storage_get_buf(r->st, digest, VALUE_MAX, &data, &n, &e) ||
            !(doc = json_loadb(data, n, 0, NULL))) {
            free(data);
            continue;
        }
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(doc, "params"), k, v)
            if (json_is_string(v))
                orr_meta_log_param(r->meta, r->run.id, k,
                                   json_string_value(v), &e);
        json_object_foreach(json_object_get(doc, "metrics"), k, v) {
            size_t idx;
            json_t *pt;
            json_array_foreach(v, idx, pt)
                orr_meta_log_metric(r->meta, r->run.id, k,
                                    json_number_value(json_array_get(pt, 1)),
                                    (int64_t)json_integer_value(
                                        json_array_get(pt, 0)), &e);
        }
        char tag[300];
        snprintf(tag, sizeof tag, "orrery.cached.%s", s->rep->name);
        orr_meta_set_tag(r->meta, r->run.id, tag, s->hit_run, &e);
        json_decref(doc);
        free(data);
    }
    r->n_relog = 0;
}

/* A job queued behind its input (the pool's `after`): its cache key
 * needs that input's output, so the worker looks it up (read only; the
 * runner records the hit). */
static int worker_cache_hit(struct runner *r, size_t i)
{
    struct slot *sl = &r->sh->slots[i];
    struct orri_cache_hit hit;
    struct orr_error e = {0};
    struct orr_blob_info info;
    char key[ORR_DIGEST_HEX_LEN + 1];
    cache_key(r, i, key);
    if (orri_ostore_cache_get(r->os, key, &hit, &e) ||
        !plugins_match(r, hit.plugins) ||
        orr_storage_stat(r->st, hit.output, &info, &e))
        return 0;
    memcpy(sl->output, hit.output, sizeof sl->output);
    sl->output_size = hit.output_size;
    sl->hit_step = hit.step_id;
    memcpy(sl->hit_run, hit.run, sizeof sl->hit_run);
    sl->cached = 1;
    return 1;
}

static int invoke_step(void *ctx, struct orr_error *e)
{
    struct job *job = ctx;
    struct runner *r = job->r;
    struct step *s = &r->steps[job->i];
    struct slot *sl = &r->sh->slots[job->i];
    const char *name = s->rep->name;
    lua_State *L = r->L;
    int top = lua_gettop(L);
    int rc = ORR_OK;
    char *json = NULL;
    size_t len = 0;

    json_t *before = NULL;
    int64_t t_wall = wall_ms();
    sl->t_begin = now_ms();
    sl->failed = 0;
    sl->error[0] = '\0';
    sl->output[0] = '\0';
    sl->metrics[0] = '\0';
    sl->n_artifacts = 0;
    /* This process's own metadata connection (opened lazily, after the
     * fork: never the runner's). */
    if (!r->run.meta) {
        rc = orr_core_meta(r->core, &r->run.meta, e);
        if (rc)
            goto done;
    }
    if (!r->st) {
        rc = orr_core_storage(r->core, &r->st, e);
        if (rc)
            goto done;
    }
    if (getpid() != r->runner_pid && !worker_L) {
        struct sigaction sa = {0};
        sa.sa_handler = on_sigterm;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        worker_L = L;
    }
    lua_sethook(L, NULL, 0, 0);
    memcpy(r->run.id, r->sh->run_id, sizeof r->run.id);
    before = logged_before(r);
    sl->cached = 0;
    if (sl->lookup && r->os && worker_cache_hit(r, job->i)) {
        rc = ORR_OK;            /* reused: the runner records the hit    */
        goto done;
    }
    r->run.core = r->core;
    r->current = job->i;
    r->run.step_id = sl->step_id;
    r->rt.run = &r->run;
    r->rt.step = name;
    lua_pushcfunction(L, orri_lua_msgh);
    int msgh = lua_gettop(L);
    orri_lua_workflow_push_fn(L, r->wf_idx, job->i);
    orri_lua_push_ctx(L, r->params_idx, r->run.id, name);
    if (s->o.cpus) {            /* trainers use the step's cpus as threads */
        lua_pushinteger(L, (lua_Integer)s->o.cpus);
        lua_setfield(L, -2, "cpus");
    }
    for (size_t k = 0; k < s->n_inputs; k++) {
        struct slot *in = &r->sh->slots[s->inputs[k]];
        void *data = NULL;
        size_t n = 0;
        rc = orr_storage_get_buf(r->st, in->output, VALUE_MAX, &data, &n, e);
        if (!rc) {
            rc = orri_json_decode_push(L, data, n, e);
            free(data);
        }
        if (rc) {
            orr_error_prefix(e, "reading the output of step '%s'",
                             r->steps[s->inputs[k]].rep->name);
            goto done;
        }
    }
    if (lua_pcall(L, 1 + (int)s->n_inputs, 1, msgh) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        rc = orr_fail(e, ORR_ESCRIPT, "%s", msg ? msg : "error");
        snprintf(sl->error, sizeof sl->error, "%s", msg ? msg : "error");
        goto done;
    }
    rc = orri_json_encode_lua(L, -1, &json, &len, e);
    if (rc) {
        orr_error_prefix(e, "returned a value that cannot be stored");
        goto done;
    }
    rc = put_value(r, json, len, sl->output, e);
    if (rc) {
        orr_error_prefix(e, "storing the value it returned");
        sl->output[0] = '\0';
        goto done;
    }
    sl->output_size = len;
    rc = orr_meta_flush(r->run.meta, e);
    if (!rc && before)
        logged_by_step(r, sl, before, t_wall);
    plugin_list(r->core, sl->plugins, sizeof sl->plugins);
done:
    json_decref(before);
    if (rc && r->run.meta) {
        struct orr_error fe = {0};
        orr_meta_flush(r->run.meta, &fe);   /* keep what it logged */
    }
    if (rc) {
        sl->failed = 1;
        if (!sl->error[0])
            snprintf(sl->error, sizeof sl->error, "%s", e->msg);
    }
    free(json);
    lua_settop(L, top);
    r->rt.run = NULL;
    r->rt.step = NULL;
    return rc;
}

/* --- recording ---------------------------------------------------------- */

static void emit(struct runner *r, enum orr_run_event ev, size_t i,
                 const char *log)
{
    if (r->opt && r->opt->progress)
        r->opt->progress(r->opt->progress_ud, ev, r->rep, i, log);
}

static const char *status_word(enum orr_step_status st)
{
    return st == ORR_STEP_SUCCEEDED ? "succeeded" :
           st == ORR_STEP_FAILED ? "failed" :
           st == ORR_STEP_SKIPPED ? "skipped" : "cancelled";
}

/* Store the step's captured output (if any) as a "log" artifact. */
static void store_log(struct runner *r, size_t i)
{
    struct step *s = &r->steps[i];
    struct stat sb;
    s->rep->log[0] = '\0';
    if (!s->log_path[0] || stat(s->log_path, &sb) || sb.st_size == 0)
        return;
    struct orr_error e = {0};
    char name[300];
    snprintf(name, sizeof name, "%s.log", s->rep->name);
    if (!orr_storage_put_file(r->st, s->log_path, s->rep->log, &e))
        orri_ostore_event(r->os, s->step_id, 1, s->rep->log,
                          (uint64_t)sb.st_size, "log", name, &e);
    else
        s->rep->log[0] = '\0';
}

static void push_ready(struct runner *r, size_t i)
{
    r->steps[i].state = S_READY;
    r->ready[r->ready_tail++ % r->n] = i;
}

static const struct orr_orchestrator_ops *orch_ops(struct runner *r);
static void unlive(struct runner *r, size_t i);
static void check_job(struct runner *r, size_t i);

/* Final state of step i; dependents become ready or are skipped. */
static void finish(struct runner *r, size_t i, enum orr_step_status st)
{
    struct step *s = &r->steps[i];
    struct orr_error e = {0};
    s->state = S_DONE;
    s->rep->status = st;
    if (s->t_first > 0)
        s->rep->duration_ms = now_ms() - s->t_first;
    if (st != ORR_STEP_SKIPPED || s->step_id > 0) {
        struct orri_ostep x = {
            .name = s->rep->name, .step_id = s->step_id,
            .status = status_word(st), .cached = s->rep->cached,
            .attempts = s->rep->attempts, .cache_key = s->key[0] ? s->key
                                                                 : NULL,
            .output = s->rep->output, .output_size = s->rep->output_size,
            .log = s->rep->log, .error = s->rep->error,
            .duration_ms = s->rep->duration_ms,
        };
        if (orri_ostore_step_end(r->os, r->run.id, &x, &e) &&
            st == ORR_STEP_SUCCEEDED) {
            s->rep->status = ORR_STEP_FAILED;
            note_failure(r, i, e.code, e.msg);
        }
    }
    emit(r, ORR_EV_STEP_DONE, i, s->log_path[0] ? s->log_path : NULL);
    if (s->log_path[0]) {
        unlink(s->log_path);
        s->log_path[0] = '\0';
    }
    for (size_t k = 0; k < s->n_deps; k++) {
        struct step *d = &r->steps[s->deps[k]];
        if (d->state == S_RUNNING && d->early &&
            s->rep->status != ORR_STEP_SUCCEEDED && !r->cancelled) {
            /* Submitted with afterok on this step's job: the backend
             * cancels it (or has); it never ran. */
            struct orr_error ce = {0};
            orch_ops(r)->cancel(r->orch->self, d->job_id, &ce);
            unlive(r, s->deps[k]);
            free(d->rep->skipped_because);
            d->rep->skipped_because = strdup(s->rep->name);
            finish(r, s->deps[k], ORR_STEP_SKIPPED);
            continue;
        }
        if (d->state != S_WAIT)
            continue;
        if (s->rep->status == ORR_STEP_SUCCEEDED) {
            if (--d->waiting == 0)
                push_ready(r, s->deps[k]);
        } else if (!r->cancelled) {
            free(d->rep->skipped_because);
            d->rep->skipped_because = strdup(s->rep->name);
            finish(r, s->deps[k], ORR_STEP_SKIPPED);
        }
    }
}

/* A cache hit (or a resumed step): reuse the earlier outputs. */
static int try_cache(struct runner *r, size_t i)
{
    struct step *s = &r->steps[i];
    struct orri_cache_hit hit;
    struct orr_error e = {0};
    struct orr_blob_info info;
    if (orri_ostore_cache_get(r->os, s->key, &hit, &e))
        return 0;
    if (!plugins_match(r, hit.plugins) ||
        orr_storage_stat(r->st, hit.output, &info, &e))
        return 0;
    if (r->adopt_step_id > 0)
        s->step_id = r->adopt_step_id;      /* the submitter's row       */
    else if (!s->reserved &&
             orri_ostore_step_begin(r->os, r->run.id, s->rep->name,
                                    &s->step_id, &e))
        return 0;
    s->reserved = 0;
    if (orri_ostore_copy_outputs(r->os, hit.step_id, s->step_id, &e))
        return 0;
    s->hit_step = hit.step_id;
    memcpy(s->hit_run, hit.run, sizeof s->hit_run);
    if (r->relog && strcmp(hit.run, r->run.id))
        r->relog[r->n_relog++] = i;
    memcpy(s->rep->output, hit.output, sizeof s->rep->output);
    memcpy(r->sh->slots[i].output, hit.output, sizeof hit.output);
    s->rep->output_size = hit.output_size;
    s->rep->cached = 1;
    finish(r, i, ORR_STEP_SUCCEEDED);
    return 1;
}

static const struct orr_orchestrator_ops *orch_ops(struct runner *r)
{
    return &r->orch->backend->ops.orchestrator;
}

/* Begin an attempt of step i and hand it to the orchestrator. */
static void start(struct runner *r, size_t i)
{
    struct step *s = &r->steps[i];
    struct slot *sl = &r->sh->slots[i];
    struct orr_error e = {0};
    s->rep->attempts++;
    s->t0 = now_ms();
    if (s->t_first == 0)
        s->t_first = s->t0;
    int rc = ORR_OK;
    if (r->adopt_step_id > 0) {
        /* `orrery step` of a job the runner submitted: its row. */
        s->step_id = r->adopt_step_id;
    } else {
        if (!s->reserved)
            rc = orri_ostore_step_begin(r->os, r->run.id, s->rep->name,
                                        &s->step_id, &e);
        s->reserved = 0;
        if (!rc)
            rc = orri_ostore_step_running(r->os, r->run.id, s->rep->name,
                                          s->step_id, s->rep->attempts, &e);
    }
    if (rc) {
        note_failure(r, i, e.code, e.msg);
        finish(r, i, ORR_STEP_FAILED);
        return;
    }
    sl->step_id = s->step_id;
    snprintf(s->log_path, sizeof s->log_path, "%s/%lld.log", r->log_dir,
             (long long)s->step_id);
    s->state = S_RUNNING;
    if (r->live)
        r->live[r->running] = i;
    r->running++;
}

static void unlive(struct runner *r, size_t i)
{
    r->running--;
    for (size_t k = 0; r->live && k <= r->running; k++)
        if (r->live[k] == i) {
            r->live[k] = r->live[r->running];
            break;
        }
}

/* The jobs step i must wait for: those of its inputs still running. */
static size_t after_ids(struct runner *r, size_t i, const char **after)
{
    struct step *s = &r->steps[i];
    size_t n = 0;
    for (size_t k = 0; k < s->n_inputs; k++) {
        struct step *in = &r->steps[s->inputs[k]];
        int dup = 0;
        if (in->state != S_RUNNING)
            continue;
        for (size_t m = 0; m < n && !dup; m++)
            dup = !strcmp(after[m], in->job_id);
        if (!dup)
            after[n++] = in->job_id;
    }
    return n;
}

/* Put a unit the backend could not take (no `after`, no arrays) back:
 * its rows stay begun for the attempt that follows. */
static void unsubmit(struct runner *r, const size_t *g, size_t k)
{
    for (size_t m = 0; m < k; m++) {
        size_t i = g[m];
        struct step *s = &r->steps[i];
        unlive(r, i);
        s->rep->attempts--;
        s->reserved = 1;
        s->array = 0;
        s->log_path[0] = '\0';
        if (s->early) {
            s->early = 0;
            s->t_first = 0;
            s->state = S_WAIT;
            s->waiting = 0;
            for (size_t q = 0; q < s->n_inputs; q++) {
                struct step *in = &r->steps[s->inputs[q]];
                s->waiting += !(in->state == S_DONE &&
                                in->rep->status == ORR_STEP_SUCCEEDED);
            }
            if (!s->waiting)
                push_ready(r, i);
        } else {
            push_ready(r, i);
        }
    }
}

/* Hand steps g[0..k) (begun by start) to the orchestrator as one job: a
 * job array when k > 1 (a sweep's trials: same inputs, same options),
 * with `after` when inputs still run (the backend orders them).  The
 * job's argv is what runs elsewhere: `orrery step RUN STEP... --step-id
 * ID,...` records into the rows begun here. */
static void submit_group(struct runner *r, const size_t *g, size_t k)
{
    struct step *s = &r->steps[g[0]];
    struct orr_error e = {0};
    struct orr_buf ids = ORR_BUF_INIT, arr_log = ORR_BUF_INIT;
    const char **argv = calloc(k + 10, sizeof *argv);
    const char **after = calloc(s->n_inputs + 1, sizeof *after);
    const char *envp[] = {"ORRERY_ISOLATE=1", NULL};
    double limit = s->o.timeout_s > 0 ? s->o.timeout_s : s->o.time_s;
    int rc = ORR_OK;
    size_t n = 0;
    for (size_t m = 0; m < k && !rc; m++)
        rc = orri_buf_printf(&ids, "%s%lld", m ? "," : "",
                             (long long)r->steps[g[m]].step_id);
    if (!rc && k > 1)
        rc = orri_buf_printf(&arr_log, "%s/array-%lld.log", r->log_dir,
                             (long long)s->step_id);
    if (rc || !argv || !after) {
        rc = orr_fail(&e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    argv[n++] = "orrery";
    argv[n++] = "step";
    argv[n++] = r->run.id;
    for (size_t m = 0; m < k; m++)
        argv[n++] = r->steps[g[m]].rep->name;
    argv[n++] = "--step-id";
    argv[n++] = ids.data;
    if (k > 1) {                /* each task's output to its step's log   */
        argv[n++] = "--log-dir";
        argv[n++] = r->log_dir;
    }
    int lookup = s->early && !r->opt->no_cache && !r->opt->reproduce &&
                 s->o.cache;
    if (lookup)
        argv[n++] = "--cache";  /* its key needs its inputs' outputs      */
    r->sh->slots[g[0]].lookup = lookup && k == 1;
    argv[n] = NULL;
    struct orr_job_spec spec = {
        .size = sizeof spec,
        .run_id = r->run.id,
        .step = s->rep->name,
        .argv = argv,
        .envp = s->o.isolate ? envp : NULL,
        .log_path = k > 1 ? arr_log.data : s->log_path,
        .invoke = k > 1 ? NULL : invoke_step,
        .invoke_ctx = &r->jobs[g[0]],
        .cpus = s->o.cpus,
        .memory_mb = s->o.memory_mb,
        .gpus = s->o.gpus,
        .time_limit_s = limit > 0 ? (uint64_t)ceil(limit) : 0,
        .after = after,
        .n_after = s->early ? after_ids(r, g[0], after) : 0,
        .array_size = k > 1 ? (unsigned)k : 0,
    };
    rc = orch_ops(r)->submit(r->orch->self, &spec, s->job_id, &e);
    if (rc == ORR_EUNSUPPORTED && (spec.n_after || k > 1)) {
        /* The interface's contract: submit in order instead (the pool
         * takes `after` in some cases only: this step goes in order). */
        if (r->inproc)
            s->no_early |= spec.n_after > 0;
        else
            r->no_after |= spec.n_after > 0;
        r->no_array |= k > 1;
        unsubmit(r, g, k);
        goto done;
    }
    if (rc)
        orr_error_prefix(&e, "%s orchestrator", r->orch->backend->name);
    for (size_t m = 1; m < k && !rc; m++)
        memcpy(r->steps[g[m]].job_id, s->job_id, sizeof s->job_id);
    for (size_t m = 0; m < k && !rc; m++)
        emit(r, ORR_EV_STEP_RUNNING, g[m], NULL);
fail:
    for (size_t m = 0; rc && m < k; m++) {
        unlive(r, g[m]);
        note_failure(r, g[m], e.code, e.msg);
        finish(r, g[m], ORR_STEP_FAILED);
    }
done:
    free(argv);
    free(after);
    orri_buf_free(&ids);
    orri_buf_free(&arr_log);
}

/* A job that ran its argv elsewhere (`orrery step` on a Slurm node)
 * reports through the orchestration store, not through the slot. */
static int remote_result(struct runner *r, size_t i)
{
    struct slot *sl = &r->sh->slots[i];
    struct orri_ostep_rec rec;
    struct orr_error e = {0};
    if (sl->output[0])
        return 1;
    if (orri_ostore_step_get(r->os, r->run.id, r->steps[i].rep->name, &rec,
                             &e) || rec.step_id != r->steps[i].step_id)
        return 0;               /* not this attempt's record              */
    if (!strcmp(rec.status, "succeeded") && rec.output[0]) {
        memcpy(sl->output, rec.output, sizeof sl->output);
        sl->output_size = rec.output_size;
        sl->failed = 0;
        sl->error[0] = '\0';
        /* A job submitted early looked itself up in the cache. */
        r->steps[i].rep->cached = rec.cached;
        plugin_list(r->core, sl->plugins, sizeof sl->plugins);
        return 1;
    }
    if (!strcmp(rec.status, "failed") && rec.error[0]) {
        sl->failed = 1;
        snprintf(sl->error, sizeof sl->error, "%s", rec.error);
    }
    return 0;
}

/* The job of step i ended: record it, retry it or fail it. */
static void ended(struct runner *r, size_t i, const struct orr_job_status *js)
{
    struct step *s = &r->steps[i];
    struct slot *sl = &r->sh->slots[i];
    struct orr_error e = {0};
    if (s->early && js->state == ORR_JOB_CANCELLED && !r->cancelled) {
        /* Slurm cancels a job whose afterok can never hold: an input
         * failed.  End the inputs first: that skips this step. */
        for (size_t k = 0; k < s->n_inputs && s->state == S_RUNNING; k++)
            if (r->steps[s->inputs[k]].state == S_RUNNING)
                check_job(r, s->inputs[k]);
        if (s->state != S_RUNNING)
            return;
    }
    unlive(r, i);
    if (s->early && sl->t_begin > s->t0) {
        /* Queued behind its input: its time starts when it did. */
        if (s->t_first == s->t0)
            s->t_first = sl->t_begin;
        s->t0 = sl->t_begin;
    }
    int remote_ok = 0;
    if (js->state != ORR_JOB_CANCELLED && !r->cancelled)
        remote_ok = remote_result(r, i);
    store_log(r, i);
    if (s->early)               /* its inputs' outputs are known now      */
        cache_key(r, i, s->key);
    if (js->state == ORR_JOB_SUCCEEDED && sl->cached && !sl->failed &&
        sl->output[0]) {
        /* The worker found it in the cache: record it as a hit. */
        if (orri_ostore_copy_outputs(r->os, sl->hit_step, s->step_id, &e)) {
            note_failure(r, i, e.code, e.msg);
            finish(r, i, ORR_STEP_FAILED);
            return;
        }
        s->hit_step = sl->hit_step;
        memcpy(s->hit_run, sl->hit_run, sizeof s->hit_run);
        if (strcmp(s->hit_run, r->run.id))
            r->relog[r->n_relog++] = i;
        memcpy(s->rep->output, sl->output, sizeof s->rep->output);
        s->rep->output_size = sl->output_size;
        s->rep->cached = 1;
        finish(r, i, ORR_STEP_SUCCEEDED);
        return;
    }
    if ((js->state == ORR_JOB_SUCCEEDED || (s->array && remote_ok)) &&
        !sl->failed && sl->output[0]) {
        memcpy(s->rep->output, sl->output, sizeof s->rep->output);
        s->rep->output_size = sl->output_size;
        char what[300];
        int rc = ORR_OK;
        for (size_t k = 0; k < s->n_inputs && !rc; k++) {
            struct step *in = &r->steps[s->inputs[k]];
            snprintf(what, sizeof what, "%s.json", in->rep->name);
            rc = orri_ostore_event(r->os, s->step_id, 0, in->rep->output,
                                   in->rep->output_size, "value", what, &e);
        }
        snprintf(what, sizeof what, "%s.json", s->rep->name);
        if (!rc)
            rc = orri_ostore_event(r->os, s->step_id, 1, sl->output,
                                   sl->output_size, "value", what, &e);
        snprintf(what, sizeof what, "%s.metrics.json", s->rep->name);
        if (!rc && sl->metrics[0])
            rc = orri_ostore_event(r->os, s->step_id, 1, sl->metrics,
                                   sl->metrics_size, "metrics", what, &e);
        if (!rc && s->o.cache && s->key[0] && !s->rep->cached)
            rc = orri_ostore_cache_put(r->os, s->key, sl->output,
                                       sl->output_size, sl->plugins,
                                       r->run.id, s->step_id, &e);
        for (uint32_t k = 0; k < sl->n_artifacts && k < SLOT_ARTIFACTS;
             k++) {
            struct orr_step_report *p = s->rep;
            void *np = realloc(p->artifacts, (p->n_artifacts + 1) *
                                             sizeof *p->artifacts);
            if (!np)
                break;
            p->artifacts = np;
            struct orr_step_artifact *a = &p->artifacts[p->n_artifacts];
            memcpy(a->digest, sl->art[k].digest, sizeof a->digest);
            a->name = strdup(sl->art[k].name);
            a->kind = strdup(sl->art[k].kind);
            a->size = sl->art[k].size;
            if (a->name && a->kind) {
                p->n_artifacts++;
            } else {
                free(a->name);
                free(a->kind);
            }
        }
        if (rc) {
            note_failure(r, i, rc, e.msg);
            finish(r, i, ORR_STEP_FAILED);
        } else {
            free(s->rep->error);        /* an earlier attempt's          */
            s->rep->error = NULL;
            finish(r, i, ORR_STEP_SUCCEEDED);
        }
        return;
    }
    char why[1024];
    if (js->state == ORR_JOB_CANCELLED || r->cancelled) {
        snprintf(why, sizeof why, "cancelled");
        free(s->rep->error);
        s->rep->error = strdup(why);
        finish(r, i, ORR_STEP_CANCELLED);
        return;
    }
    if (js->state == ORR_JOB_TIMEOUT) {
        double limit = s->o.timeout_s > 0 ? s->o.timeout_s : s->o.time_s;
        snprintf(why, sizeof why, "timed out: killed after %g s (its "
                 "timeout)", limit);
    } else if (sl->failed && sl->error[0]) {
        snprintf(why, sizeof why, "%s", sl->error);
        if (s->o.memory_mb && strstr(sl->error, "not enough memory"))
            snprintf(why, sizeof why, "out of memory: %s (memory limit "
                     "%llu MiB)", sl->error,
                     (unsigned long long)s->o.memory_mb);
    } else if (js->state == ORR_JOB_OOM) {
        snprintf(why, sizeof why, "killed for exceeding its memory");
    } else if (js->reason[0]) {
        snprintf(why, sizeof why, "%s", js->reason);
        if (js->term_signal == 9 && s->o.memory_mb)
            snprintf(why, sizeof why, "killed by signal 9 (out of memory? "
                     "memory limit %llu MiB)",
                     (unsigned long long)s->o.memory_mb);
    } else {
        snprintf(why, sizeof why, "job %s ended in state %d", s->job_id,
                 (int)js->state);
    }
    if (strstr(why, "cannot be stored"))
        s->o.retries = 0;       /* a bad value does not get better         */
    if ((unsigned)s->rep->attempts <= s->o.retries && !r->cancelled) {
        /* This attempt is a failed execution; the next one gets a new
         * row.  Exponential backoff with a cap. */
        struct orri_ostep x = {
            .name = s->rep->name, .step_id = s->step_id, .status = "failed",
            .attempts = s->rep->attempts, .log = s->rep->log, .error = why,
            .duration_ms = now_ms() - s->t0,
        };
        orri_ostore_step_end(r->os, r->run.id, &x, &e);
        free(s->rep->error);
        s->rep->error = strdup(why);
        double wait = s->o.backoff_s * pow(2.0, s->rep->attempts - 1);
        if (wait > s->o.backoff_max_s)
            wait = s->o.backoff_max_s;
        s->retry_at = now_ms() + wait * 1e3;
        s->state = S_BACKOFF;
        r->n_backoff++;
        emit(r, ORR_EV_STEP_RETRY, i, s->log_path[0] ? s->log_path : NULL);
        if (s->log_path[0]) {
            unlink(s->log_path);
            s->log_path[0] = '\0';
        }
        return;
    }
    if (s->rep->attempts > 1) {
        char more[1100];
        snprintf(more, sizeof more, "%s (after %d attempts)", why,
                 s->rep->attempts);
        note_failure(r, i, ORR_ESCRIPT, more);
    } else {
        note_failure(r, i, ORR_ESCRIPT, why);
    }
    finish(r, i, ORR_STEP_FAILED);
}

static void check_job(struct runner *r, size_t i)
{
    struct step *s = &r->steps[i];
    struct orr_job_status js = {.size = sizeof js};
    struct orr_error e = {0};
    if (orch_ops(r)->poll(r->orch->self, s->job_id, &js, &e)) {
        js.state = ORR_JOB_LOST;
        size_t n = strnlen(e.msg, sizeof js.reason - 1);
        memcpy(js.reason, e.msg, n);
        js.reason[n] = '\0';
    }
    if (js.state == ORR_JOB_PENDING || js.state == ORR_JOB_RUNNING)
        return;
    if (!s->array) {
        ended(r, i, &js);
        return;
    }
    /* Every task of the array job ended: each step of it. */
    char id[ORR_JOB_ID_SIZE];
    memcpy(id, s->job_id, sizeof id);
    for (size_t k = 0; k < r->running;) {
        size_t m = r->live[k];
        if (r->steps[m].array && !strcmp(r->steps[m].job_id, id) &&
            r->steps[m].state == S_RUNNING)
            ended(r, m, &js);   /* unlive moves another step to k        */
        if (k < r->running && r->live[k] == m)
            k++;
    }
}

static void cancel_all(struct runner *r)
{
    struct orr_error e = {0};
    r->cancelled = 1;
    for (size_t i = 0; i < r->n; i++) {
        struct step *s = &r->steps[i];
        if (s->state == S_RUNNING) {
            orch_ops(r)->cancel(r->orch->self, s->job_id, &e);
            struct orr_job_status js = {.size = sizeof js,
                                        .state = ORR_JOB_CANCELLED};
            ended(r, i, &js);
        } else if (s->state == S_BACKOFF) {
            r->n_backoff--;
            free(s->rep->error);
            s->rep->error = strdup("cancelled");
            finish(r, i, ORR_STEP_CANCELLED);
        }
    }
    run_failure(r, ORR_ECANCELED, "the run was cancelled");
}

/* A step that can be submitted before its inputs end: every input
 * succeeded or runs as a job without retries (a retry would need this
 * step resubmitted), at least one runs. */
static int early_ok(struct runner *r, size_t i)
{
    struct step *s = &r->steps[i];
    int running = 0;
    if (s->state != S_WAIT || s->rep->attempts || r->cancelled ||
        s->no_early)
        return 0;
    /* The pool queues a plain step behind one running step. */
    if (r->inproc && (s->o.isolate || s->o.memory_mb || s->o.timeout_s > 0 ||
                      s->o.time_s > 0))
        return 0;
    for (size_t k = 0; k < s->n_inputs; k++) {
        struct step *in = &r->steps[s->inputs[k]];
        if (in->state == S_DONE && in->rep->status == ORR_STEP_SUCCEEDED)
            continue;
        if (in->state != S_RUNNING || in->o.retries || (r->inproc && running))
            return 0;
        running = 1;
    }
    return running;
}

/* The trial number of a sweep's step name "NAME[n]": length of NAME, or
 * 0 when the name has another form. */
static size_t trial_prefix(const char *name)
{
    size_t n = strlen(name);
    if (n < 4 || name[n - 1] != ']')
        return 0;
    size_t d = n - 1;
    while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9')
        d--;
    if (d == n - 1 || d < 2 || name[d - 1] != '[')
        return 0;
    return d - 1;
}

/* 1 if steps a and b (begun in one round) can be tasks of one job array:
 * trials of one sweep, same inputs, same options, both early or not. */
static int same_array(struct runner *r, size_t a, size_t b)
{
    struct step *x = &r->steps[a], *y = &r->steps[b];
    size_t p = trial_prefix(x->rep->name);
    if (r->no_array || !p || p != trial_prefix(y->rep->name) ||
        strncmp(x->rep->name, y->rep->name, p) || x->early != y->early ||
        x->n_inputs != y->n_inputs ||
        memcmp(&x->o, &y->o, sizeof x->o) ||
        x->state != S_RUNNING || y->state != S_RUNNING)
        return 0;
    for (size_t k = 0; k < x->n_inputs; k++)
        if (x->inputs[k] != y->inputs[k])
            return 0;
    return 1;
}

/* Submit a unit of the round: a step, or the trials of a job array.  An
 * early step whose input did not become a job (its submit failed or was
 * put back) is put back too. */
static void submit_unit(struct runner *r, size_t *g, size_t k)
{
    struct step *s = &r->steps[g[0]];
    for (size_t q = 0; s->early && q < s->n_inputs; q++) {
        struct step *in = &r->steps[s->inputs[q]];
        if (!(in->state == S_DONE && in->rep->status == ORR_STEP_SUCCEEDED) &&
            !(in->state == S_RUNNING && in->job_id[0])) {
            unsubmit(r, g, k);
            return;
        }
    }
    for (size_t q = 0; q < k; q++)
        r->steps[g[q]].array = k > 1;
    submit_group(r, g, k);
}

/* Submit the steps begun in this round, trials of a sweep as arrays. */
static void submit_all(struct runner *r, size_t *batch, size_t nb)
{
    for (size_t k = 0; k < nb;) {
        size_t g = 1;
        while (k + g < nb && same_array(r, batch[k], batch[k + g]))
            g++;
        if (r->steps[batch[k]].state == S_RUNNING)
            submit_unit(r, batch + k, g);
        k += g;
    }
}

static void execute(struct runner *r)
{
    const struct orr_orchestrator_ops *ops = orch_ops(r);
    unsigned cap = ops->capacity(r->orch->self);
    if (r->opt->jobs)
        cap = r->opt->jobs;
    if (cap == 0)
        cap = 1;
    size_t *batch = calloc(r->n, sizeof *batch);
    struct orr_error e0 = {0};
    if (!batch || orri_ostore_begin(r->os, &e0)) {
        free(batch);
        run_failure(r, e0.code ? e0.code : ORR_ENOMEM,
                    e0.code ? e0.msg : "out of memory");
        return;
    }
    for (;;) {
        struct orr_error e = {0};
        if (r->opt->cancel && *r->opt->cancel) {
            /* Release the write lock first: stopped steps flush. */
            orri_ostore_commit(r->os, &e);
            cancel_all(r);
            break;
        }
        /* One transaction: ends recorded by wait below, cache hits and
         * the begins of what is dispatched now. */
        size_t nb = 0;
        double now = now_ms(), next_retry = 0;
        for (size_t i = 0; r->n_backoff && i < r->n; i++) {
            struct step *s = &r->steps[i];
            if (s->state != S_BACKOFF)
                continue;
            if (s->retry_at <= now) {
                r->n_backoff--;
                s->state = S_READY;
                r->ready[r->ready_tail++ % r->n] = i;
            } else if (!next_retry || s->retry_at < next_retry) {
                next_retry = s->retry_at;
            }
        }
        while (r->ready_head != r->ready_tail &&
               r->running < cap) {
            size_t i = r->ready[r->ready_head++ % r->n];
            struct step *s = &r->steps[i];
            if (s->state != S_READY)
                continue;
            if (s->rep->attempts == 0) {
                cache_key(r, i, s->key);
                if (!r->opt->no_cache && !r->opt->reproduce && s->o.cache &&
                    try_cache(r, i))
                    continue;
            }
            start(r, i);
            if (s->state == S_RUNNING)
                batch[nb++] = i;
        }
        /* Steps whose inputs are still running go now too when the
         * backend orders jobs itself (Slurm afterok): a whole DAG is
         * submitted at once.  Topological order: inputs before. */
        while (r->scan0 < r->n && r->steps[r->order[r->scan0]].state == S_DONE)
            r->scan0++;
        for (size_t k = r->scan0; !r->no_after && k < r->n &&
                                  r->running < cap; k++) {
            size_t i = r->order[k];
            if (!early_ok(r, i))
                continue;
            r->steps[i].early = 1;
            start(r, i);
            if (r->steps[i].state == S_RUNNING)
                batch[nb++] = i;
        }
        /* The pool's workers start a step at once and need its row only
         * when they write (they wait for this commit then): hand them the
         * steps first, so the commit overlaps their work.  Elsewhere a
         * job may start and read its row before submit returns: commit
         * first. */
        if (r->inproc)
            submit_all(r, batch, nb);
        if (orri_ostore_commit(r->os, &e)) {
            run_failure(r, e.code, e.msg);
            for (size_t k = 0; k < nb; k++) {
                struct step *s = &r->steps[batch[k]];
                if (s->state != S_RUNNING)
                    continue;
                if (r->inproc)
                    orch_ops(r)->cancel(r->orch->self, s->job_id, &e);
                unlive(r, batch[k]);
                note_failure(r, batch[k], e.code, e.msg);
                s->state = S_DONE;
                s->rep->status = ORR_STEP_FAILED;
            }
            nb = 0;
        }
        relog(r);
        if (!r->inproc)
            submit_all(r, batch, nb);
        if (r->running == 0 && !next_retry &&
            r->ready_head == r->ready_tail)
            break;
        /* Wait for a job (or the next retry, or a cancel). */
        int timeout = -1;
        if (next_retry)
            timeout = (int)(next_retry - now_ms()) + 1;
        if (r->opt->cancel && (timeout < 0 || timeout > 200))
            timeout = 200;      /* a signal between check and wait       */
        if (timeout < 0 && r->running == 0)
            timeout = 0;
        char id[ORR_JOB_ID_SIZE] = "";
        if (r->running && ops->wait_any &&
            ops->wait_any(r->orch->self, timeout, id, &e))
            id[0] = '\0';
        else if (r->running && !ops->wait_any && timeout != 0) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        } else if (!r->running && timeout > 0) {
            struct timespec ts = {timeout / 1000,
                                  (long)(timeout % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        /* Never hold the write lock while steps run: workers write too. */
        orri_ostore_begin(r->os, &e);
        /* Collect every finished job, not only the one reported. */
        for (int more = 1; more && r->running;) {
            more = 0;
            if (id[0]) {
                for (size_t k = 0; k < r->running; k++) {
                    size_t i = r->live[k];
                    if (!strcmp(r->steps[i].job_id, id)) {
                        check_job(r, i);
                        break;
                    }
                }
                id[0] = '\0';
                if (ops->wait_any && !ops->wait_any(r->orch->self, 0, id,
                                                    &e) && id[0])
                    more = 1;
            } else if (!ops->wait_any) {
                for (size_t k = r->running; k-- > 0;)
                    if (k < r->running)
                        check_job(r, r->live[k]);
            }
        }
    }
    free(batch);
    struct orr_error e = {0};
    orri_ostore_commit(r->os, &e);
}

static void runner_free(struct runner *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->steps[i].inputs);
    free(r->steps);
    free(r->jobs);
    free(r->order);
    free(r->ready);
    free(r->live);
    free(r->relog);
    free(r->dep_pool);
    free(r->script_text);
    free(r->params_json);
    orri_buf_free(&r->chunkname);
    orri_ostore_close(r->os);
    orr_instance_close(r->orch);
    orri_lua_close(r->L);
    if (r->sh && r->sh_mapped)
        munmap(r->sh, r->sh_size);
    else
        free(r->sh);
}

/* Step slots: shared with the workers when `shared`. */
static int map_slots(struct runner *r, int shared, struct orr_error *e)
{
    r->sh_size = sizeof *r->sh + r->n * sizeof(struct slot);
    if (shared) {
        void *p = mmap(NULL, r->sh_size, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return orr_fail(e, ORR_ENOMEM, "mmap %zu bytes: %s", r->sh_size,
                            strerror(errno));
        r->sh = p;
        r->sh_mapped = 1;
    } else {
        r->sh = calloc(1, r->sh_size);
        if (!r->sh)
            return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    return ORR_OK;
}

/* Replace the merged params with the recorded ones (resume, step). */
static int recorded_params(struct runner *r, const char *json,
                           struct orr_error *e)
{
    int rc = orri_json_decode_push(r->L, json, strlen(json), e);
    if (rc)
        return rc;
    if (!lua_istable(r->L, -1)) {
        lua_pop(r->L, 1);
        lua_newtable(r->L);
    }
    r->params_idx = lua_gettop(r->L);
    return ORR_OK;
}

static int encode_params(struct runner *r, struct orr_error *e)
{
    return orri_json_encode_lua(r->L, r->params_idx, &r->params_json,
                                &r->params_len, e);
}

/* The recipe of a recorded run and its script text, read before the
 * worker pool exists (the connection is closed again before any fork). */
static int read_recipe(struct runner *r, const char *run,
                       struct orri_orun *rec, struct orr_error *e)
{
    const struct orr_site *site = orr_core_site(r->core);
    if (!orri_path_is_file(site->db_path))
        return orr_fail(e, ORR_ENOTFOUND, "no run %s: this site has no "
                        "metadata store yet (%s)", run, site->db_path);
    struct orri_ostore *os = NULL;
    int rc = orri_ostore_open(&os, site->db_path, e);
    if (!rc)
        rc = orri_ostore_run_get(os, run, rec, e);
    orri_ostore_close(os);
    if (rc)
        return rc;
    void *text = NULL;
    size_t len = 0;
    rc = orr_core_storage(r->core, &r->st, e);
    if (!rc)
        rc = orr_storage_get_buf(r->st, rec->script_digest, SCRIPT_MAX, &text,
                                 &len, e);
    if (rc) {
        orr_error_prefix(e, "reading the script of run %s", run);
        return rc;
    }
    r->script_text = text;
    r->script_len = len;
    r->rep->script = strdup(rec->script_path);
    memcpy(r->rep->script_digest, rec->script_digest,
           sizeof r->rep->script_digest);
    if (!r->rep->script ||
        orri_buf_printf(&r->chunkname, "@%s", rec->script_path))
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    return orri_path_dirname(r->script_dir, sizeof r->script_dir,
                             rec->script_path, e);
}

static int open_lua(struct runner *r, int print_stderr, struct orr_error *e)
{
    r->rt.core = r->core;
    r->rt.script_dir = r->script_dir;
    r->rt.chunkname = r->chunkname.data;
    r->rt.print_stderr = print_stderr;
    r->rt.on_artifact = on_artifact;
    r->rt.on_artifact_ud = r;
    return orri_lua_open(&r->L, &r->rt, e);
}

/* Steps a resumed run already finished keep their outputs. */
static void resume_done(struct runner *r)
{
    struct orr_error e = {0};
    for (size_t i = 0; i < r->n; i++) {
        struct step *s = &r->steps[i];
        struct orri_ostep_rec rec;
        struct orr_blob_info info;
        if (orri_ostore_step_get(r->os, r->run.id, s->rep->name, &rec, &e) ||
            strcmp(rec.status, "succeeded") || !rec.output[0] ||
            orr_storage_stat(r->st, rec.output, &info, &e))
            continue;
        s->state = S_DONE;
        s->step_id = rec.step_id;
        s->rep->status = ORR_STEP_SUCCEEDED;
        s->rep->cached = 1;
        s->rep->attempts = rec.attempts;
        memcpy(s->rep->output, rec.output, sizeof s->rep->output);
        memcpy(r->sh->slots[i].output, rec.output, sizeof rec.output);
        s->rep->output_size = rec.output_size;
        memcpy(s->rep->log, rec.log, sizeof s->rep->log);
    }
    for (size_t i = 0; i < r->n; i++) {
        struct step *s = &r->steps[i];
        s->waiting = 0;
        for (size_t k = 0; k < s->n_inputs; k++)
            s->waiting += r->steps[s->inputs[k]].state != S_DONE;
    }
}

/* The outputs the reproduced run recorded, for the report. */
static void originals(struct runner *r, const char *run)
{
    struct orr_error e = {0};
    for (size_t i = 0; i < r->n; i++) {
        struct orri_ostep_rec rec;
        struct orr_step_report *s = r->steps[i].rep;
        if (!orri_ostore_step_get(r->os, run, s->name, &rec, &e) &&
            !strcmp(rec.status, "succeeded"))
            memcpy(s->original, rec.output, sizeof s->original);
    }
}

/* Files of the log folder that are no step's log, once no step runs:
 * the empty files idle local workers keep for their next step
 * (`.spare-PID`, see plugins/orchestrator-local) and the output of job
 * arrays' wrappers (`array-ID.log`: each task writes its step's log). */
static void remove_spares(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[4200];
    while (d && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ".spare-", 7) &&
            strncmp(de->d_name, "array-", 6))
            continue;
        int n = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (n > 0 && (size_t)n < sizeof path)
            unlink(path);
    }
    if (d)
        closedir(d);
}

ORR_API int orr_workflow_run(struct orr_core *core,
                             const struct orr_run_options *opt,
                             struct orr_run_report **out,
                             struct orr_error *e)
{
    struct runner r = {0};
    struct orri_orun rec = {0};
    char abs[4096];
    int rc;
    *out = NULL;
    double t0 = now_ms();
    r.core = core;
    r.opt = opt;
    r.runner_pid = getpid();
    r.rep = calloc(1, sizeof *r.rep);
    if (!r.rep)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    if (opt->resume && opt->reproduce) {
        rc = orr_fail(e, ORR_EINVAL, "resume or reproduce, not both");
        goto fail;
    }
    if (opt->resume) {
        rc = read_recipe(&r, opt->resume, &rec, e);
        if (!rc && strcmp(rec.status, "succeeded") == 0)
            rc = orr_fail(e, ORR_EINVAL, "run %s succeeded already: "
                          "nothing to resume", opt->resume);
        if (rc)
            goto fail;
    } else if (opt->reproduce) {
        rc = read_recipe(&r, opt->reproduce, &rec, e);
        if (rc)
            goto fail;
        snprintf(abs, sizeof abs, "%s", rec.script_path);
    } else {
        if (!opt->script_path) {
            rc = orr_fail(e, ORR_EINVAL, "which workflow?");
            goto fail;
        }
        rc = orri_path_absolute(abs, sizeof abs, opt->script_path, e);
        if (rc)
            goto fail;
        if (!orri_path_is_file(abs)) {
            rc = orr_fail(e, ORR_ENOTFOUND, "no such workflow file: %s",
                          opt->script_path);
            goto fail;
        }
        r.rep->script = strdup(abs);
        if (!r.rep->script ||
            orri_buf_printf(&r.chunkname, "@%s", opt->script_path)) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
            goto fail;
        }
        rc = orri_path_dirname(r.script_dir, sizeof r.script_dir, abs, e);
        if (!rc)
            rc = read_script(&r, abs, e);
        if (rc)
            goto fail;
    }
    int recorded = opt->resume || opt->reproduce;
    rc = open_lua(&r, opt->print_stderr, e);
    if (!rc)
        rc = recorded ? load_workflow_text(&r, e)
                      : load_workflow(&r, opt->script_path, e);
    if (!rc)
        rc = build_steps(&r, e);
    if (!rc)
        rc = recorded ? recorded_params(&r, rec.params_json, e)
                      : merge_params(&r, opt, e);
    if (!rc)
        rc = encode_params(&r, e);
    if (!rc)
        rc = link_steps(&r, e);
    if (!rc)
        rc = map_slots(&r, 1, e);
    if (rc)
        goto fail;
    read_opts(&r);

    /* The orchestrator first: the local one forks its pool's zygote now,
     * while this process has no database connection open. */
    rc = orr_instance_open(core, ORR_KIND_ORCHESTRATOR, NULL, NULL,
                           &r.orch, e);
    if (!rc)
        rc = orr_core_meta(core, &r.meta, e);
    if (!rc)
        rc = orr_core_storage(core, &r.st, e);
    if (!rc)
        rc = orri_ostore_open(&r.os, orr_core_site(core)->db_path, e);
    if (rc)
        goto fail;
    r.rep->orchestrator = strdup(r.orch->backend->name);
    /* The embedded pool knows no arrays, and `after` only for a job
     * queued behind one running job (orchestrator-local). */
    r.inproc = !strcmp(r.orch->backend->name, "local");
    r.no_array = r.inproc;
    if (opt->resume) {
        memcpy(r.run.id, opt->resume, sizeof r.run.id);
        rc = orri_ostore_run_reopen(r.os, r.run.id, e);
    } else {
        /* The script's digest is its SHA-256, and the text stays as an
         * artifact: a run can always be traced to the exact code it ran,
         * and `orrery step` / --resume run that code. */
        rc = orr_storage_put_buf(r.st, r.script_text, r.script_len,
                                 r.rep->script_digest, e);
        if (rc) {
            orr_error_prefix(e, "storing the workflow script");
            goto fail;
        }
        const char *base = strrchr(abs, '/');
        rc = orr_meta_artifact(r.meta, 0, ORR_EVENT_INPUT,
                               r.rep->script_digest, r.script_len, "script",
                               base ? base + 1 : abs, e);
        char git_dir[4096], commit[41];
        int dirty = 0;
        if (orri_path_dirname(git_dir, sizeof git_dir, abs, NULL) ||
            !orri_git_info(git_dir, commit, &dirty))
            commit[0] = '\0';
        struct orr_run_spec spec = {
            .workflow = r.rep->workflow,
            .script_path = abs,
            .script_hash = r.rep->script_digest,
            .git_commit = commit[0] ? commit : NULL,
            .git_dirty = dirty,
        };
        if (!rc)
            rc = orr_meta_run_begin(r.meta, &spec, r.run.id, e);
        if (!rc)
            rc = orr_meta_set_tag(r.meta, r.run.id, "orrery.version",
                                  orri_orrery_version(), e);
        if (!rc && opt->reproduce)
            rc = orr_meta_set_tag(r.meta, r.run.id, "orrery.reproduces",
                                  opt->reproduce, e);
        if (!rc)
            rc = orri_ostore_run_put(r.os, r.run.id, r.rep->workflow,
                                     r.rep->script_digest, abs,
                                     r.params_json, e);
    }
    if (!rc)
        rc = orri_log_dir(r.log_dir, sizeof r.log_dir,
                          orr_core_site(core)->db_path, r.run.id, e);
    if (!rc)
        rc = orri_mkdir_p(r.log_dir, e);
    if (rc)
        goto fail;
    memcpy(r.sh->run_id, r.run.id, sizeof r.sh->run_id);
    r.run.core = core;
    r.run.meta = r.meta;
    memcpy(r.rep->run_id, r.run.id, sizeof r.rep->run_id);
    r.rep->status = ORR_RUN_RUNNING;
    *out = r.rep;               /* from here on the caller gets a report */

    if (opt->resume)
        resume_done(&r);
    else
        rc = log_params(&r, e);
    if (opt->reproduce)
        originals(&r, opt->reproduce);
    emit(&r, ORR_EV_STARTED, (size_t)-1, NULL);
    if (rc) {
        orr_error_prefix(e, "recording params");
        run_failure(&r, rc, e->msg);
    } else {
        for (size_t k = 0; k < r.n; k++) {
            size_t i = r.order[k];
            if (r.steps[i].state == S_WAIT && r.steps[i].waiting == 0)
                push_ready(&r, i);
        }
        execute(&r);
    }
    r.rep->status = r.cancelled ? ORR_RUN_CANCELLED :
                    r.first_code ? ORR_RUN_FAILED : ORR_RUN_SUCCEEDED;
    struct orr_error e2 = {0};
    /* The plugins this run loaded, for reproducing it. */
    char *plugins = orri_plugin_versions(orr_core_registry(core));
    if (plugins)
        orr_meta_set_tag(r.meta, r.run.id, "orrery.plugins", plugins, &e2);
    free(plugins);
    if (orr_meta_run_end(r.meta, r.run.id, r.rep->status, &e2) ||
        orr_meta_flush(r.meta, &e2)) {
        run_failure(&r, e2.code, e2.msg);
        r.rep->status = ORR_RUN_FAILED;
    }
    remove_spares(r.log_dir);
    rmdir(r.log_dir);           /* empty once every log is stored        */
    r.rep->duration_ms = now_ms() - t0;
    emit(&r, ORR_EV_FINISHED, (size_t)-1, NULL);
    rc = r.first_code;
    if (rc)
        orr_fail(e, rc, "%s", r.first_error);
    free(rec.params_json);
    runner_free(&r);
    return rc;
fail:
    free(rec.params_json);
    runner_free(&r);
    if (!*out)
        orr_run_report_free(r.rep);
    return rc;
}

ORR_API int orr_step_run(struct orr_core *core,
                         const struct orr_step_options *sopt,
                         char output[ORR_DIGEST_HEX_LEN + 1],
                         struct orr_error *e)
{
    struct runner r = {0};
    struct orri_orun rec = {0};
    struct orr_run_options opt = {0};
    const char *run_id = sopt->run_id, *step = sopt->step;
    int print_stderr = sopt->print_stderr;
    int rc;
    output[0] = '\0';
    r.core = core;
    r.opt = &opt;
    r.rep = calloc(1, sizeof *r.rep);
    if (!r.rep)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    rc = read_recipe(&r, run_id, &rec, e);
    if (!rc)
        rc = open_lua(&r, print_stderr, e);
    if (!rc)
        rc = load_workflow_text(&r, e);
    if (!rc)
        rc = build_steps(&r, e);
    if (!rc)
        rc = recorded_params(&r, rec.params_json, e);
    if (!rc)
        rc = encode_params(&r, e);
    if (!rc)
        rc = link_steps(&r, e);
    if (!rc)
        rc = map_slots(&r, 0, e);
    if (!rc)
        rc = orri_ostore_open(&r.os, orr_core_site(core)->db_path, e);
    if (rc)
        goto done;
    read_opts(&r);
    size_t i = r.n;
    for (size_t k = 0; k < r.n && i == r.n; k++)
        if (!strcmp(r.steps[k].rep->name, step))
            i = k;
    if (i == r.n) {
        rc = orr_fail(e, ORR_ENOTFOUND, "workflow '%s' of run %s has no "
                      "step '%s'", r.rep->workflow, run_id, step);
        goto done;
    }
    memcpy(r.run.id, run_id, sizeof r.run.id);
    memcpy(r.sh->run_id, run_id, sizeof r.sh->run_id);
    struct step *s = &r.steps[i];
    for (size_t k = 0; k < s->n_inputs; k++) {
        struct step *in = &r.steps[s->inputs[k]];
        struct orri_ostep_rec ir;
        if (orri_ostore_step_get(r.os, run_id, in->rep->name, &ir, e) ||
            strcmp(ir.status, "succeeded") || !ir.output[0]) {
            rc = orr_fail(e, ORR_ENOTFOUND, "step '%s' of run %s: its input "
                          "'%s' has not succeeded", step, run_id,
                          in->rep->name);
            goto done;
        }
        memcpy(in->rep->output, ir.output, sizeof ir.output);
        in->rep->output_size = ir.output_size;
        memcpy(r.sh->slots[s->inputs[k]].output, ir.output,
               sizeof ir.output);
    }
    s->o.retries = 0;           /* retrying is the submitter's business  */
    cache_key(&r, i, s->key);
    if (sopt->step_id > 0) {
        rc = orri_ostore_step_check(r.os, run_id, step, sopt->step_id, e);
        if (rc)
            goto done;
        r.adopt_step_id = sopt->step_id;
    }
    rc = orr_core_storage(core, &r.st, e);
    if (!rc)
        rc = orr_core_meta(core, &r.meta, e);
    if (rc)
        goto done;
    r.run.meta = r.meta;
    if (sopt->cache && s->o.cache && try_cache(&r, i)) {
        memcpy(output, s->rep->output, ORR_DIGEST_HEX_LEN + 1);
        relog(&r);
        goto done;
    }
    start(&r, i);
    if (s->state != S_RUNNING) {
        rc = orr_fail(e, r.first_code, "%s", r.first_error);
        goto done;
    }
    s->log_path[0] = '\0';      /* output goes where the caller sends it */
    struct orr_error ie = {0};
    struct orr_job_status js = {.size = sizeof js};
    js.state = invoke_step(&r.jobs[i], &ie) ? ORR_JOB_FAILED
                                             : ORR_JOB_SUCCEEDED;
    ended(&r, i, &js);
    if (s->rep->status == ORR_STEP_SUCCEEDED) {
        memcpy(output, s->rep->output, ORR_DIGEST_HEX_LEN + 1);
    } else {
        rc = orr_fail(e, r.first_code ? r.first_code : ORR_ESCRIPT, "%s",
                      r.first_error);
    }
done:
    free(rec.params_json);
    runner_free(&r);
    orr_run_report_free(r.rep);
    return rc;
}
