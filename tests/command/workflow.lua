-- The command trainer with tests/command/fake.sh in a given mode.
local orrery = require "orrery"
local wf = orrery.workflow { name = "cmd",
  params = { prog = "", mode = "ok", data = "", bad_metrics = "fail" } }
wf:step("fit", function(ctx)
  local ds = ctx:dataset(ctx.params.data, { target = "y" })
  local cmd = { "bash", ctx.params.prog, ctx.params.mode }
  if ctx.params.mode == "missing" then cmd = { "no-such-program-orrery" } end
  if ctx.params.mode == "string" then cmd = "python3 train.py" end
  local m = ctx:train("command", ds, { command = cmd, C = 0.5, seed = 4,
    bad_metrics = ctx.params.bad_metrics, nested = { a = 1, b = { 1, 2 } } })
  assert(m.flavor == "linear", m.flavor)
  local r = m:evaluate(ds)
  print(("model %s accuracy %.4f"):format(m.digest, r.accuracy))
end)
return wf
