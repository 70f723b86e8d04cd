local orrery = require "orrery"
local wf = orrery.workflow { name = "returns_function" }
wf:step("bad", function(ctx)
  return { ok = 1, model = { predict = function() end } }
end)
return wf
