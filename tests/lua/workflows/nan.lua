local orrery = require "orrery"
local wf = orrery.workflow { name = "nan" }
wf:step("bad", function(ctx) return { values = { 1, 0 / 0 } } end)
return wf
