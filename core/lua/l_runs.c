/*
 * lua/l_runs.c - experiment tracking from Lua: the ctx methods
 * log_metrics, log_params and set_tag, and the orrery.runs table (list,
 * get, metric).
 *
 * ctx methods raise on failure like the other ctx methods (a step that
 * cannot record has failed).  orrery.runs.* raise on misuse (wrong
 * argument types) and return nil, message, code on operational failures
 * (unknown run, bad filter, database error), like orrery.storage.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core.h"
#include "lua/lua_runtime.h"
#include "meta/query.h"
#include "meta/run_handle.h"
#include "util/error.h"

static struct orri_lua_rt *check_ctx(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct orri_lua_rt *rt = orri_lua_rt(L);
    if (!rt || !rt->run || !rt->step)
        luaL_error(L, "ctx used outside of its step");
    return rt;
}

/* A scalar value (string, number, boolean) as text; raises otherwise. */
static const char *scalar_text(lua_State *L, int idx, const char *what,
                               const char *key)
{
    int t = lua_type(L, idx);
    if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN)
        luaL_error(L, "%s '%s': expected a string, number or boolean, got "
                   "%s", what, key, luaL_typename(L, idx));
    return luaL_tolstring(L, idx, NULL);    /* pushed: caller pops       */
}

/* ctx:log_metrics({key = value, ...} [, step]) */
static int l_log_metrics(lua_State *L)
{
    struct orri_lua_rt *rt = check_ctx(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer step = luaL_optinteger(L, 3, 0);
    /* Check every pair before logging any, so a typo logs nothing. */
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "ctx:log_metrics: keys must be strings, "
                              "got %s", luaL_typename(L, -2));
        if (lua_type(L, -1) != LUA_TNUMBER)
            return luaL_error(L, "ctx:log_metrics: metric '%s' must be a "
                              "number, got %s", lua_tostring(L, -2),
                              luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    if (!rt->run->meta)
        return 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        struct orr_error e = {0};
        if (orr_meta_log_metric(rt->run->meta, rt->run->id,
                                lua_tostring(L, -2), lua_tonumber(L, -1),
                                step, &e))
            return luaL_error(L, "ctx:log_metrics: %s", e.msg);
        lua_pop(L, 1);
    }
    return 0;
}

/* ctx:log_params({key = value, ...}) */
static int l_log_params(lua_State *L)
{
    struct orri_lua_rt *rt = check_ctx(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "ctx:log_params: keys must be strings, "
                              "got %s", luaL_typename(L, -2));
        scalar_text(L, -1, "ctx:log_params: param", lua_tostring(L, -2));
        lua_pop(L, 2);
    }
    if (!rt->run->meta)
        return 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        const char *v = luaL_tolstring(L, -1, NULL);
        struct orr_error e = {0};
        if (orr_meta_log_param(rt->run->meta, rt->run->id,
                               lua_tostring(L, -3), v, &e))
            return luaL_error(L, "ctx:log_params: %s", e.msg);
        lua_pop(L, 2);
    }
    return 0;
}

/* ctx:set_tag(key, value) */
static int l_set_tag(lua_State *L)
{
    struct orri_lua_rt *rt = check_ctx(L);
    const char *key = luaL_checkstring(L, 2);
    luaL_checkany(L, 3);
    const char *v = scalar_text(L, 3, "ctx:set_tag: tag", key);
    struct orr_error e = {0};
    if (rt->run->meta &&
        orr_meta_set_tag(rt->run->meta, rt->run->id, key, v, &e))
        return luaL_error(L, "ctx:set_tag: %s", e.msg);
    return 0;
}

void orri_lua_add_tracking(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"log_metrics", l_log_metrics}, {"log_params", l_log_params},
        {"set_tag", l_set_tag}, {NULL, NULL}
    };
    luaL_setfuncs(L, methods, 0);
}

/* ---- orrery.runs ------------------------------------------------------- */

static int fail3(lua_State *L, const struct orr_error *e)
{
    luaL_pushfail(L);
    lua_pushstring(L, e->msg);
    lua_pushinteger(L, e->code);
    return 3;
}

static struct orr_meta *get_meta(lua_State *L, struct orr_error *e)
{
    struct orri_lua_rt *rt = orri_lua_rt(L);
    struct orr_meta *m = NULL;
    if (rt && rt->run && rt->run->meta)
        return rt->run->meta;
    if (!rt || !rt->core) {
        orr_fail(e, ORR_EUNSUPPORTED, "orrery.runs: no site is open");
        return NULL;
    }
    return orr_core_meta(rt->core, &m, e) ? NULL : m;
}

static const char *opt_field(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    const char *s = NULL;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "orrery.runs.list: '%s' must be a string", k);
        s = lua_tostring(L, -1);
    }
    lua_pop(L, 1);      /* the string stays alive in the table t */
    return s;
}

/* orrery.runs.list{filter=, order_by=, limit=, cursor=}
 *   -> runs (array of {id, workflow, status, user, host, start_ms,
 *      end_ms, sort_value}), next_cursor (nil on the last page) */
