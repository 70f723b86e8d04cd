/*
 * lua/l_model.c - training and models in Lua: ctx:train() and the
 * "orrery.model" userdata (predict, predict_proba, evaluate; digest,
 * flavor, task, target, classes, inputs).
 *
 * ctx:train(name, ds, params) opens the site's trainer `name`, fits into a
 * temporary directory, stores the directory as a model artifact (see
 * data/model_io.h), records the training set as the step's input and the
 * model as its output, and loads the model with its flavor's runtime.
 * A failed fit stores and records nothing.
 *
 * A model crosses steps like a dataset: as {"$orrery": "model", "digest":
 * ..., "flavor": ...}, loaded on first use in the consuming step.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "config/cfg.h"
#include "core.h"
#include "data/model_io.h"
#include "lua/lua_runtime.h"
#include "meta/run_handle.h"
#include "plugin/model.h"
#include "storage/artifacts.h"
#include "util/error.h"

struct l_model {
    struct orr_model         *m;        /* NULL until loaded               */
    struct orr_model_manifest mf;
    char digest[ORR_DIGEST_HEX_LEN + 1];
    char flavor[ORR_FLAVOR_SIZE];
};

static struct l_model *new_ud(lua_State *L)
{
    struct l_model *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    luaL_setmetatable(L, ORRI_LUA_MODEL_MT);
    return u;
}

static struct l_model *check_model(lua_State *L, int idx)
{
    struct l_model *u = luaL_checkudata(L, idx, ORRI_LUA_MODEL_MT);
    if (u->m)
        return u;
    struct orri_lua_rt *rt = orri_lua_rt(L);
    struct orr_error e = {0};
    if (!rt || !rt->core)
        luaL_error(L, "models need a site (no core is open)");
    if (!u->digest[0])
        luaL_error(L, "model was released");
    if (orr_model_open(rt->core, u->digest, &u->m, &u->mf, &e))
        luaL_error(L, "model %s: %s", u->digest, e.msg);
    if (orri_lua_record_artifact(rt, ORR_EVENT_INPUT, u->digest, 0, "model", u->mf.trainer,
               &e))
        luaL_error(L, "metadata: %s", e.msg);
    return u;
}

const char *orri_lua_model_digest(lua_State *L, int idx)
{
    struct l_model *u = luaL_testudata(L, idx, ORRI_LUA_MODEL_MT);
    return u && u->digest[0] ? u->digest : NULL;
}

const char *orri_lua_model_flavor(lua_State *L, int idx)
{
    struct l_model *u = luaL_testudata(L, idx, ORRI_LUA_MODEL_MT);
    return u && u->flavor[0] ? u->flavor : NULL;
}

/* --- Lua table -> orr_cfg (trainer params) ------------------------------- */

static int to_cfg(lua_State *L, int idx, struct orr_cfg *t, int depth,
                  char *why, size_t cap)
{
    idx = lua_absindex(L, idx);
    if (depth > 16) {
        snprintf(why, cap, "parameters nested too deeply");
        return ORR_EINVAL;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        char kbuf[32];
        const char *k;
        if (lua_type(L, -2) == LUA_TSTRING) {
            k = lua_tostring(L, -2);
        } else if (lua_isinteger(L, -2)) {
            snprintf(kbuf, sizeof kbuf, "%lld",
                     (long long)lua_tointeger(L, -2));
            k = kbuf;
        } else {
            snprintf(why, cap, "a parameter key of type %s",
                     luaL_typename(L, -2));
            lua_pop(L, 2);
            return ORR_EINVAL;
        }
        struct orr_cfg *node = NULL;
        /* params.valid = dataset: the fit's validation set, not a cfg. */
        if (depth == 0 && !strcmp(k, "valid") &&
            luaL_testudata(L, -1, ORRI_LUA_DATASET_MT)) {
            lua_pop(L, 1);
            continue;
        }
        switch (lua_type(L, -1)) {
        case LUA_TBOOLEAN:
            node = orr_cfg_set_bool(t, k, lua_toboolean(L, -1), "ctx:train");
            break;
        case LUA_TNUMBER:
            node = lua_isinteger(L, -1) ?
                   orr_cfg_set_int(t, k, lua_tointeger(L, -1), "ctx:train") :
                   orr_cfg_set_num(t, k, lua_tonumber(L, -1), "ctx:train");
            break;
        case LUA_TSTRING:
            node = orr_cfg_set_str(t, k, lua_tostring(L, -1), "ctx:train");
            break;
        case LUA_TTABLE:
            node = orr_cfg_set_table(t, k, "ctx:train");
            if (node && to_cfg(L, -1, node, depth + 1, why, cap)) {
                lua_pop(L, 2);
                return ORR_EINVAL;
            }
            break;
        default:
            snprintf(why, cap, "parameter '%s' is a %s", k,
                     luaL_typename(L, -1));
            lua_pop(L, 2);
            return ORR_EINVAL;
        }
        if (!node) {
            snprintf(why, cap, "out of memory");
            lua_pop(L, 2);
            return ORR_ENOMEM;
        }
        lua_pop(L, 1);
    }
    return ORR_OK;
}

