-- "fresh" always runs (cache = false) and returns the same value; "use"
-- is started before fresh's output exists (queued behind it in the same
-- pool worker locally; submitted at once with afterok on Slurm), so the
-- step looks itself up in the step cache: on the second run it is a hit
-- (not run; its metric re-logged).  Shared by tests/orch and tests/slurm.
local orrery = require "orrery"
local wf = orrery.workflow { name = "early-cache", params = { dir = "" } }
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
