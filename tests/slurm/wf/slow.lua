-- A step that runs until cancelled (it writes started.out first).
local orrery = require "orrery"
local wf = orrery.workflow { name = "slurm-slow", params = { dir = "" } }
wf:step("slow", function(ctx)
  local f = assert(io.open(ctx.params.dir .. "/started.out", "w"))
  f:close()
  -- Only a sleep that ran its course counts (scancel kills it first).
  if os.execute("sleep 120") then
    f = assert(io.open(ctx.params.dir .. "/finished.out", "w"))
    f:close()
  end
end)
return wf
