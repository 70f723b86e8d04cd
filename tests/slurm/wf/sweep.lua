-- A sweep of 4 trials (one job array on Slurm) and a step after it; each
-- trial writes a file of its own and logs a metric.
local orrery = require "orrery"
local wf = orrery.workflow { name = "slurm-sweep", params = { dir = "" } }
local best = wf:sweep {
  name = "sw",
  trainer = function(ctx, p)
    local f = assert(io.open(ctx.params.dir .. "/trial-" .. p.x .. ".out",
                             "w"))
    f:write(tostring(p.x))
    f:close()
    return p.x * 10
  end,
  grid = { x = { 1, 2, 3, 4 } },
  metric = "score", goal = "max",
}
wf:step("pick", { best }, function(ctx, b)
  local f = assert(io.open(ctx.params.dir .. "/pick.out", "w"))
  f:write("best " .. b.value)
  f:close()
  return b.value
end)
return wf
