-- XGBoost on breast cancer: stratified split, a validation set for early
-- stopping, per-round metrics, evaluation on the held-out part.
local orrery = require "orrery"
local wf = orrery.workflow { name = "xgb-cancer",
                             params = { data = "", rounds = 100,
                                        eval_train = "true" } }
local split = wf:step("split", function(ctx)
  local ds = ctx:dataset(ctx.params.data, { target = "malignant" })
  local s = ds:split { test = 0.2, seed = 42, stratify = true }
  local tv = s.train:split { test = 0.2, seed = 8, stratify = true }
  return { train = tv.train, valid = tv.test, test = s.test }
end)
wf:step("train", { split }, function(ctx, s)
  local m = ctx:train("xgboost", s.train, {
    max_depth = 4, eta = 0.1, num_boost_round = ctx.params.rounds,
    objective = "binary:logistic", eval_metric = { "logloss", "auc" },
    valid = s.valid, early_stopping_rounds = 20, seed = 3,
    eval_train = tostring(ctx.params.eval_train) ~= "false" })
  assert(m.flavor == "xgboost" and m.task == "binary", m.flavor)
  assert(m.classes[2] == "1")
  local r = m:evaluate(s.test, { prefix = "test_" })
  print(("cancer auc=%.4f accuracy=%.4f"):format(r.roc_auc, r.accuracy))
  assert(r.roc_auc > 0.98, "auc " .. r.roc_auc)
  local p = m:predict(s.test)
  assert(p[1] == 0 or p[1] == 1)
  print("model " .. m.digest)
  return m
end)
return wf
