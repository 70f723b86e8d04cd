-- A tiny workflow for the scheduler tests (tests/sched/test_sched_cli.sh).
local orrery = require "orrery"
local wf = orrery.workflow { name = "nightly", params = { who = "none" } }
wf:step("hello", function(ctx)
  ctx:set_tag("who", ctx.params.who)
end)
return wf
