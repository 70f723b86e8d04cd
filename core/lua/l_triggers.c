/*
 * lua/l_triggers.c - the triggers file: orrery.on_drift, on_schedule and
 * on_new_data evaluated in a sandbox (sched/triggers.h).
 *
 * The file declares, it does not act: it runs in its own lua_State with
 * the site file's limits (memory ceiling, instruction budget) and the
 * same small set of libraries, no file, process or module access.  Each
 * call appends one trigger to a C list; the options are checked at the
 * line of the call, so a typo is reported where it is.
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "config/jail.h"
#include "sched/cron.h"
#include "sched/triggers.h"
#include "util/error.h"

#define TR_MAX_TRIGGERS 1000

struct tload {
    struct orri_jail j;             /* first: the allocator's user data  */
    char        dir[PATH_MAX];      /* absolute folder of the file       */
    struct orri_trigger *v;
    size_t      n, cap;
    json_t     *pending;            /* options being built (freed on error) */
};

static struct tload *get_tl(lua_State *L)
{
    return (struct tload *)orri_jail_of(L);
}

static void tr_hook(lua_State *L, lua_Debug *ar)
{
    struct tload *tl = get_tl(L);
    (void)ar;
    int why = orri_jail_tick(&tl->j);
    if (why == ORRI_JAIL_MEMORY)
        luaL_error(L, "memory limit exceeded (%d MiB)",
                   (int)orri_jail_limit_mib(&tl->j));
    else if (why == ORRI_JAIL_INSTRUCTIONS)
        luaL_error(L, "instruction limit exceeded (%d instructions): "
                   "endless loop?", (int)tl->j.instr_limit);
}

/* ---- option checks (raise at the caller's line) ------------------------- */

static int bad(lua_State *L, const char *fn, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return luaL_error(L, "orrery.%s: %s", fn, msg);
}

/* "90s", "30m", "1h", "2d" (or a number of seconds) to seconds; -1 if
 * malformed. */
static int64_t duration_s(const char *s)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || v < 0 || v > 100LL * 365 * 86400)
        return -1;
    int64_t mul = !*end ? 1 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60
                : !strcmp(end, "h") ? 3600 : !strcmp(end, "d") ? 86400 : 0;
    return mul ? (int64_t)v * mul : -1;
}

/* A window: a row count ("10000") or a span ("1h"). */
static int window_ok(const char *s)
{
    return *s && duration_s(s) > 0;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 128)
        return 0;
    for (const char *p = s; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
            !(*p >= '0' && *p <= '9') && !strchr("._-:@/", *p))
            return 0;
    return 1;
}

/* params = { key = scalar } into a JSON object of strings, as `orrery
 * run --param` takes them. */
