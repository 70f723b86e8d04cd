/*
 * lua/l_sweep.c - wf:sweep{...}: a hyper-parameter search as steps of the
 * workflow's DAG.
 *
 * A sweep expands, when it is declared, into one step per trial (NAME[1],
 * NAME[2], ...: independent, so the orchestrator runs them in parallel and
 * the step cache keeps each one) and a select step NAME that takes every
 * trial as input and returns the best one by the named metric.  Each trial
 * records a child run (tag orrery.parent = the workflow's run, its params,
 * the metrics it logs), so `orrery runs compare` shows trials side by side.
 *
 * The expansion and the step bodies are Lua (the chunk below); this file
 * gives them what Lua cannot do: child runs, a seeded generator, the
 * deterministic JSON of a trial's params.  docs/training.md has the user's
 * side.
 */
#include "lua/l_sweep.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "meta/meta.h"
#include "meta/run_handle.h"
#include "util/error.h"

#define SWEEP_REG "orrery.sweep.builder"
#define CHILD_MT  "orrery.sweep.child"

/* The trial's run while its step runs; the step's own run is restored. */
struct child {
    struct orr_run  run;
    struct orr_run *parent;
    int             active;
};

static const char sweep_lua[] =
    "-- wf:sweep{...} (core/lua/l_sweep.c): trial steps + a select step.\n"
    "local helpers = ...\n"
    "local child_begin, child_end = helpers.child_begin, helpers.child_end\n"
    "local uniforms, encode, mark_best = helpers.uniforms, helpers.encode,\n"
    "                                    helpers.mark_best\n"
    "\n"
    "local function fail(fmt, ...) error(fmt:format(...), 0) end\n"
    "\n"
    "local function sorted_keys(t, what)\n"
    "  local keys = {}\n"
    "  for k in pairs(t) do\n"
    "    if type(k) ~= \"string\" then fail(\"%s: keys must be strings\", wha"
    "t) end\n"
    "    keys[#keys + 1] = k\n"
    "  end\n"
    "  table.sort(keys)\n"
    "  return keys\n"
    "end\n"
    "\n"
    "local function copy(t)\n"
    "  local c = {}\n"
    "  for k, v in pairs(t) do c[k] = v end\n"
    "  return c\n"
    "end\n"
    "\n"
    "local function grid_trials(name, grid, base, out)\n"
    "  local combos = { copy(base) }\n"
    "  for _, k in ipairs(sorted_keys(grid, \"sweep '\" .. name .. \"': grid"
    "\")) do\n"
    "    local vals = grid[k]\n"
    "    if type(vals) ~= \"table\" or #vals == 0 then\n"
    "      fail(\"sweep '%s': grid.%s must be a non-empty list of values\", n"
    "ame, k)\n"
    "    end\n"
    "    local n = {}\n"
    "    for _, c in ipairs(combos) do\n"
    "      for _, v in ipairs(vals) do\n"
    "        local t = copy(c)\n"
    "        t[k] = v\n"
    "        n[#n + 1] = t\n"
    "      end\n"
    "    end\n"
    "    combos = n\n"
    "  end\n"
    "  for _, c in ipairs(combos) do out[#out + 1] = c end\n"
    "end\n"
    "\n"
    "local kinds = { log = true, uniform = true, int = true, choice = true }"
    "\n"
    "\n"
    "local function draw(name, k, d, u)\n"
    "  if type(d) ~= \"table\" or #d == 0 then\n"
    "    fail(\"sweep '%s': random.space.%s must be {\\\"log\\\"|\\\"uniform"
    "\\\"|\\\"int\\\", \"\n"
    "         .. \"lo, hi}, {\\\"choice\\\", a, b, ...} or a list of values\""
    ", name, k)\n"
    "  end\n"
    "  local kind = d[1]\n"
    "  if type(kind) ~= \"string\" or not kinds[kind] then\n"
    "    return d[1 + math.floor(u * #d)]\n"
    "  end\n"
    "  if kind == \"choice\" then\n"
    "    if #d < 2 then fail(\"sweep '%s': random.space.%s: no choices\", nam"
    "e, k) end\n"
    "    return d[2 + math.floor(u * (#d - 1))]\n"
    "  end\n"
    "  local lo, hi = d[2], d[3]\n"
    "  if type(lo) ~= \"number\" or type(hi) ~= \"number\" or not (lo <= hi) "
    "then\n"
    "    fail(\"sweep '%s': random.space.%s: need numbers lo <= hi\", name, k"
    ")\n"
    "  end\n"
    "  if kind == \"log\" then\n"
    "    if lo <= 0 then\n"
    "      fail(\"sweep '%s': random.space.%s: \\\"log\\\" needs lo > 0\", na"
    "me, k)\n"
    "    end\n"
    "    return math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))\n"
    "  elseif kind == \"uniform\" then\n"
    "    return lo + u * (hi - lo)\n"
    "  end\n"
    "  lo, hi = math.ceil(lo), math.floor(hi)\n"
    "  local v = lo + math.floor(u * (hi - lo + 1))\n"
    "  return math.tointeger(v > hi and hi or v)\n"
    "end\n"
    "\n"
    "local function random_trials(name, r, base, out)\n"
    "  if type(r) ~= \"table\" then fail(\"sweep '%s': random must be a table"
    "\", name) end\n"
    "  local budget, seed, space = r.budget, r.seed or 0, r.space\n"
    "  if math.type(budget) ~= \"integer\" or budget < 1 or budget > 10000 th"
    "en\n"
    "    fail(\"sweep '%s': random.budget must be an integer in 1..10000\", n"
    "ame)\n"
    "  end\n"
    "  if math.type(seed) ~= \"integer\" then\n"
    "    fail(\"sweep '%s': random.seed must be an integer\", name)\n"
    "  end\n"
    "  if type(space) ~= \"table\" or next(space) == nil then\n"
    "    fail(\"sweep '%s': random.space must be a non-empty table\", name)\n"
    "  end\n"
    "  local keys = sorted_keys(space, \"sweep '\" .. name .. \"': random.spa"
    "ce\")\n"
    "  local u = uniforms(seed, budget * #keys)\n"
    "  local j = 0\n"
    "  for _ = 1, budget do\n"
    "    local t = copy(base)\n"
    "    for _, k in ipairs(keys) do\n"
    "      j = j + 1\n"
    "      t[k] = draw(name, k, space[k], u[j])\n"
    "    end\n"
    "    out[#out + 1] = t\n"
    "  end\n"
    "end\n"
    "\n"
    "local function scalars(t)\n"
    "  local out = {}\n"
    "  for k, v in pairs(t) do\n"
    "    if type(k) == \"string\" and type(v) == \"number\" and v == v then\n"
    "      out[k] = v\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "\n"
    "-- One trial: train with a named trainer on a split (or a dataset) and\n"
    "-- evaluate on its test part, or call the user's function.\n"
    "local function run_trial(name, i, ctx, trainer, params, metric, ...)\n"
    "  local metrics, model\n"
    "  if type(trainer) == \"function\" then\n"
    "    local r = trainer(ctx, params, ...)\n"
    "    if type(r) == \"number\" then\n"
    "      metrics = { [metric] = r }\n"
    "    elseif type(r) == \"table\" then\n"
    "      metrics = scalars(type(r.metrics) == \"table\" and r.metrics or r)"
    "\n"
    "      model = r.model\n"
    "    else\n"
    "      fail(\"sweep '%s': trial %d: the trainer function returned %s (exp"
    "ected \"\n"
    "           .. \"a number or a table with the metric)\", name, i, type(r)"
    ")\n"
    "    end\n"
    "    for k, v in pairs(metrics) do ctx:log_metric(k, v) end\n"
    "  else\n"
    "    local data = ...\n"
    "    local train, test\n"
    "    if type(data) == \"userdata\" then\n"
    "      train, test = data, data\n"
    "    elseif type(data) == \"table\" and data.train then\n"
    "      train = data.train\n"
    "      test = data.test or data.valid or data.validation or data.train\n"
    "    else\n"
    "      fail(\"sweep '%s': trainer '%s' needs its first input to be a data"
    "set \"\n"
    "           .. \"or a split {train = ds, test = ds} (got %s)\", name, tra"
    "iner,\n"
    "           type(data))\n"
    "    end\n"
    "    model = ctx:train(trainer, train, params)\n"
    "    metrics = scalars(model:evaluate(test))\n"
    "  end\n"
    "  local value = metrics[metric]\n"
    "  if type(value) ~= \"number\" then\n"
    "    local have = {}\n"
    "    for k in pairs(metrics) do have[#have + 1] = k end\n"
    "    table.sort(have)\n"
    "    fail(\"sweep '%s': trial %d reported no metric '%s' (it has: %s)\", "
    "name,\n"
    "         i, metric, #have > 0 and table.concat(have, \", \") or \"none\""
    ")\n"
    "  end\n"
    "  return { trial = i, params = params, metrics = metrics, value = value,"
    "\n"
    "           model = model }\n"
    "end\n"
    "\n"
    "local function make_trial(label, name, i, trainer, params, pjson, metric"
    ")\n"
    "  return function(ctx, ...)\n"
    "    local key = pjson           -- the params are part of the cache key"
    "\n"
    "    local id = child_begin(label, name, i, params, key)\n"
    "    local ok, res = pcall(run_trial, name, i, ctx, trainer, params, metr"
    "ic,\n"
    "                          ...)\n"
    "    child_end(ok)\n"
    "    if not ok then error(res, 0) end\n"
    "    res.run_id = id\n"
    "    return res\n"
    "  end\n"
    "end\n"
    "\n"
    "local function make_select(name, metric, goal)\n"
    "  return function(ctx, ...)\n"
    "    local best, trials = nil, {}\n"
    "    for k = 1, select(\"#\", ...) do\n"
    "      local t = select(k, ...)\n"
    "      trials[#trials + 1] = { trial = t.trial, params = t.params,\n"
    "                              value = t.value, run_id = t.run_id }\n"
    "      local v = t.value\n"
    "      if v ~= nil and (best == nil or (goal == \"max\" and v > best.valu"
    "e) or\n"
    "                       (goal == \"min\" and v < best.value)) then\n"
    "        best = t\n"
    "      end\n"
    "    end\n"
    "    if not best then fail(\"sweep '%s': no trial reported '%s'\", name, "
    "metric) end\n"
    "    if best.run_id then mark_best(best.run_id) end\n"
    "    ctx:log_metric(name .. \".\" .. metric, best.value)\n"
    "    return { model = best.model, params = best.params, metric = metric,"
    "\n"
    "             goal = goal, value = best.value, trial = best.trial,\n"
    "             run_id = best.run_id, metrics = best.metrics, trials = tria"
    "ls }\n"
    "  end\n"
    "end\n"
    "\n"
    "local known = { name = true, inputs = true, trainer = true, params = tru"
    "e,\n"
    "                grid = true, random = true, metric = true, goal = true,"
    "\n"
    "                opts = true }\n"
    "\n"
    "return function(wf, spec)\n"
    "  if type(spec) ~= \"table\" then fail(\"wf:sweep needs a table\") end\n"
    "  for k in pairs(spec) do\n"
    "    if not known[k] then\n"
    "      fail(\"wf:sweep: unknown field '%s' (known: name, inputs, trainer,"
    " \"\n"
    "           .. \"params, grid, random, metric, goal, opts)\", tostring(k)"
    ")\n"
    "    end\n"
    "  end\n"
    "  local name = spec.name\n"
    "  if type(name) ~= \"string\" or name == \"\" then\n"
    "    fail(\"wf:sweep: field 'name' (a non-empty string) is required\")\n"
    "  end\n"
    "  local trainer = spec.trainer\n"
    "  if type(trainer) ~= \"string\" and type(trainer) ~= \"function\" then"
    "\n"
    "    fail(\"sweep '%s': 'trainer' must be a trainer name or a function\","
    " name)\n"
    "  end\n"
    "  local metric = spec.metric\n"
    "  if type(metric) ~= \"string\" or metric == \"\" then\n"
    "    fail(\"sweep '%s': 'metric' (the metric that picks the best trial) i"
    "s \"\n"
    "         .. \"required\", name)\n"
    "  end\n"
    "  local goal = spec.goal or \"max\"\n"
    "  if goal ~= \"max\" and goal ~= \"min\" then\n"
    "    fail(\"sweep '%s': 'goal' must be \\\"max\\\" or \\\"min\\\"\", name"
    ")\n"
    "  end\n"
    "  local base = spec.params or {}\n"
    "  if type(base) ~= \"table\" then fail(\"sweep '%s': params must be a ta"
    "ble\", name) end\n"
    "  if spec.grid == nil and spec.random == nil then\n"
    "    fail(\"sweep '%s': give a grid, a random search or both\", name)\n"
    "  end\n"
    "  local trials = {}\n"
    "  if spec.grid ~= nil then\n"
    "    if type(spec.grid) ~= \"table\" then fail(\"sweep '%s': grid must be"
    " a table\", name) end\n"
    "    grid_trials(name, spec.grid, base, trials)\n"
    "  end\n"
    "  if spec.random ~= nil then random_trials(name, spec.random, base, tria"
    "ls) end\n"
    "  if #trials > 10000 then\n"
    "    fail(\"sweep '%s': %d trials (at most 10000)\", name, #trials)\n"
    "  end\n"
    "  local label = wf.name .. \"/\" .. name\n"
    "  local handles = {}\n"
    "  for i, params in ipairs(trials) do\n"
    "    local pjson = encode(params)\n"
    "    local fn = make_trial(label, name, i, trainer, params, pjson, metric"
    ")\n"
    "    local step = (\"%s[%d]\"):format(name, i)\n"
    "    if spec.inputs ~= nil then\n"
    "      handles[i] = wf:step(step, spec.inputs, fn, spec.opts)\n"
    "    else\n"
    "      handles[i] = wf:step(step, fn, spec.opts)\n"
    "    end\n"
    "  end\n"
    "  return wf:step(name, handles, make_select(name, metric, goal))\n"
    "end\n";

