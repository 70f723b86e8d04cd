-- tests/report/train.lua - the model the end-to-end report test watches:
-- logistic regression on the breast cancer data, registered as `mon`
-- with its test accuracy and ROC-AUC (the registration metrics); the
-- site's monitor backend profiles it at registration.
local orrery = require "orrery"

local wf = orrery.workflow { name = "reporttrain",
                             params = { data = "", target = "malignant" } }

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
  local v = orrery.models.register("mon", m.digest, { flavor = m.flavor })
  print("registered " .. v.uri)
end, { cache = false })

return wf
