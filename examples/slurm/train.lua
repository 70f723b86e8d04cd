-- examples/slurm/train.lua - a workflow with resources per step: each
-- step becomes an sbatch job with --cpus-per-task, --mem, --gres, --time.
--   ORRERY_SITE=examples/slurm/orrery.site.lua orrery run examples/slurm/train.lua
local orrery = require "orrery"
local wf = orrery.workflow { name = "cancer-slurm", params = { data = "data/breast_cancer.csv" } }

local data = wf:step("ingest", function(ctx)
  return ctx:dataset(ctx.params.data, { target = "target" })
end, { cpus = 1, memory = "1G", time = "10m" })

local split = wf:step("split", { data }, function(ctx, ds)
  return ds:split { test = 0.2, seed = 7, stratify = true }
end, { cpus = 1, memory = "1G", time = "10m" })

local model = wf:step("train", { split }, function(ctx, s)
  return ctx:train("linear", s.train, { kind = "logistic" })
end, { cpus = 8, memory = "16G", gpus = 1, time = "02:00:00", retries = 2 })

wf:step("evaluate", { model, split }, function(ctx, m, s)
  return m:evaluate(s.test)
end, { cpus = 2, memory = "2G", time = "15m" })

return wf
