-- Train on a whole CSV with the params of a Lua file (`params` returns a
-- table), write the model's inputs, classes and predictions (for the
-- comparison with python3-xgboost) and print the model digest.
local orrery = require "orrery"
local wf = orrery.workflow { name = "xgb-dump",
  params = { data = "", target = "", params = "", out = "",
             categorical = "", trainer = "xgboost" } }
wf:step("fit", function(ctx)
  local opts = { target = ctx.params.target }
  if ctx.params.categorical ~= "" then
    opts.categorical = { ctx.params.categorical }
  end
  local ds = ctx:dataset(ctx.params.data, opts)
  if ds.columns[1] == "date" then
    ds = ds:select { "precipitation", "temp_min", "wind", "weather",
                     "temp_max" }
  end
  local m = ctx:train(ctx.params.trainer, ds, dofile(ctx.params.params))
  print("model " .. m.digest)
  if ctx.params.out == "" then return m end
  local f = assert(io.open(ctx.params.out, "w"))
  f:write("task\t" .. m.task .. "\n")
  f:write("inputs\t" .. table.concat(m.inputs, "\t") .. "\n")
  f:write("classes\t" .. table.concat(m.classes, "\t") .. "\n")
  for _, p in ipairs(m:predict_proba(ds)) do
    if type(p) == "table" then
      for i = 1, #p do p[i] = ("%.9g"):format(p[i]) end
      f:write(table.concat(p, "\t") .. "\n")
    else
      f:write(("%.9g\n"):format(p))
    end
  end
  f:close()
  return m
end)
return wf
