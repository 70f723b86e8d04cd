local orrery = require "orrery"

orrery.on_new_data("toy", "../nowhere.lua")
