-- examples/continuous-training/triggers.lua - the feedback loop:
--
--   orrery triggers apply triggers.lua
--   orrery scheduler                 # evaluates them every minute
--
-- Workflow paths are relative to this file.
local orrery = require "orrery"

-- The cancer model: when at least 30% of the features of the latest 300
-- requests drifted from the champion's reference profile (or a quality
-- metric on late labels raised an alert), retrain on the newest labelled
-- production data, datasets:/cancer-prod/N.  One retrain per champion
-- version per hour: a gate that kept the champion is not retried at
-- every check.
orrery.on_drift("cancer", "retrain.lua", {
  threshold = 0.3, window = "300", dataset = "cancer-prod",
  cooldown = "1h",
  params = { model = "cancer", metric = "accuracy", goal = "max" },
})

-- The weather model: every new labelled batch is a retraining chance.
orrery.on_new_data("weather", "retrain.lua", {
  params = { model = "weather", metric = "rmse", goal = "min" },
})

-- And once a week on whatever is newest, in case nothing else fired.
orrery.on_schedule("0 4 * * SUN", "retrain.lua", {
  name = "weather-weekly",
  params = { model = "weather", metric = "rmse", goal = "min",
             dataset = "datasets:/weather" },
})
