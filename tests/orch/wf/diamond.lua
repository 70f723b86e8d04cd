-- a -> (b, c) -> d; each step appends its name to a trace file, so the
-- test sees exactly which steps executed.  Edited by the test (sed) to
-- change step c only.
local orrery = require "orrery"
local wf = orrery.workflow { name = "diamond", params = { trace = "" } }
local function mark(ctx, name)
  local f = assert(io.open(ctx.params.trace, "a")); f:write(name, "\n"); f:close()
end
local a = wf:step("a", function(ctx) mark(ctx, "a"); return 1 end)
local b = wf:step("b", { a }, function(ctx, x) mark(ctx, "b"); return x + 1 end)
local c = wf:step("c", { a }, function(ctx, x) mark(ctx, "c"); return x + 10 end)
wf:step("d", { b, c }, function(ctx, y, z)
  mark(ctx, "d"); print("d got " .. y .. " " .. z); return y + z
end)
return wf
