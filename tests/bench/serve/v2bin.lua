-- tests/bench/serve/v2bin.lua - wrk script: one V2 inference request of
-- ROWS rows (env ROWS, default 64) of 30 features in the binary tensor
-- data extension: a JSON header (Inference-Header-Content-Length) then
-- the FP64 values, little-endian (wrk's LuaJIT writes them through ffi;
-- x86 is little-endian).  MODEL (env, default cancer) names the model.
local ffi = require("ffi")
local rows = tonumber(os.getenv("ROWS") or "64")
local model = os.getenv("MODEL") or "cancer"
local n = rows * 30
local vals = ffi.new("double[?]", n)
for r = 1, rows do
  for c = 1, 30 do
    vals[(r - 1) * 30 + c - 1] = tonumber(string.format("%.4f",
      ((r * 31 + c * 7) % 97) / 9.7))
  end
end
local header = string.format(
  '{"inputs":[{"name":"input","shape":[%d,30],"datatype":"FP64",' ..
  '"parameters":{"binary_data_size":%d}}],"outputs":[{"name":"output",' ..
  '"parameters":{"binary_data":true}}]}', rows, n * 8)
wrk.method = "POST"
wrk.path = "/v2/models/" .. model .. "/infer"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["Inference-Header-Content-Length"] = tostring(#header)
wrk.body = header .. ffi.string(vals, n * 8)

function done(summary, latency, requests)
  io.write(string.format("binary rows=%d rps=%.0f p50=%.3fms p99=%.3fms non200=%d errors=%d\n",
    rows, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
