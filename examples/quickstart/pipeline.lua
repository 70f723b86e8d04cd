-- examples/quickstart/pipeline.lua - the smallest useful Orrery workflow.
--
--   ./build/orrery run examples/quickstart/pipeline.lua
--   ./build/orrery run examples/quickstart/pipeline.lua --param sample=3
--
-- ingest:    store the breast-cancer CSV as a content-addressed artifact
-- summarise: read it back (verified), compute rows, columns, class balance
--            and per-feature min/mean/max, log metrics to the run
-- report:    print what happened
--
-- Later examples extend this same workflow: train, register, serve, monitor.
local orrery = require "orrery"

local wf = orrery.workflow {
  name = "quickstart",
  params = {
    sample = 5,                  -- how many feature columns to profile
    target = "malignant",        -- the label column
  },
}

-- Relative paths resolve against this file's folder, so the workflow runs
-- from any directory.
local raw = wf:step("ingest", function(ctx)
  return ctx:store("../data/breast_cancer.csv", { kind = "dataset" })
end)

-- Split one CSV line on commas (the data set has no quoted fields).
local function split(line)
  local out = {}
  for field in (line .. ","):gmatch("([^,]*),") do out[#out + 1] = field end
  return out
end

local summary = wf:step("summarise", { raw }, function(ctx, file)
  local text = ctx:read(file)              -- the bytes, verified by digest
  local header, rows = nil, {}
  for line in text:gmatch("[^\r\n]+") do
    if not header then header = split(line) else rows[#rows + 1] = split(line) end
  end
  local target = ctx.params.target
  local tcol
  for i, name in ipairs(header) do if name == target then tcol = i end end
  assert(tcol, "no column named " .. target)

  local positives = 0
  for _, r in ipairs(rows) do
    if tonumber(r[tcol]) == 1 then positives = positives + 1 end
  end

  local features = {}
  for i = 1, math.min(ctx.params.sample, #header - 1) do
    local lo, hi, sum = math.huge, -math.huge, 0
    for _, r in ipairs(rows) do
      local v = tonumber(r[i])
      lo, hi, sum = math.min(lo, v), math.max(hi, v), sum + v
    end
    features[#features + 1] = { name = header[i], min = lo, max = hi,
                                mean = sum / #rows }
  end

  ctx:log("rows=%d columns=%d %s=%d", #rows, #header, target, positives)
  ctx:log_metric("rows", #rows)
  ctx:log_metric("positive_rate", positives / #rows)
  return {
    dataset = file.artifact,
    rows = #rows,
    columns = #header,
    target = target,
    classes = { positive = positives, negative = #rows - positives },
    features = features,
  }
end)

wf:step("report", { summary }, function(ctx, s)
  print(("%d rows, %d columns; %s: %d positive, %d negative (%.1f%%)"):format(
    s.rows, s.columns, s.target, s.classes.positive, s.classes.negative,
    100 * s.classes.positive / s.rows))
  print(("%-24s %10s %10s %10s"):format("feature", "min", "mean", "max"))
  for _, f in ipairs(s.features) do
    print(("%-24s %10.4g %10.4g %10.4g"):format(f.name, f.min, f.mean, f.max))
  end
  print("dataset artifact " .. s.dataset)
end)

return wf
