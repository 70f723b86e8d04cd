/*
 * lua/l_workflow.c - orrery.workflow{...} and wf:step(...).
 *
 * A workflow is a userdata whose user value is a table
 *     { name = "...", params = {...}, steps = { {name, fn, inputs, opts} } }
 * and a step handle is a table { workflow = wf, index = i, name = "..." }
 * with the metatable "orrery.step".  Handles are the only way to name an
 * input, so a DAG built this way cannot have a cycle; wf:step still checks
 * each input at declaration time so a mistake is reported with the line
 * that made it, and the runner checks the whole graph again before it
 * runs anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/l_sweep.h"
#include "lua/lua_runtime.h"

struct l_workflow {
    int unused;     /* the state lives in the user value                  */
};

/* Push the user value table of the workflow at idx. */
static void push_state(lua_State *L, int idx)
{
    lua_getiuservalue(L, idx, 1);
}

int orri_lua_is_workflow(lua_State *L, int idx)
{
    return luaL_testudata(L, idx, ORRI_LUA_WORKFLOW_MT) != NULL;
}

static int l_workflow_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "name");
    const char *name = luaL_optstring(L, -1, NULL);
    if (!name || !*name)
        return luaL_argerror(L, 1, "field 'name' (a non-empty string) "
                             "is required");
    lua_getfield(L, 1, "params");
    int pt = lua_type(L, -1);
    if (pt != LUA_TNIL && pt != LUA_TTABLE)
        return luaL_argerror(L, 1, "field 'params' must be a table");
    lua_pushnil(L);
    while (pt == LUA_TTABLE && lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_argerror(L, 1, "params keys must be strings");
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ?
                        lua_tostring(L, -2) : "?";
        if (strcmp(k, "name") && strcmp(k, "params"))
            return luaL_error(L, "orrery.workflow: unknown field '%s' "
                              "(known: name, params)", k);
        lua_pop(L, 1);
    }
    lua_newuserdatauv(L, sizeof(struct l_workflow), 1);
    luaL_setmetatable(L, ORRI_LUA_WORKFLOW_MT);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    if (pt == LUA_TTABLE) {
        /* A copy: later changes to the caller's table do not leak in. */
        lua_newtable(L);
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
    } else {
        lua_newtable(L);
    }
    lua_setfield(L, -2, "params");
    lua_newtable(L);
    lua_setfield(L, -2, "steps");
    lua_setiuservalue(L, -2, 1);
    struct orri_lua_rt *rt = orri_lua_rt(L);
    if (rt)
        rt->n_workflows++;
    return 1;
}

/* 1 if the value at idx is a step handle (of any workflow). */
static int is_step(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx))
        return 0;
    luaL_getmetatable(L, ORRI_LUA_STEP_MT);
    int yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* Index of the step handle at `idx` in workflow `wf`, or raise. */
static lua_Integer check_input(lua_State *L, int wf, int idx, int nth,
                               int steps)
{
    if (!is_step(L, idx))
        return luaL_error(L, "input %d is not a step handle (got %s); pass "
                          "what wf:step returned", nth, luaL_typename(L, idx));
    lua_getfield(L, idx, "workflow");
    int same = lua_rawequal(L, -1, wf);
    lua_pop(L, 1);
    lua_getfield(L, idx, "name");
    const char *sname = lua_tostring(L, -1);
    if (!same)
        return luaL_error(L, "input %d is step '%s' of another workflow",
                          nth, sname ? sname : "?");
    lua_pop(L, 1);
    lua_getfield(L, idx, "index");
    lua_Integer i = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (i < 1 || i > (lua_Integer)lua_rawlen(L, steps))
        return luaL_error(L, "input %d is not a step of this workflow", nth);
    return i;
}

/* Option keys a step accepts (memory_mb and time_limit_s are the older
 * spellings of memory and time). */
