/*
 * config/sandbox.c - running a site file in a locked-down Lua state.
 *
 * The script's globals table is an empty proxy: reads fall through to the
 * user's assignments and then to the libraries, writes land in a separate
 * store and record the line they happened on, which is how a value's
 * origin reads "orrery.site.lua:7".  The proxy is installed as the
 * registry's globals table, so chunks made by `load` see it too.
 */
#include "config/sandbox.h"
#include "config/jail.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "util/buf.h"
#include "util/error.h"

/* The chunk name; rewritten to the file's display name in messages.  A
 * fixed short name avoids Lua truncating long paths to LUA_IDSIZE. */
#define SB_CHUNK "=orrery-site"
#define SB_TAG   "orrery-site"
#define SB_MAX_DEPTH  32
/* env() values at least this long are also masked inside longer strings
 * ("Bearer " .. env("TOKEN")); shorter ones only on exact match, so that
 * e.g. a region "eu" does not mask every value containing "eu". */
#define SB_SECRET_SUBSTR_MIN 6

static size_t   mem_limit   = ORRI_SANDBOX_MEM_LIMIT;
static uint64_t instr_limit = ORRI_SANDBOX_INSTR_LIMIT;

void orri_sandbox_set_limits(size_t mem_bytes, uint64_t instructions)
{
    mem_limit = mem_bytes ? mem_bytes : ORRI_SANDBOX_MEM_LIMIT;
    instr_limit = instructions ? instructions : ORRI_SANDBOX_INSTR_LIMIT;
}

void orri_sandbox_limits(size_t *mem_bytes, uint64_t *instructions)
{
    *mem_bytes = mem_limit;
    *instructions = instr_limit;
}

struct sandbox {
    struct orri_jail j;             /* first: the allocator's user data  */
    int         return_line;        /* line of the main chunk's return   */
    char      **secrets;            /* distinct strings env() returned   */
    size_t      n_secrets, cap_secrets;
    const char *src;
    size_t      src_len;
    const char *display;
    struct orr_cfg   *tree;         /* conversion result                 */
    struct orr_error *err;          /* conversion error                  */
    int         failed;
    int         run_status;         /* the script's own pcall status     */
    int         n_refined;          /* start_line() calls, bounded       */
};

static void sb_hook(lua_State *L, lua_Debug *ar);

static struct sandbox *get_sb(lua_State *L)
{
    return (struct sandbox *)orri_jail_of(L);
}

static int remember_secret(struct sandbox *sb, const char *v)
{
    if (!v[0])
        return 0;                       /* nothing to hide               */
    for (size_t i = 0; i < sb->n_secrets; i++)
        if (!strcmp(sb->secrets[i], v))
            return 0;
    if (sb->n_secrets == sb->cap_secrets) {
        size_t cap = sb->cap_secrets ? sb->cap_secrets * 2 : 8;
        char **n = realloc(sb->secrets, cap * sizeof *n);
        if (!n)
            return -1;
        sb->secrets = n;
        sb->cap_secrets = cap;
    }
    if (!(sb->secrets[sb->n_secrets] = strdup(v)))
        return -1;
    sb->n_secrets++;
    return 0;
}

static int value_is_secret(const struct sandbox *sb, const char *v)
{
    for (size_t i = 0; i < sb->n_secrets; i++) {
        const char *s = sb->secrets[i];
        if (!strcmp(v, s) ||
            (strlen(s) >= SB_SECRET_SUBSTR_MIN && strstr(v, s)))
            return 1;
    }
    return 0;
}

int orri_cfg_key_is_secret(const char *key)
{
    static const char *const words[] = {"secret", "password", "passwd",
                                        "token", "key", "credential"};
    char low[256];
    size_t n = 0;
    for (; key && key[n] && n < sizeof low - 1; n++)
        low[n] = (char)tolower((unsigned char)key[n]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strstr(low, words[i]))
            return 1;
    return 0;
}

