local orrery = require "orrery"
local wf = orrery.workflow { name = "syntax" }
wf:step("a", function(ctx)
  return 1 +
end)
return wf