static struct orr_run *step_run(lua_State *L, const char *what)
{
    struct orri_lua_rt *rt = orri_lua_rt(L);
    if (!rt || !rt->run || !rt->run->meta || !rt->step)
        luaL_error(L, "%s: only inside a running step", what);
    return rt->run;
}

/* Record a param as a person wrote it (0.1, not 0.10000000000000001). */
static int log_param(lua_State *L, struct orr_run *run, const char *key,
                     int idx, struct orr_error *e)
{
    char num[64];
    if (lua_type(L, idx) == LUA_TSTRING)
        return orr_meta_log_param(run->meta, run->id, key,
                                  lua_tostring(L, idx), e);
    if (lua_isinteger(L, idx)) {
        snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
    } else if (lua_type(L, idx) == LUA_TNUMBER) {
        double d = lua_tonumber(L, idx);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(num, sizeof num, "%.*g", prec, d);
            if (strtod(num, NULL) == d)
                break;
        }
    } else {
        char *text = NULL;
        size_t len;
        int rc = orri_json_encode_lua(L, idx, &text, &len, e);
        if (!rc)
            rc = orr_meta_log_param(run->meta, run->id, key, text, e);
        free(text);
        return rc;
    }
    return orr_meta_log_param(run->meta, run->id, key, num, e);
}

