/*
 * lua/l_data.c - datasets in Lua: ctx:dataset(), the "orrery.dataset"
 * userdata (split, describe, select, column; rows, columns, target, hash)
 * and their crossing between steps as artifact references.
 *
 * A dataset that a step returns is stored (its canonical bytes, so its
 * digest is its version) and travels in the step's JSON value as
 *   {"$orrery": "dataset", "digest": "<sha256>", "rows": N, "columns": C}
 * The consuming step gets a userdata that knows only the digest; the data
 * is fetched, verified, and recorded as the step's input on first use.
 * Fetching can fail, and a failure must raise inside the step's function,
 * not while the runner pushes its arguments.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core.h"
#include "data/names.h"
#include "data/table.h"
#include "lua/lua_runtime.h"
#include "meta/run_handle.h"
#include "storage/artifacts.h"
#include "util/error.h"

struct l_dataset {
    struct orr_dataset *ds;         /* NULL until fetched                  */
    char   digest[ORR_DIGEST_HEX_LEN + 1];     /* "" for an unstored one  */
    size_t rows, cols;              /* known before fetching               */
    char   name[128];               /* lineage name of a fetched one       */
};

static struct l_dataset *new_ud(lua_State *L)
{
    struct l_dataset *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    if (luaL_getmetatable(L, ORRI_LUA_DATASET_MT) != LUA_TTABLE) {
        lua_pop(L, 1);
        orri_lua_open_data(L);
        luaL_getmetatable(L, ORRI_LUA_DATASET_MT);
    }
    lua_setmetatable(L, -2);
    return u;
}

static struct orr_instance *storage_or_raise(lua_State *L)
{
    struct orri_lua_rt *rt = orri_lua_rt(L);
    struct orr_instance *st = NULL;
    struct orr_error e = {0};
    if (!rt || !rt->core)
        luaL_error(L, "datasets need a site (no core is open)");
    if (orr_core_storage(rt->core, &st, &e))
        luaL_error(L, "storage: %s", e.msg);
    return st;
}

struct orr_dataset *orri_lua_check_dataset(lua_State *L, int idx)
{
    struct l_dataset *u = luaL_checkudata(L, idx, ORRI_LUA_DATASET_MT);
    if (u->ds)
        return u->ds;
    if (!u->digest[0])
        luaL_error(L, "dataset was freed");
    struct orr_instance *st = storage_or_raise(L);
    struct orr_error e = {0};
    struct orr_dataset *ds = NULL;
    if (orr_dataset_fetch(st, u->digest, &ds, &e))
        luaL_error(L, "%s", e.msg);
    u->ds = ds;
    u->rows = ds->view.rows;
    u->cols = ds->view.cols;
    if (u->name[0] && !ds->source)
        ds->source = strdup(u->name);
    struct orr_blob_info info = {0};
    orr_storage_stat(st, u->digest, &info, &e);
    if (orri_lua_record_artifact(orri_lua_rt(L), ORR_EVENT_INPUT, u->digest, info.size,
               "dataset", ds->source ? ds->source : "dataset", &e))
        luaL_error(L, "metadata: %s", e.msg);
    return ds;
}

void orri_lua_push_dataset(lua_State *L, struct orr_dataset *ds)
{
    struct l_dataset *u = new_ud(L);   /* may raise: caller owns ds then */
    u->ds = ds;
    u->rows = ds->view.rows;
    u->cols = ds->view.cols;
    if (ds->hash[0])
        memcpy(u->digest, ds->hash, sizeof u->digest);
}

/* Store a dataset if it is not yet stored; 1 if it was stored now. */
static int ensure_stored(struct orri_lua_rt *rt, struct orr_dataset *ds,
                         uint64_t *size, struct orr_error *e)
{
    struct orr_instance *st = NULL;
    if (ds->hash[0])
        return 0;
    if (!rt || !rt->core) {
        orr_fail(e, ORR_EUNSUPPORTED, "no site is open");
        return -1;
    }
    if (orr_core_storage(rt->core, &st, e) ||
        orr_dataset_store(ds, st, size, e))
        return -1;
    return 1;
}

