-- A step that logs metrics and a param, and one that logs nothing; the
-- second run is served from the cache and must still show them.
local wf = require("orrery").workflow { name = "metrics", params = { n = 3 } }
local a = wf:step("train", function(ctx)
  for i = 1, ctx.params.n do ctx:log_metric("loss", 1 / i, i) end
  ctx:log_metric("acc", 0.75)
  ctx:log_param("lr", 0.1)
  return 1
end)
wf:step("quiet", { a }, function(ctx, v) return v + 1 end)
return wf
