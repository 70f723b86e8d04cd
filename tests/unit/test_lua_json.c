/*
 * tests/unit/test_lua_json.c - values that cross steps (core/lua/l_json.c)
 * and the workflow declarations of the orrery module (l_workflow.c),
 * in a Lua state with no core.
 */
#include <lauxlib.h>
#include <stdlib.h>

#include "lua/lua_runtime.h"
#include "test.h"

static lua_State *state(struct orri_lua_rt *rt)
{
    lua_State *L = NULL;
    struct orr_error e = {0};
    CHECK_INT(orri_lua_open(&L, rt, &e), ORR_OK);
    return L;
}

/* Evaluate `expr` and encode the result; returns the JSON (free it) or
 * NULL with the error in e. */
static char *encode(lua_State *L, const char *expr, struct orr_error *e)
{
    char code[1024];
    snprintf(code, sizeof code, "return %s", expr);
    if (luaL_dostring(L, code) != LUA_OK) {
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return NULL;
    }
    char *out = NULL;
    size_t len = 0;
    if (orri_json_encode_lua(L, -1, &out, &len, e))
        out = NULL;
    lua_pop(L, 1);
    return out;
}

static void check_enc(lua_State *L, const char *expr, const char *want)
{
    struct orr_error e = {0};
    char *got = encode(L, expr, &e);
    CHECK_STR(got, want);
    if (!got)
        fprintf(stderr, "  (%s: %s)\n", expr, e.msg);
    free(got);
}

static void check_enc_err(lua_State *L, const char *expr, const char *want)
{
    struct orr_error e = {0};
    char *got = encode(L, expr, &e);
    CHECK(got == NULL);
    CHECK_INT(e.code, ORR_EINVAL);
    CHECK_STR(e.msg, want);
    free(got);
}

static void test_encode(void)
{
    lua_State *L = state(NULL);
    check_enc(L, "nil", "null");
    check_enc(L, "true", "true");
    check_enc(L, "42", "42");
    check_enc(L, "3.0", "3.0");
    check_enc(L, "0.1", "0.10000000000000001");
    check_enc(L, "math.mininteger", "-9223372036854775808");
    check_enc(L, "'a\\0b'", "\"a\\u0000b\"");
    check_enc(L, "{}", "[]");
    check_enc(L, "{1, 'x', {y = false}}", "[1,\"x\",{\"y\":false}]");
    /* keys sorted: equal tables give equal bytes (and digests) */
    check_enc(L, "{b = 1, a = 2, c = {z = 1, y = 2}}",
              "{\"a\":2,\"b\":1,\"c\":{\"y\":2,\"z\":1}}");
    orri_lua_close(L);
}

static void test_encode_refuses(void)
{
    lua_State *L = state(NULL);
    check_enc_err(L, "print", "a function");
    check_enc_err(L, "{a = {b = {print}}}", "a function at .a.b[1]");
    check_enc_err(L, "{x = 0/0}", "NaN at .x");
    check_enc_err(L, "{x = {1/0}}", "an infinite number at .x[1]");
    check_enc_err(L, "(function() local t = {} t.me = t return t end)()",
                  "a cyclic table (it contains itself) at .me");
    check_enc_err(L, "{1, nil, 3}", "a sparse array (holes before index 3)");
    check_enc_err(L, "{1, a = 2}", "a table mixing array items and string "
                  "keys");
    check_enc_err(L, "{[1.5] = 1}", "a table with the number key 1.5");
    check_enc_err(L, "{k = '\\xff'}", "a string that is not valid UTF-8 "
                  "(store binary data with ctx:store) at .k");
    check_enc_err(L, "coroutine.create(print)", "a thread");
    /* a shared (non-cyclic) table is fine */
    check_enc(L, "(function() local s = {1} return {s, s} end)()",
              "[[1],[1]]");
    orri_lua_close(L);
}

static void test_roundtrip(void)
{
    lua_State *L = state(NULL);
    const char *src = "{i = 7, f = 7.0, t = 1/3, big = math.maxinteger, "
                      "s = 'x\\0y', l = {1, {2}}}";
    struct orr_error e = {0};
    char *json = encode(L, src, &e);
    CHECK(json != NULL);
    CHECK_INT(orri_json_decode_push(L, json, strlen(json), &e), ORR_OK);
    lua_setglobal(L, "v");
    CHECK_INT(luaL_dostring(L,
        "assert(math.type(v.i) == 'integer' and v.i == 7)\n"
        "assert(math.type(v.f) == 'float' and v.f == 7.0)\n"
        "assert(v.t == 1/3 and v.big == math.maxinteger)\n"
        "assert(v.s == 'x\\0y' and v.l[2][1] == 2)\n"), LUA_OK);
    free(json);
    CHECK_INT(orri_json_decode_push(L, "{oops", 5, &e), ORR_ECORRUPT);
    CHECK_CONTAINS(e.msg, "malformed JSON value");
    orri_lua_close(L);
}

