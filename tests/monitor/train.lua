-- tests/monitor/train.lua - train and register the model the monitoring
-- tests watch: logistic regression on the breast cancer data, its test
-- accuracy and ROC-AUC as the run's metrics (the registration metrics),
-- registered as `mon` (the site's monitor profiles it at registration).
-- tests/report uses it too.
local orrery = require "orrery"

local wf = orrery.workflow { name = "montrain",
                             params = { data = "", target = "malignant",
                                        name = "mon" } }

local data = wf:step("ingest", function(ctx)
  return ctx:dataset(ctx.params.data, { target = ctx.params.target })
end)

local split = wf:step("split", { data }, function(ctx, ds)
  return ds:split { test = 0.2, seed = 7, stratify = true }
end)

local model = wf:step("train", { split }, function(ctx, s)
  return ctx:train("linear", s.train, { C = 1.0 })
end)

wf:step("register", { model, split }, function(ctx, m, s)
  local r = m:evaluate(s.test)
  ctx:log_metrics { accuracy = r.accuracy, roc_auc = r.roc_auc }
  local v = orrery.models.register(ctx.params.name, m.digest,
                                   { flavor = m.flavor })
  print("registered " .. v.uri)
end, { cache = false })

return wf
