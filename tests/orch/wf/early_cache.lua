-- "fresh" always runs (cache = false) and returns the same value; "use"
-- is queued behind it in the same pool worker before fresh's output
-- exists, so the worker looks "use" up in the step cache itself: on the
-- second run it is a hit (not run; its metric re-logged).
local orrery = require "orrery"
local wf = orrery.workflow { name = "early-cache", params = { dir = "" } }
local a = wf:step("fresh", function(ctx)
  local f = assert(io.open(ctx.params.dir .. "/fresh.out", "a"))
  f:write("x")
  f:close()
  return 7
end, { cache = false })
wf:step("use", { a }, function(ctx, v)
  local f = assert(io.open(ctx.params.dir .. "/use.out", "a"))
  f:write("y")
  f:close()
  ctx:log_metric("seen", v)
  return v * 2
end)
return wf
