-- tests/bench/serve/v2.lua - wrk script: POST one V2 inference request of
-- ROWS rows (env ROWS, default 1) of 30 features, the breast cancer shape.
-- MODEL (env, default cancer) names the model.  GAP_MS (env) paces each
-- connection with wrk's delay(): GAP_MS ms (whole: wrk's timers count
-- ms) between an answer and the next request, so C connections make
-- about C * 1000 / (GAP_MS + latency) requests/s: latency at a given
-- load (wrk2 is not in Debian).
local rows = tonumber(os.getenv("ROWS") or "1")
local model = os.getenv("MODEL") or "cancer"
local gap_ms = tonumber(os.getenv("GAP_MS") or "0")
local vals = {}
for r = 1, rows do
  for c = 1, 30 do
    vals[#vals + 1] = string.format("%.4f", ((r * 31 + c * 7) % 97) / 9.7)
  end
end
wrk.method = "POST"
wrk.path = "/v2/models/" .. model .. "/infer"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format(
  '{"inputs":[{"name":"input","shape":[%d,30],"datatype":"FP64","data":[%s]}]}',
  rows, table.concat(vals, ","))

if gap_ms > 0 then
  function delay()
    return gap_ms
  end
end

local bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("rows=%d rps=%.0f p50=%.3fms p99=%.3fms max=%.3fms non200=%d errors=%d\n",
    rows, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