/* child_begin(label, sweep, i, params) -> child run id; from here on the
 * step logs into the child run. */
static int l_child_begin(lua_State *L)
{
    struct child *c = luaL_checkudata(L, lua_upvalueindex(1), CHILD_MT);
    const char *label = luaL_checkstring(L, 1);
    const char *sweep = luaL_checkstring(L, 2);
    lua_Integer i = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    struct orr_run *run = step_run(L, "sweep trial");
    struct orri_lua_rt *rt = orri_lua_rt(L);
    struct orr_error e = {0};
    struct orr_run_spec spec = {.workflow = label};
    char trial[32];
    snprintf(trial, sizeof trial, "%lld", (long long)i);
    c->run = *run;
    int rc = orr_meta_run_begin(run->meta, &spec, c->run.id, &e);
    if (!rc)
        rc = orr_meta_set_tag(run->meta, c->run.id, "orrery.parent", run->id,
                              &e);
    if (!rc)
        rc = orr_meta_set_tag(run->meta, c->run.id, "orrery.sweep", sweep,
                              &e);
    if (!rc)
        rc = orr_meta_set_tag(run->meta, c->run.id, "orrery.trial", trial,
                              &e);
    if (!rc)
        rc = orr_meta_set_tag(run->meta, c->run.id, "orrery.step", rt->step,
                              &e);
    lua_pushnil(L);
    while (!rc && lua_next(L, 4)) {
        if (lua_type(L, -2) == LUA_TSTRING)
            rc = log_param(L, &c->run, lua_tostring(L, -2),
                           lua_gettop(L), &e);
        lua_pop(L, 1);
    }
    if (rc)
        return luaL_error(L, "sweep '%s': recording trial %d: %s", sweep,
                          (int)i, e.msg);
    c->parent = run;
    c->active = 1;
    rt->run = &c->run;
    lua_pushstring(L, c->run.id);
    return 1;
}

