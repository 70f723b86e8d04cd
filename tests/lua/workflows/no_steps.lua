local orrery = require "orrery"
return orrery.workflow { name = "hollow" }