/* --- ctx:train ------------------------------------------------------------ */

struct train_job {
    struct orr_cfg      *params;
    struct orr_instance *inst;
    char                 dir[4096];
    int                  have_dir;
};

static void job_cleanup(struct train_job *j)
{
    orr_cfg_free(j->params);
    orr_instance_close(j->inst);
    if (j->have_dir)
        orr_tempdir_remove(j->dir);
}

/* ctx:train(trainer, ds [, params]) -> model */
int orri_lua_ctx_train(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct orri_lua_rt *rt = orri_lua_rt(L);
    if (!rt || !rt->run || !rt->step || !rt->core)
        return luaL_error(L, "ctx used outside of its step");
    const char *name = luaL_checkstring(L, 2);
    struct orr_dataset *ds = orri_lua_check_dataset(L, 3);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TTABLE);
    struct l_model *u = new_ud(L);
    const char *digest = orri_lua_dataset_digest(L, 3);  /* stores it */
    struct train_job j = {0};
    struct orr_error e = {0};
    char why[ORR_ERROR_MSG_SIZE] = "";
    int rc = ORR_OK;
    uint64_t seed = 0;
    unsigned threads = 1;
    struct orr_dataset *valid = NULL;
    const char *valid_digest = NULL;
    if (!lua_isnoneornil(L, 4)) {
        if (lua_getfield(L, 4, "valid") != LUA_TNIL) {
            valid = orri_lua_check_dataset(L, -1);
            if (valid->view.target == ORR_NO_TARGET)
                return luaL_error(L, "ctx:train: the validation set has no "
                                  "target");
            valid_digest = orri_lua_dataset_digest(L, -1);
        }
        lua_pop(L, 1);          /* still referenced by the params table */
    }
    /* The step's declared cpus, unless the params say otherwise. */
    if (lua_type(L, 1) == LUA_TTABLE) {
        if (lua_getfield(L, 1, "cpus") == LUA_TNUMBER &&
            lua_tointeger(L, -1) > 0)
            threads = (unsigned)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    if (!(j.params = orr_cfg_new_table()))
        return luaL_error(L, "out of memory");
    if (!lua_isnoneornil(L, 4)) {
        rc = to_cfg(L, 4, j.params, 0, why, sizeof why);
        lua_getfield(L, 4, "seed");
        seed = (uint64_t)lua_tointeger(L, -1);
        lua_getfield(L, 4, "threads");
        if (lua_tointeger(L, -1) > 0)
            threads = (unsigned)lua_tointeger(L, -1);
        lua_pop(L, 2);
    }
    if (rc) {
        orr_cfg_free(j.params);
        return luaL_error(L, "ctx:train: %s", why);
    }
    if (ds->view.target == ORR_NO_TARGET) {
        orr_cfg_free(j.params);
        return luaL_error(L, "ctx:train: the dataset has no target (give "
                          "target = ... to ctx:dataset)");
    }
    struct orr_instance *st = NULL;
    struct orr_fit_result res = {.size = sizeof res};
    rc = orr_core_storage(rt->core, &st, &e);
    if (!rc)
        rc = orr_instance_open(rt->core, ORR_KIND_TRAINER, name, NULL,
                               &j.inst, &e);
    if (!rc && !(rc = orr_tempdir(j.dir, sizeof j.dir, "orrery-fit", &e)))
        j.have_dir = 1;
    if (!rc) {
        struct orr_fit_request req = {
            .size = sizeof req, .train = &ds->view,
            .valid = valid ? &valid->view : NULL, .params = j.params,
            .run = rt->run, .out_dir = j.dir, .seed = seed,
            .threads = threads,
        };
        struct orr_error le = {0};
        rc = j.inst->backend->ops.trainer.fit(j.inst->self, &req, &res, &le);
        if (rc) {
            rc = orri_plugin_status(rc, &le);
            orr_fail(&e, rc, "trainer '%s' failed: %s", name, le.msg);
        }
    }
    if (!rc && !res.flavor[0])
        rc = orr_fail(&e, ORR_EBACKEND, "trainer '%s' named no flavor",
                      name);
    /* The manifest: what evaluation needs beyond the runtime. */
    struct orr_model_manifest *mf = &u->mf;
    if (!rc) {
        const struct orr_column *tc = &ds->cols[ds->view.target];
        memcpy(mf->flavor, res.flavor, sizeof mf->flavor);
        mf->flavor[sizeof mf->flavor - 1] = '\0';
        snprintf(mf->trainer, sizeof mf->trainer, "%s", name);
        mf->task = res.task;
        mf->target_numeric = tc->type != ORR_COL_CATEGORY;
        memcpy(mf->train_dataset, digest, sizeof mf->train_dataset);
        if (!(mf->target = strdup(tc->name)))
            rc = orr_fail(&e, ORR_ENOMEM, "out of memory");
        size_t *cls = NULL;
        if (!rc && (res.task == ORR_TASK_BINARY ||
                    res.task == ORR_TASK_MULTICLASS))
            rc = orr_dataset_classes(ds, &mf->classes, &mf->n_classes, &cls,
                                     &e);
        free(cls);
    }
    uint64_t size = 0;
    char label[96];
    snprintf(label, sizeof label, "%s-model", name);
    /* Load before storing: a model no runtime loads (an unknown flavor,
     * corrupt files) is never stored. */
    if (!rc)
        rc = orr_model_load(rt->core, mf->flavor, j.dir, &u->m, &e);
    if (!rc)
        rc = orr_model_store_dir(st, j.dir, mf, u->digest, &size, &e);
    if (!rc)
        rc = orri_lua_record_artifact(rt, ORR_EVENT_INPUT, digest, 0, "dataset",
                    ds->source ? ds->source : "dataset", &e);
    if (!rc && valid_digest)
        rc = orri_lua_record_artifact(rt, ORR_EVENT_INPUT, valid_digest, 0, "dataset",
                    valid->source ? valid->source : "dataset", &e);
    if (!rc)
        rc = orri_lua_record_artifact(rt, ORR_EVENT_OUTPUT, u->digest, 0, "model", label,
                    &e);        /* the manifest's size: stat'ed */
    job_cleanup(&j);
    if (rc) {
        orr_model_release(u->m);
        u->m = NULL;
        u->digest[0] = '\0';
        return luaL_error(L, "ctx:train: %s", e.msg);
    }
    if (rt->on_artifact)
        rt->on_artifact(rt->on_artifact_ud, u->digest, label, "model", size);
    memcpy(u->flavor, mf->flavor, sizeof u->flavor);
    return 1;
}