/* Run a workflow declaration; returns the error message or NULL. */
static const char *declare(lua_State *L, const char *code)
{
    if (luaL_loadbuffer(L, code, strlen(code), "=wf.lua") ||
        lua_pcall(L, 0, 1, 0))
        return lua_tostring(L, -1);
    return NULL;
}

static void test_workflow(void)
{
    lua_State *L = state(NULL);
    CHECK(declare(L,
        "local o = require 'orrery'\n"
        "local wf = o.workflow { name = 'w', params = { k = 1 } }\n"
        "local a = wf:step('a', function() end)\n"
        "local b = wf:step('b', a, function() end)\n"
        "wf:step('c', { a, b }, function() end, { cpus = 2 })\n"
        "assert(tostring(wf) == 'orrery.workflow(w)' and wf.params.k == 1)\n"
        "assert(tostring(a) == 'orrery.step(a)' and #wf.steps == 3)\n"
        "return wf\n") == NULL);
    CHECK(orri_lua_is_workflow(L, -1));
    const char *name;
    size_t n, in[4];
    orri_lua_workflow_info(L, -1, &name, &n);
    CHECK_STR(name, "w");
    CHECK_INT(n, 3);
    CHECK_INT(orri_lua_workflow_step(L, -1, 2, &name, in, 4), 2);
    CHECK_STR(name, "c");
    CHECK_INT(in[0], 0);
    CHECK_INT(in[1], 1);
    CHECK_INT(orri_lua_workflow_step(L, -1, 1, &name, in, 4), 1);
    CHECK_INT(in[0], 0);
    lua_pop(L, 1);

    static const char *const bad[][2] = {
        {"o.workflow {}", "field 'name'"},
        {"o.workflow { name = 'x', parms = {} }", "unknown field 'parms'"},
        {"local w = o.workflow { name = 'x' } w:step('a', 1)",
         "wf.lua:1: bad argument #2 to 'step'"},
        {"local w = o.workflow { name = 'x' } w:step('a', function() end)"
         " w:step('a', function() end)", "wf.lua:1: duplicate step name"},
        {"local w = o.workflow { name = 'x' } w:step('a', {{}}, print)",
         "input 1 is not a step handle (got table)"},
        {"local w = o.workflow { name = 'x' } w:step('a', print, {cpu=1})",
         "unknown step option 'cpu'"},
        {"local w = o.workflow { name = 'x' } w:step('a', print, {cpus=-1})",
         "must be a non-negative integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char code[512];
        snprintf(code, sizeof code, "local o = require 'orrery' %s",
                 bad[i][0]);
        const char *err = declare(L, code);
        CHECK_CONTAINS(err, bad[i][1]);
        lua_settop(L, 0);
    }
    orri_lua_close(L);
}

static void test_msgh_location(void)
{
    struct orri_lua_rt rt = {.chunkname = "@dir/flow.lua"};
    lua_State *L = state(&rt);
    lua_pushcfunction(L, orri_lua_msgh);
    const char *code = "local function f()\n"
                       "  error({})\n"
                       "end\n"
                       "f()\n";
    CHECK_INT(luaL_loadbuffer(L, code, strlen(code), "@dir/flow.lua"),
              LUA_OK);
    CHECK(lua_pcall(L, 0, 0, 1) != LUA_OK);
    CHECK_STR(lua_tostring(L, -1),
              "dir/flow.lua:2: (error object is a table value)");
    lua_settop(L, 1);
    code = "local t = nil\nlocal x = t.y\n";
    CHECK_INT(luaL_loadbuffer(L, code, strlen(code), "@dir/flow.lua"),
              LUA_OK);
    CHECK(lua_pcall(L, 0, 0, 1) != LUA_OK);
    CHECK_CONTAINS(lua_tostring(L, -1), "dir/flow.lua:2: attempt to index");
    orri_lua_close(L);
}

TEST_MAIN({"encode", test_encode},
          {"encode_refuses", test_encode_refuses},
          {"roundtrip", test_roundtrip},
          {"workflow", test_workflow},
          {"msgh_location", test_msgh_location})
