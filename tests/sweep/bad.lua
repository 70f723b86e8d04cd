-- tests/sweep/bad.lua - sweeps declared wrong (ORR_CASE picks the case).
local orrery = require "orrery"
local wf = orrery.workflow { name = "badsweep" }
local case = os.getenv("ORR_CASE")
local f = function(ctx, p) return p.x end
if case == "no-metric" then
  wf:sweep { name = "s", trainer = f, grid = { x = { 1 } } }
elseif case == "unknown-field" then
  wf:sweep { name = "s", trainer = f, grid = { x = { 1 } }, metric = "m",
             budget = 3 }
elseif case == "bad-space" then
  wf:sweep { name = "s", trainer = f, metric = "m",
             random = { budget = 2, space = { x = { "log", 0, 1 } } } }
elseif case == "empty-grid" then
  wf:sweep { name = "s", trainer = f, metric = "m", grid = { x = {} } }
elseif case == "no-value" then
  wf:sweep { name = "s", trainer = function() return { other = 1 } end,
             metric = "m", grid = { x = { 1, 2 } } }
elseif case == "trial-error" then
  wf:sweep { name = "s", metric = "m", grid = { x = { 1, 2 } },
             trainer = function(ctx, p)
               if p.x == 2 then error("trial two broke") end
               return p.x
             end }
end
return wf
