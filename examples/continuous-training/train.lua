-- examples/continuous-training/train.lua - the first model: train on a
-- labelled dataset, register it as MODEL@champion with its reference
-- profile (what the monitor compares production traffic with).
--
--   orrery data add ../data/breast_cancer.csv --name cancer-train \
--       --target malignant
--   orrery run train.lua --param dataset=datasets:/cancer-train
--
-- For the weather: --param dataset=datasets:/weather-train
--   --param model=weather
local orrery = require "orrery"

local wf = orrery.workflow {
  name = "train",
  params = {
    dataset = "datasets:/cancer-train",   -- a named version (orrery data)
    model = "cancer",                     -- the registered model name
    C = 1.0,                              -- inverse regularisation
  },
}

local data = wf:step("ingest", function(ctx)
  return ctx:dataset(ctx.params.dataset)
end)

local split = wf:step("split", { data }, function(ctx, ds)
  return ds:split { test = 0.25, seed = 7 }
end)

local model = wf:step("train", { split }, function(ctx, s)
  return ctx:train("linear", s.train, { C = ctx.params.C })
end)

local metrics = wf:step("evaluate", { model, split }, function(ctx, m, s)
  local r = m:evaluate(s.test)
  -- Unprefixed run metrics are the version's metrics in the registry.
  if r.roc_auc then
    ctx:log_metrics { accuracy = r.accuracy, roc_auc = r.roc_auc }
  else
    ctx:log_metrics { rmse = r.rmse, r2 = r.r2 }
  end
  return { accuracy = r.accuracy, roc_auc = r.roc_auc, rmse = r.rmse,
           r2 = r.r2 }
end)

-- The first version becomes the champion.  Its profile is computed at
-- registration from the training split: its feature distributions and
-- the model's predictions on it.
wf:step("register", { model, split, metrics }, function(ctx, m, s, r)
  local v = orrery.models.register(ctx.params.model, m, {
    alias = "champion", flavor = m.flavor, datasets = { s.train.hash },
    reference = s.train.hash, holdout = s.test.hash,
    reason = "initial training on " .. ctx.params.dataset,
  })
  print(("registered %s as %s@champion (%s)"):format(v.uri,
        ctx.params.model, r.roc_auc and ("ROC-AUC %.4f"):format(r.roc_auc)
                                     or ("RMSE %.3f"):format(r.rmse)))
  return { version = v.version, uri = v.uri }
end, { cache = false })

return wf
