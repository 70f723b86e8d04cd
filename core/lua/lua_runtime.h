/*
 * lua/lua_runtime.h - the embedded Lua 5.4 runtime: the `orrery` module a
 * workflow requires, its objects (workflow, step handle, ctx, storage) and
 * the JSON codec for values that cross steps.
 *
 * One lua_State per workflow.  The state carries a `struct orri_lua_rt`
 * (in its extra space) that binds it to a core and to the step being
 * executed; the bindings read it, the runner (core/runner/) writes it.
 *
 * Error conventions (STYLE.md rule 10): misuse raises (luaL_check*);
 * operational failures of orrery.storage return nil, message, code.  The
 * ctx methods raise instead, because inside a step an operation that
 * cannot be done must fail the step, not hand a nil to the next line.
 */
#ifndef ORRI_LUA_LUA_RUNTIME_H
#define ORRI_LUA_LUA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lua.h>

#include <orrery/status.h>
#include <orrery/storage.h>

#include "api.h"
#include "meta/meta.h"

struct orr_core;
struct orr_run;

/* Registry names of the metatables. */
#define ORRI_LUA_WORKFLOW_MT "orrery.workflow"
#define ORRI_LUA_STEP_MT     "orrery.step"
#define ORRI_LUA_CTX_MT      "orrery.ctx"
#define ORRI_LUA_STORAGE_MT  "orrery.storage"

/* Called for every artifact a step stores with ctx:store (for reports). */
typedef void (*orri_lua_artifact_fn)(void *ud, const char *digest,
                                     const char *name, const char *kind,
                                     uint64_t size);

/* Per-state context.  Owned by whoever opened the state; the strings are
 * borrowed and must outlive the state. */
struct orri_lua_rt {
    struct orr_core *core;          /* may be NULL: storage/ctx then fail */
    const char      *script_dir;    /* absolute; relative paths start here */
    const char      *chunkname;     /* "@path" the script was loaded as    */
    int              print_stderr;  /* 1: print() writes to stderr         */
    /* Set by the runner while a step executes, NULL otherwise. */
    struct orr_run  *run;           /* metadata handle (step_id current)   */
    const char      *step;          /* name of the executing step          */
    orri_lua_artifact_fn on_artifact;
    void            *on_artifact_ud;
    /* Workflows created by the script, for "the script returned none". */
    int              n_workflows;
};

/* Create a state with the standard libraries and package.preload.orrery.
 * `rt` is borrowed (it must outlive the state).  ORR_ENOMEM on failure. */
int orri_lua_open(lua_State **out, struct orri_lua_rt *rt,
                  struct orr_error *e);
void orri_lua_close(lua_State *L);                       /* NULL ok */
struct orri_lua_rt *orri_lua_rt(lua_State *L);

/* The module loader (package.preload.orrery). */
int luaopen_orrery(lua_State *L);

/* A message handler for lua_pcall: turns the error into a string that
 * starts with "file:line:" of the innermost frame in the workflow file
 * (when the message does not already carry that location). */
int orri_lua_msgh(lua_State *L);

/* Resolve `path` against rt->script_dir into `out` (absolute paths are
 * kept).  ORR_EINVAL if it does not fit. */
int orri_lua_resolve(lua_State *L, const char *path, char *out, size_t cap,
                     struct orr_error *e);

/* --- workflows (l_workflow.c) ------------------------------------------ */

/* Marks an input that is not a step handle of the workflow. */
#define ORRI_LUA_BAD_INPUT ((size_t)-1)

/* Register the workflow/step metatables; push orrery.workflow. */
int orri_lua_open_workflow(lua_State *L);
/* 1 if the value at `idx` is a workflow. */
int orri_lua_is_workflow(lua_State *L, int idx);
/* Name and number of steps of the workflow at `idx`.  `name` points into
 * a Lua string owned by the workflow. */
void orri_lua_workflow_info(lua_State *L, int idx, const char **name,
                            size_t *n_steps);
/* Step `i` (0-based) of the workflow at `idx`: its name (owned by the
 * workflow) and up to `cap` input indices (0-based; ORRI_LUA_BAD_INPUT
 * for anything that is not a step of this workflow).  Returns the number
 * of inputs, which may exceed `cap`. */
size_t orri_lua_workflow_step(lua_State *L, int idx, size_t i,
                              const char **name, size_t *inputs, size_t cap);
/* Push step `i`'s function / its options table (or nil). */
void orri_lua_workflow_push_fn(lua_State *L, int idx, size_t i);
void orri_lua_workflow_push_opts(lua_State *L, int idx, size_t i);
/* Push the workflow's params table (never nil). */
void orri_lua_workflow_push_params(lua_State *L, int idx);