const char *orri_lua_dataset_digest(lua_State *L, int idx)
{
    struct l_dataset *u = luaL_checkudata(L, idx, ORRI_LUA_DATASET_MT);
    struct orr_error e = {0};
    if (u->ds) {
        uint64_t size = 0;
        struct orri_lua_rt *rt = orri_lua_rt(L);
        int r = ensure_stored(rt, u->ds, &size, &e);
        if (r < 0)
            luaL_error(L, "storing the dataset: %s", e.msg);
        memcpy(u->digest, u->ds->hash, sizeof u->digest);
        if (r == 1 && orri_lua_record_artifact(rt, ORR_EVENT_OUTPUT, u->digest, size,
                             "dataset", u->ds->source ? u->ds->source :
                             "dataset", &e))
            luaL_error(L, "metadata: %s", e.msg);
    }
    return u->digest;
}

/* --- ctx:dataset --------------------------------------------------------- */

/* Strings of field `key` of table `idx` (a name or a list of names).
 * Leaves one or two values on the stack that keep the strings alive. */
static const char **string_list(lua_State *L, int idx, const char *key,
                                size_t *n)
{
    *n = 0;
    int t = lua_getfield(L, idx, key);
    if (t == LUA_TNIL)
        return NULL;
    if (t == LUA_TSTRING) {
        const char **one = lua_newuserdatauv(L, sizeof *one, 0);
        one[0] = lua_tostring(L, -2);
        *n = 1;
        return one;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "option '%s' must be a list of column names", key);
    size_t len = (size_t)luaL_len(L, -1);
    const char **v = lua_newuserdatauv(L, (len ? len : 1) * sizeof *v, 0);
    for (size_t i = 0; i < len; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "option '%s': item %d is not a string", key,
                       (int)i + 1);
        v[i] = lua_tostring(L, -1);     /* anchored by the list table */
        lua_pop(L, 1);
    }
    *n = len;
    return v;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ctx:dataset(path_or_uri [, {target=, categorical=, numeric=, name=}]) */
int orri_lua_ctx_dataset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct orri_lua_rt *rt = orri_lua_rt(L);
    if (!rt || !rt->run || !rt->step)
        return luaL_error(L, "ctx used outside of its step");
    const char *src = luaL_checkstring(L, 2);
    int has_opts = !lua_isnoneornil(L, 3);
    if (has_opts)
        luaL_checktype(L, 3, LUA_TTABLE);
    struct orr_csv_options opt = {0};
    const char *name = NULL;
    if (has_opts) {
        lua_getfield(L, 3, "target");
        opt.target = luaL_optstring(L, -1, NULL);
        lua_getfield(L, 3, "name");
        name = luaL_optstring(L, -1, NULL);
        lua_pop(L, 2);      /* strings stay anchored by the options table */
        opt.categorical = string_list(L, 3, "categorical",
                                      &opt.n_categorical);
        opt.numeric = string_list(L, 3, "numeric", &opt.n_numeric);
    }
    struct l_dataset *u = new_ud(L);
    struct orr_instance *st = storage_or_raise(L);
    struct orr_error e = {0};
    struct orr_dataset *ds = NULL;
    int fetched = 0;
    int rc;
    if (!strncmp(src, "datasets:/", 10) || orr_digest_is_valid(src)) {
        char digest[ORR_DIGEST_HEX_LEN + 1];
        int64_t version = 0;
        rc = ORR_OK;
        if (orr_digest_is_valid(src))
            memcpy(digest, src, sizeof digest);
        else
            rc = orr_dataset_resolve(rt->core, src, digest, &version, &e);
        if (!rc)
            rc = orr_dataset_fetch(st, digest, &ds, &e);
        if (!rc && opt.target && (ds->view.target == ORR_NO_TARGET ||
                                  strcmp(ds->names[ds->view.target],
                                         opt.target))) {
            rc = orr_dataset_set_target(ds, opt.target, &e);
            ds->hash[0] = '\0';         /* a new version: re-stored below */
            ds->view.content_hash = NULL;
        }
        fetched = 1;
        if (!name)
            name = src;
    } else {
        char abs[4096];
        rc = orri_lua_resolve(L, src, abs, sizeof abs, &e);
        if (!rc)
            rc = orr_dataset_load_csv(abs, &opt, &ds, &e);
        if (!name)
            name = base_name(src);
    }
    uint64_t size = 0;
    if (!rc)
        rc = orr_dataset_store(ds, st, &size, &e);
    if (!rc)
        rc = orri_lua_record_artifact(rt, fetched ? ORR_EVENT_INPUT : ORR_EVENT_OUTPUT,
                    ds->hash, size, "dataset", name, &e);
    if (rc) {
        orr_dataset_free(ds);
        return luaL_error(L, "ctx:dataset: %s", e.msg);
    }
    if (!fetched && rt->on_artifact)
        rt->on_artifact(rt->on_artifact_ud, ds->hash, name, "dataset", size);
    u->ds = ds;
    u->rows = ds->view.rows;
    u->cols = ds->view.cols;
    memcpy(u->digest, ds->hash, sizeof u->digest);
    return 1;
}