/* child_end(ok): end the child run, log into the step's run again. */
static int l_child_end(lua_State *L)
{
    struct child *c = luaL_checkudata(L, lua_upvalueindex(1), CHILD_MT);
    int ok = lua_toboolean(L, 1);
    if (!c->active)
        return 0;
    struct orri_lua_rt *rt = orri_lua_rt(L);
    struct orr_error e = {0};
    c->active = 0;
    if (rt)
        rt->run = c->parent;
    int rc = orr_meta_run_end(c->run.meta, c->run.id,
                              ok ? ORR_RUN_SUCCEEDED : ORR_RUN_FAILED, &e);
    if (!rc)
        rc = orr_meta_flush(c->run.meta, &e);
    if (rc && ok)
        return luaL_error(L, "ending a sweep trial's run: %s", e.msg);
    return 0;
}

/* mark_best(run_id): tag the winning trial's run. */
static int l_mark_best(lua_State *L)
{
    const char *id = luaL_checkstring(L, 1);
    struct orr_run *run = step_run(L, "sweep select");
    struct orr_error e = {0};
    /* A trial of an earlier run (a cache hit) may have been deleted. */
    orr_meta_set_tag(run->meta, id, "orrery.sweep.best", run->id, &e);
    return 0;
}

/* uniforms(seed, n) -> n doubles in [0, 1): splitmix64, so a seed gives
 * the same trials on every platform. */
