-- examples/slurm/train.lua - a workflow with resources per step: each
-- step becomes an sbatch job with --cpus-per-task, --mem, --gres, --time,
-- all submitted at once with --dependency=afterok on their inputs' jobs.
--   ORRERY_SITE=examples/slurm/orrery.site.lua orrery run examples/slurm/train.lua
local orrery = require "orrery"
local wf = orrery.workflow { name = "cancer-slurm", params = { data = "../data/breast_cancer.csv" } }

local data = wf:step("ingest", function(ctx)
  return ctx:dataset(ctx.params.data, { target = "malignant" })
end, { cpus = 1, memory = "1G", time = "10m" })

local split = wf:step("split", { data }, function(ctx, ds)
  return ds:split { test = 0.2, seed = 7, stratify = true }
end, { cpus = 1, memory = "1G", time = "10m" })

local model = wf:step("train", { split }, function(ctx, s)
  return ctx:train("linear", s.train, { C = 1 })
end, { cpus = 8, memory = "16G", gpus = 1, time = "02:00:00", retries = 2 })

wf:step("evaluate", { model, split }, function(ctx, m, s)
  return m:evaluate(s.test)
end, { cpus = 2, memory = "2G", time = "15m" })

-- A sweep: its trials tune[1..3] go to Slurm as one job array
-- (sbatch --array=0-2), queued with the rest of the DAG at once
-- (--dependency=afterok on the job of "split").
wf:sweep {
  name = "tune", inputs = { split }, trainer = "linear",
  params = { max_iter = 300 },
  grid = { C = { 0.1, 1, 10 } },
  metric = "roc_auc", goal = "max",
  opts = { cpus = 2, memory = "2G", time = "30m" },
}

return wf
