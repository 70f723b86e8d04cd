-- Logistic regression on prepared train/test files (the same files
-- sklearn_ref.py trains on); writes the test probabilities to `out`.
local orrery = require "orrery"
local wf = orrery.workflow { name = "cancer-check",
                             params = { train = "", test = "", C = 1.0,
                                        out = "" } }
wf:step("fit", function(ctx)
  local tr = ctx:dataset(ctx.params.train, { target = "malignant" })
  local te = ctx:dataset(ctx.params.test, { target = "malignant" })
  local m = ctx:train("linear", tr, { C = ctx.params.C })
  assert(m.task == "binary" and m.classes[2] == "1")
  local r = m:evaluate(te)
  local p = m:predict_proba(te)
  local f = assert(io.open(ctx.params.out, "w"))
  f:write(("%.17g\n"):format(r.accuracy))
  for _, v in ipairs(p) do f:write(("%.17g\n"):format(v)) end
  f:close()
  local labels = m:predict(te)
  assert(labels[1] == 0 or labels[1] == 1)
  print("model " .. m.digest)
  print(("accuracy %.6f auc %.6f"):format(r.accuracy, r.roc_auc))
end)
return wf
