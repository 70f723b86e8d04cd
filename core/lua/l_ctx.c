/*
 * lua/l_ctx.c - the ctx a step function receives.
 *
 * ctx is a table (params, run_id, step) with the metatable "orrery.ctx".
 * Its methods act on the step the runner is executing (orri_lua_rt's run
 * and step), record what they store or read as the step's output or input
 * artifacts, and raise on failure: a step that cannot store its output has
 * failed, and raising makes it fail at the line that tried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core.h"
#include "lua/lua_runtime.h"
#include "meta/run_handle.h"
#include "storage/artifacts.h"
#include "util/path.h"

#define READ_MAX ((size_t)1 << 30)

static struct orri_lua_rt *check_ctx(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct orri_lua_rt *rt = orri_lua_rt(L);
    if (!rt || !rt->run || !rt->step)
        luaL_error(L, "ctx used outside of its step");
    return rt;
}

static int raise(lua_State *L, const char *what, const struct orr_error *e)
{
    return luaL_error(L, "%s: %s", what, e->msg);
}

static struct orr_instance *storage(lua_State *L, struct orri_lua_rt *rt)
{
    struct orr_instance *st = NULL;
    struct orr_error e = {0};
    if (!rt->core || orr_core_storage(rt->core, &st, &e))
        raise(L, "storage", &e);
    return st;
}

int orri_lua_record_artifact(struct orri_lua_rt *rt, enum orr_event_dir dir,
                             const char *digest, uint64_t size,
                             const char *kind, const char *name,
                             struct orr_error *e)
{
    if (!rt || !rt->run || !rt->run->meta || rt->run->step_id <= 0)
        return ORR_OK;
    struct orr_instance *st = NULL;
    struct orr_blob_info info = {0};
    /* Inputs are recorded with the stored size (the store checks it). */
    if (size == 0 && rt->core && !orr_core_storage(rt->core, &st, e) &&
        !orr_storage_stat(st, digest, &info, e))
        size = info.size;
    return orr_meta_artifact(rt->run->meta, rt->run->step_id, dir, digest,
                             size, kind, name, e);
}

static void record(lua_State *L, struct orri_lua_rt *rt,
                   enum orr_event_dir dir, const char *digest, uint64_t size,
                   const char *kind, const char *name)
{
    struct orr_error e = {0};
    if (orri_lua_record_artifact(rt, dir, digest, size, kind, name, &e))
        raise(L, "metadata", &e);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ctx:store(path [, {kind=, name=}]) -> {artifact=, name=, size=, kind=} */
static int l_store(lua_State *L)
{
    struct orri_lua_rt *rt = check_ctx(L);
    const char *path = luaL_checkstring(L, 2);
    const char *kind = "file", *name = NULL;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "kind");
        kind = luaL_optstring(L, -1, kind);
        lua_getfield(L, 3, "name");
        name = luaL_optstring(L, -1, NULL);
    }
    char abs[4096], digest[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    if (orri_lua_resolve(L, path, abs, sizeof abs, &e))
        return raise(L, "ctx:store", &e);
    if (!orri_path_is_file(abs))
        return luaL_error(L, "ctx:store: no such file: %s", abs);
    if (!name)
        name = base_name(abs);
    struct orr_instance *st = storage(L, rt);
    struct orr_blob_info info;
    if (orr_storage_put_file(st, abs, digest, &e) ||
        orr_storage_stat(st, digest, &info, &e))
        return luaL_error(L, "ctx:store %s: %s", path, e.msg);
    record(L, rt, ORR_EVENT_OUTPUT, digest, info.size, kind, name);
    if (rt->on_artifact)
        rt->on_artifact(rt->on_artifact_ud, digest, name, kind, info.size);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, digest);
    lua_setfield(L, -2, "artifact");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)info.size);
    lua_setfield(L, -2, "size");
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    return 1;
}

/* The digest of an artifact ref (table with .artifact) or a digest. */
static const char *check_ref(lua_State *L, int arg, const char **kind,
                             const char **name)
{
    const char *d = NULL;
    *kind = "file";
    *name = NULL;
    if (lua_type(L, arg) == LUA_TTABLE) {
        lua_getfield(L, arg, "artifact");
        d = lua_tostring(L, -1);
        lua_getfield(L, arg, "kind");
        if (lua_type(L, -1) == LUA_TSTRING)
            *kind = lua_tostring(L, -1);
        lua_getfield(L, arg, "name");
        if (lua_type(L, -1) == LUA_TSTRING)
            *name = lua_tostring(L, -1);
        lua_pop(L, 3);      /* strings stay alive: the ref table holds them */
    } else if (lua_type(L, arg) == LUA_TSTRING) {
        d = lua_tostring(L, arg);
    }
    luaL_argcheck(L, d && orr_digest_is_valid(d), arg,
                  "expected an artifact ref (what ctx:store returned) or a "
                  "digest");
    if (!*name)
        *name = d;
    return d;
}