static const char *const step_opts[] = {
    "cpus", "memory", "gpus", "time", "retries", "backoff", "backoff_max",
    "timeout", "cache", "isolate", "memory_mb", "time_limit_s", NULL
};
#define STEP_OPTS_KNOWN "cpus, memory, gpus, time, retries, backoff, " \
                        "backoff_max, timeout, cache, isolate"

/* "512", "512M", "2G", "1.5g", "100k" -> MiB (rounded up); -1 if bad. */
static double parse_memory(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER)
        return lua_tonumber(L, idx);
    if (lua_type(L, idx) != LUA_TSTRING)
        return -1;
    const char *s = lua_tostring(L, idx);
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    switch (*end) {
    case '\0': case 'M': case 'm': break;
    case 'K': case 'k': v /= 1024.0; break;
    case 'G': case 'g': v *= 1024.0; break;
    case 'T': case 't': v *= 1024.0 * 1024.0; break;
    default: return -1;
    }
    if (*end && end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "b") &&
        strcmp(end + 1, "iB"))
        return -1;
    return v;
}

/* 90, "90", "90s", "30m", "2h", "1d", "01:30:00" -> seconds; -1 if bad. */
static double parse_duration(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER)
        return lua_tonumber(L, idx);
    if (lua_type(L, idx) != LUA_TSTRING)
        return -1;
    const char *s = lua_tostring(L, idx);
    unsigned h, m, sec;
    char tail;
    if (sscanf(s, "%u:%u:%u%c", &h, &m, &sec, &tail) == 3)
        return (double)h * 3600.0 + m * 60.0 + sec;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    if (!*end || !strcmp(end, "s"))
        return v;
    if (!strcmp(end, "m"))
        return v * 60.0;
    if (!strcmp(end, "h"))
        return v * 3600.0;
    if (!strcmp(end, "d"))
        return v * 86400.0;
    return -1;
}

/* Validate the options table at idx and return a normalised copy:
 * cpus, gpus, retries (integers), memory_mb, time_s, timeout_s,
 * backoff_s, backoff_max_s (numbers), cache, isolate (booleans). */
static void check_opts(lua_State *L, int idx, const char *step)
{
    lua_newtable(L);
    int out = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ?
                        lua_tostring(L, -2) : NULL;
        int known = 0;
        for (size_t i = 0; k && step_opts[i]; i++)
            known |= !strcmp(k, step_opts[i]);
        if (!known)
            luaL_error(L, "step '%s': unknown step option '%s' (known: "
                       STEP_OPTS_KNOWN ")", step, k ? k : "?");
        int v = lua_gettop(L);
        if (!strcmp(k, "cpus") || !strcmp(k, "gpus") ||
            !strcmp(k, "retries")) {
            lua_Integer max = !strcmp(k, "retries") ? 100 : 1 << 20;
            if (!lua_isinteger(L, v) || lua_tointeger(L, v) < 0 ||
                lua_tointeger(L, v) > max)
                luaL_error(L, "step '%s': option '%s' must be a "
                           "non-negative integer, at most %d (got %s)",
                           step, k, (int)max,
                           luaL_tolstring(L, v, NULL));
            lua_pushvalue(L, v);
            lua_setfield(L, out, k);
        } else if (!strcmp(k, "memory") || !strcmp(k, "memory_mb")) {
            double mb = parse_memory(L, v);
            if (mb <= 0)
                luaL_error(L, "step '%s': option '%s' must be a positive "
                           "size in MiB or a string like \"512M\", \"2G\" "
                           "(got %s)", step, k, luaL_tolstring(L, v, NULL));
            lua_pushinteger(L, (lua_Integer)(mb + 0.999999));
            lua_setfield(L, out, "memory_mb");
        } else if (!strcmp(k, "time") || !strcmp(k, "time_limit_s") ||
                   !strcmp(k, "timeout") || !strcmp(k, "backoff") ||
                   !strcmp(k, "backoff_max")) {
            double s = parse_duration(L, v);
            int zero_ok = !strcmp(k, "backoff") || !strcmp(k, "backoff_max");
            if (s < 0 || (s == 0 && !zero_ok) || s != s || s > 1e9)
                luaL_error(L, "step '%s': option '%s' must be a %s number "
                           "of seconds or a string like \"90s\", \"30m\", "
                           "\"2h\", \"01:30:00\" (got %s)", step, k,
                           zero_ok ? "non-negative" : "positive",
                           luaL_tolstring(L, v, NULL));
            const char *to = !strcmp(k, "timeout") ? "timeout_s" :
                             !strcmp(k, "backoff") ? "backoff_s" :
                             !strcmp(k, "backoff_max") ? "backoff_max_s" :
                             "time_s";
            lua_pushnumber(L, s);
            lua_setfield(L, out, to);
        } else {                            /* cache, isolate */
            if (!lua_isboolean(L, v))
                luaL_error(L, "step '%s': option '%s' must be true or "
                           "false (got %s)", step, k,
                           luaL_tolstring(L, v, NULL));
            lua_pushvalue(L, v);
            lua_setfield(L, out, k);
        }
        lua_settop(L, v - 1);
    }
}