/* --- methods -------------------------------------------------------------- */

/* ds:split{test = 0.2, seed = 7, stratify = true | by = "date"} */
static int l_split(lua_State *L)
{
    struct orr_dataset *ds = orri_lua_check_dataset(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    struct orr_split_options o = {.kind = ORR_SPLIT_RANDOM, .test = 0.2};
    lua_getfield(L, 2, "test");
    o.test = luaL_optnumber(L, -1, 0.2);
    lua_getfield(L, 2, "seed");
    o.seed = (uint64_t)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 2, "stratify");
    if (lua_toboolean(L, -1))
        o.kind = ORR_SPLIT_STRATIFIED;
    lua_getfield(L, 2, "by");
    o.by = luaL_optstring(L, -1, NULL);
    if (o.by)
        o.kind = ORR_SPLIT_TIME;
    lua_createtable(L, 0, 2);
    struct l_dataset *tr = new_ud(L);
    lua_setfield(L, -2, "train");
    struct l_dataset *te = new_ud(L);
    lua_setfield(L, -2, "test");
    struct orr_error e = {0};
    struct orr_dataset *a = NULL, *b = NULL;
    if (orr_dataset_split(ds, &o, &a, &b, &e))
        return luaL_error(L, "%s", e.msg);
    /* Name the parts for the lineage ("breast_cancer.csv#train"). */
    const char *parts[2] = {"train", "test"};
    struct orr_dataset *both[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        char name[512];
        snprintf(name, sizeof name, "%s#%s", ds->source ? ds->source :
                 "dataset", parts[i]);
        free(both[i]->source);
        both[i]->source = strdup(name);
    }
    tr->ds = a;
    tr->rows = a->view.rows;
    tr->cols = a->view.cols;
    te->ds = b;
    te->rows = b->view.rows;
    te->cols = b->view.cols;
    return 1;
}

/* ds:select{"a", "b", ...} */
static int l_select(lua_State *L)
{
    struct orr_dataset *ds = orri_lua_check_dataset(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t n = (size_t)luaL_len(L, 2);
    const char **names = lua_newuserdatauv(L, (n ? n : 1) * sizeof *names,
                                           0);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        names[i] = luaL_checkstring(L, -1);     /* anchored by arg 2 */
        lua_pop(L, 1);
    }
    struct l_dataset *u = new_ud(L);
    struct orr_error e = {0};
    struct orr_dataset *out = NULL;
    if (orr_dataset_select(ds, names, n, &out, &e))
        return luaL_error(L, "ds:select: %s", e.msg);
    u->ds = out;
    u->rows = out->view.rows;
    u->cols = out->view.cols;
    return 1;
}

/* ds:column(name) -> array (nil for missing values) */
static int l_column(lua_State *L)
{
    struct orr_dataset *ds = orri_lua_check_dataset(L, 1);
    const char *name = luaL_checkstring(L, 2);
    size_t c = orr_dataset_column(ds, name);
    if (c == (size_t)-1)
        return luaL_error(L, "ds:column: no column '%s'", name);
    const struct orr_column *col = &ds->cols[c];
    size_t n = ds->view.rows;
    lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
    for (size_t r = 0; r < n; r++) {
        if (col->missing && col->missing[r])
            continue;
        if (col->type == ORR_COL_CATEGORY)
            lua_pushstring(L, col->dict[((const int32_t *)col->data)[r]]);
        else
            lua_pushnumber(L, ((const double *)col->data)[r]);
        lua_rawseti(L, -2, (lua_Integer)r + 1);
    }
    return 1;
}

