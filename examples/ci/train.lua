-- examples/ci/train.lua - the training workflow a CI job runs on every
-- push (see ci.sh): load the breast cancer data, split, train, evaluate
-- on the held-out part, and register the model as a new version of
-- `cancer` WITHOUT moving @champion: promotion is the gate's decision.
--
--   orrery run examples/ci/train.lua --param version_file=/tmp/v
local orrery = require "orrery"

local wf = orrery.workflow {
  name = "cancer-ci",
  params = {
    C = 1.0,                 -- inverse regularisation strength
    version_file = "",       -- where the registered version is written
  },
}

local data = wf:step("ingest", function(ctx)
  return ctx:dataset("../data/breast_cancer.csv", { target = "malignant" })
end)

local split = wf:step("split", { data }, function(ctx, ds)
  return ds:split { test = 0.2, seed = 7, stratify = true }
end)

local model = wf:step("train", { split }, function(ctx, s)
  return ctx:train("linear", s.train, { C = ctx.params.C })
end)

-- Always the same held-out rows (seeded split): candidate and champion
-- are judged on the same data.
local evaluation = wf:step("evaluate", { model, split }, function(ctx, m, s)
  local r = m:evaluate(s.test)
  return { roc_auc = r.roc_auc, accuracy = r.accuracy }
end)

-- Never cached: every CI run registers its candidate, and the metric the
-- gate reads must be on the run that registered it.
wf:step("register", { model, evaluation }, function(ctx, m, e)
  ctx:log_metric("roc_auc", e.roc_auc)
  ctx:log_metric("accuracy", e.accuracy)
  local v = orrery.models.register("cancer", m).version
  print(("registered cancer/%d (ROC-AUC %.6f)"):format(v, e.roc_auc))
  if ctx.params.version_file ~= "" then
    local f = assert(io.open(ctx.params.version_file, "w"))
    f:write(v, "\n")
    f:close()
  end
  return v
end, { cache = false })

return wf
