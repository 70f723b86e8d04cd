/*
 * runner/runner.c - load a workflow file, check its DAG, run its steps
 * through the site's orchestrator, record the run.
 */
#include "runner/runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "core.h"
#include "lua/lua_runtime.h"
#include "meta/run_handle.h"
#include "storage/artifacts.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/path.h"

/* Largest step value (JSON) a consumer step reads back. */
#define VALUE_MAX ((size_t)1 << 30)
/* Largest workflow file. */
#define SCRIPT_MAX ((size_t)16 << 20)

struct step {
    struct orr_step_report *rep;
    size_t                 *inputs;
    size_t                  n_inputs;
    int64_t                 step_id;
    char                    job_id[ORR_JOB_ID_SIZE];
    int                     submitted;
    int                     finished;
    double                  t0;
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
    struct orr_run         run;
    struct orr_run_report *rep;
    struct step           *steps;
    struct job            *jobs;
    size_t                 n;
    size_t                *order;
    size_t                 current;
    char                  *script_text;
    size_t                 script_len;
    char                   script_dir[4096];
    struct orr_buf         chunkname;
    char                   first_error[1024];   /* truncated into e */
    int                    first_code;
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
    if (!s->error)
        s->error = strdup(msg);
    if (!r->first_code) {
        r->first_code = code ? code : ORR_ESCRIPT;
        snprintf(r->first_error, sizeof r->first_error,
                 "step '%s' failed: %s", s->name, msg);
    }
}

static void on_artifact(void *ud, const char *digest, const char *name,
                        const char *kind, uint64_t size)
{
    struct runner *r = ud;
    struct orr_step_report *s = r->steps[r->current].rep;
    void *p = realloc(s->artifacts, (s->n_artifacts + 1) *
                                    sizeof *s->artifacts);
    if (!p)
        return;             /* the report loses a line, the run does not */
    s->artifacts = p;
    struct orr_step_artifact *a = &s->artifacts[s->n_artifacts];
    memcpy(a->digest, digest, sizeof a->digest);
    a->name = strdup(name);
    a->kind = strdup(kind);
    a->size = size;
    if (a->name && a->kind)
        s->n_artifacts++;
    else {
        free(a->name);
        free(a->kind);
    }
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
        if (lua_type(L, -1) == LUA_TSTRING) {
            rc = orr_meta_log_param(r->meta, r->run.id, keys[i],
                                    lua_tostring(L, -1), e);
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

/* --- executing one step (the job's invoke callback) -------------------- */

static int invoke_step(void *ctx, struct orr_error *e)
{
    struct job *job = ctx;
    struct runner *r = job->r;
    struct step *s = &r->steps[job->i];
    const char *name = s->rep->name;
    lua_State *L = r->L;
    int top = lua_gettop(L);
    int rc = ORR_OK;
    char *json = NULL;
    size_t len = 0;

    r->current = job->i;
    r->run.step_id = s->step_id;
    r->rt.run = &r->run;
    r->rt.step = name;
    lua_pushcfunction(L, orri_lua_msgh);
    int msgh = lua_gettop(L);
    orri_lua_workflow_push_fn(L, r->wf_idx, job->i);
    orri_lua_push_ctx(L, r->params_idx, r->run.id, name);
    for (size_t k = 0; k < s->n_inputs; k++) {
        struct orr_step_report *in = r->steps[s->inputs[k]].rep;
        void *data = NULL;
        size_t n = 0;
        char what[ORR_ERROR_MSG_SIZE];
        rc = orr_storage_get_buf(r->st, in->output, VALUE_MAX, &data, &n, e);
        if (!rc) {
            rc = orri_json_decode_push(L, data, n, e);
            free(data);
        }
        snprintf(what, sizeof what, "%s.json", in->name);
        if (!rc)
            rc = orr_meta_artifact(r->meta, s->step_id, ORR_EVENT_INPUT,
                                   in->output, n, "value", what, e);
        if (rc) {
            orr_error_prefix(e, "reading the output of step '%s'", in->name);
            note_failure(r, job->i, rc, e->msg);
            goto done;
        }
    }
    if (lua_pcall(L, 1 + (int)s->n_inputs, 1, msgh) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        rc = orr_fail(e, ORR_ESCRIPT, "%s", msg ? msg : "error");
        note_failure(r, job->i, rc, msg ? msg : "error");
        goto done;
    }
    rc = orri_json_encode_lua(L, -1, &json, &len, e);
    if (rc) {
        orr_error_prefix(e, "returned a value that cannot be stored");
        note_failure(r, job->i, rc, e->msg);
        goto done;
    }
    char what[ORR_ERROR_MSG_SIZE];
    snprintf(what, sizeof what, "%s.json", name);
    rc = orr_storage_put_buf(r->st, json, len, s->rep->output, e);
    if (!rc)
        rc = orr_meta_artifact(r->meta, s->step_id, ORR_EVENT_OUTPUT,
                               s->rep->output, len, "value", what, e);
    if (rc) {
        orr_error_prefix(e, "storing the value it returned");
        s->rep->output[0] = '\0';
        note_failure(r, job->i, rc, e->msg);
        goto done;
    }
    s->rep->output_size = len;
done:
    free(json);
    lua_settop(L, top);
    r->rt.run = NULL;
    r->rt.step = NULL;
    return rc;
}

/* --- the scheduling loop ------------------------------------------------ */

static const struct orr_orchestrator_ops *orch_ops(struct runner *r)
{
    return &r->orch->backend->ops.orchestrator;
}

static void end_step(struct runner *r, size_t i, enum orr_step_status st)
{
    struct step *s = &r->steps[i];
    struct orr_error e = {0};
    s->finished = 1;
    s->rep->status = st;
    if (s->submitted)
        s->rep->duration_ms = now_ms() - s->t0;
    enum orr_run_status rs = st == ORR_STEP_SUCCEEDED ? ORR_RUN_SUCCEEDED :
                             st == ORR_STEP_FAILED ? ORR_RUN_FAILED :
                             ORR_RUN_CANCELLED;
    if (s->step_id > 0 && orr_meta_step_end(r->meta, s->step_id, rs, &e) &&
        st == ORR_STEP_SUCCEEDED) {
        s->rep->status = ORR_STEP_FAILED;
        note_failure(r, i, e.code, e.msg);
    }
}

static void submit_step(struct runner *r, size_t i)
{
    struct step *s = &r->steps[i];
    struct orr_error e = {0};
    s->submitted = 1;
    s->t0 = now_ms();
    if (orr_meta_step_begin(r->meta, r->run.id, s->rep->name, &s->step_id,
                            &e)) {
        note_failure(r, i, e.code, e.msg);
        end_step(r, i, ORR_STEP_FAILED);
        return;
    }
    const char *argv[] = {"orrery", "step", r->run.id, s->rep->name, NULL};
    struct orr_job_spec spec = {
        .size = sizeof spec,
        .run_id = r->run.id,
        .step = s->rep->name,
        .argv = argv,
        .invoke = invoke_step,
        .invoke_ctx = &r->jobs[i],
    };
    lua_State *L = r->L;
    orri_lua_workflow_push_opts(L, r->wf_idx, i);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "cpus");
        spec.cpus = (unsigned)lua_tointeger(L, -1);
        lua_getfield(L, -2, "memory_mb");
        spec.memory_mb = (uint64_t)lua_tointeger(L, -1);
        lua_getfield(L, -3, "gpus");
        spec.gpus = (unsigned)lua_tointeger(L, -1);
        lua_getfield(L, -4, "time_limit_s");
        spec.time_limit_s = (uint64_t)lua_tointeger(L, -1);
        lua_pop(L, 4);
    }
    lua_pop(L, 1);
    if (orch_ops(r)->submit(r->orch->self, &spec, s->job_id, &e)) {
        /* A job that failed inside invoke is still reported by poll;
         * only a refusal to take the job at all ends up here. */
        orr_error_prefix(&e, "%s orchestrator", r->orch->backend->name);
        note_failure(r, i, e.code, e.msg);
        end_step(r, i, ORR_STEP_FAILED);
    }
}

