-- Workflow params, overridden with --param; types as the workflow sees them.
local orrery = require "orrery"
local wf = orrery.workflow {
  name = "params",
  params = { n = 2, ratio = 0.5, name = "default", flag = false },
}
wf:step("show", function(ctx)
  local p = ctx.params
  print(("n=%s:%s ratio=%s:%s name=%s:%s flag=%s:%s"):format(
    tostring(p.n), math.type(p.n) or type(p.n),
    tostring(p.ratio), math.type(p.ratio) or type(p.ratio),
    tostring(p.name), type(p.name), tostring(p.flag), type(p.flag)))
  print("run_id=" .. ctx.run_id .. " step=" .. ctx.step)
  ctx:log_param("seen_n", p.n)
end)
return wf
