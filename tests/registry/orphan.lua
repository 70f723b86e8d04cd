-- tests/registry/orphan.lua - store blobs that no step records (as a
-- crashed step would leave them) and print their digests.
local orrery = require "orrery"
local wf = orrery.workflow { name = "orphan" }
wf:step("put", function(ctx)
  local st = assert(orrery.storage.open())
  print("orphan " .. assert(st:put("an orphan blob, never recorded")))
  print("modelblob " .. assert(st:put("a model registered by hand")))
  return true
end)
return wf