static int l_list(lua_State *L)
{
    struct orr_runs_query q = {0};
    char order[512];
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        q.filter = opt_field(L, 1, "filter");
        q.cursor = opt_field(L, 1, "cursor");
        const char *ob = opt_field(L, 1, "order_by");
        if (ob) {
            /* "KEY", "KEY asc" or "KEY desc" */
            snprintf(order, sizeof order, "%s", ob);
            char *sp = strrchr(order, ' ');
            if (sp && (!strcmp(sp + 1, "asc") || !strcmp(sp + 1, "desc"))) {
                q.ascending = !strcmp(sp + 1, "asc");
                *sp = '\0';
            }
            q.order_by = order;
        }
        lua_getfield(L, 1, "limit");
        if (!lua_isnil(L, -1)) {
            lua_Integer n = luaL_checkinteger(L, -1);
            luaL_argcheck(L, n >= 1 && n <= ORR_RUNS_LIMIT_MAX, 1,
                          "limit out of range");
            q.limit = (size_t)n;
        }
        lua_pop(L, 1);
    }
    struct orr_error e = {0};
    struct orr_meta *m = get_meta(L, &e);
    struct orr_run_list *l = NULL;
    if (!m || orr_meta_runs_list(m, &q, &l, &e))
        return fail3(L, &e);
    lua_createtable(L, (int)l->n, 0);
    for (size_t i = 0; i < l->n; i++) {
        const struct orr_run_row *r = &l->rows[i];
        lua_createtable(L, 0, 8);
        lua_pushstring(L, r->id);
        lua_setfield(L, -2, "id");
        lua_pushstring(L, r->workflow);
        lua_setfield(L, -2, "workflow");
        lua_pushstring(L, r->status);
        lua_setfield(L, -2, "status");
        lua_pushstring(L, r->user);
        lua_setfield(L, -2, "user");
        lua_pushstring(L, r->host);
        lua_setfield(L, -2, "host");
        lua_pushinteger(L, r->start_ms);
        lua_setfield(L, -2, "start_ms");
        if (r->end_ms) {
            lua_pushinteger(L, r->end_ms);
            lua_setfield(L, -2, "end_ms");
        }
        if (r->sort_type == ORR_VALUE_INT)
            lua_pushinteger(L, r->sort_int);
        else if (r->sort_type == ORR_VALUE_REAL)
            lua_pushnumber(L, r->sort_real);
        else if (r->sort_type == ORR_VALUE_TEXT)
            lua_pushstring(L, r->sort_text);
        else
            lua_pushnil(L);
        lua_setfield(L, -2, "sort_value");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    if (l->next_cursor[0])
        lua_pushstring(L, l->next_cursor);
    else
        lua_pushnil(L);
    orr_run_list_free(l);
    return 2;
}

/* orrery.runs.get(id) -> the run document (query.h) as a table; metric
 * summaries hold numbers (NaN and infinities as Lua numbers). */
static int l_get(lua_State *L)
{
    const char *arg = luaL_checkstring(L, 1);
    struct orr_error e = {0};
    struct orr_meta *m = get_meta(L, &e);
    char id[ORR_RUN_ID_SIZE];
    json_t *doc = NULL;
    if (!m || orr_meta_run_resolve(m, arg, id, &e) ||
        orr_meta_run_json(m, id, 0, &doc, &e))
        return fail3(L, &e);
    json_t *metrics = json_incref(json_object_get(doc, "metrics"));
    json_object_del(doc, "metrics");
    orri_json_push(L, doc);
    json_decref(doc);
    lua_newtable(L);
    const char *k;
    json_t *s;
    json_object_foreach(metrics, k, s) {
        static const char *const f[] = {"last", "min", "max"};
        lua_createtable(L, 0, 6);
        for (size_t i = 0; i < 3; i++) {
            double d;
            if (!orri_json_to_double(json_object_get(s, f[i]), &d)) {
                lua_pushnumber(L, d);
                lua_setfield(L, -2, f[i]);
            }
        }
        lua_pushinteger(L, json_integer_value(json_object_get(s, "n")));
        lua_setfield(L, -2, "n");
        lua_pushinteger(L, json_integer_value(json_object_get(s,
                                                              "last_step")));
        lua_setfield(L, -2, "last_step");
        lua_setfield(L, -2, k);
    }
    json_decref(metrics);
    lua_setfield(L, -2, "metrics");
    return 1;
}

struct pts {
    struct orr_metric_point *p;
    size_t n, cap;
};

static int collect(void *ctx, const struct orr_metric_point *p)
{
    struct pts *s = ctx;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        struct orr_metric_point *np = realloc(s->p, nc * sizeof *np);
        if (!np)
            return ORR_ENOMEM;
        s->p = np;
        s->cap = nc;
    }
    s->p[s->n++] = *p;
    return ORR_OK;
}

/* orrery.runs.metric(id, key) -> {{step=, value=, time_ms=}, ...} */
static int l_metric(lua_State *L)
{
    const char *arg = luaL_checkstring(L, 1);
    const char *key = luaL_checkstring(L, 2);
    struct orr_error e = {0};
    struct orr_meta *m = get_meta(L, &e);
    char id[ORR_RUN_ID_SIZE];
    struct pts s = {0};
    int rc = m ? orr_meta_run_resolve(m, arg, id, &e) : e.code;
    if (!rc)
        rc = orr_meta_metric_series(m, id, key, collect, &s, &e);
    if (rc) {
        free(s.p);
        if (rc == ORR_ENOMEM && !e.msg[0])
            orr_fail(&e, rc, "orrery.runs.metric: out of memory");
        return fail3(L, &e);
    }
    /* Box the points so a memory error while pushing cannot leak them. */
    struct orr_metric_point *box = lua_newuserdatauv(L, s.n * sizeof *box
                                                         + 1, 0);
    if (s.n)
        memcpy(box, s.p, s.n * sizeof *box);
    size_t n = s.n;
    free(s.p);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, box[i].step);
        lua_setfield(L, -2, "step");
        lua_pushnumber(L, box[i].value);
        lua_setfield(L, -2, "value");
        lua_pushinteger(L, box[i].time_ms);
        lua_setfield(L, -2, "time_ms");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

void orri_lua_open_runs(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"list", l_list}, {"get", l_get}, {"metric", l_metric},
        {NULL, NULL}
    };
    luaL_newlib(L, funcs);
}
