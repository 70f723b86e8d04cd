-- tests/bench/serve/v2.lua - wrk script: POST one V2 inference request of
-- ROWS rows (env ROWS, default 1) of 30 features, the breast cancer shape.
-- MODEL (env, default cancer) names the model.  Pacing (wrk's delay(),
-- whole milliseconds between an answer and the connection's next
-- request; wrk2 is not in Debian):
--   GAP_MS=N     N ms on every connection (they tend to send in step);
--   GAP_RAND=N   uniformly 0..N ms, drawn per request (users thinking);
--   GAP_P=P      1 ms with probability P, else none: a few connections
--                held to a chosen rate (bench_p99.sh calibrates P).
-- Non-2xx answers are counted by wrk itself (summary.errors.status): no
-- response() callback, which would cost wrk a Lua call per answer.
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

local gap_rand = tonumber(os.getenv("GAP_RAND") or "0")
local gap_p = tonumber(os.getenv("GAP_P") or "0")
if gap_ms > 0 then
  function delay() return gap_ms end
elseif gap_rand > 0 then
  function delay() return math.random(0, gap_rand) end
elseif gap_p > 0 then
  function delay() return math.random() < gap_p and 1 or 0 end
end
if gap_rand > 0 or gap_p > 0 then
  -- Each thread its own sequence (wrk starts every thread's Lua alike).
  function setup(thread) thread:set("seed", math.random(1, 2 ^ 30)) end
  function init(args) math.randomseed(seed) end
end

function done(summary, latency, requests)
  io.write(string.format("rows=%d rps=%.0f p50=%.3fms p99=%.3fms max=%.3fms non200=%d errors=%d\n",
    rows, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
