-- Train `linear` on a CSV given as a param (bad-input and CLI tests).
local orrery = require "orrery"
local wf = orrery.workflow { name = "train-file",
                             params = { data = "", target = "y",
                                        numeric = "" } }
wf:step("fit", function(ctx)
  local opts = { target = ctx.params.target }
  if ctx.params.numeric ~= "" then opts.numeric = { ctx.params.numeric } end
  local ds = ctx:dataset(ctx.params.data, opts)
  local m = ctx:train("linear", ds, { max_iter = 300 })
  print("model " .. m.digest)
  print("dataset " .. ds.hash)
  return m
end)
return wf
