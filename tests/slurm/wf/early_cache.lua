-- "fresh" always runs (cache = false) and returns the same value, so
-- "use", submitted at once with afterok on it, finds its result in the
-- step cache on the second run (the job looks itself up: the runner
-- could not, without fresh's output).
local orrery = require "orrery"
local wf = orrery.workflow { name = "slurm-early-cache", params = { dir = "" } }
local a = wf:step("fresh", function(ctx)
  local f = assert(io.open(ctx.params.dir .. "/fresh.out", "a"))
  f:write("x")
  f:close()
  return 7
end, { cache = false })
wf:step("use", { a }, function(ctx, v)
  local f = assert(io.open(ctx.params.dir .. "/use.out", "a"))
  f:write("y")
  f:close()
  ctx:log_metric("seen", v)
  return v * 2
end)
return wf