/* env(NAME [, default]): the variable's value (remembered as a secret),
 * else `default`, else nil. */
static int sb_env(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TSTRING);
    const char *v = getenv(name);
    if (!v) {
        lua_settop(L, 2);
        return 1;                       /* default, or nil               */
    }
    if (remember_secret(get_sb(L), v))
        return luaL_error(L, "env: out of memory");
    lua_pushstring(L, v);
    return 1;
}

/* load(text [, name [, mode [, env]]]): source text only. */
static int sb_load(lua_State *L)
{
    size_t len;
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "load: only source strings can be loaded in "
                             "a site file");
    const char *s = lua_tolstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, s);
    const char *mode = luaL_optstring(L, 3, "bt");
    if ((len > 0 && s[0] == LUA_SIGNATURE[0]) || !strchr(mode, 't'))
        return luaL_error(L, "load: binary chunks (bytecode) are refused "
                             "in a site file");
    int has_env = !lua_isnone(L, 4);
    if (luaL_loadbufferx(L, s, len, name, "t") != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;                       /* nil, message: like load       */
    }
    if (has_env) {
        lua_pushvalue(L, 4);
        if (!lua_setupvalue(L, -2, 1))
            lua_pop(L, 1);
    }
    return 1;
}

/* The innermost line executing in the site file itself, or 0. */
static int file_line(lua_State *L, int level)
{
    lua_Debug ar;
    for (; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0 &&
            !strcmp(ar.source, SB_CHUNK))
            return ar.currentline;
    }
    return 0;
}

/* proxy.__newindex(t, k, v): store it, and remember the line. */
static int sb_newindex(lua_State *L)
{
    int line = file_line(L, 1);
    lua_settop(L, 3);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, lua_upvalueindex(1));
    if (line > 0 && lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        lua_pushinteger(L, line);
        lua_rawset(L, lua_upvalueindex(2));
    }
    return 0;
}

/* proxy.__index(t, k): the user's value first, then the libraries. */
static int sb_index(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    lua_rawget(L, lua_upvalueindex(2));
    return 1;
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
    struct sandbox *sb = get_sb(L);
    if (ar->event == LUA_HOOKRET) {
        if (lua_getinfo(L, "Sl", ar) && !strcmp(ar->what, "main") &&
            !strcmp(ar->source, SB_CHUNK))
            sb->return_line = ar->currentline;
        return;
    }
    if (ar->event != LUA_HOOKCOUNT)
        return;
    char msg[160];
    int why = orri_jail_tick(&sb->j);
    if (!why)
        return;
    if (why == ORRI_JAIL_MEMORY)
        snprintf(msg, sizeof msg, "%s:%d: memory limit exceeded (%zu MiB)",
                 SB_TAG, file_line(L, 0), orri_jail_limit_mib(&sb->j));
    else
        snprintf(msg, sizeof msg,
                 "%s:%d: instruction limit exceeded (%llu instructions): "
                 "endless loop?", SB_TAG, file_line(L, 0),
                 (unsigned long long)sb->j.instr_limit);
    lua_pushstring(L, msg);
    lua_error(L);
}

/* Message handler: give errors without a position the file line. */
static int sb_msgh(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)",
                              luaL_typename(L, 1));
    if (!strncmp(msg, SB_TAG ":", sizeof SB_TAG))
        return 1;
    int line = file_line(L, 1);
    if (line > 0)
        lua_pushfstring(L, "%s:%d: %s", SB_TAG, line, msg);
    else
        lua_pushfstring(L, "%s: %s", SB_TAG, msg);
    return 1;
}

static void open_libs(lua_State *L)
{
    orri_jail_open_libs(L);
    /* `load` comes back text-only, with env() beside it. */
    lua_pushglobaltable(L);
    lua_pushcfunction(L, sb_load);
    lua_setfield(L, -2, "load");
    lua_pushcfunction(L, sb_env);
    lua_setfield(L, -2, "env");
    lua_pop(L, 1);
}

