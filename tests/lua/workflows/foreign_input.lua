local orrery = require "orrery"
local other = orrery.workflow { name = "other" }
local theirs = other:step("theirs", function(ctx) end)
local wf = orrery.workflow { name = "mine" }
wf:step("mine", { theirs }, function(ctx, v) end)
return wf