static void set_num(lua_State *L, const char *k, double v)
{
    if (isnan(v))
        return;
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

/* ds:describe() -> { [column] = {type=, missing=, min=, max=, mean=,
 * std=} or {type="category", missing=, levels=, top=, top_count=} } */
static int l_describe(lua_State *L)
{
    struct orr_dataset *ds = orri_lua_check_dataset(L, 1);
    size_t n = ds->view.rows;
    lua_createtable(L, 0, (int)ds->view.cols);
    for (size_t c = 0; c < ds->view.cols; c++) {
        const struct orr_column *col = &ds->cols[c];
        size_t miss = 0;
        for (size_t r = 0; col->missing && r < n; r++)
            miss += col->missing[r];
        lua_createtable(L, 0, 8);
        lua_pushinteger(L, (lua_Integer)miss);
        lua_setfield(L, -2, "missing");
        lua_pushinteger(L, (lua_Integer)(n - miss));
        lua_setfield(L, -2, "count");
        lua_pushboolean(L, c == ds->view.target);
        lua_setfield(L, -2, "target");
        if (col->type == ORR_COL_CATEGORY) {
            lua_pushliteral(L, "category");
            lua_setfield(L, -2, "type");
            size_t *counts = lua_newuserdatauv(
                L, (col->dict_len ? col->dict_len : 1) * sizeof *counts, 0);
            memset(counts, 0, (col->dict_len ? col->dict_len : 1) *
                              sizeof *counts);
            const int32_t *codes = col->data;
            for (size_t r = 0; r < n; r++)
                if (codes[r] >= 0)
                    counts[codes[r]]++;
            size_t top = 0, levels = 0;
            for (size_t k = 0; k < col->dict_len; k++) {
                levels += counts[k] > 0;
                if (counts[k] > counts[top])
                    top = k;
            }
            lua_pop(L, 1);
            lua_pushinteger(L, (lua_Integer)levels);
            lua_setfield(L, -2, "levels");
            if (col->dict_len) {
                lua_pushstring(L, col->dict[top]);
                lua_setfield(L, -2, "top");
                lua_pushinteger(L, (lua_Integer)counts[top]);
                lua_setfield(L, -2, "top_count");
            }
        } else {
            lua_pushliteral(L, "number");
            lua_setfield(L, -2, "type");
            const double *v = col->data;
            double lo = INFINITY, hi = -INFINITY, sum = 0, ss = 0;
            size_t k = 0;
            for (size_t r = 0; r < n; r++)
                if (!(col->missing && col->missing[r])) {
                    lo = v[r] < lo ? v[r] : lo;
                    hi = v[r] > hi ? v[r] : hi;
                    sum += v[r];
                    k++;
                }
            double mean = k ? sum / (double)k : NAN;
            for (size_t r = 0; r < n; r++)
                if (!(col->missing && col->missing[r]))
                    ss += (v[r] - mean) * (v[r] - mean);
            if (k) {
                set_num(L, "min", lo);
                set_num(L, "max", hi);
                set_num(L, "mean", mean);
                set_num(L, "std", k > 1 ? sqrt(ss / (double)(k - 1)) : NAN);
            }
        }
        lua_setfield(L, -2, col->name);
    }
    return 1;
}

static int l_index(lua_State *L)
{
    struct l_dataset *u = luaL_checkudata(L, 1, ORRI_LUA_DATASET_MT);
    const char *k = luaL_checkstring(L, 2);
    if (!strcmp(k, "rows")) {
        lua_pushinteger(L, (lua_Integer)u->rows);
    } else if (!strcmp(k, "hash") || !strcmp(k, "digest")) {
        lua_pushstring(L, orri_lua_dataset_digest(L, 1));
    } else if (!strcmp(k, "columns") || !strcmp(k, "target")) {
        struct orr_dataset *ds = orri_lua_check_dataset(L, 1);
        if (k[0] == 't') {
            if (ds->view.target == ORR_NO_TARGET)
                lua_pushnil(L);
            else
                lua_pushstring(L, ds->names[ds->view.target]);
            return 1;
        }
        lua_createtable(L, (int)ds->view.cols, 0);
        for (size_t c = 0; c < ds->view.cols; c++) {
            lua_pushstring(L, ds->names[c]);
            lua_rawseti(L, -2, (lua_Integer)c + 1);
        }
    } else {
        lua_getmetatable(L, 1);
        lua_getfield(L, -1, "methods");
        lua_getfield(L, -1, k);
    }
    return 1;
}

static int l_len(lua_State *L)
{
    struct l_dataset *u = luaL_checkudata(L, 1, ORRI_LUA_DATASET_MT);
    lua_pushinteger(L, (lua_Integer)u->rows);
    return 1;
}

static int l_gc(lua_State *L)
{
    struct l_dataset *u = luaL_checkudata(L, 1, ORRI_LUA_DATASET_MT);
    orr_dataset_free(u->ds);
    u->ds = NULL;
    return 0;
}

static int l_tostring(lua_State *L)
{
    struct l_dataset *u = luaL_checkudata(L, 1, ORRI_LUA_DATASET_MT);
    lua_pushfstring(L, "orrery.dataset(%d rows, %d columns%s%s)",
                    (int)u->rows, (int)u->cols, u->digest[0] ? ", " : "",
                    u->digest[0] ? u->digest : "");
    return 1;
}

void orri_lua_open_data(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"split", l_split}, {"select", l_select}, {"describe", l_describe},
        {"column", l_column}, {NULL, NULL}
    };
    static const luaL_Reg meta[] = {
        {"__index", l_index}, {"__len", l_len}, {"__gc", l_gc},
        {"__tostring", l_tostring}, {NULL, NULL}
    };
    if (luaL_newmetatable(L, ORRI_LUA_DATASET_MT)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "methods");
    }
    lua_pop(L, 1);
    orri_lua_open_model(L);
}