/* --- methods ------------------------------------------------------------- */

static int predict(lua_State *L, int proba)
{
    struct l_model *u = check_model(L, 1);
    struct orr_dataset *ds = orri_lua_check_dataset(L, 2);
    double *y = NULL;
    size_t k = 0, n = ds->view.rows;
    struct orr_error e = {0};
    if (orr_model_predict_dataset(u->m, ds, &y, &k, &e))
        return luaL_error(L, "predict: %s", e.msg);
    lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
    const struct orr_model_manifest *mf = &u->mf;
    int classify = mf->task == ORR_TASK_BINARY ||
                   mf->task == ORR_TASK_MULTICLASS;
    for (size_t r = 0; r < n; r++) {
        if (proba && k > 1) {
            lua_createtable(L, (int)k, 0);
            for (size_t c = 0; c < k; c++) {
                lua_pushnumber(L, y[r * k + c]);
                lua_rawseti(L, -2, (lua_Integer)c + 1);
            }
        } else if (proba || !classify || !mf->n_classes) {
            lua_pushnumber(L, y[r * k]);
        } else {
            size_t best = 0;
            if (k == 1)
                best = y[r] > 0.5;
            else
                for (size_t c = 1; c < k; c++)
                    if (y[r * k + c] > y[r * k + best])
                        best = c;
            const char *label = best < mf->n_classes ?
                                mf->classes[best] : "?";
            if (mf->target_numeric && lua_stringtonumber(L, label))
                ;       /* pushed the number */
            else
                lua_pushstring(L, label);
        }
        lua_rawseti(L, -2, (lua_Integer)r + 1);
    }
    free(y);
    return 1;
}

