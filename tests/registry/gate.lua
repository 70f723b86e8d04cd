-- tests/registry/gate.lua - the quickstart's promotion pattern: store a
-- "model", compare its metric with @champion's, register it and move
-- the alias when it is better.  --param score=... sets the metric.
local orrery = require "orrery"

local wf = orrery.workflow { name = "gate", params = { score = 0.9 } }

local data = wf:step("ingest", function(ctx)
  local f = assert(io.open(ctx:path("data.csv"), "w"))
  f:write("x,y\n1,2\n")
  f:close()
  return ctx:store("data.csv", { kind = "dataset" })
end)

wf:step("train", { data }, function(ctx, ds)
  ctx:read(ds)
  local f = assert(io.open(ctx:path("model.bin"), "w"))
  f:write("model trained with score " .. ctx.params.score)
  f:close()
  local model = ctx:store("model.bin", { kind = "model" })
  ctx:log_metric("auc", ctx.params.score)
  ctx:log_metric("auc", ctx.params.score)     -- the latest value counts
  local best = orrery.models.metric("gatemodel@champion", "auc", 0)
  print(("champion auc %.3f, candidate %.3f"):format(best, ctx.params.score))
  local v = orrery.models.register("gatemodel", model, { flavor = "test" })
  assert(v.version >= 1 and v.uri == "models:/gatemodel/" .. v.version)
  assert(v.run_id == ctx.run_id, "run defaults to the step's run")
  if ctx.params.score > best then
    orrery.models.set_alias("gatemodel", "champion", v.version, "better auc")
    print("promoted " .. v.uri)
  end
  -- lookups that find nothing: nil, message
  local none, msg = orrery.models.get("nosuchmodel@x")
  assert(none == nil and msg:find("no model 'nosuchmodel'"), msg)
  assert(orrery.models.metric("nosuchmodel", "auc", -1) == -1)
  assert(orrery.models.metric("models:/gatemodel/" .. v.version, "auc") ==
         ctx.params.score)
  -- malformed URIs and aliases raise
  assert(not pcall(orrery.models.get, "models:gatemodel"))
  local ok, err = pcall(orrery.models.set_alias, "gatemodel", "bad alias", 1)
  assert(not ok and err:find("not allowed"), err)
  -- lineage from inside a step
  local up = assert(orrery.lineage.up(v.uri))
  local kinds = {}
  for _, n in ipairs(up.nodes) do kinds[n.kind] = (kinds[n.kind] or 0) + 1 end
  assert(kinds.model == 1 and kinds.artifact >= 2 and kinds.step >= 1, "lineage")
  local down = assert(orrery.lineage.down(ds))
  local found = false
  for _, n in ipairs(down.nodes) do
    if n.kind == "model" and n.version == v.version then found = true end
  end
  assert(found, "the dataset's downstream reaches the model version")
  print("lineage ok " .. #up.nodes .. " " .. #down.nodes)
end)

return wf
