-- A workflow for the trigger tests (tests/sched/test_triggers.sh): records
-- the dataset it was given and, when `gate` names a file, waits for that
-- file to appear first (bounded), so a test can hold a run in progress.
local orrery = require "orrery"
local wf = orrery.workflow { name = "consume",
                             params = { dataset = "", who = "none",
                                        gate = "" } }
wf:step("consume", function(ctx)
  local p = ctx.params
  if p.gate ~= "" then
    for _ = 1, 3000 do            -- at most ~5 minutes
      local f = io.open(p.gate)
      if f then f:close() break end
      os.execute("sleep 0.1")
    end
  end
  ctx:set_tag("who", p.who)
  if p.dataset ~= "" then
    local ds = ctx:dataset(p.dataset)
    ctx:set_tag("rows", tostring(ds.rows))
  end
  return { dataset = p.dataset }
end)
return wf