static int l_predict(lua_State *L)
{
    return predict(L, 0);
}

static int l_predict_proba(lua_State *L)
{
    return predict(L, 1);
}

/* model:evaluate(ds [, {prefix = "test_"}]) -> metrics table, logged */
static int l_evaluate(lua_State *L)
{
    struct l_model *u = check_model(L, 1);
    struct orr_dataset *ds = orri_lua_check_dataset(L, 2);
    const char *prefix = "";
    int log = 1;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "prefix");
        prefix = luaL_optstring(L, -1, "");
        lua_getfield(L, 3, "log");
        log = lua_isnil(L, -1) || lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    json_t *j = NULL;
    struct orr_error e = {0};
    if (orr_model_evaluate(u->m, &u->mf, ds, &j, &e))
        return luaL_error(L, "evaluate: %s", e.msg);
    struct orri_lua_rt *rt = orri_lua_rt(L);
    static const char *const keys[] = {
        "accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc",
        "log_loss", "rmse", "mae", "r2"
    };
    int rc = ORR_OK;
    if (log && rt && rt->run && rt->run->meta) {
        for (size_t i = 0; i < sizeof keys / sizeof *keys && !rc; i++) {
            json_t *v = json_object_get(j, keys[i]);
            char key[256];
            if (!json_is_number(v))
                continue;
            snprintf(key, sizeof key, "%s%s", prefix, keys[i]);
            rc = orr_meta_log_metric(rt->run->meta, rt->run->id, key,
                                     json_number_value(v), 0, &e);
        }
        const char *dg = ds->hash[0] ? ds->hash : NULL;
        if (!rc && dg)
            rc = orri_lua_record_artifact(rt, ORR_EVENT_INPUT, dg, 0, "dataset",
                        ds->source ? ds->source : "dataset", &e);
    }
    if (rc) {
        json_decref(j);
        return luaL_error(L, "evaluate: %s", e.msg);
    }
    orri_json_push(L, j);       /* raises only on memory errors */
    json_decref(j);
    return 1;
}

