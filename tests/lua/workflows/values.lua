-- Values cross steps as JSON artifacts and come back exactly.
local orrery = require "orrery"
local wf = orrery.workflow { name = "values" }

local produced = wf:step("produce", function(ctx)
  return {
    int = 42, neg = -7, big = math.maxinteger, zero_float = 0.0,
    float = 0.1, third = 1 / 3, tiny = 5e-324, huge = 1.7976931348623157e308,
    whole_float = 3.0, str = "héllo \"quoted\"\n\tand a \0 nul",
    yes = true, no = false, empty = {},
    list = { 1, 2.5, "three", { four = 4 } },
    nested = { a = { b = { c = { 1, 2, 3 } } } },
  }
end)
local number = wf:step("number", function(ctx) return 2 ^ 53 + 1 end)
local text = wf:step("text", function(ctx) return "just a string" end)
local nothing = wf:step("nothing", function(ctx) end)

local function same(a, b, path)
  assert(type(a) == type(b), path .. ": type " .. type(a) .. " vs " .. type(b))
  if type(a) == "table" then
    for k, v in pairs(a) do same(v, b[k], path .. "." .. tostring(k)) end
    for k in pairs(b) do assert(a[k] ~= nil, path .. ": extra key " .. tostring(k)) end
  else
    assert(a == b, path .. ": " .. tostring(a) .. " ~= " .. tostring(b))
    if type(a) == "number" then
      assert(math.type(a) == math.type(b),
             path .. ": " .. math.type(a) .. " vs " .. math.type(b))
    end
  end
end

wf:step("check", { produced, number, text, nothing }, function(ctx, v, n, s, z)
  same(v, {
    int = 42, neg = -7, big = math.maxinteger, zero_float = 0.0,
    float = 0.1, third = 1 / 3, tiny = 5e-324, huge = 1.7976931348623157e308,
    whole_float = 3.0, str = "héllo \"quoted\"\n\tand a \0 nul",
    yes = true, no = false, empty = {},
    list = { 1, 2.5, "three", { four = 4 } },
    nested = { a = { b = { c = { 1, 2, 3 } } } },
  }, "value")
  assert(math.type(v.int) == "integer" and math.type(v.whole_float) == "float")
  assert(n == 2 ^ 53 + 1 and math.type(n) == "float")
  assert(s == "just a string")
  assert(z == nil)
  print("values ok")
end)
return wf