/* wf:step(name, [inputs,] fn [, opts]) -> handle */
static int l_step(lua_State *L)
{
    luaL_checkudata(L, 1, ORRI_LUA_WORKFLOW_MT);
    const char *name = luaL_checkstring(L, 2);
    luaL_argcheck(L, *name, 2, "step name must not be empty");
    int fn = 3, inputs = 0;
    if (lua_type(L, 3) != LUA_TFUNCTION) {
        luaL_argexpected(L, lua_type(L, 3) == LUA_TTABLE, 3,
                         "table of inputs or function");
        inputs = 3;
        fn = 4;
    }
    luaL_checktype(L, fn, LUA_TFUNCTION);
    int opts = fn + 1;
    if (!lua_isnoneornil(L, opts)) {
        luaL_checktype(L, opts, LUA_TTABLE);
        lua_settop(L, opts);
        check_opts(L, opts, name);
        lua_replace(L, opts);       /* the normalised copy */
    } else {
        opts = 0;
    }
    lua_settop(L, fn + 1);
    push_state(L, 1);
    int st = lua_gettop(L);
    lua_getfield(L, st, "steps");
    int steps = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, steps);
    /* Names seen, for a constant-time duplicate check. */
    if (lua_getfield(L, st, "names") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, st, "names");
    }
    if (lua_getfield(L, -1, name) != LUA_TNIL)
        return luaL_error(L, "duplicate step name '%s'", name);
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
    /* The input list: one handle, or a sequence of handles. */
    lua_newtable(L);
    int in = lua_gettop(L);
    if (inputs) {
        int single = is_step(L, inputs);
        if (single) {
            lua_pushinteger(L, check_input(L, 1, inputs, 1, steps));
            lua_rawseti(L, in, 1);
        } else {
            lua_Integer k = (lua_Integer)lua_rawlen(L, inputs);
            for (lua_Integer i = 1; i <= k; i++) {
                lua_rawgeti(L, inputs, i);
                lua_pushinteger(L, check_input(L, 1, lua_gettop(L), (int)i,
                                               steps));
                lua_rawseti(L, in, i);
                lua_pop(L, 1);
            }
        }
    }
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "name");
    lua_pushvalue(L, fn);
    lua_setfield(L, -2, "fn");
    lua_pushvalue(L, in);
    lua_setfield(L, -2, "inputs");
    if (opts) {
        lua_pushvalue(L, opts);
        lua_setfield(L, -2, "opts");
    }
    lua_rawseti(L, steps, n + 1);
    /* The handle. */
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "workflow");
    lua_pushinteger(L, n + 1);
    lua_setfield(L, -2, "index");
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "name");
    luaL_setmetatable(L, ORRI_LUA_STEP_MT);
    return 1;
}

