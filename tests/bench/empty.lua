-- The smallest workflow: one step that does nothing.  Used by
-- bench_startup.sh to measure `orrery run` overhead.
local orrery = require "orrery"
local wf = orrery.workflow { name = "empty" }
wf:step("noop", function(ctx) end)
return wf