/* Poll job i; 1 if it has finished (and was ended). */
static int check_job(struct runner *r, size_t i)
{
    struct step *s = &r->steps[i];
    struct orr_job_status js = {.size = sizeof js};
    struct orr_error e = {0};
    if (orch_ops(r)->poll(r->orch->self, s->job_id, &js, &e)) {
        note_failure(r, i, e.code, e.msg);
        end_step(r, i, ORR_STEP_FAILED);
        return 1;
    }
    if (js.state == ORR_JOB_PENDING || js.state == ORR_JOB_RUNNING)
        return 0;
    if (js.state == ORR_JOB_SUCCEEDED && !s->rep->error) {
        end_step(r, i, ORR_STEP_SUCCEEDED);
        return 1;
    }
    char why[ORR_ERROR_MSG_SIZE];
    if (js.reason[0])
        snprintf(why, sizeof why, "%s", js.reason);
    else if (js.term_signal)
        snprintf(why, sizeof why, "killed by signal %d", js.term_signal);
    else
        snprintf(why, sizeof why, "job %s ended in state %d (exit code %d)",
                 s->job_id, (int)js.state, js.exit_code);
    note_failure(r, i, ORR_EBACKEND, why);
    end_step(r, i, ORR_STEP_FAILED);
    return 1;
}