/* Stack after: store, lines, proxy (the new globals). */
static void install_proxy(lua_State *L)
{
    lua_newtable(L);                            /* store                 */
    lua_newtable(L);                            /* lines                 */
    lua_newtable(L);                            /* proxy                 */
    lua_newtable(L);                            /* its metatable         */
    lua_pushvalue(L, -4);
    lua_pushglobaltable(L);
    lua_pushcclosure(L, sb_index, 2);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -4);
    lua_pushvalue(L, -4);
    lua_pushcclosure(L, sb_newindex, 2);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");         /* no one swaps it out   */
    lua_setmetatable(L, -2);
    lua_pushglobaltable(L);                     /* _G names the proxy    */
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, LUA_GNAME);
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
}

/* ---- Lua values -> orr_cfg ------------------------------------------ */

static int conv_fail(struct sandbox *sb, const char *origin, const char *path,
                     const char *what)
{
    sb->failed = 1;
    return orr_fail(sb->err, ORR_ECONFIG, "%s: %s: %s", origin, path, what);
}

static int convert_table(lua_State *L, struct sandbox *sb, int idx,
                         struct orr_cfg *dst, const char *path, int depth,
                         const char *origin, int secret);

/* Convert the value on top of the stack into dst[key]. */
static int convert_value(lua_State *L, struct sandbox *sb,
                         struct orr_cfg *dst, const char *key,
                         const char *path, int depth, const char *origin,
                         int secret)
{
    struct orr_cfg *node = NULL;
    int sec = secret || orri_cfg_key_is_secret(key);
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        if (strlen(s) != len)
            return conv_fail(sb, origin, path, "strings may not contain "
                                               "NUL bytes");
        sec = sec || value_is_secret(sb, s);
        node = orr_cfg_set_str(dst, key, s, origin);
        break;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) {
            node = orr_cfg_set_int(dst, key, lua_tointeger(L, -1), origin);
        } else {
            double d = lua_tonumber(L, -1);
            if (!isfinite(d))
                return conv_fail(sb, origin, path, "not a finite number");
            node = orr_cfg_set_num(dst, key, d, origin);
        }
        break;
    case LUA_TBOOLEAN:
        node = orr_cfg_set_bool(dst, key, lua_toboolean(L, -1), origin);
        break;
    case LUA_TTABLE:
        node = orr_cfg_set_table(dst, key, origin);
        if (node && convert_table(L, sb, -1, node, path, depth + 1, origin,
                                  sec))
            return ORR_ECONFIG;
        break;
    case LUA_TFUNCTION:
        return conv_fail(sb, origin, path,
                         depth == 0 ? "functions are not allowed in a site "
                                      "file (make helpers 'local')"
                                    : "functions are not allowed in a site "
                                      "file");
    default: {
        char what[80];
        snprintf(what, sizeof what, "%s values are not allowed in a site file",
                 luaL_typename(L, -1));
        return conv_fail(sb, origin, path, what);
    }
    }
    if (!node) {
        sb->failed = 1;
        return orr_fail(sb->err, ORR_ENOMEM, "out of memory reading %s",
                        path);
    }
    node->secret = sec;
    return ORR_OK;
}

/* The text of the key at `idx` into buf; NULL (with the reason in `why`)
 * if it cannot be a configuration key. */
static const char *key_text(lua_State *L, int idx, char *buf, size_t cap,
                            const char **why)
{
    if (lua_type(L, idx) == LUA_TNUMBER && lua_isinteger(L, idx)) {
        snprintf(buf, cap, "%lld", (long long)lua_tointeger(L, idx));
        return buf;
    }
    if (lua_type(L, idx) != LUA_TSTRING) {
        *why = "keys must be strings or integers";
        return NULL;
    }
    size_t len;
    const char *k = lua_tolstring(L, idx, &len);
    if (len == 0 || len >= cap || strlen(k) != len || strchr(k, '.')) {
        *why = "keys must be non-empty, shorter than 256 bytes, "
               "without '.' or NUL";
        return NULL;
    }
    return k;
}