static int l_uniforms(lua_State *L)
{
    uint64_t x = (uint64_t)luaL_checkinteger(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0 && n <= 1000000, 2, "out of range");
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        uint64_t z = (x += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        lua_pushnumber(L, (double)(z >> 11) * 0x1.0p-53);
        lua_rawseti(L, -2, i);
    }
    return 1;
}

static int l_encode(lua_State *L)
{
    char *text = NULL;
    size_t len = 0;
    struct orr_error e = {0};
    if (orri_json_encode_lua(L, 1, &text, &len, &e))
        return luaL_error(L, "sweep params: %s", e.msg);
    lua_pushlstring(L, text, len);
    free(text);
    return 1;
}

/* Load the chunk once per state; leave the builder function on top. */
static void push_builder(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, SWEEP_REG) == LUA_TFUNCTION)
        return;
    lua_pop(L, 1);
    if (luaL_loadbufferx(L, sweep_lua, sizeof sweep_lua - 1,
                         "=orrery.sweep", "t") != LUA_OK)
        lua_error(L);
    lua_createtable(L, 0, 5);
    lua_newuserdatauv(L, sizeof(struct child), 0);
    memset(lua_touserdata(L, -1), 0, sizeof(struct child));
    luaL_newmetatable(L, CHILD_MT);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, l_child_begin, 1);
    lua_setfield(L, -3, "child_begin");
    lua_pushcclosure(L, l_child_end, 1);
    lua_setfield(L, -2, "child_end");
    lua_pushcfunction(L, l_mark_best);
    lua_setfield(L, -2, "mark_best");
    lua_pushcfunction(L, l_uniforms);
    lua_setfield(L, -2, "uniforms");
    lua_pushcfunction(L, l_encode);
    lua_setfield(L, -2, "encode");
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SWEEP_REG);
}

int orri_lua_sweep(lua_State *L)
{
    luaL_checkudata(L, 1, ORRI_LUA_WORKFLOW_MT);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    push_builder(L);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        /* Blame the line of the script that declared the sweep. */
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
        return lua_error(L);
    }
    return 1;
}
