local orrery = require "orrery"
local wf = orrery.workflow { name = "cyclic" }
wf:step("bad", function(ctx)
  local t = { name = "loop" }
  t.self = t
  return t
end)
return wf
