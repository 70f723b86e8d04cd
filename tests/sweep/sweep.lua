-- tests/sweep/sweep.lua - a grid of 3 and a random search of 4 over the
-- linear trainer's C on the breast cancer data; the report step prints
-- what the sweep chose and every trial, as JSON lines.
local orrery = require "orrery"

local wf = orrery.workflow { name = "sweeptest", params = { data = "" } }

local data = wf:step("ingest", function(ctx)
  return ctx:dataset(ctx.params.data, { target = "malignant" })
end)

local split = wf:step("split", { data }, function(ctx, ds)
  return ds:split { test = 0.3, seed = 3, stratify = true }
end)

local best = wf:sweep {
  name = "tune", inputs = { split }, trainer = "linear",
  params = { max_iter = 300 },
  grid = { C = { 0.001, 0.01, 100 } },
  random = { budget = 4, seed = 1, space = { C = { "log", 0.0001, 10 } } },
  metric = "roc_auc", goal = "max",
}

wf:step("report", { best, split }, function(ctx, b, s)
  local r = b.model:evaluate(s.test, { log = false })
  print(("BEST %d %.17g %.17g %.17g %s %s %d"):format(b.trial, b.value,
        b.params.C, r.roc_auc, b.run_id, b.metric, b.params.max_iter))
  for _, t in ipairs(b.trials) do
    print(("TRIAL %d %.17g %.17g %s"):format(t.trial, t.value, t.params.C,
                                             t.run_id))
  end
end)

return wf
