/*
 * lua/l_models.c - orrery.models: register, get, metric, set_alias.
 *
 *   orrery.models.register(name, model_or_digest, {alias=, run=, flavor=,
 *                          datasets=, description=, reason=, reference=,
 *                          holdout=, profile=}) -> version
 *   orrery.models.get(uri)                -> table | nil, msg, code
 *   orrery.models.metric(uri, key, default) -> number
 *   orrery.models.set_alias(name, alias, version [, reason]) -> true
 *
 * Inside a step, register defaults run= to the step's run and records
 * the run's dataset artifacts as what the version was trained on.
 */
#include <math.h>
#include <string.h>

#include <lauxlib.h>

#include "core.h"
#include "lua/l_registry.h"
#include "lua/lua_runtime.h"
#include "meta/registry.h"
#include "meta/run_handle.h"
#include "monitor/monitor.h"
#include "storage/artifacts.h"
#include "util/log.h"

struct orr_meta *orri_lua_meta(lua_State *L)
{
    struct orri_lua_rt *rt = orri_lua_rt(L);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    if (rt && rt->run && rt->run->meta)
        return rt->run->meta;
    if (!rt || !rt->core)
        luaL_error(L, "no site is open (the registry needs a metadata "
                   "store)");
    if (orr_core_meta(rt->core, &m, &e))
        luaL_error(L, "metadata: %s", e.msg);
    return m;
}

static int fail3(lua_State *L, const struct orr_error *e)
{
    luaL_pushfail(L);
    lua_pushstring(L, e->msg);
    lua_pushinteger(L, e->code);
    return 3;
}

static void push_version(lua_State *L, const struct orr_model_version *v)
{
    lua_createtable(L, 0, 9);
    lua_pushstring(L, v->name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)v->version);
    lua_setfield(L, -2, "version");
    lua_pushfstring(L, "models:/%s/%I", v->name, (lua_Integer)v->version);
    lua_setfield(L, -2, "uri");
    lua_pushstring(L, v->artifact);
    lua_setfield(L, -2, "artifact");
    lua_pushinteger(L, (lua_Integer)v->artifact_size);
    lua_setfield(L, -2, "size");
    lua_pushstring(L, v->status);
    lua_setfield(L, -2, "status");
    lua_pushinteger(L, (lua_Integer)v->created_ms);
    lua_setfield(L, -2, "created_ms");
    if (v->run_id[0]) {
        lua_pushstring(L, v->run_id);
        lua_setfield(L, -2, "run_id");
    }
    if (v->flavor[0]) {
        lua_pushstring(L, v->flavor);
        lua_setfield(L, -2, "flavor");
    }
    if (v->description[0]) {
        lua_pushstring(L, v->description);
        lua_setfield(L, -2, "description");
    }
}

/* The digest in a model argument: a digest string, or a table with
 * .artifact or .digest (what ctx:store returns). */
static const char *model_digest(lua_State *L, int arg)
{
    const char *d = orri_lua_model_digest(L, arg);  /* a trained model */
    if (d) {
        /* found */
    } else if (lua_type(L, arg) == LUA_TSTRING) {
        d = lua_tostring(L, arg);
    } else if (lua_type(L, arg) == LUA_TTABLE) {
        if (lua_getfield(L, arg, "artifact") == LUA_TSTRING ||
            (lua_pop(L, 1), lua_getfield(L, arg, "digest")) == LUA_TSTRING)
            d = lua_tostring(L, -1);
        lua_pop(L, 1);      /* the table keeps the string alive */
    }
    luaL_argcheck(L, d != NULL, arg, "expected a model (what ctx:train "
                  "returned), a model artifact or a digest");
    return d;
}

static const char *opt_field(lua_State *L, int t, const char *k)
{
    if (lua_isnoneornil(L, t))
        return NULL;
    lua_getfield(L, t, k);
    const char *s = luaL_optstring(L, -1, NULL);
    lua_pop(L, 1);          /* the options table keeps the string alive */
    return s;
}

/* Replace the value on top of the stack, a dataset given as a string or
 * as a dataset value (a table or userdata with `hash` or `artifact`), by
 * its string; raise naming `what` otherwise. */
static void to_dataset_ref(lua_State *L, const char *what)
{
    int t = lua_type(L, -1);
    if (t == LUA_TTABLE || t == LUA_TUSERDATA) {
        if (lua_getfield(L, -1, "hash") != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_getfield(L, -1, "artifact");
        }
        lua_replace(L, -2);
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "orrery.models.register: %s: expected a dataset or "
                   "a string, got %s", what, luaL_typename(L, -1));
}

/* Options reference= and holdout= as strings, written back into the
 * options table (which keeps them alive): checked before anything is
 * registered, so a wrong type registers nothing. */
static const char *const profile_keys[2] = {"reference", "holdout"};

static void dataset_options(lua_State *L)
{
    const char *const *keys = profile_keys;
    if (lua_isnoneornil(L, 3))
        return;
    for (int i = 0; i < 2; i++) {
        if (lua_getfield(L, 3, keys[i]) == LUA_TNIL) {
            lua_pop(L, 1);
            continue;
        }
        to_dataset_ref(L, keys[i]);
        lua_setfield(L, 3, keys[i]);
    }
}

/* The reference profile of a new version (docs/monitoring.md), when the
 * site's monitor backend writes profiles: options reference= and
 * holdout= (datasets:/ URIs, digests or files next to the workflow),
 * profile = false to skip.  A failure warns: the version stays. */
