-- A step that fails on Slurm; its dependent must not run.
local orrery = require "orrery"
local wf = orrery.workflow { name = "slurm-fail", params = { dir = "" } }
local a = wf:step("ok", function() return 1 end)
local b = wf:step("boom", { a }, function() error("boom on a compute node") end)
wf:step("after", { b }, function(ctx)
  local f = assert(io.open(ctx.params.dir .. "/after.out", "w"))
  f:close()
end)
return wf
