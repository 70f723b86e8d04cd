-- The second step fails at line 13; the third, which needs it, is skipped;
-- the first step's artifact stays in storage.
local orrery = require "orrery"
local wf = orrery.workflow { name = "failing" }
local first = wf:step("first", function(ctx)
  return ctx:store(ctx:path("failing.lua"), { kind = "report" })
end)
local broken = wf:step("broken", { first }, function(ctx, ref)
  local t = nil
  ctx:log("about to fail")
  -- the next line raises
  local x = 1
  return t.field + x
end)
wf:step("after", { broken }, function(ctx, v) print("must not run") end)
wf:step("independent", function(ctx) return "fine" end)
return wf
