-- tests/sweep/fn.lua - a sweep whose trials are a Lua function: they run
-- in parallel (each waits for the other's file: a sequential run would
-- time out), the goal picks the right end.
local orrery = require "orrery"

local wf = orrery.workflow { name = "fnsweep",
                             params = { dir = "", goal = "max" } }

local function score(x, y) return -(x - 3) ^ 2 - (y or 0) end

local best = wf:sweep {
  name = "s", trainer = function(ctx, p)
    ctx:log_metric("extra", p.x * 10)
    return { metrics = { score = score(p.x) } }
  end,
  params = { base = "kept" },
  grid = { x = { 1, 2, 3, 4, 5 } },
  metric = "score", goal = "max",
}

local low = wf:sweep {
  name = "m", trainer = function(ctx, p) return score(p.x) end,
  grid = { x = { 1, 3, 6 } }, metric = "score", goal = "min",
}

local pair = wf:sweep {
  name = "pair", trainer = function(ctx, p)
    local dir = ctx.params.dir
    local mine, other = dir .. "/t" .. p.x, dir .. "/t" .. (p.x == 1 and 2 or 1)
    io.open(mine, "w"):close()
    local t0 = os.time()
    while not io.open(other) do
      if os.time() - t0 > 60 then error("the other trial never ran") end
    end
    return p.x
  end,
  grid = { x = { 1, 2 } }, metric = "score", opts = { cache = false },
}

wf:step("report", { best, low, pair }, function(ctx, b, l, p)
  print(("MAX %d %g %s"):format(b.params.x, b.value, b.params.base))
  print(("MIN %d %g"):format(l.params.x, l.value))
  print(("PAIR %d"):format(p.params.x))
end, { cache = false })

return wf
