-- first -> slow -> last.  `slow` leaves a marker, then blocks reading a
-- FIFO until the test writes to it: the test kills or cancels the runner
-- while it blocks, with no timing involved.
local orrery = require "orrery"
local wf = orrery.workflow { name = "slow", params = { dir = "" } }
local first = wf:step("first", function(ctx)
  local f = assert(io.open(ctx.params.dir .. "/first", "a")); f:write("x"); f:close()
  return 1
end)
local slow = wf:step("slow", { first }, function(ctx, x)
  print("slow is waiting")
  io.stdout:flush()
  local f = assert(io.open(ctx.params.dir .. "/marker", "w")); f:close()
  local p = assert(io.open(ctx.params.dir .. "/fifo")); local got = p:read("a"); p:close()
  return x + #got
end)
wf:step("last", { slow }, function(ctx, y) return y * 2 end)
return wf