static int l_wf_index(lua_State *L)
{
    luaL_checkudata(L, 1, ORRI_LUA_WORKFLOW_MT);
    const char *k = luaL_checkstring(L, 2);
    if (!strcmp(k, "step")) {
        lua_pushcfunction(L, l_step);
        return 1;
    }
    if (!strcmp(k, "sweep")) {
        lua_pushcfunction(L, orri_lua_sweep);
        return 1;
    }
    push_state(L, 1);
    if (!strcmp(k, "name") || !strcmp(k, "params")) {
        lua_getfield(L, -1, k);
        return 1;
    }
    if (!strcmp(k, "steps")) {   /* the names, in declaration order */
        lua_getfield(L, -1, "steps");
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        lua_createtable(L, (int)n, 0);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -2, i);
            lua_getfield(L, -1, "name");
            lua_rawseti(L, -3, i);
            lua_pop(L, 1);
        }
        return 1;
    }
    return 0;
}

static int l_wf_tostring(lua_State *L)
{
    luaL_checkudata(L, 1, ORRI_LUA_WORKFLOW_MT);
    push_state(L, 1);
    lua_getfield(L, -1, "name");
    lua_pushfstring(L, "orrery.workflow(%s)", lua_tostring(L, -1));
    return 1;
}

static int l_step_tostring(lua_State *L)
{
    lua_getfield(L, 1, "name");
    lua_pushfstring(L, "orrery.step(%s)", lua_tostring(L, -1));
    return 1;
}

int orri_lua_open_workflow(lua_State *L)
{
    static const luaL_Reg wf_meta[] = {
        {"__index", l_wf_index},
        {"__tostring", l_wf_tostring},
        {NULL, NULL}
    };
    luaL_newmetatable(L, ORRI_LUA_WORKFLOW_MT);
    luaL_setfuncs(L, wf_meta, 0);
    lua_pop(L, 1);
    luaL_newmetatable(L, ORRI_LUA_STEP_MT);
    lua_pushcfunction(L, l_step_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_workflow_new);
    return 1;
}

/* --- accessors for the runner ------------------------------------------ */

void orri_lua_workflow_info(lua_State *L, int idx, const char **name,
                            size_t *n_steps)
{
    push_state(L, idx);
    lua_getfield(L, -1, "name");
    *name = lua_tostring(L, -1);    /* anchored in the state table        */
    lua_getfield(L, -2, "steps");
    *n_steps = lua_rawlen(L, -1);
    lua_pop(L, 3);
}

/* Push the step table i (0-based). */
static void push_step(lua_State *L, int idx, size_t i)
{
    push_state(L, idx);
    lua_getfield(L, -1, "steps");
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    lua_replace(L, -3);
    lua_pop(L, 1);
}

size_t orri_lua_workflow_step(lua_State *L, int idx, size_t i,
                              const char **name, size_t *inputs, size_t cap)
{
    idx = lua_absindex(L, idx);
    push_step(L, idx, i);
    lua_getfield(L, -1, "name");
    *name = lua_tostring(L, -1);
    lua_getfield(L, -2, "inputs");
    size_t n = lua_rawlen(L, -1);
    for (size_t k = 0; k < n && k < cap; k++) {
        lua_rawgeti(L, -1, (lua_Integer)k + 1);
        lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
        inputs[k] = v >= 1 ? (size_t)(v - 1) : ORRI_LUA_BAD_INPUT;
        lua_pop(L, 1);
    }
    lua_pop(L, 3);
    return n;
}

void orri_lua_workflow_push_fn(lua_State *L, int idx, size_t i)
{
    idx = lua_absindex(L, idx);
    push_step(L, idx, i);
    lua_getfield(L, -1, "fn");
    lua_remove(L, -2);
}

void orri_lua_workflow_push_opts(lua_State *L, int idx, size_t i)
{
    idx = lua_absindex(L, idx);
    push_step(L, idx, i);
    lua_getfield(L, -1, "opts");
    lua_remove(L, -2);
}

void orri_lua_workflow_push_params(lua_State *L, int idx)
{
    push_state(L, idx);
    lua_getfield(L, -1, "params");
    lua_remove(L, -2);
}
