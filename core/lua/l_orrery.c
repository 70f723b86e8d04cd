/*
 * lua/l_orrery.c - the `orrery` module and the workflow's lua_State.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "build_info.h"
#include "lua/l_registry.h"
#include "lua/lua_runtime.h"
#include "util/error.h"
#include "util/path.h"

struct orri_lua_rt *orri_lua_rt(lua_State *L)
{
    return *(struct orri_lua_rt **)lua_getextraspace(L);
}

/* print() that can be sent to stderr, so `orrery run --json` keeps stdout
 * for its one JSON document. */
static int l_print(lua_State *L)
{
    struct orri_lua_rt *rt = orri_lua_rt(L);
    FILE *f = rt && rt->print_stderr ? stderr : stdout;
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            fputc('\t', f);
        fwrite(s, 1, len, f);
        lua_pop(L, 1);
    }
    fputc('\n', f);
    fflush(f);
    return 0;
}

int luaopen_orrery(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"workflow", NULL},
        {NULL, NULL}
    };
    luaL_newlib(L, funcs);
    orri_lua_open_workflow(L);
    lua_setfield(L, -2, "workflow");
    lua_pushstring(L, ORR_VERSION);
    lua_setfield(L, -2, "version");
    orri_lua_open_storage(L);
    lua_setfield(L, -2, "storage");
    orri_lua_open_models(L);
    lua_setfield(L, -2, "models");
    orri_lua_open_lineage(L);
    lua_setfield(L, -2, "lineage");
    orri_lua_open_runs(L);
    lua_setfield(L, -2, "runs");
    orri_lua_open_monitor(L);
    lua_setfield(L, -2, "monitor");
    orri_lua_open_ctx(L);
    orri_lua_open_data(L);
    return 1;
}

int orri_lua_open(lua_State **out, struct orri_lua_rt *rt,
                  struct orr_error *e)
{
    *out = NULL;
    lua_State *L = luaL_newstate();
    if (!L)
        return orr_fail(e, ORR_ENOMEM, "out of memory creating Lua state");
    *(struct orri_lua_rt **)lua_getextraspace(L) = rt;
    luaL_openlibs(L);
    lua_pushcfunction(L, l_print);
    lua_setglobal(L, "print");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_orrery);
    lua_setfield(L, -2, "orrery");
    lua_pop(L, 1);
    /* Modules next to the workflow file are found by require. */
    if (rt && rt->script_dir) {
        lua_getglobal(L, "package");
        lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", rt->script_dir,
                        rt->script_dir);
        lua_getfield(L, -2, "path");
        lua_concat(L, 2);
        lua_setfield(L, -2, "path");
        lua_pop(L, 1);
    }
    *out = L;
    return ORR_OK;
}

void orri_lua_close(lua_State *L)
{
    if (L)
        lua_close(L);
}

int orri_lua_resolve(lua_State *L, const char *path, char *out, size_t cap,
                     struct orr_error *e)
{
    struct orri_lua_rt *rt = orri_lua_rt(L);
    const char *dir = rt && rt->script_dir ? rt->script_dir : NULL;
    if (path[0] == '/' || !dir)
        return orri_path_absolute(out, cap, path, e);
    char joined[4096];
    int rc = orri_path_join(joined, sizeof joined, dir, path, e);
    return rc ? rc : orri_path_absolute(out, cap, joined, e);
}

int orri_lua_msgh(lua_State *L)
{
    struct orri_lua_rt *rt = orri_lua_rt(L);
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") &&
            lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)",
                                  luaL_typename(L, 1));
    }
    if (!rt || !rt->chunkname)
        return 1;
    /* Innermost frame in the workflow file. */
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0 ||
            strcmp(ar.source, rt->chunkname))
            continue;
        /* A message that already names a line of the workflow file
         * (error(msg, 2) names the caller's line) is kept as it is. */
        size_t n = strlen(ar.short_src);
        if (!strncmp(msg, ar.short_src, n) && msg[n] == ':' &&
            msg[n + 1] >= '0' && msg[n + 1] <= '9')
            break;
        lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
        return 1;
    }
    lua_pushstring(L, msg);
    return 1;
}
