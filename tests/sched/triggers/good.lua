-- Triggers for tests/sched/test_triggers.sh.
local orrery = require "orrery"
orrery.on_new_data("toy", "../slow.lua", { params = { who = "data" } })
orrery.on_schedule("0 3 * * *", "../slow.lua",
                   { name = "nightly", params = { who = "cron" } })
orrery.on_drift("models:/toy@champion", "../slow.lua", {
  threshold = 0.3, window = 500, dataset = "toy", cooldown = "2h",
  params = { who = "drift" },
})
