-- examples/quickstart/pipeline.lua - the smallest useful Orrery workflow:
-- load a data set, profile it, split it, train a model, evaluate it and
-- promote it to cancer@champion when it beats the current champion.
--
--   ./build/orrery run examples/quickstart/pipeline.lua
--   ./build/orrery run examples/quickstart/pipeline.lua --param sample=3
--   ./build/orrery run examples/quickstart/pipeline.lua --param C=0.1
--
-- ingest:    load the breast-cancer CSV as a dataset (a content-addressed
--            artifact: its digest is its version)
-- summarise: rows, columns, class balance and per-feature min/mean/max,
--            logged to the run
-- split:     80/20, stratified by the label, seeded (reproducible)
-- train_*:   L2-regularised logistic regression (the `linear` trainer) and
--            gradient-boosted trees (the `xgboost` trainer)
-- evaluate:  accuracy, ROC-AUC, ... of both on the held-out 20%, logged to
--            the run; the better one is the candidate
-- gate:      register the model as cancer@champion if it beats the
--            current champion (never cached: the registry changes)
-- report:    print what happened
local orrery = require "orrery"

local wf = orrery.workflow {
  name = "quickstart",
  params = {
    sample = 5,                  -- how many feature columns to profile
    target = "malignant",        -- the label column
    C = 1.0,                     -- linear: inverse regularisation strength
    depth = 4,                   -- xgboost: tree depth
    rounds = 100,                -- xgboost: boosting rounds
  },
}

-- Relative paths resolve against this file's folder, so the workflow runs
-- from any directory.
local data = wf:step("ingest", function(ctx)
  return ctx:dataset("../data/breast_cancer.csv",
                     { target = ctx.params.target })
end)

local summary = wf:step("summarise", { data }, function(ctx, ds)
  local target = ctx.params.target
  local stats = ds:describe()
  local positives = 0
  for _, v in ipairs(ds:column(target)) do
    if v == 1 then positives = positives + 1 end
  end
  local features = {}
  for i, name in ipairs(ds.columns) do
    if i > ctx.params.sample then break end
    local s = stats[name]
    features[#features + 1] = { name = name, min = s.min, max = s.max,
                                mean = s.mean }
  end
  ctx:log("rows=%d columns=%d %s=%d", ds.rows, #ds.columns, target,
          positives)
  ctx:log_metric("rows", ds.rows)
  ctx:log_metric("positive_rate", positives / ds.rows)
  return {
    dataset = ds.hash,
    rows = ds.rows,
    columns = #ds.columns,
    target = target,
    classes = { positive = positives, negative = ds.rows - positives },
    features = features,
  }
end)

local split = wf:step("split", { data }, function(ctx, ds)
  return ds:split { test = 0.2, seed = 7, stratify = true }
end)

-- Two candidates from two trainers (both plugins): an L2-regularised
-- logistic regression and gradient-boosted trees.
local linear = wf:step("train_linear", { split }, function(ctx, s)
  return ctx:train("linear", s.train, { C = ctx.params.C })
end)

local boosted = wf:step("train_xgboost", { split }, function(ctx, s)
  return ctx:train("xgboost", s.train, {
    objective = "binary:logistic", max_depth = ctx.params.depth, eta = 0.1,
    num_boost_round = ctx.params.rounds, seed = 7,
  })
end)

-- Both on the same held-out split; the better one is the candidate.
local evaluation = wf:step("evaluate", { linear, boosted, split },
                           function(ctx, lm, xm, s)
  local candidates = {
    { name = "linear", model = lm,
      r = lm:evaluate(s.test, { prefix = "linear_" }) },
    { name = "xgboost", model = xm,
      r = xm:evaluate(s.test, { prefix = "xgboost_" }) },
  }
  table.sort(candidates, function(a, b) return a.r.roc_auc > b.r.roc_auc end)
  for _, c in ipairs(candidates) do
    print(("%-8s test accuracy %.4f, ROC-AUC %.4f (%d rows)"):format(
      c.name, c.r.accuracy, c.r.roc_auc, s.test.rows))
  end
  local best = candidates[1]
  -- The run's unprefixed metrics are the candidate's: the registry reads
  -- them as the model version's metrics.
  ctx:log_metrics { accuracy = best.r.accuracy, roc_auc = best.r.roc_auc }
  return { trainer = best.name, accuracy = best.r.accuracy,
           roc_auc = best.r.roc_auc, model = best.model.digest,
           flavor = best.model.flavor }
end)

-- Promote only a better model (the continuous-evaluation principle).  The
-- registry is state outside the workflow, so this step is never served
-- from the cache: it always compares with the champion of the moment.
wf:step("gate", { evaluation, split }, function(ctx, e, s)
  local champion = orrery.models.metric("models:/cancer@champion",
                                        "roc_auc", 0)
  if e.roc_auc > champion then
    -- The version's reference profile (what monitoring compares
    -- production traffic with): the training split, and the model's
    -- predictions on the held-out split.
    orrery.models.register("cancer", e.model,
                           { alias = "champion", flavor = e.flavor,
                             reference = s.train, holdout = s.test })
    print(("promoted to cancer@champion: the %s model (ROC-AUC %.4f > %.4f)")
          :format(e.trainer, e.roc_auc, champion))
  else
    print(("kept the champion (ROC-AUC %.4f <= %.4f)"):format(
      e.roc_auc, champion))
  end
end, { cache = false })

wf:step("report", { summary, evaluation }, function(ctx, s, e)
  print(("%d rows, %d columns; %s: %d positive, %d negative (%.1f%%)"):format(
    s.rows, s.columns, s.target, s.classes.positive, s.classes.negative,
    100 * s.classes.positive / s.rows))
  print(("%-24s %10s %10s %10s"):format("feature", "min", "mean", "max"))
  for _, f in ipairs(s.features) do
    print(("%-24s %10.4g %10.4g %10.4g"):format(f.name, f.min, f.mean, f.max))
  end
  print("dataset artifact " .. s.dataset)
  print("model artifact " .. e.model)
end)

return wf
