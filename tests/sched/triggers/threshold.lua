local orrery = require "orrery"
orrery.on_drift("toy", "../slow.lua", { threshold = 2 })
