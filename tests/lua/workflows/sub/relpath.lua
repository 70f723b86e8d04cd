-- Relative paths resolve against this file's folder, whatever the cwd.
local orrery = require "orrery"
local wf = orrery.workflow { name = "relpath" }
local stored = wf:step("store", function(ctx)
  return ctx:store("data/hello.txt", { kind = "dataset", name = "hello" })
end)
wf:step("use", { stored }, function(ctx, ref)
  assert(ref.name == "hello" and ref.kind == "dataset" and ref.size == 12)
  assert(ctx:read(ref) == "hello world\n")
  assert(ctx:read(ref.artifact) == "hello world\n")
  local out = ctx:fetch(ref, "out/copy.txt")
  assert(out == ctx:path("out/copy.txt"), out)
  local f = assert(io.open(out))
  assert(f:read("a") == "hello world\n")
  f:close()
  os.remove(out)
  print("path=" .. ctx:path("data/hello.txt"))
end)
return wf
