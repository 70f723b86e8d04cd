local orrery = require "orrery"
local wf = orrery.workflow { name = "dup" }
wf:step("a", function(ctx) end)
wf:step("a", function(ctx) end)
return wf
