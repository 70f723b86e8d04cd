-- Two steps in a chain; the first waits for the test to create
-- params.dir/gate, so the test can look at the second's job while the
-- first still runs (it is submitted at once, with afterok on the first).
local orrery = require "orrery"
local wf = orrery.workflow { name = "slurm-gate", params = { dir = "" } }
local function mark(ctx, name, text)
  local f = assert(io.open(ctx.params.dir .. "/" .. name, "w"))
  f:write(text)
  f:close()
end
local a = wf:step("first", function(ctx)
  mark(ctx, "first.started", "")
  for _ = 1, 1200 do
    local g = io.open(ctx.params.dir .. "/gate")
    if g then g:close(); break end
    os.execute("sleep 0.05")
  end
  mark(ctx, "first.out", "first")
  return 1
end)
wf:step("second", { a }, function(ctx, v)
  mark(ctx, "second.out", "second got " .. v)
  return v + 1
end)
return wf
