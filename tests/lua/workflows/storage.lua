-- orrery.storage: put/get/stat/list/remove/close; failure -> nil, msg, code.
local orrery = require "orrery"
local wf = orrery.workflow { name = "storage", params = { digest = "" } }
wf:step("exercise", function(ctx)
  local st = assert(orrery.storage.open())
  local d = assert(st:put("some bytes"))
  assert(#d == 64 and d:match("^[0-9a-f]+$"))
  assert(st:put("some bytes") == d)             -- content-addressed
  assert(st:get(d) == "some bytes")
  local info = assert(st:stat(d))
  assert(info.size == 10 and info.digest == d)
  local found = false
  for _, x in ipairs(assert(st:list(d:sub(1, 6)))) do found = found or x == d end
  assert(found, "list did not return the blob")
  assert(st:remove(d) == true)
  local v, msg, code = st:get(d)
  assert(v == nil and type(msg) == "string" and math.type(code) == "integer",
         "get of a removed blob must return nil, msg, code")
  -- misuse raises
  assert(not pcall(st.get, st, "not-a-digest"))
  assert(not pcall(st.put, st))
  st:close()
  st:close()                                    -- idempotent
  assert(not pcall(st.put, st, "x"), "a closed storage must raise")
  do
    local st2 <close> = assert(orrery.storage.open())
    assert(st2:put("scoped"))
  end
  if ctx.params.digest ~= "" then               -- a blob from an earlier run
    local s2 = assert(orrery.storage.open())
    assert(s2:stat(ctx.params.digest), "blob " .. ctx.params.digest .. " is gone")
    print("earlier blob present")
  end
  print("storage ok " .. orrery.version)
end)
return wf
