-- Multiclass XGBoost on penguins: NA values, categorical features.
local orrery = require "orrery"
local wf = orrery.workflow { name = "xgb-penguins", params = { data = "" } }
wf:step("fit", function(ctx)
  local ds = ctx:dataset(ctx.params.data,
                         { target = "species", categorical = { "year" } })
  local s = ds:split { test = 0.25, seed = 7, stratify = true }
  local m = ctx:train("xgboost", s.train, { max_depth = 3, eta = 0.3,
                                            num_boost_round = 30 })
  assert(m.task == "multiclass" and #m.classes == 3)
  local inputs = table.concat(m.inputs, ",")
  assert(inputs:find("island=Biscoe", 1, true), inputs)
  assert(inputs:find("sex=female", 1, true), inputs)
  local e = m:evaluate(s.test)
  local pp = m:predict_proba(s.test)
  assert(#pp == 86 and #pp[1] == 3)
  local sum = pp[1][1] + pp[1][2] + pp[1][3]
  assert(math.abs(sum - 1) < 1e-6, sum)
  print(("penguins accuracy=%.4f logloss=%.4f"):format(e.accuracy,
                                                        e.log_loss))
  assert(e.accuracy > 0.95, "accuracy " .. e.accuracy)
end)
return wf
