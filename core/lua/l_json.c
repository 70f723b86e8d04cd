/*
 * lua/l_json.c - Lua values <-> JSON, for values that cross steps.
 *
 * The encoding must round-trip exactly, because a consumer step must see
 * what the producer returned: Lua integers stay JSON integers, floats are
 * written with 17 significant digits (always with a '.' or exponent, so
 * they come back as floats), keys are sorted so equal values give equal
 * bytes (and equal digests).  Anything JSON cannot carry faithfully is
 * refused with the key path of the offending value rather than coerced.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/lua_runtime.h"
#include "util/buf.h"
#include "util/error.h"

/* Deeper nesting than this is almost certainly a mistake (and would
 * exhaust the C stack on the way). */
#define MAX_DEPTH 200

struct enc {
    lua_State  *L;
    const void *path_tables[MAX_DEPTH];  /* tables on the current path   */
    size_t      depth;
    struct orr_buf path;                 /* ".a.b[3]"                      */
    char       *why;
    size_t      why_cap;
};

/* "<what> at <path>" into x->why. */
static int enc_fail(struct enc *x, const char *what)
{
    if (x->path.len)
        snprintf(x->why, x->why_cap, "%s at %s", what, x->path.data);
    else
        snprintf(x->why, x->why_cap, "%s", what);
    return ORR_EINVAL;
}

static int encode(struct enc *x, int idx, json_t **out);

/* Append ".key" or "[i]" to the path; returns the old length. */
static size_t path_push_key(struct enc *x, const char *key)
{
    size_t old = x->path.len;
    orri_buf_printf(&x->path, ".%s", key);
    return old;
}

static size_t path_push_index(struct enc *x, lua_Integer i)
{
    size_t old = x->path.len;
    orri_buf_printf(&x->path, "[%lld]", (long long)i);
    return old;
}

static void path_pop(struct enc *x, size_t old)
{
    x->path.len = old;
    if (x->path.data)
        x->path.data[old] = '\0';
}

/* Classify a table: 1 = sequence 1..n (n >= 0, empty counts), 0 = all
 * string keys, -1 = anything else (the bad key is left in `bad`). */
static int table_shape(lua_State *L, int idx, lua_Integer *n,
                       char *bad, size_t bad_cap)
{
    lua_Integer count = 0, max = 0;
    int strings = 0, ints = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            strings = 1;
        } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0) {
            ints = 1;
            lua_Integer k = lua_tointeger(L, -1);
            if (k > max)
                max = k;
            count++;
        } else {
            if (lua_type(L, -1) == LUA_TNUMBER)
                snprintf(bad, bad_cap, "a table with the number key %s",
                         lua_tostring(L, -1));
            else
                snprintf(bad, bad_cap, "a table with a %s key",
                         luaL_typename(L, -1));
            lua_pop(L, 1);
            return -1;
        }
    }
    if (strings && ints) {
        snprintf(bad, bad_cap, "a table mixing array items and string keys");
        return -1;
    }
    if (ints && max != count) {
        snprintf(bad, bad_cap,
                 "a sparse array (holes before index %lld)", (long long)max);
        return -1;
    }
    *n = count;
    return strings ? 0 : 1;
}

static int encode_table(struct enc *x, int idx, json_t **out)
{
    lua_State *L = x->L;
    const void *p = lua_topointer(L, idx);
    for (size_t i = 0; i < x->depth; i++)
        if (x->path_tables[i] == p)
            return enc_fail(x, "a cyclic table (it contains "
                            "itself)");
    if (x->depth >= MAX_DEPTH)
        return enc_fail(x, "a table nested too deeply");
    if (!lua_checkstack(L, 4))
        return enc_fail(x, "a table nested too deeply");
    char bad[96];
    lua_Integer n = 0;
    int shape = table_shape(L, idx, &n, bad, sizeof bad);
    if (shape < 0)
        return enc_fail(x, bad);
    x->path_tables[x->depth++] = p;
    int rc = ORR_OK;
    json_t *j = shape ? json_array() : json_object();
    if (!j) {
        rc = ORR_ENOMEM;
        goto done;
    }
    if (shape == 1) {
        for (lua_Integer i = 1; i <= n && !rc; i++) {
            lua_rawgeti(L, idx, i);
            size_t old = path_push_index(x, i);
            json_t *item = NULL;
            rc = encode(x, lua_gettop(L), &item);
            if (!rc && json_array_append_new(j, item))
                rc = ORR_ENOMEM;
            if (!rc)
                path_pop(x, old);
            lua_pop(L, 1);
        }
    } else {
        lua_pushnil(L);
        while (!rc && lua_next(L, idx)) {
            size_t klen;
            const char *k = lua_tolstring(L, -2, &klen);
            size_t old = path_push_key(x, k);
            json_t *item = NULL;
            if (memchr(k, '\0', klen))
                rc = enc_fail(x, "a key containing a NUL byte");
            else
                rc = encode(x, lua_gettop(L), &item);
            if (!rc && json_object_set_new_nocheck(j, k, item))
                rc = enc_fail(x, "a key that is not UTF-8");
            if (!rc)
                path_pop(x, old);
            lua_pop(L, 1);
            if (rc)
                lua_pop(L, 1);      /* the key: lua_next did not finish   */
        }
    }
done:
    x->depth--;
    if (rc) {
        json_decref(j);
        if (rc == ORR_ENOMEM)
            snprintf(x->why, x->why_cap, "out of memory");
        return rc;
    }
    *out = j;
    return ORR_OK;
}