/* --- ctx (l_ctx.c) --------------------------------------------------- */

/* Push a new ctx for the executing step: ctx.params = a shallow copy of
 * the table at `params_idx`, ctx.run_id, ctx.step. */
void orri_lua_push_ctx(lua_State *L, int params_idx, const char *run_id,
                       const char *step);
void orri_lua_open_ctx(lua_State *L);           /* registers the metatable */

/* --- tracking (l_runs.c) -------------------------------------------- */

/* Add ctx:log_metrics, ctx:log_params, ctx:set_tag to the table on top. */
void orri_lua_add_tracking(lua_State *L);
/* Push the orrery.runs table (list, get, metric). */
void orri_lua_open_runs(lua_State *L);

/* --- datasets and models (l_data.c, l_model.c) ----------------------- */

#define ORRI_LUA_DATASET_MT  "orrery.dataset"
#define ORRI_LUA_MODEL_MT    "orrery.model"

struct orr_dataset;

/* Register the dataset and model metatables. */
void orri_lua_open_data(lua_State *L);
void orri_lua_open_model(lua_State *L);
/* orrery.monitor (l_monitor.c): pushes the table. */
void orri_lua_open_monitor(lua_State *L);
/* ctx:dataset and ctx:train (methods of ctx). */
int orri_lua_ctx_dataset(lua_State *L);
int orri_lua_ctx_train(lua_State *L);
/* The dataset at `idx`, fetched on first use (raises on failure). */
struct orr_dataset *orri_lua_check_dataset(lua_State *L, int idx);
/* Push a dataset userdata owning `ds`. */
void orri_lua_push_dataset(lua_State *L, struct orr_dataset *ds);
/* The digest of the dataset at `idx`, storing it first if needed
 * (raises on failure). */
const char *orri_lua_dataset_digest(lua_State *L, int idx);
/* The digest of the model at `idx` (the manifest's: see
 * data/model_io.h), or NULL if it is not a stored model.  Never raises. */
/* Record an artifact as an input or output of the executing step (a
 * no-op outside a step).  size 0 = take the stored size. */
int orri_lua_record_artifact(struct orri_lua_rt *rt, enum orr_event_dir dir,
                             const char *digest, uint64_t size,
                             const char *kind, const char *name,
                             struct orr_error *e);
const char *orri_lua_model_digest(lua_State *L, int idx);
/* The flavor of a model userdata at `idx`, or NULL; never raises. */
const char *orri_lua_model_flavor(lua_State *L, int idx);
/* JSON hooks for values that cross steps: a dataset or model userdata
 * becomes {"$orrery": "dataset"|"model", "digest": ...} (stored first if
 * needed); NULL with `why` set on failure, NULL with why[0] == 0 when the
 * value is no such userdata.  Never raises except on memory errors. */
json_t *orri_lua_ref_to_json(lua_State *L, int idx, char *why, size_t cap);
json_t *orri_lua_model_ref_to_json(lua_State *L, int idx, char *why,
                                   size_t cap);
/* Push the userdata for such a JSON object (loaded lazily on first use);
 * returns 0 (pushing nothing) if `v` is not a reference. */
int orri_lua_push_ref(lua_State *L, const json_t *v);
int orri_lua_push_model_ref(lua_State *L, const json_t *v);

/* --- storage (l_storage.c) ------------------------------------------- */

void orri_lua_open_storage(lua_State *L);  /* pushes the storage sub-table */

/* --- JSON (l_json.c) ------------------------------------------------- */

/* Convert the Lua value at `idx` (nil, boolean, number, string, or a table
 * of those: a sequence 1..n becomes an array, string keys an object) to
 * JSON.  Integers stay integers.  On failure writes into `why` a message
 * naming the bad value and its key path (".a.b[3]") and returns
 * ORR_EINVAL; never raises (except on memory errors). */
int orri_json_from_lua(lua_State *L, int idx, json_t **out, char *why,
                       size_t why_cap);
/* Push the Lua value of `v` (NULL or JSON null: nil). */
void orri_json_push(lua_State *L, const json_t *v);
/* Encode a Lua value as deterministic compact JSON text (sorted keys,
 * floats with %.17g); a malloc'ed string the caller frees. */
int orri_json_encode_lua(lua_State *L, int idx, char **out, size_t *len,
                         struct orr_error *e);
/* Decode JSON text and push its value; ORR_ECORRUPT if malformed. */
int orri_json_decode_push(lua_State *L, const char *text, size_t len,
                          struct orr_error *e);

#endif
