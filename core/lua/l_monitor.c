/*
 * lua/l_monitor.c - orrery.monitor: monitoring from workflows.
 *
 *   orrery.monitor.run(model, {window = "1h" | 10000, notify = false,
 *                      now_ms = N, thresholds = {drift_share = 0.3}})
 *       -> {window_id, model, version, status, rows, labelled,
 *           drift_share (nil if not computed), features_drifted, alerts,
 *           message}
 *   orrery.monitor.profile(version_uri, {reference = D, holdout = D})
 *       -> true
 *
 * Both raise on failure (they write to the store, as register does); a
 * window without data is a result with status "no_data", not an error.
 * Relative file paths resolve against the workflow's folder.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lauxlib.h>

#include "lua/lua_runtime.h"
#include "monitor/monitor.h"
#include "storage/artifacts.h"

static struct orr_core *core_or_raise(lua_State *L, const char *fn)
{
    struct orri_lua_rt *rt = orri_lua_rt(L);
    if (!rt || !rt->core)
        luaL_error(L, "orrery.monitor.%s: no site is open here", fn);
    return rt->core;
}

/* thresholds = {k = number | string | boolean} as a JSON object text
 * (malloc'ed; caller frees), or NULL. */
static char *thresholds_json(lua_State *L, int t)
{
    if (lua_getfield(L, t, "thresholds") != LUA_TTABLE) {
        lua_pop(L, 1);
        return NULL;
    }
    json_t *o = json_object();
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            if (lua_isinteger(L, -1))
                json_object_set_new(o, k, json_integer(lua_tointeger(L,
                                                                    -1)));
            else if (lua_type(L, -1) == LUA_TNUMBER)
                json_object_set_new(o, k, json_real(lua_tonumber(L, -1)));
            else if (lua_type(L, -1) == LUA_TSTRING)
                json_object_set_new(o, k, json_string(lua_tostring(L, -1)));
            else if (lua_type(L, -1) == LUA_TBOOLEAN)
                json_object_set_new(o, k, json_boolean(lua_toboolean(L,
                                                                    -1)));
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int l_run(lua_State *L)
{
    struct orr_core *core = core_or_raise(L, "run");
    const char *model = luaL_checkstring(L, 1);
    struct orri_monitor_opts o = {0};
    char window[32] = "", *thr = NULL;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        int t = lua_getfield(L, 2, "window");
        if (t == LUA_TNUMBER) {
            lua_Integer n = lua_tointeger(L, -1);
            luaL_argcheck(L, n > 0, 2, "window: a row count > 0");
            snprintf(window, sizeof window, "%lld", (long long)n);
        } else if (t == LUA_TSTRING) {
            snprintf(window, sizeof window, "%s", lua_tostring(L, -1));
        } else if (t != LUA_TNIL) {
            luaL_argerror(L, 2, "window: a count or a span such as \"1h\"");
        }
        lua_pop(L, 1);
        lua_getfield(L, 2, "notify");
        o.notify = lua_toboolean(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, 2, "now_ms");
        o.now_ms = (int64_t)luaL_optinteger(L, -1, 0);
        lua_pop(L, 1);
        thr = thresholds_json(L, 2);
    }
    o.window = window[0] ? window : NULL;
    o.thresholds_json = thr;
    struct orri_monitor_result r;
    struct orr_error e = {0};
    int rc = orri_monitor_run(core, model, &o, &r, &e);
    free(thr);
    if (rc)
        return luaL_error(L, "orrery.monitor.run: %s", e.msg);
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, r.window_id);
    lua_setfield(L, -2, "window_id");
    lua_pushstring(L, r.model);
    lua_setfield(L, -2, "model");
    lua_pushstring(L, r.version);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, r.status);
    lua_setfield(L, -2, "status");
    lua_pushinteger(L, r.n_rows);
    lua_setfield(L, -2, "rows");
    lua_pushinteger(L, r.n_labelled);
    lua_setfield(L, -2, "labelled");
    if (!isnan(r.drift_share)) {
        lua_pushnumber(L, r.drift_share);
        lua_setfield(L, -2, "drift_share");
    }
    lua_pushinteger(L, r.n_features_drifted);
    lua_setfield(L, -2, "features_drifted");
    lua_pushinteger(L, r.n_alerts);
    lua_setfield(L, -2, "alerts");
    lua_pushstring(L, r.message);
    lua_setfield(L, -2, "message");
    return 1;
}

/* A dataset option: datasets:/ URIs and digests as given, files against
 * the workflow's folder. */
static const char *dataset_opt(lua_State *L, const char *key, char *buf,
                               size_t cap)
{
    if (lua_isnoneornil(L, 2))
        return NULL;
    lua_getfield(L, 2, key);
    const char *s = luaL_optstring(L, -1, NULL);
    lua_pop(L, 1);
    if (!s || !strncmp(s, "datasets:/", 10) || orr_digest_is_valid(s))
        return s;
    struct orr_error e = {0};
    if (orri_lua_resolve(L, s, buf, cap, &e))
        luaL_error(L, "orrery.monitor.profile: %s", e.msg);
    return buf;
}

static int l_profile(lua_State *L)
{
    struct orr_core *core = core_or_raise(L, "profile");
    const char *uri = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    char rb[4096], hb[4096];
    const char *ref = dataset_opt(L, "reference", rb, sizeof rb);
    const char *hold = dataset_opt(L, "holdout", hb, sizeof hb);
    struct orr_error e = {0};
    if (orri_monitor_profile(core, uri, ref, hold, &e))
        return luaL_error(L, "orrery.monitor.profile: %s", e.msg);
    lua_pushboolean(L, 1);
    return 1;
}

void orri_lua_open_monitor(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"run", l_run}, {"profile", l_profile}, {NULL, NULL}
    };
    luaL_newlib(L, funcs);
}
