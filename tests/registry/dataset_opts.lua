-- tests/registry/dataset_opts.lua - orrery.models.register takes datasets
-- as dataset values or strings (datasets=, reference=, holdout=), and a
-- wrong type is refused before anything is registered.
local orrery = require "orrery"
local wf = orrery.workflow { name = "dataset_opts" }
local split = wf:step("split", function(ctx)
  local ds = ctx:dataset("../../examples/data/breast_cancer.csv",
                         { target = "malignant" })
  return ds:split { test = 0.2, seed = 7, stratify = true }
end)
wf:step("register", { split }, function(ctx, s)
  local m = ctx:train("linear", s.train, {})
  local ok, err = pcall(orrery.models.register, "wrongtype", m,
                        { reference = 42 })
  print("wrong type: " .. tostring(ok) .. " " .. tostring(err))
  print("wrongtype registered: " ..
        tostring(orrery.models.get("models:/wrongtype/1") ~= nil))
  local v = orrery.models.register("byvalue", m, {
    reference = s.train, holdout = s.test, datasets = { s.train } })
  print("registered " .. v.uri)
end, { cache = false })
return wf
