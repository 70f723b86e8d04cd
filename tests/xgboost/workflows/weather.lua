-- XGBoost regression of temp_max on seattle-weather (time-ordered split).
local orrery = require "orrery"
local wf = orrery.workflow { name = "xgb-weather", params = { data = "" } }
wf:step("fit", function(ctx)
  local ds = ctx:dataset(ctx.params.data, { target = "temp_max" })
  local s = ds:split { test = 0.25, by = "date" }
  local cols = { "precipitation", "temp_min", "wind", "weather", "temp_max" }
  local m = ctx:train("xgboost", s.train:select(cols),
                      { max_depth = 4, eta = 0.1, num_boost_round = 100 })
  assert(m.task == "regression", m.task)
  local r = m:evaluate(s.test:select(cols), { prefix = "test_" })
  print(("weather rmse=%.4f r2=%.4f"):format(r.rmse, r.r2))
  assert(r.r2 > 0.7 and r.rmse < 4, "r2 " .. r.r2)
end)
return wf