/* --- crossing steps ------------------------------------------------------- */

json_t *orri_lua_ref_to_json(lua_State *L, int idx, char *why, size_t cap)
{
    why[0] = '\0';
    struct l_dataset *u = luaL_testudata(L, idx, ORRI_LUA_DATASET_MT);
    if (!u)
        return orri_lua_model_ref_to_json(L, idx, why, cap);
    struct orri_lua_rt *rt = orri_lua_rt(L);
    if (u->ds) {
        struct orr_error e = {0};
        uint64_t size = 0;
        int r = ensure_stored(rt, u->ds, &size, &e);
        if (r < 0) {
            snprintf(why, cap, "a dataset that could not be stored (%s)",
                     e.msg);
            return NULL;
        }
        memcpy(u->digest, u->ds->hash, sizeof u->digest);
        if (r == 1 && orri_lua_record_artifact(rt, ORR_EVENT_OUTPUT, u->digest, size,
                             "dataset", u->ds->source ? u->ds->source :
                             "dataset", &e)) {
            snprintf(why, cap, "a dataset that could not be recorded (%s)",
                     e.msg);
            return NULL;
        }
        if (r == 1 && rt && rt->on_artifact)
            rt->on_artifact(rt->on_artifact_ud, u->digest,
                            u->ds->source ? u->ds->source : "dataset",
                            "dataset", size);
    }
    json_t *o = json_object();
    if (!o) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    json_object_set_new(o, "$orrery", json_string("dataset"));
    json_object_set_new(o, "digest", json_string(u->digest));
    json_object_set_new(o, "rows", json_integer((json_int_t)u->rows));
    json_object_set_new(o, "columns", json_integer((json_int_t)u->cols));
    const char *name = u->ds && u->ds->source ? u->ds->source : u->name;
    json_t *js = name[0] ? json_string(name) : NULL;
    if (js)
        json_object_set_new(o, "name", js);
    return o;
}

int orri_lua_push_ref(lua_State *L, const json_t *v)
{
    const char *tag = json_string_value(json_object_get(v, "$orrery"));
    const char *digest = json_string_value(json_object_get(v, "digest"));
    if (!tag || !digest || !orr_digest_is_valid(digest))
        return 0;
    if (!strcmp(tag, "model"))
        return orri_lua_push_model_ref(L, v);
    if (strcmp(tag, "dataset"))
        return 0;
    struct l_dataset *u = new_ud(L);
    memcpy(u->digest, digest, sizeof u->digest);
    json_int_t rows = json_integer_value(json_object_get(v, "rows"));
    json_int_t cols = json_integer_value(json_object_get(v, "columns"));
    u->rows = rows > 0 ? (size_t)rows : 0;
    u->cols = cols > 0 ? (size_t)cols : 0;
    const char *name = json_string_value(json_object_get(v, "name"));
    if (name)
        snprintf(u->name, sizeof u->name, "%s", name);
    return 1;
}