/* ctx:read(ref) -> the artifact's bytes (verified) */
static int l_read(lua_State *L)
{
    struct orri_lua_rt *rt = check_ctx(L);
    const char *kind, *name;
    const char *d = check_ref(L, 2, &kind, &name);
    struct orr_instance *st = storage(L, rt);
    void *data = NULL;
    size_t n = 0;
    struct orr_error e = {0};
    if (orr_storage_get_buf(st, d, READ_MAX, &data, &n, &e))
        return raise(L, "ctx:read", &e);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, n);  /* may raise: free first      */
    memcpy(p, data, n);
    free(data);
    luaL_pushresultsize(&b, n);
    record(L, rt, ORR_EVENT_INPUT, d, n, kind, name);
    return 1;
}

/* ctx:fetch(ref, dest) -> absolute path of the written file */
static int l_fetch(lua_State *L)
{
    struct orri_lua_rt *rt = check_ctx(L);
    const char *kind, *name;
    const char *d = check_ref(L, 2, &kind, &name);
    const char *dest = luaL_checkstring(L, 3);
    char abs[4096], dir[4096];
    struct orr_error e = {0};
    struct orr_blob_info info;
    struct orr_instance *st = storage(L, rt);
    if (orri_lua_resolve(L, dest, abs, sizeof abs, &e) ||
        orri_path_dirname(dir, sizeof dir, abs, &e) ||
        orri_mkdir_p(dir, &e) ||
        orr_storage_get_file(st, d, abs, &e) ||
        orr_storage_stat(st, d, &info, &e))
        return raise(L, "ctx:fetch", &e);
    record(L, rt, ORR_EVENT_INPUT, d, info.size, kind, name);
    lua_pushstring(L, abs);
    return 1;
}

/* ctx:path(rel) -> absolute path, relative to the workflow's folder */
static int l_path(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *rel = luaL_checkstring(L, 2);
    char abs[4096];
    struct orr_error e = {0};
    if (orri_lua_resolve(L, rel, abs, sizeof abs, &e))
        return raise(L, "ctx:path", &e);
    lua_pushstring(L, abs);
    return 1;
}

/* ctx:log(fmt, ...) -> one line on stderr: "[step] message" */
static int l_log(lua_State *L)
{
    struct orri_lua_rt *rt = check_ctx(L);
    int n = lua_gettop(L);
    const char *msg;
    if (n >= 3) {
        luaL_checkstring(L, 2);
        luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_getfield(L, -1, "string");
        lua_getfield(L, -1, "format");
        for (int i = 2; i <= n; i++)
            lua_pushvalue(L, i);
        lua_call(L, n - 1, 1);
        msg = lua_tostring(L, -1);
    } else {
        msg = luaL_tolstring(L, 2, NULL);
    }
    fprintf(stderr, "[%s] %s\n", rt->step, msg ? msg : "");
    fflush(stderr);
    return 0;
}

/* ctx:log_metric(key, value [, step]) */
static int l_log_metric(lua_State *L)
{
    struct orri_lua_rt *rt = check_ctx(L);
    const char *key = luaL_checkstring(L, 2);
    double v = luaL_checknumber(L, 3);
    lua_Integer step = luaL_optinteger(L, 4, 0);
    struct orr_error e = {0};
    if (rt->run->meta &&
        orr_meta_log_metric(rt->run->meta, rt->run->id, key, v, step, &e))
        return raise(L, "ctx:log_metric", &e);
    return 0;
}

/* ctx:log_param(key, value) */
static int l_log_param(lua_State *L)
{
    struct orri_lua_rt *rt = check_ctx(L);
    const char *key = luaL_checkstring(L, 2);
    luaL_checkany(L, 3);
    const char *v = luaL_tolstring(L, 3, NULL);
    struct orr_error e = {0};
    if (rt->run->meta &&
        orr_meta_log_param(rt->run->meta, rt->run->id, key, v, &e))
        return raise(L, "ctx:log_param", &e);
    return 0;
}

void orri_lua_open_ctx(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"store", l_store}, {"read", l_read}, {"fetch", l_fetch},
        {"path", l_path}, {"log", l_log}, {"log_metric", l_log_metric},
        {"log_param", l_log_param}, {"log_artifact", l_store},
        {"dataset", orri_lua_ctx_dataset}, {"train", orri_lua_ctx_train},
        {NULL, NULL}
    };
    if (luaL_newmetatable(L, ORRI_LUA_CTX_MT)) {
        luaL_newlib(L, methods);
        orri_lua_add_tracking(L);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

void orri_lua_push_ctx(lua_State *L, int params_idx, const char *run_id,
                       const char *step)
{
    params_idx = lua_absindex(L, params_idx);
    lua_createtable(L, 0, 3);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, params_idx)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_setfield(L, -2, "params");
    lua_pushstring(L, run_id);
    lua_setfield(L, -2, "run_id");
    lua_pushstring(L, step);
    lua_setfield(L, -2, "step");
    if (luaL_getmetatable(L, ORRI_LUA_CTX_MT) != LUA_TTABLE) {
        lua_pop(L, 1);
        orri_lua_open_ctx(L);
        luaL_getmetatable(L, ORRI_LUA_CTX_MT);
    }
    lua_setmetatable(L, -2);
}
