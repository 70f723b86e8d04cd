local orrery = require "orrery"
local wf = orrery.workflow { name = "forgot" }
wf:step("a", function(ctx) end)