static int l_index(lua_State *L)
{
    struct l_model *u = luaL_checkudata(L, 1, ORRI_LUA_MODEL_MT);
    const char *k = luaL_checkstring(L, 2);
    if (!strcmp(k, "digest") || !strcmp(k, "hash")) {
        lua_pushstring(L, u->digest);
    } else if (!strcmp(k, "flavor")) {
        lua_pushstring(L, u->flavor);
    } else if (!strcmp(k, "task") || !strcmp(k, "target") ||
               !strcmp(k, "classes") || !strcmp(k, "trainer") ||
               !strcmp(k, "inputs")) {
        check_model(L, 1);
        const struct orr_model_manifest *mf = &u->mf;
        if (k[0] == 't' && k[1] == 'a' && k[2] == 's') {
            static const char *const names[] = {"unknown", "regression",
                "binary", "multiclass", "ranking"};
            lua_pushstring(L, names[mf->task <= ORR_TASK_RANKING ?
                                    mf->task : 0]);
        } else if (!strcmp(k, "target")) {
            lua_pushstring(L, mf->target ? mf->target : "");
        } else if (!strcmp(k, "trainer")) {
            lua_pushstring(L, mf->trainer);
        } else if (!strcmp(k, "classes")) {
            lua_createtable(L, (int)mf->n_classes, 0);
            for (size_t i = 0; i < mf->n_classes; i++) {
                lua_pushstring(L, mf->classes[i]);
                lua_rawseti(L, -2, (lua_Integer)i + 1);
            }
        } else {
            struct orr_model_info info = {.size = sizeof info};
            struct orr_error e = {0};
            if (orr_model_info(u->m, &info, &e))
                return luaL_error(L, "%s", e.msg);
            lua_createtable(L, (int)info.n_features, 0);
            for (size_t i = 0; info.feature_names && i < info.n_features;
                 i++) {
                lua_pushstring(L, info.feature_names[i]);
                lua_rawseti(L, -2, (lua_Integer)i + 1);
            }
        }
    } else {
        lua_getmetatable(L, 1);
        lua_getfield(L, -1, "methods");
        lua_getfield(L, -1, k);
    }
    return 1;
}

static int l_gc(lua_State *L)
{
    struct l_model *u = luaL_checkudata(L, 1, ORRI_LUA_MODEL_MT);
    orr_model_release(u->m);
    u->m = NULL;
    orr_model_manifest_clear(&u->mf);
    return 0;
}

static int l_tostring(lua_State *L)
{
    struct l_model *u = luaL_checkudata(L, 1, ORRI_LUA_MODEL_MT);
    lua_pushfstring(L, "orrery.model(%s %s)", u->flavor, u->digest);
    return 1;
}

void orri_lua_open_model(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"predict", l_predict}, {"predict_proba", l_predict_proba},
        {"evaluate", l_evaluate}, {NULL, NULL}
    };
    static const luaL_Reg meta[] = {
        {"__index", l_index}, {"__gc", l_gc}, {"__tostring", l_tostring},
        {NULL, NULL}
    };
    if (luaL_newmetatable(L, ORRI_LUA_MODEL_MT)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "methods");
    }
    lua_pop(L, 1);
}

json_t *orri_lua_model_ref_to_json(lua_State *L, int idx, char *why,
                                   size_t cap)
{
    struct l_model *u = luaL_testudata(L, idx, ORRI_LUA_MODEL_MT);
    if (!u)
        return NULL;
    if (!u->digest[0]) {
        snprintf(why, cap, "a model that was never stored");
        return NULL;
    }
    json_t *o = json_object();
    if (!o) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    json_object_set_new(o, "$orrery", json_string("model"));
    json_object_set_new(o, "digest", json_string(u->digest));
    json_object_set_new(o, "flavor", json_string(u->flavor));
    return o;
}

int orri_lua_push_model_ref(lua_State *L, const json_t *v)
{
    const char *digest = json_string_value(json_object_get(v, "digest"));
    const char *flavor = json_string_value(json_object_get(v, "flavor"));
    if (luaL_getmetatable(L, ORRI_LUA_MODEL_MT) != LUA_TTABLE) {
        lua_pop(L, 1);
        orri_lua_open_model(L);
    } else {
        lua_pop(L, 1);
    }
    struct l_model *u = new_ud(L);
    snprintf(u->digest, sizeof u->digest, "%s", digest);
    snprintf(u->flavor, sizeof u->flavor, "%s", flavor ? flavor : "");
    return 1;
}