static void profile_version(lua_State *L, const char *uri)
{
    struct orri_lua_rt *rt = orri_lua_rt(L);
    if (!rt || !rt->core || !orri_monitor_can_profile(rt->core))
        return;
    const char *opt[2] = {NULL, NULL};
    const char *const *keys = profile_keys;
    char buf[2][4096];
    struct orr_error e = {0};
    if (!lua_isnoneornil(L, 3)) {
        lua_getfield(L, 3, "profile");
        int skip = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (skip)
            return;
        for (int i = 0; i < 2; i++) {
            opt[i] = opt_field(L, 3, keys[i]);  /* strings: see above */
            if (opt[i] && strncmp(opt[i], "datasets:/", 10) &&
                !orr_digest_is_valid(opt[i])) {
                if (orri_lua_resolve(L, opt[i], buf[i], sizeof buf[i], &e))
                    goto fail;
                opt[i] = buf[i];
            }
        }
    }
    if (!orri_monitor_profile(rt->core, uri, opt[0], opt[1], &e))
        return;
fail:
    orr_log(ORR_LOG_WARN, "lua", "orrery.models.register: %s registered, "
            "its reference profile not computed: %s", uri, e.msg);
}

static int l_register(lua_State *L)
{
    struct orri_lua_rt *rt = orri_lua_rt(L);
    struct orr_model_version_spec s = {.artifact_size = -1};
    const char *datasets[ORR_DATASETS_MAX];
    s.name = luaL_checkstring(L, 1);
    s.artifact = model_digest(L, 2);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    dataset_options(L);
    s.alias = opt_field(L, 3, "alias");
    s.run_id = opt_field(L, 3, "run");
    s.flavor = opt_field(L, 3, "flavor");
    if (!s.flavor)
        s.flavor = orri_lua_model_flavor(L, 2);
    s.description = opt_field(L, 3, "description");
    s.reason = opt_field(L, 3, "reason");
    if (!s.run_id && rt && rt->run)
        s.run_id = rt->run->id;
    if (!lua_isnoneornil(L, 3) &&
        lua_getfield(L, 3, "datasets") == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, -1);
        luaL_argcheck(L, n <= ORR_DATASETS_MAX, 3, "too many datasets");
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, -1, i);
            to_dataset_ref(L, "datasets");
            lua_pushvalue(L, -1);
            lua_seti(L, -3, i);     /* the datasets table keeps it alive */
            datasets[s.n_datasets++] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
    }
    if (!lua_isnoneornil(L, 3))
        lua_pop(L, 1);
    s.datasets = datasets;
    s.datasets_from_run = s.n_datasets == 0;
    struct orr_meta *m = orri_lua_meta(L);
    struct orr_error e = {0};
    if (orr_digest_is_valid(s.artifact) && rt && rt->core) {
        struct orr_instance *st = NULL;
        struct orr_blob_info info;
        if (!orr_core_storage(rt->core, &st, &e) &&
            !orr_storage_stat(st, s.artifact, &info, &e))
            s.artifact_size = (int64_t)info.size;
    }
    int64_t version = 0;
    struct orr_model_version v;
    char uri[ORR_MODEL_NAME_MAX + 32];
    if (orr_registry_register(m, &s, &version, &e))
        return luaL_error(L, "orrery.models.register: %s", e.msg);
    snprintf(uri, sizeof uri, "%s/%lld", s.name, (long long)version);
    profile_version(L, uri);
    if (orr_registry_resolve(m, uri, &v, &e))
        return luaL_error(L, "orrery.models.register: %s", e.msg);
    push_version(L, &v);
    return 1;
}

static int l_get(lua_State *L)
{
    const char *uri = luaL_checkstring(L, 1);
    struct orr_meta *m = orri_lua_meta(L);
    struct orr_model_version v;
    struct orr_error e = {0};
    if (orr_registry_resolve(m, uri, &v, &e)) {
        if (e.code == ORR_EINVAL)
            return luaL_error(L, "orrery.models.get: %s", e.msg);
        return fail3(L, &e);
    }
    push_version(L, &v);
    return 1;
}

static int l_metric(lua_State *L)
{
    const char *uri = luaL_checkstring(L, 1);
    const char *key = luaL_checkstring(L, 2);
    int has_default = !lua_isnoneornil(L, 3);
    struct orr_meta *m = orri_lua_meta(L);
    struct orr_model_version v;
    struct orr_error e = {0};
    double value = 0;
    int rc = orr_registry_resolve(m, uri, &v, &e);
    if (rc == ORR_EINVAL)
        return luaL_error(L, "orrery.models.metric: %s", e.msg);
    if (!rc)
        rc = orr_registry_metric(m, v.name, v.version, key, &value, &e);
    if (rc == ORR_ENOTFOUND && has_default) {
        lua_pushvalue(L, 3);
        return 1;
    }
    if (rc)
        return luaL_error(L, "orrery.models.metric: %s", e.msg);
    lua_pushnumber(L, value);
    return 1;
}

static int l_set_alias(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *alias = luaL_checkstring(L, 2);
    lua_Integer version = luaL_checkinteger(L, 3);
    const char *reason = luaL_optstring(L, 4, NULL);
    struct orr_meta *m = orri_lua_meta(L);
    struct orr_error e = {0};
    if (orr_registry_alias_set(m, name, alias, (int64_t)version, reason, &e))
        return luaL_error(L, "orrery.models.set_alias: %s", e.msg);
    lua_pushboolean(L, 1);
    return 1;
}

void orri_lua_open_models(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"register", l_register}, {"get", l_get}, {"metric", l_metric},
        {"set_alias", l_set_alias}, {NULL, NULL}
    };
    luaL_newlib(L, funcs);
}
