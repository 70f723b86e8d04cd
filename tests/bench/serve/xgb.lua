-- tests/bench/serve/xgb.lua - the issue's benchmark model: 100 trees of
-- depth 6 on the breast cancer data, registered as cancer_xgb@bench.
local orrery = require "orrery"
local wf = orrery.workflow { name = "bench_serve_xgb" }
local root = os.getenv("ORRERY_REPO") or "."
local split = wf:step("split", function(ctx)
  local ds = ctx:dataset(root .. "/examples/data/breast_cancer.csv",
                         { target = "malignant" })
  return ds:split { test = 0.2, seed = 7, stratify = true }
end)
wf:step("train", { split }, function(ctx, s)
  local m = ctx:train("xgboost", s.train, {
    objective = "binary:logistic", max_depth = 6, eta = 0.1,
    num_boost_round = 100, seed = 7,
  })
  orrery.models.register("cancer_xgb", m, { alias = "bench",
                                            flavor = m.flavor })
end, { cache = false })
return wf
