/*
 * config/jail.c - the locked-down Lua state (config/jail.h).
 */
#include "config/jail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lualib.h>

#include "config/sandbox.h"
#include "util/error.h"

/* Lua's allocator contract: free on nsize 0; osize is the old size only
 * when ptr is non-NULL.  Refusing a growth makes Lua raise a memory
 * error, which the script cannot get past. */
static void *jail_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct orri_jail *j = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        j->used -= old;
        free(ptr);
        return NULL;
    }
    if (nsize > old && nsize - old > j->limit - j->used) {
        if (!j->mem_hit && j->L) {
            /* Make the script stop at its next instruction: otherwise a
             * loop of pcall(string.rep, "x", 1e9) runs a full collection
             * per failed allocation and never reaches the instruction
             * limit.  lua_sethook is safe anywhere.  A little slack lets
             * the error be raised. */
            lua_sethook(j->L, j->hook, LUA_MASKCOUNT, 1);
            j->limit += ORRI_JAIL_MEM_SLACK;
        }
        j->mem_hit = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    j->used = j->used - old + nsize;
    return p;
}

lua_State *orri_jail_new(struct orri_jail *j, lua_Hook hook)
{
    orri_sandbox_limits(&j->limit, &j->instr_limit);
    j->used = j->instr = 0;
    j->mem_hit = j->instr_hit = 0;
    j->hook = hook;
    j->L = lua_newstate(jail_alloc, j);
    return j->L;
}

struct orri_jail *orri_jail_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

int orri_jail_tick(struct orri_jail *j)
{
    if (j->mem_hit)
        return ORRI_JAIL_MEMORY;
    if (!j->instr_hit) {
        j->instr += ORRI_JAIL_HOOK_EVERY;
        if (j->instr <= j->instr_limit)
            return 0;
        j->instr_hit = 1;
        lua_sethook(j->L, j->hook, LUA_MASKCOUNT, 1);
    }
    return ORRI_JAIL_INSTRUCTIONS;
}

size_t orri_jail_limit_mib(const struct orri_jail *j)
{
    return (j->mem_hit ? j->limit - ORRI_JAIL_MEM_SLACK : j->limit) >> 20;
}

void orri_jail_open_libs(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},        {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table},  {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},
    };
    for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) {
        luaL_requiref(L, libs[i].name, libs[i].func, 1);
        lua_pop(L, 1);
    }
    /* File access, bytecode, output, modules and GC control stay out;
     * a caller may put back a restricted `load` or `require`. */
    static const char *const drop[] = {"dofile", "loadfile", "load",
                                       "print", "collectgarbage", "warn",
                                       "require"};
    lua_pushglobaltable(L);
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, drop[i]);
    }
    lua_pop(L, 1);
}

int orri_jail_read(const char *path, const char *display, const char *what,
                   char **buf, char **src, size_t *len, struct orr_error *e)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    struct stat st;
    int rc = ORR_OK;
    *buf = *src = NULL;
    *len = 0;
    if (!f)
        return orr_fail(e, errno == ENOENT ? ORR_ENOTFOUND : ORR_EIO,
                        "cannot read %s %s: %s", what, display,
                        strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = orr_fail(e, ORR_EIO, "cannot read %s %s: not a regular file",
                      what, display);
        goto fail;
    }
    if ((size_t)st.st_size > ORRI_SANDBOX_FILE_LIMIT) {
        rc = orr_fail(e, ORR_ECONFIG, "%s: %s too large (%lld bytes; the "
                      "limit is %zu)", display, what, (long long)st.st_size,
                      (size_t)ORRI_SANDBOX_FILE_LIMIT);
        goto fail;
    }
    if (!(b = malloc((size_t)st.st_size + 1))) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory reading %s", display);
        goto fail;
    }
    size_t n = fread(b, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        rc = orr_fail(e, ORR_EIO, "cannot read %s %s: %s", what, display,
                      strerror(errno));
        goto fail;
    }
    b[n] = '\0';
    char *s = b;
    /* Skip a UTF-8 byte-order mark; blank out a "#!" first line (keeping
     * line numbers) as the stand-alone interpreter does. */
    if (n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
        s += 3;
        n -= 3;
    }
    if (n && s[0] == LUA_SIGNATURE[0]) {
        rc = orr_fail(e, ORR_ECONFIG, "%s: precompiled Lua bytecode is "
                      "refused; a %s must be Lua source text", display,
                      what);
        goto fail;
    }
    if (n && s[0] == '#')
        for (char *p = s; *p && *p != '\n'; p++)
            *p = ' ';
    *buf = b;
    *src = s;
    *len = n;
    b = NULL;
fail:
    free(b);
    fclose(f);
    return rc;
}
