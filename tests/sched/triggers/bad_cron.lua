orrery.on_schedule("0 25 * * *", "../slow.lua")
