-- A workflow that uses every tracking call (tests/runs/test_runs_cli.sh).
local orrery = require "orrery"
local wf = orrery.workflow { name = "track", params = { depth = 4, lr = 0.1 } }
wf:step("train", function(ctx)
  ctx:log_params { optimizer = "adam", layers = 3 }
  ctx:set_tag("team", "risk")
  ctx:set_tag("note", "it's \"quoted\"")
  for i = 0, 49 do
    ctx:log_metric("loss", 1 / (i + 1), i)
    ctx:log_metrics({ acc = i / 50, auc = 0.9 + i / 1000 }, i)
  end
  ctx:log_metric("weird", 0 / 0, 0)
  ctx:log_metric("weird", 1 / 0, 1)
  ctx:log_metric("weird", -1 / 0, 2)
  local f = io.open(ctx:path("model.txt"), "w")
  f:write("weights\n")
  f:close()
  ctx:log_artifact("model.txt", { kind = "model" })
  -- Read back from inside the run.
  local pts = assert(orrery.runs.metric(ctx.run_id, "loss"))
  assert(#pts == 50 and pts[50].step == 49, "series read back")
  local run = assert(orrery.runs.get(ctx.run_id))
  assert(run.params.optimizer == "adam" and run.tags.team == "risk")
  assert(run.metrics.auc.n == 50)
  assert(run.metrics.weird.max == math.huge)
  local runs = assert(orrery.runs.list { filter = "tags.team = 'risk'" })
  assert(#runs >= 1)
  local none, msg = orrery.runs.list { filter = "metrics.auc >" }
  assert(none == nil and msg:find("column 14"), msg)
  assert(orrery.runs.get("0000000000000000") == nil)
  assert(not pcall(ctx.log_metrics, ctx, { auc = "high" }))
  assert(not pcall(ctx.log_metric, ctx, "", 1))
end)
return wf
