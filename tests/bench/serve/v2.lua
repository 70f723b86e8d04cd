-- tests/bench/serve/v2.lua - wrk script: POST one V2 inference request of
-- ROWS rows (env ROWS, default 1) of 30 features, the breast cancer shape.
local rows = tonumber(os.getenv("ROWS") or "1")
local vals = {}
for r = 1, rows do
  for c = 1, 30 do
    vals[#vals + 1] = string.format("%.4f", ((r * 31 + c * 7) % 97) / 9.7)
  end
end
wrk.method = "POST"
wrk.path = "/v2/models/cancer/infer"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format(
  '{"inputs":[{"name":"input","shape":[%d,30],"datatype":"FP64","data":[%s]}]}',
  rows, table.concat(vals, ","))

local bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("rows=%d rps=%.0f p50=%.3fms p99=%.3fms non200=%d errors=%d\n",
    rows, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
