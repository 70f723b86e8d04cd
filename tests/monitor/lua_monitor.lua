-- tests/monitor/lua_monitor.lua - orrery.monitor from a workflow, in the
-- site test_monitor prepared (model `mon`, window B drifted two hours
-- after T0).  --param now=<ms> is the window's end.
local orrery = require "orrery"

local wf = orrery.workflow { name = "monlua", params = { now = 0 } }

wf:step("watch", function(ctx)
  local r = orrery.monitor.run("mon", {
    window = "1h", now_ms = ctx.params.now,
    thresholds = { score = 2.0, drift_share = 0.02 } })
  assert(r.status == "drift", r.status)
  assert(r.rows >= 63, r.rows)
  assert(r.model == "mon" and r.version == "1")
  assert(r.drift_share and r.features_drifted == 1)
  assert(r.window_id > 0 and r.alerts == 0, "deduplicated: " .. r.alerts)
  local by_count = orrery.monitor.run("mon", { window = 20,
                                             thresholds = { score = 2.0 } })
  assert(by_count.rows == 20, by_count.rows)
  local ok, err = pcall(orrery.monitor.run, "mon", { window = "bad" })
  assert(not ok and err:find("bad window"), err)
  local nd = orrery.monitor.run("mon", { window = "1h", now_ms = 1000 })
  assert(nd.status == "no_data" and nd.drift_share == nil, nd.status)
  assert(nd.message:find("no data"), nd.message)
  assert(orrery.monitor.profile("models:/mon/1"))
  ok, err = pcall(orrery.monitor.profile, "models:/mon/9")
  assert(not ok and err:find("orrery.monitor.profile"), err)
  print("lua monitor ok")
end, { cache = false })

return wf
