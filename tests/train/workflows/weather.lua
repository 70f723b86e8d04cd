-- Regression of temp_max on seattle-weather: a time-ordered split by date
-- (train on the past, test on the last quarter), a categorical feature.
local orrery = require "orrery"
local wf = orrery.workflow { name = "weather", params = { data = "" } }
local split = wf:step("load", function(ctx)
  local ds = ctx:dataset(ctx.params.data, { target = "temp_max" })
  assert(ds.rows == 1461)
  local d = ds:describe()
  assert(d.weather.levels == 5 and d.date.type == "category")
  ds = ds:select { "precipitation", "temp_min", "wind", "weather",
                   "temp_max", "date" }
  local s = ds:split { test = 0.25, by = "date" }
  assert(s.test:column("date")[1] == "2014/12/31", s.test:column("date")[1])
  -- the date identifies rows, it is no feature
  local cols = { "precipitation", "temp_min", "wind", "weather", "temp_max" }
  return { train = s.train:select(cols), test = s.test:select(cols) }
end)
wf:step("train", { split }, function(ctx, s)
  local m = ctx:train("linear", s.train, { alpha = 1.0 })
  assert(m.task == "regression", m.task)
  local inputs = table.concat(m.inputs, ",")
  assert(inputs:find("weather=rain", 1, true), inputs)
  local r = m:evaluate(s.test, { prefix = "test_" })
  print(("weather rmse=%.4f mae=%.4f r2=%.4f"):format(r.rmse, r.mae, r.r2))
  assert(r.r2 > 0.7 and r.rmse < 4, "r2 " .. r.r2)
  local p = m:predict(s.test)
  assert(#p == 366 and type(p[1]) == "number")
end)
return wf