static void execute(struct runner *r)
{
    const struct orr_orchestrator_ops *ops = orch_ops(r);
    unsigned cap = ops->capacity(r->orch->self);
    if (cap == 0)
        cap = 1;
    size_t running = 0;
    for (;;) {
        for (size_t k = 0; k < r->n; k++) {
            size_t i = r->order[k];
            struct step *s = &r->steps[i];
            if (s->submitted || s->finished)
                continue;
            int ready = 1;
            const char *bad = NULL;
            for (size_t j = 0; j < s->n_inputs; j++) {
                struct step *in = &r->steps[s->inputs[j]];
                if (in->finished && in->rep->status != ORR_STEP_SUCCEEDED)
                    bad = in->rep->name;
                else if (!in->finished)
                    ready = 0;
            }
            if (bad) {
                /* Recorded as a cancelled execution: it never ran. */
                struct orr_error e = {0};
                s->rep->skipped_because = strdup(bad);
                if (orr_meta_step_begin(r->meta, r->run.id, s->rep->name,
                                        &s->step_id, &e))
                    s->step_id = 0;
                end_step(r, i, ORR_STEP_SKIPPED);
                continue;
            }
            if (!ready || running >= cap)
                continue;
            submit_step(r, i);
            if (!s->finished)
                running++;
        }
        if (running == 0)
            break;
        /* Wait for one job to finish. */
        char id[ORR_JOB_ID_SIZE] = "";
        struct orr_error e = {0};
        if (ops->wait_any && ops->wait_any(r->orch->self, -1, id, &e))
            id[0] = '\0';
        size_t done = 0;
        for (size_t i = 0; i < r->n; i++) {
            struct step *s = &r->steps[i];
            if (!s->submitted || s->finished)
                continue;
            if (id[0] && strcmp(id, s->job_id))
                continue;
            done += (size_t)check_job(r, i);
        }
        if (!done && !ops->wait_any) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        running -= done;
    }
}

static void runner_free(struct runner *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->steps[i].inputs);
    free(r->steps);
    free(r->jobs);
    free(r->order);
    free(r->script_text);
    orri_buf_free(&r->chunkname);
    orr_instance_close(r->orch);
    orri_lua_close(r->L);
}

ORR_API int orr_workflow_run(struct orr_core *core,
                             const struct orr_run_options *opt,
                             struct orr_run_report **out,
                             struct orr_error *e)
{
    struct runner r = {0};
    char abs[4096];
    int rc;
    *out = NULL;
    double t0 = now_ms();
    r.core = core;
    r.rep = calloc(1, sizeof *r.rep);
    if (!r.rep)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
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
    r.rt.core = core;
    r.rt.script_dir = r.script_dir;
    r.rt.chunkname = r.chunkname.data;
    r.rt.print_stderr = opt->print_stderr;
    r.rt.on_artifact = on_artifact;
    r.rt.on_artifact_ud = &r;
    rc = orri_lua_open(&r.L, &r.rt, e);
    if (!rc)
        rc = load_workflow(&r, opt->script_path, e);
    if (!rc)
        rc = build_steps(&r, e);
    if (!rc)
        rc = merge_params(&r, opt, e);
    if (rc)
        goto fail;

    /* Backends: only now, so script errors cost no database or plugin. */
    rc = orr_core_meta(core, &r.meta, e);
    if (!rc)
        rc = orr_core_storage(core, &r.st, e);
    if (!rc)
        rc = orr_instance_open(core, ORR_KIND_ORCHESTRATOR, NULL, NULL,
                               &r.orch, e);
    if (rc)
        goto fail;
    r.rep->orchestrator = strdup(r.orch->backend->name);
    /* The script's digest is its SHA-256, and the text stays as an
     * artifact: a run can always be traced to the exact code it ran. */
    rc = orr_storage_put_buf(r.st, r.script_text, r.script_len,
                             r.rep->script_digest, e);
    if (rc) {
        orr_error_prefix(e, "storing the workflow script");
        goto fail;
    }
    const char *base = strrchr(abs, '/');
    rc = orr_meta_artifact(r.meta, 0, ORR_EVENT_INPUT, r.rep->script_digest,
                           r.script_len, "script", base ? base + 1 : abs, e);
    struct orr_run_spec spec = {
        .workflow = r.rep->workflow,
        .script_path = abs,
        .script_hash = r.rep->script_digest,
    };
    if (!rc)
        rc = orr_meta_run_begin(r.meta, &spec, r.run.id, e);
    if (rc)
        goto fail;
    r.run.core = core;
    r.run.meta = r.meta;
    memcpy(r.rep->run_id, r.run.id, sizeof r.rep->run_id);
    r.rep->status = ORR_RUN_RUNNING;
    *out = r.rep;               /* from here on the caller gets a report */

    rc = log_params(&r, e);
    if (rc) {
        orr_error_prefix(e, "recording params");
        r.first_code = rc;
        snprintf(r.first_error, sizeof r.first_error, "%s", e->msg);
    } else {
        execute(&r);
    }
    r.rep->status = r.first_code ? ORR_RUN_FAILED : ORR_RUN_SUCCEEDED;
    struct orr_error e2 = {0};
    if (orr_meta_run_end(r.meta, r.run.id, r.rep->status, &e2) ||
        orr_meta_flush(r.meta, &e2)) {
        if (!r.first_code) {
            r.first_code = e2.code;
            snprintf(r.first_error, sizeof r.first_error,
                     "recording the run's end: %s", e2.msg);
        }
        r.rep->status = ORR_RUN_FAILED;
    }
    r.rep->duration_ms = now_ms() - t0;
    rc = r.first_code;
    if (rc)
        orr_fail(e, rc, "%s", r.first_error);
    runner_free(&r);
    return rc;
fail:
    runner_free(&r);
    if (!*out)
        orr_run_report_free(r.rep);
    return rc;
}