static void read_params(lua_State *L, const char *fn, int opts,
                        json_t *o)
{
    if (lua_getfield(L, opts, "params") == LUA_TNIL) {
        lua_pop(L, 1);
        json_object_set_new(o, "params", json_object());
        return;
    }
    if (!lua_istable(L, -1))
        bad(L, fn, "params must be a table of key = value, not a %s",
            luaL_typename(L, -1));
    json_t *p = json_object();
    json_object_set_new(o, "params", p);
    int t = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            bad(L, fn, "params keys must be strings");
        const char *k = lua_tostring(L, -2);
        const char *v;
        if (lua_type(L, -1) == LUA_TBOOLEAN) {
            v = lua_toboolean(L, -1) ? "true" : "false";
        } else if (lua_type(L, -1) == LUA_TNUMBER ||
                   lua_type(L, -1) == LUA_TSTRING) {
            size_t len = 0;
            const char *s = lua_tolstring(L, -1, &len);
            if (strlen(s) != len)
                bad(L, fn, "params.%s contains a NUL byte", k);
            v = s;
        } else {
            bad(L, fn, "params.%s must be a string, number or boolean, "
                "not a %s", k, luaL_typename(L, -1));
            v = "";
        }
        if (!strchr(k, '=') && *k) {
            json_t *js = json_string(v);
            if (!js || json_object_set_new(p, k, js))
                bad(L, fn, "params.%s: not UTF-8 text", k);
        } else {
            bad(L, fn, "params key '%s' is not a valid name", k);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* A string (or number) option copied into buf (numbers are converted on
 * the stack, so the text must not outlive the pop), or NULL if absent. */
static const char *opt_string(lua_State *L, const char *fn, int opts,
                              const char *key, char *buf, size_t cap)
{
    int t = lua_getfield(L, opts, key);
    const char *s = NULL;
    if (t == LUA_TNUMBER || t == LUA_TSTRING) {
        size_t len = 0;
        const char *v = lua_tolstring(L, -1, &len);
        if (len >= cap || strlen(v) != len)
            bad(L, fn, "%s is too long or contains a NUL byte", key);
        memcpy(buf, v, len + 1);
        s = buf;
    } else if (t != LUA_TNIL) {
        bad(L, fn, "%s must be a string, not a %s", key,
            luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return s;
}

static void check_keys(lua_State *L, const char *fn, int opts,
                       const char *const *allowed)
{
    lua_pushnil(L);
    while (lua_next(L, opts)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                      : NULL;
        int found = 0;
        for (size_t i = 0; k && allowed[i]; i++)
            found |= !strcmp(k, allowed[i]);
        if (!found) {
            char list[256] = "";
            size_t off = 0;
            for (size_t i = 0; allowed[i] && off < sizeof list; i++)
                off += (size_t)snprintf(list + off, sizeof list - off,
                                        "%s%s", i ? ", " : "", allowed[i]);
            bad(L, fn, "unknown option '%s' (options: %s)",
                k ? k : luaL_typename(L, -1), list);
        }
    }
}

/* ---- declarations ------------------------------------------------------- */

static int declare(lua_State *L, const char *kind, const char *fn)
{
    struct tload *tl = get_tl(L);
    const char *target = luaL_checkstring(L, 1);
    const char *wf = luaL_checkstring(L, 2);
    if (lua_isnoneornil(L, 3))
        lua_newtable(L);
    else
        luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    if (!*target)
        bad(L, fn, "the first argument is empty");
    json_decref(tl->pending);
    json_t *o = tl->pending = json_object();
    if (!o)
        return luaL_error(L, "out of memory");
    static const char *const drift_keys[] = {"name", "params", "threshold",
        "window", "dataset", "cooldown", "thresholds", "on_quality", NULL};
    static const char *const other_keys[] = {"name", "params", NULL};
    int is_drift = !strcmp(kind, "drift");
    check_keys(L, fn, 3, is_drift ? drift_keys : other_keys);
    char nbuf[160], wbuf[64], dbuf[160], cbuf[64];
    const char *name = opt_string(L, fn, 3, "name", nbuf, sizeof nbuf);
    read_params(L, fn, 3, o);

    if (!strcmp(kind, "schedule")) {
        struct orri_cron c;
        struct orr_error ce = {0};
        if (orri_cron_parse(&c, target, NULL, &ce))
            bad(L, fn, "'%s': %s", target, ce.msg);
    } else if (!strcmp(kind, "new_data")) {
        if (!name_ok(target))
            bad(L, fn, "'%s' is not a dataset name", target);
    } else {
        if (!name_ok(target))
            bad(L, fn, "'%s' is not a model name or models:/ URI", target);
        lua_getfield(L, 3, "threshold");
        double th = 0.5;
        if (!lua_isnil(L, -1)) {
            if (!lua_isnumber(L, -1))
                bad(L, fn, "threshold must be a number");
            th = lua_tonumber(L, -1);
            if (!(th > 0 && th <= 1))
                bad(L, fn, "threshold must be in (0, 1] (the share of "
                    "drifted features), got %g", th);
        }
        lua_pop(L, 1);
        json_object_set_new(o, "threshold", json_real(th));
        const char *w = opt_string(L, fn, 3, "window", wbuf, sizeof wbuf);
        if (w && !window_ok(w))
            bad(L, fn, "window '%s': want a row count (\"10000\") or a "
                "span (\"90s\", \"30m\", \"1h\", \"2d\")", w);
        json_object_set_new(o, "window", json_string(w ? w : "1h"));
        const char *ds = opt_string(L, fn, 3, "dataset", dbuf,
                                    sizeof dbuf);
        if (ds && !name_ok(ds))
            bad(L, fn, "dataset '%s' is not a dataset name", ds);
        if (ds)
            json_object_set_new(o, "dataset", json_string(ds));
        const char *cd = opt_string(L, fn, 3, "cooldown", cbuf,
                                    sizeof cbuf);
        int64_t cds = cd ? duration_s(cd) : 6 * 3600;
        if (cds < 0)
            bad(L, fn, "cooldown '%s': want a span (\"90s\", \"30m\", "
                "\"6h\", \"1d\")", cd);
        json_object_set_new(o, "cooldown_s", json_integer(cds));
        lua_getfield(L, 3, "on_quality");
        if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
            bad(L, fn, "on_quality must be a boolean");
        json_object_set_new(o, "on_quality",
                            json_boolean(lua_isnil(L, -1) ||
                                         lua_toboolean(L, -1)));
        lua_pop(L, 1);
        if (lua_getfield(L, 3, "thresholds") != LUA_TNIL) {
            if (!lua_istable(L, -1))
                bad(L, fn, "thresholds must be a table of name = number");
            json_t *th_o = json_object();
            json_object_set_new(o, "thresholds", th_o);
            int t = lua_gettop(L);
            lua_pushnil(L);
            while (lua_next(L, t)) {
                if (lua_type(L, -2) != LUA_TSTRING || !lua_isnumber(L, -1))
                    bad(L, fn, "thresholds must be a table of name = "
                        "number");
                json_object_set_new(th_o, lua_tostring(L, -2),
                                    json_real(lua_tonumber(L, -1)));
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }

    /* The workflow, against the file's folder; it must exist now. */
    char rel[PATH_MAX * 2], abs[PATH_MAX];
    if (wf[0] == '/')
        snprintf(rel, sizeof rel, "%s", wf);
    else
        snprintf(rel, sizeof rel, "%s/%s", tl->dir, wf);
    if (!realpath(rel, abs))
        bad(L, fn, "workflow '%s': %s", wf, strerror(errno));
    struct stat sb;
    if (stat(abs, &sb) || !S_ISREG(sb.st_mode))
        bad(L, fn, "workflow '%s' is not a file", wf);

    /* The default name says what fires and on what. */
    char dname[160];
    if (!name) {
        const char *base = strrchr(target, '/');
        if (!strcmp(kind, "schedule")) {
            const char *b = strrchr(abs, '/');
            base = b ? b + 1 : abs;
            size_t bl = strlen(base);
            snprintf(dname, sizeof dname, "schedule:%.*s",
                     (int)(bl > 4 && !strcmp(base + bl - 4, ".lua")
                           ? bl - 4 : bl), base);
        } else {
            snprintf(dname, sizeof dname, "%s:%s", kind,
                     base && !strncmp(target, "models:/", 8) ? base + 1
                                                             : target);
        }
        name = dname;
    }
    if (!name_ok(name))
        bad(L, fn, "name '%s': use letters, digits and . _ - : @ /", name);
    for (size_t i = 0; i < tl->n; i++)
        if (!strcmp(tl->v[i].name, name))
            bad(L, fn, "a trigger named '%s' is declared already (line "
                "%d); give this one another name = ...", name,
                tl->v[i].line);
    if (tl->n >= TR_MAX_TRIGGERS)
        bad(L, fn, "more than %d triggers", TR_MAX_TRIGGERS);

    /* Nothing raises from here on. */
    lua_Debug ar;
    int line = lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar)
             ? ar.currentline : 0;
    if (tl->n == tl->cap) {
        size_t nc = tl->cap ? tl->cap * 2 : 8;
        struct orri_trigger *nv = realloc(tl->v, nc * sizeof *nv);
        if (!nv)
            return luaL_error(L, "out of memory");
        tl->v = nv;
        tl->cap = nc;
    }
    struct orri_trigger *t = &tl->v[tl->n];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->kind = strdup(kind);
    t->target = strdup(target);
    t->workflow = strdup(abs);
    t->options = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    t->state = strdup("{}");
    t->last_run = strdup("");
    t->line = line;
    tl->n++;
    json_decref(tl->pending);
    tl->pending = NULL;
    if (!t->name || !t->kind || !t->target || !t->workflow ||
        !t->options || !t->state || !t->last_run)
        return luaL_error(L, "out of memory");
    return 0;
}

static int l_on_drift(lua_State *L)
{
    return declare(L, "drift", "on_drift");
}

static int l_on_schedule(lua_State *L)
{
    return declare(L, "schedule", "on_schedule");
}

static int l_on_new_data(lua_State *L)
{
    return declare(L, "new_data", "on_new_data");
}

/* require "orrery" is the only module there is. */
static int l_require(lua_State *L)
{
    const char *m = luaL_checkstring(L, 1);
    if (strcmp(m, "orrery"))
        return luaL_error(L, "module '%s' is not available in a triggers "
                          "file (only \"orrery\")", m);
    lua_getglobal(L, "orrery");
    return 1;
}

static void open_env(lua_State *L)
{
    orri_jail_open_libs(L);
    lua_pushglobaltable(L);
    lua_pushcfunction(L, l_require);
    lua_setfield(L, -2, "require");
    static const luaL_Reg fns[] = {
        {"on_drift", l_on_drift}, {"on_schedule", l_on_schedule},
        {"on_new_data", l_on_new_data}, {NULL, NULL}
    };
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "orrery");
    lua_pop(L, 1);
}

static int tr_main(lua_State *L)
{
    const char *src = lua_touserdata(L, 1);
    size_t len = (size_t)lua_tointeger(L, 2);
    const char *chunk = lua_tostring(L, 3);
    open_env(L);
    if (luaL_loadbufferx(L, src, len, chunk, "t"))
        return lua_error(L);
    lua_sethook(L, tr_hook, LUA_MASKCOUNT, ORRI_JAIL_HOOK_EVERY);
    lua_call(L, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    return 0;
}

int orri_triggers_load(const char *path, struct orri_trigger **out,
                       size_t *n, struct orr_error *e)
{
    struct tload tl = {0};
    char *buf = NULL, *src = NULL, *abs = NULL;
    size_t len = 0;
    lua_State *L = NULL;
    *out = NULL;
    *n = 0;
    int rc = orri_jail_read(path, path, "triggers file", &buf, &src, &len, e);
    if (rc)
        return rc;
    if (!(abs = realpath(path, NULL))) {
        rc = orr_fail(e, ORR_EIO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    char *slash = strrchr(abs, '/');
    snprintf(tl.dir, sizeof tl.dir, "%.*s", (int)(slash - abs), abs);
    if (!tl.dir[0])
        snprintf(tl.dir, sizeof tl.dir, "/");
    /* Messages read "FILE:LINE: ..." with FILE as the user gave it. */
    char chunk[LUA_IDSIZE];
    const char *shown = strlen(path) < sizeof chunk - 1 ? path : slash + 1;
    snprintf(chunk, sizeof chunk, "=%s", shown);
    if (!(L = orri_jail_new(&tl.j, tr_hook))) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory starting Lua");
        goto fail;
    }
    lua_pushcfunction(L, tr_main);
    lua_pushlightuserdata(L, src);
    lua_pushinteger(L, (lua_Integer)len);
    lua_pushstring(L, chunk);
    int st = lua_pcall(L, 3, 0, 0);
    if (st != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        if (st == LUA_ERRMEM || !m)
            rc = orr_fail(e, ORR_ECONFIG, "%s: memory limit exceeded",
                          shown);
        else
            rc = orr_fail(e, ORR_ECONFIG, "%s", m);
        goto fail;
    }
    *out = tl.v;
    *n = tl.n;
    tl.v = NULL;
    tl.n = 0;
fail:
    if (L)
        lua_close(L);
    json_decref(tl.pending);
    orri_trigger_list_free(tl.v, tl.n);
    free(abs);
    free(buf);
    return rc;
}
