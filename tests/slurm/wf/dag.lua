-- Three steps in a chain on Slurm; each writes a file of its own into
-- params.dir (so the test checks the steps really ran) and returns a
-- value its dependent reads back from storage.
local orrery = require "orrery"
local wf = orrery.workflow { name = "slurm-dag", params = { dir = "" } }
local function mark(ctx, name, text)
  local f = assert(io.open(ctx.params.dir .. "/" .. name, "w"))
  f:write(text)
  f:close()
end
local a = wf:step("extract", function(ctx)
  mark(ctx, "extract.out", "extracted")
  return { rows = 3 }
end, { cpus = 1, memory = "64M", time = "5m" })
local b = wf:step("transform", { a }, function(ctx, v)
  mark(ctx, "transform.out", "rows=" .. v.rows)
  return { rows = v.rows * 2 }
end, { cpus = 1, memory = 64 })
wf:step("load", { b }, function(ctx, v)
  mark(ctx, "load.out", "rows=" .. v.rows)
  return v.rows
end)
return wf
