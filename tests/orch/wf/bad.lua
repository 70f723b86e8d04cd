-- Failure modes, selected by $ORR_MODE at load time (step options are
-- declared when the file loads); params.dir is a scratch folder.
local orrery = require "orrery"
local mode = os.getenv("ORR_MODE") or ""
local wf = orrery.workflow { name = "bad", params = { dir = "" } }
local ok = wf:step("ok", function() return "fine" end)
local function count(ctx)
  local p = ctx.params.dir .. "/count"
  local f = io.open(p); local n = f and tonumber(f:read("a")) or 0
  if f then f:close() end
  f = assert(io.open(p, "w")); f:write(tostring(n + 1)); f:close()
  return n + 1
end
local mode_opts = {
  flaky = { retries = 2, backoff = 0 },
  timeout = { timeout = 1 },
  oom = { memory = "64M" },
}
wf:step("risky", { ok }, function(ctx, v)
  local m = mode
  print("risky starts in mode " .. m)
  if m == "exit" then os.exit(3) end
  if m == "flaky" then
    local n = count(ctx)
    if n < 3 then error("flaky failure " .. n) end
    return "recovered"
  end
  if m == "timeout" then
    local f = assert(io.open(ctx.params.dir .. "/fifo")); f:read("a")
  end
  if m == "oom" then
    local t = {} for i = 1, 1e8 do t[i] = i end
  end
  if m == "unstorable" then return { f = print } end
  if m == "crash" then
    -- a C-level crash: kill our own process with SIGSEGV
    os.execute("kill -SEGV $PPID")
    local t = {} for i = 1, 1e9 do t[#t] = i end
  end
  return v
end, mode_opts[mode])
return wf
