-- tests/reproduce/nondet.lua - steps that cannot reproduce their outputs:
-- math.random without a seed, state outside the workflow (a counter
-- file), and a step downstream of one; the others are deterministic.
local orrery = require "orrery"
local wf = orrery.workflow { name = "nondet", params = { counter = "" } }

local stable = wf:step("stable", function(ctx) return { x = 42 } end)
local rand = wf:step("rand", function(ctx)
  return { r = math.random(1, 1 << 52), t = os.time() }
end)
local counter = wf:step("counter", function(ctx)
  local path = ctx.params.counter
  local f = io.open(path)
  local n = f and tonumber(f:read("a")) or 0
  if f then f:close() end
  f = assert(io.open(path, "w"))
  f:write(tostring(n + 1))
  f:close()
  return n + 1
end)
wf:step("after", { counter, stable }, function(ctx, c, s) return c + s.x end)
wf:step("also_stable", { stable }, function(ctx, s) return s.x * 2 end)
return wf
