/*
 * lua/l_storage.c - orrery.storage.open(): the site's blob store as a Lua
 * object (metatable "orrery.storage"), following liolib: misuse raises,
 * operational failure returns nil, message, code.
 *
 * The handle borrows the core's storage instance (the core owns and
 * closes it), so closing the handle only makes it unusable.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core.h"
#include "lua/lua_runtime.h"
#include "storage/artifacts.h"
#include "util/error.h"
#include "util/path.h"

/* Largest blob get() returns as a Lua string (use get_file beyond). */
#define GET_MAX ((size_t)1 << 30)

struct l_storage {
    struct orr_instance *st;     /* NULL: closed                           */
};

static int fail3(lua_State *L, const struct orr_error *e)
{
    luaL_pushfail(L);
    lua_pushstring(L, e->msg);
    lua_pushinteger(L, e->code);
    return 3;
}

static struct l_storage *check_open(lua_State *L)
{
    struct l_storage *u = luaL_checkudata(L, 1, ORRI_LUA_STORAGE_MT);
    luaL_argcheck(L, u->st != NULL, 1, "storage is closed");
    return u;
}

static const char *check_digest(lua_State *L, int arg)
{
    const char *d = luaL_checkstring(L, arg);
    luaL_argcheck(L, orr_digest_is_valid(d), arg,
                  "not a digest (64 lower-case hex digits)");
    return d;
}

static int l_open(lua_State *L)
{
    struct orri_lua_rt *rt = orri_lua_rt(L);
    struct l_storage *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->st = NULL;                   /* closed first: a raise leaks nothing */
    luaL_setmetatable(L, ORRI_LUA_STORAGE_MT);
    struct orr_error e = {0};
    if (!rt || !rt->core) {
        orr_fail(&e, ORR_EUNSUPPORTED, "no site is open");
        return fail3(L, &e);
    }
    struct orr_instance *st = NULL;
    if (orr_core_storage(rt->core, &st, &e))
        return fail3(L, &e);
    u->st = st;
    return 1;
}

static int l_put(lua_State *L)
{
    struct l_storage *u = check_open(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    char digest[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    if (orr_storage_put_buf(u->st, s, n, digest, &e))
        return fail3(L, &e);
    lua_pushstring(L, digest);
    return 1;
}

static int l_get(lua_State *L)
{
    struct l_storage *u = check_open(L);
    const char *d = check_digest(L, 2);
    void *data = NULL;
    size_t n = 0;
    struct orr_error e = {0};
    if (orr_storage_get_buf(u->st, d, GET_MAX, &data, &n, &e))
        return fail3(L, &e);
    /* Copy into a buffer Lua owns first, so a memory error cannot leak. */
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, n);
    memcpy(p, data, n);
    free(data);
    luaL_pushresultsize(&b, n);
    return 1;
}

static int l_put_file(lua_State *L)
{
    struct l_storage *u = check_open(L);
    const char *path = luaL_checkstring(L, 2);
    char abs[4096], digest[ORR_DIGEST_HEX_LEN + 1];
    struct orr_error e = {0};
    if (orri_lua_resolve(L, path, abs, sizeof abs, &e) ||
        orr_storage_put_file(u->st, abs, digest, &e))
        return fail3(L, &e);
    lua_pushstring(L, digest);
    return 1;
}

static int l_get_file(lua_State *L)
{
    struct l_storage *u = check_open(L);
    const char *d = check_digest(L, 2);
    const char *path = luaL_checkstring(L, 3);
    char abs[4096];
    struct orr_error e = {0};
    if (orri_lua_resolve(L, path, abs, sizeof abs, &e) ||
        orr_storage_get_file(u->st, d, abs, &e))
        return fail3(L, &e);
    lua_pushstring(L, abs);
    return 1;
}

static void push_info(lua_State *L, const struct orr_blob_info *info)
{
    lua_createtable(L, 0, 3);
    lua_pushstring(L, info->digest);
    lua_setfield(L, -2, "digest");
    lua_pushinteger(L, (lua_Integer)info->size);
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, (lua_Integer)info->mtime);
    lua_setfield(L, -2, "mtime");
}

static int l_stat(lua_State *L)
{
    struct l_storage *u = check_open(L);
    const char *d = check_digest(L, 2);
    struct orr_blob_info info;
    struct orr_error e = {0};
    if (orr_storage_stat(u->st, d, &info, &e))
        return fail3(L, &e);
    push_info(L, &info);
    return 1;
}

struct list_ctx {
    char  (*digests)[ORR_DIGEST_HEX_LEN + 1];
    size_t n, cap;
};

static int collect(void *ctx, const struct orr_blob_info *info)
{
    struct list_ctx *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        void *p = realloc(c->digests, cap * sizeof *c->digests);
        if (!p)
            return ORR_ENOMEM;
        c->digests = p;
        c->cap = cap;
    }
    memcpy(c->digests[c->n++], info->digest, sizeof *c->digests);
    return ORR_OK;
}

static int cmp_digest(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* st:list([prefix]) -> sorted array of digests */
static int l_list(lua_State *L)
{
    struct l_storage *u = check_open(L);
    const char *prefix = luaL_optstring(L, 2, "");
    struct list_ctx c = {0};
    struct orr_error e = {0};
    int rc = orr_storage_list(u->st, prefix, collect, &c, &e);
    if (rc) {
        free(c.digests);
        if (rc == ORR_ENOMEM && !e.msg[0])
            orr_fail(&e, rc, "out of memory listing blobs");
        return fail3(L, &e);
    }
    qsort(c.digests, c.n, sizeof *c.digests, cmp_digest);
    /* Strings first in C memory, then into Lua: on a memory error in
     * lua_createtable the list would leak, so build from a userdata. */
    char (*copy)[ORR_DIGEST_HEX_LEN + 1] =
        lua_newuserdatauv(L, c.n ? c.n * sizeof *c.digests : 1, 0);
    if (c.n)
        memcpy(copy, c.digests, c.n * sizeof *c.digests);
    free(c.digests);
    lua_createtable(L, (int)c.n, 0);
    for (size_t i = 0; i < c.n; i++) {
        lua_pushstring(L, copy[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_remove(lua_State *L)
{
    struct l_storage *u = check_open(L);
    const char *d = check_digest(L, 2);
    struct orr_error e = {0};
    if (orr_storage_remove(u->st, d, &e))
        return fail3(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

/* :close(), __close and __gc: idempotent. */
static int l_close(lua_State *L)
{
    struct l_storage *u = luaL_checkudata(L, 1, ORRI_LUA_STORAGE_MT);
    u->st = NULL;
    return 0;
}

static int l_tostring(lua_State *L)
{
    struct l_storage *u = luaL_checkudata(L, 1, ORRI_LUA_STORAGE_MT);
    if (u->st)
        lua_pushfstring(L, "orrery.storage(%s)", u->st->backend->name);
    else
        lua_pushliteral(L, "orrery.storage(closed)");
    return 1;
}

void orri_lua_open_storage(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"put", l_put},         {"get", l_get},
        {"put_file", l_put_file}, {"get_file", l_get_file},
        {"stat", l_stat},       {"list", l_list},
        {"remove", l_remove},   {"close", l_close},
        {NULL, NULL}
    };
    static const luaL_Reg meta[] = {
        {"__index", NULL}, {"__gc", l_close}, {"__close", l_close},
        {"__tostring", l_tostring}, {NULL, NULL}
    };
    if (luaL_newmetatable(L, ORRI_LUA_STORAGE_MT)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_open);
    lua_setfield(L, -2, "open");
}
