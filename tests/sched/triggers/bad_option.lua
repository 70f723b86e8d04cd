local orrery = require "orrery"
orrery.on_new_data("toy", "../slow.lua",
                   { paramz = { who = "x" } })
