-- Logs points, says so through a file, then spins until it is killed.
local orrery = require "orrery"
local wf = orrery.workflow { name = "hang", params = { ready = "" } }
wf:step("spin", function(ctx)
  for i = 1, 500 do ctx:log_metric("x", i, i) end
  local f = assert(io.open(ctx.params.ready, "w"))
  f:close()
  while true do end
end)
return wf