static int encode(struct enc *x, int idx, json_t **out)
{
    lua_State *L = x->L;
    json_t *j = NULL;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        j = json_null();
        break;
    case LUA_TBOOLEAN:
        j = json_boolean(lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            j = json_integer((json_int_t)lua_tointeger(L, idx));
        } else {
            double d = lua_tonumber(L, idx);
            if (isnan(d))
                return enc_fail(x, "NaN");
            if (isinf(d))
                return enc_fail(x, "an infinite number");
            j = json_real(d);
        }
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        j = json_stringn(s, len);
        if (!j)
            return enc_fail(x, "a string that is not valid "
                            "UTF-8 (store binary data with ctx:store)");
        break;
    }
    case LUA_TTABLE:
        return encode_table(x, idx, out);
    case LUA_TUSERDATA:
        /* Datasets and models cross steps as artifact references. */
        j = orri_lua_ref_to_json(L, idx, x->why, x->why_cap);
        if (!j && x->why[0]) {
            char what[ORR_ERROR_MSG_SIZE];
            snprintf(what, sizeof what, "%s", x->why);
            return enc_fail(x, what);
        }
        if (j)
            break;
        /* fall through */
    default: {
        char what[64];
        snprintf(what, sizeof what, "a %s", luaL_typename(L, idx));
        return enc_fail(x, what);
    }
    }
    if (!j) {
        snprintf(x->why, x->why_cap, "out of memory");
        return ORR_ENOMEM;
    }
    *out = j;
    return ORR_OK;
}

int orri_json_from_lua(lua_State *L, int idx, json_t **out, char *why,
                       size_t why_cap)
{
    struct enc x = {.L = L, .why = why, .why_cap = why_cap};
    *out = NULL;
    idx = lua_absindex(L, idx);
    int rc = encode(&x, idx, out);
    orri_buf_free(&x.path);
    return rc;
}

void orri_json_push(lua_State *L, const json_t *v)
{
    luaL_checkstack(L, 4, "JSON value nested too deeply");
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_NULL:
        lua_pushnil(L);
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        break;
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            orri_json_push(L, json_array_get(v, i));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *item;
        if (json_object_get(v, "$orrery") && orri_lua_push_ref(L, v))
            break;
        lua_createtable(L, 0, (int)json_object_size(v));
        json_object_foreach((json_t *)v, k, item) {
            orri_json_push(L, item);
            lua_setfield(L, -2, k);
        }
        break;
    }
    }
}

int orri_json_encode_lua(lua_State *L, int idx, char **out, size_t *len,
                         struct orr_error *e)
{
    char why[ORR_ERROR_MSG_SIZE];
    json_t *j = NULL;
    *out = NULL;
    int rc = orri_json_from_lua(L, idx, &j, why, sizeof why);
    if (rc)
        return orr_fail(e, rc, "%s", why);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS |
                                   JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!text)
        return orr_fail(e, ORR_ENOMEM, "out of memory encoding JSON");
    *out = text;
    *len = strlen(text);
    return ORR_OK;
}

int orri_json_decode_push(lua_State *L, const char *text, size_t len,
                          struct orr_error *e)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j)
        return orr_fail(e, ORR_ECORRUPT, "malformed JSON value: %s (line %d)",
                        je.text, je.line);
    orri_json_push(L, j);
    json_decref(j);
    return ORR_OK;
}