static int convert_table(lua_State *L, struct sandbox *sb, int idx,
                         struct orr_cfg *dst, const char *path, int depth,
                         const char *origin, int secret)
{
    if (depth > SB_MAX_DEPTH)
        return conv_fail(sb, origin, path, "tables nested too deeply "
                                           "(a cycle?)");
    if (!lua_checkstack(L, 6)) {
        sb->failed = 1;
        return orr_fail(sb->err, ORR_ENOMEM, "out of memory");
    }
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        char kbuf[256], child[512];
        const char *why = NULL;
        const char *k = key_text(L, -2, kbuf, sizeof kbuf, &why);
        if (!k) {
            lua_pop(L, 2);
            return conv_fail(sb, origin, path, why);
        }
        snprintf(child, sizeof child, "%s.%s", path, k);
        if (convert_value(L, sb, dst, k, child, depth, origin, secret)) {
            lua_pop(L, 2);
            return ORR_ECONFIG;
        }
        lua_pop(L, 1);
    }
    return ORR_OK;
}

/* Lua reports an assignment at the line where its expression ends (the
 * closing brace of a multi-line table).  Users expect the line that
 * starts it: the last line at or before `line` that reads "key =". */
static int start_line(const struct sandbox *sb, int line, const char *key)
{
    const char *p = sb->src, *end = sb->src + sb->src_len;
    size_t klen = strlen(key);
    int best = line;
    for (int n = 1; n <= line && p < end; n++) {
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if ((size_t)(end - q) > klen && !memcmp(q, key, klen)) {
            q += klen;
            while (q < end && (*q == ' ' || *q == '\t'))
                q++;
            if (q + 1 < end && q[0] == '=' && q[1] != '=')
                best = n;
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    return best;
}

/* Top level: each key's origin carries its own line. */
static int convert_top(lua_State *L, struct sandbox *sb, int tbl,
                       int lines, int fixed_line)
{
    tbl = lua_absindex(L, tbl);
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        char kbuf[256], origin[300];
        const char *why = NULL;
        const char *k = key_text(L, -2, kbuf, sizeof kbuf, &why);
        int line = fixed_line;
        if (!k) {
            sb->failed = 1;
            lua_pop(L, 2);
            return orr_fail(sb->err, ORR_ECONFIG, "%s: top level: %s",
                            sb->display, why);
        }
        if (lines) {
            lua_pushvalue(L, -2);
            if (lua_rawget(L, lines) == LUA_TNUMBER)
                line = (int)lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        if (line > 0 && ++sb->n_refined <= 64)
            line = start_line(sb, line, k);
        if (line > 0)
            snprintf(origin, sizeof origin, "%s:%d", sb->display, line);
        else
            snprintf(origin, sizeof origin, "%s", sb->display);
        if (convert_value(L, sb, sb->tree, k, k, 0, origin, 0)) {
            lua_pop(L, 2);
            return ORR_ECONFIG;
        }
        lua_pop(L, 1);
    }
    return ORR_OK;
}

/* Runs protected: set up, load, run, convert.  A Lua error escaping this
 * function is the script's (or a memory) error; conversion problems are
 * reported through sb->err with sb->failed set. */
static int sb_main(lua_State *L)
{
    struct sandbox *sb = lua_touserdata(L, 1);
    lua_settop(L, 0);
    open_libs(L);
    install_proxy(L);                   /* 1 store, 2 lines, 3 proxy     */
    lua_pushcfunction(L, sb_msgh);      /* 4                             */
    if (luaL_loadbufferx(L, sb->src, sb->src_len, SB_CHUNK, "t") != LUA_OK)
        return lua_error(L);
    lua_sethook(L, sb_hook, LUA_MASKCOUNT | LUA_MASKRET,
                ORRI_JAIL_HOOK_EVERY);
    sb->run_status = lua_pcall(L, 0, 1, 4);
    lua_sethook(L, NULL, 0, 0);
    if (sb->run_status != LUA_OK)
        return lua_error(L);
    /* 5: the chunk's result */
    if (!(sb->tree = orr_cfg_new_table())) {
        sb->failed = 1;
        orr_fail(sb->err, ORR_ENOMEM, "out of memory");
        return 0;
    }
    if (lua_istable(L, 5)) {
        convert_top(L, sb, 5, 0, sb->return_line);
    } else if (!lua_isnil(L, 5)) {
        sb->failed = 1;
        orr_fail(sb->err, ORR_ECONFIG,
                 "%s:%d: a site file returns a table or nothing, not a %s",
                 sb->display, sb->return_line, luaL_typename(L, 5));
    } else if (!convert_top(L, sb, 1, 2, 0)) {
        convert_top(L, sb, 3, 0, 0);    /* rawset() past __newindex      */
    }
    return 0;
}

/* Replace every "orrery-site:" with "display:" and env() values of four
 * or more characters with "****" (shorter ones would mangle line numbers
 * and hide little). */
static void clean_message(const struct sandbox *sb, const char *msg,
                          struct orr_buf *out)
{
    const char *p = msg;
    while (*p) {
        size_t best = 0;
        const char *repl = NULL;
        if (!strncmp(p, SB_TAG ":", sizeof SB_TAG)) {
            best = sizeof SB_TAG - 1;
            repl = sb->display;
        }
        for (size_t i = 0; i < sb->n_secrets; i++) {
            size_t n = strlen(sb->secrets[i]);
            if (n >= 4 && n > best && !strncmp(p, sb->secrets[i], n)) {
                best = n;
                repl = "****";
            }
        }
        if (repl) {
            orri_buf_puts(out, repl);
            p += best;
        } else {
            orri_buf_append(out, p, 1);
            p++;
        }
    }
}

int orri_sandbox_eval(const char *path, const char *display,
                      struct orr_cfg **out, struct orr_error *e)
{
    struct sandbox sb = {0};
    struct orr_error cerr = {0};
    struct orr_buf msg = ORR_BUF_INIT;
    lua_State *L = NULL;
    char *src = NULL, *text = NULL;
    size_t len = 0;
    int rc;
    *out = NULL;
    if ((rc = orri_jail_read(path, display, "site file", &src, &text, &len,
                             e)))
        return rc;
    sb.src = text;
    sb.src_len = len;
    sb.display = display;
    sb.err = &cerr;
    if (!(L = orri_jail_new(&sb.j, sb_hook))) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory starting Lua");
        goto fail;
    }
    lua_pushcfunction(L, sb_main);
    lua_pushlightuserdata(L, &sb);
    int st = lua_pcall(L, 1, 0, 0);
    if ((st == LUA_ERRMEM || sb.run_status == LUA_ERRMEM) && sb.j.mem_hit) {
        rc = orr_fail(e, ORR_ECONFIG, "%s: memory limit exceeded (%zu MiB)",
                      display, orri_jail_limit_mib(&sb.j));
        goto fail;
    }
    if (st != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        clean_message(&sb, m ? m : "error", &msg);
        rc = orr_fail(e, ORR_ECONFIG, "%s", msg.data ? msg.data : "error");
        goto fail;
    }
    if (sb.failed) {
        clean_message(&sb, cerr.msg, &msg);
        rc = orr_fail(e, cerr.code, "%s", msg.data ? msg.data : "error");
        goto fail;
    }
    *out = sb.tree;
    sb.tree = NULL;
    rc = ORR_OK;
fail:
    if (L)
        lua_close(L);
    orr_cfg_free(sb.tree);
    for (size_t i = 0; i < sb.n_secrets; i++)
        free(sb.secrets[i]);
    free(sb.secrets);
    orri_buf_free(&msg);
    free(src);
    return rc;
}
