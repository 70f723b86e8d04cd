local orrery = require "orrery"
local wf = orrery.workflow { name = "nohandle" }
wf:step("b", { "a" }, function(ctx, v) end)
return wf
