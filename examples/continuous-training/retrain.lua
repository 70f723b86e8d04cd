-- examples/continuous-training/retrain.lua - what a trigger runs when the
-- champion degrades: train a candidate on the newest labelled data,
-- evaluate the candidate AND the current champion on fresh held-out rows
-- of that same data, and move MODEL@champion only if the candidate is
-- better (by at least min_delta).  The servers follow the alias.
--
--   orrery run retrain.lua --param dataset=datasets:/cancer-prod/2
--
-- triggers.lua runs it on drift (orrery.on_drift) and on new data
-- (orrery.on_new_data); each run is tagged with the trigger and why.
local orrery = require "orrery"

local wf = orrery.workflow {
  name = "retrain",
  params = {
    dataset = "",          -- datasets:/NAME/N: set by the trigger
    model = "cancer",
    metric = "accuracy",   -- what the gate compares ...
    goal = "max",          -- ... "max" (AUC, accuracy) or "min" (RMSE)
    min_delta = 0.0,       -- how much better the candidate must be
    C = 1.0,
  },
}

local data = wf:step("ingest", function(ctx)
  assert(ctx.params.dataset ~= "",
         "retrain needs --param dataset=datasets:/NAME/N")
  return ctx:dataset(ctx.params.dataset)
end)

-- Fresh labelled rows the candidate never trains on: the test split.
local split = wf:step("split", { data }, function(ctx, ds)
  return ds:split { test = 0.3, seed = 11 }
end)

local candidate = wf:step("train", { split }, function(ctx, s)
  return ctx:train("linear", s.train, { C = ctx.params.C })
end)

-- The champion of the moment (never cached: the registry changes).
local champion = wf:step("champion", function(ctx)
  local v = orrery.models.get("models:/" .. ctx.params.model .. "@champion")
  if not v then return { version = 0 } end
  return { version = v.version,
           model = { ["$orrery"] = "model", digest = v.artifact,
                     flavor = v.flavor } }
end, { cache = false })

local scores = wf:step("evaluate", { candidate, champion, split },
                       function(ctx, cand, champ, s)
  local metric = ctx.params.metric
  local c = cand:evaluate(s.test, { prefix = "candidate_" })
  local out = { metric = metric, candidate = c[metric],
                champion_version = champ.version, rows = s.test.rows }
  if champ.model then
    out.champion = champ.model:evaluate(s.test,
                                        { prefix = "champion_" })[metric]
  end
  ctx:log_metric(metric, c[metric])   -- the new version's metric
  print(("on %d fresh rows: candidate %s %.4f, champion v%d %s"):format(
    s.test.rows, metric, c[metric], champ.version,
    out.champion and ("%.4f"):format(out.champion) or "(none)"))
  return out
end, { cache = false })

wf:step("gate", { candidate, split, scores }, function(ctx, m, s, sc)
  local p = ctx.params
  local better
  if not sc.champion then
    better = true
  elseif p.goal == "min" then
    better = sc.candidate < sc.champion - p.min_delta
  else
    better = sc.candidate > sc.champion + p.min_delta
  end
  if not better then
    print(("kept %s@champion v%d: candidate %s %.4f is not better than "
           .. "%.4f"):format(p.model, sc.champion_version, sc.metric,
                             sc.candidate, sc.champion))
    return { promoted = false }
  end
  local v = orrery.models.register(p.model, m, {
    alias = "champion", flavor = m.flavor, datasets = { s.train.hash },
    -- the monitor's reference: the training data, and the model's
    -- predictions on rows it did not see
    reference = s.train.hash, holdout = s.test.hash,
    reason = ("retrained on %s: %s %.4f vs %s"):format(p.dataset, sc.metric,
             sc.candidate, sc.champion and ("%.4f"):format(sc.champion)
                                         or "none"),
  })
  print(("promoted %s to %s@champion: %s %.4f beats v%d's %s"):format(
    v.uri, p.model, sc.metric, sc.candidate, sc.champion_version,
    sc.champion and ("%.4f"):format(sc.champion) or "none"))
  return { promoted = true, version = v.version }
end, { cache = false })

return wf
