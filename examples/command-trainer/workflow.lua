-- Train with an external program (scikit-learn, examples/command-trainer/
-- train.py) through the `command` trainer; the program writes a `linear`
-- model, which Orrery's linear runtime evaluates and serves.
--
--   orrery run examples/command-trainer/workflow.lua
local orrery = require "orrery"
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local wf = orrery.workflow { name = "command-trainer",
  params = { data = here .. "../data/breast_cancer.csv", C = 1.0,
             python = "/usr/bin/python3" } }
local split = wf:step("split", function(ctx)
  local ds = ctx:dataset(ctx.params.data, { target = "malignant" })
  return ds:split { test = 0.2, seed = 7, stratify = true }
end)
wf:step("train", { split }, function(ctx, s)
  local m = ctx:train("command", s.train, {
    command = { ctx.params.python, here .. "train.py" },
    C = ctx.params.C, max_iter = 1000 })
  assert(m.flavor == "linear" and m.trainer == "command")
  local r = m:evaluate(s.test, { prefix = "test_" })
  print(("command-trainer accuracy=%.4f auc=%.4f"):format(r.accuracy,
                                                          r.roc_auc))
  print("model " .. m.digest)
  return m
end)
return wf
